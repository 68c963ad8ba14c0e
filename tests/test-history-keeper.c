/* The history keeper's retry timer, without waiting for it: a history.db that cannot be
 * opened is tried again after 10 s, then twice as long each time up to 640 s; GetHistory
 * tries at once without putting the timer off; a warm-up that must be written brings the
 * retry back to 10 s. Each wait is read off the timer's GSource (its ready time) and the
 * timer is then fired at once by setting its ready time to now. */
#include "history-keeper.h"
#include "wu-error.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef struct {
  char *dir;
  char *db_path;
  WuEngine *engine;
  WuHistoryKeeper *keeper;
} Fixture;

/* The engine reads nothing but the keeper's calls: it has no source and no observer. */
static const WuEngineObserver no_observer = { 0 };

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  WuConfig config;

  (void) data;
  f->dir = g_dir_make_tmp ("test-history-keeper-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->db_path = g_build_filename (f->dir, "history.db", NULL);
  /* not a database: every opening fails (SQLite: "file is not a database") */
  g_assert_true (g_file_set_contents (f->db_path, "this is not an SQLite database, it is a "
                                      "text file long enough to hold a header's worth of "
                                      "bytes and then some more to be sure of it.\n", -1,
                                      NULL));
  wu_config_init (&config);
  f->engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  (void) data;
  g_clear_pointer (&f->keeper, wu_history_keeper_free);
  g_clear_pointer (&f->engine, wu_engine_free);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->db_path);
  g_free (f->dir);
}

/* The keeper's retry timer (a g_timeout_add_seconds() source with the keeper as its data),
 * NULL when none is armed. */
static GSource *
retry_timer (Fixture *f)
{
  return g_main_context_find_source_by_funcs_user_data (NULL, &g_timeout_funcs, f->keeper);
}

/* Seconds until the retry timer fires: g_timeout_add_seconds() rounds its expiry to a whole
 * second, offset by a phase GLib derives from the session bus address or host name, so the
 * wait lands within [asked - 0.25 s, asked + 0.75 s). */
static double
retry_in_s (Fixture *f)
{
  GSource *timer = retry_timer (f);

  g_assert_nonnull (timer);
  return (g_source_get_ready_time (timer) - g_get_monotonic_time ()) / (double) G_USEC_PER_SEC;
}

static void
assert_retry_in (Fixture *f, double seconds)
{
  double in_s = retry_in_s (f);

  if (in_s < seconds - 1.0 || in_s > seconds + 1.0)
    g_error ("the retry is due in %.2f s, not %.0f s", in_s, seconds);
}

