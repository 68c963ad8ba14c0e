/* The warm-up controller: a pure state machine. Every input carries its own timestamp;
 * timers are deadlines derived from the state and fired in time order before each input.
 * See include/wu-controller.h for the contract. */
#include "wu-controller.h"
#include "wu-error.h"
#include "wu-ftms.h"

#include <math.h>

/* A value reported by the bike and the time of that report. */
typedef struct {
  gboolean known;
  double value;
  gint64 time_us;
} Reported;

struct WuController {
  WuControllerConfig config;

  gint64 now_us;              /* the last time seen; inputs never go behind it */
  gboolean link_up;

  WuState state;
  gint64 state_entered_us;

  /* Reported values (cleared on link down). */
  Reported cadence, power, speed, resistance;

  /* The current pedalling run. */
  gboolean run_active;
  gint64 run_first_sample_us; /* its first pedalling sample: StartAfter is measured from it */
  gint64 run_last_us;         /* last pedalling sample of the run */
  gint64 run_counted_us;      /* counted time inside the run (for autostart) */
  /* No run is counted from before this instant, however far back the period of the sample
   * that begins it reaches: the last pedalling sample (counted already, or ended there), a
   * sample below MinCadence (the pedalling stopped there), Start(), the return to idle, a
   * console stop or start, the link going down or up. Not a pause for want of samples
   * (PauseAfter): that is no news, not news of a stop; the revolution before the one that
   * resumes may well have come before it. */
  gint64 run_floor_us;

  gboolean pedalled_ever;
  gint64 last_pedal_us;       /* last pedalling sample, any state */

  /* Session. */
  gint64 elapsed_us;          /* counted time of the session */
  gint64 activity_us;         /* last pedalling sample or entry into warming-up */
  double cap;                 /* active cap, -1: none */
  /* Cap= as it was when the session began: a reloaded Cap applies from the next session,
   * also when the range is read (again) during this one. */
  double session_cap_level, session_cap_percent;
  /* the Duration= an ended (complete, cancelled) warm-up ran against, shown until the next
   * one: a reload that shortened Duration= showed Elapsed above Duration */
  gint64 ended_duration_us;
  /* Stopped at the bike's console (status 0x02/0x03) during this session, and not started
   * there since (0x04): resuming needs a sustained run, and brings the cap with .resume. */
  gboolean console_stopped;
  /* Since that stop, the cadence was seen below MinCadence or not believed (stale): only a
   * run begun after such a gap is the rider riding again. */
  gboolean console_gap_seen;
  guint pauses, recaps;
  double cadence_sum;
  guint cadence_n;
  double cadence_max;
  double power_sum;
  guint power_n;
  double power_max;

  /* Ease-off: a run of fresh cadence samples above max_cadence. */
  WuHint hint;
  gboolean high_active;
  gint64 high_since_us;
  gint64 high_last_us;

  /* Re-cap: a run of fresh resistance reports above the cap. */
  gboolean over_active;
  gint64 over_since_us;       /* start of the run, or the last re-cap */
  gint64 over_last_us;        /* last report above the cap */
  gint64 cap_sent_us;         /* when the cap was last sent (any reason) */
  guint insists;              /* re-caps in a row with no report newer than the cap */

  /* Supported resistance range. */
  gboolean range_known;
  double range_min, range_max, range_inc;
};

/* ---- small helpers ------------------------------------------------------------------ */

static gint64
add_us (gint64 t, gint64 d)
{
  /* saturate instead of overflowing: deadlines far in the future just mean "never" */
  if (d > 0 && t > G_MAXINT64 - d)
    return G_MAXINT64;
  return t + d;
}

static gboolean
session_active (const WuController *ctl)
{
  return ctl->state == WU_STATE_WARMING_UP || ctl->state == WU_STATE_PAUSED;
}

static gboolean
cap_active (const WuController *ctl)
{
  return ctl->cap >= 0;
}

/* Resistance reported above the cap after the cap was last sent: the bike did not take it,
 * or the knob was turned since. A report from before the cap (or from the same instant,
 * measured before the bike could act on it) says nothing new. */
static gboolean
over_cap_since_last_cap (const WuController *ctl)
{
  return ctl->over_active && ctl->over_last_us > ctl->cap_sent_us;
}

const char *
wu_state_to_string (WuState state)
{
  switch (state)
    {
    case WU_STATE_IDLE: return "idle";
    case WU_STATE_WARMING_UP: return "warming-up";
    case WU_STATE_PAUSED: return "paused";
    case WU_STATE_COMPLETE: return "complete";
    case WU_STATE_CANCELLED: return "cancelled";
    default: return "unknown";
    }
}

const char *
wu_hint_to_string (WuHint hint)
{
  return hint == WU_HINT_EASE_OFF ? "ease-off" : "";
}

void
wu_actions_clear (WuActions *actions)
{
  g_return_if_fail (actions != NULL);
  actions->n = 0;
}

