/* Bluetooth LE sources over the shared BlueZ client (bluez.h): FTMS smart bikes
 * (source-ftms.c) and CSC/CPS sensors (source-ble-sensor.c). Each finder watches for its
 * devices and adds one engine source per device found, named ftmsN, cscN or cpsN on D-Bus;
 * the source lives on through link losses and bluetoothd restarts. */
#pragma once
#include "bluez.h"
#include "engine.h"
#include "wu-config.h"

G_BEGIN_DECLS

typedef struct WuBleFinder WuBleFinder;

/* The bike: [Bike] Address= (NULL: the first device offering FTMS). CONFIG is read again
 * at each new bike and by wu_ble_finder_set_config (PowerCap=). Make it before the sensor
 * finder: the configured bike and any device offering FTMS are then never sensors, and a
 * sensor whose device comes to offer FTMS is removed when the bike is still wanted. */
WuBleFinder *wu_ftms_finder_new (WuEngine *engine, WuBluez *bluez, const WuConfig *config);
/* CSC and CPS sensors: [Sensors] Addresses= (empty: any device offering those services
 * that bluetoothd knows or discovery finds). */
WuBleFinder *wu_ble_sensor_finder_new (WuEngine *engine, WuBluez *bluez,
                                       const WuConfig *config);
/* A reload: PowerCap= applies to the next target written. */
void wu_ble_finder_set_config (WuBleFinder *finder, const WuConfig *config);
/* Free after the engine (which frees the sources) and before the WuBluez. */
void wu_ble_finder_free (WuBleFinder *finder);

/* The sources, for the finders and tests. */
WuSource *wu_ftms_source_new (WuBluez *bluez, const char *address, const char *name,
                              double power_cap_w, const WuSourceSink *sink,
                              gpointer sink_data);
void wu_ftms_source_set_power_cap (WuSource *source, double power_cap_w);
/* SERVICE: WU_GATT_SERVICE_CSC or WU_GATT_SERVICE_CPS. */
WuSource *wu_ble_sensor_source_new (WuBluez *bluez, const char *address, const char *name,
                                    guint16 service, const WuSourceSink *sink,
                                    gpointer sink_data);

G_END_DECLS
