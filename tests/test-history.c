/* The session history: the pure session tracker (table-driven) and the SQLite store (in
 * temp directories): schema creation, migration from version 1, a row across a simulated
 * session, an unfinished row closed as interrupted, a backup restored into the live file,
 * text that is not UTF-8, a corrupt file, a read-only directory. */
#include "wu-history.h"
#include "wu-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#define T0 G_GINT64_CONSTANT (1714548612000000)   /* 2024-05-01T07:30:12Z */
#define S(seconds) ((gint64) ((seconds) * (double) G_USEC_PER_SEC))   /* no int overflow */

/* --- the session tracker ----------------------------------------------------------------- */

typedef enum {
  STEP_END, STEP_TRANSITION, STEP_PROGRESS, STEP_SHUTDOWN,
  STEP_BEGUN,      /* a guided floor routine session begins */
  STEP_ROUTINE,    /* it ends: ROUTINE, ROUNDS; refused WHY_NOT ("..." in the reason) */
} StepKind;

typedef struct {
  StepKind kind;
  WuState old_state, new_state;   /* STEP_TRANSITION */
  double wall_s;                  /* seconds after T0 */
  double counted_s;
  double cap;
  WuHistoryWrite expect_write;
  WuOutcome expect_outcome;
  gboolean expect_active;
  const char *routine;            /* STEP_ROUTINE: the session's routine */
  int rounds;                     /* STEP_ROUTINE: its rounds */
  const char *why_not;            /* STEP_ROUTINE: NULL, written; else part of the reason */
} Step;

typedef struct {
  const char *name;
  Step steps[12];
} SessionCase;

