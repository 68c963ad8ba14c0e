/* warmupd errors: one GError domain, mapped 1:1 onto io.github.warmupd.Error.* on D-Bus. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define WU_ERROR (wu_error_quark ())
GQuark wu_error_quark (void);

typedef enum {
  WU_ERROR_FAILED,            /* io.github.warmupd.Error.Failed */
  WU_ERROR_ALREADY_RUNNING,   /* io.github.warmupd.Error.AlreadyRunning: Start() while a warm-up runs */
  WU_ERROR_NOT_RUNNING,       /* io.github.warmupd.Error.NotRunning: Stop() with nothing to stop */
  WU_ERROR_INVALID_ARGUMENT,  /* io.github.warmupd.Error.InvalidArgument */
  WU_ERROR_MALFORMED,         /* io.github.warmupd.Error.Malformed: a packet or line we cannot decode */
  WU_ERROR_CONFIG,            /* io.github.warmupd.Error.Config: a bad configuration value */
  WU_ERROR_NOT_SUPPORTED,     /* io.github.warmupd.Error.NotSupported */
  WU_ERROR_HISTORY_UNAVAILABLE, /* io.github.warmupd.Error.HistoryUnavailable: no history kept */
  WU_ERROR_UNKNOWN_ROUTINE,   /* io.github.warmupd.Error.UnknownRoutine: no routine with that id */
  WU_ERROR_NO_SESSION,        /* io.github.warmupd.Error.NoSession: no guided session begun */
  WU_ERROR_WRONG_STATE,       /* io.github.warmupd.Error.WrongState: not now (see RoutineState) */
} WuError;

#define WU_ERROR_N_CODES (WU_ERROR_WRONG_STATE + 1)

/* Register the D-Bus names of WU_ERROR once; safe to call more than once. */
void wu_error_register_dbus_names (void);

G_END_DECLS
