/* warmupctl's floor-routine commands: list the routines, print one, and guide a person
 * through one on the terminal, in step with warmupd's guided session (Routine1). */
#include "ctl-routine.h"
#include "wu-dbus-generated.h"
#include "ctl-common.h"

#include <errno.h>
#include <stdarg.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define WRONG_STATE_ERROR "io.github.warmupd.Error.WrongState"
#define NO_SESSION_ERROR "io.github.warmupd.Error.NoSession"

/* The guide's pace, in seconds: the articles give counts, not tempos. */
#define GET_READY_SECONDS 5    /* to read the instruction and get into position */
#define SWITCH_SECONDS 5       /* to change sides, or to relax between sets */
#define REP_SECONDS 3          /* one slow, gentle repetition */
#define BREATH_SECONDS 6       /* one long, deep breath: in 3, out 3 */

/* --- connecting ------------------------------------------------------------------------- */

/* A Routine1 proxy to a running warmupd (waiting up to WAIT_SECONDS), or NULL with a message. */
static WuRoutine1 *
connect_routine1 (gboolean session_bus, int wait_seconds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine1) proxy = wu_routine1_proxy_new_for_bus_sync (
    session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, G_DBUS_PROXY_FLAGS_NONE, WU_BUS_NAME,
    WU_OBJECT_PATH, NULL, &error);

  if (proxy == NULL)
    {
      g_printerr ("warmupctl: cannot reach the %s bus: %s\n", session_bus ? "session" : "system",
                  error->message);
      return NULL;
    }
  if (!wu_ctl_daemon_is_there (G_DBUS_PROXY (proxy), session_bus, wait_seconds))
    return NULL;
  return g_steal_pointer (&proxy);
}

/* --- describing steps ---------------------------------------------------------------------- */

static const char *
lookup_s (GVariant *dict, const char *key)
{
  const char *value = "";
  g_variant_lookup (dict, key, "&s", &value);
  return value;
}

static guint
lookup_u (GVariant *dict, const char *key)
{
  guint32 value = 0;
  g_variant_lookup (dict, key, "u", &value);
  return value;
}

