#!/usr/bin/python3
"""Fault soak: the real warmupd against a simulated FTMS bike (tests/bluez_mock.py) streaming
Indoor Bike Data at 4 Hz, a rider who pedals, stops and rests, and a fault every few seconds
from a seeded schedule in rounds. Run by `make soak` (SOAK_SECONDS, default 1800; SOAK_SEED) and,
for 180 s, by .ci/soak.

Faults come in rounds: each round is every kind below once, in an order shuffled by the seed
(one fault at a time; the next comes 1-5 s after the previous one has recovered):
  link-loss           the bike goes out of range for 0.5-4 s (notify fds hang up)
  bluetoothd-restart  org.bluez vanishes for 0.5-3 s and comes back (a new mock process)
  control-lost        status 0xFF: another app took control
  control-refused     Request Control refused twice (0x05), after a 0xFF
  uint8-rejected      the bike rejects the 1-byte Set Target Resistance; the knob goes up
  malformed           truncated/garbage Indoor Bike Data, Machine Status, Training Status
  status-0x07         the knob goes above the cap and the bike announces it (status 0x07)
  clients             50 clients connect, subscribe, call methods with bad arguments and
                      vanish mid-call (half the time the whole client process is SIGKILLed)
  sighup              the configuration rewritten (1 in 4 with a bad value) and SIGHUP
The kinds that need a cap in force (control-*, uint8, 0x07) are never skipped: while there is
none, the round's other kinds go first, and when only they are left the round waits for the
next warm-up.

Checked throughout (any failure: exit 1, the failures and warmupd's log tail are printed):
  - warmupd stays up and answers (a GetAll every 0.25 s, 5 s timeout);
  - after each fault the system recovers within 60 s: bike connected and streaming, warmupd's
    Sensor1 Connected, and while a session holds the cap: the bike in warmupd's control at or
    below the cap;
  - while a cap is in force (State warming-up or paused, ResistanceCap >= 0) and the link is
    up, the bike's resistance (the mock's own value, from its journal) is never above the cap
    for more than 2 s. (Expect up to about 1 s after status-0x07 or uint8-rejected: warmupd
    writes the same target again no sooner than a second after it last wrote it, so that a
    bike echoing every write with a value above the cap is not written to as fast as it
    answers. The report names the fault that came last before the worst episode.);
  - Elapsed equals the ground truth within 2 s: the journal of the Indoor Bike Data samples
    the bike delivered, counted by the README's rules (time between consecutive pedalling
    samples no more than StaleAfter apart, a link loss in between breaks the run; an
    automatic start counts from the first sample of its run), taken when the Elapsed read
    was published (it follows at most once a second), at most a second before the read;
  - RSS stays bounded (max <= RSS after the first minute + 8 MiB);
  - every finished warm-up has its history row (GetHistory, --state-dir in a temp dir) with
    its outcome and counted seconds;
  - warmupd exits 0 on SIGTERM at the end;
  - coverage, at the end (a check that never ran would pass vacuously): every fault kind
    injected at least once, and at least one Elapsed check, one completed warm-up, one
    history row checked and some time with a cap in force (link up). CI's 180 s covers
    every kind: the first round ends well before (the figures print when it did).

Exit status: 0 all checks passed, 1 a check failed, 77 a tool is missing.
Usage: tests/soak.py [--seconds N] [--seed S] [--keep]
"""

import argparse
import bisect
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PYTHON = "/usr/bin/python3"
SKIP = 77

BUS_NAME = "io.github.warmupd"
OBJECT_PATH = "/io/github/warmupd"
WARMUP_IFACE = "io.github.warmupd.Warmup1"
ROUTINE_IFACE = "io.github.warmupd.Routine1"
SENSOR_IFACE = "io.github.warmupd.Sensor1"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
OM_IFACE = "org.freedesktop.DBus.ObjectManager"

ADDRESS = "C0:FF:EE:00:18:26"
RATE_HZ = 4.0
DURATION = 45
STALE_AFTER = 3.0
PAUSE_AFTER = 5
ABANDON_AFTER = 15
CAP_LIMIT_S = 2.0
COUNT_LIMIT_S = 2.0
# Warmup1's running figures (Elapsed) follow a live source at most this often: the value read
# may be this old, and no older (src/service.c WARMUP_PROGRESS_INTERVAL_US)
PROGRESS_INTERVAL_S = 1.0
RECOVERY_DEADLINE_S = 60.0
RSS_SLACK_KIB = 8 * 1024
CLIENTS = 50
SESSION_STATES = ("warming-up", "paused")

CONFIG = """[Warmup]
Duration=%d
StartAfter=3
PauseAfter=%d
StaleAfter=%d
AbandonAfter=%d
MinCadence=40
MaxCadence=%s
EaseOffAfter=%s
[Resistance]
Cap=30%%
ReapplyAfter=2
[Bike]
Address=%s
"""


def config_text(max_cadence=100, ease_off_after=10):
    return CONFIG % (DURATION, PAUSE_AFTER, STALE_AFTER, ABANDON_AFTER, max_cadence,
                     ease_off_after, ADDRESS)


def _gio():
    import gi
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib
    return Gio, GLib


# ======================================================================================
# The client storm (a child process: its connections vanish with it)
# ======================================================================================

