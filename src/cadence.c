/* The cadence estimator (see wu-cadence.h). Pure: no I/O, no clock, no allocation. */
#include "wu-cadence.h"

#include <math.h>
#include <string.h>

/* A period within this fraction of the newest one is the same pace: it joins the mean.
 * Rider jitter is ~1-2 % a revolution; a change of pace worth showing is larger. */
#define SAME_PACE_TOLERANCE 0.10
/* Counter event times are 16-bit 1/1024 s ticks: they wrap after 64 s. A gap longer than
 * this (with margin for delivery latency) cannot be measured from them. */
#define COUNTER_WRAP_LIMIT_US (60 * G_USEC_PER_SEC)
#define CRANK_TICKS_PER_SECOND 1024
/* New revolutions of a frame above this are the 16-bit count going back (a sensor reset),
 * not forward: no rider turns the crank 32768 times between two frames. */
#define CRANK_REVS_BACKWARDS 0x8000
/* Frames further apart than this are a gap in the link, not the sensor's report rate. */
#define REPORT_INTERVAL_MAX_US (5 * G_USEC_PER_SEC)
/* A frame this soon after the previous one is a duplicate (a link-layer retransmission, the
 * characteristic subscribed twice), not the report rate: sensors notify at most every
 * 250 ms or so. Counted in the mean, the 20 ms copies of a 1 Hz sensor shrank the interval
 * (and with it the grace before a revolution is overdue) to ~0.3 s, and the cadence dipped
 * below MinCadence between frames mid-ride. */
#define REPORT_INTERVAL_MIN_US (50 * 1000)
#define MAX_SPEED_KMH 200.0
/* How much longer than the arrival gap a counter's event-time span may be: delivery latency,
 * and (as gap / SPAN_CLOCK_DIVISOR) a sensor clock a few per cent off. */
#define SPAN_MARGIN_US G_USEC_PER_SEC
#define SPAN_CLOCK_DIVISOR 16
/* Longer than any contact bounce (under a millisecond; tools/gen-trace.py spreads its
 * bounce over up to 3 ms), shorter than a switch stays open between two magnets at 220 rpm
 * with 16 of them (~8 ms, half a pulse period). The default Debounce=. */

void
wu_cadence_config_init (WuCadenceConfig *config)
{
  config->debounce_us = 5 * 1000;
  config->max_rpm = WU_CADENCE_MAX_RPM;
  config->stale_after_us = 3 * G_USEC_PER_SEC;
  config->pulses_per_revolution = 1;
}

void
wu_cadence_init (WuCadence *cadence, const WuCadenceConfig *config)
{
  memset (cadence, 0, sizeof *cadence);
  wu_cadence_set_config (cadence, config);
  cadence->events_per_revolution = cadence->config.pulses_per_revolution;
}

void
wu_cadence_set_config (WuCadence *cadence, const WuCadenceConfig *config)
{
  cadence->config = *config;
  if (cadence->config.pulses_per_revolution == 0)
    cadence->config.pulses_per_revolution = 1;
  if (cadence->config.max_rpm <= 0)
    cadence->config.max_rpm = WU_CADENCE_MAX_RPM;
}

static void
forget_periods (WuCadence *cadence)
{
  cadence->n_periods = 0;
  cadence->head = 0;
}

static void
push_period (WuCadence *cadence, gint64 period_us)
{
  cadence->head = (cadence->head + 1) % WU_CADENCE_WINDOW;
  cadence->periods_us[cadence->head] = period_us;
  cadence->n_periods = MIN (cadence->n_periods + 1, WU_CADENCE_WINDOW);
}

/* The mean revolution period over the newest periods at the newest one's pace. */
static double
mean_period_us (const WuCadence *cadence)
{
  double newest = (double) cadence->periods_us[cadence->head];
  double sum = 0;
  guint n = 0;

  for (guint i = 0; i < cadence->n_periods; i++)
    {
      guint index = (cadence->head + WU_CADENCE_WINDOW - i) % WU_CADENCE_WINDOW;
      double period = (double) cadence->periods_us[index];

      if (n > 0 && (fabs (period - newest) > SAME_PACE_TOLERANCE * newest ||
                    sum + period > WU_CADENCE_WINDOW_US))
        break;
      sum += period;
      n++;
    }
  return sum / n;
}

