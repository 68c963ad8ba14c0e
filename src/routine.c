/* Routine files: a line scan for syntax and line numbers, then GKeyFile for the values,
 * then a table of keys per group. See include/wu-routine.h for the format. */
#include "wu-routine.h"
#include "wu-error.h"

#include <stdarg.h>
#include <string.h>

#define MAX_INSTRUCTION 300   /* characters: an instruction is read mid-exercise */
#define MAX_TEXT 400
#define MAX_AMOUNT 1000
#define MAX_SECONDS 3600
#define MAX_ROUNDS 100

static const char *const count_names[] = { "reps", "hold", "breaths" };
static const char *const sides_names[] = { "none", "each", "alternating" };
static const char *const position_names[] = {
  "floor-back", "floor-side", "floor-front", "kneeling", "standing", "all-fours"
};
static const char *const action_names[] = { "done", "another-round", "rest" };
static const char *const assessment_names[] = { "better", "same", "irritated" };
/* The [Rounds] keys, indexed by WuAssessment. */
static const char *const assessment_keys[] = { "Better", "Same", "Irritated" };

const char *
wu_count_kind_to_string (WuCountKind kind)
{
  return count_names[kind];
}

const char *
wu_sides_to_string (WuSides sides)
{
  return sides_names[sides];
}

const char *
wu_position_to_string (WuPosition position)
{
  return position_names[position];
}

const char *
wu_round_action_to_string (WuRoundAction action)
{
  return action_names[action];
}

const char *
wu_assessment_to_string (WuAssessment how)
{
  return how == WU_ASSESSMENT_NONE ? "" : assessment_names[how];
}

WuAssessment
wu_assessment_from_string (const char *text)
{
  for (int i = 0; i < WU_N_ASSESSMENTS; i++)
    if (g_strcmp0 (text, assessment_names[i]) == 0)
      return (WuAssessment) i;
  return WU_ASSESSMENT_NONE;
}

gboolean
wu_routine_id_is_valid (const char *id)
{
  gsize len = id != NULL ? strlen (id) : 0;

  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/* --- life cycle ------------------------------------------------------------------------- */

static void
step_free (WuStep *step)
{
  g_free (step->id);
  g_free (step->name);
  g_free (step->note);
  g_free (step->instruction);
  g_free (step);
}

static void
routine_clear (gpointer data)
{
  WuRoutine *routine = data;

  g_free (routine->id);
  g_free (routine->title);
  g_free (routine->source);
  g_free (routine->before);
  g_free (routine->caution);
  g_free (routine->rounds.rest_instruction);
  g_free (routine->path);
  g_clear_pointer (&routine->steps, g_ptr_array_unref);
}

static WuRoutine *
routine_new (const char *path)
{
  WuRoutine *routine = g_rc_box_new0 (WuRoutine);

  routine->path = g_strdup (path);
  routine->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  return routine;
}

WuRoutine *
wu_routine_ref (WuRoutine *routine)
{
  return g_rc_box_acquire (routine);
}

void
wu_routine_unref (WuRoutine *routine)
{
  g_rc_box_release_full (routine, routine_clear);
}

/* --- the parser ---------------------------------------------------------------------------- */

typedef struct {
  const char *path;
  GKeyFile *file;
  GHashTable *lines;   /* "GROUP" and "GROUP\nKEY" -> line number */
} Parser;

static gboolean G_GNUC_PRINTF (4, 5)
fail (const Parser *parser, GError **error, guint line, const char *format, ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED, "%s:%u: %s", parser->path, line, reason);
  return FALSE;
}

static guint
line_of (const Parser *parser, const char *group, const char *key)
{
  g_autofree char *name = key != NULL ? g_strconcat (group, "\n", key, NULL) : g_strdup (group);
  return GPOINTER_TO_UINT (g_hash_table_lookup (parser->lines, name));
}

