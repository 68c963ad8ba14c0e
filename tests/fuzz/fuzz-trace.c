/* libFuzzer harness for the trace line parser: any input must parse or fail cleanly, and
 * every parsed event must survive format -> parse -> format unchanged.
 *   clang -std=c11 -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *     $(pkg-config --cflags glib-2.0 gio-2.0) src/trace.c src/error.c tests/fuzz/fuzz-trace.c \
 *     $(pkg-config --libs glib-2.0 gio-2.0) -o fuzz-trace
 *   ./fuzz-trace -max_total_time=60 tests/fuzz/corpus/trace */
#include "wu-trace.h"
#include "wu-error.h"
#include "fuzz-log.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* g_error() and a failed g_assert_*() abort where libFuzzer sees it (fuzz-log.h) */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  fuzz_log_init (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, 0);
  return 0;
}

static void
check_round_trip (const WuRawEvent *ev)
{
  g_autofree char *line = wu_trace_format_event (ev);
  g_autoptr (GError) error = NULL;
  gboolean is_event = FALSE;
  WuRawEvent again;

  if (!wu_trace_parse_line (line, &again, &is_event, &error) || !is_event)
    g_error ("formatted line does not parse: '%s'", line);
  g_assert_cmpint (again.time_us, ==, ev->time_us);
  g_assert_cmpint (again.kind, ==, ev->kind);
  g_assert_cmpint (again.up, ==, ev->up);
  g_assert_cmpmem (again.payload, again.len, ev->payload, ev->len);
  g_assert_cmpuint (again.lost, ==, ev->lost);
  g_autofree char *line_again = wu_trace_format_event (&again);
  g_assert_cmpstr (line, ==, line_again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *line = g_strndup ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  gboolean is_event = FALSE;
  WuRawEvent ev;

  if (wu_trace_parse_line (line, &ev, &is_event, &error))
    {
      g_assert_no_error (error);
      if (is_event)
        check_round_trip (&ev);
    }
  else
    {
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_false (is_event);
    }
  return 0;
}
