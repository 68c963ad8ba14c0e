/* libFuzzer harness for the FTMS decoders. Feeds every input to all four decoders and
 * checks the contract: TRUE with no error, or FALSE with WU_ERROR_MALFORMED.
 *
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -D_GNU_SOURCE -Iinclude $(pkg-config --cflags glib-2.0 gio-2.0) \
 *     src/ftms.c src/error.c tests/fuzz/fuzz-ftms.c $(pkg-config --libs glib-2.0 gio-2.0) \
 *     -o fuzz-ftms
 *   ./fuzz-ftms -max_total_time=60 tests/fuzz/corpus/ftms */
#include "wu-ftms.h"
#include "wu-error.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A g_return_if_fail() firing means a decoder reached a "cannot happen" path: crash. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  return 0;
}

static void
check_outcome (gboolean ok, GError *error)
{
  if (ok ? error != NULL : !g_error_matches (error, WU_ERROR, WU_ERROR_MALFORMED))
    abort ();
  g_clear_error (&error);
}

/* Copy into an exact-size heap block so ASan sees any read past the end. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint8 *buf = g_memdup2 (data, size);
  WuIndoorBikeData ibd;
  WuFtmsRange range;
  WuFtmsFeature feature;
  GError *error = NULL;
  gboolean ok;

  ok = wu_ftms_decode_indoor_bike_data (buf, size, &ibd, &error);
  if (ok && (ibd.present & ~0x1fffu) != 0)
    abort ();
  check_outcome (ok, error);
  error = NULL;

  ok = wu_ftms_decode_resistance_range (buf, size, &range, &error);
  if (ok && range.minimum > range.maximum)
    abort ();
  check_outcome (ok, error);
  error = NULL;

  ok = wu_ftms_decode_power_range (buf, size, &range, &error);
  if (ok && range.minimum > range.maximum)
    abort ();
  check_outcome (ok, error);
  error = NULL;

  check_outcome (wu_ftms_decode_feature (buf, size, &feature, &error), error);

  g_free (buf);
  return 0;
}
