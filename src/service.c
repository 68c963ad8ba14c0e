#include "service.h"
#include "wu-dbus-generated.h"
#include "wu-error.h"

#define WU_SENSORS_PATH WU_OBJECT_PATH "/sensors"
/* On a live clock Warmup1 is published at most this often while only its running figures
 * (Elapsed and the believed Cadence, Power, Speed, Resistance) change: they change with
 * every sample, each PropertiesChanged costs GDBus ~130,000 instructions, and a progress
 * display needs no more. Sensor1 carries every sample at once; transitions go at once. */
#define WARMUP_PROGRESS_INTERVAL_US G_USEC_PER_SEC

/* Set a property of a generated skeleton only when its value changed, and then set CHANGED.
 * The generated setters (g_object_set) compare too, but only after thousands of
 * instructions of GObject machinery, for each of the ~25 properties published per sample;
 * the getters are a read. Doubles compare bit for bit, exactly as the generated code does. */
#define SET_IF_(changed, obj, iface, prop, differs)                                    \
  G_STMT_START                                                                        \
  {                                                                                   \
    if (differs)                                                                      \
      {                                                                               \
        wu_##iface##_set_##prop (obj, new_value_);                                    \
        (changed) = TRUE;                                                             \
      }                                                                               \
  }                                                                                   \
  G_STMT_END
