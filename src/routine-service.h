/* io.github.warmupd.Routine1 on /io/github/warmupd: the routines loaded from a directory
 * and the guided session (a WuGuide) held by the daemon. */
#pragma once
#include <gio/gio.h>
#include "wu-guide.h"

typedef struct WuRoutineService WuRoutineService;

/* Called once when a guided session ends: it reached "done" by the round rule, or Finish()
 * cut it short. OUTCOME is valid during the call only. */
typedef void (*WuRoutineOutcomeFunc) (gpointer user_data, const WuGuideOutcome *outcome);
/* Called when Begin() starts a guided session of ROUTINE_ID. */
typedef void (*WuRoutineBegunFunc) (gpointer user_data, const char *routine_id);

/* Load every DIR/ID.routine (a broken file is reported with FILE:LINE and left out; the
 * others load). DEFAULT_ROUTINE ([Routine] Name=) is only checked: a warning when no such
 * routine was loaded. */
WuRoutineService *wu_routine_service_new (const char *dir, const char *default_routine);
void wu_routine_service_free (WuRoutineService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuRoutineService, wu_routine_service_free)

gboolean wu_routine_service_export (WuRoutineService *service, GDBusConnection *connection,
                                    GError **error);
void wu_routine_service_set_outcome_func (WuRoutineService *service, WuRoutineOutcomeFunc func,
                                          gpointer user_data);
void wu_routine_service_set_begun_func (WuRoutineService *service, WuRoutineBegunFunc func,
                                        gpointer user_data);
/* The current or last session's outcome (rounds done, last assessment); FALSE when no
 * session has begun since warmupd started. */
gboolean wu_routine_service_get_outcome (WuRoutineService *service, WuGuideOutcome *outcome);
/* The loaded routines (of WuRoutine*, sorted by id), owned by the service. */
GPtrArray *wu_routine_service_get_routines (WuRoutineService *service);

/* [Routine] Name= (DEFAULT_ROUTINE, NULL: none) reloaded: the same warning as at start-up
 * when no such routine was loaded (nothing when the directory could not be read). */
void wu_routine_service_check_name (WuRoutineService *service, const char *default_routine);
/* The same check against the routines in DIR (read quietly; a directory that cannot be
 * read says nothing), for --check-config. */
void wu_routine_check_name_in_dir (const char *dir, const char *default_routine);

/* Where routines are read from: $WARMUPD_ROUTINES_DIR if set (tests), else DATADIR's
 * warmupd/routines. Free with g_free. */
char *wu_routine_service_default_dir (const char *datadir);