static const char *
position_words (const char *position)
{
  static const struct { const char *id, *words; } table[] = {
    { "floor-back", "on your back" }, { "floor-side", "on your side" },
    { "floor-front", "face down" }, { "kneeling", "kneeling" },
    { "standing", "standing" }, { "all-fours", "on all fours" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (table); i++)
    if (strcmp (position, table[i].id) == 0)
      return table[i].words;
  return position;
}

/* "10 reps on each side, holding 2 s each", "hold 30 s, 2 to 3 times", "breaths: no number given" */
static char *
describe_count (GVariant *step)
{
  const char *count = lookup_s (step, "count"), *sides = lookup_s (step, "sides");
  guint amount = lookup_u (step, "amount"), hold = lookup_u (step, "hold");
  guint sets_min = lookup_u (step, "sets_min"), sets_max = lookup_u (step, "sets_max");
  GString *text = g_string_new (NULL);

  if (amount == 0)
    g_string_append_printf (text, "%s: no number given", strcmp (count, "hold") == 0 ? "hold"
                            : strcmp (count, "reps") == 0 ? "repetitions" : "breaths");
  else if (strcmp (count, "hold") == 0)
    g_string_append_printf (text, "hold %u s", amount);
  else
    g_string_append_printf (text, "%u %s", amount, strcmp (count, "reps") == 0 ? "reps" : "breaths");
  if (strcmp (sides, "each") == 0)
    g_string_append (text, " on each side");
  else if (strcmp (sides, "alternating") == 0)
    g_string_append (text, " each side, alternating");
  if (hold > 0)
    g_string_append_printf (text, ", holding %u s each", hold);
  if (sets_max > 1)
    g_string_append_printf (text, sets_min == sets_max ? ", %u times" : ", %u to %u times",
                            sets_min, sets_max);
  return g_string_free (text, FALSE);
}

/* "5:00", "0:30": minutes and seconds. */
static char *
minutes_seconds (guint seconds)
{
  return g_strdup_printf ("%u:%02u", seconds / 60, seconds % 60);
}

static const char *
action_words (const char *action)
{
  if (strcmp (action, "another-round") == 0)
    return "another round";
  if (strcmp (action, "rest") == 0)
    return "rest, then done for the day";
  return "done for the day";
}

/* --- routines, routine ID ----------------------------------------------------------------- */

static int
cmd_routines (WuRoutine1 *proxy)
{
  GVariant *routines = wu_routine1_get_routines (proxy);
  GVariantIter iter;
  const char *id, *title;

  if (routines == NULL || g_variant_n_children (routines) == 0)
    {
      g_print ("no routines loaded\n");
      return EXIT_SUCCESS;
    }
  g_variant_iter_init (&iter, routines);
  while (g_variant_iter_next (&iter, "(&s&s)", &id, &title))
    g_print ("%-22s %s\n", id, title);
  return EXIT_SUCCESS;
}

static void
print_step (GVariant *step, gsize number)
{
  g_autofree char *count = describe_count (step);
  const char *note = lookup_s (step, "note");

  g_print ("%2zu. %s: %s, %s\n", number, lookup_s (step, "name"),
           position_words (lookup_s (step, "position")), count);
  g_print ("    %s\n", lookup_s (step, "instruction"));
  if (note[0] != '\0')
    g_print ("    (%s)\n", note);
}

static void
print_rounds (GVariant *routine)
{
  gboolean rounds = FALSE;
  guint max_rounds;

  g_variant_lookup (routine, "rounds", "b", &rounds);
  if (!rounds)
    {
      g_print ("One round.\n");
      return;
    }
  max_rounds = lookup_u (routine, "max_rounds");
  if (max_rounds > 0)
    g_print ("At most %u rounds: the last one ends the session for the day.\n"
             "After each earlier round, how does your back feel?\n", max_rounds);
  else
    g_print ("After each round, how does your back feel?\n");
  g_print ("  better:    %s\n", action_words (lookup_s (routine, "on_better")));
  g_print ("  same:      %s\n", action_words (lookup_s (routine, "on_same")));
  g_print ("  irritated: %s\n", action_words (lookup_s (routine, "on_irritated")));
  if (lookup_u (routine, "rest_seconds") > 0)
    {
      g_autofree char *rest = minutes_seconds (lookup_u (routine, "rest_seconds"));
      g_print ("  rest:      %s %s: %s\n", rest,
               position_words (lookup_s (routine, "rest_position")),
               lookup_s (routine, "rest_instruction"));
    }
}

static int
cmd_routine (WuRoutine1 *proxy, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) routine = NULL;
  g_autoptr (GVariant) steps = NULL;
  const char *source, *before;

  if (!wu_routine1_call_get_routine_sync (proxy, id, G_DBUS_CALL_FLAGS_NONE, -1, &routine,
                                          &steps, NULL, &error))
    return wu_ctl_report_call_error ("GetRoutine", error);
  source = lookup_s (routine, "source");
  before = lookup_s (routine, "before");
  g_print ("%s (%s)\n", lookup_s (routine, "title"), lookup_s (routine, "id"));
  if (source[0] != '\0')
    g_print ("From:    %s\n", source);
  if (before[0] != '\0')
    g_print ("First:   %s\n", before);
  g_print ("Caution: %s\n\n", lookup_s (routine, "caution"));
  for (gsize i = 0; i < g_variant_n_children (steps); i++)
    {
      g_autoptr (GVariant) step = g_variant_get_child_value (steps, i);
      print_step (step, i + 1);
    }
  g_print ("\n");
  print_rounds (routine);
  return EXIT_SUCCESS;
}

/* --- guide ---------------------------------------------------------------------------------- */

typedef enum {
  PHASE_NONE,     /* waiting for warmupd to say what comes next */
  PHASE_READY,    /* a step's instruction is up: get into position */
  PHASE_PART,     /* counting one side / one set of a step */
  PHASE_SWITCH,   /* between two parts: change sides, or relax before the next set */
  PHASE_ASSESS,   /* asking how the back feels */
  PHASE_REST,     /* the rest's countdown */
} Phase;

typedef struct {
  GMainLoop *loop;
  WuRoutine1 *proxy;
  char *routine_id;
  GVariant *routine;           /* a{sv} from GetRoutine */
  GVariant *steps;             /* aa{sv} */
  gboolean tty;
  guint second_ms;             /* a second's length: 1000, less in the tests */
  int status;
  gboolean line_open;          /* a progress line was printed without its newline */
  gboolean following;          /* warmupd's session has been seen under way */
  Phase phase;
  /* the step on screen */
  int shown_index;
  guint shown_round;
  GVariant *step;
  guint part, n_parts, n_sides, n_sets;
  guint units_done, units_total;   /* units_total 0: no number given, wait for Enter */
  guint unit_seconds, second_in_unit;
  guint seconds_left;          /* PHASE_READY, PHASE_SWITCH and PHASE_REST */
  guint tick_timer;
  guint stdin_watch;
  GString *input;              /* typed text not yet ended by a newline */
} Guide;

