/* warmupd: warm up on the bike, then start the floor routine. */
#include "config-ble.h"
#include "config-gpio.h"
#include "config-sensors.h"
#include "engine.h"
#include "history-keeper.h"
#include "notify.h"
#include "routine-service.h"
#include "service.h"
#include "source-ble.h"
#include "source-gpio.h"
#include "wu-config.h"
#include "wu-ftms-session.h"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* What the STATUS= line shows; a new line is sent only when one of these changes. */
typedef struct {
  WuState state;
  WuHint hint;
  gint64 elapsed_s;
  gint64 duration_s;
  gboolean has_sensors;        /* "waiting for a bike" until a source is there */
  gboolean replay_ended;       /* "(replay of X ended)" */
} WuStatusKey;

typedef struct {
  gboolean session_bus;
  char *config_path;
  char *replay_path;
  double speed;
  gboolean speed_given;        /* --speed was on the command line (it needs --replay) */
  char *record_path;
  char *state_dir;             /* --state-dir: where history.db lives */
  gboolean check_config;
  gboolean verbose;
  gboolean version;
} WuOptions;

typedef struct {
  GMainLoop *loop;
  const WuOptions *options;
  WuConfig config;             /* the configuration in force */
  WuEngine *engine;
  WuService *service;
  WuRoutineService *routines;  /* Routine1: the floor routines, the guided session */
  WuHistoryKeeper *history;    /* NULL until the bus name is ours */
  WuBluez *bluez;              /* live BLE sources (NULL with --replay) */
  WuBleFinder *bike_finder;    /* the FTMS bike */
  WuBleFinder *sensor_finder;  /* CSC/CPS sensors */
  WuNotifier *notifier;
  int exit_status;
  gboolean sources_started;
  gboolean bus_connected;      /* the bus connection was made (on_bus_acquired) */
  GDBusConnection *connection; /* that connection, once made */
  gboolean ready;              /* READY=1 sent (and no reload under way): STATUS= lines
                                * follow the state */
  gboolean stopping;           /* the main loop has ended: releasing, then tearing down */
  guint signal_ids[3];         /* SIGTERM, SIGINT, SIGHUP */
  WuStatusKey status_key;      /* what the last STATUS= line showed */
  gint64 status_sent_at;       /* monotonic µs */
  guint status_timer;          /* a deferred STATUS= update, 0: none */
} WuDaemon;

static void
daemon_quit (WuDaemon *daemon, int status)
{
  if (status != EXIT_SUCCESS)
    daemon->exit_status = status;
  g_main_loop_quit (daemon->loop);
}

/* --- status for the service manager ------------------------------------------------- */

