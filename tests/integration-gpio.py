#!/usr/bin/python3
"""warmupd with a [Gpio] reed switch configured, on a machine where its chip is missing
(CI machines have no GPIO chip; the backend itself is tested against a libgpiod double in
tests/test-gpio). The real daemon must publish the GPIO sensor on D-Bus with the reason on
Sensor1.Error, keep running and keep retrying; a bad [Gpio] value stops it with file, line,
group and key; a replay ignores [Gpio]."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import (OBJECT_PATH, OM_IFACE, SENSOR_IFACE, TRACES, WARMUP_IFACE,  # noqa: E402
                    WARMUPD, wait_for)

MISSING_CHIP = "/nonexistent/gpiochip9"


class GpioTests(wutest.WarmupdTestCase):

    def managed_sensors(self):
        objects = self.call(OBJECT_PATH, OM_IFACE, "GetManagedObjects",
                            reply_type="(a{oa{sa{sv}}})")[0]
        return {path: ifaces[SENSOR_IFACE] for path, ifaces in objects.items()
                if SENSOR_IFACE in ifaces}

    def gpio_sensors(self):
        return {path: props for path, props in self.managed_sensors().items()
                if props["Kind"] == "gpio"}

    def test_missing_chip_is_an_error_on_the_sensor(self):
        conf = self.write_config("[Gpio]\nChip=%s\nLine=17\nBias=pull-up\n" % MISSING_CHIP)
        daemon = self.start_daemon(config=conf)
        wait_for(lambda: len(self.gpio_sensors()) == 1, message="a gpio Sensor1 object")
        path, props = next(iter(self.gpio_sensors().items()))
        self.assertTrue(path.startswith(OBJECT_PATH + "/sensors/gpio"), path)
        self.assertEqual(props["Address"], MISSING_CHIP + ":17")
        self.assertFalse(props["Connected"])
        wait_for(lambda: "No such file or directory" in self.get(SENSOR_IFACE, "Error", path),
                 message="Sensor1.Error to say why the line is not ours")
        self.assertIn(MISSING_CHIP, self.get(SENSOR_IFACE, "Error", path))
        # logged once, with the retry; the daemon keeps serving
        wait_for(lambda: "retrying every 5 s" in daemon.log(), message="the retry in the log")
        self.assertTrue(daemon.running())
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "idle")
        # idle, no cap in force: Control "" (a reed switch made it "advisory" in every state)
        self.assertEqual(self.get(WARMUP_IFACE, "ResistanceCap"), -1.0)
        self.assertEqual(self.get(WARMUP_IFACE, "Control"), "")
        self.assertEqual(daemon.terminate(), 0)

    def test_bad_gpio_value_stops_the_daemon(self):
        conf = self.write_config("[Gpio]\nLine=GPIO17\nEdge=down\n")
        daemon = self.start_daemon(config=conf, wait=False)
        self.assertEqual(daemon.wait_exit(), 1)
        self.assertIn("%s:3: [Gpio] Edge: 'down' is not 'falling', 'rising' or 'both'" % conf,
                      daemon.log())
        check = self.run_tool([WARMUPD, "--check-config", "--config", conf])
        self.assertEqual(check.returncode, 1)
        self.assertIn("[Gpio] Edge", check.stderr)

    def test_sighup_checks_min_cadence_against_the_running_gpio(self):
        # The file alone is fine (4 magnets report down to 5 rpm), but the reed switch keeps
        # running with 1 magnet until a restart, which reports nothing under 20 rpm: the
        # reload is refused, and the running MinCadence stays (it was taken: 10 rpm with 1).
        conf = self.write_config("[Gpio]\nChip=%s\nLine=17\n[Warmup]\nDuration=300\n"
                                 % MISSING_CHIP)
        daemon = self.start_daemon(config=conf)
        self.write_config("[Gpio]\nChip=%s\nLine=17\nPulsesPerRevolution=4\n[Warmup]\n"
                          "Duration=120\nMinCadence=10\n" % MISSING_CHIP)
        check = self.run_tool([WARMUPD, "--check-config", "--config", conf])
        self.assertEqual(check.returncode, 0, check.stderr)
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in daemon.log(), message="the refused reload in the log")
        self.assertIn("%s:7: [Warmup] MinCadence: 10 rpm is not above 20 rpm" % conf,
                      daemon.log())
        self.assertIn("with the running [Gpio] settings", daemon.log())
        self.assertNotIn("reloaded ", daemon.log(), "a refused reload logged as done")
        self.assertEqual(self.get(WARMUP_IFACE, "Duration"), 300.0, "nothing of the file taken")
        self.assertTrue(daemon.running())
        self.assertEqual(daemon.terminate(), 0)

    def test_sighup_keeps_the_running_gpio_settings(self):
        # The GPIO source asked the kernel for falling edges; a reload that switched the
        # decoder to rising (or changed Debounce, PulsesPerRevolution) would count nothing.
        conf = self.write_config("[Gpio]\nChip=%s\nLine=17\n" % MISSING_CHIP)
        daemon = self.start_daemon(config=conf)
        self.write_config("[Gpio]\nChip=%s\nLine=17\nEdge=rising\nDebounce=20\n"
                          "[Sensors]\nWheelCircumference=2000\n[Warmup]\nDuration=120\n"
                          % MISSING_CHIP)
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in daemon.log(), message="the reload in the log")
        log = daemon.log()
        self.assertNotIn("nothing changed", log)
        self.assertIn("[Gpio] Edge falling -> rising (needs a restart)", log)
        self.assertIn("[Gpio] Debounce 5 ms -> 20 ms (needs a restart)", log)
        self.assertIn("[Sensors] WheelCircumference 2105 mm -> 2000 mm (needs a restart)", log)
        self.assertIn("until warmupd is restarted", log)
        # the warm-up settings still apply at once
        wait_for(lambda: self.get(WARMUP_IFACE, "Duration") == 120.0,
                 message="Duration 120 on D-Bus")
        # a second reload of the same file compares with the settings in force (kept)
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: daemon.log().count("needs a restart") >= 6,
                 message="the second reload naming the same restart")
        self.assertEqual(daemon.terminate(), 0)

    def test_replay_ignores_gpio(self):
        conf = self.write_config("[Gpio]\nChip=%s\nLine=17\n" % MISSING_CHIP)
        self.replay(os.path.join(TRACES, "still.trace"), config=conf)
        self.assertEqual(self.gpio_sensors(), {})


if __name__ == "__main__":
    wutest.main()