#define TR(o, n, wall, counted, cap, w, out, act) \
  { STEP_TRANSITION, WU_STATE_##o, WU_STATE_##n, wall, counted, cap, WU_HISTORY_WRITE_##w, \
    WU_OUTCOME_##out, act, NULL, 0, NULL }
#define PR(wall, counted, w, out, act) \
  { STEP_PROGRESS, 0, 0, wall, counted, 30, WU_HISTORY_WRITE_##w, WU_OUTCOME_##out, act, \
    NULL, 0, NULL }
#define SD(wall, counted, cap, w, out) \
  { STEP_SHUTDOWN, 0, 0, wall, counted, cap, WU_HISTORY_WRITE_##w, WU_OUTCOME_##out, FALSE, \
    NULL, 0, NULL }
#define BG(wall, out, act) \
  { STEP_BEGUN, 0, 0, wall, 0, -1, WU_HISTORY_WRITE_NONE, WU_OUTCOME_##out, act, NULL, 0, NULL }
/* a session of ROUTINE ends after ROUNDS rounds: written (UPDATE), or not (NONE, WHY_NOT) */
#define RO(wall, routine, rounds, w, out, act, why_not) \
  { STEP_ROUTINE, 0, 0, wall, 0, -1, WU_HISTORY_WRITE_##w, WU_OUTCOME_##out, act, routine, \
    rounds, why_not }
#define AFTER_BIKE "after-bike-warmup"

static const SessionCase session_cases[] = {
  { "complete", {
      TR (IDLE, WARMING_UP, 0, 0, 30, INSERT, RUNNING, TRUE),
      PR (5, 5, NONE, RUNNING, TRUE),              /* no write before the first step of 10 s */
      PR (10, 10, UPDATE, RUNNING, TRUE),
      PR (11, 10.5, NONE, RUNNING, TRUE),
      PR (25, 25, UPDATE, RUNNING, TRUE),          /* 20 s crossed */
      TR (WARMING_UP, PAUSED, 30, 28, 30, UPDATE, RUNNING, TRUE),
      TR (PAUSED, WARMING_UP, 60, 28, 30, UPDATE, RUNNING, TRUE),
      TR (WARMING_UP, COMPLETE, 700, 600, -1, UPDATE, COMPLETE, FALSE),
      PR (701, 600, NONE, COMPLETE, FALSE),         /* ended: no more progress writes */
      TR (COMPLETE, IDLE, 1000, 600, -1, NONE, COMPLETE, FALSE),
      BG (1100, COMPLETE, FALSE),
      RO (1200, AFTER_BIKE, 2, UPDATE, COMPLETE, FALSE, NULL),
    } },
  { "cancelled while paused", {
      TR (IDLE, WARMING_UP, 0, 0, 30, INSERT, RUNNING, TRUE),
      TR (WARMING_UP, PAUSED, 100, 95, 30, UPDATE, RUNNING, TRUE),
      PR (200, 95, NONE, RUNNING, TRUE),
      TR (PAUSED, CANCELLED, 400, 95, -1, UPDATE, CANCELLED, FALSE),
      /* a cancelled warm-up announced no floor routine: nothing followed it */
      BG (450, CANCELLED, FALSE),
      RO (500, AFTER_BIKE, 2, NONE, CANCELLED, FALSE, "did not complete"),
    } },
  { "shutdown mid warm-up", {
      TR (IDLE, WARMING_UP, 0, 3, 30, INSERT, RUNNING, TRUE),
      PR (40, 40, UPDATE, RUNNING, TRUE),
      SD (42, 42, 30, UPDATE, INTERRUPTED),
      SD (43, 42, 30, NONE, INTERRUPTED),
      BG (44, INTERRUPTED, FALSE),
      RO (45, AFTER_BIKE, 1, NONE, INTERRUPTED, FALSE, "did not complete"),
    } },
  { "nothing before a warm-up", {
      PR (10, 0, NONE, COMPLETE, FALSE),
      BG (15, RUNNING, FALSE),
      RO (20, AFTER_BIKE, 2, NONE, RUNNING, FALSE, "no warm-up since"),
      SD (30, 0, -1, NONE, RUNNING),
    } },
  { "a new warm-up after a complete one is a new row", {
      TR (IDLE, WARMING_UP, 0, 0, 30, INSERT, RUNNING, TRUE),
      TR (WARMING_UP, COMPLETE, 600, 600, -1, UPDATE, COMPLETE, FALSE),
      BG (650, COMPLETE, FALSE),
      TR (COMPLETE, WARMING_UP, 700, 0, 30, INSERT, RUNNING, TRUE),
      /* the routine outcome belongs to an ended warm-up, not the running one */
      RO (710, AFTER_BIKE, 2, NONE, RUNNING, TRUE, "a warm-up is running"),
      /* nor to the new one once it completes: the session began before */
      TR (WARMING_UP, COMPLETE, 1300, 600, -1, UPDATE, COMPLETE, FALSE),
      RO (1310, AFTER_BIKE, 2, NONE, COMPLETE, FALSE, "began before"),
    } },
  { "a session begun during the warm-up", {
      BG (0, RUNNING, FALSE),
      TR (IDLE, WARMING_UP, 10, 0, 30, INSERT, RUNNING, TRUE),
      RO (20, AFTER_BIKE, 1, NONE, RUNNING, TRUE, "a warm-up is running"),
      BG (30, RUNNING, TRUE),
      TR (WARMING_UP, COMPLETE, 700, 600, -1, UPDATE, COMPLETE, FALSE),
      RO (710, AFTER_BIKE, 1, NONE, COMPLETE, FALSE, "began before"),
      /* the next session is the one that follows */
      BG (720, COMPLETE, FALSE),
      RO (900, AFTER_BIKE, 2, UPDATE, COMPLETE, FALSE, NULL),
    } },
  { "another routine than the one announced", {
      TR (IDLE, WARMING_UP, 0, 0, 30, INSERT, RUNNING, TRUE),
      TR (WARMING_UP, COMPLETE, 600, 600, -1, UPDATE, COMPLETE, FALSE),
      BG (610, COMPLETE, FALSE),
      RO (700, "key-exercises", 1, NONE, COMPLETE, FALSE, "announced another routine"),
      /* then the announced one: the first session of it is recorded */
      BG (710, COMPLETE, FALSE),
      RO (900, AFTER_BIKE, 2, UPDATE, COMPLETE, FALSE, NULL),
    } },
  { "a later session does not overwrite the first", {
      TR (IDLE, WARMING_UP, 0, 0, 30, INSERT, RUNNING, TRUE),
      TR (WARMING_UP, COMPLETE, 600, 600, -1, UPDATE, COMPLETE, FALSE),
      BG (610, COMPLETE, FALSE),
      RO (900, AFTER_BIKE, 1, UPDATE, COMPLETE, FALSE, NULL),
      BG (86400, COMPLETE, FALSE),
      RO (86700, AFTER_BIKE, 2, NONE, COMPLETE, FALSE, "recorded already"),
    } },
};

static void
fill_snapshot (WuHistorySnapshot *snapshot, const Step *step)
{
  memset (snapshot, 0, sizeof *snapshot);
  snapshot->wall_us = T0 + S (step->wall_s);
  snapshot->summary.duration_s = step->counted_s;
  snapshot->summary.avg_cadence = 70;
  snapshot->summary.max_cadence = 80;
  snapshot->summary.avg_power = -1;
  snapshot->cap = step->cap;
  snapshot->source = "replay:test.trace";
  snapshot->routine = "after-bike-warmup";
}

static WuHistoryWrite
apply_step (WuHistorySession *session, const Step *step, const char **why_not)
{
  WuHistorySnapshot snapshot;

  fill_snapshot (&snapshot, step);
  switch (step->kind)
    {
    case STEP_TRANSITION:
      return wu_history_session_transition (session, step->old_state, step->new_state, &snapshot);
    case STEP_PROGRESS:
      return wu_history_session_progress (session, &snapshot);
    case STEP_SHUTDOWN:
      return wu_history_session_shutdown (session, &snapshot);
    case STEP_BEGUN:
      wu_history_session_routine_begun (session);
      return WU_HISTORY_WRITE_NONE;
    case STEP_ROUTINE:
      return wu_history_session_routine_outcome (session, step->routine, step->rounds,
                                                 step->rounds == 1 ? "same" : "better", why_not);
    default:
      g_assert_not_reached ();
    }
}

static void
test_session (gconstpointer data)
{
  const SessionCase *c = data;
  WuHistorySession session;

  wu_history_session_init (&session);
  for (guint i = 0; i < G_N_ELEMENTS (c->steps) && c->steps[i].kind != STEP_END; i++)
    {
      const Step *step = &c->steps[i];
      int rounds_before = session.row.rounds;
      const char *why_not = "(not set)";
      WuHistoryWrite write = apply_step (&session, step, &why_not);

      g_test_message ("%s: step %u", c->name, i);
      g_assert_cmpint (write, ==, step->expect_write);
      g_assert_cmpint (session.active, ==, step->expect_active);
      if (session.have_row)
        g_assert_cmpint (session.row.outcome, ==, step->expect_outcome);
      if (write == WU_HISTORY_WRITE_INSERT)
        {
          g_assert_cmpint (session.row.start_us, ==, T0 + S (step->wall_s));
          session.row.id = i + 1;    /* as the store would */
        }
      if (write != WU_HISTORY_WRITE_NONE && step->kind == STEP_TRANSITION)
        {
          g_assert_cmpfloat (session.row.counted_s, ==, step->counted_s);
          g_assert_cmpint (session.row.end_us, ==, T0 + S (step->wall_s));
          /* the cap applied stays once the bike is released */
          g_assert_cmpfloat (session.row.cap, ==, 30);
        }
      if (step->kind == STEP_ROUTINE && write == WU_HISTORY_WRITE_UPDATE)
        {
          g_assert_null (why_not);
          g_assert_cmpint (session.row.rounds, ==, step->rounds);
          g_assert_cmpstr (session.row.assessment, ==, step->rounds == 1 ? "same" : "better");
        }
      if (step->kind == STEP_ROUTINE && write == WU_HISTORY_WRITE_NONE)
        {
          g_assert_nonnull (why_not);
          g_assert_nonnull (strstr (why_not, step->why_not));
          g_assert_cmpint (session.row.rounds, ==, rounds_before);   /* nothing overwritten */
        }
    }
  wu_history_session_clear (&session);
}

/* --- the store ------------------------------------------------------------------------- */

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("warmupd-history-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, WU_HISTORY_FILE_NAME, NULL);
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  g_chmod (dir, 0700);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* Run SQL on the database file directly (another connection), returning the first column of
 * the first row as text ("" for none). */
static char *
sql_text (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *text;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0) != NULL)
    text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  else
    text = g_strdup ("");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return text;
}

static void
sql_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

#define assert_sql(f, sql, expected) G_STMT_START { \
    g_autofree char *got_ = sql_text ((f)->path, sql); \
    g_assert_cmpstr (got_, ==, expected); \
  } G_STMT_END

