/* libFuzzer harness for the floor routine parser (src/routine.c) and the guided session that
 * walks a parsed routine (src/guide.c). Any input must either parse, giving a routine whose
 * every fact is in range (ids valid, texts non-NULL UTF-8, counts and sets within bounds,
 * at least one step), or fail with WU_ERROR_MALFORMED and a "PATH:LINE: reason" message in
 * UTF-8. A routine that parses is then guided through: Begin, Next over every step, Assess
 * (cycling better/same/irritated) for up to five rounds, rest deadlines ticked; the guide
 * must stay in a consistent state and end in done or be finished cleanly.
 *
 *   make fuzz   (builds every target in tests/fuzz with clang, ASan + UBSan)
 *   ./fuzz-out/fuzz-routine -max_total_time=60 tests/fuzz/corpus/routine */
#include "wu-routine.h"
#include "wu-guide.h"
#include "wu-error.h"
#include "fuzz-log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PATH "fuzz.routine"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  fuzz_log_init (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, 0);
  return 0;
}

static void
check_text (const char *text)
{
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    abort ();
}

static void
check_routine (const WuRoutine *r)
{
  if (!wu_routine_id_is_valid (r->id))
    abort ();
  check_text (r->title);
  check_text (r->source);
  check_text (r->before);
  check_text (r->caution);
  check_text (r->path);
  if (r->title[0] == '\0' || r->caution[0] == '\0')
    abort ();
  if (r->steps == NULL || r->steps->len == 0)
    abort ();
  check_text (r->rounds.rest_instruction);
  if (r->rounds.max_rounds == 1 || (!r->rounds.present && r->rounds.max_rounds != 0))
    abort ();
  if (r->rounds.present)
    for (int how = 0; how < WU_N_ASSESSMENTS; how++)
      {
        if (r->rounds.on[how] > WU_ROUND_ACTION_REST)
          abort ();
        if (r->rounds.on[how] == WU_ROUND_ACTION_REST && r->rounds.rest_seconds == 0)
          abort ();
      }
  for (guint i = 0; i < r->steps->len; i++)
    {
      const WuStep *s = g_ptr_array_index (r->steps, i);

      if (!wu_routine_id_is_valid (s->id))
        abort ();
      for (guint j = 0; j < i; j++)
        if (strcmp (((const WuStep *) g_ptr_array_index (r->steps, j))->id, s->id) == 0)
          abort ();
      check_text (s->name);
      check_text (s->note);
      check_text (s->instruction);
      if (s->count > WU_COUNT_BREATHS || s->sides > WU_SIDES_ALTERNATING
          || s->position > WU_POSITION_ALL_FOURS)
        abort ();
      if (s->sets_min < 1 || s->sets_min > s->sets_max)
        abort ();
      if (s->amount == 0 && s->note[0] == '\0')
        abort ();
      if (s->hold_seconds > 0 && s->count != WU_COUNT_REPS)
        abort ();
      /* the names used on D-Bus and by warmupctl exist for every value */
      if (wu_count_kind_to_string (s->count) == NULL || wu_sides_to_string (s->sides) == NULL
          || wu_position_to_string (s->position) == NULL)
        abort ();
    }
}

/* Walk the routine with a guide; the input's first byte picks the assessments. */
static void
guide_through (WuRoutine *routine, guint8 seed)
{
  g_autoptr (WuGuide) guide = wu_guide_new ();
  gint64 now = 1000000;
  guint rounds = 0;

  if (!wu_guide_begin (guide, routine, now, NULL))
    abort ();
  for (guint n = 0; n < 5 * (routine->steps->len + 2) && rounds < 5; n++)
    {
      WuGuideState state = wu_guide_get_state (guide);
      gint64 deadline = wu_guide_get_deadline (guide);

      now += 1000000;
      if (state == WU_GUIDE_DONE)
        break;
      if (deadline != -1 && deadline < now - 1000000)
        abort ();
      switch (state)
        {
        case WU_GUIDE_STEP:
          if (wu_guide_get_step (guide) == NULL
              || wu_guide_get_step_index (guide) < 0
              || (guint) wu_guide_get_step_index (guide) >= routine->steps->len
              || wu_guide_get_round (guide) < 1)
            abort ();
          if (!wu_guide_next (guide, now, NULL))
            abort ();
          break;
        case WU_GUIDE_ASSESS:
          if (!routine->rounds.present
              || (routine->rounds.max_rounds > 0
                  && wu_guide_get_round (guide) >= routine->rounds.max_rounds))
            abort ();
          rounds++;
          if (!wu_guide_assess (guide, (WuAssessment) ((seed + rounds) % WU_N_ASSESSMENTS), now,
                                NULL))
            abort ();
          break;
        case WU_GUIDE_REST:
          if (deadline == -1)
            abort ();
          now = deadline;
          if (!wu_guide_tick (guide, now) || wu_guide_get_state (guide) != WU_GUIDE_DONE)
            abort ();
          break;
        default:
          abort ();
        }
    }
  {
    WuGuideOutcome outcome;
    if (!wu_guide_get_outcome (guide, &outcome) || strcmp (outcome.routine_id, routine->id) != 0)
      abort ();
  }
  if (!wu_guide_finish (guide, NULL) || wu_guide_get_state (guide) != WU_GUIDE_IDLE)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = NULL;

  routine = wu_routine_parse ((const char *) data, (gssize) size, PATH, NULL, &error);
  if (routine == NULL)
    {
      if (!g_error_matches (error, WU_ERROR, WU_ERROR_MALFORMED)
          || !g_str_has_prefix (error->message, PATH ":")
          || !g_utf8_validate (error->message, -1, NULL))
        abort ();
      return 0;
    }
  if (error != NULL)
    abort ();
  check_routine (routine);
  /* the same text with its own id expected parses the same */
  {
    g_autoptr (GError) again_error = NULL;
    g_autoptr (WuRoutine) again = wu_routine_parse ((const char *) data, (gssize) size, PATH,
                                                    routine->id, &again_error);
    if (again == NULL || again->steps->len != routine->steps->len)
      abort ();
  }
  guide_through (routine, size > 0 ? data[0] : 0);
  return 0;
}