void
wu_controller_config_init (WuControllerConfig *config)
{
  g_return_if_fail (config != NULL);
  *config = (WuControllerConfig) {
    .autostart = WU_AUTOSTART_PEDAL,
    .min_cadence = 40,
    .max_cadence = 100,
    .start_after_us = 3 * G_USEC_PER_SEC,
    .pause_after_us = 5 * G_USEC_PER_SEC,
    .abandon_after_us = 300 * G_USEC_PER_SEC,
    .stale_after_us = 3 * G_USEC_PER_SEC,
    .ease_off_after_us = 10 * G_USEC_PER_SEC,
    .duration_us = 600 * G_USEC_PER_SEC,
    .reapply_after_us = 2 * G_USEC_PER_SEC,
    .cap_level = -1,
    .cap_percent = 30,     /* a third of the bike's range: easy on any bike */
    .power_cap_w = 100,    /* W: a very comfortable effort */
  };
}

void
wu_sample_init (WuSample *sample, gint64 time_us)
{
  g_return_if_fail (sample != NULL);
  *sample = (WuSample) { .time_us = time_us, .cadence_rpm = -1, .power_w = -1,
                         .speed_kmh = -1, .resistance = -1 };
}

/* ---- actions ------------------------------------------------------------------------ */

static void
append_action (WuActions *out, const WuAction *action)
{
  g_return_if_fail (out != NULL);

  /* Two causes can send the cap in one batch (a re-cap due as the bike reports a target
   * above it or comes back); repeating the same command is pointless and would only eat
   * the fixed-size buffer. */
  if (action->kind == WU_ACTION_CAP && out->n > 0 &&
      out->items[out->n - 1].kind == WU_ACTION_CAP && out->items[out->n - 1].cap == action->cap)
    {
      out->items[out->n - 1].resume |= action->resume;   /* a resume is never dropped */
      return;
    }

  g_return_if_fail (out->n < WU_ACTIONS_MAX);
  out->items[out->n++] = *action;
}

static void
emit_state (WuActions *out, WuState old_state, WuState new_state)
{
  append_action (out, &(WuAction) { .kind = WU_ACTION_STATE, .old_state = old_state,
                                    .new_state = new_state, .cap = -1 });
}

static void
emit_hint (WuActions *out, WuHint hint)
{
  append_action (out, &(WuAction) { .kind = WU_ACTION_HINT, .hint = hint, .cap = -1 });
}

static void
emit_cap (WuActions *out, double cap)
{
  append_action (out, &(WuAction) { .kind = WU_ACTION_CAP, .cap = cap });
}

static void
emit_release (WuActions *out)
{
  append_action (out, &(WuAction) { .kind = WU_ACTION_RELEASE, .cap = -1 });
}

static void
emit_floor_routine (WuActions *out, const WuSummary *summary)
{
  append_action (out, &(WuAction) { .kind = WU_ACTION_START_FLOOR_ROUTINE, .cap = -1,
                                    .summary = *summary });
}

/* ---- cap ------------------------------------------------------------------------------ */

/* The session's cap: from Cap= as snapshot when it began, fitted onto the range known now
 * exactly as the FTMS session fits the target it writes (a level below the range is its
 * minimum), so that the bike's echo of that target is never "above the cap". */
static double
resolve_cap (const WuController *ctl)
{
  WuFtmsRange range = { ctl->range_min, ctl->range_max, ctl->range_inc };
  double level;

  if (ctl->session_cap_level >= 0)
    level = ctl->session_cap_level;
  else if (ctl->session_cap_percent < 0 || !ctl->range_known)
    return -1;
  else
    level = ctl->range_min + ctl->session_cap_percent / 100.0 * (ctl->range_max - ctl->range_min);
  return wu_ftms_fit_target (level, ctl->range_known ? &range : NULL,
                             WU_FTMS_RESISTANCE_RESOLUTION);
}

static void
send_cap (WuController *ctl, gint64 at_us, WuActions *out)
{
  emit_cap (out, ctl->cap);
  ctl->cap_sent_us = at_us;
}

/* The warm-up resumed after a console stop: the cap, marked so the stop is taken as over. */
static void
send_resume_cap (WuController *ctl, gint64 at_us, WuActions *out)
{
  append_action (out, &(WuAction) { .kind = WU_ACTION_CAP, .cap = ctl->cap, .resume = TRUE });
  ctl->cap_sent_us = at_us;
}

/* ---- hint ------------------------------------------------------------------------------ */

static void
clear_hint (WuController *ctl, WuActions *out)
{
  if (ctl->hint == WU_HINT_NONE)
    return;
  ctl->hint = WU_HINT_NONE;
  emit_hint (out, WU_HINT_NONE);
}

static void
set_ease_off_hint (WuController *ctl, WuActions *out)
{
  if (ctl->hint == WU_HINT_EASE_OFF)
    return;
  ctl->hint = WU_HINT_EASE_OFF;
  emit_hint (out, WU_HINT_EASE_OFF);
}

/* ---- state transitions --------------------------------------------------------------- */

/* A run begun after AT_US is counted from AT_US at the earliest. */
static void
raise_run_floor (WuController *ctl, gint64 at_us)
{
  ctl->run_floor_us = MAX (ctl->run_floor_us, at_us);
}