#define SET_SCALAR(changed, obj, iface, prop, type, value)                            \
  G_STMT_START                                                                        \
  {                                                                                   \
    type new_value_ = (value);                                                        \
    SET_IF_ (changed, obj, iface, prop, wu_##iface##_get_##prop (obj) != new_value_); \
  }                                                                                   \
  G_STMT_END
#define SET_DOUBLE(changed, obj, iface, prop, value)                                  \
  G_STMT_START                                                                        \
  {                                                                                   \
    gdouble new_value_ = (value), old_value_ = wu_##iface##_get_##prop (obj);         \
    SET_IF_ (changed, obj, iface, prop,                                               \
             memcmp (&old_value_, &new_value_, sizeof (gdouble)) != 0);               \
  }                                                                                   \
  G_STMT_END
#define SET_STRING(changed, obj, iface, prop, value)                                  \
  G_STMT_START                                                                        \
  {                                                                                   \
    const char *new_value_ = (value);                                                 \
    SET_IF_ (changed, obj, iface, prop,                                               \
             g_strcmp0 (wu_##iface##_get_##prop (obj), new_value_) != 0);             \
  }                                                                                   \
  G_STMT_END

struct WuService {
  WuEngine *engine;
  WuHistoryKeeper *history;          /* not owned; NULL: no history */
  WuWarmup1 *warmup;                 /* skeleton */
  gboolean exported;
  GDBusObjectManagerServer *manager;
  GHashTable *sensor_objects;        /* WuSensor* -> WuObjectSkeleton* */
  /* A live input is published at once, flushed past the skeletons' own idle: one
   * notification, one PropertiesChanged, no main-loop pass in between (latency). A replay
   * can deliver hundreds of inputs in one pass (virtual time), so there the properties are
   * set once, after the pass. */
  GSource *publish_idle;
  gboolean warmup_dirty;
  gint64 warmup_flushed_us;          /* monotonic time Warmup1 was last flushed */
  GSource *warmup_timer;             /* a throttled Warmup1 publication, see above */
  GHashTable *dirty_sensors;         /* set of WuSensor* */
};

static void publish_warmup_now (WuService *service);
static void publish_warmup_flushed (WuService *service);
static gboolean publish_warmup_settled (WuService *service);
static void publish_sensor_now (WuService *service, WuSensor *sensor, gboolean flush);

static void
flush_warmup (WuService *service)
{
  if (service->warmup_timer != NULL)
    {
      g_source_destroy (service->warmup_timer);
      g_clear_pointer (&service->warmup_timer, g_source_unref);
    }
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (service->warmup));
  service->warmup_flushed_us = g_get_monotonic_time ();
}

static gboolean
handle_start (WuWarmup1 *warmup, GDBusMethodInvocation *invocation, gpointer user_data)
{
  WuService *service = user_data;
  g_autoptr (GError) error = NULL;

  if (!wu_engine_start_warmup (service->engine, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_debug ("Start() from %s", g_dbus_method_invocation_get_sender (invocation));
  wu_warmup1_complete_start (warmup, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_stop (WuWarmup1 *warmup, GDBusMethodInvocation *invocation, gpointer user_data)
{
  WuService *service = user_data;
  g_autoptr (GError) error = NULL;

  if (!wu_engine_stop_warmup (service->engine, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_debug ("Stop() from %s", g_dbus_method_invocation_get_sender (invocation));
  wu_warmup1_complete_stop (warmup, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The warm-ups below BEFORE_ID (0: from the newest), NULL with the D-Bus error returned. */
static GVariant *
list_history (WuService *service, GDBusMethodInvocation *invocation, gint64 before_id,
              guint limit)
{
  g_autoptr (GError) error = NULL;
  GVariant *warmups = NULL;

  if (service->history == NULL)
    g_set_error (&error, WU_ERROR, WU_ERROR_HISTORY_UNAVAILABLE, "no history is kept");
  else
    warmups = wu_history_keeper_list (service->history, before_id, limit, &error);
  if (warmups == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
    }
  return warmups;
}

static gboolean
handle_get_history (WuWarmup1 *warmup, GDBusMethodInvocation *invocation, guint limit,
                    gpointer user_data)
{
  GVariant *warmups = list_history (user_data, invocation, 0, limit);

  if (warmups != NULL)
    wu_warmup1_complete_get_history (warmup, invocation, warmups);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_history_before (WuWarmup1 *warmup, GDBusMethodInvocation *invocation,
                           gint64 before_id, guint limit, gpointer user_data)
{
  GVariant *warmups;

  if (before_id < 0)
    {
      g_dbus_method_invocation_return_error (invocation, WU_ERROR, WU_ERROR_INVALID_ARGUMENT,
                                             "before_id %" G_GINT64_FORMAT " is negative: 0 "
                                             "starts from the newest warm-up, else the id of "
                                             "the oldest one received", before_id);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  warmups = list_history (user_data, invocation, before_id, limit);
  if (warmups != NULL)
    wu_warmup1_complete_get_history_before (warmup, invocation, warmups);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

void
wu_service_set_history (WuService *service, WuHistoryKeeper *keeper)
{
  service->history = keeper;
  publish_warmup_now (service);
}

WuService *
wu_service_new (WuEngine *engine)
{
  WuService *service = g_new0 (WuService, 1);

  wu_error_register_dbus_names ();
  service->engine = engine;
  service->warmup = wu_warmup1_skeleton_new ();
  service->manager = g_dbus_object_manager_server_new (WU_OBJECT_PATH);
  service->sensor_objects = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  service->dirty_sensors = g_hash_table_new (NULL, NULL);
  g_signal_connect (service->warmup, "handle-start", G_CALLBACK (handle_start), service);
  g_signal_connect (service->warmup, "handle-stop", G_CALLBACK (handle_stop), service);
  g_signal_connect (service->warmup, "handle-get-history", G_CALLBACK (handle_get_history),
                    service);
  g_signal_connect (service->warmup, "handle-get-history-before",
                    G_CALLBACK (handle_get_history_before), service);
  publish_warmup_now (service);
  return service;
}

void
wu_service_free (WuService *service)
{
  if (service->publish_idle != NULL)
    {
      g_source_destroy (service->publish_idle);
      g_source_unref (service->publish_idle);
    }
  if (service->warmup_timer != NULL)
    {
      g_source_destroy (service->warmup_timer);
      g_source_unref (service->warmup_timer);
    }
  g_hash_table_unref (service->dirty_sensors);
  /* Never exported when the bus was out of reach or we stopped before it came. */
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (service->warmup)))
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (service->warmup));
  g_dbus_object_manager_server_set_connection (service->manager, NULL);
  g_hash_table_unref (service->sensor_objects);
  g_object_unref (service->manager);
  g_object_unref (service->warmup);
  g_free (service);
}

static void
add_sensor_object (WuService *service, WuSensor *sensor)
{
  g_autofree char *path = g_strdup_printf ("%s/%s", WU_SENSORS_PATH, sensor->id);
  g_autoptr (WuObjectSkeleton) object = wu_object_skeleton_new (path);
  g_autoptr (WuSensor1) iface = wu_sensor1_skeleton_new ();

  wu_sensor1_set_kind (iface, sensor->source->ops->kind);
  wu_sensor1_set_name (iface, sensor->source->name);
  wu_sensor1_set_address (iface, sensor->source->address);
  wu_object_skeleton_set_sensor1 (object, iface);
  g_hash_table_insert (service->sensor_objects, sensor, g_object_ref (object));
  publish_sensor_now (service, sensor, FALSE);
  g_dbus_object_manager_server_export (service->manager, G_DBUS_OBJECT_SKELETON (object));
}

gboolean
wu_service_export (WuService *service, GDBusConnection *connection, GError **error)
{
  GPtrArray *sensors = wu_engine_get_sensors (service->engine);

  /* Warmup1 lives at the manager's own path; the manager publishes the children. */
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (service->warmup),
                                         connection, WU_OBJECT_PATH, error))
    return FALSE;
  for (guint i = 0; i < sensors->len; i++)
    add_sensor_object (service, g_ptr_array_index (sensors, i));
  g_dbus_object_manager_server_set_connection (service->manager, connection);
  service->exported = TRUE;
  return TRUE;
}

void
wu_service_add_sensor (WuService *service, WuSensor *sensor)
{
  if (service->exported)
    add_sensor_object (service, sensor);
  /* else wu_service_export() adds it with the others */
}

void
wu_service_remove_sensor (WuService *service, WuSensor *sensor)
{
  WuObjectSkeleton *object = g_hash_table_lookup (service->sensor_objects, sensor);

  g_hash_table_remove (service->dirty_sensors, sensor);
  if (object == NULL)
    return;
  g_dbus_object_manager_server_unexport (service->manager,
                                         g_dbus_object_get_object_path (G_DBUS_OBJECT (object)));
  g_hash_table_remove (service->sensor_objects, sensor);
}

/* What a replay's pass changed: every dirty sensor, and Warmup1 if it is. */
static void
publish_dirty (WuService *service)
{
  GHashTableIter iter;
  gpointer sensor;

  g_hash_table_iter_init (&iter, service->dirty_sensors);
  while (g_hash_table_iter_next (&iter, &sensor, NULL))
    publish_sensor_now (service, sensor, TRUE);
  g_hash_table_remove_all (service->dirty_sensors);
  if (service->warmup_dirty)
    publish_warmup_flushed (service);
}

static gboolean
on_publish_idle (gpointer user_data)
{
  WuService *service = user_data;

  g_clear_pointer (&service->publish_idle, g_source_unref);
  publish_dirty (service);
  return G_SOURCE_REMOVE;
}

void
wu_service_publish_pending (WuService *service)
{
  if (service->publish_idle == NULL)
    return;
  g_source_destroy (service->publish_idle);
  g_clear_pointer (&service->publish_idle, g_source_unref);
  publish_dirty (service);
}

static void
schedule_publish (WuService *service)
{
  if (service->publish_idle != NULL)
    return;
  /* Default priority: ahead of a virtual-time replay (idle priority), so each batch of
   * events is followed by its publication. */
  service->publish_idle = g_idle_source_new ();
  g_source_set_priority (service->publish_idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (service->publish_idle, on_publish_idle, service, NULL);
  g_source_set_name (service->publish_idle, "[warmupd] publish properties");
  g_source_attach (service->publish_idle, NULL);
}

static void
publish_warmup_flushed (WuService *service)
{
  publish_warmup_now (service);
  flush_warmup (service);
}

static gboolean
on_warmup_timer (gpointer user_data)
{
  WuService *service = user_data;

  g_clear_pointer (&service->warmup_timer, g_source_unref);
  publish_warmup_flushed (service);
  return G_SOURCE_REMOVE;
}

/* Any other property changed: publish everything at once. Only the running figures:
 * now if the last publication is a progress interval old, else once it is (with the
 * figures of that moment). */
static void
publish_warmup_throttled (WuService *service)
{
  gint64 due = service->warmup_flushed_us + WARMUP_PROGRESS_INTERVAL_US;
  gint64 now = g_get_monotonic_time ();

  if (publish_warmup_settled (service) || now >= due)
    {
      publish_warmup_flushed (service);
      return;
    }
  if (service->warmup_timer != NULL)
    return;
  service->warmup_timer = g_timeout_source_new ((guint) ((due - now + 999) / 1000));
  g_source_set_callback (service->warmup_timer, on_warmup_timer, service, NULL);
  g_source_set_name (service->warmup_timer, "[warmupd] publish Warmup1 progress");
  g_source_attach (service->warmup_timer, NULL);
}

void
wu_service_publish (WuService *service, gboolean now)
{
  /* NOW: a state or hint that comes and goes within one pass (a replay in virtual time)
   * must still reach every client. */
  if (now)
    publish_warmup_flushed (service);
  else if (!wu_engine_clock_is_replayed (service->engine))
    publish_warmup_throttled (service);
  else
    {
      service->warmup_dirty = TRUE;
      schedule_publish (service);
    }
}

void
wu_service_publish_sensor (WuService *service, WuSensor *sensor)
{
  if (!wu_engine_clock_is_replayed (service->engine))
    {
      g_hash_table_remove (service->dirty_sensors, sensor);
      publish_sensor_now (service, sensor, TRUE);
      return;
    }
  g_hash_table_add (service->dirty_sensors, sensor);
  schedule_publish (service);
}

/* Warmup1's properties other than the running figures; TRUE if any changed. */
static gboolean
publish_warmup_settled (WuService *service)
{
  const WuController *ctl = wu_engine_get_controller (service->engine);
  WuWarmup1 *w = service->warmup;
  gboolean changed = FALSE;

  SET_STRING (changed, w, warmup1, state, wu_state_to_string (wu_controller_get_state (ctl)));
  SET_DOUBLE (changed, w, warmup1, duration, wu_controller_get_duration (ctl));
  SET_DOUBLE (changed, w, warmup1, resistance_cap, wu_controller_get_cap (ctl));
  SET_STRING (changed, w, warmup1, hint, wu_hint_to_string (wu_controller_get_hint (ctl)));
  SET_STRING (changed, w, warmup1, source, wu_engine_get_source_label (service->engine));
  SET_STRING (changed, w, warmup1, routine, wu_engine_get_routine (service->engine));
  SET_SCALAR (changed, w, warmup1, pauses, guint, wu_engine_get_pauses (service->engine));
  SET_STRING (changed, w, warmup1, control, wu_engine_get_control (service->engine));
  SET_STRING (changed, w, warmup1, history_error,
              service->history != NULL ? wu_history_keeper_get_error (service->history)
                                       : "no history is kept");
  return changed;
}

/* The running figures: they change with every sample. */
static void
publish_warmup_running (WuService *service)
{
  const WuController *ctl = wu_engine_get_controller (service->engine);
  gint64 now = wu_engine_now (service->engine);
  WuWarmup1 *w = service->warmup;
  gboolean changed = FALSE;

  SET_DOUBLE (changed, w, warmup1, elapsed, wu_controller_get_elapsed (ctl));
  SET_DOUBLE (changed, w, warmup1, cadence, wu_controller_get_cadence (ctl, now));
  SET_DOUBLE (changed, w, warmup1, power, wu_controller_get_power (ctl, now));
  SET_DOUBLE (changed, w, warmup1, speed, wu_controller_get_speed (ctl, now));
  SET_DOUBLE (changed, w, warmup1, resistance, wu_controller_get_resistance (ctl, now));
  (void) changed;
}

static void
publish_warmup_now (WuService *service)
{
  service->warmup_dirty = FALSE;
  publish_warmup_settled (service);
  publish_warmup_running (service);
}

/* FLUSH: emit what changed now, past the skeleton's own idle. */
static void
publish_sensor_now (WuService *service, WuSensor *sensor, gboolean flush)
{
  WuObjectSkeleton *object = g_hash_table_lookup (service->sensor_objects, sensor);
  g_autoptr (WuSensor1) s = NULL;
  gboolean changed = FALSE;

  if (object == NULL)
    return; /* not exported yet */
  s = wu_object_get_sensor1 (WU_OBJECT (object));
  SET_SCALAR (changed, s, sensor1, connected, gboolean, sensor->connected);
  SET_DOUBLE (changed, s, sensor1, cadence, sensor->cadence);
  SET_DOUBLE (changed, s, sensor1, power, sensor->power);
  SET_DOUBLE (changed, s, sensor1, speed, sensor->speed);
  SET_DOUBLE (changed, s, sensor1, resistance, sensor->resistance);
  SET_DOUBLE (changed, s, sensor1, heart_rate, sensor->heart_rate);
  SET_DOUBLE (changed, s, sensor1, distance, sensor->distance);
  SET_SCALAR (changed, s, sensor1, dropped_packets, guint, sensor->dropped_packets);
  SET_SCALAR (changed, s, sensor1, events, guint64, sensor->events);
  SET_SCALAR (changed, s, sensor1, finished, gboolean, sensor->finished);
  SET_STRING (changed, s, sensor1, error, sensor->error != NULL ? sensor->error : "");
  if (changed && flush)
    g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (s));
}

void
wu_service_emit_start_floor_routine (WuService *service, const WuSummary *summary)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (&builder, "{sv}", "duration", g_variant_new_double (summary->duration_s));
  g_variant_builder_add (&builder, "{sv}", "avg_cadence",
                         g_variant_new_double (summary->avg_cadence));
  g_variant_builder_add (&builder, "{sv}", "max_cadence",
                         g_variant_new_double (summary->max_cadence));
  g_variant_builder_add (&builder, "{sv}", "avg_power", g_variant_new_double (summary->avg_power));
  g_variant_builder_add (&builder, "{sv}", "max_power", g_variant_new_double (summary->max_power));
  g_variant_builder_add (&builder, "{sv}", "pauses", g_variant_new_uint32 (summary->pauses));
  g_variant_builder_add (&builder, "{sv}", "recaps", g_variant_new_uint32 (summary->recaps));
  g_variant_builder_add (&builder, "{sv}", "source",
                         g_variant_new_string (wu_engine_get_source_label (service->engine)));
  /* Publish State = complete before the signal, so a client that acts on the signal and
   * then reads the properties sees the finished warm-up. */
  publish_warmup_flushed (service);
  wu_warmup1_emit_start_floor_routine (service->warmup,
                                       wu_engine_get_routine (service->engine),
                                       g_variant_builder_end (&builder));
}