static void G_GNUC_PRINTF (2, 3)
say (Guide *guide, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("%s%s", guide->line_open ? "\n" : "", text);
  guide->line_open = FALSE;
}

/* On a terminal: rewrite the one progress line. Elsewhere progress is not printed. */
static void G_GNUC_PRINTF (2, 3)
progress (Guide *guide, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  if (!guide->tty)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("\r\033[K%s", text);
  guide->line_open = TRUE;
}

static void
guide_quit (Guide *guide, int status)
{
  guide->status = status;
  g_main_loop_quit (guide->loop);
}

static gboolean
guide_call_failed (Guide *guide, const char *what, GError *error)
{
  if (guide->line_open)
    say (guide, "%s", "");
  wu_ctl_report_call_error (what, error);
  guide_quit (guide, EXIT_FAILURE);
  return FALSE;
}

/* The step on screen is done: move the session on from it, and only from it (NextFrom), so
 * that two screens finishing the same step at once move the session by one step. */
static void
call_next (Guide *guide)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  guide->phase = PHASE_NONE;   /* warmupd's answer (PropertiesChanged) says what follows */
  if (wu_routine1_call_next_from_sync (guide->proxy, guide->shown_index, guide->shown_round,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error))
    return;
  name = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (name, WRONG_STATE_ERROR) != 0 && g_strcmp0 (name, NO_SESSION_ERROR) != 0)
    {
      guide_call_failed (guide, "NextFrom", error);
      return;
    }
  /* Another screen moved the session on from this step first, or finished it. warmupd sent
   * the PropertiesChanged that says so before this answer, and it is not read yet (else
   * this screen would be showing where the session is, not this step): guide_sync() shows
   * the session (or that it was finished elsewhere) when it is read, PHASE_NONE until then.
   * Syncing now would show the cached, old step again. */
  if (g_strcmp0 (name, WRONG_STATE_ERROR) == 0)
    say (guide, "  another screen moved on first\n");
}

/* --- a step: parts (sides x sets) made of units (reps, breaths, seconds) --- */

/* Parts go side by side: every set on the first side, then on the other. Sets beyond
 * sets_min (Sets=2-3) are offered as optional. */
static guint
part_side (Guide *guide, guint part)
{
  return part / guide->n_sets;
}

static guint
part_set (Guide *guide, guint part)
{
  return part % guide->n_sets;
}

static gboolean
part_is_optional (Guide *guide, guint part)
{
  return part_set (guide, part) >= MAX (1, lookup_u (guide->step, "sets_min"));
}

/* "first side", "other side, set 2 of 3", "set 3 of 3 (only if it feels fine: Enter ends
 * it)", "now". */
static const char *
part_label (Guide *guide, guint part, char *buffer, gsize size)
{
  const char *sides = lookup_s (guide->step, "sides");
  GString *label = g_string_new (NULL);

  if (strcmp (sides, "each") == 0)
    g_string_append (label, part_side (guide, part) == 0 ? "first side" : "other side");
  else if (strcmp (sides, "alternating") == 0)
    g_string_append (label, "alternating sides");
  if (guide->n_sets > 1)
    g_string_append_printf (label, "%sset %u of %u%s", label->len > 0 ? ", " : "",
                            part_set (guide, part) + 1, guide->n_sets,
                            part_is_optional (guide, part)
                              ? " (only if it feels fine: Enter ends it)" : "");
  if (label->len == 0)
    g_string_append (label, "now");
  g_strlcpy (buffer, label->str, size);
  g_string_free (label, TRUE);
  return buffer;
}

static void
show_part_progress (Guide *guide)
{
  const char *count = lookup_s (guide->step, "count");
  char label[128];

  part_label (guide, guide->part, label, sizeof label);
  if (guide->units_total == 0)
    return;   /* start_part() said what to do: nothing to count */
  if (strcmp (count, "hold") == 0)
    progress (guide, "  %s: hold, %u s left", label, guide->units_total - guide->units_done);
  else if (strcmp (count, "breaths") == 0)
    progress (guide, "  %s: breath %u of %u, breathe %s", label,
              MIN (guide->units_done + 1, guide->units_total), guide->units_total,
              guide->second_in_unit < guide->unit_seconds / 2 ? "in" : "out");
  else
    progress (guide, "  %s: rep %u of %u", label, MIN (guide->units_done + 1, guide->units_total),
              guide->units_total);
}

