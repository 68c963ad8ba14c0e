#!/usr/bin/python3
"""Benchmark client: subscribe to warmupd's PropertiesChanged signals and count them.

Run with /usr/bin/python3 (needs python3-gi). Connects to the session bus (the benchmark's
private one), subscribes to org.freedesktop.DBus.Properties.PropertiesChanged from
io.github.warmupd, makes one round trip to the bus so the match rule is in force, then
prints "ready". On SIGTERM or SIGINT it makes another round trip (so signals the bus routed
before that are in), drains them, prints one line of counts and exits 0:

    signals N warmup1 N sensor1 N other N properties N floor-routine N
"""

import signal
import sys

import gi

gi.require_version("Gio", "2.0")
gi.require_version("GLib", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = "io.github.warmupd"


def main():
    counts = {"signals": 0, "warmup1": 0, "sensor1": 0, "other": 0, "properties": 0,
              "floor-routine": 0}
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    loop = GLib.MainLoop()

    def on_properties_changed(_conn, _sender, _path, _iface, _member, params):
        interface, changed, _invalidated = params.unpack()
        counts["signals"] += 1
        counts["properties"] += len(changed)
        if interface == "io.github.warmupd.Warmup1":
            counts["warmup1"] += 1
        elif interface == "io.github.warmupd.Sensor1":
            counts["sensor1"] += 1
        else:
            counts["other"] += 1

    def on_floor_routine(*_args):
        counts["floor-routine"] += 1

    bus.signal_subscribe(BUS_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                         None, None, Gio.DBusSignalFlags.NONE, on_properties_changed)
    bus.signal_subscribe(BUS_NAME, "io.github.warmupd.Warmup1", "StartFloorRoutine",
                         None, None, Gio.DBusSignalFlags.NONE, on_floor_routine)

    def round_trip():
        # Messages on one connection are ordered: once this reply is in, the AddMatch calls
        # sent before it were processed, and signals routed before it were received.
        bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "GetId", None, GLib.VariantType.new("(s)"), Gio.DBusCallFlags.NONE, -1,
                      None)

    def on_stop():
        round_trip()
        ctx = GLib.MainContext.default()
        while ctx.pending():
            ctx.iteration(False)
        print(" ".join("%s %d" % kv for kv in counts.items()), flush=True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_stop)
    round_trip()
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