static void
test_schema_created (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  g_autoptr (GPtrArray) rows = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (history);
  g_assert_cmpstr (wu_history_get_path (history), ==, f->path);
  g_assert_cmpuint (wu_history_get_recovered (history), ==, 0);
  assert_sql (f, "PRAGMA user_version", "2");
  assert_sql (f, "PRAGMA journal_mode", "wal");
  assert_sql (f, "SELECT group_concat(name, ',') FROM pragma_table_info('warmups')",
              "id,start_time,end_time,outcome,counted_seconds,pauses,avg_cadence,max_cadence,"
              "avg_power,cap,recaps,source,routine,rounds,assessment");
  rows = wu_history_list (history, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 0);
}

/* The schema as version 1 shipped it (before the floor routine's rounds and assessment). */
static const char schema_v1[] =
  "CREATE TABLE warmups (id INTEGER PRIMARY KEY AUTOINCREMENT, start_time TEXT NOT NULL,"
  " end_time TEXT, outcome TEXT CHECK (outcome IN ('complete', 'cancelled', 'interrupted')),"
  " counted_seconds REAL NOT NULL DEFAULT 0, pauses INTEGER NOT NULL DEFAULT 0,"
  " avg_cadence REAL, max_cadence REAL, avg_power REAL, cap REAL,"
  " recaps INTEGER NOT NULL DEFAULT 0, source TEXT, routine TEXT);"
  "INSERT INTO warmups (start_time, end_time, outcome, counted_seconds, pauses, avg_cadence,"
  " max_cadence, cap, recaps, source, routine) VALUES ('2024-04-30T06:00:00Z',"
  " '2024-04-30T06:11:00Z', 'complete', 600, 1, 72.5, 88, 30, 2, 'replay:old.trace',"
  " 'after-bike-warmup');"
  "PRAGMA user_version = 1;";

static void
test_migration_from_v1 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  WuHistoryRow *row;

  sql_exec (f->path, schema_v1);
  history = wu_history_open (f->dir, &error);
  g_assert_no_error (error);
  assert_sql (f, "PRAGMA user_version", "2");
  rows = wu_history_list (history, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpint (row->outcome, ==, WU_OUTCOME_COMPLETE);
  g_assert_cmpfloat (row->counted_s, ==, 600);
  g_assert_cmpuint (row->pauses, ==, 1);
  g_assert_cmpfloat (row->avg_cadence, ==, 72.5);
  g_assert_cmpfloat (row->avg_power, ==, -1);   /* NULL */
  g_assert_cmpfloat (row->cap, ==, 30);
  g_assert_cmpuint (row->recaps, ==, 2);
  g_assert_cmpstr (row->source, ==, "replay:old.trace");
  g_assert_cmpint (row->rounds, ==, -1);        /* the new columns: NULL */
  g_assert_null (row->assessment);
  g_assert_cmpint (row->start_us, ==, G_GINT64_CONSTANT (1714456800) * G_USEC_PER_SEC);
}