/* "03:12", or "1:02:03" from an hour up. */
static char *
format_clock (gint64 seconds)
{
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%02d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

static WuStatusKey
status_key_now (WuDaemon *daemon)
{
  const WuController *ctl = wu_engine_get_controller (daemon->engine);

  GPtrArray *sensors = wu_engine_get_sensors (daemon->engine);
  WuStatusKey key;

  memset (&key, 0, sizeof key);   /* compared with memcmp() */
  key.state = wu_controller_get_state (ctl);
  key.hint = wu_controller_get_hint (ctl);
  key.elapsed_s = (gint64) floor (wu_controller_get_elapsed (ctl));
  key.duration_s = (gint64) floor (wu_controller_get_duration (ctl));
  key.has_sensors = sensors->len > 0;
  for (guint i = 0; i < sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (sensors, i);

      if (g_strcmp0 (sensor->source->ops->kind, "replay") == 0 && sensor->finished)
        key.replay_ended = TRUE;
    }
  return key;
}

/* Where the samples come from, for the end of the status line: "" without sources. */
static char *
format_source (WuDaemon *daemon)
{
  GPtrArray *sensors = wu_engine_get_sensors (daemon->engine);

  for (guint i = 0; i < sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (sensors, i);

      if (g_strcmp0 (sensor->source->ops->kind, "replay") == 0)
        return g_strdup_printf (sensor->finished ? " (replay of %s ended)" : " (replaying %s)",
                                sensor->source->name);
    }
  return g_strdup ("");
}

/* The line a person reads in `systemctl status`. */
static char *
status_text (WuDaemon *daemon, const WuStatusKey *key)
{
  g_autofree char *elapsed = format_clock (key->elapsed_s);
  g_autofree char *duration = format_clock (key->duration_s);
  g_autofree char *source = format_source (daemon);
  const char *ease_off = key->hint == WU_HINT_EASE_OFF ? ", ease off" : "";

  switch (key->state)
    {
    case WU_STATE_IDLE:
      if (wu_engine_get_sensors (daemon->engine)->len == 0)
        return g_strdup ("waiting for a bike");
      if (daemon->config.controller.autostart == WU_AUTOSTART_MANUAL)
        return g_strdup_printf ("idle: waiting for Start()%s", source);
      return g_strdup_printf ("idle: waiting for pedalling%s", source);
    case WU_STATE_WARMING_UP:
      return g_strdup_printf ("warming up %s of %s%s%s", elapsed, duration, ease_off, source);
    case WU_STATE_PAUSED:
      return g_strdup_printf ("paused at %s of %s%s", elapsed, duration, source);
    case WU_STATE_COMPLETE:
      return g_strdup_printf ("complete: floor routine %s%s",
                              wu_engine_get_routine (daemon->engine), source);
    case WU_STATE_CANCELLED:
      return g_strdup_printf ("cancelled%s", source);
    default:
      g_assert_not_reached ();
    }
}

/* The status line now, remembered as the last one sent. */
static char *
status_snapshot (WuDaemon *daemon)
{
  daemon->status_key = status_key_now (daemon);
  daemon->status_sent_at = g_get_monotonic_time ();
  return status_text (daemon, &daemon->status_key);
}

static void
status_send (WuDaemon *daemon)
{
  g_autofree char *text = status_snapshot (daemon);

  wu_notifier_status (daemon->notifier, text);
}

static gboolean
on_status_timer (gpointer user_data)
{
  WuDaemon *daemon = user_data;

  daemon->status_timer = 0;
  status_send (daemon);
  return G_SOURCE_REMOVE;
}

/* Called after every input, so it must stay cheap: a few compares unless the line changes.
 * A change of state, hint, duration or sources goes out at once; the counted time only once per
 * counted second and, when a replay runs faster than real time, at most once a second. */
static void
status_update (WuDaemon *daemon, gboolean force)
{
  WuStatusKey key;
  gint64 since;

  if (!daemon->ready || !wu_notifier_is_enabled (daemon->notifier))
    return;
  key = status_key_now (daemon);
  if (!force && memcmp (&key, &daemon->status_key, sizeof key) == 0)
    return;
  since = g_get_monotonic_time () - daemon->status_sent_at;
  if (!force && key.state == daemon->status_key.state && key.hint == daemon->status_key.hint
      && key.duration_s == daemon->status_key.duration_s
      && key.has_sensors == daemon->status_key.has_sensors
      && key.replay_ended == daemon->status_key.replay_ended && since < G_USEC_PER_SEC)
    {
      if (daemon->status_timer == 0)
        {
          daemon->status_timer = g_timeout_add ((guint) ((G_USEC_PER_SEC - since + 999) / 1000),
                                                on_status_timer, daemon);
          g_source_set_name_by_id (daemon->status_timer, "[warmupd] status update");
        }
      return;
    }
  g_clear_handle_id (&daemon->status_timer, g_source_remove);
  status_send (daemon);
}

/* --- engine observer ----------------------------------------------------------------- */

static void
on_engine_changed (gpointer user_data, gboolean transition)
{
  WuDaemon *daemon = user_data;
  wu_history_keeper_changed (daemon->history);
  wu_service_publish (daemon->service, transition);
  status_update (daemon, FALSE);
}

static void
on_state_changed (gpointer user_data, WuState old_state, WuState new_state)
{
  WuDaemon *daemon = user_data;
  wu_history_keeper_state_changed (daemon->history, old_state, new_state);
}

/* A guided floor routine began: the history learns whether it follows the last warm-up. */
static void
on_routine_begun (gpointer user_data, const char *routine_id)
{
  WuDaemon *daemon = user_data;

  if (daemon->history != NULL)
    wu_history_keeper_routine_begun (daemon->history);
}

/* A guided floor routine ended: its rounds and assessment go into the last warm-up's row
 * when it is the routine that followed that warm-up (the history keeper decides). */
static void
on_routine_outcome (gpointer user_data, const WuGuideOutcome *outcome)
{
  WuDaemon *daemon = user_data;

  if (daemon->history == NULL)
    return;   /* the name is not ours yet: no history is open */
  wu_history_keeper_routine_outcome (daemon->history, outcome->routine_id, outcome->rounds_done,
                                     outcome->last_assessment == WU_ASSESSMENT_NONE
                                       ? NULL : wu_assessment_to_string (outcome->last_assessment));
  /* what the outcome's write did to HistoryError is published at once */
  wu_service_publish (daemon->service, TRUE);
}

/* HistoryError changed: a write failed or worked again, maybe with no engine change to
 * publish it (a retry between warm-ups). */
static void
on_history_error (gpointer user_data)
{
  WuDaemon *daemon = user_data;
  wu_service_publish (daemon->service, TRUE);
}

static void
on_sensor_changed (gpointer user_data, WuSensor *sensor)
{
  WuDaemon *daemon = user_data;
  wu_service_publish_sensor (daemon->service, sensor);
}

static void
on_start_floor_routine (gpointer user_data, const WuSummary *summary)
{
  WuDaemon *daemon = user_data;
  wu_service_emit_start_floor_routine (daemon->service, summary);
}

static void
on_source_finished (gpointer user_data, WuSensor *sensor, const GError *error)
{
  WuDaemon *daemon = user_data;

  if (error == NULL)
    {
      /* a replay ended: the state stays readable until we are told to stop */
      status_update (daemon, TRUE);
      return;
    }
  g_printerr ("warmupd: %s\n", error->message);
  daemon_quit (daemon, EXIT_FAILURE);
}

static void
on_sensor_added (gpointer user_data, WuSensor *sensor)
{
  WuDaemon *daemon = user_data;
  /* Sensors added before the service exists are exported with it. */
  if (daemon->service != NULL)
    wu_service_add_sensor (daemon->service, sensor);
  status_update (daemon, FALSE);   /* no longer "waiting for a bike" */
}

static void
on_sensor_removed (gpointer user_data, WuSensor *sensor)
{
  WuDaemon *daemon = user_data;
  if (daemon->service != NULL)
    wu_service_remove_sensor (daemon->service, sensor);
}

static void
on_bus_flushed (GObject *source_object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;

  /* A failed flush too leaves nothing of ours waiting: the connection is closed (or the
   * replay is gone, which the task then reports as cancelled). */
  g_dbus_connection_flush_finish (G_DBUS_CONNECTION (source_object), result, NULL);
  g_task_return_boolean (task, TRUE);
}

/* A replay in virtual time (or at --speed 1000 and up) makes events far faster than GDBus's
 * worker thread writes the signals they cause: unchecked, the messages pile up in its queue
 * (megabytes under valgrind, tens of them at --speed 1000000, and a heap high-water mark
 * that grows with the length of the trace). So after each batch: publish, and go on once
 * the connection has written it all. */
static gboolean
on_wait_published (gpointer user_data, GCancellable *cancellable, GAsyncReadyCallback ready,
                   gpointer ready_data)
{
  WuDaemon *daemon = user_data;

  if (daemon->connection == NULL || g_dbus_connection_is_closed (daemon->connection))
    return FALSE;
  wu_service_publish_pending (daemon->service);
  g_dbus_connection_flush (daemon->connection, cancellable, on_bus_flushed,
                           g_task_new (NULL, cancellable, ready, ready_data));
  return TRUE;
}

static const WuEngineObserver engine_observer = {
  .sensor_added = on_sensor_added,
  .sensor_removed = on_sensor_removed,
  .changed = on_engine_changed,
  .sensor_changed = on_sensor_changed,
  .start_floor_routine = on_start_floor_routine,
  .source_finished = on_source_finished,
  .state_changed = on_state_changed,
  .wait_published = on_wait_published,
};

/* --- bus ----------------------------------------------------------------------------- */

static void
on_bus_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  WuDaemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  daemon->bus_connected = TRUE;
  g_set_object (&daemon->connection, connection);
  if (!wu_service_export (daemon->service, connection, &error)
      || !wu_routine_service_export (daemon->routines, connection, &error))
    {
      g_printerr ("warmupd: cannot export the D-Bus objects: %s\n", error->message);
      daemon_quit (daemon, EXIT_FAILURE);
    }
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  WuDaemon *daemon = user_data;
  g_autofree char *text = NULL;

  g_debug ("owning %s", name);
  if (daemon->sources_started)
    return;
  daemon->sources_started = TRUE;
  /* Only now: opening the history closes an unfinished warm-up as interrupted, and while
   * another warmupd owns the name that row is its live one (a second warmupd started by
   * hand with the same state directory never gets here: on_name_lost ends it). */
  daemon->history = wu_history_keeper_new (daemon->engine, daemon->options->state_dir);
  wu_history_keeper_set_error_func (daemon->history, on_history_error, daemon);
  wu_service_set_history (daemon->service, daemon->history);
  wu_engine_start_sources (daemon->engine);
  if (daemon->bluez != NULL)
    wu_bluez_start (daemon->bluez);
  /* The name is ours and the sources are set up: ready. */
  text = status_snapshot (daemon);
  g_message ("ready: %s", text);
  wu_notifier_ready (daemon->notifier, text);
  daemon->ready = TRUE;
}

