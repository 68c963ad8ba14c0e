/* Sensor sources: one file per source behind this small vtable (replay now; BLE FTMS,
 * BLE CSC/CPS and GPIO later). A source delivers raw events (the characteristic's bytes,
 * edges, link changes) to its sink; decoding happens once, in the engine, for every source. */
#pragma once
#include <gio/gio.h>
#include "wu-trace.h"

G_BEGIN_DECLS

typedef struct WuSource WuSource;

/* Where a source delivers. Every callback gets the sink's user data. */
typedef struct {
  /* A raw event. Its time_us must be on the sink's clock (see now()). */
  void (*event) (gpointer user_data, const WuRawEvent *event);
  /* The source has ended: error NULL at a clean end of stream, else why it failed. */
  void (*finished) (gpointer user_data, const GError *error);
  /* The sink's clock, for sources that timestamp live events. */
  gint64 (*now) (gpointer user_data);
  /* A CLOCK_MONOTONIC time in µs (a kernel event timestamp, g_get_monotonic_time()) on the
   * sink's clock: live events keep the time they happened, not the time they were read. */
  gint64 (*from_monotonic) (gpointer user_data, gint64 monotonic_us);
  /* A live source's trouble (a chip gone, a line busy), for its Sensor1 Error; NULL clears
   * it. Unlike finished(), the source lives on and keeps retrying. */
  void (*error) (gpointer user_data, const GError *error);
  /* A payload the source decodes itself (an FTMS control point indication) was malformed:
   * counted in Sensor1 DroppedPackets and dropped. */
  void (*dropped) (gpointer user_data, const char *what, const GError *error);
  /* How the source holds the machine at the cap now: "resistance", "simulation", "power",
   * "advisory", or "" (not capping). Published as Warmup1.Control. */
  void (*control) (gpointer user_data, const char *mode);
  /* For a source that drives the clock (a replay): when the sink next needs time to
   * advance, and advancing it. */
  gint64 (*next_deadline) (gpointer user_data);
  void (*advance_to) (gpointer user_data, gint64 time_us);
  /* For a source that can run ahead of real time (a replay), after each batch of events:
   * publish what they changed and call READY once the bus has taken it, so that the source
   * never runs more than a batch ahead of the bus (else every message it causes waits in
   * the process meanwhile, and the heap grows with the backlog). READY runs later, from
   * the main context, never before this returns. It gets a GTask: g_task_propagate_boolean()
   * fails with G_IO_ERROR_CANCELLED once CANCELLABLE was cancelled, and READY_DATA must not
   * be touched then. FALSE: nothing to wait for (no bus), READY is not called and the
   * source goes on at once. NULL: the same. */
  gboolean (*wait_published) (gpointer user_data, GCancellable *cancellable,
                              GAsyncReadyCallback ready, gpointer ready_data);
} WuSourceSink;

typedef struct {
  const char *kind;                   /* "replay", "ftms", ... */
  gboolean drives_clock;              /* TRUE: the source's timestamps are the clock */
  void (*start) (WuSource *source);
  /* Control of the machine, where it has any (NULL: advisory only). */
  void (*apply_cap) (WuSource *source, double level);
  /* The rider rides again after stopping the machine at its console (the warm-up resumed on
   * sustained pedalling; the machine may never say it was started): the stop is over, so
   * the machine is started again and apply_cap(), which follows, holds. NULL: nothing to do. */
  void (*ride_resumed) (WuSource *source);
  void (*release) (WuSource *source);
  void (*free) (WuSource *source);
  /* TRUE while a release is still waiting for the machine's answer (shutdown waits for
   * it, briefly). NULL: never. */
  gboolean (*releasing) (WuSource *source);
} WuSourceOps;

/* The first member of every backend's instance struct. */
struct WuSource {
  const WuSourceOps *ops;
  const WuSourceSink *sink;
  gpointer sink_data;
  char *name;      /* human-readable, for Sensor1.Name */
  char *address;   /* for Sensor1.Address */
};

void wu_source_free (WuSource *source);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuSource, wu_source_free)

/* Replay a trace. SPEED 1 is real time, N is N times faster, 0 is virtual time (as fast as
 * possible, with the trace's clock driving every timer). The whole trace is validated here:
 * a malformed line fails with "FILE:LINE: reason". When the trace ends, time stops. */
WuSource *wu_replay_source_new (const char *path, double speed, const WuSourceSink *sink,
                                gpointer sink_data, GError **error);

G_END_DECLS
