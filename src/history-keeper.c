/* The daemon's side of the session history (see history-keeper.h). */
#include "history-keeper.h"
#include "wu-error.h"

#include <string.h>

struct WuHistoryKeeper {
  WuEngine *engine;
  WuHistory *history;          /* NULL: no history kept */
  char *directory;             /* the state directory, NULL: none */
  WuHistorySession session;
  char *error;                 /* "" while history is kept */
};

/* History is off until the next warm-up begins (reopen); the daemon carries on. */
static void
disable (WuHistoryKeeper *keeper, const char *reason)
{
  g_warning ("history off: %s", reason);
  g_free (keeper->error);
  keeper->error = g_strdup (reason);
  g_clear_pointer (&keeper->history, wu_history_free);
}

/* The database in the keeper's directory; FALSE (and history off, saying why) when it
 * cannot be opened. */
static gboolean
open_history (WuHistoryKeeper *keeper)
{
  g_autoptr (GError) error = NULL;

  keeper->history = wu_history_open (keeper->directory, &error);
  if (keeper->history == NULL)
    {
      disable (keeper, error->message);
      return FALSE;
    }
  g_free (keeper->error);
  keeper->error = g_strdup ("");
  return TRUE;
}

/* --state-dir, else the first of systemd's StateDirectory= paths, else none. */
static char *
resolve_directory (const char *option)
{
  const char *env = g_getenv ("STATE_DIRECTORY");

  if (option != NULL && option[0] != '\0')
    return g_strdup (option);
  if (env != NULL && env[0] != '\0')
    return g_strndup (env, strcspn (env, ":"));
  return NULL;
}

WuHistoryKeeper *
wu_history_keeper_new (WuEngine *engine, const char *state_dir_option)
{
  WuHistoryKeeper *keeper = g_new0 (WuHistoryKeeper, 1);
  g_autofree char *directory = resolve_directory (state_dir_option);
  g_autoptr (GError) error = NULL;
  gint64 count = 0;

  keeper->engine = engine;
  wu_history_session_init (&keeper->session);
  if (directory == NULL)
    {
      keeper->error = g_strdup ("no state directory ($STATE_DIRECTORY or --state-dir): "
                                "history is not kept");
      g_message ("%s", keeper->error);
      return keeper;
    }
  keeper->directory = g_steal_pointer (&directory);
  if (!open_history (keeper))
    return keeper;
  if (!wu_history_count (keeper->history, &count, &error))
    g_message ("history: %s (%s)%s", wu_history_get_path (keeper->history), error->message,
               wu_history_get_recovered (keeper->history) > 0
                 ? " (an unfinished one closed as interrupted)" : "");
  else
    g_message ("history: %s, %" G_GINT64_FORMAT " warm-ups%s",
               wu_history_get_path (keeper->history), count,
               wu_history_get_recovered (keeper->history) > 0
                 ? " (an unfinished one closed as interrupted)" : "");
  return keeper;
}

void
wu_history_keeper_free (WuHistoryKeeper *keeper)
{
  if (keeper == NULL)
    return;
  wu_history_free (keeper->history);
  wu_history_session_clear (&keeper->session);
  g_free (keeper->directory);
  g_free (keeper->error);
  g_free (keeper);
}

static void
take_snapshot (WuHistoryKeeper *keeper, WuHistorySnapshot *snapshot)
{
  const WuController *ctl = wu_engine_get_controller (keeper->engine);

  snapshot->wall_us = g_get_real_time ();
  wu_controller_get_summary (ctl, &snapshot->summary);
  snapshot->cap = wu_controller_get_cap (ctl);
  snapshot->source = wu_engine_get_source_label (keeper->engine);
  snapshot->routine = wu_engine_get_routine (keeper->engine);
}

static void
store (WuHistoryKeeper *keeper, WuHistoryWrite write)
{
  g_autoptr (GError) error = NULL;

  if (write == WU_HISTORY_WRITE_NONE || keeper->history == NULL)
    return;
  if (!wu_history_write (keeper->history, write, &keeper->session.row, &error))
    {
      disable (keeper, error->message);
      return;
    }
  g_debug ("history: warm-up %" G_GINT64_FORMAT " %s, %.0f s counted", keeper->session.row.id,
           wu_outcome_to_string (keeper->session.row.outcome), keeper->session.row.counted_s);
}

