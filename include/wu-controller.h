/* The warm-up controller. Pure: no I/O, no clock of its own. It is fed timestamped samples,
 * link changes, Start/Stop and clock ticks, and answers with the actions to take.
 * Times are microseconds on one monotonic clock chosen by the caller (trace time when
 * replaying). The caller must never go back in time, and must call wu_controller_tick()
 * at wu_controller_next_deadline() (or later, it then catches up) so timers fire. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WU_STATE_IDLE,
  WU_STATE_WARMING_UP,
  WU_STATE_PAUSED,
  WU_STATE_COMPLETE,
  WU_STATE_CANCELLED,
} WuState;

typedef enum {
  WU_AUTOSTART_PEDAL,   /* start when pedalling is sustained for start_after */
  WU_AUTOSTART_MANUAL,  /* start only on Start() */
} WuAutostart;

typedef enum {
  WU_HINT_NONE,
  WU_HINT_EASE_OFF,     /* cadence above max_cadence for ease_off_after */
} WuHint;

typedef struct {
  WuAutostart autostart;
  double min_cadence;          /* rpm; pedalling means cadence >= this (40) */
  double max_cadence;          /* rpm; above this for ease_off_after sets ease-off (100) */
  gint64 start_after_us;       /* sustained pedalling before autostart (3 s) */
  gint64 pause_after_us;       /* no pedalling sample for this long: paused (5 s) */
  gint64 abandon_after_us;     /* paused this long: cancelled; stopped this long after
                                  complete/cancelled: back to idle (300 s) */
  gint64 stale_after_us;       /* a sample older than this is not believed (3 s) */
  gint64 ease_off_after_us;    /* (10 s) */
  gint64 duration_us;          /* counted time to complete (600 s) */
  gint64 reapply_after_us;     /* resistance above the cap this long: cap again (2 s) */
  double cap_level;            /* resistance cap as a level, fitted onto the supported
                                  range once known (below it: its minimum); < 0: none (-1) */
  double cap_percent;          /* cap as % of the supported range (used when cap_level < 0
                                  and a range is known); < 0: none (30 %) */
  double power_cap_w;          /* for bikes with only power targets; < 0: none (100 W) */
} WuControllerConfig;

void wu_controller_config_init (WuControllerConfig *config);   /* the defaults above */

/* A decoded sample. Any value < 0 means "not reported in this sample". */
typedef struct {
  gint64 time_us;
  double cadence_rpm;
  double power_w;
  double speed_kmh;
  double resistance;
  /* The cadence is the estimator's projection at a deadline (the next revolution due or
   * overdue), not news of a revolution: it keeps a pedalling run going but counts no time
   * by itself; the next revolution counts the time since the last one. */
  gboolean projected;
  /* A cadence measured from revolutions (a reed switch, a BLE crank counter): the time from
   * the revolution its period was measured from (as the estimator dated it) to time_us. The
   * rider pedalled at about this cadence through it, so a run this sample begins is counted
   * from there (see wu_controller_sample). 0: not known (an FTMS bike's own cadence, a
   * projected sample, a first revolution, the first after a rest or a sensor reset). */
  gint64 since_period_start_us;
} WuSample;

void wu_sample_init (WuSample *sample, gint64 time_us);   /* all values -1, not projected,
                                                             no period known */

typedef enum {
  WU_ACTION_STATE,          /* old_state -> new_state */
  WU_ACTION_HINT,           /* hint changed to .hint */
  WU_ACTION_CAP,            /* cap resistance at .cap (also re-assertions); .resume: the
                               warm-up resumed after a console stop, which is over */
  WU_ACTION_RELEASE,        /* release the bike (no cap any more) */
  WU_ACTION_START_FLOOR_ROUTINE, /* the warm-up is complete: .summary */
} WuActionKind;

typedef struct {
  double duration_s;        /* counted seconds */
  double avg_cadence;       /* mean of pedalling samples counted in the warm-up; -1: none */
  double max_cadence;       /* -1 when no cadence was reported */
  double avg_power;         /* mean of power over those samples; -1 when none reported */
  double max_power;         /* -1 when none reported */
  guint pauses;             /* warming-up -> paused transitions */
  guint recaps;             /* cap re-assertions after the first */
} WuSummary;

typedef struct {
  WuActionKind kind;
  WuState old_state, new_state;
  WuHint hint;
  double cap;
  gboolean resume;          /* CAP: the rider rides again after a console stop (see
                               wu_controller_machine_stopped) */
  WuSummary summary;
} WuAction;

#define WU_ACTIONS_MAX 16
typedef struct {
  guint n;
  WuAction items[WU_ACTIONS_MAX];
} WuActions;

typedef struct WuController WuController;

WuController *wu_controller_new (const WuControllerConfig *config);
void wu_controller_free (WuController *ctl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuController, wu_controller_free)

/* Replace the configuration (a reload); the running session keeps its counted time. A
 * duration at or below that time completes the session, warming-up or paused, at the next
 * input or tick. */
