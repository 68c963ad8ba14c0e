/* The FTMS source: one Bluetooth LE smart bike (Fitness Machine Service 0x1826), found
 * and connected through the shared BlueZ client. It delivers the bike's characteristics as
 * raw events (so --record captures a live session) and drives the pure control session
 * (wu-ftms-session.h) with the control point's indications, the status notifications and
 * the controller's cap and release; the session answers with what to write. */
#include "source-ble.h"
#include "wu-error.h"
#include "wu-ftms-session.h"

#include <string.h>

/* Without [Sensors] Addresses=: how many of the CSC/CPS sensors offered are taken. */
#define MAX_UNLISTED_SENSORS 4

typedef struct {
  WuSource base;
  WuBluezLink *link;
  WuFtmsSession *session;
  GSource *session_timer;
  gboolean releasing;          /* a release waits for the bike's answer */
} WuFtmsSource;

/* Read first (Feature and ranges, before notifications); the control point needs
 * indications. Only Indoor Bike Data is indispensable: without a control point the bike
 * is followed in advisory mode. */
static const WuBluezCharSpec ftms_chars[] = {
  { WU_GATT_CHAR_FTMS_FEATURE, WU_BLUEZ_CHAR_READ, FALSE },
  { WU_GATT_CHAR_RESISTANCE_RANGE, WU_BLUEZ_CHAR_READ, FALSE },
  { WU_GATT_CHAR_POWER_RANGE, WU_BLUEZ_CHAR_READ, FALSE },
  { WU_GATT_CHAR_INDOOR_BIKE_DATA, WU_BLUEZ_CHAR_NOTIFY, TRUE },
  { WU_GATT_CHAR_FTMS_STATUS, WU_BLUEZ_CHAR_NOTIFY, FALSE },
  { WU_GATT_CHAR_TRAINING_STATUS, WU_BLUEZ_CHAR_NOTIFY, FALSE },
  { WU_GATT_CHAR_FTMS_CONTROL_POINT, WU_BLUEZ_CHAR_INDICATE, FALSE },
};

static void ftms_carry_out (WuFtmsSource *ftms, const WuFtmsActions *actions);

static gint64
ftms_now (WuFtmsSource *ftms)
{
  return ftms->base.sink->now (ftms->base.sink_data);
}

static void
ftms_deliver (WuFtmsSource *ftms, WuEventKind kind, gboolean up, const guint8 *data, gsize len)
{
  WuRawEvent event = { .time_us = ftms_now (ftms), .kind = kind, .up = up };

  /* ATT values are at most 512 bytes; anything longer is cut (and will not decode). */
  event.len = MIN (len, sizeof event.payload);
  if (event.len > 0)
    memcpy (event.payload, data, event.len);
  ftms->base.sink->event (ftms->base.sink_data, &event);
}

static void
ftms_set_error (WuFtmsSource *ftms, const char *message)
{
  g_autoptr (GError) error = NULL;

  if (message != NULL)
    error = g_error_new_literal (WU_ERROR, WU_ERROR_FAILED, message);
  ftms->base.sink->error (ftms->base.sink_data, error);
}

/* --- the session's clock ------------------------------------------------------------ */

static gboolean
on_session_timer (gpointer user_data)
{
  WuFtmsSource *ftms = user_data;
  WuFtmsActions actions;

  g_clear_pointer (&ftms->session_timer, g_source_unref);
  wu_ftms_actions_clear (&actions);
  wu_ftms_session_tick (ftms->session, ftms_now (ftms), &actions);
  ftms_carry_out (ftms, &actions);
  return G_SOURCE_REMOVE;
}

static void
ftms_schedule_tick (WuFtmsSource *ftms)
{
  gint64 deadline = wu_ftms_session_next_deadline (ftms->session);
  gint64 delay_us;

  if (ftms->session_timer != NULL)
    {
      g_source_destroy (ftms->session_timer);
      g_clear_pointer (&ftms->session_timer, g_source_unref);
    }
  if (deadline == G_MAXINT64)
    return;
  delay_us = MAX (deadline - ftms_now (ftms), 0);
  ftms->session_timer = g_timeout_source_new ((guint) MIN ((delay_us + 999) / 1000, G_MAXUINT));
  g_source_set_callback (ftms->session_timer, on_session_timer, ftms, NULL);
  g_source_set_name (ftms->session_timer, "[warmupd] ftms control session");
  g_source_attach (ftms->session_timer, NULL);
}

/* --- carrying out the session's actions --------------------------------------------- */

