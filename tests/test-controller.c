/* Table-driven tests of the warm-up controller, with a fake clock (in the style of
 * iio-sensor-proxy's orientation table test). Each case is a list of steps; after a step,
 * the fields that are set are checked: state, elapsed, hint, cap, next deadline and the
 * actions that step produced, written compactly ("STATE idle->warming-up,CAP 30"). */
#include "wu-controller.h"
#include "wu-error.h"

#include <math.h>
#include <string.h>

/* Case times are seconds from an arbitrary, non-zero origin, so "0 means unset" bugs show. */
#define ORIGIN_US ((gint64) 5000 * G_USEC_PER_SEC)
#define NONE (-1.0)

typedef enum {
  STEP_CHECK,    /* no input: only check */
  STEP_SAMPLE,   /* cadence, power, resistance (speed -1) */
  STEP_PROJECTED,  /* the estimator's cadence at a deadline (no revolution): cadence */
  STEP_PEDAL,    /* 1 Hz samples at t, t+1, ..., until; cadence, power, resistance */
  STEP_REVOLUTION,   /* a revolution sensor's sample: cadence, measured from a revolution
                        at b (its period start, s) */
  STEP_REVOLUTIONS,  /* 1 Hz revolutions at t, t+1, ..., until: cadence, each period 1 s */
  STEP_LINK_UP,
  STEP_LINK_DOWN,
  STEP_TICK,
  STEP_START,
  STEP_STOP,
  STEP_RANGE,    /* minimum, maximum, increment (no time) */
  STEP_CONFIG,   /* duration in seconds (a reload) */
  STEP_CONFIG_CAP,         /* Cap= level a, or percent b (a reload; NONE: not that kind) */
  STEP_TARGET_RESISTANCE,  /* the bike's target resistance changed to a (FTMS status 0x07) */
  STEP_MACHINE_STOPPED,    /* stopped or paused at the bike's console (status 0x02) */
  STEP_MACHINE_STARTED,    /* started or resumed at the console (status 0x04) */
} StepKind;

typedef struct {
  double t;
  StepKind kind;
  double a, b, c;               /* the values, by kind (see StepKind) */
  double until;                 /* STEP_PEDAL: last sample time */

  /* expectations; NULL / FALSE: not checked */
  const char *actions;          /* "" expects none */
  const char *state;
  const char *hint;             /* "none" or "ease-off" */
  const char *error;            /* START/STOP: "already-running" / "not-running" */
  gboolean check_elapsed;
  double elapsed;
  gboolean check_cap;
  double cap;
  gboolean check_deadline;
  double deadline;              /* seconds; NONE: G_MAXINT64 */
} Step;

/* Step constructors */
#define SAMPLE(t_, cad_) .t = (t_), .kind = STEP_SAMPLE, .a = (cad_), .b = NONE, .c = NONE
#define PROJECTED(t_, cad_) .t = (t_), .kind = STEP_PROJECTED, .a = (cad_), .b = NONE, .c = NONE
#define SAMPLE_PR(t_, cad_, pow_, res_) .t = (t_), .kind = STEP_SAMPLE, .a = (cad_), .b = (pow_), .c = (res_)
#define REVOLUTION(t_, cad_, from_) .t = (t_), .kind = STEP_REVOLUTION, .a = (cad_), \
  .b = (from_), .c = NONE
#define REVOLUTIONS(from_, to_, cad_) .t = (from_), .until = (to_), .kind = STEP_REVOLUTIONS, \
  .a = (cad_), .b = NONE, .c = NONE
#define PEDAL(from_, to_, cad_) .t = (from_), .until = (to_), .kind = STEP_PEDAL, .a = (cad_), .b = NONE, .c = NONE
#define PEDAL_PR(from_, to_, cad_, pow_, res_) .t = (from_), .until = (to_), .kind = STEP_PEDAL, \
  .a = (cad_), .b = (pow_), .c = (res_)
#define LINK_UP(t_) .t = (t_), .kind = STEP_LINK_UP
#define LINK_DOWN(t_) .t = (t_), .kind = STEP_LINK_DOWN
#define TICK(t_) .t = (t_), .kind = STEP_TICK
#define START(t_) .t = (t_), .kind = STEP_START
#define STOP(t_) .t = (t_), .kind = STEP_STOP
#define RANGE(min_, max_, inc_) .kind = STEP_RANGE, .a = (min_), .b = (max_), .c = (inc_)
#define CHECK .kind = STEP_CHECK
#define DURATION(t_, s_) .t = (t_), .kind = STEP_CONFIG, .a = (s_)
#define RELOAD_CAP(t_, level_, percent_) .t = (t_), .kind = STEP_CONFIG_CAP, .a = (level_), \
  .b = (percent_)
#define TARGET_RES(t_, l_) .t = (t_), .kind = STEP_TARGET_RESISTANCE, .a = (l_)
#define MACHINE_STOPPED(t_) .t = (t_), .kind = STEP_MACHINE_STOPPED
#define MACHINE_STARTED(t_) .t = (t_), .kind = STEP_MACHINE_STARTED
/* Expectation helpers */
#define ELAPSED(s_) .check_elapsed = TRUE, .elapsed = (s_)
#define CAP(v_) .check_cap = TRUE, .cap = (v_)
#define DEADLINE(s_) .check_deadline = TRUE, .deadline = (s_)

typedef struct {
  WuAutostart autostart;
  double cap_level;       /* 0 in a table means: none */
  double cap_percent;
  double abandon_after;   /* seconds; 0: the default */
} CaseConfig;

typedef struct {
  const char *name;
  CaseConfig config;
  Step steps[24];
} TableCase;

#define END_OF_STEPS (-1e9)

/* ---- the fake clock and the runner ------------------------------------------------------ */

static gint64
to_us (double seconds)
{
  return ORIGIN_US + (gint64) llround (seconds * G_USEC_PER_SEC);
}

static const char *
action_kind_name (WuActionKind kind)
{
  switch (kind)
    {
    case WU_ACTION_STATE: return "STATE";
    case WU_ACTION_HINT: return "HINT";
    case WU_ACTION_CAP: return "CAP";
    case WU_ACTION_RELEASE: return "RELEASE";
    case WU_ACTION_START_FLOOR_ROUTINE: return "FLOOR";
    default: return "?";
    }
}

static char *
format_actions (const WuActions *actions)
{
  GString *s = g_string_new ("");

  for (guint i = 0; i < actions->n; i++)
    {
      const WuAction *a = &actions->items[i];
      if (i > 0)
        g_string_append_c (s, ',');
      g_string_append (s, action_kind_name (a->kind));
      if (a->kind == WU_ACTION_STATE)
        g_string_append_printf (s, " %s->%s", wu_state_to_string (a->old_state),
                                wu_state_to_string (a->new_state));
      else if (a->kind == WU_ACTION_HINT)
        g_string_append_printf (s, " %s", a->hint == WU_HINT_NONE ? "none" : "ease-off");
      else if (a->kind == WU_ACTION_CAP)
        g_string_append_printf (s, " %g%s", a->cap, a->resume ? " resume" : "");
    }
  return g_string_free (s, FALSE);
}

static void
feed_sample_projected (WuController *ctl, double t, double cadence, double power,
                       double resistance, gboolean projected, WuActions *out)
{
  WuSample sample;
  wu_sample_init (&sample, to_us (t));
  sample.cadence_rpm = cadence;
  sample.power_w = power;
  sample.resistance = resistance;
  sample.projected = projected;
  wu_controller_sample (ctl, &sample, out);
}

static void
feed_sample (WuController *ctl, double t, double cadence, double power, double resistance,
             WuActions *out)
{
  feed_sample_projected (ctl, t, cadence, power, resistance, FALSE, out);
}

/* A revolution at T whose cadence was measured from the revolution at PERIOD_START. */
static void
feed_revolution (WuController *ctl, double t, double cadence, double period_start,
                 WuActions *out)
{
  WuSample sample;
  wu_sample_init (&sample, to_us (t));
  sample.cadence_rpm = cadence;
  sample.since_period_start_us = to_us (t) - to_us (period_start);
  wu_controller_sample (ctl, &sample, out);
}

/* 1 Hz pedalling from `from` to `until` inclusive, actions appended to `out`. */
static void
pedal (WuController *ctl, double from, double until, double cadence, double power,
       double resistance, WuActions *out)
{
  for (double t = from; t <= until + 1e-9; t += 1)
    feed_sample (ctl, t, cadence, power, resistance, out);
}

static void
case_controller_config (const CaseConfig *cc, WuControllerConfig *config)
{
  wu_controller_config_init (config);
  config->autostart = cc->autostart;
  /* The tables say their cap explicitly: start from no cap rather than the 30 % default. */
  config->cap_percent = -1;
  if (cc->cap_level != 0)
    config->cap_level = cc->cap_level;
  if (cc->cap_percent != 0)
    config->cap_percent = cc->cap_percent;
  if (cc->abandon_after != 0)
    config->abandon_after_us = (gint64) llround (cc->abandon_after * G_USEC_PER_SEC);
}

/* A reload: the case's settings with one of them changed. */
static void
reload_duration (WuController *ctl, const CaseConfig *cc, double seconds)
{
  WuControllerConfig config;
  case_controller_config (cc, &config);
  config.duration_us = (gint64) llround (seconds * G_USEC_PER_SEC);
  wu_controller_set_config (ctl, &config);
}

static void
reload_cap (WuController *ctl, const CaseConfig *cc, double level, double percent)
{
  WuControllerConfig config;
  case_controller_config (cc, &config);
  config.cap_level = level;
  config.cap_percent = percent;
  wu_controller_set_config (ctl, &config);
}