static void
set_state (WuController *ctl, WuState new_state, gint64 at_us, WuActions *out)
{
  g_debug ("state %s -> %s", wu_state_to_string (ctl->state), wu_state_to_string (new_state));
  emit_state (out, ctl->state, new_state);
  if (new_state == WU_STATE_COMPLETE || new_state == WU_STATE_CANCELLED)
    ctl->ended_duration_us = ctl->config.duration_us;
  ctl->state = new_state;
  ctl->state_entered_us = at_us;
}

static void
reset_session (WuController *ctl)
{
  ctl->elapsed_us = 0;
  ctl->cap = -1;
  ctl->session_cap_level = ctl->session_cap_percent = -1;
  ctl->pauses = ctl->recaps = 0;
  ctl->cadence_sum = 0;
  ctl->cadence_max = -1;   /* -1: no cadence reported yet (left out of the history) */
  ctl->cadence_n = 0;
  ctl->power_sum = 0;
  ctl->power_max = -1;
  ctl->power_n = 0;
  ctl->over_active = FALSE;
  ctl->cap_sent_us = G_MININT64;
  ctl->console_stopped = FALSE;
  ctl->console_gap_seen = FALSE;
}

/* A fresh session: idle/complete/cancelled -> warming-up with `elapsed_us` already counted. */
static void
begin_session (WuController *ctl, gint64 at_us, gint64 elapsed_us, WuActions *out)
{
  reset_session (ctl);
  set_state (ctl, WU_STATE_WARMING_UP, at_us, out);
  ctl->elapsed_us = elapsed_us;
  ctl->activity_us = at_us;
  /* ease-off measures high cadence during the session, not before it */
  if (ctl->high_active)
    ctl->high_since_us = MAX (ctl->high_since_us, at_us);

  ctl->session_cap_level = ctl->config.cap_level;
  ctl->session_cap_percent = ctl->config.cap_percent;
  ctl->cap = resolve_cap (ctl);
  if (cap_active (ctl))
    send_cap (ctl, at_us, out);
}

static void
fill_summary (const WuController *ctl, WuSummary *summary)
{
  *summary = (WuSummary) {
    .duration_s = (double) ctl->elapsed_us / G_USEC_PER_SEC,
    .avg_cadence = ctl->cadence_n > 0 ? ctl->cadence_sum / ctl->cadence_n : -1,
    .max_cadence = ctl->cadence_max,
    .avg_power = ctl->power_n > 0 ? ctl->power_sum / ctl->power_n : -1,
    .max_power = ctl->power_n > 0 ? ctl->power_max : -1,
    .pauses = ctl->pauses,
    .recaps = ctl->recaps,
  };
}

/* warming-up/paused -> complete or cancelled. */
static void
end_session (WuController *ctl, WuState new_state, gint64 at_us, WuActions *out)
{
  set_state (ctl, new_state, at_us, out);
  clear_hint (ctl, out);
  ctl->cap = -1;
  ctl->over_active = FALSE;
  emit_release (out);
  if (new_state == WU_STATE_COMPLETE)
    {
      WuSummary summary;
      fill_summary (ctl, &summary);
      emit_floor_routine (out, &summary);
    }
}

static void
pause_session (WuController *ctl, gint64 at_us, WuActions *out)
{
  set_state (ctl, WU_STATE_PAUSED, at_us, out);
  ctl->pauses++;
}

/* Counted time has reached the duration. Outside a reload that happens only while warming
 * up; a reload that shortens the duration can also reach it while paused, and a paused
 * warm-up that has counted enough is complete too (not left to be cancelled). */
static gboolean
session_done (const WuController *ctl)
{
  return session_active (ctl) && ctl->elapsed_us >= ctl->config.duration_us;
}

static void
complete_if_done (WuController *ctl, gint64 at_us, WuActions *out)
{
  if (!session_done (ctl))
    return;
  ctl->elapsed_us = ctl->config.duration_us;
  end_session (ctl, WU_STATE_COMPLETE, at_us, out);
}

/* ---- timers: each is a deadline derived from the state and an action at it ---------- */

static gint64
completion_deadline (const WuController *ctl)
{
  /* only pending after a reload shortened the duration: due at once */
  if (session_done (ctl))
    return ctl->now_us;
  return G_MAXINT64;
}

static void
fire_completion (WuController *ctl, gint64 at_us, WuActions *out)
{
  complete_if_done (ctl, at_us, out);
}

static gint64
ease_off_clear_deadline (const WuController *ctl)
{
  if (ctl->hint == WU_HINT_NONE)
    return G_MAXINT64;
  /* the moment the last high sample stops being believed */
  return add_us (add_us (ctl->high_last_us, ctl->config.stale_after_us), 1);
}

static void
fire_ease_off_clear (WuController *ctl, gint64 at_us, WuActions *out)
{
  (void) at_us;
  ctl->high_active = FALSE;
  clear_hint (ctl, out);
}

static gint64
ease_off_set_deadline (const WuController *ctl)
{
  if (!session_active (ctl) || ctl->hint != WU_HINT_NONE || !ctl->high_active)
    return G_MAXINT64;
  gint64 deadline = add_us (ctl->high_since_us, ctl->config.ease_off_after_us);
  /* the high run must still be fresh when the deadline comes */
  if (deadline - ctl->high_last_us > ctl->config.stale_after_us)
    return G_MAXINT64;
  return deadline;
}

