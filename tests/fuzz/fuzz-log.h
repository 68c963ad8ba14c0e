/* Logging for the libFuzzer targets. GLib ends a fatal message (g_error(), or a critical
 * made fatal) with G_BREAKPOINT(): SIGTRAP, which libFuzzer does not catch, so the input
 * would be lost. Here a fatal message is printed and then abort()s instead: libFuzzer
 * reports a deadly signal and writes the crashing input to its artifact directory.
 * Messages of the levels in QUIET (expected ones, like the warnings of an unknown config
 * key) are dropped. */
#pragma once
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static GLogLevelFlags fuzz_log_quiet;

/* Every message goes through the writer (g_log() clears the fatal flag before it): an
 * error (always fatal) is printed and aborts here. */
static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  (void) data;
  if (level & G_LOG_LEVEL_ERROR)
    {
      g_log_writer_standard_streams (level, fields, n_fields, NULL);
      fprintf (stderr, "fatal GLib error: aborting\n");
      abort ();
    }
  if (level & fuzz_log_quiet)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, fields, n_fields, NULL);
}

/* The other fatal levels (g_log_set_always_fatal) come here once printed. */
static gboolean
fuzz_log_fatal (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void) domain;
  (void) level;
  (void) message;
  (void) data;
  fprintf (stderr, "fatal GLib message: aborting\n");
  abort ();
  return TRUE;
}

/* FATAL: the levels that are a crash (e.g. G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING). */
static inline void
fuzz_log_init (GLogLevelFlags fatal, GLogLevelFlags quiet)
{
  fuzz_log_quiet = quiet & ~fatal;
  g_log_set_always_fatal (fatal);
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
  g_test_log_set_fatal_handler (fuzz_log_fatal, NULL);
}