static void
test_newer_schema_left_alone (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = NULL;

  g_autofree char *before = NULL, *after = NULL;
  gsize before_len, after_len;

  sql_exec (f->path, "CREATE TABLE future (x); PRAGMA user_version = 7;");
  g_assert_true (g_file_get_contents (f->path, &before, &before_len, NULL));
  history = wu_history_open (f->dir, &error);
  g_assert_null (history);
  g_assert_error (error, WU_ERROR, WU_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, f->path));
  g_assert_nonnull (strstr (error->message, "schema version 7"));
  /* not a byte changed: not switched to WAL either (a newer warmupd's file is its own) */
  g_assert_true (g_file_get_contents (f->path, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);
  assert_sql (f, "PRAGMA journal_mode", "delete");
  assert_sql (f, "PRAGMA user_version", "7");
}

/* Drive a session through the tracker into the store, as the daemon does. */
static void
write_step (WuHistory *history, WuHistorySession *session, WuHistoryWrite write)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (wu_history_write (history, write, &session->row, &error));
  g_assert_no_error (error);
}

static void
snapshot_at (WuHistorySnapshot *snapshot, double wall_s, double counted_s, double cap)
{
  memset (snapshot, 0, sizeof *snapshot);
  snapshot->wall_us = T0 + S (wall_s);
  snapshot->summary = (WuSummary) { .duration_s = counted_s, .avg_cadence = 75,
                                    .max_cadence = 82, .avg_power = 120, .max_power = 150,
                                    .pauses = counted_s > 100 ? 1 : 0, .recaps = 3 };
  snapshot->cap = cap;
  snapshot->source = "replay:ride.trace";
  snapshot->routine = "after-bike-warmup";
}

/* A new session whose warm-up begins at time 0 with a cap of 30, written as the daemon
 * does. */
static void
begin_warmup (WuHistory *history, WuHistorySession *session, WuHistorySnapshot *snap)
{
  wu_history_session_init (session);
  snapshot_at (snap, 0, 0, 30);
  write_step (history, session, wu_history_session_transition (session, WU_STATE_IDLE,
                                                               WU_STATE_WARMING_UP, snap));
}