/* The shortest time between two pulses of a train that can both be real: a pulse period
 * at 220 rpm. Debounce= is shorter than that (the configuration refuses Debounce= x
 * PulsesPerRevolution= of 60000/220 ms or more: a longer one would drop real pulses and
 * divide the cadence); the MAX only guards a caller that did not check. */
static gint64
min_pulse_interval_us (const WuCadenceConfig *config)
{
  double by_cadence = 60.0 * G_USEC_PER_SEC / (config->max_rpm * config->pulses_per_revolution);

  /* rounded up: a gap of the truncated period would read a hair above max_rpm */
  return MAX (config->debounce_us, (gint64) ceil (by_cadence));
}

/* A revolution gap longer than stale_after (or than a counter can measure) is a restart:
 * the time since the last revolution is a rest, not a period. */
static gboolean
is_restart (const WuCadence *cadence, gint64 gap_us, gint64 limit_us)
{
  return gap_us >= MIN (cadence->config.stale_after_us, limit_us);
}

/* Whether the line was quiet before an edge at TIME_US: no edge at all, accepted or
 * rejected, for a bounce's length (Debounce=, at most WU_CADENCE_QUIET_MAX_US). Notes the edge.
 * Not the whole Debounce=: the switch opening bounces too, and with Edge=falling that
 * bounce is a counted edge only the open time before the next closing, which at high
 * cadence with several magnets is shorter than a Debounce= the configuration allows.
 * Slower chatter is left to the noise count. */
static gboolean
quiet_before (WuCadence *cadence, gint64 time_us)
{
  gint64 window = MIN (cadence->config.debounce_us, WU_CADENCE_QUIET_MAX_US);
  gboolean quiet = !cadence->have_edge || time_us - cadence->last_edge_us >= window;

  cadence->last_edge_us = cadence->have_edge ? MAX (cadence->last_edge_us, time_us) : time_us;
  cadence->have_edge = TRUE;
  return quiet;
}

/* A pulse of TRAIN (0: wu_cadence_pulse() or falling edges; 1: rising edges) at TIME_US.
 * Periods are measured within a train only: with Edge=both the switch's closing and its
 * opening are two trains, one pulse each per magnet pass. */
static gboolean
train_pulse (WuCadence *cadence, guint train, gint64 time_us)
{
  const WuCadenceConfig *config = &cadence->config;
  WuCadencePulseTrain *pulses = &cadence->trains[train];
  gboolean quiet = quiet_before (cadence, time_us);
  gint64 gap = pulses->have_pulse ? time_us - pulses->last_us : G_MAXINT64;
  guint rejected_between = pulses->rejected_since;

  /* Bounce: too soon after the train's last pulse, or the line was not quiet for
   * debounce_us before it (a chattering line, whose edges may be far from any pulse). */
  if (!quiet || gap < min_pulse_interval_us (config))
    {
      cadence->rejected++;
      for (guint i = 0; i < G_N_ELEMENTS (cadence->trains); i++)
        if (cadence->trains[i].rejected_since < G_MAXUINT)
          cadence->trains[i].rejected_since++;
      return FALSE;
    }
  pulses->rejected_since = 0;
  cadence->period_measured = FALSE;
  if (pulses->have_pulse)
    {
      if (is_restart (cadence, gap, G_MAXINT64))
        forget_periods (cadence);
      else if (rejected_between > WU_CADENCE_NOISE_REJECTED_EDGES)
        {
          /* Not contact bounce: a noisy line. Nothing it says about the pace is believed
           * (the cadence reads 0 until two clean pulses in a row). */
          forget_periods (cadence);
          cadence->noisy_periods++;
          cadence->noise_unreported++;
        }
      else
        {
          push_period (cadence, gap * config->pulses_per_revolution);
          cadence->period_measured = TRUE;
          cadence->period_start_us = pulses->last_us;
        }
    }
  pulses->have_pulse = TRUE;
  pulses->last_us = time_us;
  cadence->have_revolution = TRUE;
  cadence->last_us = time_us;
  cadence->events_per_revolution = config->pulses_per_revolution;
  cadence->report_interval_us = 0;   /* edges are timestamped when they happen */
  cadence->accepted++;
  return TRUE;
}