/* Why the name is gone, for the log.  GDBus passes a NULL connection both when it could not
 * connect and when the bus closed the connection later (dbus-daemon stopped, or dropped
 * warmupd for a message over its size limit).  The bus closing can also arrive as a non-NULL
 * connection that is already closed: when it closes while the RequestName reply is on its
 * way, that call fails and GDBus reports the failure before the "closed" signal. */
static void
log_name_lost (WuDaemon *daemon, GDBusConnection *connection, const char *name)
{
  if (connection == NULL && !daemon->bus_connected)
    g_printerr ("warmupd: cannot connect to the bus to own %s\n", name);
  else if (connection == NULL || g_dbus_connection_is_closed (connection))
    g_printerr ("warmupd: the bus closed the connection (the bus stopped, or dropped "
                "warmupd); %s is no longer ours\n", name);
  else
    g_printerr ("warmupd: lost or could not own the name %s (is another warmupd running?)\n",
                name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  WuDaemon *daemon = user_data;

  log_name_lost (daemon, connection, name);
  daemon_quit (daemon, EXIT_FAILURE);
}

static gboolean
on_terminate (gpointer user_data)
{
  WuDaemon *daemon = user_data;

  g_message ("stopping");
  daemon_quit (daemon, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

/* --- reload (SIGHUP) ------------------------------------------------------------------- */

typedef enum { FIELD_RPM, FIELD_SECONDS, FIELD_WATTS } FieldType;

static const struct {
  const char *name;
  FieldType type;
  gsize offset;
} reload_fields[] = {
  { "[Warmup] MinCadence", FIELD_RPM, offsetof (WuControllerConfig, min_cadence) },
  { "[Warmup] MaxCadence", FIELD_RPM, offsetof (WuControllerConfig, max_cadence) },
  { "[Warmup] StartAfter", FIELD_SECONDS, offsetof (WuControllerConfig, start_after_us) },
  { "[Warmup] PauseAfter", FIELD_SECONDS, offsetof (WuControllerConfig, pause_after_us) },
  { "[Warmup] AbandonAfter", FIELD_SECONDS, offsetof (WuControllerConfig, abandon_after_us) },
  { "[Warmup] StaleAfter", FIELD_SECONDS, offsetof (WuControllerConfig, stale_after_us) },
  { "[Warmup] EaseOffAfter", FIELD_SECONDS, offsetof (WuControllerConfig, ease_off_after_us) },
  { "[Warmup] Duration", FIELD_SECONDS, offsetof (WuControllerConfig, duration_us) },
  { "[Resistance] PowerCap", FIELD_WATTS, offsetof (WuControllerConfig, power_cap_w) },
  { "[Resistance] ReapplyAfter", FIELD_SECONDS, offsetof (WuControllerConfig, reapply_after_us) },
};

static char *
format_field (const WuControllerConfig *config, FieldType type, gsize offset)
{
  const char *base = (const char *) config + offset;
  double value;

  if (type == FIELD_SECONDS)
    {
      gint64 us;
      memcpy (&us, base, sizeof us);
      return g_strdup_printf ("%g s", us / 1e6);
    }
  memcpy (&value, base, sizeof value);
  if (type == FIELD_WATTS && value < 0)
    return g_strdup ("none");
  return g_strdup_printf (type == FIELD_RPM ? "%g rpm" : "%g W", value);
}

static char *
format_cap (const WuControllerConfig *config)
{
  if (config->cap_level >= 0)
    return g_strdup_printf ("%g", config->cap_level);
  if (config->cap_percent >= 0)
    return g_strdup_printf ("%g%%", config->cap_percent);
  return g_strdup ("none");
}

static void
add_change (GString *changes, const char *name, const char *old_value, const char *new_value)
{
  if (g_strcmp0 (old_value, new_value) == 0)
    return;
  g_string_append_printf (changes, "%s%s %s -> %s", changes->len > 0 ? ", " : "", name,
                          old_value, new_value);
}

/* A key read only when the sources are set up: the change is named but not applied. */
static void
add_restart_change (GString *changes, const char *name, const char *old_value,
                    const char *new_value)
{
  if (g_strcmp0 (old_value, new_value) == 0)
    return;
  add_change (changes, name, old_value ? old_value : "unset", new_value ? new_value : "unset");
  g_string_append (changes, " (needs a restart)");
}

static void
add_restart_change_uint (GString *changes, const char *name, guint old_value, guint new_value,
                         const char *unit)
{
  g_autofree char *old_text = g_strdup_printf ("%u%s", old_value, unit);
  g_autofree char *new_text = g_strdup_printf ("%u%s", new_value, unit);

  add_restart_change (changes, name, old_text, new_text);
}

/* "ftms,csc,cps,gpio": the kinds from the most trusted down. */
static char *
format_cadence_priority (const WuSensorsConfig *sensors)
{
  GString *text = g_string_new (NULL);

  for (guint rank = 0; rank < WU_CADENCE_N_KINDS; rank++)
    for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
      if (sensors->cadence_rank[kind] == rank)
        g_string_append_printf (text, "%s%s", text->len > 0 ? "," : "",
                                wu_cadence_kind_to_string (kind));
  return g_string_free (text, FALSE);
}

static void
describe_gpio_changes (GString *changes, const WuGpioConfig *old_gpio,
                       const WuGpioConfig *new_gpio)
{
  add_restart_change (changes, "[Gpio] Line", old_gpio->line, new_gpio->line);
  add_restart_change (changes, "[Gpio] Chip", old_gpio->chip, new_gpio->chip);
  add_restart_change (changes, "[Gpio] ActiveLow", old_gpio->active_low ? "true" : "false",
                      new_gpio->active_low ? "true" : "false");
  add_restart_change (changes, "[Gpio] Bias", wu_gpio_bias_to_string (old_gpio->bias),
                      wu_gpio_bias_to_string (new_gpio->bias));
  add_restart_change (changes, "[Gpio] Edge", wu_gpio_edge_to_string (old_gpio->edge),
                      wu_gpio_edge_to_string (new_gpio->edge));
  add_restart_change_uint (changes, "[Gpio] Debounce", old_gpio->debounce_ms,
                           new_gpio->debounce_ms, " ms");
  add_restart_change_uint (changes, "[Gpio] PulsesPerRevolution",
                           old_gpio->pulses_per_revolution, new_gpio->pulses_per_revolution, "");
}

static void
describe_device_changes (GString *changes, const WuConfig *old_config,
                         const WuConfig *new_config)
{
  const char *const *old_sensors = (const char *const *) old_config->ble.sensor_addresses;
  const char *const *new_sensors = (const char *const *) new_config->ble.sensor_addresses;
  g_autofree char *old_addresses = old_sensors ? g_strjoinv (";", (char **) old_sensors) : NULL;
  g_autofree char *new_addresses = new_sensors ? g_strjoinv (";", (char **) new_sensors) : NULL;
  g_autofree char *old_priority = format_cadence_priority (&old_config->sensors);
  g_autofree char *new_priority = format_cadence_priority (&new_config->sensors);
  g_autofree char *old_wheel = g_strdup_printf ("%g mm",
                                                old_config->sensors.wheel_circumference_mm);
  g_autofree char *new_wheel = g_strdup_printf ("%g mm",
                                                new_config->sensors.wheel_circumference_mm);

  add_restart_change (changes, "[Bike] Address", old_config->ble.bike_address,
                      new_config->ble.bike_address);
  add_restart_change (changes, "[Bike] Adapter", old_config->ble.adapter,
                      new_config->ble.adapter);
  add_restart_change (changes, "[Sensors] Addresses", old_addresses, new_addresses);
  add_restart_change (changes, "[Sensors] WheelCircumference", old_wheel, new_wheel);
  add_restart_change (changes, "[Sensors] CadencePriority", old_priority, new_priority);
}

/* "[Warmup] Duration 600 s -> 120 s, [Gpio] Edge falling -> rising (needs a restart), ...",
 * "" when nothing changed. */
static char *
describe_changes (const WuConfig *old_config, const WuConfig *new_config)
{
  GString *changes = g_string_new (NULL);
  g_autofree char *old_cap = format_cap (&old_config->controller);
  g_autofree char *new_cap = format_cap (&new_config->controller);

  add_change (changes, "[Warmup] Autostart",
              old_config->controller.autostart == WU_AUTOSTART_PEDAL ? "pedal" : "manual",
              new_config->controller.autostart == WU_AUTOSTART_PEDAL ? "pedal" : "manual");
  for (gsize i = 0; i < G_N_ELEMENTS (reload_fields); i++)
    {
      g_autofree char *old_value = format_field (&old_config->controller,
                                                 reload_fields[i].type, reload_fields[i].offset);
      g_autofree char *new_value = format_field (&new_config->controller,
                                                 reload_fields[i].type, reload_fields[i].offset);
      add_change (changes, reload_fields[i].name, old_value, new_value);
    }
  add_change (changes, "[Resistance] Cap", old_cap, new_cap);
  add_change (changes, "[Routine] Name", old_config->routine, new_config->routine);
  describe_device_changes (changes, old_config, new_config);
  describe_gpio_changes (changes, &old_config->gpio, &new_config->gpio);
  return g_string_free (changes, FALSE);
}

static gboolean
needs_restart (const char *changes)
{
  return strstr (changes, "(needs a restart)") != NULL;
}

/* [Bike], [Sensors] and [Gpio] are read once, when the sources are set up (the GPIO source
 * keeps its own copy of the edge and bias it asked the kernel for): FRESH takes the running
 * values, so the decoders stay in step with what the sources deliver. */
static void
keep_source_settings (WuConfig *fresh, const WuConfig *running)
{
  wu_gpio_config_clear (&fresh->gpio);
  wu_gpio_config_copy (&fresh->gpio, &running->gpio);
  wu_ble_config_clear (&fresh->ble);
  wu_ble_config_copy (&fresh->ble, &running->ble);
  fresh->sensors = running->sensors;
}

/* Re-read the --config file. A bad value keeps the running configuration; the warm-up
 * settings apply at once, the sources' settings at the next start. */
static void
reload_config (WuDaemon *daemon)
{
  const char *path = daemon->options->config_path;
  g_autoptr (GError) error = NULL;
  g_autofree char *changes = NULL;
  WuConfig fresh;

  wu_config_init (&fresh);
  /* The file was checked alone, but the running reed switch's settings stay ([Gpio]
   * changes need a restart): MinCadence must be one that reed switch can report. */
  if (!wu_config_load (&fresh, path, &error) ||
      !wu_config_check_reload (&fresh, &daemon->config, path, &error))
    {
      g_warning ("reload failed, keeping the running configuration: %s", error->message);
      wu_config_clear (&fresh);
      return;
    }
  changes = describe_changes (&daemon->config, &fresh);
  if (changes[0] == '\0')
    g_message ("reloaded %s: nothing changed", path);
  else if (needs_restart (changes))
    g_warning ("reloaded %s: %s; the running [Bike], [Sensors] and [Gpio] settings are kept "
               "until warmupd is restarted", path, changes);
  else
    g_message ("reloaded %s: %s", path, changes);
  if (g_strcmp0 (fresh.routine, daemon->config.routine) != 0)
    wu_routine_service_check_name (daemon->routines, fresh.routine);
  keep_source_settings (&fresh, &daemon->config);
  wu_engine_set_config (daemon->engine, &fresh);
  if (daemon->bike_finder != NULL)
    wu_ble_finder_set_config (daemon->bike_finder, &fresh);
  wu_config_clear (&daemon->config);
  daemon->config = fresh;   /* takes over fresh.routine */
}

static gboolean
on_reload (gpointer user_data)
{
  WuDaemon *daemon = user_data;
  g_autofree char *text = NULL;

  /* STOPPING=1 is sent and the bike is being released: a reload now would only start what
   * is being torn down (and send READY=1 after STOPPING=1). */
  if (daemon->stopping)
    {
      g_message ("stopping: SIGHUP ignored");
      return G_SOURCE_CONTINUE;
    }
  /* The service manager still waits for the first READY=1, which on_name_acquired sends
   * once the name is ours: until then a reload only reloads. */
  if (!daemon->ready)
    {
      reload_config (daemon);
      return G_SOURCE_CONTINUE;
    }
  wu_notifier_reloading (daemon->notifier);
  daemon->ready = FALSE;   /* no STATUS= between RELOADING=1 and READY=1 */
  reload_config (daemon);
  daemon->ready = TRUE;
  g_clear_handle_id (&daemon->status_timer, g_source_remove);
  text = status_snapshot (daemon);
  wu_notifier_reloaded (daemon->notifier, text);
  return G_SOURCE_CONTINUE;
}

/* --- options ------------------------------------------------------------------------- */

#define MIN_SPEED 0.01   /* a trace's due times stay well inside gint64 µs */
#define MAX_SPEED 1e6

/* 0 or a factor in [MIN_SPEED, MAX_SPEED] (NaN fails every comparison). */
static gboolean
is_valid_speed (double speed)
{
  return speed == 0 || (speed >= MIN_SPEED && speed <= MAX_SPEED);
}

/* --speed X: read as GOption reads a double (G_OPTION_ARG_DOUBLE), and noted as given. */
static gboolean
on_speed_option (const char *option_name, const char *value, gpointer data, GError **error)
{
  WuOptions *options = data;
  char *end = NULL;
  double speed;

  errno = 0;
  speed = g_strtod (value, &end);
  if (value[0] == '\0' || *end != '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Cannot parse double value \u201c%s\u201d for %s", value, option_name);
      return FALSE;
    }
  if (errno == ERANGE)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Double value \u201c%s\u201d for %s out of range", value, option_name);
      return FALSE;
    }
  options->speed = speed;
  options->speed_given = TRUE;
  return TRUE;
}

static gboolean
parse_options (int *argc, char ***argv, WuOptions *options, GError **error)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &options->session_bus,
      "Use the session bus instead of the system bus", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options->config_path,
      "Configuration file (default " WU_SYSCONFDIR "/warmupd/warmupd.conf)", "FILE" },
    { "replay", 0, 0, G_OPTION_ARG_FILENAME, &options->replay_path,
      "Replay a recorded trace instead of live sensors", "FILE" },
    { "speed", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) on_speed_option,
      "Replay speed: 1 real time, N times faster (0.01 to 1000000), 0 virtual time (as fast "
      "as possible)", "X" },
    { "record", 0, 0, G_OPTION_ARG_FILENAME, &options->record_path,
      "Write every raw event received to FILE, in the trace format", "FILE" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &options->state_dir,
      "Keep the session history in DIR/history.db (default: $STATE_DIRECTORY; neither: no history)",
      "DIR" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &options->check_config,
      "Check the configuration file and exit (0: valid)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Print debug output", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- warm up on the bike, then the floor routine");
  /* the main group of its own: its callbacks (--speed) are given OPTIONS */
  GOptionGroup *group = g_option_group_new (NULL, NULL, NULL, options, NULL);

  options->speed = 1.0;
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                   (*argv)[1]);
      return FALSE;
    }
  if (options->speed_given && options->replay_path == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--speed needs --replay (it sets how fast a trace is replayed)");
      return FALSE;
    }
  if (!is_valid_speed (options->speed))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--speed must be 0 (virtual time) or a factor from 0.01 to 1000000");
      return FALSE;
    }
  if (options->config_path == NULL)
    options->config_path = g_build_filename (WU_SYSCONFDIR, "warmupd", "warmupd.conf", NULL);
  return TRUE;
}

