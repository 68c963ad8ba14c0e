#!/usr/bin/python3
"""Integration tests of warmupd with a smart bike: the real daemon (its name on a private
session bus) against a simulated bluetoothd with an FTMS bike on a private system bus
(tests/bluez_mock.py). Each scenario of issue 3 is its own test; assertions are on what
warmupd wrote to the bike's control point (the mock's call log) and on warmupd's D-Bus.

Bike: SimBike C0:FF:EE:00:18:26, resistance range 1.0-32.0 step 1.0, resistance 15 at
first, Indoor Bike Data at 10 Hz once someone subscribes, 80 rpm. Warm-ups are short
(Duration 20 s or less) and every wait polls with a generous deadline."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import OBJECT_PATH, WARMUP_IFACE  # noqa: E402
import bluez_mock  # noqa: E402
from bluez_mock import (CONTROL_POINT, FTMS_FEATURE, INDOOR_BIKE_DATA,  # noqa: E402
                        MACHINE_STATUS, BikeFixtureMixin)

_missing = bluez_mock.missing_tools()
if _missing:
    print("1..0 # SKIP %s" % _missing)
    sys.exit(0)

ADDRESS = "C0:FF:EE:00:18:26"
# Upper bounds on reaction times, stretched when warmupd runs under valgrind.
SLOW = 10 if wutest.VALGRIND else 1
REQUEST_CONTROL = bytes([0x00])
RESET = bytes([0x01])


def cap_u8(level):
    """Set Target Resistance Level, the spec's UINT8 form (0.1)."""
    return bytes([0x04, round(level * 10)])


def cap_s16(level):
    """Set Target Resistance Level, the SINT16 form (0.1) some bikes need."""
    return bytes([0x04]) + round(level * 10).to_bytes(2, "little", signed=True)


def is_cap(write, level=None):
    if len(write) not in (2, 3) or write[0] != 0x04:
        return False
    value = write[1] if len(write) == 2 else int.from_bytes(write[1:], "little", signed=True)
    return level is None or value == round(level * 10)


def config(duration=20, cap="8", reapply_after=2, extra=""):
    return ("[Warmup]\nDuration=%s\nStartAfter=1\nPauseAfter=2\nStaleAfter=2\n"
            "AbandonAfter=120\nMinCadence=40\nMaxCadence=110\n"
            "[Resistance]\nCap=%s\nReapplyAfter=%s\n"
            "[Bike]\nAddress=%s\n%s" % (duration, cap, reapply_after, ADDRESS, extra))