static void
start_part (Guide *guide)
{
  const char *count = lookup_s (guide->step, "count");
  char label[128];

  guide->phase = PHASE_PART;
  guide->units_done = 0;
  guide->second_in_unit = 0;
  guide->units_total = lookup_u (guide->step, "amount");
  if (strcmp (count, "hold") == 0)
    guide->unit_seconds = 1;
  else if (strcmp (count, "breaths") == 0)
    guide->unit_seconds = BREATH_SECONDS;
  else
    guide->unit_seconds = REP_SECONDS + lookup_u (guide->step, "hold");
  /* one unit is a move to each side (only repetitions alternate: the routine parser) */
  if (strcmp (lookup_s (guide->step, "sides"), "alternating") == 0)
    guide->unit_seconds *= 2;
  part_label (guide, guide->part, label, sizeof label);
  if (guide->units_total == 0)
    say (guide, "  %s: as long as it feels right (the article gives no number); "
         "press Enter when done\n", label);
  else if (!guide->tty)
    say (guide, "  %s\n", label);
  show_part_progress (guide);
}

static void
show_switch_left (Guide *guide)
{
  gboolean new_side = part_side (guide, guide->part) != part_side (guide, guide->part - 1);
  char label[128];

  part_label (guide, guide->part, label, sizeof label);
  progress (guide, "  %s; next: %s: %u s", new_side ? "switch sides" : "relax a moment", label,
            guide->seconds_left);
}

static void
part_done (Guide *guide)
{
  guide->part++;
  if (guide->part < guide->n_parts)
    {
      /* a moment to change sides or to relax between sets (Enter goes on at once) */
      guide->phase = PHASE_SWITCH;
      guide->seconds_left = SWITCH_SECONDS;
      if (!guide->tty)
        say (guide, "  %s\n", part_side (guide, guide->part) != part_side (guide, guide->part - 1)
                                ? "switch sides" : "relax a moment");
      show_switch_left (guide);
      return;
    }
  say (guide, "  done\n");
  call_next (guide);
}

static void
present_step (Guide *guide, int index, guint round)
{
  gsize n_steps = g_variant_n_children (guide->steps);
  g_autofree char *count = NULL;
  const char *note;

  g_clear_pointer (&guide->step, g_variant_unref);
  if (index < 0 || (gsize) index >= n_steps)
    return;
  guide->step = g_variant_get_child_value (guide->steps, (gsize) index);
  guide->shown_index = index;
  guide->shown_round = round;
  count = describe_count (guide->step);
  note = lookup_s (guide->step, "note");
  say (guide, "\nRound %u, step %d of %zu: %s (%s, %s)\n", round, index + 1, n_steps,
       lookup_s (guide->step, "name"), position_words (lookup_s (guide->step, "position")), count);
  say (guide, "  %s\n", lookup_s (guide->step, "instruction"));
  if (note[0] != '\0')
    say (guide, "  (%s)\n", note);
  guide->n_sides = strcmp (lookup_s (guide->step, "sides"), "each") == 0 ? 2 : 1;
  guide->n_sets = MAX (1, MAX (lookup_u (guide->step, "sets_min"),
                                lookup_u (guide->step, "sets_max")));
  guide->n_parts = guide->n_sides * guide->n_sets;
  guide->part = 0;
  guide->phase = PHASE_READY;
  guide->seconds_left = GET_READY_SECONDS;
  progress (guide, "  get ready: %u s", guide->seconds_left);
}

/* --- following warmupd's session --- */

static void
ask_assessment (Guide *guide)
{
  guide->phase = PHASE_ASSESS;
  say (guide, "\nRound %u done. How does your back feel: better, same or irritated? ",
       wu_routine1_get_round (guide->proxy));
}

/* Whole seconds until warmupd ends the rest (RestEndsAt), at least 1 and at most the
 * routine's rest; the whole rest when warmupd does not say. */
