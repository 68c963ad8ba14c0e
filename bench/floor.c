/* The memory floor for the benchmarks: a bare GLib process that owns a bus name and idles.
 * warmupd's peak RSS is reported beside this one's, measured in the same run. */
#include <gio/gio.h>
#include <glib-unix.h>

static gboolean
on_terminate (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_print ("owned %s\n", name);
}

int
main (int argc, char **argv)
{
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  const char *name = argc > 1 ? argv[1] : "io.github.warmupd.BenchFloor";
  guint owner_id = g_bus_own_name (G_BUS_TYPE_SESSION, name, G_BUS_NAME_OWNER_FLAGS_NONE, NULL,
                                   on_name_acquired, NULL, NULL, NULL);

  g_unix_signal_add (SIGTERM, on_terminate, loop);
  g_main_loop_run (loop);
  g_bus_unown_name (owner_id);
  g_main_loop_unref (loop);
  return 0;
}
