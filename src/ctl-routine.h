/* warmupctl routines | routine ID | guide [ID]: the floor routines and the guided session. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* When ARGV's command is "routines", "routine" or "guide", run it (it parses its own options,
 * the common ones included) and return TRUE with its exit status in *STATUS; else FALSE. */
gboolean wu_ctl_routine_dispatch (int argc, char **argv, int *status);

/* Guide the person through ROUTINE_ID (NULL: the one warmupd announces) on the terminal;
 * for `warmupctl watch --guide`. Returns the exit status. */
int wu_ctl_guide_run (gboolean session_bus, const char *routine_id);

G_END_DECLS
