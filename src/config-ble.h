/* [Bike] and [Sensors] keys of warmupd.conf (see wu-config.h for WuBleConfig); used by
 * config.c. */
#pragma once
#include "wu-config.h"

void wu_ble_config_init (WuBleConfig *ble);
void wu_ble_config_clear (WuBleConfig *ble);
void wu_ble_config_copy (WuBleConfig *dest, const WuBleConfig *src);   /* DEST: uninitialised */
/* Parse VALUE for [GROUP] KEY into BLE; on failure return the reason (to be freed). */
char *wu_ble_config_apply_key (WuBleConfig *ble, const char *group, const char *key,
                               const char *value);
/* "AA:BB:CC:DD:EE:FF" (either case). */
gboolean wu_ble_is_valid_address (const char *text);
