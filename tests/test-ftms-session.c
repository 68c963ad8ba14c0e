/* Table-driven tests of the FTMS control session with a fake clock (the controller's table
 * style). Each case is a list of steps; after each step the fields that are set are checked:
 * the actions the step produced, written compactly ("MODE none->resistance,WRITE 00"; log
 * lines are left out of that string and matched with .log), the mode, the next deadline. */
#include "wu-ftms-session.h"
#include "wu-controller.h"
#include "wu-error.h"

#include <math.h>
#include <string.h>

/* Case times are seconds from a non-zero origin, so "0 means unset" bugs show. */
#define ORIGIN_US ((gint64) 7000 * G_USEC_PER_SEC)
#define NONE (-1.0)

typedef enum {
  STEP_CHECK,
  STEP_CONNECT,
  STEP_DISCONNECT,
  STEP_FEATURE,        /* a: target setting features */
  STEP_RES_RANGE,      /* a, b, c: minimum, maximum, increment */
  STEP_POWER_RANGE,    /* a, b, c */
  STEP_CAP,            /* a: level */
  STEP_RELEASE,
  STEP_INDICATION,     /* hex */
  STEP_STATUS,         /* hex */
  STEP_WRITE_FAILED,
  STEP_WRITE_REFUSED,  /* the write refused (not permitted, not paired) */
  STEP_TICK,
  STEP_POWER_CAP,      /* a: the power cap of a reload (NONE: none) */
  STEP_RIDE_RESUMED,   /* the warm-up resumed after a console stop (CAP with .resume) */
} StepKind;

typedef struct {
  double t;
  StepKind kind;
  double a, b, c;
  const char *hex;

  /* expectations; NULL / FALSE: not checked */
  const char *actions;      /* "" expects none (log lines aside) */
  const char *log;          /* a substring of one of the step's log lines */
  const char *mode;
  gboolean malformed;       /* INDICATION / STATUS: the bytes are rejected */
  gboolean check_deadline;
  double deadline;          /* seconds; NONE: G_MAXINT64 */
  gboolean check_s16;
  gboolean s16;
  gboolean check_control;
  gboolean control;
} Step;

#define CONNECT(t_) .t = (t_), .kind = STEP_CONNECT
#define DISCONNECT(t_) .t = (t_), .kind = STEP_DISCONNECT
#define FEATURE(t_, f_) .t = (t_), .kind = STEP_FEATURE, .a = (f_)
#define RES_RANGE(min_, max_, inc_) .kind = STEP_RES_RANGE, .a = (min_), .b = (max_), .c = (inc_)
#define POWER_RANGE(min_, max_, inc_) .kind = STEP_POWER_RANGE, .a = (min_), .b = (max_), \
  .c = (inc_)
#define CAP(t_, l_) .t = (t_), .kind = STEP_CAP, .a = (l_)
#define RELEASE(t_) .t = (t_), .kind = STEP_RELEASE
#define IND(t_, h_) .t = (t_), .kind = STEP_INDICATION, .hex = (h_)
#define STATUS(t_, h_) .t = (t_), .kind = STEP_STATUS, .hex = (h_)
#define WRITE_FAILED(t_) .t = (t_), .kind = STEP_WRITE_FAILED
#define WRITE_REFUSED(t_) .t = (t_), .kind = STEP_WRITE_REFUSED
#define TICK(t_) .t = (t_), .kind = STEP_TICK
#define POWER_CAP(t_, w_) .t = (t_), .kind = STEP_POWER_CAP, .a = (w_)
#define RIDE_RESUMED(t_) .t = (t_), .kind = STEP_RIDE_RESUMED
#define CHECK .kind = STEP_CHECK
#define DEADLINE(s_) .check_deadline = TRUE, .deadline = (s_)
#define S16(v_) .check_s16 = TRUE, .s16 = (v_)
#define CONTROL(v_) .check_control = TRUE, .control = (v_)

#define RES WU_FTMS_TARGET_RESISTANCE
#define SIM WU_FTMS_TARGET_INDOOR_BIKE_SIMULATION
#define PWR WU_FTMS_TARGET_POWER

typedef struct {
  double power_cap_w;   /* 0 in a table: the default (100 W); NONE: no power cap */
} CaseConfig;

typedef struct {
  const char *name;
  CaseConfig config;
  Step steps[24];
} TableCase;

#define END_OF_STEPS (-1e9)
#define END { .t = END_OF_STEPS }

/* ---- the runner ------------------------------------------------------------------------ */

static gint64
to_us (double seconds)
{
  return ORIGIN_US + (gint64) llround (seconds * G_USEC_PER_SEC);
}

static gsize
parse_hex (const char *hex, guint8 *buf, gsize size)
{
  gsize n = 0;

  while (*hex)
    {
      if (*hex == ' ')
        {
          hex++;
          continue;
        }
      g_assert_true (g_ascii_isxdigit (hex[0]) && g_ascii_isxdigit (hex[1]));
      g_assert_cmpuint (n, <, size);
      buf[n++] = (guint8) (g_ascii_xdigit_value (hex[0]) << 4 | g_ascii_xdigit_value (hex[1]));
      hex += 2;
    }
  return n;
}

static char *
format_actions (const WuFtmsActions *actions)
{
  GString *s = g_string_new ("");

  for (guint i = 0; i < actions->n; i++)
    {
      const WuFtmsAction *a = &actions->items[i];

      if (a->kind == WU_FTMS_ACTION_LOG)
        continue;
      if (s->len > 0)
        g_string_append_c (s, ',');
      switch (a->kind)
        {
        case WU_FTMS_ACTION_WRITE:
          g_string_append (s, "WRITE");
          for (guint j = 0; j < a->request.len; j++)
            g_string_append_printf (s, " %02x", a->request.bytes[j]);
          break;
        case WU_FTMS_ACTION_MODE:
          g_string_append_printf (s, "MODE %s->%s", wu_ftms_mode_to_string (a->old_mode),
                                  wu_ftms_mode_to_string (a->new_mode));
          break;
        case WU_FTMS_ACTION_LINK_SUSPECT: g_string_append (s, "SUSPECT"); break;
        case WU_FTMS_ACTION_RELEASED: g_string_append (s, "RELEASED"); break;
        default: g_assert_not_reached ();
        }
    }
  return g_string_free (s, FALSE);
}