/* The line (from 1) that AT, within CONTENTS, is on. */
static guint
line_at (const char *contents, const char *at)
{
  guint line = 1;

  for (const char *p = contents; p < at; p++)
    if (*p == '\n')
      line++;
  return line;
}

/* The first invalid UTF-8 byte's line, or 0. */
static guint
invalid_utf8_line (const char *contents, gsize length)
{
  const char *end = NULL;

  if (g_utf8_validate_len (contents, length, &end))
    return 0;
  return line_at (contents, end);
}

/* The rules below are GKeyFile's (GLib 2.74, g_key_file_parse_line() and the functions it
 * calls), checked here so that what it would reject is reported with its line: its own
 * error has no line number. */

/* A [Group] line (LINE starts at '['): '[', a name, ']', then only spaces and tabs; the name
 * neither empty nor with '[' or an ASCII control character. The name, or NULL and
 * *PROBLEM. */
static char *
group_header_name (const char *line, const char **problem)
{
  const char *close = strchr (line, ']');
  gsize name_len = close != NULL ? (gsize) (close - line - 1) : 0;

  if (close == NULL || name_len == 0 || memchr (line + 1, '[', name_len) != NULL
      || close[1 + strspn (close + 1, " \t")] != '\0')
    {
      *problem = "a group header must be [Name]";
      return NULL;
    }
  for (gsize i = 1; i <= name_len; i++)
    if (g_ascii_iscntrl (line[i]))
      {
        *problem = "a group name must not contain a control character";
        return NULL;
      }
  return g_strndup (line + 1, name_len);
}

static gboolean
is_locale_char (const char *p)
{
  return *p != '\0' && (g_unichar_isalnum (g_utf8_get_char (p)) || strchr ("-_.@", *p) != NULL);
}

/* A key (trimmed): a name, then at most one [locale] of letters, digits, '-', '_', '.',
 * '@' at its very end, with no space before it. NULL, or what is wrong. */
static const char *
key_name_problem (const char *key)
{
  static const char brackets[] = "'[' and ']' only around a locale at its end (Name[de])";
  const char *bracket = strpbrk (key, "[]");
  const char *p;

  if (bracket == NULL)
    return NULL;
  if (*bracket == ']')
    return brackets;
  if (bracket[-1] == ' ')
    return "a space before its [locale]";
  for (p = bracket + 1; is_locale_char (p); p = g_utf8_next_char (p))
    ;
  return p[0] == ']' && p[1] == '\0' ? NULL : brackets;
}

/* Line N (LINE: leading blanks and the '\r' of a "\r\n" removed) under *GROUP, a group
 * header updating *GROUP: *NAME becomes what it defines ("GROUP" or "GROUP\nKEY"), left
 * NULL for a blank line or a comment. */
static gboolean
scan_line (Parser *parser, const char *line, guint n, char **group, char **name,
           GError **error)
{
  const char *equals = strchr (line, '=');
  const char *problem = NULL;
  g_autofree char *key = NULL;

  if (line[0] == '\0' || line[0] == '#')
    return TRUE;
  if (line[0] == '[')
    {
      char *header = group_header_name (line, &problem);
      if (header == NULL)
        return fail (parser, error, n, "%s", problem);
      g_free (*group);
      *group = header;
      *name = g_strdup (header);
      return TRUE;
    }
  if (equals == NULL)
    return fail (parser, error, n, "expected Key=Value, [Group] or a # comment");
  key = g_strstrip (g_strndup (line, equals - line));
  if (key[0] == '\0')
    return fail (parser, error, n, "a key is missing before '='");
  if (*group == NULL)
    return fail (parser, error, n, "key %s comes before any [Group]", key);
  if ((problem = key_name_problem (key)) != NULL)
    return fail (parser, error, n, "key '%s': %s", key, problem);
  *name = g_strconcat (*group, "\n", key, NULL);
  return TRUE;
}

/* Every line must be blank, a comment, [Group] or Key=Value inside a group; groups and keys
 * appear once. Records where each stands (GKeyFile forgets line numbers). */