class FtmsTests(BikeFixtureMixin, wutest.WarmupdTestCase):

    # -- helpers ---------------------------------------------------------------------

    def start(self, conf=None, cadence=80.0, **bike):
        """The bike (pedalling at CADENCE), then warmupd; waits for the bike's Sensor1."""
        self.start_bike("ftms", cadence=cadence, power=round(cadence * 1.4), **bike)
        self.daemon = self.start_daemon(config=self.write_config(conf or config()))
        path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.sensor_path = path
        return self.daemon

    def state(self):
        return self.get(WARMUP_IFACE, "State")

    def wait_state(self, *states):
        return self.wait(lambda: self.state() in states, "State in %r" % (states,),
                         lambda: "State %r, warm-up %r, bike %r, writes %r"
                         % (self.state(), self.warmup(), self.bike.state(), self.write_log()))

    def wait_capped(self, level, after=0):
        """Request Control, then the cap at LEVEL (either encoding); the bike holds it.
        Returns the index of the cap write."""
        control = self.wait_write(REQUEST_CONTROL, after)
        index = self.wait(
            lambda: next((i + 1 for i, (_, w) in enumerate(self.poll_writes())
                          if i > control and is_cap(w, level)), None),
            "a Set Target Resistance Level %.1f after Request Control (write #%d)"
            % (level, control), lambda: "it wrote %s" % self.write_log()) - 1
        self.wait(lambda: self.bike.state()["resistance"] == level,
                  "the bike's resistance to be %.1f" % level,
                  lambda: "bike: %r" % self.bike.state())
        return index

    def sensor_prop(self, name):
        return self.sensors("ftms")[self.sensor_path][name]

    # -- 1. connect and cap ----------------------------------------------------------

    def test_connect_and_cap(self):
        self.start()
        self.wait_state("warming-up")
        cap_index = self.wait_capped(8.0)
        writes = [w for _, w in self.poll_writes()]
        self.assertEqual(writes[0], REQUEST_CONTROL, "the first write must be Request Control")
        self.assertEqual(writes[cap_index], cap_u8(8.0), "the spec's UINT8 form first")
        for w in writes[:cap_index + 1]:
            self.assertIn(w[0], (0x00, 0x07, 0x04), "unexpected request %s" % w.hex())
        self.wait(lambda: self.get(WARMUP_IFACE, "ResistanceCap") == 8.0, "ResistanceCap 8")
        # the bridge: live values from Indoor Bike Data, on Sensor1 and on Warmup1
        self.wait(lambda: self.sensor_prop("Resistance") == 8.0, "Sensor1.Resistance 8",
                  lambda: "sensor %r" % self.sensors("ftms"))
        sensor = self.sensors("ftms")[self.sensor_path]
        self.assertEqual(sensor["Cadence"], 80.0)
        self.assertEqual(sensor["Power"], 112.0)
        self.assertAlmostEqual(sensor["Speed"], 28.0, places=2)
        self.assertEqual(sensor["Name"], "SimBike")
        self.assertEqual(sensor["DroppedPackets"], 0)
        # Warmup1's running figures follow at most a progress interval (1 s) later
        self.wait(lambda: self.warmup()["Resistance"] == 8.0, "Warmup1.Resistance 8",
                  lambda: "warmup %r" % self.warmup())
        w = self.warmup()
        self.assertEqual(w["Cadence"], 80.0)
        self.assertEqual(w["State"], "warming-up")
        # how warmupd subscribed: AcquireNotify for data, StartNotify for the control point
        bike = self.bike.state()
        self.assertIn(INDOOR_BIKE_DATA, bike["acquired"])
        self.assertIn(CONTROL_POINT, bike["notifying"])
        self.assertTrue(bike["in_control"])

    # -- 2. percent cap from the range -----------------------------------------------

    def test_warmup_progress_at_most_once_a_second(self):
        """Sensor1 carries every sample at once; Warmup1's running figures (Elapsed,
        Cadence...) at most once a second (each PropertiesChanged costs GDBus ~130,000
        instructions), and still end on the latest values."""
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.bike.set_rate(20)
        start_events = self.sensor_prop("Events")
        seen_before = len(self.signals.props)
        t0 = time.monotonic()
        self.wait(lambda: self.sensor_prop("Events") >= start_events + 60, "60 samples at 20 Hz",
                  lambda: "sensor %r" % self.sensors("ftms"))
        self.bike.pedal(90.0)                 # the last samples differ from all before them
        self.wait(lambda: self.sensor_prop("Cadence") == 90.0, "Sensor1.Cadence 90")
        self.bike.set_rate(0)
        wall = time.monotonic() - t0
        events = self.sensor_prop("Events")
        self.wait(lambda: sum(1 for p, i, c, _ in self.signals.props
                              if p == self.sensor_path and "Events" in c
                              and c["Events"] == events) == 1,
                  "Sensor1's PropertiesChanged for the last sample")
        window = self.signals.props[seen_before:]
        sensor_events = [c["Events"] for p, i, c, _ in window
                         if p == self.sensor_path and "Events" in c]
        progress = [c for p, i, c, _ in window
                    if i == WARMUP_IFACE and "Elapsed" in c
                    and not set(c) & {"State", "Hint", "ResistanceCap", "Control", "Pauses"}]
        # every sample in its own Sensor1 signal, none skipped
        self.assertEqual(sensor_events, list(range(sensor_events[0], events + 1)))
        self.assertGreaterEqual(len(sensor_events), 60)
        # progress: about one a second (+1 for the one that ends the window)
        self.assertGreaterEqual(len(progress), 1)
        self.assertLessEqual(len(progress), int(wall) + 2,
                             "%d Warmup1 progress signals in %.1f s" % (len(progress), wall))
        # a throttled value still lands, though no sample follows it
        self.wait(lambda: 90.0 in self.signals.changes("Cadence"), "Warmup1.Cadence 90",
                  lambda: "Warmup1 Cadence went %r" % self.signals.changes("Cadence")[-5:])

    def test_percent_cap_from_range(self):
        # 1.0 + 30 % of (32.0 - 1.0) = 10.3, rounded down to the 1.0 increment: 10.0
        self.start(config(cap="30%"))
        self.wait_state("warming-up")
        index = self.wait_capped(10.0)
        self.assertEqual(self.poll_writes()[index][1], cap_u8(10.0))
        self.wait(lambda: self.get(WARMUP_IFACE, "ResistanceCap") == 10.0, "ResistanceCap 10")

    def test_percent_cap_respects_increment(self):
        # 2.0 + 45 % of (17.0 - 2.0) = 8.75, rounded down to the 0.5 increment: 8.5
        self.start(config(cap="45%"), resistance_range=(2.0, 17.0, 0.5))
        self.wait_state("warming-up")
        self.wait_capped(8.5)
        self.wait(lambda: self.get(WARMUP_IFACE, "ResistanceCap") == 8.5, "ResistanceCap 8.5")

    def assert_settled(self, samples=40):
        """The bike holds the cap: warmupd writes (next to) nothing while it handles SAMPLES
        more of the bike's notifications (4 s of Indoor Bike Data at 10 Hz), although the
        bike confirms each target with status 0x07 (an echo taken for "above the cap"
        re-caps, and that re-cap is echoed again: dozens of writes a second, or one a second
        where the re-cap is held back, each echo one of the notifications counted)."""
        before = len(self.poll_writes())
        self.wait_notifications(self.sensor_path, samples, "the bike settled at the cap")
        after = len(self.poll_writes())
        self.assertLess(after - before, 3, "%d control point writes in %d notifications with "
                        "the bike settled: %s" % (after - before, samples,
                                                  self.write_log()[-12:]))

    def test_level_cap_below_the_range_is_its_minimum(self):
        # Cap=0 on a bike whose range starts at 1.0: 1.0, the lowest it can be set to
        self.start(config(cap="0", reapply_after=60))
        self.wait_state("warming-up")
        self.wait_capped(1.0)
        self.assert_settled()
        self.assertEqual(self.get(WARMUP_IFACE, "ResistanceCap"), 1.0)

    def test_level_cap_between_tenths_is_stepped_down(self):
        # the bike is written in tenths of a level: Cap=7.67 is 7.6, never 7.7 (above it)
        self.start(config(cap="7.67", reapply_after=60), resistance_range=(1.0, 32.0, 0.0))
        self.wait_state("warming-up")
        self.wait_capped(7.6)
        self.assert_settled()
        self.assertEqual(self.bike.state()["resistance"], 7.6)
        self.assertEqual(self.get(WARMUP_IFACE, "ResistanceCap"), 7.6)

    @staticmethod
    def power_config(watts):
        return config(duration=600, reapply_after=60).replace(
            "ReapplyAfter=60\n", "ReapplyAfter=60\nPowerCap=%s\n" % watts)

    def start_held_by_power_target(self):
        """A bike that takes only power targets, warming up, held at PowerCap=100: the index
        of that target's write."""
        self.start(self.power_config(100), target_features=bluez_mock.TARGET_POWER)
        self.wait_state("warming-up")
        first = self.wait_write(bytes([0x05, 100, 0]))
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "power", "Control power")
        return first

    def test_power_cap_lowered_on_reload_is_written_at_once(self):
        # held at PowerCap=100; a reload with 80 W writes 80 W at once, not at the next
        # re-cap (ReapplyAfter is long, nothing else happens)
        first = self.start_held_by_power_target()
        path = self.write_config(self.power_config(80))
        self.assertEqual(path, self.daemon.config)
        reloaded = time.monotonic()
        self.daemon.proc.send_signal(signal.SIGHUP)
        index = self.wait_write(bytes([0x05, 80, 0]), after=first + 1)
        self.assertLess(self._seen_writes[index][0] - reloaded, 10.0 * SLOW,
                        "a lowered PowerCap must be written at the reload, not left waiting")
        self.assertIn("reloaded", self.daemon.log())

    def test_power_cap_none_on_reload_hands_the_bike_back(self):
        # the same power-only bike held at 100 W; a reload with PowerCap=none makes it
        # advisory, and advisory writes no target: the bike is reset (handed back), not
        # left at 100 W; a reload with a PowerCap again takes it back at the new target
        first = self.start_held_by_power_target()
        self.wait(lambda: self.bike.state()["target_power"] == 100, "the bike at 100 W")
        self.write_config(self.power_config("none"))
        self.daemon.proc.send_signal(signal.SIGHUP)
        reset = self.wait_write(RESET, after=first + 1)
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "advisory", "Control advisory")
        self.wait(lambda: not self.bike.state()["in_control"], "the bike to be handed back",
                  lambda: "bike %r, writes %s" % (self.bike.state(), self.write_log()))
        self.assertEqual(self.bike.state()["target_power"], -1, "the 100 W target dropped")
        self.assertEqual(self.state(), "warming-up", "the warm-up goes on, advisory")
        self.assertFalse(any(w[0] == 0x05 for _, w in self._seen_writes[reset:]),
                         "no power target after PowerCap=none: %s" % self.write_log())
        self.write_config(self.power_config(90))
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_write(bytes([0x05, 90, 0]), after=reset + 1)
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "power", "Control power again")
        self.wait(lambda: self.bike.state()["in_control"]
                  and self.bike.state()["target_power"] == 90, "the bike held at 90 W")

    # -- 3. re-cap after status 0x07 -------------------------------------------------

    def test_recap_after_target_resistance_changed(self):
        # ReapplyAfter is long: only the status notification can explain a re-cap well
        # before it (the bound is a margin under ReapplyAfter, not a latency target)
        self.start(config(reapply_after=60))
        self.wait_state("warming-up")
        first = self.wait_capped(8.0)
        turned = time.monotonic()
        self.bike.turn_knob(20.0, announce=True)          # status 07 c8
        index = self.wait(lambda: next((i + 1 for i, (_, w) in enumerate(self.poll_writes())
                                        if i > first and is_cap(w, 8.0)), None),
                          "a re-cap after status 0x07 (target resistance 20.0 > cap 8.0)",
                          lambda: "writes %s, bike %r" % (self.write_log(), self.bike.state()),
                          timeout=50) - 1
        # the time the bike got the write, not when this test's poll saw it
        self.assertLess(self._seen_writes[index][0] - turned, 30.0,
                        "status 0x07 above the cap must be re-capped, not left to ReapplyAfter")
        self.wait(lambda: self.bike.state()["resistance"] == 8.0, "the bike back at 8.0")

    def test_recap_after_resistance_seen_above_cap(self):
        # the knob turned without a status notification: Indoor Bike Data shows it
        self.start(config(reapply_after=2))
        self.wait_state("warming-up")
        first = self.wait_capped(8.0)
        self.bike.turn_knob(14.0, announce=False)
        self.wait(lambda: any(i > first and is_cap(w, 8.0)
                              for i, (_, w) in enumerate(self.poll_writes())),
                  "a re-cap after 2 s of resistance 14 > cap 8 in Indoor Bike Data",
                  lambda: "writes %s" % self.write_log())
        self.wait(lambda: self.bike.state()["resistance"] == 8.0, "the bike back at 8.0")

    # -- 4. control lost (0xFF) ------------------------------------------------------

    def test_control_permission_lost(self):
        self.start(config(reapply_after=60))
        self.wait_state("warming-up")
        first = self.wait_capped(8.0)
        self.bike.turn_knob(18.0, announce=False)          # the other app's setting
        self.bike.lose_control()
        self.wait_capped(8.0, after=first + 1)
        self.assertTrue(self.bike.state()["in_control"])
        self.assertEqual(self.state(), "warming-up")

    # -- 5. not permitted, then granted ----------------------------------------------

    def test_control_not_permitted_then_granted(self):
        self.start_bike("ftms", cadence=80.0, power=112.0)
        self.bike.refuse_control(1)
        self.daemon = self.start_daemon(config=self.write_config(config()))
        self.wait_state("warming-up")
        refused = self.wait_write(REQUEST_CONTROL)
        granted = self.wait_write(REQUEST_CONTROL, after=refused + 1, timeout=15)
        gap = self._seen_writes[granted][0] - self._seen_writes[refused][0]
        self.assertGreater(gap, 2.5, "Control Not Permitted: back off 3 s before asking again")
        self.assertFalse(any(is_cap(w) for _, w in self._seen_writes[refused:granted]),
                         "no cap may be written while control is refused: %s" % self.write_log())
        self.wait_capped(8.0, after=granted)

    # -- 6. UINT8 rejected, then SINT16 ----------------------------------------------

    def test_uint8_rejected_then_sint16(self):
        self.start_bike("ftms", cadence=80.0, power=112.0)
        self.bike.reject_uint8(True)
        self.daemon = self.start_daemon(config=self.write_config(config(reapply_after=60)))
        self.wait_state("warming-up")
        rejected = self.wait_write(cap_u8(8.0))
        retried = self.wait_write(cap_s16(8.0), after=rejected + 1)
        self.wait(lambda: self.bike.state()["resistance"] == 8.0, "the bike at 8.0")
        # remembered for this bike: the next cap goes straight to SINT16
        self.bike.turn_knob(20.0, announce=True)
        again = self.wait_write(cap_s16(8.0), after=retried + 1)
        later = [w for _, w in self._seen_writes[retried + 1:again + 1]]
        self.assertNotIn(cap_u8(8.0), later, "the UINT8 form was tried again: %s" % later)

    # -- 7. link lost mid warm-up, and back ------------------------------------------

    def test_link_lost_and_back(self):
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.wait(lambda: self.get(WARMUP_IFACE, "Elapsed") >= 2.0, "2 s counted")
        self.bike.lose_link()
        self.wait_sensor("ftms", Address=ADDRESS, Connected=False)
        self.wait_state("paused")
        elapsed_at_loss = self.get(WARMUP_IFACE, "Elapsed")
        connects = len(self.bike.calls(self.bike.device, "Connect"))
        # reconnection with backoff: at least two more attempts while the bike is away
        self.wait(lambda: len(self.bike.calls(self.bike.device, "Connect")) >= connects + 2,
                  "warmupd to retry Connect while the bike is away", timeout=20)
        self.assertEqual(self.get(WARMUP_IFACE, "Elapsed"), elapsed_at_loss,
                         "time counted while the bike was away")
        self.assertEqual(self.state(), "paused")
        before = len(self.poll_writes())
        self.bike.come_back()
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True, timeout=60)
        back = self.bike.state()["connected_at"]        # when the bike took the Connect
        self.wait_capped(8.0, after=before)             # control requested again, re-capped
        self.wait_state("warming-up")
        self.wait(lambda: self.get(WARMUP_IFACE, "Elapsed") >= elapsed_at_loss + 1.0,
                  "counting to resume")
        counted_since = self.get(WARMUP_IFACE, "Elapsed") - elapsed_at_loss
        self.assertLessEqual(counted_since, time.monotonic() - back + 1.0,
                             "more time counted than was pedalled since the link came back")
        self.assertEqual(self.get(WARMUP_IFACE, "Pauses"), 1)

    def connections_drop_soon(self):
        """Every connection to the bike drops 0.8 s after Connect (the link is up by then):
        a bike that sends unbonded clients away. Until bluetoothd restarts."""
        body = ("d = objects['/'].devices[self.path.split('/')[4]]\n"
                "d.connect()\n"
                "d.GLib.timeout_add(800, lambda d=d: (d.disconnect() if d.connected else None)"
                " or False)\n")
        self.bike._add_methods(self.bike.device, bluez_mock.DEVICE_IFACE,
                               [("Connect", "", "", body)])

    def wait_connects(self, n):
        """Waits for N Connects to the bike; returns when the test saw each (polled: late by
        at most a poll)."""
        seen = []

        def connects():
            calls = len(self.bike.calls(self.bike.device, "Connect"))
            while len(seen) < calls:
                seen.append(time.monotonic())
            return calls >= n
        self.wait(connects, "%d Connects" % n, self.daemon.log, timeout=60)
        return seen

    def test_link_that_keeps_dropping_backs_off(self):
        """Every connection drops 0.8 s after it comes up (a bike that sends unbonded clients
        away): each loss waits longer before the next Connect (the backoff went back to 1 s at
        every link-up: Connect, setup and a new cap every 1.8 s for as long as it flapped)."""
        self.start_bike("ftms", cadence=80.0, power=112)
        self.connections_drop_soon()
        self.daemon = self.start_daemon(config=self.write_config(config()))
        seen = self.wait_connects(4)
        self.assertGreaterEqual(self.daemon.log().count("connected, services resolved"), 3,
                                "the link did come up each time")
        # after the third loss the backoff is 4 s (1, 2, 4): the gap is 0.8 s up + 4 s
        self.assertGreaterEqual(seen[3] - seen[2], 3.5,
                                "Connects %s s apart: no backoff" % [
                                    round(b - a, 1) for a, b in zip(seen, seen[1:])])

    # -- 8. bluetoothd restart mid warm-up -------------------------------------------

    def test_bluetoothd_restart(self):
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.wait(lambda: self.get(WARMUP_IFACE, "Elapsed") >= 2.0, "2 s counted")
        before = len(self.poll_writes())
        self.bike.stop()                                 # org.bluez vanishes
        self.wait_sensor("ftms", Address=ADDRESS, Connected=False)
        self.wait_state("paused")
        self.assertTrue(self.daemon.running(), "warmupd died with bluetoothd")
        self.bike.start()                                # it comes back, bike disconnected
        self.bike.turn_knob(16.0, announce=False)        # the bike drifted meanwhile
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait_capped(8.0, after=before)
        self.wait_state("warming-up")
        self.wait(lambda: self.get(WARMUP_IFACE, "Cadence") == 80.0, "live cadence again")

    def test_bluetoothd_restart_connects_at_once_whatever_the_backoff(self):
        """The bike out of range long enough for the backoff to grow (to 16 s), then
        bluetoothd restarts with the bike back: the device found again is connected at once
        (it waited out the rest of the backoff)."""
        self.start()
        connects = len(self.bike.calls(self.bike.device, "Connect"))
        self.bike.lose_link()
        self.wait(lambda: len(self.bike.calls(self.bike.device, "Connect")) >= connects + 5,
                  "5 failed Connects", self.daemon.log, timeout=60)
        self.bike.stop()                                 # org.bluez vanishes
        self.wait(lambda: "running -> not running" in self.daemon.log(),
                  "bluetoothd gone seen", self.daemon.log)
        self.bike.start()                                # back, the bike in range
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True, timeout=8)

    def test_adapter_that_resets_at_each_connection_backs_off(self):
        """Each connection drops soon and takes the adapter down with it (a dongle whose
        firmware resets on an LE connection): the adapter coming back is no new start once
        that has happened twice in a row, and the backoff grows (resetting it at every
        adapter loss connected once a second for ever: 23 Connects in 25 s)."""
        self.start_bike("ftms", cadence=80.0, power=112)
        body = ("d = objects['/'].devices[self.path.split('/')[4]]\n"
                "d.connect()\n"
                "a = objects['%s']\n"
                "def drop(d=d, a=a):\n"
                "    if d.connected: d.disconnect()\n"
                "    a.UpdateProperties('org.bluez.Adapter1', {'Powered': dbus.Boolean(False)})\n"
                "    d.GLib.timeout_add(300, lambda: a.UpdateProperties('org.bluez.Adapter1', "
                "{'Powered': dbus.Boolean(True)}) or False)\n"
                "    return False\n"
                "d.GLib.timeout_add(800, drop)\n" % bluez_mock.ADAPTER_PATH)
        self.bike._add_methods(self.bike.device, bluez_mock.DEVICE_IFACE,
                               [("Connect", "", "", body)])
        self.daemon = self.start_daemon(config=self.write_config(config()))
        seen = self.wait_connects(5)
        # short links 1 and 2 reconnect at once; then 1, 2 s of backoff and more
        self.assertGreaterEqual(seen[4] - seen[3], 2.5,
                                "Connects %s s apart: no backoff" % [
                                    round(b - a, 1) for a, b in zip(seen, seen[1:])])

    def test_objects_unreadable_at_first(self):
        # bluetoothd owns its name but cannot answer GetManagedObjects yet (busy, starting):
        # warmupd asks again while the name stays, instead of waiting for it to vanish
        self.start_bike("ftms", cadence=80.0, power=112.0)
        self.bike.fail_get_managed_objects(2)
        self.daemon = self.start_daemon(config=self.write_config(config()))
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait_capped(8.0)
        self.assertGreaterEqual(len(self.bike.calls("/", "GetManagedObjects")), 3,
                                "two failed reads and one that worked")
        log = self.daemon.log()
        self.assertIn("asking again in 1 s", log)
        self.assertIn("asking again in 2 s", log)
        self.assertTrue(self.daemon.running())

    # -- 9-11. release: complete, Stop(), SIGTERM ------------------------------------

    def assert_released_after_cap(self, cap_index):
        writes = [w for _, w in self.poll_writes()]
        self.assertIn(RESET, writes[cap_index + 1:],
                      "no Reset (0x01) after the cap: %s" % self.write_log())
        self.wait(lambda: not self.bike.state()["in_control"], "the bike to be released")

    def test_complete_releases(self):
        self.start(config(duration=4))
        cap_index = self.wait_capped(8.0)
        self.wait_state("complete")
        self.wait_write(RESET, after=cap_index + 1)
        self.assert_released_after_cap(cap_index)
        self.wait(lambda: len(self.signals.floor) == 1, "StartFloorRoutine")
        self.assertEqual(self.get(WARMUP_IFACE, "ResistanceCap"), -1.0)

    def test_stop_releases(self):
        self.start(config(duration=600))
        self.wait_state("warming-up")
        cap_index = self.wait_capped(8.0)
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.wait_state("cancelled", "idle")
        self.wait_write(RESET, after=cap_index + 1)
        self.assert_released_after_cap(cap_index)

    def test_console_stop_between_warm_ups_does_not_hold_the_next_cap(self):
        # the rider stops the bike at its console after a warm-up, and the bike never says
        # "started by user" (0x04) when they ride again: the next warm-up is capped all the same
        self.start(config(duration=600, reapply_after=60))
        self.wait_state("warming-up")
        cap_index = self.wait_capped(8.0)
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.wait_state("cancelled", "idle")
        reset = self.wait_write(RESET, after=cap_index + 1)
        self.wait(lambda: not self.bike.state()["in_control"], "the bike to be released")
        # the stop comes after the bike's own 0x01 status (sent 10 ms after the Reset; a
        # reset ends a console stop): the same characteristic, so warmupd reads them in order
        self.wait(lambda: RESET in self.bike.state()["statuses"], "the bike's status 0x01",
                  lambda: "bike %r" % self.bike.state())
        self.bike.send_status(bytes([0x02, 0x01]))       # stopped by the user
        self.bike.turn_knob(20.0, announce=False)
        # the stop handled before Start() (after it, it would be a stop mid-warm-up)
        self.wait_notifications(self.sensor_path, 5, "the stop handled")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.wait_state("warming-up")
        control = self.wait_write(REQUEST_CONTROL, after=reset + 1)
        self.wait_write(bytes([0x07]), after=control + 1)   # Start/Resume: it is ours again
        self.wait_capped(8.0, after=reset + 1)

    def test_console_stop_mid_warm_up_ends_when_the_rider_rides_again(self):
        # the rider stops the bike at its console mid-warm-up and turns the knob up; the bike
        # never says "started by user" (0x04) and goes on sending 80 rpm: that alone does not
        # undo the stop; once the pedalling has stopped (0 rpm) and the rider has pedalled
        # StartAfter (1 s) after that, the warm-up resumes, the bike is started again
        # (Start/Resume) and capped
        self.start(config(duration=600, reapply_after=60))
        self.wait_state("warming-up")
        cap_index = self.wait_capped(8.0)
        self.wait(lambda: len(self.poll_writes()) > cap_index and
                  self.sensor_prop("Resistance") == 8.0, "the bike settled at the cap")
        stopped_at = len(self.poll_writes())
        self.assertNotIn(bytes([0x07]), [w for _, w in self.poll_writes()[cap_index:]])
        self.bike.send_status(bytes([0x02, 0x01]))       # stopped by the user
        self.bike.turn_knob(20.0, announce=False)
        self.wait_state("paused")
        # 80 rpm on for three times StartAfter, in samples warmupd handled (10 Hz): still
        # stopped
        self.wait_notifications(self.sensor_path, 30, "3 s of 80 rpm after the stop")
        self.assertNotIn(bytes([0x07]), [w for _, w in self.poll_writes()[stopped_at:]],
                         "the bike was started again while the rider had not stopped pedalling")
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "paused")
        self.bike.pedal(0)
        self.wait(lambda: self.get(WARMUP_IFACE, "Cadence") == 0.0, "the pedalling stopped")
        self.bike.pedal(80)
        start = self.wait_write(bytes([0x07]), after=stopped_at)
        self.wait_write(cap_u8(8.0), after=start + 1)
        self.wait(lambda: self.bike.state()["resistance"] == 8.0, "the bike back at the cap",
                  lambda: "bike: %r" % self.bike.state())
        self.wait_state("warming-up")
        self.assertIn("paused", self.daemon.log())
        self.assertIn("riding again", self.daemon.log())

    def test_sigterm_releases(self):
        self.start(config(duration=600))
        self.wait_state("warming-up")
        cap_index = self.wait_capped(8.0)
        status = self.daemon.terminate(signal.SIGTERM)
        self.assertEqual(status, 0, "warmupd's exit status on SIGTERM")
        # the bike answered the Reset: warmupd gave up on nothing
        self.assertNotIn("no answer for reset", self.daemon.log())
        self.assertNotIn("did not answer the release within", self.daemon.log())
        writes = [w for w in self.bike.writes()]
        self.assertIn(RESET, writes[cap_index + 1:],
                      "warmupd exited without writing Reset (0x01): %s" % [w.hex() for w in writes])
        self.assertFalse(self.bike.state()["in_control"])

    def test_sigterm_with_silent_bike_exits_in_time(self):
        # the bike never answers: warmupd gives up on the Reset's answer (3 s, within its 3.5 s
        # release wait) and exits 0; the deadline here is a hang detector, the give-up is
        # what warmupd logs
        self.start(config(duration=600))
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.bike.control("silent", True)
        status = self.daemon.terminate(signal.SIGTERM, timeout=30 * SLOW)
        self.assertEqual(status, 0)
        self.assertIn("control point: no answer for reset; releasing anyway", self.daemon.log())

    def test_sigterm_with_an_answer_lost_still_resets(self):
        # the bike stops answering as the rider turns the knob up: warmupd writes the cap
        # again (its answer is lost), then SIGTERM: the Reset is still written before exit
        self.start(config(duration=600))
        self.wait_state("warming-up")
        cap_index = self.wait_capped(8.0)
        self.bike.control("silent", True)
        n = len(self.poll_writes())
        self.bike.control("knob", (20.0, True))
        self.wait(lambda: len(self.poll_writes()) > n, "the re-cap write", self.write_log)
        self.assertEqual(self.daemon.terminate(signal.SIGTERM), 0)
        writes = self.bike.writes()
        self.assertIn(RESET, writes[cap_index + 1:],
                      "warmupd exited without writing Reset (0x01): %s" % [w.hex() for w in writes])
        self.assertFalse(self.bike.state()["in_control"])

    def test_cap_insisted_on_while_a_quiet_bike_stays_above_it(self):
        # the bike fails every target write, and then reports nothing more (like a bike that
        # reports its resistance only when it changes): its session gives up after three
        # failures, but the last report said 20 > 8, so the cap is sent again, less often
        self.start(config(duration=600))
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.bike.fail_operations(1000)
        self.bike.turn_knob(20.0, announce=False)
        self.wait(lambda: self.sensor_prop("Resistance") == 20.0, "Sensor1.Resistance 20")
        self.bike.set_rate(0)
        self.wait(lambda: "giving up" in self.daemon.log(), "the session to give up",
                  lambda: self.daemon.log())
        given_up = len(self.poll_writes())
        self.wait(lambda: len(self.poll_writes()) > given_up,
                  "the cap sent again after the session gave up", self.write_log, timeout=90)
        self.assertEqual(self.state(), "paused")

    def test_sighup_while_releasing_is_ignored(self):
        # SIGTERM, then SIGHUP while warmupd waits for a silent bike to answer its Reset:
        # nothing is reloaded (and so nothing restarted) on the way out
        self.start(config(duration=600))
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.bike.control("silent", True)
        self.daemon.proc.send_signal(signal.SIGTERM)
        self.wait(lambda: "bike released" in self.daemon.log(), "the release under way",
                  lambda: self.daemon.log())
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.daemon.wait_exit(), 0)
        log = self.daemon.log()
        self.assertIn("stopping: SIGHUP ignored", log)
        self.assertNotIn("reloaded", log[log.index("bike released"):])

    # -- 12. garbage notifications ---------------------------------------------------

    def test_garbage_notifications(self):
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        garbage = [
            (INDOOR_BIKE_DATA, bytes.fromhex("740a20")),    # flags ask for 20 bytes, 1 given
            (INDOOR_BIKE_DATA, bytes.fromhex("44")),        # shorter than the flags
            (MACHINE_STATUS, bytes.fromhex("07")),          # 0x07 without its parameter
            (MACHINE_STATUS, bytes.fromhex("fe")),          # no such status opcode
        ]
        for uuid, data in garbage:
            self.bike.send_notification(uuid, data)
        self.wait(lambda: self.sensor_prop("DroppedPackets") >= len(garbage),
                  "DroppedPackets >= %d" % len(garbage),
                  lambda: "sensor %r" % self.sensors("ftms"))
        self.assertTrue(self.daemon.running())
        # still connected, still decoding, still capped
        sensor = self.sensors("ftms")[self.sensor_path]
        self.assertTrue(sensor["Connected"], "a malformed notification dropped the link")
        events = sensor["Events"]
        self.wait(lambda: self.sensor_prop("Events") > events + 5, "more samples decoded")
        self.assertEqual(self.sensor_prop("Cadence"), 80.0)
        self.assertEqual(self.state(), "warming-up")

    def test_empty_notification_is_not_a_hangup(self):
        # On a SOCK_SEQPACKET fd an empty notification reads as 0 bytes, like EOF: only
        # G_IO_HUP means the link is gone. An empty Indoor Bike Data is malformed: dropped.
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        acquires = len(self.bike.calls(self.bike.chrcs[INDOOR_BIKE_DATA], "AcquireNotify"))
        self.bike.send_notification(INDOOR_BIKE_DATA, b"")
        self.wait(lambda: self.sensor_prop("DroppedPackets") >= 1, "DroppedPackets >= 1",
                  lambda: "sensor %r; warmupd's log:\n%s" % (self.sensors("ftms"),
                                                             self.daemon.log()[-1500:]))
        self.assertEqual(len(self.bike.calls(self.bike.chrcs[INDOOR_BIKE_DATA], "AcquireNotify")),
                         acquires, "warmupd re-acquired the notifications: it took the empty "
                         "notification for a hang-up")
        self.assertEqual(self.get(WARMUP_IFACE, "Pauses"), 0)

    # -- an unreadable Feature value ------------------------------------------------

    def test_unreadable_feature_is_advisory(self):
        """Without the Feature value nothing can be set safely: the bike rides advisory (its
        data still counts) instead of waiting for a value that will not come."""
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.fail_read(FTMS_FEATURE)
        self.daemon = self.start_daemon(config=self.write_config(config()))
        self.sensor_path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait_state("warming-up")
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "advisory", "Control advisory",
                  lambda: "warm-up %r, log %s" % (self.warmup(), self.daemon.log()[-1500:]))
        self.assertEqual(self.poll_writes(), [], "nothing may be written to an advisory bike")
        self.assertGreater(self.get(WARMUP_IFACE, "Elapsed"), 0, "its pedalling still counts")
        self.assertIn("going on without it", self.daemon.log())

    def test_control_point_without_indications_is_advisory(self):
        """A control point whose indications cannot be turned on (the bike wants bonding
        first, say) cannot answer a request: the bike rides advisory instead of being
        asked, found silent and reconnected over and over."""
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.fail_notify(CONTROL_POINT)
        self.daemon = self.start_daemon(config=self.write_config(config()))
        self.sensor_path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait_state("warming-up")
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "advisory", "Control advisory",
                  lambda: "warm-up %r, log %s" % (self.warmup(), self.daemon.log()[-1500:]))
        self.assertTrue(self.bike.calls(self.bike.chrcs[CONTROL_POINT], "StartNotify"),
                        "the subscription was tried")
        self.assertEqual(self.poll_writes(), [], "nothing may be written to an advisory bike")
        self.assertEqual(len(self.bike.calls(self.bike.device, "Connect")), 1,
                         "connected once")
        self.assertIn("going on without it", self.daemon.log())

    # -- 13. no bike at all ----------------------------------------------------------

    def test_no_bike_at_all(self):
        self.start_bike(kind=None)
        self.daemon = self.start_daemon(config=self.write_config(
            config().replace("Address=%s\n" % ADDRESS, "")))
        adapter = bluez_mock.ADAPTER_PATH
        self.wait(lambda: self.bike.calls(adapter, "StartDiscovery"),
                  "warmupd to start discovery for a bike",
                  lambda: "calls: %s" % self.bike.log()[-2000:])
        filters = self.bike.calls(adapter, "SetDiscoveryFilter")
        self.assertTrue(filters, "discovery without a filter")
        flt = filters[-1][0]
        self.assertEqual(flt.get("Transport"), "le")
        self.assertIn(bluez_mock.FTMS_SERVICE, [u.lower() for u in flt.get("UUIDs", [])])
        for _ in range(3):                              # idle, and answering
            w = self.warmup()
            self.assertEqual(w["State"], "idle")
            self.assertEqual(w["Cadence"], -1.0)
            self.assertEqual(self.sensors("ftms"), {})
        self.assertTrue(self.daemon.running())

    # -- the StartNotify fallback ----------------------------------------------------

    def test_start_notify_fallback(self):
        # a BlueZ without AcquireNotify: StartNotify + PropertiesChanged on Value
        self.start(notify="start")
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.wait(lambda: self.get(WARMUP_IFACE, "Cadence") == 80.0, "cadence via Value")
        bike = self.bike.state()
        self.assertIn(INDOOR_BIKE_DATA, bike["notifying"])
        self.assertEqual(list(bike["acquired"]), [])

    def service_changed_mid_warmup(self, notify):
        """Service Changed mid warm-up (the link stays up, the GATT objects go and come back
        under the same paths, every subscription and control gone): warmupd sets the link up
        again: data flows, control is requested again and the cap written."""
        self.start(notify=notify)
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        events = self.wait_sensor("ftms", Address=ADDRESS)[1]["Events"]
        writes = len(self.bike.written_at())
        log_before = len(self.daemon.log())
        connects = len(self.bike.calls(self.bike.device, "Connect"))
        self.bike.service_changed()
        # (the control point's call log went with its object: the bike's own record tells)
        self.wait(lambda: self.bike.state()["in_control"], "control requested again",
                  self.daemon.log)
        self.wait(lambda: len(self.bike.written_at()) >= writes + 2, "the cap written again",
                  self.daemon.log)
        self.assertLessEqual(self.bike.state()["resistance"], 8.0)
        path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait(lambda: self.sensors("ftms")[path]["Events"] > events + 20,
                  "Indoor Bike Data again after the service change", self.daemon.log)
        self.assertIn(INDOOR_BIKE_DATA, self.bike.state()["notifying" if notify == "start"
                                                           else "acquired"])
        self.assertTrue(self.bike.state()["connected"])
        # set up again on the same connection: not taken for a lost link (the closed fds,
        # the UUIDs change while the objects are away), nothing closed, no backoff waited
        self.assertEqual(self.bike.calls(self.bike.device, "Disconnect"), [])
        log = self.daemon.log()[log_before:]
        self.assertNotIn("link lost", log)
        self.assertNotIn("has no service", log)
        self.assertEqual(len(self.bike.calls(self.bike.device, "Connect")), connects)

    def test_service_changed_mid_warmup_start_notify(self):
        # nothing tells a StartNotify subscriber its session ended (before, only the next
        # control point write, failing, set the link up again; a sensor stayed silent:
        # integration-csc.py)
        self.service_changed_mid_warmup("start")

    def test_service_changed_mid_warmup_acquire_notify(self):
        self.service_changed_mid_warmup("acquire")

    def test_service_changed_with_the_control_point_late_waits_for_it(self):
        """bluetoothd exports the objects again one by one: the required ones back, the
        control point 500 ms later. Setup waits for it (set up without it, the bike would
        ride advisory on this connection) and the cap is written again."""
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        writes = len(self.bike.written_at())
        log_before = len(self.daemon.log())
        self.bike.service_changed_late(CONTROL_POINT, 500)
        # (the control point's call log went with its object: the bike's own record tells)
        self.wait(lambda: self.bike.state()["in_control"] and
                  len(self.bike.written_at()) >= writes + 2, "control and the cap again",
                  self.daemon.log)
        self.wait(lambda: self.bike.state()["resistance"] == 8.0, "the cap held",
                  self.daemon.log)
        self.assertEqual(self.get(WARMUP_IFACE, "Control"), "resistance")
        log = self.daemon.log()[log_before:]
        self.assertNotIn("advisory", log)
        self.assertNotIn("did not come back", log)
        self.assertEqual(self.bike.calls(self.bike.device, "Disconnect"), [])

    def test_service_changed_without_the_control_point_rides_advisory(self):
        """The control point never comes back after a Service Changed: set up without it
        once the wait for it ends, advisory, the link kept (not written into nothing, found
        silent and dropped)."""
        self.start()
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        events = self.wait_sensor("ftms", Address=ADDRESS)[1]["Events"]
        self.bike.service_changed_late(CONTROL_POINT, -1)
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "advisory", "Control advisory",
                  self.daemon.log)
        path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait(lambda: self.sensors("ftms")[path]["Events"] > events + 20,
                  "Indoor Bike Data again", self.daemon.log)
        self.assertIn("0x2AD9 did not come back", self.daemon.log())
        # past the 6 s a request sent into nothing took to be called a dead link
        self.wait(lambda: self.get(WARMUP_IFACE, "Elapsed") > 12, "12 s counted",
                  self.daemon.log, timeout=30)
        log = self.daemon.log()
        self.assertNotIn("no answer", log)
        self.assertNotIn("suspect", log)
        self.assertEqual(self.bike.calls(self.bike.device, "Disconnect"), [])
        self.assertEqual(len(self.bike.calls(self.bike.device, "Connect")), 1)

    def test_service_changed_with_connected_never_said_true(self):
        """bluetoothd 5.66 can leave Connected false on a live first LE connection. A
        Service Changed then closes the fds of a device whose Connected reads false: still
        set up again on the same connection (it was taken as a lost link, with a backoff);
        a lost link afterwards is still seen as one."""
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.connected_unsaid()
        self.daemon = self.start_daemon(config=self.write_config(config()))
        path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        self.assertFalse(self.bike.device_property("Connected"))
        events = self.sensors("ftms")[path]["Events"]
        log_before = len(self.daemon.log())
        self.bike.service_changed()
        self.wait(lambda: self.bike.state()["in_control"], "control requested again",
                  self.daemon.log)
        self.wait(lambda: self.sensors("ftms")[path]["Events"] > events + 20,
                  "Indoor Bike Data again after the service change", self.daemon.log)
        log = self.daemon.log()[log_before:]
        self.assertNotIn("link lost", log)
        self.assertEqual(self.bike.calls(self.bike.device, "Disconnect"), [])
        self.assertEqual(len(self.bike.calls(self.bike.device, "Connect")), 1)
        self.bike.lose_link()
        self.wait(lambda: not self.sensors("ftms")[path]["Connected"], "the link lost",
                  self.daemon.log)
        self.wait_state("paused")

    def test_notify_fds_closed_without_a_service_change_is_a_lost_link(self):
        """The notification fds close, the device stays connected and no object goes: not
        a Service Changed after all; after a short wait the link is taken as lost and set
        up anew (the bike capped again)."""
        self.start(notify="acquire")
        self.wait_state("warming-up")
        self.wait_capped(8.0)
        writes = len(self.poll_writes())
        self.bike.close_notify_fds()
        self.wait(lambda: "notifications ended (link lost)" in self.daemon.log(),
                  "the link taken as lost", self.daemon.log, timeout=20)
        self.wait_capped(8.0, after=writes)
        self.assertIn(INDOOR_BIKE_DATA, self.bike.state()["acquired"])

    def test_control_point_writes_refused_ride_advisory_without_reconnecting(self):
        """BlueZ refuses every control point write (NotPermitted "Not paired": the bike
        wants bonding). Writing again changes nothing: the bike rides advisory, Sensor1
        Error says why, the link is kept and the warm-up counts (it was dropped and
        reconnected after each refusal, the warm-up paused each time)."""
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.refuse_writes("NotPermitted: Not paired")
        self.daemon = self.start_daemon(config=self.write_config(config()))
        self.sensor_path, _ = self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.wait_state("warming-up")
        self.wait(lambda: self.get(WARMUP_IFACE, "Control") == "advisory", "Control advisory",
                  self.daemon.log)
        self.wait(lambda: "Not paired" in self.sensors("ftms")[self.sensor_path]["Error"],
                  "Sensor1 Error naming the refusal", self.daemon.log)
        self.wait(lambda: self.get(WARMUP_IFACE, "Elapsed") > 8, "8 s counted",
                  self.daemon.log, timeout=30)
        self.assertEqual(self.state(), "warming-up")
        self.assertEqual(len(self.bike.calls(self.bike.device, "Connect")), 1)
        self.assertEqual(self.bike.calls(self.bike.device, "Disconnect"), [])
        self.assertEqual(len(self.bike.written_at()), 1, "one refused Request Control")

    def test_configured_bike_first_seen_with_cycling_power_only_is_the_bike(self):
        # its advertisement lists Cycling Power alone; FTMS shows once its services are known
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.advertise(0x1818)
        daemon = self.start_daemon(config=self.write_config(config()))
        self.wait(lambda: "discovery off -> on" in daemon.log(), "discovery on", daemon.log)
        self.assertEqual(self.sensors(), {}, "the configured bike taken as a sensor")
        self.bike.advertise(0x1800, 0x1826, 0x1818)
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.assertEqual(self.sensors("cps"), {})

    def test_another_trainer_is_not_taken_as_a_power_sensor(self):
        # a smart trainer offers FTMS and Cycling Power; it is not the configured bike. A
        # cadence sensor next to it is taken (no [Sensors] list): its samples, handled by
        # warmupd after both devices were offered to it at once, measure the window
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.advertise(0x1800, 0x1826, 0x1818)
        self.bike.add_device("csc", "C0:FF:EE:00:18:16", cadence=80.0, rate=10.0)
        conf = config().replace(ADDRESS, "C0:FF:EE:00:99:99")
        daemon = self.start_daemon(config=self.write_config(conf))
        self.wait(lambda: "discovery off -> on" in daemon.log(), "discovery on", daemon.log)
        cadence, _ = self.wait_sensor("csc", Address="C0:FF:EE:00:18:16", Connected=True)
        self.wait_notifications(cadence, 15, "the cadence sensor's",
                                unless=lambda: self.bike.calls(self.bike.device, "Connect"))
        self.assertEqual(list(self.sensors()), [cadence])
        self.assertEqual(self.bike.calls(self.bike.device, "Connect"), [],
                         "connected to a trainer that is not the configured bike")

    def test_trainer_first_seen_as_power_meter_becomes_the_bike(self):
        # no [Bike] Address: a device showing Cycling Power alone is a sensor (cps0) until
        # its FTMS shows; then it is the bike
        self.start_bike("ftms", cadence=80.0, power=112)
        self.bike.advertise(0x1818)
        conf = config().replace("Address=%s\n" % ADDRESS, "")
        daemon = self.start_daemon(config=self.write_config(conf))
        self.wait_sensor("cps", Address=ADDRESS)
        self.bike.advertise(0x1800, 0x1826, 0x1818)
        self.wait_sensor("ftms", Address=ADDRESS, Connected=True)
        self.assertEqual(self.sensors("cps"), {})
        self.assertIn("service 0x1818 -> 0x1826", daemon.log())
        self.wait_state("warming-up")
        self.wait_capped(8)