static void
fire_ease_off_set (WuController *ctl, gint64 at_us, WuActions *out)
{
  (void) at_us;
  set_ease_off_hint (ctl, out);
}

#define INSIST_MAX_US (60 * G_USEC_PER_SEC)

/* ReapplyAfter, doubled for each re-cap in a row with no newer report, up to a minute. */
static gint64
insist_interval (const WuController *ctl)
{
  gint64 reapply = MAX (ctl->config.reapply_after_us, 1);
  gint64 interval = reapply;

  for (guint i = 0; i < ctl->insists && interval < INSIST_MAX_US; i++)
    interval *= 2;
  return MAX (MIN (interval, INSIST_MAX_US), reapply);
}

static gint64
recap_deadline (const WuController *ctl)
{
  if (!session_active (ctl) || !cap_active (ctl) || !ctl->over_active)
    return G_MAXINT64;
  if (over_cap_since_last_cap (ctl))
    {
      /* at least 1 µs, so a zero setting cannot make the timer loop forever */
      gint64 deadline = add_us (ctl->over_since_us, MAX (ctl->config.reapply_after_us, 1));
      /* the last report above the cap must still be believed when the deadline comes */
      if (deadline - ctl->over_last_us <= ctl->config.stale_after_us)
        return deadline;
    }
  /* The last word was "above the cap" and nothing newer came: the bike may have refused
   * the cap, or report its resistance only when it changes. Send the cap again all the
   * same, less and less often (repeating it every ReapplyAfter would only flood a bike
   * that went quiet). */
  return add_us (ctl->cap_sent_us, insist_interval (ctl));
}

static void
fire_recap (WuController *ctl, gint64 at_us, WuActions *out)
{
  if (!over_cap_since_last_cap (ctl))
    ctl->insists++;
  send_cap (ctl, at_us, out);
  ctl->recaps++;
  ctl->over_since_us = at_us;
}

static gint64
pause_deadline (const WuController *ctl)
{
  if (ctl->state != WU_STATE_WARMING_UP)
    return G_MAXINT64;
  return add_us (ctl->activity_us, ctl->config.pause_after_us);
}

static void
fire_pause (WuController *ctl, gint64 at_us, WuActions *out)
{
  pause_session (ctl, at_us, out);
}

static gint64
abandon_deadline (const WuController *ctl)
{
  if (ctl->state != WU_STATE_PAUSED)
    return G_MAXINT64;
  return add_us (ctl->state_entered_us, ctl->config.abandon_after_us);
}

static void
fire_abandon (WuController *ctl, gint64 at_us, WuActions *out)
{
  end_session (ctl, WU_STATE_CANCELLED, at_us, out);
}

static gint64
back_to_idle_deadline (const WuController *ctl)
{
  if (ctl->state != WU_STATE_COMPLETE && ctl->state != WU_STATE_CANCELLED)
    return G_MAXINT64;
  gint64 stopped_since = ctl->state_entered_us;
  if (ctl->pedalled_ever)
    stopped_since = MAX (stopped_since, ctl->last_pedal_us);
  return add_us (stopped_since, ctl->config.abandon_after_us);
}

static void
fire_back_to_idle (WuController *ctl, gint64 at_us, WuActions *out)
{
  set_state (ctl, WU_STATE_IDLE, at_us, out);
  reset_session (ctl);
  /* Autostart measures pedalling begun in idle. With AbandonAfter shorter than StaleAfter
   * the run from before could still be unbroken, and would start (even complete) a warm-up
   * at the next sample with its time; a new run's first period could reach back too. */
  ctl->run_active = FALSE;
  raise_run_floor (ctl, at_us);
}

typedef struct {
  gint64 (*deadline) (const WuController *ctl);
  void (*fire) (WuController *ctl, gint64 at_us, WuActions *out);
} Timer;

/* Order breaks ties between timers due at the same instant. */
static const Timer timers[] = {
  { completion_deadline, fire_completion },
  { ease_off_clear_deadline, fire_ease_off_clear },
  { ease_off_set_deadline, fire_ease_off_set },
  { recap_deadline, fire_recap },
  { pause_deadline, fire_pause },
  { abandon_deadline, fire_abandon },
  { back_to_idle_deadline, fire_back_to_idle },
};

static const Timer *
earliest_timer (const WuController *ctl, gint64 *deadline_out)
{
  const Timer *best = NULL;
  gint64 best_deadline = G_MAXINT64;

  for (gsize i = 0; i < G_N_ELEMENTS (timers); i++)
    {
      gint64 deadline = timers[i].deadline (ctl);
      if (deadline < best_deadline)
        {
          best = &timers[i];
          best_deadline = deadline;
        }
    }
  *deadline_out = best_deadline;
  return best;
}

/* Fire, in time order and each at its own deadline, every timer due at or before `now`,
 * then move the clock to `now`. Returns the time the input is applied at. */
static gint64
advance_to (WuController *ctl, gint64 now_us, WuActions *out)
{
  now_us = MAX (now_us, ctl->now_us);   /* never backwards */

  for (;;)
    {
      gint64 deadline;
      const Timer *timer = earliest_timer (ctl, &deadline);
      if (timer == NULL || deadline > now_us)
        break;
      ctl->now_us = MAX (deadline, ctl->now_us);
      timer->fire (ctl, ctl->now_us, out);
    }
  ctl->now_us = now_us;
  return now_us;
}

