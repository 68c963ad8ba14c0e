/* The latency floor for the benchmarks: a bare GDBus signal between two processes.
 *
 * Owns io.github.warmupd.BenchSignal on the session bus and exports one method on
 * /io/github/warmupd/BenchSignal: Emit() takes CLOCK_MONOTONIC in ns, emits the broadcast
 * signal io.github.warmupd.BenchSignal.Tick(t) and returns t. bench/perf.py compares the
 * time the signal reaches a subscribed client with the time a notification written to the
 * mocked bike's socket takes to come back as warmupd's PropertiesChanged, in the same run.
 * Prints "owned NAME" once the name is owned; exits 0 on SIGTERM or SIGINT. */
#include <gio/gio.h>
#include <glib-unix.h>
#include <time.h>

#define NAME "io.github.warmupd.BenchSignal"
#define PATH "/io/github/warmupd/BenchSignal"

static const char introspection[] =
  "<node><interface name='" NAME "'>"
  "  <method name='Emit'><arg type='t' name='sent_ns' direction='out'/></method>"
  "  <signal name='Tick'><arg type='t' name='sent_ns'/></signal>"
  "</interface></node>";

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000u + (guint64) ts.tv_nsec;
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *interface, const char *method, GVariant *parameters,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  guint64 t = monotonic_ns ();
  g_autoptr (GError) error = NULL;

  if (!g_dbus_connection_emit_signal (connection, NULL, PATH, NAME, "Tick",
                                      g_variant_new ("(t)", t), &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(t)", t));
}

static const GDBusInterfaceVTable vtable = { on_method_call, NULL, NULL, { 0 } };

static void
on_bus_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  GDBusNodeInfo *info = user_data;
  g_autoptr (GError) error = NULL;

  if (g_dbus_connection_register_object (connection, PATH, info->interfaces[0], &vtable,
                                         NULL, NULL, &error) == 0)
    {
      g_printerr ("signal-floor: %s\n", error->message);
      exit (1);
    }
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_print ("owned %s\n", name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_printerr ("signal-floor: could not own %s\n", name);
  exit (1);
}

static gboolean
on_terminate (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (void)
{
  g_autoptr (GError) error = NULL;
  GDBusNodeInfo *info = g_dbus_node_info_new_for_xml (introspection, &error);
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  guint owner_id;

  g_assert_no_error (error);
  owner_id = g_bus_own_name (G_BUS_TYPE_SESSION, NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                             on_bus_acquired, on_name_acquired, on_name_lost, info, NULL);
  g_unix_signal_add (SIGTERM, on_terminate, loop);
  g_unix_signal_add (SIGINT, on_terminate, loop);
  g_main_loop_run (loop);
  g_bus_unown_name (owner_id);
  g_main_loop_unref (loop);
  g_dbus_node_info_unref (info);
  return 0;
}
