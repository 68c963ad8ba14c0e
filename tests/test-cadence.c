/* Table-driven tests for the cadence estimator (after iio-sensor-proxy's test-orientation):
 * each case is a script of inputs (pulses, crank frames) and expectations at given times.
 * The reed switch's line cases go through the engine's decoding (motion.c) as gpio.edge
 * events, with [Gpio] Edge= and PulsesPerRevolution=. */
#include "wu-cadence.h"
#include "motion.h"

#include <math.h>

#define SEC(s) ((gint64) llround ((s) * G_USEC_PER_SEC))
#define MAX_STEPS 24

typedef enum {
  END,
  PULSE,        /* a pulse at t; want: accepted? */
  CRANK,        /* a crank frame received at t (revs, ticks); want: a new measurement? */
  EXPECT,       /* wu_cadence_get(t) == rpm (within tolerance) */
  NEXT_CHANGE,  /* wu_cadence_next_change(t) == at (s; < 0: G_MAXINT64) */
  PERIOD_START, /* wu_cadence_period_start() gives at (s, within 1 µs; < 0: no period) */
} StepKind;

typedef struct {
  StepKind kind;
  double t;
  gboolean want;       /* PULSE, CRANK */
  guint16 revs, ticks; /* CRANK */
  double rpm;          /* EXPECT */
  double at;           /* NEXT_CHANGE, PERIOD_START */
} Step;

typedef struct {
  const char *name;
  guint pulses_per_revolution;   /* 0: default */
  Step steps[MAX_STEPS];
} CadenceCase;

#define P(time, ok) { .kind = PULSE, .t = (time), .want = (ok) }
#define C(time, r, tk, ok) { .kind = CRANK, .t = (time), .want = (ok), .revs = (r), .ticks = (tk) }
#define E(time, value) { .kind = EXPECT, .t = (time), .rpm = (value) }
#define N(time, when) { .kind = NEXT_CHANGE, .t = (time), .at = (when) }
#define PS(when) { .kind = PERIOD_START, .at = (when) }