static gboolean
logged (const WuFtmsActions *actions, const char *needle)
{
  for (guint i = 0; i < actions->n; i++)
    if (actions->items[i].kind == WU_FTMS_ACTION_LOG &&
        strstr (actions->items[i].message, needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
run_bytes_step (WuFtmsSession *session, const Step *step, WuFtmsActions *out)
{
  g_autoptr (GError) error = NULL;
  guint8 buf[64];
  gsize n = parse_hex (step->hex, buf, sizeof buf);
  gboolean ok;

  if (step->kind == STEP_INDICATION)
    ok = wu_ftms_session_indication (session, to_us (step->t), buf, n, out, &error);
  else
    ok = wu_ftms_session_status (session, to_us (step->t), buf, n, out, &error);
  if (step->malformed)
    {
      g_assert_false (ok);
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
}

/* A reload (SIGHUP) with another PowerCap=. */
static void
reload_power_cap (WuFtmsSession *session, const Step *step, WuFtmsActions *out)
{
  WuFtmsSessionConfig config;

  wu_ftms_session_config_init (&config);
  config.power_cap_w = step->a;
  wu_ftms_session_set_config (session, to_us (step->t), &config, out);
}

static void
run_step (WuFtmsSession *session, const Step *step, WuFtmsActions *out)
{
  WuFtmsRange range = { step->a, step->b, step->c };
  WuFtmsFeature feature = { .target_setting_features = (guint32) step->a };

  switch (step->kind)
    {
    case STEP_CHECK: break;
    case STEP_CONNECT: wu_ftms_session_connected (session, to_us (step->t), out); break;
    case STEP_DISCONNECT: wu_ftms_session_disconnected (session, to_us (step->t), out); break;
    case STEP_FEATURE: wu_ftms_session_set_feature (session, to_us (step->t), &feature, out); break;
    case STEP_RES_RANGE: wu_ftms_session_set_resistance_range (session, &range); break;
    case STEP_POWER_RANGE: wu_ftms_session_set_power_range (session, &range); break;
    case STEP_CAP: wu_ftms_session_apply_cap (session, to_us (step->t), step->a, out); break;
    case STEP_RELEASE: wu_ftms_session_release (session, to_us (step->t), out); break;
    case STEP_INDICATION:
    case STEP_STATUS: run_bytes_step (session, step, out); break;
    case STEP_WRITE_FAILED: wu_ftms_session_write_failed (session, to_us (step->t), out); break;
    case STEP_WRITE_REFUSED:
      wu_ftms_session_write_refused (session, to_us (step->t), out);
      break;
    case STEP_TICK: wu_ftms_session_tick (session, to_us (step->t), out); break;
    case STEP_POWER_CAP: reload_power_cap (session, step, out); break;
    case STEP_RIDE_RESUMED: wu_ftms_session_ride_resumed (session, to_us (step->t), out); break;
    default: g_assert_not_reached ();
    }
}

static void
check_step (const WuFtmsSession *session, const Step *step, const WuFtmsActions *out)
{
  if (step->actions != NULL)
    {
      g_autofree char *got = format_actions (out);
      g_assert_cmpstr (got, ==, step->actions);
    }
  if (step->log != NULL && !logged (out, step->log))
    g_error ("no log line contains \"%s\"", step->log);
  if (step->mode != NULL)
    g_assert_cmpstr (wu_ftms_mode_to_string (wu_ftms_session_get_mode (session)), ==, step->mode);
  if (step->check_deadline)
    g_assert_cmpint (wu_ftms_session_next_deadline (session), ==,
                     step->deadline == NONE ? G_MAXINT64 : to_us (step->deadline));
  if (step->check_s16)
    g_assert_cmpint (wu_ftms_session_uses_s16_resistance (session), ==, step->s16);
  if (step->check_control)
    g_assert_cmpint (wu_ftms_session_has_control (session), ==, step->control);
}

static WuFtmsSession *
new_session (const CaseConfig *cc)
{
  WuFtmsSessionConfig config;

  wu_ftms_session_config_init (&config);
  if (cc->power_cap_w != 0)
    config.power_cap_w = cc->power_cap_w;
  return wu_ftms_session_new (&config);
}

static void
test_table_case (gconstpointer data)
{
  const TableCase *tc = data;
  g_autoptr (WuFtmsSession) session = new_session (&tc->config);

  for (guint i = 0; i < G_N_ELEMENTS (tc->steps) && tc->steps[i].t != END_OF_STEPS; i++)
    {
      WuFtmsActions out;

      wu_ftms_actions_clear (&out);
      g_test_message ("%s: step %u at %g s", tc->name, i, tc->steps[i].t);
      run_step (session, &tc->steps[i], &out);
      check_step (session, &tc->steps[i], &out);
    }
}

/* ---- the table -------------------------------------------------------------------------- */

/* A resistance bike connected, capped at 3.0 and answered all along: the common start. */
#define CAPPED_AT_3(t_)                                                                      \
  { CONNECT (t_) }, { FEATURE (t_, RES) },                                                   \
  { CAP ((t_) + 0.1, 3), .actions = "MODE none->resistance,WRITE 00" },                      \
  { IND ((t_) + 0.2, "80 00 01"), .actions = "WRITE 07", CONTROL (TRUE) },                   \
  { IND ((t_) + 0.3, "80 07 01"), .actions = "WRITE 04 1e" },                                \
  { IND ((t_) + 0.4, "80 04 01"), .actions = "", DEADLINE (NONE) }

/* A bike capped through the simulation: control, Start, the flat road, all answered by 0.3 s. */
#define SIMULATING_FLAT                                                                      \
  { CONNECT (0) }, { FEATURE (0, SIM) },                                                     \
  { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },                      \
  { IND (0.3, "80 11 01"), .actions = "" }

static const TableCase cases[] = {
  /* ---- capping, by the feature bits ---- */
  { "resistance-control-start-target", { 0 }, {
    { CONNECT (0), .actions = "", .mode = "none" },
    { FEATURE (0, RES), .actions = "", .mode = "none" },
    { CAP (1, 3), .actions = "MODE none->resistance,WRITE 00", .mode = "resistance",
      DEADLINE (4) },
    { IND (1.1, "80 00 01"), .actions = "WRITE 07", CONTROL (TRUE), DEADLINE (4.1) },
    { IND (1.2, "80 07 01"), .actions = "WRITE 04 1e" },
    { IND (1.3, "80 04 01"), .actions = "", .log = "resistance target in place",
      DEADLINE (NONE) },
    END } },
  { "cap-waits-for-the-feature", { 0 }, {
    { CONNECT (0) },
    { CAP (1, 3), .actions = "MODE none->pending", .mode = "pending", DEADLINE (NONE) },
    { FEATURE (2, RES), .actions = "MODE pending->resistance,WRITE 00" },
    { FEATURE (2.1, RES), .actions = "" },   /* read again, unchanged */
    END } },
  { "cap-waits-for-the-link", { 0 }, {
    { CAP (0, 3), .actions = "MODE none->pending" },
    { FEATURE (1, RES), .actions = "MODE pending->resistance" },
    { CONNECT (2), .actions = "WRITE 00" },
    END } },
  { "level-stepped-onto-the-range-increment", { 0 }, {
    { RES_RANGE (0, 20, 0.5) },
    CAPPED_AT_3 (0),
    { CAP (1, 3.7), .actions = "WRITE 04 23" },   /* 3.5: never above the wish */
    { IND (1.1, "80 04 01"), .actions = "" },
    { CAP (2, 30), .actions = "WRITE 04 c8" },    /* clamped to the maximum 20.0 */
    END } },
  { "level-below-the-range-is-its-minimum", { 0 }, {
    { RES_RANGE (1, 32, 1) },
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 0), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 0a" },   /* 1.0: the lowest it can be */
    { IND (0.4, "80 04 01"), .actions = "" },
    { STATUS (0.5, "07 0a"), .actions = "" },              /* its echo is not above the cap */
    END } },
  /* targets are stepped down onto the field's resolution (0.1 of a level, 1 W), never
   * rounded up above the cap; the bike's echo of what it was sent is then at the cap */
  { "level-not-on-a-tenth-is-stepped-down", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 7.67), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 4c" },   /* 7.6, never 7.7 */
    { IND (0.4, "80 04 01"), .actions = "" },
    { STATUS (0.5, "07 4c"), .actions = "" },              /* its echo: not above the cap */
    { STATUS (0.6, "07 4d"), .actions = "", DEADLINE (1.3) },   /* 7.7 is: a second after */
    { TICK (1.3), .actions = "WRITE 04 4c" },
    END } },
  /* the same target is written again no sooner than a second after its last write; a
   * status above the cap later than that, or a different target, goes at once */
  { "status-above-cap-a-second-after-the-write-is-re-capped-at-once", { 0 }, {
    CAPPED_AT_3 (0),                                   /* 04 1e written at 0.3 */
    { STATUS (1.5, "07 50"), .actions = "WRITE 04 1e" },   /* the knob, 1.2 s later */
    { IND (1.6, "80 04 01"), .actions = "", DEADLINE (NONE) },
    { STATUS (1.7, "07 50"), .actions = "", DEADLINE (2.5) },   /* 0.2 s after: paced */
    { TICK (2.4), .actions = "" },
    { TICK (2.5), .actions = "WRITE 04 1e" },          /* never skipped */
    { IND (2.6, "80 04 01"), .actions = "", DEADLINE (NONE) },
    END } },
  { "a-new-cap-is-never-paced", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (0.5, "07 50"), .actions = "", DEADLINE (1.3) },   /* paced */
    { CAP (0.6, 2), .actions = "WRITE 04 14" },        /* another target: at once */
    { IND (0.7, "80 04 01"), .actions = "" },
    { CAP (0.8, 3), .actions = "WRITE 04 1e" },        /* back to 3: another than 2 */
    { IND (0.9, "80 04 01"), .actions = "" },
    { RELEASE (1), .actions = "WRITE 01" },            /* a release: at once */
    END } },
  { "level-on-a-tenth-stays", { 0 }, {
    CAPPED_AT_3 (0),
    { CAP (1, 7.7), .actions = "WRITE 04 4d" },
    END } },
  { "power-cap-not-whole-watts-is-stepped-down", { 99.6 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (1, 3), .actions = "MODE none->power,WRITE 00" },
    { IND (1.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (1.2, "80 07 01"), .actions = "WRITE 05 63 00" },   /* 99 W, never 100 */
    { IND (1.3, "80 05 01"), .actions = "" },
    { STATUS (1.4, "08 63 00"), .actions = "" },
    END } },
  { "level-beyond-uint8-goes-sint16", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 30), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 2c 01", S16 (FALSE) },
    END } },
  { "simulation-flat-road-without-resistance-target", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, SIM | PWR) },
    { CAP (1, 3), .actions = "MODE none->simulation,WRITE 00", .log = "flat road" },
    { IND (1.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (1.2, "80 07 01"), .actions = "WRITE 11 00 00 00 00 28 33" },
    { IND (1.3, "80 11 01"), .actions = "", DEADLINE (NONE) },
    END } },
  { "power-target-only", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (1, 3), .actions = "MODE none->power,WRITE 00", .log = "100 W" },
    { IND (1.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (1.2, "80 07 01"), .actions = "WRITE 05 64 00" },
    END } },
  { "power-target-stepped-onto-the-power-range", { 0 }, {
    { POWER_RANGE (25, 1000, 10) },
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (1, 3), .actions = "MODE none->power,WRITE 00" },
    { IND (1.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (1.2, "80 07 01"), .actions = "WRITE 05 5f 00" },   /* 95 W */
    END } },
  /* a reload with another PowerCap= writes it at once: a lower one is not left waiting */
  { "power-cap-lowered-on-reload-is-written-at-once", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3), .actions = "MODE none->power,WRITE 00" },
    { IND (0.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.2, "80 07 01"), .actions = "WRITE 05 64 00" },
    { IND (0.3, "80 05 01"), .actions = "" },
    { POWER_CAP (1, 80), .actions = "WRITE 05 50 00", DEADLINE (4) },
    { IND (1.1, "80 05 01"), .actions = "" },
    { POWER_CAP (2, 80), .actions = "" },            /* the same: nothing to write */
    { STATUS (3, "08 50 00"), .actions = "" },       /* the bike at 80 W: at the cap */
    { STATUS (4, "08 64 00"), .actions = "WRITE 05 50 00" },
    END } },
  { "power-cap-reloaded-while-the-target-is-in-flight", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") },
    { IND (0.2, "80 07 01"), .actions = "WRITE 05 64 00" },
    { POWER_CAP (0.3, 80), .actions = "" },          /* one request at a time */
    { IND (0.4, "80 05 01"), .actions = "WRITE 05 50 00" },
    { IND (0.5, "80 05 01"), .actions = "" },
    END } },
  /* PowerCap=none on a reload: advisory at once, and the bike is handed back (Reset, as at
   * a release, but no RELEASED: the warm-up goes on), not left held at the old target */
  { "power-cap-none-on-reload-hands-the-bike-back", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },
    { IND (0.3, "80 05 01"), .actions = "", CONTROL (TRUE) },
    { POWER_CAP (1, NONE), .actions = "MODE power->advisory,WRITE 01", .mode = "advisory",
      DEADLINE (4) },
    { STATUS (1.05, "01"), .actions = "" },            /* our own reset, announced */
    { IND (1.1, "80 01 01"), .actions = "", .mode = "advisory", CONTROL (FALSE),
      DEADLINE (NONE) },
    { CAP (5, 3), .actions = "" },                     /* a re-cap writes nothing */
    { STATUS (6, "08 64 00"), .actions = "" },
    /* a PowerCap again takes the bike back: control, start, the new target */
    { POWER_CAP (10, 90), .actions = "MODE advisory->power,WRITE 00", .mode = "power" },
    { IND (10.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (10.2, "80 07 01"), .actions = "WRITE 05 5a 00" },
    { IND (10.3, "80 05 01"), .actions = "" },
    { RELEASE (20), .actions = "WRITE 01" },
    { IND (20.1, "80 01 01"), .actions = "MODE power->none,RELEASED" },
    END } },
  { "power-cap-none-on-reload-while-the-target-is-in-flight", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") },
    { IND (0.2, "80 07 01"), .actions = "WRITE 05 64 00" },
    { POWER_CAP (0.3, NONE), .actions = "MODE power->advisory" },   /* one at a time */
    { IND (0.4, "80 05 01"), .actions = "WRITE 01" },
    { IND (0.5, "80 01 01"), .actions = "", CONTROL (FALSE), DEADLINE (NONE) },
    END } },
  { "power-cap-none-on-reload-with-the-target-answer-lost-resets", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") },
    { IND (0.2, "80 07 01"), .actions = "WRITE 05 64 00" },
    { POWER_CAP (0.3, NONE), .actions = "MODE power->advisory" },
    /* not the power target again: the Reset */
    { TICK (3.2), .actions = "WRITE 01", .log = "handing the bike back" },
    { IND (3.3, "80 05 01"), .actions = "", .log = "not the request in flight" },
    { IND (3.4, "80 01 01"), .actions = "", CONTROL (FALSE), DEADLINE (NONE) },
    END } },
  /* the hand-back Reset unanswered: taking the bike again starts afresh (Start/Resume too:
   * the bike's own reset status was not heard) */
  { "power-cap-none-reset-lost-then-back-starts-afresh", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },
    { IND (0.3, "80 05 01"), .actions = "", CONTROL (TRUE) },
    { POWER_CAP (1, NONE), .actions = "MODE power->advisory,WRITE 01", DEADLINE (4) },
    { TICK (4), .actions = "", .log = "releasing anyway", CONTROL (FALSE) },
    { POWER_CAP (5, 80), .actions = "MODE advisory->power,WRITE 00" },
    { IND (5.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (5.2, "80 07 01"), .actions = "WRITE 05 50 00" },
    END } },
  /* PowerCap=none while control is being asked for: once granted, handed back */
  { "power-cap-none-while-request-control-is-in-flight", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) }, { CAP (0, 3) },
    { POWER_CAP (0.05, NONE), .actions = "MODE power->advisory" },
    { IND (0.1, "80 00 01"), .actions = "WRITE 01" },
    { IND (0.2, "80 01 01"), .actions = "", CONTROL (FALSE) },
    END } },
  /* a Reset refused: owed no more, so a later refused target (the bike now offering a
   * resistance target, then refusing it) is not met with a Reset */
  { "power-cap-none-reset-refused-owes-nothing-after", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },
    { IND (0.3, "80 05 01"), .actions = "" },
    { POWER_CAP (1, NONE), .actions = "MODE power->advisory,WRITE 01" },
    { IND (1.1, "80 01 02"), .actions = "", CONTROL (FALSE) },
    { FEATURE (2, PWR | RES), .actions = "MODE advisory->resistance,WRITE 00" },
    { IND (2.1, "80 00 01"), .actions = "WRITE 04 1e" },
    { IND (2.2, "80 04 02"), .actions = "MODE resistance->advisory", .mode = "advisory" },
    END } },
  /* a release interrupted by a new warm-up, the rider stopped at the console meanwhile, the
   * Reset lost: control is taken again, but the bike is not restarted (the stop is the
   * rider's) */
  { "reset-lost-keeps-the-riders-stop", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (1), .actions = "WRITE 01" },
    { CAP (1.5, 3) },
    { STATUS (2, "02 01") },
    { TICK (4), .log = "releasing anyway" },
    { IND (4.1, "80 00 01"), .actions = "" },
    END } },
  /* the same with the Reset answered */
  { "reset-answered-keeps-the-riders-stop", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (1), .actions = "WRITE 01" },
    { CAP (1.5, 3) },
    { STATUS (2, "02 01") },
    { IND (2.1, "80 01 01") },
    { IND (2.2, "80 00 01"), .actions = "" },
    END } },
  { "power-cap-back-while-the-reset-is-in-flight", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },
    { IND (0.3, "80 05 01"), .actions = "" },
    { POWER_CAP (1, NONE), .actions = "MODE power->advisory,WRITE 01" },
    { POWER_CAP (1.05, 80), .actions = "MODE advisory->power" },
    { IND (1.1, "80 01 01"), .actions = "WRITE 00" },   /* the bike afresh: all again */
    { IND (1.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (1.3, "80 07 01"), .actions = "WRITE 05 50 00" },
    END } },
  { "power-cap-reload-in-resistance-mode-writes-nothing", { 0 }, {
    CAPPED_AT_3 (0),
    { POWER_CAP (1, 80), .actions = "", .mode = "resistance" },
    END } },
  { "no-targets-is-advisory", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, 0) },
    { CAP (1, 3), .actions = "MODE none->advisory", .log = "advisory", DEADLINE (NONE) },
    { CAP (5, 3), .actions = "" },
    { RELEASE (6), .actions = "MODE advisory->none,RELEASED", .mode = "none" },
    END } },
  { "power-only-without-power-cap-is-advisory", { NONE }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (1, 3), .actions = "MODE none->advisory" },
    END } },

  /* ---- result codes ---- */
  { "uint8-rejected-then-sint16-remembered", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 1e", S16 (FALSE) },
    { IND (0.4, "80 04 03"), .actions = "WRITE 04 1e 00", .log = "SINT16", S16 (TRUE) },
    { IND (0.5, "80 04 01"), .actions = "" },
    { DISCONNECT (10), .actions = "" },
    { CONNECT (20), .actions = "WRITE 00", S16 (TRUE) },
    { IND (20.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (20.2, "80 07 01"), .actions = "WRITE 04 1e 00" },
    END } },
  { "sint16-rejected-too-falls-back-to-simulation", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES | SIM) },
    { CAP (0.1, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 1e" },
    { IND (0.4, "80 04 03"), .actions = "WRITE 04 1e 00" },
    { IND (0.5, "80 04 03"), .actions = "MODE resistance->simulation,WRITE 11 00 00 00 00 28 33",
      .mode = "simulation" },
    END } },
  { "resistance-not-supported-falls-back-to-power", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES | PWR) },
    { CAP (0.1, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 1e" },
    { IND (0.4, "80 04 02"), .actions = "MODE resistance->power,WRITE 05 64 00",
      .log = "op-code-not-supported" },
    /* advisory: nothing written (no Reset either: the bike keeps what last held it low) */
    { IND (0.5, "80 05 02"), .actions = "MODE power->advisory", .mode = "advisory" },
    { DISCONNECT (1) }, { CONNECT (2), .actions = "", .mode = "advisory" },   /* remembered */
    END } },
  { "request-control-and-start-not-supported-carry-on", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 02"), .actions = "WRITE 07", .log = "carrying on", CONTROL (TRUE) },
    { IND (0.3, "80 07 03"), .actions = "WRITE 04 1e", .log = "carrying on" },
    END } },
  { "operation-failed-retried-after-2s-three-times", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (1, "80 00 04"), .actions = "", .log = "retry 1 of 3", DEADLINE (3) },
    { TICK (2.999), .actions = "" },
    { TICK (3), .actions = "WRITE 00", DEADLINE (6) },
    { IND (3.5, "80 00 04"), .actions = "", .log = "retry 2 of 3", DEADLINE (5.5) },
    { TICK (5.5), .actions = "WRITE 00" },
    { IND (6, "80 00 04"), .actions = "", .log = "retry 3 of 3", DEADLINE (8) },
    { TICK (8), .actions = "WRITE 00" },
    { IND (8.5, "80 00 04"), .actions = "", .log = "giving up", DEADLINE (NONE) },
    { TICK (60), .actions = "" },
    { CAP (61, 3), .actions = "WRITE 00" },   /* a re-assertion tries again */
    { IND (61.1, "80 00 01"), .actions = "WRITE 07" },
    END } },
  { "start-failing-for-good-carries-on-to-the-target", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (0.2, "80 07 04"), .actions = "", DEADLINE (2.2) },
    { TICK (2.2), .actions = "WRITE 07" },
    { IND (2.3, "80 07 04"), .actions = "" },
    { TICK (4.3), .actions = "WRITE 07" },
    { IND (4.4, "80 07 04"), .actions = "" },
    { TICK (6.4), .actions = "WRITE 07" },
    { IND (6.5, "80 07 04"), .actions = "WRITE 04 1e", .log = "carrying on without it" },
    END } },
  { "operation-failed-on-the-target", { 0 }, {
    CAPPED_AT_3 (-1),   /* capped > 1 s before: the re-assertion at 1 goes at once */
    { CAP (1, 3), .actions = "WRITE 04 1e" },
    { IND (1.1, "80 04 04"), .actions = "", DEADLINE (3.1) },
    { TICK (3.1), .actions = "WRITE 04 1e" },
    { IND (3.2, "80 04 01"), .actions = "", DEADLINE (NONE) },
    END } },
  { "control-not-permitted-backs-off-3s", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (1, "80 00 05"), .actions = "", .log = "not permitted", DEADLINE (4) },
    { TICK (3.999), .actions = "" },
    { TICK (4), .actions = "WRITE 00" },
    { IND (4.5, "80 00 05"), .actions = "", DEADLINE (7.5) },
    { TICK (7.5), .actions = "WRITE 00" },
    { IND (8, "80 00 01"), .actions = "WRITE 07", .log = "granted after 2 refusals" },
    END } },
  { "control-not-permitted-on-the-target-asks-again", { 0 }, {
    CAPPED_AT_3 (-1),   /* capped > 1 s before: the re-assertion at 1 goes at once */
    { CAP (1, 3), .actions = "WRITE 04 1e" },
    { IND (1.1, "80 04 05"), .actions = "", CONTROL (FALSE), DEADLINE (4.1) },
    { TICK (4.1), .actions = "WRITE 00" },
    { IND (4.2, "80 00 01"), .actions = "WRITE 04 1e" },   /* still running: no 07 */
    END } },
  { "no-answer-resent-once-then-link-suspect", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00", DEADLINE (3) },
    { TICK (2.999), .actions = "" },
    { TICK (3), .actions = "WRITE 00", .log = "sending it once more", DEADLINE (6) },
    { TICK (6), .actions = "SUSPECT", .log = "suspect", DEADLINE (NONE) },
    { CAP (7, 3), .actions = "" },          /* nothing is written to a suspect link */
    { DISCONNECT (8), .actions = "" },
    { CONNECT (10), .actions = "WRITE 00" },
    END } },
  { "late-tick-fires-both-timeouts", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { TICK (100), .actions = "WRITE 00,SUSPECT" },
    END } },
  { "answer-after-resend-is-fine", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { TICK (3), .actions = "WRITE 00" },
    { IND (4, "80 00 01"), .actions = "WRITE 07", DEADLINE (7) },
    END } },
  { "write-failed-resent-then-suspect", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { WRITE_FAILED (0.1), .actions = "WRITE 00", .log = "the write failed" },
    { WRITE_FAILED (0.2), .actions = "SUSPECT" },
    { WRITE_FAILED (0.3), .actions = "" },   /* nothing in flight */
    END } },
  /* BlueZ refusing the write (a bike that wants bonding: NotPermitted "Not paired") refuses
   * every one: no resend, no suspect link to reconnect (and be refused again, the warm-up
   * paused each time); advisory on this connection, control asked again on the next. */
  { "write-refused-goes-advisory-for-this-connection", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { WRITE_REFUSED (0.1), .actions = "MODE resistance->advisory", .log = "refused",
      DEADLINE (NONE), .mode = "advisory" },
    { TICK (10), .actions = "" },
    { CAP (11, 3), .actions = "" },
    { WRITE_REFUSED (12), .actions = "" },   /* nothing in flight */
    { DISCONNECT (20), .actions = "" },
    { CONNECT (21), .actions = "" },                              /* the same (zero) Feature */
    { FEATURE (21.1, RES), .actions = "MODE advisory->resistance,WRITE 00" },   /* read again */
    { IND (21.2, "80 00 01"), .actions = "WRITE 07", CONTROL (TRUE) },
    END } },
  { "write-refused-with-control-held-still-resets-at-release", { 0 }, {
    CAPPED_AT_3 (0),
    { CAP (2, 4), .actions = "WRITE 04 28" },
    { WRITE_REFUSED (2.1), .actions = "MODE resistance->advisory", CONTROL (TRUE) },
    { RELEASE (3), .actions = "WRITE 01" },    /* control may still be ours: handed back */
    { WRITE_REFUSED (3.1), .actions = "MODE advisory->none,RELEASED", .log = "releasing anyway",
      CONTROL (FALSE), DEADLINE (NONE) },
    END } },

  /* ---- status notifications ---- */
  { "status-target-resistance-above-cap-recaps-at-once", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (1, "07 1e"), .actions = "" },             /* our own 3.0 echoed */
    { STATUS (2, "07 14"), .actions = "" },             /* 2.0: below the cap */
    { STATUS (3, "07 50"), .actions = "WRITE 04 1e", .log = "8.0 is above the cap 3.0" },
    { CAP (3.1, 3), .actions = "" },   /* the controller's CAP for the same status: one write */
    { IND (3.2, "80 04 01"), .actions = "" },
    { CAP (4, 3), .actions = "WRITE 04 1e" },           /* a later re-assertion writes */
    { IND (4.1, "80 04 01"), .actions = "" },
    { STATUS (5, "07 2c 01"), .actions = "WRITE 04 1e" },   /* the SINT16 form: 30.0 */
    END } },
  { "status-above-cap-while-the-target-is-in-flight", { 0 }, {
    CAPPED_AT_3 (-1),   /* capped > 1 s before: the re-assertion at 1 goes at once */
    { CAP (1, 3), .actions = "WRITE 04 1e" },
    { STATUS (1.1, "07 64"), .actions = "" },           /* one request at a time */
    /* so it is written again after, a second after the last write of it */
    { IND (1.2, "80 04 01"), .actions = "", DEADLINE (2) },
    { TICK (2), .actions = "WRITE 04 1e" },
    { IND (2.1, "80 04 01"), .actions = "" },
    END } },
  { "status-control-permission-lost", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "ff"), .actions = "WRITE 00", .log = "took control back", CONTROL (FALSE) },
    { IND (5.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (5.2, "80 07 01"), .actions = "WRITE 04 1e" },
    END } },
  { "status-reset-by-someone-else", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "01"), .actions = "WRITE 00" },
    END } },
  { "status-stopped-by-user-holds-until-started", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 02"), .actions = "", .log = "paused by user" },
    { CAP (6, 3), .actions = "" },               /* not ours to restart the bike */
    { STATUS (7, "04"), .actions = "WRITE 04 1e" },   /* running again: the cap goes back */
    { IND (7.1, "80 04 01"), .actions = "" },
    { STATUS (8, "03"), .actions = "" },         /* the safety key */
    { STATUS (9, "04"), .actions = "WRITE 04 1e" },
    END } },
  /* a console stop announced while our Start/Resume is in flight, then that Start answered:
   * the bike runs again (or says it cannot be started), so the cap goes on */
  { "start-succeeding-after-a-console-stop-caps", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { STATUS (0.25, "02 01"), .actions = "", .log = "stopped by user" },
    { IND (0.3, "80 07 01"), .actions = "WRITE 04 1e" },
    { IND (0.4, "80 04 01"), .actions = "" },
    { STATUS (5, "02 02"), .actions = "" },      /* a later stop holds as ever */
    { CAP (6, 3), .actions = "" },
    END } },
  { "start-not-supported-after-a-console-stop-caps", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0.1, 3) }, { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    { STATUS (0.25, "02 02"), .actions = "" },
    { IND (0.3, "80 07 02"), .actions = "WRITE 04 1e" },   /* carrying on without it */
    END } },
  { "status-target-power-above-power-cap", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },
    { IND (0.3, "80 05 01"), .actions = "" },
    { STATUS (1, "08 64 00"), .actions = "" },   /* 100 W: at the cap */
    { STATUS (2, "08 c8 00"), .actions = "WRITE 05 64 00" },
    { STATUS (3, "07 ff"), .actions = "" },      /* resistance: not how this bike is capped */
    END } },
  { "status-simulation-grade-changed", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (1, "12 00 00 00 00 28 33"), .actions = "" },
    { STATUS (2, "12 00 00 f4 01 28 33"), .actions = "WRITE 11 00 00 00 00 28 33",
      .log = "a 5.00 % grade" },
    END } },
  /* Wind, rolling resistance and drag are the road too; lower coefficients (the bike's own,
   * reported) only make it easier. */
  { "status-simulation-headwind-or-more-drag-recaps", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (1, "12 00 00 00 00 14 20"), .actions = "" },   /* crr 0.002, cw 0.32 */
    { STATUS (2, "12 20 4e 00 00 28 33"), .actions = "WRITE 11 00 00 00 00 28 33",
      .log = "wind 20.000 m/s" },
    { IND (2.1, "80 11 01"), .actions = "" },
    { STATUS (4, "12 00 00 00 00 28 ff"), .actions = "WRITE 11 00 00 00 00 28 33",
      .log = "cw 2.55 kg/m" },
    END } },
  /* An incline another app set in simulation: compared with our grade, as the road is. */
  { "status-incline-in-simulation-mode-is-compared-with-the-grade", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (1, "06 00 00"), .actions = "" },
    { STATUS (2, "06 96 00"), .actions = "WRITE 11 00 00 00 00 28 33",
      .log = "incline changed to 15.0" },
    END } },
  /* A bike that reports its own, higher, coefficients after our flat road: re-capped once,
   * not every second; the coefficients back to ours, a later rise is re-capped again. */
  { "status-simulation-own-coefficients-are-re-capped-once", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (0.35, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (1.3), .actions = "WRITE 11 00 00 00 00 28 33" },
    { IND (1.4, "80 11 01"), .actions = "" },
    { STATUS (1.45, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (2.5), .actions = "" },
    { TICK (5), .actions = "" },
    { STATUS (6, "12 00 00 00 00 28 33"), .actions = "" },
    { STATUS (7, "12 00 00 00 00 28 ff"), .actions = "WRITE 11 00 00 00 00 28 33" },
    END } },
  /* A bike that keeps its own (slightly higher) coefficients was re-capped once; later
   * another app sets a far heavier road on the flat (crr 0.0200, cw 2.55): re-capped. */
  { "status-simulation-heavier-road-after-own-coefficients-recaps", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (0.35, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (1.3), .actions = "WRITE 11 00 00 00 00 28 33" },
    { IND (1.4, "80 11 01"), .actions = "" },
    { STATUS (1.45, "12 00 00 00 00 32 3c"), .actions = "" },
    { STATUS (30, "12 00 00 00 00 c8 ff"), .actions = "WRITE 11 00 00 00 00 28 33" },
    END } },
  /* A bike whose own coefficients go through two pairs in turn (crr 0.005/cw 0.60, then
   * crr 0.006/cw 0.70): each re-capped once, not every time it comes back. */
  { "status-simulation-alternating-own-coefficients-are-re-capped-once-each", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (0.35, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (1.3), .actions = "WRITE 11 00 00 00 00 28 33" },
    { IND (1.4, "80 11 01"), .actions = "" },
    { STATUS (1.45, "12 00 00 00 00 3c 46"), .actions = "" },
    { TICK (2.5), .actions = "WRITE 11 00 00 00 00 28 33" },
    { IND (2.6, "80 11 01"), .actions = "" },
    { STATUS (3, "12 00 00 00 00 32 3c"), .actions = "" },
    { STATUS (4, "12 00 00 00 00 3c 46"), .actions = "" },
    { STATUS (5, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (6), .actions = "" },
    { TICK (8), .actions = "" },
    /* a grade moved with a known pair: the road is re-capped all the same */
    { STATUS (9, "12 00 00 f4 01 32 3c"), .actions = "WRITE 11 00 00 00 00 28 33" },
    END } },
  /* A bike that echoes our road (0x12 with ours), then reports its own heavier
   * coefficients: re-capped once, not after every write */
  { "status-simulation-echo-then-own-coefficients-is-not-a-loop", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (0.32, "12 00 00 00 00 28 33"), .actions = "" },
    { STATUS (0.35, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (1.3), .actions = "WRITE 11 00 00 00 00 28 33" },
    { IND (1.4, "80 11 01"), .actions = "" },
    { STATUS (1.42, "12 00 00 00 00 28 33"), .actions = "" },
    { STATUS (1.45, "12 00 00 00 00 32 3c"), .actions = "" },
    { TICK (2.5), .actions = "" },
    { TICK (5), .actions = "" },
    END } },
  /* Someone else set a target of another kind: the bike follows it (ERG 300 W, a 15 %
   * grade, a heart rate), not our level; our target goes again. */
  { "status-power-target-in-resistance-mode-recaps", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "08 2c 01"), .actions = "WRITE 04 1e", .log = "another target" },
    END } },
  { "status-simulation-in-resistance-mode-recaps", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "12 00 00 dc 05 28 33"), .actions = "WRITE 04 1e" },
    END } },
  { "status-heart-rate-target-in-power-mode-recaps", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, PWR) },
    { CAP (0, 3) }, { IND (0.1, "80 00 01") }, { IND (0.2, "80 07 01") },
    { IND (0.3, "80 05 01"), .actions = "" },
    { STATUS (2, "09 8c"), .actions = "WRITE 05 64 00" },
    END } },
  /* How a bike holds our grade: a resistance report, an incline of our grade are not
   * another target. */
  { "status-resistance-or-incline-in-simulation-mode-is-not-foreign", { 0 }, {
    SIMULATING_FLAT,
    { STATUS (1, "07 0a"), .actions = "" },
    { STATUS (2, "06 00 00"), .actions = "" },
    END } },
  { "status-when-not-capping-changes-nothing", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { STATUS (1, "07 ff"), .actions = "" },
    { STATUS (2, "ff"), .actions = "" },
    { STATUS (3, "04"), .actions = "", DEADLINE (NONE) },
    END } },

  /* ---- the link ---- */
  { "reconnect-requests-control-and-reapplies", { 0 }, {
    CAPPED_AT_3 (0),
    { DISCONNECT (5), .actions = "", CONTROL (FALSE), DEADLINE (NONE) },
    { CAP (6, 3), .actions = "" },
    { CONNECT (10), .actions = "WRITE 00" },
    { IND (10.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (10.2, "80 07 01"), .actions = "WRITE 04 1e" },
    END } },
  { "disconnect-drops-the-request-in-flight", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00", DEADLINE (3) },
    { DISCONNECT (1), .actions = "", DEADLINE (NONE) },
    { IND (1.5, "80 00 01"), .actions = "", .log = "nothing in flight" },
    { CONNECT (2), .actions = "WRITE 00" },
    END } },

  /* ---- release ---- */
  { "release-resets-and-reports-released", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01", DEADLINE (13) },
    { STATUS (10.05, "01"), .actions = "" },   /* our own reset, announced */
    { IND (10.1, "80 01 01"), .actions = "MODE resistance->none,RELEASED", .mode = "none",
      CONTROL (FALSE), DEADLINE (NONE) },
    { CAP (20, 3), .actions = "MODE none->resistance,WRITE 00" },   /* the next warm-up */
    END } },
  { "release-waits-for-the-request-in-flight", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { RELEASE (0.1), .actions = "" },
    { IND (0.2, "80 00 01"), .actions = "WRITE 01" },
    { IND (0.3, "80 01 01"), .actions = "MODE resistance->none,RELEASED" },
    END } },
  { "release-after-refused-control-needs-no-reset", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.1, "80 00 05"), DEADLINE (3.1) },
    { RELEASE (1), .actions = "MODE resistance->none,RELEASED", DEADLINE (NONE) },
    END } },
  { "release-without-answer-is-released-at-the-timeout", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01" },
    { TICK (12.999), .actions = "" },
    { TICK (13), .actions = "MODE resistance->none,RELEASED", .log = "releasing anyway" },
    END } },
  { "release-with-the-link-lost", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01" },
    { DISCONNECT (10.5), .actions = "MODE resistance->none,RELEASED" },
    END } },
  { "release-answered-with-failure-is-released", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01" },
    { IND (10.1, "80 01 04"), .actions = "MODE resistance->none,RELEASED" },
    END } },
  { "release-reset-not-supported-is-released", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01" },
    { IND (10.1, "80 01 02"), .actions = "MODE resistance->none,RELEASED" },
    END } },
  { "release-with-nothing-held", { 0 }, {
    { RELEASE (0), .actions = "RELEASED", .mode = "none" },
    { CONNECT (1) },
    { RELEASE (2), .actions = "RELEASED" },
    END } },
  { "release-during-a-back-off", { 0 }, {
    CAPPED_AT_3 (-1),   /* capped > 1 s before: the re-assertion at 1 goes at once */
    { CAP (1, 3), .actions = "WRITE 04 1e" },
    { IND (1.1, "80 04 04"), .actions = "", DEADLINE (3.1) },   /* retry pending */
    { RELEASE (2), .actions = "WRITE 01", DEADLINE (5) },
    END } },

  /* ---- release with an answer lost: control may still be ours, so the Reset goes anyway ---- */
  /* Control granted, started, the target in flight when the warm-up completes. */