static void
on_control_point_written (gpointer user_data, const GError *error)
{
  WuFtmsSource *ftms = user_data;
  WuFtmsActions actions;

  if (error == NULL)
    return;   /* the answer comes as an indication */
  g_message ("%s: control point write failed: %s", ftms->base.address, error->message);
  wu_ftms_actions_clear (&actions);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    {
      g_autofree char *why = g_strdup_printf ("the bike refused control point writes (%s)",
                                              error->message);

      ftms_set_error (ftms, why);
      wu_ftms_session_write_refused (ftms->session, ftms_now (ftms), &actions);
    }
  else
    wu_ftms_session_write_failed (ftms->session, ftms_now (ftms), &actions);
  ftms_carry_out (ftms, &actions);
}

static void
ftms_write (WuFtmsSource *ftms, const WuFtmsRequest *request)
{
  g_autoptr (GError) error = NULL;

  g_debug ("%s: control point <- %s (%u bytes)", ftms->base.address,
           wu_ftms_opcode_to_string (request->bytes[0]), request->len);
  if (!wu_bluez_link_write (ftms->link, WU_GATT_CHAR_FTMS_CONTROL_POINT, request->bytes,
                            request->len, on_control_point_written, ftms, &error))
    {
      /* The link just went (its down callback tells the session): the session's answer
       * timeout covers the rest, without re-entering it from here. */
      g_debug ("%s: %s", ftms->base.address, error->message);
    }
}

static const char *
mode_to_control (WuFtmsMode mode)
{
  switch (mode)
    {
    case WU_FTMS_MODE_RESISTANCE:
      return "resistance";
    case WU_FTMS_MODE_SIMULATION:
      return "simulation";
    case WU_FTMS_MODE_POWER:
      return "power";
    case WU_FTMS_MODE_ADVISORY:
      return "advisory";
    case WU_FTMS_MODE_NONE:
    case WU_FTMS_MODE_PENDING:
    default:
      return "";
    }
}