static guint
rest_seconds_left (Guide *guide)
{
  guint rest = lookup_u (guide->routine, "rest_seconds");
  guint64 ends_at = wu_routine1_get_rest_ends_at (guide->proxy);
  gint64 left_us = (gint64) ends_at - g_get_real_time ();

  if (ends_at == 0)
    return rest;
  return (guint) CLAMP ((left_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, 1, (gint64) rest);
}

/* The article asks for the whole rest: the countdown does not invite cutting it short
 * (Enter still ends it, as Next() does; end_rest()). */
static void
show_rest_left (Guide *guide)
{
  g_autofree char *left = minutes_seconds (guide->seconds_left);

  progress (guide, "  resting: %s left; stay down until the rest is over", left);
}

static void
start_rest (Guide *guide)
{
  g_autofree char *rest = minutes_seconds (lookup_u (guide->routine, "rest_seconds"));

  guide->phase = PHASE_REST;
  guide->shown_index = -1;     /* the rest of this round is on screen: end_rest() says so */
  guide->shown_round = wu_routine1_get_round (guide->proxy);
  guide->seconds_left = rest_seconds_left (guide);
  say (guide, "\nRest %s, %s: %s\n", rest,
       position_words (lookup_s (guide->routine, "rest_position")),
       lookup_s (guide->routine, "rest_instruction"));
  show_rest_left (guide);
}

/* Which round LAST (the session's LastAssessment) was of, 0 for none: an answer whose rule
 * is another round was given before the rounds that followed it (the last allowed round
 * ends the day without the question). */
static guint
assessed_round (Guide *guide, const char *last, guint rounds)
{
  g_autofree char *key = NULL;

  if (last == NULL || last[0] == '\0' || rounds == 0)
    return 0;
  key = g_strconcat ("on_", last, NULL);
  if (strcmp (lookup_s (guide->routine, key), "another-round") == 0)
    return rounds - 1;
  return rounds;
}

static void
finish_for_the_day (Guide *guide)
{
  g_autoptr (GError) error = NULL;
  const char *last = wu_routine1_get_last_assessment (guide->proxy);

  guint rounds = wu_routine1_get_round (guide->proxy);
  guint assessed = assessed_round (guide, last, rounds);

  say (guide, "\nDone for today: %u round%s", rounds, rounds == 1 ? "" : "s");
  if (assessed == rounds)
    say (guide, ", last one felt %s.\n", last);
  else if (assessed > 0)
    say (guide, " (after round %u it felt %s).\n", assessed, last);
  else
    say (guide, ".\n");
  /* Back to idle, but only from done: another screen may have finished it already, or
   * begun a new session since (Dismiss() leaves that alone); both are fine. */
  if (!wu_routine1_call_dismiss_sync (guide->proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error)
      && !g_dbus_error_is_remote_error (error))
    wu_ctl_report_call_error ("Dismiss", error);
  guide_quit (guide, EXIT_SUCCESS);
}

/* The rest is over on this screen: tell warmupd (NextFrom the rest of the round shown). Its
 * own timer, or another screen, may have ended the rest already, its word of it not yet
 * here: then NextFrom() finds the session done (WrongState), and the day ends as usual. */
static void
end_rest (Guide *guide)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  guide->phase = PHASE_NONE;
  if (wu_routine1_call_next_from_sync (guide->proxy, -1, guide->shown_round,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error))
    return;
  name = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (name, WRONG_STATE_ERROR) == 0)
    finish_for_the_day (guide);
  else
    guide_call_failed (guide, "NextFrom", error);
}

/* Bring the screen in line with warmupd's session (ours, or moved on by another screen). */
static void
guide_sync (Guide *guide)
{
  const char *state = wu_routine1_get_routine_state (guide->proxy);
  int index = wu_routine1_get_step_index (guide->proxy);
  guint round = wu_routine1_get_round (guide->proxy);
  gboolean under_way = g_strcmp0 (state, "step") == 0 || g_strcmp0 (state, "assess") == 0
                       || g_strcmp0 (state, "rest") == 0;

  /* warmupd went away: GDBusProxy drops the properties before it says the owner changed,
   * and on_owner_changed() tells the person; an empty state is not the session's end. */
  if (state == NULL)
    return;
  /* Right after Begin() the cached properties may still show the old "idle" or "done":
   * follow the session only once it is seen under way. */
  if (!guide->following && !under_way)
    return;
  guide->following = TRUE;
  if (g_strcmp0 (state, "step") == 0)
    {
      if (index != guide->shown_index || round != guide->shown_round || guide->phase == PHASE_NONE)
        present_step (guide, index, round);
    }
  else if (g_strcmp0 (state, "assess") == 0)
    {
      if (guide->phase != PHASE_ASSESS)
        ask_assessment (guide);
    }
  else if (g_strcmp0 (state, "rest") == 0)
    {
      if (guide->phase != PHASE_REST)
        start_rest (guide);
    }
  else if (g_strcmp0 (state, "done") == 0)
    finish_for_the_day (guide);
  else
    {
      say (guide, "\nThe guided session was finished elsewhere.\n");
      guide_quit (guide, EXIT_SUCCESS);
    }
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  Guide *guide = user_data;

  if (guide->status == -1)   /* not once we are on our way out */
    guide_sync (guide);
}