static void
test_simulated_session (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GVariant) dict = NULL;
  WuHistorySession session;
  WuHistorySnapshot snap;
  WuHistoryRow *row;
  double counted;
  gint64 count = 0;

  g_assert_no_error (error);
  begin_warmup (history, &session, &snap);
  g_assert_cmpint (session.row.id, ==, 1);
  assert_sql (f, "SELECT outcome IS NULL FROM warmups WHERE id = 1", "1");

  /* a sample every second: a write only every 10 counted seconds */
  for (counted = 1; counted <= 95; counted++)
    {
      snapshot_at (&snap, counted, counted, 30);
      write_step (history, &session, wu_history_session_progress (&session, &snap));
    }
  assert_sql (f, "SELECT counted_seconds FROM warmups WHERE id = 1", "90.0");
  assert_sql (f, "SELECT end_time FROM warmups WHERE id = 1", "2024-05-01T07:31:42Z");

  snapshot_at (&snap, 130, 120, 30);
  write_step (history, &session, wu_history_session_transition (&session, WU_STATE_WARMING_UP,
                                                                WU_STATE_PAUSED, &snap));
  snapshot_at (&snap, 700, 600, -1);   /* released at the end: the cap applied stays */
  write_step (history, &session, wu_history_session_transition (&session, WU_STATE_PAUSED,
                                                                WU_STATE_COMPLETE, &snap));
  wu_history_session_routine_begun (&session);
  write_step (history, &session, wu_history_session_routine_outcome (&session, "after-bike-warmup",
                                                                     2, "better", NULL));

  rows = wu_history_list (history, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpint (row->id, ==, 1);
  g_assert_cmpint (row->outcome, ==, WU_OUTCOME_COMPLETE);
  g_assert_cmpint (row->start_us, ==, T0);
  g_assert_cmpint (row->end_us, ==, T0 + S (700));
  g_assert_cmpfloat (row->counted_s, ==, 600);
  g_assert_cmpuint (row->pauses, ==, 1);
  g_assert_cmpfloat (row->avg_cadence, ==, 75);
  g_assert_cmpfloat (row->max_cadence, ==, 82);
  g_assert_cmpfloat (row->avg_power, ==, 120);
  g_assert_cmpfloat (row->cap, ==, 30);
  g_assert_cmpuint (row->recaps, ==, 3);
  g_assert_cmpstr (row->source, ==, "replay:ride.trace");
  g_assert_cmpstr (row->routine, ==, "after-bike-warmup");
  g_assert_cmpint (row->rounds, ==, 2);
  g_assert_cmpstr (row->assessment, ==, "better");

  dict = g_variant_ref_sink (wu_history_row_to_variant (row));
  {
    g_autofree char *text = g_variant_print (dict, TRUE);
    g_assert_cmpstr (text, ==,
                     "{'id': <int64 1>, 'start_time': <'2024-05-01T07:30:12Z'>, "
                     "'end_time': <'2024-05-01T07:41:52Z'>, 'outcome': <'complete'>, "
                     "'counted_seconds': <600.0>, 'pauses': <uint32 1>, 'avg_cadence': <75.0>, "
                     "'max_cadence': <82.0>, 'avg_power': <120.0>, 'cap': <30.0>, "
                     "'recaps': <uint32 3>, 'source': <'replay:ride.trace'>, "
                     "'routine': <'after-bike-warmup'>, 'rounds': <uint32 2>, "
                     "'assessment': <'better'>}");
  }

  /* a second warm-up: newest first, and the limit */
  snapshot_at (&snap, 2000, 0, 30);
  write_step (history, &session, wu_history_session_transition (&session, WU_STATE_IDLE,
                                                                WU_STATE_WARMING_UP, &snap));
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = wu_history_list (history, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpint (row->id, ==, 2);
  g_assert_cmpint (row->outcome, ==, WU_OUTCOME_RUNNING);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = wu_history_list (history, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (((WuHistoryRow *) g_ptr_array_index (rows, 1))->id, ==, 1);
  /* counted, not read */
  g_assert_true (wu_history_count (history, &count, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count, ==, 2);
  wu_history_session_clear (&session);
}

static void
test_unfinished_closed_as_interrupted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) reopened = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  WuHistory *history = wu_history_open (f->dir, &error);
  WuHistorySession session;
  WuHistorySnapshot snap;
  WuHistoryRow *row;

  g_assert_no_error (error);
  begin_warmup (history, &session, &snap);
  snapshot_at (&snap, 250, 243, 30);
  write_step (history, &session, wu_history_session_progress (&session, &snap));
  /* killed here: no shutdown, the connection just goes away */
  wu_history_free (history);
  wu_history_session_clear (&session);

  reopened = wu_history_open (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (wu_history_get_recovered (reopened), ==, 1);
  rows = wu_history_list (reopened, 0, &error);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpint (row->outcome, ==, WU_OUTCOME_INTERRUPTED);
  g_assert_cmpfloat (row->counted_s, ==, 243);
  g_assert_cmpint (row->end_us, ==, T0 + S (250));   /* the last update it got */
}

/* Opened again by the daemon with its own warm-up still in memory: that row is left for it
 * to write; any other unfinished one is closed as interrupted. */
static void
test_open_keeping_its_own_row (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) reopened = NULL;
  WuHistory *history = wu_history_open (f->dir, &error);
  WuHistorySession session;
  WuHistorySnapshot snap;

  g_assert_no_error (error);
  wu_history_session_init (&session);
  for (int i = 0; i < 2; i++)
    {
      snapshot_at (&snap, i * 1000, 0, 30);
      write_step (history, &session, wu_history_session_transition (&session, WU_STATE_IDLE,
                                                                    WU_STATE_WARMING_UP, &snap));
    }
  g_assert_cmpint (session.row.id, ==, 2);
  wu_history_free (history);

  reopened = wu_history_open_keeping (f->dir, &session.row.start_us, 1, 2000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (wu_history_get_recovered (reopened), ==, 1);
  assert_sql (f, "SELECT group_concat(id || ':' || coalesce(outcome, 'running'), ',') FROM warmups",
              "1:interrupted,2:running");
  wu_history_session_clear (&session);
}

/* UPDATE_OR_INSERT, for a row whose file was replaced: its own row (same id and start) is
 * updated; a row of another warm-up under that id is left alone and a new one inserted. */
static void
test_update_or_insert (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  WuHistorySession session;
  WuHistorySnapshot snap;
  gint64 count = 0;

  g_assert_no_error (error);
  begin_warmup (history, &session, &snap);
  snapshot_at (&snap, 100, 90, 30);
  write_step (history, &session, wu_history_session_transition (&session, WU_STATE_WARMING_UP,
                                                                WU_STATE_CANCELLED, &snap));
  session.row.counted_s = 95;
  write_step (history, &session, WU_HISTORY_WRITE_UPDATE_OR_INSERT);
  g_assert_cmpint (session.row.id, ==, 1);
  assert_sql (f, "SELECT counted_seconds || ' ' || outcome FROM warmups WHERE id = 1",
              "95.0 cancelled");
  /* the same id, another start: not this row */
  session.row.start_us += S (3600.0);
  write_step (history, &session, WU_HISTORY_WRITE_UPDATE_OR_INSERT);
  g_assert_cmpint (session.row.id, ==, 2);
  g_assert_true (wu_history_count (history, &count, &error));
  g_assert_cmpint (count, ==, 2);
  /* no id yet: inserted */
  session.row.id = 0;
  write_step (history, &session, WU_HISTORY_WRITE_UPDATE_OR_INSERT);
  g_assert_cmpint (session.row.id, ==, 3);
  wu_history_session_clear (&session);
}

/* The row deleted under the daemon, in the same file (DELETE in sqlite3): the UPDATE
 * that finds no row writes it again as a new row (it failed "no longer in the database"
 * at every write, for good). */
static void
test_update_of_a_deleted_row (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  WuHistorySession session;
  WuHistorySnapshot snap;

  g_assert_no_error (error);
  begin_warmup (history, &session, &snap);
  g_assert_cmpint (session.row.id, ==, 1);
  sql_exec (f->path, "DELETE FROM warmups");
  snapshot_at (&snap, 100, 90, 30);
  write_step (history, &session, wu_history_session_transition (&session, WU_STATE_WARMING_UP,
                                                                WU_STATE_CANCELLED, &snap));
  g_assert_cmpint (session.row.id, ==, 2);
  assert_sql (f, "SELECT group_concat(id || ' ' || outcome || ' ' || counted_seconds) "
              "FROM warmups", "2 cancelled 90.0");
  wu_history_session_clear (&session);
}

/* A backup restored into the live file through SQLite's backup API (sqlite3 history.db
 * ".restore backup.db", as the README advises): the file is rewritten in place, so it does
 * not look replaced, and the backup's warm-ups 1-3 now sit under the ids warmupd had. */
static void
restore_backup_in_place (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *backup_dir = g_build_filename (f->dir, "backup", NULL);
  g_autofree char *backup_path = g_build_filename (backup_dir, WU_HISTORY_FILE_NAME, NULL);
  WuHistory *backup = wu_history_open (backup_dir, &error);
  sqlite3 *live = NULL, *source = NULL;
  sqlite3_backup *copy;

  g_assert_no_error (error);
  for (int i = 1; i <= 3; i++)
    {
      WuHistoryRow old;

      wu_history_row_init (&old);
      old.start_us = T0 - S (i * 86400);
      old.end_us = old.start_us + S (600);
      old.outcome = WU_OUTCOME_COMPLETE;
      old.counted_s = 600;
      old.source = g_strdup ("backup");
      g_assert_true (wu_history_write (backup, WU_HISTORY_WRITE_INSERT, &old, &error));
      g_assert_no_error (error);
      wu_history_row_clear (&old);
    }
  wu_history_free (backup);
  g_assert_cmpint (sqlite3_open (f->path, &live), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_open (backup_path, &source), ==, SQLITE_OK);
  copy = sqlite3_backup_init (live, "main", source, "main");
  g_assert_nonnull (copy);
  g_assert_cmpint (sqlite3_backup_step (copy, -1), ==, SQLITE_DONE);
  g_assert_cmpint (sqlite3_backup_finish (copy), ==, SQLITE_OK);
  sqlite3_close (source);
  sqlite3_close (live);
}

#define BACKUP_ROWS "1:backup:complete:600.0:-,2:backup:complete:600.0:-,3:backup:complete:600.0:-"
#define ALL_ROWS "SELECT group_concat(id || ':' || source || ':' || coalesce(outcome, 'running') " \
  "|| ':' || counted_seconds || ':' || coalesce(rounds, '-'), ',') FROM warmups"

/* The running warm-up's next progress write after the restore: the backup's warm-up 1 is
 * left alone (it was overwritten: the UPDATE went by id alone) and ours is written anew. */
static void
test_backup_restored_mid_warmup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  WuHistorySession session;
  WuHistorySnapshot snap;

  g_assert_no_error (error);
  begin_warmup (history, &session, &snap);
  g_assert_cmpint (session.row.id, ==, 1);
  restore_backup_in_place (f);
  g_assert_false (wu_history_file_changed (history));
  snapshot_at (&snap, 20, 20, 30);
  write_step (history, &session, wu_history_session_progress (&session, &snap));
  g_assert_cmpint (session.row.id, ==, 4);
  assert_sql (f, ALL_ROWS, BACKUP_ROWS ",4:replay:ride.trace:running:20.0:-");
  /* from then on it is written where it now is */
  snapshot_at (&snap, 30, 30, 30);
  write_step (history, &session, wu_history_session_progress (&session, &snap));
  g_assert_cmpint (session.row.id, ==, 4);
  assert_sql (f, ALL_ROWS, BACKUP_ROWS ",4:replay:ride.trace:running:30.0:-");
  wu_history_session_clear (&session);
}

/* The guided routine's rounds after the restore go into our completed warm-up, written
 * anew, not into the backup's warm-up under its old id. */
static void
test_backup_restored_before_the_routine_outcome (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  WuHistorySession session;
  WuHistorySnapshot snap;

  g_assert_no_error (error);
  begin_warmup (history, &session, &snap);
  snapshot_at (&snap, 700, 600, -1);
  write_step (history, &session, wu_history_session_transition (&session, WU_STATE_WARMING_UP,
                                                                WU_STATE_COMPLETE, &snap));
  restore_backup_in_place (f);
  wu_history_session_routine_begun (&session);
  write_step (history, &session, wu_history_session_routine_outcome (&session, "after-bike-warmup",
                                                                     2, "better", NULL));
  g_assert_cmpint (session.row.id, ==, 4);
  assert_sql (f, ALL_ROWS, BACKUP_ROWS ",4:replay:ride.trace:complete:600.0:2");
  wu_history_session_clear (&session);
}

/* Text that is not UTF-8 in a row (a hand-edited or damaged file) is read back with U+FFFD
 * for the bad bytes: it went into g_variant_new_string() as it was (a CRITICAL, fatal here
 * as under the integration tests, and the field dropped from GetHistory). */
static void
test_text_not_utf8_read_back_valid (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GVariant) dict = NULL;
  const WuHistoryRow *row;
  const char *text = NULL;

  g_assert_no_error (error);
  sql_exec (f->path, "INSERT INTO warmups (start_time, end_time, outcome, source, routine, "
                     "rounds, assessment) VALUES ('2024-05-01T07:30:12Z', "
                     "'2024-05-01T07:40:12Z', 'complete', CAST(X'41FF42' AS TEXT), "
                     "CAST(X'FF' AS TEXT), 1, CAST(X'C3' AS TEXT))");
  rows = wu_history_list (history, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpstr (row->source, ==, "A\uFFFDB");
  g_assert_cmpstr (row->routine, ==, "\uFFFD");
  g_assert_cmpstr (row->assessment, ==, "\uFFFD");
  dict = g_variant_ref_sink (wu_history_row_to_variant (row));
  g_assert_true (g_variant_lookup (dict, "source", "&s", &text));
  g_assert_cmpstr (text, ==, "A\uFFFDB");
  g_assert_true (g_variant_lookup (dict, "routine", "&s", &text));
  g_assert_true (g_variant_lookup (dict, "assessment", "&s", &text));
}

/* history.db moved aside mid-warm-up (the row went into a new file under id 1), then the
 * original put back: opened again, the running row there (id 3) is kept, not closed as
 * interrupted, and written by its start (id 1 there is an old warm-up, left alone); no
 * second copy. */
static void
test_original_file_put_back (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) original = NULL;
  WuHistory *history = wu_history_open (f->dir, &error);
  g_autofree char *moved = g_strconcat (f->path, ".aside", NULL);
  WuHistorySession session;
  WuHistorySnapshot snap;

  g_assert_no_error (error);
  wu_history_session_init (&session);
  for (int i = 0; i < 3; i++)
    {
      snapshot_at (&snap, i * 1000, 0, 30);
      write_step (history, &session, wu_history_session_transition (&session, WU_STATE_IDLE,
                                                                    WU_STATE_WARMING_UP, &snap));
      if (i < 2)
        {
          snapshot_at (&snap, i * 1000 + 300, 280, 30);
          write_step (history, &session, wu_history_session_transition (&session,
                                                                        WU_STATE_WARMING_UP,
                                                                        WU_STATE_COMPLETE, &snap));
        }
    }
  g_assert_cmpint (session.row.id, ==, 3);
  wu_history_free (history);
  /* moved aside: a new file, the row under id 1 there */
  g_assert_cmpint (g_rename (f->path, moved), ==, 0);
  history = wu_history_open_keeping (f->dir, &session.row.start_us, 1, 2000, &error);
  g_assert_no_error (error);
  write_step (history, &session, WU_HISTORY_WRITE_UPDATE_OR_INSERT);
  g_assert_cmpint (session.row.id, ==, 1);
  wu_history_free (history);
  /* the original put back */
  g_unlink (f->path);
  g_assert_cmpint (g_rename (moved, f->path), ==, 0);
  original = wu_history_open_keeping (f->dir, &session.row.start_us, 1, 2000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (wu_history_get_recovered (original), ==, 0);
  snapshot_at (&snap, 2300, 290, 30);
  /* the keeper writes a row whose file changed by update-or-insert */
  g_assert_cmpint (wu_history_session_transition (&session, WU_STATE_WARMING_UP,
                                                  WU_STATE_COMPLETE, &snap),
                   ==, WU_HISTORY_WRITE_UPDATE);
  write_step (original, &session, WU_HISTORY_WRITE_UPDATE_OR_INSERT);
  g_assert_cmpint (session.row.id, ==, 3);
  assert_sql (f, "SELECT group_concat(id || ':' || outcome || ':' || counted_seconds, ',') "
              "FROM warmups", "1:complete:280.0,2:complete:280.0,3:complete:290.0");
  wu_history_session_clear (&session);
}

/* The file deleted, or another put in its place, under an open connection: noticed. */
static void
test_file_changed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = wu_history_open (f->dir, &error);
  g_autoptr (WuHistory) other = NULL;
  g_autofree char *moved = g_strconcat (f->path, ".old", NULL);

  g_assert_no_error (error);
  g_assert_false (wu_history_file_changed (history));
  g_assert_cmpint (g_rename (f->path, moved), ==, 0);
  g_assert_true (wu_history_file_changed (history));
  /* a new file at the path: still not the one open */
  other = wu_history_open (f->dir, &error);
  g_assert_no_error (error);
  g_assert_true (wu_history_file_changed (history));
  g_assert_false (wu_history_file_changed (other));
  g_unlink (moved);
}

