/* warmupd.conf loader: GKeyFile plus a table of known keys, each with its own parser. */
#include "wu-config.h"
#include "wu-error.h"
#include "config-gpio.h"
#include "config-ble.h"
#include "config-sensors.h"
#include "wu-cadence.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

typedef enum {
  KEY_SECONDS,     /* gint64 µs field; value in seconds, > 0 */
  KEY_RPM,         /* double field; rpm, > 0 */
  KEY_WATTS,       /* double field; W > 0, or "none" (-1) */
  KEY_AUTOSTART,
  KEY_CAP,         /* "none", a level, or "N%" */
  KEY_ROUTINE,
  KEY_GPIO,        /* [Gpio]: parsed in config-gpio.c */
  KEY_BLE,         /* [Bike], [Sensors]: parsed in config-ble.c */
  KEY_SENSORS,     /* [Sensors] decoding keys: parsed in config-sensors.c */
} KeyType;

typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;    /* into WuControllerConfig, for the numeric types */
} KnownKey;

#define CTL(field) offsetof (WuControllerConfig, field)

static const KnownKey known_keys[] = {
  { "Warmup", "Autostart", KEY_AUTOSTART, 0 },
  { "Warmup", "MinCadence", KEY_RPM, CTL (min_cadence) },
  { "Warmup", "MaxCadence", KEY_RPM, CTL (max_cadence) },
  { "Warmup", "StartAfter", KEY_SECONDS, CTL (start_after_us) },
  { "Warmup", "PauseAfter", KEY_SECONDS, CTL (pause_after_us) },
  { "Warmup", "AbandonAfter", KEY_SECONDS, CTL (abandon_after_us) },
  { "Warmup", "StaleAfter", KEY_SECONDS, CTL (stale_after_us) },
  { "Warmup", "EaseOffAfter", KEY_SECONDS, CTL (ease_off_after_us) },
  { "Warmup", "Duration", KEY_SECONDS, CTL (duration_us) },
  { "Resistance", "Cap", KEY_CAP, 0 },
  { "Resistance", "PowerCap", KEY_WATTS, CTL (power_cap_w) },
  { "Resistance", "ReapplyAfter", KEY_SECONDS, CTL (reapply_after_us) },
  { "Routine", "Name", KEY_ROUTINE, 0 },
  { "Gpio", "Chip", KEY_GPIO, 0 },
  { "Gpio", "Line", KEY_GPIO, 0 },
  { "Gpio", "ActiveLow", KEY_GPIO, 0 },
  { "Gpio", "Bias", KEY_GPIO, 0 },
  { "Gpio", "Edge", KEY_GPIO, 0 },
  { "Gpio", "Debounce", KEY_GPIO, 0 },
  { "Gpio", "PulsesPerRevolution", KEY_GPIO, 0 },
  { "Bike", "Address", KEY_BLE, 0 },
  { "Bike", "Adapter", KEY_BLE, 0 },
  { "Sensors", "Addresses", KEY_BLE, 0 },
  { "Sensors", "WheelCircumference", KEY_SENSORS, 0 },
  { "Sensors", "CadencePriority", KEY_SENSORS, 0 },
};

/* Longest accepted duration for any timing key: a day. */
#define MAX_SECONDS (24.0 * 3600.0)
#define MAX_RPM 300.0
#define MAX_WATTS 3000.0

void
wu_config_init (WuConfig *config)
{
  memset (config, 0, sizeof *config);
  wu_controller_config_init (&config->controller);
  config->routine = g_strdup (WU_DEFAULT_ROUTINE);
  wu_gpio_config_init (&config->gpio);
  wu_ble_config_init (&config->ble);
  wu_sensors_config_init (&config->sensors);
}

void
wu_config_clear (WuConfig *config)
{
  g_clear_pointer (&config->routine, g_free);
  wu_gpio_config_clear (&config->gpio);
  wu_ble_config_clear (&config->ble);
}

/* GKeyFile does not keep line numbers: find where GROUP/KEY stands, or GROUP's header when
 * KEY is NULL. A key given twice (also in a repeated group, which GKeyFile merges) takes its
 * last value, so the last line is the one to blame; a group is named at its first header. */
