/* What every warmupctl command shares: reaching warmupd and reporting a failed call. */
#pragma once
#include <gio/gio.h>

#define WU_BUS_NAME "io.github.warmupd"
#define WU_OBJECT_PATH "/io/github/warmupd"

/* The command word in ARGV (ARGC entries, ARGV[0] the program): the first argument that is
 * neither an option nor the value of one, read as GOption reads the command line: every
 * option that takes a value (-w/--wait SECONDS, -n/--limit N) takes the next argument
 * unless it is given as --wait=SECONDS, and the argument after "--" is never an option.
 * NULL when there is none. Each command's dispatcher runs before GOption has parsed. */
const char *wu_ctl_find_command (int argc, char **argv);

/* TRUE when WAIT_SECONDS (-w/--wait) is 0 or more; FALSE with a message on stderr (the
 * caller exits 2, bad usage) when it is negative. */
gboolean wu_ctl_check_wait (int wait_seconds);

/* Wait up to WAIT_SECONDS for warmupd to own its name on PROXY's bus. TRUE when it does;
 * FALSE with a message naming the bus otherwise. Connect signal handlers to PROXY first if
 * nothing the daemon emits right after appearing may be missed. */
gboolean wu_ctl_daemon_is_there (GDBusProxy *proxy, gboolean session_bus, int wait_seconds);

/* "warmupctl: WHAT failed: message (io.github.warmupd.Error.X)" on stderr; EXIT_FAILURE. */
int wu_ctl_report_call_error (const char *what, GError *error);