/* A write that failed (a full disk, the database locked by someone else for too long)
 * turned history off; a new warm-up tries the database again. A file that still cannot be
 * opened (corrupt, unreadable) stays untouched, and history stays off. */
static void
reopen (WuHistoryKeeper *keeper)
{
  if (open_history (keeper))
    g_message ("history back on: %s", wu_history_get_path (keeper->history));
}

void
wu_history_keeper_state_changed (WuHistoryKeeper *keeper, WuState old_state, WuState new_state)
{
  WuHistorySnapshot snapshot;

  if (keeper == NULL)
    return;   /* an input before the daemon finished setting up */
  if (keeper->history == NULL && keeper->directory != NULL
      && new_state == WU_STATE_WARMING_UP && old_state != WU_STATE_PAUSED)
    reopen (keeper);
  take_snapshot (keeper, &snapshot);
  store (keeper, wu_history_session_transition (&keeper->session, old_state, new_state,
                                                &snapshot));
}

void
wu_history_keeper_changed (WuHistoryKeeper *keeper)
{
  WuHistorySnapshot snapshot;

  if (keeper == NULL || !keeper->session.active)
    return;   /* the common case between warm-ups: no work at all */
  take_snapshot (keeper, &snapshot);
  store (keeper, wu_history_session_progress (&keeper->session, &snapshot));
}

void
wu_history_keeper_shutdown (WuHistoryKeeper *keeper)
{
  WuHistorySnapshot snapshot;

  if (keeper == NULL)
    return;   /* an input before the daemon finished setting up */
  take_snapshot (keeper, &snapshot);
  store (keeper, wu_history_session_shutdown (&keeper->session, &snapshot));
}

void
wu_history_keeper_routine_begun (WuHistoryKeeper *keeper)
{
  wu_history_session_routine_begun (&keeper->session);
}

void
wu_history_keeper_routine_outcome (WuHistoryKeeper *keeper, const char *routine_id, guint rounds,
                                   const char *assessment)
{
  const char *why_not = NULL;
  WuHistoryWrite write = wu_history_session_routine_outcome (&keeper->session, routine_id,
                                                             (int) MIN (rounds, G_MAXINT),
                                                             assessment, &why_not);

  if (why_not != NULL)
    g_info ("history: the guided session of %s is not recorded: %s", routine_id, why_not);
  store (keeper, write);
}

const char *
wu_history_keeper_get_error (WuHistoryKeeper *keeper)
{
  return keeper->error;
}

GVariant *
wu_history_keeper_list (WuHistoryKeeper *keeper, gint64 before_id, guint limit, GError **error)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize bytes = 0;

  if (keeper->history == NULL)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_HISTORY_UNAVAILABLE, "%s", keeper->error);
      return NULL;
    }
  if (limit == 0 || limit > WU_HISTORY_REPLY_MAX_ROWS)
    limit = WU_HISTORY_REPLY_MAX_ROWS;
  rows = wu_history_list_before (keeper->history, before_id, limit, &local_error);
  if (rows == NULL)
    {
      disable (keeper, local_error->message);
      g_set_error (error, WU_ERROR, WU_ERROR_HISTORY_UNAVAILABLE, "%s", keeper->error);
      return NULL;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      GVariant *row = g_variant_ref_sink (wu_history_row_to_variant (g_ptr_array_index (rows, i)));

      /* its bytes, its alignment and its offset in the array, generously */
      bytes += g_variant_get_size (row) + 16;
      if (i > 0 && bytes > WU_HISTORY_REPLY_MAX_BYTES)
        {
          g_variant_unref (row);
          break;   /* the caller pages on from the last id it got */
        }
      g_variant_builder_add_value (&builder, row);
      g_variant_unref (row);
    }
  return g_variant_builder_end (&builder);
}