static guint
find_line (const char *contents, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  gboolean in_group = (group == NULL);
  guint found = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = g_strstrip (g_strdup (lines[i]));

      if (line[0] == '[')
        {
          g_autofree char *name = g_strndup (line + 1, strcspn (line + 1, "]"));
          in_group = (group != NULL && strcmp (name, group) == 0);
          if (in_group && key == NULL)
            return i + 1;
          continue;
        }
      if (!in_group || key == NULL)
        continue;
      if (g_str_has_prefix (line, key))
        {
          const char *rest = line + strlen (key);
          while (*rest == ' ' || *rest == '\t')
            rest++;
          if (*rest == '=')
            found = i + 1;
        }
    }
  return found;
}

static gboolean
is_valid_routine_id (const char *text)
{
  if (text[0] == '\0' || strlen (text) > 64)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/* Parse VALUE for KEY into CONFIG; on failure return a reason (to be freed). */
static char *
apply_key (WuConfig *config, const KnownKey *key, const char *value)
{
  guint8 *base = (guint8 *) &config->controller;
  double v;

  switch (key->type)
    {
    case KEY_SECONDS:
      /* at least a microsecond: a value that rounds to 0 µs would be 0 (found by fuzzing) */
      if (!wu_config_parse_decimal (value, &v) || v <= 0 || v > MAX_SECONDS
          || llround (v * G_USEC_PER_SEC) < 1)
        return g_strdup_printf ("'%s' is not a number of seconds above 0 (at least 0.000001) "
                                "and at most %.0f", value, MAX_SECONDS);
      *(gint64 *) (base + key->offset) = (gint64) llround (v * G_USEC_PER_SEC);
      return NULL;
    case KEY_RPM:
      if (!wu_config_parse_decimal (value, &v) || v <= 0 || v > MAX_RPM)
        return g_strdup_printf ("'%s' is not a cadence in rpm above 0 and at most %.0f",
                                value, MAX_RPM);
      *(double *) (base + key->offset) = v;
      return NULL;
    case KEY_WATTS:
      if (g_ascii_strcasecmp (value, "none") == 0)
        v = -1;
      else if (!wu_config_parse_decimal (value, &v) || v <= 0 || v > MAX_WATTS)
        return g_strdup_printf ("'%s' is not 'none' or a power in W above 0 and at most %.0f",
                                value, MAX_WATTS);
      *(double *) (base + key->offset) = v;
      return NULL;
    case KEY_AUTOSTART:
      if (strcmp (value, "pedal") == 0)
        config->controller.autostart = WU_AUTOSTART_PEDAL;
      else if (strcmp (value, "manual") == 0)
        config->controller.autostart = WU_AUTOSTART_MANUAL;
      else
        return g_strdup_printf ("'%s' is not 'pedal' or 'manual'", value);
      return NULL;
    case KEY_CAP:
      return NULL; /* handled by apply_cap: it writes two fields */
    case KEY_ROUTINE:
      if (!is_valid_routine_id (value))
        return g_strdup_printf ("'%s' is not a routine id (lower-case letters, digits, '-' and '_')",
                                value);
      g_free (config->routine);
      config->routine = g_strdup (value);
      return NULL;
    case KEY_GPIO:
      return wu_gpio_config_apply_key (&config->gpio, key->key, value);
    case KEY_BLE:
      return wu_ble_config_apply_key (&config->ble, key->group, key->key, value);
    case KEY_SENSORS:
      return wu_sensors_config_apply_key (&config->sensors, key->key, value);
    default:
      g_assert_not_reached ();
    }
}

/* Cap= is "none", a resistance level (>= 0), or a percentage of the bike's range ("30%"). */
static char *
apply_cap (WuConfig *config, const char *value)
{
  gsize len = strlen (value);
  double v;

  if (g_ascii_strcasecmp (value, "none") == 0)
    {
      config->controller.cap_level = -1;
      config->controller.cap_percent = -1;
      return NULL;
    }
  if (len > 1 && value[len - 1] == '%')
    {
      g_autofree char *number = g_strndup (value, len - 1);
      if (!wu_config_parse_decimal (g_strstrip (number), &v) || v < 0 || v > 100)
        return g_strdup_printf ("'%s' is not a percentage from 0%% to 100%%", value);
      config->controller.cap_level = -1;
      config->controller.cap_percent = v;
      return NULL;
    }
  if (!wu_config_parse_decimal (value, &v) || v < 0 || v > 10000)
    return g_strdup_printf ("'%s' is not 'none', a resistance level, or a percentage like 30%%",
                            value);
  config->controller.cap_level = v;
  config->controller.cap_percent = -1;
  return NULL;
}

static const KnownKey *
lookup_key (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    if (strcmp (known_keys[i].group, group) == 0 && strcmp (known_keys[i].key, key) == 0)
      return &known_keys[i];
  return NULL;
}

static gboolean
is_known_group (const char *group)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    if (strcmp (known_keys[i].group, group) == 0)
      return TRUE;
  return FALSE;
}