/* ---- samples ---------------------------------------------------------------------------- */

static void
remember (Reported *reported, double value, gint64 t)
{
  if (value < 0)
    return;
  *reported = (Reported) { .known = TRUE, .value = value, .time_us = t };
}

static void
forget_reported_values (WuController *ctl)
{
  ctl->cadence.known = ctl->power.known = ctl->speed.known = ctl->resistance.known = FALSE;
}

static gboolean
continues_run (const WuController *ctl, gint64 t)
{
  return ctl->run_active && t - ctl->run_last_us <= ctl->config.stale_after_us;
}

/* Where a run begun by a pedalling sample at T starts. The sample's cadence was measured
 * over a revolution period that ended with it (SINCE_PERIOD_START_US): the rider pedalled
 * at that cadence (>= MinCadence) through it. Counted from T, each bout lost that first
 * period (the first revolution gives no cadence; a BLE sensor's first frame after a rest
 * none either): ~1 s from a reed switch, a report interval from a BLE sensor. A period
 * longer than StaleAfter would not have continued a run either; and none reaches back past
 * run_floor_us (nothing is counted twice, nor across a stop, the link lost or a Start()). */
static gint64
new_run_start (const WuController *ctl, gint64 t, gint64 since_period_start_us)
{
  if (since_period_start_us <= 0 || since_period_start_us > ctl->config.stale_after_us)
    return t;
  return CLAMP (t - since_period_start_us, MIN (ctl->run_floor_us, t), t);
}

/* Extend or begin (at RUN_START_US) the pedalling run; returns the time counted by this
 * sample. */
static gint64
track_pedalling_run (WuController *ctl, gint64 t, gint64 run_start_us)
{
  gint64 counted;

  if (continues_run (ctl, t))
    counted = t - ctl->run_last_us;
  else
    {
      ctl->run_active = TRUE;
      ctl->run_first_sample_us = t;
      ctl->run_counted_us = 0;
      counted = t - run_start_us;
    }
  ctl->run_counted_us += counted;
  ctl->run_last_us = t;
  ctl->pedalled_ever = TRUE;
  ctl->last_pedal_us = t;
  raise_run_floor (ctl, t);
  return counted;
}

/* The run has gone on for StartAfter, measured from its first sample, not from the start
 * of the period that sample measured (which is counted once it starts): that period runs
 * between frame arrivals for a BLE sensor, up to a report interval past the revolutions,
 * and 2.2 s of pedalling started a warm-up needing 3. */
static gboolean
sustained_for_start_after (const WuController *ctl, gint64 t)
{
  return t - ctl->run_first_sample_us >= ctl->config.start_after_us;
}

/* Paused by a stop at the bike's console, with no "started" (0x04) since: the rider rides
 * again once a run begun after the stop (machine_stopped ended the one before) is sustained
 * for start_after, as for autostart. A bike that goes on sending cadence while stopped (a
 * flywheel still turning) does not undo the rider's stop at its next sample. The run is
 * counted, as autostart counts it, and the cap goes with .resume: the FTMS session holds
 * every cap while the bike is console-stopped, and would otherwise leave it uncapped. */
static void
resume_after_console_stop (WuController *ctl, gint64 t, WuActions *out)
{
  if (!sustained_for_start_after (ctl, t))
    return;
  ctl->console_stopped = FALSE;
  set_state (ctl, WU_STATE_WARMING_UP, t, out);
  ctl->elapsed_us += ctl->run_counted_us;
  ctl->activity_us = t;
  if (cap_active (ctl))
    {
      g_debug ("pedalling again after the console stop: the stop is over, capping at %.1f",
               ctl->cap);
      send_resume_cap (ctl, t, out);
    }
}

static void
on_pedalling_sample (WuController *ctl, gint64 t, gint64 since_period_start_us,
                     WuActions *out)
{
  /* before this sample raises the floor */
  gint64 run_start = new_run_start (ctl, t, since_period_start_us);
  gboolean continued = continues_run (ctl, t);

  /* After a console stop, a run counts only once the pedalling has stopped: a sample below
   * MinCadence (on_cadence_sample), or the cadence not believed any more (no pedalling
   * sample for StaleAfter) since the stop. A rider who pressed Stop still pedalling, or a
   * bike that goes on sending cadence while stopped, does not start a run at all. */
  if (ctl->console_stopped && !ctl->console_gap_seen &&
      (!ctl->pedalled_ever || t - ctl->last_pedal_us > ctl->config.stale_after_us))
    ctl->console_gap_seen = TRUE;

  gint64 counted = track_pedalling_run (ctl, t, run_start);

  if (ctl->state == WU_STATE_PAUSED && ctl->console_stopped && !ctl->console_gap_seen)
    {
      /* no run yet: the next pedalling sample does not continue this one */
      ctl->run_active = FALSE;
      return;
    }

  switch (ctl->state)
    {
    case WU_STATE_IDLE:
      if (ctl->config.autostart == WU_AUTOSTART_PEDAL && sustained_for_start_after (ctl, t))
        begin_session (ctl, t, ctl->run_counted_us, out);
      break;
    case WU_STATE_PAUSED:
      if (ctl->console_stopped)
        {
          resume_after_console_stop (ctl, t, out);
          break;
        }
      /* Paused for want of samples (PauseAfter), this one within StaleAfter of the last: the
       * run goes on, and the gap counts as between any two pedalling samples (PauseAfter
       * can be shorter than StaleAfter). Else a new run begins with this sample's period:
       * nothing of the gap before it counts. */
      ctl->run_counted_us = continued ? counted : t - run_start;
      set_state (ctl, WU_STATE_WARMING_UP, t, out);
      ctl->elapsed_us += ctl->run_counted_us;
      ctl->activity_us = t;
      break;
    case WU_STATE_WARMING_UP:
      ctl->elapsed_us += counted;
      ctl->activity_us = t;
      break;
    case WU_STATE_COMPLETE:
    case WU_STATE_CANCELLED:
    default:
      break;
    }
}