gboolean
wu_cadence_pulse (WuCadence *cadence, gint64 time_us)
{
  return train_pulse (cadence, 0, time_us);
}

gboolean
wu_cadence_edge (WuCadence *cadence, gint64 time_us, gboolean rising)
{
  return train_pulse (cadence, rising ? 1 : 0, time_us);
}

guint64
wu_cadence_take_noise_report (WuCadence *cadence, gint64 now_us)
{
  guint64 n = cadence->noise_unreported;

  if (n == 0 || (cadence->noise_reported &&
                 now_us - cadence->noise_reported_us < WU_CADENCE_NOISE_REPORT_INTERVAL_US))
    return 0;
  cadence->noise_unreported = 0;
  cadence->noise_reported = TRUE;
  cadence->noise_reported_us = now_us;
  return n;
}

/* The smoothed time between a counter's frames (HAVE: a frame came before, at *LAST_US).
 * A duplicate (REPORT_INTERVAL_MIN_US) is left out: the next frame's gap is measured from
 * the one it copied. */
static void
note_report (gboolean have, gint64 *last_us, gint64 *interval_us, gint64 now_us)
{
  if (have)
    {
      gint64 gap = now_us - *last_us;

      if (gap < REPORT_INTERVAL_MIN_US)
        return;
      if (gap <= REPORT_INTERVAL_MAX_US)
        *interval_us = *interval_us == 0 ? gap : (3 * *interval_us + gap) / 4;
    }
  *last_us = now_us;
}

static void
note_frame (WuCadence *cadence, gint64 now_us)
{
  note_report (cadence->have_counter, &cadence->last_frame_us, &cadence->report_interval_us,
               now_us);
}

/* The longest span of event time a frame can add to an anchor whose event time was reported
 * GAP_US ago: that event may have been up to a report interval old when reported, and news
 * is delivered late. Longer is an event time that stepped back (a step back of a tick wraps
 * to 64 s) or jumped ahead: no period can be taken from it. */
static gboolean
span_is_possible (gint64 span_us, gint64 gap_us, gint64 report_interval_us)
{
  return span_us <= gap_us + report_interval_us + SPAN_MARGIN_US + gap_us / SPAN_CLOCK_DIVISOR;
}

static void
anchor_counter (WuCadence *cadence, gint64 now_us, guint16 revs, guint16 event_time)
{
  cadence->have_counter = TRUE;
  cadence->counter_revs = revs;
  cadence->counter_time = event_time;
  cadence->counter_since_us = now_us;
}