#define RELEASE_WITH_THE_TARGET_IN_FLIGHT                                                    \
  { CONNECT (0) }, { FEATURE (0, RES) },                                                     \
  { CAP (1, 3), .actions = "MODE none->resistance,WRITE 00" },                               \
  { IND (1.1, "80 00 01"), .actions = "WRITE 07" },                                          \
  { IND (1.2, "80 07 01"), .actions = "WRITE 04 1e", DEADLINE (4.2) },                       \
  { RELEASE (1.5), .actions = "", DEADLINE (4.2) }
  { "release-with-the-target-answer-lost-still-resets", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { TICK (4.199), .actions = "" },
    { TICK (4.2), .actions = "WRITE 01", .log = "resetting anyway", CONTROL (TRUE),
      DEADLINE (7.2) },
    { STATUS (4.25, "01"), .actions = "" },   /* our own reset, announced */
    { IND (4.3, "80 01 01"), .actions = "MODE resistance->none,RELEASED", .mode = "none",
      CONTROL (FALSE), DEADLINE (NONE) },
    END } },
  { "release-with-the-target-answer-lost-late-answer-ignored", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { TICK (4.2), .actions = "WRITE 01" },
    { IND (4.3, "80 04 01"), .actions = "", .log = "not the request in flight",
      DEADLINE (7.2) },
    { IND (4.4, "80 01 01"), .actions = "MODE resistance->none,RELEASED" },
    END } },
  { "release-with-the-reset-lost-too-gives-up-once", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { TICK (4.2), .actions = "WRITE 01" },
    { TICK (7.2), .actions = "MODE resistance->none,RELEASED", .log = "releasing anyway",
      CONTROL (FALSE), DEADLINE (NONE) },
    { TICK (60), .actions = "" },             /* no second Reset: no loop */
    END } },
  { "release-late-tick-resets-then-gives-up", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { TICK (100), .actions = "WRITE 01,MODE resistance->none,RELEASED", DEADLINE (NONE) },
    END } },
  { "release-with-the-target-write-failed-still-resets", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { WRITE_FAILED (1.6), .actions = "WRITE 01", DEADLINE (4.6) },
    { WRITE_FAILED (1.7), .actions = "MODE resistance->none,RELEASED", DEADLINE (NONE) },
    END } },
  { "release-with-the-request-control-answer-lost-still-resets", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00", CONTROL (FALSE) },
    { RELEASE (0.1), .actions = "", DEADLINE (3) },
    { TICK (3), .actions = "WRITE 01", DEADLINE (6) },   /* it may have been granted */
    { IND (3.1, "80 01 05"), .actions = "MODE resistance->none,RELEASED", CONTROL (FALSE) },
    END } },
  { "release-with-an-answer-lost-and-the-link-lost-meanwhile", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { DISCONNECT (2), .actions = "MODE resistance->none,RELEASED", DEADLINE (NONE) },
    { TICK (10), .actions = "" },             /* nothing to write to */
    { CONNECT (20), .actions = "" },
    END } },
  { "release-with-an-answer-lost-then-the-link-lost", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { TICK (4.2), .actions = "WRITE 01" },
    { DISCONNECT (5), .actions = "MODE resistance->none,RELEASED", DEADLINE (NONE) },
    { CONNECT (6), .actions = "" },
    END } },
  { "release-after-a-resend-resets-instead-of-suspecting", { 0 }, {
    CAPPED_AT_3 (-1),   /* capped > 1 s before: the re-assertion at 1 goes at once */
    { CAP (1, 3), .actions = "WRITE 04 1e" },
    { TICK (4), .actions = "WRITE 04 1e", .log = "sending it once more" },
    { RELEASE (5), .actions = "" },
    { TICK (7), .actions = "WRITE 01", DEADLINE (10) },   /* not SUSPECT: the Reset first */
    { TICK (10), .actions = "MODE resistance->none,RELEASED" },
    END } },
  { "cap-again-while-the-owed-reset-is-in-flight", { 0 }, {
    RELEASE_WITH_THE_TARGET_IN_FLIGHT,
    { TICK (4.2), .actions = "WRITE 01" },
    { STATUS (4.3, "07 c8"), .actions = "" },   /* releasing: not ours to re-cap */
    { CAP (4.4, 3), .actions = "" },            /* one request at a time */
    { IND (4.5, "80 01 01"), .actions = "WRITE 00", CONTROL (FALSE) },
    { IND (4.6, "80 00 01"), .actions = "WRITE 07" },
    { IND (4.7, "80 07 01"), .actions = "WRITE 04 1e" },   /* the cap, never above it */
    { STATUS (5, "07 c8"), .actions = "" },     /* the target in flight is written again after */
    { IND (5.1, "80 04 01"), .actions = "", DEADLINE (5.7) },   /* a second after 4.7 */
    { TICK (5.7), .actions = "WRITE 04 1e" },
    END } },

  /* ---- our own Reset starts the bike afresh, whatever order its status and answer take ---- */
  { "console-pause-forgotten-after-our-reset-status-first", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 02"), .actions = "", .log = "paused by user" },
    { RELEASE (10), .actions = "WRITE 01" },
    { STATUS (10.05, "01"), .actions = "" },
    { IND (10.1, "80 01 01"), .actions = "MODE resistance->none,RELEASED" },
    { CAP (20, 3), .actions = "MODE none->resistance,WRITE 00" },   /* the next warm-up */
    { IND (20.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (20.2, "80 07 01"), .actions = "WRITE 04 1e" },
    END } },
  { "console-pause-forgotten-after-our-reset-answer-first", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 02"), .actions = "", .log = "paused by user" },
    { RELEASE (10), .actions = "WRITE 01" },
    { IND (10.1, "80 01 01"), .actions = "MODE resistance->none,RELEASED" },
    { STATUS (10.15, "01"), .actions = "" },
    { CAP (20, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (20.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (20.2, "80 07 01"), .actions = "WRITE 04 1e" },
    END } },
  /* ---- the next warm-up (a new cap) is the rider riding again: an old console stop is over,
   * whether or not the bike ever says 0x04 ---- */
  { "console-pause-ends-at-the-next-warm-up-when-our-reset-was-refused", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 02") },
    { RELEASE (10), .actions = "WRITE 01" },
    { IND (10.1, "80 01 04"), .actions = "MODE resistance->none,RELEASED" },
    { CAP (20, 3), .actions = "MODE none->resistance,WRITE 00", .log = "console stop is over" },
    { IND (20.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (20.2, "80 07 01"), .actions = "WRITE 04 1e" },
    END } },
  { "console-stop-between-warm-ups-ends-at-the-next-warm-up", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01" },
    { IND (10.1, "80 01 01"), .actions = "MODE resistance->none,RELEASED" },
    { STATUS (30, "02 01"), .actions = "" },
    { CAP (100, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (100.1, "80 00 01"), .actions = "WRITE 07" },
    { IND (100.2, "80 07 01"), .actions = "WRITE 04 1e" },
    { IND (100.3, "80 04 01"), .actions = "" },
    END } },
  /* ---- a console stop mid-warm-up on a bike that never says 0x04: the warm-up resuming
   * on sustained pedalling (the controller's CAP marked resume) ends it ---- */
  { "console-stop-mid-warm-up-ends-when-the-ride-resumes", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 01"), .actions = "" },
    { CAP (6, 3), .actions = "" },                      /* a re-cap holds while stopped */
    { RIDE_RESUMED (9), .actions = "WRITE 07", .log = "riding again" },
    { CAP (9, 3), .actions = "" },                      /* one request at a time */
    { IND (9.1, "80 07 01"), .actions = "WRITE 04 1e" },
    { IND (9.2, "80 04 01"), .actions = "", DEADLINE (NONE) },
    { STATUS (10, "07 1e"), .actions = "" },
    END } },
  { "console-stop-ride-resumed-while-a-request-is-in-flight", { 0 }, {
    CAPPED_AT_3 (0),
    { CAP (5, 3), .actions = "WRITE 04 1e" },          /* a re-assertion in flight */
    { STATUS (5.05, "02 02"), .actions = "" },
    { RIDE_RESUMED (5.1), .actions = "" },              /* one request at a time */
    { CAP (5.1, 3), .actions = "" },
    { IND (5.2, "80 04 01"), .actions = "WRITE 07" },
    { IND (5.3, "80 07 01"), .actions = "", DEADLINE (6) },   /* a second after 5 */
    { TICK (6), .actions = "WRITE 04 1e" },
    END } },
  { "ride-resumed-without-a-console-stop-writes-nothing", { 0 }, {
    CAPPED_AT_3 (0),
    { RIDE_RESUMED (9), .actions = "" },
    { CAP (9, 3), .actions = "WRITE 04 1e" },           /* the re-assertion, as ever */
    END } },
  { "console-stop-during-a-release-ends-at-the-next-warm-up", { 0 }, {
    CAPPED_AT_3 (0),
    { RELEASE (10), .actions = "WRITE 01" },
    { STATUS (10.05, "02 01"), .actions = "" },
    { CAP (10.1, 3), .actions = "" },            /* one request at a time */
    { IND (10.2, "80 01 04"), .actions = "WRITE 00" },   /* not reset: the stop was kept */
    { IND (10.3, "80 00 01"), .actions = "WRITE 07" },
    { IND (10.4, "80 07 01"), .actions = "WRITE 04 1e" },
    END } },

  /* ---- bad input ---- */
  { "malformed-bytes-are-rejected-and-change-nothing", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00", DEADLINE (3) },
    { IND (0.1, "80 00"), .malformed = TRUE, .actions = "", DEADLINE (3) },
    { IND (0.2, "81 00 01"), .malformed = TRUE, .actions = "" },
    { IND (0.3, "80 00 09"), .malformed = TRUE, .actions = "" },
    { IND (0.4, ""), .malformed = TRUE, .actions = "" },
    { STATUS (0.5, "07"), .malformed = TRUE, .actions = "" },
    { STATUS (0.6, "42"), .malformed = TRUE, .actions = "" },
    { STATUS (0.7, ""), .malformed = TRUE, .actions = "" },
    { IND (0.8, "80 00 01"), .actions = "WRITE 07" },
    END } },
  /* The rider stopped the bike (console, safety key), then the bike took control back or
   * was reset by someone else: control is asked again, but the bike is not restarted. */
  { "console-stop-outlives-control-lost", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 01"), .actions = "", .log = "stopped by user" },
    { STATUS (5.1, "ff"), .actions = "WRITE 00" },
    { IND (5.2, "80 00 01"), .actions = "" },
    { STATUS (8, "04"), .actions = "WRITE 04 1e" },   /* started at the bike: capped again */
    END } },
  { "safety-key-stop-outlives-control-lost", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "03"), .actions = "" },
    { STATUS (5.1, "ff"), .actions = "WRITE 00" },
    { IND (5.2, "80 00 01"), .actions = "" },
    END } },
  { "console-pause-outlives-a-reset-not-ours", { 0 }, {
    CAPPED_AT_3 (0),
    { STATUS (5, "02 02"), .actions = "" },
    { STATUS (5.1, "01"), .actions = "WRITE 00" },
    { IND (5.2, "80 00 01"), .actions = "" },
    END } },
  { "answer-to-another-request-is-ignored", { 0 }, {
    { CONNECT (0) }, { FEATURE (0, RES) },
    { CAP (0, 3), .actions = "MODE none->resistance,WRITE 00" },
    { IND (0.1, "80 04 01"), .actions = "", .log = "not the request in flight", DEADLINE (3) },
    { IND (0.2, "80 00 01"), .actions = "WRITE 07" },
    END } },
};

