/* N subscribed clients for the benchmarks, in one process: N connections to the session
 * bus, each with match rules for PropertiesChanged and StartFloorRoutine from
 * io.github.warmupd (the bus fans every emission out N times). Signals are counted by a
 * filter in GDBus's worker thread and dropped there: no main-loop dispatch, so the clients
 * keep up with the bus however many there are.
 *
 *   bench/clients N
 *
 * Prints "ready N" once every match rule is in force (AddMatch is a call with a reply), then
 * counts signals per connection. On SIGTERM or SIGINT it makes another round trip on each
 * connection (signals routed before it are counted: one connection's messages are read in
 * order) and prints one line, then exits 0:
 *
 *   clients N signals TOTAL min MIN max MAX      (MIN, MAX: per connection)
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdlib.h>

#define BUS_NAME "io.github.warmupd"

typedef struct {
  GDBusConnection *connection;
  gint signals;                /* atomic: written by the worker thread */
} Client;

static GDBusMessage *
on_message (GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
            gpointer user_data)
{
  if (!incoming || g_dbus_message_get_message_type (message) != G_DBUS_MESSAGE_TYPE_SIGNAL)
    return message;
  if (g_strcmp0 (g_dbus_message_get_member (message), "PropertiesChanged") == 0
      || g_strcmp0 (g_dbus_message_get_member (message), "StartFloorRoutine") == 0)
    {
      g_atomic_int_inc (&((Client *) user_data)->signals);
      g_object_unref (message);
      return NULL;
    }
  return message;
}

static void
add_match (GDBusConnection *connection, const char *rule)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
    g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "AddMatch", g_variant_new ("(s)", rule),
                                 NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    {
      g_printerr ("clients: AddMatch: %s\n", error->message);
      exit (1);
    }
}

static void
round_trip (GDBusConnection *connection)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
    g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetId", NULL, G_VARIANT_TYPE ("(s)"),
                                 G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    {
      g_printerr ("clients: %s\n", error->message);
      exit (1);
    }
}

static gboolean
on_terminate (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  guint64 n = 0, total = 0, lo = G_MAXUINT64, hi = 0;
  g_autofree char *address = NULL;
  Client *clients;
  GMainLoop *loop;

  if (argc != 2 || !g_ascii_string_to_unsigned (argv[1], 10, 1, 10000, &n, NULL))
    {
      g_printerr ("usage: clients N (1..10000)\n");
      return 2;
    }
  address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  if (address == NULL)
    {
      g_printerr ("clients: no session bus\n");
      return 1;
    }
  clients = g_new0 (Client, n);
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;

      /* Not g_bus_get_sync: that one is shared; each client needs its own connection. */
      clients[i].connection = g_dbus_connection_new_for_address_sync (
        address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                 | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
      if (clients[i].connection == NULL)
        {
          g_printerr ("clients: connection %" G_GUINT64_FORMAT ": %s\n", i, error->message);
          return 1;
        }
      g_dbus_connection_add_filter (clients[i].connection, on_message, &clients[i], NULL);
      /* the rules GDBus would add for signal subscriptions to these */
      add_match (clients[i].connection,
                 "type='signal',sender='" BUS_NAME "',interface='org.freedesktop.DBus.Properties',"
                 "member='PropertiesChanged'");
      add_match (clients[i].connection,
                 "type='signal',sender='" BUS_NAME "',interface='io.github.warmupd.Warmup1',"
                 "member='StartFloorRoutine'");
    }
  g_print ("ready %" G_GUINT64_FORMAT "\n", n);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_terminate, loop);
  g_unix_signal_add (SIGINT, on_terminate, loop);
  g_main_loop_run (loop);

  for (guint64 i = 0; i < n; i++)
    round_trip (clients[i].connection);   /* signals routed before it have been counted */
  for (guint64 i = 0; i < n; i++)
    {
      guint64 count = (guint64) g_atomic_int_get (&clients[i].signals);

      total += count;
      lo = MIN (lo, count);
      hi = MAX (hi, count);
    }
  g_print ("clients %" G_GUINT64_FORMAT " signals %" G_GUINT64_FORMAT " min %" G_GUINT64_FORMAT
           " max %" G_GUINT64_FORMAT "\n", n, total, lo, hi);
  return 0;
}