static void
track_high_cadence (WuController *ctl, double cadence, gint64 t, WuActions *out)
{
  if (cadence <= ctl->config.max_cadence)
    {
      ctl->high_active = FALSE;
      clear_hint (ctl, out);
      return;
    }

  if (!ctl->high_active || t - ctl->high_last_us > ctl->config.stale_after_us)
    {
      ctl->high_active = TRUE;
      ctl->high_since_us = t;
    }
  ctl->high_last_us = t;

  if (session_active (ctl) && t - ctl->high_since_us >= ctl->config.ease_off_after_us)
    set_ease_off_hint (ctl, out);
}

/* A cadence still >= MinCadence that the estimator projected at a deadline (the next
 * revolution due, or overdue and the cadence falling): no news that the rider still pedals.
 * Counted up to it, a stop counted the time the cadence takes to fall below MinCadence after
 * the last revolution (~1.5 s from a reed switch, a BLE sensor's report interval more).
 * It keeps alive what a pedalling sample does (the run, the warm-up against PauseAfter) and
 * counts nothing, starts nothing, resumes nothing: the next revolution counts the whole time
 * since the last one (no more than StaleAfter: continues_run()), a stop nothing after it. */
static void
on_projected_pedalling (WuController *ctl, gint64 t)
{
  ctl->last_pedal_us = t;
  if (ctl->state == WU_STATE_WARMING_UP)
    ctl->activity_us = t;
}

static void
on_cadence_sample (WuController *ctl, const WuSample *sample, gint64 t, WuActions *out)
{
  double cadence = sample->cadence_rpm;

  if (cadence >= ctl->config.min_cadence && sample->projected)
    on_projected_pedalling (ctl, t);
  else if (cadence >= ctl->config.min_cadence)
    on_pedalling_sample (ctl, t, sample->since_period_start_us, out);
  else
    {
      ctl->run_active = FALSE;
      raise_run_floor (ctl, t);   /* not pedalling (or not fast enough) up to here */
      if (ctl->console_stopped)
        ctl->console_gap_seen = TRUE;   /* the pedalling stopped after the console stop */
    }

  track_high_cadence (ctl, cadence, t, out);
}

static void
track_over_cap (WuController *ctl, double resistance, gint64 t, WuActions *out)
{
  if (!session_active (ctl) || !cap_active (ctl) ||
      !wu_ftms_above_target (resistance, ctl->cap))
    {
      ctl->over_active = FALSE;
      return;
    }
  /* a report that is no longer believed does not make the resistance above the cap "for
   * ReapplyAfter": after such a gap the run begins again */
  gboolean continues = ctl->over_active &&
                       t - ctl->over_last_us <= ctl->config.stale_after_us;
  ctl->insists = 0;   /* a new report: re-caps go by it again */
  ctl->over_active = TRUE;
  ctl->over_last_us = t;
  if (!continues)
    ctl->over_since_us = t;
  else if (over_cap_since_last_cap (ctl) &&
           t - ctl->over_since_us >= ctl->config.reapply_after_us)
    fire_recap (ctl, t, out);
}

/* Figures of the summary, from samples applied while warming up. */
static void
accumulate_summary (WuController *ctl, const WuSample *sample)
{
  if (ctl->state != WU_STATE_WARMING_UP)
    return;

  double cadence = sample->cadence_rpm;
  if (cadence >= 0)
    ctl->cadence_max = MAX (ctl->cadence_max, cadence);
  if (cadence >= ctl->config.min_cadence)
    {
      ctl->cadence_sum += cadence;
      ctl->cadence_n++;
    }
  if (sample->power_w >= 0)
    {
      ctl->power_sum += sample->power_w;
      ctl->power_max = MAX (ctl->power_max, sample->power_w);
      ctl->power_n++;
    }
}