static gboolean
scan_lines (Parser *parser, const char *contents, gsize length, GError **error)
{
  g_autofree char *text = g_strndup (contents, length);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *group = NULL;
  const char *nul = memchr (contents, '\0', length);
  guint bad_utf8;

  /* before the UTF-8 check, which stops at a NUL byte too */
  if (nul != NULL)
    return fail (parser, error, line_at (contents, nul), "contains a NUL byte");
  bad_utf8 = invalid_utf8_line (contents, length);
  if (bad_utf8 > 0)
    return fail (parser, error, bad_utf8, "not valid UTF-8");
  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint n = i + 1;
      gsize len = strlen (lines[i]);
      g_autofree char *name = NULL;
      guint first;

      /* GKeyFile drops one '\r' before a '\n' (a last line without one keeps it) */
      if (lines[i + 1] != NULL && len > 0 && lines[i][len - 1] == '\r')
        lines[i][len - 1] = '\0';
      if (!scan_line (parser, g_strchug (lines[i]), n, &group, &name, error))
        return FALSE;
      if (name == NULL)
        continue;
      first = GPOINTER_TO_UINT (g_hash_table_lookup (parser->lines, name));
      if (first != 0 && strchr (name, '\n') == NULL)
        return fail (parser, error, n, "group [%s] appears twice (first on line %u)", name,
                     first);
      if (first != 0)
        return fail (parser, error, n, "key %s appears twice in [%s] (first on line %u)",
                     strchr (name, '\n') + 1, group, first);
      g_hash_table_insert (parser->lines, g_steal_pointer (&name), GUINT_TO_POINTER (n));
    }
  return TRUE;
}

/* --- values -------------------------------------------------------------------------------- */

/* GKeyFile's escapes: \s \n \t \r \\ and nothing else, never a lone \ at the end. */
static gboolean
has_valid_escapes (const char *raw)
{
  for (const char *p = raw; *p != '\0'; p++)
    {
      if (*p != '\\')
        continue;
      p++;
      if (*p == '\0' || strchr ("sntr\\", *p) == NULL)
        return FALSE;
    }
  return TRUE;
}

/* A string value, stripped; NULL with *OUT unset when absent and not REQUIRED. */
static gboolean
get_text (const Parser *parser, const char *group, const char *key, gboolean required,
          gsize max_chars, char **out, GError **error)
{
  g_autofree char *value = NULL;
  guint line = line_of (parser, group, key);

  if (!g_key_file_has_key (parser->file, group, key, NULL))
    {
      if (required)
        return fail (parser, error, line_of (parser, group, NULL), "[%s] has no %s=", group, key);
      *out = g_strdup ("");
      return TRUE;
    }
  /* GLib 2.74's g_key_file_get_string() sets its GError twice (a GLib warning) on some bad
   * escapes, such as an invalid one followed by one at the end of the line: check the raw
   * value first and only let GLib unescape what it can. */
  value = g_key_file_get_value (parser->file, group, key, NULL);
  if (value == NULL || !has_valid_escapes (value))
    return fail (parser, error, line, "[%s] %s: bad escape sequence", group, key);
  g_clear_pointer (&value, g_free);
  value = g_key_file_get_string (parser->file, group, key, NULL);
  if (value == NULL)
    return fail (parser, error, line, "[%s] %s: bad escape sequence", group, key);
  g_strstrip (value);
  if (value[0] == '\0')
    return fail (parser, error, line, "[%s] %s is empty", group, key);
  if (g_utf8_strlen (value, -1) > (glong) max_chars)
    return fail (parser, error, line, "[%s] %s is longer than %zu characters", group, key,
                 max_chars);
  *out = g_steal_pointer (&value);
  return TRUE;
}

