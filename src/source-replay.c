/* The replay source: plays a recorded trace back through the same sink as live sources.
 * It drives the clock: at speed N the trace's time runs N times faster than real time; at
 * speed 0 (virtual time) events follow each other as fast as the main loop allows, in
 * batches, and the controller's timers fire at their trace-time deadlines between events.
 * At any speed, after each batch of events the replay waits until the bus has taken what
 * they published (a fast replay would otherwise pile messages up in GDBus's queue). At the
 * end of the trace time stops: no timer fires after the last event. */
#include "wu-source.h"
#include "wu-error.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

/* Events handled per main-loop iteration in virtual time: large enough to be quick,
 * small enough that D-Bus calls are still answered promptly during a long replay. After
 * each, the replay waits for the bus to take what they published. */
#define REPLAY_BATCH 256
/* At speed > 0 each step (an event, or time reaching a controller deadline between two) is
 * published on its own, a PropertiesChanged or two: the replay waits for the bus after this
 * many steps, so that only their messages can wait in GDBus's queue. */
#define TIMED_BATCH 32
/* ... unless those steps took this long or longer: no faster than 32 a second, no faster than
 * live sources publish (a 4 Hz bike and a sensor or two), which never wait.  A replay at
 * --speed 1 then never wakes GDBus's flush thread. */
#define TIMED_BATCH_UNHURRIED_US G_USEC_PER_SEC

typedef struct {
  WuSource base;
  char *path;
  double speed;
  WuTraceReader *reader;
  WuRawEvent next;             /* the next event, read ahead */
  gboolean have_next;
  gboolean failed;             /* the trace turned bad after validation */
  gint64 real_epoch;           /* monotonic time at trace time 0 (speed > 0) */
  GSource *timer;
  GCancellable *waiting;       /* waiting for the bus to take a batch's publications
                                * (sink->wait_published), else NULL */
  guint since_wait;            /* at speed > 0: steps taken since the last wait */
  gint64 batch_began_us;       /* ... and when the first of them was due to be taken */
} WuReplaySource;

static void replay_schedule (WuReplaySource *replay);

static void
replay_fail (WuReplaySource *replay, const GError *error)
{
  replay->have_next = FALSE;
  replay->failed = TRUE;
  replay->base.sink->finished (replay->base.sink_data, error);
}

/* Read the next event ahead. FALSE at the end of the trace (or after a failure). */
static gboolean
replay_read_ahead (WuReplaySource *replay)
{
  g_autoptr (GError) error = NULL;

  replay->have_next = wu_trace_reader_next (replay->reader, &replay->next, &error);
  if (error != NULL)
    {
      /* Only if the file changed under us: it was validated when the source was made. */
      replay_fail (replay, error);
      return FALSE;
    }
  return replay->have_next;
}

/* Deliver the pending event and read the one after it. FALSE when the trace is done. */
static gboolean
replay_deliver_next (WuReplaySource *replay)
{
  replay->base.sink->event (replay->base.sink_data, &replay->next);
  if (!replay_read_ahead (replay))
    {
      if (!replay->failed)
        replay->base.sink->finished (replay->base.sink_data, NULL);
      return FALSE;
    }
  return TRUE;
}

/* The next moment something happens: the next event, or an earlier controller deadline. */
static gint64
replay_next_wakeup (WuReplaySource *replay)
{
  gint64 deadline = replay->base.sink->next_deadline (replay->base.sink_data);
  return MIN (deadline, replay->next.time_us);
}

static gint64 real_due_time (gint64 real_epoch, gint64 trace_us, double speed);

