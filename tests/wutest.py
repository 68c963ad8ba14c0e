"""Shared harness for warmupd's integration tests (run by automake's tap-driver).

- every test gets its own private D-Bus session bus (a dbus-daemon of its own), a temp dir
  and a SignalRecorder subscribed BEFORE any warmupd starts, so nothing emitted during a
  virtual-time replay is missed;
- Daemon starts the real src/warmupd on that bus (G_DEBUG=fatal-criticals), its stderr in a
  file that is printed as TAP comments when the test fails;
- properties are always read with a fresh org.freedesktop.DBus.Properties call (no cache);
- wait_for() polls with a deadline while iterating the GLib main context: no fixed sleeps;
- main() runs the unittest tests of the calling module and prints TAP.

Environment: WARMUPD_BUILDDIR / WARMUPD_SRCDIR (default: this tree), WARMUPD_VALGRIND=1 to run
warmupd under valgrind (deadlines are then stretched), WARMUPD_TEST_TIMEOUT (seconds, 30).
Under WARMUPD_VALGRIND every warmupd run goes under memcheck: the Daemon, and the short runs
of run_tool() ([WARMUPD, "--check-config", ...], a refused --replay): any error or definitely
lost block fails the test in tearDown.
"""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("WARMUPD_SRCDIR") or os.path.dirname(HERE)
BUILDDIR = os.environ.get("WARMUPD_BUILDDIR") or os.path.dirname(HERE)
WARMUPD = os.path.join(BUILDDIR, "src", "warmupd")
WARMUPCTL = os.path.join(BUILDDIR, "src", "warmupctl")
TRACES = os.path.join(SRCDIR, "tests", "traces")

VALGRIND = os.environ.get("WARMUPD_VALGRIND", "") not in ("", "0", "no")
# GLib's own suppressions only: the project has none of its own
VALGRIND_SUPPRESSIONS = [p for p in ("/usr/share/glib-2.0/valgrind/glib.supp",)
                         if os.path.exists(p)]

# What ASan, LeakSanitizer and UBSan print (./configure --enable-sanitizers): any of these in
# warmupd's log or a tool's stderr fails the test, whatever the exit status was.
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: "
                              r"|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)")


def valgrind_argv(argv, log_path):
    """ARGV under memcheck (WARMUPD_VALGRIND), its report in LOG_PATH: the options of
    tests/valgrind-run.sh, GLib's suppressions; any error or definitely lost block makes
    the exit status 3."""
    return ["valgrind", "--error-exitcode=3", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--track-fds=no",
            "--num-callers=30", "--log-file=" + log_path] \
        + ["--suppressions=" + s for s in VALGRIND_SUPPRESSIONS] + list(argv)


def memcheck_summary(log):
    """(errors, bytes definitely lost) from a memcheck log; errors is None when the log has
    no ERROR SUMMARY (memcheck did not finish: killed, or never ran)."""
    m = re.search(r"ERROR SUMMARY: ([\d,]+) errors", log or "")
    lost = re.search(r"definitely lost: ([\d,]+) bytes", log or "")
    return (int(m.group(1).replace(",", "")) if m else None,
            int(lost.group(1).replace(",", "")) if lost else 0)


def sanitizer_report(text):
    """The first sanitizer report in `text` (from its first line), or None."""
    m = SANITIZER_REPORT.search(text or "")
    if m is None:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return text[start:start + 4000]


TIMEOUT = float(os.environ.get("WARMUPD_TEST_TIMEOUT", "30")) * (10 if VALGRIND else 1)

BUS_NAME = "io.github.warmupd"
OBJECT_PATH = "/io/github/warmupd"
WARMUP_IFACE = "io.github.warmupd.Warmup1"
SENSOR_IFACE = "io.github.warmupd.Sensor1"
REPLAY_PATH = OBJECT_PATH + "/sensors/replay0"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
OM_IFACE = "org.freedesktop.DBus.ObjectManager"


def _skip_all(reason):
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(0)


try:
    import gi
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib
except (ImportError, ValueError) as e:  # pragma: no cover - depends on the machine
    _skip_all("python3-gi (Gio, GLib) is not available: %s" % e)

if shutil.which("dbus-daemon") is None:  # pragma: no cover
    _skip_all("dbus-daemon is not installed")
if VALGRIND and shutil.which("valgrind") is None:  # pragma: no cover
    _skip_all("WARMUPD_VALGRIND is set but valgrind is not installed")