/* An unsigned value in [MIN, MAX]; *OUT untouched when absent. */
static gboolean
get_uint (const Parser *parser, const char *group, const char *key, guint min, guint max,
          guint *out, GError **error)
{
  g_autofree char *value = NULL;
  guint64 number;

  if (!g_key_file_has_key (parser->file, group, key, NULL))
    return TRUE;
  value = g_strstrip (g_key_file_get_value (parser->file, group, key, NULL));
  if (!g_ascii_string_to_unsigned (value, 10, min, max, &number, NULL))
    return fail (parser, error, line_of (parser, group, key),
                 "[%s] %s: '%s' is not a whole number from %u to %u", group, key, value, min,
                 max);
  *out = (guint) number;
  return TRUE;
}

/* One of NAMES; *OUT untouched when absent and not REQUIRED. */
static gboolean
get_choice (const Parser *parser, const char *group, const char *key, gboolean required,
            const char *const *names, gsize n_names, int *out, GError **error)
{
  g_autofree char *value = NULL;
  g_autoptr (GString) choices = g_string_new (NULL);

  if (!g_key_file_has_key (parser->file, group, key, NULL))
    {
      if (required)
        return fail (parser, error, line_of (parser, group, NULL), "[%s] has no %s=", group, key);
      return TRUE;
    }
  value = g_strstrip (g_key_file_get_value (parser->file, group, key, NULL));
  for (gsize i = 0; i < n_names; i++)
    if (strcmp (value, names[i]) == 0)
      {
        *out = (int) i;
        return TRUE;
      }
  /* NAMES has N_NAMES entries and no NULL at the end: not g_strjoinv() */
  for (gsize i = 0; i < n_names; i++)
    g_string_append_printf (choices, "%s%s", i > 0 ? ", " : "", names[i]);
  return fail (parser, error, line_of (parser, group, key), "[%s] %s: '%s' is not one of %s",
               group, key, value, choices->str);
}

#define GET_CHOICE(parser, group, key, required, names, out, error) \
  get_choice (parser, group, key, required, names, G_N_ELEMENTS (names), out, error)

/* Every key of GROUP must be one of ALLOWED (NULL-terminated). */
static gboolean
check_keys (const Parser *parser, const char *group, const char *const *allowed, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (parser->file, group, NULL, NULL);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_strv_contains (allowed, keys[i]))
      return fail (parser, error, line_of (parser, group, keys[i]), "[%s] unknown key %s",
                   group, keys[i]);
  return TRUE;
}

/* --- groups -------------------------------------------------------------------------------- */

static gboolean
parse_header (const Parser *parser, WuRoutine *routine, const char *expected_id, GError **error)
{
  static const char *const keys[] = { "Id", "Title", "Source", "Before", "Caution", NULL };

  if (!g_key_file_has_group (parser->file, "Routine"))
    return fail (parser, error, 1, "no [Routine] group");
  if (!check_keys (parser, "Routine", keys, error)
      || !get_text (parser, "Routine", "Id", TRUE, 64, &routine->id, error))
    return FALSE;
  if (!wu_routine_id_is_valid (routine->id))
    return fail (parser, error, line_of (parser, "Routine", "Id"),
                 "[Routine] Id: '%s' is not 1 to 64 of a-z, 0-9, '-', '_'", routine->id);
  if (expected_id != NULL && strcmp (routine->id, expected_id) != 0)
    return fail (parser, error, line_of (parser, "Routine", "Id"),
                 "[Routine] Id: '%s' does not match the file name (%s.routine)", routine->id,
                 expected_id);
  return get_text (parser, "Routine", "Title", TRUE, 120, &routine->title, error)
         && get_text (parser, "Routine", "Source", FALSE, MAX_TEXT, &routine->source, error)
         && get_text (parser, "Routine", "Before", FALSE, MAX_TEXT, &routine->before, error)
         && get_text (parser, "Routine", "Caution", TRUE, MAX_TEXT, &routine->caution, error);
}

/* RestSeconds, RestPosition, RestInstruction: required when an action is rest, an error
 * (a fact that would be ignored) otherwise. */