static void
warn_unknown_keys (GKeyFile *file, const char *path, const char *contents)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = NULL;

      if (!is_known_group (groups[g]))
        {
          g_warning ("%s:%u: unknown group [%s], ignored", path,
                     find_line (contents, groups[g], NULL), groups[g]);
          continue;
        }
      keys = g_key_file_get_keys (file, groups[g], NULL, NULL);
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        if (lookup_key (groups[g], keys[k]) == NULL)
          g_warning ("%s:%u: unknown key %s in [%s], ignored", path,
                     find_line (contents, groups[g], keys[k]), keys[k], groups[g]);
    }
}

static gboolean
fail_key (GError **error, const char *path, const char *contents, const char *group,
          const char *key, const char *reason)
{
  g_set_error (error, WU_ERROR, WU_ERROR_CONFIG, "%s:%u: [%s] %s: %s", path,
               find_line (contents, group, key), group, key, reason);
  return FALSE;
}

/* MaxCadence <= MinCadence: blame the key the file sets (MaxCadence when it sets both), and
 * say which value it collides with, since the other may be a default. */
static gboolean
fail_cadence_range (const WuConfig *config, GKeyFile *file, const char *path,
                    const char *contents, GError **error)
{
  g_autofree char *reason = NULL;

  if (g_key_file_has_key (file, "Warmup", "MaxCadence", NULL))
    {
      reason = g_strdup_printf ("must be above MinCadence (%g rpm)",
                                config->controller.min_cadence);
      return fail_key (error, path, contents, "Warmup", "MaxCadence", reason);
    }
  reason = g_strdup_printf ("must be below MaxCadence (%g rpm, the default)",
                            config->controller.max_cadence);
  return fail_key (error, path, contents, "Warmup", "MinCadence", reason);
}

/* [Gpio] Debounce= must be shorter than a pulse period at 220 rpm with PulsesPerRevolution=
 * magnets (the default Debounce= always is: a file that fails sets it). */
static gboolean
check_debounce_per_pulse (const WuConfig *config, const char *path, const char *contents,
                          GError **error)
{
  g_autofree char *reason = wu_gpio_config_check_debounce (&config->gpio);

  return reason == NULL || fail_key (error, path, contents, "Gpio", "Debounce", reason);
}

/* [Gpio] Debounce= above what the estimator uses: the line must be quiet for at most
 * WU_CADENCE_QUIET_MAX_US before an edge (the bounce of the switch opening, with
 * Edge=falling, comes only the open time before the next closing, which at high cadence
 * with several magnets is shorter), and closer pulses are dropped by the 220 rpm spacing
 * whatever Debounce= says. Accepted (files written for the 0-100 range keep working), but
 * said. */
static void
warn_debounce_above_quiet_max (const WuConfig *config, GKeyFile *file, const char *path,
                               const char *contents)
{
  guint quiet_max_ms = WU_CADENCE_QUIET_MAX_US / 1000;

  if (g_key_file_has_key (file, "Gpio", "Debounce", NULL)
      && config->gpio.debounce_ms > quiet_max_ms)
    g_warning ("%s:%u: [Gpio] Debounce: %u ms acts as %u ms (the quiet time before an edge "
               "is at most %u ms; pulses closer than a 220 rpm revolution are dropped "
               "anyway)", path, find_line (contents, "Gpio", "Debounce"),
               config->gpio.debounce_ms, quiet_max_ms, quiet_max_ms);
}

/* Whether StaleAfter is to blame for a MinCadence too low: only it moved from the defaults. */
static gboolean
stale_after_to_blame (const WuConfig *config)
{
  WuControllerConfig defaults;

  wu_controller_config_init (&defaults);
  return config->controller.stale_after_us != defaults.stale_after_us
         && config->controller.min_cadence == defaults.min_cadence;
}

