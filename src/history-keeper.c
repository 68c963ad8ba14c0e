/* The daemon's side of the session history (see history-keeper.h). */
#include "history-keeper.h"
#include "wu-error.h"

#include <string.h>

/* A write that failed (the database locked by someone else for too long, a full disk) is
 * tried again this often while nothing else writes (between warm-ups). */
#define RETRY_SECONDS 10
#define OPEN_RETRY_MAX_SECONDS 640
/* A write from the main loop waits at most this long for another process's lock (an input,
 * a re-cap, a D-Bus call are held up no longer); the last one, at shutdown, longer. */
#define BUSY_MS 50
#define FINAL_BUSY_MS 2000
/* Opening at start-up (before anything else runs) waits as long as the last write. */
#define STARTUP_BUSY_MS FINAL_BUSY_MS
/* After a failed write, a progress step tries again at most this often (the retry timer and
 * state changes try anyway): a locked database costs no write attempt per input. */
#define STEP_RETRY_US (2 * G_USEC_PER_SEC)
/* Earlier warm-ups whose last write failed before the next one began, kept in memory (and
 * written first at every write) at most this many: beyond, the oldest is dropped. */
#define MAX_PENDING 8

/* An earlier warm-up's row not written yet. */
typedef struct {
  WuHistoryRow row;
  gboolean elsewhere;          /* as row_elsewhere, for this row */
} PendingRow;

/* Why store() is called: what it may do. */
typedef enum {
  STORE_STEP,     /* an input: a progress step, or nothing new (no retry then) */
  STORE_CHANGE,   /* a state change or a routine's outcome: may open the database */
  STORE_RETRY,    /* the retry timer */
  STORE_FINAL,    /* shutdown: the longer busy timeout */
} StoreWhy;

struct WuHistoryKeeper {
  WuEngine *engine;
  WuHistory *history;          /* NULL: not open (no state directory, or it failed to open) */
  char *directory;             /* the state directory, NULL: none */
  WuHistorySession session;
  gboolean unsaved;            /* session.row has what the database lacks: a write failed */
  gboolean row_elsewhere;      /* the file was replaced since session.row was written: its
                                * id may be another row's there (update-or-insert) */
  GPtrArray *pending;          /* PendingRow*, oldest first: earlier warm-ups not written */
  guint retry_timer;
  guint open_retry_s;          /* the next wait to open it with nothing to write (0: none) */
  gint64 failed_us;            /* monotonic time of the last failed write, 0: none since */
  char *error;                 /* "" while history is kept */
  WuHistoryKeeperErrorFunc error_func;
  gpointer error_data;
};

static void store (WuHistoryKeeper *keeper, WuHistoryWrite write, StoreWhy why);

/* How long a write (or an opening) for WHY waits for another process's lock. */
static int
busy_ms_for (StoreWhy why)
{
  return why == STORE_FINAL ? FINAL_BUSY_MS : BUSY_MS;
}

static void
pending_row_free (gpointer data)
{
  PendingRow *pending = data;

  wu_history_row_clear (&pending->row);
  g_free (pending);
}

/* Something in memory the database lacks: the current row or an earlier one. */
static gboolean
has_unsaved (WuHistoryKeeper *keeper)
{
  return keeper->unsaved || keeper->pending->len > 0;
}

/* HistoryError: REASON, or "" (NULL); logged when it changes, and told. */
static void
set_error (WuHistoryKeeper *keeper, const char *reason)
{
  const char *path = keeper->history != NULL ? wu_history_get_path (keeper->history) : NULL;

  if (reason == NULL)
    reason = "";
  if (g_strcmp0 (keeper->error, reason) == 0)
    return;
  if (reason[0] != '\0')
    g_warning ("%s: %s", keeper->history == NULL ? "history off" : "history", reason);
  else if (keeper->error != NULL && keeper->error[0] != '\0')
    g_message ("history back on%s%s", path != NULL ? ": " : "", path != NULL ? path : "");
  g_free (keeper->error);
  keeper->error = g_strdup (reason);
  if (keeper->error_func != NULL)
    keeper->error_func (keeper->error_data);
}

/* The database in the keeper's directory, waiting at most BUSY_MS for another process's
 * lock; FALSE (and HistoryError saying why) when it cannot be opened. Opened again with a
 * warm-up in memory, that row is not closed as interrupted: it is written next. */
