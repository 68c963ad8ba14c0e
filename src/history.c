/* The session history: the pure session tracker and the SQLite store (see wu-history.h). */
#include "wu-history.h"
#include "wu-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

/* --- rows ------------------------------------------------------------------------------- */

void
wu_history_row_init (WuHistoryRow *row)
{
  *row = (WuHistoryRow) {
    .outcome = WU_OUTCOME_RUNNING,
    .avg_cadence = -1, .max_cadence = -1, .avg_power = -1, .cap = -1,
    .rounds = -1,
  };
}

void
wu_history_row_clear (WuHistoryRow *row)
{
  g_clear_pointer (&row->source, g_free);
  g_clear_pointer (&row->routine, g_free);
  g_clear_pointer (&row->assessment, g_free);
  wu_history_row_init (row);
}

void
wu_history_row_copy (WuHistoryRow *dest, const WuHistoryRow *src)
{
  *dest = *src;
  dest->source = g_strdup (src->source);
  dest->routine = g_strdup (src->routine);
  dest->assessment = g_strdup (src->assessment);
}

void
wu_history_row_free (WuHistoryRow *row)
{
  wu_history_row_clear (row);
  g_free (row);
}

static const char *const outcome_names[] = {
  [WU_OUTCOME_RUNNING] = "running",
  [WU_OUTCOME_COMPLETE] = "complete",
  [WU_OUTCOME_CANCELLED] = "cancelled",
  [WU_OUTCOME_INTERRUPTED] = "interrupted",
};

const char *
wu_outcome_to_string (WuOutcome outcome)
{
  g_return_val_if_fail ((guint) outcome < G_N_ELEMENTS (outcome_names), "running");
  return outcome_names[outcome];
}

static WuOutcome
outcome_from_string (const char *text)
{
  for (guint i = 0; i < G_N_ELEMENTS (outcome_names); i++)
    if (g_strcmp0 (text, outcome_names[i]) == 0)
      return (WuOutcome) i;
  return WU_OUTCOME_RUNNING;   /* NULL */
}

char *
wu_history_format_time (gint64 wall_us)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (wall_us / G_USEC_PER_SEC);

  if (time == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  return g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ");
}

static gint64
parse_time (const char *text)
{
  g_autoptr (GDateTime) time = NULL;

  if (text == NULL)
    return 0;
  time = g_date_time_new_from_iso8601 (text, NULL);
  return time != NULL ? g_date_time_to_unix (time) * G_USEC_PER_SEC : 0;
}

static void
add_double (GVariantBuilder *builder, const char *key, double value)
{
  if (value >= 0)
    g_variant_builder_add (builder, "{sv}", key, g_variant_new_double (value));
}

static void
add_string (GVariantBuilder *builder, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_builder_add (builder, "{sv}", key, g_variant_new_string (value));
}

GVariant *
wu_history_row_to_variant (const WuHistoryRow *row)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *start = wu_history_format_time (row->start_us);
  g_autofree char *end = wu_history_format_time (row->end_us);

  g_variant_builder_add (&builder, "{sv}", "id", g_variant_new_int64 (row->id));
  add_string (&builder, "start_time", start);
  add_string (&builder, "end_time", end);
  add_string (&builder, "outcome", wu_outcome_to_string (row->outcome));
  add_double (&builder, "counted_seconds", row->counted_s);
  g_variant_builder_add (&builder, "{sv}", "pauses", g_variant_new_uint32 (row->pauses));
  add_double (&builder, "avg_cadence", row->avg_cadence);
  add_double (&builder, "max_cadence", row->max_cadence);
  add_double (&builder, "avg_power", row->avg_power);
  add_double (&builder, "cap", row->cap);
  g_variant_builder_add (&builder, "{sv}", "recaps", g_variant_new_uint32 (row->recaps));
  add_string (&builder, "source", row->source);
  add_string (&builder, "routine", row->routine);
  if (row->rounds >= 0)
    g_variant_builder_add (&builder, "{sv}", "rounds", g_variant_new_uint32 ((guint32) row->rounds));
  add_string (&builder, "assessment", row->assessment);
  return g_variant_builder_end (&builder);
}

/* --- the pure session tracker ------------------------------------------------------------ */

void
wu_history_session_init (WuHistorySession *session)
{
  memset (session, 0, sizeof *session);
  wu_history_row_init (&session->row);
}

