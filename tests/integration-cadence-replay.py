#!/usr/bin/python3
"""Integration tests: the real warmupd replaying reed-switch edges (gpio.edge) and BLE
CSC/CPS measurements in virtual time on a private bus. The same decoding paths as live
sources: the one cadence estimator, wheel speed, CPS power, source priority. None of these
sources can set a resistance, so the warm-up is advisory. TAP output."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)

gt = wutest.gen_trace()

WARMUP = [(3, 0), (620, 75), (10, 0)]   # rest, 620 s at 75 rpm, rest


class CadenceReplayTests(wutest.WarmupdTestCase):

    def write_lines(self, name, lines):
        path = os.path.join(self.tmpdir, name)
        gt.write_lines(path, lines, title=name)
        return path

    def assert_complete(self, rpm, tolerance=1.0):
        w = self.warmup()
        self.assertEqual(w["State"], "complete")
        self.assertEqual(w["Duration"], 600.0)
        self.assertEqual(w["Cadence"], 0.0)            # the final rest, within StaleAfter
        self.assertEqual(len(self.signals.floor), 1)
        summary = self.signals.floor[0][1]
        self.assertAlmostEqual(summary["avg_cadence"], rpm, delta=tolerance)
        return w, summary

    # -- a reed switch with contact bounce ----------------------------------------------

    def test_reed_switch_full_warmup(self):
        trace = self.write_lines("reed.trace", gt.revolution_lines(WARMUP, "gpio", seed=4))
        d = self.replay(trace, config=self.write_config("[Resistance]\nCap=5\n"))
        w, summary = self.assert_complete(75)
        # bounce (2-6 extra edges within 3 ms on every closure) never shows as a spike
        self.assertLess(summary["max_cadence"], 80.0)
        self.assertEqual(summary["pauses"], 0)
        # advisory: the cap was announced while warming up, then released
        caps = self.signals.changes("ResistanceCap")
        self.assertIn(5.0, caps)
        self.assertEqual(caps[-1], -1.0)
        self.assert_in_log(d, "advisory")
        s = self.sensor()
        self.assertEqual(s["DroppedPackets"], 0)
        self.assertEqual(s["Cadence"], 0.0)

    def test_reed_switch_two_magnets_rising_edges(self):
        # two magnets, the switch wired so that closing gives a rising edge
        spans = [(3, 0), (620, 150), (10, 0)]   # 150 pulses a minute: 75 rpm
        lines = [line.replace("falling", "tmp").replace("rising", "falling").replace("tmp", "rising")
                 for line in gt.revolution_lines(spans, "gpio", seed=5)]
        config = self.write_config("[Gpio]\nLine=GPIO17\nEdge=rising\nPulsesPerRevolution=2\n")
        trace = self.write_lines("reed2.trace", lines)
        self.replay(trace, config=config)
        self.assert_complete(75)

    def test_reed_switch_two_magnets_both_edges_long_closure(self):
        # Edge=both with two magnets that keep the switch closed 160 ms of each 400 ms pass:
        # periods run closing to closing and opening to opening (it alternated 50/200 rpm)
        spans = [(3, 0), (620, 150), (10, 0)]   # 150 pulses a minute: 75 rpm
        config = self.write_config("[Gpio]\nLine=GPIO17\nEdge=both\nPulsesPerRevolution=2\n")
        lines = gt.revolution_lines(spans, "gpio", seed=13, closed_s=0.160)
        self.replay(self.write_lines("reed2both.trace", lines), config=config)
        w, summary = self.assert_complete(75)
        self.assertLess(summary["max_cadence"], 80.0)
        cadences = [c for c in self.signals.changes("Cadence") if c > 0]
        self.assertGreater(min(cadences[5:-5]), 70.0)

    def test_stop_shows_0_within_stale_after_and_pauses(self):
        spans = [(3, 0), (60, 80), (20, 0), (1, 0)]
        lines = gt.revolution_lines(spans, "gpio", seed=6)
        self.replay(self.write_lines("stop.trace", lines))
        w = self.warmup()
        self.assertEqual(w["State"], "paused")
        self.assertEqual(w["Cadence"], 0.0)
        self.assertEqual(w["Pauses"], 1)
        cadences = [c for c in self.signals.changes("Cadence") if c > 0]
        self.assertTrue(cadences)
        self.assertLess(max(cadences), 85.0)
        self.assertEqual(self.sensor()["Cadence"], 0.0)

    def test_chattering_line_reads_0_and_is_logged(self):
        # 30 s of pedalling at 80 rpm, then the wire works loose: a falling edge every 8 ms
        # (quiet for Debounce=, but dozens between two pulses 273 ms apart) for 30 s, and
        # every 2 ms (never quiet) for 10 s more. It was read as ~218 rpm.
        lines = gt.revolution_lines([(3, 0), (30, 80)], "gpio", seed=12)
        for start, stop, every in ((34.0, 64.0, 0.008), (64.0, 74.0, 0.002)):
            for k in range(int(round((stop - start) / every))):
                t = start + k * every
                lines += [gt._format_precise(t, "gpio.edge", "falling"),
                          gt._format_precise(t + every / 2, "gpio.edge", "rising")]
        d = self.replay(self.write_lines("chatter.trace", lines))
        self.assertEqual(self.sensor()["Cadence"], 0.0)
        w = self.warmup()
        self.assertEqual(w["Cadence"], 0.0)
        self.assertEqual(w["State"], "paused")
        # said at once, and not again within the minute
        self.assertEqual(d.log().count("the line is noisy"), 1, d.log())
        # never read as a cadence: after the ride's last values, 0 and nothing else
        cadences = self.signals.changes("Cadence")
        self.assertLess(max(cadences), 85.0)
        self.assertEqual(cadences[-1], 0.0)

    # -- BLE sensors -----------------------------------------------------------------------

    def test_csc_sensor_full_warmup_with_wraps(self):
        # the crank counter starts at 65500 and the event time at 60000/1024 s: both wrap
        spans = [(3, 0), (620, 80), (10, 0)]
        trace = self.write_lines("csc.trace", gt.revolution_lines(spans, "csc", seed=7))
        self.replay(trace)
        self.assert_complete(80)
        s = self.sensor()
        self.assertEqual(s["DroppedPackets"], 0)
        # speed from the wheel counter: 2 wheel revolutions a crank revolution, 2105 mm
        speeds = [v for v in self.signals.changes("Speed") if v > 0]
        self.assertTrue(speeds)
        self.assertAlmostEqual(sorted(speeds)[len(speeds) // 2], 80 * 2 * 2.105 * 60 / 1000,
                               delta=1.0)

    def coasting_lines(self, pedal_s=15, coast_s=20, wheel=False, power_s=0):
        """A CSC sensor notifying once a second, at whole seconds: `pedal_s` seconds at 60 rpm
        (a crank event every second; with `wheel`, 3 wheel revolutions a second too), then
        `coast_s` seconds of the same frame repeated: the crank stopped, the sensor still
        sending. StaleAfter (3 s) after the last new revolution falls exactly on a frame.
        With `power_s`, a power meter (CPS) sends 150 W at each half second for its first
        `power_s` seconds, then falls silent."""
        lines = []
        for t in range(pedal_s + coast_s):
            n = min(t, pedal_s - 1)
            wheel_data = (3000 + 3 * n, n * 1024) if wheel else None
            payload = gt.encode_csc_measurement(wheel=wheel_data, crank=(1000 + n, n * 1024))
            lines.append(gt.format_event(float(t), "csc.measurement", gt.hexbytes(payload)))
            if t < power_s:
                lines.append(gt.format_event(t + 0.5, "cps.measurement",
                                             gt.hexbytes(gt.encode_cps_measurement(150))))
        return lines

    def test_coasting_repeats_at_the_stale_instant_show_0(self):
        # the frame at the stale instant came before the fall to 0 was published, and the
        # estimator had nothing left to change: Sensor1.Cadence stayed at 34.29 for good
        trace = self.write_lines("coast.trace", self.coasting_lines())
        self.replay(trace)
        self.assertEqual(self.sensor()["Cadence"], 0.0)
        self.assertEqual(self.warmup()["Cadence"], 0.0)
        self.assertEqual(self.warmup()["State"], "paused")

    def test_stopped_wheel_shows_speed_0(self):
        # a stopped wheel kept 22.73 km/h on Sensor1.Speed for good while repeats came
        trace = self.write_lines("coast-wheel.trace", self.coasting_lines(wheel=True))
        self.replay(trace)
        s = self.sensor()
        self.assertEqual(s["Speed"], 0.0)
        self.assertEqual(s["Cadence"], 0.0)
        self.assertEqual(self.warmup()["Speed"], 0.0)
        speeds = self.signals.changes("Speed")      # Warmup1's, throttled
        self.assertAlmostEqual(max(speeds), 3 * 2.105 * 3.6, delta=0.01)

    def test_silent_power_meter_shows_power_0(self):
        # the power meter stops at 10 s, the cadence sensor goes on: Sensor1.Power kept 150
        trace = self.write_lines("coast-power.trace", self.coasting_lines(power_s=10))
        self.replay(trace)
        self.assertEqual(self.sensor()["Power"], 0.0)
        self.assertEqual(self.warmup()["Power"], 0.0)
        self.assertIn(150.0, self.signals.changes("Power"))

    def test_cps_power_meter_full_warmup(self):
        spans = [(3, 0), (620, 70), (10, 0)]
        trace = self.write_lines("cps.trace", gt.revolution_lines(spans, "cps", seed=8))
        self.replay(trace)
        w, summary = self.assert_complete(70)
        self.assertAlmostEqual(summary["avg_power"], 1.6 * 70, delta=1.0)

    def test_wheel_circumference_setting(self):
        spans = [(3, 0), (60, 80)]
        trace = self.write_lines("wheel.trace", gt.revolution_lines(spans, "csc", seed=9))
        self.replay(trace, config=self.write_config("[Sensors]\nWheelCircumference=1000\n"))
        speeds = sorted(v for v in self.signals.changes("Speed") if v > 0)
        self.assertAlmostEqual(speeds[len(speeds) // 2], 80 * 2 * 1.0 * 60 / 1000, delta=0.6)

    def test_malformed_measurements_are_dropped(self):
        lines = gt.revolution_lines([(3, 0), (30, 80)], "csc", seed=10)
        lines += ["10.500 csc.measurement 03 01 02", "11.500 cps.measurement 20 00 64 00 01"]
        d = self.replay(self.write_lines("bad.trace", lines))
        self.assertEqual(self.sensor()["DroppedPackets"], 2)
        self.assertTrue(d.running())
        self.assertEqual(self.warmup()["State"], "warming-up")

    # -- several sources: priority ---------------------------------------------------------

    def mixed_trace(self):
        """The bike says 75 rpm (FTMS), a reed switch on the same crank says 90."""
        bike = gt.generate([gt.stop(3), gt.pedal(620, cadence=75, resistance=20),
                            gt.stop(10)], rate=1)
        reed = gt.revolution_lines([(3, 0), (620, 90), (10, 0)], "gpio", seed=11)
        return self.write_lines("mixed.trace", bike.lines + reed)

    def test_priority_ftms_first(self):
        self.replay(self.mixed_trace())
        w, summary = self.assert_complete(75, tolerance=0.5)
        self.assertLess(summary["max_cadence"], 80.0)

    def test_priority_configurable(self):
        config = self.write_config("[Sensors]\nCadencePriority=gpio,ftms\n")
        self.replay(self.mixed_trace(), config=config)
        w, summary = self.assert_complete(90)

    def test_recording_of_a_reed_switch_and_a_crank_sensor_counts_as_the_sensor_alone(self):
        """A recording of a reed switch and a CSC sensor on the same ride: each kind has its
        own estimator in the replay, as the two sources had live. With csc ranked first the
        reed switch's edges change nothing of what is counted. One shared estimator once lost
        3.1 s of this ride (the edges moved the crank counter's anchor)."""
        spans = [(3, 0), (100, 60), (4, 0), (80, 60), (7, 0), (60, 45), (2.5, 0), (90, 60),
                 (10, 0)]
        csc = gt.revolution_lines(spans, "csc", seed=3)
        reed = gt.revolution_lines(spans, "gpio", seed=11)
        elapsed = {}
        for name, lines in (("csc", csc), ("csc-and-reed", csc + reed)):
            d = self.replay(self.write_lines(name + ".trace", lines))
            elapsed[name] = self.warmup()["Elapsed"]
            self.assertEqual(d.terminate(), 0, d.log())
        self.assertGreater(elapsed["csc"], 300)
        self.assertEqual(elapsed["csc-and-reed"], elapsed["csc"])

    def test_bad_priority_is_a_config_error(self):
        config = self.write_config("[Sensors]\nCadencePriority=ftms,bogus\n")
        d = self.start_daemon(os.path.join(wutest.TRACES, "still.trace"), config=config,
                              wait=False)
        self.assertEqual(d.wait_exit(), 1)
        self.assertIn("[Sensors] CadencePriority: 'bogus' is not a source kind", d.log())


if __name__ == "__main__":
    wutest.main()
