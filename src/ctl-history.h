/* warmupctl history [--csv] [--limit N]: the session history, as a table or as CSV. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* When ARGV's command is "history", run it (it parses its own options, the common ones
 * included) and return TRUE with its exit status in *STATUS; else FALSE and touch nothing. */
gboolean wu_ctl_history_dispatch (int argc, char **argv, int *status);

G_END_DECLS