static void
test_corrupt_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = NULL;
  g_autofree char *contents = NULL;
  static const char garbage[] = "this is not an SQLite database, only some text. "
                                "0123456789012345678901234567890123456789012345678901234567890";

  g_assert_true (g_file_set_contents (f->path, garbage, -1, NULL));
  history = wu_history_open (f->dir, &error);
  g_assert_null (history);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f->path));
  g_assert_nonnull (strstr (error->message, "not a database"));
  /* left as it was, for someone to look at */
  g_assert_true (g_file_get_contents (f->path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, garbage);
}

static void
test_corrupt_pages (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  /* a real database whose second page (the table) is overwritten with noise */
  sql_exec (f->path, "PRAGMA page_size = 1024; CREATE TABLE warmups (x);"
                     "INSERT INTO warmups VALUES (1); PRAGMA user_version = 2;");
  g_assert_true (g_file_get_contents (f->path, &contents, &length, NULL));
  g_assert_cmpuint (length, >=, 2048);
  memset (contents + 1024, 0xA5, 1024);
  g_assert_true (g_file_set_contents (f->path, contents, (gssize) length, NULL));
  history = wu_history_open (f->dir, &error);
  g_assert_null (history);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f->path));
}

/* Open in a directory we may not write to. Root may write anywhere, so as root the check
 * runs in a subprocess that has become nobody. No fixture: the subprocess must not create
 * (or fail to remove) a directory of its own. */
