#!/usr/bin/python3
"""warmupd and its service manager: sd_notify readiness, STATUS= lines, watchdog keep-alives,
STOPPING=1; SIGHUP reloads (good and bad config); --check-config; SIGTERM mid-replay.

Each test runs the real src/warmupd on a private session bus (tests/wutest.py). The
service manager's side of sd_notify is a unix datagram socket of the test's own, named by
NOTIFY_SOCKET in warmupd's environment."""

import contextlib
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (skips the whole file when gi or dbus-daemon is missing)
from wutest import WARMUP_IFACE, SENSOR_IFACE, wait_for  # noqa: E402
from bluez_mock import BikeFixtureMixin  # noqa: E402

# How long SIGTERM may take before the test calls it a hang: warmupd may wait up to 3.5 s
# (release_wait_ms() in src/warmupd.c) for a bike's release, so this is only a hang
# detector (stretched when warmupd runs under valgrind).
SIGTERM_HANG = 15.0 * (10 if wutest.VALGRIND else 1)


class NotifySocket:
    """The service manager's end of sd_notify: collects every datagram as a dict of its
    KEY=VALUE lines, with its arrival time (monotonic) and whether the bus name was owned
    when it was read. A thread drains the socket as it fills, as systemd does: a queue
    left full would drop warmupd's datagrams."""

    def __init__(self, tmpdir, bus):
        self.path = os.path.join(tmpdir, "notify")
        self.bus = bus
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.messages = []       # (time, {key: value}, name owned when read)
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def drain(self):
        while not self.closing.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    key, value = line.split("=", 1)
                    fields[key] = value
            owned = self.bus.name_owner() is not None
            with self.lock:
                self.messages.append((time.monotonic(), fields, owned))

    def with_key(self, key, value=None):
        with self.lock:
            return [(t, f, owned) for t, f, owned in self.messages
                    if key in f and (value is None or f[key] == value)]

    def statuses(self):
        return [f["STATUS"] for _, f, _ in self.with_key("STATUS")]

    def close(self):
        self.closing.set()
        self.thread.join()
        self.sock.close()


