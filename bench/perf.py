#!/usr/bin/python3
"""warmupd benchmarks of issue 7: latency, CPU per notification (callgrind), memory (one
hour with 3 clients; growth over a 24 h virtual-time replay), idle wakeups, start-up time,
fan-out to 100 clients. Every figure is printed beside its target and written, with the
date and the machine, to BUILDDIR/bench/results.md.

    /usr/bin/python3 bench/perf.py [--builddir DIR] [--srcdir DIR] [--only a,b,...]
                                   [--results FILE]

Sections (--only, default all): latency, cpu, fanout, memory, live, idle, startup.
Environment: BENCH_ONLY (as --only), BENCH_LIVE_SECONDS (3600: the live session, wall time),
BENCH_IDLE_SECONDS (60), BENCH_LATENCY_N (2000), BENCH_CPU_N (10000),
BENCH_FANOUT_N (1000), BENCH_STARTUP_RUNS (20), BENCH_MEMORY_RUNS (5),
BENCH_MEMORY_LONG_HOURS (0: off; e.g. 384 adds a replay that long, where the growth levels off),
BENCH_GLIBC_TUNABLES (instead of the unit's GLIBC_TUNABLES).

Figures only: a missed target is printed as "NOT met" and never fails the run. The exit
status is non-zero only when the run itself broke (a tool missing, warmupd died, a deadline
passed, a client lost signals...). Every process started here is stopped by its pid.

How each figure is taken (all on private buses: a dbus-daemon --session for warmupd's name
and the clients, a dbus-daemon of type system for the mocked BlueZ of tests/bluez_mock.py):

- latency: bench/mock_trigger.py, loaded into the mock, writes an Indoor Bike Data
  notification to the socket warmupd got from AcquireNotify and answers CLOCK_MONOTONIC
  taken just before the write; a filter on this process's bus connection (GDBus worker
  thread) stamps the arrival of the first PropertiesChanged from warmupd carrying that
  cadence. One notification at a time (ping-pong). The floor, interleaved in blocks of 200
  in the same run: bench/signal-floor (bare GDBus) stamps CLOCK_MONOTONIC and emits a
  signal, stamped on arrival by the same filter.
- cpu: warmupd under callgrind (--instr-atstart=no), connected to the mocked bike;
  instrumentation on + counters zeroed, then N notifications one at a time (each answered
  by its PropertiesChanged), then a dump: instructions (Ir, every thread) / N. Then the
  same with 99 more subscribed clients (bench/clients): the fan-out figure.
- fanout: also warmupd natively: CPU time from /proc/PID/task/*/schedstat over N
  notifications, 1 client then 100, 3 times; medians (indicative: 100 busy clients and the
  bus slow every process down on a small machine; the target is judged on instructions).
- live (the peak RSS verdict): warmupd connected to the mocked FTMS bike (AcquireNotify,
  control point, the warm-up capping the resistance), Indoor Bike Data at 4 Hz from the
  bike's own stream with a cadence of 70-80 rpm changing every sample (bench/mock_trigger.py
  Pedalling), 3 clients (bench/clients 3) that must each receive every PropertiesChanged,
  for BENCH_LIVE_SECONDS of real time: VmHWM, VmRSS and RssAnon every second, beside
  VmHWM of bench/floor (bare GLib owning a name) running alongside all the while.
- memory: VmHWM of warmupd replaying tools/gen-trace.py's hour (4 Hz) at --speed 0 with 3
  subscribed clients (secondary: about 0.1 s, ~118 signals a client, no BlueZ), beside
  VmHWM of bench/floor; then a 24 h 4 Hz
  trace (345,600 samples, 48 warm-ups of 20 min pedalling + 10 min stopped, generated
  streaming, its first hour also to a file of its own) replayed at --speed 0 with 3
  clients: VmRSS once finished and settled, 24 h against 1 h (medians of 5 runs each), and
  the heap in use once finished under massif (vgdb snapshot) and its peak over each replay
  (massif's snapshots: a backlog of messages would show there); the growth again with glibc's
  defaults and with its tcache off; and VmHWM of the 24 h trace replayed at --speed 1000000
  (every sample its own PropertiesChanged) against the --speed 0 replays'.
- every warmupd runs with the Environment= of systemd/warmupd.service.in (GLIBC_TUNABLES),
  as the unit runs it, unless a figure says otherwise.
- idle: warmupd with a mocked bluetoothd that has an adapter and no bike, and another with
  no bluetoothd at all, both with NOTIFY_SOCKET and WATCHDOG_USEC=30 s (the unit's
  WatchdogSec): context switches of every thread over BENCH_IDLE_SECONDS, beside the
  keep-alives received (one each 15 s is what the watchdog needs). Every thread is polled
  each 0.1 s and kept once it exits (GLib's pool thread retires on its 15 s idle timeout,
  possibly inside the window), plus one wakeup for each thread that exited (the one it exited
  on, which the kernel counts after the thread left /proc); perf stat counts the switches
  beside it when perf is there.
- startup: exec (just before the spawn) to NameOwnerChanged for io.github.warmupd
  arriving here, with the mocked bike present; median of 20.
"""

import argparse
import datetime
import glob
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

PYTHON = "/usr/bin/python3"
BUS_NAME = "io.github.warmupd"
OBJECT_PATH = "/io/github/warmupd"
SENSOR_IFACE = "io.github.warmupd.Sensor1"
WARMUP_IFACE = "io.github.warmupd.Warmup1"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
FLOOR_NAME = "io.github.warmupd.BenchSignal"
FLOOR_PATH = "/io/github/warmupd/BenchSignal"
BIKE_ADDRESS = "C0:FF:EE:00:18:26"
DEADLINE = 60.0           # generous: one wait of anything that normally takes milliseconds

CONFIG = """[Warmup]
Duration=3600
[Bike]
Address=%s
""" % BIKE_ADDRESS


# warmupd runs with its unit's environment (deployed_env()); for the figures beside it,
# glibc's own defaults, and its per-thread caches of freed chunks (tcache) off altogether
GLIBC_DEFAULTS = {"GLIBC_TUNABLES": ""}
NO_TCACHE = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}


def deployed_env(srcdir):
    """The variables the unit's Environment= lines give warmupd (systemd/warmupd.service.in):
    the benchmark measures the daemon as the unit runs it. BENCH_GLIBC_TUNABLES, when set,
    replaces the unit's GLIBC_TUNABLES (to measure another setting)."""
    env = {}
    with open(os.path.join(srcdir, "systemd", "warmupd.service.in")) as f:
        for line in f:
            if line.startswith("Environment="):
                assignments = shlex.split(line[len("Environment="):])
                if not assignments:
                    env = {}        # an empty Environment= resets the earlier ones
                for assignment in assignments:
                    name, _, value = assignment.partition("=")
                    env[name] = value
    if "BENCH_GLIBC_TUNABLES" in os.environ:
        env["GLIBC_TUNABLES"] = os.environ["BENCH_GLIBC_TUNABLES"]
    return env


class BenchError(Exception):
    """The run broke (not a missed target)."""


def monotonic_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def wait_for(condition, timeout, what, step=0.005):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def percentile(values, p):
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))
    return ordered[int(index)]


# --------------------------------------------------------------------------------------
# /proc

def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError("no %s in /proc/%d/status" % (key, pid))


