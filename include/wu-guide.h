/* A guided session through a floor routine: a pure state machine (no I/O, time injected).
 *
 *   idle --Begin--> step (round 1, step 0) --Next--> step ... --Next after the last step-->
 *     assess        (the routine has a round rule and this is not its MaxRounds-th round)
 *     done          (it has none: one round; or the last allowed round: no assessment)
 *   assess --Assess(how)--> the rule's action for HOW:
 *     another-round -> step (round + 1, step 0)
 *     rest          -> rest (until now + RestSeconds) --deadline or Next--> done
 *     done          -> done
 *   any but idle --Finish--> idle          done --Begin--> step (a new session)
 *   done --Dismiss--> idle  (a screen that saw it done; anything else is left alone)
 *
 * NextFrom is Next for a caller that says where it saw the session (several screens): it
 * moves only from that step of that round (step -1: the rest of that round).
 *
 * Misuse fails with WU_ERROR_NO_SESSION (nothing begun) or WU_ERROR_WRONG_STATE. */
#pragma once
#include <glib.h>
#include "wu-routine.h"

G_BEGIN_DECLS

typedef enum {
  WU_GUIDE_IDLE,     /* no session */
  WU_GUIDE_STEP,     /* doing a step */
  WU_GUIDE_ASSESS,   /* a round is over: how does the back feel? */
  WU_GUIDE_REST,     /* lying down before stopping for the day */
  WU_GUIDE_DONE,     /* finished for the day; Finish() or Begin() again */
} WuGuideState;

/* How a session ended, for the history. */
typedef struct {
  const char *routine_id;      /* owned by the guide's routine; valid until the next Begin */
  guint rounds_done;           /* rounds whose last step was done */
  WuAssessment last_assessment;
  gboolean completed;          /* reached done by the rule (not cut short by Finish) */
} WuGuideOutcome;

typedef struct WuGuide WuGuide;

WuGuide *wu_guide_new (void);
void wu_guide_free (WuGuide *guide);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuGuide, wu_guide_free)

gboolean wu_guide_begin (WuGuide *guide, WuRoutine *routine, gint64 now_us, GError **error);
gboolean wu_guide_next (WuGuide *guide, gint64 now_us, GError **error);
/* wu_guide_next(), only if the session is where the caller saw it: in "step" at STEP_INDEX
 * of ROUND, or in "rest" of ROUND with STEP_INDEX -1. Anywhere else WU_ERROR_WRONG_STATE
 * (saying where it is) and nothing moves; WU_ERROR_NO_SESSION when idle, as wu_guide_next(). */
gboolean wu_guide_next_from (WuGuide *guide, int step_index, guint round, gint64 now_us,
                             GError **error);
gboolean wu_guide_assess (WuGuide *guide, WuAssessment how, gint64 now_us, GError **error);
gboolean wu_guide_finish (WuGuide *guide, GError **error);
/* wu_guide_finish(), only if the session is done: a screen that showed the end of the day
 * must not end a session another screen has begun since (WU_ERROR_WRONG_STATE). */
gboolean wu_guide_dismiss (WuGuide *guide, GError **error);
/* Time passes: a rest whose deadline is reached ends (-> done). TRUE when the state changed. */
gboolean wu_guide_tick (WuGuide *guide, gint64 now_us);
/* When wu_guide_tick() next has something to do, or -1. */
gint64 wu_guide_get_deadline (const WuGuide *guide);

WuGuideState wu_guide_get_state (const WuGuide *guide);
WuRoutine *wu_guide_get_routine (const WuGuide *guide);      /* NULL when idle */
int wu_guide_get_step_index (const WuGuide *guide);           /* -1 unless in a step */
const WuStep *wu_guide_get_step (const WuGuide *guide);       /* NULL unless in a step */
guint wu_guide_get_round (const WuGuide *guide);              /* 1-based, 0 when idle */
WuAssessment wu_guide_get_last_assessment (const WuGuide *guide);
/* The session's outcome so far (or the last one's, once idle); FALSE if none ever began. */
gboolean wu_guide_get_outcome (const WuGuide *guide, WuGuideOutcome *outcome);

const char *wu_guide_state_to_string (WuGuideState state);  /* "idle", "step", ... */

G_END_DECLS
