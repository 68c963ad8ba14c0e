/* What every warmupctl command shares: reaching warmupd and reporting a failed call. */
#pragma once
#include <gio/gio.h>

#define WU_BUS_NAME "io.github.warmupd"
#define WU_OBJECT_PATH "/io/github/warmupd"

/* Wait up to WAIT_SECONDS for warmupd to own its name on PROXY's bus. TRUE when it does;
 * FALSE with a message naming the bus otherwise. Connect signal handlers to PROXY first if
 * nothing the daemon emits right after appearing may be missed. */
gboolean wu_ctl_daemon_is_there (GDBusProxy *proxy, gboolean session_bus, int wait_seconds);

/* "warmupctl: WHAT failed: message (io.github.warmupd.Error.X)" on stderr; EXIT_FAILURE. */
int wu_ctl_report_call_error (const char *what, GError *error);
