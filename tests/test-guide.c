/* The guided session's state machine, table-driven: each row is a call at a time and what
 * must follow (the result or error, the state, the step, the round). */
#include "wu-error.h"
#include "wu-guide.h"

#include <string.h>

/* Two steps; the first article's round rule with a 300 s rest. */
static const char *const with_rounds =
  "[Routine]\nId=r\nTitle=R\nCaution=C\n"
  "[Rounds]\nBetter=another-round\nSame=done\nIrritated=rest\nRestSeconds=300\n"
  "RestPosition=floor-back\nRestInstruction=Lie down.\n"
  "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=standing\nInstruction=I\n"
  "[Step b]\nName=B\nCount=hold\nAmount=5\nPosition=standing\nInstruction=I\n";

/* The same with MaxRounds=2: the first article assesses once, after round 1. */
static const char *const two_rounds_at_most =
  "[Routine]\nId=m\nTitle=M\nCaution=C\n"
  "[Rounds]\nBetter=another-round\nSame=done\nIrritated=rest\nMaxRounds=2\nRestSeconds=300\n"
  "RestPosition=floor-back\nRestInstruction=Lie down.\n"
  "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=standing\nInstruction=I\n"
  "[Step b]\nName=B\nCount=hold\nAmount=5\nPosition=standing\nInstruction=I\n";

/* Two steps, no round rule: one round. */
static const char *const one_round =
  "[Routine]\nId=o\nTitle=O\nCaution=C\n"
  "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=standing\nInstruction=I\n"
  "[Step b]\nName=B\nCount=hold\nAmount=5\nPosition=standing\nInstruction=I\n";

typedef enum { BEGIN, NEXT, NEXT_FROM, ASSESS, FINISH, DISMISS, TICK } Op;

#define OK (-1)   /* no error expected */
#define S (G_USEC_PER_SEC)

typedef struct {
  Op op;
  WuAssessment how;      /* ASSESS */
  gint64 at_s;           /* the call's time, seconds */
  int error;             /* OK or a WuError code */
  WuGuideState state;
  int step;              /* step index, -1: none */
  guint round;
  struct { int step; guint round; } from;   /* NEXT_FROM: where the caller saw the session */
} Row;

typedef struct {
  const char *name;
  const char *const *routine;
  Row rows[16];
  /* the outcome after the last row */
  guint rounds_done;
  WuAssessment last;
  gboolean completed;
} Case;

#define END { .op = (Op) -1 }
#define NA WU_ASSESSMENT_NONE
/* A NEXT_FROM row ends with FROM (step, round): where its caller saw the session. */
#define FROM(s, r) .from = { (s), (r) }