static void
ftms_carry_out (WuFtmsSource *ftms, const WuFtmsActions *actions)
{
  for (guint i = 0; i < actions->n; i++)
    {
      const WuFtmsAction *action = &actions->items[i];

      switch (action->kind)
        {
        case WU_FTMS_ACTION_WRITE:
          ftms_write (ftms, &action->request);
          break;
        case WU_FTMS_ACTION_MODE:
          g_message ("%s: control %s -> %s%s", ftms->base.address,
                     wu_ftms_mode_to_string (action->old_mode),
                     wu_ftms_mode_to_string (action->new_mode),
                     action->new_mode == WU_FTMS_MODE_ADVISORY
                       ? " (the bike takes no resistance, simulation or power target: "
                         "the rider is told to ease off, nothing is set)" : "");
          ftms->base.sink->control (ftms->base.sink_data, mode_to_control (action->new_mode));
          break;
        case WU_FTMS_ACTION_LINK_SUSPECT:
          wu_bluez_link_reconnect (ftms->link, "the bike stopped answering the control point");
          break;
        case WU_FTMS_ACTION_RELEASED:
          if (ftms->releasing)
            g_debug ("%s: released", ftms->base.address);
          ftms->releasing = FALSE;
          break;
        case WU_FTMS_ACTION_LOG:
          g_log (G_LOG_DOMAIN, action->log_level, "%s: %s", ftms->base.address, action->message);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  ftms_schedule_tick (ftms);
}

/* --- what the bike sends ------------------------------------------------------------- */

static void
ftms_feature (WuFtmsSource *ftms, const guint8 *data, gsize len, WuFtmsActions *actions)
{
  WuFtmsFeature feature = { 0 };
  g_autofree char *described = NULL;

  ftms_deliver (ftms, WU_EVENT_FTMS_FEATURE, FALSE, data, len);
  /* Undecodable: counted by the engine; the session treats the bike as advisory. */
  if (wu_ftms_decode_feature (data, len, &feature, NULL))
    {
      described = wu_ftms_feature_describe (&feature);
      g_message ("%s: features: %s", ftms->base.address, described);
    }
  /* Targets the bike offers cannot be set without a working control point (missing, or its
   * indications refused): on_link_up made it advisory, and so it stays. */
  if (!wu_bluez_link_has_char (ftms->link, WU_GATT_CHAR_FTMS_CONTROL_POINT))
    feature.target_setting_features = 0;
  wu_ftms_session_set_feature (ftms->session, ftms_now (ftms), &feature, actions);
}

static void
ftms_range (WuFtmsSource *ftms, guint16 uuid, const guint8 *data, gsize len)
{
  WuFtmsRange range;

  if (uuid == WU_GATT_CHAR_RESISTANCE_RANGE)
    {
      ftms_deliver (ftms, WU_EVENT_FTMS_RESISTANCE_RANGE, FALSE, data, len);
      if (wu_ftms_decode_resistance_range (data, len, &range, NULL))
        wu_ftms_session_set_resistance_range (ftms->session, &range);
    }
  else
    {
      ftms_deliver (ftms, WU_EVENT_FTMS_POWER_RANGE, FALSE, data, len);
      if (wu_ftms_decode_power_range (data, len, &range, NULL))
        wu_ftms_session_set_power_range (ftms->session, &range);
    }
}

/* A control point indication: not a trace event kind (it answers what we wrote). */
static void
ftms_indication (WuFtmsSource *ftms, const guint8 *data, gsize len, WuFtmsActions *actions)
{
  g_autoptr (GError) error = NULL;
  WuFtmsResponse response;

  if (!wu_ftms_session_indication (ftms->session, ftms_now (ftms), data, len, actions, &error))
    {
      ftms->base.sink->dropped (ftms->base.sink_data, "control point indication", error);
      return;
    }
  /* Sensor1 Error tells why the cap is not held: the bike refusing control. */
  if (wu_ftms_decode_response (data, len, &response, NULL)
      && response.request_opcode == WU_FTMS_OP_REQUEST_CONTROL)
    ftms_set_error (ftms, response.result == WU_FTMS_RESULT_CONTROL_NOT_PERMITTED
                            ? "control not permitted" : NULL);
}

static void
ftms_status (WuFtmsSource *ftms, const guint8 *data, gsize len, WuFtmsActions *actions)
{
  g_autoptr (GError) error = NULL;

  ftms_deliver (ftms, WU_EVENT_FTMS_STATUS, FALSE, data, len);
  /* A malformed status is counted once, by the engine, which decodes it too. */
  if (!wu_ftms_session_status (ftms->session, ftms_now (ftms), data, len, actions, &error))
    g_debug ("%s: status not used: %s", ftms->base.address, error->message);
}

static void
on_link_value (gpointer user_data, guint16 uuid, const guint8 *data, gsize len)
{
  WuFtmsSource *ftms = user_data;
  WuFtmsActions actions;

  wu_ftms_actions_clear (&actions);
  switch (uuid)
    {
    case WU_GATT_CHAR_INDOOR_BIKE_DATA:
      ftms_deliver (ftms, WU_EVENT_FTMS_INDOOR_BIKE_DATA, FALSE, data, len);
      break;
    case WU_GATT_CHAR_TRAINING_STATUS:
      ftms_deliver (ftms, WU_EVENT_FTMS_TRAINING_STATUS, FALSE, data, len);
      break;
    case WU_GATT_CHAR_FTMS_FEATURE:
      ftms_feature (ftms, data, len, &actions);
      break;
    case WU_GATT_CHAR_RESISTANCE_RANGE:
    case WU_GATT_CHAR_POWER_RANGE:
      ftms_range (ftms, uuid, data, len);
      break;
    case WU_GATT_CHAR_FTMS_STATUS:
      ftms_status (ftms, data, len, &actions);
      break;
    case WU_GATT_CHAR_FTMS_CONTROL_POINT:
      ftms_indication (ftms, data, len, &actions);
      break;
    default:
      return;
    }
  ftms_carry_out (ftms, &actions);
}

static void
on_link_up (gpointer user_data)
{
  WuFtmsSource *ftms = user_data;
  WuFtmsActions actions;
  WuFtmsFeature no_feature = { 0 };

  ftms_deliver (ftms, WU_EVENT_LINK, TRUE, NULL, 0);
  wu_ftms_actions_clear (&actions);
  /* No control point or no Feature on this connection: nothing can be set on this bike.
   * Told before it is connected: the Feature of an earlier connection would send a request
   * into nothing, and its lost answer would take a working link for a dead one. */
  if (!wu_bluez_link_has_char (ftms->link, WU_GATT_CHAR_FTMS_CONTROL_POINT)
      || !wu_bluez_link_has_char (ftms->link, WU_GATT_CHAR_FTMS_FEATURE))
    wu_ftms_session_set_feature (ftms->session, ftms_now (ftms), &no_feature, &actions);
  wu_ftms_session_connected (ftms->session, ftms_now (ftms), &actions);
  ftms_carry_out (ftms, &actions);
}

static void
on_link_down (gpointer user_data, const char *reason)
{
  WuFtmsSource *ftms = user_data;
  WuFtmsActions actions;

  wu_ftms_actions_clear (&actions);
  wu_ftms_session_disconnected (ftms->session, ftms_now (ftms), &actions);
  ftms_carry_out (ftms, &actions);
  /* The engine pauses the warm-up on this. */
  ftms_deliver (ftms, WU_EVENT_LINK, FALSE, NULL, 0);
}

static void
on_link_error (gpointer user_data, const char *message)
{
  ftms_set_error (user_data, message);
}

static const WuBluezLinkCallbacks ftms_link_callbacks = {
  .up = on_link_up,
  .value = on_link_value,
  .down = on_link_down,
  .error = on_link_error,
};

/* --- the source ------------------------------------------------------------------------ */

static void
ftms_start (WuSource *source)
{
  /* The link connects on its own as soon as the device is known. */
}

static void
ftms_apply_cap (WuSource *source, double level)
{
  WuFtmsSource *ftms = (WuFtmsSource *) source;
  WuFtmsActions actions;

  wu_ftms_actions_clear (&actions);
  wu_ftms_session_apply_cap (ftms->session, ftms_now (ftms), level, &actions);
  ftms_carry_out (ftms, &actions);
}

static void
ftms_ride_resumed (WuSource *source)
{
  WuFtmsSource *ftms = (WuFtmsSource *) source;
  WuFtmsActions actions;

  wu_ftms_actions_clear (&actions);
  wu_ftms_session_ride_resumed (ftms->session, ftms_now (ftms), &actions);
  ftms_carry_out (ftms, &actions);
}

static void
ftms_release (WuSource *source)
{
  WuFtmsSource *ftms = (WuFtmsSource *) source;
  WuFtmsActions actions;

  ftms->releasing = TRUE;
  wu_ftms_actions_clear (&actions);
  wu_ftms_session_release (ftms->session, ftms_now (ftms), &actions);
  ftms_carry_out (ftms, &actions);
}

static gboolean
ftms_releasing (WuSource *source)
{
  return ((WuFtmsSource *) source)->releasing;
}

static void
ftms_free (WuSource *source)
{
  WuFtmsSource *ftms = (WuFtmsSource *) source;

  if (ftms->session_timer != NULL)
    {
      g_source_destroy (ftms->session_timer);
      g_source_unref (ftms->session_timer);
    }
  g_clear_pointer (&ftms->link, wu_bluez_link_free);
  g_clear_pointer (&ftms->session, wu_ftms_session_free);
}

static const WuSourceOps ftms_ops = {
  .kind = "ftms",
  .drives_clock = FALSE,
  .start = ftms_start,
  .apply_cap = ftms_apply_cap,
  .ride_resumed = ftms_ride_resumed,
  .release = ftms_release,
  .free = ftms_free,
  .releasing = ftms_releasing,
};

void
wu_ftms_source_set_power_cap (WuSource *source, double power_cap_w)
{
  WuFtmsSource *ftms = (WuFtmsSource *) source;
  WuFtmsSessionConfig config;
  WuFtmsActions actions;

  g_return_if_fail (source->ops == &ftms_ops);
  wu_ftms_session_config_init (&config);
  config.power_cap_w = power_cap_w;
  wu_ftms_actions_clear (&actions);
  wu_ftms_session_set_config (ftms->session, ftms_now (ftms), &config, &actions);
  ftms_carry_out (ftms, &actions);
}

WuSource *
wu_ftms_source_new (WuBluez *bluez, const char *address, const char *name, double power_cap_w,
                    const WuSourceSink *sink, gpointer sink_data)
{
  WuFtmsSource *ftms = g_new0 (WuFtmsSource, 1);
  WuFtmsSessionConfig config;

  ftms->base.ops = &ftms_ops;
  ftms->base.sink = sink;
  ftms->base.sink_data = sink_data;
  ftms->base.name = g_strdup (name);
  ftms->base.address = g_ascii_strup (address, -1);
  wu_ftms_session_config_init (&config);
  config.power_cap_w = power_cap_w;
  ftms->session = wu_ftms_session_new (&config);
  ftms->link = wu_bluez_link_new (bluez, address, WU_GATT_SERVICE_FTMS, ftms_chars,
                                  G_N_ELEMENTS (ftms_chars), &ftms_link_callbacks, ftms);
  return &ftms->base;
}

/* --- finding bikes and sensors ------------------------------------------------------------- */

struct WuBleFinder {
  WuEngine *engine;
  WuBluez *bluez;
  const char *id_prefix;       /* NULL: by service ("csc", "cps") */
  double power_cap_w;
  GPtrArray *sensors;          /* WuSensor* this finder added (owned by the engine) */
};

typedef struct {
  WuBleFinder *finder;
  const char *address;
  const char *name;
  guint16 service;
} FoundDevice;

static WuSource *
make_ble_source (const WuSourceSink *sink, gpointer sink_data, gpointer user_data,
                 GError **error)
{
  const FoundDevice *found = user_data;

  if (found->service == WU_GATT_SERVICE_FTMS)
    return wu_ftms_source_new (found->finder->bluez, found->address, found->name,
                               found->finder->power_cap_w, sink, sink_data);
  return wu_ble_sensor_source_new (found->finder->bluez, found->address, found->name,
                                   found->service, sink, sink_data);
}

static void
on_device_found (gpointer user_data, const char *address, const char *name, guint16 service)
{
  WuBleFinder *finder = user_data;
  FoundDevice found = { finder, address, name, service };
  const char *prefix = service == WU_GATT_SERVICE_FTMS ? "ftms"
                       : service == WU_GATT_SERVICE_CPS ? "cps" : "csc";
  g_autoptr (GError) error = NULL;
  WuSensor *sensor = wu_engine_add_source (finder->engine, prefix, make_ble_source, &found,
                                           &error);

  if (sensor == NULL)
    {
      g_warning ("%s: %s", address, error->message);
      return;
    }
  g_message ("%s: %s %s is sensor %s", address, prefix, name, sensor->id);
  g_ptr_array_add (finder->sensors, sensor);
}

/* The device turned out to be wanted by an earlier watch (the bike's): its sensor goes,
 * and with it the link. */
static void
on_device_released (gpointer user_data, const char *address)
{
  WuBleFinder *finder = user_data;

  for (guint i = 0; i < finder->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (finder->sensors, i);

      if (g_ascii_strcasecmp (sensor->source->address, address) != 0)
        continue;
      g_message ("%s: sensor %s removed (wanted as a bike)", address, sensor->id);
      g_ptr_array_remove_index (finder->sensors, i);
      wu_engine_remove_source (finder->engine, sensor);
      return;
    }
}

static WuBleFinder *
finder_new (WuEngine *engine, WuBluez *bluez, const WuConfig *config)
{
  WuBleFinder *finder = g_new0 (WuBleFinder, 1);

  finder->engine = engine;
  finder->bluez = bluez;
  finder->power_cap_w = config->controller.power_cap_w;
  finder->sensors = g_ptr_array_new ();
  return finder;
}

WuBleFinder *
wu_ftms_finder_new (WuEngine *engine, WuBluez *bluez, const WuConfig *config)
{
  WuBleFinder *finder = finder_new (engine, bluez, config);
  const guint16 services[] = { WU_GATT_SERVICE_FTMS };
  const char *addresses[] = { config->ble.bike_address, NULL };

  /* One bike: the configured one, else the first found. Made before the sensors' watch:
   * it goes first, so neither the configured bike nor another trainer is taken as a
   * sensor. */
  wu_bluez_add_watch (bluez, services, G_N_ELEMENTS (services), addresses, 1, 1,
                      on_device_found, NULL, finder);
  return finder;
}

WuBleFinder *
wu_ble_sensor_finder_new (WuEngine *engine, WuBluez *bluez, const WuConfig *config)
{
  WuBleFinder *finder = finder_new (engine, bluez, config);
  /* A power meter often offers CSC too: CPS first, it carries power and crank data. */
  const guint16 services[] = { WU_GATT_SERVICE_CPS, WU_GATT_SERVICE_CSC };
  const char *const *addresses = (const char *const *) config->ble.sensor_addresses;
  guint listed = addresses != NULL ? g_strv_length ((char **) addresses) : 0;

  /* Listed sensors are searched for until found; without a list, sensors bluetoothd knows
   * or that show up while the bike is searched for are taken (at most
   * MAX_UNLISTED_SENSORS, the first offered; documented in warmupd.conf(5) and the
   * README), but nothing scans for them alone (a radio scanning forever slows the bike's
   * link). */
  wu_bluez_add_watch (bluez, services, G_N_ELEMENTS (services), addresses, listed,
                      listed > 0 ? listed : MAX_UNLISTED_SENSORS, on_device_found,
                      on_device_released, finder);
  return finder;
}

void
wu_ble_finder_set_config (WuBleFinder *finder, const WuConfig *config)
{
  finder->power_cap_w = config->controller.power_cap_w;
  for (guint i = 0; i < finder->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (finder->sensors, i);
      if (strcmp (sensor->source->ops->kind, "ftms") == 0)
        wu_ftms_source_set_power_cap (sensor->source, finder->power_cap_w);
    }
}

void
wu_ble_finder_free (WuBleFinder *finder)
{
  if (finder == NULL)
    return;
  g_ptr_array_unref (finder->sensors);
  g_free (finder);
}