static void
on_owner_changed (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  Guide *guide = user_data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));

  if (owner != NULL || guide->status != -1)   /* back, or we are on our way out already */
    return;
  say (guide, "\n");
  g_printerr ("warmupctl: warmupd went away\n");
  guide_quit (guide, EXIT_FAILURE);
}

/* --- time and input --- */

static gboolean
on_tick (gpointer user_data)
{
  Guide *guide = user_data;

  if (guide->status != -1)
    return G_SOURCE_CONTINUE;
  switch (guide->phase)
    {
    case PHASE_READY:
      if (--guide->seconds_left == 0)
        start_part (guide);
      else
        progress (guide, "  get ready: %u s", guide->seconds_left);
      break;
    case PHASE_SWITCH:
      if (--guide->seconds_left == 0)
        start_part (guide);
      else
        show_switch_left (guide);
      break;
    case PHASE_PART:
      if (guide->units_total == 0)
        break;
      if (++guide->second_in_unit >= guide->unit_seconds)
        {
          guide->second_in_unit = 0;
          guide->units_done++;
        }
      if (guide->units_done >= guide->units_total)
        part_done (guide);
      else
        show_part_progress (guide);
      break;
    case PHASE_REST:
      if (--guide->seconds_left == 0)
        {
          say (guide, "  rest over\n");
          end_rest (guide);
        }
      else
        show_rest_left (guide);
      break;
    case PHASE_NONE:
    case PHASE_ASSESS:
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

static void
assess (Guide *guide, const char *answer)
{
  static const char *const words[] = { "better", "same", "irritated" };
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (words); i++)
    if (answer[0] != '\0' && g_str_has_prefix (words[i], answer))
      {
        guide->phase = PHASE_NONE;
        if (!wu_routine1_call_assess_sync (guide->proxy, words[i], G_DBUS_CALL_FLAGS_NONE, -1,
                                           NULL, &error))
          guide_call_failed (guide, "Assess", error);
        return;
      }
  say (guide, "Please answer better, same or irritated (b, s, i): ");
}

static void
quit_session (Guide *guide)
{
  g_autoptr (GError) error = NULL;

  say (guide, "Stopping the session.\n");
  if (!wu_routine1_call_finish_sync (guide->proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error))
    {
      guide_call_failed (guide, "Finish", error);
      return;
    }
  guide_quit (guide, EXIT_SUCCESS);
}

static void
on_line (Guide *guide, const char *raw)
{
  g_autofree char *line = g_ascii_strdown (raw, -1);

  g_strstrip (line);

  guide->line_open = FALSE;   /* the person's Enter ended the line */
  if (strcmp (line, "q") == 0 || strcmp (line, "quit") == 0)
    {
      quit_session (guide);
      return;
    }
  switch (guide->phase)
    {
    case PHASE_READY:
    case PHASE_SWITCH:
      start_part (guide);
      break;
    case PHASE_PART:
      part_done (guide);
      break;
    case PHASE_ASSESS:
      assess (guide, line);
      break;
    case PHASE_REST:
      say (guide, "  rest ended\n");
      end_rest (guide);
      break;
    case PHASE_NONE:
    default:
      break;
    }
}

static void
on_input_closed (Guide *guide)
{
  guide->stdin_watch = 0;
  say (guide, "\n");
  g_printerr ("warmupctl: input closed; the session stays open in warmupd "
              "(warmupctl guide joins it again)\n");
  guide_quit (guide, EXIT_FAILURE);
}

static gboolean
on_input (int fd, GIOCondition condition, gpointer user_data)
{
  Guide *guide = user_data;
  char buffer[256];
  ssize_t n;
  char *newline;

  if (!(condition & G_IO_IN))
    {
      on_input_closed (guide);   /* hang-up or error without data */
      return G_SOURCE_REMOVE;
    }
  n = read (fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      on_input_closed (guide);
      return G_SOURCE_REMOVE;
    }
  g_string_append_len (guide->input, buffer, n);
  /* memchr: a NUL typed or piped in must not hide the newlines after it */
  while (guide->status == -1 &&
         (newline = memchr (guide->input->str, '\n', guide->input->len)) != NULL)
    {
      g_autofree char *line = g_strndup (guide->input->str, newline - guide->input->str);
      g_string_erase (guide->input, 0, newline - guide->input->str + 1);
      on_line (guide, line);
    }
  return G_SOURCE_CONTINUE;
}

/* --- setting up --- */

/* The routine to guide: the one asked for, else the session's, else the one warmupd
 * announces (Warmup1.Routine). */
static char *
choose_routine (WuRoutine1 *proxy, const char *requested)
{
  const char *state = wu_routine1_get_routine_state (proxy);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;

  if (requested != NULL)
    return g_strdup (requested);
  if (g_strcmp0 (state, "idle") != 0 && g_strcmp0 (state, "done") != 0)
    return g_strdup (wu_routine1_get_current_routine (proxy));
  reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (proxy), "org.freedesktop.DBus.Properties.Get",
                                  g_variant_new ("(ss)", "io.github.warmupd.Warmup1", "Routine"),
                                  G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply == NULL)
    return g_strdup ("after-bike-warmup");
  g_variant_get (reply, "(v)", &value);
  return g_variant_dup_string (value, NULL);
}

