#include "wu-error.h"
#include <gio/gio.h>

G_DEFINE_QUARK (wu-error-quark, wu_error)

static const GDBusErrorEntry wu_dbus_error_entries[] = {
  { WU_ERROR_FAILED, "io.github.warmupd.Error.Failed" },
  { WU_ERROR_ALREADY_RUNNING, "io.github.warmupd.Error.AlreadyRunning" },
  { WU_ERROR_NOT_RUNNING, "io.github.warmupd.Error.NotRunning" },
  { WU_ERROR_INVALID_ARGUMENT, "io.github.warmupd.Error.InvalidArgument" },
  { WU_ERROR_MALFORMED, "io.github.warmupd.Error.Malformed" },
  { WU_ERROR_CONFIG, "io.github.warmupd.Error.Config" },
  { WU_ERROR_NOT_SUPPORTED, "io.github.warmupd.Error.NotSupported" },
  { WU_ERROR_HISTORY_UNAVAILABLE, "io.github.warmupd.Error.HistoryUnavailable" },
  { WU_ERROR_UNKNOWN_ROUTINE, "io.github.warmupd.Error.UnknownRoutine" },
  { WU_ERROR_NO_SESSION, "io.github.warmupd.Error.NoSession" },
  { WU_ERROR_WRONG_STATE, "io.github.warmupd.Error.WrongState" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (wu_dbus_error_entries) == WU_ERROR_N_CODES);

void
wu_error_register_dbus_names (void)
{
  static gsize registered = 0;   /* a once-guard, not backend state */

  g_dbus_error_register_error_domain ("wu-error-quark", &registered, wu_dbus_error_entries,
                                      G_N_ELEMENTS (wu_dbus_error_entries));
}
