/* The one cadence estimator for every source. Pure: no I/O, no clock of its own; it is fed
 * revolution events with timestamps (µs on the caller's monotonic clock, never going back)
 * and asked for the cadence at a given time.
 *
 * Two ways in:
 *  - wu_cadence_pulse(): a switch closure (a GPIO edge, timestamped by the kernel). Bounce is
 *    rejected: a pulse closer than a cadence of `max_rpm` allows to the last accepted pulse
 *    is dropped, and so is one less than `debounce_us` after the previous edge, accepted or
 *    not (the line must have been quiet that long: a line chattering every few ms is all
 *    bounce). When more than a real switch's bounce was rejected between two accepted
 *    pulses, the line is noisy: that period is discarded (the cadence reads 0) and counted
 *    for wu_cadence_take_noise_report().
 *  - wu_cadence_edge(): an edge of either direction ([Gpio] Edge=both). Closings and openings
 *    are two pulse trains: periods are measured from an edge to the next one of the same
 *    direction, so that one magnet pass is one pulse of each, however long the switch stays
 *    closed. The bounce rules above apply within each train (the quiet time before an edge
 *    counts edges of both directions).
 *  - wu_cadence_crank(): a BLE crank counter and its last event time (CSC, CPS). Both wrap
 *    (65536 revolutions, 64 s of 1/1024 s ticks); a frame repeating the last event is not
 *    a new measurement.
 *
 * The cadence is 60 s over the mean of the latest revolution periods that agree with the
 * newest one (up to WU_CADENCE_WINDOW of them, within WU_CADENCE_WINDOW_US): steady pedalling
 * is smoothed over several revolutions, a change of pace shows after one. When the next
 * revolution is overdue the cadence falls towards 0 (it cannot be above one revolution in
 * the time since the last), and it is 0 once no revolution came for `stale_after_us`. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define WU_CADENCE_WINDOW 8
#define WU_CADENCE_WINDOW_US (6 * G_USEC_PER_SEC)
#define WU_CADENCE_MAX_RPM 220.0
/* More edges than this rejected as bounce between two accepted pulses: the line is noisy,
 * and the period between them is not believed. A reed switch bounces for well under a
 * millisecond, a few times as it closes and again as it opens (datasheets give 0.1-0.5 ms
 * of bounce; bench/cadence-accuracy and tools/gen-trace.py model 2-6 edges a closure): at
 * most ~12 rejected edges in one period even when both bursts fall in it (Edge=both, or the
 * opening's bounce with Edge=falling). A line that chatters (a loose wire, a broken switch,
 * interference) every few ms yields dozens in the 273 ms a 220 rpm revolution allows, and
 * would otherwise read as ~220 rpm: one edge let through each time that much has passed. */
#define WU_CADENCE_NOISE_REJECTED_EDGES 20
/* The longest quiet time required before an edge ([Gpio] Debounce= beyond it acts as it). */
#define WU_CADENCE_QUIET_MAX_US (5 * 1000)
/* While the cadence falls towards 0, how often it is worth publishing a new value. */
#define WU_CADENCE_DECAY_STEP_US (250 * 1000)
/* Pulses carry the kernel's timestamp, but the main loop may read one this late on a busy
 * machine (14 ms seen at load 7): only then is a revolution overdue, so that a late read
 * does not publish a dip below a steady cadence. */
#define WU_CADENCE_PULSE_READ_GRACE_US (30 * 1000)
/* A noisy line is worth telling about at most this often. */
#define WU_CADENCE_NOISE_REPORT_INTERVAL_US (60 * G_USEC_PER_SEC)

typedef struct {
  gint64 debounce_us;          /* a pulse less than this after any edge is bounce (5 ms) */
  double max_rpm;              /* pulses closer than this cadence allows are bounce (220) */
  gint64 stale_after_us;       /* no revolution for this long: 0 rpm (3 s) */
  guint pulses_per_revolution; /* magnets on the crank (1) */
} WuCadenceConfig;

void wu_cadence_config_init (WuCadenceConfig *config);   /* the defaults above */

/* The pulses of one edge direction. */
typedef struct {
  gboolean have_pulse;
  gint64 last_us;              /* the latest accepted */
  guint rejected_since;        /* edges (of either direction) rejected since then */
} WuCadencePulseTrain;

/* Plain data so it can live inside its owner; touch it only through the functions. */
typedef struct {
  WuCadenceConfig config;
  gboolean have_revolution;    /* a revolution (or pulse) has been seen */
  gint64 last_us;              /* when the latest revolution was seen */
  gint64 periods_us[WU_CADENCE_WINDOW];  /* per-revolution periods, newest at [head] */
  guint head, n_periods;
  /* pulses: every edge, accepted or not; [0]: wu_cadence_pulse() and falling edges,
   * [1]: rising edges */
  gboolean have_edge;
  gint64 last_edge_us;         /* the latest edge */
  WuCadencePulseTrain trains[2];
  guint64 noise_unreported;    /* noisy periods not yet reported */
  gboolean noise_reported;
  gint64 noise_reported_us;    /* when they last were */
  /* crank counters (CSC/CPS) */
  gboolean have_counter;
  guint16 counter_revs, counter_time;
  gint64 counter_since_us;     /* when the frame holding counter_time arrived */
  /* The revolutions went back (the sensor was reset: counts and event time from 0): the
   * anchor's event time is no revolution's, so the next revolution gives no period. */
  gboolean counter_reset;
  gint64 last_frame_us;        /* when the latest frame arrived, new event or not */
  gint64 report_interval_us;   /* smoothed time between frames: how late news can be */
  guint events_per_revolution; /* of the latest input: pulses_per_revolution, or 1 */
  /* The latest revolution accepted measured a period, from the revolution (or pulse of its
   * train) before it, dated period_start_us as the estimator dated that one. */
  gboolean period_measured;
  gint64 period_start_us;
  /* statistics */
  guint64 accepted;            /* pulses, or counted crank revolutions, accepted */
  guint64 rejected;            /* pulses dropped as bounce, implausible counter jumps */
  guint64 noisy_periods;       /* periods discarded: the line was noisy within them */
} WuCadence;