static gboolean
parse_rest (const Parser *parser, WuRoundRule *rule, gboolean rests, GError **error)
{
  static const char *const rest_keys[] = { "RestSeconds", "RestPosition", "RestInstruction" };
  int position = WU_POSITION_FLOOR_BACK;

  for (gsize i = 0; i < G_N_ELEMENTS (rest_keys); i++)
    {
      gboolean has = g_key_file_has_key (parser->file, "Rounds", rest_keys[i], NULL);
      if (!rests && has)
        return fail (parser, error, line_of (parser, "Rounds", rest_keys[i]),
                     "[Rounds] %s given but no action is rest", rest_keys[i]);
      if (rests && !has)
        return fail (parser, error, line_of (parser, "Rounds", NULL),
                     "[Rounds] an action is rest but %s= is missing", rest_keys[i]);
    }
  if (!rests)
    {
      rule->rest_instruction = g_strdup ("");
      return TRUE;
    }
  if (!get_uint (parser, "Rounds", "RestSeconds", 1, MAX_SECONDS, &rule->rest_seconds, error)
      || !GET_CHOICE (parser, "Rounds", "RestPosition", TRUE, position_names, &position, error)
      || !get_text (parser, "Rounds", "RestInstruction", TRUE, MAX_INSTRUCTION,
                    &rule->rest_instruction, error))
    return FALSE;
  rule->rest_position = (WuPosition) position;
  return TRUE;
}

/* MaxRounds: the round after which the session is done without an assessment; only with an
 * action that gives another round (else it would be ignored). 1 would never assess: leave
 * out [Rounds] instead. */
static gboolean
parse_max_rounds (const Parser *parser, WuRoundRule *rule, gboolean repeats, GError **error)
{
  if (!g_key_file_has_key (parser->file, "Rounds", "MaxRounds", NULL))
    return TRUE;
  if (!repeats)
    return fail (parser, error, line_of (parser, "Rounds", "MaxRounds"),
                 "[Rounds] MaxRounds given but no action is another-round");
  return get_uint (parser, "Rounds", "MaxRounds", 2, MAX_ROUNDS, &rule->max_rounds, error);
}

static gboolean
parse_rounds (const Parser *parser, WuRoundRule *rule, GError **error)
{
  static const char *const keys[] = { "Better", "Same", "Irritated", "MaxRounds",
                                      "RestSeconds", "RestPosition", "RestInstruction", NULL };
  gboolean rests = FALSE, repeats = FALSE;

  if (!g_key_file_has_group (parser->file, "Rounds"))
    {
      rule->rest_instruction = g_strdup ("");
      return TRUE;
    }
  rule->present = TRUE;
  if (!check_keys (parser, "Rounds", keys, error))
    return FALSE;
  for (int how = 0; how < WU_N_ASSESSMENTS; how++)
    {
      int action = 0;
      if (!GET_CHOICE (parser, "Rounds", assessment_keys[how], TRUE, action_names, &action, error))
        return FALSE;
      rule->on[how] = (WuRoundAction) action;
      rests |= (action == WU_ROUND_ACTION_REST);
      repeats |= (action == WU_ROUND_ACTION_ANOTHER_ROUND);
    }
  return parse_max_rounds (parser, rule, repeats, error)
         && parse_rest (parser, rule, rests, error);
}

