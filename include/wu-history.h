/* The session history: one row per warm-up in an SQLite database (history.db in the state
 * directory). Two parts:
 *
 * - WuHistorySession, pure: fed the controller's state transitions and progress (with the
 *   wall-clock time injected), it keeps the current row and says when it must be written.
 *   No SQL on the per-sample path: it asks for a write only at a state change and every
 *   WU_HISTORY_PROGRESS_STEP_S counted seconds.
 * - WuHistory, the SQLite edge: opens (WAL, schema version in PRAGMA user_version, migrations),
 *   closes an unfinished row left by a crash as "interrupted", writes rows, lists them, and
 *   tells when the file at its path is no longer the one open. Failures are returned; the
 *   daemon's history keeper (src/history-keeper.c) decides what to do (keep the row in
 *   memory and write it later, open the file again). */
#pragma once
#include <glib.h>
#include "wu-controller.h"

G_BEGIN_DECLS

#define WU_HISTORY_FILE_NAME "history.db"
#define WU_HISTORY_SCHEMA_VERSION 2
/* A running row is rewritten every this many counted seconds: a kill -9 or a power cut loses
 * at most that much. */
#define WU_HISTORY_PROGRESS_STEP_S 10.0

typedef enum {
  WU_OUTCOME_RUNNING,       /* NULL in the database: the warm-up has not ended (yet) */
  WU_OUTCOME_COMPLETE,
  WU_OUTCOME_CANCELLED,
  WU_OUTCOME_INTERRUPTED,   /* the daemon stopped (or died) during the warm-up */
} WuOutcome;

/* One warm-up. Unknown numbers are < 0 (NULL in the database, absent on D-Bus). */
typedef struct {
  gint64 id;                /* 0: not stored yet */
  gint64 start_us;          /* wall clock, µs since the Unix epoch */
  gint64 end_us;            /* the end; while running, the last update */
  WuOutcome outcome;
  double counted_s;
  guint pauses;
  double avg_cadence, max_cadence, avg_power;
  double cap;               /* the resistance cap applied; < 0: none */
  guint recaps;
  char *source;
  char *routine;
  int rounds;               /* rounds of the guided floor routine; < 0: not known */
  char *assessment;         /* its last assessment ("better", ...); NULL: not known */
} WuHistoryRow;

void wu_history_row_init (WuHistoryRow *row);
void wu_history_row_clear (WuHistoryRow *row);
/* DEST becomes a copy of SRC with strings of its own (free with wu_history_row_clear). */
void wu_history_row_copy (WuHistoryRow *dest, const WuHistoryRow *src);
void wu_history_row_free (WuHistoryRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuHistoryRow, wu_history_row_free)

const char *wu_outcome_to_string (WuOutcome outcome);   /* "running", "complete", ... */
/* "2024-05-01T07:30:12Z" */
char *wu_history_format_time (gint64 wall_us);
/* The row as an a{sv} (floating): id (x), start_time, end_time, outcome, counted_seconds,
 * pauses, avg_cadence, max_cadence, avg_power, cap, recaps, source, routine, rounds,
 * assessment; unknown values are left out. */
GVariant *wu_history_row_to_variant (const WuHistoryRow *row);

/* --- the pure part ----------------------------------------------------------------------- */

/* What the daemon knows of the running warm-up at one moment. */
typedef struct {
  gint64 wall_us;           /* the wall clock now */
  WuSummary summary;        /* wu_controller_get_summary() */
  double cap;               /* wu_controller_get_cap(): -1 when none in force */
  const char *source;
  const char *routine;
} WuHistorySnapshot;

typedef enum {
  WU_HISTORY_WRITE_NONE,
  WU_HISTORY_WRITE_INSERT,  /* a new row (session->row.id is 0) */
  /* rewrite session->row where its id and start time match (a backup restored in place may
   * hold another warm-up under its id); else its own row by its start time (still running,
   * under another id); else a new row (setting its id), logged */
  WU_HISTORY_WRITE_UPDATE,
  /* the same for a row whose file was replaced, where a new row is expected: not logged */
  WU_HISTORY_WRITE_UPDATE_OR_INSERT,
} WuHistoryWrite;

