/* Decoding of revolution data and source priority (see motion.h). */
#include "motion.h"
#include "wu-cps.h"
#include "wu-csc.h"
#include "wu-error.h"

#include <string.h>

void
wu_motion_config_from (WuMotionConfig *motion, const WuConfig *config)
{
  wu_cadence_config_init (&motion->cadence);
  motion->cadence.debounce_us = (gint64) config->gpio.debounce_ms * 1000;
  motion->cadence.pulses_per_revolution = MAX (config->gpio.pulses_per_revolution, 1u);
  motion->cadence.stale_after_us = config->controller.stale_after_us;
  motion->wheel_circumference_mm = config->sensors.wheel_circumference_mm;
  motion->gpio_edge = config->gpio.edge;
  memcpy (motion->cadence_rank, config->sensors.cadence_rank, sizeof motion->cadence_rank);
  motion->stale_after_us = config->controller.stale_after_us;
}

void
wu_motion_init (WuMotion *motion, const WuMotionConfig *config)
{
  wu_cadence_init (&motion->cadence, &config->cadence);
  wu_wheel_init (&motion->wheel, config->stale_after_us);
  motion->stale_after_us = config->stale_after_us;
  motion->power = motion->reported_cadence = motion->reported_speed =
    (WuReported) { .value = -1, .at_us = 0 };
  motion->fed = 0;
  motion->cadence_due_us = G_MAXINT64;
  motion->due_us = G_MAXINT64;
}

void
wu_motion_reanchor (WuMotion *motion, const WuMotionConfig *config, guint counters)
{
  if (counters & WU_MOTION_FED_CRANK)
    {
      wu_cadence_init (&motion->cadence, &config->cadence);
      motion->cadence_due_us = G_MAXINT64;
    }
  if (counters & WU_MOTION_FED_WHEEL)
    wu_wheel_init (&motion->wheel, config->stale_after_us);
  motion->fed &= ~counters;
  motion->due_us = G_MAXINT64;   /* asked afresh (wu_motion_refresh_due()) */
}

void
wu_motion_set_config (WuMotion *motion, const WuMotionConfig *config)
{
  wu_cadence_set_config (&motion->cadence, &config->cadence);
  wu_wheel_set_stale_after (&motion->wheel, config->stale_after_us);
  motion->stale_after_us = config->stale_after_us;
}

WuCadenceKind
wu_motion_kind_of (WuEventKind kind)
{
  switch (kind)
    {
    case WU_EVENT_CSC_MEASUREMENT:
      return WU_CADENCE_KIND_CSC;
    case WU_EVENT_CPS_MEASUREMENT:
      return WU_CADENCE_KIND_CPS;
    case WU_EVENT_GPIO_EDGE:
      return WU_CADENCE_KIND_GPIO;
    default:
      return WU_CADENCE_KIND_FTMS;
    }
}

/* The cadence after a revolution the estimator accepted at NOW_US, with the time since the
 * revolution its period was measured from, when it measured one. */
static void
take_revolution_cadence (WuMotion *motion, gint64 now_us, WuSample *sample)
{
  gint64 period_start_us;

  sample->cadence_rpm = wu_cadence_get (&motion->cadence, now_us);
  if (wu_cadence_period_start (&motion->cadence, &period_start_us))
    sample->since_period_start_us = MAX (now_us - period_start_us, 0);
}

static void
take_crank (WuMotion *motion, gint64 now_us, guint16 revs, guint16 ticks, WuSample *sample)
{
  motion->fed |= WU_MOTION_FED_CRANK;
  if (wu_cadence_crank (&motion->cadence, now_us, revs, ticks))
    take_revolution_cadence (motion, now_us, sample);
}

static void
take_wheel (WuMotion *motion, const WuMotionConfig *config, gint64 now_us, guint32 revs,
            guint16 ticks, guint ticks_per_second, WuSample *sample)
{
  double kmh;

  motion->fed |= WU_MOTION_FED_WHEEL;
  if (wu_wheel_update (&motion->wheel, now_us, revs, ticks, ticks_per_second,
                       config->wheel_circumference_mm, &kmh))
    sample->speed_kmh = kmh;
}

