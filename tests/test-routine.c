/* The shipped routines against the articles' facts (a table written from each article), and
 * broken routine files rejected with FILE:LINE: reason, table-driven. */
#include "wu-error.h"
#include "wu-routine.h"

#include <glib/gstdio.h>
#include <string.h>

/* --- the articles, step by step ------------------------------------------------------------ */

typedef struct {
  const char *id;
  const char *name;
  WuCountKind count;
  guint amount;              /* 0: the article gives no number */
  WuSides sides;
  WuPosition position;
  guint hold_seconds;
  guint sets_min, sets_max;
} ExpectedStep;

typedef struct {
  const char *file;
  const char *id;
  const char *caution_words[5];   /* the article's stop rules, a few words each */
  gboolean rounds;
  ExpectedStep steps[8];
} ExpectedRoutine;

#define REPS WU_COUNT_REPS
#define HOLD WU_COUNT_HOLD
#define BREATHS WU_COUNT_BREATHS
#define NONE WU_SIDES_NONE
#define EACH WU_SIDES_EACH
#define ALT WU_SIDES_ALTERNATING

static const ExpectedRoutine expected_routines[] = {
  /* 000: "6 Moves To Erase Back Tension": after a 10-minute easy bike warm-up; rounds. */
  /* "an acute episode, like a fall or accident, when the hurt doesn't subside or change for
   * 5 to 7 days" -> the doctor; "If your back seems irritated" -> lie down, stop for the day */
  { "after-bike-warmup.routine", "after-bike-warmup",
    { "irritated", "fall", "accident", "5 to 7 days", NULL }, TRUE, {
    /* "alternating 10 times on each side" */
    { "windshield-wipers", "Windshield wiper legs", REPS, 10, ALT, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    /* "Repeat 15 times" */
    { "ab-touch", "45-degree ab touch", REPS, 15, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    /* "Pause at the top for two seconds ... complete 10. Switch and complete 10" */
    { "knee-to-chest", "Active knee-to-chest pull", REPS, 10, EACH, WU_POSITION_FLOOR_BACK, 2, 1, 1 },
    /* "Complete 10 full circles ... Rotate your knees to the other side ... 10 full circles" */
    { "twisted-circles", "Twisted circles", REPS, 10, EACH, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    /* "From a kneeling position ... Hold for 10 full breaths ... switch sides" */
    { "hip-flexor-stretch", "Hip flexor stretch", BREATHS, 10, EACH, WU_POSITION_KNEELING, 0, 1, 1 },
    /* "Lie on your right side ... Take 10 long, deep breaths ... switch sides" */
    { "quad-stretch", "Quad stretch", BREATHS, 10, EACH, WU_POSITION_FLOOR_SIDE, 0, 1, 1 },
    { NULL } } },
  /* 001: "Best Exercises to Relieve Back Pain": four unnamed moves; stop if worse. */
  { "key-exercises.routine", "key-exercises", { "stop", NULL }, FALSE, {
    /* flat on the stomach, lift hips, "hold the plank for about 30 seconds" */
    { "kneeling-plank", "Plank on knees and elbows", HOLD, 30, NONE, WU_POSITION_FLOOR_FRONT, 0, 1, 1 },
    /* standing, hips back, "hold that position for about 30 seconds" */
    { "hip-hinge", "Standing hip hinge", HOLD, 30, NONE, WU_POSITION_STANDING, 0, 1, 1 },
    /* lunge, "Hold for 30 seconds, switch sides" */
    { "lunge-hamstring-stretch", "Lunge hamstring stretch", HOLD, 30, EACH, WU_POSITION_STANDING, 0, 1, 1 },
    /* inhale lift, exhale tighten, "Repeat several times": no number */
    { "stand-tall", "Stand tall", BREATHS, 0, NONE, WU_POSITION_STANDING, 0, 1, 1 },
    { NULL } } },
  /* 002: "4 Moves to Ease Chronic Back Pain"; pinpointed pain: see a doctor. */
  { "chronic-back-pain.routine", "chronic-back-pain", { "doctor", NULL }, FALSE, {
    /* "Hold for 15 seconds, then repeat in the opposite direction" */
    { "sky-high-stretch", "Sky-high stretch", HOLD, 15, EACH, WU_POSITION_STANDING, 0, 1, 1 },
    /* "That's 1 rep; do 10" */
    { "pelvic-tilt", "Pelvic tilt", REPS, 10, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    /* all fours: a hold of 30 s at most, 2 to 3 holds in all */
    { "knee-lift", "Knee lift", HOLD, 30, NONE, WU_POSITION_ALL_FOURS, 0, 2, 3 },
    /* "repeat on opposite side. That's 1 rep; do 10" */
    { "hinging-side-lunge", "Hinging side lunge", REPS, 10, ALT, WU_POSITION_STANDING, 0, 1, 1 },
    { NULL } } },
  /* 003: "Back Exercises for Relieving Muscle Tension and Pain": all on the back, no counts. */
  { "breathing-and-core.routine", "breathing-and-core", { "pain", NULL }, FALSE, {
    { "diaphragmatic-breathing", "Diaphragmatic breathing", BREATHS, 0, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    { "neutral-spine-draw-in", "Neutral spine and draw in", REPS, 0, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    /* "Keeping the first knee up, repeat with the other knee": both end up in, not a side
     * then the other */
    { "knees-to-chest", "Knees to chest", HOLD, 0, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    { "pelvic-tilt", "Pelvic tilt", REPS, 0, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    { "arm-raise", "Arm raise for the upper back", REPS, 0, NONE, WU_POSITION_FLOOR_BACK, 0, 1, 1 },
    { NULL } } },
};

/* Facts an instruction must give beyond the counts (words of ours that carry them). */
typedef struct {
  const char *file;
  const char *step_id;
  const char *words[4];      /* NULL-terminated */
} InstructionFacts;

static const InstructionFacts instruction_facts[] = {
  /* 000: knees to the right, "circle your left arm counterclockwise"; knees to the other
   * side, "Circle your right arm clockwise" */
  { "after-bike-warmup.routine", "twisted-circles",
    { "dropped to the right", "left arm counterclockwise", "right arm clockwise", NULL } },
  /* 003: one knee in, "Keeping the first knee up" the other, "both knees into your chest" */
  { "breathing-and-core.routine", "knees-to-chest", { "one knee", "Keep it there", "both knees", NULL } },
};

static char *
routines_dir (void)
{
  const char *srcdir = g_getenv ("WARMUPD_SRCDIR");
  return g_build_filename (srcdir != NULL ? srcdir : ".", "data", "routines", NULL);
}

static void
assert_step (const WuStep *step, const ExpectedStep *want)
{
  g_assert_cmpstr (step->id, ==, want->id);
  g_assert_cmpstr (step->name, ==, want->name);
  g_assert_cmpint (step->count, ==, want->count);
  g_assert_cmpuint (step->amount, ==, want->amount);
  g_assert_cmpint (step->sides, ==, want->sides);
  g_assert_cmpint (step->position, ==, want->position);
  g_assert_cmpuint (step->hold_seconds, ==, want->hold_seconds);
  g_assert_cmpuint (step->sets_min, ==, want->sets_min);
  g_assert_cmpuint (step->sets_max, ==, want->sets_max);
  /* where the article gives no number, the file says so instead of inventing one */
  if (want->amount == 0)
    g_assert_true (strstr (step->note, "no number") != NULL);
  g_assert_cmpuint (g_utf8_strlen (step->instruction, -1), <=, 300);
}

static void
test_shipped_routine (gconstpointer data)
{
  const ExpectedRoutine *want = data;
  g_autofree char *dir = routines_dir ();
  g_autofree char *path = g_build_filename (dir, want->file, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_load_file (path, &error);
  guint n = 0;

  g_assert_no_error (error);
  g_assert_cmpstr (routine->id, ==, want->id);
  for (guint i = 0; want->caution_words[i] != NULL; i++)
    if (strstr (routine->caution, want->caution_words[i]) == NULL)
      g_error ("%s: the caution does not say \"%s\"", want->id, want->caution_words[i]);
  g_assert_cmpint (routine->rounds.present, ==, want->rounds);
  while (want->steps[n].id != NULL)
    n++;
  g_assert_cmpuint (routine->steps->len, ==, n);
  for (guint i = 0; i < n; i++)
    assert_step (g_ptr_array_index (routine->steps, i), &want->steps[i]);
}

static const WuStep *
find_step (const WuRoutine *routine, const char *id)
{
  for (guint i = 0; i < routine->steps->len; i++)
    {
      const WuStep *step = g_ptr_array_index (routine->steps, i);
      if (strcmp (step->id, id) == 0)
        return step;
    }
  return NULL;
}

static void
test_instruction_facts (gconstpointer data)
{
  const InstructionFacts *want = data;
  g_autofree char *dir = routines_dir ();
  g_autofree char *path = g_build_filename (dir, want->file, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_load_file (path, &error);
  const WuStep *step;

  g_assert_no_error (error);
  step = find_step (routine, want->step_id);
  g_assert_nonnull (step);
  for (guint i = 0; want->words[i] != NULL; i++)
    if (strstr (step->instruction, want->words[i]) == NULL)
      g_error ("%s: the instruction does not say \"%s\"", want->step_id, want->words[i]);
}

/* The first article's round rule, and its warm-up. */
static void
test_round_rule (void)
{
  g_autofree char *dir = routines_dir ();
  g_autofree char *path = g_build_filename (dir, "after-bike-warmup.routine", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_load_file (path, &error);
  const WuRoundRule *rule;

  g_assert_no_error (error);
  rule = &routine->rounds;
  g_assert_cmpint (rule->on[WU_ASSESSMENT_BETTER], ==, WU_ROUND_ACTION_ANOTHER_ROUND);
  g_assert_cmpint (rule->on[WU_ASSESSMENT_IRRITATED], ==, WU_ROUND_ACTION_REST);
  /* our reading of the article: no improvement is no reason for another round */
  g_assert_cmpint (rule->on[WU_ASSESSMENT_SAME], ==, WU_ROUND_ACTION_DONE);
  /* "At the end of the first round, assess ... perform another round": one assessment,
   * so two rounds at most */
  g_assert_cmpuint (rule->max_rounds, ==, 2);
  g_assert_cmpuint (rule->rest_seconds, ==, 5 * 60);
  g_assert_cmpint (rule->rest_position, ==, WU_POSITION_FLOOR_BACK);
  g_assert_true (strstr (rule->rest_instruction, "knees bent") != NULL);
  g_assert_true (strstr (routine->before, "10 minutes") != NULL);
  g_assert_true (strstr (routine->before, "bike") != NULL);
}

static void
test_load_dir (void)
{
  g_autofree char *dir = routines_dir ();
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) routines = NULL;
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "after-bike-warmup", "breathing-and-core", "chronic-back-pain",
                        "key-exercises" };

  g_assert_true (wu_routine_load_dir (dir, &routines, errors, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (errors->len, ==, 0);
  g_assert_cmpuint (routines->len, ==, G_N_ELEMENTS (ids));
  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    g_assert_cmpstr (((WuRoutine *) g_ptr_array_index (routines, i))->id, ==, ids[i]);
  g_assert_nonnull (wu_routine_find (routines, "key-exercises"));
  g_assert_null (wu_routine_find (routines, "nope"));
}

/* --- broken files ----------------------------------------------------------------------------- */

#define HEAD "[Routine]\nId=t\nTitle=T\nCaution=Stop if it hurts.\n"       /* lines 1-4 */
#define STEP "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=standing\nInstruction=Do it.\n"

typedef struct {
  const char *name;
  const char *contents;
  const char *expected_id;    /* the file name's id, or NULL */
  const char *prefix;         /* "t.routine:LINE: " */
  const char *reason;         /* a part of the reason */
} BrokenCase;

static const BrokenCase broken_cases[] = {
  { "not-key-value", HEAD "oops\n" STEP, NULL, "t.routine:5: ", "expected Key=Value" },
  { "key-before-group", "Id=t\n" HEAD STEP, NULL, "t.routine:1: ", "before any [Group]" },
  { "bad-header", HEAD "[Step a\n", NULL, "t.routine:5: ", "group header" },
  { "empty-key", HEAD "=x\n" STEP, NULL, "t.routine:5: ", "key is missing" },
  { "duplicate-key", HEAD "Title=U\n" STEP, NULL, "t.routine:5: ", "Title appears twice" },
  { "duplicate-group", HEAD STEP STEP, NULL, "t.routine:11: ", "group [Step a] appears twice" },
  { "unknown-group", HEAD STEP "[Extra]\nX=1\n", NULL, "t.routine:11: ", "unknown group [Extra]" },
  { "unknown-key", HEAD STEP "Tempo=fast\n", NULL, "t.routine:11: ", "unknown key Tempo" },
  /* a localized key is no translation warmupd reads: unknown, whatever the locale */
  { "localized-key", HEAD STEP "Name[de]=B\n", NULL, "t.routine:11: ", "unknown key Name[de]" },
  { "localized-header-key", "[Routine]\nId=t\nTitle=T\nTitle[C]=U\nCaution=C\n" STEP, NULL,
    "t.routine:4: ", "[Routine] unknown key Title[C]" },
  { "no-routine-group", STEP, NULL, "t.routine:1: ", "no [Routine] group" },
  { "no-title", "[Routine]\nId=t\nCaution=C\n" STEP, NULL, "t.routine:1: ", "has no Title=" },
  { "no-caution", "[Routine]\nId=t\nTitle=T\n" STEP, NULL, "t.routine:1: ", "has no Caution=" },
  { "bad-id", "[Routine]\nId=Big Id\nTitle=T\nCaution=C\n" STEP, NULL, "t.routine:2: ", "Id: 'Big Id'" },
  { "id-not-file-name", HEAD STEP, "other", "t.routine:2: ", "does not match the file name" },
  { "no-steps", HEAD, NULL, "t.routine:1: ", "no [Step ID] group" },
  { "bad-count", HEAD "[Step a]\nName=A\nCount=sets\nPosition=standing\nInstruction=I\n", NULL,
    "t.routine:7: ", "Count: 'sets' is not one of reps, hold, breaths" },
  { "zero-amount", HEAD "[Step a]\nName=A\nCount=reps\nAmount=0\nPosition=standing\nInstruction=I\n",
    NULL, "t.routine:8: ", "Amount: '0' is not a whole number" },
  { "word-amount", HEAD "[Step a]\nName=A\nCount=reps\nAmount=ten\nPosition=standing\nInstruction=I\n",
    NULL, "t.routine:8: ", "Amount: 'ten'" },
  { "no-amount-no-note", HEAD "[Step a]\nName=A\nCount=reps\nPosition=standing\nInstruction=I\n",
    NULL, "t.routine:5: ", "add a Note=" },
  { "hold-in-a-hold", HEAD "[Step a]\nName=A\nCount=hold\nAmount=5\nHold=2\nPosition=standing\n"
    "Instruction=I\n", NULL, "t.routine:9: ", "only with Count=reps" },
  /* a hold or a breath is one whole: no side after side within it */
  { "alternating-hold", HEAD "[Step a]\nName=A\nCount=hold\nAmount=4\nSides=alternating\n"
    "Position=standing\nInstruction=I\n", NULL, "t.routine:9: ",
    "Sides=alternating is a move to each side in turn: only with Count=reps" },
  { "alternating-breaths", HEAD "[Step a]\nName=A\nCount=breaths\nAmount=2\nSides=alternating\n"
    "Position=floor-back\nInstruction=I\n", NULL, "t.routine:9: ", "only with Count=reps" },
  { "bad-position", HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=upside-down\n"
    "Instruction=I\n", NULL, "t.routine:9: ", "Position: 'upside-down'" },
  { "bad-sides", HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nSides=both\nPosition=standing\n"
    "Instruction=I\n", NULL, "t.routine:9: ", "Sides: 'both'" },
  { "sets-backwards", HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nSets=3-2\nPosition=standing\n"
    "Instruction=I\n", NULL, "t.routine:9: ", "Sets: '3-2'" },
  /* found by tests/fuzz/fuzz-routine (corpus/routine/empty-sets): a CRITICAL, then */
  { "empty-sets", HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nSets=\nPosition=standing\n"
    "Instruction=I\n", NULL, "t.routine:9: ", "Sets: '' is not N or N-M" },
  { "blank-sets", HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nSets=  \nPosition=standing\n"
    "Instruction=I\n", NULL, "t.routine:9: ", "Sets: '' is not N or N-M" },
  /* found by tests/fuzz/fuzz-routine in CI (corpus/routine/bad-escapes-glib-double-error):
   * GLib 2.74's g_key_file_get_string() set its GError twice on these escapes */
  { "invalid-escape-then-trailing-backslash",
    "[Routine]\nId=t\nTitle=\\\x12x=\\\nCaution=Stop if it hurts.\n" STEP, NULL,
    "t.routine:3: ", "[Routine] Title: bad escape sequence" },
  { "trailing-backslash", "[Routine]\nId=t\nTitle=T\\\nCaution=Stop if it hurts.\n" STEP, NULL,
    "t.routine:3: ", "[Routine] Title: bad escape sequence" },
  { "no-instruction", HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=standing\n", NULL,
    "t.routine:5: ", "has no Instruction=" },
  { "bad-step-id", HEAD "[Step A B]\nName=A\nCount=reps\nAmount=3\nPosition=standing\n"
    "Instruction=I\n", NULL, "t.routine:5: ", "step id 'A B'" },
  { "rounds-bad-action", HEAD "[Rounds]\nBetter=another-round\nSame=maybe\nIrritated=done\n" STEP,
    NULL, "t.routine:7: ", "Same: 'maybe'" },
  { "rounds-rest-no-seconds", HEAD "[Rounds]\nBetter=another-round\nSame=done\nIrritated=rest\n"
    "RestPosition=floor-back\nRestInstruction=Lie down.\n" STEP, NULL, "t.routine:5: ",
    "RestSeconds= is missing" },
  { "rounds-rest-unused", HEAD "[Rounds]\nBetter=done\nSame=done\nIrritated=done\nRestSeconds=60\n"
    STEP, NULL, "t.routine:9: ", "no action is rest" },
  { "max-rounds-without-another-round", HEAD "[Rounds]\nBetter=done\nSame=done\nIrritated=done\n"
    "MaxRounds=2\n" STEP, NULL, "t.routine:9: ", "MaxRounds given but no action is another-round" },
  { "max-rounds-one", HEAD "[Rounds]\nBetter=another-round\nSame=done\nIrritated=done\n"
    "MaxRounds=1\n" STEP, NULL, "t.routine:9: ", "MaxRounds: '1' is not a whole number from 2 to 100" },
  { "max-rounds-word", HEAD "[Rounds]\nBetter=another-round\nSame=done\nIrritated=done\n"
    "MaxRounds=two\n" STEP, NULL, "t.routine:9: ", "MaxRounds: 'two'" },
  { "empty-value", HEAD "[Step a]\nName=\nCount=reps\nAmount=3\nPosition=standing\nInstruction=I\n",
    NULL, "t.routine:6: ", "Name is empty" },
  { "not-utf8", HEAD "[Step a]\nName=A\xff\nCount=reps\n", NULL, "t.routine:6: ", "UTF-8" },
  /* lines GKeyFile (GLib 2.74) rejects: the line scan names their line (GKeyFile's error,
   * at "t.routine:1: ", did not) */
  { "bracket-in-key", HEAD STEP "Na[me=x\n", NULL, "t.routine:11: ", "key 'Na[me': '[' and ']'" },
  { "closing-bracket-in-key", HEAD STEP "Name]=x\n", NULL, "t.routine:11: ", "key 'Name]'" },
  { "key-starting-with-bracket", HEAD STEP "]Name=x\n", NULL, "t.routine:11: ", "key ']Name'" },
  { "text-after-locale", HEAD STEP "Name[de]x=y\n", NULL, "t.routine:11: ", "key 'Name[de]x'" },
  { "two-locales", HEAD STEP "Name[de][fr]=y\n", NULL, "t.routine:11: ", "key 'Name[de][fr]'" },
  { "space-in-locale", HEAD STEP "Name[d e]=x\n", NULL, "t.routine:11: ", "key 'Name[d e]'" },
  { "unclosed-locale", HEAD STEP "Name[de=x\n", NULL, "t.routine:11: ", "key 'Name[de'" },
  { "space-before-locale", HEAD STEP "Name [de]=x\n", NULL, "t.routine:11: ",
    "key 'Name [de]': a space before" },
  { "tab-in-group-name", HEAD STEP "[Step\tb]\n", NULL, "t.routine:11: ", "control character" },
  { "delete-in-group-name", HEAD STEP "[Step b\x7f]\n", NULL, "t.routine:11: ",
    "control character" },
  { "form-feed-after-group", HEAD STEP "[Step b]\f\n", NULL, "t.routine:11: ", "group header" },
  { "two-carriage-returns-after-group", HEAD STEP "[Step b]\r\r\n", NULL, "t.routine:11: ",
    "group header" },
  { "carriage-return-after-the-last-group", HEAD STEP "[Step b]\r", NULL, "t.routine:11: ",
    "group header" },
};

static void
test_broken (gconstpointer data)
{
  const BrokenCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_parse (c->contents, -1, "t.routine", c->expected_id,
                                                    &error);

  g_assert_null (routine);
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  if (!g_str_has_prefix (error->message, c->prefix) || strstr (error->message, c->reason) == NULL)
    g_error ("%s: got \"%s\", want \"%s...%s...\"", c->name, error->message, c->prefix, c->reason);
}

/* A NUL byte is named as such, with its line (the UTF-8 check stops at it too, and said
 * "not valid UTF-8"). */
static void
test_nul_byte_names_its_line (void)
{
  static const char contents[] = HEAD "[Step a]\nName=A\0\nCount=reps\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_parse (contents, sizeof contents - 1, "t.routine",
                                                    NULL, &error);

  g_assert_null (routine);
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  g_assert_cmpstr (error->message, ==, "t.routine:6: contains a NUL byte");
}

/* A good file with the optional keys parses to what it says. */
/* A bad choice lists exactly the allowed names, nothing after them. The list used to be
 * built with g_strjoinv() over an array with no NULL at its end: a read past the array
 * (inside GLib, so ASan could not see it), harmless only while a NULL happened to follow. */
static void
test_choice_list_ends (void)
{
  static const struct { const char *contents, *suffix; } cases[] = {
    { HEAD "[Step a]\nName=A\nCount=sets\nPosition=standing\nInstruction=I\n",
      "Count: 'sets' is not one of reps, hold, breaths" },
    { HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nSides=both\nPosition=standing\n"
      "Instruction=I\n", "Sides: 'both' is not one of none, each, alternating" },
    { HEAD "[Step a]\nName=A\nCount=reps\nAmount=3\nPosition=up\nInstruction=I\n",
      "Position: 'up' is not one of floor-back, floor-side, floor-front, kneeling, standing, "
      "all-fours" },
    { HEAD "[Rounds]\nBetter=again\n" STEP, "Better: 'again' is not one of done, another-round, rest" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (WuRoutine) routine = wu_routine_parse (cases[i].contents, -1, "t.routine", NULL,
                                                        &error);
      g_assert_null (routine);
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
      if (!g_str_has_suffix (error->message, cases[i].suffix))
        g_error ("got \"%s\", want it to end with \"%s\"", error->message, cases[i].suffix);
    }
}

static void
test_optional_keys (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine) routine = wu_routine_parse (
    HEAD "Source=S\n[Step a]\nName=A\nCount=reps\nAmount=3\nHold=4\nSets=2-3\nSides=each\n"
    "Position=kneeling\nNote=n\nInstruction=Do it.\n", -1, "t.routine", "t", &error);
  const WuStep *step;

  g_assert_no_error (error);
  g_assert_cmpstr (routine->source, ==, "S");
  g_assert_cmpstr (routine->before, ==, "");
  g_assert_false (routine->rounds.present);
  g_assert_cmpuint (routine->rounds.max_rounds, ==, 0);
  step = g_ptr_array_index (routine->steps, 0);
  g_assert_cmpuint (step->hold_seconds, ==, 4);
  g_assert_cmpuint (step->sets_min, ==, 2);
  g_assert_cmpuint (step->sets_max, ==, 3);
  g_assert_cmpint (step->sides, ==, WU_SIDES_EACH);
  g_assert_cmpint (step->position, ==, WU_POSITION_KNEELING);
}

/* MaxRounds= is read; without it a round rule has no limit. */
static void
test_max_rounds (void)
{
  static const struct { const char *rounds; guint max_rounds; } cases[] = {
    { "[Rounds]\nBetter=another-round\nSame=done\nIrritated=done\n", 0 },
    { "[Rounds]\nBetter=another-round\nSame=done\nIrritated=done\nMaxRounds=2\n", 2 },
    { "[Rounds]\nBetter=done\nSame=another-round\nIrritated=done\nMaxRounds= 100\n", 100 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *contents = g_strconcat (HEAD, cases[i].rounds, STEP, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (WuRoutine) routine = wu_routine_parse (contents, -1, "t.routine", NULL, &error);

      g_assert_no_error (error);
      g_assert_true (routine->rounds.present);
      g_assert_cmpuint (routine->rounds.max_rounds, ==, cases[i].max_rounds);
    }
}

/* One broken file in a directory: it is reported with file and line, the others load. */
static void
test_dir_with_broken_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("warmupd-routines-XXXXXX", &error);
  g_autofree char *good = g_build_filename (dir, "t.routine", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.routine", NULL);
  g_autofree char *other = g_build_filename (dir, "README", NULL);
  g_autofree char *want = g_strdup_printf ("%s:3: ", bad);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) routines = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (good, HEAD STEP, -1, NULL));
  g_assert_true (g_file_set_contents (bad, "[Routine]\nId=bad\nTitle\n", -1, NULL));
  g_assert_true (g_file_set_contents (other, "not a routine", -1, NULL));
  g_assert_true (wu_routine_load_dir (dir, &routines, errors, &error));
  g_assert_cmpuint (routines->len, ==, 1);
  g_assert_cmpstr (((WuRoutine *) g_ptr_array_index (routines, 0))->id, ==, "t");
  g_assert_cmpuint (errors->len, ==, 1);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (errors, 0), want));
  g_unlink (good);
  g_unlink (bad);
  g_unlink (other);
  g_rmdir (dir);
}

static void
test_missing_dir (void)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *routines = NULL;

  g_assert_false (wu_routine_load_dir ("/nonexistent/routines", &routines, NULL, &error));
  g_assert_nonnull (error);
  g_assert_null (routines);
}

static void
test_assessment_names (void)
{
  g_assert_cmpint (wu_assessment_from_string ("better"), ==, WU_ASSESSMENT_BETTER);
  g_assert_cmpint (wu_assessment_from_string ("same"), ==, WU_ASSESSMENT_SAME);
  g_assert_cmpint (wu_assessment_from_string ("irritated"), ==, WU_ASSESSMENT_IRRITATED);
  g_assert_cmpint (wu_assessment_from_string ("Better"), ==, WU_ASSESSMENT_NONE);
  g_assert_cmpint (wu_assessment_from_string (""), ==, WU_ASSESSMENT_NONE);
  g_assert_cmpint (wu_assessment_from_string (NULL), ==, WU_ASSESSMENT_NONE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (expected_routines); i++)
    {
      g_autofree char *name = g_strdup_printf ("/routine/shipped/%s", expected_routines[i].id);
      g_test_add_data_func (name, &expected_routines[i], test_shipped_routine);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (instruction_facts); i++)
    {
      g_autofree char *name = g_strdup_printf ("/routine/shipped/instruction/%s",
                                               instruction_facts[i].step_id);
      g_test_add_data_func (name, &instruction_facts[i], test_instruction_facts);
    }
  g_test_add_func ("/routine/nul-byte-names-its-line", test_nul_byte_names_its_line);
  g_test_add_func ("/routine/shipped/round-rule", test_round_rule);
  g_test_add_func ("/routine/load-dir", test_load_dir);
  for (gsize i = 0; i < G_N_ELEMENTS (broken_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/routine/broken/%s", broken_cases[i].name);
      g_test_add_data_func (name, &broken_cases[i], test_broken);
    }
  g_test_add_func ("/routine/choice-list-ends", test_choice_list_ends);
  g_test_add_func ("/routine/optional-keys", test_optional_keys);
  g_test_add_func ("/routine/max-rounds", test_max_rounds);
  g_test_add_func ("/routine/dir-with-broken-file", test_dir_with_broken_file);
  g_test_add_func ("/routine/missing-dir", test_missing_dir);
  g_test_add_func ("/routine/assessment-names", test_assessment_names);
  return g_test_run ();
}