typedef struct {
  WuHistoryRow row;         /* the current (or last) warm-up */
  gboolean active;          /* a row is open: warming-up or paused */
  gboolean have_row;        /* row holds a warm-up (open, or ended and still updatable) */
  double written_step;      /* counted seconds / STEP at the last write */
  gboolean routine_follows; /* the guided session under way began after row completed */
  gboolean routine_recorded;  /* row holds the outcome of the guided routine that followed */
} WuHistorySession;

void wu_history_session_init (WuHistorySession *session);
void wu_history_session_clear (WuHistorySession *session);
/* Whether this transition begins a new warm-up (a new row replaces the current one). */
gboolean wu_history_session_begins (const WuHistorySession *session, WuState old_state,
                                    WuState new_state);
/* A controller state transition. */
WuHistoryWrite wu_history_session_transition (WuHistorySession *session, WuState old_state,
                                              WuState new_state,
                                              const WuHistorySnapshot *snapshot);
/* After any input: a write when the counted time crossed a step since the last write. */
WuHistoryWrite wu_history_session_progress (WuHistorySession *session,
                                            const WuHistorySnapshot *snapshot);
/* The daemon is stopping: an open row ends as interrupted. */
WuHistoryWrite wu_history_session_shutdown (WuHistorySession *session,
                                            const WuHistorySnapshot *snapshot);
/* A guided floor routine session began (Routine1.Begin). */
void wu_history_session_routine_begun (WuHistorySession *session);
/* A guided session of ROUTINE_ID ended with ROUNDS rounds and ASSESSMENT (NULL: none). It is
 * the floor routine that followed the last warm-up, and goes into that warm-up's row, only
 * when that warm-up completed, announced ROUTINE_ID, and the session began after it
 * completed; the first such session is kept (a later one does not overwrite it). Otherwise
 * nothing is written and *WHY_NOT (when not NULL) says why, for the log. */
WuHistoryWrite wu_history_session_routine_outcome (WuHistorySession *session,
                                                   const char *routine_id, int rounds,
                                                   const char *assessment,
                                                   const char **why_not);

/* --- the SQLite edge --------------------------------------------------------------------- */

typedef struct WuHistory WuHistory;

/* Open (creating or migrating) DIRECTORY/history.db and close any unfinished row as
 * interrupted. NULL on failure, with the reason (the path and SQLite's message). */
WuHistory *wu_history_open (const char *directory, GError **error);
/* The same, but the rows still running that began at one of KEEP_START_US (N_KEEP of them:
 * the caller's own warm-ups, opening the database again: still running, or about to be
 * written) are not closed as interrupted. By start, not id: in a file put back in place
 * the warm-up may be under another id. Opening waits at most BUSY_MS for another
 * process's lock (wu_history_open: 2 s), and that stays the busy timeout. */
WuHistory *wu_history_open_keeping (const char *directory, const gint64 *keep_start_us,
                                    guint n_keep, int busy_ms, GError **error);
void wu_history_free (WuHistory *history);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuHistory, wu_history_free)

const char *wu_history_get_path (WuHistory *history);
/* TRUE when the file at the path is no longer the one opened: deleted, or another file put
 * in its place (writes would go on into the unlinked file). Open it again. */
gboolean wu_history_file_changed (WuHistory *history);
/* How long a statement waits for another process's lock before failing (SQLite's busy
 * timeout; 2000 ms from open). */
void wu_history_set_busy_timeout (WuHistory *history, int ms);
/* Rows closed as interrupted when the database was opened. */
guint wu_history_get_recovered (WuHistory *history);
/* Store ROW: INSERT sets row->id. */
gboolean wu_history_write (WuHistory *history, WuHistoryWrite write, WuHistoryRow *row,
                           GError **error);
/* How many warm-ups the database holds (without reading them). */
gboolean wu_history_count (WuHistory *history, gint64 *count, GError **error);
/* Newest first; LIMIT 0: all. A GPtrArray of WuHistoryRow*. */
GPtrArray *wu_history_list (WuHistory *history, guint limit, GError **error);
/* The same, only the warm-ups whose id is below BEFORE_ID (<= 0: all). */
GPtrArray *wu_history_list_before (WuHistory *history, gint64 before_id, guint limit,
                                   GError **error);

G_END_DECLS
