/* libFuzzer harness for the FTMS control session. The input is a script: each step is one
 * op byte (which input, and how far the clock moves), and for indications and status
 * notifications a length byte and that many payload bytes. Checks the invariants after
 * every step: the action buffer never fills, at most two writes (a resend or a request
 * after a timeout, then the input's own), the next deadline is always in the future, and
 * no g_return_if_fail() fires.
 *
 *   make fuzz   (or by hand, like fuzz-ftms.c, adding src/ftms-session.c)
 *   ./fuzz-ftms-session -max_total_time=60 tests/fuzz/corpus/ftms-session */
#include "wu-ftms-session.h"
#include "wu-error.h"
#include "fuzz-log.h"

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

typedef struct {
  const uint8_t *data;
  size_t size, pos;
} Script;

static gboolean
take (Script *s, size_t n, const uint8_t **out)
{
  if (n > s->size - s->pos)
    return FALSE;
  *out = s->data + s->pos;
  s->pos += n;
  return TRUE;
}

static void
check_invariants (const WuFtmsSession *session, gint64 now_us, const WuFtmsActions *out)
{
  guint writes = 0;

  if (out->n >= WU_FTMS_ACTIONS_MAX)
    abort ();
  for (guint i = 0; i < out->n; i++)
    if (out->items[i].kind == WU_FTMS_ACTION_WRITE)
      {
        writes++;
        if (out->items[i].request.len == 0 || out->items[i].request.len > WU_FTMS_REQUEST_MAX)
          abort ();
      }
  if (writes > 2 || wu_ftms_session_next_deadline (session) <= now_us)
    abort ();
}

/* Feed the payload, copied to an exact-size block so ASan sees any read past its end. */
static void
feed_bytes (WuFtmsSession *session, gboolean status, gint64 now_us, Script *s,
            WuFtmsActions *out)
{
  const uint8_t *len_byte, *payload;
  g_autofree guint8 *copy = NULL;
  GError *error = NULL;
  gboolean ok;

  if (!take (s, 1, &len_byte) || !take (s, *len_byte % 24, &payload))
    {
      wu_ftms_session_tick (session, now_us, out);   /* the script ran out: time still moved */
      return;
    }
  copy = g_memdup2 (payload, *len_byte % 24);
  if (status)
    ok = wu_ftms_session_status (session, now_us, copy, *len_byte % 24, out, &error);
  else
    ok = wu_ftms_session_indication (session, now_us, copy, *len_byte % 24, out, &error);
  if (ok ? error != NULL : !g_error_matches (error, WU_ERROR, WU_ERROR_MALFORMED))
    abort ();
  g_clear_error (&error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (WuFtmsSession) session = wu_ftms_session_new (NULL);
  Script s = { data, size, 0 };
  const uint8_t *op;
  gint64 now_us = 1000000;
  WuFtmsRange range = { 0, 25, 0.5 };

  wu_ftms_session_set_resistance_range (session, &range);
  while (take (&s, 1, &op))
    {
      WuFtmsActions out;
      WuFtmsFeature feature = { .target_setting_features = (*op >> 4) & 0x0e };

      wu_ftms_actions_clear (&out);
      /* 0 .. 2.85 s: less than the 3 s answer timeout, so at most one timer fires per step
       * and "one write, plus at most one resend or one new request" holds (a longer gap,
       * made of several steps, may catch up on several timers at once) */
      now_us += (gint64) (*op >> 4) * 190000;
      switch (*op & 0x0f)
        {
        case 0: wu_ftms_session_connected (session, now_us, &out); break;
        case 1: wu_ftms_session_disconnected (session, now_us, &out); break;
        case 2:
          feature.target_setting_features |= (*op & 0x80) ? WU_FTMS_TARGET_INDOOR_BIKE_SIMULATION : 0;
          wu_ftms_session_set_feature (session, now_us, &feature, &out);
          break;
        case 3: wu_ftms_session_apply_cap (session, now_us, (*op >> 4) * 2.5, &out); break;
        case 4: wu_ftms_session_release (session, now_us, &out); break;
        case 5: wu_ftms_session_write_failed (session, now_us, &out); break;
        case 6: case 7: wu_ftms_session_tick (session, now_us, &out); break;
        case 8: case 9: case 10: feed_bytes (session, TRUE, now_us, &s, &out); break;
        case 11: wu_ftms_session_ride_resumed (session, now_us, &out); break;
        default: feed_bytes (session, FALSE, now_us, &s, &out); break;
        }
      check_invariants (session, now_us, &out);
    }
  return 0;
}