/* Only the NEXT_FROM rows give .from: the others leave it out. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const Case cases[] = {
  { "better-then-irritated-rest-by-time", &with_rounds, {
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 10, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 20, OK, WU_GUIDE_ASSESS, -1, 1 },
    { ASSESS, WU_ASSESSMENT_BETTER, 25, OK, WU_GUIDE_STEP, 0, 2 },    /* another round */
    { NEXT,   NA, 30, OK, WU_GUIDE_STEP, 1, 2 },
    { NEXT,   NA, 40, OK, WU_GUIDE_ASSESS, -1, 2 },
    { ASSESS, WU_ASSESSMENT_IRRITATED, 50, OK, WU_GUIDE_REST, -1, 2 },  /* 5 min lying down */
    { TICK,   NA, 349, OK, WU_GUIDE_REST, -1, 2 },
    { TICK,   NA, 350, OK, WU_GUIDE_DONE, -1, 2 },                 /* then done for the day */
    { NEXT,   NA, 351, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 2 },
    { FINISH, NA, 360, OK, WU_GUIDE_IDLE, -1, 0 },
    END }, 2, WU_ASSESSMENT_IRRITATED, TRUE },
  { "same-is-done-without-rest", &with_rounds, {
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 1, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 2, OK, WU_GUIDE_ASSESS, -1, 1 },
    { ASSESS, WU_ASSESSMENT_SAME, 3, OK, WU_GUIDE_DONE, -1, 1 },
    END }, 1, WU_ASSESSMENT_SAME, TRUE },
  { "next-ends-the-rest-early", &with_rounds, {
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 1, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 2, OK, WU_GUIDE_ASSESS, -1, 1 },
    { ASSESS, WU_ASSESSMENT_IRRITATED, 3, OK, WU_GUIDE_REST, -1, 1 },
    { NEXT,   NA, 60, OK, WU_GUIDE_DONE, -1, 1 },
    { TICK,   NA, 400, OK, WU_GUIDE_DONE, -1, 1 },
    END }, 1, WU_ASSESSMENT_IRRITATED, TRUE },
  { "misuse", &with_rounds, {
    { NEXT,   NA, 0, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0 },
    { ASSESS, WU_ASSESSMENT_BETTER, 0, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0 },
    { FINISH, NA, 0, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0 },
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { BEGIN,  NA, 1, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 0, 1 },     /* one at a time */
    { ASSESS, WU_ASSESSMENT_BETTER, 1, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 2, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 3, OK, WU_GUIDE_ASSESS, -1, 1 },
    { NEXT,   NA, 4, WU_ERROR_WRONG_STATE, WU_GUIDE_ASSESS, -1, 1 },  /* answer first */
    { ASSESS, NA, 4, WU_ERROR_INVALID_ARGUMENT, WU_GUIDE_ASSESS, -1, 1 },
    { BEGIN,  NA, 5, WU_ERROR_WRONG_STATE, WU_GUIDE_ASSESS, -1, 1 },
    { FINISH, NA, 6, OK, WU_GUIDE_IDLE, -1, 0 },                      /* cut short */
    END }, 1, WU_ASSESSMENT_NONE, FALSE },
  { "max-rounds-last-round-is-not-assessed", &two_rounds_at_most, {
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 1, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 2, OK, WU_GUIDE_ASSESS, -1, 1 },
    { ASSESS, WU_ASSESSMENT_BETTER, 3, OK, WU_GUIDE_STEP, 0, 2 },      /* one more round */
    { NEXT,   NA, 4, OK, WU_GUIDE_STEP, 1, 2 },
    { NEXT,   NA, 5, OK, WU_GUIDE_DONE, -1, 2 },                        /* no question */
    { ASSESS, WU_ASSESSMENT_BETTER, 6, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 2 },
    { NEXT,   NA, 7, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 2 },
    END }, 2, WU_ASSESSMENT_BETTER, TRUE },
  { "max-rounds-irritated-after-round-1-rests", &two_rounds_at_most, {
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 1, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 2, OK, WU_GUIDE_ASSESS, -1, 1 },
    { ASSESS, WU_ASSESSMENT_IRRITATED, 3, OK, WU_GUIDE_REST, -1, 1 },
    { TICK,   NA, 303, OK, WU_GUIDE_DONE, -1, 1 },
    END }, 1, WU_ASSESSMENT_IRRITATED, TRUE },
  { "one-round-without-rule", &one_round, {
    { BEGIN,  NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT,   NA, 1, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,   NA, 2, OK, WU_GUIDE_DONE, -1, 1 },
    { ASSESS, WU_ASSESSMENT_BETTER, 3, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 1 },
    { BEGIN,  NA, 4, OK, WU_GUIDE_STEP, 0, 1 },                       /* again, from done */
    END }, 0, WU_ASSESSMENT_NONE, FALSE },
  /* two screens on one session: each says where it saw it; the slower one moves nothing */
  { "next-from-where-the-caller-saw-it", &with_rounds, {
    { NEXT_FROM, NA, 0, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0, FROM (0, 1) },  /* as Next */
    { NEXT_FROM, NA, 0, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0, FROM (-1, 0) },
    { BEGIN,     NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT_FROM, NA, 1, OK, WU_GUIDE_STEP, 1, 1, FROM (0, 1) },
    { NEXT_FROM, NA, 1, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 1, 1, FROM (0, 1) },  /* stale step */
    { NEXT_FROM, NA, 2, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 1, 1, FROM (1, 2) },  /* stale round */
    { NEXT_FROM, NA, 2, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 1, 1, FROM (-1, 1) }, /* no rest */
    { NEXT_FROM, NA, 3, OK, WU_GUIDE_ASSESS, -1, 1, FROM (1, 1) },                 /* last step */
    { NEXT_FROM, NA, 4, WU_ERROR_WRONG_STATE, WU_GUIDE_ASSESS, -1, 1, FROM (1, 1) },
    { NEXT_FROM, NA, 4, WU_ERROR_WRONG_STATE, WU_GUIDE_ASSESS, -1, 1, FROM (-1, 1) },
    { ASSESS,    WU_ASSESSMENT_BETTER, 5, OK, WU_GUIDE_STEP, 0, 2 },
    { NEXT_FROM, NA, 6, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 0, 2, FROM (0, 1) },  /* round 1's */
    { NEXT_FROM, NA, 6, OK, WU_GUIDE_STEP, 1, 2, FROM (0, 2) },
    { NEXT_FROM, NA, 7, OK, WU_GUIDE_ASSESS, -1, 2, FROM (1, 2) },
    { ASSESS,    WU_ASSESSMENT_IRRITATED, 8, OK, WU_GUIDE_REST, -1, 2 },
    END }, 2, WU_ASSESSMENT_IRRITATED, FALSE },
  { "next-from-ends-the-rest-of-its-round", &with_rounds, {
    { BEGIN,     NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT_FROM, NA, 1, OK, WU_GUIDE_STEP, 1, 1, FROM (0, 1) },
    { NEXT_FROM, NA, 2, OK, WU_GUIDE_ASSESS, -1, 1, FROM (1, 1) },
    { ASSESS,    WU_ASSESSMENT_IRRITATED, 3, OK, WU_GUIDE_REST, -1, 1 },
    { NEXT_FROM, NA, 4, WU_ERROR_WRONG_STATE, WU_GUIDE_REST, -1, 1, FROM (1, 1) },  /* a step */
    { NEXT_FROM, NA, 4, WU_ERROR_WRONG_STATE, WU_GUIDE_REST, -1, 1, FROM (0, 1) },
    { NEXT_FROM, NA, 5, WU_ERROR_WRONG_STATE, WU_GUIDE_REST, -1, 1, FROM (-1, 2) }, /* round */
    { NEXT_FROM, NA, 5, WU_ERROR_WRONG_STATE, WU_GUIDE_REST, -1, 1, FROM (-1, 0) },
    { NEXT_FROM, NA, 60, OK, WU_GUIDE_DONE, -1, 1, FROM (-1, 1) },                  /* up early */
    { NEXT_FROM, NA, 61, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 1, FROM (-1, 1) }, /* twice */
    { NEXT_FROM, NA, 61, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 1, FROM (1, 1) },
    { TICK,      NA, 400, OK, WU_GUIDE_DONE, -1, 1 },
    { FINISH,    NA, 401, OK, WU_GUIDE_IDLE, -1, 0 },
    { NEXT_FROM, NA, 402, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0, FROM (-1, 1) },
    END }, 1, WU_ASSESSMENT_IRRITATED, TRUE },
  /* Dismiss: Finish for a session that is done (a screen that saw the day end), and
   * refused anywhere else: a session begun since is left alone. */
  { "dismiss-only-when-done", &one_round, {
    { DISMISS,   NA, 0, WU_ERROR_NO_SESSION, WU_GUIDE_IDLE, -1, 0 },
    { BEGIN,     NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { DISMISS,   NA, 1, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 0, 1 },
    { NEXT,      NA, 1, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,      NA, 2, OK, WU_GUIDE_DONE, -1, 1 },
    { BEGIN,     NA, 3, OK, WU_GUIDE_STEP, 0, 1 },      /* another screen, from done */
    { DISMISS,   NA, 4, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 0, 1 },
    { NEXT,      NA, 5, OK, WU_GUIDE_STEP, 1, 1 },
    { NEXT,      NA, 6, OK, WU_GUIDE_DONE, -1, 1 },
    { DISMISS,   NA, 7, OK, WU_GUIDE_IDLE, -1, 0 },
    END }, 1, WU_ASSESSMENT_NONE, TRUE },
  { "next-from-one-round-ends-in-done", &one_round, {
    { BEGIN,     NA, 0, OK, WU_GUIDE_STEP, 0, 1 },
    { NEXT_FROM, NA, 1, WU_ERROR_WRONG_STATE, WU_GUIDE_STEP, 0, 1, FROM (1, 1) },  /* ahead */
    { NEXT_FROM, NA, 1, OK, WU_GUIDE_STEP, 1, 1, FROM (0, 1) },
    { NEXT_FROM, NA, 2, OK, WU_GUIDE_DONE, -1, 1, FROM (1, 1) },
    { NEXT_FROM, NA, 2, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 1, FROM (1, 1) },
    { NEXT,      NA, 3, WU_ERROR_WRONG_STATE, WU_GUIDE_DONE, -1, 1 },              /* as Next */
    END }, 1, WU_ASSESSMENT_NONE, TRUE },
};
#pragma GCC diagnostic pop