/* ---- tests outside the table ------------------------------------------------------------- */

/* ---- the controller and the session against a simulated bike ---------------------------- */

/* A bike that takes every request (0x80 success 50 ms later), never reports its resistance
 * range, and takes any resistance target below FLOOR as FLOOR: it echoes status 0x07 with
 * FLOOR 60 ms after the write and reports FLOOR in Indoor Bike Data at 4 Hz (the rider
 * pedals at 80 rpm all along). */
typedef struct {
  double t;
  guint8 bytes[4];
  gsize len;
  gboolean indication;
} BikeEvent;

typedef struct {
  WuController *ctl;
  WuFtmsSession *session;
  double floor;
  double resistance;
  BikeEvent queue[64];
  guint queued;
  guint writes, target_writes;
} SimBike;

static void
sim_queue (SimBike *bike, double t, gboolean indication, const guint8 *bytes, gsize len)
{
  BikeEvent *e;

  g_assert_cmpuint (bike->queued, <, G_N_ELEMENTS (bike->queue));
  e = &bike->queue[bike->queued++];
  *e = (BikeEvent) { .t = t, .len = len, .indication = indication };
  memcpy (e->bytes, bytes, len);
}

static void sim_session_actions (SimBike *bike, double t, const WuFtmsActions *out);

