/* Floor routines as data: data/routines/ID.routine, a GKeyFile per routine.
 *
 *   [Routine]   Id, Title, Caution (required); Source, Before (optional)
 *   [Rounds]    optional round rule: Better/Same/Irritated = another-round | rest | done,
 *               RestSeconds, RestPosition, RestInstruction (required when an action is rest),
 *               MaxRounds (2-100, only when an action is another-round; absent: no limit):
 *               the last allowed round ends the session without an assessment
 *   [Step ID]   one per step, in the file's order: Name, Count (reps|hold|breaths),
 *               Position, Instruction (required); Amount (a count > 0; absent: the article
 *               gives none, and then Note must say so), Sides (none|each|alternating),
 *               Hold (seconds per repetition), Sets (N or N-M), Note
 *
 * Parsing is pure (text in, routine or "FILE:LINE: reason" out); only the *_load_* helpers
 * read files. Unknown groups and keys are errors: a typo in a shipped routine must not
 * silently drop a fact. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WU_COUNT_REPS,      /* Amount repetitions */
  WU_COUNT_HOLD,      /* hold for Amount seconds */
  WU_COUNT_BREATHS,   /* Amount breaths */
} WuCountKind;

typedef enum {
  WU_SIDES_NONE,         /* both sides at once, or no side */
  WU_SIDES_EACH,         /* the whole count on one side, then on the other */
  WU_SIDES_ALTERNATING,  /* left and right in turn; Amount counts each side */
} WuSides;

typedef enum {
  WU_POSITION_FLOOR_BACK,
  WU_POSITION_FLOOR_SIDE,
  WU_POSITION_FLOOR_FRONT,
  WU_POSITION_KNEELING,
  WU_POSITION_STANDING,
  WU_POSITION_ALL_FOURS,
} WuPosition;

typedef enum {
  WU_ROUND_ACTION_DONE,           /* stop for the day */
  WU_ROUND_ACTION_ANOTHER_ROUND,
  WU_ROUND_ACTION_REST,           /* rest for rest_seconds, then stop for the day */
} WuRoundAction;

typedef enum {
  WU_ASSESSMENT_NONE = -1,
  WU_ASSESSMENT_BETTER,
  WU_ASSESSMENT_SAME,
  WU_ASSESSMENT_IRRITATED,
  WU_N_ASSESSMENTS
} WuAssessment;

typedef struct {
  char *id;
  char *name;
  WuCountKind count;
  guint amount;          /* 0: the article gives no number (see note) */
  WuSides sides;
  WuPosition position;
  guint hold_seconds;    /* per repetition, 0: none */
  guint sets_min, sets_max;   /* 1, 1 unless Sets= */
  char *note;            /* "" when none */
  char *instruction;
} WuStep;

typedef struct {
  gboolean present;                             /* FALSE: one round, then done */
  WuRoundAction on[WU_N_ASSESSMENTS];           /* indexed by WuAssessment */
  guint max_rounds;                             /* 0: no limit; else done after this round */
  guint rest_seconds;
  WuPosition rest_position;
  char *rest_instruction;
} WuRoundRule;

typedef struct {
  char *id;
  char *title;
  char *source;          /* "" when none */
  char *before;          /* what comes first, "" when nothing */
  char *caution;
  WuRoundRule rounds;
  GPtrArray *steps;      /* of WuStep*, in order */
  char *path;            /* where it was loaded from, for messages */
} WuRoutine;

/* Reference counted: a guided session keeps its routine even if the set is reloaded. */
WuRoutine *wu_routine_ref (WuRoutine *routine);
void wu_routine_unref (WuRoutine *routine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuRoutine, wu_routine_unref)

/* Parse CONTENTS (LENGTH bytes, -1: NUL-terminated) read from PATH. PATH names the routine
 * in messages; when EXPECTED_ID is not NULL, Id= must equal it (the file's base name).
 * Errors are WU_ERROR_MALFORMED with "PATH:LINE: reason". */
WuRoutine *wu_routine_parse (const char *contents, gssize length, const char *path,
                             const char *expected_id, GError **error);
/* Read and parse PATH (ID.routine). */
WuRoutine *wu_routine_load_file (const char *path, GError **error);
/* Every *.routine in DIR, sorted by id. A broken file is left out and its error appended
 * to ERRORS (a GPtrArray of char*, may be NULL); the others still load. FALSE only when
 * DIR cannot be read. */
gboolean wu_routine_load_dir (const char *dir, GPtrArray **routines, GPtrArray *errors,
                              GError **error);
/* The routine in ROUTINES (of WuRoutine*) with ID, or NULL. */
WuRoutine *wu_routine_find (GPtrArray *routines, const char *id);

/* Names as in the files and on D-Bus. */
const char *wu_count_kind_to_string (WuCountKind kind);      /* "reps", "hold", "breaths" */
const char *wu_sides_to_string (WuSides sides);              /* "none", "each", "alternating" */
const char *wu_position_to_string (WuPosition position);     /* "floor-back", ... */
const char *wu_round_action_to_string (WuRoundAction action);/* "done", "another-round", "rest" */
const char *wu_assessment_to_string (WuAssessment how);      /* "better", "same", "irritated", "" */
/* "better", "same", "irritated" -> the value; anything else -> WU_ASSESSMENT_NONE. */
WuAssessment wu_assessment_from_string (const char *text);
/* A valid routine or step id: 1-64 of [a-z0-9_-]. */
gboolean wu_routine_id_is_valid (const char *id);

G_END_DECLS