static const CadenceCase cases[] = {
  { "nothing-yet-is-unknown", 0, { E (0, -1), N (0, -1) } },
  { "one-pulse-is-0", 0, { P (0, TRUE), E (0.5, 0), N (0.5, -1) } },
  { "steady-60", 0, { P (0, TRUE), P (1, TRUE), P (2, TRUE), E (2, 60), E (2.9, 60) } },
  { "bounce-within-debounce", 0,
    { P (0, TRUE), P (1, TRUE), P (1.001, FALSE), P (1.003, FALSE), P (1.0049, FALSE),
      P (2, TRUE), E (2, 60) } },
  /* 0.2 s would be 300 rpm: above the 220 rpm a rider can do, so bounce. */
  { "faster-than-220-rpm", 0,
    { P (0, TRUE), P (1, TRUE), P (1.2, FALSE), P (1.27, FALSE), P (2, TRUE), E (2, 60) } },
  { "220-rpm-is-real", 0, { P (0, TRUE), P (0.273, TRUE), E (0.273, 60 / 0.273) } },
  /* The 220 rpm period is 0.27272727 s: a microsecond shorter would read 220.0002 rpm. */
  { "a-microsecond-above-220-rpm-is-bounce", 0,
    { P (0, TRUE), P (0.272727, FALSE), P (1, TRUE), E (1, 60) } },
  { "the-first-whole-microsecond-at-220-rpm-is-real", 0,
    { P (0, TRUE), P (0.272728, TRUE), E (0.272728, 60 / 0.272728) } },
  { "three-magnets-a-microsecond-above-220-rpm-is-bounce", 3,
    { P (0, TRUE), P (0.090909, FALSE), P (1, TRUE), P (1.5, TRUE), E (1.5, 40) } },
  { "three-magnets-the-first-whole-microsecond-at-220-rpm-is-real", 3,
    { P (0, TRUE), P (0.09091, TRUE), E (0.09091, 60 / 0.27273) } },
  /* A step: the old pace is dropped from the mean after one revolution. */
  { "step-60-to-90", 0,
    { P (0, TRUE), P (1, TRUE), P (2, TRUE), P (3, TRUE), P (3 + 2 / 3.0, TRUE),
      E (3 + 2 / 3.0, 90), P (4 + 1 / 3.0, TRUE), E (4 + 1 / 3.0, 90) } },
  /* Light smoothing: a period within 10 % joins the mean. */
  { "jitter-smoothed", 0,
    { P (0, TRUE), P (1.02, TRUE), P (1.98, TRUE), P (3.01, TRUE), P (4, TRUE),
      E (4, 60) } },
  /* Overdue once the read grace (30 ms) has passed too: no more than one revolution in the
   * time waited, less the grace; 0 at StaleAfter (3 s). */
  { "stop-falls-to-0", 0,
    { P (0, TRUE), P (1, TRUE), P (2, TRUE), N (2, 3.03), E (3, 60), E (3.03, 60),
      E (3.5, 60 / 1.47), N (3.5, 3.75), E (4.5, 60 / 2.47), E (4.99, 60 / 2.96), N (4.99, 5),
      E (5, 0), N (5, -1) } },
  /* A pulse the main loop reads 25 ms late (kernel-stamped on time) shows no dip. */
  { "late-read-is-not-a-dip", 0,
    { P (0, TRUE), P (0.8, TRUE), P (1.6, TRUE), E (2.4, 75), E (2.425, 75), N (2.425, 2.43),
      P (2.4, TRUE), E (2.425, 75), E (3.2, 75) } },
  /* After a rest the gap is not a period: the restart needs two pulses. */
  { "restart-after-stale", 0,
    { P (0, TRUE), P (1, TRUE), P (10, TRUE), E (10, 0), P (10.8, TRUE), E (10.8, 75) } },
  { "two-magnets", 2, { P (0, TRUE), P (0.5, TRUE), P (1, TRUE), E (1, 60), E (1.5, 60),
                        E (1.75, 60 / 1.44) } },
  { "two-magnets-bounce", 2,
    { P (0, TRUE), P (0.5, TRUE), P (0.6, FALSE), P (1, TRUE), E (1, 60) } },

  /* Crank counters (CSC/CPS): 1024 ticks a second. */
  { "crank-first-frame-anchors", 0, { C (0, 100, 5000, FALSE), E (0, -1) } },
  { "crank-steady-60", 0,
    { C (0, 100, 0, FALSE), C (1, 101, 1024, TRUE), E (1, 0), C (2, 102, 2048, TRUE),
      E (2, 60), C (3, 103, 3072, TRUE), E (3, 60) } },
  { "crank-repeat-is-not-new", 0,
    { C (0, 100, 0, FALSE), C (1, 101, 1024, TRUE), C (2, 102, 2048, TRUE),
      C (2.5, 102, 2048, FALSE), C (3, 102, 2048, FALSE), E (3, 60) } },
  { "crank-two-revolutions-a-frame", 0,
    { C (0, 10, 0, FALSE), C (1, 11, 1024, TRUE), C (2, 13, 2048, TRUE), E (2, 120) } },
  { "crank-counter-wraps", 0,
    { C (0, 65534, 0, FALSE), C (1, 65535, 1024, TRUE), C (2, 0, 2048, TRUE), E (2, 60),
      C (3, 1, 3072, TRUE), E (3, 60) } },
  { "crank-event-time-wraps", 0,
    { C (0, 7, 63488, FALSE), C (1, 8, 64512, TRUE), C (2, 9, 0, TRUE), E (2, 60),
      C (3, 10, 1024, TRUE), E (3, 60) } },
  { "crank-both-wrap", 0,
    { C (0, 65535, 64000, FALSE), C (1, 0, 65024, TRUE), C (2, 1, 512, TRUE), E (2, 60) } },
  /* 50 revolutions in a second is no rider: dropped, counter re-anchored. */
  { "crank-implausible-jump", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 1024, TRUE), C (2, 3, 2048, TRUE),
      C (3, 53, 3072, FALSE), C (4, 54, 4096, TRUE), E (4, 60) } },
  { "crank-revolutions-without-time", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 1024, TRUE), C (2, 3, 1024, FALSE) } },
  /* A rest longer than the 64 s event-time wrap cannot be measured: a restart. */
  { "crank-rest-beyond-wrap", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 1024, TRUE), C (2, 3, 2048, TRUE), C (70, 4, 3072, TRUE),
      E (70, 0), C (71, 5, 4096, TRUE), E (71, 60) } },
  /* A rest of 64.05 s: the event time wrapped to a span of 0.05 s, which looks like an
   * implausible 1200 rpm; the rest is asked about first: a restart, not a rejected frame. */
  { "crank-rest-of-64-s-is-a-restart-not-a-jump", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 1024, TRUE), C (2, 3, 2048, TRUE), C (3, 4, 3072, TRUE),
      C (67.55, 5, 3123, TRUE), E (67.55, 0), C (68.55, 6, 4147, TRUE), E (68.55, 60),
      C (69.55, 7, 5171, TRUE), E (69.55, 60) } },
  /* The crank event time stepped back 12 ticks: it wraps to a span of 64 s for a rider at
   * 60 rpm (0.94 rpm was shown). Rejected, re-anchored; the next frame measures again. */
  { "crank-event-time-stepping-back-is-not-a-span", 0,
    { C (0, 100, 0, FALSE), C (1, 101, 1024, TRUE), C (2, 102, 2048, TRUE),
      C (3, 103, 3072, TRUE), E (3, 60), C (4, 104, 3060, FALSE), E (4, 60),
      C (5, 105, 4096, TRUE), E (5, 60.0 * 1024 * 3 / (1036 + 2048)) } },
  /* 20 s of event time in 1 s of arrivals: no rider at 3 rpm. */
  { "crank-event-time-jumping-ahead-is-not-a-span", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 1024, TRUE), C (2, 3, 2048, TRUE),
      C (3, 4, 2048 + 20 * 1024, FALSE), E (3, 60), C (4, 5, 3072 + 20 * 1024, TRUE),
      E (4, 60) } },
  /* The anchor's event nearly a report old when it came: a possible span (1.94 s). */
  { "crank-event-a-report-old-is-possible", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 51, TRUE), C (2, 3, 2040, TRUE),
      E (2, 60.0 * 1024 / 1989) } },
  /* The sensor reset mid-ride (a battery change): revolutions and event time back to 0,
   * the rider steady at 60 rpm. The frame after the reset gives no period (measured from
   * the reset's event time 0 it read 40.96 rpm); the pace from before stands, and the next
   * frame measures again. */
  { "crank-sensor-reset-is-not-a-span", 0,
    { C (0, 5000, 40000, FALSE), C (1, 5001, 41024, TRUE), C (2, 5002, 42048, TRUE),
      C (3, 5003, 43072, TRUE), C (4, 0, 0, FALSE), C (5, 1, 1500, TRUE), E (5, 60),
      C (6, 2, 2524, TRUE), E (6, 60) } },
  /* The revolution each period was measured from (the controller counts a new run from
   * it): none for the first pulse, nor the first after a rest; a bounce changes nothing. */
  { "period-start-of-pulses", 0,
    { P (0, TRUE), PS (-1), P (1, TRUE), PS (0), P (2, TRUE), PS (1), P (2.001, FALSE), PS (1),
      P (6, TRUE), PS (-1), P (7, TRUE), PS (6) } },
  /* Crank frames: none for the anchor nor the first new revolution after it, then the
   * span of event time the cadence was measured over, back from the frame's arrival
   * (counting runs on arrival times: 2.5 - 0.75 s), no earlier than the frame that reported
   * the previous revolution; a repeat changes nothing; none for the first revolution after
   * a rest, then it (a span of 1 s back from 9 s: that frame, 8 s). */
  { "period-start-of-crank-revolutions", 0,
    { C (0.5, 1, 0, FALSE), PS (-1), C (1.5, 3, 1536, TRUE), PS (-1), C (2.5, 4, 2304, TRUE),
      PS (1.75), C (3.5, 5, 3072, TRUE), PS (2.75), C (4.5, 5, 3072, FALSE),
      PS (2.75), C (8, 6, 8192, TRUE), PS (-1), C (9, 7, 9216, TRUE), PS (8) } },
  /* A bout's two revolutions 0.75 s apart, the first just before a frame and the second
   * just after it, reported at the next frame 2 s later: the period starts 0.75 s back, not
   * at the frame before (a whole report interval counted for one short revolution). */
  { "period-start-is-the-span-not-the-frame-gap", 0,
    { C (0, 1, 0, FALSE), C (2, 1, 0, FALSE), C (4, 3, 3 * 1024 + 768, TRUE), PS (-1),
      C (6, 3, 3 * 1024 + 768, FALSE), C (8, 5, 7 * 1024 + 768, TRUE), PS (-1),
      C (10, 6, 8 * 1024 + 512, TRUE), PS (9.25) } },
  /* After a sensor reset the pace from before stands, but the first revolution measured no
   * period: nothing to count a run from. */
  { "period-start-none-after-a-sensor-reset", 0,
    { C (0, 5000, 40000, FALSE), C (1, 5001, 41024, TRUE), C (2, 5002, 42048, TRUE), PS (1),
      C (3, 0, 0, FALSE), C (4, 1, 1024, TRUE), E (4, 60), PS (-1), C (5, 2, 2048, TRUE),
      PS (4) } },
  /* Frames come once a second: news of a revolution can be a report late. */
  { "crank-overdue-allows-report-interval", 0,
    { C (0, 1, 0, FALSE), C (1, 2, 1024, TRUE), C (2, 3, 2048, TRUE), C (3, 3, 2048, FALSE),
      E (3.9, 60), E (4.5, 40) } },
  /* The same, every frame arriving twice 20 ms apart (a link retransmission): the copies
   * are not the report rate. Counted, they made the interval ~0.36 s, and 38.9 rpm showed
   * at 3.9 s: below MinCadence between two frames of a rider at 60. */
  { "crank-duplicate-frames-are-not-the-report-rate", 0,
    { C (0, 1, 0, FALSE), C (0.02, 1, 0, FALSE), C (1, 2, 1024, TRUE),
      C (1.02, 2, 1024, FALSE), C (2, 3, 2048, TRUE), C (2.02, 3, 2048, FALSE),
      C (3, 3, 2048, FALSE), C (3.02, 3, 2048, FALSE), E (3.9, 60), E (4.5, 40) } },
};