void
wu_history_session_clear (WuHistorySession *session)
{
  wu_history_row_clear (&session->row);
  session->active = session->have_row = FALSE;
  session->routine_follows = session->routine_recorded = FALSE;
}

static void
replace_string (char **field, const char *value)
{
  /* An empty label (no sample yet) does not erase a known one. */
  if (value == NULL || value[0] == '\0' || g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
}

/* Take the figures of the running warm-up into the row. */
static void
fill_row (WuHistorySession *session, const WuHistorySnapshot *snapshot)
{
  WuHistoryRow *row = &session->row;
  const WuSummary *summary = &snapshot->summary;

  row->end_us = snapshot->wall_us;
  row->counted_s = summary->duration_s;
  row->pauses = summary->pauses;
  row->avg_cadence = summary->avg_cadence;
  row->max_cadence = summary->max_cadence;
  row->avg_power = summary->avg_power;
  row->recaps = summary->recaps;
  /* The cap is gone once the bike is released: keep the one that was applied. */
  if (snapshot->cap >= 0)
    row->cap = snapshot->cap;
  replace_string (&row->source, snapshot->source);
  replace_string (&row->routine, snapshot->routine);
  session->written_step = floor (summary->duration_s / WU_HISTORY_PROGRESS_STEP_S);
}

static WuHistoryWrite
begin_row (WuHistorySession *session, const WuHistorySnapshot *snapshot)
{
  wu_history_row_clear (&session->row);
  session->row.start_us = snapshot->wall_us;
  session->active = session->have_row = TRUE;
  session->routine_follows = session->routine_recorded = FALSE;
  fill_row (session, snapshot);
  return WU_HISTORY_WRITE_INSERT;
}

static WuHistoryWrite
end_row (WuHistorySession *session, WuOutcome outcome, const WuHistorySnapshot *snapshot)
{
  if (!session->active)
    return WU_HISTORY_WRITE_NONE;
  fill_row (session, snapshot);
  session->row.outcome = outcome;
  session->active = FALSE;
  return WU_HISTORY_WRITE_UPDATE;
}

gboolean
wu_history_session_begins (const WuHistorySession *session, WuState old_state,
                           WuState new_state)
{
  return new_state == WU_STATE_WARMING_UP && (old_state != WU_STATE_PAUSED || !session->active);
}

WuHistoryWrite
wu_history_session_transition (WuHistorySession *session, WuState old_state, WuState new_state,
                               const WuHistorySnapshot *snapshot)
{
  switch (new_state)
    {
    case WU_STATE_WARMING_UP:
      if (wu_history_session_begins (session, old_state, new_state))
        return begin_row (session, snapshot);
      G_GNUC_FALLTHROUGH;
    case WU_STATE_PAUSED:
      if (!session->active)
        return WU_HISTORY_WRITE_NONE;
      fill_row (session, snapshot);
      return WU_HISTORY_WRITE_UPDATE;
    case WU_STATE_COMPLETE:
      return end_row (session, WU_OUTCOME_COMPLETE, snapshot);
    case WU_STATE_CANCELLED:
      return end_row (session, WU_OUTCOME_CANCELLED, snapshot);
    case WU_STATE_IDLE:
    default:
      return WU_HISTORY_WRITE_NONE;
    }
}

WuHistoryWrite
wu_history_session_progress (WuHistorySession *session, const WuHistorySnapshot *snapshot)
{
  if (!session->active
      || floor (snapshot->summary.duration_s / WU_HISTORY_PROGRESS_STEP_S) <= session->written_step)
    return WU_HISTORY_WRITE_NONE;
  fill_row (session, snapshot);
  return WU_HISTORY_WRITE_UPDATE;
}

WuHistoryWrite
wu_history_session_shutdown (WuHistorySession *session, const WuHistorySnapshot *snapshot)
{
  return end_row (session, WU_OUTCOME_INTERRUPTED, snapshot);
}

void
wu_history_session_routine_begun (WuHistorySession *session)
{
  /* Sessions come one after the other: each Begin says whether the next outcome follows
   * the last warm-up's completion. */
  session->routine_follows = session->have_row && session->row.outcome == WU_OUTCOME_COMPLETE;
}

static const char *
routine_outcome_refused (const WuHistorySession *session, const char *routine_id)
{
  if (!session->have_row)
    return "no warm-up since warmupd started";
  if (session->row.outcome != WU_OUTCOME_COMPLETE)
    return session->active ? "a warm-up is running" : "the last warm-up did not complete";
  if (session->routine_recorded)
    return "the last warm-up's floor routine is recorded already";
  if (!session->routine_follows)
    return "the session began before the last warm-up completed";
  if (g_strcmp0 (session->row.routine, routine_id) != 0)
    return "the last warm-up announced another routine";
  return NULL;
}

WuHistoryWrite
wu_history_session_routine_outcome (WuHistorySession *session, const char *routine_id,
                                    int rounds, const char *assessment, const char **why_not)
{
  const char *refused = routine_outcome_refused (session, routine_id);

  session->routine_follows = FALSE;   /* this session is over */
  if (why_not != NULL)
    *why_not = refused;
  if (refused != NULL)
    return WU_HISTORY_WRITE_NONE;
  session->routine_recorded = TRUE;
  session->row.rounds = rounds;
  g_free (session->row.assessment);
  session->row.assessment = g_strdup (assessment);
  return WU_HISTORY_WRITE_UPDATE;
}

/* --- the SQLite store -------------------------------------------------------------------- */

/* Which file a path named: a file deleted or replaced under an open connection is noticed
 * by comparing these. */
typedef struct {
  gboolean known;
  dev_t dev;
  ino_t ino;
} FileId;

struct WuHistory {
  sqlite3 *db;
  char *path;
  char *display_path;          /* PATH as UTF-8, for messages: they reach D-Bus (HistoryError) */
  char *wal_path;              /* PATH-wal */
  char *shm_path;              /* PATH-shm */
  FileId file;                 /* PATH when it was opened */
  FileId wal;                  /* PATH-wal then: the WAL this connection writes */
  FileId shm;                  /* PATH-shm then: its index */
  guint recovered;
};

static FileId
file_id (const char *path)
{
  struct stat st;

  if (stat (path, &st) != 0)
    return (FileId) { .known = FALSE };
  return (FileId) { .known = TRUE, .dev = st.st_dev, .ino = st.st_ino };
}

static gboolean
same_file (FileId a, FileId b)
{
  return a.known && b.known && a.dev == b.dev && a.ino == b.ino;
}

/* Schema migrations: entry N takes user_version N to N + 1. Never edit a shipped entry; add
 * one. Each runs in one transaction with the new user_version. */
static const char *const migrations[] = {
  /* 0 -> 1: the warm-ups. Times are ISO 8601 UTC text; outcome NULL: still running (then
   * end_time is the last update). */
  "CREATE TABLE warmups ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  start_time TEXT NOT NULL,"
  "  end_time TEXT,"
  "  outcome TEXT CHECK (outcome IN ('complete', 'cancelled', 'interrupted')),"
  "  counted_seconds REAL NOT NULL DEFAULT 0,"
  "  pauses INTEGER NOT NULL DEFAULT 0,"
  "  avg_cadence REAL,"
  "  max_cadence REAL,"
  "  avg_power REAL,"
  "  cap REAL,"
  "  recaps INTEGER NOT NULL DEFAULT 0,"
  "  source TEXT,"
  "  routine TEXT"
  ");",
  /* 1 -> 2: what the guided floor routine after the warm-up came to. */
  "ALTER TABLE warmups ADD COLUMN rounds INTEGER;"
  "ALTER TABLE warmups ADD COLUMN assessment TEXT;",
};
G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == WU_HISTORY_SCHEMA_VERSION);