static gboolean
open_history (WuHistoryKeeper *keeper, int busy_ms)
{
  g_autoptr (GError) error = NULL;
  g_autofree gint64 *keep_start_us = g_new (gint64, keeper->pending->len + 1);
  guint n_keep = 0;

  /* the earlier warm-ups not written yet too: their rows may still be running there */
  for (guint i = 0; i < keeper->pending->len; i++)
    keep_start_us[n_keep++] = ((PendingRow *) g_ptr_array_index (keeper->pending, i))->row.start_us;
  if (keeper->session.have_row)
    keep_start_us[n_keep++] = keeper->session.row.start_us;
  keeper->history = wu_history_open_keeping (keeper->directory, keep_start_us, n_keep, busy_ms,
                                             &error);
  if (keeper->history == NULL)
    {
      if (has_unsaved (keeper))
        {
          g_autofree char *reason = g_strdup_printf ("%s; the warm-up is kept in memory and "
                                                     "written once it can be", error->message);
          set_error (keeper, reason);
        }
      else
        set_error (keeper, error->message);
      return FALSE;
    }
  wu_history_set_busy_timeout (keeper->history, BUSY_MS);
  /* A retry of opening, maybe minutes away, is not for a write that fails next (it
   * would wait behind it): that one arms its own. Nothing owed, no timer at all. */
  keeper->open_retry_s = 0;
  g_clear_handle_id (&keeper->retry_timer, g_source_remove);
  if (!has_unsaved (keeper))
    set_error (keeper, NULL);   /* nothing waits to be written: history is kept again */
  return TRUE;
}

/* The file at the path is no longer the one open (deleted, or another put in its place:
 * SQLite would go on writing into the unlinked file): close it and open the path again,
 * making a new database when there is none. */
static void
follow_the_file (WuHistoryKeeper *keeper, int busy_ms)
{
  if (keeper->history == NULL || !wu_history_file_changed (keeper->history))
    return;
  g_warning ("history: %s was deleted or replaced while warmupd ran; opening it again",
             wu_history_get_path (keeper->history));
  g_clear_pointer (&keeper->history, wu_history_free);
  keeper->row_elsewhere = keeper->session.have_row;
  for (guint i = 0; i < keeper->pending->len; i++)
    ((PendingRow *) g_ptr_array_index (keeper->pending, i))->elsewhere = TRUE;
  if (open_history (keeper, busy_ms) && has_unsaved (keeper))
    store (keeper, WU_HISTORY_WRITE_NONE, STORE_RETRY);
}

static gboolean on_retry (gpointer user_data);

static void
arm_retry (WuHistoryKeeper *keeper, guint seconds)
{
  if (keeper->retry_timer != 0)
    return;
  keeper->retry_timer = g_timeout_add_seconds (seconds, on_retry, keeper);
  g_source_set_name_by_id (keeper->retry_timer, "[warmupd] history retry");
}

/* What failed is tried again in RETRY_SECONDS, whatever comes (between warm-ups nothing else
 * does); sooner than a slower retry of opening already waiting. */
static void
schedule_retry (WuHistoryKeeper *keeper)
{
  if (keeper->open_retry_s > RETRY_SECONDS)
    g_clear_handle_id (&keeper->retry_timer, g_source_remove);
  keeper->open_retry_s = 0;
  arm_retry (keeper, RETRY_SECONDS);
}

/* Opening failed with nothing to write: tried again in RETRY_SECONDS, then twice as long
 * each time up to OPEN_RETRY_MAX_SECONDS. A lock held a while opens soon; a corrupt file,
 * a newer schema or a read-only directory does not wake an idle daemon (and check the whole
 * file) every 10 s for ever. GetHistory and a warm-up's state change try at once. */
static void
schedule_open_retry (WuHistoryKeeper *keeper)
{
  if (keeper->retry_timer != 0)
    return;   /* one is coming (GetHistory failing meanwhile does not put it off) */
  keeper->open_retry_s = keeper->open_retry_s == 0
                             ? RETRY_SECONDS
                             : MIN (keeper->open_retry_s * 2, OPEN_RETRY_MAX_SECONDS);
  arm_retry (keeper, keeper->open_retry_s);
}

/* Tries again what failed: the writes owed (opening the database first when needed), else,
 * with nothing to write, opening it (it failed at start-up, or since). */
static void
try_again (WuHistoryKeeper *keeper)
{
  if (has_unsaved (keeper))
    store (keeper, WU_HISTORY_WRITE_NONE, STORE_RETRY);
  else if (keeper->history == NULL && keeper->directory != NULL
           && !open_history (keeper, BUSY_MS))
    schedule_open_retry (keeper);
}