static void
check_step (WuCadence *cadence, const Step *step, guint index)
{
  gint64 t = SEC (step->t);

  switch (step->kind)
    {
    case PULSE:
      if (wu_cadence_pulse (cadence, t) != step->want)
        g_error ("step %u: pulse at %.4f s: want %s", index, step->t,
                 step->want ? "accepted" : "rejected");
      break;
    case CRANK:
      if (wu_cadence_crank (cadence, t, step->revs, step->ticks) != step->want)
        g_error ("step %u: frame at %.3f s (%u, %u): want %s", index, step->t, step->revs,
                 step->ticks, step->want ? "a new measurement" : "none");
      break;
    case EXPECT:
      g_assert_cmpfloat_with_epsilon (wu_cadence_get (cadence, t), step->rpm, 0.05);
      break;
    case NEXT_CHANGE:
      if (step->at < 0)
        g_assert_cmpint (wu_cadence_next_change (cadence, t), ==, G_MAXINT64);
      else
        g_assert_cmpint (wu_cadence_next_change (cadence, t), ==, SEC (step->at));
      break;
    case PERIOD_START:
      {
        gint64 start = 0;
        gboolean measured = wu_cadence_period_start (cadence, &start);

        if (step->at < 0 && measured)
          g_error ("step %u: want no period start, got %.6f s", index, start / 1e6);
        if (step->at >= 0 && (!measured || ABS (start - SEC (step->at)) > 1))
          g_error ("step %u: want a period start at %.6f s, got %s%.6f", index, step->at,
                   measured ? "" : "none, ", start / 1e6);
      }
      break;
    case END:
    default:
      g_assert_not_reached ();
    }
}