void wu_controller_set_config (WuController *ctl, const WuControllerConfig *config);
/* The bike's supported resistance range (0x2AD6), for a percentage cap and to fit any cap
 * onto (wu_ftms_fit_target, as the FTMS session fits what it writes). If a session is
 * active and the cap changes because of it, a WU_ACTION_CAP is emitted. The session's cap
 * follows the cap settings in force when it began: a reloaded one waits for the next. */
void wu_controller_set_resistance_range (WuController *ctl, double minimum, double maximum,
                                         double increment, WuActions *out);

/* Each of these first fires any timers due at or before the given time, then applies the
 * input. `out` is appended to (call wu_actions_clear() first).
 * A pedalling sample (cadence >= min_cadence, not projected) counts the time since the last
 * one of its run (within stale_after). One that begins a run counts the period it measured
 * (since_period_start_us, up to stale_after), but never from before the last pedalling
 * sample, a sample below min_cadence, Start(), the return to idle, a console stop or
 * start, or the link going down or up. */
void wu_controller_sample (WuController *ctl, const WuSample *sample, WuActions *out);
void wu_controller_link (WuController *ctl, gint64 now_us, gboolean up, WuActions *out);
/* Several sources, and another keeps the link up, so nothing pauses:
 * - the source whose cadence fed the pedalling run lost its link: the run ends there, as at
 *   a link loss (nothing is counted across its outage);
 * - the bike that reported a console stop is connected again: its FTMS session took it,
 *   started and capped it again, so the stop is over, as after a link loss (the warm-up
 *   resumes as after any pause). */
void wu_controller_run_source_lost (WuController *ctl, gint64 now_us, WuActions *out);
void wu_controller_stopped_bike_back (WuController *ctl, gint64 now_us, WuActions *out);
void wu_controller_tick (WuController *ctl, gint64 now_us, WuActions *out);
/* The bike reports its target resistance changed to LEVEL (FTMS status 0x07: the rider
 * turned the knob, or another app wrote it). Above the active cap during a session: a
 * WU_ACTION_CAP at once (counted in the summary's recaps), without waiting ReapplyAfter. */
void wu_controller_target_resistance (WuController *ctl, gint64 now_us, double level,
                                      WuActions *out);
/* The bike reports it was stopped or paused at its console (FTMS status 0x02, or 0x03 the
 * safety key): a warming-up session pauses at once (no need to wait PauseAfter). Started
 * or resumed at the console (0x04) changes no state by itself: as after any pause, the
 * next pedalling sample resumes the count.
 * Without a 0x04 (many bikes never send it), the console stop ends when the rider rides
 * again: pedalling sustained for start_after, begun after a gap seen since the stop (a
 * cadence below min_cadence, or no pedalling sample for stale_after), so a rider who pressed
 * Stop still pedalling, a flywheel still turning, or a bike that keeps sending cadence while
 * stopped, does not undo the rider's stop however long it goes on. That resumes the warm-up, counted from the run's start as autostart
 * does, with a WU_ACTION_CAP marked .resume: the stop is over, the bike is started again
 * and capped (the FTMS session holds every cap while the bike is stopped at its console). */
void wu_controller_machine_stopped (WuController *ctl, gint64 now_us, WuActions *out);
void wu_controller_machine_started (WuController *ctl, gint64 now_us, WuActions *out);
/* Start(): allowed in idle, complete and cancelled (a fresh session); WU_ERROR_ALREADY_RUNNING
 * when warming-up or paused. Stop(): cancels a warming-up or paused session (release);
 * WU_ERROR_NOT_RUNNING otherwise. */
gboolean wu_controller_start (WuController *ctl, gint64 now_us, WuActions *out, GError **error);
gboolean wu_controller_stop (WuController *ctl, gint64 now_us, WuActions *out, GError **error);

/* When the controller next needs a tick (G_MAXINT64: nothing pending). */
gint64 wu_controller_next_deadline (const WuController *ctl);

WuState wu_controller_get_state (const WuController *ctl);
WuHint wu_controller_get_hint (const WuController *ctl);
double wu_controller_get_elapsed (const WuController *ctl);        /* counted seconds */
double wu_controller_get_duration (const WuController *ctl);       /* seconds */
double wu_controller_get_cap (const WuController *ctl);            /* active cap, -1: none */
/* The believed cadence at now: -1 before any sample reported it or while the link is down,
 * 0 when the last reported cadence is older than stale_after, else that cadence. Power and
 * speed follow the same rule. Resistance is a setting of the bike, not a motion: it keeps its
 * last reported value while the link is up (-1 before any report and while it is down). */
double wu_controller_get_cadence (const WuController *ctl, gint64 now_us);
double wu_controller_get_power (const WuController *ctl, gint64 now_us);
double wu_controller_get_speed (const WuController *ctl, gint64 now_us);
double wu_controller_get_resistance (const WuController *ctl, gint64 now_us);
void wu_controller_get_summary (const WuController *ctl, WuSummary *summary);

const char *wu_state_to_string (WuState state);   /* "idle", "warming-up", ... */
const char *wu_hint_to_string (WuHint hint);      /* "", "ease-off" */
void wu_actions_clear (WuActions *actions);

G_END_DECLS
