/* The guided session's state machine: see include/wu-guide.h. */
#include "wu-guide.h"
#include "wu-error.h"

struct WuGuide {
  WuGuideState state;
  WuRoutine *routine;          /* the session's (or the last session's), a reference */
  guint step;
  guint round;
  guint rounds_done;
  WuAssessment last_assessment;
  gboolean completed;
  gint64 rest_until_us;
};

static const char *const state_names[] = { "idle", "step", "assess", "rest", "done" };

const char *
wu_guide_state_to_string (WuGuideState state)
{
  return state_names[state];
}

WuGuide *
wu_guide_new (void)
{
  WuGuide *guide = g_new0 (WuGuide, 1);

  guide->state = WU_GUIDE_IDLE;
  guide->last_assessment = WU_ASSESSMENT_NONE;
  return guide;
}

void
wu_guide_free (WuGuide *guide)
{
  g_clear_pointer (&guide->routine, wu_routine_unref);
  g_free (guide);
}

static void
set_state (WuGuide *guide, WuGuideState state)
{
  if (guide->state != state)
    g_debug ("guide: %s -> %s", state_names[guide->state], state_names[state]);
  guide->state = state;
}

static gboolean
wrong_state (const WuGuide *guide, const char *call, const char *allowed, GError **error)
{
  if (guide->state == WU_GUIDE_IDLE)
    g_set_error (error, WU_ERROR, WU_ERROR_NO_SESSION, "%s: no guided session (Begin one first)",
                 call);
  else
    g_set_error (error, WU_ERROR, WU_ERROR_WRONG_STATE, "%s: the session is in state %s, not %s",
                 call, state_names[guide->state], allowed);
  return FALSE;
}

gboolean
wu_guide_begin (WuGuide *guide, WuRoutine *routine, gint64 now_us, GError **error)
{
  if (guide->state != WU_GUIDE_IDLE && guide->state != WU_GUIDE_DONE)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_WRONG_STATE,
                   "Begin: a session of %s is in state %s (Finish it first)", guide->routine->id,
                   state_names[guide->state]);
      return FALSE;
    }
  g_clear_pointer (&guide->routine, wu_routine_unref);
  guide->routine = wu_routine_ref (routine);
  guide->step = 0;
  guide->round = 1;
  guide->rounds_done = 0;
  guide->last_assessment = WU_ASSESSMENT_NONE;
  guide->completed = FALSE;
  guide->rest_until_us = -1;
  set_state (guide, WU_GUIDE_STEP);
  return TRUE;
}

static void
finish_for_the_day (WuGuide *guide)
{
  guide->completed = TRUE;
  guide->rest_until_us = -1;
  set_state (guide, WU_GUIDE_DONE);
}

/* Whether the round just done is followed by an assessment: not without a round rule, not
 * after the last round the rule allows. */
static gboolean
round_is_assessed (const WuGuide *guide)
{
  const WuRoundRule *rule = &guide->routine->rounds;

  return rule->present && (rule->max_rounds == 0 || guide->round < rule->max_rounds);
}

gboolean
wu_guide_next (WuGuide *guide, gint64 now_us, GError **error)
{
  if (guide->state == WU_GUIDE_REST)
    {
      /* the person got up (or a screen's countdown ran out first): the rest is over */
      finish_for_the_day (guide);
      return TRUE;
    }
  if (guide->state != WU_GUIDE_STEP)
    return wrong_state (guide, "Next", "step or rest", error);
  if (guide->step + 1 < guide->routine->steps->len)
    {
      guide->step++;
      return TRUE;
    }
  guide->rounds_done++;
  if (round_is_assessed (guide))
    set_state (guide, WU_GUIDE_ASSESS);
  else
    finish_for_the_day (guide);
  return TRUE;
}

