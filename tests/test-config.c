/* warmupd.conf loading: defaults, every key, and every kind of bad value, table-driven. */
#include "wu-config.h"
#include "wu-error.h"

#include <glib/gstdio.h>
#include <string.h>

/* Field by field: the struct has padding, so memcmp would compare garbage. */
static void
assert_controller_config_equal (const WuControllerConfig *a, const WuControllerConfig *b)
{
  g_assert_cmpint (a->autostart, ==, b->autostart);
  g_assert_cmpfloat (a->min_cadence, ==, b->min_cadence);
  g_assert_cmpfloat (a->max_cadence, ==, b->max_cadence);
  g_assert_cmpint (a->start_after_us, ==, b->start_after_us);
  g_assert_cmpint (a->pause_after_us, ==, b->pause_after_us);
  g_assert_cmpint (a->abandon_after_us, ==, b->abandon_after_us);
  g_assert_cmpint (a->stale_after_us, ==, b->stale_after_us);
  g_assert_cmpint (a->ease_off_after_us, ==, b->ease_off_after_us);
  g_assert_cmpint (a->duration_us, ==, b->duration_us);
  g_assert_cmpint (a->reapply_after_us, ==, b->reapply_after_us);
  g_assert_cmpfloat (a->cap_level, ==, b->cap_level);
  g_assert_cmpfloat (a->cap_percent, ==, b->cap_percent);
  g_assert_cmpfloat (a->power_cap_w, ==, b->power_cap_w);
}

static char *
write_temp_config (const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("warmupd-test-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  g_close (fd, NULL);
  return path;
}

static void
test_missing_file_is_defaults (void)
{
  g_autoptr (GError) error = NULL;
  WuConfig config;
  WuControllerConfig defaults;

  wu_config_init (&config);
  wu_controller_config_init (&defaults);
  g_assert_true (wu_config_load (&config, "/nonexistent/warmupd.conf", &error));
  g_assert_no_error (error);
  assert_controller_config_equal (&config.controller, &defaults);
  g_assert_cmpstr (config.routine, ==, WU_DEFAULT_ROUTINE);
  wu_config_clear (&config);
}

static void
test_sample_config_is_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("WARMUPD_SRCDIR") ? g_getenv ("WARMUPD_SRCDIR") : ".",
                                            "data", "warmupd.conf", NULL);
  WuConfig config;
  WuControllerConfig defaults;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      /* make check sets WARMUPD_SRCDIR; the file is in git and in the tarball */
      g_test_fail_printf ("%s not found (set WARMUPD_SRCDIR to the source tree)", path);
      return;
    }
  wu_config_init (&config);
  wu_controller_config_init (&defaults);
  g_assert_true (wu_config_load (&config, path, &error));
  g_assert_no_error (error);
  assert_controller_config_equal (&config.controller, &defaults);
  wu_config_clear (&config);
}

typedef struct {
  const char *name;
  const char *contents;
  /* checks on success */
  gint64 duration_us;
  double min_cadence;
  double cap_level, cap_percent;
  WuAutostart autostart;
  const char *routine;
  const char *warning;   /* a warning expected, after "FILE:" (NULL: none) */
} GoodCase;