/* Routine1 property NAME as warmupd has it now (a Properties.Get: the proxy's cache may not
 * have heard of the latest change yet), or NULL. */
static char *
fresh_routine1_string (WuRoutine1 *proxy, const char *name)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;

  reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (proxy), "org.freedesktop.DBus.Properties.Get",
                                  g_variant_new ("(ss)", "io.github.warmupd.Routine1", name),
                                  G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(v)", &value);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return NULL;
  return g_variant_dup_string (value, NULL);
}

/* Begin() was refused with WrongState: another screen may have begun the same routine an
 * instant before us (both saw "idle" in their caches). TRUE when that session is under way. */
static gboolean
same_session_begun_elsewhere (Guide *guide)
{
  g_autofree char *state = fresh_routine1_string (guide->proxy, "RoutineState");
  g_autofree char *current = fresh_routine1_string (guide->proxy, "CurrentRoutine");

  return state != NULL && strcmp (state, "idle") != 0 && strcmp (state, "done") != 0
         && g_strcmp0 (current, guide->routine_id) == 0;
}

/* Begin a session of GUIDE's routine, or join the one under way. */
static gboolean
begin_or_join (Guide *guide)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *error_name = NULL;
  const char *state = wu_routine1_get_routine_state (guide->proxy);
  const char *current = wu_routine1_get_current_routine (guide->proxy);

  if (g_strcmp0 (state, "idle") == 0 || g_strcmp0 (state, "done") == 0)
    {
      if (wu_routine1_call_begin_sync (guide->proxy, guide->routine_id, G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, &error))
        return TRUE;
      error_name = g_dbus_error_get_remote_error (error);
      if (g_strcmp0 (error_name, WRONG_STATE_ERROR) != 0 || !same_session_begun_elsewhere (guide))
        return guide_call_failed (guide, "Begin", error);
      g_print ("Joining the guided session under way.\n");
      return TRUE;
    }
  if (g_strcmp0 (current, guide->routine_id) != 0)
    {
      g_printerr ("warmupctl: a guided session of %s is under way (warmupctl guide %s joins it)\n",
                  current, current);
      guide_quit (guide, EXIT_FAILURE);
      return FALSE;
    }
  g_print ("Joining the guided session under way.\n");
  return TRUE;
}

static void
print_guide_header (Guide *guide)
{
  const char *before = lookup_s (guide->routine, "before");

  g_print ("%s\n", lookup_s (guide->routine, "title"));
  if (before[0] != '\0')
    g_print ("After: %s\n", before);
  g_print ("Stop if it hurts: %s\n", lookup_s (guide->routine, "caution"));
  g_print ("Each step counts itself; press Enter to move on early, q and Enter to stop.\n");
}

static guint
second_length_ms (void)
{
  /* Tests shorten the second; a person never needs to. */
  const char *text = g_getenv ("WARMUPCTL_SECOND_MS");
  guint64 ms;

  if (text != NULL && g_ascii_string_to_unsigned (text, 10, 1, 10000, &ms, NULL))
    return (guint) ms;
  return 1000;
}

