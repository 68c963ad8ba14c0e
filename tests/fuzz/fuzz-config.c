/* libFuzzer harness for the configuration validation (src/config*.c): the input is a whole
 * warmupd.conf, loaded over the defaults with wu_config_load_from_data() (what
 * wu_config_load() does after reading the file, and what SIGHUP and --check-config run).
 * Contract: either TRUE with no error and every value within its documented range, or
 * FALSE with WU_ERROR_CONFIG, a "PATH:LINE..." message, and CONFIG back at the defaults.
 * Loading the same bytes again gives the same outcome. Unknown groups and keys are only
 * warned about (warnings are dropped here); a g_return_if_fail() firing is a crash.
 *
 *   make fuzz   (builds every target in tests/fuzz with clang, ASan + UBSan)
 *   ./fuzz-out/fuzz-config -max_total_time=60 tests/fuzz/corpus/config */
#include "wu-config.h"
#include "wu-error.h"
#include "fuzz-log.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PATH "fuzz.conf"
#define MAX_US (G_GINT64_CONSTANT (24) * 3600 * G_USEC_PER_SEC)

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  /* only the unknown-key warnings (expected here) are dropped; a critical is a crash */
  fuzz_log_init (G_LOG_LEVEL_CRITICAL, G_LOG_LEVEL_WARNING);
  return 0;
}

static void
check_us (gint64 us)
{
  if (us < 1 || us > MAX_US)
    abort ();
}

static void
check_text (const char *text, gboolean may_be_null)
{
  if (text == NULL ? !may_be_null : (text[0] == '\0' || !g_utf8_validate (text, -1, NULL)))
    abort ();
}

static void
check_config (const WuConfig *c)
{
  const WuControllerConfig *k = &c->controller;
  guint seen = 0;

  if (!(k->min_cadence > 0 && k->max_cadence > k->min_cadence && k->max_cadence <= 300))
    abort ();
  check_us (k->start_after_us);
  check_us (k->pause_after_us);
  check_us (k->abandon_after_us);
  check_us (k->stale_after_us);
  check_us (k->ease_off_after_us);
  check_us (k->duration_us);
  check_us (k->reapply_after_us);
  if (!(k->cap_level == -1 || (k->cap_level >= 0 && k->cap_level <= 10000)))
    abort ();
  if (!(k->cap_percent == -1 || (k->cap_percent >= 0 && k->cap_percent <= 100)))
    abort ();
  if (k->cap_level >= 0 && k->cap_percent >= 0)
    abort ();
  if (!(k->power_cap_w == -1 || (k->power_cap_w > 0 && k->power_cap_w <= 3000)))
    abort ();
  if (k->autostart != WU_AUTOSTART_PEDAL && k->autostart != WU_AUTOSTART_MANUAL)
    abort ();
  check_text (c->routine, FALSE);
  check_text (c->gpio.line, TRUE);
  check_text (c->gpio.chip, TRUE);
  if (c->gpio.pulses_per_revolution < 1 || c->gpio.pulses_per_revolution > 16
      || c->gpio.debounce_ms > 100)
    abort ();
  if (strcmp (wu_gpio_bias_to_string (c->gpio.bias), "?") == 0
      || strcmp (wu_gpio_edge_to_string (c->gpio.edge), "?") == 0)
    abort ();
  if (!isfinite (c->sensors.wheel_circumference_mm) || c->sensors.wheel_circumference_mm <= 0)
    abort ();
  /* CadencePriority= is an order of the kinds: each rank once */
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    {
      if (c->sensors.cadence_rank[kind] >= WU_CADENCE_N_KINDS)
        abort ();
      seen |= 1u << c->sensors.cadence_rank[kind];
    }
  if (seen != (1u << WU_CADENCE_N_KINDS) - 1)
    abort ();
  check_text (c->ble.bike_address, TRUE);
  check_text (c->ble.adapter, TRUE);
  for (guint i = 0; c->ble.sensor_addresses != NULL && c->ble.sensor_addresses[i] != NULL; i++)
    check_text (c->ble.sensor_addresses[i], FALSE);
}

/* After a failed load CONFIG must hold exactly the defaults. */
static void
check_defaults (const WuConfig *c)
{
  WuConfig defaults;

  wu_config_init (&defaults);
  if (memcmp (&c->controller, &defaults.controller, sizeof defaults.controller) != 0
      || strcmp (c->routine, defaults.routine) != 0
      || c->gpio.line != NULL || c->gpio.chip != NULL
      || c->ble.bike_address != NULL || c->ble.adapter != NULL
      || c->ble.sensor_addresses != NULL
      || memcmp (&c->sensors, &defaults.sensors, sizeof defaults.sensors) != 0)
    abort ();
  wu_config_clear (&defaults);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  WuConfig config, again;
  GError *error = NULL;
  gboolean ok, ok_again;

  wu_config_init (&config);
  ok = wu_config_load_from_data (&config, (const char *) data, size, PATH, &error);
  if (ok)
    {
      if (error != NULL)
        abort ();
      check_config (&config);
    }
  else
    {
      if (!g_error_matches (error, WU_ERROR, WU_ERROR_CONFIG)
          || !g_str_has_prefix (error->message, PATH ":"))
        abort ();
      check_defaults (&config);
      g_clear_error (&error);
    }

  wu_config_init (&again);
  ok_again = wu_config_load_from_data (&again, (const char *) data, size, PATH, NULL);
  if (ok_again != ok
      || memcmp (&again.controller, &config.controller, sizeof config.controller) != 0)
    abort ();
  wu_config_clear (&again);
  wu_config_clear (&config);
  return 0;
}
