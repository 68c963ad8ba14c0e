/* What the same PropertiesChanged costs without GDBus: the emission of `emit-floor sensor`
 * (Cadence, Power, Speed, Events on io.github.warmupd.Sensor1) sent with systemd's sd-bus,
 * which serialises and writes in the calling thread.
 *
 *   emit-floor-sdbus N   N such signals on the session bus, one at a time with a pause
 *
 * Not a way warmupd emits anything: the brief has the service on GDBus and its signals from
 * gdbus-codegen skeletons. It shows what the CPU target would need instead (bench/README.md),
 * measured the same way as the GDBus floors (callgrind at two counts, the difference). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define PATH "/io/github/warmupd/BenchFloor"
#define PAUSE_US 200

static int
emit_one (sd_bus *bus, unsigned i)
{
  double cadence = 60.0 + i % 40;

  return sd_bus_emit_signal (bus, PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                             "sa{sv}as", "io.github.warmupd.Sensor1", 4,
                             "Cadence", "d", cadence, "Power", "d", cadence * 1.4,
                             "Speed", "d", cadence * 0.35, "Events", "t", (uint64_t) i + 1, 0);
}

int
main (int argc, char **argv)
{
  sd_bus *bus = NULL;
  int r;

  if (argc != 2)
    {
      fprintf (stderr, "usage: emit-floor-sdbus COUNT\n");
      return 2;
    }
  unsigned count = (unsigned) strtoul (argv[1], NULL, 10);
  r = sd_bus_open_user (&bus);
  if (r < 0)
    {
      fprintf (stderr, "emit-floor-sdbus: cannot connect to the session bus: %s\n",
               strerror (-r));
      return 1;
    }
  for (unsigned i = 0; i < count; i++)
    {
      r = emit_one (bus, i);
      if (r < 0)
        {
          fprintf (stderr, "emit-floor-sdbus: emit: %s\n", strerror (-r));
          sd_bus_unref (bus);
          return 1;
        }
      usleep (PAUSE_US);
    }
  r = sd_bus_flush (bus);
  sd_bus_flush_close_unref (bus);
  if (r < 0)
    {
      fprintf (stderr, "emit-floor-sdbus: flush: %s\n", strerror (-r));
      return 1;
    }
  return 0;
}