/* The slowest cadence the estimator reports from PULSES_PER_REVOLUTION pulses a revolution:
 * a pulse period of StaleAfter or longer reads as a stop (a crank sensor counts 1). */
static double
slowest_reported_rpm (const WuConfig *config, guint pulses_per_revolution)
{
  double stale_s = (double) config->controller.stale_after_us / G_USEC_PER_SEC;

  return 60.0 / (stale_s * MAX (pulses_per_revolution, 1u));
}

char *
wu_config_check_min_cadence (const WuConfig *config, const char **key)
{
  double stale_s = (double) config->controller.stale_after_us / G_USEC_PER_SEC;
  guint ppr = MAX (config->gpio.pulses_per_revolution, 1u);
  double slowest = slowest_reported_rpm (config, ppr);
  double min_cadence = config->controller.min_cadence;

  *key = "MinCadence";
  if (config->gpio.line == NULL)
    return NULL;
  if (min_cadence >= WU_CADENCE_MAX_RPM)
    return g_strdup_printf ("%g rpm is not below %.0f rpm, the fastest cadence a reed switch "
                            "is believed at", min_cadence, WU_CADENCE_MAX_RPM);
  if (min_cadence > slowest)
    return NULL;
  if (stale_after_to_blame (config))
    {
      *key = "StaleAfter";
      return g_strdup_printf ("%g s makes %.4g rpm the slowest cadence a reed switch reports "
                              "(with PulsesPerRevolution=%u; pulses further apart read as a "
                              "stop): MinCadence %g rpm must be above it", stale_s, slowest,
                              ppr, min_cadence);
    }
  return g_strdup_printf ("%g rpm is not above %.4g rpm, the slowest cadence a reed switch "
                          "reports with StaleAfter=%g s and PulsesPerRevolution=%u (pulses "
                          "further apart read as a stop)", min_cadence, slowest, stale_s, ppr);
}

static gboolean
check_min_cadence_reportable (const WuConfig *config, const char *path, const char *contents,
                              GError **error)
{
  const char *key = NULL;
  g_autofree char *reason = wu_config_check_min_cadence (config, &key);

  return reason == NULL || fail_key (error, path, contents, "Warmup", key, reason);
}

static gboolean min_cadence_below_crank_sensors (const WuConfig *config);
static void warn_min_cadence_crank_sensors (const WuConfig *config, const char *path,
                                            const char *contents, const char *note);
static const char *max_cadence_beyond (const WuConfig *config);
static void warn_max_cadence_beyond_crank_sensors (const WuConfig *config, const char *path,
                                                   const char *contents, const char *note);

#define RUNNING_SOURCES_NOTE " (the running [Gpio] and [Sensors] settings, kept until a restart)"

gboolean
wu_config_check_reload (const WuConfig *fresh, const WuConfig *running, const char *path,
                        GError **error)
{
  const char *key = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *why = NULL;
  /* shallow: only read; the sources' settings in force stay until a restart */
  WuConfig merged = *fresh;

  merged.gpio = running->gpio;
  merged.ble = running->ble;
  /* read again for the line (just loaded: only a write since then moves it) */
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    contents = g_strdup ("");
  reason = wu_config_check_min_cadence (&merged, &key);
  if (reason == NULL)
    {
      /* the load said these of the file's sensors; said again if those in force differ */
      if (min_cadence_below_crank_sensors (&merged) && !min_cadence_below_crank_sensors (fresh))
        warn_min_cadence_crank_sensors (&merged, path, contents, RUNNING_SOURCES_NOTE);
      if (g_strcmp0 (max_cadence_beyond (&merged), max_cadence_beyond (fresh)) != 0)
        warn_max_cadence_beyond_crank_sensors (&merged, path, contents, RUNNING_SOURCES_NOTE);
      return TRUE;
    }
  why = g_strdup_printf ("%s (with the running [Gpio] settings, kept until a restart)", reason);
  return fail_key (error, path, contents, "Warmup", key, why);
}

/* A BLE crank sensor (CSC, CPS: found without being listed) has the same limit, with one
 * revolution a pulse; an FTMS bike reports its own cadence.  With a reed switch ([Gpio]) no
 * BLE crank sensor is used, and the reed switch's limit is refused, not said. */
static gboolean
min_cadence_below_crank_sensors (const WuConfig *config)
{
  return config->gpio.line == NULL
         && config->controller.min_cadence <= slowest_reported_rpm (config, 1);
}