static void
test_case (gconstpointer data)
{
  const CadenceCase *c = data;
  WuCadenceConfig config;
  WuCadence cadence;

  wu_cadence_config_init (&config);
  if (c->pulses_per_revolution)
    config.pulses_per_revolution = c->pulses_per_revolution;
  wu_cadence_init (&cadence, &config);
  for (guint i = 0; i < MAX_STEPS && c->steps[i].kind != END; i++)
    check_step (&cadence, &c->steps[i], i);
}

/* ---- generated pulse trains: jitter and bounce at many cadences ------------------------ */

typedef struct {
  double rpm;
  double jitter;        /* sigma as a fraction of the period */
  guint bounce_edges;   /* extra edges within 3 ms after each closure */
  double max_error;     /* rpm, after 5 revolutions */
} TrainCase;

static const TrainCase trains[] = {
  { 40, 0.0, 0, 0.01 }, { 90, 0.0, 0, 0.01 }, { 150, 0.0, 0, 0.01 },
  { 40, 0.01, 6, 0.8 }, { 60, 0.01, 2, 1.0 }, { 90, 0.01, 4, 1.5 }, { 120, 0.01, 6, 2.0 },
  { 150, 0.01, 6, 2.5 }, { 200, 0.0, 6, 0.01 },
};

static double
gauss (GRand *rand)
{
  double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);
  return sqrt (-2 * log (u1)) * cos (2 * G_PI * u2);
}

static void
test_train (gconstpointer data)
{
  const TrainCase *train = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) train->rpm);
  double period = 60.0 * G_USEC_PER_SEC / train->rpm;
  WuCadenceConfig config;
  WuCadence cadence;

  wu_cadence_config_init (&config);
  wu_cadence_init (&cadence, &config);
  for (guint k = 0; k < 200; k++)
    {
      gint64 t = (gint64) (k * period + gauss (rand) * train->jitter * period);

      g_assert_true (wu_cadence_pulse (&cadence, t));
      for (guint b = 0; b < train->bounce_edges; b++)
        g_assert_false (wu_cadence_pulse (&cadence, t + g_rand_int_range (rand, 100, 3000)));
      if (k >= 5)
        g_assert_cmpfloat (fabs (wu_cadence_get (&cadence, t) - train->rpm), <=,
                           train->max_error);
    }
  g_assert_cmpuint (cadence.rejected, ==, 200 * train->bounce_edges);
}

/* ---- a reed switch's line edge by edge: real bounce, chatter ---------------------------- */

/* A stretch of the line's life: pedalling (one closure a magnet pass, the switch closed for
 * closed_ms, with extra level changes 0.2 ms apart as it closes and as it opens), or a
 * line that chatters (a falling edge every chatter_ms), or nothing. Pulled up: a closure is
 * a falling edge. Every edge is decoded as a gpio.edge event: with Edge=falling only the
 * falling ones are pulses (live, the kernel reports only those). */
typedef struct {
  double seconds;
  double rpm;              /* > 0: pedalling */
  double closed_ms;
  guint close_bounces;     /* extra level changes as it closes (even: it ends closed) */
  guint open_bounces;      /* ... and as it opens (even: it ends open) */
  double chatter_ms;       /* > 0: chattering */
} LineStretch;

typedef struct {
  const char *name;
  WuGpioEdge edge;          /* [Gpio] Edge= (0: falling) */
  guint magnets;            /* PulsesPerRevolution= (0: 1) */
  LineStretch stretches[3];
  double want_rpm;          /* at the end */
  double max_rpm;           /* no reading above this after any edge in the last stretch, */
  double settle_s;          /* ... from this long after its start */
  guint want_reports;       /* noise reports over the whole run */
} LineCase;

#define RIDE(s, r, closed, cb, ob) { .seconds = (s), .rpm = (r), .closed_ms = (closed), \
                                     .close_bounces = (cb), .open_bounces = (ob) }
#define CHATTER(s, every) { .seconds = (s), .chatter_ms = (every) }