static void
sim_controller_actions (SimBike *bike, double t, const WuActions *actions)
{
  for (guint i = 0; i < actions->n; i++)
    {
      WuFtmsActions out;

      if (actions->items[i].kind != WU_ACTION_CAP)
        continue;
      wu_ftms_actions_clear (&out);
      if (actions->items[i].resume)
        wu_ftms_session_ride_resumed (bike->session, to_us (t), &out);
      wu_ftms_session_apply_cap (bike->session, to_us (t), actions->items[i].cap, &out);
      sim_session_actions (bike, t, &out);
    }
}

/* The bike's side of a write: the answer, and for a resistance target its echo. */
static void
sim_session_actions (SimBike *bike, double t, const WuFtmsActions *out)
{
  for (guint i = 0; i < out->n; i++)
    {
      const WuFtmsRequest *req = &out->items[i].request;
      guint8 answer[3] = { 0x80, 0, 0x01 };

      if (out->items[i].kind != WU_FTMS_ACTION_WRITE)
        continue;
      bike->writes++;
      answer[1] = req->bytes[0];
      sim_queue (bike, t + 0.05, TRUE, answer, sizeof answer);
      if (req->bytes[0] == WU_FTMS_OP_SET_TARGET_RESISTANCE)
        {
          guint8 echo[2] = { 0x07, 0 };

          bike->target_writes++;
          bike->resistance = MAX (req->bytes[1] / 10.0, bike->floor);
          echo[1] = (guint8) lround (bike->resistance * 10);
          sim_queue (bike, t + 0.06, FALSE, echo, sizeof echo);
        }
    }
}