static void
options_clear (WuOptions *options)
{
  g_free (options->config_path);
  g_free (options->replay_path);
  g_free (options->record_path);
  g_free (options->state_dir);
}

/* --check-config: load and validate, without touching the bus. */
static int
check_config (const char *path)
{
  g_autoptr (GError) error = NULL;
  WuConfig config;
  gboolean ok;

  wu_config_init (&config);
  ok = wu_config_load (&config, path, &error);
  if (ok)
    {
      /* as at start-up: a [Routine] Name= that is none of the routines is warned about */
      g_autofree char *routines_dir = wu_routine_service_default_dir (WU_DATADIR);
      wu_routine_check_name_in_dir (routines_dir, config.routine);
    }
  wu_config_clear (&config);
  if (!ok)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_print ("%s: ok (no such file: the built-in defaults apply)\n", path);
  else
    g_print ("%s: ok\n", path);
  return EXIT_SUCCESS;
}

/* wu_engine_add_source's factory for the [Gpio] reed switch; USER_DATA: the WuGpioConfig. */
static WuSource *
make_gpio_source (const WuSourceSink *sink, gpointer sink_data, gpointer user_data,
                  GError **error)
{
  return wu_gpio_source_new (user_data, NULL, sink, sink_data, error);
}

static gboolean
set_up_engine (WuDaemon *daemon, const WuOptions *options, GError **error)
{
  daemon->engine = wu_engine_new (&daemon->config, &engine_observer, daemon);
  if (options->record_path != NULL && !wu_engine_record_to (daemon->engine, options->record_path, error))
    return FALSE;
  if (options->replay_path != NULL
      && wu_engine_add_replay (daemon->engine, options->replay_path, options->speed, error) == NULL)
    return FALSE;
  if (options->replay_path == NULL)
    {
      /* Live: the bike and the sensors over BlueZ (a recording needs none of that). */
      daemon->bluez = wu_bluez_new (daemon->config.ble.adapter);
      daemon->bike_finder = wu_ftms_finder_new (daemon->engine, daemon->bluez, &daemon->config);
      daemon->sensor_finder = wu_ble_sensor_finder_new (daemon->engine, daemon->bluez,
                                                        &daemon->config);
      /* And the reed switch, when [Gpio] names its line. */
      if (daemon->config.gpio.line != NULL
          && wu_engine_add_source (daemon->engine, "gpio", make_gpio_source, &daemon->config.gpio,
                                   error) == NULL)
        return FALSE;
    }
  daemon->service = wu_service_new (daemon->engine);
  {
    g_autofree char *routines_dir = wu_routine_service_default_dir (WU_DATADIR);
    daemon->routines = wu_routine_service_new (routines_dir, daemon->config.routine);
  }
  wu_routine_service_set_outcome_func (daemon->routines, on_routine_outcome, daemon);
  wu_routine_service_set_begun_func (daemon->routines, on_routine_begun, daemon);
  return TRUE;
}