static const LineCase lines[] = {
  /* faster than Debounce= (5 ms): never quiet, every edge is bounce: 0 rpm throughout (the
   * old estimator let one through every 273 ms: ~218 rpm) */
  { "chatter-1ms", 0, 0, { CHATTER (10, 1) }, 0, 0, 0, 0 },
  { "chatter-4ms", 0, 0, { CHATTER (10, 4) }, 0, 0, 0, 0 },
  /* quiet long enough between edges, but dozens rejected between two let through: noisy,
   * 0 rpm throughout, reported at once, and again a minute later */
  { "chatter-8ms", 0, 0, { CHATTER (10, 8) }, 0, 0, 0, 1 },
  { "chatter-12ms", 0, 0, { CHATTER (10, 12) }, 0, 0, 0, 1 },
  { "chatter-8ms-for-70s", 0, 0, { CHATTER (70, 8) }, 0, 0, 0, 2 },
  /* a real switch: a few bounces of < 1 ms as it closes and as it opens */
  { "switch-40-rpm", 0, 0, { RIDE (20, 40, 40, 4, 4) }, 40, 40.05, 0, 0 },
  { "switch-80-rpm", 0, 0, { RIDE (20, 80, 30, 4, 2) }, 80, 80.05, 0, 0 },
  { "switch-120-rpm", 0, 0, { RIDE (20, 120, 20, 2, 4) }, 120, 120.05, 0, 0 },
  { "switch-120-rpm-more-bounce", 0, 0, { RIDE (20, 120, 20, 6, 6) }, 120, 120.05, 0, 0 },
  /* pedalling, then the wire works loose: falling from 80 to 0 (StaleAfter), and 0 on */
  { "ride-then-chatter-1ms", 0, 0, { RIDE (10, 80, 30, 4, 4), CHATTER (10, 1) }, 0, 80.05, 0, 0 },
  /* the period the chatter began in was partly clean (fewer than the threshold rejected
   * in it): it may show once; from the next one on, 0 */
  { "ride-then-chatter-8ms", 0, 0, { RIDE (10, 80, 30, 4, 4), CHATTER (10, 8) }, 0, 0, 0.6, 1 },
  /* ... and fixed: the right cadence again */
  { "chatter-then-ride", 0, 0, { CHATTER (10, 4), RIDE (10, 90, 30, 4, 4) }, 90, 90.05, 0, 0 },

  /* Edge=both: closings and openings are two pulse trains; one magnet pass is one pulse of
   * each, however long the switch stays closed (closing-to-opening was a pulse too: with
   * 2 magnets closed 150 ms of a 375 ms pass at 80 rpm, 50 and 200 rpm alternated) */
  { "both-1-magnet-80-rpm", WU_GPIO_EDGE_BOTH, 1, { RIDE (20, 80, 30, 4, 4) }, 80, 80.05, 0, 0 },
  { "both-2-magnets-long-closure-80-rpm", WU_GPIO_EDGE_BOTH, 2, { RIDE (20, 80, 150, 4, 4) },
    80, 80.05, 0, 0 },
  { "both-4-magnets-long-closure-60-rpm", WU_GPIO_EDGE_BOTH, 4, { RIDE (20, 60, 120, 2, 6) },
    60, 60.05, 0, 0 },
  { "both-2-magnets-short-closure-120-rpm", WU_GPIO_EDGE_BOTH, 2, { RIDE (20, 120, 10, 4, 4) },
    120, 120.05, 0, 0 },
  /* One direction only: right as long as the other end of the closure does not bounce
   * (its bounce gives edges of the counted direction that the estimator cannot tell from a
   * closure once the closure lasts more than a pulse period at 220 rpm: Edge=both can) */
  { "falling-2-magnets-long-closure-80-rpm", WU_GPIO_EDGE_FALLING, 2,
    { RIDE (20, 80, 150, 4, 0) }, 80, 80.05, 0, 0 },
  { "rising-2-magnets-long-closure-80-rpm", WU_GPIO_EDGE_RISING, 2,
    { RIDE (20, 80, 150, 0, 4) }, 80, 80.05, 0, 0 },
  { "both-chatter-1ms", WU_GPIO_EDGE_BOTH, 1, { CHATTER (10, 1) }, 0, 0, 0, 0 },
  /* every edge counts: a falling one every 8 ms is an edge every 4 ms, never quiet */
  { "both-chatter-8ms", WU_GPIO_EDGE_BOTH, 1, { CHATTER (10, 8) }, 0, 0, 0, 0 },
  { "both-chatter-16ms", WU_GPIO_EDGE_BOTH, 1, { CHATTER (10, 16) }, 0, 0, 0, 1 },
  { "both-ride-stop-ride", WU_GPIO_EDGE_BOTH, 2,
    { RIDE (10, 80, 150, 4, 4), RIDE (5, 0, 0, 0, 0), RIDE (10, 70, 150, 4, 4) }, 70, 70.05, 0, 0 },
};

/* The longest Debounce= the configuration allows, with the opening's bounce a counted edge
 * only the open time before the next closing (shorter than Debounce=): each closing is still
 * a pulse (a quiet rule over the whole Debounce= read 0 rpm here). */
typedef struct {
  LineCase line;
  double debounce_ms;
} DebouncedLineCase;

static const DebouncedLineCase debounced_lines[] = {
  { { "debounce-34ms-8-magnets-150-rpm", 0, 8, { RIDE (20, 150, 25, 2, 3) }, 150, 150.05, 0, 0 },
    34 },
  { { "debounce-100ms-2-magnets-200-rpm", 0, 2, { RIDE (20, 200, 60, 2, 3) }, 200, 200.05, 0, 0 },
    100 },
};