/* Said, not refused; NOTE follows the message. */
static void
warn_min_cadence_crank_sensors (const WuConfig *config, const char *path, const char *contents,
                                const char *note)
{
  double slowest = slowest_reported_rpm (config, 1);
  double stale_s = (double) config->controller.stale_after_us / G_USEC_PER_SEC;
  const char *consequence = "with one, slower pedalling reads as a stop (an FTMS bike "
                            "reports its own)";

  if (!min_cadence_below_crank_sensors (config))
    return;
  if (stale_after_to_blame (config))
    g_warning ("%s:%u: [Warmup] StaleAfter: %g s makes %.4g rpm the slowest cadence a BLE "
               "crank sensor reports, and MinCadence %g rpm is not above it: %s%s", path,
               find_line (contents, "Warmup", "StaleAfter"), stale_s, slowest,
               config->controller.min_cadence, consequence, note);
  else
    g_warning ("%s:%u: [Warmup] MinCadence: %g rpm is not above %.4g rpm, the slowest cadence "
               "a BLE crank sensor reports with StaleAfter=%g s: %s%s", path,
               find_line (contents, "Warmup", "MinCadence"), config->controller.min_cadence,
               slowest, stale_s, consequence, note);
}

/* A reed switch's cadence, like a BLE crank sensor's, reads at most WU_CADENCE_MAX_RPM
 * (closer pulses are dropped as bounce): a MaxCadence above it is never passed by the
 * configured crank sensors ([Gpio], [Sensors] Addresses=), so the ease-off hint would never
 * come from them. Which of them CONFIG has that MaxCadence above, NULL: none (an FTMS bike
 * reports its own cadence). */
static const char *
max_cadence_beyond (const WuConfig *config)
{
  if (config->controller.max_cadence <= WU_CADENCE_MAX_RPM)
    return NULL;
  if (config->gpio.line != NULL)
    return "a reed switch on [Gpio]";
  if (config->ble.sensor_addresses != NULL)
    return "a crank sensor in [Sensors] Addresses";
  return NULL;
}

/* Said, not refused; NOTE follows the message. Only when CONTENTS sets the key. */
static void
warn_max_cadence_beyond_crank_sensors (const WuConfig *config, const char *path,
                                       const char *contents, const char *note)
{
  const char *which = max_cadence_beyond (config);
  guint line = find_line (contents, "Warmup", "MaxCadence");

  if (which == NULL || line == 0)
    return;
  g_warning ("%s:%u: [Warmup] MaxCadence: %g rpm is above the %.0f rpm %s reads at most: its "
             "cadence never passes it, so it never shows the ease-off hint%s", path, line,
             config->controller.max_cadence, WU_CADENCE_MAX_RPM, which, note);
}

/* The bike listed among the sensors: the bike's link claims the device, and the sensor
 * link waiting for it would keep the radio scanning for ever. */
static gboolean
check_bike_not_a_sensor (const WuConfig *config, const char *path, const char *contents,
                         GError **error)
{
  g_autofree char *reason = NULL;

  if (config->ble.bike_address == NULL || config->ble.sensor_addresses == NULL)
    return TRUE;
  for (guint i = 0; config->ble.sensor_addresses[i] != NULL; i++)
    if (g_ascii_strcasecmp (config->ble.sensor_addresses[i], config->ble.bike_address) == 0)
      {
        reason = g_strdup_printf ("'%s' is the [Bike] Address: a device is the bike or a "
                                  "sensor, not both", config->ble.sensor_addresses[i]);
        return fail_key (error, path, contents, "Sensors", "Addresses", reason);
      }
  return TRUE;
}