class FixtureTests(BikeFixtureMixin, wutest.WarmupdTestCase):
    """The simulated bluetoothd itself, driven by a plain GDBus client (no warmupd): it
    must keep behaving like BlueZ 5.66 for the scenarios above to mean anything."""

    def client_call(self, path, iface, method, signature=None, args=None):
        from gi.repository import Gio, GLib
        conn = self.bike.bus.conn
        reply, fds = conn.call_with_unix_fd_list_sync(
            "org.bluez", path, iface, method,
            GLib.Variant(signature, args) if signature else None, None,
            Gio.DBusCallFlags.NONE, 10000, None, None)
        return reply.unpack(), (fds.steal_fds() if fds is not None else [])

    def error_of(self, *call):
        from gi.repository import Gio, GLib
        try:
            self.client_call(*call)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e)
            return name, e.message.split(name + ": ", 1)[-1]
        self.fail("%s succeeded" % (call,))

    def test_fixture_follows_bluez_api(self):
        import fcntl
        import select
        import socket
        chrc = "org.bluez.GattCharacteristic1"
        bike = self.start_bike("ftms", cadence=80.0, power=112.0, rate=20.0)
        ibd, cp = bike.chrcs[INDOOR_BIKE_DATA], bike.chrcs[CONTROL_POINT]
        # GATT objects appear with the first connection (service discovery)
        self.assertEqual(self.error_of(ibd, chrc, "AcquireNotify", "(a{sv})", ({},))[0],
                         "org.freedesktop.DBus.Error.UnknownObject")
        self.client_call(bike.device, "org.bluez.Device1", "Connect")
        self.wait(lambda: self.client_call(bike.device, "org.freedesktop.DBus.Properties", "Get",
                                           "(ss)", ("org.bluez.Device1", "ServicesResolved"))[0][0],
                  "ServicesResolved")
        (_, mtu), fds = self.client_call(ibd, chrc, "AcquireNotify", "(a{sv})", ({},))
        self.assertEqual(mtu, 517)
        self.assertTrue(fcntl.fcntl(fds[0], fcntl.F_GETFL) & os.O_NONBLOCK,
                        "BlueZ hands out a non-blocking fd")
        sock = socket.socket(fileno=fds[0])
        self.assertTrue(select.select([sock], [], [], 5)[0])
        self.assertEqual(sock.recv(mtu), bytes.fromhex("6400f00aa0000f007000"))
        self.assertEqual(self.error_of(ibd, chrc, "StartNotify")[0], "org.bluez.Error.NotPermitted")
        self.assertEqual(self.error_of(cp, chrc, "AcquireNotify", "(a{sv})", ({},))[0],
                         "org.bluez.Error.NotSupported")           # indicate only
        self.assertEqual(self.error_of(cp, chrc, "WriteValue", "(aya{sv})", (b"\x00", {})),
                         ("org.bluez.Error.Failed", "Operation failed with ATT error: 0xfd"))
        self.client_call(cp, chrc, "StartNotify")
        self.client_call(cp, chrc, "WriteValue", "(aya{sv})", (b"\x04\x50", {}))  # no control
        self.client_call(cp, chrc, "WriteValue", "(aya{sv})", (b"\x00", {}))
        self.client_call(cp, chrc, "WriteValue", "(aya{sv})", (b"\x04\x50", {}))
        self.wait(lambda: self.bike.state()["resistance"] == 8.0, "resistance 8")
        self.assertEqual(bike.writes(), [b"\x00", b"\x04\x50", b"\x00", b"\x04\x50"])
        bike.lose_link()                                            # HUP on the notify fd
        deadline = time.monotonic() + 30 * SLOW                     # a hang detector
        got = None
        while got != b"" and time.monotonic() < deadline:
            select.select([sock], [], [], 1)
            try:
                got = sock.recv(mtu)                                # data, then b"": hung up
            except BlockingIOError:
                pass
        self.assertEqual(got, b"", "the notify fd was not hung up when the link was lost")
        self.assertEqual(self.error_of(bike.device, "org.bluez.Device1", "Connect"),
                         ("org.bluez.Error.Failed", bluez_mock.CONNECT_FAILED))
        sock.close()
        self.assertEqual(self.error_of(ibd, chrc, "ReadValue", "(a{sv})", ({},)),
                         ("org.bluez.Error.Failed", "Not connected"))  # cached, unusable
        bike.restart()                                              # bluetoothd again
        self.assertFalse(bike.state()["connected"])
        self.assertEqual(len(bike.writes()), 4, "the call log survives a restart")


if __name__ == "__main__":
    wutest.main()