typedef struct {
  gint64 time_us;
  gboolean rising;
  guint stretch;
} LineEdge;

static gint
compare_line_edges (gconstpointer a, gconstpointer b)
{
  const LineEdge *x = a, *y = b;
  return (x->time_us > y->time_us) - (x->time_us < y->time_us);
}

/* The line's edges, both directions, in time order. */
static GArray *
line_edges (const LineCase *c)
{
  GArray *edges = g_array_new (FALSE, FALSE, sizeof (LineEdge));
  double start = 0;

  for (guint i = 0; i < G_N_ELEMENTS (c->stretches) && c->stretches[i].seconds > 0; i++)
    {
      const LineStretch *st = &c->stretches[i];

      if (st->rpm > 0)
        for (double t = start + 0.1; t < start + st->seconds;
             t += 60.0 / st->rpm / MAX (c->magnets, 1u))
          {
            double open = t + st->closed_ms / 1000;
            LineEdge e = { SEC (t), FALSE, i };

            g_array_append_val (edges, e);
            for (guint b = 1; b <= st->close_bounces; b++)
              {
                LineEdge bounce = { SEC (t + b * 0.0002), b % 2 == 1, i };
                g_array_append_val (edges, bounce);
              }
            e = (LineEdge) { SEC (open), TRUE, i };
            g_array_append_val (edges, e);
            for (guint b = 1; b <= st->open_bounces; b++)
              {
                LineEdge bounce = { SEC (open + b * 0.0002), b % 2 == 0, i };
                g_array_append_val (edges, bounce);
              }
          }
      else if (st->chatter_ms > 0)
        for (double t = start; t < start + st->seconds; t += st->chatter_ms / 1000)
          {
            LineEdge fall = { SEC (t), FALSE, i }, rise = { SEC (t + st->chatter_ms / 2000), TRUE, i };
            g_array_append_val (edges, fall);
            g_array_append_val (edges, rise);
          }
      start += st->seconds;
    }
  g_array_sort (edges, compare_line_edges);
  return edges;
}

static guint
last_stretch (const LineCase *c)
{
  guint n = 0;

  while (n < G_N_ELEMENTS (c->stretches) && c->stretches[n].seconds > 0)
    n++;
  return n - 1;
}

static void
run_line (const LineCase *c, double debounce_ms)
{
  g_autoptr (GArray) edges = line_edges (c);
  guint last = last_stretch (c), reports = 0;
  double highest = 0, last_start = 0;
  gint64 end = 0;
  WuMotionConfig config = { .gpio_edge = c->edge };
  WuMotion motion;
  const WuCadence *cadence = &motion.cadence;

  for (guint i = 0; i < last; i++)
    last_start += c->stretches[i].seconds;
  wu_cadence_config_init (&config.cadence);
  config.cadence.pulses_per_revolution = MAX (c->magnets, 1u);
  if (debounce_ms > 0)
    config.cadence.debounce_us = (gint64) (debounce_ms * 1000);
  config.stale_after_us = config.cadence.stale_after_us;
  wu_motion_init (&motion, &config);
  for (guint i = 0; i < edges->len; i++)
    {
      const LineEdge *e = &g_array_index (edges, LineEdge, i);
      WuRawEvent event = { .time_us = e->time_us, .kind = WU_EVENT_GPIO_EDGE, .up = e->rising };
      g_autoptr (GError) error = NULL;
      WuSample sample;

      end = e->time_us;
      g_assert_true (wu_motion_decode (&motion, &config, &event, &sample, &error));
      g_assert_no_error (error);
      reports += wu_cadence_take_noise_report (&motion.cadence, e->time_us) > 0;
      if (e->stretch == last && e->time_us >= SEC (last_start + c->settle_s))
        highest = MAX (highest, wu_cadence_get (cadence, e->time_us));
    }
  g_test_message ("%u edges, %" G_GUINT64_FORMAT " accepted, %" G_GUINT64_FORMAT " rejected, "
                  "%" G_GUINT64_FORMAT " noisy periods; highest %.2f rpm, at the end %.2f rpm",
                  edges->len, cadence->accepted, cadence->rejected, cadence->noisy_periods, highest,
                  wu_cadence_get (cadence, end));
  g_assert_cmpfloat_with_epsilon (wu_cadence_get (cadence, end), c->want_rpm, 0.05);
  g_assert_cmpfloat (highest, <=, c->max_rpm + 0.01);
  g_assert_cmpuint (reports, ==, c->want_reports);
}

static void
test_line (gconstpointer data)
{
  run_line (data, 0);
}

static void
test_debounced_line (gconstpointer data)
{
  const DebouncedLineCase *c = data;

  run_line (&c->line, c->debounce_ms);
}

/* ---- wheel speed ----------------------------------------------------------------------- */

#define MAX_WHEEL_STEPS 32

typedef enum {
  WHEEL_END,
  WHEEL_FRAME,         /* a frame received at t (revs, ticks); want: a new measurement */
  WHEEL_NEXT,          /* wu_wheel_next_change () == at (s; < 0: G_MAXINT64) */
  WHEEL_EXPIRE,        /* wu_wheel_expire (t) == want; then the speed shown == kmh */
} WheelStepKind;