/* One bike event due: the session hears it, and the engine's controller (a status). */
static void
sim_deliver (SimBike *bike, const BikeEvent *e)
{
  WuFtmsActions out;
  WuActions actions;

  wu_ftms_actions_clear (&out);
  wu_actions_clear (&actions);
  if (e->indication)
    g_assert_true (wu_ftms_session_indication (bike->session, to_us (e->t), e->bytes, e->len,
                                               &out, NULL));
  else
    {
      g_assert_true (wu_ftms_session_status (bike->session, to_us (e->t), e->bytes, e->len,
                                             &out, NULL));
      if (e->bytes[0] == 0x07)
        wu_controller_target_resistance (bike->ctl, to_us (e->t), e->bytes[1] / 10.0,
                                         &actions);
    }
  sim_session_actions (bike, e->t, &out);
  sim_controller_actions (bike, e->t, &actions);
}

static void
sim_run (SimBike *bike, double from, double until)
{
  for (double t = from; t <= until + 1e-9; t += 0.01)
    {
      WuFtmsActions out;
      WuActions actions;

      /* the bike's answers and echoes due by now, in order */
      for (guint i = 0; i < bike->queued;)
        if (bike->queue[i].t <= t + 1e-9)
          {
            BikeEvent e = bike->queue[i];

            memmove (&bike->queue[i], &bike->queue[i + 1],
                     (bike->queued - i - 1) * sizeof bike->queue[0]);
            bike->queued--;
            sim_deliver (bike, &e);
            i = 0;
          }
        else
          i++;
      wu_actions_clear (&actions);
      if (fmod (t + 1e-9, 0.25) < 0.01)
        {
          WuSample sample;

          wu_sample_init (&sample, to_us (t));
          sample.cadence_rpm = 80;
          sample.resistance = bike->resistance;
          wu_controller_sample (bike->ctl, &sample, &actions);
        }
      else
        wu_controller_tick (bike->ctl, to_us (t), &actions);
      sim_controller_actions (bike, t, &actions);
      wu_ftms_actions_clear (&out);
      wu_ftms_session_tick (bike->session, to_us (t), &out);
      sim_session_actions (bike, t, &out);
    }
}