static gboolean
decode_csc (WuMotion *motion, const WuMotionConfig *config, const WuRawEvent *event,
            WuSample *sample, GError **error)
{
  WuCscMeasurement csc;

  if (!wu_csc_decode_measurement (event->payload, event->len, &csc, error))
    return FALSE;
  if (csc.has_wheel)
    take_wheel (motion, config, event->time_us, csc.wheel_revs, csc.wheel_event_time,
                WU_CSC_TIME_HZ, sample);
  if (csc.has_crank)
    take_crank (motion, event->time_us, csc.crank_revs, csc.crank_event_time, sample);
  return TRUE;
}

static gboolean
decode_cps (WuMotion *motion, const WuMotionConfig *config, const WuRawEvent *event,
            WuSample *sample, GError **error)
{
  WuCpsMeasurement cps;

  if (!wu_cps_decode_measurement (event->payload, event->len, &cps, error))
    return FALSE;
  /* Every frame carries the instantaneous power, repeated or not. Negative power
   * (back-pedalling, a drifting zero) is no work done: 0, since -1 means "not reported". */
  sample->power_w = MAX (cps.power_w, 0);
  wu_motion_note_power (motion, event->time_us, sample->power_w);
  if (cps.flags & WU_CPS_FLAG_WHEEL)
    take_wheel (motion, config, event->time_us, cps.wheel_revs, cps.wheel_event_time,
                WU_CPS_WHEEL_TIME_HZ, sample);
  if (cps.flags & WU_CPS_FLAG_CRANK)
    take_crank (motion, event->time_us, cps.crank_revs, cps.crank_event_time, sample);
  return TRUE;
}

/* A reed switch's edge: with Edge=falling or rising, the other direction is no pulse (the
 * kernel does not even report it live; a trace has both). With Edge=both every edge counts,
 * a period being measured only between edges of the same direction: the switch opening is
 * not a second pulse (with several magnets and a long closure, closing-to-opening and
 * opening-to-closing gaps would alternate, 50 and 200 rpm). */
static gboolean
take_edge (WuMotion *motion, const WuMotionConfig *config, const WuRawEvent *event)
{
  motion->fed |= WU_MOTION_FED_CRANK;
  switch (config->gpio_edge)
    {
    case WU_GPIO_EDGE_RISING:
      return event->up && wu_cadence_pulse (&motion->cadence, event->time_us);
    case WU_GPIO_EDGE_BOTH:
      return wu_cadence_edge (&motion->cadence, event->time_us, event->up);
    case WU_GPIO_EDGE_FALLING:
    default:
      return !event->up && wu_cadence_pulse (&motion->cadence, event->time_us);
    }
}

gboolean
wu_motion_decode (WuMotion *motion, const WuMotionConfig *config, const WuRawEvent *event,
                  WuSample *sample, GError **error)
{
  wu_sample_init (sample, event->time_us);
  switch (event->kind)
    {
    case WU_EVENT_CSC_MEASUREMENT:
      return decode_csc (motion, config, event, sample, error);
    case WU_EVENT_CPS_MEASUREMENT:
      return decode_cps (motion, config, event, sample, error);
    case WU_EVENT_GPIO_EDGE:
      if (take_edge (motion, config, event))
        take_revolution_cadence (motion, event->time_us, sample);
      return TRUE;
    default:
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED, "%s carries no revolution data",
                   wu_event_kind_to_string (event->kind));
      return FALSE;
    }
}

void
wu_motion_note_power (WuMotion *motion, gint64 now_us, double watts)
{
  motion->power = (WuReported) { .value = watts, .at_us = now_us };
}

void
wu_motion_note_cadence (WuMotion *motion, gint64 now_us, double rpm)
{
  motion->reported_cadence = (WuReported) { .value = rpm, .at_us = now_us };
}

void
wu_motion_note_speed (WuMotion *motion, gint64 now_us, double kmh)
{
  motion->reported_speed = (WuReported) { .value = kmh, .at_us = now_us };
}

/* When a reported value shown falls to 0 (G_MAXINT64: it is not above 0). */
static gint64
reported_stale_at (const WuMotion *motion, const WuReported *reported)
{
  if (!(reported->value > 0) || motion->stale_after_us <= 0 ||
      reported->at_us > G_MAXINT64 - motion->stale_after_us)
    return G_MAXINT64;
  return reported->at_us + motion->stale_after_us;
}

static gint64
reported_next_stale (const WuMotion *motion)
{
  return MIN (reported_stale_at (motion, &motion->power),
              MIN (reported_stale_at (motion, &motion->reported_cadence),
                   reported_stale_at (motion, &motion->reported_speed)));
}