static gboolean
on_release_deadline (gpointer user_data)
{
  gboolean *expired = user_data;
  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* A bike answers its release (Reset) within moments; wait for it with the main loop
 * running so the answer can arrive. When a request of ours was still unanswered, the Reset
 * goes out only once that request's answer is given up for (the FTMS session's response
 * timeout, 3 s): wait that long and RELEASE_MARGIN_MS more, so that it is written. */
#define RELEASE_MARGIN_MS 500
static guint
release_wait_ms (void)
{
  WuFtmsSessionConfig session;

  wu_ftms_session_config_init (&session);
  return (guint) (session.response_timeout_us / 1000) + RELEASE_MARGIN_MS;
}

static void
wait_for_release (WuDaemon *daemon)
{
  gboolean expired = FALSE;
  guint deadline, wait_ms = release_wait_ms ();

  if (!wu_engine_is_releasing (daemon->engine))
    return;
  deadline = g_timeout_add (wait_ms, on_release_deadline, &expired);
  g_source_set_name_by_id (deadline, "[warmupd] release deadline");
  while (!expired && wu_engine_is_releasing (daemon->engine))
    g_main_context_iteration (NULL, TRUE);
  if (expired)
    g_message ("the bike did not answer the release within %u ms; exiting anyway", wait_ms);
  else
    g_source_remove (deadline);
}