static void
on_batch_published (GObject *source_object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  WuReplaySource *replay;

  if (!g_task_propagate_boolean (G_TASK (result), &error)
      && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the replay is gone */
  replay = user_data;
  g_clear_object (&replay->waiting);
  replay->batch_began_us = g_get_monotonic_time ();
  replay_schedule (replay);
}

/* After a batch: wait until the bus has taken what it published, if the sink can tell. */
static gboolean
replay_wait_published (WuReplaySource *replay)
{
  const WuSourceSink *sink = replay->base.sink;

  if (sink->wait_published == NULL)
    return FALSE;
  replay->waiting = g_cancellable_new ();
  if (sink->wait_published (replay->base.sink_data, replay->waiting, on_batch_published,
                            replay))
    return TRUE;
  g_clear_object (&replay->waiting);
  return FALSE;
}

static gboolean
replay_step_virtual (gpointer user_data)
{
  WuReplaySource *replay = user_data;

  for (guint i = 0; i < REPLAY_BATCH; i++)
    {
      /* Timers due before the next event fire inside the sink's event handling, at their
       * own deadlines, so nothing else needs advancing here. */
      if (!replay_deliver_next (replay))
        {
          g_clear_pointer (&replay->timer, g_source_unref);
          return G_SOURCE_REMOVE;
        }
    }
  if (replay_wait_published (replay))
    {
      g_clear_pointer (&replay->timer, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
replay_step_timed (gpointer user_data)
{
  WuReplaySource *replay = user_data;
  gint64 wakeup = replay_next_wakeup (replay);

  g_clear_pointer (&replay->timer, g_source_unref);
  /* A timeout lasts at most G_MAXUINT ms (49.7 days): woken before the due time (a long
   * gap, or one never due at a slow speed), wait on. */
  if (g_get_monotonic_time () < real_due_time (replay->real_epoch, wakeup, replay->speed))
    {
      replay_schedule (replay);
      return G_SOURCE_REMOVE;
    }
  if (wakeup < replay->next.time_us)
    {
      /* A controller deadline between two events (a cadence falling in steps through a
       * long stop, say): let time reach it. */
      replay->base.sink->advance_to (replay->base.sink_data, wakeup);
    }
  else if (!replay_deliver_next (replay))
    return G_SOURCE_REMOVE;
  /* Fast enough (over 32 steps a second), each step's publication can come faster than the bus
   * takes it: wait for it after a batch of steps, as in virtual time. Due times come from
   * the epoch, so a wait never shifts the ones after it. */
  if (++replay->since_wait >= TIMED_BATCH)
    {
      gint64 now = g_get_monotonic_time ();
      gboolean hurried = now - replay->batch_began_us < TIMED_BATCH_UNHURRIED_US;

      replay->since_wait = 0;
      replay->batch_began_us = now;
      if (hurried && replay_wait_published (replay))
        return G_SOURCE_REMOVE;
    }
  replay_schedule (replay);
  return G_SOURCE_REMOVE;
}

/* When trace time TRACE_US falls on the monotonic clock: REAL_EPOCH + TRACE_US / SPEED. A
 * late trace time (up to 10^12 s) at a slow speed is beyond gint64; anything past half its
 * range (~146,000 years) is simply never due. */
static gint64
real_due_time (gint64 real_epoch, gint64 trace_us, double speed)
{
  double offset_us = (double) trace_us / speed;

  if (!(offset_us < (double) (G_MAXINT64 / 2)))
    return G_MAXINT64;
  if (offset_us < (double) (G_MININT64 / 2))
    return real_epoch + G_MININT64 / 2;
  return real_epoch + (gint64) offset_us;
}

/* A timeout in whole milliseconds, rounded up, for a delay of DELAY_US >= 0. */
static guint
delay_to_ms (gint64 delay_us)
{
  gint64 ms = delay_us / 1000 + (delay_us % 1000 != 0);

  return (guint) MIN (ms, (gint64) G_MAXUINT);
}

static void
replay_schedule (WuReplaySource *replay)
{
  gint64 due, delay_us;

  if (replay->speed == 0)
    {
      replay->timer = g_idle_source_new ();
      g_source_set_callback (replay->timer, replay_step_virtual, replay, NULL);
    }
  else
    {
      /* Due times are computed from the epoch, so rounding never accumulates into drift. */
      gint64 wakeup = replay_next_wakeup (replay);

      due = real_due_time (replay->real_epoch, wakeup, replay->speed);
      if (due == G_MAXINT64)
        g_debug ("replay: the next wake-up, at %.3f s trace time, is never due at speed %g",
                 wakeup / 1e6, replay->speed);
      delay_us = MAX (due - g_get_monotonic_time (), 0);
      replay->timer = g_timeout_source_new (delay_to_ms (delay_us));
      g_source_set_callback (replay->timer, replay_step_timed, replay, NULL);
    }
  g_source_set_name (replay->timer, "[warmupd] replay");
  g_source_attach (replay->timer, NULL);
}

static void
replay_start (WuSource *source)
{
  WuReplaySource *replay = (WuReplaySource *) source;

  replay->real_epoch = g_get_monotonic_time ();
  replay->batch_began_us = replay->real_epoch;
  if (!replay_read_ahead (replay))
    {
      if (!replay->failed)
        replay->base.sink->finished (replay->base.sink_data, NULL);
      return;
    }
  replay_schedule (replay);
}

static void
replay_free (WuSource *source)
{
  WuReplaySource *replay = (WuReplaySource *) source;

  if (replay->waiting != NULL)
    {
      g_cancellable_cancel (replay->waiting);
      g_object_unref (replay->waiting);
    }
  if (replay->timer != NULL)
    {
      g_source_destroy (replay->timer);
      g_source_unref (replay->timer);
    }
  g_clear_pointer (&replay->reader, wu_trace_reader_free);
  g_free (replay->path);
}

static const WuSourceOps replay_ops = {
  .kind = "replay",
  .drives_clock = TRUE,
  .start = replay_start,
  .apply_cap = NULL,   /* a recording cannot be steered */
  .release = NULL,
  .free = replay_free,
};

/* The trace is opened twice, checked whole then replayed: a pipe or FIFO would replay
 * nothing the second time, or wait for a writer that never comes. A directory is left to
 * the reader's own error. */
static gboolean
reject_unseekable (const char *path, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0 || S_ISREG (st.st_mode) || S_ISDIR (st.st_mode))
    return TRUE;   /* the reader says what is wrong with a path it cannot open */
  g_autofree char *display_name = g_filename_display_name (path);
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
               "Cannot replay trace '%s': not a regular file (a trace is read twice, checked "
               "whole before it is replayed: save a piped one to a file first)", display_name);
  return FALSE;
}

/* Read the whole trace once, so a malformed line stops the daemon before it starts. */
static gboolean
validate_trace (const char *path, GError **error)
{
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, error);
  g_autofree WuRawEvent *event = g_new (WuRawEvent, 1);
  g_autoptr (GError) local_error = NULL;

  if (reader == NULL)
    return FALSE;
  while (wu_trace_reader_next (reader, event, &local_error))
    ;
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* Sensor1.Name and .Address, and through the name the Source label: D-Bus strings, so UTF-8
 * whatever bytes the file name holds (the path itself stays as given, for opening). */
static void
replay_set_names (WuReplaySource *replay, const char *path)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);

  replay->base.name = g_filename_display_basename (path);
  replay->base.address = g_filename_display_name (absolute);
}

WuSource *
wu_replay_source_new (const char *path, double speed, const WuSourceSink *sink,
                      gpointer sink_data, GError **error)
{
  WuReplaySource *replay;
  WuTraceReader *reader;

  g_return_val_if_fail (speed >= 0, NULL);
  if (!reject_unseekable (path, error) || !validate_trace (path, error))
    return NULL;
  reader = wu_trace_reader_open (path, error);
  if (reader == NULL)
    return NULL;
  replay = g_new0 (WuReplaySource, 1);
  replay->base.ops = &replay_ops;
  replay->base.sink = sink;
  replay->base.sink_data = sink_data;
  replay_set_names (replay, path);
  replay->path = g_strdup (path);
  replay->speed = speed;
  replay->reader = reader;
  return &replay->base;
}
