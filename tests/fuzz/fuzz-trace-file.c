/* libFuzzer harness for the trace file reader (src/trace.c: wu_trace_reader_open/_next),
 * what `warmupd --replay` runs twice over a trace: once whole to validate it, then to play
 * it. The input is a whole trace file. It goes into a memfd that the real reader opens by
 * its /proc/self/fd path (fopen, the directory check, getc line by line), so the line
 * buffer and its bound, the over-long line, the NUL check, the version header and the time
 * order are all the production code; nothing of the reader is copied here.
 *
 * Contract, read on to the end of the file (the reader goes on after a bad line, as a
 * linter would):
 *   - every call either returns an event, or fails with WU_ERROR_MALFORMED and a message
 *     "PATH:LINE: reason" (UTF-8, LINE = wu_trace_reader_get_line()), or reports the end
 *     of the file, which stays the end (no error, line number unchanged);
 *   - each event or error takes at least one new line, and never more lines than the file
 *     has; an event's line, parsed alone with wu_trace_parse_line(), is that event;
 *   - events come in time order and within the format's bounds (format -> parse round
 *     trips are fuzz-trace's job, one line at a time).
 *
 *   make fuzz   (builds every target in tests/fuzz with clang, ASan + UBSan)
 *   ./fuzz-out/fuzz-trace-file -max_total_time=60 tests/fuzz/corpus/trace-file */
#include "wu-trace.h"
#include "wu-error.h"
#include "fuzz-log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The format's bound on a time (src/trace.c: 10^12 s). */
#define MAX_TIME_US (G_GINT64_CONSTANT (1000000000000) * G_USEC_PER_SEC)
/* An error message after its "PATH:LINE: " prefix: the reason quotes at most 40 bytes of
 * the line (MAX_QUOTE_BYTES), so it stays short whatever the line. */
#define MAX_REASON_BYTES 256

static int memfd = -1;
static char path[64];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  fuzz_log_init (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, 0);
  memfd = memfd_create ("fuzz-trace-file", MFD_CLOEXEC);
  if (memfd < 0)
    {
      perror ("memfd_create");
      abort ();
    }
  g_snprintf (path, sizeof path, "/proc/self/fd/%d", memfd);
  return 0;
}

static void
write_input (const uint8_t *data, size_t size)
{
  size_t done = 0;

  if (ftruncate (memfd, 0) != 0)
    abort ();
  while (done < size)
    {
      ssize_t n = pwrite (memfd, data + done, size - done, (off_t) done);
      if (n <= 0)
        abort ();
      done += (size_t) n;
    }
}

/* The start of every line of the input (line N, from 1, at starts[N - 1]), and one past
 * the end: the reader's lines are the input's, split at '\n'. */
static GArray *
line_starts (const uint8_t *data, size_t size)
{
  GArray *starts = g_array_new (FALSE, FALSE, sizeof (size_t));
  size_t zero = 0;

  g_array_append_val (starts, zero);
  for (size_t i = 0; i < size; i++)
    if (data[i] == '\n')
      {
        size_t next = i + 1;
        g_array_append_val (starts, next);
      }
  return starts;
}

/* Line LINE (from 1) of the input alone parses to EV. */
static void
check_event_line (const uint8_t *data, size_t size, GArray *starts, guint line,
                  const WuRawEvent *ev)
{
  size_t start = g_array_index (starts, size_t, line - 1);
  size_t end = line < starts->len ? g_array_index (starts, size_t, line) - 1 : size;
  g_autofree char *text = g_strndup ((const char *) data + start, end - start);
  g_autoptr (GError) error = NULL;
  gboolean is_event = FALSE;
  WuRawEvent again;

  if (strlen (text) != end - start)
    g_error ("line %u holds a NUL byte but gave an event", line);
  if (!wu_trace_parse_line (text, &again, &is_event, &error) || !is_event)
    g_error ("line %u gave an event but does not parse alone", line);
  g_assert_cmpint (again.time_us, ==, ev->time_us);
  g_assert_cmpint (again.kind, ==, ev->kind);
  g_assert_cmpint (again.up, ==, ev->up);
  g_assert_cmpmem (again.payload, again.len, ev->payload, ev->len);
  g_assert_cmpuint (again.lost, ==, ev->lost);
}

static void
check_error (const GError *error, guint line)
{
  g_autofree char *prefix = g_strdup_printf ("%s:%u: ", path, line);

  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  if (!g_str_has_prefix (error->message, prefix))
    g_error ("error '%s' does not start with '%s'", error->message, prefix);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_cmpuint (strlen (error->message) - strlen (prefix), <=, MAX_REASON_BYTES);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) starts = NULL;
  g_autofree WuRawEvent *ev = g_new (WuRawEvent, 1);
  gint64 last_time_us = 0;
  guint last_line = 0;

  write_input (data, size);
  starts = line_starts (data, size);
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reader);
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, 0);

  for (;;)
    {
      gboolean got = wu_trace_reader_next (reader, ev, &error);
      guint line = wu_trace_reader_get_line (reader);

      if (!got && error == NULL)
        {
          /* the end of the file: blank and comment lines after the last event count */
          g_assert_cmpuint (line, >=, last_line);
          g_assert_cmpuint (line, <=, starts->len);
          last_line = line;
          break;
        }
      /* one new line at least, and no more than the file has */
      g_assert_cmpuint (line, >, last_line);
      g_assert_cmpuint (line, <=, starts->len);
      last_line = line;
      if (!got)
        {
          check_error (error, line);
          g_clear_error (&error);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint ((gint) ev->kind, >=, 0);
      g_assert_cmpint (ev->kind, <, WU_EVENT_N_KINDS);
      g_assert_cmpuint (ev->len, <=, WU_EVENT_MAX_PAYLOAD);
      if (!wu_event_kind_has_payload (ev->kind))
        g_assert_cmpuint (ev->len, ==, 0);
      g_assert_cmpint (ev->time_us, >=, last_time_us);
      g_assert_cmpint (ev->time_us, <=, MAX_TIME_US);
      last_time_us = ev->time_us;
      check_event_line (data, size, starts, line, ev);
    }

  /* the end stays the end */
  g_assert_false (wu_trace_reader_next (reader, ev, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, last_line);
  return 0;
}