/* Sets=N or Sets=N-M. */
static gboolean
parse_sets (const Parser *parser, const char *group, WuStep *step, GError **error)
{
  g_autofree char *value = NULL;
  g_auto (GStrv) parts = NULL;
  guint64 lo, hi;

  step->sets_min = step->sets_max = 1;
  if (!g_key_file_has_key (parser->file, group, "Sets", NULL))
    return TRUE;
  value = g_strstrip (g_key_file_get_value (parser->file, group, "Sets", NULL));
  parts = g_strsplit (value, "-", 2);
  /* an empty value splits into no part at all (found by fuzzing: "Sets=" was a CRITICAL) */
  if (parts[0] == NULL || !g_ascii_string_to_unsigned (parts[0], 10, 1, 100, &lo, NULL)
      || (parts[1] != NULL && !g_ascii_string_to_unsigned (parts[1], 10, lo, 100, &hi, NULL)))
    return fail (parser, error, line_of (parser, group, "Sets"),
                 "[%s] Sets: '%s' is not N or N-M (1 to 100, N <= M)", group, value);
  step->sets_min = (guint) lo;
  step->sets_max = parts[1] != NULL ? (guint) hi : (guint) lo;
  return TRUE;
}

/* Facts that only make sense together. */
static gboolean
check_step (const Parser *parser, const char *group, const WuStep *step, GError **error)
{
  if (step->amount == 0 && step->note[0] == '\0')
    return fail (parser, error, line_of (parser, group, NULL),
                 "[%s] has no Amount=: add a Note= saying the article gives no number", group);
  if (step->hold_seconds > 0 && step->count != WU_COUNT_REPS)
    return fail (parser, error, line_of (parser, group, "Hold"),
                 "[%s] Hold= is a pause within each repetition: only with Count=reps", group);
  /* a hold or a breath is one whole, not a move to each side in turn */
  if (step->sides == WU_SIDES_ALTERNATING && step->count != WU_COUNT_REPS)
    return fail (parser, error, line_of (parser, group, "Sides"),
                 "[%s] Sides=alternating is a move to each side in turn: only with Count=reps",
                 group);
  return TRUE;
}

typedef WuStep WuStepOwned;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuStepOwned, step_free)

static gboolean
parse_step (const Parser *parser, const char *group, WuRoutine *routine, GError **error)
{
  static const char *const keys[] = { "Name", "Count", "Amount", "Sides", "Position", "Hold",
                                      "Sets", "Note", "Instruction", NULL };
  g_autoptr (WuStepOwned) step = g_new0 (WuStep, 1);
  const char *id = group + strlen ("Step ");
  int count = 0, sides = WU_SIDES_NONE, position = 0;

  if (!wu_routine_id_is_valid (id))
    return fail (parser, error, line_of (parser, group, NULL),
                 "[%s]: the step id '%s' is not 1 to 64 of a-z, 0-9, '-', '_'", group, id);
  for (guint i = 0; i < routine->steps->len; i++)
    if (strcmp (((WuStep *) g_ptr_array_index (routine->steps, i))->id, id) == 0)
      return fail (parser, error, line_of (parser, group, NULL), "step id '%s' used twice", id);
  step->id = g_strdup (id);
  if (!check_keys (parser, group, keys, error)
      || !get_text (parser, group, "Name", TRUE, 80, &step->name, error)
      || !GET_CHOICE (parser, group, "Count", TRUE, count_names, &count, error)
      || !get_uint (parser, group, "Amount", 1, MAX_AMOUNT, &step->amount, error)
      || !GET_CHOICE (parser, group, "Sides", FALSE, sides_names, &sides, error)
      || !GET_CHOICE (parser, group, "Position", TRUE, position_names, &position, error)
      || !get_uint (parser, group, "Hold", 1, MAX_SECONDS, &step->hold_seconds, error)
      || !parse_sets (parser, group, step, error)
      || !get_text (parser, group, "Note", FALSE, MAX_TEXT, &step->note, error)
      || !get_text (parser, group, "Instruction", TRUE, MAX_INSTRUCTION, &step->instruction,
                    error))
    return FALSE;
  step->count = (WuCountKind) count;
  step->sides = (WuSides) sides;
  step->position = (WuPosition) position;
  if (!check_step (parser, group, step, error))
    return FALSE;
  g_ptr_array_add (routine->steps, g_steal_pointer (&step));
  return TRUE;
}