static void
test_read_only_directory (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *ro = NULL;

  if (g_test_subprocess ())
    {
      g_autoptr (WuHistory) history = NULL;

      if (getuid () == 0 && (setgid (65534) != 0 || setuid (65534) != 0))
        g_error ("cannot become nobody: %s", g_strerror (errno));
      history = wu_history_open (g_getenv ("WU_TEST_RO_DIR"), &error);
      g_assert_null (history);
      g_assert_nonnull (error);
      g_printerr ("open failed: %s\n", error->message);
      return;
    }
  dir = g_dir_make_tmp ("warmupd-history-XXXXXX", &error);
  g_assert_no_error (error);
  ro = g_build_filename (dir, "ro", NULL);
  g_assert_cmpint (g_mkdir (ro, 0555), ==, 0);
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);   /* nobody must reach ro/ */
  g_setenv ("WU_TEST_RO_DIR", ro, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*open failed: *ro/history.db*");
  remove_tree (dir);
}

static void
test_directory_is_a_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuHistory) history = NULL;
  g_autofree char *file = g_build_filename (f->dir, "plain-file", NULL);

  g_assert_true (g_file_set_contents (file, "x", -1, NULL));
  history = wu_history_open (file, &error);
  g_assert_null (history);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, file));
}

static void
test_format_time (void)
{
  g_autofree char *epoch = wu_history_format_time (0);
  g_autofree char *t0 = wu_history_format_time (T0 + 999999);   /* whole seconds */

  g_assert_cmpstr (epoch, ==, "1970-01-01T00:00:00Z");
  g_assert_cmpstr (t0, ==, "2024-05-01T07:30:12Z");
  g_assert_cmpstr (wu_outcome_to_string (WU_OUTCOME_INTERRUPTED), ==, "interrupted");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (session_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/history/session/%s", session_cases[i].name);
      g_test_add_data_func (name, &session_cases[i], test_session);
    }
  g_test_add_func ("/history/format-time", test_format_time);
  g_test_add_func ("/history/store/read-only-directory", test_read_only_directory);
#define ADD(path, func) g_test_add ("/history/store/" path, Fixture, NULL, fixture_set_up, \
                                    func, fixture_tear_down)
  ADD ("schema-created", test_schema_created);
  ADD ("migration-from-v1", test_migration_from_v1);
  ADD ("newer-schema-left-alone", test_newer_schema_left_alone);
  ADD ("simulated-session", test_simulated_session);
  ADD ("unfinished-closed-as-interrupted", test_unfinished_closed_as_interrupted);
  ADD ("open-keeping-its-own-row", test_open_keeping_its_own_row);
  ADD ("update-or-insert", test_update_or_insert);
  ADD ("file-changed", test_file_changed);
  ADD ("original-file-put-back", test_original_file_put_back);
  ADD ("update-of-a-deleted-row", test_update_of_a_deleted_row);
  ADD ("backup-restored-mid-warm-up", test_backup_restored_mid_warmup);
  ADD ("backup-restored-before-the-routine-outcome",
       test_backup_restored_before_the_routine_outcome);
  ADD ("text-not-utf8-read-back-valid", test_text_not_utf8_read_back_valid);
  ADD ("corrupt-file", test_corrupt_file);
  ADD ("corrupt-pages", test_corrupt_pages);
  ADD ("directory-is-a-file", test_directory_is_a_file);
  return g_test_run ();
}