static const char *
error_name (const GError *error)
{
  if (error == NULL)
    return NULL;
  g_assert_true (error->domain == WU_ERROR);
  switch (error->code)
    {
    case WU_ERROR_ALREADY_RUNNING: return "already-running";
    case WU_ERROR_NOT_RUNNING: return "not-running";
    default: return "other";
    }
}

static void
run_step (WuController *ctl, const CaseConfig *cc, const Step *step, WuActions *out)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  switch (step->kind)
    {
    case STEP_CHECK:
      break;
    case STEP_SAMPLE:
      feed_sample (ctl, step->t, step->a, step->b, step->c, out);
      break;
    case STEP_PROJECTED:
      feed_sample_projected (ctl, step->t, step->a, NONE, NONE, TRUE, out);
      break;
    case STEP_PEDAL:
      pedal (ctl, step->t, step->until, step->a, step->b, step->c, out);
      break;
    case STEP_REVOLUTION:
      feed_revolution (ctl, step->t, step->a, step->b, out);
      break;
    case STEP_REVOLUTIONS:
      for (double t = step->t; t <= step->until + 1e-9; t += 1)
        feed_revolution (ctl, t, step->a, t - 1, out);
      break;
    case STEP_LINK_UP:
    case STEP_LINK_DOWN:
      wu_controller_link (ctl, to_us (step->t), step->kind == STEP_LINK_UP, out);
      break;
    case STEP_TICK:
      wu_controller_tick (ctl, to_us (step->t), out);
      break;
    case STEP_START:
      ok = wu_controller_start (ctl, to_us (step->t), out, &error);
      break;
    case STEP_STOP:
      ok = wu_controller_stop (ctl, to_us (step->t), out, &error);
      break;
    case STEP_RANGE:
      wu_controller_set_resistance_range (ctl, step->a, step->b, step->c, out);
      break;
    case STEP_CONFIG:
      reload_duration (ctl, cc, step->a);
      break;
    case STEP_CONFIG_CAP:
      reload_cap (ctl, cc, step->a, step->b);
      break;
    case STEP_TARGET_RESISTANCE:
      wu_controller_target_resistance (ctl, to_us (step->t), step->a, out);
      break;
    case STEP_MACHINE_STOPPED:
      wu_controller_machine_stopped (ctl, to_us (step->t), out);
      break;
    case STEP_MACHINE_STARTED:
      wu_controller_machine_started (ctl, to_us (step->t), out);
      break;
    default:
      g_assert_not_reached ();
    }

  g_assert_cmpint (ok, ==, error == NULL);
  g_assert_cmpstr (error_name (error), ==, step->error);
}

static void
check_step (WuController *ctl, const Step *step, const WuActions *out)
{
  if (step->actions != NULL)
    {
      g_autofree char *got = format_actions (out);
      g_assert_cmpstr (got, ==, step->actions);
    }
  if (step->state != NULL)
    g_assert_cmpstr (wu_state_to_string (wu_controller_get_state (ctl)), ==, step->state);
  if (step->hint != NULL)
    g_assert_cmpstr (wu_controller_get_hint (ctl) == WU_HINT_NONE ? "none" : "ease-off", ==,
                     step->hint);
  if (step->check_elapsed)
    g_assert_cmpfloat (wu_controller_get_elapsed (ctl), ==, step->elapsed);
  if (step->check_cap)
    g_assert_cmpfloat (wu_controller_get_cap (ctl), ==, step->cap);
  if (step->check_deadline)
    {
      gint64 expected = step->deadline == NONE ? G_MAXINT64 : to_us (step->deadline);
      g_assert_cmpint (wu_controller_next_deadline (ctl), ==, expected);
    }
}

static WuController *
new_controller (const CaseConfig *cc)
{
  WuControllerConfig config;
  case_controller_config (cc, &config);
  return wu_controller_new (&config);
}

static gboolean
is_end (const Step *step)
{
  return step->t == END_OF_STEPS;
}

static void
test_table_case (gconstpointer data)
{
  const TableCase *tc = data;
  g_autoptr (WuController) ctl = new_controller (&tc->config);

  for (guint i = 0; i < G_N_ELEMENTS (tc->steps) && !is_end (&tc->steps[i]); i++)
    {
      WuActions out;
      wu_actions_clear (&out);
      g_test_message ("%s: step %u at %g s", tc->name, i, tc->steps[i].t);
      run_step (ctl, &tc->config, &tc->steps[i], &out);
      check_step (ctl, &tc->steps[i], &out);
    }
}

/* ---- the table ------------------------------------------------------------------------------ */

#define END { .t = END_OF_STEPS }
#define MANUAL { .autostart = WU_AUTOSTART_MANUAL }
#define LEVEL(l_) { .cap_level = (l_) }
#define PERCENT(p_) { .cap_percent = (p_) }