static gboolean
parse_groups (const Parser *parser, WuRoutine *routine, const char *expected_id, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (parser->file, NULL);

  if (!parse_header (parser, routine, expected_id, error)
      || !parse_rounds (parser, &routine->rounds, error))
    return FALSE;
  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (strcmp (groups[i], "Routine") == 0 || strcmp (groups[i], "Rounds") == 0)
        continue;
      if (!g_str_has_prefix (groups[i], "Step "))
        return fail (parser, error, line_of (parser, groups[i], NULL),
                     "unknown group [%s] (expected [Routine], [Rounds] or [Step ID])", groups[i]);
      if (!parse_step (parser, groups[i], routine, error))
        return FALSE;
    }
  if (routine->steps->len == 0)
    return fail (parser, error, line_of (parser, "Routine", NULL), "no [Step ID] group");
  return TRUE;
}

WuRoutine *
wu_routine_parse (const char *contents, gssize length, const char *path,
                  const char *expected_id, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GHashTable) lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (WuRoutine) routine = routine_new (path);
  g_autoptr (GError) local_error = NULL;
  gsize len = length < 0 ? strlen (contents) : (gsize) length;
  Parser parser = { .path = path, .file = file, .lines = lines };

  if (!scan_lines (&parser, contents, len, error))
    return NULL;
  /* KEEP_TRANSLATIONS: a localized key (Title[de]=) is kept, so it fails as an unknown key
   * whatever the locale (without it GKeyFile dropped or kept it by the locale). */
  if (!g_key_file_load_from_data (file, contents, len, G_KEY_FILE_KEEP_TRANSLATIONS, &local_error))
    {
      /* the line scan lets through only what GKeyFile accepts; kept as a safety net, with
       * no line number: GKeyFile gives none, and line 1 misled */
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED, "%s: %s", path, local_error->message);
      return NULL;
    }
  if (!parse_groups (&parser, routine, expected_id, error))
    return NULL;
  return g_steal_pointer (&routine);
}

WuRoutine *
wu_routine_load_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *base = g_path_get_basename (path);
  gsize length = 0;
  g_autoptr (GError) local_error = NULL;

  if (!g_str_has_suffix (base, ".routine"))
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED, "%s: not a .routine file", path);
      return NULL;
    }
  base[strlen (base) - strlen (".routine")] = '\0';
  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, WU_ERROR, WU_ERROR_FAILED, "%s", local_error->message);
      return NULL;
    }
  return wu_routine_parse (contents, (gssize) length, path, base, error);
}

static int
compare_by_id (gconstpointer a, gconstpointer b)
{
  const WuRoutine *ra = *(WuRoutine *const *) a;
  const WuRoutine *rb = *(WuRoutine *const *) b;
  return strcmp (ra->id, rb->id);
}

gboolean
wu_routine_load_dir (const char *dir, GPtrArray **routines, GPtrArray *errors, GError **error)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) loaded = NULL;
  const char *name;

  if (handle == NULL)
    return FALSE;
  loaded = g_ptr_array_new_with_free_func ((GDestroyNotify) wu_routine_unref);
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr (GError) local_error = NULL;
      WuRoutine *routine;

      if (!g_str_has_suffix (name, ".routine"))
        continue;
      path = g_build_filename (dir, name, NULL);
      routine = wu_routine_load_file (path, &local_error);
      if (routine != NULL)
        g_ptr_array_add (loaded, routine);
      else if (errors != NULL)
        g_ptr_array_add (errors, g_strdup (local_error->message));
    }
  g_ptr_array_sort (loaded, compare_by_id);
  *routines = g_steal_pointer (&loaded);
  return TRUE;
}

WuRoutine *
wu_routine_find (GPtrArray *routines, const char *id)
{
  for (guint i = 0; routines != NULL && i < routines->len; i++)
    {
      WuRoutine *routine = g_ptr_array_index (routines, i);
      if (g_strcmp0 (routine->id, id) == 0)
        return routine;
    }
  return NULL;
}