# --------------------------------------------------------------------------------------
# Main context helpers

def drain(context=None):
    """Dispatch everything pending in the (default) main context."""
    context = context or GLib.MainContext.default()
    for _ in range(100000):
        if not context.iteration(False):
            break


def wait_for(condition, timeout=None, message="condition", step=0.01):
    """Poll condition() until it is true, iterating the main context; fail at the deadline.
    Returns condition()'s true value."""
    deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
    while True:
        drain()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (TIMEOUT if timeout is None else timeout, message))
        time.sleep(step)


# --------------------------------------------------------------------------------------
# Trace generation (tools/gen-trace.py, loaded by path)

_gen_trace = None


def gen_trace():
    global _gen_trace
    if _gen_trace is None:
        spec = importlib.util.spec_from_file_location(
            "gen_trace", os.path.join(SRCDIR, "tools", "gen-trace.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _gen_trace = module
    return _gen_trace


def event_lines(text):
    """The event lines of a trace (no comments, no blank lines), stripped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


# --------------------------------------------------------------------------------------
# A private bus

class Bus:
    """A dbus-daemon of our own and a client connection to it."""

    def __init__(self, tmpdir, max_message_size=None):
        argv = ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"]
        if max_message_size is not None:
            # the session bus's configuration with a smaller message limit (the system bus
            # allows 32 MiB, the session bus far more)
            with open("/usr/share/dbus-1/session.conf") as f:
                config = f.read().replace(
                    "</busconfig>",
                    '<limit name="max_message_size">%d</limit></busconfig>' % max_message_size)
            path = os.path.join(tmpdir, "bus-%d.conf" % max_message_size)
            with open(path, "w") as f:
                f.write(config)
            argv[1] = "--config-file=" + path
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE, stderr=open(os.path.join(tmpdir, "dbus-daemon.log"), "w"),
            cwd=tmpdir, universal_newlines=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            self.proc.kill()
            raise RuntimeError("dbus-daemon did not print its address")
        self.conn = self.connect()

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def env(self):
        env = dict(os.environ)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        return env

    def name_owner(self, name=BUS_NAME):
        try:
            reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetNameOwner",
                                        GLib.Variant("(s)", (name,)), GLib.VariantType("(s)"),
                                        Gio.DBusCallFlags.NONE, -1, None)
            return reply.unpack()[0]
        except GLib.Error:
            return None

    def close(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class Monitor:
    """A monitoring connection (org.freedesktop.DBus.Monitoring.BecomeMonitor): sees the
    messages matching `rules` that other clients send, e.g. to know when a client is ready."""

    def __init__(self, bus, rules):
        self.messages = []
        self._lock = threading.Lock()
        self.conn = bus.connect()
        self.conn.add_filter(self._filter)
        self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus.Monitoring", "BecomeMonitor",
                            GLib.Variant("(asu)", (rules, 0)), None, Gio.DBusCallFlags.NONE,
                            -1, None)

    def _filter(self, connection, message, incoming):
        if incoming and message.get_message_type() != Gio.DBusMessageType.METHOD_RETURN:
            body = message.get_body()
            with self._lock:
                self.messages.append((message.get_sender(), message.get_member(),
                                      body.unpack() if body is not None else ()))
            return None
        return message

    def seen(self, member, first_arg=None):
        with self._lock:
            return [m for m in self.messages
                    if m[1] == member and (first_arg is None or (m[2] and m[2][0] == first_arg))]

    def close(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass


# --------------------------------------------------------------------------------------
# Signals

class SignalRecorder:
    """Records PropertiesChanged (any sender and path), StartFloorRoutine and the owner
    changes of io.github.warmupd, in arrival order. Subscribe before the daemon starts."""

    def __init__(self, conn):
        self.conn = conn
        self.props = []          # (path, interface, {name: value}, [invalidated])
        self.floor = []          # (routine, {summary}, State as published when it arrived)
        self.owners = []         # (old, new) owners of io.github.warmupd
        self.state = {}          # (path, iface) -> {name: value}: latest values seen
        self._ids = [
            conn.signal_subscribe(None, PROPS_IFACE, "PropertiesChanged", None, None,
                                  Gio.DBusSignalFlags.NONE, self._on_props),
            conn.signal_subscribe(None, WARMUP_IFACE, "StartFloorRoutine", OBJECT_PATH, None,
                                  Gio.DBusSignalFlags.NONE, self._on_floor),
            conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus",
                                  "NameOwnerChanged", "/org/freedesktop/DBus", BUS_NAME,
                                  Gio.DBusSignalFlags.NONE, self._on_owner),
        ]
        # GDBus sends the AddMatch calls from its worker thread, asynchronously: on a loaded
        # machine a daemon started next could replay a whole trace at --speed 0 before the
        # bus has the rules, and its signals would reach nobody. The bus handles one
        # connection's messages in order: once this reply is in, the rules are in force.
        conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                       "GetId", None, GLib.VariantType.new("(s)"), Gio.DBusCallFlags.NONE, -1,
                       None)

    def _on_props(self, conn, sender, path, iface, member, params):
        interface, changed, invalidated = params.unpack()
        self.props.append((path, interface, changed, invalidated))
        self.state.setdefault((path, interface), {}).update(changed)

    def _on_floor(self, conn, sender, path, iface, member, params):
        routine, summary = params.unpack()
        published = self.state.get((OBJECT_PATH, WARMUP_IFACE), {}).get("State")
        self.floor.append((routine, summary, published))

    def _on_owner(self, conn, sender, path, iface, member, params):
        name, old, new = params.unpack()
        self.owners.append((old, new))

    def changes(self, prop, iface=WARMUP_IFACE, path=OBJECT_PATH):
        """Values `prop` took in PropertiesChanged signals, in order."""
        return [changed[prop] for p, i, changed, _ in self.props
                if p == path and i == iface and prop in changed]

    def close(self):
        for sub in self._ids:
            self.conn.signal_unsubscribe(sub)


# --------------------------------------------------------------------------------------
# The daemon

class Daemon:
    """One src/warmupd process on the test's bus."""

    def __init__(self, test, replay=None, config=None, speed=0, args=(), name="warmupd"):
        self.test = test
        self.bus = test.bus
        self.log_path = os.path.join(test.tmpdir, name + ".log")
        self.vg_path = os.path.join(test.tmpdir, name + ".valgrind")
        if config is None:
            config = test.write_file(name + "-default.conf", "# defaults\n")
        self.config = config
        self.argv = [WARMUPD, "--session", "--config", config]
        if replay is not None:
            self.argv += ["--replay", replay, "--speed", str(speed)]
        self.argv += list(args)
        if VALGRIND:
            self.argv = valgrind_argv(self.argv, self.vg_path)
        self.proc = None
        self.returncode = None

    def start(self):
        env = self.bus.env()
        env["G_DEBUG"] = "fatal-criticals,gc-friendly" if VALGRIND else "fatal-criticals"
        env.pop("G_MESSAGES_DEBUG", None)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.test.tmpdir)
        self.test.daemons.append(self)
        return self

    def poll(self):
        if self.returncode is None and self.proc is not None:
            self.returncode = self.proc.poll()
        return self.returncode

    def running(self):
        return self.proc is not None and self.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def valgrind_log(self):
        try:
            with open(self.vg_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_owned(self, timeout=None):
        """Wait until warmupd owns io.github.warmupd (fails if it exits first)."""
        def owned():
            if not self.running():
                raise AssertionError("warmupd exited with status %s before owning %s"
                                     % (self.returncode, BUS_NAME))
            return self.bus.name_owner() is not None
        wait_for(owned, timeout, "warmupd to own %s" % BUS_NAME)
        return self

    def wait_exit(self, timeout=None):
        wait_for(lambda: self.poll() is not None, timeout, "warmupd to exit")
        return self.returncode

    def terminate(self, sig=signal.SIGTERM, timeout=None):
        if self.running():
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
            self.poll()

    def close(self):
        if self.proc is not None:
            self._log.close()


# --------------------------------------------------------------------------------------
# The test case base

class WarmupdTestCase(unittest.TestCase):
    """Each test: a temp dir, a private bus, a SignalRecorder already subscribed."""

    maxDiff = None

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="warmupd-test-")
        self.daemons = []
        self.diagnostics = []
        self.tool_reports = []   # (argv, sanitizer report) from run_tool()
        self.tool_memcheck = []  # (argv, memcheck log) of warmupd runs by run_tool()
        self.bus = Bus(self.tmpdir)
        self.conn = self.bus.conn
        self.signals = SignalRecorder(self.conn)
        drain()

    def tearDown(self):
        problems = []
        for d in self.daemons:
            if d.running():
                try:
                    d.terminate(timeout=TIMEOUT)
                except AssertionError:
                    d.kill()
                    problems.append("warmupd did not exit on SIGTERM")
            d.close()
            self.diagnostics.append("--- %s (exit status %s) ---\n%s"
                                    % (" ".join(d.argv), d.returncode, d.log()))
            if sanitizer_report(d.log()) is not None:
                problems.append("a sanitizer reported an error in warmupd (see its log)")
            if VALGRIND:
                problems += self._check_memcheck(d.valgrind_log(), "warmupd")
        for argv, vg in self.tool_memcheck:
            problems += self._check_memcheck(vg, " ".join(argv))
        for argv, report in self.tool_reports:
            problems.append("a sanitizer reported an error in %s" % argv[0])
            self.diagnostics.append("--- %s: sanitizer ---\n%s" % (" ".join(argv), report))
        self.signals.close()
        drain()
        self.bus.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        if problems:
            self.fail("; ".join(problems))

    def _check_memcheck(self, vg, what):
        """One TAP comment per warmupd run under memcheck (counted by .ci/valgrind); the
        problems to fail the test with: an error, a definitely lost block, no summary."""
        errors, lost = memcheck_summary(vg)
        print("# memcheck warmupd: %s errors, %d bytes definitely lost"
              % ("?" if errors is None else errors, lost))
        sys.stdout.flush()
        if errors == 0:
            return []
        self.diagnostics.append("--- valgrind: %s ---\n%s" % (what, vg))
        return ["valgrind found errors in %s" % what]

    def kill_daemon(self, d):
        """SIGKILL warmupd D. Killed, it writes no valgrind summary (WARMUPD_VALGRIND): it is
        left out of tearDown's checks, its log kept for a failure."""
        d.proc.send_signal(signal.SIGKILL)
        d.wait_exit()
        self.assertEqual(d.returncode, -signal.SIGKILL)
        self.daemons.remove(d)
        d.close()
        self.diagnostics.append("--- killed warmupd ---\n" + d.log())

    # -- files

    def write_file(self, name, text):
        path = os.path.join(self.tmpdir, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        return path

    def write_trace(self, name, segments, **kwargs):
        """Render a gen-trace scenario to TMPDIR/name; returns (path, Trace)."""
        trace = gen_trace().generate(segments, **kwargs)
        path = os.path.join(self.tmpdir, name)
        trace.write(path)
        return path, trace

    def write_config(self, text, name="warmupd.conf"):
        return self.write_file(name, text)

    # -- daemon

    def start_daemon(self, replay=None, config=None, speed=0, args=(), wait=True, **kw):
        d = Daemon(self, replay=replay, config=config, speed=speed, args=args, **kw).start()
        if wait:
            d.wait_owned()
        return d

    def replay(self, trace_path, config=None, speed=0, args=(), **kw):
        """Start warmupd on a trace and wait until the replay has reached its end and every
        signal it emitted on the way has been received."""
        d = self.start_daemon(trace_path, config=config, speed=speed, args=args, **kw)
        self.wait_finished(d)
        return d

    def wait_finished(self, daemon, path=REPLAY_PATH):
        def finished():
            if not daemon.running():
                raise AssertionError("warmupd exited with status %s during the replay"
                                     % daemon.returncode)
            return self.get(SENSOR_IFACE, "Finished", path)
        wait_for(finished, message="Sensor1.Finished on " + path)
        self.barrier()

    def barrier(self):
        """One more round trip through warmupd's main loop, then dispatch what arrived:
        every signal emitted before this call is now in the recorder."""
        self.get_all(WARMUP_IFACE)
        self.get_all(WARMUP_IFACE)
        drain()

    # -- properties (never cached: one call each time)

    def call(self, path, iface, method, args=None, reply_type=None, timeout_ms=-1):
        reply = self.conn.call_sync(BUS_NAME, path, iface, method, args,
                                    GLib.VariantType(reply_type) if reply_type else None,
                                    Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return reply.unpack() if reply is not None else None

    def get_all(self, iface=WARMUP_IFACE, path=None):
        path = path or (OBJECT_PATH if iface == WARMUP_IFACE else REPLAY_PATH)
        return self.call(path, PROPS_IFACE, "GetAll", GLib.Variant("(s)", (iface,)),
                         "(a{sv})")[0]

    def get(self, iface, prop, path=None):
        path = path or (OBJECT_PATH if iface == WARMUP_IFACE else REPLAY_PATH)
        return self.call(path, PROPS_IFACE, "Get", GLib.Variant("(ss)", (iface, prop)),
                         "(v)")[0]

    def warmup(self):
        return self.get_all(WARMUP_IFACE)

    def sensor(self, path=REPLAY_PATH):
        return self.get_all(SENSOR_IFACE, path)

    def call_error(self, method, path=OBJECT_PATH, iface=WARMUP_IFACE):
        """Call a method that must fail; returns the D-Bus error name."""
        try:
            self.call(path, iface, method)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e)
            return name
        self.fail("%s() succeeded; an error was expected" % method)

    # -- tools

    def run_tool(self, argv, timeout=None, env=None, **kw):
        """Run a tool to its end (stdout and stderr as text). A sanitizer report on its
        stderr fails the test. Under WARMUPD_VALGRIND a warmupd run ([WARMUPD, ...]) goes
        under memcheck like the Daemon (its report in a file, so stdout and stderr are the
        program's own, its exit status 3 on an error): any error or definitely lost block
        fails the test; an explicit timeout is stretched tenfold, as TIMEOUT is."""
        env = dict(self.bus.env() if env is None else env)
        vg_path = None
        if VALGRIND and argv and argv[0] == WARMUPD:
            vg_path = os.path.join(self.tmpdir, "tool-%d.valgrind" % len(self.tool_memcheck))
            argv_run = valgrind_argv(argv, vg_path)
            env["G_SLICE"] = "always-malloc"
            debug = [f for f in env.get("G_DEBUG", "").split(",") if f]
            env["G_DEBUG"] = ",".join(debug + ([] if "gc-friendly" in debug else ["gc-friendly"]))
            if timeout is not None:
                timeout *= 10
        else:
            argv_run = argv
        result = subprocess.run(argv_run, env=env,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True,
                                timeout=TIMEOUT if timeout is None else timeout, **kw)
        report = sanitizer_report(result.stderr)
        if report is not None:
            self.tool_reports.append((list(argv), report))
        if vg_path is not None:
            try:
                with open(vg_path, errors="replace") as f:
                    vg = f.read()
            except OSError:
                vg = ""
            self.tool_memcheck.append((list(argv), vg))
        return result

    # -- assertions

    def assert_in_log(self, daemon, text):
        log = daemon.log()
        self.assertIn(text, log, "not in warmupd's log")


def known_bug(reason):
    """Mark a test that fails because of a known daemon bug: TAP `# TODO reason` (XFAIL);
    an unexpected pass is reported as XPASS so the marker gets removed."""
    def decorate(func):
        func = unittest.expectedFailure(func)
        func.__known_bug__ = reason
        return func
    return decorate


# --------------------------------------------------------------------------------------
# TAP output

def _comment(text):
    return "".join("# %s\n" % line for line in text.rstrip("\n").splitlines())


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0
        self._outcome = None

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._outcome = ("ok", "", "")

    def _set(self, status, directive="", details=""):
        # the first failure wins; later ones (tearDown) are appended
        if self._outcome[0] == "not ok" and status == "not ok":
            self._outcome = (status, self._outcome[1], self._outcome[2] + details)
        else:
            self._outcome = (status, directive, details)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set("not ok", "", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._set("not ok", "", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set("ok", " # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        reason = getattr(getattr(test, test._testMethodName), "__known_bug__", "expected failure")
        self._set("not ok", " # TODO %s" % reason, self._exc_info_to_string(err, test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        reason = getattr(getattr(test, test._testMethodName), "__known_bug__", "expected failure")
        self._set("ok", " # TODO fixed? %s" % reason)

    def stopTest(self, test):
        super().stopTest(test)
        self.n += 1
        status, directive, details = self._outcome
        name = "%s.%s" % (type(test).__name__, test._testMethodName)
        self._write("%s %d - %s%s\n" % (status, self.n, name, directive))
        if status == "not ok":
            text = details
            if not directive:     # the daemon's log for real failures, not known bugs
                for d in getattr(test, "diagnostics", []):
                    text += "\n" + d
            self._write(_comment(text))


def main(module="__main__"):
    loader = unittest.TestLoader()
    names = [a for a in sys.argv[1:] if not a.startswith("-")]
    if names:
        suite = loader.loadTestsFromNames(names, sys.modules[module])
    else:
        suite = loader.loadTestsFromModule(sys.modules[module])
    tests = list(_flatten(suite))
    print("1..%d" % len(tests))
    sys.stdout.flush()
    result = TapResult(sys.stdout)
    for test in tests:
        test(result)
    sys.stdout.flush()
    sys.exit(0)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