/* Cap=0 on a bike that never reports its range and goes no lower than 1.0: every write of
 * 0 is echoed with 1.0, "above the cap", and the controller re-caps on it too. Each echo
 * re-written at once was echoed in turn: about 90 writes a second. The same target is now
 * written again no sooner than a second after its last write (never skipped): at most one
 * a second, and the bike still hears the cap every second. */
static void
test_clamping_bike_is_not_flooded (void)
{
  WuControllerConfig config;
  WuFtmsFeature feature = { .target_setting_features = RES };
  WuFtmsActions out;
  WuActions actions;
  SimBike bike = { .floor = 1.0, .resistance = 5.0 };

  wu_controller_config_init (&config);
  config.autostart = WU_AUTOSTART_MANUAL;
  config.cap_level = 0;
  config.duration_us = (gint64) 3600 * G_USEC_PER_SEC;
  bike.ctl = wu_controller_new (&config);
  bike.session = wu_ftms_session_new (NULL);
  wu_ftms_actions_clear (&out);
  wu_ftms_session_connected (bike.session, to_us (0), &out);
  wu_ftms_session_set_feature (bike.session, to_us (0), &feature, &out);
  sim_session_actions (&bike, 0, &out);
  wu_actions_clear (&actions);
  g_assert_true (wu_controller_start (bike.ctl, to_us (0), &actions, NULL));
  sim_controller_actions (&bike, 0, &actions);
  sim_run (&bike, 0, 60);
  g_test_message ("%u writes, %u targets in the first minute", bike.writes, bike.target_writes);
  g_assert_cmpuint (bike.target_writes, <=, 61);
  g_assert_cmpuint (bike.target_writes, >=, 55);   /* paced, not suppressed */
  g_assert_cmpfloat (bike.resistance, ==, 1.0);
  wu_controller_free (bike.ctl);
  wu_ftms_session_free (bike.session);
}

