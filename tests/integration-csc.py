#!/usr/bin/python3
"""Integration tests of warmupd with a BLE cadence sensor and no smart bike: the real daemon
against a simulated bluetoothd with a Cycling Speed and Cadence sensor (0x1816) on a private
system bus (tests/bluez_mock.py). The sensor notifies CSC Measurement (0x2A5B) with crank
revolution data only; its counters start just below their wrap (65530 revolutions, 63.5 s
of event time), so both wrap during every test. Nothing can be capped: the warm-up runs in
advisory mode (issue 4)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import WARMUP_IFACE  # noqa: E402
import bluez_mock  # noqa: E402
from bluez_mock import CSC_MEASUREMENT, BikeFixtureMixin  # noqa: E402

_missing = bluez_mock.missing_tools()
if _missing:
    print("1..0 # SKIP %s" % _missing)
    sys.exit(0)

ADDRESS = "C0:FF:EE:00:18:16"
BIKE_ADDRESS = "C0:FF:EE:00:18:26"


def config(duration=8, cap="8"):
    return ("[Warmup]\nDuration=%s\nStartAfter=1\nPauseAfter=3\nStaleAfter=3\n"
            "AbandonAfter=120\nMinCadence=40\nMaxCadence=110\n"
            "[Resistance]\nCap=%s\n"
            "[Sensors]\nAddresses=%s\n" % (duration, cap, ADDRESS))


class CscTests(BikeFixtureMixin, wutest.WarmupdTestCase):

    def start(self, conf=None, cadence=80.0, rate=4.0):
        self.start_bike("csc", cadence=cadence, rate=rate)
        self.daemon = self.start_daemon(config=self.write_config(conf or config()))
        self.sensor_path, _ = self.wait_sensor("csc", Address=ADDRESS, Connected=True)

    def sensor(self):
        return self.sensors("csc")[self.sensor_path]

    def state(self):
        return self.get(WARMUP_IFACE, "State")

    def wait_state(self, *states):
        return self.wait(lambda: self.state() in states, "State in %r" % (states,),
                         lambda: "warm-up %r, sensor %r" % (self.warmup(), self.sensors()))

    def test_full_warmup_advisory(self):
        self.start()
        self.wait(lambda: abs(self.sensor()["Cadence"] - 80.0) <= 2.0,
                  "Sensor1.Cadence near 80 rpm from crank revolution data",
                  lambda: "sensor %r" % self.sensor())
        self.wait_state("warming-up")
        warmup = self.warmup()
        self.assertLessEqual(abs(warmup["Cadence"] - 80.0), 2.0, "Warmup1.Cadence from the CSC")
        # nothing to cap: advisory mode, stated on D-Bus and in the log
        self.assertIn("Control", warmup,
                      "Warmup1 has no Control property: advisory mode must be stated on D-Bus")
        self.assertEqual(warmup["Control"], "advisory")
        self.assertEqual(warmup["ResistanceCap"], 8.0, "the cap in force (advisory)")
        self.assert_in_log(self.daemon, "advisory")

        self.wait_state("complete")
        self.wait(lambda: len(self.signals.floor) == 1, "StartFloorRoutine")
        routine, summary, published = self.signals.floor[0]
        self.assertEqual(published, "complete")
        self.assertEqual(summary["duration"], 8.0)
        self.assertLessEqual(abs(summary["avg_cadence"] - 80.0), 3.0)
        self.assertEqual(summary["recaps"], 0)
        self.assertEqual(self.get(WARMUP_IFACE, "ResistanceCap"), -1.0)
        # no cap in force any more: nothing to hold, advisory or not (it read "advisory"
        # with ResistanceCap -1, in every state)
        self.assertEqual(self.get(WARMUP_IFACE, "Control"), "")
        sensor = self.sensor()
        self.assertEqual(sensor["Name"], "SimCadence")
        self.assertEqual(sensor["Power"], -1.0, "a CSC sensor reports no power")
        self.assertEqual(sensor["Resistance"], -1.0)
        self.assertEqual(sensor["DroppedPackets"], 0)
        # no characteristic of the sensor was written
        for uuid in self.bike.chrcs:
            self.assertEqual(self.bike.writes(uuid), [], "wrote to %s" % uuid)
        self.assertIn(CSC_MEASUREMENT, self.bike.state()["acquired"])

    def test_stop_pedalling_pauses(self):
        # the sensor keeps notifying the same crank frame: not a new revolution
        self.start(config(duration=600))
        self.wait_state("warming-up")
        self.bike.pedal(0)
        self.wait(lambda: self.sensor()["Cadence"] == 0.0, "cadence 0 once no crank event comes",
                  lambda: "sensor %r" % self.sensor(), timeout=10)
        self.wait_state("paused")
        elapsed = self.get(WARMUP_IFACE, "Elapsed")
        self.bike.pedal(75)
        self.wait_state("warming-up")
        self.wait(lambda: self.get(WARMUP_IFACE, "Elapsed") > elapsed, "counting again")

    def test_garbage_measurement_dropped(self):
        self.start(config(duration=600))
        self.wait_state("warming-up")
        # flags 0x02 want 4 bytes of crank data; 0x03 want wheel and crank data (10 bytes)
        for data in (bytes.fromhex("02ff"), bytes.fromhex("03010203")):
            self.bike.send_notification(CSC_MEASUREMENT, data)
        self.wait(lambda: self.sensor()["DroppedPackets"] >= 2, "DroppedPackets >= 2",
                  lambda: "sensor %r" % self.sensor())
        self.assertTrue(self.sensor()["Connected"])
        self.assertEqual(self.state(), "warming-up")

    def test_empty_notification_recorded_and_replayed(self):
        # a zero-length value is dropped and counted; --record writes it as "-" (it wrote no
        # payload at all, and the recording could not be replayed: "missing payload")
        out = os.path.join(self.tmpdir, "rec.trace")
        self.start_bike("csc", cadence=80.0, rate=4.0)
        self.daemon = self.start_daemon(config=self.write_config(config(duration=600)),
                                        args=["--record", out])
        self.sensor_path, _ = self.wait_sensor("csc", Address=ADDRESS, Connected=True)
        self.bike.send_notification(CSC_MEASUREMENT, b"")
        self.wait(lambda: self.sensor()["DroppedPackets"] == 1, "DroppedPackets 1",
                  lambda: "sensor %r" % self.sensor())
        self.assertTrue(self.sensor()["Connected"])
        self.assertEqual(self.daemon.terminate(), 0)
        with open(out) as f:
            recorded = wutest.event_lines(f.read())
        empties = [line for line in recorded if line.endswith(" csc.measurement -")]
        self.assertEqual(len(empties), 1, "recorded: %r" % recorded)

        self.replay(out, name="warmupd-again")
        replayed = self.get_all(wutest.SENSOR_IFACE, wutest.REPLAY_PATH)
        self.assertEqual(replayed["Error"], "")
        self.assertEqual(replayed["DroppedPackets"], 1)
        self.assertEqual(replayed["Events"], len(recorded))

    def test_failed_setup_closes_the_connection_warmupd_opened(self):
        # the sensor advertises Cycling Power, but its GATT database has none: warmupd
        # connected it, so it disconnects it again (a connected device stops advertising)
        self.start_bike("csc", cadence=80.0)
        self.bike.advertise(0x1818)
        self.daemon = self.start_daemon(config=self.write_config(config()))
        self.wait_sensor("cps", Address=ADDRESS, Error="the device has no service 0x1818")
        self.wait(lambda: self.bike.calls(self.bike.device, "Disconnect"), "Disconnect",
                  lambda: "bike %r" % self.bike.state())
        self.assertFalse(self.bike.state()["connected"])

    def discovery_starts(self):
        return len(self.bike.calls(bluez_mock.ADAPTER_PATH, "StartDiscovery"))

    def test_unlisted_sensor_gone_starts_no_scan(self):
        # no [Sensors] list: the cadence sensor is taken as found; switched off mid-ride,
        # bluetoothd drops it: nothing scans for it alone (it slows the bike's link)
        self.start_bike("ftms", cadence=80.0, power=112)
        sensor = self.bike.add_device("csc", ADDRESS, cadence=80.0, rate=4.0)
        self.daemon = self.start_daemon(config=self.write_config(
            "[Bike]\nAddress=%s\n" % BIKE_ADDRESS))
        bike, _ = self.wait_sensor("ftms", Address=BIKE_ADDRESS, Connected=True)
        self.wait_sensor("csc", Address=ADDRESS, Connected=True)
        starts = self.discovery_starts()
        sensor.forget()
        self.wait_sensor("csc", Address=ADDRESS, Connected=False)
        # the bike's samples (10 Hz) handled meanwhile: 1.5 s of warmupd going on
        self.wait_notifications(bike, 15, "the bike's, after the sensor went",
                                unless=lambda: self.discovery_starts() > starts)
        self.assertEqual(self.discovery_starts(), starts, "scanning for an unlisted sensor")

    def discovering(self):
        return self.bike._call(bluez_mock.ADAPTER_PATH, "org.freedesktop.DBus.Properties",
                               "Get", "(ss)", ("org.bluez.Adapter1", "Discovering"), "(v)")[0]

    def check_listed_trainer_is_a_sensor(self, conf):
        """A second trainer (it offers FTMS too) listed in [Sensors] Addresses: it is that
        sensor, not the bike, and once both are taken nothing scans any more."""
        trainer_address = "C0:FF:EE:00:18:99"
        self.start_bike("ftms", cadence=80.0, power=112)
        trainer = self.bike.add_device("csc", trainer_address, cadence=70.0, rate=4.0)
        trainer.advertise(0x1826, 0x1816)
        self.daemon = self.start_daemon(config=self.write_config(conf % trainer_address))
        self.wait_sensor("ftms", Address=BIKE_ADDRESS, Connected=True)
        self.wait_sensor("csc", Address=trainer_address, Connected=True)
        self.wait(lambda: not self.discovering(), "discovery off with the bike and the sensor",
                  self.daemon.log)
        self.assertEqual(sorted(s["Address"] for s in self.sensors().values()),
                         sorted([BIKE_ADDRESS, trainer_address]))

    def test_listed_trainer_is_a_sensor_beside_the_configured_bike(self):
        self.check_listed_trainer_is_a_sensor(
            "[Bike]\nAddress=%s\n[Sensors]\nAddresses=%%s\n" % BIKE_ADDRESS)

    def test_listed_trainer_is_never_taken_as_the_bike(self):
        self.check_listed_trainer_is_a_sensor("[Sensors]\nAddresses=%s\n")

    def test_listed_device_without_sensor_service_is_said_once_then_taken(self):
        """A listed device that shows only FTMS (a first scan, or the wrong address): said
        once; once it shows Cycling Speed and Cadence it is taken."""
        trainer_address = "C0:FF:EE:00:18:99"
        self.start_bike("ftms", cadence=80.0, power=112)
        trainer = self.bike.add_device("csc", trainer_address, cadence=70.0, rate=4.0)
        trainer.advertise(0x1826)
        self.daemon = self.start_daemon(config=self.write_config(
            "[Sensors]\nAddresses=%s\n" % trainer_address))
        said = "%s (" % trainer_address
        self.wait(lambda: "is listed but does not offer 0x1818 or 0x1816" in self.daemon.log(),
                  "the listed device's missing service said", self.daemon.log)
        self.wait_sensor("ftms", Address=BIKE_ADDRESS, Connected=True)
        trainer.advertise(0x1826, 0x1800)   # a second look, still without it: not said again
        trainer.advertise(0x1826, 0x1816)
        self.wait_sensor("csc", Address=trainer_address, Connected=True)
        self.assertEqual(sum(1 for line in self.daemon.log().splitlines()
                             if said in line and "is listed but" in line), 1, self.daemon.log())

    def test_listed_sensor_gone_is_searched_for(self):
        self.start_bike("ftms", cadence=80.0, power=112)
        sensor = self.bike.add_device("csc", ADDRESS, cadence=80.0, rate=4.0)
        self.daemon = self.start_daemon(config=self.write_config(
            "[Bike]\nAddress=%s\n[Sensors]\nAddresses=%s\n" % (BIKE_ADDRESS, ADDRESS)))
        self.wait_sensor("ftms", Address=BIKE_ADDRESS, Connected=True)
        self.wait_sensor("csc", Address=ADDRESS, Connected=True)
        starts = self.discovery_starts()
        sensor.forget()
        self.wait(lambda: self.discovery_starts() > starts, "discovery for the listed sensor",
                  self.daemon.log)


    def start_sensor_out_of_range_for_long(self):
        """A listed sensor out of range long enough for the backoff to grow to 16 s."""
        self.start_bike("ftms", cadence=80.0, power=112)
        sensor = self.bike.add_device("csc", ADDRESS, cadence=80.0, rate=4.0)
        self.daemon = self.start_daemon(config=self.write_config(
            "[Bike]\nAddress=%s\n[Sensors]\nAddresses=%s\n" % (BIKE_ADDRESS, ADDRESS)))
        self.wait_sensor("csc", Address=ADDRESS, Connected=True)
        connects = len(sensor.calls("Connect"))
        sensor.lose_link()
        # attempts 1, 2, 4 and 8 s apart: the next waits 16 s
        self.wait(lambda: len(sensor.calls("Connect")) >= connects + 5, "5 failed Connects",
                  self.daemon.log, timeout=60)
        return sensor

    def test_sensor_found_again_connects_without_waiting_out_the_backoff(self):
        """Forgotten by bluetoothd and found again by discovery: warmupd connects at once (it
        waited out the rest of the backoff, up to 30 s, with the sensor back in range)."""
        sensor = self.start_sensor_out_of_range_for_long()
        sensor.forget()
        self.wait_sensor("csc", Address=ADDRESS, Connected=False)
        self.bike.add_device("csc", ADDRESS, cadence=80.0, rate=4.0)
        # under the 16 s the backoff had grown to, with room for a slow run (valgrind)
        self.wait_sensor("csc", Address=ADDRESS, Connected=True, timeout=14)

    def test_sensor_forgotten_and_found_again_at_once_connects(self):
        """The same, with both signals queued before warmupd looks (a loaded machine): the
        device comes back under the same path, and is still a new device to connect to."""
        sensor = self.start_sensor_out_of_range_for_long()
        sensor.forget_and_find_again(cadence=80.0, rate=4.0)
        self.wait_sensor("csc", Address=ADDRESS, Connected=True, timeout=14)


    def test_service_changed_start_notify_sensor_is_set_up_again(self):
        """Service Changed on a sensor subscribed by StartNotify (the link stays up, the GATT
        objects go and come back under the same paths): nothing tells a StartNotify subscriber
        its session ended; warmupd sees its characteristic go and sets the link up again (it
        stayed "up" and silent for as long as the sensor stayed connected)."""
        self.start_bike("ftms", cadence=80.0, power=112)
        sensor = self.bike.add_device("csc", ADDRESS, notify="start", cadence=80.0, rate=4.0)
        self.daemon = self.start_daemon(config=self.write_config(
            "[Bike]\nAddress=%s\n[Sensors]\nAddresses=%s\n" % (BIKE_ADDRESS, ADDRESS)))
        path, props = self.wait_sensor("csc", Address=ADDRESS, Connected=True)
        self.wait(lambda: self.sensors("csc")[path]["Events"] > props["Events"] + 4,
                  "CSC Measurements")
        sensor.control("service_changed", True)
        events = self.sensors("csc")[path]["Events"]
        self.wait(lambda: self.sensors("csc")[path]["Events"] > events + 10,
                  "CSC Measurements again after the service change", self.daemon.log)
        self.assertIn("services changed", self.daemon.log())
        self.assertIn(CSC_MEASUREMENT, sensor.state()["notifying"])
        # the UUIDs change while its objects were away did not start setup early (which
        # failed and closed the sensor's connection)
        self.assertEqual(sensor.calls("Disconnect"), [])
        self.assertNotIn("has no service", self.daemon.log())


    def test_service_changed_soon_after_a_reconnect_waits_no_backoff(self):
        """Service Changed on a link that came up after the backoff had grown (to 16 s here):
        the device stays connected, so nothing is waited out; it is set up again as soon as
        its characteristics are back (it waited the backoff, the rider's time uncounted)."""
        self.start_bike("ftms", cadence=80.0, power=112)
        sensor = self.bike.add_device("csc", ADDRESS, notify="start", cadence=80.0, rate=4.0)
        self.daemon = self.start_daemon(config=self.write_config(
            "[Bike]\nAddress=%s\n[Sensors]\nAddresses=%s\n" % (BIKE_ADDRESS, ADDRESS)))
        path, _ = self.wait_sensor("csc", Address=ADDRESS, Connected=True)
        connects = len(sensor.calls("Connect"))
        sensor.lose_link()
        self.wait(lambda: len(sensor.calls("Connect")) >= connects + 4, "4 failed Connects",
                  self.daemon.log, timeout=60)
        sensor.come_back()
        path, props = self.wait_sensor("csc", Address=ADDRESS, Connected=True, timeout=60)
        self.wait(lambda: self.sensors("csc")[path]["Events"] > props["Events"] + 4,
                  "CSC Measurements")
        sensor.control("service_changed", True)
        events = self.sensors("csc")[path]["Events"]
        self.wait(lambda: self.sensors("csc")[path]["Events"] > events + 10,
                  "CSC Measurements again, without waiting out the 16 s backoff",
                  self.daemon.log, timeout=10)


if __name__ == "__main__":
    wutest.main()
