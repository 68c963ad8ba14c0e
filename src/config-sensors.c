/* [Sensors] WheelCircumference= and CadencePriority=. */
#include "config-sensors.h"

#include <math.h>
#include <string.h>

#define DEFAULT_WHEEL_CIRCUMFERENCE_MM 2105.0   /* a 700x25C road wheel */
#define MIN_WHEEL_CIRCUMFERENCE_MM 100.0
#define MAX_WHEEL_CIRCUMFERENCE_MM 5000.0

static const char *const kind_names[] = {
  [WU_CADENCE_KIND_FTMS] = "ftms",
  [WU_CADENCE_KIND_CSC] = "csc",
  [WU_CADENCE_KIND_CPS] = "cps",
  [WU_CADENCE_KIND_GPIO] = "gpio",
};
G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == WU_CADENCE_N_KINDS);

const char *
wu_cadence_kind_to_string (WuCadenceKind kind)
{
  g_return_val_if_fail ((guint) kind < WU_CADENCE_N_KINDS, "?");
  return kind_names[kind];
}

void
wu_sensors_config_init (WuSensorsConfig *sensors)
{
  sensors->wheel_circumference_mm = DEFAULT_WHEEL_CIRCUMFERENCE_MM;
  /* The smart bike measures itself; a BLE sensor beats a home-wired switch. */
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    sensors->cadence_rank[kind] = kind;
}

static gboolean
kind_from_string (const char *name, WuCadenceKind *kind)
{
  for (guint k = 0; k < WU_CADENCE_N_KINDS; k++)
    if (strcmp (name, kind_names[k]) == 0)
      {
        *kind = k;
        return TRUE;
      }
  return FALSE;
}

/* "gpio,ftms": the named kinds first, in that order; the others after, in default order. */
static char *
apply_priority (WuSensorsConfig *sensors, const char *value)
{
  g_auto (GStrv) names = g_strsplit (value, ",", -1);
  gboolean listed[WU_CADENCE_N_KINDS] = { FALSE };
  guint rank = 0;

  for (guint i = 0; names[i] != NULL; i++)
    {
      WuCadenceKind kind;

      g_strstrip (names[i]);
      if (!kind_from_string (names[i], &kind))
        return g_strdup_printf ("'%s' is not a source kind (ftms, csc, cps, gpio)", names[i]);
      if (listed[kind])
        return g_strdup_printf ("'%s' is listed twice", names[i]);
      listed[kind] = TRUE;
      sensors->cadence_rank[kind] = rank++;
    }
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    if (!listed[kind])
      sensors->cadence_rank[kind] = rank++;
  return NULL;
}

gboolean
wu_config_parse_decimal (const char *text, double *out)
{
  char *end = NULL;
  double v;

  if (text[0] == '\0' || strspn (text, "0123456789+-.eE") != strlen (text))
    return FALSE;
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !isfinite (v))
    return FALSE;
  *out = v;
  return TRUE;
}

char *
wu_sensors_config_apply_key (WuSensorsConfig *sensors, const char *key, const char *value)
{
  if (strcmp (key, "WheelCircumference") == 0)
    {
      double mm;

      if (!wu_config_parse_decimal (value, &mm) ||
          mm < MIN_WHEEL_CIRCUMFERENCE_MM || mm > MAX_WHEEL_CIRCUMFERENCE_MM)
        return g_strdup_printf ("'%s' is not a circumference in mm from %.0f to %.0f", value,
                                MIN_WHEEL_CIRCUMFERENCE_MM, MAX_WHEEL_CIRCUMFERENCE_MM);
      sensors->wheel_circumference_mm = mm;
      return NULL;
    }
  if (strcmp (key, "CadencePriority") == 0)
    return apply_priority (sensors, value);
  g_return_val_if_reached (g_strdup_printf ("unknown key %s", key));
}