gboolean
wu_cadence_crank (WuCadence *cadence, gint64 now_us, guint16 revs, guint16 event_time_1024)
{
  guint16 new_revs, ticks;
  double period_us, span_us;
  gboolean measurable;
  gboolean period_measured = FALSE;

  note_frame (cadence, now_us);
  if (!cadence->have_counter)
    {
      /* The first frame's event may be minutes old: only an anchor. */
      anchor_counter (cadence, now_us, revs, event_time_1024);
      return FALSE;
    }
  new_revs = (guint16) (revs - cadence->counter_revs);        /* wraps at 65536 */
  ticks = (guint16) (event_time_1024 - cadence->counter_time); /* wraps at 64 s */
  if (new_revs == 0)
    {
      /* A repeat: the same event again. A moved event time without revolutions is a
       * sensor glitch: follow it, count nothing. */
      if (ticks != 0)
        anchor_counter (cadence, now_us, revs, event_time_1024);
      return FALSE;
    }
  if (new_revs >= CRANK_REVS_BACKWARDS)
    {
      /* The count went back: the sensor was reset (a battery change, a reboot). Its event
       * time restarted too; followed, and the next revolution measures nothing from it. */
      cadence->rejected++;
      anchor_counter (cadence, now_us, revs, event_time_1024);
      cadence->counter_reset = TRUE;
      return FALSE;
    }
  /* Only a counter that moved recently gives a period: after an anchor or a rest the
   * event time may have wrapped, and the gap is a rest anyway. Asked first: after a rest
   * of about 64 s the wrapped event time looks like a tiny span, an implausible period. */
  measurable = cadence->have_revolution &&
               !is_restart (cadence, now_us - cadence->last_us, COUNTER_WRAP_LIMIT_US);
  if (!measurable)
    forget_periods (cadence);
  else if (cadence->counter_reset)
    {
      /* The first revolution since a sensor reset: the anchor's event time (0, or whatever
       * the sensor booted with) is no revolution's, so the span from it is no period (it
       * read 40.96 rpm for a rider at 60). The pace from before the reset still stands. */
    }
  else
    {
      span_us = (double) ticks * G_USEC_PER_SEC / CRANK_TICKS_PER_SECOND;
      period_us = span_us / new_revs;
      if (ticks == 0 || period_us < 60.0 * G_USEC_PER_SEC / cadence->config.max_rpm ||
          !span_is_possible ((gint64) span_us, now_us - cadence->counter_since_us,
                             cadence->report_interval_us))
        {
          cadence->rejected++;
          anchor_counter (cadence, now_us, revs, event_time_1024);
          return FALSE;
        }
      for (guint i = 0; i < MIN (new_revs, WU_CADENCE_WINDOW); i++)
        push_period (cadence, (gint64) period_us);
      period_measured = TRUE;
    }
  cadence->period_measured = period_measured;
  /* The span the cadence was measured over, ending with this frame (counting runs on
   * arrival times), and no earlier than the frame that reported the previous revolution.
   * Back to that frame alone, a bout's first revolution just before a frame and its second
   * just after the next counted a whole report interval for one short revolution. */
  if (period_measured)
    cadence->period_start_us = MAX (cadence->last_us, now_us - (gint64) span_us);
  anchor_counter (cadence, now_us, revs, event_time_1024);
  cadence->counter_reset = FALSE;
  cadence->have_revolution = TRUE;
  cadence->last_us = now_us;
  cadence->events_per_revolution = 1;
  cadence->accepted += new_revs;
  return TRUE;
}

gboolean
wu_cadence_period_start (const WuCadence *cadence, gint64 *start_us)
{
  if (!cadence->period_measured)
    return FALSE;
  *start_us = cadence->period_start_us;
  return TRUE;
}

/* How late news of a revolution can be: frames come at the sensor's report rate; pulses
 * are timestamped as they happen but read when the main loop gets to them. */
static gint64
report_grace_us (const WuCadence *cadence)
{
  return cadence->report_interval_us > 0 ? cadence->report_interval_us
                                         : WU_CADENCE_PULSE_READ_GRACE_US;
}

/* When the next event is due at the current pace (µs after last_us, grace included). */
static gint64
next_event_due_us (const WuCadence *cadence)
{
  return (gint64) (mean_period_us (cadence) / cadence->events_per_revolution) +
         report_grace_us (cadence);
}

double
wu_cadence_get (const WuCadence *cadence, gint64 now_us)
{
  gint64 elapsed;
  double rpm, waited;

  if (!cadence->have_revolution)
    return -1;
  elapsed = now_us - cadence->last_us;
  if (elapsed >= cadence->config.stale_after_us || cadence->n_periods == 0)
    return 0;
  rpm = 60.0 * G_USEC_PER_SEC / mean_period_us (cadence);
  if (elapsed > next_event_due_us (cadence))
    {
      /* Overdue: no more than one event in the time waited. */
      waited = (double) (elapsed - report_grace_us (cadence)) * cadence->events_per_revolution;
      rpm = MIN (rpm, 60.0 * G_USEC_PER_SEC / waited);
    }
  return rpm;
}