static void
test_defaults_and_names (void)
{
  WuFtmsSessionConfig config;
  g_autoptr (WuFtmsSession) session = wu_ftms_session_new (NULL);

  wu_ftms_session_config_init (&config);
  g_assert_cmpfloat (config.power_cap_w, ==, 100);
  g_assert_cmpint (config.response_timeout_us, ==, 3 * G_USEC_PER_SEC);
  g_assert_cmpint (config.failed_retry_us, ==, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (config.failed_retries, ==, 3);
  g_assert_cmpint (config.not_permitted_backoff_us, ==, 3 * G_USEC_PER_SEC);
  g_assert_cmpfloat (config.flat_road.grade_percent, ==, 0);
  g_assert_cmpint (wu_ftms_session_get_mode (session), ==, WU_FTMS_MODE_NONE);
  g_assert_false (wu_ftms_session_busy (session));
  g_assert_cmpint (wu_ftms_session_next_deadline (session), ==, G_MAXINT64);
  g_assert_cmpstr (wu_ftms_mode_to_string (WU_FTMS_MODE_SIMULATION), ==, "simulation");
  g_assert_cmpstr (wu_ftms_mode_to_string (WU_FTMS_MODE_ADVISORY), ==, "advisory");
}

/* Random inputs in random order never overflow the action buffer, never go above one
 * request in flight, and never trip a g_return_if_fail (fatal here). */
static void
test_random_inputs_keep_the_invariants (void)
{
  static const char *const inputs[] = {
    "80 00 01", "80 00 02", "80 00 03", "80 00 04", "80 00 05", "80 07 01", "80 07 04",
    "80 04 01", "80 04 02", "80 04 03", "80 04 04", "80 04 05", "80 11 01", "80 11 02",
    "80 05 01", "80 05 03", "80 01 01", "80 01 04", "07 ff", "07 00", "ff", "01", "02 01",
    "04", "08 ff 7f", "12 00 00 10 00 28 33", "80",
  };
  GRand *rand = g_rand_new_with_seed (20240521);
  g_autoptr (WuFtmsSession) session = wu_ftms_session_new (NULL);
  double t = 0;

  for (guint i = 0; i < 20000; i++)
    {
      WuFtmsActions out;
      WuFtmsFeature feature = { .target_setting_features = g_rand_int (rand) & (RES | SIM | PWR) };
      guint8 buf[16];
      gsize n;
      guint writes = 0;

      wu_ftms_actions_clear (&out);
      t += g_rand_double_range (rand, 0, 2.5);
      switch (g_rand_int_range (rand, 0, 13))
        {
        case 0: wu_ftms_session_connected (session, to_us (t), &out); break;
        case 1: wu_ftms_session_disconnected (session, to_us (t), &out); break;
        case 2: wu_ftms_session_set_feature (session, to_us (t), &feature, &out); break;
        case 3: wu_ftms_session_apply_cap (session, to_us (t), g_rand_int_range (rand, 0, 40), &out); break;
        case 4: wu_ftms_session_release (session, to_us (t), &out); break;
        case 5: wu_ftms_session_write_failed (session, to_us (t), &out); break;
        case 6: wu_ftms_session_tick (session, to_us (t), &out); break;
        case 8:
          {
            WuFtmsSessionConfig config;

            wu_ftms_session_config_init (&config);
            config.power_cap_w = g_rand_int_range (rand, -1, 3) * 50;   /* none, 0, 50, 100 */
            wu_ftms_session_set_config (session, to_us (t), &config, &out);
          }
          break;
        case 9: wu_ftms_session_ride_resumed (session, to_us (t), &out); break;
        case 10: wu_ftms_session_write_refused (session, to_us (t), &out); break;
        case 7:
          n = parse_hex (inputs[g_rand_int_range (rand, 0, G_N_ELEMENTS (inputs))], buf, sizeof buf);
          wu_ftms_session_status (session, to_us (t), buf, n, &out, NULL);
          break;
        default:
          n = parse_hex (inputs[g_rand_int_range (rand, 0, G_N_ELEMENTS (inputs))], buf, sizeof buf);
          wu_ftms_session_indication (session, to_us (t), buf, n, &out, NULL);
          break;
        }
      g_assert_cmpuint (out.n, <, WU_FTMS_ACTIONS_MAX);
      for (guint j = 0; j < out.n; j++)
        writes += out.items[j].kind == WU_FTMS_ACTION_WRITE;
      /* a late tick may resend and then give up, but never two requests at once */
      g_assert_cmpuint (writes, <=, 2);
      g_assert_true (wu_ftms_session_next_deadline (session) > to_us (t));
    }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ftms-session/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_table_case);
    }
  g_test_add_func ("/ftms-session/defaults-and-names", test_defaults_and_names);
  g_test_add_func ("/ftms-session/clamping-bike-is-not-flooded",
                   test_clamping_bike_is_not_flooded);
  g_test_add_func ("/ftms-session/random-inputs-keep-the-invariants",
                   test_random_inputs_keep_the_invariants);
  return g_test_run ();
}