void wu_cadence_init (WuCadence *cadence, const WuCadenceConfig *config);
/* New settings (a reload); the history is kept. */
void wu_cadence_set_config (WuCadence *cadence, const WuCadenceConfig *config);

/* A pulse at TIME_US. TRUE when accepted as (part of) a revolution, FALSE when bounce. */
gboolean wu_cadence_pulse (WuCadence *cadence, gint64 time_us);
/* An edge at TIME_US, RISING or falling, when both directions are read (see above): the
 * falling edges are the pulses wu_cadence_pulse() takes, the rising ones a second train. */
gboolean wu_cadence_edge (WuCadence *cadence, gint64 time_us, gboolean rising);

/* The noisy periods discarded since the last report, when one is due at NOW_US (the first
 * at once, then at most one every WU_CADENCE_NOISE_REPORT_INTERVAL_US); 0 otherwise. For the
 * caller to log that the line is noisy. */
guint64 wu_cadence_take_noise_report (WuCadence *cadence, gint64 now_us);

/* A frame from a crank counter, received at NOW_US: cumulative REVS and the time of the
 * last crank event in 1/1024 s ticks. TRUE when it carried new revolutions (a new
 * measurement; after a rest, a restart: no period); FALSE for a repeat of the last event,
 * the first frame (nothing to compare with yet), or an implausible jump (counted in
 * `rejected`, and the counter re-anchored): faster than max_rpm, or an event-time span
 * longer than the frames' arrival allows (an event time that stepped back wraps to 64 s),
 * or a count that went back (a sensor reset: the next revolution gives no period). */
gboolean wu_cadence_crank (WuCadence *cadence, gint64 now_us, guint16 revs,
                           guint16 event_time_1024);

/* When the latest revolution accepted (wu_cadence_pulse(), wu_cadence_edge() or
 * wu_cadence_crank() answered TRUE) measured a period: TRUE with *START_US the time of the
 * revolution it was measured from (a pulse's timestamp; for a crank counter, the arrival of
 * the frame that reported it: counting runs on arrival times). FALSE when it measured
 * none: the first revolution, the first after a rest or a sensor reset, a noisy period. */
gboolean wu_cadence_period_start (const WuCadence *cadence, gint64 *start_us);

/* The cadence in rpm at NOW_US: -1 before any revolution, 0 after a single one or once
 * stale, else the estimate, falling towards 0 while the next revolution is overdue. */
double wu_cadence_get (const WuCadence *cadence, gint64 now_us);

/* When wu_cadence_get() next changes without new input (the next revolution becoming
 * overdue, a step of the fall towards 0, or the fall to 0 at stale_after); G_MAXINT64 when
 * it will not (no revolution yet, or already 0). Always > NOW_US. */
gint64 wu_cadence_next_change (const WuCadence *cadence, gint64 now_us);

/* Speed from a cumulative wheel counter (CSC: 1/1024 s ticks, wraps at 64 s; CPS: 1/2048 s
 * ticks, wraps at 32 s). Plain data, like WuCadence. */
typedef struct {
  gint64 stale_after_us;       /* a stop this long is a restart (G_MAXINT64: none) */
  gboolean have_counter;
  gboolean fresh;              /* the counter last moved at last_new_us (not a first read) */
  guint32 revs;
  guint16 event_time;
  gint64 since_us;             /* when the frame holding event_time arrived */
  gint64 last_new_us;          /* when the counter last moved (or was anchored) */
  gint64 last_frame_us;        /* when the latest frame arrived */
  gint64 report_interval_us;   /* smoothed time between frames */
  double speed_kmh;            /* the speed shown: -1 before any, 0 once stale */
} WuWheel;

/* STALE_AFTER_US: [Warmup] StaleAfter (<= 0: no limit but the event time's wrap). */
void wu_wheel_init (WuWheel *wheel, gint64 stale_after_us);
void wu_wheel_set_stale_after (WuWheel *wheel, gint64 stale_after_us);
/* A frame received at NOW_US. TRUE with *SPEED_KMH set when it carried new revolutions;
 * FALSE for a repeat, the first frame, the first after a stop of stale_after or more (a
 * restart: the span would average over the stop), or an implausible jump (above 200 km/h,
 * or an event-time span longer than the frames' arrival allows): re-anchored. */
gboolean wu_wheel_update (WuWheel *wheel, gint64 now_us, guint32 revs, guint16 event_time,
                          guint ticks_per_second, double circumference_mm,
                          double *speed_kmh);
/* When the speed shown falls to 0 without input: stale_after after the last new revolution;
 * G_MAXINT64 while it is not above 0. Unlike wu_cadence_next_change() it stays put until
 * wu_wheel_expire() has taken it (it may be <= now: overdue). */
gint64 wu_wheel_next_change (const WuWheel *wheel);
/* At NOW_US: TRUE when the speed shown has gone stale, and it is 0 from now. */
gboolean wu_wheel_expire (WuWheel *wheel, gint64 now_us);

G_END_DECLS