gint64
wu_cadence_next_change (const WuCadence *cadence, gint64 now_us)
{
  gint64 stale_at, overdue_at;

  if (!cadence->have_revolution || cadence->n_periods == 0)
    return G_MAXINT64;
  stale_at = cadence->last_us + cadence->config.stale_after_us;
  if (now_us >= stale_at)
    return G_MAXINT64;
  overdue_at = cadence->last_us + next_event_due_us (cadence);
  if (now_us < overdue_at)
    return MIN (overdue_at, stale_at);
  return MIN (now_us + WU_CADENCE_DECAY_STEP_US, stale_at);
}

/* ---- wheel speed -------------------------------------------------------------------- */

void
wu_wheel_init (WuWheel *wheel, gint64 stale_after_us)
{
  memset (wheel, 0, sizeof *wheel);
  wheel->speed_kmh = -1;
  wu_wheel_set_stale_after (wheel, stale_after_us);
}

void
wu_wheel_set_stale_after (WuWheel *wheel, gint64 stale_after_us)
{
  wheel->stale_after_us = stale_after_us > 0 ? stale_after_us : G_MAXINT64;
}

static void
wheel_anchor (WuWheel *wheel, gint64 now_us, guint32 revs, guint16 event_time, gboolean fresh)
{
  wheel->have_counter = TRUE;
  wheel->fresh = fresh;
  wheel->revs = revs;
  wheel->event_time = event_time;
  wheel->since_us = now_us;
  wheel->last_new_us = now_us;
}

gboolean
wu_wheel_update (WuWheel *wheel, gint64 now_us, guint32 revs, guint16 event_time,
                 guint ticks_per_second, double circumference_mm, double *speed_kmh)
{
  guint32 new_revs;
  guint16 ticks;
  gint64 wrap_us, span_us;
  double seconds, kmh;

  note_report (wheel->have_counter, &wheel->last_frame_us, &wheel->report_interval_us, now_us);
  if (!wheel->have_counter)
    {
      wheel_anchor (wheel, now_us, revs, event_time, FALSE);
      return FALSE;
    }
  new_revs = revs - wheel->revs;                    /* wraps at 2^32 */
  ticks = (guint16) (event_time - wheel->event_time);
  if (new_revs == 0)
    {
      /* A repeat; a moved event time is followed, from now. */
      if (ticks != 0)
        {
          wheel->event_time = event_time;
          wheel->since_us = now_us;
        }
      return FALSE;
    }
  /* A stop of StaleAfter or more is a restart, like a rest of the crank: the span since the
   * last revolution would average over the stop. So is a gap near the event time's wrap
   * (90 % of it: margin for delivery latency). */
  wrap_us = (gint64) 65536 * G_USEC_PER_SEC / ticks_per_second * 9 / 10;
  span_us = (gint64) ticks * G_USEC_PER_SEC / ticks_per_second;
  if (ticks == 0 || !wheel->fresh ||
      now_us - wheel->last_new_us >= MIN (wheel->stale_after_us, wrap_us) ||
      !span_is_possible (span_us, now_us - wheel->since_us, wheel->report_interval_us))
    {
      wheel_anchor (wheel, now_us, revs, event_time, TRUE);
      return FALSE;
    }
  seconds = (double) ticks / ticks_per_second;
  kmh = new_revs * circumference_mm / 1000.0 / seconds * 3.6;
  wheel_anchor (wheel, now_us, revs, event_time, TRUE);
  if (kmh > MAX_SPEED_KMH)
    return FALSE;
  *speed_kmh = wheel->speed_kmh = kmh;
  return TRUE;
}

gint64
wu_wheel_next_change (const WuWheel *wheel)
{
  if (!(wheel->speed_kmh > 0) || wheel->stale_after_us == G_MAXINT64)
    return G_MAXINT64;
  return wheel->last_new_us + wheel->stale_after_us;
}

gboolean
wu_wheel_expire (WuWheel *wheel, gint64 now_us)
{
  if (now_us < wu_wheel_next_change (wheel))
    return FALSE;
  wheel->speed_kmh = 0;
  return TRUE;
}