def bad_calls():
    """(path, interface, method, signature, args): each must be answered with an error."""
    _, GLib = _gio()
    return [
        (OBJECT_PATH, PROPS_IFACE, "Get", "(ss)", (WARMUP_IFACE, "NoSuchProperty")),
        (OBJECT_PATH, PROPS_IFACE, "Get", "(s)", ("State",)),
        (OBJECT_PATH, PROPS_IFACE, "Set", "(ssv)", (WARMUP_IFACE, "Elapsed",
                                                    GLib.Variant("d", 0.0))),
        (OBJECT_PATH, PROPS_IFACE, "Set", "(ssv)", (WARMUP_IFACE, "State",
                                                    GLib.Variant("s", "complete"))),
        (OBJECT_PATH, PROPS_IFACE, "GetAll", "(s)", ("no.such.Interface",)),
        (OBJECT_PATH, WARMUP_IFACE, "GetHistory", "(s)", ("all",)),
        (OBJECT_PATH, WARMUP_IFACE, "GetHistory", "(uu)", (1, 2)),
        (OBJECT_PATH, WARMUP_IFACE, "Start", "(s)", ("now",)),
        (OBJECT_PATH, WARMUP_IFACE, "Stop", "(u)", (1,)),
        (OBJECT_PATH, WARMUP_IFACE, "Frobnicate", None, None),
        (OBJECT_PATH + "/nowhere", WARMUP_IFACE, "Stop", None, None),
        (OBJECT_PATH, ROUTINE_IFACE, "GetRoutine", "(s)", ("no-such-routine",)),
        (OBJECT_PATH, ROUTINE_IFACE, "GetRoutine", "(s)", ("../../../etc/passwd",)),
        (OBJECT_PATH, ROUTINE_IFACE, "Begin", "(s)", ("",)),
        (OBJECT_PATH, ROUTINE_IFACE, "Begin", "(u)", (7,)),
        (OBJECT_PATH, ROUTINE_IFACE, "Assess", "(s)", ("\u00e9tonn\u00e9" * 40,)),
        (OBJECT_PATH, ROUTINE_IFACE, "Next", "(i)", (3,)),
        (OBJECT_PATH, ROUTINE_IFACE, "NextFrom", "(s)", ("0",)),
        (OBJECT_PATH, OM_IFACE, "GetManagedObjects", "(s)", ("x",)),
        (OBJECT_PATH + "/sensors/ftms0", PROPS_IFACE, "Get", "(ss)", (SENSOR_IFACE, "Nope")),
    ]


def run_clients(address, count, seed):
    """COUNT connections: subscribe, call bad methods (all at once), one good GetAll each,
    then a call left in flight and the connection closed. Prints one JSON line."""
    Gio, GLib = _gio()
    rng = random.Random(seed)
    calls = bad_calls()
    result = {"connections": 0, "bad_calls": 0, "errors": 0, "good_calls": 0, "good_ok": 0,
              "unexpected_success": [], "no_answer": [], "vanished_mid_call": 0, "signals": 0}
    pending = [0]

    def on_signal(*_):
        result["signals"] += 1

    def on_reply(conn, res, what):
        pending[0] -= 1
        try:
            conn.call_finish(res)
            if what[0] == "bad":
                result["unexpected_success"].append(what[1])
            else:
                result["good_ok"] += 1
        except GLib.Error as e:
            if what[0] == "bad":
                result["errors"] += 1
                if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT) or \
                        "NoReply" in (Gio.DBusError.get_remote_error(e) or ""):
                    result["no_answer"].append(what[1])
            else:
                result["no_answer"].append("%s: %s" % (what[1], e.message))

    conns = []
    for _ in range(count):
        conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        conn.signal_subscribe(BUS_NAME, PROPS_IFACE, "PropertiesChanged", None, None,
                              Gio.DBusSignalFlags.NONE, on_signal)
        conns.append(conn)
        result["connections"] += 1
    for conn in conns:
        for path, iface, method, sig, args in rng.sample(calls, 4):
            params = GLib.Variant(sig, args) if sig else None
            pending[0] += 1
            result["bad_calls"] += 1
            conn.call(BUS_NAME, path, iface, method, params, None, Gio.DBusCallFlags.NO_AUTO_START,
                      10000, None, on_reply, ("bad", "%s.%s%s" % (iface, method, sig or "()")))
        pending[0] += 1
        result["good_calls"] += 1
        conn.call(BUS_NAME, OBJECT_PATH, PROPS_IFACE, "GetAll", GLib.Variant("(s)", (WARMUP_IFACE,)),
                  None, Gio.DBusCallFlags.NO_AUTO_START, 10000, None, on_reply,
                  ("good", "GetAll"))
    context = GLib.MainContext.default()
    deadline = time.monotonic() + 30
    while pending[0] > 0 and time.monotonic() < deadline:
        context.iteration(True)
    if pending[0] > 0:
        result["no_answer"].append("%d calls unanswered after 30 s" % pending[0])
    # vanish mid-call: a call in flight, then the connection gone
    for conn in conns:
        method = rng.choice([(OM_IFACE, "GetManagedObjects", None),
                             (WARMUP_IFACE, "GetHistory", GLib.Variant("(u)", (0,))),
                             ("org.freedesktop.DBus.Introspectable", "Introspect", None)])
        conn.call(BUS_NAME, OBJECT_PATH, method[0], method[1], method[2], None,
                  Gio.DBusCallFlags.NO_AUTO_START, -1, None, None, None)
        conn.flush_sync(None)
        conn.close_sync(None)
        result["vanished_mid_call"] += 1
    print(json.dumps(result))
    sys.stdout.flush()
    return 0


# ======================================================================================
# The soak
# ======================================================================================

