/* The BLE sensor source: a Cycling Speed and Cadence (0x1816) or Cycling Power (0x1818)
 * sensor, found and connected through the same BlueZ client as the bikes. It only
 * delivers: CSC Measurement (0x2A5B) and Cycling Power Measurement (0x2A63) notifications
 * become csc.measurement / cps.measurement raw events (decoded in the engine), and the
 * link's ups and downs become link events. Nothing on these sensors can be set. */
#include "source-ble.h"
#include "wu-error.h"

#include <string.h>

typedef struct {
  WuSource base;
  WuBluezLink *link;
  guint16 measurement;         /* the characteristic */
  WuEventKind kind;            /* its raw event kind */
} WuBleSensorSource;

static void
sensor_deliver (WuBleSensorSource *sensor, WuEventKind kind, gboolean up, const guint8 *data,
                gsize len)
{
  WuRawEvent event = { .kind = kind, .up = up };

  event.time_us = sensor->base.sink->now (sensor->base.sink_data);
  event.len = MIN (len, sizeof event.payload);
  if (event.len > 0)
    memcpy (event.payload, data, event.len);
  sensor->base.sink->event (sensor->base.sink_data, &event);
}

static void
on_link_up (gpointer user_data)
{
  sensor_deliver (user_data, WU_EVENT_LINK, TRUE, NULL, 0);
}

static void
on_link_value (gpointer user_data, guint16 uuid, const guint8 *data, gsize len)
{
  WuBleSensorSource *sensor = user_data;

  if (uuid == sensor->measurement)
    sensor_deliver (sensor, sensor->kind, FALSE, data, len);
}

static void
on_link_down (gpointer user_data, const char *reason)
{
  sensor_deliver (user_data, WU_EVENT_LINK, FALSE, NULL, 0);
}

static void
on_link_error (gpointer user_data, const char *message)
{
  WuBleSensorSource *sensor = user_data;
  g_autoptr (GError) error = NULL;

  if (message != NULL)
    error = g_error_new_literal (WU_ERROR, WU_ERROR_FAILED, message);
  sensor->base.sink->error (sensor->base.sink_data, error);
}

static const WuBluezLinkCallbacks sensor_link_callbacks = {
  .up = on_link_up,
  .value = on_link_value,
  .down = on_link_down,
  .error = on_link_error,
};

static void
sensor_start (WuSource *source)
{
  /* The link connects on its own as soon as the device is known. */
}

static void
sensor_free (WuSource *source)
{
  WuBleSensorSource *sensor = (WuBleSensorSource *) source;
  g_clear_pointer (&sensor->link, wu_bluez_link_free);
}

static const WuSourceOps csc_ops = {
  .kind = "csc",
  .start = sensor_start,
  .free = sensor_free,   /* no apply_cap: advisory */
};

static const WuSourceOps cps_ops = {
  .kind = "cps",
  .start = sensor_start,
  .free = sensor_free,
};

WuSource *
wu_ble_sensor_source_new (WuBluez *bluez, const char *address, const char *name,
                          guint16 service, const WuSourceSink *sink, gpointer sink_data)
{
  WuBleSensorSource *sensor = g_new0 (WuBleSensorSource, 1);
  gboolean cps = service == WU_GATT_SERVICE_CPS;
  WuBluezCharSpec spec = {
    .uuid = cps ? WU_GATT_CHAR_CPS_MEASUREMENT : WU_GATT_CHAR_CSC_MEASUREMENT,
    .mode = WU_BLUEZ_CHAR_NOTIFY,
    .required = TRUE,
  };

  g_return_val_if_fail (cps || service == WU_GATT_SERVICE_CSC, NULL);
  sensor->base.ops = cps ? &cps_ops : &csc_ops;
  sensor->base.sink = sink;
  sensor->base.sink_data = sink_data;
  sensor->base.name = g_strdup (name);
  sensor->base.address = g_ascii_strup (address, -1);
  sensor->measurement = spec.uuid;
  sensor->kind = cps ? WU_EVENT_CPS_MEASUREMENT : WU_EVENT_CSC_MEASUREMENT;
  sensor->link = wu_bluez_link_new (bluez, address, service, &spec, 1, &sensor_link_callbacks,
                                    sensor);
  return &sensor->base;
}
