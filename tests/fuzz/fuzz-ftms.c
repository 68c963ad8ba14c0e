/* libFuzzer harness for the FTMS codecs. Feeds every input to every decoder (Indoor Bike
 * Data, the ranges, Feature, control point responses, Fitness Machine Status, Training
 * Status) and checks the contract: TRUE with no error, or FALSE with WU_ERROR_MALFORMED.
 * The first bytes also drive the encoders (as numbers), which must either succeed with a
 * request that fits or fail with WU_ERROR_INVALID_ARGUMENT.
 *
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -D_GNU_SOURCE -Iinclude $(pkg-config --cflags glib-2.0 gio-2.0) \
 *     src/ftms.c src/error.c tests/fuzz/fuzz-ftms.c $(pkg-config --libs glib-2.0 gio-2.0) \
 *     -o fuzz-ftms
 *   ./fuzz-ftms -max_total_time=60 tests/fuzz/corpus/ftms */
#include "wu-ftms.h"
#include "wu-error.h"
#include "fuzz-log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A g_return_if_fail() firing means a decoder reached a "cannot happen" path: crash. */
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
check_new_decoders (const guint8 *buf, size_t size)
{
  WuFtmsResponse response;
  WuFtmsStatus status;
  WuFtmsTrainingStatus training;
  GError *error = NULL;
  gboolean ok;

  ok = wu_ftms_decode_response (buf, size, &response, &error);
  if (ok && (response.parameter_len > WU_FTMS_RESPONSE_PARAM_MAX ||
             response.result < WU_FTMS_RESULT_SUCCESS ||
             response.result > WU_FTMS_RESULT_CONTROL_NOT_PERMITTED))
    abort ();
  check_outcome (ok, error);
  error = NULL;

  ok = wu_ftms_decode_status (buf, size, &status, &error);
  if (ok && (status.opcode != buf[0] || status.n_zones > G_N_ELEMENTS (status.zone_time_s) ||
             strcmp (wu_ftms_status_opcode_to_string (status.opcode), "unknown") == 0))
    abort ();
  check_outcome (ok, error);
  error = NULL;

  ok = wu_ftms_decode_training_status (buf, size, &training, &error);
  if (ok && (strlen (training.string) > WU_FTMS_TRAINING_STRING_MAX ||
             !g_utf8_validate (training.string, -1, NULL)))
    abort ();
  check_outcome (ok, error);
}

/* Encoders: success fills 1..WU_FTMS_REQUEST_MAX bytes, failure is INVALID_ARGUMENT. */
static void
check_encode (gboolean ok, const WuFtmsRequest *req, GError *error)
{
  if (ok ? (error != NULL || req->len == 0 || req->len > WU_FTMS_REQUEST_MAX)
         : (!g_error_matches (error, WU_ERROR, WU_ERROR_INVALID_ARGUMENT) || req->len != 0))
    abort ();
  g_clear_error (&error);
}

static void
check_encoders (const guint8 *buf, size_t size)
{
  GError *error = NULL;
  WuFtmsRequest req;
  WuFtmsSimulation sim;
  double value;

  if (size < sizeof value)
    return;
  memcpy (&value, buf, sizeof value);   /* any bit pattern: NaN, infinities, huge */
  check_encode (wu_ftms_encode_set_target_speed (&req, value, &error), &req, error);
  error = NULL;
  check_encode (wu_ftms_encode_set_target_inclination (&req, value, &error), &req, error);
  error = NULL;
  check_encode (wu_ftms_encode_set_target_resistance (&req, value, &error), &req, error);
  error = NULL;
  check_encode (wu_ftms_encode_set_target_resistance_s16 (&req, value, &error), &req, error);
  error = NULL;
  check_encode (wu_ftms_encode_set_target_power (&req, value, &error), &req, error);
  error = NULL;
  sim = (WuFtmsSimulation) { value, value / 10, value / 1000, value / 100 };
  check_encode (wu_ftms_encode_set_indoor_bike_simulation (&req, &sim, &error), &req, error);
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

  check_new_decoders (buf, size);
  check_encoders (buf, size);

  g_free (buf);
  return 0;
}