class Journal:
    """Follows the bike's journal file (tests/bluez_mock.py `journal=`) and the ground truth
    computed from it: resistance, link, and the counted time by the warm-up rules."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = ""
        # counting: (sample time, cumulative counted seconds at it) for every pedalling sample
        self.times = []
        self.cum = []
        self.total = 0.0
        self.last_pedal_t = None      # the run's last pedalling sample (None: no run)
        self.run_start_cum = 0.0      # cumulative total at the first sample of the run
        self.samples = 0
        self.events = []              # (t, "resistance"|"link", value) not yet taken

    def mark(self, text):
        with open(self.path, "a") as f:
            f.write("%.6f %s\n" % (time.monotonic(), text))

    def read(self):
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except OSError:
            return
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        for line in lines:
            self._line(line.split())

    def _line(self, parts):
        if len(parts) < 2:
            return
        t, what = float(parts[0]), parts[1]
        if what == "resistance":
            level = float(parts[2])
            self.events.append((t, "resistance", level))
        elif what == "up":
            self.events.append((t, "link", True))
        elif what in ("down", "vanish"):
            self.events.append((t, "link", False))
            self.last_pedal_t = None          # a link loss ends the run
        elif what == "data":
            cadence, delivered = float(parts[2]), parts[3] == "1"
            if not delivered:
                return
            self.samples += 1
            if cadence < 40:
                self.last_pedal_t = None
                return
            if self.last_pedal_t is not None and t - self.last_pedal_t <= STALE_AFTER:
                self.total += t - self.last_pedal_t
            else:
                self.run_start_cum = self.total
            self.last_pedal_t = t
            self.times.append(t)
            self.cum.append(self.total)

    def take_events(self):
        events, self.events = self.events, []
        return events

    def counted_at(self, t):
        """Cumulative counted seconds at time t (the last pedalling sample at or before t)."""
        i = bisect.bisect_right(self.times, t)
        return self.cum[i - 1] if i else 0.0


class Failure(Exception):
    pass


class Soak:
    def __init__(self, seconds, seed, keep):
        import tempfile
        import wutest
        import bluez_mock
        self.wutest, self.bluez_mock = wutest, bluez_mock
        self.Gio, self.GLib = _gio()
        self.seconds, self.seed, self.keep = seconds, seed, keep
        self.rng = random.Random(seed)
        self.tmpdir = tempfile.mkdtemp(prefix="warmupd-soak-")
        self.daemons = []
        self.failures = []
        self.faults = {}                 # kind -> [recovery seconds]
        self.fault_log = []              # (t, kind, detail)
        self.state = "idle"
        self.cap = -1.0
        self.elapsed = 0.0
        self.elapsed_at = None       # arrival of the signal that published self.elapsed
        self.warmup_base = None          # cumulative ground truth at the warm-up's run start
        self.completed = 0
        self.cancelled = 0
        self.finished_pending = []       # (outcome, elapsed at the end) awaiting a history check
        self.history_checked = 0
        self.completion_errors = []
        self.max_count_error = 0.0
        self.count_checks = 0
        self.over_since = None
        self.over_episodes = 0
        self.worst_over = 0.0
        self.worst_over_at = None        # s after t0: when the worst episode began
        self.polls = 0
        self.slowest_poll = 0.0
        self.rss = []                    # (t, KiB)
        self.bike_running = False
        self.reloads = 0
        self.in_fault = None
        self.rounds = 0                  # fault rounds finished (every kind injected once)
        self.first_round_at = None       # seconds into the run when the first one finished
        self.round_left = []             # kinds of the round in progress not yet injected
        self.waiting_since = None        # a kind of the round waiting for a cap in force since
        self.cap_wait = 0.0              # longest such wait
        self.cap_time = 0.0              # seconds with a cap in force and the link up
        self._over_reported = False
        import collections
        self.signal_queue = collections.deque()
        self.cap_events = []             # (t, cap in force: bool, cap)
        self.over_model = {"res": None, "link": False, "cap_on": False, "cap": -1.0,
                           "t": None}

    # ---- the test object wutest.Daemon wants ----------------------------------------

    def write_file(self, name, text):
        path = os.path.join(self.tmpdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def fail(self, text):
        t = time.monotonic() - self.t0 if hasattr(self, "t0") else 0.0
        self.failures.append("[%7.1f s] %s" % (t, text))
        print("# FAILED at %.1f s: %s" % (t, text))
        sys.stdout.flush()

    # ---- setup / teardown -------------------------------------------------------------

    def setup(self):
        wutest = self.wutest
        self.bus = wutest.Bus(self.tmpdir)
        self.journal = Journal(os.path.join(self.tmpdir, "bike.journal"))
        self.bike = self.bluez_mock.BluezMock(self.tmpdir, "ftms", cadence=0.0, power=0.0,
                                              rate=RATE_HZ, resistance=15.0,
                                              journal=self.journal.path)
        self.bike.start()
        self.bike_running = True
        session_env = self.bus.env
        routines = os.path.join(self.wutest.SRCDIR, "data", "routines")

        def env():
            e = self.bike.env(session_env())
            e["WARMUPD_ROUTINES_DIR"] = routines     # Routine1 has its routines to misuse
            return e
        self.bus.env = env
        self.conn = self.bus.conn
        # PropertiesChanged stamped when the message arrives (the connection's worker
        # thread), handled in the main thread: a busy main loop does not shift the times
        self.conn.signal_subscribe(None, PROPS_IFACE, "PropertiesChanged", OBJECT_PATH,
                                   WARMUP_IFACE, self.Gio.DBusSignalFlags.NONE,
                                   lambda *a: None)
        self.conn.add_filter(self._filter)
        self.statedir = os.path.join(self.tmpdir, "state")
        os.mkdir(self.statedir)
        self.config_path = self.write_file("warmupd.conf", config_text())
        self.daemon = wutest.Daemon(self, config=self.config_path,
                                    args=["--state-dir", self.statedir]).start()
        self.daemon.wait_owned()
        self.wait(lambda: self.sensor_connected(), "warmupd's ftms Sensor1 Connected", 30)

    def teardown(self):
        if self.daemon.running():
            self.daemon.proc.send_signal(signal.SIGTERM)
            try:
                self.wutest.wait_for(lambda: self.daemon.poll() is not None, 15, "exit")
                if self.daemon.returncode != 0:
                    self.fail("warmupd exited with status %s on SIGTERM" % self.daemon.returncode)
            except AssertionError:
                self.daemon.kill()
                self.fail("warmupd did not exit within 15 s of SIGTERM")
        self.daemon.close()
        try:
            self.bike.close()
        except Exception as e:      # noqa: BLE001 - report, carry on cleaning
            print("# closing the bike: %s" % e)
        self.bus.close()

    # ---- D-Bus ------------------------------------------------------------------------

    def call(self, path, iface, method, args=None, reply=None, timeout_ms=5000):
        r = self.conn.call_sync(BUS_NAME, path, iface, method, args,
                                self.GLib.VariantType(reply) if reply else None,
                                self.Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return r.unpack() if r is not None else None

    def get_all(self):
        return self.call(OBJECT_PATH, PROPS_IFACE, "GetAll",
                         self.GLib.Variant("(s)", (WARMUP_IFACE,)), "(a{sv})")[0]

    def sensors(self):
        managed = self.call(OBJECT_PATH, OM_IFACE, "GetManagedObjects", None,
                            "(a{oa{sa{sv}}})")[0]
        return {p: i[SENSOR_IFACE] for p, i in managed.items()
                if SENSOR_IFACE in i and i[SENSOR_IFACE].get("Kind") == "ftms"}

    def sensor_connected(self):
        return any(s.get("Connected") for s in self.sensors().values())

    def history(self):
        return self.call(OBJECT_PATH, WARMUP_IFACE, "GetHistory",
                         self.GLib.Variant("(u)", (0,)), "(aa{sv})")[0]

    def _filter(self, conn, message, incoming):
        if (incoming and message.get_message_type() == self.Gio.DBusMessageType.SIGNAL
                and message.get_member() == "PropertiesChanged"
                and message.get_path() == OBJECT_PATH):
            body = message.get_body().unpack()
            if body[0] == WARMUP_IFACE:
                self.signal_queue.append((time.monotonic(), body[1]))
        return message

    def take_signals(self):
        while self.signal_queue:
            now, changed = self.signal_queue.popleft()
            self._on_props(now, changed)

    def _on_props(self, now, changed):
        if "ResistanceCap" in changed:
            self._cap_changed(now, self.state, changed["ResistanceCap"])
        if "Elapsed" in changed:
            self.elapsed, self.elapsed_at = changed["Elapsed"], now
        if "State" in changed and changed["State"] != self.state:
            self._state_changed(now, self.state, changed["State"])

    def _cap_changed(self, now, state, cap):
        self.cap = cap
        self.cap_events.append((now, state in SESSION_STATES and cap >= 0, cap))

    def _state_changed(self, now, old, new):
        self.state = new
        self.cap_events.append((now, new in SESSION_STATES and self.cap >= 0, self.cap))
        if old == "idle" and new == "warming-up":
            self.journal.read()
            self.warmup_base = self.journal.run_start_cum
        if new in ("complete", "cancelled") and old in SESSION_STATES:
            self.journal.read()
            if new == "complete":
                self.completed += 1
                truth = self.journal.counted_at(now) - (self.warmup_base or 0.0)
                self.completion_errors.append(truth - DURATION)
                if abs(truth - DURATION) > COUNT_LIMIT_S:
                    self.fail("warm-up %d complete, but the ground truth is %.2f s of %d"
                              % (self.completed, truth, DURATION))
            else:
                self.cancelled += 1
            self.finished_pending.append((new, now))
            self.warmup_base = None

    def wait(self, condition, what, timeout):
        try:
            return self.wutest.wait_for(condition, timeout, what, step=0.05)
        except AssertionError as e:
            raise Failure(str(e)) from None

    # ---- checks done every pass ---------------------------------------------------------

    def poll(self, now):
        start = time.monotonic()
        try:
            props = self.get_all()
        except self.GLib.Error as e:
            self.fail("warmupd did not answer GetAll: %s" % e.message)
            raise Failure("warmupd does not answer") from None
        took = time.monotonic() - start
        self.take_signals()          # those sent before the reply are queued by now
        self.polls += 1
        self.slowest_poll = max(self.slowest_poll, took)
        if props["Duration"] != DURATION:
            self.fail("Duration is %s, not %d (a reload lost it?)" % (props["Duration"], DURATION))
        self.journal.read()
        if props["State"] != self.state:
            return      # a transition in flight: its signal is on its way
        if self.state in SESSION_STATES and self.warmup_base is not None:
            # compared with the truth when the value was published, but never longer ago
            # than a progress interval: a publication that stops is still caught
            at = time.monotonic()
            if props["Elapsed"] == self.elapsed and self.elapsed_at is not None:
                at = max(self.elapsed_at, at - PROGRESS_INTERVAL_S)
            truth = self.journal.counted_at(at) - self.warmup_base
            error = props["Elapsed"] - truth
            self.count_checks += 1
            if abs(error) > abs(self.max_count_error):
                self.max_count_error = error
            if abs(error) > COUNT_LIMIT_S:
                self.fail("Elapsed %.2f s, ground truth %.2f s (state %s)"
                          % (props["Elapsed"], truth, self.state))
                self.warmup_base -= error          # re-anchored: each drift reported once

    def check_cap(self, now):
        """Replays the bike's journal (resistance, link) and the cap's signals in time order:
        every interval with the resistance above a cap in force while the link is up."""
        events = [(t, "cap", (on, cap)) for t, on, cap in self.cap_events]
        events += self.journal.take_events()
        self.cap_events = []
        m = self.over_model
        for t, kind, value in sorted(events, key=lambda e: e[0]):
            # the time the check below had something to check: a cap in force, the link up
            if m["t"] is not None and m["cap_on"] and m["link"]:
                self.cap_time += max(0.0, t - m["t"])
            m["t"] = t if m["t"] is None else max(m["t"], t)
            if kind == "cap":
                m["cap_on"], m["cap"] = value
            elif kind == "resistance":
                m["res"] = value
            elif kind == "link":
                m["link"] = value
            over = (m["cap_on"] and m["link"] and m["res"] is not None
                    and m["res"] > m["cap"] + 1e-6)
            if over and self.over_since is None:
                self.over_since, self.over_level = t, (m["res"], m["cap"])
                self.over_episodes += 1
            elif not over and self.over_since is not None:
                self._over_ended(t - self.over_since)
                self.over_since = None
        if self.over_since is not None:
            self._over_ended(now - self.over_since, ongoing=True)

    def _over_ended(self, duration, ongoing=False):
        if duration > self.worst_over:
            self.worst_over, self.worst_over_at = duration, self.over_since - self.t0
        if duration > CAP_LIMIT_S and not self._over_reported:
            self._over_reported = True
            self.fail("resistance %.1f above the cap %.1f for more than %.0f s"
                      % (self.over_level + (CAP_LIMIT_S,)))
        if not ongoing:
            self._over_reported = False

    def worst_over_cause(self):
        """When the worst episode above the cap began, and the fault injected last before it
        (what most likely raised the resistance)."""
        if self.worst_over_at is None:
            return ""
        before = [(t, kind) for t, kind, _ in self.fault_log if t <= self.worst_over_at]
        if not before:
            return "; the worst began at %.1f s, before any fault" % self.worst_over_at
        t, kind = before[-1]
        return "; the worst began at %.1f s, %.1f s after %s" % (
            self.worst_over_at, self.worst_over_at - t, kind)

    def check_history(self, now):
        if not self.finished_pending:
            return
        rows = self.history()
        finished = [r for r in rows if r.get("outcome") in ("complete", "cancelled")]
        want = self.completed + self.cancelled
        if len(finished) < want:
            if now - self.finished_pending[0][1] > 10:
                self.fail("%d warm-ups finished, GetHistory has %d finished rows: %r"
                          % (want, len(finished), rows[:3]))
                self.finished_pending.clear()
            return
        newest = finished[0]
        outcome = self.finished_pending[-1][0]
        if newest.get("outcome") != outcome:
            self.fail("the newest history row is %r, the warm-up ended %s"
                      % (newest.get("outcome"), outcome))
        if outcome == "complete" and abs(newest.get("counted_seconds", -1) - DURATION) > 0.01:
            self.fail("history row of a complete warm-up counts %r s"
                      % newest.get("counted_seconds"))
        self.history_checked = len(finished)
        self.finished_pending.clear()

    def sample_rss(self, now):
        try:
            with open("/proc/%d/status" % self.daemon.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.rss.append((now - self.t0, int(line.split()[1])))
        except OSError:
            pass

    # ---- health (recovery) ----------------------------------------------------------------

    def healthy(self):
        if not self.bike_running:
            return False
        if not self.daemon.running():
            raise Failure("warmupd exited (status %s)" % self.daemon.poll())
        bike = self.bike.state()
        if not bike["connected"]:
            return False
        if self.bluez_mock.INDOOR_BIKE_DATA not in list(bike["acquired"]) + list(bike["notifying"]):
            return False
        if not self.sensor_connected():
            return False
        props = self.get_all()
        if props["State"] in SESSION_STATES and props["ResistanceCap"] >= 0:
            if not bike["in_control"] or bike["resistance"] > props["ResistanceCap"] + 1e-6:
                return False
        return True

    # ---- the rider ---------------------------------------------------------------------

    def rider(self):
        """A generator: yields the time to wait before its next step."""
        rng = random.Random(self.seed * 7919 + 1)
        while True:
            if self.state == "complete":
                self.set_cadence(0)
                # rest until warmupd is idle again (AbandonAfter of stopping)
                while self.state != "idle":
                    yield 0.5
                yield rng.uniform(1, 4)
                continue
            self.set_cadence(rng.choice([55, 62, 70, 78, 85, 90]))
            yield rng.uniform(4, 15)
            if self.state == "complete":
                continue
            r = rng.random()
            if r < 0.25:                       # a short stop: the run breaks, no pause
                self.set_cadence(0)
                yield rng.uniform(1, 4)
            elif r < 0.35:                     # a stop long enough to pause
                self.set_cadence(0)
                yield rng.uniform(PAUSE_AFTER + 1, PAUSE_AFTER + 4)

    def set_cadence(self, cadence):
        self.cadence = cadence
        if self.bike_running:
            self.bike.pedal(cadence)
        else:
            self.bike._controls["pedal"] = (float(cadence), float(round(cadence * 1.4)))

    # ---- the faults ---------------------------------------------------------------------

    KINDS = ["link-loss", "bluetoothd-restart", "control-lost", "control-refused",
             "uint8-rejected", "malformed", "status-0x07", "clients", "sighup"]
    # these act on the bike warmupd holds at the cap: injected only while a cap is in force
    NEEDS_CAP = ("control-lost", "control-refused", "uint8-rejected", "status-0x07")

    def cap_in_force(self):
        return self.state in SESSION_STATES and self.cap >= 0

    def longest_cap_wait(self):
        if self.waiting_since is not None:
            self.cap_wait = max(self.cap_wait, time.monotonic() - self.waiting_since)
        return self.cap_wait

    def faults_gen(self):
        """Rounds: each a permutation of every kind, shuffled by the seeded rng. A kind that
        needs a cap in force is passed over while there is none (the next kind of the round
        goes first) and, when only such kinds are left, the round waits for one: never
        skipped, so every round injects every kind once."""
        rng = self.rng
        while True:
            order = list(self.KINDS)
            rng.shuffle(order)
            self.round_left = order
            while order:
                yield rng.uniform(1, 5)
                ready = [k for k in order if k not in self.NEEDS_CAP or self.cap_in_force()]
                if not ready:
                    self.waiting_since = time.monotonic()
                    while not self.cap_in_force():
                        yield 0.1
                    self.longest_cap_wait()
                    self.waiting_since = None
                    ready = list(order)
                kind = ready[0]
                order.remove(kind)
                injected = time.monotonic()
                self.in_fault = kind
                detail = yield from getattr(self, "fault_" + kind.replace("-", "_"))(rng)
                restored = time.monotonic()
                self.fault_log.append((injected - self.t0, kind, detail or ""))
                deadline = restored + RECOVERY_DEADLINE_S
                while not self.healthy():
                    if time.monotonic() > deadline:
                        raise Failure("no recovery within %.0f s after %s (%s)"
                                      % (RECOVERY_DEADLINE_S, kind, detail))
                    yield 0.05
                self.faults.setdefault(kind, []).append(time.monotonic() - restored)
                self.in_fault = None
                # the bike's firmware is back to normal: these knobs are carried over a
                # bluetoothd restart, and a refusal left over would be counted on the next fault
                if kind == "uint8-rejected":
                    self.bike.reject_uint8(False)
                if kind == "control-refused":
                    self.bike.refuse_control(0)
            self.rounds += 1
            if self.first_round_at is None:
                self.first_round_at = time.monotonic() - self.t0

    def fault_link_loss(self, rng):
        hold = rng.uniform(0.5, 4)
        self.bike.lose_link()
        yield hold
        self.bike.come_back()
        return "%.1f s away" % hold

    def fault_bluetoothd_restart(self, rng):
        hold = rng.uniform(0.5, 3)
        self.bike_running = False
        self.bike.stop()
        self.journal.mark("vanish")
        yield hold
        self.bike.start()
        self.bike_running = True
        return "%.1f s gone" % hold

    def fault_control_lost(self, rng):
        self.bike.lose_control()
        return ""
        yield  # noqa: unreachable - makes this a generator

    def fault_control_refused(self, rng):
        self.bike.refuse_control(2)
        self.bike.lose_control()
        return "2 refusals"
        yield  # noqa

    def fault_uint8_rejected(self, rng):
        self.bike.reject_uint8(True)
        level = self.raise_knob(rng)
        return "knob to %.0f" % level
        yield  # noqa

    def fault_status_0x07(self, rng):
        return "knob to %.0f" % self.raise_knob(rng)
        yield  # noqa

    def raise_knob(self, rng):
        cap = self.cap if self.cap >= 0 else 10.0
        level = float(rng.randint(int(cap) + 1, 32))
        self.bike.turn_knob(level, announce=True)
        return level

    def fault_malformed(self, rng):
        bm = self.bluez_mock
        good = bytes.fromhex("6400") + bytes(8)          # speed, cadence, resistance, power
        sent = []
        for _ in range(rng.randint(1, 4)):
            choice = rng.randrange(5)
            if choice == 0:                               # truncated Indoor Bike Data
                data = good[:rng.randrange(0, len(good))]
                sent.append(("ibd", data))
            elif choice == 1:                             # every field flagged, a few bytes
                data = bytes([0xFE, 0x1F]) + bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
                sent.append(("ibd", data))
            elif choice == 2:                             # truncated status 0x07
                sent.append(("status", bytes([0x07])))
            elif choice == 3:                             # empty status
                sent.append(("status", b""))
            else:                                         # garbage training status
                sent.append(("training", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))))
        before = sum(s.get("DroppedPackets", 0) for s in self.sensors().values())
        uuid = {"ibd": bm.INDOOR_BIKE_DATA, "status": bm.MACHINE_STATUS,
                "training": bm.TRAINING_STATUS}
        for what, data in sent:
            self.bike.send_notification(uuid[what], data)
        ibd = sum(1 for w, _ in sent if w == "ibd")
        if ibd:
            try:
                self.wait(lambda: sum(s.get("DroppedPackets", 0) for s in self.sensors().values())
                          >= before + ibd, "DroppedPackets to count %d malformed samples" % ibd, 10)
            except Failure as e:
                # a link loss in between loses them too: only a failure while connected
                if self.bike.state()["connected"]:
                    self.fail(str(e))
        return " ".join("%s:%s" % (w, d.hex() or "-") for w, d in sent)
        yield  # noqa

    def fault_clients(self, rng):
        child = subprocess.Popen([PYTHON, os.path.abspath(__file__), "--clients", self.bus.address,
                                  "--count", str(CLIENTS), "--seed", str(rng.randrange(1 << 30))],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True)
        kill = rng.random() < 0.5
        if kill:
            yield rng.uniform(0.2, 1.5)
            if child.poll() is None:
                child.kill()
        deadline = time.monotonic() + 60
        while child.poll() is None:
            if time.monotonic() > deadline:
                child.kill()
                self.fail("the client storm did not end within 60 s")
            yield 0.1
        out = child.stdout.read()
        child.stdout.close()
        if kill and child.returncode == -signal.SIGKILL:
            return "killed mid-way"
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.fail("the client storm failed (status %s): %s" % (child.returncode, out[-2000:]))
            return "broken"
        if result["unexpected_success"]:
            self.fail("bad calls that succeeded: %r" % sorted(set(result["unexpected_success"])))
        if result["no_answer"]:
            self.fail("calls warmupd did not answer: %r" % result["no_answer"][:5])
        if result["good_ok"] != result["good_calls"]:
            self.fail("good GetAll calls: %d of %d answered" % (result["good_ok"],
                                                                result["good_calls"]))
        return "%d clients, %d bad calls refused, %d vanished mid-call" % (
            result["connections"], result["errors"], result["vanished_mid_call"])

    def fault_sighup(self, rng):
        bad = rng.random() < 0.25
        if bad:
            text = config_text().replace("MaxCadence=100", "MaxCadence=fast")
        else:
            text = config_text(max_cadence=rng.choice([100, 105, 110]),
                               ease_off_after=rng.choice([8, 10, 12]))
        with open(self.config_path + ".new", "w") as f:
            f.write(text)
        os.rename(self.config_path + ".new", self.config_path)
        marks = ("reload failed", "reloaded ")
        before = sum(self.daemon.log().count(m) for m in marks)
        self.daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while sum(self.daemon.log().count(m) for m in marks) <= before:
            if time.monotonic() > deadline:
                self.fail("no reload logged within 10 s of SIGHUP")
                break
            yield 0.05
        self.reloads += 1
        if bad:
            log = self.daemon.log()
            if log.rfind("reload failed") < log.rfind("reloaded "):
                self.fail("a bad configuration was applied on SIGHUP")
        return "bad value" if bad else "good"

    # ---- the run --------------------------------------------------------------------------

    def run(self):
        self.setup()
        self.t0 = time.monotonic()
        end = self.t0 + self.seconds
        tasks = {"rider": [self.rider(), self.t0], "faults": [self.faults_gen(), self.t0 + 5]}
        next_poll = next_rss = self.t0
        self.sample_rss(self.t0)
        while True:
            self.wutest.drain()
            self.take_signals()
            now = time.monotonic()
            if now >= end:
                break
            if not self.daemon.running():
                raise Failure("warmupd exited (status %s)" % self.daemon.poll())
            for name, task in tasks.items():
                if now >= task[1]:
                    delay = next(task[0])
                    task[1] = time.monotonic() + delay
            self.wutest.drain()
            self.take_signals()
            now = time.monotonic()
            if now >= next_poll:
                self.poll(now)
                self.check_history(now)
                next_poll = now + 0.25
            self.journal.read()
            self.check_cap(time.monotonic())
            if now >= next_rss:
                self.sample_rss(now)
                next_rss = now + 2
            time.sleep(0.02)
        # let a fault in progress finish (and recover) before the final figures
        task = tasks["faults"]
        deadline = time.monotonic() + RECOVERY_DEADLINE_S + 10
        while self.in_fault and time.monotonic() < deadline:
            self.wutest.drain()
            if time.monotonic() >= task[1]:
                task[1] = time.monotonic() + next(task[0])
            time.sleep(0.02)
        self.sample_rss(time.monotonic())
        self.poll(time.monotonic())
        self.check_history(time.monotonic() + 100)

    def injected(self):
        counts = dict.fromkeys(self.KINDS, 0)
        for _, kind, _ in self.fault_log:
            counts[kind] += 1
        return counts

    def check_coverage(self):
        """A check that never ran passes vacuously: each fault kind injected at least once,
        and each check of the warm-up exercised at least once."""
        seconds = self.seconds
        waiting = ("; the round waited %.0f s for a cap in force, to the end"
                   % (time.monotonic() - self.waiting_since) if self.waiting_since else "")
        for kind, n in self.injected().items():
            if n == 0:
                self.fail("coverage: fault %s never injected in %d s%s"
                          % (kind, seconds, waiting if kind in self.NEEDS_CAP else ""))
        for n, what in ((self.count_checks, "Elapsed checks against the ground truth"),
                        (self.completed, "warm-ups completed"),
                        (self.history_checked, "history rows checked"),
                        (round(self.cap_time, 1), "seconds with a cap in force (link up)")):
            if not n:
                self.fail("coverage: 0 %s in %d s: that check never ran" % (what, seconds))

    def check_rss(self):
        if len(self.rss) < 2:
            self.fail("no RSS samples")
            return
        settled = [k for t, k in self.rss if t <= 60] or [self.rss[0][1]]
        base = settled[-1]
        peak = max(k for _, k in self.rss)
        if peak > base + RSS_SLACK_KIB:
            self.fail("RSS grew from %d KiB (after the first minute) to %d KiB" % (base, peak))

    # ---- figures --------------------------------------------------------------------------

    def report(self):
        print()
        print("warmupd fault soak: seed %d, %d s, bike at %.0f Hz, Duration %d s, cap 30%%"
              % (self.seed, self.seconds, RATE_HZ, DURATION))
        print()
        print("%-20s %9s %11s %14s %14s" % ("fault", "injected", "recovered", "median rec. s",
                                           "longest rec. s"))
        total = recovered = 0
        longest = (0.0, "")
        injected = self.injected()
        for kind in self.KINDS:
            rec = self.faults.get(kind, [])
            n = injected.get(kind, 0)
            total += n
            recovered += len(rec)
            if rec and max(rec) > longest[0]:
                longest = (max(rec), kind)
            print("%-20s %9d %11d %14s %14s" % (
                kind, n, len(rec), "%.2f" % statistics.median(rec) if rec else "-",
                "%.2f" % max(rec) if rec else "-"))
        print("%-20s %9d %11d" % ("total", total, recovered))
        print()
        rss = [k for _, k in self.rss]
        errs = self.completion_errors
        rows = [
            ("recoveries", "%d of %d faults" % (recovered, total)),
            ("longest recovery", "%.2f s (%s)" % longest if longest[1] else "-"),
            ("fault rounds", "%d complete (every kind once each), the first by %s; "
             "%d kind(s) of the last not reached; longest wait for a cap %.1f s"
             % (self.rounds, "%.0f s" % self.first_round_at if self.first_round_at else "-",
                len(self.round_left), self.longest_cap_wait())),
            ("worst time above cap", "%.2f s in %d episodes (limit %.0f s)%s"
             % (self.worst_over, self.over_episodes, CAP_LIMIT_S, self.worst_over_cause())),
            ("cap in force", "%.1f s with the link up (the time the cap check checked)"
             % self.cap_time),
            ("warm-ups completed", "%d (cancelled %d); history rows checked %d"
             % (self.completed, self.cancelled, self.history_checked)),
            ("counted-time error", "max |Elapsed - truth| %.2f s over %d checks; at completion: %s"
             " (limit %.0f s)" % (abs(self.max_count_error), self.count_checks,
                                  ", ".join("%+.2f" % e for e in errs) or "-", COUNT_LIMIT_S)),
            ("RSS KiB", "start %d, max %d, end %d" % (rss[0], max(rss), rss[-1]) if rss else "-"),
            ("daemon answered", "%d polls, slowest %.3f s; %d SIGHUP reloads"
             % (self.polls, self.slowest_poll, self.reloads)),
            ("samples delivered", "%d Indoor Bike Data (ground truth %.1f s pedalled, link up)"
             % (self.journal.samples, self.journal.total)),
        ]
        for name, value in rows:
            print("%-22s %s" % (name, value))
        print()
        if self.failures:
            print("FAILED: %d check(s); reproduce with SOAK_SEED=%d" % (len(self.failures),
                                                                        self.seed))
            for f in self.failures:
                print("  " + f)
        else:
            print("PASS: every check held")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 1800)))
    parser.add_argument("--seed", default=os.environ.get("SOAK_SEED", ""))
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--clients", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=CLIENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        _gio()
    except (ImportError, ValueError) as e:
        print("soak: SKIP: python3-gi is not available: %s" % e)
        return SKIP
    if args.clients:
        return run_clients(args.clients, args.count, int(args.seed or 0))
    import shutil
    if shutil.which("dbus-daemon") is None:
        print("soak: SKIP: dbus-daemon is not installed")
        return SKIP
    import bluez_mock
    missing = bluez_mock.missing_tools()
    if missing:
        print("soak: SKIP: %s" % missing)
        return SKIP
    seed = int(args.seed) if str(args.seed).strip() else random.SystemRandom().randrange(1 << 31)
    soak = Soak(int(args.seconds), seed, args.keep)
    print("# warmupd fault soak: %d s, seed %d (SOAK_SEED=%d replays its random draws); work dir %s"
          % (soak.seconds, seed, seed, soak.tmpdir))
    sys.stdout.flush()
    broken = None
    try:
        soak.run()
    except Failure as e:
        broken = str(e)
        soak.fail(broken)
    finally:
        try:
            soak.teardown()
        except Exception as e:    # noqa: BLE001
            soak.fail("teardown: %s" % e)
    soak.check_rss()
    if broken is None:               # a run cut short fails already, for its own reason
        soak.check_coverage()
    report = getattr(soak.wutest, "sanitizer_report", lambda text: None)(soak.daemon.log())
    if report:                       # ./configure --enable-sanitizers
        soak.fail("sanitizer report in warmupd's log:\n" + report)
    soak.report()
    if soak.failures:
        print("\n--- warmupd log (last 80 lines): %s" % soak.daemon.log_path)
        print("\n".join(soak.daemon.log().splitlines()[-80:]))
        print("--- fault schedule (last 15)")
        for t, kind, detail in soak.fault_log[-15:]:
            print("  %7.1f s %-20s %s" % (t, kind, detail))
    if not args.keep and not soak.failures:
        import shutil as sh
        sh.rmtree(soak.tmpdir, ignore_errors=True)
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())