def cpu_ns(pid):
    """Time on CPU of every live thread, ns (schedstat)."""
    total = 0
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def thread_switches(pid):
    """{tid: (name, voluntary, nonvoluntary)} for every thread."""
    out = {}
    for task in glob.glob("/proc/%d/task/*" % pid):
        try:
            fields = {}
            with open(task + "/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
            out[int(os.path.basename(task))] = (fields["Name"],
                                                int(fields["voluntary_ctxt_switches"]),
                                                int(fields["nonvoluntary_ctxt_switches"]))
        except (OSError, KeyError, ValueError):
            pass
    return out


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return model, os.cpu_count(), platform.release()


# --------------------------------------------------------------------------------------
# Processes, buses

class Procs:
    """Every process started by the benchmark, stopped by pid at the end."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        proc = subprocess.Popen(argv, **kw)
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=15.0):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)
        return proc.returncode

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            self.stop(proc, 5.0)


class SessionBus:
    def __init__(self, procs, tmpdir):
        self.procs = procs
        self.proc = procs.start(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                 "--print-address=1"], stdout=subprocess.PIPE,
                                stderr=open(os.path.join(tmpdir, "session-bus.log"), "w"),
                                universal_newlines=True, start_new_session=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise BenchError("dbus-daemon did not print its address")
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def env(self, base=None):
        env = dict(os.environ if base is None else base)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        return env

    def call(self, dest, path, iface, method, signature=None, args=None, reply=None,
             timeout_ms=30000):
        params = GLib.Variant(signature, args) if signature else None
        result = self.conn.call_sync(dest, path, iface, method, params,
                                     GLib.VariantType(reply) if reply else None,
                                     Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return result.unpack() if result is not None else None

    def add_match(self, rule):
        self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "AddMatch", "(s)", (rule,))

    def has_owner(self, name):
        return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus", "NameHasOwner", "(s)", (name,), "(b)")[0]

    def get(self, path, iface, prop):
        return self.call(BUS_NAME, path, PROPS_IFACE, "Get", "(ss)", (iface, prop), "(v)")[0]

    def close(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass
        self.procs.stop(self.proc)
        self.proc.stdout.close()


class Arrivals:
    """A filter on the bench's own connection (it runs in GDBus's worker thread, before
    any main-loop dispatch): stamps warmupd's Sensor1 PropertiesChanged (by Cadence), the
    floor's Tick and NameOwnerChanged of io.github.warmupd; counts warmupd's
    PropertiesChanged. Signals it handles are dropped there (nothing iterates a main loop)."""

    def __init__(self, bus):
        self.lock = threading.Lock()
        self.event = threading.Event()
        self.expect = None
        self.arrived = None
        self.props_signals = 0
        self.owner_changes = []          # (monotonic ns, new owner)
        bus.conn.add_filter(self._filter)
        bus.add_match("type='signal',sender='%s',interface='%s',member='PropertiesChanged'"
                      % (BUS_NAME, PROPS_IFACE))
        bus.add_match("type='signal',interface='%s',member='Tick'" % FLOOR_NAME)
        bus.add_match("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',"
                      "arg0='%s'" % BUS_NAME)

    def arm(self, key):
        with self.lock:
            self.expect = key
            self.arrived = None
            self.event.clear()

    def wait(self, timeout=DEADLINE):
        if not self.event.wait(timeout):
            raise BenchError("no signal for %r within %.0f s" % (self.expect, timeout))
        with self.lock:
            return self.arrived

    def _hit(self, key, t):
        with self.lock:
            if self.arrived is None and key == self.expect:
                self.arrived = t
                self.event.set()

    def _filter(self, connection, message, incoming):
        t = monotonic_ns()
        if not incoming or message.get_message_type() != Gio.DBusMessageType.SIGNAL:
            return message
        member = message.get_member()
        if member == "PropertiesChanged" and message.get_interface() == PROPS_IFACE:
            body = message.get_body().unpack()
            with self.lock:
                self.props_signals += 1
            if body[0] in (SENSOR_IFACE, WARMUP_IFACE) and "Cadence" in body[1]:
                self._hit(("cadence", round(body[1]["Cadence"], 1)), t)
            return None
        if member == "Tick" and message.get_interface() == FLOOR_NAME:
            self._hit(("tick",), t)
            return None
        if member == "NameOwnerChanged":
            name, _old, new = message.get_body().unpack()
            if name == BUS_NAME:
                with self.lock:
                    self.owner_changes.append((t, new))
            return None
        return message


# --------------------------------------------------------------------------------------
# The bench

class Bench:
    def __init__(self, builddir, srcdir):
        self.builddir = builddir
        self.srcdir = srcdir
        self.outdir = os.path.join(builddir, "bench", "out")
        os.makedirs(self.outdir, exist_ok=True)
        self.tmpdir = tempfile.mkdtemp(prefix="warmupd-bench-")
        self.procs = Procs()
        self.warmupd = os.path.join(builddir, "src", "warmupd")
        self.rows = []          # (section, figure, value text, target text, verdict)
        self.notes = []
        self.config = os.path.join(self.tmpdir, "bench.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        self.n_warmupd = 0
        self.section = "bench"          # the section running (names the logs in bench/out)
        self.load = []
        self.deployed_env = deployed_env(srcdir)

    def close(self):
        self.procs.stop_all()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def row(self, section, figure, value, target="", ok=None):
        verdict = "" if ok is None else ("met" if ok else "NOT met")
        self.rows.append((section, figure, value, target, verdict))
        print("  %-44s %22s   %-26s %s" % (figure, value, target, verdict), flush=True)

    # ---- helpers -------------------------------------------------------------------

    def start_warmupd(self, bus, args, env_extra=None, system_bus=None, wrapper=()):
        self.n_warmupd += 1
        log = os.path.join(self.outdir, "perf-warmupd.%s.%d.log" % (self.section,
                                                                     self.n_warmupd))
        env = bus.env()
        env.setdefault("WARMUPD_ROUTINES_DIR", os.path.join(self.srcdir, "data", "routines"))
        if system_bus is not None:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = system_bus
        env.update(self.deployed_env)
        env.update(env_extra or {})
        proc = self.procs.start(list(wrapper) + [self.warmupd, "--session"] + list(args),
                                stdin=subprocess.DEVNULL, stdout=open(log, "w"),
                                stderr=subprocess.STDOUT, env=env)
        proc.log_path = log
        return proc

    def wait_owned(self, bus, proc, timeout=DEADLINE):
        def owned():
            if proc.poll() is not None:
                raise BenchError("warmupd exited with status %s (see %s)"
                                 % (proc.returncode, proc.log_path))
            return bus.has_owner(BUS_NAME)
        wait_for(owned, timeout, "warmupd to own %s" % BUS_NAME)

    def stop_warmupd(self, proc):
        rc = self.procs.stop(proc, 30.0)
        if rc != 0:
            raise BenchError("warmupd exited with status %s on SIGTERM (see %s)"
                             % (rc, proc.log_path))

    def start_clients(self, bus, n):
        log = os.path.join(self.outdir, "perf-clients.%s.%d.log" % (self.section, n))
        proc = self.procs.start([os.path.join(self.builddir, "bench", "clients"), str(n)],
                                stdout=subprocess.PIPE, stderr=open(log, "w"),
                                env=bus.env(), universal_newlines=True)
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            raise BenchError("bench/clients %d did not get ready (see %s)" % (n, log))
        return proc

    def stop_clients(self, proc):
        rc = self.procs.stop(proc, 60.0)
        line = proc.stdout.read()
        proc.stdout.close()
        m = re.search(r"clients (\d+) signals (\d+) min (\d+) max (\d+)", line)
        if rc != 0 or m is None:
            raise BenchError("bench/clients exited with %s: %r" % (rc, line))
        return [int(x) for x in m.groups()]

    def start_bike(self, kind="ftms"):
        bike = bluez_mock.BluezMock(self.tmpdir, kind=kind, rate=0.0, cadence=0.0)
        bike.start()
        if kind is not None:
            # the timed trigger (bench/mock_trigger.py), loaded into the mock process
            bike.trigger_path = os.path.join(self.tmpdir, "trigger-%d" % id(bike))
            bike._add_methods("/", bluez_mock.BIKE_IFACE, [(
                "LoadTrigger", "sss", "",
                "import importlib.util\n"
                "spec = importlib.util.spec_from_file_location('mock_trigger', args[0])\n"
                "module = importlib.util.module_from_spec(spec)\n"
                "spec.loader.exec_module(module)\n"
                "self.trigger = module.Trigger(self.bike, args[1], args[2])\n")])
            bike._call("/", bluez_mock.BIKE_IFACE, "LoadTrigger", "(sss)",
                       (os.path.join(self.srcdir, "bench", "mock_trigger.py"),
                        bike.trigger_path, bluez_mock.INDOOR_BIKE_DATA))
            bike.trigger = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM
                                         | socket.SOCK_CLOEXEC)
            bike.trigger.bind(bike.trigger_path + ".bench")
            bike.trigger.settimeout(DEADLINE)
        return bike

    def wait_streaming(self, bike, proc, timeout=DEADLINE):
        """warmupd connected and acquired the Indoor Bike Data socket."""
        def acquired():
            if proc.poll() is not None:
                raise BenchError("warmupd exited with status %s (see %s)"
                                 % (proc.returncode, proc.log_path))
            return bluez_mock.INDOOR_BIKE_DATA in bike.state()["acquired"]
        wait_for(acquired, timeout, "warmupd to acquire Indoor Bike Data notifications",
                 step=0.05)

    def notify_once(self, bike, arrivals, i):
        """One notification, answered by Sensor1 PropertiesChanged; latency in ns."""
        cadence = 60.0 + (i % 40)
        arrivals.arm(("cadence", cadence))
        bike.trigger.sendto(struct.pack("<d", cadence), bike.trigger_path)
        # Wait for the signal before reading the mock's answer: this thread would otherwise
        # wake with the answer and hold the GIL just as the filter thread needs it to stamp
        # the arrival (the floor's caller sleeps in its method call meanwhile).
        try:
            arrived = arrivals.wait()
        finally:
            try:
                sent = struct.unpack("<Q", bike.trigger.recv(8))[0]
            except socket.timeout:
                raise BenchError("the mocked bike did not answer the trigger") from None
        if sent == 0:
            raise BenchError("the mocked bike could not deliver notification %d" % i)
        return arrived - sent

    def floor_once(self, bus, arrivals):
        arrivals.arm(("tick",))
        sent = bus.call(FLOOR_NAME, FLOOR_PATH, FLOOR_NAME, "Emit", reply="(t)")[0]
        return arrivals.wait() - sent

    def live_setup(self, wrapper=(), owned_timeout=DEADLINE, env_extra=None):
        bus = SessionBus(self.procs, self.tmpdir)
        arrivals = Arrivals(bus)
        bike = self.start_bike()
        proc = self.start_warmupd(bus, ["--config", self.config], system_bus=bike.bus.address,
                                  wrapper=wrapper, env_extra=env_extra)
        self.wait_owned(bus, proc, owned_timeout)
        self.wait_streaming(bike, proc, owned_timeout)
        return bus, arrivals, bike, proc

    def live_teardown(self, bus, bike, proc):
        try:
            self.stop_warmupd(proc)
        finally:
            bike.trigger.close()
            bike.close()
            bus.close()

    # ---- sections ------------------------------------------------------------------

    def latency(self):
        n = int(os.environ.get("BENCH_LATENCY_N", "2000"))
        print("latency: notification written to the AcquireNotify socket -> PropertiesChanged "
              "at a client (%d, one at a time)" % n, flush=True)
        bus, arrivals, bike, proc = self.live_setup()
        floor = self.procs.start([os.path.join(self.builddir, "bench", "signal-floor")],
                                 stdout=subprocess.PIPE, env=bus.env(),
                                 universal_newlines=True)
        try:
            if not floor.stdout.readline().startswith("owned"):
                raise BenchError("bench/signal-floor did not own its name")
            for i in range(100):                      # warm both paths up, not counted
                self.notify_once(bike, arrivals, i)
                self.floor_once(bus, arrivals)
            # alternate one by one: a disturbance on the machine (another guest on the
            # host) lands on both series alike, not on a block of one of them
            ours, base = [], []
            block = 1
            i = 100
            while len(ours) < n:
                for _ in range(min(block, n - len(ours))):
                    ours.append(self.notify_once(bike, arrivals, i))
                    i += 1
                for _ in range(min(block, n - len(base))):
                    base.append(self.floor_once(bus, arrivals))
        finally:
            self.procs.stop(floor)
            floor.stdout.close()
            self.live_teardown(bus, bike, proc)
        us = lambda ns: ns / 1000.0  # noqa: E731
        p50, p99 = us(percentile(ours, 50)), us(percentile(ours, 99))
        f50, f99 = us(percentile(base, 50)), us(percentile(base, 99))
        self.row("latency", "warmupd notification -> signal p50 (us)", "%.0f" % p50)
        self.row("latency", "warmupd notification -> signal p99 (us)", "%.0f" % p99,
                 "p99 <= 2 x floor p99", p99 <= 2 * f99)
        self.row("latency", "floor: bare GDBus signal p50 (us)", "%.0f" % f50)
        self.row("latency", "floor: bare GDBus signal p99 (us)", "%.0f" % f99)
        self.row("latency", "ratio p99 warmupd / floor", "%.2f" % (p99 / f99), "<= 2.0",
                 p99 <= 2 * f99)

    def cpu(self):
        n = int(os.environ.get("BENCH_CPU_N", "10000"))
        m = int(os.environ.get("BENCH_FANOUT_N", "1000"))
        print("cpu: instructions per Indoor Bike Data notification, callgrind, %d "
              "notifications; then %d with 100 subscribed clients (fan-out)" % (n, m),
              flush=True)
        for tool in ("valgrind", "callgrind_control"):
            if shutil.which(tool) is None:
                raise BenchError("%s is missing (apt-get install valgrind)" % tool)
        kept = os.path.join(self.outdir, "perf-callgrind.out")
        kept100 = os.path.join(self.outdir, "perf-callgrind-100.out")
        (ir, emitted, wall), (ir100, _, _) = self.callgrind_notifications(
            [(n, kept, 1), (m, kept100, 100)])
        # the same without the unit's environment: what its glibc tunables cost or save
        kept_defaults = os.path.join(self.tmpdir, "perf-callgrind-glibc-defaults.out")
        (ir_defaults, _, _), = self.callgrind_notifications([(n, kept_defaults, 1)],
                                                            env_extra=GLIBC_DEFAULTS)
        per = ir / n
        emission = emission_ir(kept) / n
        bare, sensor = self.emit_floor("bare"), self.emit_floor("sensor")
        sdbus = self.emit_floor(None)
        self.row("cpu", "instructions per notification (Ir)", "{:,.0f}".format(per),
                 "< 50,000", per < 50000)
        self.row("cpu", "  the same with glibc's defaults (Ir)",
                 "{:,.0f}".format(ir_defaults / n), "(not the unit's GLIBC_TUNABLES)")
        self.row("cpu", "floor: one bare GDBus signal (Ir)", "{:,.0f}".format(bare),
                 "bench/emit-floor bare, same run")
        self.row("cpu", "floor: generated PropertiesChanged (Ir)",
                 "{:,.0f}".format(sensor), "bench/emit-floor sensor: 4 values, as here")
        self.row("cpu", "ratio warmupd / bare-signal floor", "%.2f" % (per / bare))
        self.row("cpu", "ratio warmupd / generated PropertiesChanged floor",
                 "%.2f" % (per / sensor), "(what warmupd adds to the emission it must make)")
        if sdbus is not None:
            self.row("cpu", "not GDBus: the same PropertiesChanged from sd-bus (Ir)",
                     "{:,.0f}".format(sdbus), "bench/emit-floor-sdbus: comparison only")
        else:
            self.notes.append("cpu: bench/emit-floor-sdbus was not built (libsystemd-dev "
                              "missing at configure): no sd-bus comparison")
        if bare >= 50000:
            self.notes.append("cpu: the 50,000 target is below what GDBus needs for any one "
                              "message here (a bare signal: {:,.0f}); every notification ends in "
                              "a PropertiesChanged (bench/README.md; make bench-glib for GLib "
                              "2.84)".format(bare))
        self.row("cpu", "  of which PropertiesChanged emission (Ir)", "{:,.0f}".format(emission),
                 "(generated skeletons + GDBus)")
        self.row("cpu", "  of which everything else (Ir)", "{:,.0f}".format(per - emission),
                 "(main loop, GDBus worker, read, decode, controller, set)")
        self.row("cpu", "PropertiesChanged per notification", "%.2f" % (emitted / n))
        self.row("cpu", "wall time under callgrind (s)", "%.1f" % wall)
        self.notes.append("callgrind profiles: bench/out/perf-callgrind.out (%d notifications, "
                          "1 client), bench/out/perf-callgrind-100.out (%d, 100 clients); "
                          "callgrind_annotate --inclusive=yes FILE" % (n, m))
        per100 = ir100 / m
        self.row("fanout", "Ir per notification, 1 client", "{:,.0f}".format(per))
        self.row("fanout", "Ir per notification, 100 clients", "{:,.0f}".format(per100))
        self.row("fanout", "ratio 100 / 1 (instructions)", "%.2f" % (per100 / per), "<= 1.2",
                 per100 / per <= 1.2)

    def callgrind_notifications(self, runs, env_extra=None):
        """warmupd under callgrind, connected to the mocked bike; for each (COUNT, KEEP,
        CLIENTS) of RUNS in turn: counters zeroed, COUNT notifications one at a time with
        CLIENTS subscribed, a dump copied to KEEP. Returns [(Ir, signals seen, wall)]."""
        out = os.path.join(self.tmpdir, "callgrind.out")
        wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   "--callgrind-out-file=" + out]
        bus, arrivals, bike, proc = self.live_setup(wrapper, owned_timeout=300,
                                                    env_extra=env_extra)
        counter = [0]

        def control(*what):
            r = subprocess.run(["callgrind_control"] + list(what) + [str(proc.pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=120)
            if r.returncode != 0:
                raise BenchError("callgrind_control %s: %s" % (" ".join(what), r.stdout))

        def measure(count, keep):
            """Zero, COUNT notifications one at a time, dump: (Ir, signals seen, wall)."""
            control("--zero")
            before = arrivals.props_signals
            t0 = time.monotonic()
            for _ in range(count):
                self.notify_once(bike, arrivals, counter[0])
                counter[0] += 1
            wall = time.monotonic() - t0
            emitted = arrivals.props_signals - before
            for f in glob.glob(out + "*"):
                os.unlink(f)
            control("--dump")
            dumps = wait_for(lambda: glob.glob(out + "*"), DEADLINE, "the callgrind dump")
            shutil.copy(sorted(dumps)[-1], keep)
            return callgrind_total(keep), emitted, wall

        results = []
        try:
            for _ in range(50):
                self.notify_once(bike, arrivals, counter[0])
                counter[0] += 1
            control("--instr=on")
            for count, keep, clients in runs:
                helper = self.start_clients(bus, clients - 1) if clients > 1 else None
                try:
                    results.append(measure(count, keep))
                finally:
                    if helper is not None:
                        _, _, lo, _ = self.stop_clients(helper)
                if helper is not None and lo < count:
                    raise BenchError("a fan-out client received %d signals for %d "
                                     "notifications" % (lo, count))
            control("--instr=off")
        finally:
            self.live_teardown(bus, bike, proc)
        return results

    def emit_floor(self, kind):
        """Instructions GDBus needs for one emission of KIND (bench/emit-floor) under
        callgrind: the difference between 2,000 and 1,000 emissions, so start-up cancels.
        KIND None: the same PropertiesChanged as "sensor" through sd-bus
        (bench/emit-floor-sdbus), or None when that was not built."""
        if kind is None:
            program, args = os.path.join(self.builddir, "bench", "emit-floor-sdbus"), []
            if not os.access(program, os.X_OK):
                return None
        else:
            program, args = os.path.join(self.builddir, "bench", "emit-floor"), [kind]
        bus = SessionBus(self.procs, self.tmpdir)
        counts = {}
        try:
            for count in (1000, 2000):
                out = os.path.join(self.tmpdir, "emit-floor.%s.%d.out" % (kind, count))
                r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                                    program] + args + [str(count)], env=bus.env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   universal_newlines=True, timeout=600)
                if r.returncode != 0:
                    raise BenchError("%s %s %d: %s" % (program, kind or "", count,
                                                       r.stdout[-800:]))
                counts[count] = callgrind_total(out)
        finally:
            bus.close()
        return (counts[2000] - counts[1000]) / 1000.0

    def fanout(self):
        n = int(os.environ.get("BENCH_FANOUT_N", "1000"))
        print("fanout: warmupd CPU time per notification (schedstat), 1 vs 100 subscribed "
              "clients (%d notifications a run, 3 runs each; the target is judged on the "
              "instructions, in the cpu section: CPU time also moves with the load the 100 "
              "clients and the bus put on the machine)" % n, flush=True)
        bus, arrivals, bike, proc = self.live_setup()
        per = {1: [], 100: []}
        received = {}
        try:
            for i in range(100):
                self.notify_once(bike, arrivals, i)
            k = 100
            for _ in range(3):
                for clients in (1, 100):
                    helper = self.start_clients(bus, clients - 1) if clients > 1 else None
                    before_signals = arrivals.props_signals
                    c0 = cpu_ns(proc.pid)
                    for _ in range(n):
                        self.notify_once(bike, arrivals, k)
                        k += 1
                    c1 = cpu_ns(proc.pid)
                    per[clients].append((c1 - c0) / n)
                    if helper is not None:
                        _, total, lo, _hi = self.stop_clients(helper)
                        ours = arrivals.props_signals - before_signals
                        if lo < n:
                            raise BenchError("a fan-out client received %d signals for %d "
                                             "notifications" % (lo, n))
                        received[clients] = (total + ours, ours)
        finally:
            self.live_teardown(bus, bike, proc)
        one = statistics.median(per[1]) / 1000.0
        hundred = statistics.median(per[100]) / 1000.0
        ratio = hundred / one
        self.row("fanout", "CPU per notification, 1 client (us)", "%.1f" % one,
                 "runs %s" % " ".join("%.1f" % (x / 1000) for x in per[1]))
        self.row("fanout", "CPU per notification, 100 clients (us)", "%.1f" % hundred,
                 "runs %s" % " ".join("%.1f" % (x / 1000) for x in per[100]))
        self.row("fanout", "ratio 100 / 1 (CPU time)", "%.2f" % ratio,
                 "indicative: load %.1f" % os.getloadavg()[0])
        total, ours = received[100]
        self.row("fanout", "signals delivered, 100 clients, last run", "{:,}".format(total),
                 "(%d per client)" % ours)

    def memory(self):
        print("memory: RSS growth hour 1 -> 24 (virtual time); peak RSS of the hour replayed "
              "vs floor (secondary: the peak RSS verdict is the live section's)", flush=True)
        bus = SessionBus(self.procs, self.tmpdir)
        try:
            floor = self.start_floor(bus)
            floor_hwm = proc_status(floor.pid, "VmHWM")
            self.procs.stop(floor)
            floor.stdout.close()

            hour = os.path.join(self.outdir, "perf-hour.trace")
            subprocess.run([PYTHON, os.path.join(self.srcdir, "tools", "gen-trace.py"), "hour",
                            "--rate", "4", "-o", hour], check=True)
            # Secondary: the hour replayed at --speed 0 takes about 0.1 s and sends ~118
            # PropertiesChanged per client, with no BlueZ, GATT or control point. The peak
            # RSS target is judged on the live session (section live), not on this.
            hwm = self.replay(bus, hour, None)["hwm"]
            ratio = hwm / floor_hwm
            self.row("memory", "peak RSS warmupd, 1 h replayed at --speed 0 (KiB)", "%d" % hwm,
                     "secondary: the verdict is live's")
            self.row("memory", "peak RSS floor: bare GLib + name (KiB)", "%d" % floor_hwm)
            self.row("memory", "ratio warmupd / floor, replay (not the verdict)", "%.2f" % ratio,
                     "(live: the real session)")

            # Growth: VmRSS once the replay of the first hour has finished and settled,
            # against the same once all 24 h have (the same trace up to hour 1), median of
            # BENCH_MEMORY_RUNS runs each. Separate runs differ by ~100 KiB of file-backed
            # pages (which library pages the kernel's fault-around maps), so the anonymous
            # part (RssAnon) is shown too, and the heap really in use once finished is taken
            # with massif (valgrind): what a leak would make grow. (At --speed 0 warmupd
            # waits after each batch of events until GDBus has written its signals: before
            # it did, their backlog left a heap high-water mark that grew with the trace,
            # +140 KiB RssAnon from hour 1 to 24, and 8.5 MiB of heap under massif.)
            day = os.path.join(self.outdir, "perf-day.trace")
            first = os.path.join(self.outdir, "perf-day-hour1.trace")
            t0 = time.monotonic()
            samples, events_hour1 = write_day_trace(self.srcdir, day, first)
            gen_s = time.monotonic() - t0
            runs = int(os.environ.get("BENCH_MEMORY_RUNS", "5"))
            r1 = [self.replay(bus, first, None) for _ in range(runs)]
            r24 = [self.replay(bus, day, events_hour1) for _ in range(runs)]
            growth = (statistics.median(r["rss_end"] for r in r24)
                      - statistics.median(r["rss_end"] for r in r1))
            anon_growth = (statistics.median(r["anon_end"] for r in r24)
                           - statistics.median(r["anon_end"] for r in r1))
            walls = sorted(r["wall"] for r in r24)
            heap1 = heap24 = None
            if shutil.which("valgrind") is not None:
                t0 = time.monotonic()
                m1 = self.replay(bus, first, None, massif=True)
                m24 = self.replay(bus, day, events_hour1, massif=True)
                heap1, heap24 = m1["heap"], m24["heap"]
                massif_s = time.monotonic() - t0
            self.row("memory", "24 h trace: samples (generated in %.1f s)" % gen_s,
                     "{:,}".format(samples))
            self.row("memory", "24 h replay at --speed 0: wall time (s)",
                     "%.1f" % walls[len(walls) // 2], "(median of %d)" % runs)
            self.row("memory", "VmRSS after hour 1, runs (KiB)",
                     " ".join("%d" % r["rss_end"] for r in r1))
            self.row("memory", "VmRSS after hour 24, runs (KiB)",
                     " ".join("%d" % r["rss_end"] for r in r24))
            # VmRSS also counts file-backed pages, which differ by ~100 KiB from run to run:
            # alone it can pass or fail by chance. Met only when RssAnon grows < 64 KiB too.
            self.row("memory", "RSS growth hour 1 -> 24 (KiB)", "%d" % growth,
                     "< 64 KiB (medians of %d runs; RssAnon too)" % runs,
                     growth < 64 and anon_growth < 64)
            self.row("memory", "RssAnon after hour 1 / 24, runs (KiB)", "%s / %s" % (
                " ".join("%d" % r["anon_end"] for r in r1),
                " ".join("%d" % r["anon_end"] for r in r24)))
            self.row("memory", "  of which anonymous (RssAnon) growth (KiB)", "%d" % anon_growth,
                     "(medians)")
            # The same with glibc's defaults instead of the unit's GLIBC_TUNABLES, and with
            # glibc's per-thread caches of freed chunks (tcache) off altogether. GDBus frees
            # in its worker thread what the main thread allocated for the bus, and by default
            # a longer replay fills more of that thread's caches (up to 7 chunks a size, up
            # to 1,032 bytes): bounded, and the unit caches only chunks up to 128 bytes.
            others = {}
            for label, env_extra in (("glibc defaults", GLIBC_DEFAULTS),
                                     ("glibc tcache off", NO_TCACHE)):
                o1 = [self.replay(bus, first, None, env_extra=env_extra) for _ in range(runs)]
                o24 = [self.replay(bus, day, events_hour1, env_extra=env_extra)
                       for _ in range(runs)]
                others[label] = o24
                self.row("memory", "RSS growth, %s (KiB)" % label, "%d" % (
                    statistics.median(r["rss_end"] for r in o24)
                    - statistics.median(r["rss_end"] for r in o1)),
                         "(medians; RssAnon %+d)" % (
                             statistics.median(r["anon_end"] for r in o24)
                             - statistics.median(r["anon_end"] for r in o1)))
            if heap1 is not None:
                self.row("memory", "heap in use after hour 1 / 24 (bytes, massif)",
                         "{:,} / {:,}".format(heap1, heap24), "(%.0f s under massif)" % massif_s)
                self.row("memory", "heap growth hour 1 -> 24 (bytes)",
                         "{:,}".format(heap24 - heap1), "< 64 KiB", heap24 - heap1 < 65536)
                # what runs ahead of the bus would pile up (8.5 MiB at hour 24 before the
                # replay waited for GDBus to write each batch)
                self.row("memory", "peak heap over the 1 h / 24 h replay (bytes, massif)",
                         "{:,} / {:,}".format(m1["heap_peak"], m24["heap_peak"]),
                         "24 h within 64 KiB of 1 h (no backlog)",
                         m24["heap_peak"] - m1["heap_peak"] < 65536)
            else:
                self.notes.append("valgrind is missing: no heap-in-use figure")
            self.row("memory", "  in-run: VmRSS as Events passed hour 1 (KiB)",
                     " ".join("%d" % r["rss_mark"] for r in r24), "(in flight: indicative)")
            self.row("memory", "peak RSS over the 24 h replay (KiB)",
                     "%d" % max(r["hwm"] for r in r24))
            # A timed replay as fast as --speed allows publishes every sample on its own (a
            # PropertiesChanged each, ~14,000 samples a second to 3 clients): it too waits
            # for the bus after each batch, or GDBus's queue grows without bound (523 MB
            # before it did). (The bike keeps sending through its stops, so few controller
            # deadlines fall between two samples here: tests/test-engine's long-stop case
            # covers those steps.)
            fast = self.replay(bus, day, None, speed=1000000)
            slow_peak = max(r["hwm"] for r in r24)
            self.row("memory", "peak RSS, the 24 h replay at --speed 1000000 (KiB)",
                     "%d" % fast["hwm"], "<= 1.5 x the --speed 0 peak, %d (no backlog)"
                     % slow_peak, fast["hwm"] <= 1.5 * slow_peak)
            self.row("memory", "  its wall time (s)", "%.1f" % fast["wall"])
            self.notes.append("VmRSS along the first 24 h replay (trace hour: KiB, at each "
                              "change seen by polling): " + ", ".join(
                                  "%.1f: %d" % (e / 14400.0, r)
                                  for e, r in r24[0]["series"]))
            self.row("memory", "signals per client: 1 h / 24 h", "{:,} / {:,}".format(
                r1[0]["counts"][2], r24[0]["counts"][2]))
            long_hours = int(os.environ.get("BENCH_MEMORY_LONG_HOURS", "0"))
            if long_hours > 24:
                self.memory_long(bus, long_hours, runs, dict(others, deployed=r24))
        finally:
            bus.close()

    def start_floor(self, bus):
        """bench/floor (bare GLib owning a name), once it owns it. It runs with the unit's
        environment too, so that a ratio compares the processes and not glibc's settings."""
        floor = self.procs.start([os.path.join(self.builddir, "bench", "floor"),
                                  "io.github.warmupd.BenchFloor"], stdout=subprocess.PIPE,
                                 env=dict(bus.env(), **self.deployed_env),
                                 universal_newlines=True)
        if not floor.stdout.readline().startswith("owned"):
            raise BenchError("bench/floor did not own its name")
        return floor

    def live(self):
        """The memory verdict: warmupd as deployed, connected to the mocked FTMS bike (BlueZ
        on the private system bus: AcquireNotify socket, control point, the warm-up capping
        the resistance), Indoor Bike Data at 4 Hz from the bike's own stream with a cadence
        changing every sample, 3 clients (bench/clients 3) receiving every PropertiesChanged,
        for BENCH_LIVE_SECONDS (3600: the issue's hour) of wall time. VmHWM/VmRSS/RssAnon
        sampled every second; bench/floor (bare GLib owning a name) runs beside it the whole
        time, its VmHWM taken at the end."""
        seconds = float(os.environ.get("BENCH_LIVE_SECONDS", "3600"))
        if seconds <= 0:
            raise BenchError("BENCH_LIVE_SECONDS must be positive")
        print("live: peak RSS of warmupd over a %.0f s session at 4 Hz through the mocked BlueZ "
              "bike, 3 subscribed clients, vs bench/floor in the same run (real time)"
              % seconds, flush=True)
        bus = SessionBus(self.procs, self.tmpdir)
        floor = clients = bike = proc = None
        series = []                    # (s since streaming, VmHWM, VmRSS, RssAnon) KiB
        try:
            floor = self.start_floor(bus)
            floor_hwm_start = proc_status(floor.pid, "VmHWM")
            clients = self.start_clients(bus, 3)
            journal = os.path.join(self.tmpdir, "live-bike.journal")
            bike = bluez_mock.BluezMock(self.tmpdir, rate=4.0, cadence=75.0, power=105.0,
                                        journal=journal)
            bike.start()
            bike._add_methods("/", bluez_mock.BIKE_IFACE, [(
                "LoadPedalling", "s", "",
                "import importlib.util\n"
                "spec = importlib.util.spec_from_file_location('mock_trigger', args[0])\n"
                "module = importlib.util.module_from_spec(spec)\n"
                "spec.loader.exec_module(module)\n"
                "self.pedalling = module.Pedalling(self.bike)\n")])
            bike._call("/", bluez_mock.BIKE_IFACE, "LoadPedalling", "(s)",
                       (os.path.join(self.srcdir, "bench", "mock_trigger.py"),))
            proc = self.start_warmupd(bus, ["--config", self.config],
                                      system_bus=bike.bus.address)
            self.wait_owned(bus, proc)
            self.wait_streaming(bike, proc)
            sensor = wait_for(lambda: sensor_paths(bus), DEADLINE, "a Sensor1 object")[0]
            smaps_early = os.path.join(self.outdir, "perf-live-smaps.early.txt")
            early_at = min(60.0, seconds / 2)
            checkpoints = [c for c in (10, 30, 60, 120, 300, 600, 900, 1200, 1800, 2400, 3000)
                           if c < seconds]
            t0 = time.monotonic()
            k = 0
            while True:
                k += 1
                t_next = t0 + min(k * 1.0, seconds)
                time.sleep(max(0.0, t_next - time.monotonic()))
                if proc.poll() is not None:
                    raise BenchError("warmupd exited with status %s during the live session "
                                     "(see %s)" % (proc.returncode, proc.log_path))
                if bike.proc.poll() is not None:
                    raise BenchError("the mocked bluetoothd died during the live session")
                t = time.monotonic() - t0
                series.append((t, proc_status(proc.pid, "VmHWM"), proc_status(proc.pid, "VmRSS"),
                               proc_status(proc.pid, "RssAnon")))
                if early_at is not None and t >= early_at:
                    shutil.copy("/proc/%d/smaps" % proc.pid, smaps_early)
                    early_at = None
                if checkpoints and t >= checkpoints[0]:
                    checkpoints.pop(0)
                    print("  live %5.0f s: VmHWM %d VmRSS %d RssAnon %d KiB" % series[-1],
                          flush=True)
                if t >= seconds:
                    break
            measured = series[-1][0]
            hwm = series[-1][1]
            shutil.copy("/proc/%d/smaps" % proc.pid,
                        os.path.join(self.outdir, "perf-live-smaps.end.txt"))
            floor_hwm = max(floor_hwm_start, proc_status(floor.pid, "VmHWM"))
            # the end of the session: the bike stops streaming, then what warmupd counted
            bike.set_rate(0.0)
            time.sleep(1.0)
            events = bus.get(sensor, SENSOR_IFACE, "Events")
            state = bus.get(OBJECT_PATH, WARMUP_IFACE, "State")
            elapsed = bus.get(OBJECT_PATH, WARMUP_IFACE, "Elapsed")
            control = bus.get(OBJECT_PATH, WARMUP_IFACE, "Control")
            cp_writes = len(bike.writes())
            self.stop_warmupd(proc)
            proc = None
            _, _, lo, hi = self.stop_clients(clients)
            clients = None
        finally:
            if proc is not None:
                self.procs.stop(proc)
            if clients is not None:
                self.procs.stop(clients)
                clients.stdout.close()
            if bike is not None:
                bike.close()
            if floor is not None:
                self.procs.stop(floor)
                floor.stdout.close()
            bus.close()
        with open(journal) as f:
            ticks = [line.split() for line in f if " data " in line]
        delivered = sum(1 for fields in ticks if fields[-1] == "1")
        if delivered == 0 or events < delivered:
            raise BenchError("warmupd counted %d events, the bike delivered %d notifications"
                             % (events, delivered))
        if lo != hi or lo < delivered:
            raise BenchError("the 3 clients received %d to %d signals for %d notifications"
                             % (lo, hi, delivered))
        with open(os.path.join(self.outdir, "perf-live-memory.tsv"), "w") as f:
            f.write("# s\tVmHWM\tVmRSS\tRssAnon (KiB): warmupd, live session, bench/perf.py\n")
            for point in series:
                f.write("%.1f\t%d\t%d\t%d\n" % point)
        ratio = hwm / floor_hwm
        label = "%.0f s" % measured if measured < 3600 else "%.2f h" % (measured / 3600)
        self.row("live", "peak RSS warmupd, %s live 4 Hz, 3 clients (KiB)" % label, "%d" % hwm)
        self.row("live", "peak RSS floor: bare GLib + name (KiB)", "%d" % floor_hwm,
                 "bench/floor, beside it all along")
        self.row("live", "ratio warmupd / floor, %s live" % label, "%.2f" % ratio, "<= 1.3",
                 ratio <= 1.3)
        # the curve: VmHWM / VmRSS at a few points, and where the peak was first reached
        points = [p for p in series if any(abs(p[0] - c) < 0.6 for c in
                                           (1, 10, 60, 300, 600, 1200, 1800, 2400, 3000))]
        if series[-1] not in points:
            points.append(series[-1])
        first_peak = next(p[0] for p in series if p[1] == hwm)
        self.row("live", "VmHWM / VmRSS along it (s: KiB)", ", ".join(
            "%.0f: %d/%d" % (p[0], p[1], p[2]) for p in points),
                 "peak first reached at %.0f s" % first_peak)
        self.row("live", "RssAnon at %.0f s / at the end (KiB)" % series[0][0],
                 "%d / %d" % (series[0][3], series[-1][3]))
        self.row("live", "notifications delivered by the bike / Events",
                 "{:,} / {:,}".format(delivered, events),
                 "%.2f Hz; dropped (socket full) %d" % (delivered / measured,
                                                        len(ticks) - delivered))
        self.row("live", "signals per client (3 clients)", "{:,}".format(lo),
                 "PropertiesChanged + StartFloorRoutine")
        self.row("live", "warm-up at the end: state, counted s, control",
                 "%s %.0f %s" % (state, elapsed, control),
                 "%d control point writes" % cp_writes)
        self.notes.append("live: the whole curve (1 s samples) in bench/out/perf-live-memory.tsv; "
                          "/proc/PID/smaps at %.0f s and at the end in "
                          "bench/out/perf-live-smaps.{early,end}.txt" % min(60.0, seconds / 2))

    def memory_long(self, bus, hours, runs, day_runs):
        """Where the growth goes on a longer replay (BENCH_MEMORY_LONG_HOURS): a leak keeps
        growing, allocator caches level off. As deployed, with glibc's defaults and with its
        tcache off, each against the memory section's 24 h replays in DAY_RUNS."""
        trace = os.path.join(self.outdir, "perf-long.trace")
        first = os.path.join(self.outdir, "perf-long-hour1.trace")
        write_day_trace(self.srcdir, trace, first, hours=hours)
        med = lambda rs, key: statistics.median(r[key] for r in rs)  # noqa: E731
        for label, env_extra in (("deployed", None), ("glibc defaults", GLIBC_DEFAULTS),
                                 ("glibc tcache off", NO_TCACHE)):
            rl = [self.replay(bus, trace, None, env_extra=env_extra) for _ in range(runs)]
            r24 = day_runs[label]
            self.row("memory", "long, %s: VmRSS / RssAnon after hour %d (KiB, medians)"
                     % (label, hours), "%d / %d" % (med(rl, "rss_end"), med(rl, "anon_end")),
                     "runs %s" % " ".join("%d" % r["anon_end"] for r in rl))
            self.row("memory", "long, %s: growth hour 24 -> %d, VmRSS / RssAnon (KiB)"
                     % (label, hours), "%+d / %+d" % (med(rl, "rss_end") - med(r24, "rss_end"),
                                                     med(rl, "anon_end") - med(r24, "anon_end")))

    def replay(self, bus, trace, mark_events, massif=False, env_extra=None, speed=0,
               config="/dev/null"):
        """Replay TRACE at --speed 0 with 3 clients; returns {hwm: VmHWM at the end,
        rss_mark: VmRSS when Events passed MARK_EVENTS, rss_end: VmRSS at the end once
        settled, wall: seconds to Finished, counts: the clients' counts, series: (events,
        VmRSS) at each change seen, heap: with MASSIF (warmupd under valgrind's massif), the
        heap in use once finished, bytes, heap_peak: with MASSIF, the largest heap of any
        snapshot over the run, bytes}."""
        with open(trace) as f:
            events = sum(1 for line in f if line[:1].isdigit())
        clients = self.start_clients(bus, 3)
        wrapper = ["valgrind", "--tool=massif", "--massif-out-file=%s/massif.%%p" % self.tmpdir
                   ] if massif else []
        proc = self.start_warmupd(bus, ["--config", config, "--replay", trace,
                                        "--speed", str(speed)], wrapper=wrapper,
                                  env_extra=env_extra)
        sensor = OBJECT_PATH + "/sensors/replay0"
        t0 = time.monotonic()
        rss_mark = None
        self.rss_series = []        # (events, VmRSS KiB) along the replay
        deadline = t0 + (1200 if massif else 600)
        while True:
            if proc.poll() is not None:
                raise BenchError("warmupd exited with status %s (see %s)"
                                 % (proc.returncode, proc.log_path))
            if time.monotonic() > deadline:
                raise BenchError("the replay of %s did not finish in 600 s" % trace)
            try:
                if mark_events is not None:
                    seen = bus.get(sensor, SENSOR_IFACE, "Events")
                    rss = proc_status(proc.pid, "VmRSS")
                    if not self.rss_series or self.rss_series[-1][1] != rss:
                        self.rss_series.append((seen, rss))
                    if rss_mark is None and seen >= mark_events:
                        rss_mark = rss
                if bus.get(sensor, SENSOR_IFACE, "Finished"):
                    break
            except GLib.Error:        # not owned yet, or no sensor object yet
                pass
            time.sleep(0.002)
        wall = time.monotonic() - t0
        # settled: two readings 200 ms apart agree (the clients have drained the bus)
        rss_end, settle_end = None, time.monotonic() + 5
        while time.monotonic() < settle_end:
            rss = proc_status(proc.pid, "VmRSS")
            if rss == rss_end:
                break
            rss_end = rss
            time.sleep(0.2)
        hwm = proc_status(proc.pid, "VmHWM")
        anon_end = proc_status(proc.pid, "RssAnon")
        heap = massif_heap(proc.pid, self.tmpdir) if massif else None
        delivered = bus.get(sensor, SENSOR_IFACE, "Events")
        self.stop_warmupd(proc)
        heap_peak = massif_peak(proc.pid, self.tmpdir) if massif else None
        counts = self.stop_clients(clients)
        if delivered != events:
            raise BenchError("Sensor1.Events %d, the trace has %d events" % (delivered, events))
        if counts[2] == 0:
            raise BenchError("a client received no signal during the replay")
        if mark_events is not None and rss_mark is None:
            raise BenchError("the event count never passed %d" % mark_events)
        return {"hwm": hwm, "rss_mark": rss_mark, "rss_end": rss_end, "anon_end": anon_end,
                "wall": wall, "heap": heap, "heap_peak": heap_peak,
                "counts": counts, "series": list(self.rss_series)}

    def idle(self):
        seconds = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
        print("idle: no bike, nothing happening, %.0f s: wakeups (context switches of every "
              "thread) vs watchdog keep-alives (WatchdogSec=30s)" % seconds, flush=True)
        buses = [SessionBus(self.procs, self.tmpdir), SessionBus(self.procs, self.tmpdir)]
        adapter_only = self.start_bike(kind=None)        # bluetoothd, an adapter, no bike
        bare = bluez_mock.SystemBus(tempfile.mkdtemp(dir=self.tmpdir))   # no bluetoothd
        runs = []
        try:
            for label, system in (("bluetoothd, adapter, no bike", adapter_only.bus.address),
                                  ("no bluetoothd", bare.address)):
                sock_path = os.path.join(self.tmpdir, "notify-%d" % len(runs))
                sock = NotifySocket(sock_path)
                proc = self.start_warmupd(buses[len(runs)], ["--config", self.config],
                                          system_bus=system,
                                          env_extra={"NOTIFY_SOCKET": sock_path,
                                                     "WATCHDOG_USEC": "30000000"})
                runs.append((label, proc, sock))
            for label, proc, sock in runs:
                wait_for(lambda: sock.read() is not None
                         and any(b"READY=1" in d for d in sock.seen),
                         DEADLINE, "READY=1 from warmupd (%s)" % label)
            # Let start-up work settle: until no thread switches for 2 s (at most 20 s).
            quiet_since, last, t_end = time.monotonic(), None, time.monotonic() + 20
            while time.monotonic() < t_end and time.monotonic() - quiet_since < 2:
                now = [thread_switches(p.pid) for _, p, _ in runs]
                if now != last:
                    last, quiet_since = now, time.monotonic()
                time.sleep(0.1)
            # The window: every thread's counts polled every 0.1 s and kept when the thread
            # exits (GLib's pool thread, pool-warmupd, exits on its 15 s idle timeout, maybe
            # inside the window: counting only the threads alive at the end lost its
            # wakeups). perf stat, when usable, counts the same switches in the kernel.
            for _, _, sock in runs:
                sock.read()
            perfs = [start_perf_switches(self.procs, p.pid) for _, p, _ in runs]
            trackers = [SwitchTracker(p.pid) for _, p, _ in runs]
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                time.sleep(min(0.1, max(0.0, t_end - time.monotonic())))
                for tracker in trackers:
                    tracker.poll()
            perf_counts = [stop_perf_switches(self.procs, perf) for perf in perfs]
            keepalives = [sum(b"WATCHDOG=1" in d for d in sock.read()) for _, _, sock in runs]
            for (label, proc, sock), tracker, k, perf, perf_count in zip(
                    runs, trackers, keepalives, perfs, perf_counts):
                if proc.poll() is not None:
                    raise BenchError("warmupd (%s) died during the idle window" % label)
                total, switches, detail = tracker.result()
                needed = int(seconds // 15)
                self.row("idle", "wakeups in %.0f s, %s" % (seconds, label), "%d" % total,
                         "<= %d (keep-alives)" % needed, total <= needed)
                self.row("idle", "  keep-alives sent / threads woken", "%d" % k,
                         ", ".join(detail) or "none")
                if perf_count is not None:
                    self.row("idle", "  context switches, perf stat (cross-check)",
                             "%d" % perf_count, "polled /proc: %d (+1 each exited thread: "
                             "its last wakeup)" % switches)
                elif perf is None:
                    self.notes.append("idle: perf is missing: no cross-check of the polled "
                                      "counts")
                else:
                    self.notes.append("idle (%s): perf stat could not count: %s"
                                      % (label, perf.failure[0]))
                self.stop_warmupd(proc)
                sock.close()
        finally:
            for _, proc, sock in runs:
                self.procs.stop(proc)
            adapter_only.close()
            bare.close()
            for bus in buses:
                bus.close()

    def startup(self):
        runs = int(os.environ.get("BENCH_STARTUP_RUNS", "20"))
        print("startup: exec -> io.github.warmupd owned, with the mocked bike present, %d runs"
              % runs, flush=True)
        bus = SessionBus(self.procs, self.tmpdir)
        arrivals = Arrivals(bus)
        bike = self.start_bike()
        times = []
        try:
            for _ in range(runs):
                with arrivals.lock:
                    arrivals.owner_changes.clear()
                t0 = monotonic_ns()
                proc = self.start_warmupd(bus, ["--config", self.config],
                                          system_bus=bike.bus.address)

                def owned():
                    if proc.poll() is not None:
                        raise BenchError("warmupd exited with status %s (see %s)"
                                         % (proc.returncode, proc.log_path))
                    with arrivals.lock:
                        return [t for t, new in arrivals.owner_changes if new]
                t1 = wait_for(owned, DEADLINE, "warmupd to own its name")[0]
                times.append((t1 - t0) / 1e6)
                self.stop_warmupd(proc)
                wait_for(lambda: not bus.has_owner(BUS_NAME), DEADLINE, "the name to go")
        finally:
            bike.close()
            bus.close()
        med = statistics.median(times)
        self.row("startup", "exec -> name owned, median (ms)", "%.1f" % med, "< 50 ms",
                 med < 50)
        self.row("startup", "min / max (ms)", "%.1f / %.1f" % (min(times), max(times)))


class SwitchTracker:
    """Context switches of every thread of a process over a window, threads that exit during
    it included: poll() (every 0.1 s) keeps each thread's last counts seen, so a thread that
    exits keeps what it did up to then; a thread born during the window counts from 0. A
    thread that exits woke once more to exit, and the kernel counts that switch only once
    /proc no longer shows the thread: one wakeup is added for each thread that exited."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.monotonic()
        self.start = thread_switches(pid)
        self.last = dict(self.start)
        self.exited = {}                 # tid -> seconds into the window when found gone
        self.born = set()

    def poll(self):
        now = thread_switches(self.pid)
        t = time.monotonic() - self.t0
        for tid in self.last:
            if tid not in now and tid not in self.exited:
                self.exited[tid] = t
        for tid, counts in now.items():
            if tid not in self.start:
                self.born.add(tid)
            self.last[tid] = counts

    def result(self):
        """(wakeups, switches polled, ["NAME N (exited at T s)", ...])."""
        self.poll()
        total = switches = 0
        detail = []
        for tid, (name, vol, nonvol) in sorted(self.last.items()):
            _, vol0, nonvol0 = self.start.get(tid, (name, 0, 0))
            d = (vol - vol0) + (nonvol - nonvol0)
            switches += d
            note = []
            if tid in self.born:
                note.append("born")
            if tid in self.exited:
                d += 1
                note.append("exited at %.0f s" % self.exited[tid])
            total += d
            if d:
                detail.append("%s %d%s" % (name, d, " (%s)" % ", ".join(note) if note else ""))
        return total, switches, detail


def start_perf_switches(procs, pid):
    """perf stat counting the context switches of PID's threads (new ones inherited), or
    None when perf is missing."""
    if shutil.which("perf") is None:
        return None
    return procs.start(["perf", "stat", "-x", ",", "-e", "context-switches", "-p", str(pid)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, universal_newlines=True)


def stop_perf_switches(procs, perf):
    """The count of a perf stat from start_perf_switches (SIGINT ends it), None when it
    could not count (perf_event_paranoid, no software events...)."""
    if perf is None:
        return None
    if perf.poll() is None:
        perf.send_signal(signal.SIGINT)
    try:
        _, err = perf.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        perf.kill()
        _, err = perf.communicate()
    if perf in procs.procs:
        procs.procs.remove(perf)
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == "context-switches" and fields[0].isdigit():
            return int(fields[0])
    perf.failure = err.strip().splitlines()[-1:] or ["(no output)"]
    return None


class NotifySocket:
    """The service manager's end of NOTIFY_SOCKET: collects what warmupd sends."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self.sock.bind(path)
        self.seen = []

    def read(self):
        """Datagrams received since the last read (all of them are also kept in seen)."""
        new = []
        while True:
            try:
                new.append(self.sock.recv(4096))
            except BlockingIOError:
                break
        self.seen += new
        return new

    def close(self):
        self.sock.close()


def sensor_paths(bus):
    """Object paths of warmupd's Sensor1 objects (children of OBJECT_PATH/sensors)."""
    try:
        xml = bus.call(BUS_NAME, OBJECT_PATH + "/sensors", "org.freedesktop.DBus.Introspectable",
                       "Introspect", reply="(s)")[0]
    except GLib.Error:
        return []
    return [OBJECT_PATH + "/sensors/" + node.path
            for node in Gio.DBusNodeInfo.new_for_xml(xml).nodes]


def callgrind_total(profile):
    with open(profile) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise BenchError("no totals in %s" % profile)


def emission_ir(profile):
    """Inclusive instructions of the generated skeletons' PropertiesChanged emission
    (_wu_*_emit_changed: building the a{sv}, g_dbus_connection_emit_signal) in a callgrind
    profile."""
    r = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       universal_newlines=True)
    seen = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) .*:(_wu_\w+_emit_changed)\b", line)
        if m:
            seen[m.group(2)] = max(seen.get(m.group(2), 0), int(m.group(1).replace(",", "")))
    if not seen:
        raise BenchError("no _wu_*_emit_changed in the callgrind profile %s" % profile)
    return sum(seen.values())