static gboolean
run_row (WuGuide *guide, WuRoutine *routine, const Row *row, GError **error)
{
  gint64 now = row->at_s * S;

  switch (row->op)
    {
    case BEGIN:
      return wu_guide_begin (guide, routine, now, error);
    case NEXT:
      return wu_guide_next (guide, now, error);
    case NEXT_FROM:
      return wu_guide_next_from (guide, row->from.step, row->from.round, now, error);
    case ASSESS:
      return wu_guide_assess (guide, row->how, now, error);
    case FINISH:
      return wu_guide_finish (guide, error);
    case DISMISS:
      return wu_guide_dismiss (guide, error);
    case TICK:
    default:
      wu_guide_tick (guide, now);
      return TRUE;
    }
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_parse (*c->routine, -1, "t.routine", NULL, &parse_error);
  g_autoptr (WuGuide) guide = wu_guide_new ();
  WuGuideOutcome outcome;

  g_assert_no_error (parse_error);
  g_assert_false (wu_guide_get_outcome (guide, &outcome));
  for (guint i = 0; c->rows[i].op != (Op) -1; i++)
    {
      const Row *row = &c->rows[i];
      g_autoptr (GError) error = NULL;
      gboolean ok = run_row (guide, routine, row, &error);

      g_test_message ("%s row %u", c->name, i);
      if (row->error == OK)
        g_assert_no_error (error);
      else
        g_assert_error (error, WU_ERROR, row->error);
      g_assert_cmpint (ok, ==, row->error == OK);
      g_assert_cmpstr (wu_guide_state_to_string (wu_guide_get_state (guide)), ==,
                       wu_guide_state_to_string (row->state));
      g_assert_cmpint (wu_guide_get_step_index (guide), ==, row->step);
      g_assert_cmpuint (wu_guide_get_round (guide), ==, row->round);
      g_assert_true ((wu_guide_get_step (guide) != NULL) == (row->step >= 0));
      g_assert_true ((wu_guide_get_deadline (guide) >= 0) == (row->state == WU_GUIDE_REST));
    }
  g_assert_true (wu_guide_get_outcome (guide, &outcome));
  g_assert_cmpstr (outcome.routine_id, ==, routine->id);
  g_assert_cmpuint (outcome.rounds_done, ==, c->rounds_done);
  g_assert_cmpint (outcome.last_assessment, ==, c->last);
  g_assert_cmpint (outcome.completed, ==, c->completed);
}