static gboolean
on_retry (gpointer user_data)
{
  WuHistoryKeeper *keeper = user_data;

  keeper->retry_timer = 0;
  try_again (keeper);
  return G_SOURCE_REMOVE;
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
  keeper->error = g_strdup ("");
  keeper->pending = g_ptr_array_new_with_free_func (pending_row_free);
  wu_history_session_init (&keeper->session);
  if (directory == NULL)
    {
      g_free (keeper->error);
      keeper->error = g_strdup ("no state directory ($STATE_DIRECTORY or --state-dir): "
                                "history is not kept");
      g_message ("%s", keeper->error);
      return keeper;
    }
  keeper->directory = g_steal_pointer (&directory);
  if (!open_history (keeper, STARTUP_BUSY_MS))
    {
      /* a lock held by another process for a while, say: tried again until it opens */
      schedule_open_retry (keeper);
      return keeper;
    }
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
  g_clear_handle_id (&keeper->retry_timer, g_source_remove);
  wu_history_free (keeper->history);
  wu_history_session_clear (&keeper->session);
  g_ptr_array_unref (keeper->pending);
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

/* Writes ROW (ELSEWHERE: the file was replaced since it was written), waiting at most
 * BUSY_MS (FINAL_BUSY_MS at shutdown) for a lock. FALSE: HistoryError says what failed. */
static gboolean
write_row (WuHistoryKeeper *keeper, WuHistoryRow *row, gboolean elsewhere, StoreWhy why)
{
  g_autoptr (GError) error = NULL;
  WuHistoryWrite write;

  if (row->id == 0)
    write = WU_HISTORY_WRITE_INSERT;
  else
    write = elsewhere ? WU_HISTORY_WRITE_UPDATE_OR_INSERT : WU_HISTORY_WRITE_UPDATE;
  wu_history_set_busy_timeout (keeper->history, busy_ms_for (why));
  if (!wu_history_write (keeper->history, write, row, &error))
    {
      g_autofree char *reason = g_strdup_printf ("%s; the warm-up is kept in memory and "
                                                 "written once it can be", error->message);
      keeper->failed_us = g_get_monotonic_time ();
      set_error (keeper, reason);
      return FALSE;
    }
  g_debug ("history: warm-up %" G_GINT64_FORMAT " %s, %.0f s counted", row->id,
           wu_outcome_to_string (row->outcome), row->counted_s);
  return TRUE;
}

/* WRITE (from the session) makes the row unsaved until a write succeeds. A failed write
 * keeps it in memory (HistoryError says what failed) and the next state change, progress
 * step (at most every STEP_RETRY_US) or retry (every RETRY_SECONDS, during warm-ups too)
 * writes it, the row by its id first. Earlier warm-ups still unsaved when this one began
 * (keeper->pending) are written first, oldest first; HistoryError is cleared once all are.
 * An input with no progress step never writes, and a write waits BUSY_MS at most for a
 * lock: a locked database does not hold the main loop up. WHY says what may be done: only
 * a state change, a retry (the timer, GetHistory) or shutdown opens the database when it is
 * not open. */
static void
store (WuHistoryKeeper *keeper, WuHistoryWrite write, StoreWhy why)
{
  WuHistoryRow *row = &keeper->session.row;
  int busy_ms = busy_ms_for (why);

  if (keeper->directory == NULL)
    return;   /* history is not kept: nothing is owed to a database */
  if (write != WU_HISTORY_WRITE_NONE)
    keeper->unsaved = TRUE;
  if (!has_unsaved (keeper))
    return;
  if (why == STORE_STEP
      && (write == WU_HISTORY_WRITE_NONE
          || (keeper->failed_us != 0
              && g_get_monotonic_time () - keeper->failed_us < STEP_RETRY_US)))
    goto later;   /* nothing new, or tried a moment ago: the timer or a state change will */
  follow_the_file (keeper, busy_ms);
  if (!has_unsaved (keeper))
    return;   /* written into the file just opened again */
  if (keeper->history == NULL && (why == STORE_STEP || !open_history (keeper, busy_ms)))
    goto later;   /* not open: tried again later */
  while (keeper->pending->len > 0)
    {
      PendingRow *pending = g_ptr_array_index (keeper->pending, 0);

      if (!write_row (keeper, &pending->row, pending->elsewhere, why))
        goto later;
      g_ptr_array_remove_index (keeper->pending, 0);
    }
  if (keeper->unsaved && !write_row (keeper, row, keeper->row_elsewhere, why))
    goto later;
  keeper->unsaved = keeper->row_elsewhere = FALSE;
  keeper->failed_us = 0;
  g_clear_handle_id (&keeper->retry_timer, g_source_remove);
  set_error (keeper, NULL);
  return;
later:
  if (why != STORE_FINAL)
    schedule_retry (keeper);
}

/* A new warm-up replaces the row in memory: the last one is written first if it can be,
 * else kept (with the other earlier ones, at most MAX_PENDING, the oldest dropped) and
 * written before the new one at every write. */
static void
store_before_a_new_row (WuHistoryKeeper *keeper)
{
  g_autofree char *start = NULL;
  PendingRow *pending;
  const WuHistoryRow *row = &keeper->session.row;

  if (!keeper->unsaved)
    return;
  store (keeper, WU_HISTORY_WRITE_NONE, STORE_CHANGE);
  if (!keeper->unsaved)
    return;
  start = wu_history_format_time (row->start_us);
  if (keeper->pending->len >= MAX_PENDING)
    {
      PendingRow *oldest = g_ptr_array_index (keeper->pending, 0);
      g_autofree char *oldest_start = wu_history_format_time (oldest->row.start_us);

      g_warning ("history: more than %d earlier warm-ups wait to be written: the one begun "
                 "at %s (%s, %.0f s counted) is dropped: %s", MAX_PENDING, oldest_start,
                 wu_outcome_to_string (oldest->row.outcome), oldest->row.counted_s,
                 keeper->error);
      g_ptr_array_remove_index (keeper->pending, 0);
    }
  g_message ("history: the warm-up begun at %s (%s, %.0f s counted) could not be written "
             "yet; kept in memory and written before the next one", start,
             wu_outcome_to_string (row->outcome), row->counted_s);
  pending = g_new0 (PendingRow, 1);
  wu_history_row_copy (&pending->row, row);
  pending->elsewhere = keeper->row_elsewhere;
  g_ptr_array_add (keeper->pending, pending);
  keeper->unsaved = keeper->row_elsewhere = FALSE;
}

void
wu_history_keeper_state_changed (WuHistoryKeeper *keeper, WuState old_state, WuState new_state)
{
  WuHistorySnapshot snapshot;

  if (keeper == NULL)
    return;   /* an input before the daemon finished setting up */
  if (wu_history_session_begins (&keeper->session, old_state, new_state))
    store_before_a_new_row (keeper);
  take_snapshot (keeper, &snapshot);
  store (keeper, wu_history_session_transition (&keeper->session, old_state, new_state,
                                                &snapshot), STORE_CHANGE);
}

void
wu_history_keeper_changed (WuHistoryKeeper *keeper)
{
  WuHistorySnapshot snapshot;

  if (keeper == NULL || !keeper->session.active)
    return;   /* the common case between warm-ups: no work at all */
  take_snapshot (keeper, &snapshot);
  store (keeper, wu_history_session_progress (&keeper->session, &snapshot), STORE_STEP);
}

void
wu_history_keeper_shutdown (WuHistoryKeeper *keeper)
{
  WuHistorySnapshot snapshot;

  if (keeper == NULL)
    return;   /* an input before the daemon finished setting up */
  take_snapshot (keeper, &snapshot);
  store (keeper, wu_history_session_shutdown (&keeper->session, &snapshot), STORE_FINAL);
  for (guint i = 0; i < keeper->pending->len; i++)
    {
      PendingRow *pending = g_ptr_array_index (keeper->pending, i);
      g_autofree char *start = wu_history_format_time (pending->row.start_us);

      g_warning ("history: warmupd is stopping and the warm-up begun at %s (%s) could not be "
                 "written: %s", start, wu_outcome_to_string (pending->row.outcome),
                 keeper->error);
    }
  if (keeper->unsaved)
    {
      g_autofree char *start = wu_history_format_time (keeper->session.row.start_us);

      g_warning ("history: warmupd is stopping and the warm-up begun at %s could not be "
                 "written: %s", start, keeper->error);
    }
  g_clear_handle_id (&keeper->retry_timer, g_source_remove);
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
  store (keeper, write, STORE_CHANGE);
}

const char *
wu_history_keeper_get_error (WuHistoryKeeper *keeper)
{
  return keeper->error;
}

void
wu_history_keeper_set_error_func (WuHistoryKeeper *keeper, WuHistoryKeeperErrorFunc func,
                                  gpointer user_data)
{
  keeper->error_func = func;
  keeper->error_data = user_data;
}

GVariant *
wu_history_keeper_list (WuHistoryKeeper *keeper, gint64 before_id, guint limit, GError **error)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize bytes = 0;

  /* what is listed is what is on disk, not a deleted file */
  follow_the_file (keeper, BUSY_MS);
  if (keeper->history == NULL)
    try_again (keeper);   /* not open: it may open now, without waiting for the retry */
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
      /* only this read failed: the database stays open, the warm-up in memory is written
       * as always */
      g_warning ("history: %s", local_error->message);
      g_set_error (error, WU_ERROR, WU_ERROR_HISTORY_UNAVAILABLE, "%s", local_error->message);
      return NULL;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      GVariant *row = g_variant_ref_sink (wu_history_row_to_variant (g_ptr_array_index (rows, i)));

      /* on the wire (D-Bus, not GVariant, serialization) each a{sv} entry adds up to 7
       * bytes of alignment, a string length and the variant's signature, and the row its
       * array length and alignment: twice its GVariant size and 64 bytes bound it */
      bytes += 2 * g_variant_get_size (row) + 64;
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
