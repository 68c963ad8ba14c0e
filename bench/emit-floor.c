/* The CPU floor for the benchmarks: what GDBus itself costs to send what warmupd sends.
 *
 *   emit-floor bare N    N bare signals io.github.warmupd.BenchSignal.Tick(t)
 *   emit-floor sensor N  N PropertiesChanged from a generated Sensor1 skeleton, each with
 *                        the four values one Indoor Bike Data notification changes on a
 *                        Sensor1 (Cadence, Power, Speed, Events), flushed one at a time
 *
 * on the session bus, at /io/github/warmupd/BenchFloor, one at a time with a pause after each
 * (so GDBus's worker writes each message on its own, as it does for warmupd's, rather than
 * a backlog of them). bench/perf.py runs it under
 * callgrind at two counts and divides the difference, so start-up cancels out; warmupd's
 * instructions per notification are printed beside these in the same run. */
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include "wu-dbus-generated.h"

#define PATH "/io/github/warmupd/BenchFloor"
#define PAUSE_US 200

static void
emit_bare (GDBusConnection *connection, guint count)
{
  for (guint i = 0; i < count; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!g_dbus_connection_emit_signal (connection, NULL, PATH, "io.github.warmupd.BenchSignal",
                                          "Tick", g_variant_new ("(t)", (guint64) i), &error))
        g_error ("emit: %s", error->message);
      g_usleep (PAUSE_US);
    }
}

static void
emit_sensor (GDBusConnection *connection, guint count)
{
  g_autoptr (WuSensor1) sensor = wu_sensor1_skeleton_new ();
  g_autoptr (GError) error = NULL;

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (sensor), connection, PATH,
                                         &error))
    g_error ("export: %s", error->message);
  for (guint i = 0; i < count; i++)
    {
      double cadence = 60.0 + i % 40;

      wu_sensor1_set_cadence (sensor, cadence);
      wu_sensor1_set_power (sensor, cadence * 1.4);
      wu_sensor1_set_speed (sensor, cadence * 0.35);
      wu_sensor1_set_events (sensor, i + 1);
      g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (sensor));
      g_usleep (PAUSE_US);
    }
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (sensor));
}

int
main (int argc, char **argv)
{
  g_autoptr (GDBusConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  guint count;

  if (argc != 3 || (strcmp (argv[1], "bare") != 0 && strcmp (argv[1], "sensor") != 0))
    {
      g_printerr ("usage: emit-floor bare|sensor COUNT\n");
      return 2;
    }
  count = (guint) strtoul (argv[2], NULL, 10);
  connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (connection == NULL)
    {
      g_printerr ("emit-floor: %s\n", error->message);
      return 1;
    }
  if (strcmp (argv[1], "bare") == 0)
    emit_bare (connection, count);
  else
    emit_sensor (connection, count);
  if (!g_dbus_connection_flush_sync (connection, NULL, &error))
    {
      g_printerr ("emit-floor: %s\n", error->message);
      return 1;
    }
  return 0;
}
