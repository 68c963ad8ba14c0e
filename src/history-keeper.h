/* The daemon's side of the session history: follows the engine (state transitions, progress,
 * shutdown) and keeps one row per warm-up in history.db through WuHistory. When there is no
 * state directory, or the database cannot be used, warmupd runs without history and
 * wu_history_keeper_get_error() says why. A write that fails keeps the warm-up in memory
 * until one succeeds; a file deleted or replaced under warmupd is opened again. */
#pragma once
#include <glib.h>
#include "engine.h"
#include "wu-history.h"

typedef struct WuHistoryKeeper WuHistoryKeeper;

/* The database is history.db in STATE_DIR_OPTION (--state-dir), else in $STATE_DIRECTORY
 * (systemd's StateDirectory=, the first path when it lists several); with neither, no
 * history is kept. Never fails: a database that cannot be used is logged and reported by
 * wu_history_keeper_get_error(), and opened again after 10 s, then twice as long each time
 * up to 640 s (and at once by wu_history_keeper_list() and a warm-up's state change), until
 * it opens; while a warm-up waits to be written, every 10 s. */
WuHistoryKeeper *wu_history_keeper_new (WuEngine *engine, const char *state_dir_option);
void wu_history_keeper_free (WuHistoryKeeper *keeper);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuHistoryKeeper, wu_history_keeper_free)

/* From the engine observer: every state transition, and after every input (cheap: SQL only
 * at a state change and every WU_HISTORY_PROGRESS_STEP_S counted seconds). */
void wu_history_keeper_state_changed (WuHistoryKeeper *keeper, WuState old_state,
                                      WuState new_state);
void wu_history_keeper_changed (WuHistoryKeeper *keeper);
/* warmupd is stopping: a running warm-up is written as interrupted. */
void wu_history_keeper_shutdown (WuHistoryKeeper *keeper);
/* A guided floor routine session began. */
void wu_history_keeper_routine_begun (WuHistoryKeeper *keeper);
/* A guided session of ROUTINE_ID ended: its rounds and last assessment (NULL: none) are
 * stored in the last warm-up's row when it is the floor routine that followed that warm-up
 * (see wu_history_session_routine_outcome()); otherwise the log says why not. */
void wu_history_keeper_routine_outcome (WuHistoryKeeper *keeper, const char *routine_id,
                                        guint rounds, const char *assessment);

/* "" while history is kept; else why not, or what failed (a warm-up that could not be
 * written is kept in memory and written at the next state change, progress step or retry,
 * and then this is "" again). */
const char *wu_history_keeper_get_error (WuHistoryKeeper *keeper);
/* Called when wu_history_keeper_get_error() changes (also from a retry between warm-ups,
 * when no engine change follows). */
typedef void (*WuHistoryKeeperErrorFunc) (gpointer user_data);
void wu_history_keeper_set_error_func (WuHistoryKeeper *keeper, WuHistoryKeeperErrorFunc func,
                                       gpointer user_data);
/* One reply carries at most this many warm-ups, and stops before this many bytes of them
 * (the system bus drops a connection that sends a message over 32 MiB): older ones are
 * paged with GetHistoryBefore. */
#define WU_HISTORY_REPLY_MAX_ROWS 1000
#define WU_HISTORY_REPLY_MAX_BYTES (4 * 1024 * 1024)

/* The warm-ups whose id is below BEFORE_ID (0: from the newest), newest first, as aa{sv}
 * (floating); at most LIMIT of them, and never more than WU_HISTORY_REPLY_MAX_ROWS or
 * WU_HISTORY_REPLY_MAX_BYTES (LIMIT 0: as many as that). The database is opened first when
 * it is not open (it failed to). WU_ERROR_HISTORY_UNAVAILABLE when no history is kept. */
GVariant *wu_history_keeper_list (WuHistoryKeeper *keeper, gint64 before_id, guint limit,
                                  GError **error);