void
wu_controller_sample (WuController *ctl, const WuSample *sample, WuActions *out)
{
  g_return_if_fail (ctl != NULL && sample != NULL && out != NULL);

  gint64 t = advance_to (ctl, sample->time_us, out);
  /* a disconnected bike cannot be talking to us: whatever arrives now is not believed */
  if (!ctl->link_up)
    return;

  remember (&ctl->cadence, sample->cadence_rpm, t);
  remember (&ctl->power, sample->power_w, t);
  remember (&ctl->speed, sample->speed_kmh, t);
  remember (&ctl->resistance, sample->resistance, t);

  if (sample->cadence_rpm >= 0)
    on_cadence_sample (ctl, sample, t, out);
  accumulate_summary (ctl, sample);
  if (sample->resistance >= 0)
    track_over_cap (ctl, sample->resistance, t, out);
  complete_if_done (ctl, t, out);
}

/* ---- link, start, stop, tick --------------------------------------------------------- */

static void
on_link_down (WuController *ctl, gint64 t, WuActions *out)
{
  ctl->link_up = FALSE;
  ctl->run_active = FALSE;
  raise_run_floor (ctl, t);
  forget_reported_values (ctl);
  if (ctl->state == WU_STATE_WARMING_UP)
    pause_session (ctl, t, out);
  ctl->high_active = FALSE;
  ctl->over_active = FALSE;
  /* a reconnected bike is asked for control, started and capped again */
  ctl->console_stopped = FALSE;
  clear_hint (ctl, out);
}

static void
on_link_up (WuController *ctl, gint64 t, WuActions *out)
{
  ctl->link_up = TRUE;
  raise_run_floor (ctl, t);   /* nothing heard while down counts */
  /* a reconnected bike has forgotten its limits */
  if (session_active (ctl) && cap_active (ctl))
    send_cap (ctl, t, out);
}

void
wu_controller_link (WuController *ctl, gint64 now_us, gboolean up, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);

  gint64 t = advance_to (ctl, now_us, out);
  if (!up == !ctl->link_up)
    return;
  if (up)
    on_link_up (ctl, t, out);
  else
    on_link_down (ctl, t, out);
}

void
wu_controller_tick (WuController *ctl, gint64 now_us, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);
  advance_to (ctl, now_us, out);
}

void
wu_controller_target_resistance (WuController *ctl, gint64 now_us, double level,
                                 WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);

  gint64 t = advance_to (ctl, now_us, out);
  if (!ctl->link_up || !session_active (ctl) || !cap_active (ctl) ||
      !wu_ftms_above_target (level, ctl->cap))
    return;
  g_debug ("the bike's target resistance %.1f is above the cap %.1f: re-capping", level,
           ctl->cap);
  fire_recap (ctl, t, out);
  ctl->insists = 0;   /* the bike's own word, as new as a report */
}

void
wu_controller_machine_stopped (WuController *ctl, gint64 now_us, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);

  gint64 t = advance_to (ctl, now_us, out);
  /* the pedalling run ends here: nothing after the stop counts (nor, for a run begun later,
   * before it) */
  ctl->run_active = FALSE;
  raise_run_floor (ctl, t);
  if (session_active (ctl))
    {
      ctl->console_stopped = TRUE;
      /* a gap must be seen after this stop (a second stop asks for one again) */
      ctl->console_gap_seen = FALSE;
    }
  if (ctl->state == WU_STATE_WARMING_UP)
    pause_session (ctl, t, out);
}

void
wu_controller_run_source_lost (WuController *ctl, gint64 now_us, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);

  gint64 t = advance_to (ctl, now_us, out);
  ctl->run_active = FALSE;
  raise_run_floor (ctl, t);
}

void
wu_controller_stopped_bike_back (WuController *ctl, gint64 now_us, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);

  advance_to (ctl, now_us, out);
  if (ctl->console_stopped)
    ctl->run_active = FALSE;   /* nothing from before the stop continues a run */
  ctl->console_stopped = FALSE;
}

void
wu_controller_machine_started (WuController *ctl, gint64 now_us, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);
  gint64 t = advance_to (ctl, now_us, out);
  /* the bike says it runs again (its FTMS session puts the cap back on that word): the
   * next pedalling sample resumes, as after any pause, with no time from before this */
  if (ctl->console_stopped)
    ctl->run_active = FALSE;
  ctl->console_stopped = FALSE;
  raise_run_floor (ctl, t);
}