/* The rest's deadline is the assessment's time plus RestSeconds. */
static void
test_rest_deadline (void)
{
  g_autoptr (WuRoutine) routine = wu_routine_parse (with_rounds, -1, "t.routine", NULL, NULL);
  g_autoptr (WuGuide) guide = wu_guide_new ();

  g_assert_true (wu_guide_begin (guide, routine, 0, NULL));
  g_assert_cmpint (wu_guide_get_deadline (guide), ==, -1);
  g_assert_true (wu_guide_next (guide, 1 * S, NULL));
  g_assert_true (wu_guide_next (guide, 2 * S, NULL));
  g_assert_true (wu_guide_assess (guide, WU_ASSESSMENT_IRRITATED, 7 * S, NULL));
  g_assert_cmpint (wu_guide_get_deadline (guide), ==, 307 * S);
  g_assert_false (wu_guide_tick (guide, 307 * S - 1));
  g_assert_true (wu_guide_tick (guide, 307 * S));
  g_assert_false (wu_guide_tick (guide, 400 * S));
}

/* A refused NextFrom says where the session is now, for the caller to catch up. */
static void
test_next_from_says_where (void)
{
  g_autoptr (WuRoutine) routine = wu_routine_parse (with_rounds, -1, "t.routine", NULL, NULL);
  g_autoptr (WuGuide) guide = wu_guide_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (wu_guide_begin (guide, routine, 0, NULL));
  g_assert_true (wu_guide_next_from (guide, 0, 1, 1 * S, NULL));
  g_assert_false (wu_guide_next_from (guide, 0, 1, 1 * S, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_WRONG_STATE);
  g_assert_cmpstr (error->message, ==,
                   "NextFrom: the session is now in state step, step 1, round 1 "
                   "(called for step 0, round 1)");
  g_clear_error (&error);
  g_assert_true (wu_guide_next (guide, 2 * S, NULL));
  g_assert_false (wu_guide_next_from (guide, 1, 1, 3 * S, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_WRONG_STATE);
  g_assert_nonnull (strstr (error->message, "state assess, step -1, round 1"));
}

/* The guide keeps its routine even when the caller drops it (a reload). */
static void
test_keeps_routine (void)
{
  WuRoutine *routine = wu_routine_parse (one_round, -1, "t.routine", NULL, NULL);
  g_autoptr (WuGuide) guide = wu_guide_new ();

  g_assert_true (wu_guide_begin (guide, routine, 0, NULL));
  wu_routine_unref (routine);
  g_assert_cmpstr (wu_guide_get_routine (guide)->id, ==, "o");
  g_assert_cmpstr (wu_guide_get_step (guide)->id, ==, "a");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/guide/%s", cases[i].name);
      g_test_add_data_func (name, &cases[i], test_case);
    }
  g_test_add_func ("/guide/rest-deadline", test_rest_deadline);
  g_test_add_func ("/guide/keeps-routine", test_keeps_routine);
  g_test_add_func ("/guide/next-from-says-where", test_next_from_says_where);
  return g_test_run ();
}