static const GoodCase good_cases[] = {
  { "all-keys",
    "[Warmup]\nAutostart=manual\nDuration=300\nMinCadence=35\nMaxCadence=95\nStartAfter=2\n"
    "PauseAfter=4\nAbandonAfter=120\nStaleAfter=2.5\nEaseOffAfter=8\n"
    "[Resistance]\nCap=12\nPowerCap=90\nReapplyAfter=1.5\n[Routine]\nName=four-key-exercises\n",
    300 * G_USEC_PER_SEC, 35, 12, -1, WU_AUTOSTART_MANUAL, "four-key-exercises", NULL },
  { "percent-cap", "[Resistance]\nCap = 25%\n", 600 * G_USEC_PER_SEC, 40, -1, 25,
    WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  { "no-cap", "[Resistance]\nCap=none\n", 600 * G_USEC_PER_SEC, 40, -1, -1, WU_AUTOSTART_PEDAL,
    WU_DEFAULT_ROUTINE, NULL },
  { "fractional-duration", "[Warmup]\nDuration=0.5\n", G_USEC_PER_SEC / 2, 40, -1, 30,
    WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  { "comments-and-blank-lines", "# a comment\n\n[Warmup]\n# Duration=1\nMinCadence=45\n",
    600 * G_USEC_PER_SEC, 45, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  /* Debounce= under a pulse period at 220 rpm: 272.7 ms, 136.4 ms with 2 magnets, 34.1 ms
   * with 8, 17.0 ms with 16 */
  /* ... accepted, and above 5 ms said to act as 5 (the estimator's longest quiet time) */
  { "debounce-100-one-magnet", "[Gpio]\nLine=17\nDebounce=100\n", 600 * G_USEC_PER_SEC, 40, -1,
    30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, "3: [Gpio] Debounce: 100 ms acts as 5 ms" },
  { "debounce-100-two-magnets", "[Gpio]\nLine=17\nDebounce=100\nPulsesPerRevolution=2\n",
    600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE,
    "3: [Gpio] Debounce: 100 ms acts as 5 ms" },
  { "debounce-5-no-warning", "[Gpio]\nLine=17\nDebounce=5\n", 600 * G_USEC_PER_SEC, 40, -1,
    30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  /* MinCadence down to what a reed switch can report: 60 / (StaleAfter x magnets) rpm */
  { "min-cadence-21-reed-switch", "[Warmup]\nMinCadence=21\n[Gpio]\nLine=17\n",
    600 * G_USEC_PER_SEC, 21, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  { "min-cadence-11-two-magnets", "[Warmup]\nMinCadence=11\n[Gpio]\nLine=17\n"
    "PulsesPerRevolution=2\n", 600 * G_USEC_PER_SEC, 11, -1, 30, WU_AUTOSTART_PEDAL,
    WU_DEFAULT_ROUTINE, NULL },
  /* ... and any with no reed switch (an FTMS bike reports its own cadence), said when a
   * BLE crank sensor (found unlisted too) could not report it */
  { "min-cadence-10-no-gpio", "[Warmup]\nMinCadence=10\n", 600 * G_USEC_PER_SEC, 10, -1, 30,
    WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE,
    "2: [Warmup] MinCadence: 10 rpm is not above 20 rpm, the slowest cadence a BLE crank" },
  { "stale-after-1.5-no-gpio", "[Warmup]\nStaleAfter=1.5\n", 600 * G_USEC_PER_SEC, 40, -1, 30,
    WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE,
    "2: [Warmup] StaleAfter: 1.5 s makes 40 rpm the slowest cadence a BLE crank sensor "
    "reports, and MinCadence 40 rpm is not above it" },
  { "min-cadence-and-stale-after-no-gpio", "[Warmup]\nMinCadence=40\nStaleAfter=1.5\n",
    600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE,
    "3: [Warmup] StaleAfter: 1.5 s makes 40 rpm" },
  { "numbers-with-exponent", "[Warmup]\nDuration=6e2\n", 600 * G_USEC_PER_SEC, 40, -1, 30,
    WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  { "debounce-34-eight-magnets", "[Gpio]\nLine=17\nDebounce=34\nPulsesPerRevolution=8\n",
    600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE,
    "3: [Gpio] Debounce: 34 ms acts as 5 ms" },
  { "default-debounce-sixteen-magnets", "[Gpio]\nLine=17\nPulsesPerRevolution=16\n",
    600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  /* MaxCadence above the 220 rpm a reed switch reads: said with one, fine without */
  { "max-cadence-250-reed-switch", "[Warmup]\nMaxCadence=250\n[Gpio]\nLine=17\n",
    600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE,
    "2: [Warmup] MaxCadence: 250 rpm is above the 220 rpm a reed switch on [Gpio] reads" },
  { "max-cadence-220-reed-switch", "[Warmup]\nMaxCadence=220\n[Gpio]\nLine=17\n",
    600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  { "max-cadence-250-no-gpio", "[Warmup]\nMaxCadence=250\n", 600 * G_USEC_PER_SEC, 40, -1,
    30, WU_AUTOSTART_PEDAL, WU_DEFAULT_ROUTINE, NULL },
  /* ... and with crank sensors listed (a BLE crank sensor reads at most 220 too) */
  { "max-cadence-250-sensors-listed", "[Warmup]\nMaxCadence=250\n[Sensors]\n"
    "Addresses=11:22:33:44:55:66\n", 600 * G_USEC_PER_SEC, 40, -1, 30, WU_AUTOSTART_PEDAL,
    WU_DEFAULT_ROUTINE, "2: [Warmup] MaxCadence: 250 rpm is above the 220 rpm a crank sensor "
    "in [Sensors] Addresses reads" },
};

static void
test_good (gconstpointer data)
{
  const GoodCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = write_temp_config (c->contents);
  g_autofree char *warning = g_strdup_printf ("%s:%s*", path, c->warning);
  WuConfig config;

  wu_config_init (&config);
  if (c->warning != NULL)
    g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, warning);
  g_assert_true (wu_config_load (&config, path, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpint (config.controller.duration_us, ==, c->duration_us);
  g_assert_cmpfloat (config.controller.min_cadence, ==, c->min_cadence);
  g_assert_cmpfloat (config.controller.cap_level, ==, c->cap_level);
  g_assert_cmpfloat (config.controller.cap_percent, ==, c->cap_percent);
  g_assert_cmpint (config.controller.autostart, ==, c->autostart);
  g_assert_cmpstr (config.routine, ==, c->routine);
  wu_config_clear (&config);
  g_unlink (path);
}

typedef struct {
  const char *name;
  const char *contents;
  const char *expected;   /* the message after "FILE:" */
} BadCase;

static const BadCase bad_cases[] = {
  { "duration-not-a-number", "[Warmup]\nDuration=ten\n",
    "2: [Warmup] Duration: 'ten' is not a number of seconds" },
  { "duration-zero", "[Warmup]\n\nDuration=0\n", "3: [Warmup] Duration: '0' is not" },
  { "duration-negative", "[Warmup]\nDuration=-5\n", "2: [Warmup] Duration:" },
  { "duration-too-long", "[Warmup]\nDuration=999999\n", "2: [Warmup] Duration:" },
  { "duration-trailing-text", "[Warmup]\nDuration=600s\n", "2: [Warmup] Duration: '600s'" },
  { "duration-nan", "[Warmup]\nDuration=nan\n", "2: [Warmup] Duration: 'nan'" },
  /* found by tests/fuzz/fuzz-config (corpus/config/tiny-duration): above 0 but 0 µs */
  { "duration-below-a-microsecond", "[Warmup]\nDuration=1e-7\n",
    "2: [Warmup] Duration: '1e-7' is not a number of seconds above 0" },
  { "stale-below-a-microsecond", "[Warmup]\nStaleAfter=0.0000004\n",
    "2: [Warmup] StaleAfter: '0.0000004' is not" },
  { "cadence-bad", "[Warmup]\nMinCadence=fast\n", "2: [Warmup] MinCadence: 'fast' is not a cadence" },
  { "max-below-min", "[Warmup]\nMinCadence=60\nMaxCadence=50\n",
    "3: [Warmup] MaxCadence: must be above MinCadence (60 rpm)" },
  /* only MinCadence is in the file: it is the key to blame, on its line */
  { "min-above-default-max", "# mine\n[Warmup]\nMinCadence=100\n",
    "3: [Warmup] MinCadence: must be below MaxCadence" },
  /* GKeyFile keeps the last of a repeated key, also across a repeated group */
  { "repeated-key-last-counts", "[Warmup]\nDuration=60\nDuration=ten\n",
    "3: [Warmup] Duration: 'ten'" },
  { "repeated-group-last-counts", "[Warmup]\nDuration=60\n[Routine]\nName=x\n"
    "[Warmup]\nDuration=ten\n", "6: [Warmup] Duration: 'ten'" },
  { "syntax-error-crlf", "[Warmup]\r\nDuration=600\r\nnot a key\r\n", "3: " },
  { "key-before-any-group", "# comment\n\nDuration=600\n[Warmup]\n", "3: " },
  { "empty-group-name", "[Warmup]\nDuration=600\n[]\n", "3: " },
  { "autostart-bad", "[Warmup]\nAutostart=always\n", "2: [Warmup] Autostart: 'always' is not 'pedal' or 'manual'" },
  { "cap-bad", "[Resistance]\nCap=high\n", "2: [Resistance] Cap: 'high' is not" },
  { "cap-percent-over-100", "[Resistance]\nCap=150%\n", "2: [Resistance] Cap: '150%' is not a percentage" },
  { "cap-negative", "[Resistance]\nCap=-3\n", "2: [Resistance] Cap:" },
  { "power-cap-bad", "[Resistance]\nPowerCap=0\n", "2: [Resistance] PowerCap: '0' is not 'none'" },
  { "routine-bad", "[Routine]\nName=Not A Routine!\n", "2: [Routine] Name: 'Not A Routine!' is not a routine id" },
  /* addresses are compared as the upper case they are kept in */
  { "sensor-address-twice", "[Sensors]\nAddresses=AA:BB:CC:DD:EE:01; aa:bb:cc:dd:ee:01\n",
    "2: [Sensors] Addresses: 'aa:bb:cc:dd:ee:01' is listed twice" },
  { "syntax-error", "[Warmup]\nDuration=600\nthis line is not a key\n", "3: " },
  { "value-not-utf8", "[Warmup]\nDuration=600\n[Gpio]\nChip=/dev/gpiochip\xe9\nLine=17\n",
    "4: [Gpio] Chip: not valid UTF-8" },
  /* Debounce= x PulsesPerRevolution= at or above 60000/220 ms: real pulses would be dropped
   * (Debounce=100 with 8 magnets read half the cadence) */
  { "debounce-too-long-for-eight-magnets",
    "[Gpio]\nLine=17\nDebounce=100\nPulsesPerRevolution=8\n",
    "3: [Gpio] Debounce: '100' is not shorter than a pulse period at 220 rpm with "
    "PulsesPerRevolution=8 (34.1 ms): real pulses would be dropped; at most 34 ms with 8 magnets" },
  { "debounce-35-eight-magnets", "[Gpio]\nPulsesPerRevolution=8\nLine=17\n# x\nDebounce=35\n",
    "5: [Gpio] Debounce: '35' is not shorter than a pulse period at 220 rpm with "
    "PulsesPerRevolution=8 (34.1 ms)" },
  { "debounce-18-sixteen-magnets", "[Gpio]\nLine=17\nDebounce=18\nPulsesPerRevolution=16\n",
    "3: [Gpio] Debounce: '18' is not shorter than a pulse period at 220 rpm with "
    "PulsesPerRevolution=16 (17.0 ms): real pulses would be dropped; at most 17 ms" },
  { "debounce-91-three-magnets", "[Gpio]\nLine=17\nDebounce=91\nPulsesPerRevolution=3\n",
    "3: [Gpio] Debounce: '91' is not shorter than a pulse period at 220 rpm with "
    "PulsesPerRevolution=3 (90.9 ms): real pulses would be dropped; at most 90 ms with 3 magnets" },
  /* MinCadence a reed switch cannot report: a pulse StaleAfter apart reads as a stop, and
   * none faster than 220 rpm is believed */
  { "min-cadence-15-reed-switch", "[Warmup]\nMinCadence=15\n[Gpio]\nLine=17\n",
    "2: [Warmup] MinCadence: 15 rpm is not above 20 rpm, the slowest cadence a reed switch "
    "reports with StaleAfter=3 s and PulsesPerRevolution=1" },
  /* at the limit: a rider at exactly 20 rpm reads 0 (a pulse StaleAfter apart is a stop) */
  { "min-cadence-20-reed-switch", "[Warmup]\nMinCadence=20\n[Gpio]\nLine=17\n",
    "2: [Warmup] MinCadence: 20 rpm is not above 20 rpm" },
  { "stale-after-1-reed-switch", "[Warmup]\nStaleAfter=1\n[Gpio]\nLine=17\n",
    "2: [Warmup] StaleAfter: 1 s makes 60 rpm the slowest cadence a reed switch reports" },
  { "min-cadence-250-reed-switch", "[Warmup]\nMinCadence=250\nMaxCadence=300\n[Gpio]\n"
    "Line=17\n", "2: [Warmup] MinCadence: 250 rpm is not below 220 rpm" },
  /* the bike among the sensors: its sensor link would scan for it for ever */
  { "bike-listed-as-sensor", "[Bike]\nAddress=AA:BB:CC:DD:EE:FF\n[Sensors]\n"
    "Addresses=11:22:33:44:55:66 aa:bb:cc:dd:ee:ff\n",
    "4: [Sensors] Addresses: 'AA:BB:CC:DD:EE:FF' is the [Bike] Address" },
  { "gpio-line-negative", "[Gpio]\nLine=-1\n", "2: [Gpio] Line: '-1' is not a line offset" },
  { "gpio-line-plus", "[Gpio]\nLine=+17\n", "2: [Gpio] Line: '+17' is not a line offset" },
  /* numbers are decimal: g_ascii_strtod alone took hex */
  { "duration-hex", "[Warmup]\nDuration=0x10\n", "2: [Warmup] Duration: '0x10' is not" },
  { "wheel-hex", "[Sensors]\nWheelCircumference=0x800\n",
    "2: [Sensors] WheelCircumference: '0x800' is not" },
  { "key-later-in-file", "[Resistance]\nCap=10\n\n[Warmup]\nMinCadence=40\nStaleAfter=x\n",
    "6: [Warmup] StaleAfter: 'x'" },
};

static void
test_bad (gconstpointer data)
{
  const BadCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = write_temp_config (c->contents);
  g_autofree char *expected = g_strdup_printf ("%s:%s", path, c->expected);
  WuConfig config;
  WuControllerConfig defaults;

  wu_config_init (&config);
  wu_controller_config_init (&defaults);
  g_assert_false (wu_config_load (&config, path, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_CONFIG);
  if (!g_str_has_prefix (error->message, expected))
    g_error ("expected a message starting with\n  %s\ngot\n  %s", expected, error->message);
  /* A failed load leaves the defaults, never half a configuration. */
  assert_controller_config_equal (&config.controller, &defaults);
  wu_config_clear (&config);
  g_unlink (path);
}

/* A reload keeps the running [Gpio] and [Sensors] until a restart: a MinCadence below or a
 * MaxCadence above what their crank sensors read is said with them in mind, when the file's differ (the load said it
 * of the file's own), and not for a reload that is refused anyway. */
typedef struct {
  const char *name;
  const char *running, *fresh;
  const char *load_warning;   /* what loading FRESH says, a glob; NULL: nothing */
  const char *warning;        /* what check_reload says, after "FILE:", a glob; NULL: nothing */
  gboolean refused;
} ReloadCase;

static const ReloadCase reload_cases[] = {
  { "gpio-dropped", "[Gpio]\nLine=17\n", "[Warmup]\nMaxCadence=250\n", NULL,
    "2: [Warmup] MaxCadence: 250 rpm is above the 220 rpm a reed switch on [Gpio] reads*the "
    "running [Gpio] and [Sensors] settings*", FALSE },
  { "sensors-dropped", "[Sensors]\nAddresses=11:22:33:44:55:66\n",
    "[Warmup]\nMaxCadence=250\n", NULL,
    "2: [Warmup] MaxCadence: 250 rpm is above the 220 rpm a crank sensor in [Sensors] Addresses*",
    FALSE },
  { "gpio-kept", "[Gpio]\nLine=17\n", "[Warmup]\nMaxCadence=250\n[Gpio]\nLine=17\n",
    "*MaxCadence: 250 rpm is above*", NULL, FALSE },
  { "no-crank-sensor", "[Warmup]\nMaxCadence=100\n", "[Warmup]\nMaxCadence=250\n", NULL, NULL,
    FALSE },
  /* MinCadence 15 rpm: a reed switch with 2 magnets reads down to 10 rpm (StaleAfter 3 s), a
   * BLE crank sensor, the running settings' only cadence source, to 20 */
  { "gpio-added-min-cadence", "[Warmup]\n",
    "[Warmup]\nMinCadence=15\n[Gpio]\nLine=17\nPulsesPerRevolution=2\n", NULL,
    "2: [Warmup] MinCadence: 15 rpm is not above 20 rpm, the slowest cadence a BLE crank "
    "sensor reports*the running [Gpio] and [Sensors] settings*", FALSE },
  { "gpio-kept-min-cadence", "[Gpio]\nLine=17\nPulsesPerRevolution=2\n",
    "[Warmup]\nMinCadence=15\n[Gpio]\nLine=17\nPulsesPerRevolution=2\n", NULL, NULL, FALSE },
  { "gpio-dropped-min-cadence", "[Gpio]\nLine=17\nPulsesPerRevolution=2\n",
    "[Warmup]\nMinCadence=15\n", "*MinCadence: 15 rpm is not above 20 rpm*", NULL, FALSE },
  { "refused-anyway", "[Gpio]\nLine=17\n", "[Warmup]\nMaxCadence=250\nMinCadence=1\n",
    "*MinCadence: 1 rpm is not above*", NULL, TRUE },
};

static void
test_reload_cadence_limits (gconstpointer data)
{
  const ReloadCase *c = data;
  g_autofree char *running_path = write_temp_config (c->running);
  g_autofree char *fresh_path = write_temp_config (c->fresh);
  g_autofree char *warning = g_strdup_printf ("%s:%s", fresh_path, c->warning);
  g_autoptr (GError) error = NULL;
  WuConfig running, fresh;

  wu_config_init (&running);
  wu_config_init (&fresh);
  /* warnings are fatal here: each one said is expected */
  g_assert_true (wu_config_load (&running, running_path, &error));
  if (c->load_warning != NULL)
    g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, c->load_warning);
  g_assert_true (wu_config_load (&fresh, fresh_path, &error));
  g_test_assert_expected_messages ();
  if (c->warning != NULL)
    g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, warning);
  g_assert_cmpint (wu_config_check_reload (&fresh, &running, fresh_path, &error), ==,
                   !c->refused);
  g_test_assert_expected_messages ();
  if (c->refused)
    g_assert_error (error, WU_ERROR, WU_ERROR_CONFIG);
  else
    g_assert_no_error (error);
  wu_config_clear (&fresh);
  wu_config_clear (&running);
  g_unlink (fresh_path);
  g_unlink (running_path);
}

/* A NUL byte: the line is named by the bytes before it (GKeyFile reads on past it, and the
 * line search did not: a bad value after it was blamed on the wrong line). */
static void
test_nul_byte (void)
{
  static const char data[] = "[Warmup]\nDuration=60\n\0\nDuration=ten\n";
  g_autoptr (GError) error = NULL;
  WuConfig config;

  wu_config_init (&config);
  g_assert_false (wu_config_load_from_data (&config, data, sizeof data - 1, "nul.conf", &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "nul.conf:3: a NUL byte: not a text file");
  wu_config_clear (&config);
}

static void
test_unknown_keys_warn (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = write_temp_config ("[Warmup]\nDuration=120\nSpeedLimit=3\n[Mystery]\nA=1\n");
  g_autofree char *key_warning = g_strdup_printf ("*%s:3: unknown key SpeedLimit in [Warmup]*", path);
  g_autofree char *group_warning = g_strdup_printf ("*%s:4: unknown group [Mystery]*", path);
  WuConfig config;

  wu_config_init (&config);
  g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, key_warning);
  g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, group_warning);
  g_assert_true (wu_config_load (&config, path, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpint (config.controller.duration_us, ==, 120 * G_USEC_PER_SEC);
  wu_config_clear (&config);
  g_unlink (path);
}

/* A localized key (Duration[de]=) is no translation warmupd reads: an unknown key, warned
 * about like any other whatever the locale, and the plain key keeps its value. */
static void
test_localized_keys_warn (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = write_temp_config ("[Warmup]\nDuration=120\nDuration[de]=5\n"
                                             "[Routine]\nName[C]=x\n");
  g_autofree char *duration_warning = g_strdup_printf ("*%s:3: unknown key Duration[de] in [Warmup]*",
                                                       path);
  g_autofree char *name_warning = g_strdup_printf ("*%s:5: unknown key Name[C] in [Routine]*", path);
  WuConfig config;

  wu_config_init (&config);
  g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, duration_warning);
  g_test_expect_message ("warmupd-config", G_LOG_LEVEL_WARNING, name_warning);
  g_assert_true (wu_config_load (&config, path, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpint (config.controller.duration_us, ==, 120 * G_USEC_PER_SEC);
  g_assert_cmpstr (config.routine, ==, WU_DEFAULT_ROUTINE);
  wu_config_clear (&config);
  g_unlink (path);
}

/* wu_config_load_from_data(): what wu_config_load() does once the file is read (and what
 * tests/fuzz/fuzz-config.c feeds); the bytes need no NUL at their end. */
static void
test_from_data (void)
{
  static const char good[] = "[Warmup]\nDuration=120\n[Routine]\nName=key-exercisesXXX";
  static const char bad[] = "[Warmup]\nDuration=120\nMinCadence=x\n";
  g_autoptr (GError) error = NULL;
  WuConfig config;

  wu_config_init (&config);
  /* the length cuts the last value: "key-exercises", not "key-exercisesXXX" */
  g_assert_true (wu_config_load_from_data (&config, good, sizeof good - 1 - 3, "mem.conf", &error));
  g_assert_no_error (error);
  g_assert_cmpint (config.controller.duration_us, ==, 120 * G_USEC_PER_SEC);
  g_assert_cmpstr (config.routine, ==, "key-exercises");
  g_assert_false (wu_config_load_from_data (&config, bad, sizeof bad - 1, "mem.conf", &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "mem.conf:3: [Warmup] MinCadence: 'x'"));
  g_assert_cmpint (config.controller.duration_us, ==, 600 * G_USEC_PER_SEC);
  wu_config_clear (&config);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/missing-file", test_missing_file_is_defaults);
  g_test_add_func ("/config/sample-file", test_sample_config_is_defaults);
  g_test_add_func ("/config/unknown-keys-warn", test_unknown_keys_warn);
  g_test_add_func ("/config/nul-byte", test_nul_byte);
  for (guint i = 0; i < G_N_ELEMENTS (reload_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/config/reload-cadence-limits/%s",
                                               reload_cases[i].name);
      g_test_add_data_func (path, &reload_cases[i], test_reload_cadence_limits);
    }
  g_test_add_func ("/config/localized-keys-warn", test_localized_keys_warn);
  g_test_add_func ("/config/from-data", test_from_data);
  for (gsize i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/config/good/%s", good_cases[i].name);
      g_test_add_data_func (name, &good_cases[i], test_good);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/config/bad/%s", bad_cases[i].name);
      g_test_add_data_func (name, &bad_cases[i], test_bad);
    }
  return g_test_run ();
}