def massif_heap(pid, tmpdir):
    """Heap in use (useful + extra bytes) of PID running under massif, from a snapshot
    asked through vgdb."""
    path = os.path.join(tmpdir, "massif-snapshot.%d" % pid)
    r = subprocess.run(["vgdb", "--pid=%d" % pid, "snapshot", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    if r.returncode != 0 or not os.path.exists(path):
        raise BenchError("vgdb snapshot of warmupd failed: %s" % r.stdout[-500:])
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key in ("mem_heap_B", "mem_heap_extra_B"):
                values[key] = int(value)
    os.unlink(path)
    if len(values) != 2:
        raise BenchError("no heap figures in the massif snapshot")
    return values["mem_heap_B"] + values["mem_heap_extra_B"]


def massif_peak(pid, tmpdir):
    """The largest heap (useful + extra bytes) of any snapshot in the massif output of PID,
    which has exited; the file is removed."""
    path = os.path.join(tmpdir, "massif.%d" % pid)
    peak = total = 0
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == "mem_heap_B":
                total = int(value)
            elif key == "mem_heap_extra_B":
                peak = max(peak, total + int(value))
    os.unlink(path)
    return peak


def write_day_trace(srcdir, path, first_hour_path, hours=24):
    """HOURS (24) at 4 Hz, streamed to PATH: cycles of 20 min pedalling (about 75 rpm) and
    10 min stopped; its first hour also to FIRST_HOUR_PATH. Returns (samples, events in the
    first hour)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_trace",
                                                  os.path.join(srcdir, "tools", "gen-trace.py"))
    gt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gt)
    rate = 4
    total = hours * 3600 * rate
    distance = 0.0
    hex_bytes = lambda data: " ".join("%02x" % b for b in data)  # noqa: E731
    with open(path, "w") as day, open(first_hour_path, "w") as hour:
        head = ["# warmupd trace 1",
                "# %d h at 4 Hz: %d x (20 min pedalling, 10 min stopped) (bench/perf.py)"
                % (hours, hours * 2),
                "0.000 ftms.feature %s" % hex_bytes(gt.encode_feature(*gt.DEFAULT_FEATURE)),
                "0.000 ftms.resistance-range %s"
                % hex_bytes(gt.encode_resistance_range(*gt.DEFAULT_RESISTANCE_RANGE))]
        for f in (day, hour):
            f.write("\n".join(head) + "\n")
        events_hour1 = 2
        for i in range(total):
            t = i / rate
            pedalling = t % 1800 < 1200
            cadence = 75 + ((i * 7919) % 11 - 5) if pedalling else 0.0
            speed = cadence * 0.35
            distance += speed / 3.6 / rate
            data = gt.encode_indoor_bike_data(
                speed_kmh=speed, cadence_rpm=cadence, distance_m=int(distance) & 0xFFFFFF,
                resistance=20, power_w=round(cadence * 1.6), heart_rate_bpm=100 + cadence / 3,
                elapsed_s=int(t) & 0xFFFF)
            line = "%.3f ftms.indoor-bike-data %s\n" % (t, hex_bytes(data))
            day.write(line)
            if t < 3600:
                hour.write(line)
                events_hour1 += 1
    return total, events_hour1


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builddir", default=os.path.dirname(here))
    parser.add_argument("--srcdir", default=os.path.dirname(here))
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY") or
                        "latency,cpu,fanout,memory,live,idle,startup")
    parser.add_argument("--results", default=None,
                        help="markdown results file (default BUILDDIR/bench/results.md)")
    opts = parser.parse_args()
    builddir, srcdir = os.path.abspath(opts.builddir), os.path.abspath(opts.srcdir)
    sections = [s for s in opts.only.split(",") if s]
    for prog in ("src/warmupd", "bench/floor", "bench/signal-floor", "bench/clients"):
        if not os.access(os.path.join(builddir, prog), os.X_OK):
            print("perf: %s is not built (run make first)" % prog, file=sys.stderr)
            return 1

    global Gio, GLib, bluez_mock
    import gi
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib  # noqa: F811
    sys.path.insert(0, os.path.join(srcdir, "tests"))
    import bluez_mock  # noqa: F811
    missing = bluez_mock.missing_tools()
    if missing or shutil.which("dbus-daemon") is None:
        print("perf: missing tooling: %s" % (missing or "dbus-daemon"), file=sys.stderr)
        return 1

    ldd = subprocess.run(["ldd", os.path.join(builddir, "src", "warmupd")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True).stdout
    sanitized = re.search(r"lib(asan|ubsan|tsan)", ldd) is not None

    bench = Bench(builddir, srcdir)
    started = time.monotonic()
    status = 0
    bench.load = [os.getloadavg()[0]]
    try:
        for section in sections:
            t0 = time.monotonic()
            bench.section = section
            try:
                getattr(bench, section)()
            except (BenchError, subprocess.CalledProcessError, GLib.Error, OSError) as e:
                # the run broke: say so, stop what this section started, go on with the next
                print("perf: %s: %s" % (section, e), file=sys.stderr, flush=True)
                bench.notes.append("section %s broke: %s" % (section, e))
                bench.procs.stop_all()
                status = 1
            print("  (%s: %.0f s, load average %.1f)" % (section, time.monotonic() - t0,
                                                        os.getloadavg()[0]), flush=True)
            bench.load.append(os.getloadavg()[0])
    finally:
        bench.close()
    elapsed = time.monotonic() - started
    if sanitized:
        bench.notes.append("WARNING: src/warmupd is built with sanitizers: CPU, RSS, latency "
                           "are not representative.")
    write_results(opts.results or os.path.join(builddir, "bench", "results.md"), bench,
                  builddir, srcdir, elapsed, status)
    for note in bench.notes:
        print("note: " + note)
    return status


def write_results(path, bench, builddir, srcdir, elapsed, status):
    model, cores, kernel = machine()
    rev = subprocess.run(["git", "-C", srcdir, "rev-parse", "--short", "HEAD"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True).stdout.strip() or "unknown"
    lines = ["# warmupd benchmark results", "",
             "- date: %s" % datetime.datetime.now(datetime.timezone.utc)
             .strftime("%Y-%m-%d %H:%M:%S UTC"),
             "- machine: %s, %d cores, kernel %s" % (model, cores, kernel),
             "- load average (1 min) at the start and after each section: %s (other work on "
             "the machine moves the latency tails and CPU times, not the instruction counts)"
             % " ".join("%.1f" % x for x in bench.load),
             "- tree: %s (git HEAD; the working tree may differ)" % rev,
             "- warmupd's environment, as its unit's: %s" % (" ".join(
                 "%s=%s" % kv for kv in sorted(bench.deployed_env.items())) or "(none)"),
             "- run: `make bench` (bench/run-bench.sh, bench/perf.py), %.0f s for bench/perf.py%s"
             % (elapsed, "" if status == 0 else ", INCOMPLETE: the run broke"),
             "", "| section | figure | value | target | verdict |", "|---|---|---|---|---|"]
    for section, figure, value, target, verdict in bench.rows:
        lines.append("| %s | %s | %s | %s | %s |" % (section, figure.strip(), value, target,
                                                      verdict))
    for note in bench.notes:
        lines += ["", "Note: " + note]
    report = os.path.join(builddir, "bench", "out", "report.txt")
    if os.path.exists(report) and time.time() - os.path.getmtime(report) < 3600:
        with open(report) as f:
            lines += ["", "## bench/run-bench.sh (same `make bench`)", "", "```",
                      f.read().rstrip(), "```"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("results written to %s" % path)


if __name__ == "__main__":
    sys.exit(main())
