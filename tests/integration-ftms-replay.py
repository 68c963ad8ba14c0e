#!/usr/bin/python3
"""Integration tests: the real warmupd replaying FTMS Fitness Machine Status (0x2ADA) and
Training Status (0x2AD3) events in virtual time on a private session bus. The status bytes
go through the same decoders a live bike's notifications do: target resistance above the
cap is re-capped at once, stopped by the user pauses at once, bad payloads are counted in
DroppedPackets. TAP output."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import SENSOR_IFACE, REPLAY_PATH  # noqa: E402

gt = wutest.gen_trace()

# A level cap the Indoor Bike Data below never exceeds (resistance 5), and a ReapplyAfter
# far beyond the trace, so the only re-cap possible is the one the status asks for.
CAP_CONFIG = """\
[Warmup]
Duration=30
[Resistance]
Cap=10
ReapplyAfter=600
"""


def ride(*events, before=15, after=25):
    """Rest 3 s, pedal BEFORE s, the EVENTS (segments) at that moment, pedal AFTER s, rest."""
    return ([gt.stop(3), gt.pedal(before, cadence=75, resistance=5, power=100)] + list(events)
            + [gt.pedal(after, cadence=75, resistance=5, power=100), gt.stop(5)])


class FtmsStatusReplayTests(wutest.WarmupdTestCase):

    def complete_ride(self, *events):
        """Replay a ride with EVENTS in the middle under CAP_CONFIG; return its summary."""
        trace, _ = self.write_trace("status.trace", ride(*events))
        self.replay(trace, config=self.write_config(CAP_CONFIG))
        self.assertEqual(len(self.signals.floor), 1, "the warm-up did not complete")
        return self.signals.floor[0][1]

    def test_target_resistance_above_cap_is_recapped(self):
        # 0x07 with 20.0 (UINT8, 0.1): above the cap of 10
        summary = self.complete_ride(gt.event("ftms.status", "07 c8"))
        self.assertEqual(summary["recaps"], 1)
        self.assertEqual(self.signals.changes("ResistanceCap"), [10.0, -1.0])
        self.assertEqual(self.sensor()["DroppedPackets"], 0)

    def test_target_resistance_sint16_form_above_cap_is_recapped(self):
        # the SINT16 form some bikes send: 30.0
        summary = self.complete_ride(gt.event("ftms.status", "07 2c 01"))
        self.assertEqual(summary["recaps"], 1)

    def test_target_resistance_at_or_below_cap_is_left_alone(self):
        summary = self.complete_ride(gt.event("ftms.status", "07 64"),    # 10.0: the cap
                                     gt.event("ftms.status", "07 32"))    # 5.0
        self.assertEqual(summary["recaps"], 0)

    def test_other_status_opcodes_change_nothing(self):
        summary = self.complete_ride(gt.event("ftms.status", "08 96 00"),
                                     gt.event("ftms.status", "12 00 00 f4 01 28 33"),
                                     gt.event("ftms.status", "ff"),
                                     gt.event("ftms.training-status", "00 02"))
        self.assertEqual(summary["recaps"], 0)
        self.assertEqual(summary["pauses"], 0)
        self.assertEqual(self.sensor()["DroppedPackets"], 0)

    def test_malformed_status_and_training_status_are_dropped(self):
        summary = self.complete_ride(
            gt.event("ftms.status", "42"),                       # unknown op code
            gt.event("ftms.status", "07"),                       # no parameter
            gt.event("ftms.status", "02 07"),                    # neither stop nor pause
            gt.event("ftms.training-status", "01"),              # no status byte
            gt.event("ftms.training-status", "01 02 c3 28"),     # not UTF-8
            gt.event("ftms.training-status", "01 02 57 61 72 6d"))   # fine: "Warm"
        s = self.sensor()
        self.assertEqual(s["DroppedPackets"], 5)
        self.assertEqual(summary["recaps"], 0)
        self.assertEqual(self.warmup()["State"], "complete")

    def test_stopped_by_user_pauses_at_once(self):
        # the trace ends 3 s after the stop: PauseAfter (5 s) alone could not pause it
        trace, _ = self.write_trace("stopped.trace", [
            gt.stop(3), gt.pedal(20, cadence=75, resistance=5, power=100),
            gt.event("ftms.status", "02 02"), gt.stop(3)])
        d = self.replay(trace)
        w = self.warmup()
        self.assertEqual(w["State"], "paused", d.log())
        self.assertEqual(w["Pauses"], 1)
        self.assertEqual(self.signals.changes("State"), ["warming-up", "paused"])

    def test_without_the_stop_status_it_keeps_warming_up(self):
        trace, _ = self.write_trace("not-stopped.trace", [
            gt.stop(3), gt.pedal(20, cadence=75, resistance=5, power=100), gt.stop(3)])
        self.replay(trace)
        self.assertEqual(self.warmup()["State"], "warming-up")

    def test_started_by_user_then_pedalling_resumes(self):
        trace, _ = self.write_trace("resumed.trace", [
            gt.stop(3), gt.pedal(20, cadence=75, resistance=5, power=100),
            gt.event("ftms.status", "02 01"), gt.stop(3),
            gt.event("ftms.status", "04"), gt.pedal(10, cadence=75, resistance=5, power=100)])
        self.replay(trace)
        w = self.warmup()
        self.assertEqual(w["State"], "warming-up")
        self.assertEqual(w["Pauses"], 1)
        self.assertEqual(self.signals.changes("State"), ["warming-up", "paused", "warming-up"])
        self.assertEqual(self.get(SENSOR_IFACE, "DroppedPackets", REPLAY_PATH), 0)


if __name__ == "__main__":
    wutest.main()
