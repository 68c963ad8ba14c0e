#!/usr/bin/python3
"""Integration tests: the real warmupd on a private session bus, replaying traces in virtual
time (--speed 0), observed from a real D-Bus client (and from warmupctl). TAP output."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import (BUS_NAME, OBJECT_PATH, OM_IFACE, REPLAY_PATH, SENSOR_IFACE,  # noqa: E402
                    TIMEOUT, TRACES, WARMUP_IFACE, WARMUPCTL, WARMUPD, Gio, event_lines,
                    wait_for)

gt = wutest.gen_trace()

DEFAULT_ROUTINE = "after-bike-warmup"
SUMMARY_KEYS = {"duration", "avg_cadence", "max_cadence", "avg_power", "max_power", "pauses",
                "recaps", "source"}

# Documented values before anything happened (-1: unknown), to check that the first
# PropertiesChanged of a property really is a change.
WARMUP_INITIAL = {"State": "idle", "Elapsed": 0.0, "Cadence": -1.0, "Power": -1.0,
                  "Speed": -1.0, "Resistance": -1.0, "ResistanceCap": -1.0, "Hint": "",
                  "Pauses": 0}
SENSOR_INITIAL = {"Cadence": -1.0, "Power": -1.0, "Speed": -1.0, "Resistance": -1.0,
                  "HeartRate": -1.0, "Distance": -1.0, "DroppedPackets": 0, "Events": 0,
                  "Finished": False, "Error": ""}


def straight_segments(seconds=700):
    """Rest 3 s, pedal at exactly 75 rpm / resistance 20 / 120 W, rest 10 s."""
    return [gt.stop(3), gt.pedal(seconds, cadence=75, resistance=20, power=120), gt.stop(10)]


class ReplayTests(wutest.WarmupdTestCase):

    # -- helpers ---------------------------------------------------------------------

    def assert_single_floor_routine(self, routine=DEFAULT_ROUTINE):
        self.assertEqual(len(self.signals.floor), 1,
                         "StartFloorRoutine must be emitted exactly once: %r" % self.signals.floor)
        got_routine, summary, published_state = self.signals.floor[0]
        self.assertEqual(got_routine, routine)
        self.assertEqual(set(summary), SUMMARY_KEYS)
        # State = complete is published before the signal (README, service.c)
        self.assertEqual(published_state, "complete",
                         "State was not 'complete' on the bus when StartFloorRoutine arrived")
        return summary

    def assert_no_repeated_values(self, iface, path, initial):
        """No PropertiesChanged carries a value equal to the previous value of that property
        (the first one is compared with the documented initial value)."""
        previous = dict(initial)
        for p, i, changed, invalidated in self.signals.props:
            if p != path or i != iface:
                continue
            self.assertEqual(invalidated, [], "properties invalidated instead of sent")
            for name, value in changed.items():
                if name in previous:
                    self.assertNotEqual(value, previous[name],
                                        "%s.%s re-announced unchanged (%r)" % (iface, name, value))
                previous[name] = value

    # -- 1. a straight ten minutes -----------------------------------------------------

    def test_straight_ten_minutes(self):
        path, trace = self.write_trace("straight.trace", straight_segments())
        self.assertGreater(trace.pedalling_seconds(), 600)
        d = self.replay(path)

        w = self.warmup()
        self.assertEqual(w["State"], "complete")
        self.assertEqual(w["Elapsed"], 600.0)
        self.assertEqual(w["Duration"], 600.0)
        self.assertEqual(w["ResistanceCap"], -1.0)
        self.assertEqual(w["Hint"], "")
        self.assertEqual(w["Pauses"], 0)
        self.assertEqual(w["Source"], "replay:straight.trace")
        self.assertEqual(w["Routine"], DEFAULT_ROUTINE)
        self.assertEqual(w["Resistance"], 20.0)
        self.assertEqual(w["Cadence"], 0.0)          # the final rest

        summary = self.assert_single_floor_routine()
        self.assertEqual(summary["duration"], 600.0)
        self.assertEqual(summary["avg_cadence"], 75.0)
        self.assertEqual(summary["max_cadence"], 75.0)
        self.assertEqual(summary["avg_power"], 120.0)
        self.assertEqual(summary["max_power"], 120.0)
        self.assertEqual(summary["pauses"], 0)
        self.assertEqual(summary["recaps"], 0)
        self.assertEqual(summary["source"], "replay:straight.trace")

        # the cap: 30 % of 0..100 while warming up, released at the end
        caps = self.signals.changes("ResistanceCap")
        self.assertIn(30.0, caps)
        self.assertEqual(caps[-1], -1.0)
        states = self.signals.changes("State")
        self.assertIn("warming-up", states)
        self.assertEqual(states[-1], "complete")

        s = self.sensor()
        self.assertTrue(s["Finished"])
        self.assertTrue(s["Connected"])
        self.assertEqual(s["Kind"], "replay")
        self.assertEqual(s["DroppedPackets"], 0)
        self.assertEqual(s["Events"], len(trace.lines))
        self.assertEqual(s["Error"], "")

        self.assert_in_log(d, "warm-up idle -> warming-up")
        self.assert_in_log(d, "warm-up warming-up -> complete")
        self.assertLess(d.log().index("idle -> warming-up"), d.log().index("warming-up -> complete"))

    def test_file_name_not_utf8(self):
        """A trace whose file name is not UTF-8 (byte 0xE9, a Latin-1 e acute): the names
        on D-Bus are its display name, U+FFFD for the byte, instead of a GLib critical
        (fatal under the harness) and empty strings."""
        path = os.path.join(self.tmpdir, os.fsdecode(b"d\xe9mo.trace"))
        shutil.copyfile(os.path.join(wutest.SRCDIR, "data", "traces", "demo.trace"), path)
        d = self.replay(path)
        shown = "d\ufffdmo.trace"

        s = self.sensor()
        self.assertTrue(s["Finished"])
        self.assertEqual(s["Name"], shown)
        self.assertEqual(s["Address"], os.path.join(self.tmpdir, shown))
        self.assertEqual(self.warmup()["Source"], "replay:" + shown)
        summary = self.assert_single_floor_routine()
        self.assertEqual(summary["source"], "replay:" + shown)
        self.assertNotIn("CRITICAL", d.log())

    # -- 2. pause and resume -------------------------------------------------------------

    def test_pause_and_resume(self):
        path, trace = self.write_trace("pause.trace", [
            gt.stop(3), gt.pedal(300, cadence=75, resistance=20, power=120), gt.stop(60),
            gt.pedal(400, cadence=75, resistance=20, power=120), gt.stop(10)])
        d = self.replay(path)

        w = self.warmup()
        self.assertEqual(w["State"], "complete")
        self.assertEqual(w["Elapsed"], 600.0)
        self.assertEqual(w["Pauses"], 1)
        summary = self.assert_single_floor_routine()
        self.assertEqual(summary["duration"], 600.0)
        self.assertEqual(summary["pauses"], 1)
        self.assertEqual(summary["avg_cadence"], 75.0)
        self.assertEqual(self.signals.changes("ResistanceCap")[-1], -1.0)
        self.assert_in_log(d, "warm-up warming-up -> paused")
        self.assert_in_log(d, "warm-up paused -> warming-up")

    def test_pause_counts_only_pedalling(self):
        # ends mid warm-up: 199 s + 99 s counted, the 60 s stop (and its edges) not
        path, trace = self.write_trace("pause-mid.trace", [
            gt.stop(3), gt.pedal(200, cadence=75, resistance=20), gt.stop(60),
            gt.pedal(100, cadence=75, resistance=20)])
        self.assertEqual(trace.pedalling_seconds(), 298.0)
        self.replay(path)

        w = self.warmup()
        self.assertEqual(w["State"], "warming-up")
        self.assertEqual(w["Elapsed"], 298.0)
        self.assertEqual(w["Pauses"], 1)
        self.assertEqual(w["ResistanceCap"], 30.0)
        self.assertEqual(w["Cadence"], 75.0)
        self.assertEqual(self.signals.floor, [])

    def test_trace_ending_in_a_stop_is_paused(self):
        path, trace = self.write_trace("stop-end.trace", [
            gt.stop(3), gt.pedal(50, cadence=75, resistance=20), gt.stop(30)])
        self.replay(path)
        w = self.warmup()
        self.assertEqual(w["State"], "paused")
        self.assertEqual(w["Elapsed"], 49.0)
        self.assertEqual(w["Pauses"], 1)
        self.assertEqual(w["Cadence"], 0.0)
        self.assertEqual(w["ResistanceCap"], 30.0)

    # -- 3. abandon ------------------------------------------------------------------------

    def test_abandon(self):
        path, trace = self.write_trace("abandon.trace", [
            gt.stop(3), gt.pedal(100, cadence=75, resistance=20), gt.stop(400)])
        d = self.replay(path)

        w = self.warmup()
        self.assertEqual(w["State"], "cancelled")
        self.assertEqual(w["Elapsed"], trace.pedalling_seconds())
        self.assertEqual(w["Elapsed"], 99.0)
        self.assertEqual(w["ResistanceCap"], -1.0)
        self.assertEqual(w["Pauses"], 1)
        self.assertEqual(self.signals.floor, [])
        caps = self.signals.changes("ResistanceCap")
        self.assertIn(30.0, caps)
        self.assertEqual(caps[-1], -1.0)
        self.assert_in_log(d, "warm-up paused -> cancelled")

    def test_back_to_idle_after_abandon(self):
        # cancelled 300 s into the pause (t=407), then idle after 300 s more of rest (t=707)
        path, trace = self.write_trace("abandon-idle.trace", [
            gt.stop(3), gt.pedal(100, cadence=75, resistance=20), gt.stop(720)])
        d = self.replay(path)
        w = self.warmup()
        self.assertEqual(w["State"], "idle")
        self.assertEqual(w["Elapsed"], 0.0)
        self.assertEqual(w["Pauses"], 0)
        self.assertEqual(w["ResistanceCap"], -1.0)
        self.assertEqual(self.signals.floor, [])
        self.assert_in_log(d, "warm-up cancelled -> idle")

    # -- 4. link flaps ---------------------------------------------------------------------

    def test_link_flaps(self):
        segments = [gt.stop(3), gt.pedal(150, cadence=75, resistance=20)]
        for _ in range(3):
            segments += [gt.link_down(), gt.pedal(5, cadence=75, resistance=20), gt.link_up(),
                         gt.pedal(100, cadence=75, resistance=20)]
        segments += [gt.pedal(300, cadence=75, resistance=20), gt.stop(5)]
        path, trace = self.write_trace("flaps.trace", segments)
        self.assertGreater(trace.pedalling_seconds(), 600)
        d = self.replay(path)

        w = self.warmup()
        self.assertEqual(w["State"], "complete")
        self.assertEqual(w["Elapsed"], 600.0)
        self.assertEqual(w["Pauses"], 3)
        summary = self.assert_single_floor_routine()
        self.assertEqual(summary["pauses"], 3)
        self.assertEqual(summary["duration"], 600.0)
        s = self.sensor()
        self.assertTrue(s["Connected"])
        self.assertEqual(s["Events"], len(trace.lines))
        self.assertEqual(d.log().count("replay0: link down"), 3)
        self.assertEqual(d.log().count("replay0: link up"), 3)

    def test_trace_ending_with_link_down(self):
        path, trace = self.write_trace("link-down-end.trace", [
            gt.stop(3), gt.pedal(100, cadence=75, resistance=20), gt.link_down()])
        self.replay(path)

        s = self.sensor()
        self.assertFalse(s["Connected"])
        self.assertEqual(s["Cadence"], -1.0)
        w = self.warmup()
        self.assertEqual(w["State"], "paused")
        self.assertEqual(w["Pauses"], 1)
        self.assertEqual(w["Elapsed"], 99.0)
        self.assertEqual(w["Cadence"], -1.0)      # nothing is believed from a lost bike
        self.assertEqual(self.signals.changes("Connected", SENSOR_IFACE, REPLAY_PATH)[-1], False)

    # -- 5. too fast -------------------------------------------------------------------------

    def ease_off_trace(self):
        # spin at exactly 110 rpm from t=33 to t=52: hint at t=43, cleared at t=53
        return self.write_trace("spin.trace", [
            gt.stop(3), gt.pedal(30, cadence=75, resistance=20), gt.spin(20, cadence=110),
            gt.pedal(30, cadence=75, resistance=20)])

    def check_ease_off(self, daemon):
        self.assert_in_log(daemon, "hint: ease-off")
        self.assert_in_log(daemon, "hint: (none)")
        self.assertEqual(self.warmup()["Hint"], "")
        hints = self.signals.changes("Hint")
        self.assertIn("ease-off", hints, "no PropertiesChanged carried Hint 'ease-off'")
        self.assertEqual(hints[-1], "")
        self.assertGreater(hints.index(""), hints.index("ease-off"))

    def test_ease_off_hint_timed_replay(self):
        # at 40x the replay goes back to the main loop between events: every change is sent
        path, trace = self.ease_off_trace()
        d = self.replay(path, speed=40)
        self.check_ease_off(d)

    def test_ease_off_hint_virtual_time(self):
        # the hint comes and goes within one virtual-time batch of events: transitions
        # must still be announced (they are flushed at once, not coalesced)
        path, trace = self.ease_off_trace()
        d = self.replay(path)
        self.check_ease_off(d)

    def test_ease_off_hint_long_spin(self):
        # a spin longer than any batch: the hint is announced even in virtual time
        path, trace = self.write_trace("long-spin.trace", [
            gt.stop(3), gt.pedal(30, cadence=75, resistance=20), gt.spin(400, cadence=110),
            gt.pedal(30, cadence=75, resistance=20)])
        d = self.replay(path)
        self.check_ease_off(d)
        self.assertEqual(self.warmup()["State"], "warming-up")

    # -- 6. garbage payloads -----------------------------------------------------------------

    def test_garbage_payloads(self):
        path, trace = self.write_trace("garbage.trace", [
            gt.stop(3), gt.pedal(100, cadence=75, resistance=20), gt.garbage(),
            gt.pedal(100, cadence=75, resistance=20), gt.garbage(),
            gt.garbage(kind="ftms.resistance-range", hexbytes="00 00"),
            gt.garbage(hexbytes="74"),
            gt.pedal(450, cadence=75, resistance=20), gt.stop(5)])
        self.replay(path)

        s = self.sensor()
        self.assertEqual(s["DroppedPackets"], 4)
        self.assertEqual(s["Events"], len(trace.lines))
        w = self.warmup()
        self.assertEqual(w["State"], "complete")
        self.assertEqual(w["Elapsed"], 600.0)
        self.assert_single_floor_routine()

    # -- 7. malformed traces ------------------------------------------------------------------

    def check_malformed(self, path, expected_line, reason_re=None):
        started = time.monotonic()
        d = self.start_daemon(path, wait=False)
        status = d.wait_exit()
        self.assertNotEqual(status, 0)
        self.assertLess(time.monotonic() - started, 10 * (10 if wutest.VALGRIND else 1),
                        "a malformed trace must stop warmupd at once")
        log = d.log()
        self.assertIn("%s:%d:" % (path, expected_line), log)
        if reason_re:
            self.assertRegex(log, reason_re)
        drain_and_check = self.bus.name_owner()
        self.assertIsNone(drain_and_check)
        wutest.drain()
        self.assertEqual(self.signals.owners, [], "warmupd owned the bus name")
        self.assertEqual(self.signals.props, [])

    @staticmethod
    def line_of(path, predicate):
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if predicate(line):
                    return number
        raise AssertionError("no such line in %s" % path)

    def test_malformed_unknown_kind(self):
        path = os.path.join(TRACES, "bad-kind.trace")
        line = self.line_of(path, lambda l: "ftms.bogus" in l)
        self.check_malformed(path, line, r"bogus")

    def test_malformed_time_backwards(self):
        path = os.path.join(TRACES, "time-backwards.trace")
        times = []

        def goes_back(l):
            if l.startswith("#") or not l.strip():
                return False
            times.append(float(l.split()[0]))
            return len(times) > 1 and times[-1] < times[-2]
        line = self.line_of(path, goes_back)
        self.check_malformed(path, line, r"backwards")

    def test_malformed_generated_line(self):
        # a bad line as the very last one: the whole trace is checked before the start
        path, trace = self.write_trace("late-bad.trace", straight_segments())
        with open(path, "a") as f:
            f.write("713.000 ftms.indoor-bike-data 7g 0a\n")
        with open(path) as f:
            last = len(f.read().splitlines())
        self.check_malformed(path, last)

    def test_a_pipe_is_refused(self):
        """A trace is read twice (checked whole, then replayed): a FIFO is refused at once
        with a reason (it replayed nothing, or hung before the main loop, deaf to SIGTERM,
        waiting for a second writer)."""
        fifo = os.path.join(self.tmpdir, "live.trace")
        os.mkfifo(fifo)
        r = self.run_tool([WARMUPD, "--session", "--replay", fifo, "--speed", "0"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Cannot replay trace '%s': not a regular file" % fifo, r.stderr)

    def test_speed_out_of_range_is_refused(self):
        still = os.path.join(TRACES, "still.trace")
        for speed in ("1e-15", "0.005", "-1", "nan", "2e6"):
            r = self.run_tool([WARMUPD, "--session", "--replay", still, "--speed", speed])
            self.assertEqual(r.returncode, 1, speed)
            self.assertIn("--speed must be 0 (virtual time) or a factor from 0.01 to 1000000",
                          r.stderr)

    def test_speed_without_replay_is_refused(self):
        """--speed only sets how fast --replay plays a trace: alone it is a command-line error
        (exit 1), not an option silently ignored by live sensors or --check-config."""
        conf = self.write_config("# defaults\n")
        for argv in (["--check-config", "--config", conf, "--speed", "30"],
                     ["--session", "--config", conf, "--speed", "2"],
                     ["--session", "--config", conf, "--speed=0"]):
            r = self.run_tool([WARMUPD] + argv, timeout=10)
            self.assertEqual(r.returncode, 1, "%r: %s" % (argv, r.stderr))
            self.assertIn("warmupd: --speed needs --replay", r.stderr)
        # still read as a double, and checked, with --replay
        still = os.path.join(TRACES, "still.trace")
        r = self.run_tool([WARMUPD, "--session", "--replay", still, "--speed", "fast"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("Cannot parse double value", r.stderr)

    def test_far_event_at_slow_speed_is_never_due(self):
        # 10^12 s at a hundredth of real time is beyond gint64 µs: never due, not due now
        with open(os.path.join(TRACES, "still.trace")) as f:
            first = next(l for l in f if l[0].isdigit())
        payload = first.split(None, 1)[1]
        path = self.write_file("far.trace", "# warmupd trace 1\n0.000 %s999999999999.000 %s"
                               % (payload, payload))
        d = self.start_daemon(path, speed=0.01, args=["-v"])
        wait_for(lambda: self.sensor()["Events"] >= 1, message="the first event")
        # warmupd -v says when it schedules a wake-up that can never come
        wait_for(lambda: "at 999999999999.000 s trace time, is never due at speed 0.01"
                 in d.log(), message="the far event scheduled as never due")
        self.assertEqual(self.sensor()["Events"], 1)
        self.assertTrue(d.running())
        self.assertEqual(d.terminate(), 0)

    # -- 8. Start() and Stop() over D-Bus ---------------------------------------------------

    def test_start_stop_manual(self):
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        self.replay(os.path.join(TRACES, "still.trace"), config=conf)
        w = self.warmup()
        self.assertEqual(w["State"], "idle")
        self.assertEqual(w["ResistanceCap"], -1.0)

        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        w = self.warmup()
        self.assertEqual(w["State"], "warming-up")
        self.assertEqual(w["ResistanceCap"], 30.0)
        self.assertEqual(w["Elapsed"], 0.0)
        self.assertEqual(self.call_error("Start"), "io.github.warmupd.Error.AlreadyRunning")
        self.assertEqual(self.warmup()["State"], "warming-up")

        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        w = self.warmup()
        self.assertEqual(w["State"], "cancelled")
        self.assertEqual(w["ResistanceCap"], -1.0)
        self.assertEqual(self.call_error("Stop"), "io.github.warmupd.Error.NotRunning")
        self.assertEqual(self.warmup()["State"], "cancelled")

        # a new one may start after a cancelled one
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.assertEqual(self.warmup()["State"], "warming-up")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.barrier()
        self.assertEqual(self.signals.changes("State")[-1], "cancelled")
        self.assertEqual(self.signals.floor, [])

    def test_start_stop_empty_trace(self):
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        self.replay(os.path.join(TRACES, "empty.trace"), config=conf)
        self.assertEqual(self.sensor()["Events"], 0)
        self.assertEqual(self.call_error("Stop"), "io.github.warmupd.Error.NotRunning")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        w = self.warmup()
        self.assertEqual(w["State"], "warming-up")
        self.assertEqual(w["ResistanceCap"], -1.0)   # no range known: no percentage cap
        self.assertEqual(self.call_error("Start"), "io.github.warmupd.Error.AlreadyRunning")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertEqual(self.warmup()["State"], "cancelled")
        self.assertEqual(self.call_error("Stop"), "io.github.warmupd.Error.NotRunning")

    def test_manual_autostart_ignores_pedalling(self):
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        path, trace = self.write_trace("manual.trace", [
            gt.stop(3), gt.pedal(60, cadence=75, resistance=20)])
        self.replay(path, config=conf)
        w = self.warmup()
        self.assertEqual(w["State"], "idle")
        self.assertEqual(w["Elapsed"], 0.0)
        self.assertEqual(w["Cadence"], 75.0)
        self.assertEqual(self.signals.changes("State"), [])

    # -- 9. configuration ---------------------------------------------------------------------

    def test_bad_config_value(self):
        path, trace = self.write_trace("straight.trace", straight_segments())
        for text, line in (("[Warmup]\nDuration=abc\n", 2),
                           ("# warm-up\n[Warmup]\nMinCadence=40\n\nDuration=-5\n", 5)):
            with self.subTest(config=text):
                conf = self.write_config(text, "bad%d.conf" % line)
                d = self.start_daemon(path, config=conf, wait=False, name="bad%d" % line)
                self.assertNotEqual(d.wait_exit(), 0)
                self.assertIn("%s:%d: [Warmup] Duration:" % (conf, line), d.log())
        wutest.drain()
        self.assertEqual(self.signals.owners, [])

    def test_unknown_config_key_warns_but_runs(self):
        conf = self.write_config("[Warmup]\nDuration=60\nColour=blue\n[Routine]\nName=cat-cow\n")
        path, trace = self.write_trace("short.trace", straight_segments(100))
        d = self.replay(path, config=conf)
        self.assertRegex(d.log(), re.escape("%s:3:" % conf) + r".*Colour")
        w = self.warmup()
        self.assertEqual(w["Duration"], 60.0)
        self.assertEqual(w["Elapsed"], 60.0)
        self.assertEqual(w["State"], "complete")
        self.assertEqual(w["Routine"], "cat-cow")
        summary = self.assert_single_floor_routine("cat-cow")
        self.assertEqual(summary["duration"], 60.0)

    # -- 10. --record ---------------------------------------------------------------------------

    def test_record_round_trip(self):
        path, trace = self.write_trace("rec-in.trace", [
            gt.stop(3), gt.pedal(60, cadence=(70, 85), resistance=(20, 28)),
            gt.garbage(), gt.event("gpio.edge", "falling"), gt.event("ftms.status", "07 32"),
            gt.link_down(), gt.pedal(3), gt.link_up(), gt.pedal(30), gt.stop(10)], seed=11)
        out = os.path.join(self.tmpdir, "rec-out.trace")
        d = self.replay(path, args=["--record", out])
        first = self.warmup()
        self.assertEqual(d.terminate(), 0)

        with open(out) as f:
            recorded = f.read()
        self.assertTrue(recorded.startswith("# warmupd trace 1\n"))
        with open(path) as f:
            self.assertEqual(event_lines(recorded), event_lines(f.read()))

        # and the recording replays to the same state
        self.replay(out, name="warmupd-again")
        second = self.warmup()
        for w in (first, second):
            del w["Source"]
        self.assertEqual(second, first)
        self.assertEqual(self.sensor()["DroppedPackets"], 1)

    # -- 11. signals --------------------------------------------------------------------------------

    def test_sigterm_exits_zero(self):
        path, trace = self.write_trace("mid.trace", [
            gt.stop(3), gt.pedal(100, cadence=75, resistance=20)])
        d = self.replay(path)
        self.assertEqual(self.warmup()["ResistanceCap"], 30.0)
        self.assertEqual(d.terminate(signal.SIGTERM), 0)
        self.assert_in_log(d, "stopping")
        self.assert_in_log(d, "bike released")
        wait_for(lambda: self.bus.name_owner() is None, message="the name to be released")
        wait_for(lambda: self.signals.owners and self.signals.owners[-1][1] == "",
                 message="NameOwnerChanged to nobody")

    def test_sigint_exits_zero_while_idle(self):
        d = self.replay(os.path.join(TRACES, "still.trace"))
        self.assertEqual(self.warmup()["State"], "idle")
        self.assertEqual(d.terminate(signal.SIGINT), 0)

    # -- 12. warmupctl --------------------------------------------------------------------------------

    def test_warmupctl_not_running(self):
        r = self.run_tool([WARMUPCTL, "--session", "status"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("not running", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_warmupctl_bad_usage_without_a_bus(self):
        """Bad usage is exit status 2 (warmupctl(1)) before any bus is tried: the same with
        neither bus reachable."""
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/bus",
                   DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/bus")
        bad_usages = (["--guide", "status"], ["--guide"], ["--guide", "start"],
                      ["--guide", "stop"], ["status", "extra"], ["bogus"], ["--bogus"],
                      ["-w", "x", "status"], ["routine"], ["routines", "extra"],
                      ["guide", "a", "b"], ["history", "extra"], ["history", "--limit", "-1"],
                      ["-w", "-5", "status"], ["--wait=-1", "watch"], ["-w", "-1", "routines"],
                      ["routine", "--wait", "-5", "key-exercises"], ["history", "-w", "-5"],
                      ["routine", os.fsdecode(b"\xff")], ["guide", os.fsdecode(b"ab\xffc")])
        for bus in ([], ["--session"]):
            for args in bad_usages:
                r = self.run_tool([WARMUPCTL] + bus + args, env=env)
                self.assertEqual(r.returncode, 2, "%r: %s" % (bus + args, r.stderr))
                self.assertNotIn("cannot reach", r.stderr, bus + args)
                if any(a in ("-5", "-1", "--wait=-1") for a in args) and "--limit" not in args:
                    self.assertIn("--wait must be 0", r.stderr, bus + args)
            r = self.run_tool([WARMUPCTL] + bus + ["status"], env=env)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("cannot reach the %s bus" % ("session" if bus else "system"), r.stderr)

    def run_watch(self, speed):
        """warmupctl --wait 10 watch started before warmupd (and known to be waiting for it),
        then warmupd replaying a straight ten minutes at `speed`. Returns (status, out, err)."""
        path, trace = self.write_trace("watch.trace", straight_segments())
        # know when warmupctl is ready: its proxy asks the bus who owns the name
        monitor = wutest.Monitor(self.bus, ["type='method_call',member='GetNameOwner'"])
        try:
            watch = subprocess.Popen([WARMUPCTL, "--session", "--wait", "10", "watch"],
                                     env=self.bus.env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True)
            try:
                wait_for(lambda: monitor.seen("GetNameOwner", BUS_NAME) or watch.poll() is not None,
                         message="warmupctl to look for warmupd")
                self.assertIsNone(watch.poll(), "warmupctl exited before warmupd started")
                self.replay(path, speed=speed)
                out, err = watch.communicate(timeout=TIMEOUT)
            finally:
                if watch.poll() is None:
                    watch.kill()
                    watch.communicate()
        finally:
            monitor.close()
        return watch.returncode, out, err

    def check_watch_output(self, status, out, err):
        self.assertEqual(status, 0, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertIn("Warm-up complete. Time for the floor routine: after-bike-warmup", out)
        self.assertRegex(out, r"pedalled\s+10:00")
        self.assertRegex(out, r"cadence\s+75 rpm average, 75 rpm max")
        self.assertRegex(out, r"power\s+120 W average")
        self.assertRegex(out, r"pauses\s+0")
        self.assertNotIn("\033", out)     # not a terminal: plain lines

    def test_warmupctl_watch_and_status(self):
        # 200x: a live-like replay (timers between events), completes ~3 s in
        self.check_watch_output(*self.run_watch(speed=200))

        r = self.run_tool([WARMUPCTL, "--session", "status"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^State:\s+complete$")
        self.assertRegex(r.stdout, r"(?m)^Elapsed:\s+10:00 of 10:00$")
        self.assertRegex(r.stdout, r"(?m)^Source:\s+replay:watch.trace$")
        self.assertRegex(r.stdout, r"(?m)^Routine:\s+after-bike-warmup$")

    def test_warmupctl_watch_virtual_time(self):
        # the whole warm-up is over within milliseconds of warmupd appearing: watch must
        # already be listening (it connects its handlers before --wait)
        self.check_watch_output(*self.run_watch(speed=0))

    def test_warmupctl_watch_after_the_warmup_completed(self):
        """watch attached when the warm-up is already complete (a replay over, its
        StartFloorRoutine gone before watch came): it is time for the floor routine now, so
        watch says so and exits 0 instead of waiting for a next warm-up (forever here)."""
        path, _ = self.write_trace("watch.trace", straight_segments())
        self.replay(path)
        self.assertEqual(self.warmup()["State"], "complete")
        r = self.run_tool([WARMUPCTL, "--session", "watch"], timeout=10)
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        lines = r.stdout.splitlines()
        self.assertIn(" complete ", lines[0])
        self.assertEqual(lines[1], "Warm-up complete. Time for the floor routine: "
                         "after-bike-warmup")
        self.assertRegex(r.stdout, r"pedalled\s+10:00")
        self.assertRegex(r.stdout, r"pauses\s+0")

    def test_warmupctl_watch_warmupd_killed(self):
        """warmupd vanishes under `watch`: GDBusProxy invalidates every property before it says
        the owner changed; watch prints no line of emptied values ("(null)"), says warmupd
        went away and exits 1."""
        d = self.start_daemon()
        out_path = os.path.join(self.tmpdir, "watch.out")
        with open(out_path, "w") as out_file:
            watch = subprocess.Popen([WARMUPCTL, "--session", "watch"], env=self.bus.env(),
                                     stdin=subprocess.DEVNULL, stdout=out_file,
                                     stderr=subprocess.PIPE, universal_newlines=True)
        try:
            def first_line():
                if watch.poll() is not None:
                    raise AssertionError("warmupctl watch exited early (%s)" % watch.returncode)
                with open(out_path) as f:
                    return "\n" in f.read()
            wait_for(first_line, message="watch's first line")
            self.kill_daemon(d)
            _, err = watch.communicate(timeout=TIMEOUT)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.communicate()
        with open(out_path) as f:
            out = f.read()
        self.assertEqual(watch.returncode, 1, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertIn("warmupd went away", err)
        self.assertNotIn("(null)", out)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertIn(" idle ", out)

    def test_warmupctl_start_stop(self):
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        self.replay(os.path.join(TRACES, "still.trace"), config=conf)
        ctl = [WARMUPCTL, "--session"]
        r = self.run_tool(ctl + ["start"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warmup()["State"], "warming-up")
        r = self.run_tool(ctl + ["start"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("io.github.warmupd.Error.AlreadyRunning", r.stderr)
        r = self.run_tool(ctl + ["stop"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.warmup()["State"], "cancelled")
        r = self.run_tool(ctl + ["stop"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("io.github.warmupd.Error.NotRunning", r.stderr)
        r = self.run_tool(ctl + ["status"])
        self.assertRegex(r.stdout, r"(?m)^State:\s+cancelled$")

    # -- 13. PropertiesChanged only on change ---------------------------------------------------

    def check_changes_only(self, trace_path):
        self.replay(trace_path)
        base = os.path.basename(trace_path)
        warmup_initial = dict(WARMUP_INITIAL, Duration=600.0, Source="replay:" + base,
                              Routine=DEFAULT_ROUTINE)
        self.assert_no_repeated_values(WARMUP_IFACE, OBJECT_PATH, warmup_initial)
        self.assert_no_repeated_values(SENSOR_IFACE, REPLAY_PATH, SENSOR_INITIAL)
        for prop in ("Duration", "Source", "Routine"):
            self.assertLessEqual(len(self.signals.changes(prop)), 1, prop)
        for prop in ("Kind", "Name", "Address"):
            self.assertLessEqual(len(self.signals.changes(prop, SENSOR_IFACE, REPLAY_PATH)), 1)
        # something was announced, and the announced values end where GetAll is
        self.assertGreater(len(self.signals.props), 3)
        for (path, iface), values in self.signals.state.items():
            now = self.get_all(iface, path)
            for name, value in values.items():
                self.assertEqual(value, now[name], "%s %s.%s" % (path, iface, name))

    def test_properties_changed_only_on_change_steady(self):
        path, trace = self.write_trace("steady.trace", straight_segments())
        self.check_changes_only(path)

    def test_properties_changed_only_on_change_demo(self):
        path, trace = self.write_trace("demo.trace", gt.demo_scenario(), seed=1)
        self.check_changes_only(path)
        self.assertEqual(self.warmup()["State"], "complete")
        summary = self.assert_single_floor_routine()
        self.assertGreater(summary["recaps"], 0)   # the over-cap stretch

    # -- 14. ObjectManager ---------------------------------------------------------------------------

    def test_object_manager(self):
        path, trace = self.write_trace("om.trace", straight_segments(30))
        self.replay(path)
        objects = self.call(OBJECT_PATH, OM_IFACE, "GetManagedObjects",
                            reply_type="(a{oa{sa{sv}}})")[0]
        self.assertEqual(list(objects), [REPLAY_PATH])
        self.assertIn(SENSOR_IFACE, objects[REPLAY_PATH])
        props = objects[REPLAY_PATH][SENSOR_IFACE]
        self.assertEqual(props["Kind"], "replay")
        self.assertEqual(props["Name"], "om.trace")
        self.assertEqual(props["Address"], os.path.realpath(path))
        self.assertTrue(props["Finished"])
        self.assertEqual(props, self.sensor())

    def test_replay_cap_published_control_empty(self):
        """warmupd(8): a trace cannot set the resistance; during a replay the cap is worked out
        and published (ResistanceCap) but sent nowhere, and Control stays "" (no live source),
        not "advisory"."""
        path, _ = self.write_trace("cap.trace", [
            gt.stop(3), gt.pedal(50, cadence=75, resistance=20), gt.stop(30)])
        self.replay(path)
        w = self.warmup()
        self.assertEqual(w["ResistanceCap"], 30.0)
        self.assertEqual(w["Control"], "")
        self.assertEqual(self.signals.changes("Control"), [])

    def test_xml_error_list_names_every_method_error(self):
        """The error list at the top of data/io.github.warmupd.xml names exactly the errors its
        methods are documented to return, each one registered in src/error.c."""
        with open(os.path.join(wutest.SRCDIR, "data", "io.github.warmupd.xml")) as f:
            xml = f.read()
        with open(os.path.join(wutest.SRCDIR, "src", "error.c")) as f:
            registered = set(re.findall(r'"io\.github\.warmupd\.Error\.(\w+)"', f.read()))
        header = re.search(r"Errors:(.*?)-->", xml, re.S)
        self.assertIsNotNone(header, "no Errors: list in the XML's first comment")
        listed = re.findall(r"\.(\w+)", header.group(1).replace("io.github.warmupd.Error", ""))
        body = xml[header.end():]
        documented = set(re.findall(r"io\.github\.warmupd\.Error\.(\w+)", body))
        # a short ".WrongState" after a full name in the same sentence
        documented |= set(re.findall(r"(?<![\w.])\.([A-Z]\w+)", body)) & registered
        self.assertEqual(len(listed), len(set(listed)), listed)
        self.assertEqual(set(listed), documented)
        self.assertLessEqual(set(listed), registered)

    def test_introspection_matches_readme(self):
        # What README.md's "D-Bus API" section documents is what the running daemon offers,
        # member by member and type by type (the generated code follows the XML by
        # construction; the README is written by hand).
        self.replay(os.path.join(TRACES, "still.trace"))
        documented = readme_dbus_api()
        for path, iface in ((OBJECT_PATH, WARMUP_IFACE), (OBJECT_PATH, ROUTINE_IFACE),
                            (REPLAY_PATH, SENSOR_IFACE)):
            xml = self.call(path, "org.freedesktop.DBus.Introspectable", "Introspect",
                            reply_type="(s)")[0]
            live = Gio.DBusNodeInfo.new_for_xml(xml).lookup_interface(iface)
            self.assertIsNotNone(live, "%s not on %s" % (iface, path))
            self.assertIn(iface, documented)
            doc = documented[iface]
            self.assertEqual({p.name for p in live.properties}, set(doc["properties"]), iface)
            if iface == SENSOR_IFACE:   # documented in prose: names only
                self.assertGreater(len(doc["properties"]), 10)
                continue
            self.assertEqual({p.name: p.signature for p in live.properties},
                             doc["properties"], iface)

            def args(arg_infos):
                return [a.signature for a in arg_infos]
            self.assertEqual({m.name: (args(m.in_args), args(m.out_args)) for m in live.methods},
                             doc["methods"], iface)
            self.assertEqual({s.name: args(s.args) for s in live.signals}, doc["signals"], iface)


ROUTINE_IFACE = "io.github.warmupd.Routine1"


def readme_dbus_api():
    """README.md's "D-Bus API" section: {interface: {"properties": {name: signature},
    "methods": {name: ([in], [out])}, "signals": {name: [args]}}}; for Sensor1, described in
    prose, properties maps each name to None."""
    with open(os.path.join(wutest.SRCDIR, "README.md")) as f:
        text = f.read()
    section = text[text.index("## D-Bus API"):]
    section = section[:section.index("\n## ", 1)]

    def types(arglist):   # "s routine, a{sv} summary" -> ["s", "a{sv}"]
        return [a.split()[0] for a in arglist.split(",") if a.strip()]

    api = {}
    current = None
    for line in section.splitlines():
        m = re.search(r"`(io\.github\.warmupd\.\w+)`", line)
        if m and not line.startswith("|"):
            current = api.setdefault(m.group(1), {"properties": {}, "methods": {}, "signals": {}})
            if current is api.get(SENSOR_IFACE):
                break
            continue
        if not line.startswith("| `") or current is None:
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = re.findall(r"`([^`]*)`", cells[0])
        kind = cells[1]
        if kind == "signal":
            for n in names:
                name, arglist = re.fullmatch(r"(\w+)\((.*)\)", n).groups()
                current["signals"][name] = types(arglist)
        elif kind == "":
            for n in names:
                name, arglist, ret = re.fullmatch(r"(\w+)\(([^)]*)\)(?: -> (.*))?", n).groups()
                ret = (ret or "").strip()
                out = types(ret[1:-1]) if ret.startswith("(") else ([ret] if ret else [])
                current["methods"][name] = (types(arglist), out)
        else:
            sigs = [t.strip() for t in kind.split(",")]
            if len(sigs) == 1:
                sigs = sigs * len(names)
            current["properties"].update(zip(names, sigs))
    # Sensor1: the backquoted names of the paragraph that starts with its object path
    para = section[section.index("`/io/github/warmupd/sensors/NAME`"):]
    para = para[:para.index("\n\n")]
    names = re.findall(r"`([A-Z]\w*)`", para)
    api.setdefault(SENSOR_IFACE, {"properties": {}, "methods": {}, "signals": {}})
    api[SENSOR_IFACE]["properties"] = {n: None for n in names}
    return api


if __name__ == "__main__":
    wutest.main()