gboolean
wu_controller_start (WuController *ctl, gint64 now_us, WuActions *out, GError **error)
{
  g_return_val_if_fail (ctl != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gint64 t = advance_to (ctl, now_us, out);
  if (session_active (ctl))
    {
      g_set_error (error, WU_ERROR, WU_ERROR_ALREADY_RUNNING, "A warm-up is already %s",
                   wu_state_to_string (ctl->state));
      return FALSE;
    }
  /* counting begins with the next pedalling sample (its period, from now at the earliest) */
  ctl->run_active = FALSE;
  raise_run_floor (ctl, t);
  begin_session (ctl, t, 0, out);
  return TRUE;
}

gboolean
wu_controller_stop (WuController *ctl, gint64 now_us, WuActions *out, GError **error)
{
  g_return_val_if_fail (ctl != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gint64 t = advance_to (ctl, now_us, out);
  if (!session_active (ctl))
    {
      g_set_error (error, WU_ERROR, WU_ERROR_NOT_RUNNING, "No warm-up is running (%s)",
                   wu_state_to_string (ctl->state));
      return FALSE;
    }
  end_session (ctl, WU_STATE_CANCELLED, t, out);
  return TRUE;
}

/* ---- construction and configuration --------------------------------------------------- */

WuController *
wu_controller_new (const WuControllerConfig *config)
{
  WuController *ctl = g_new0 (WuController, 1);

  if (config != NULL)
    ctl->config = *config;
  else
    wu_controller_config_init (&ctl->config);
  ctl->now_us = G_MININT64;
  ctl->run_floor_us = G_MININT64;
  /* a controller is created for a bike it can hear; the caller reports losing it */
  ctl->link_up = TRUE;
  ctl->state = WU_STATE_IDLE;
  ctl->hint = WU_HINT_NONE;
  reset_session (ctl);
  return ctl;
}

void
wu_controller_free (WuController *ctl)
{
  g_free (ctl);
}

void
wu_controller_set_config (WuController *ctl, const WuControllerConfig *config)
{
  g_return_if_fail (ctl != NULL && config != NULL);
  /* counted time stays; a shorter duration completes a warming-up or paused session at the
   * next input (completion timer) */
  ctl->config = *config;
}

void
wu_controller_set_resistance_range (WuController *ctl, double minimum, double maximum,
                                    double increment, WuActions *out)
{
  g_return_if_fail (ctl != NULL && out != NULL);

  ctl->range_known = maximum >= minimum;
  ctl->range_min = minimum;
  ctl->range_max = maximum;
  ctl->range_inc = increment;

  if (!session_active (ctl))
    return;
  double cap = resolve_cap (ctl);
  if (cap == ctl->cap)
    return;
  ctl->cap = cap;
  ctl->over_active = FALSE;
  if (cap_active (ctl))
    send_cap (ctl, ctl->now_us, out);
}

/* ---- queries ------------------------------------------------------------------------------ */

static void
consider_stale_moment (const WuController *ctl, const Reported *reported, gint64 *deadline)
{
  if (!ctl->link_up || !reported->known)
    return;
  gint64 stale_at = add_us (add_us (reported->time_us, ctl->config.stale_after_us), 1);
  if (stale_at > ctl->now_us)
    *deadline = MIN (*deadline, stale_at);
}

gint64
wu_controller_next_deadline (const WuController *ctl)
{
  g_return_val_if_fail (ctl != NULL, G_MAXINT64);

  gint64 deadline;
  earliest_timer (ctl, &deadline);
  /* the caller republishes motion values when they go stale */
  consider_stale_moment (ctl, &ctl->cadence, &deadline);
  consider_stale_moment (ctl, &ctl->power, &deadline);
  consider_stale_moment (ctl, &ctl->speed, &deadline);
  return deadline;
}

WuState
wu_controller_get_state (const WuController *ctl)
{
  g_return_val_if_fail (ctl != NULL, WU_STATE_IDLE);
  return ctl->state;
}

WuHint
wu_controller_get_hint (const WuController *ctl)
{
  g_return_val_if_fail (ctl != NULL, WU_HINT_NONE);
  return ctl->hint;
}

double
wu_controller_get_elapsed (const WuController *ctl)
{
  g_return_val_if_fail (ctl != NULL, 0);
  return (double) ctl->elapsed_us / G_USEC_PER_SEC;
}

double
wu_controller_get_duration (const WuController *ctl)
{
  g_return_val_if_fail (ctl != NULL, 0);
  if (ctl->state == WU_STATE_COMPLETE || ctl->state == WU_STATE_CANCELLED)
    return (double) ctl->ended_duration_us / G_USEC_PER_SEC;
  return (double) ctl->config.duration_us / G_USEC_PER_SEC;
}

double
wu_controller_get_cap (const WuController *ctl)
{
  g_return_val_if_fail (ctl != NULL, -1);
  return ctl->cap;
}

static double
believed_motion (const WuController *ctl, const Reported *reported, gint64 now_us)
{
  if (!ctl->link_up || !reported->known)
    return -1;
  if (now_us - reported->time_us > ctl->config.stale_after_us)
    return 0;
  return reported->value;
}

double
wu_controller_get_cadence (const WuController *ctl, gint64 now_us)
{
  g_return_val_if_fail (ctl != NULL, -1);
  return believed_motion (ctl, &ctl->cadence, now_us);
}

double
wu_controller_get_power (const WuController *ctl, gint64 now_us)
{
  g_return_val_if_fail (ctl != NULL, -1);
  return believed_motion (ctl, &ctl->power, now_us);
}

double
wu_controller_get_speed (const WuController *ctl, gint64 now_us)
{
  g_return_val_if_fail (ctl != NULL, -1);
  return believed_motion (ctl, &ctl->speed, now_us);
}

double
wu_controller_get_resistance (const WuController *ctl, gint64 now_us)
{
  g_return_val_if_fail (ctl != NULL, -1);
  (void) now_us;   /* a setting does not go stale */
  if (!ctl->link_up || !ctl->resistance.known)
    return -1;
  return ctl->resistance.value;
}

void
wu_controller_get_summary (const WuController *ctl, WuSummary *summary)
{
  g_return_if_fail (ctl != NULL && summary != NULL);
  fill_summary (ctl, summary);
}