gboolean
wu_guide_next_from (WuGuide *guide, int step_index, guint round, gint64 now_us, GError **error)
{
  gboolean here;

  if (guide->state == WU_GUIDE_IDLE)
    return wrong_state (guide, "NextFrom", "step or rest", error);
  here = guide->round == round
         && ((guide->state == WU_GUIDE_STEP && step_index == (int) guide->step)
             || (guide->state == WU_GUIDE_REST && step_index == -1));
  if (!here)
    {
      /* another screen moved the session on (or the caller's view is otherwise out of date) */
      g_set_error (error, WU_ERROR, WU_ERROR_WRONG_STATE,
                   "NextFrom: the session is now in state %s, step %d, round %u "
                   "(called for step %d, round %u)", state_names[guide->state],
                   wu_guide_get_step_index (guide), guide->round, step_index, round);
      return FALSE;
    }
  return wu_guide_next (guide, now_us, error);
}

gboolean
wu_guide_assess (WuGuide *guide, WuAssessment how, gint64 now_us, GError **error)
{
  const WuRoundRule *rule;

  if (guide->state != WU_GUIDE_ASSESS)
    return wrong_state (guide, "Assess", "assess", error);
  if (how < 0 || how >= WU_N_ASSESSMENTS)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_INVALID_ARGUMENT,
                   "Assess: expected better, same or irritated");
      return FALSE;
    }
  rule = &guide->routine->rounds;
  guide->last_assessment = how;
  switch (rule->on[how])
    {
    case WU_ROUND_ACTION_ANOTHER_ROUND:
      guide->round++;
      guide->step = 0;
      set_state (guide, WU_GUIDE_STEP);
      break;
    case WU_ROUND_ACTION_REST:
      guide->rest_until_us = now_us + (gint64) rule->rest_seconds * G_USEC_PER_SEC;
      set_state (guide, WU_GUIDE_REST);
      break;
    case WU_ROUND_ACTION_DONE:
    default:
      finish_for_the_day (guide);
      break;
    }
  return TRUE;
}

gboolean
wu_guide_finish (WuGuide *guide, GError **error)
{
  if (guide->state == WU_GUIDE_IDLE)
    return wrong_state (guide, "Finish", "a session", error);
  guide->rest_until_us = -1;
  set_state (guide, WU_GUIDE_IDLE);   /* the routine stays: the outcome names it */
  return TRUE;
}

gboolean
wu_guide_dismiss (WuGuide *guide, GError **error)
{
  if (guide->state != WU_GUIDE_DONE)
    return wrong_state (guide, "Dismiss", "done", error);
  return wu_guide_finish (guide, error);
}

gboolean
wu_guide_tick (WuGuide *guide, gint64 now_us)
{
  if (guide->state != WU_GUIDE_REST || now_us < guide->rest_until_us)
    return FALSE;
  finish_for_the_day (guide);
  return TRUE;
}

gint64
wu_guide_get_deadline (const WuGuide *guide)
{
  return guide->state == WU_GUIDE_REST ? guide->rest_until_us : -1;
}

WuGuideState
wu_guide_get_state (const WuGuide *guide)
{
  return guide->state;
}

WuRoutine *
wu_guide_get_routine (const WuGuide *guide)
{
  return guide->state == WU_GUIDE_IDLE ? NULL : guide->routine;
}

int
wu_guide_get_step_index (const WuGuide *guide)
{
  return guide->state == WU_GUIDE_STEP ? (int) guide->step : -1;
}

const WuStep *
wu_guide_get_step (const WuGuide *guide)
{
  if (guide->state != WU_GUIDE_STEP)
    return NULL;
  return g_ptr_array_index (guide->routine->steps, guide->step);
}

guint
wu_guide_get_round (const WuGuide *guide)
{
  return guide->state == WU_GUIDE_IDLE ? 0 : guide->round;
}

WuAssessment
wu_guide_get_last_assessment (const WuGuide *guide)
{
  return guide->last_assessment;
}

gboolean
wu_guide_get_outcome (const WuGuide *guide, WuGuideOutcome *outcome)
{
  if (guide->routine == NULL)
    return FALSE;
  outcome->routine_id = guide->routine->id;
  outcome->rounds_done = guide->rounds_done;
  outcome->last_assessment = guide->last_assessment;
  outcome->completed = guide->completed;
  return TRUE;
}