typedef struct {
  WheelStepKind kind;
  double t;
  guint32 revs;
  guint16 ticks;
  gboolean want;       /* FRAME: a new measurement; EXPIRE: gone stale */
  double kmh;          /* FRAME: its speed, when wanted; EXPIRE: the speed shown */
  double at;           /* NEXT */
} WheelStep;

typedef struct {
  const char *name;
  guint ticks_per_second;
  double circumference_mm;
  WheelStep steps[MAX_WHEEL_STEPS];
} WheelCase;

#define F(time, r, tk) { .kind = WHEEL_FRAME, .t = (time), .revs = (r), .ticks = (tk) }
#define S(time, r, tk, v) { .kind = WHEEL_FRAME, .t = (time), .revs = (r), .ticks = (tk), \
                            .want = TRUE, .kmh = (v) }
#define WN(when) { .kind = WHEEL_NEXT, .at = (when) }
#define WX(time, gone, shown) { .kind = WHEEL_EXPIRE, .t = (time), .want = (gone), \
                                .kmh = (shown) }
/* 3 revolutions of 2.105 m a second */
#define KMH_3_REVS (3 * 2.105 * 3.6)

static const WheelCase wheel_cases[] = {
  /* The first movement after the anchor: its event time may be old, not measured. Then
   * 2 revolutions of 2.105 m in 1 s: 15.156 km/h; a repeat is not a new measurement. */
  { "csc-steady", 1024, 2105,
    { F (0, 1000, 0), F (1, 1002, 2048), S (2, 1004, 3072, 2 * 2.105 * 3.6),
      F (2.5, 1004, 3072) } },
  /* CPS: 2048 ticks a second; both counters wrap: 3 revolutions of 2 m in 2048 ticks. Then
   * 1000 revolutions in a second: not a bike; dropped. */
  { "cps-both-wrap", 2048, 2000,
    { F (0, G_MAXUINT32 - 1, 63000), F (1, G_MAXUINT32, 64000), S (2, 2, 512, 3 * 2.0 * 3.6),
      F (3, 1002, 2560) } },
  /* A 20 s stop (the sensor repeating its last frame), then 3 revolutions a second again:
   * the first frame is a restart (it averaged over the stop: 1.14 km/h), the next one
   * measures. */
  { "a-stop-of-stale-after-or-more-is-a-restart", 1024, 2105,
    { F (0, 1000, 0), F (1, 1003, 1024), S (2, 1006, 2048, KMH_3_REVS),
      S (3, 1009, 3072, KMH_3_REVS), F (4, 1009, 3072), F (10, 1009, 3072),
      F (22, 1009, 3072), F (23, 1012, 3072 + 20 * 1024),
      S (24, 1015, 3072 + 21 * 1024, KMH_3_REVS) } },
  /* Shorter than StaleAfter (3 s): a slow wheel is measured. */
  { "a-gap-under-stale-after-is-measured", 1024, 2105,
    { F (0, 1000, 0), F (1, 1003, 1024), S (2, 1006, 2048, KMH_3_REVS), F (3, 1006, 2048),
      F (4, 1006, 2048), S (4.5, 1007, 2048 + 2 * 1024 + 512, 2.105 * 3.6 / 2.5) } },
  /* The event time stepped back 12 ticks: 64 s of span in 1 s of arrivals. Re-anchored. */
  { "event-time-stepping-back-is-not-a-span", 1024, 2105,
    { F (0, 1000, 0), F (1, 1003, 1024), S (2, 1006, 2048, KMH_3_REVS),
      F (3, 1009, 2036), S (4, 1012, 3060, KMH_3_REVS) } },
  /* The event time jumped 20 s ahead in 1 s of arrivals. */
  { "event-time-jumping-ahead-is-not-a-span", 1024, 2105,
    { F (0, 1000, 0), F (1, 1003, 1024), S (2, 1006, 2048, KMH_3_REVS),
      F (3, 1009, 2048 + 20 * 1024), S (4, 1012, 2048 + 21 * 1024, KMH_3_REVS) } },
  /* The speed shown falls to 0 StaleAfter (3 s) after the last new revolution, repeats or
   * not; once. Nothing before a speed was measured. */
  { "speed-shown-goes-stale", 1024, 2105,
    { F (0, 1000, 0), WN (-1), F (1, 1003, 1024), WN (-1), S (2, 1006, 2048, KMH_3_REVS),
      WN (5), S (3, 1009, 3072, KMH_3_REVS), WN (6), F (4, 1009, 3072), F (5, 1009, 3072),
      WN (6), WX (5.999, FALSE, KMH_3_REVS), WX (6, TRUE, 0), WN (-1), WX (7, FALSE, 0),
      F (7, 1009, 3072), WN (-1),
      /* moving again: a restart, then a speed that goes stale in its turn */
      F (8, 1012, 3072 + 5 * 1024), WN (-1), S (9, 1015, 3072 + 6 * 1024, KMH_3_REVS),
      WN (12), WX (12.5, TRUE, 0) } },
  /* A frame that re-anchors (an implausible jump) is news of the wheel too. */
  { "a-re-anchor-moves-the-stale-instant", 1024, 2105,
    { F (0, 1000, 0), F (1, 1003, 1024), S (2, 1006, 2048, KMH_3_REVS), WN (5),
      F (3, 1009, 2036), WN (6) } },
  /* An event nearly a report old when first reported is still a possible span. */
  { "an-event-a-report-old-is-possible", 1024, 2105,
    { F (0, 1000, 0), F (1, 1003, 51), S (2, 1006, 2040, 3 * 2.105 * 3.6 * 1024 / 1989) } },
};