/* REPORTED set to 0 when it went stale by NOW_US; FLAG added to *STALE then. */
static void
expire_reported (const WuMotion *motion, WuReported *reported, gint64 now_us,
                 WuMotionStale flag, guint *stale)
{
  if (reported_stale_at (motion, reported) <= now_us)
    {
      reported->value = 0;
      *stale |= flag;
    }
}

gint64
wu_motion_refresh_due (WuMotion *motion, gint64 now_us)
{
  if (motion->cadence_due_us > now_us)
    motion->cadence_due_us = wu_cadence_next_change (&motion->cadence, now_us);
  motion->due_us = MIN (motion->cadence_due_us,
                        MIN (wu_wheel_next_change (&motion->wheel), reported_next_stale (motion)));
  return motion->due_us;
}

gboolean
wu_motion_take_due (WuMotion *motion, gint64 now_us, WuSample *sample, guint *stale)
{
  gboolean taken = FALSE;

  wu_sample_init (sample, now_us);
  *stale = 0;
  if (motion->cadence_due_us <= now_us)
    {
      motion->cadence_due_us = G_MAXINT64;
      sample->cadence_rpm = wu_cadence_get (&motion->cadence, now_us);
      sample->projected = TRUE;
      taken = TRUE;
    }
  if (wu_wheel_expire (&motion->wheel, now_us))
    *stale |= WU_MOTION_STALE_SPEED;
  expire_reported (motion, &motion->power, now_us, WU_MOTION_STALE_POWER, stale);
  expire_reported (motion, &motion->reported_cadence, now_us, WU_MOTION_STALE_CADENCE, stale);
  expire_reported (motion, &motion->reported_speed, now_us, WU_MOTION_STALE_SPEED, stale);
  motion->due_us = G_MAXINT64;   /* wu_motion_refresh_due() notes the next one */
  return taken || *stale != 0;
}

/* ---- priority ------------------------------------------------------------------------ */

void
wu_priority_init (WuPriority *priority)
{
  memset (priority, 0, sizeof *priority);
}

static double *
sample_value (WuSample *sample, guint index)
{
  double *values[] = { &sample->cadence_rpm, &sample->power_w, &sample->speed_kmh };
  return values[index];
}

guint
wu_priority_reported_by (const WuPriority *priority, gconstpointer reporter)
{
  guint values = 0;

  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    for (guint value = 0; value < WU_TRACE_N_VALUES; value++)
      if (priority->reported[kind][value] && priority->reporter[kind][value] == reporter)
        values |= WU_TRACE_LOST_VALUE (kind, value);
  return values;
}

void
wu_priority_hand_over (WuPriority *priority, WuCadenceKind kind, guint value,
                       gconstpointer reporter, gint64 at_us)
{
  g_return_if_fail ((guint) kind < WU_CADENCE_N_KINDS && value < WU_TRACE_N_VALUES);
  priority->reported[kind][value] = TRUE;
  priority->reported_us[kind][value] = at_us;
  priority->reporter[kind][value] = reporter;
}

void
wu_priority_forget_values (WuPriority *priority, guint values)
{
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    for (guint value = 0; value < WU_TRACE_N_VALUES; value++)
      if (values & WU_TRACE_LOST_VALUE (kind, value))
        priority->reported[kind][value] = FALSE;
}

static gboolean
better_kind_reported (const WuPriority *priority, const WuMotionConfig *config,
                      WuCadenceKind kind, guint value, gint64 now_us)
{
  for (guint other = 0; other < WU_CADENCE_N_KINDS; other++)
    if (config->cadence_rank[other] < config->cadence_rank[kind] &&
        priority->reported[other][value] &&
        now_us - priority->reported_us[other][value] < config->stale_after_us)
      return TRUE;
  return FALSE;
}

gboolean
wu_priority_filter (WuPriority *priority, const WuMotionConfig *config, WuCadenceKind kind,
                    gconstpointer reporter, WuSample *sample)
{
  gboolean left = sample->resistance >= 0;

  for (guint value = 0; value < WU_TRACE_N_VALUES; value++)
    {
      double *v = sample_value (sample, value);

      if (*v < 0)
        continue;
      priority->reported[kind][value] = TRUE;
      priority->reported_us[kind][value] = sample->time_us;
      priority->reporter[kind][value] = reporter;
      if (better_kind_reported (priority, config, kind, value, sample->time_us))
        *v = -1;
      else
        left = TRUE;
    }
  return left;
}
