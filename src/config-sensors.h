/* [Sensors] keys of warmupd.conf that shape decoding (see WuSensorsConfig in wu-config.h);
 * used by config.c. */
#pragma once
#include "wu-config.h"

void wu_sensors_config_init (WuSensorsConfig *sensors);
/* Parse VALUE for [Sensors] KEY (WheelCircumference, CadencePriority) into SENSORS; on
 * failure return the reason (to be freed). */
char *wu_sensors_config_apply_key (WuSensorsConfig *sensors, const char *key,
                                   const char *value);
const char *wu_cadence_kind_to_string (WuCadenceKind kind);   /* "ftms", "csc", ... */
/* A decimal number as warmupd.conf(5) writes them (digits, a point, an exponent): TRUE and
 * *OUT, or FALSE (hex, "inf", "nan", blanks and anything else g_ascii_strtod would take). */
gboolean wu_config_parse_decimal (const char *text, double *out);
