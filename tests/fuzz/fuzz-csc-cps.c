/* libFuzzer harness for the CSC (0x2A5B) and CPS (0x2A63) decoders and the cadence
 * estimator. Every input goes to both decoders (contract: TRUE with no error, or FALSE
 * with WU_ERROR_MALFORMED), and is also read as a stream of frames and pulses for the
 * estimator (contract: a cadence of -1, 0 or a finite value within 0..max_rpm, and a next
 * change strictly in the future).
 *
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -D_GNU_SOURCE -Iinclude $(pkg-config --cflags glib-2.0 gio-2.0) \
 *     src/csc.c src/cps.c src/cadence.c src/error.c tests/fuzz/fuzz-csc-cps.c \
 *     $(pkg-config --libs glib-2.0 gio-2.0) -lm -o fuzz-csc-cps
 *   ./fuzz-csc-cps -max_total_time=60 tests/fuzz/corpus/csc-cps */
#include "wu-cadence.h"
#include "wu-cps.h"
#include "wu-csc.h"
#include "wu-error.h"
#include "fuzz-log.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  fuzz_log_init (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, 0);
  return 0;
}

static void
check_outcome (gboolean ok, GError *error)
{
  if (ok ? error != NULL : !g_error_matches (error, WU_ERROR, WU_ERROR_MALFORMED))
    abort ();
  g_clear_error (&error);
}

static void
check_cadence (const WuCadence *cadence, gint64 now)
{
  double rpm = wu_cadence_get (cadence, now);

  /* Periods are whole microseconds: allow their rounding (a few ppm) above the maximum. */
  if (!(rpm == -1 || (isfinite (rpm) && rpm >= 0 && rpm <= WU_CADENCE_MAX_RPM * (1 + 1e-5))))
    abort ();
  if (wu_cadence_next_change (cadence, now) <= now)
    abort ();
}

/* 7-byte records: a time step (u16 ms), a tag (even: a pulse; odd: a crank frame of u16
 * revolutions and u16 event time), then the frame's 4 bytes. */
static void
drive_estimator (const guint8 *buf, gsize size)
{
  WuCadenceConfig config;
  WuCadence cadence;
  gint64 now = 0;

  wu_cadence_config_init (&config);
  wu_cadence_init (&cadence, &config);
  for (gsize i = 0; i + 7 <= size; i += 7)
    {
      now += (gint64) (buf[i] | buf[i + 1] << 8) * 1000;
      if (buf[i + 2] % 2 == 0)
        wu_cadence_pulse (&cadence, now);
      else
        wu_cadence_crank (&cadence, now, (guint16) (buf[i + 3] | buf[i + 4] << 8),
                          (guint16) (buf[i + 5] | buf[i + 6] << 8));
      check_cadence (&cadence, now);
      check_cadence (&cadence, now + buf[i + 2] * 20000);
    }
}

/* Copy into an exact-size heap block so ASan sees any read past the end. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint8 *buf = g_memdup2 (data, size);
  WuCscMeasurement csc;
  WuCpsMeasurement cps;
  GError *error = NULL;
  gboolean ok;

  ok = wu_csc_decode_measurement (buf, size, &csc, &error);
  if (ok && (csc.has_wheel != ((csc.flags & 1) != 0) || csc.has_crank != ((csc.flags & 2) != 0)))
    abort ();
  check_outcome (ok, error);
  error = NULL;

  ok = wu_cps_decode_measurement (buf, size, &cps, &error);
  if (ok && (cps.max_angle_deg > 0xfff || cps.min_angle_deg > 0xfff))
    abort ();
  check_outcome (ok, error);

  drive_estimator (buf, size);
  g_free (buf);
  return 0;
}