static void
test_wheel (gconstpointer data)
{
  const WheelCase *c = data;
  WuWheel wheel;

  wu_wheel_init (&wheel, 3 * G_USEC_PER_SEC);
  for (guint i = 0; i < MAX_WHEEL_STEPS && c->steps[i].kind != WHEEL_END; i++)
    {
      const WheelStep *step = &c->steps[i];
      double kmh = -1;
      gboolean got;

      switch (step->kind)
        {
        case WHEEL_FRAME:
          got = wu_wheel_update (&wheel, SEC (step->t), step->revs, step->ticks,
                                 c->ticks_per_second, c->circumference_mm, &kmh);
          if (got != step->want)
            g_error ("step %u: frame at %.3f s (%u, %u): want %s, got %s (%.2f km/h)", i,
                     step->t, step->revs, step->ticks,
                     step->want ? "a new measurement" : "none", got ? "one" : "none", kmh);
          if (step->want)
            g_assert_cmpfloat_with_epsilon (kmh, step->kmh, 1e-9);
          break;
        case WHEEL_NEXT:
          if (step->at < 0)
            g_assert_cmpint (wu_wheel_next_change (&wheel), ==, G_MAXINT64);
          else
            g_assert_cmpint (wu_wheel_next_change (&wheel), ==, SEC (step->at));
          break;
        case WHEEL_EXPIRE:
          if (wu_wheel_expire (&wheel, SEC (step->t)) != step->want)
            g_error ("step %u: at %.3f s the speed %s", i, step->t,
                     step->want ? "did not go stale" : "went stale");
          g_assert_cmpfloat_with_epsilon (wheel.speed_kmh, step->kmh, 1e-9);
          break;
        case WHEEL_END:
        default:
          g_assert_not_reached ();
        }
    }
}

/* A crank sensor reporting slowly (every 2 s, 50 ms after its tick) at a steady cadence
 * just above MinCadence: at every frame, and between frames, the cadence stays at or above
 * MinCadence (40): the rider's time is counted all along. (A revolution dated by its event
 * time, up to a report interval before its frame, was once compared with StaleAfter as if
 * it were the arrival: at 42 rpm and 0.5 Hz frames carrying new revolutions read 0.) */
typedef struct {
  double rpm, frame_hz;
} SlowSensor;

static const SlowSensor slow_sensors[] = {
  { 41, 0.5 }, { 42, 0.5 }, { 44, 0.5 }, { 50, 0.5 }, { 42, 1 }, { 80, 0.5 },
};

static void
test_slow_sensor (gconstpointer data)
{
  const SlowSensor *sensor = data;
  WuCadenceConfig config;
  WuCadence cadence;
  double period_s = 60.0 / sensor->rpm, frame_s = 1.0 / sensor->frame_hz;

  wu_cadence_config_init (&config);
  wu_cadence_init (&cadence, &config);
  for (guint k = 1; k * frame_s <= 120; k++)
    {
      double tick_s = k * frame_s - 0.05;
      guint revs = (guint) floor (tick_s / period_s);
      double last_rev_s = revs * period_s;
      gint64 now_us = (gint64) (k * frame_s * G_USEC_PER_SEC);

      wu_cadence_crank (&cadence, now_us, (guint16) revs,
                        (guint16) ((gint64) (last_rev_s * 1024) & 0xffff));
      if (k * frame_s < 10)
        continue;   /* settled */
      for (double dt = 0; dt < frame_s; dt += 0.25)
        {
          double rpm = wu_cadence_get (&cadence, now_us + (gint64) (dt * G_USEC_PER_SEC));
          if (rpm < 40)
            g_error ("%.0f rpm, %.1f Hz frames: %.2f rpm at %.2f s", sensor->rpm,
                     sensor->frame_hz, rpm, k * frame_s + dt);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cadence/script/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (trains); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cadence/train/%.0f-rpm-jitter-%.0f%%-bounce-%u",
                                               trains[i].rpm, trains[i].jitter * 100,
                                               trains[i].bounce_edges);
      g_test_add_data_func (path, &trains[i], test_train);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (slow_sensors); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cadence/slow-crank-sensor/%.0f-rpm-%.1f-hz",
                                               slow_sensors[i].rpm, slow_sensors[i].frame_hz);
      g_test_add_data_func (path, &slow_sensors[i], test_slow_sensor);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (wheel_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cadence/wheel/%s", wheel_cases[i].name);
      g_test_add_data_func (path, &wheel_cases[i], test_wheel);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cadence/line/%s", lines[i].name);
      g_test_add_data_func (path, &lines[i], test_line);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (debounced_lines); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cadence/line/%s", debounced_lines[i].line.name);
      g_test_add_data_func (path, &debounced_lines[i], test_debounced_line);
    }
  return g_test_run ();
}