static gboolean
db_fail (WuHistory *history, GError **error, const char *what)
{
  g_set_error (error, WU_ERROR, WU_ERROR_FAILED, "%s: %s: %s", history->display_path, what,
               sqlite3_errmsg (history->db));
  return FALSE;
}

static gboolean
db_exec (WuHistory *history, const char *sql, const char *what, GError **error)
{
  if (sqlite3_exec (history->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_fail (history, error, what);
  return TRUE;
}

/* The first column of the first row of SQL, as text (NULL on failure). */
static char *
db_query_text (WuHistory *history, const char *sql, const char *what, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  char *text = NULL;

  if (sqlite3_prepare_v2 (history->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (history, error, what);
      return NULL;
    }
  if (sqlite3_step (stmt) == SQLITE_ROW)
    text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  else
    db_fail (history, error, what);
  sqlite3_finalize (stmt);
  return text;
}

static gboolean
check_integrity (WuHistory *history, GError **error)
{
  g_autofree char *result = db_query_text (history, "PRAGMA quick_check", "integrity check",
                                           error);

  if (result == NULL)
    return FALSE;
  if (strcmp (result, "ok") != 0)
    {
      g_strdelimit (result, "\n", ' ');   /* one line: it ends up in a log and a property */
      g_set_error (error, WU_ERROR, WU_ERROR_FAILED, "%s: corrupt database: %s", history->display_path,
                   result);
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_up_journal (WuHistory *history, GError **error)
{
  g_autofree char *mode = db_query_text (history, "PRAGMA journal_mode = WAL",
                                         "switching to WAL", error);

  if (mode == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (mode, "wal") != 0)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_FAILED, "%s: cannot use WAL (journal mode %s)",
                   history->display_path, mode);
      return FALSE;
    }
  /* FULL: every commit reaches the disk, so a power cut loses at most the last step. Writes
   * are rare (state changes and every few counted seconds). */
  return db_exec (history, "PRAGMA synchronous = FULL", "setting synchronous", error);
}

/* The schema version, or -1 (ERROR set) when it cannot be read or is one this warmupd does
 * not know: a newer warmupd's file, left untouched (nothing is written to it, not even
 * the journal mode). */
static gint64
known_schema_version (WuHistory *history, GError **error)
{
  g_autofree char *text = db_query_text (history, "PRAGMA user_version", "reading the schema version",
                                         error);
  gint64 version;

  if (text == NULL)
    return -1;
  version = g_ascii_strtoll (text, NULL, 10);
  if (version > WU_HISTORY_SCHEMA_VERSION || version < 0)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_FAILED,
                   "%s: schema version %" G_GINT64_FORMAT " is newer than this warmupd knows (%d); "
                   "left untouched", history->display_path, version, WU_HISTORY_SCHEMA_VERSION);
      return -1;
    }
  return version;
}

static gboolean
migrate (WuHistory *history, GError **error)
{
  gint64 version = known_schema_version (history, error);
  gint64 found;

  if (version < 0)
    return FALSE;
  found = version;
  for (; version < WU_HISTORY_SCHEMA_VERSION; version++)
    {
      g_autofree char *sql = g_strdup_printf ("BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;",
                                              migrations[version], (int) version + 1);

      if (!db_exec (history, sql, "migrating the schema", error))
        {
          sqlite3_exec (history->db, "ROLLBACK", NULL, NULL, NULL);
          return FALSE;
        }
      if (found > 0)
        g_message ("%s: schema version %d -> %d", history->display_path, (int) version, (int) version + 1);
    }
  if (found == 0)
    g_message ("%s: created (schema version %d)", history->display_path, WU_HISTORY_SCHEMA_VERSION);
  return TRUE;
}

/* A row left running by a daemon that was killed (or a machine that lost power) ends as
 * interrupted; its end_time stays the last update it got. */
static gboolean
close_unfinished (WuHistory *history, const gint64 *keep_start_us, guint n_keep, GError **error)
{
  g_autoptr (GString) sql = g_string_new ("UPDATE warmups SET outcome = 'interrupted' "
                                          "WHERE outcome IS NULL");
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  for (guint i = 0; i < n_keep; i++)
    g_string_append (sql, " AND start_time IS NOT ?");
  if (sqlite3_prepare_v2 (history->db, sql->str, -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (history, error, "closing unfinished warm-ups");
  for (guint i = 0; i < n_keep; i++)
    {
      g_autofree char *start = wu_history_format_time (keep_start_us[i]);
      sqlite3_bind_text (stmt, (int) i + 1, start, -1, SQLITE_TRANSIENT);
    }
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  if (ok)
    history->recovered = (guint) sqlite3_changes (history->db);
  else
    db_fail (history, error, "closing unfinished warm-ups");
  sqlite3_finalize (stmt);
  return ok;
}

WuHistory *
wu_history_open (const char *directory, GError **error)
{
  return wu_history_open_keeping (directory, NULL, 0, 2000, error);
}

WuHistory *
wu_history_open_keeping (const char *directory, const gint64 *keep_start_us, guint n_keep,
                         int busy_ms, GError **error)
{
  g_autoptr (WuHistory) history = g_new0 (WuHistory, 1);

  history->path = g_build_filename (directory, WU_HISTORY_FILE_NAME, NULL);
  history->display_path = g_filename_display_name (history->path);
  history->wal_path = g_strconcat (history->path, "-wal", NULL);
  history->shm_path = g_strconcat (history->path, "-shm", NULL);
  if (g_mkdir_with_parents (directory, 0700) != 0)
    {
      int saved = errno;
      g_autofree char *display_directory = g_filename_display_name (directory);

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s",
                   display_directory, g_strerror (saved));
      return NULL;
    }
  if (sqlite3_open_v2 (history->path, &history->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
      != SQLITE_OK)
    {
      db_fail (history, error, "cannot open");
      return NULL;
    }
  sqlite3_extended_result_codes (history->db, 1);
  sqlite3_busy_timeout (history->db, busy_ms);
  if (!check_integrity (history, error) || known_schema_version (history, error) < 0
      || !set_up_journal (history, error) || !migrate (history, error) || !close_unfinished (history, keep_start_us, n_keep, error))
    return NULL;
  /* the WAL is open (and made) from the switch to WAL on, and stays open with the
   * connection */
  history->file = file_id (history->path);
  history->wal = file_id (history->wal_path);
  history->shm = file_id (history->shm_path);
  return g_steal_pointer (&history);
}

gboolean
wu_history_file_changed (WuHistory *history)
{
  return !same_file (history->file, file_id (history->path));
}

/* PATH (PATH-wal, PATH-shm) removed when it is still the file ID. */
static void
remove_if_same (const char *path, FileId id)
{
  if (same_file (id, file_id (path)) && g_unlink (path) != 0)
    g_warning ("%s: %s", path, g_strerror (errno));
}

void
wu_history_free (WuHistory *history)
{
  if (history == NULL)
    return;
  if (history->db != NULL)
    {
      gboolean replaced = wu_history_file_changed (history);

      /* The last connection to close deletes PATH-wal and PATH-shm by name. When PATH-wal
       * is no longer the WAL this connection wrote (the files were deleted, or another
       * database put in their place), they are another database's: keep them. */
      if (history->wal.known && !same_file (history->wal, file_id (history->wal_path)))
        {
          int persist = 1;
          sqlite3_file_control (history->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        }
      sqlite3_close (history->db);
      /* The database was deleted or replaced, and its PATH-wal and PATH-shm are still
       * there: SQLite (3.19 on) neither checkpoints nor deletes them at the close of a
       * database moved away, and another process may still have it open. The database now
       * at PATH (or made there next) would read that log as its own: another database's
       * pages over its own, "malformed". Their names go; whoever has them open keeps them.
       * (A process that opened the new file before this, with the old log at its side, is
       * beyond help: replace the file with warmupd stopped, or restore through SQLite's
       * backup API into the live file, as the README says.) */
      if (replaced)
        {
          remove_if_same (history->wal_path, history->wal);
          remove_if_same (history->shm_path, history->shm);
        }
    }
  g_free (history->path);
  g_free (history->display_path);
  g_free (history->wal_path);
  g_free (history->shm_path);
  g_free (history);
}

const char *
wu_history_get_path (WuHistory *history)
{
  return history->path;
}

void
wu_history_set_busy_timeout (WuHistory *history, int ms)
{
  sqlite3_busy_timeout (history->db, ms);
}

guint
wu_history_get_recovered (WuHistory *history)
{
  return history->recovered;
}

static void
bind_double (sqlite3_stmt *stmt, int index, double value)
{
  if (value >= 0)
    sqlite3_bind_double (stmt, index, value);
  else
    sqlite3_bind_null (stmt, index);
}

static void
bind_text (sqlite3_stmt *stmt, int index, const char *value)
{
  if (value != NULL)
    sqlite3_bind_text (stmt, index, value, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

#define ROW_COLUMNS "start_time, end_time, outcome, counted_seconds, pauses, avg_cadence, " \
  "max_cadence, avg_power, cap, recaps, source, routine, rounds, assessment"

/* Binds ROW_COLUMNS to parameters 1..14. */
static void
bind_row (sqlite3_stmt *stmt, const WuHistoryRow *row)
{
  g_autofree char *start = wu_history_format_time (row->start_us);
  g_autofree char *end = wu_history_format_time (row->end_us);

  bind_text (stmt, 1, start);
  bind_text (stmt, 2, end);
  bind_text (stmt, 3, row->outcome == WU_OUTCOME_RUNNING ? NULL : wu_outcome_to_string (row->outcome));
  sqlite3_bind_double (stmt, 4, row->counted_s);
  sqlite3_bind_int64 (stmt, 5, row->pauses);
  bind_double (stmt, 6, row->avg_cadence);
  bind_double (stmt, 7, row->max_cadence);
  bind_double (stmt, 8, row->avg_power);
  bind_double (stmt, 9, row->cap);
  sqlite3_bind_int64 (stmt, 10, row->recaps);
  bind_text (stmt, 11, row->source);
  bind_text (stmt, 12, row->routine);
  if (row->rounds >= 0)
    sqlite3_bind_int (stmt, 13, row->rounds);
  else
    sqlite3_bind_null (stmt, 13);
  bind_text (stmt, 14, row->assessment);
}

/* The row of ROW's warm-up in the file when it is not at ROW's id: the one begun at the
 * same time and still running there (or ROW's id: its own row, written again). 0: none. */
static gboolean
find_own_row (WuHistory *history, const WuHistoryRow *row, gint64 *id, GError **error)
{
  g_autofree char *start = wu_history_format_time (row->start_us);
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (history->db, "SELECT id FROM warmups WHERE start_time = ?1 "
                          "AND (outcome IS NULL OR id = ?2) ORDER BY id = ?2 DESC, id DESC "
                          "LIMIT 1", -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (history, error, "looking for a warm-up");
  sqlite3_bind_text (stmt, 1, start, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, row->id);
  rc = sqlite3_step (stmt);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    db_fail (history, error, "looking for a warm-up");
  sqlite3_finalize (stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static gboolean
insert_row (WuHistory *history, WuHistoryRow *row, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (history->db, "INSERT INTO warmups (" ROW_COLUMNS ") "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &stmt, NULL)
      != SQLITE_OK)
    return db_fail (history, error, "preparing a write");
  bind_row (stmt, row);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  if (ok)
    row->id = sqlite3_last_insert_rowid (history->db);
  else
    db_fail (history, error, "writing a warm-up");
  sqlite3_finalize (stmt);
  return ok;
}

/* ROW rewritten at ID only when the row there is still its warm-up (begun at the same time):
 * a backup restored into the live file through SQLite's backup API rewrites it in place, so
 * wu_history_file_changed() does not see it, and may hold another warm-up under that id.
 * *UPDATED: whether it was. */
static gboolean
update_row_at (WuHistory *history, const WuHistoryRow *row, gint64 id, gboolean *updated,
               GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (history->db, "UPDATE warmups SET (" ROW_COLUMNS ") = "
                          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                          "WHERE id = ?15 AND start_time = ?1", -1, &stmt, NULL) != SQLITE_OK)
    return db_fail (history, error, "preparing a write");
  bind_row (stmt, row);
  sqlite3_bind_int64 (stmt, 15, id);
  ok = sqlite3_step (stmt) == SQLITE_DONE;
  if (ok)
    *updated = sqlite3_changes (history->db) == 1;
  else
    db_fail (history, error, "writing a warm-up");
  sqlite3_finalize (stmt);
  return ok;
}

/* ROW rewritten where its warm-up is: at its id, else at its own row found by its start
 * (the file replaced or restored: under another id there). *UPDATED FALSE: nowhere. */
static gboolean
update_own_row (WuHistory *history, WuHistoryRow *row, gboolean *updated, GError **error)
{
  gint64 id = row->id;

  *updated = FALSE;
  if (id != 0 && !update_row_at (history, row, id, updated, error))
    return FALSE;
  if (*updated)
    return TRUE;
  if (!find_own_row (history, row, &id, error))
    return FALSE;
  if (id == 0 || id == row->id)
    return TRUE;   /* none (at its id it would have been updated) */
  if (!update_row_at (history, row, id, updated, error))
    return FALSE;
  if (*updated)
    row->id = id;
  return TRUE;
}

gboolean
wu_history_write (WuHistory *history, WuHistoryWrite write, WuHistoryRow *row, GError **error)
{
  gint64 old_id = row->id;
  gboolean updated = FALSE;

  if (write == WU_HISTORY_WRITE_NONE)
    return TRUE;
  if (write != WU_HISTORY_WRITE_INSERT && !update_own_row (history, row, &updated, error))
    return FALSE;
  if (updated)
    return TRUE;
  if (!insert_row (history, row, error))
    return FALSE;
  /* UPDATE_OR_INSERT is for another file, where a new row is expected */
  if (write == WU_HISTORY_WRITE_UPDATE)
    g_message ("%s: warm-up %" G_GINT64_FORMAT " is no longer in the database (deleted, or a "
               "backup restored over it); written again as warm-up %" G_GINT64_FORMAT,
               history->display_path, old_id, row->id);
  return TRUE;
}

static double
column_double (sqlite3_stmt *stmt, int index)
{
  return sqlite3_column_type (stmt, index) == SQLITE_NULL ? -1 : sqlite3_column_double (stmt, index);
}

/* The text as UTF-8 (NULL stays NULL): a hand-edited or damaged file may hold other bytes,
 * which would reach g_variant_new_string() (a CRITICAL, and the field dropped from
 * GetHistory). They become U+FFFD. */
static char *
column_text (sqlite3_stmt *stmt, int index)
{
  const char *text = (const char *) sqlite3_column_text (stmt, index);

  if (text == NULL)
    return NULL;
  return g_utf8_make_valid (text, sqlite3_column_bytes (stmt, index));
}

static WuHistoryRow *
read_row (sqlite3_stmt *stmt)
{
  WuHistoryRow *row = g_new0 (WuHistoryRow, 1);

  wu_history_row_init (row);
  row->id = sqlite3_column_int64 (stmt, 0);
  row->start_us = parse_time ((const char *) sqlite3_column_text (stmt, 1));
  row->end_us = parse_time ((const char *) sqlite3_column_text (stmt, 2));
  row->outcome = outcome_from_string ((const char *) sqlite3_column_text (stmt, 3));
  row->counted_s = MAX (sqlite3_column_double (stmt, 4), 0);
  row->pauses = (guint) CLAMP (sqlite3_column_int64 (stmt, 5), 0, G_MAXUINT32);
  row->avg_cadence = column_double (stmt, 6);
  row->max_cadence = column_double (stmt, 7);
  row->avg_power = column_double (stmt, 8);
  row->cap = column_double (stmt, 9);
  row->recaps = (guint) CLAMP (sqlite3_column_int64 (stmt, 10), 0, G_MAXUINT32);
  row->source = column_text (stmt, 11);
  row->routine = column_text (stmt, 12);
  row->rounds = sqlite3_column_type (stmt, 13) == SQLITE_NULL
                  ? -1 : (int) CLAMP (sqlite3_column_int64 (stmt, 13), 0, G_MAXINT);
  row->assessment = column_text (stmt, 14);
  return row;
}

gboolean
wu_history_count (WuHistory *history, gint64 *count, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  /* count(*): no row is read into memory, whatever the size of the history */
  if (sqlite3_prepare_v2 (history->db, "SELECT count(*) FROM warmups", -1, &stmt, NULL)
      != SQLITE_OK)
    return db_fail (history, error, "counting the warm-ups");
  ok = sqlite3_step (stmt) == SQLITE_ROW;
  if (ok)
    *count = sqlite3_column_int64 (stmt, 0);
  else
    db_fail (history, error, "counting the warm-ups");
  sqlite3_finalize (stmt);
  return ok;
}

GPtrArray *
wu_history_list (WuHistory *history, guint limit, GError **error)
{
  return wu_history_list_before (history, 0, limit, error);
}

GPtrArray *
wu_history_list_before (WuHistory *history, gint64 before_id, guint limit, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) wu_history_row_free);
  sqlite3_stmt *stmt = NULL;
  int rc;

  /* id < ?1 seeks by rowid: a page of old warm-ups costs no more than the newest */
  if (before_id <= 0)
    before_id = G_MAXINT64;
  if (sqlite3_prepare_v2 (history->db,
                          "SELECT id, " ROW_COLUMNS " FROM warmups WHERE id < ?1 "
                          "ORDER BY id DESC LIMIT ?2",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (history, error, "reading the history");
      return NULL;
    }
  sqlite3_bind_int64 (stmt, 1, before_id);
  sqlite3_bind_int64 (stmt, 2, limit == 0 ? -1 : (sqlite3_int64) limit);  /* -1: no limit */
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (rows, read_row (stmt));
  if (rc != SQLITE_DONE)
    db_fail (history, error, "reading the history");
  sqlite3_finalize (stmt);
  return rc == SQLITE_DONE ? g_steal_pointer (&rows) : NULL;
}