static int
guide_run (WuRoutine1 *proxy, const char *requested)
{
  g_autoptr (GError) error = NULL;
  Guide guide = { .proxy = proxy, .status = -1, .shown_index = -1,
                  .tty = isatty (STDOUT_FILENO), .second_ms = second_length_ms () };

  guide.routine_id = choose_routine (proxy, requested);
  if (!wu_routine1_call_get_routine_sync (proxy, guide.routine_id, G_DBUS_CALL_FLAGS_NONE, -1,
                                          &guide.routine, &guide.steps, NULL, &error))
    {
      g_free (guide.routine_id);
      return wu_ctl_report_call_error ("GetRoutine", error);
    }
  guide.loop = g_main_loop_new (NULL, FALSE);
  guide.input = g_string_new (NULL);
  print_guide_header (&guide);
  g_signal_connect (proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), &guide);
  g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (on_owner_changed), &guide);
  if (begin_or_join (&guide))
    {
      guide.tick_timer = g_timeout_add (guide.second_ms, on_tick, &guide);
      guide.stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input,
                                         &guide);
      guide_sync (&guide);
      if (guide.status == -1)
        g_main_loop_run (guide.loop);
    }
  g_signal_handlers_disconnect_by_data (proxy, &guide);
  g_clear_handle_id (&guide.tick_timer, g_source_remove);
  g_clear_handle_id (&guide.stdin_watch, g_source_remove);
  g_clear_pointer (&guide.step, g_variant_unref);
  g_variant_unref (guide.routine);
  g_variant_unref (guide.steps);
  g_string_free (guide.input, TRUE);
  g_main_loop_unref (guide.loop);
  g_free (guide.routine_id);
  return guide.status == -1 ? EXIT_FAILURE : guide.status;
}

int
wu_ctl_guide_run (gboolean session_bus, const char *routine_id)
{
  g_autoptr (WuRoutine1) proxy = connect_routine1 (session_bus, 0);

  if (proxy == NULL)
    return EXIT_FAILURE;
  return guide_run (proxy, routine_id);
}

/* --- dispatch ------------------------------------------------------------------------------ */

gboolean
wu_ctl_routine_dispatch (int argc, char **argv, int *status)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (WuRoutine1) proxy = NULL;
  gboolean session_bus = FALSE;
  int wait_seconds = 0;
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &session_bus, "Talk to warmupd on the session bus", NULL },
    { "wait", 'w', 0, G_OPTION_ARG_INT, &wait_seconds, "Wait up to SECONDS for warmupd", "SECONDS" },
    { NULL }
  };
  const char *command = wu_ctl_find_command (argc, argv), *usage;

  if (command == NULL || (strcmp (command, "routines") != 0 && strcmp (command, "routine") != 0
                          && strcmp (command, "guide") != 0))
    return FALSE;
  usage = strcmp (command, "routines") == 0 ? "routines"
          : strcmp (command, "routine") == 0 ? "routine ID" : "guide [ID]";
  context = g_option_context_new (usage);
  g_option_context_add_main_entries (context, entries, NULL);
  *status = 2;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_printerr ("warmupctl: %s\n", error->message);
  else if ((strcmp (command, "routine") == 0 && argc != 3)
           || (strcmp (command, "routines") == 0 && argc != 2)
           || (strcmp (command, "guide") == 0 && argc > 3))
    g_printerr ("warmupctl: usage: warmupctl [--session] [--wait SECONDS] %s\n", usage);
  else if (!wu_ctl_check_wait (wait_seconds))
    ;   /* reported */
  else if (argc > 2 && !g_utf8_validate (argv[2], -1, NULL))
    /* a D-Bus string is UTF-8: g_variant_new_string() must not be handed it (a critical) */
    g_printerr ("warmupctl: routine ID is not valid UTF-8\n");
  else if ((proxy = connect_routine1 (session_bus, wait_seconds)) == NULL)
    *status = EXIT_FAILURE;
  else if (strcmp (command, "routines") == 0)
    *status = cmd_routines (proxy);
  else if (strcmp (command, "routine") == 0)
    *status = cmd_routine (proxy, argv[2]);
  else
    *status = guide_run (proxy, argc > 2 ? argv[2] : NULL);
  return TRUE;
}