/* Taken over before anything is set up: a signal that comes while warmupd starts waits for
 * the main loop instead of killing it (SIGHUP's default action). */
static void
watch_signals (WuDaemon *daemon)
{
  daemon->signal_ids[0] = g_unix_signal_add (SIGTERM, on_terminate, daemon);
  daemon->signal_ids[1] = g_unix_signal_add (SIGINT, on_terminate, daemon);
  daemon->signal_ids[2] = g_unix_signal_add (SIGHUP, on_reload, daemon);
}

static void
unwatch_signals (WuDaemon *daemon)
{
  for (guint i = 0; i < G_N_ELEMENTS (daemon->signal_ids); i++)
    g_clear_handle_id (&daemon->signal_ids[i], g_source_remove);
}

static int
run (WuDaemon *daemon, const WuOptions *options)
{
  guint owner_id;

  daemon->loop = g_main_loop_new (NULL, FALSE);
  daemon->notifier = wu_notifier_new ();
  owner_id = g_bus_own_name (options->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                             WU_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                             on_bus_acquired, on_name_acquired, on_name_lost, daemon, NULL);
  g_main_loop_run (daemon->loop);

  daemon->stopping = TRUE;
  wu_notifier_stopping (daemon->notifier);
  /* Leave the bike as we found it before we let go of anything. */
  wu_engine_release (daemon->engine);
  wait_for_release (daemon);
  wu_history_keeper_shutdown (daemon->history);
  g_bus_unown_name (owner_id);
  g_clear_handle_id (&daemon->status_timer, g_source_remove);
  g_clear_pointer (&daemon->notifier, wu_notifier_free);
  g_main_loop_unref (daemon->loop);
  return daemon->exit_status;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  WuOptions options = { 0 };
  WuDaemon daemon = { .options = &options };
  int status;

  setlocale (LC_ALL, "");
  /* GLib runs some asynchronous work (GTask: bus and object manager setup) on pool threads,
   * which otherwise linger 15 s after their last use and wake the idle daemon once more to
   * exit: let them go after a second. */
  g_thread_pool_set_max_idle_time (1000);
  if (!parse_options (&argc, &argv, &options, &error))
    {
      g_printerr ("warmupd: %s\n", error->message);
      options_clear (&options);
      return EXIT_FAILURE;
    }
  if (options.version)
    {
      g_print ("warmupd %s\n", PACKAGE_VERSION);
      options_clear (&options);
      return EXIT_SUCCESS;
    }
  if (options.verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  if (options.check_config)
    {
      status = check_config (options.config_path);
      options_clear (&options);
      return status;
    }

  watch_signals (&daemon);
  wu_config_init (&daemon.config);
  if (!wu_config_load (&daemon.config, options.config_path, &error)
      || !set_up_engine (&daemon, &options, &error))
    {
      g_printerr ("warmupd: %s\n", error->message);
      status = EXIT_FAILURE;
    }
  else
    status = run (&daemon, &options);
  unwatch_signals (&daemon);

  g_clear_pointer (&daemon.service, wu_service_free);
  g_clear_pointer (&daemon.routines, wu_routine_service_free);
  g_clear_object (&daemon.connection);
  g_clear_pointer (&daemon.history, wu_history_keeper_free);
  g_clear_pointer (&daemon.engine, wu_engine_free);
  /* After the engine (its sources hold the links), before the BlueZ client. */
  g_clear_pointer (&daemon.bike_finder, wu_ble_finder_free);
  g_clear_pointer (&daemon.sensor_finder, wu_ble_finder_free);
  g_clear_pointer (&daemon.bluez, wu_bluez_free);
  wu_config_clear (&daemon.config);
  options_clear (&options);
  return status;
}