static gboolean
apply_known_keys (WuConfig *config, GKeyFile *file, const char *path, const char *contents,
                  GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_keys); i++)
    {
      const KnownKey *key = &known_keys[i];
      g_autofree char *raw = g_key_file_get_value (file, key->group, key->key, NULL);
      g_autofree char *reason = NULL;

      if (raw == NULL)
        continue;
      /* values reach D-Bus strings (a GPIO chip's path in Sensor1.Address, the routine) */
      if (!g_utf8_validate (raw, -1, NULL))
        return fail_key (error, path, contents, key->group, key->key, "not valid UTF-8");
      g_strstrip (raw);
      reason = key->type == KEY_CAP ? apply_cap (config, raw) : apply_key (config, key, raw);
      if (reason != NULL)
        return fail_key (error, path, contents, key->group, key->key, reason);
    }
  if (config->controller.max_cadence <= config->controller.min_cadence)
    return fail_cadence_range (config, file, path, contents, error);
  if (!check_debounce_per_pulse (config, path, contents, error))
    return FALSE;
  if (g_key_file_has_group (file, "Gpio") && config->gpio.line == NULL)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_CONFIG, "%s:%u: [Gpio] Line: missing (the GPIO line "
                   "the reed switch is wired to: an offset or a name like GPIO17)", path,
                   find_line (contents, "Gpio", NULL));
      return FALSE;
    }
  if (!check_min_cadence_reportable (config, path, contents, error))
    return FALSE;
  if (!check_bike_not_a_sensor (config, path, contents, error))
    return FALSE;
  warn_debounce_above_quiet_max (config, file, path, contents);
  warn_min_cadence_crank_sensors (config, path, contents, "");
  warn_max_cadence_beyond_crank_sensors (config, path, contents, "");
  return TRUE;
}

/* Whether GKeyFile rejects the first PREFIX_LENGTH bytes of DATA. */
static gboolean
prefix_is_rejected (const char *data, gsize prefix_length)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();

  return !g_key_file_load_from_data (file, data, prefix_length, G_KEY_FILE_KEEP_TRANSLATIONS,
                                     NULL);
}

/* GKeyFile's syntax errors do not number the line, and their wording (even the quotes
 * around the line they cite) follows the locale. GKeyFile judges a file line by line, so
 * the bad line is the first whose prefix it rejects: bisect on whole lines. 0 if no prefix
 * is rejected. */
static guint
line_of_syntax_error (const char *data, gsize length)
{
  g_autoptr (GArray) line_ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  guint good = 0, bad;   /* the first GOOD lines load; the first BAD lines do not */

  for (gsize end = 1; end <= length; end++)
    if (data[end - 1] == '\n' || end == length)
      g_array_append_val (line_ends, end);
  bad = line_ends->len;
  if (bad == 0 || !prefix_is_rejected (data, g_array_index (line_ends, gsize, bad - 1)))
    return 0;
  while (bad - good > 1)
    {
      guint middle = good + (bad - good) / 2;

      if (prefix_is_rejected (data, g_array_index (line_ends, gsize, middle - 1)))
        bad = middle;
      else
        good = middle;
    }
  return bad;
}

gboolean
wu_config_load (WuConfig *config, const char *path, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_debug ("%s: no such file, using the defaults", path);
          return TRUE;
        }
      g_set_error (error, WU_ERROR, WU_ERROR_CONFIG, "%s: %s", path, local_error->message);
      return FALSE;
    }
  return wu_config_load_from_data (config, contents, length, path, error);
}

gboolean
wu_config_load_from_data (WuConfig *config, const char *data, gsize length, const char *path,
                          GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *contents = NULL;
  const char *nul = memchr (data, '\0', length);

  /* GKeyFile reads on past a NUL byte, and the line search (on a C string) would not: the
   * lines it named after one were wrong. A text file has none. */
  if (nul != NULL)
    {
      guint line = 1;

      for (const char *p = data; p < nul; p++)
        line += *p == '\n';
      g_set_error (error, WU_ERROR, WU_ERROR_CONFIG, "%s:%u: a NUL byte: not a text file",
                   path, line);
      return FALSE;
    }
  contents = g_malloc (length + 1);   /* NUL-terminated for the line search */
  memcpy (contents, data, length);
  contents[length] = '\0';
  /* KEEP_TRANSLATIONS: a localized key (Duration[de]=) is kept, so it is warned about as
   * unknown; without it GKeyFile dropped it, or kept it, by the locale warmupd runs in. */
  if (!g_key_file_load_from_data (file, contents, length, G_KEY_FILE_KEEP_TRANSLATIONS,
                                  &local_error))
    {
      g_set_error (error, WU_ERROR, WU_ERROR_CONFIG, "%s:%u: %s", path,
                   line_of_syntax_error (contents, length), local_error->message);
      return FALSE;
    }
  warn_unknown_keys (file, path, contents);
  if (!apply_known_keys (config, file, path, contents, error))
    {
      wu_config_clear (config);
      wu_config_init (config);
      return FALSE;
    }
  return TRUE;
}