@contextlib.contextmanager
def environment(**values):
    """Set variables in os.environ (wutest's Daemon copies it) for the duration."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class SignalsTest(BikeFixtureMixin, wutest.WarmupdTestCase):

    def setUp(self):
        super().setUp()
        self.notify = None

    def tearDown(self):
        if self.notify is not None:
            self.diagnostics.append("--- sd_notify messages ---\n" + "\n".join(
                "%.3f %r" % (t, f) for t, f, _ in self.notify.messages))
            self.notify.close()
        super().tearDown()

    def start_notified(self, watchdog_usec=None, **kw):
        """Start warmupd with NOTIFY_SOCKET (and WATCHDOG_USEC) aimed at a socket of ours.
        WATCHDOG_PID stays unset: its pid is not known before the exec, and sd_watchdog_enabled
        accepts that."""
        self.notify = NotifySocket(self.tmpdir, self.bus)
        with environment(NOTIFY_SOCKET=self.notify.path, WATCHDOG_PID=None,
                         WATCHDOG_USEC=None if watchdog_usec is None else str(watchdog_usec)):
            return self.start_daemon(wait=False, **kw)

    def pedal_trace(self, seconds, then_stop=True, name="pedal.trace"):
        g = wutest.gen_trace()
        path, _ = self.write_trace(name, [g.pedal(seconds)] + ([g.stop(10)] if then_stop else []))
        return path

    def status_arrives(self, text, timeout=None):
        wait_for(lambda: any(text in s for s in self.notify.statuses()), timeout,
                 "a STATUS= line with %r (seen: %r)" % (text, self.notify.statuses()[-5:]))

    # -- (a) readiness, status, watchdog, stopping -----------------------------------------

    def test_notify_ready_status_watchdog_stopping(self):
        trace = self.pedal_trace(650)
        d = self.start_notified(watchdog_usec=2000000, replay=trace, speed=0, args=["-v"])

        ready = wait_for(lambda: self.notify.with_key("READY", "1"), message="READY=1")
        _, fields, owned = ready[0]
        self.assertTrue(owned, "READY=1 arrived before io.github.warmupd was owned")
        self.assertIsNotNone(self.bus.name_owner())
        self.assertIn("STATUS", fields, "READY=1 comes with a first STATUS= line")

        # A whole warm-up in virtual time: the status follows the state, but the counted
        # seconds that fly by are not each sent (the per-sample path stays cheap).
        self.status_arrives("complete: floor routine after-bike-warmup")
        self.wait_finished(d)
        statuses = self.notify.statuses()
        self.assertTrue(any(s.startswith("warming up ") and " of 10:00" in s for s in statuses),
                        statuses)
        self.assertLess(len(statuses), 30, "STATUS= sent too often: %r" % statuses)

        # WatchdogSec=2: the keep-alive timer runs at half WATCHDOG_USEC (what warmupd -v
        # announces), and keep-alives keep coming from the main loop. (The measured gaps are
        # printed, not bounded: a loaded machine may wake the loop late.)
        self.assertIn("watchdog: keep-alive every 1000 ms", d.log())
        first = len(self.notify.with_key("WATCHDOG", "1"))
        wait_for(lambda: len(self.notify.with_key("WATCHDOG", "1")) >= first + 3,
                 message="three more WATCHDOG=1 keep-alives")
        times = [t for t, _, _ in self.notify.with_key("WATCHDOG", "1")]
        print("# WATCHDOG=1 gaps (s): %s" % " ".join("%.3f" % (b - a)
                                                    for a, b in zip(times, times[1:])))
        sys.stdout.flush()

        self.assertEqual(d.terminate(timeout=SIGTERM_HANG), 0)
        wait_for(lambda: self.notify.with_key("STOPPING", "1"), message="STOPPING=1")

    def test_notify_waiting_for_a_bike_without_watchdog(self):
        # No source at all, and no WATCHDOG_USEC: ready, a status, the watchdog off (warmupd
        # -v says so before READY=1), and no keep-alives.
        d = self.start_notified(args=["-v"])
        ready = wait_for(lambda: self.notify.with_key("READY", "1"), message="READY=1")
        self.assertEqual(ready[0][1].get("STATUS"), "waiting for a bike")
        self.assertIn("watchdog: off (no WATCHDOG_USEC for this process)", d.log())
        self.assertNotIn("watchdog: keep-alive", d.log())
        self.barrier()
        self.assertEqual(d.terminate(), 0)
        # the socket keeps the order: all warmupd sent before STOPPING=1 is in by now
        wait_for(lambda: self.notify.with_key("STOPPING", "1"), message="STOPPING=1")
        self.assertEqual(self.notify.with_key("WATCHDOG"), [])

    def test_status_stays_one_line(self):
        # A replayed file's name is in the status: a newline in it must not become an
        # assignment of its own (STOPPING=1 here) in the message to systemd.
        trace = self.pedal_trace(30, name="a\nSTOPPING=1.trace")
        d = self.start_notified(replay=trace, speed=1)
        ready = wait_for(lambda: self.notify.with_key("READY", "1"), message="READY=1")
        self.assertIn("a STOPPING=1.trace", ready[0][1]["STATUS"])
        self.assertEqual(self.notify.with_key("STOPPING"), [])
        self.assertEqual(d.terminate(), 0)
        wait_for(lambda: self.notify.with_key("STOPPING", "1"), message="STOPPING=1")

    def test_status_leaves_waiting_for_a_bike_when_one_connects(self):
        # A bike found after READY: the STATUS= line says so (it said "waiting for a bike"
        # until the warm-up's state next changed).
        address = "C0:FF:EE:00:18:26"
        self.start_bike("ftms", cadence=0.0, power=0)
        conf = self.write_config("[Warmup]\nAutostart=pedal\n[Bike]\nAddress=%s\n" % address)
        self.start_notified(config=conf)
        self.status_arrives("waiting for a bike")
        self.wait_sensor("ftms", Address=address, Connected=True)
        self.status_arrives("idle: waiting for pedalling")

    def test_a_full_notify_queue_does_not_stall_warmupd(self):
        # A service manager that reads nothing: once its queue is full, warmupd's
        # keep-alives are dropped (said at debug level), and it goes on: it answers on the
        # bus and stops on SIGTERM. (A blocking send hung the main loop, SIGTERM included.)
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(self.tmpdir, "stalled-notify")
        stalled.bind(path)
        try:
            with environment(NOTIFY_SOCKET=path, WATCHDOG_PID=None, WATCHDOG_USEC="100000"):
                d = self.start_daemon(args=["-v"])
            wait_for(lambda: "Resource temporarily unavailable" in d.log(),
                     message="a keep-alive refused by the full queue")
            self.assertEqual(self.get(WARMUP_IFACE, "State"), "idle")
            self.assertEqual(d.terminate(timeout=SIGTERM_HANG), 0, d.log())
        finally:
            stalled.close()

    def test_watchdog_for_another_pid_is_off(self):
        # WATCHDOG_PID naming another process: the watchdog is not ours to feed.
        self.notify = NotifySocket(self.tmpdir, self.bus)
        with environment(NOTIFY_SOCKET=self.notify.path, WATCHDOG_PID="1",
                         WATCHDOG_USEC="2000000"):
            d = self.start_daemon(wait=False, args=["-v"])
        wait_for(lambda: self.notify.with_key("READY", "1"), message="READY=1")
        self.assertIn("watchdog: off (no WATCHDOG_USEC for this process)", d.log())
        self.assertEqual(d.terminate(), 0)
        wait_for(lambda: self.notify.with_key("STOPPING", "1"), message="STOPPING=1")
        self.assertEqual(self.notify.with_key("WATCHDOG"), [])

    def test_without_notify_socket_nothing_is_sent(self):
        # The default for every other test: NOTIFY_SOCKET unset, warmupd runs as always and
        # its notifier is off from the start (warmupd -v says so): no watchdog either, even
        # with WATCHDOG_USEC set.
        with environment(NOTIFY_SOCKET=None, WATCHDOG_USEC="2000000"):
            d = self.start_daemon(args=["-v"])
        self.assertIn("notify: NOTIFY_SOCKET is unset: nothing is sent to a service manager",
                      d.log())
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "idle")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: "reloaded" in d.log(), message="the reload in the log")
        self.assertEqual(d.terminate(), 0)
        self.assertNotIn("watchdog", d.log())

    # -- teardown before the objects were exported -----------------------------------------

    def daemon_on_address(self, address, **kw):
        """A warmupd whose session bus is ADDRESS instead of the test's bus."""
        d = wutest.Daemon(self, **kw)
        env = self.bus.env()
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        d.bus = type("OtherBus", (), {"env": staticmethod(lambda: dict(env))})
        return d.start()

    def test_unreachable_bus_exits_1_without_criticals(self):
        # G_DEBUG=fatal-criticals: an unexport of what was never exported exits 133
        d = self.daemon_on_address("unix:path=" + os.path.join(self.tmpdir, "no-bus"))
        self.assertEqual(d.wait_exit(), 1, d.log())
        self.assertIn("cannot connect to the bus", d.log())
        self.assertNotIn("CRITICAL", d.log())

    def test_bus_gone_after_start_up_is_logged_as_such(self):
        # the bus closes warmupd's connection once the name is ours (dbus-daemon stops, or
        # drops a client whose message is over its limit): exit 1, and the log says that,
        # not that warmupd could not connect
        other = wutest.Bus(self.tmpdir)
        d = self.daemon_on_address(other.address)
        wait_for(lambda: other.name_owner() is not None, message="warmupd owns the name")
        wait_for(lambda: "ready" in d.log(), message="warmupd ready")
        other.close()
        self.assertEqual(d.wait_exit(), 1, d.log())
        self.assertIn("the bus closed the connection", d.log())
        self.assertNotIn("cannot connect", d.log())
        self.assertNotIn("CRITICAL", d.log())

    def test_bus_gone_mid_replay_exits_1(self):
        # a replay waits for the bus after each batch of events (g_dbus_connection_flush):
        # the bus going away in the middle of one ends warmupd as above, the wait never
        # holding it up (the trace's 600 s at 100x: 6 s, a wait every 32 samples)
        other = wutest.Bus(self.tmpdir)
        d = self.daemon_on_address(other.address, replay=self.pedal_trace(600), speed=100)
        wait_for(lambda: "warm-up idle -> warming-up" in d.log(),
                 message="the replay under way (the warm-up started)")
        other.close()
        self.assertEqual(d.wait_exit(), 1, d.log())
        self.assertIn("the bus closed the connection", d.log())
        self.assertNotIn("end of trace", d.log())
        self.assertNotIn("CRITICAL", d.log())

    def silent_bus_address(self):
        """A bus socket that accepts the connection and never says a word."""
        path = os.path.join(self.tmpdir, "silent-bus")
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(silent.close)
        silent.bind(path)
        silent.listen(1)
        return "unix:path=" + path

    def test_sigterm_before_the_bus_answers_exits_0_without_criticals(self):
        d = self.daemon_on_address(self.silent_bus_address())
        # the signals are watched before the routines are loaded (and logged)
        wait_for(lambda: "routine" in d.log(), message="warmupd to be set up")
        self.assertTrue(d.running(), d.log())
        self.assertEqual(d.terminate(), 0, d.log())
        self.assertNotIn("CRITICAL", d.log())

    def test_sighup_before_the_name_is_owned_sends_no_ready(self):
        # READY=1 means "the name is ours": a reload before that must not announce it
        config = self.write_config("[Warmup]\nDuration=600\n")
        self.notify = NotifySocket(self.tmpdir, self.bus)
        with environment(NOTIFY_SOCKET=self.notify.path, WATCHDOG_PID=None, WATCHDOG_USEC=None):
            d = self.daemon_on_address(self.silent_bus_address(), config=config)
        wait_for(lambda: "routine" in d.log(), message="warmupd to be set up")
        self.write_config("[Warmup]\nDuration=120\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: "reloaded" in d.log(), message="the reload in the log")
        self.assertIn("Duration 600 s -> 120 s", d.log())
        self.assertEqual(d.terminate(), 0, d.log())
        # the socket keeps the order: all warmupd sent before STOPPING=1 is in by now
        wait_for(lambda: self.notify.with_key("STOPPING", "1"), message="STOPPING=1")
        self.assertEqual(self.notify.with_key("READY"), [])
        self.assertEqual(self.notify.with_key("RELOADING"), [])

    # -- (b) SIGHUP with a changed valid config --------------------------------------------

    def test_sighup_applies_a_changed_config(self):
        config = self.write_config("[Warmup]\nDuration=600\n[Routine]\nName=neck-stretch\n")
        trace = self.pedal_trace(60, then_stop=False)
        d = self.start_notified(replay=trace, speed=0, config=config)
        d.wait_owned()
        self.wait_finished(d)
        owner = self.bus.name_owner()
        before = self.warmup()
        self.assertEqual(before["Duration"], 600.0)
        self.assertEqual(before["State"], "warming-up")
        self.assertGreater(before["Elapsed"], 50.0)

        self.write_config("[Warmup]\nDuration=120\n[Routine]\nName=after-bike-warmup\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: self.get(WARMUP_IFACE, "Duration") == 120.0,
                 message="Duration 120 on D-Bus")
        after = self.warmup()
        self.assertEqual(after["Routine"], "after-bike-warmup")
        # the running warm-up keeps its counted time (time stands still after the replay)
        self.assertEqual(after["State"], "warming-up")
        self.assertEqual(after["Elapsed"], before["Elapsed"])
        # the connection was not dropped: same unique name, never released
        self.assertTrue(d.running())
        self.assertEqual(self.bus.name_owner(), owner)
        self.assertEqual([o for o in self.signals.owners if o[1] == ""], [])
        self.assertTrue(self.get(SENSOR_IFACE, "Connected"))
        log = d.log()
        self.assertIn("Duration 600 s -> 120 s", log)
        self.assertIn("Name neck-stretch -> after-bike-warmup", log)
        # the service manager saw the reload
        wait_for(lambda: self.notify.with_key("RELOADING", "1"), message="RELOADING=1")
        reloading = self.notify.with_key("RELOADING", "1")[0][0]
        self.assertIn("MONOTONIC_USEC", self.notify.with_key("RELOADING", "1")[0][1])
        wait_for(lambda: [m for m in self.notify.with_key("READY", "1") if m[0] >= reloading],
                 5, "READY=1 after RELOADING=1")
        self.status_arrives("of 02:00")
        self.assertEqual(d.terminate(), 0)

    def test_sighup_after_completion_keeps_the_announced_routine(self):
        """A complete warm-up's routine is the one StartFloorRoutine named, through a reload
        that names another (as its Duration is): `warmupctl guide` starts Warmup1.Routine,
        and the history refuses a routine that is not the announced one. The next warm-up
        takes the new name."""
        config = self.write_config("[Warmup]\nDuration=60\n[Routine]\nName=neck-stretch\n")
        d = self.start_notified(replay=self.pedal_trace(90), speed=0, config=config)
        d.wait_owned()
        self.wait_finished(d)
        self.assertEqual(self.warmup()["State"], "complete")
        self.status_arrives("complete: floor routine neck-stretch")

        self.write_config("[Warmup]\nDuration=60\n[Routine]\nName=after-bike-warmup\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: "Name neck-stretch -> after-bike-warmup" in d.log(),
                 message="the reload applied")
        wait_for(lambda: [m for m in self.notify.with_key("READY", "1")][1:],
                 message="READY=1 after the reload")
        after = self.warmup()
        self.assertEqual(after["State"], "complete")
        self.assertEqual(after["Routine"], "neck-stretch")
        self.assertIn("complete: floor routine neck-stretch", self.notify.statuses()[-1])

        self.call(wutest.OBJECT_PATH, WARMUP_IFACE, "Start")
        wait_for(lambda: self.get(WARMUP_IFACE, "Routine") == "after-bike-warmup",
                 message="the next warm-up takes the new routine")
        self.assertNotEqual(self.warmup()["State"], "complete")
        self.assertEqual(d.terminate(), 0)

    def test_sighup_to_an_unknown_routine_warns(self):
        """[Routine] Name= switched by a reload to a routine that is not there: the same
        warning as at start-up (the name is still applied, as at start-up)."""
        routines = os.path.join(wutest.SRCDIR, "data", "routines")
        config = self.write_config("[Routine]\nName=key-exercises\n")
        with environment(WARMUPD_ROUTINES_DIR=routines):
            d = self.start_daemon(config=config)
        self.assertNotIn("no such routine", d.log())
        self.write_config("[Routine]\nName=no-such-routine\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: "[Routine] Name=no-such-routine: no such routine in %s" % routines
                 in d.log(), message="the unknown routine warned about")
        self.assertIn("Name key-exercises -> no-such-routine", d.log())
        self.assertEqual(self.get(WARMUP_IFACE, "Routine"), "no-such-routine")
        # back to a routine that is there: no new warning
        self.write_config("[Routine]\nName=after-bike-warmup\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: self.get(WARMUP_IFACE, "Routine") == "after-bike-warmup",
                 message="the reload applied")
        self.assertEqual(d.log().count("no such routine"), 1, d.log())
        self.assertEqual(d.terminate(), 0)

    # -- (c) SIGHUP with a broken config ---------------------------------------------------

    def test_sighup_with_a_bad_value_keeps_the_old_config(self):
        config = self.write_config("[Warmup]\nDuration=600\n")
        d = self.start_daemon(config=config)
        owner = self.bus.name_owner()
        self.write_config("# broken on purpose\n[Warmup]\nDuration=ten minutes\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: "reload failed" in d.log(), message="the failed reload in the log")
        log = d.log()
        self.assertIn("%s:3: [Warmup] Duration:" % config, log)
        self.assertIn("keeping the running configuration", log)
        self.assertTrue(d.running())
        self.assertEqual(self.get(WARMUP_IFACE, "Duration"), 600.0)
        self.assertEqual(self.bus.name_owner(), owner)
        # and a later good reload still works
        self.write_config("[Warmup]\nDuration=300\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: self.get(WARMUP_IFACE, "Duration") == 300.0,
                 message="Duration 300 on D-Bus")
        self.assertEqual(d.terminate(), 0)

    def test_sighup_with_a_syntax_error_keeps_the_old_config(self):
        config = self.write_config("[Warmup]\nDuration=200\n")
        d = self.start_daemon(config=config)
        self.write_config("[Warmup]\nDuration=100\nthis is not a key file line\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: "reload failed" in d.log(), message="the failed reload in the log")
        self.assertIn("%s:3:" % config, d.log())
        self.assertEqual(self.get(WARMUP_IFACE, "Duration"), 200.0)
        self.assertEqual(d.terminate(), 0)

    # -- (d) --check-config ---------------------------------------------------------------

    def check_config(self, path):
        env = dict(os.environ)
        # no bus at all: --check-config must not need one
        env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
        env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
        env.pop("NOTIFY_SOCKET", None)
        # run_tool: under memcheck with WARMUPD_VALGRIND, a sanitizer report fails the test
        return self.run_tool([wutest.WARMUPD, "--check-config", "--config", path], env=env)

    def test_check_config(self):
        good = self.write_config("[Warmup]\nDuration=120\nMinCadence=35\n", "good.conf")
        r = self.check_config(good)
        self.assertEqual((r.returncode, r.stdout), (0, "%s: ok\n" % good), r.stderr)

        bad = self.write_config("[Warmup]\nDuration=120\n[Resistance]\nCap=lots\n", "bad.conf")
        r = self.check_config(bad)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("%s:4: [Resistance] Cap:" % bad, r.stderr)
        self.assertNotIn("ok", r.stdout)

        # an unknown key warns (file:line) and is still ok
        odd = self.write_config("[Warmup]\nDurtion=120\n", "odd.conf")
        r = self.check_config(odd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%s:2:" % odd, r.stderr)
        self.assertIn("%s: ok" % odd, r.stdout)

        # the sample shipped with warmupd is valid
        r = self.check_config(os.path.join(wutest.SRCDIR, "data", "warmupd.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_config_unknown_routine_warns(self):
        # with the routines at hand, a [Routine] Name= that is none of them warns as at
        # start-up, and the file is still ok
        routines = os.path.join(wutest.SRCDIR, "data", "routines")
        unknown = self.write_config("[Routine]\nName=no-such-routine\n", "unknown.conf")
        known = self.write_config("[Routine]\nName=key-exercises\n", "known.conf")
        with environment(WARMUPD_ROUTINES_DIR=routines):
            r = self.check_config(unknown)
            self.assertEqual((r.returncode, r.stdout), (0, "%s: ok\n" % unknown), r.stderr)
            self.assertIn("[Routine] Name=no-such-routine: no such routine in %s" % routines,
                          r.stderr)
            r = self.check_config(known)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "%s: ok\n" % known, ""))
        # no routines directory to look in: nothing to say about the name
        with environment(WARMUPD_ROUTINES_DIR=os.path.join(self.tmpdir, "no-such-dir")):
            r = self.check_config(unknown)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "%s: ok\n" % unknown, ""))

    def test_check_config_sample_uncommented(self):
        # The sample's comments invite uncommenting its groups and keys ("#[Gpio]",
        # "#Key=value"; "# text" stays a comment): all of them at once is a valid file too,
        # with no unknown key (a warning on stderr).
        with open(os.path.join(wutest.SRCDIR, "data", "warmupd.conf")) as f:
            lines = f.read().splitlines(True)
        uncommented = [l[1:] if l[:1] == "#" and (l[1:2].isupper() or l[1:2] == "[") else l
                       for l in lines]
        keys = sum(1 for a, b in zip(lines, uncommented) if a != b and "=" in b)
        self.assertIn("[Gpio]\n", uncommented)
        self.assertGreaterEqual(keys, 20, "keys uncommented")
        path = self.write_config("".join(uncommented), "uncommented.conf")
        r = self.check_config(path)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "%s: ok\n" % path, ""),
                         "".join(uncommented))

    # -- (e) SIGTERM mid-replay at real speed ----------------------------------------------

    def test_sigterm_mid_replay_exits_0_quickly(self):
        trace = self.pedal_trace(600)
        d = self.start_daemon(replay=trace, speed=1)
        # wait until the warm-up runs with the resistance capped: then the bike has something
        # to be released from
        wait_for(lambda: self.get(WARMUP_IFACE, "State") == "warming-up"
                 and self.get(WARMUP_IFACE, "ResistanceCap") >= 0, 20 * (10 if wutest.VALGRIND else 1),
                 "warming-up with a cap")
        self.assertFalse(self.get(SENSOR_IFACE, "Finished"))
        sent = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: d.poll() is not None, SIGTERM_HANG,
                 "warmupd to exit after SIGTERM", step=0.002)
        took = time.monotonic() - sent
        print("# SIGTERM to exit mid-replay: %.3f s" % took)
        sys.stdout.flush()
        self.assertEqual(d.returncode, 0)
        self.assertIn("bike released", d.log())


if __name__ == "__main__":
    wutest.main()