/* The retry timer fires now: what it does is done before this returns. */
static void
fire_retry (Fixture *f)
{
  GSource *timer = retry_timer (f);

  g_assert_nonnull (timer);
  g_source_set_ready_time (timer, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
make_the_file_good (Fixture *f)
{
  g_assert_cmpint (g_unlink (f->db_path), ==, 0);   /* a new database is made in its place */
}

/* Opening fails at start-up with nothing to write: 10 s, then doubling up to 640 s. */
static void
test_open_retry_backs_off (Fixture *f, gconstpointer data)
{
  static const double waits[] = { 10, 20, 40, 80, 160, 320, 640, 640 };

  (void) data;
  f->keeper = wu_history_keeper_new (f->engine, f->dir);
  g_assert_cmpstr (wu_history_keeper_get_error (f->keeper), !=, "");
  for (guint i = 0; i < G_N_ELEMENTS (waits); i++)
    {
      assert_retry_in (f, waits[i]);
      fire_retry (f);
    }
  assert_retry_in (f, 640);
  /* once it opens, history is kept again and no timer is left */
  make_the_file_good (f);
  fire_retry (f);
  g_assert_cmpstr (wu_history_keeper_get_error (f->keeper), ==, "");
  g_assert_null (retry_timer (f));
}

/* GetHistory tries to open at once; failing, it leaves the timer as it was (it once doubled
 * the wait at each call). */
static void
test_get_history_does_not_put_the_retry_off (Fixture *f, gconstpointer data)
{
  gint64 due;

  (void) data;
  f->keeper = wu_history_keeper_new (f->engine, f->dir);
  fire_retry (f);
  assert_retry_in (f, 20);
  due = g_source_get_ready_time (retry_timer (f));
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_null (wu_history_keeper_list (f->keeper, 0, 0, &error));
      g_assert_error (error, WU_ERROR, WU_ERROR_HISTORY_UNAVAILABLE);
    }
  g_assert_cmpint (g_source_get_ready_time (retry_timer (f)), ==, due);
  /* and it opens at once once it can */
  make_the_file_good (f);
  g_autoptr (GVariant) rows = g_variant_ref_sink (wu_history_keeper_list (f->keeper, 0, 0, NULL));
  g_assert_cmpuint (g_variant_n_children (rows), ==, 0);
  g_assert_null (retry_timer (f));
}

/* A warm-up that must be written does not wait behind a slow retry of opening: it is tried
 * again in 10 s, and written then. */
static void
test_owed_write_brings_the_retry_back_to_10_s (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) rows = NULL;

  (void) data;
  f->keeper = wu_history_keeper_new (f->engine, f->dir);
  for (guint i = 0; i < 7; i++)
    fire_retry (f);
  assert_retry_in (f, 640);
  wu_history_keeper_state_changed (f->keeper, WU_STATE_IDLE, WU_STATE_WARMING_UP);
  g_assert_nonnull (strstr (wu_history_keeper_get_error (f->keeper), "kept in memory"));
  assert_retry_in (f, 10);
  /* still failing: 10 s again, not the opening's backoff */
  fire_retry (f);
  assert_retry_in (f, 10);
  make_the_file_good (f);
  fire_retry (f);
  g_assert_cmpstr (wu_history_keeper_get_error (f->keeper), ==, "");
  g_assert_null (retry_timer (f));
  rows = g_variant_ref_sink (wu_history_keeper_list (f->keeper, 0, 0, NULL));
  g_assert_cmpuint (g_variant_n_children (rows), ==, 1);
}

/* The file opens again after a long backoff (GetHistory opens it), then another process
 * holds the write lock as a warm-up begins: its write fails and is tried again in 10 s, not
 * behind what was left of the opening's 640 s timer (it was: the timer stayed armed when the
 * file opened, and a retry is armed only when none is). */
static void
test_write_failing_once_open_is_retried_in_10_s (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) rows = NULL;
  sqlite3 *lock;

  (void) data;
  f->keeper = wu_history_keeper_new (f->engine, f->dir);
  for (guint i = 0; i < 7; i++)
    fire_retry (f);
  assert_retry_in (f, 640);
  make_the_file_good (f);
  rows = g_variant_ref_sink (wu_history_keeper_list (f->keeper, 0, 0, NULL));
  g_assert_cmpuint (g_variant_n_children (rows), ==, 0);
  g_clear_pointer (&rows, g_variant_unref);
  g_assert_null (retry_timer (f));   /* open, nothing owed: nothing to retry */

  g_assert_cmpint (sqlite3_open (f->db_path, &lock), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
  wu_history_keeper_state_changed (f->keeper, WU_STATE_IDLE, WU_STATE_WARMING_UP);
  g_assert_nonnull (strstr (wu_history_keeper_get_error (f->keeper), "kept in memory"));
  assert_retry_in (f, 10);

  g_assert_cmpint (sqlite3_exec (lock, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (lock), ==, SQLITE_OK);
  fire_retry (f);
  g_assert_cmpstr (wu_history_keeper_get_error (f->keeper), ==, "");
  g_assert_null (retry_timer (f));
  rows = g_variant_ref_sink (wu_history_keeper_list (f->keeper, 0, 0, NULL));
  g_assert_cmpuint (g_variant_n_children (rows), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* the keeper warns each time it cannot open the file, as it should: criticals only stay
   * fatal (warmupd logs structured, which g_test_log_set_fatal_handler() cannot filter) */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, func) g_test_add ("/history-keeper/" path, Fixture, NULL, fixture_set_up, \
                                    func, fixture_tear_down)
  ADD ("open-retry-backs-off", test_open_retry_backs_off);
  ADD ("get-history-does-not-put-the-retry-off", test_get_history_does_not_put_the_retry_off);
  ADD ("owed-write-brings-the-retry-back-to-10-s", test_owed_write_brings_the_retry_back_to_10_s);
  ADD ("write-failing-once-open-is-retried-in-10-s",
       test_write_failing_once_open_is_retried_in_10_s);
#undef ADD
  return g_test_run ();
}