static const TableCase cases[] = {
  { "autostart-at-exactly-3s", { 0 }, {
    { PEDAL (0, 2, 60), .actions = "", .state = "idle", ELAPSED (0) },
    { SAMPLE (3, 60), .actions = "STATE idle->warming-up", .state = "warming-up", ELAPSED (3) },
    { SAMPLE (4, 60), .actions = "", ELAPSED (4) },
    END } },
  { "no-autostart-at-2.999s", { 0 }, {
    { SAMPLE (0, 60) },
    { SAMPLE (1, 60) },
    { SAMPLE (2.999, 60), .actions = "", .state = "idle", ELAPSED (0) },
    { SAMPLE (3.5, 60), .actions = "STATE idle->warming-up", ELAPSED (3.5) },
    END } },
  { "manual-mode-never-autostarts", MANUAL, {
    { PEDAL (0, 30, 60), .actions = "", .state = "idle", ELAPSED (0) },
    { START (30.5), .actions = "STATE idle->warming-up", .state = "warming-up", ELAPSED (0) },
    /* counting begins at the next pedalling sample: 31 starts, 32 counts 1 s */
    { SAMPLE (31, 60), .actions = "", ELAPSED (0) },
    { SAMPLE (32, 60), ELAPSED (1) },
    END } },
  { "start-stop-errors", { 0 }, {
    { STOP (0), .error = "not-running", .actions = "", .state = "idle" },
    { START (1), .actions = "STATE idle->warming-up" },
    { START (2), .error = "already-running", .actions = "", .state = "warming-up" },
    { TICK (6), .actions = "STATE warming-up->paused", .state = "paused" },
    { START (7), .error = "already-running", .state = "paused" },
    { STOP (8), .actions = "STATE paused->cancelled,RELEASE", .state = "cancelled" },
    { STOP (9), .error = "not-running", .actions = "" },
    { START (10), .actions = "STATE cancelled->warming-up", .state = "warming-up", ELAPSED (0) },
    { STOP (11), .actions = "STATE warming-up->cancelled,RELEASE" },
    END } },
  { "pause-at-exactly-5s", { 0 }, {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { TICK (14.999999), .actions = "", .state = "warming-up" },
    { TICK (15), .actions = "STATE warming-up->paused", .state = "paused", ELAPSED (10) },
    { SAMPLE (20, 60), .actions = "STATE paused->warming-up", ELAPSED (10) },
    { SAMPLE (21, 60), ELAPSED (11) },
    END } },
  { "pause-by-sample-at-deadline", { 0 }, {
    { PEDAL (0, 10, 60) },
    /* a sample exactly at the deadline: the pause fires first, then it resumes */
    { SAMPLE (15, 60), .actions = "STATE warming-up->paused,STATE paused->warming-up",
      .state = "warming-up", ELAPSED (10) },
    END } },
  { "pause-after-start-without-pedalling", MANUAL, {
    { START (0), DEADLINE (5) },
    { TICK (5), .actions = "STATE warming-up->paused", DEADLINE (305) },
    END } },
  { "pause-at-599-resume-complete-at-600", LEVEL (20), {
    { PEDAL (0, 599, 60), .state = "warming-up", ELAPSED (599) },
    { TICK (604), .actions = "STATE warming-up->paused", ELAPSED (599) },
    { SAMPLE (700, 60), .actions = "STATE paused->warming-up", ELAPSED (599) },
    { SAMPLE (700.5, 60), .actions = "", ELAPSED (599.5) },
    { SAMPLE (701, 60), .actions = "STATE warming-up->complete,RELEASE,FLOOR",
      .state = "complete", ELAPSED (600), CAP (-1) },
    END } },
  { "complete-clamps-elapsed", { 0 }, {
    { PEDAL (0, 598, 60), ELAPSED (598) },
    { SAMPLE (600.5, 60), .actions = "STATE warming-up->complete,RELEASE,FLOOR", ELAPSED (600) },
    END } },
  { "stale-gap-breaks-run", { 0 }, {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { SAMPLE (13.5, 60), .actions = "", .state = "warming-up", ELAPSED (10) },
    { SAMPLE (14.5, 60), ELAPSED (11) },
    { SAMPLE (17.5, 60), ELAPSED (14) },   /* exactly 3 s is still within */
    END } },
  { "stale-gap-delays-autostart", { 0 }, {
    { PEDAL (0, 2, 60) },
    { SAMPLE (5.5, 60), .state = "idle" },
    { PEDAL (6.5, 7.5, 60), .state = "idle" },
    { SAMPLE (8.5, 60), .actions = "STATE idle->warming-up", ELAPSED (3) },
    END } },
  { "cadence-40-pedals-39.9-does-not", { 0 }, {
    { PEDAL (0, 3, 40), .state = "warming-up", ELAPSED (3) },
    { SAMPLE (4, 39.9), .actions = "", ELAPSED (3) },
    { SAMPLE (5, 40), ELAPSED (3) },        /* the dip lost 4..5 */
    { SAMPLE (6, 40), ELAPSED (4) },
    { SAMPLE (7, NONE), ELAPSED (4) },      /* no cadence: no change */
    { SAMPLE (8, 40), ELAPSED (6) },
    { TICK (13), .actions = "STATE warming-up->paused" },
    END } },
  { "cadence-39.9-never-autostarts", { 0 }, {
    { PEDAL (0, 20, 39.9), .actions = "", .state = "idle", DEADLINE (23.000001) },
    END } },
  { "link-flaps", LEVEL (30), {
    { PEDAL (0, 10, 60), .actions = "STATE idle->warming-up,CAP 30", ELAPSED (10), CAP (30) },
    { LINK_DOWN (10.5), .actions = "STATE warming-up->paused", .state = "paused", ELAPSED (10) },
    { LINK_DOWN (10.7), .actions = "" },
    { SAMPLE (11, 60), .actions = "", .state = "paused" },   /* not believed while down */
    { LINK_UP (11.5), .actions = "CAP 30", .state = "paused" },
    { LINK_UP (11.6), .actions = "" },
    { SAMPLE (12, 60), .actions = "STATE paused->warming-up", ELAPSED (10) },
    { PEDAL (13, 15, 60), ELAPSED (13) },
    { LINK_DOWN (15.2), .actions = "STATE warming-up->paused" },
    { LINK_UP (15.4), .actions = "CAP 30" },
    { SAMPLE (16, 60), .actions = "STATE paused->warming-up", ELAPSED (13) },
    { LINK_DOWN (16.1) },
    { LINK_UP (16.2), .actions = "CAP 30" },
    { PEDAL (17, 20, 60), ELAPSED (16) },
    { TICK (30), .actions = "STATE warming-up->paused", .state = "paused", ELAPSED (16) },
    END } },
  { "link-down-in-idle-ends-run", { 0 }, {
    { PEDAL (0, 2, 60) },
    { LINK_DOWN (2.5), .actions = "" },
    { LINK_UP (2.6), .actions = "" },
    { SAMPLE (3, 60), .state = "idle" },
    { PEDAL (4, 6, 60), .actions = "STATE idle->warming-up", ELAPSED (3) },
    END } },
  { "abandon-at-exactly-300s-paused", LEVEL (10), {
    { PEDAL (0, 10, 60) },
    { TICK (15), .actions = "STATE warming-up->paused", DEADLINE (315) },
    { TICK (314.999999), .actions = "", .state = "paused" },
    { TICK (315), .actions = "STATE paused->cancelled,RELEASE", .state = "cancelled", CAP (-1),
      ELAPSED (10), DEADLINE (615) },
    END } },
  { "back-to-idle-after-complete", LEVEL (25), {
    { PEDAL (0, 600, 60), .actions = "STATE idle->warming-up,CAP 25,"
      "STATE warming-up->complete,RELEASE,FLOOR", .state = "complete", ELAPSED (600) },
    /* still pedalling: the stop clock restarts at each pedalling sample */
    { PEDAL (601, 620, 60), .actions = "", .state = "complete", DEADLINE (623.000001) },
    { TICK (623.000001), .actions = "", DEADLINE (920) },
    { TICK (919.999999), .actions = "", .state = "complete" },
    { TICK (920), .actions = "STATE complete->idle", .state = "idle", ELAPSED (0), DEADLINE (NONE) },
    { PEDAL (1000, 1003, 60), .actions = "STATE idle->warming-up,CAP 25", ELAPSED (3) },
    END } },
  /* AbandonAfter shorter than StaleAfter: samples 2.5 s apart are one run, yet far enough
   * apart to go back to idle between them. The run before idle must not autostart. */
  { "back-to-idle-begins-a-new-run", { .abandon_after = 2 }, {
    { PEDAL (0, 3, 60), .actions = "STATE idle->warming-up" },
    { STOP (3.5), .actions = "STATE warming-up->cancelled,RELEASE" },
    { CHECK, DEADLINE (5.5) },                       /* idle 2 s after the stop */
    { SAMPLE (6, 60), .actions = "STATE cancelled->idle", .state = "idle", ELAPSED (0) },
    { SAMPLE (8.5, 60), .actions = "", .state = "idle" },
    { SAMPLE (9, 60), .actions = "STATE idle->warming-up", ELAPSED (3) },
    END } },
  { "no-autostart-in-complete", { 0 }, {
    { PEDAL (0, 600, 60), .state = "complete" },
    { TICK (700) },
    { PEDAL (700, 720, 60), .actions = "", .state = "complete", ELAPSED (600) },
    END } },
  { "restart-after-complete", LEVEL (25), {
    { PEDAL (0, 600, 60), .state = "complete" },
    { START (601), .actions = "STATE complete->warming-up,CAP 25", ELAPSED (0), CAP (25) },
    { PEDAL (602, 612, 60), ELAPSED (10) },
    END } },
  { "ease-off-at-exactly-10s-and-cleared", { 0 }, {
    { PEDAL (0, 5, 60), .state = "warming-up" },
    { PEDAL (6, 15, 120), .actions = "", .hint = "none" },
    { TICK (15.999999), .actions = "", DEADLINE (16) },
    { SAMPLE (16, 120), .actions = "HINT ease-off", .hint = "ease-off" },
    { SAMPLE (17, 100), .actions = "HINT none", .hint = "none" },  /* exactly 100 is fine */
    END } },
  { "ease-off-by-tick-cleared-when-stale", { 0 }, {
    { PEDAL (0, 5, 60) },
    { PEDAL (6, 15, 101) },
    { TICK (16), .actions = "HINT ease-off", .hint = "ease-off", DEADLINE (18.000001) },
    { TICK (18.000001), .actions = "HINT none", .hint = "none" },
    END } },
  { "ease-off-needs-fresh-run", { 0 }, {
    { PEDAL (0, 5, 60) },
    { PEDAL (6, 12, 120), DEADLINE (15.000001) },   /* 16 s would be past freshness */
    { SAMPLE (15.5, 120), .actions = "", .hint = "none" },   /* 3.5 s gap: run restarts */
    { PEDAL (16.5, 24.5, 120), .actions = "", .hint = "none", DEADLINE (25.5) },
    { TICK (25.499999), .actions = "", .hint = "none" },
    { TICK (25.5), .actions = "HINT ease-off", .hint = "ease-off" },
    { LINK_DOWN (27), .actions = "STATE warming-up->paused,HINT none", .hint = "none" },
    END } },
  { "ease-off-cleared-on-stop", { 0 }, {
    { PEDAL (0, 13, 120), .hint = "ease-off" },     /* high since the start at 3 s */
    { STOP (13.5), .actions = "STATE warming-up->cancelled,HINT none,RELEASE" },
    { PEDAL (14, 40, 120), .actions = "", .hint = "none" },
    END } },
  { "recap-every-2s-above-cap", LEVEL (30), {
    { PEDAL_PR (0, 3, 60, 100, 20), .actions = "STATE idle->warming-up,CAP 30" },
    { SAMPLE_PR (4, 60, 100, 35), .actions = "", DEADLINE (6) },
    { SAMPLE_PR (5, 60, 100, 35), .actions = "" },
    { SAMPLE_PR (6, 60, 100, 35), .actions = "CAP 30" },
    { SAMPLE_PR (7, 60, 100, 35), .actions = "" },
    { TICK (8), .actions = "CAP 30" },
    { PEDAL_PR (9, 10, 60, 100, 35), .actions = "CAP 30" },
    { SAMPLE_PR (11, 60, 100, 30), .actions = "", DEADLINE (14.000001) },  /* at the cap */
    { SAMPLE_PR (12, 60, 100, 31), .actions = "" },
    { TICK (13.9), .actions = "" },
    { TICK (14), .actions = "CAP 30" },
    { STOP (14.5), .actions = "STATE warming-up->cancelled,RELEASE", CAP (-1) },
    END } },
  /* a re-cap every ReapplyAfter needs a report above the cap newer than the last cap sent;
   * without one the cap is sent again 2, 4, 8 ... (at most 60) s later */
  { "recap-on-new-reports-then-insisting", LEVEL (5), {
    { PEDAL_PR (0, 58, 60, NONE, 5), .actions = "STATE idle->warming-up,CAP 5" },
    { PEDAL_PR (59, 60, 60, NONE, 8), .actions = "", DEADLINE (61) },
    { TICK (61), .actions = "CAP 5", DEADLINE (63) },
    { TICK (63), .actions = "CAP 5" },
    { TICK (67), .actions = "STATE warming-up->paused,CAP 5" },
    { TICK (75), .actions = "CAP 5", DEADLINE (91) },
    { SAMPLE_PR (80, 0, NONE, 5), .actions = "", .state = "paused" },   /* at the cap */
    { TICK (366), .actions = "STATE paused->cancelled,RELEASE" },       /* no more re-caps */
    END } },
  { "recap-while-paused-needs-new-samples", LEVEL (5), {
    { PEDAL_PR (0, 10, 60, NONE, 5) },
    { TICK (15), .actions = "STATE warming-up->paused" },
    { SAMPLE_PR (16, 0, NONE, 8), .actions = "", DEADLINE (18) },
    { SAMPLE_PR (17, 0, NONE, 8), .actions = "" },
    { TICK (18), .actions = "CAP 5", .state = "paused", DEADLINE (20) },
    { TICK (20), .actions = "CAP 5" },   /* no newer report: insisting */
    { TICK (23.9), .actions = "" },
    { TICK (24), .actions = "CAP 5" },
    { TICK (30.9), .actions = "" },
    { SAMPLE_PR (31, 0, NONE, 9), .actions = "", DEADLINE (33) },  /* stale run: a new 2 s */
    { SAMPLE_PR (32, 0, NONE, 9), .actions = "", DEADLINE (33) },
    { TICK (33), .actions = "CAP 5", DEADLINE (35) },
    { SAMPLE_PR (34, 0, NONE, 9), .actions = "", DEADLINE (35) },
    { TICK (35), .actions = "CAP 5", DEADLINE (37) },   /* from the sample at 34 */
    END } },
  { "recap-ignores-stale-resistance", LEVEL (5), {
    { PEDAL_PR (0, 5, 60, NONE, 5), .actions = "STATE idle->warming-up,CAP 5" },
    { SAMPLE_PR (6, 60, NONE, 8), .actions = "", DEADLINE (8) },
    { PEDAL (7, 8, 60), .actions = "CAP 5" },         /* the sample at 6 is fresh at 8 */
    { PEDAL (9, 11, 60), .actions = "CAP 5" },        /* no report: insisting at 10 */
    /* above the cap again after 6 s without a report: not "above for 2 s" yet */
    { SAMPLE_PR (12, 60, NONE, 8), .actions = "", DEADLINE (14) },
    { SAMPLE_PR (13, 60, NONE, 8), .actions = "" },
    { TICK (14), .actions = "CAP 5" },
    END } },
  { "percent-cap-0-100-inc-1", PERCENT (30), {
    { RANGE (0, 100, 1), .actions = "" },
    { PEDAL (0, 3, 60), .actions = "STATE idle->warming-up,CAP 30", CAP (30) },
    END } },
  { "percent-cap-1-32-inc-0.5", PERCENT (25), {
    { RANGE (1, 32, 0.5) },
    { START (0), .actions = "STATE idle->warming-up,CAP 8.5", CAP (8.5) },
    { RANGE (0, 100, 1), .actions = "CAP 25", CAP (25) },   /* recomputed in a session */
    { RANGE (0, 100, 1), .actions = "" },                   /* unchanged: no CAP */
    END } },
  { "percent-cap-binary-noise", PERCENT (29), {
    { RANGE (0, 100, 1) },
    { START (0), .actions = "STATE idle->warming-up,CAP 29" },
    END } },
  { "percent-cap-range-arrives-late", PERCENT (50), {
    { START (0), .actions = "STATE idle->warming-up", CAP (-1) },
    { RANGE (0, 20, 3), .actions = "CAP 9", CAP (9) },
    END } },
  /* a level cap is fitted onto the range as the FTMS session fits the target it writes
   * (wu_ftms_fit_target): the bike's echo of what it was sent is never "above the cap" */
  { "level-cap-below-the-range-is-its-minimum", LEVEL (0.5), {
    { RANGE (1, 32, 1) },
    { PEDAL (0, 3, 60), .actions = "STATE idle->warming-up,CAP 1", CAP (1) },
    { TARGET_RES (3.5, 1.0), .actions = "" },   /* the bike at its lowest: nothing to do */
    { TARGET_RES (3.6, 2.0), .actions = "CAP 1" },
    END } },
  { "level-cap-fitted-when-the-range-arrives", LEVEL (0.5), {
    { START (0), .actions = "STATE idle->warming-up,CAP 0.5", CAP (0.5) },
    { RANGE (1, 32, 1), .actions = "CAP 1", CAP (1) },
    { TARGET_RES (1, 1.0), .actions = "" },
    END } },
  { "level-cap-stepped-down-onto-the-range-increment", LEVEL (3.7), {
    { RANGE (0, 20, 0.5) },
    { START (0), .actions = "STATE idle->warming-up,CAP 3.5", CAP (3.5) },
    { TARGET_RES (1, 3.5), .actions = "" },
    END } },
  /* and stepped down onto the 0.1 of a level the bike is written in: never above Cap= */
  { "level-cap-stepped-down-onto-a-tenth", LEVEL (7.67), {
    { START (0), .actions = "STATE idle->warming-up,CAP 7.6", CAP (7.6) },
    { TARGET_RES (1, 7.6), .actions = "" },
    { TARGET_RES (2, 76 * 0.1), .actions = "" },   /* decoded so: 7.6000000000000005 */
    { SAMPLE_PR (3, 60, NONE, 76 * 0.1), .actions = "" },
    { TICK (6), .actions = "" },                   /* not above the cap for ReapplyAfter */
    { TARGET_RES (7, 7.7), .actions = "CAP 7.6" },
    END } },
  { "level-cap-on-a-tenth-stays", LEVEL (7.7), {
    { START (0), .actions = "STATE idle->warming-up,CAP 7.7", CAP (7.7) },
    END } },
  { "percent-cap-stepped-down-onto-a-tenth", PERCENT (25), {
    { RANGE (0, 7, 0) },
    { START (0), .actions = "STATE idle->warming-up,CAP 1.7", CAP (1.7) },   /* not 1.75 */
    END } },
  { "level-cap-above-the-range-is-its-maximum", LEVEL (40), {
    { RANGE (1, 32, 1) },
    { START (0), .actions = "STATE idle->warming-up,CAP 32", CAP (32) },
    END } },
  /* a reloaded Cap applies from the next warm-up, also when a reconnect reads the range */
  { "reloaded-percent-cap-waits-for-the-next-warm-up", PERCENT (30), {
    { RANGE (0, 100, 1) },
    { PEDAL (0, 10, 60), .actions = "STATE idle->warming-up,CAP 30", CAP (30) },
    { RELOAD_CAP (10.5, NONE, 80), .actions = "", CAP (30) },
    { LINK_DOWN (11), .actions = "STATE warming-up->paused" },
    { LINK_UP (12), .actions = "CAP 30" },
    { RANGE (0, 100, 1), .actions = "", CAP (30) },
    { RANGE (0, 50, 1), .actions = "CAP 15", CAP (15) },   /* another range: 30 % of it */
    { STOP (13), .actions = "STATE paused->cancelled,RELEASE" },
    { START (14), .actions = "STATE cancelled->warming-up,CAP 40", CAP (40) },
    END } },
  { "reloaded-level-cap-waits-for-the-next-warm-up", LEVEL (7), {
    { PEDAL (0, 10, 60), .actions = "STATE idle->warming-up,CAP 7", CAP (7) },
    { RELOAD_CAP (10.5, NONE, 50), .actions = "", CAP (7) },
    { RANGE (0, 100, 1), .actions = "", CAP (7) },
    { STOP (13), .actions = "STATE warming-up->cancelled,RELEASE" },
    { START (14), .actions = "STATE cancelled->warming-up,CAP 50", CAP (50) },
    END } },
  { "reloaded-percent-cap-does-not-replace-a-level", PERCENT (30), {
    { RANGE (0, 100, 1) },
    { START (0), .actions = "STATE idle->warming-up,CAP 30", CAP (30) },
    { RELOAD_CAP (1, 12, NONE), .actions = "", CAP (30) },
    { RANGE (0, 100, 1), .actions = "", CAP (30) },
    { STOP (2), .actions = "STATE warming-up->cancelled,RELEASE" },
    { START (3), .actions = "STATE cancelled->warming-up,CAP 12", CAP (12) },
    END } },
  { "reloaded-cap-none-to-percent-waits-for-the-next-warm-up", { 0 }, {
    { START (0), .actions = "STATE idle->warming-up", CAP (-1) },
    { RELOAD_CAP (1, NONE, 30), .actions = "" },
    { RANGE (0, 100, 1), .actions = "", CAP (-1) },
    { STOP (2), .actions = "STATE warming-up->cancelled,RELEASE" },
    { START (3), .actions = "STATE cancelled->warming-up,CAP 30", CAP (30) },
    END } },
  { "range-arriving-late-uses-the-warm-ups-cap", PERCENT (50), {
    { START (0), .actions = "STATE idle->warming-up", CAP (-1) },
    { RELOAD_CAP (1, NONE, 10), .actions = "" },
    { RANGE (0, 20, 1), .actions = "CAP 10", CAP (10) },   /* 50 %, not the reloaded 10 % */
    END } },
  { "no-cap-is-advisory", { 0 }, {
    { RANGE (0, 100, 1) },
    { PEDAL_PR (0, 10, 60, 100, 90), .actions = "STATE idle->warming-up", CAP (-1) },
    { LINK_DOWN (11) },
    { LINK_UP (12), .actions = "" },
    END } },
  { "next-deadlines", LEVEL (30), {
    { CHECK, DEADLINE (NONE) },
    { SAMPLE (0, 60), DEADLINE (3.000001) },         /* cadence goes stale */
    { PEDAL (1, 3, 60), .state = "warming-up", DEADLINE (6.000001) },
    { TICK (6.000001), .actions = "", DEADLINE (8) },   /* pause */
    { SAMPLE_PR (7, 30, NONE, 40), DEADLINE (8) },      /* over cap; pause still first */
    { TICK (8), .actions = "STATE warming-up->paused", DEADLINE (9) },   /* recap */
    { TICK (9), .actions = "CAP 30", DEADLINE (10.000001) },             /* stale 30 rpm */
    { TICK (10.000001), DEADLINE (11) },    /* no report since the re-cap: insisting */
    { LINK_DOWN (10.5), DEADLINE (308) },               /* nothing above the cap: abandon */
    END } },
  { "big-tick-fires-chained-timers-in-order", { 0 }, {
    { PEDAL (0, 10, 60) },
    { TICK (100000), .actions = "STATE warming-up->paused,STATE paused->cancelled,RELEASE,"
      "STATE cancelled->idle", .state = "idle", ELAPSED (0), DEADLINE (NONE) },
    END } },
  { "chained-timers-fire-at-their-own-deadlines", { 0 }, {
    { PEDAL (0, 10, 60) },
    /* paused at 15, cancelled at 315, so idle is due at 315 + 300 (not at 10 + 300) */
    { TICK (614.999999), .actions = "STATE warming-up->paused,STATE paused->cancelled,RELEASE",
      .state = "cancelled", DEADLINE (615) },
    { TICK (615), .actions = "STATE cancelled->idle", .state = "idle" },
    END } },
  { "big-tick-with-hint-and-recaps", LEVEL (30), {
    /* high cadence since the start at 3 s: ease-off at 13; resistance over the cap since 3:
     * recaps at 5..13, then at 15 from the report at 14, then insisting (17, 21, 29, ...:
     * one CAP in a batch); ease-off cleared at 17.000001, paused at 19, cancelled at 319;
     * idle at 619 */
    { PEDAL_PR (0, 14, 120, NONE, 40), .hint = "ease-off", DEADLINE (15) },
    { TICK (100000), .actions = "CAP 30,HINT none,STATE warming-up->paused,CAP 30,"
      "STATE paused->cancelled,RELEASE,STATE cancelled->idle", .state = "idle", .hint = "none",
      DEADLINE (NONE) },
    END } },
  { "shorter-duration-completes-at-next-input", { 0 }, {
    { PEDAL (0, 100, 60), ELAPSED (100) },
    { DURATION (100.2, 60), .actions = "", ELAPSED (100), DEADLINE (100) },
    { TICK (100.5), .actions = "STATE warming-up->complete,RELEASE,FLOOR", ELAPSED (60) },
    END } },
  { "shorter-duration-completes-a-paused-warm-up", LEVEL (20), {
    { PEDAL (0, 100, 60), ELAPSED (100) },
    { TICK (105), .actions = "STATE warming-up->paused", .state = "paused" },
    { DURATION (106, 60), .actions = "", ELAPSED (100), DEADLINE (105) },
    { TICK (106.5), .actions = "STATE paused->complete,RELEASE,FLOOR", .state = "complete",
      ELAPSED (60), CAP (-1), DEADLINE (405) },
    END } },
  { "shorter-duration-completes-a-paused-warm-up-at-a-sample", { 0 }, {
    { PEDAL (0, 100, 60) },
    { LINK_DOWN (100.5), .actions = "STATE warming-up->paused" },
    { DURATION (101, 30) },
    { LINK_UP (102), .actions = "STATE paused->complete,RELEASE,FLOOR", .state = "complete" },
    { SAMPLE (103, 60), .actions = "", .state = "complete", ELAPSED (30) },
    END } },
  { "longer-duration-keeps-counted-time", { 0 }, {
    { PEDAL (0, 100, 60), ELAPSED (100) },
    { DURATION (100.5, 1200), ELAPSED (100) },
    { PEDAL (101, 700, 60), .state = "warming-up", ELAPSED (700) },
    END } },
  { "time-never-goes-backwards", { 0 }, {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { SAMPLE (9, 60), .actions = "", ELAPSED (10) },   /* treated as at 10 s */
    { SAMPLE (11, 60), ELAPSED (11) },
    END } },
  /* FTMS status 0x07: the bike's own target, re-capped at once (no ReapplyAfter wait) */
  { "target-resistance-above-cap-recaps-at-once", LEVEL (3), {
    { PEDAL (0, 3, 60), .actions = "STATE idle->warming-up,CAP 3" },
    { TARGET_RES (3.5, 8), .actions = "CAP 3", CAP (3) },
    { TARGET_RES (3.6, 3), .actions = "" },            /* at the cap: fine */
    { TARGET_RES (3.7, 2.5), .actions = "" },          /* below: fine */
    { TARGET_RES (3.8, 3.1), .actions = "CAP 3" },
    END } },
  { "target-resistance-outside-a-session-is-ignored", LEVEL (3), {
    { TARGET_RES (0, 20), .actions = "", .state = "idle" },
    { START (1), .actions = "STATE idle->warming-up,CAP 3" },
    { STOP (2), .actions = "STATE warming-up->cancelled,RELEASE" },
    { TARGET_RES (3, 20), .actions = "", CAP (-1) },
    END } },
  { "target-resistance-without-cap-is-ignored", { 0 }, {
    { PEDAL (0, 3, 60), .actions = "STATE idle->warming-up", CAP (-1) },
    { TARGET_RES (4, 20), .actions = "" },
    END } },
  { "target-resistance-while-paused-recaps", LEVEL (3), {
    { PEDAL (0, 3, 60) },
    { TICK (8), .actions = "STATE warming-up->paused" },
    { TARGET_RES (9, 10), .actions = "CAP 3", .state = "paused" },
    END } },
  { "target-resistance-while-link-down-is-ignored", LEVEL (3), {
    { PEDAL (0, 3, 60) },
    { LINK_DOWN (4), .actions = "STATE warming-up->paused" },
    { TARGET_RES (5, 10), .actions = "" },
    { LINK_UP (6), .actions = "CAP 3" },
    END } },
  /* FTMS status 0x02 / 0x04: the console's stop pauses at once; pedalling resumes */
  { "machine-stopped-pauses-at-once", LEVEL (3), {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused", .state = "paused",
      ELAPSED (10) },
    { MACHINE_STOPPED (11), .actions = "", .state = "paused" },   /* already paused */
    { TICK (14), .actions = "", DEADLINE (310.5) },                /* abandon from 10.5 */
    { MACHINE_STARTED (20), .actions = "", .state = "paused" },
    /* a new run begins at 21: the gap does not count */
    { SAMPLE (21, 60), .actions = "STATE paused->warming-up", ELAPSED (10) },
    { SAMPLE (22, 60), ELAPSED (11) },
    END } },
  /* A console stop, the pedalling stops, a run begins (short of StartAfter), the rider
   * presses Start at the console at 13.9: no time from before that counts (the gap to the
   * next sample once did, as a run continued within StaleAfter) */
  { "started-at-console-counts-nothing-before-it", LEVEL (3), {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { SAMPLE (11, 0), .actions = "" },
    { PEDAL (12, 13, 60), .actions = "", .state = "paused" },
    { MACHINE_STARTED (13.9), .actions = "" },
    { SAMPLE (14, 60), .actions = "STATE paused->warming-up", ELAPSED (10) },
    END } },
  /* 0x04 while the rider pedals on in a warm-up, no stop before */
  { "started-while-warming-up-loses-nothing", LEVEL (3), {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { MACHINE_STARTED (10.5), .actions = "" },
    { SAMPLE (11, 60), .actions = "", ELAPSED (11) },
    { SAMPLE (12, 60), .actions = "", ELAPSED (12) },
    END } },
  { "started-while-warming-up-revolutions", LEVEL (3), {
    { START (0), .actions = "STATE idle->warming-up,CAP 3" },
    { REVOLUTIONS (1, 10, 60), ELAPSED (10) },
    { MACHINE_STARTED (10.5), .actions = "" },
    { REVOLUTION (11, 60, 10), .actions = "", ELAPSED (11) },
    END } },
  /* 0x04 in idle while pedalling (a console that starts itself) */
  { "started-in-idle-autostart", { 0 }, {
    { PEDAL (0, 2, 60), .state = "idle" },
    { MACHINE_STARTED (2.5), .actions = "", .state = "idle" },
    { SAMPLE (3, 60), .actions = "STATE idle->warming-up", ELAPSED (3) },
    END } },
  { "machine-stopped-ends-the-run-in-idle", { 0 }, {
    { PEDAL (0, 2, 60), .state = "idle" },
    { MACHINE_STOPPED (2.5), .actions = "", .state = "idle" },
    /* the run restarts at 3: autostart needs 3 s more */
    { PEDAL (3, 5, 60), .actions = "", .state = "idle" },
    { SAMPLE (6, 60), .actions = "STATE idle->warming-up", ELAPSED (3) },
    END } },
  /* a console stop mid-warm-up on a bike that never sends 0x04: riding again (a run begun
   * after the stop, sustained for StartAfter) ends the stop and brings the cap, marked
   * resume (the FTMS session starts the bike again and caps it); a bike that goes on
   * sending cadence after the stop does not undo it at its next sample */
  { "console-stop-ends-when-the-rider-rides-again", LEVEL (3), {
    { PEDAL (0, 10, 60), .actions = "STATE idle->warming-up,CAP 3", ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused", .state = "paused" },
    { SAMPLE (11, 60), .actions = "", .state = "paused", ELAPSED (10) },
    { SAMPLE (12, 0), .actions = "", .state = "paused" },   /* the rider stops pedalling */
    { PEDAL (13, 15, 60), .actions = "", .state = "paused" },
    { SAMPLE (16, 60), .actions = "STATE paused->warming-up,CAP 3 resume",
      .state = "warming-up", ELAPSED (13) },            /* the run from 13 counts */
    { SAMPLE (17, 60), .actions = "", ELAPSED (14) },
    { MACHINE_STOPPED (18), .actions = "STATE warming-up->paused" },   /* another stop */
    { TARGET_RES (18.5, 8), .actions = "CAP 3" },    /* a re-cap: not a resume */
    END } },
  /* the rider presses Stop still pedalling, or the bike goes on sending cadence while
   * stopped: no run counts until the pedalling has stopped (below MinCadence, or no
   * pedalling sample for StaleAfter) since the stop */
  { "console-stop-while-still-pedalling-holds", LEVEL (3), {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { PEDAL (11, 70, 60), .actions = "", .state = "paused", ELAPSED (10) },
    { SAMPLE (71, 10), .actions = "", .state = "paused" },   /* the gap */
    { PEDAL (72, 74, 60), .actions = "", .state = "paused" },
    { SAMPLE (75, 60), .actions = "STATE paused->warming-up,CAP 3 resume", ELAPSED (13) },
    END } },
  { "console-stop-with-the-cadence-going-stale-is-a-gap", LEVEL (3), {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { PEDAL (11, 12, 60), .actions = "", .state = "paused" },
    /* no sample 12 -> 16: the cadence from 12 is not believed after 15 */
    { PEDAL (16, 18, 60), .actions = "", .state = "paused" },
    { SAMPLE (19, 60), .actions = "STATE paused->warming-up,CAP 3 resume", ELAPSED (13) },
    END } },
  { "console-stop-at-stale-edge-is-no-gap", LEVEL (3), {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { PEDAL (13, 20, 60), .actions = "", .state = "paused" },   /* 3 s: still believed */
    END } },
  { "console-stop-a-second-stop-needs-its-own-gap", LEVEL (3), {
    { PEDAL (0, 10, 60) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { SAMPLE (11, 0) },
    { PEDAL (12, 14, 60) },
    { SAMPLE (15, 60), .actions = "STATE paused->warming-up,CAP 3 resume", ELAPSED (13) },
    { MACHINE_STOPPED (15.5), .actions = "STATE warming-up->paused" },
    { PEDAL (16, 60, 60), .actions = "", .state = "paused", ELAPSED (13) },
    END } },
  { "console-stop-needs-a-sustained-run", LEVEL (3), {
    { PEDAL (0, 10, 60) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { PEDAL (11, 12, 60), .actions = "", .state = "paused" },
    { SAMPLE (13, 20), .actions = "", .state = "paused" },   /* the flywheel runs down */
    { PEDAL (14, 16, 60), .actions = "", .state = "paused" },   /* a new run from 14 */
    { SAMPLE (17, 60), .actions = "STATE paused->warming-up,CAP 3 resume", ELAPSED (13) },
    END } },
  { "console-stop-then-started-at-the-console-resumes-at-once", LEVEL (3), {
    { PEDAL (0, 10, 60) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { MACHINE_STARTED (11), .actions = "" },   /* the session re-applies the target itself */
    { SAMPLE (12, 60), .actions = "STATE paused->warming-up" },
    END } },
  { "console-stop-forgotten-over-a-reconnect", LEVEL (3), {
    { PEDAL (0, 10, 60) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { LINK_DOWN (11), .actions = "" },
    { LINK_UP (12), .actions = "CAP 3" },       /* control, start, cap: all again */
    { SAMPLE (13, 60), .actions = "STATE paused->warming-up" },
    END } },
  { "console-stop-without-cap-resumes-without-one", { 0 }, {
    { PEDAL (0, 10, 60) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused" },
    { SAMPLE (11, 0), .actions = "" },
    { PEDAL (12, 14, 60), .actions = "" },
    { SAMPLE (15, 60), .actions = "STATE paused->warming-up" },
    END } },
  /* The estimator's cadence at its deadlines after the last revolution (due at 11 s, then
   * overdue and falling, below MinCadence at 11.75 s): no news of pedalling. It counted
   * 1.5 s of a stop; now nothing after the last revolution. It still keeps the warm-up
   * active: PauseAfter runs from the last projection >= MinCadence, as before. */
  { "projected-cadence-counts-nothing-after-a-stop", { 0 }, {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { PROJECTED (11, 60), .actions = "", ELAPSED (10) },
    { PROJECTED (11.25, 48), ELAPSED (10) },
    { PROJECTED (11.5, 40), ELAPSED (10) },
    { PROJECTED (11.75, 34.3), ELAPSED (10) },
    { TICK (16.499), .actions = "", .state = "warming-up" },
    { TICK (16.5), .actions = "STATE warming-up->paused", .state = "paused", ELAPSED (10) },
    END } },
  /* A revolution after projections: the run went on through them, and the whole time since
   * the last revolution counts at once. */
  { "projected-cadence-keeps-the-run-the-next-revolution-counts-the-gap", { 0 }, {
    { PEDAL (0, 10, 60), ELAPSED (10) },
    { PROJECTED (11, 60), ELAPSED (10) },
    { PROJECTED (11.25, 48), ELAPSED (10) },
    { SAMPLE (11.4, 45), ELAPSED (11.4) },
    { SAMPLE (12.4, 60), ELAPSED (12.4) },
    END } },
  /* ... but a projection changes no state: autostart waits for a revolution (counted
   * from the run's first sample, as always). */
  { "projected-cadence-starts-nothing", { 0 }, {
    { PEDAL (0, 2, 60), .state = "idle" },
    { PROJECTED (3.03, 60), .actions = "", .state = "idle", ELAPSED (0) },
    { SAMPLE (3.2, 60), .actions = "STATE idle->warming-up", .state = "warming-up",
      ELAPSED (3.2) },
    END } },
  /* A revolution sensor's sample that begins a run counts the period its cadence was
   * measured over (from the revolution before): the rider pedalled through it. Counted from
   * the sample, each bout lost its first period (a revolution, or a BLE report interval).
   * The first revolution (cadence 0: no period yet) counts nothing. */
  { "revolution-begins-a-run-at-its-period-start", { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { SAMPLE (4, 0), ELAPSED (0) },
    { REVOLUTION (5, 60, 4), ELAPSED (1) },
    { REVOLUTIONS (6, 10, 60), ELAPSED (6) },
    END } },
  /* Autostart's StartAfter (3 s) runs from the run's first sample, not from the period it
   * measured (for a BLE sensor that period runs between frame arrivals, up to a report
   * interval past the revolutions: 2.2 s of pedalling started it); once started, the run's
   * time from its period start is credited. */
  { "revolution-autostart-after-start-after-from-the-first-sample", { 0 }, {
    { SAMPLE (0, 0), .state = "idle" },
    { REVOLUTIONS (1, 2, 60), .actions = "", .state = "idle" },
    { REVOLUTION (3, 60, 2), .actions = "", .state = "idle" },
    { REVOLUTION (4, 60, 3), .actions = "STATE idle->warming-up", ELAPSED (4) },
    END } },
  /* A period up to StaleAfter is counted (a longer one would not continue a run either). */
  { "revolution-period-up-to-stale-after", { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { REVOLUTION (5, 45, 2), ELAPSED (3) },
    END } },
  { "revolution-period-beyond-stale-after-counts-from-the-sample",
    { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { REVOLUTION (5, 45, 1.9), ELAPSED (0) },
    { REVOLUTION (6, 45, 5), ELAPSED (1) },
    END } },
  /* Pedalling before Start(): the first run of the warm-up counts from Start() at the
   * earliest. */
  { "revolution-period-not-before-start", { .autostart = WU_AUTOSTART_MANUAL }, {
    { REVOLUTIONS (1, 5, 60), .state = "idle" },
    { START (5.5), ELAPSED (0) },
    { REVOLUTION (6, 60, 5), ELAPSED (0.5) },
    { REVOLUTION (7, 60, 6), ELAPSED (1.5) },
    END } },
  /* Autostart credits pedalling begun in idle: not from before the return to idle. */
  { "revolution-period-not-before-idle-again", { .abandon_after = 2 }, {
    { REVOLUTIONS (1, 3, 60), .state = "idle" },
    { REVOLUTION (4, 60, 3), .actions = "STATE idle->warming-up", ELAPSED (4) },
    { STOP (4.5), .actions = "STATE warming-up->cancelled,RELEASE" },
    { TICK (6.5), .actions = "STATE cancelled->idle", .state = "idle" },
    { REVOLUTION (7, 60, 6), .actions = "", .state = "idle" },
    { REVOLUTIONS (8, 9, 60), .actions = "", .state = "idle" },
    { REVOLUTION (10, 60, 9), .actions = "STATE idle->warming-up", ELAPSED (3.5) },
    END } },
  /* A sample below MinCadence ends the run there: the next run reaches no further back. */
  { "revolution-period-not-before-a-sample-below-min-cadence",
    { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { REVOLUTIONS (1, 2, 60), ELAPSED (2) },
    { SAMPLE (3.2, 30), ELAPSED (2) },
    { REVOLUTION (3.8, 60, 2.8), ELAPSED (2.6) },
    END } },
  /* Nothing counted twice, nothing heard while the link was down: a run after the link
   * came back counts from then at the earliest. */
  { "revolution-period-not-before-the-link-came-back", { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { REVOLUTIONS (1, 2, 60), ELAPSED (2) },
    { LINK_DOWN (2.5), .actions = "STATE warming-up->paused" },
    { LINK_UP (2.6) },
    { REVOLUTION (3, 60, 2), .actions = "STATE paused->warming-up", ELAPSED (2.4) },
    END } },
  /* After a pause the first revolution with a cadence resumes the warm-up and counts its
   * period. A pause for want of samples (PauseAfter) is no news of a stop: a period begun
   * before it, by a revolution that measured nothing yet, counts whole. */
  { "revolution-resumes-a-pause-with-its-period", { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { REVOLUTIONS (1, 5, 60), ELAPSED (5) },
    { TICK (10), .actions = "STATE warming-up->paused", .state = "paused" },
    { SAMPLE (20, 0), .state = "paused" },
    { REVOLUTION (21, 60, 20), .actions = "STATE paused->warming-up", ELAPSED (6) },
    { SAMPLE (25.5, 0), .actions = "", .state = "warming-up" },
    { TICK (26), .actions = "STATE warming-up->paused", .state = "paused" },
    { REVOLUTION (26.5, 60, 25.5), .actions = "STATE paused->warming-up", ELAPSED (7) },
    { REVOLUTION (40, 60, 36.9), .actions = "STATE warming-up->paused,STATE paused->warming-up",
      ELAPSED (7) },   /* stale: counted from the sample */
    END } },
  /* After a console stop, riding again is a run sustained for StartAfter from its first
   * sample (14 s, as autostart), counted from its period start (13 s, the first
   * revolution); never from before the stop, nor before a "started" at the console. */
  { "revolution-console-stop-resume-from-the-period-start", LEVEL (3), {
    { START (0), .actions = "STATE idle->warming-up,CAP 3" },
    { REVOLUTIONS (1, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.5), .actions = "STATE warming-up->paused", .state = "paused" },
    { SAMPLE (12, 0), .actions = "", .state = "paused" },   /* the gap */
    { SAMPLE (13, 0), .actions = "", .state = "paused" },   /* a first revolution */
    { REVOLUTIONS (14, 16, 60), .actions = "", .state = "paused", ELAPSED (10) },
    { REVOLUTION (17, 60, 16), .actions = "STATE paused->warming-up,CAP 3 resume",
      ELAPSED (14) },
    END } },
  { "revolution-period-not-before-a-console-stop-or-start", LEVEL (3), {
    { START (0), .actions = "STATE idle->warming-up,CAP 3" },
    { REVOLUTIONS (1, 10, 60), ELAPSED (10) },
    { MACHINE_STOPPED (10.2), .actions = "STATE warming-up->paused" },
    { MACHINE_STARTED (10.4), .actions = "" },
    { REVOLUTION (11, 60, 10), .actions = "STATE paused->warming-up", ELAPSED (10.6) },
    END } },
  /* A revolution's period completes the warm-up like any counted time: Elapsed stops at
   * Duration. */
  { "revolution-period-completes-at-duration", { .autostart = WU_AUTOSTART_MANUAL }, {
    { START (0) },
    { DURATION (0, 4) },
    { REVOLUTIONS (1, 3, 60), ELAPSED (3) },
    { TICK (10), .state = "paused" },
    { SAMPLE (20, 0) },
    { REVOLUTION (22, 40, 20.5), .actions = "STATE paused->warming-up,STATE warming-up->complete,RELEASE,FLOOR",
      .state = "complete", ELAPSED (4) },
    END } },
  { "machine-stopped-then-abandoned", { 0 }, {
    { PEDAL (0, 10, 60) },
    { MACHINE_STOPPED (11), .actions = "STATE warming-up->paused" },
    { TICK (311), .actions = "STATE paused->cancelled,RELEASE", .state = "cancelled" },
    END } },
};

/* ---- tests outside the table ------------------------------------------------------------- */

static WuController *
new_default_controller (void)
{
  return wu_controller_new (NULL);
}

static void
test_summary (void)
{
  g_autoptr (WuController) ctl = new_default_controller ();
  WuActions out;
  wu_actions_clear (&out);

  /* idle: 0..3 (autostart at 3), cadence 50 power 100 */
  pedal (ctl, 0, 3, 50, 100, NONE, &out);
  /* warming-up: 4..303 cadence 70 power 200 */
  pedal (ctl, 4, 303, 70, 200, NONE, &out);
  wu_controller_tick (ctl, to_us (308), &out);                       /* pause 1 */
  g_assert_cmpint (wu_controller_get_state (ctl), ==, WU_STATE_PAUSED);
  feed_sample (ctl, 309, 20, 30, NONE, &out);                         /* not pedalling */
  g_assert_cmpint (wu_controller_get_state (ctl), ==, WU_STATE_PAUSED);
  wu_actions_clear (&out);
  /* resume at 310; needs 600 - 303 = 297 more: 310..607 at cadence 90, power 300;
   * a non-pedalling sample while warming-up counts for max cadence and power only */
  pedal (ctl, 310, 400, 90, 300, NONE, &out);
  feed_sample (ctl, 400.5, 30, 50, NONE, &out);   /* dips, loses 400..401 */
  pedal (ctl, 401, 608, 90, 300, NONE, &out);

  g_assert_cmpint (wu_controller_get_state (ctl), ==, WU_STATE_COMPLETE);
  g_autofree char *got = format_actions (&out);
  g_assert_cmpstr (got, ==, "STATE paused->warming-up,STATE warming-up->complete,RELEASE,FLOOR");

  const WuSummary *s = &out.items[3].summary;
  g_assert_cmpfloat (s->duration_s, ==, 600);
  /* pedalling samples in warming-up: 3 (50), 4..303 (300 x 70), 310..400 (91 x 90),
   * 401..608 (208 x 90) */
  double cadence_sum = 50 + 300 * 70 + (91 + 208) * 90;
  g_assert_cmpfloat_with_epsilon (s->avg_cadence, cadence_sum / (1 + 300 + 299), 1e-9);
  g_assert_cmpfloat (s->max_cadence, ==, 90);
  double power_sum = 100 + 300 * 200 + 299 * 300 + 50;
  g_assert_cmpfloat_with_epsilon (s->avg_power, power_sum / 601, 1e-9);
  g_assert_cmpfloat (s->max_power, ==, 300);
  g_assert_cmpuint (s->pauses, ==, 1);
  g_assert_cmpuint (s->recaps, ==, 0);

  WuSummary again;
  wu_controller_get_summary (ctl, &again);
  g_assert_cmpmem (&again, sizeof again, s, sizeof *s);
}

/* Started by hand and stopped with no sample at all: the figures are unknown (-1), not 0. */
static void
test_summary_without_samples (void)
{
  g_autoptr (WuController) ctl = new_default_controller ();
  g_autoptr (GError) error = NULL;
  WuActions out;
  WuSummary s;

  wu_actions_clear (&out);
  g_assert_true (wu_controller_start (ctl, to_us (1), &out, &error));
  g_assert_true (wu_controller_stop (ctl, to_us (5), &out, &error));
  wu_controller_get_summary (ctl, &s);
  g_assert_cmpfloat (s.avg_cadence, ==, -1);
  g_assert_cmpfloat (s.max_cadence, ==, -1);
  g_assert_cmpfloat (s.avg_power, ==, -1);
  g_assert_cmpfloat (s.max_power, ==, -1);

  /* below MinCadence only: a maximum, but no counted average */
  wu_actions_clear (&out);
  g_assert_true (wu_controller_start (ctl, to_us (10), &out, &error));
  feed_sample (ctl, 11, 20, -1, NONE, &out);
  wu_controller_get_summary (ctl, &s);
  g_assert_cmpfloat (s.avg_cadence, ==, -1);
  g_assert_cmpfloat (s.max_cadence, ==, 20);
}

/* A reload after the warm-up ended keeps the Duration it ran against until the next one
 * (Duration=10 after a 30 s warm-up showed Elapsed 30 above Duration 10); the next runs
 * against the new one. */
static void
test_ended_warmup_keeps_its_duration (void)
{
  WuControllerConfig config;
  g_autoptr (GError) error = NULL;
  WuActions out;

  wu_controller_config_init (&config);
  config.duration_us = 30 * G_USEC_PER_SEC;
  g_autoptr (WuController) ctl = wu_controller_new (&config);
  wu_actions_clear (&out);
  pedal (ctl, 0, 45, 60, NONE, NONE, &out);
  g_assert_cmpuint (wu_controller_get_state (ctl), ==, WU_STATE_COMPLETE);
  g_assert_cmpfloat (wu_controller_get_elapsed (ctl), ==, 30);

  config.duration_us = 10 * G_USEC_PER_SEC;
  wu_controller_set_config (ctl, &config);
  g_assert_cmpfloat (wu_controller_get_duration (ctl), ==, 30);
  g_assert_cmpfloat (wu_controller_get_elapsed (ctl), <=, wu_controller_get_duration (ctl));

  wu_actions_clear (&out);
  g_assert_true (wu_controller_start (ctl, to_us (50), &out, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (wu_controller_get_duration (ctl), ==, 10);
  g_assert_cmpfloat (wu_controller_get_elapsed (ctl), ==, 0);
}

static void
test_target_resistance_counts_recaps (void)
{
  g_autoptr (WuController) ctl = new_default_controller ();
  WuControllerConfig config;
  WuSummary summary;
  WuActions out;

  wu_controller_config_init (&config);
  config.cap_level = 4;
  wu_controller_set_config (ctl, &config);
  wu_actions_clear (&out);
  pedal (ctl, 0, 5, 60, NONE, NONE, &out);
  wu_controller_target_resistance (ctl, to_us (5.5), 9, &out);
  wu_controller_target_resistance (ctl, to_us (6.5), 4, &out);
  wu_controller_target_resistance (ctl, to_us (7.5), 12, &out);
  wu_controller_get_summary (ctl, &summary);
  g_assert_cmpuint (summary.recaps, ==, 2);
}

/* Resistance seen above the cap twice, then no more data: one re-cap on the reports, then
 * the cap insisted on less and less often (61, 63, 67, 75, 91, 123, 183, 243, 303, 363),
 * not every ReapplyAfter (151 times) until the warm-up is cancelled. */
static void
test_recaps_without_new_data (void)
{
  WuControllerConfig config;
  wu_controller_config_init (&config);
  config.cap_level = 5;
  g_autoptr (WuController) ctl = wu_controller_new (&config);
  WuSummary summary;
  WuActions out;

  wu_actions_clear (&out);
  pedal (ctl, 0, 58, 80, NONE, 5, &out);
  pedal (ctl, 59, 60, 80, NONE, 8, &out);
  for (double t = 61; t <= 400; t++)
    {
      wu_actions_clear (&out);
      wu_controller_tick (ctl, to_us (t), &out);
    }
  g_assert_cmpint (wu_controller_get_state (ctl), ==, WU_STATE_CANCELLED);
  wu_controller_get_summary (ctl, &summary);
  g_assert_cmpuint (summary.recaps, ==, 10);
}

static void
test_summary_counts_recaps_and_no_power (void)
{
  WuControllerConfig config;
  wu_controller_config_init (&config);
  config.cap_level = 10;
  config.duration_us = 20 * G_USEC_PER_SEC;
  g_autoptr (WuController) ctl = wu_controller_new (&config);
  WuActions out;

  wu_actions_clear (&out);
  pedal (ctl, 0, 10, 60, NONE, 12, &out);   /* over the cap from 3: recaps at 5, 7, 9 */
  wu_controller_link (ctl, to_us (10.5), FALSE, &out);
  wu_controller_link (ctl, to_us (11), TRUE, &out);
  wu_actions_clear (&out);
  pedal (ctl, 12, 22, 60, NONE, 10, &out);

  g_assert_cmpint (out.n, ==, 4);
  const WuSummary *s = &out.items[3].summary;
  g_assert_cmpint (out.items[3].kind, ==, WU_ACTION_START_FLOOR_ROUTINE);
  g_assert_cmpfloat (s->duration_s, ==, 20);
  g_assert_cmpfloat (s->avg_power, ==, -1);
  g_assert_cmpfloat (s->max_power, ==, -1);
  g_assert_cmpuint (s->pauses, ==, 1);
  g_assert_cmpuint (s->recaps, ==, 3);
}

static void
test_getters_staleness (void)
{
  g_autoptr (WuController) ctl = new_default_controller ();
  WuActions out;
  wu_actions_clear (&out);
  gint64 t0 = to_us (0);

  g_assert_cmpfloat (wu_controller_get_cadence (ctl, t0), ==, -1);
  g_assert_cmpfloat (wu_controller_get_resistance (ctl, t0), ==, -1);

  WuSample sample;
  wu_sample_init (&sample, t0);
  sample.cadence_rpm = 55;
  sample.power_w = 120;
  sample.speed_kmh = 22.5;
  sample.resistance = 7;
  wu_controller_sample (ctl, &sample, &out);

  gint64 stale = 3 * G_USEC_PER_SEC;
  g_assert_cmpfloat (wu_controller_get_cadence (ctl, t0 + stale), ==, 55);
  g_assert_cmpfloat (wu_controller_get_power (ctl, t0 + stale), ==, 120);
  g_assert_cmpfloat (wu_controller_get_speed (ctl, t0 + stale), ==, 22.5);
  g_assert_cmpfloat (wu_controller_get_cadence (ctl, t0 + stale + 1), ==, 0);
  g_assert_cmpfloat (wu_controller_get_power (ctl, t0 + stale + 1), ==, 0);
  g_assert_cmpfloat (wu_controller_get_speed (ctl, t0 + stale + 1), ==, 0);
  g_assert_cmpfloat (wu_controller_get_resistance (ctl, t0 + 100 * stale), ==, 7);
  g_assert_cmpint (wu_controller_next_deadline (ctl), ==, t0 + stale + 1);

  /* a sample without power keeps the earlier power report (and its age) */
  wu_sample_init (&sample, t0 + G_USEC_PER_SEC);
  sample.cadence_rpm = 60;
  wu_controller_sample (ctl, &sample, &out);
  g_assert_cmpfloat (wu_controller_get_cadence (ctl, t0 + stale + 1), ==, 60);
  g_assert_cmpfloat (wu_controller_get_power (ctl, t0 + stale + 1), ==, 0);
  g_assert_cmpint (wu_controller_next_deadline (ctl), ==, t0 + stale + 1);

  wu_controller_link (ctl, t0 + 2 * G_USEC_PER_SEC, FALSE, &out);
  g_assert_cmpfloat (wu_controller_get_cadence (ctl, t0 + 2 * G_USEC_PER_SEC), ==, -1);
  g_assert_cmpfloat (wu_controller_get_resistance (ctl, t0 + 2 * G_USEC_PER_SEC), ==, -1);
  g_assert_cmpint (wu_controller_next_deadline (ctl), ==, G_MAXINT64);
  wu_controller_link (ctl, t0 + 2 * G_USEC_PER_SEC, TRUE, &out);
  /* values from before the link went down are not believed again */
  g_assert_cmpfloat (wu_controller_get_cadence (ctl, t0 + 2 * G_USEC_PER_SEC), ==, -1);
  g_assert_cmpfloat (wu_controller_get_resistance (ctl, t0 + 2 * G_USEC_PER_SEC), ==, -1);
  g_assert_cmpuint (out.n, ==, 0);
}

static void
test_strings_and_defaults (void)
{
  WuControllerConfig config;
  wu_controller_config_init (&config);
  g_assert_cmpint (config.autostart, ==, WU_AUTOSTART_PEDAL);
  g_assert_cmpfloat (config.min_cadence, ==, 40);
  g_assert_cmpfloat (config.max_cadence, ==, 100);
  g_assert_cmpint (config.duration_us, ==, 600 * G_USEC_PER_SEC);
  g_assert_cmpfloat (config.cap_level, <, 0);
  g_assert_cmpfloat (config.cap_percent, ==, 30);
  g_assert_cmpfloat (config.power_cap_w, ==, 100);

  g_assert_cmpstr (wu_state_to_string (WU_STATE_IDLE), ==, "idle");
  g_assert_cmpstr (wu_state_to_string (WU_STATE_WARMING_UP), ==, "warming-up");
  g_assert_cmpstr (wu_state_to_string (WU_STATE_PAUSED), ==, "paused");
  g_assert_cmpstr (wu_state_to_string (WU_STATE_COMPLETE), ==, "complete");
  g_assert_cmpstr (wu_state_to_string (WU_STATE_CANCELLED), ==, "cancelled");
  g_assert_cmpstr (wu_hint_to_string (WU_HINT_NONE), ==, "");
  g_assert_cmpstr (wu_hint_to_string (WU_HINT_EASE_OFF), ==, "ease-off");

  g_autoptr (WuController) ctl = wu_controller_new (&config);
  g_assert_cmpfloat (wu_controller_get_duration (ctl), ==, 600);
  g_assert_cmpfloat (wu_controller_get_cap (ctl), ==, -1);
}

/* A long late tick with the resistance held above the cap must not overflow WuActions: the
 * re-caps it brings (at 5 on the report at 4, then insisting ever less often) collapse into
 * one CAP per batch between the state changes. */
static void
test_late_tick_does_not_overflow (void)
{
  WuControllerConfig config;
  wu_controller_config_init (&config);
  config.cap_level = 5;
  g_autoptr (WuController) ctl = wu_controller_new (&config);
  WuActions out;

  wu_actions_clear (&out);
  pedal (ctl, 0, 4, 60, NONE, 9, &out);
  wu_actions_clear (&out);
  wu_controller_tick (ctl, to_us (1000), &out);
  g_autofree char *got = format_actions (&out);
  g_assert_cmpstr (got, ==, "CAP 5,STATE warming-up->paused,CAP 5,STATE paused->cancelled,"
                   "RELEASE,STATE cancelled->idle");
}

/* PauseAfter (2 s) shorter than StaleAfter (3 s), an FTMS bike at 1 Hz that drops one
 * notification: samples at 0..10, 12.5, 13.5..20.5. The 2.5 s gap is within StaleAfter, so
 * it counts (the time between two pedalling samples does), though the warm-up paused in it:
 * it once counted nothing, and a run of late samples counted nothing at all. */
static void
test_pause_shorter_than_stale_counts_the_gap (void)
{
  WuControllerConfig config;
  wu_controller_config_init (&config);
  config.autostart = WU_AUTOSTART_MANUAL;
  config.pause_after_us = 2 * G_USEC_PER_SEC;
  g_autoptr (WuController) ctl = wu_controller_new (&config);
  WuActions out;
  GError *error = NULL;

  wu_actions_clear (&out);
  g_assert_true (wu_controller_start (ctl, to_us (0), &out, &error));
  pedal (ctl, 0, 10, 60, NONE, NONE, &out);
  g_assert_cmpfloat (wu_controller_get_elapsed (ctl), ==, 10);
  wu_actions_clear (&out);
  feed_sample (ctl, 12.5, 60, NONE, NONE, &out);
  g_autofree char *got = format_actions (&out);
  g_assert_cmpstr (got, ==, "STATE warming-up->paused,STATE paused->warming-up");
  g_assert_cmpfloat (wu_controller_get_elapsed (ctl), ==, 12.5);
  pedal (ctl, 13.5, 20.5, 60, NONE, NONE, &out);
  g_assert_cmpfloat (wu_controller_get_elapsed (ctl), ==, 20.5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/controller/table/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_table_case);
    }
  g_test_add_func ("/controller/pause-shorter-than-stale-counts-the-gap",
                   test_pause_shorter_than_stale_counts_the_gap);
  g_test_add_func ("/controller/summary", test_summary);
  g_test_add_func ("/controller/summary-without-samples", test_summary_without_samples);
  g_test_add_func ("/controller/summary-recaps-no-power", test_summary_counts_recaps_and_no_power);
  g_test_add_func ("/controller/recaps-without-new-data", test_recaps_without_new_data);
  g_test_add_func ("/controller/ended-warmup-keeps-its-duration",
                   test_ended_warmup_keeps_its_duration);
  g_test_add_func ("/controller/target-resistance-counts-recaps",
                   test_target_resistance_counts_recaps);
  g_test_add_func ("/controller/getters-staleness", test_getters_staleness);
  g_test_add_func ("/controller/strings-and-defaults", test_strings_and_defaults);
  g_test_add_func ("/controller/late-tick-does-not-overflow", test_late_tick_does_not_overflow);

  return g_test_run ();
}
