#!/usr/bin/python3
"""A smoke test of warmupd's BlueZ layer (src/bluez.c, src/source-ftms.c): the real daemon
against a simulated bluetoothd (tests/bluez_mock.py) on a private system bus. It finds the
bike without being told its address (discovery filter), connects, publishes live values
on Sensor1, writes the cap to the control point at the warm-up start, and releases the
bike (Reset) on SIGTERM before it exits. The scenario tests are tests/integration-ftms.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import WARMUP_IFACE  # noqa: E402
import bluez_mock  # noqa: E402
from bluez_mock import ADAPTER_PATH, BLUEZ_MOCK_IFACE, BikeFixtureMixin  # noqa: E402

_missing = bluez_mock.missing_tools()
if _missing:
    print("1..0 # SKIP %s" % _missing)
    sys.exit(0)

ADDRESS = "C0:FF:EE:00:18:26"
CONFIG = ("[Warmup]\nDuration=60\nStartAfter=1\nPauseAfter=3\nStaleAfter=2\n"
          "[Resistance]\nCap=8\n")


class BluezSmoke(BikeFixtureMixin, wutest.WarmupdTestCase):

    def test_connect_cap_live_values_release_on_sigterm(self):
        self.start_bike("ftms", cadence=80.0, power=112)
        daemon = self.start_daemon(config=self.write_config(CONFIG))

        # found by its advertised FTMS UUID, connected, live values on its Sensor1
        path, props = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.assertEqual(props["Name"], "SimBike")
        self.wait(lambda: self.sensors("ftms")[path]["Cadence"] > 70,
                  "live cadence on %s" % path, lambda: repr(self.sensors("ftms")))
        self.assertGreater(self.sensors("ftms")[path]["Power"], 0)
        self.assertEqual(self.sensors("ftms")[path]["Error"], "")

        # pedalling starts the warm-up: control requested, then the cap (level 8)
        self.wait(lambda: self.get(WARMUP_IFACE, "State") == "warming-up", "warming-up")
        self.wait_write(bytes([0x00]))
        self.wait(lambda: any(w[0] == 0x04 for _, w in self.poll_writes()), "a cap write",
                  lambda: repr(self.write_log()))
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "resistance",
                  "Control = resistance", lambda: repr(self.get(WARMUP_IFACE, "Control")))
        self.wait(lambda: float(self.bike.state()["resistance"]) <= 8.0, "the bike capped",
                  lambda: repr(self.bike.state()))

        # SIGTERM: Reset written and answered before warmupd exits 0
        before = len(self.poll_writes())
        daemon.terminate()
        self.assertEqual(daemon.poll(), 0)
        self.assertIn(bytes([0x01]), [w for _, w in self.poll_writes()[before:]],
                      "no Reset on SIGTERM: %r" % self.write_log())

    def test_no_bike_discovers_with_a_filter(self):
        self.start_bike(None)     # bluetoothd with an adapter, no device known
        self.start_daemon(config=self.write_config(CONFIG))
        self.wait(lambda: self.bike.calls(ADAPTER_PATH, "StartDiscovery"), "StartDiscovery",
                  lambda: self.bike.log())
        filters = self.bike.calls(ADAPTER_PATH, "SetDiscoveryFilter")
        self.assertTrue(filters, "no SetDiscoveryFilter before StartDiscovery")
        self.assertEqual(str(filters[-1][0]["Transport"]), "le")
        uuids = sorted(str(u)[4:8] for u in filters[-1][0]["UUIDs"])
        self.assertEqual(uuids, ["1816", "1818", "1826"])
        self.assertEqual(self.sensors(), {})
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "idle")

    def test_adapter_powered_late(self):
        from gi.repository import GLib
        self.start_bike("ftms", cadence=80.0, power=112)
        powered = lambda on: self.bike._mock(ADAPTER_PATH, "UpdateProperties", "(sa{sv})", (
            "org.bluez.Adapter1", {"Powered": GLib.Variant("b", on)}))
        powered(False)
        daemon = self.start_daemon(config=self.write_config(CONFIG))
        self.wait(lambda: "waiting for a powered Bluetooth adapter" in daemon.log(),
                  "warmupd waiting for an adapter", daemon.log)
        self.assertEqual(self.bike.calls(self.bike.device, "Connect"), [])
        powered(True)
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True)

    def test_adapter_changes_while_discovery_starts(self):
        # hci0 powers off while its StartDiscovery is still being answered (successfully):
        # that answer is about hci0, and hci1, taken over meanwhile, must be searched too
        self.start_bike(None)
        self.bike._call("/", BLUEZ_MOCK_IFACE, "AddAdapter", "(ss)", ("hci1", "second"), "(s)")
        second = ADAPTER_PATH[:-1] + "1"
        self.bike._mock(ADAPTER_PATH, "AddMethod", "(sssss)", (
            "org.bluez.Adapter1", "StartDiscovery", "", "",
            "self.UpdateProperties('org.bluez.Adapter1', {'Powered': dbus.Boolean(False)})\n"
            "self.connection.flush()\n"
            "import time\n"
            "time.sleep(0.5)   # bluetoothd slow to answer: the signal is out before it\n"))
        daemon = self.start_daemon(config=self.write_config(CONFIG))
        self.wait(lambda: self.bike.calls(ADAPTER_PATH, "StartDiscovery"), "StartDiscovery",
                  daemon.log)
        self.wait(lambda: self.bike.calls(second, "StartDiscovery"),
                  "StartDiscovery on hci1 once hci0 is off", daemon.log)
        self.assertIn("adapter /org/bluez/hci0 -> /org/bluez/hci1", daemon.log())

    def test_discovery_ended_by_a_power_cycle_is_started_again(self):
        # the adapter went off and on (bluetoothd dropped every discovery) and warmupd saw
        # only the end of it: one change, Powered still true, Discovering false
        from gi.repository import GLib
        self.start_bike(None)
        daemon = self.start_daemon(config=self.write_config(CONFIG))
        self.wait(lambda: "discovery off -> on" in daemon.log(), "discovery on", daemon.log)
        self.assertEqual(len(self.bike.calls(ADAPTER_PATH, "StartDiscovery")), 1)
        self.bike._mock(ADAPTER_PATH, "UpdateProperties", "(sa{sv})", (
            "org.bluez.Adapter1", {"Powered": GLib.Variant("b", True),
                                   "Discovering": GLib.Variant("b", False)}))
        self.wait(lambda: len(self.bike.calls(ADAPTER_PATH, "StartDiscovery")) == 2,
                  "StartDiscovery again", daemon.log)
        self.assertIn("ended by bluetoothd", daemon.log())

    def test_adapter_switch_stops_discovery_on_the_old_one(self):
        # hci0 off at first: hci1 searches; hci0 powers on and, no device being linked,
        # is taken: hci1's discovery is ended first, not left running for good
        from gi.repository import GLib
        self.start_bike(None)
        second = ADAPTER_PATH[:-1] + "1"
        powered = lambda path, on: self.bike._mock(path, "UpdateProperties", "(sa{sv})", (
            "org.bluez.Adapter1", {"Powered": GLib.Variant("b", on)}))
        powered(ADAPTER_PATH, False)
        self.bike._call("/", BLUEZ_MOCK_IFACE, "AddAdapter", "(ss)", ("hci1", "second"), "(s)")
        self.bike._add_methods(second, "org.bluez.Adapter1", bluez_mock.ADAPTER_METHODS)
        daemon = self.start_daemon(config=self.write_config(CONFIG))
        self.wait(lambda: self.bike.calls(second, "StartDiscovery"), "discovery on hci1",
                  daemon.log)
        powered(ADAPTER_PATH, True)
        self.wait(lambda: self.bike.calls(ADAPTER_PATH, "StartDiscovery"), "discovery on hci0",
                  daemon.log)
        self.wait(lambda: self.bike.calls(second, "StopDiscovery"), "StopDiscovery on hci1",
                  daemon.log)
        self.assertFalse(self.bike._call(second, "org.freedesktop.DBus.Properties", "Get",
                                         "(ss)", ("org.bluez.Adapter1", "Discovering"),
                                         "(v)")[0])

    def test_live_link_survives_another_adapter_powering_on(self):
        # the bike rides through hci0; an adapter sorting before it (hb0) comes: hci0, still
        # powered and holding the link, stays in use
        self.start_bike("ftms", cadence=80.0, power=112)
        daemon = self.start_daemon(config=self.write_config(CONFIG))
        path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.bike._call("/", BLUEZ_MOCK_IFACE, "AddAdapter", "(ss)", ("hb0", "sorts-first"),
                        "(s)")
        self.wait(lambda: "/org/bluez/hb0" in self.bike._call(
            "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
            reply="(a{oa{sa{sv}}})")[0], "hb0 published")
        # 1.5 s of the bike's samples (10 Hz) handled after hb0 came, or the link dropped
        self.wait_notifications(path, 15, "the bike's, after hb0 came",
                                unless=lambda: not self.sensors("ftms")[path]["Connected"])
        self.assertTrue(self.sensors("ftms")[path]["Connected"], "the live link dropped")
        self.assertNotIn("device gone", daemon.log())
        self.assertNotIn("-> /org/bluez/hb0", daemon.log())
        self.assertTrue(self.bike.state()["connected"])


if __name__ == "__main__":
    wutest.main()
