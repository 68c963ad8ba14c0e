#!/usr/bin/python3
"""Floor routines over D-Bus and on a terminal: io.github.warmupd.Routine1 (Routines,
GetRoutine, the guided session Begin/Next/NextFrom/Assess/Finish and its misuse) with the
real daemon on a private bus, and `warmupctl guide` / `warmupctl watch --guide` driven
through a pseudo-terminal (answering its prompts, including an `irritated` assessment, and
another screen moving the session on first).

The routines come from data/routines (WARMUPD_ROUTINES_DIR); warmupctl's second is made
short with WARMUPCTL_SECOND_MS so a whole guided round takes a second or two."""

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (skips the whole file when gi or dbus-daemon is missing)
from wutest import GLib, OBJECT_PATH, WARMUPCTL, SRCDIR, wait_for  # noqa: E402

ROUTINE_IFACE = "io.github.warmupd.Routine1"
ROUTINES_DIR = os.path.join(SRCDIR, "data", "routines")
ERROR = "io.github.warmupd.Error."

AFTER_BIKE_STEPS = ["windshield-wipers", "ab-touch", "knee-to-chest", "twisted-circles",
                    "hip-flexor-stretch", "quad-stretch"]
AFTER_BIKE_NAMES = ["Windshield wiper legs", "45-degree ab touch", "Active knee-to-chest pull",
                    "Twisted circles", "Hip flexor stretch", "Quad stretch"]

SHORT_REST = """[Routine]
Id=short-rest
Title=Two steps and a one-second rest
Caution=Stop if it hurts.
[Rounds]
Better=another-round
Same=done
Irritated=rest
RestSeconds=1
RestPosition=floor-back
RestInstruction=Lie down.
[Step a]
Name=A
Count=reps
Amount=2
Position=standing
Instruction=Do A.
[Step b]
Name=B
Count=hold
Amount=2
Position=standing
Instruction=Do B.
"""


class Terminal:
    """A program on a pseudo-terminal: everything it writes is collected; lines are typed."""

    def __init__(self, argv, env):
        self.master, slave = pty.openpty()
        self.slave_path = os.ttyname(slave)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     close_fds=True, start_new_session=True)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.output = ""

    def read(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return self.output
            except OSError:          # EIO: the program has exited and the pty is closed
                return self.output
            if not data:
                return self.output
            self.output += data.decode("utf-8", "replace")

    def expect(self, text, count=1, message=None):
        """Wait until TEXT has appeared COUNT times in the output."""
        def seen():
            if self.read().count(text) >= count:
                return True
            if self.proc.poll() is not None:
                self.read()
                raise AssertionError("warmupctl exited (%s) before printing %r %d time(s):\n%s"
                                     % (self.proc.returncode, text, count, self.output))
            return False
        wait_for(seen, message=message or "%r x%d on the terminal" % (text, count))

    def type(self, line):
        os.write(self.master, (line + "\n").encode())

    def typed_waiting(self):
        """Bytes of typed lines the program can read now and has not read (the terminal
        passes what is typed on a moment later, not within type())."""
        fd = os.open(self.slave_path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        finally:
            os.close(fd)

    def wait_exit(self):
        def exited():
            self.read()
            return self.proc.poll() is not None
        wait_for(exited, message="warmupctl to exit")
        self.read()
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


class RoutineTests(wutest.WarmupdTestCase):

    def setUp(self):
        super().setUp()
        self.terminals = []
        os.environ["WARMUPD_ROUTINES_DIR"] = ROUTINES_DIR   # Daemon copies os.environ

    def tearDown(self):
        for t in self.terminals:
            self.diagnostics.append("--- warmupctl terminal ---\n" + t.read())
            t.close()
        os.environ.pop("WARMUPD_ROUTINES_DIR", None)
        super().tearDown()

    # -- helpers

    def routine(self):
        return self.get_all(ROUTINE_IFACE, OBJECT_PATH)

    def rcall(self, method, *args, sig=None, reply=None):
        return self.call(OBJECT_PATH, ROUTINE_IFACE, method,
                         GLib.Variant(sig, args) if sig else None, reply)

    def rerror(self, method, *args, sig=None):
        return self.refusal(method, *args, sig=sig)[0]

    def refusal(self, method, *args, sig=None):
        """The D-Bus error METHOD(ARGS) fails with: (name, message)."""
        try:
            self.rcall(method, *args, sig=sig)
        except GLib.Error as e:
            name = wutest.Gio.DBusError.get_remote_error(e)
            wutest.Gio.DBusError.strip_remote_error(e)
            return name, e.message
        self.fail("%s%r succeeded; an error was expected" % (method, args))

    def expect_session(self, state, step=None, rnd=None):
        r = self.routine()
        self.assertEqual(r["RoutineState"], state)
        if step is not None:
            self.assertEqual(r["CurrentStep"], step)
            self.assertEqual(r["StepIndex"], AFTER_BIKE_STEPS.index(step) if step else -1)
        if rnd is not None:
            self.assertEqual(r["Round"], rnd)
        return r

    def states_published(self):
        return self.signals.changes("RoutineState", iface=ROUTINE_IFACE)

    def terminal(self, args, second_ms=2):
        env = self.bus.env()
        env["WARMUPCTL_SECOND_MS"] = str(second_ms)
        env["TERM"] = "dumb"
        t = Terminal([WARMUPCTL, "--session"] + list(args), env)
        self.terminals.append(t)
        return t

    # -- the routines

    def test_routines_property(self):
        self.start_daemon()
        r = self.routine()
        ids = [rid for rid, _ in r["Routines"]]
        self.assertEqual(ids, ["after-bike-warmup", "breathing-and-core", "chronic-back-pain",
                               "key-exercises"])
        self.assertTrue(all(title for _, title in r["Routines"]))
        self.assertEqual((r["RoutineState"], r["CurrentRoutine"], r["CurrentStep"],
                          r["StepIndex"], r["Round"], r["LastAssessment"], r["RestEndsAt"]),
                         ("idle", "", "", -1, 0, "", 0))

    def test_get_routine(self):
        self.start_daemon()
        routine, steps = self.rcall("GetRoutine", "after-bike-warmup", sig="(s)",
                                    reply="(a{sv}aa{sv})")
        self.assertEqual([s["id"] for s in steps], AFTER_BIKE_STEPS)
        self.assertEqual([s["name"] for s in steps], AFTER_BIKE_NAMES)
        self.assertEqual([(s["count"], s["amount"], s["sides"]) for s in steps],
                         [("reps", 10, "alternating"), ("reps", 15, "none"), ("reps", 10, "each"),
                          ("reps", 10, "each"), ("breaths", 10, "each"), ("breaths", 10, "each")])
        self.assertEqual(steps[2]["hold"], 2)
        self.assertEqual([s["per_side"] for s in steps], [True, False, True, True, True, True])
        self.assertEqual(steps[4]["position"], "kneeling")
        self.assertTrue(routine["rounds"])
        self.assertEqual((routine["on_better"], routine["on_same"], routine["on_irritated"],
                          routine["max_rounds"], routine["rest_seconds"]),
                         ("another-round", "done", "rest", 2, 300))
        self.assertIn("bike", routine["before"])
        self.assertTrue(routine["caution"])
        routine, steps = self.rcall("GetRoutine", "breathing-and-core", sig="(s)",
                                    reply="(a{sv}aa{sv})")
        self.assertFalse(routine["rounds"])
        self.assertNotIn("on_better", routine)
        self.assertTrue(all(s["amount"] == 0 and "no number" in s["note"] for s in steps))
        self.assertEqual(self.rerror("GetRoutine", "nope", sig="(s)"), ERROR + "UnknownRoutine")

    def test_broken_routine_left_out(self):
        self.short_rest_routines(1)
        with open(os.path.join(os.environ["WARMUPD_ROUTINES_DIR"], "bad.routine"), "w") as f:
            f.write("[Routine]\nId=bad\nTitle\n")
        d = self.start_daemon()
        self.assertEqual([rid for rid, _ in self.routine()["Routines"]], ["short-rest"])
        wait_for(lambda: "bad.routine:3: expected Key=Value" in d.log(), message="the error logged")
        # [Routine] Name= names a routine that is not there: warned, not fatal
        self.assertIn("Name=after-bike-warmup: no such routine", d.log())

    # -- the guided session over D-Bus

    def test_session_better_then_a_last_round(self):
        """The article assesses once, after round 1: "better" gives one more round, and that
        round ends the session without a question (MaxRounds=2)."""
        d = self.start_daemon()
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        self.expect_session("step", "windshield-wipers", 1)
        self.assertEqual(self.routine()["CurrentRoutine"], "after-bike-warmup")
        for step in AFTER_BIKE_STEPS[1:]:
            self.rcall("Next")
            self.expect_session("step", step, 1)
        self.rcall("Next")
        self.expect_session("assess", "", 1)
        self.rcall("Assess", "better", sig="(s)")          # -> another round
        self.expect_session("step", "windshield-wipers", 2)
        self.assertEqual(self.routine()["LastAssessment"], "better")
        for _ in AFTER_BIKE_STEPS:
            self.rcall("Next")
        self.expect_session("done", "", 2)                  # the last round: no question
        self.assertEqual(self.rerror("Assess", "better", sig="(s)"), ERROR + "WrongState")
        self.rcall("Finish")
        self.expect_session("idle", "", 0)
        self.barrier()
        self.assertEqual(self.states_published(), ["step", "assess", "step", "done", "idle"])
        wait_for(lambda: "2 rounds, last assessment better" in d.log(),
                 message="the outcome in the log")

    def test_assessment_logged_with_the_round_assessed(self):
        d = self.start_daemon()
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        for _ in AFTER_BIKE_STEPS:
            self.rcall("Next")
        self.rcall("Assess", "better", sig="(s)")          # moves on to round 2
        wait_for(lambda: "assessed:" in d.log(), message="the assessment logged")
        self.assertIn("round 1 assessed: better", d.log())
        self.assertNotIn("round 2 assessed", d.log())

    def test_session_irritated_rests(self):
        d = self.start_daemon()
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        for _ in AFTER_BIKE_STEPS:
            self.rcall("Next")
        before = GLib.get_real_time()
        self.rcall("Assess", "irritated", sig="(s)")       # -> rest 5 min, then done
        after = GLib.get_real_time()
        self.expect_session("rest", "", 1)
        # when the rest ends, in wall-clock microseconds
        self.assertGreaterEqual(self.routine()["RestEndsAt"], before + 300 * 1000000)
        self.assertLessEqual(self.routine()["RestEndsAt"], after + 300 * 1000000)
        self.rcall("Next")                                  # up early: the rest is over
        self.expect_session("done", "", 1)
        self.assertEqual(self.routine()["RestEndsAt"], 0)
        self.rcall("Finish")
        self.barrier()
        self.assertEqual(self.states_published(), ["step", "assess", "rest", "done", "idle"])
        wait_for(lambda: "1 round, last assessment irritated" in d.log(),
                 message="the outcome in the log")
        self.assertIn("routine session: assess -> rest", d.log())

    def test_session_same_is_done(self):
        self.start_daemon()
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        for _ in AFTER_BIKE_STEPS:
            self.rcall("Next")
        self.rcall("Assess", "same", sig="(s)")
        self.expect_session("done", "", 1)
        self.assertEqual(self.routine()["LastAssessment"], "same")
        # done: a new session may begin without Finish
        self.rcall("Begin", "key-exercises", sig="(s)")
        r = self.routine()
        self.assertEqual((r["RoutineState"], r["CurrentRoutine"], r["CurrentStep"], r["Round"],
                          r["LastAssessment"]), ("step", "key-exercises", "kneeling-plank", 1, ""))

    def rest_after_short_round(self, rest_seconds=1):
        """warmupd with SHORT_REST (RestSeconds=REST_SECONDS): its round done, irritated.
        Returns the daemon."""
        self.short_rest_routines(rest_seconds)
        d = self.start_daemon()
        self.rcall("Begin", "short-rest", sig="(s)")
        self.rcall("Next")
        self.rcall("Next")
        self.rcall("Assess", "irritated", sig="(s)")
        return d

    def test_rest_ends_by_itself(self):
        self.rest_after_short_round()
        self.assertEqual(self.routine()["RoutineState"], "rest")
        wait_for(lambda: self.routine()["RoutineState"] == "done", message="the rest to end")

    def test_guide_rest_ended_by_warmupd_first(self):
        """warmupd's rest timer ends the rest (done) before the guide hears of it; the guide's
        own countdown then calls NextFrom(), which finds the session done: the day ends
        normally (exit 0, Finish called), not with 'NextFrom failed'. The guide is stopped
        across the end of the rest so that its tick comes before warmupd's PropertiesChanged
        is read."""
        self.rest_after_short_round(rest_seconds=2)
        t = self.terminal(["guide"], second_ms=1000)
        t.expect("0:01 left")
        last_tick_due = time.monotonic() + 1.0    # the one that ends the guide's countdown
        os.killpg(t.proc.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: self.routine()["RoutineState"] == "done",
                     message="warmupd to end the rest")
            wait_for(lambda: time.monotonic() > last_tick_due + 0.1,
                     message="the guide's last tick to be due")
        finally:
            os.killpg(t.proc.pid, signal.SIGCONT)
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertIn("Done for today: 1 round, last one felt irritated", t.output)
        self.assertNotIn("failed", t.output)
        self.assertEqual(self.routine()["RoutineState"], "idle")   # Finish was called

    def short_rest_routines(self, rest_seconds):
        rdir = os.path.join(self.tmpdir, "routines")
        os.mkdir(rdir)
        with open(os.path.join(rdir, "short-rest.routine"), "w") as f:
            f.write(SHORT_REST.replace("RestSeconds=1", "RestSeconds=%d" % rest_seconds))
        os.environ["WARMUPD_ROUTINES_DIR"] = rdir

    def test_warmupctl_routine_rest_under_a_minute(self):
        self.short_rest_routines(45)
        self.start_daemon()
        out = self.run_tool([WARMUPCTL, "--session", "routine", "short-rest"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("rest:      0:45 on your back: Lie down.", out.stdout)

    def test_guide_joining_a_rest_counts_what_is_left(self):
        """A guide that joins a rest under way counts down to warmupd's RestEndsAt, not the
        whole RestSeconds again."""
        self.short_rest_routines(100)
        self.start_daemon()
        self.rcall("Begin", "short-rest", sig="(s)")
        self.rcall("Next")
        self.rcall("Next")
        self.rcall("Assess", "irritated", sig="(s)")
        ends_at = self.routine()["RestEndsAt"]
        wait_for(lambda: ends_at - GLib.get_real_time() < 98 * 1000000,
                 message="two seconds of the rest to pass")
        t = self.terminal(["guide"], second_ms=1000)
        t.expect("Rest 1:40, on your back: Lie down.")
        t.expect(" left")
        left = re.search(r"resting: (\d+):(\d\d) left", t.output)
        self.assertIsNotNone(left, t.output)
        self.assertLessEqual(int(left.group(1)) * 60 + int(left.group(2)), 98, t.output)
        self.assertGreaterEqual(int(left.group(1)) * 60 + int(left.group(2)), 60, t.output)
        t.type("q")
        self.assertEqual(t.wait_exit(), 0, t.output)

    def test_guide_joining_a_rest_ends_it_from_its_round(self):
        """A guide that joins a rest (no step of the session shown) ends it with NextFrom(-1,
        the session's round) when its countdown is over: the rest ends (done), not a refused
        call that Finishes the session early."""
        d = self.rest_after_short_round(rest_seconds=100)   # warmupd's timer: far away
        t = self.terminal(["guide"])                         # its 100 s count in 0.2 s
        t.expect("Done for today: 1 round, last one felt irritated")
        self.assertEqual(t.wait_exit(), 0, t.output)
        wait_for(lambda: "1 round, last assessment irritated" in d.log(),
                 message="the outcome in the log")
        self.assertNotIn("(finished early)", d.log())
        self.assertIn("routine session: rest -> done", d.log())

    def test_misuse(self):
        d = self.start_daemon()
        self.assertEqual(self.rerror("Next"), ERROR + "NoSession")
        self.assertEqual(self.rerror("Assess", "better", sig="(s)"), ERROR + "NoSession")
        self.assertEqual(self.rerror("Finish"), ERROR + "NoSession")
        self.assertEqual(self.rerror("Begin", "nope", sig="(s)"), ERROR + "UnknownRoutine")
        self.assertEqual(self.rerror("Begin", "", sig="(s)"), ERROR + "UnknownRoutine")
        self.rcall("Begin", "chronic-back-pain", sig="(s)")
        self.assertEqual(self.rerror("Begin", "key-exercises", sig="(s)"), ERROR + "WrongState")
        self.assertEqual(self.rerror("Assess", "better", sig="(s)"), ERROR + "WrongState")
        for _ in range(4):
            self.rcall("Next")
        # no round rule: one round, then done; nothing to assess
        self.assertEqual(self.routine()["RoutineState"], "done")
        self.assertEqual(self.rerror("Next"), ERROR + "WrongState")
        self.assertEqual(self.rerror("Assess", "same", sig="(s)"), ERROR + "WrongState")
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        for _ in AFTER_BIKE_STEPS:
            self.rcall("Next")
        self.assertEqual(self.rerror("Assess", "meh", sig="(s)"), ERROR + "InvalidArgument")
        self.assertEqual(self.rerror("Next"), ERROR + "WrongState")
        self.assertEqual(self.routine()["RoutineState"], "assess")   # nothing lost
        # wrong argument types are refused by GDBus itself
        try:
            self.call(OBJECT_PATH, ROUTINE_IFACE, "Begin", GLib.Variant("(u)", (3,)))
            self.fail("Begin(u) succeeded")
        except GLib.Error as e:
            self.assertEqual(wutest.Gio.DBusError.get_remote_error(e),
                             "org.freedesktop.DBus.Error.InvalidArgs")
        self.rcall("Finish")
        self.assertEqual(self.routine()["RoutineState"], "idle")
        self.assertIn("(finished early)", d.log())
        self.assertTrue(d.running())

    # -- NextFrom: Next from where the caller saw the session

    def test_next_from_twice_moves_one_step(self):
        """Two screens press Next for the first step (StepIndex 0) of round 1 within
        milliseconds, each with NextFrom(0, 1): the first moves the session to the second step;
        the second is refused with WrongState, saying where the session is, and does not move
        it a step further."""
        self.start_daemon()
        self.assertEqual(self.rerror("NextFrom", 0, 1, sig="(iu)"), ERROR + "NoSession")
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        self.expect_session("step", "windshield-wipers", 1)
        self.rcall("NextFrom", 0, 1, sig="(iu)")
        self.expect_session("step", "ab-touch", 1)
        name, message = self.refusal("NextFrom", 0, 1, sig="(iu)")
        self.assertEqual(name, ERROR + "WrongState")
        self.assertIn("state step, step 1, round 1", message)
        self.expect_session("step", "ab-touch", 1)          # StepIndex stays 1
        self.barrier()
        self.assertEqual(self.signals.changes("StepIndex", iface=ROUTINE_IFACE), [0, 1])
        # from where the session is, it moves on; a stale round or the rest's -1 do not
        self.assertEqual(self.rerror("NextFrom", 1, 2, sig="(iu)"), ERROR + "WrongState")
        self.assertEqual(self.rerror("NextFrom", -1, 1, sig="(iu)"), ERROR + "WrongState")
        self.rcall("NextFrom", 1, 1, sig="(iu)")
        self.expect_session("step", "knee-to-chest", 1)

    def test_next_from_ends_the_rest_of_its_round(self):
        """During the rest of round 1, NextFrom(-1, 1) ends it; a stale round or a step index
        is refused with WrongState and the rest goes on; once done, NextFrom is refused too."""
        self.rest_after_short_round(rest_seconds=100)
        ends_at = self.expect_session("rest", "", 1)["RestEndsAt"]
        name, message = self.refusal("NextFrom", -1, 2, sig="(iu)")    # a stale round
        self.assertEqual(name, ERROR + "WrongState")
        self.assertIn("state rest, step -1, round 1", message)
        self.assertEqual(self.rerror("NextFrom", -1, 0, sig="(iu)"), ERROR + "WrongState")
        self.assertEqual(self.rerror("NextFrom", 1, 1, sig="(iu)"), ERROR + "WrongState")
        r = self.expect_session("rest", "", 1)                          # still resting
        self.assertEqual(r["RestEndsAt"], ends_at)
        self.rcall("NextFrom", -1, 1, sig="(iu)")                       # up early
        r = self.expect_session("done", "", 1)
        self.assertEqual(r["RestEndsAt"], 0)
        self.assertEqual(self.rerror("NextFrom", -1, 1, sig="(iu)"), ERROR + "WrongState")
        self.barrier()
        self.assertEqual(self.states_published(), ["step", "assess", "rest", "done"])

    def test_guide_another_screen_moved_on_first(self):
        """Two screens finish the same step at once: another client's NextFrom for the step
        the guide shows gets in first. The guide's own NextFrom is then refused (WrongState):
        it does not fail but shows where the session is, which moved one step, not two. The
        guide is stopped across the other call, its Enter typed and waiting on its terminal
        meanwhile: woken, it reads the Enter (and calls NextFrom) before warmupd's
        PropertiesChanged, which its D-Bus thread has yet to read."""
        self.start_daemon()
        t = self.terminal(["guide", "breathing-and-core"])
        t.expect("Round 1, step 1 of 5: Diaphragmatic breathing")
        t.expect("press Enter when done")                 # Enter now ends the step
        os.killpg(t.proc.pid, signal.SIGSTOP)
        try:
            t.type("")                                    # this screen, at the same moment
            wait_for(t.typed_waiting, message="the Enter waiting on the guide's terminal")
            self.rcall("NextFrom", 0, 1, sig="(iu)")      # the other screen, in first
        finally:
            os.killpg(t.proc.pid, signal.SIGCONT)
        t.expect("press Enter when done", count=2, message="the guide to count step 2")
        r = self.routine()
        self.assertEqual((r["RoutineState"], r["StepIndex"], r["Round"]), ("step", 1, 1),
                         t.output)
        self.assertIn("another screen moved on first", t.output)
        self.assertEqual(t.output.count("Round 1, step 2 of 5: Neutral spine and draw in"), 1,
                         t.output)
        self.assertNotIn("step 3 of 5", t.output)
        self.assertIsNone(t.proc.poll(), t.output)         # still guiding
        t.type("")                                         # and it goes on from there
        t.expect("Round 1, step 3 of 5: Knees to chest")
        wait_for(lambda: self.routine()["StepIndex"] == 2, message="the session at step 3")
        t.type("q")
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertNotIn("failed", t.output)

    def test_guide_another_screen_finished_first(self):
        """Another screen finishes the session while this guide's Enter for the step is on
        its way: its NextFrom finds no session (NoSession). That is the session finished
        elsewhere (exit 0), not a failed call (it exited 1 with 'NextFrom failed')."""
        self.start_daemon()
        t = self.terminal(["guide", "breathing-and-core"])
        t.expect("Round 1, step 1 of 5: Diaphragmatic breathing")
        t.expect("press Enter when done")
        os.killpg(t.proc.pid, signal.SIGSTOP)
        try:
            t.type("")
            wait_for(t.typed_waiting, message="the Enter waiting on the guide's terminal")
            self.rcall("Finish")                          # the other screen, in first
        finally:
            os.killpg(t.proc.pid, signal.SIGCONT)
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertIn("finished elsewhere", t.output)
        self.assertNotIn("failed", t.output)
        self.assertEqual(self.routine()["RoutineState"], "idle")

    def test_guide_paces_sides_and_sets(self):
        """The pace, counted in the guide's one-second frames: a second a frame of a hold,
        3 a rep, 6 a breath (3 in, 3 out), twice a rep for alternating sides; 5 to switch sides
        or to relax between sets; every set of Sets=2-3 offered, the third as optional."""
        self.start_daemon()
        t = self.terminal(["guide", "chronic-back-pain"])
        t.expect("Done for today: 1 round.")
        self.assertEqual(t.wait_exit(), 0, t.output)
        out = t.output
        # sky-high stretch: 15 s on the first side, 5 s to switch, 15 s on the other
        for left in range(15, 0, -1):
            self.assertEqual(out.count("first side: hold, %d s left" % left), 1, left)
            self.assertEqual(out.count("other side: hold, %d s left" % left), 1, left)
        for left in range(5, 0, -1):
            self.assertEqual(out.count("switch sides; next: other side: %d s" % left), 1, out)
        self.assertLess(out.index("first side: hold, 1 s left"),
                        out.index("switch sides; next: other side: 5 s"))
        self.assertLess(out.index("switch sides; next: other side: 1 s"),
                        out.index("other side: hold, 15 s left"))
        # pelvic tilt: each rep for 3 frames
        for rep in range(1, 11):
            self.assertEqual(out.count("now: rep %d of 10" % rep), 3, rep)
        # knee lift: sets 1 and 2, then 3, offered as optional, 5 frames of rest between
        optional = " (only if it feels fine: Enter ends it)"
        for n in (1, 2):
            self.assertEqual(out.count("set %d of 3: hold, 30 s left" % n), 1, out)
        self.assertEqual(out.count("set 3 of 3%s: hold, 30 s left" % optional), 1, out)
        for n in (2, 3):
            nxt = "relax a moment; next: set %d of 3%s" % (n, optional if n == 3 else "")
            for left in range(5, 0, -1):
                self.assertEqual(out.count("%s: %d s" % (nxt, left)), 1, (nxt, left))
        # hinging side lunge: a rep to each side, 6 frames
        for rep in range(1, 11):
            self.assertEqual(out.count("alternating sides: rep %d of 10" % rep), 6, rep)

    def test_dismiss_only_from_done(self):
        """Dismiss() is Finish() for a session that is done, and refused anywhere else."""
        d = self.start_daemon()
        self.assertEqual(self.rerror("Dismiss"), ERROR + "NoSession")
        self.rcall("Begin", "chronic-back-pain", sig="(s)")
        self.assertEqual(self.rerror("Dismiss"), ERROR + "WrongState")
        self.assertEqual(self.routine()["RoutineState"], "step")     # nothing lost
        for _ in range(4):
            self.rcall("Next")
        self.assertEqual(self.routine()["RoutineState"], "done")
        self.rcall("Dismiss")
        self.assertEqual(self.routine()["RoutineState"], "idle")
        self.assertNotIn("(finished early)", d.log())                # it was done

    def test_guide_done_leaves_a_new_session_alone(self):
        """A guide that shows the end of the day after another screen has begun a new
        session (from done) puts nothing back to idle: that session goes on. (It called
        Finish(), which ended the new session at once, 'finished early'.)"""
        d = self.start_daemon()
        t = self.terminal(["guide", "chronic-back-pain"])
        t.expect("Round 1, step 1 of 4")
        os.killpg(t.proc.pid, signal.SIGSTOP)
        try:
            for _ in range(4):
                self.rcall("Next")                      # another screen ends the day
            self.assertEqual(self.routine()["RoutineState"], "done")
            self.rcall("Begin", "key-exercises", sig="(s)")   # and begins another session
        finally:
            os.killpg(t.proc.pid, signal.SIGCONT)
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertIn("Done for today: 1 round", t.output)
        wait_for(lambda: "of key-exercises begun" in d.log(), message="the new session's start")
        props = self.routine()
        self.assertEqual((props["RoutineState"], props["CurrentRoutine"]),
                         ("step", "key-exercises"), d.log())
        self.assertNotIn("key-exercises ended", d.log())

    # -- warmupctl

    def test_warmupctl_routines_and_routine(self):
        self.start_daemon()
        out = self.run_tool([WARMUPCTL, "--session", "routines"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual([line.split()[0] for line in out.stdout.splitlines()],
                         ["after-bike-warmup", "breathing-and-core", "chronic-back-pain",
                          "key-exercises"])
        out = self.run_tool([WARMUPCTL, "--session", "routine", "after-bike-warmup"])
        self.assertEqual(out.returncode, 0, out.stderr)
        numbered = re.findall(r"^ ?(\d+)\. ([^:]+):", out.stdout, re.M)
        self.assertEqual([name for _, name in numbered], AFTER_BIKE_NAMES)
        self.assertIn("10 reps on each side, holding 2 s each", out.stdout)
        self.assertIn("irritated: rest, then done for the day", out.stdout)
        self.assertIn("At most 2 rounds: the last one ends the session for the day.", out.stdout)
        self.assertIn("rest:      5:00 on your back", out.stdout)
        out = self.run_tool([WARMUPCTL, "--session", "routine", "chronic-back-pain"])
        self.assertIn("hold 30 s, 2 to 3 times", out.stdout)
        out = self.run_tool([WARMUPCTL, "--session", "routine", "nope"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("io.github.warmupd.Error.UnknownRoutine", out.stderr)
        out = self.run_tool([WARMUPCTL, "--session", "routine"])
        self.assertEqual(out.returncode, 2)
        # a routine ID that is not UTF-8 (byte 0xFF) is bad usage, not a GLib critical in
        # g_variant_new_string() (fatal here)
        env = dict(self.bus.env(), G_DEBUG="fatal-criticals")
        for command in ("routine", "guide"):
            out = self.run_tool([WARMUPCTL, "--session", command, os.fsdecode(b"\xff")], env=env)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn("warmupctl: routine ID is not valid UTF-8", out.stderr)
            self.assertNotIn("CRITICAL", out.stderr)

    def test_warmupctl_options_before_the_command(self):
        """The synopsis puts -w SECONDS before the command: its value is not the command
        word, in every form GOption takes (-w 5, --wait 5, --wait=5, after "--" the command).
        -w5 is not one of them: GOption reads -w and -5 and takes the command as the value."""
        self.start_daemon()
        for options in (["-w", "5"], ["--wait", "5"], ["--wait=5"], ["-w", "5", "--"]):
            out = self.run_tool([WARMUPCTL, "--session"] + options + ["routines"])
            self.assertEqual(out.returncode, 0, "%r: %s" % (options, out.stderr))
            self.assertEqual(out.stdout.split()[0], "after-bike-warmup", options)
            out = self.run_tool([WARMUPCTL, "--session"] + options + ["routine", "key-exercises"])
            self.assertEqual(out.returncode, 0, "%r: %s" % (options, out.stderr))
            self.assertRegex(out.stdout, r"(?m)^ ?1\. ", options)
        out = self.run_tool([WARMUPCTL, "--session", "-w", "5", "routine"])
        self.assertEqual(out.returncode, 2)
        self.assertIn("usage: warmupctl [--session] [--wait SECONDS] routine ID", out.stderr)
        out = self.run_tool([WARMUPCTL, "--session", "-w5", "routines"])
        self.assertEqual(out.returncode, 2)
        self.assertIn("-w", out.stderr)

    def test_guide_better_then_a_last_round(self):
        """The whole flow on a terminal: counted steps, the question after round 1, `better`
        -> one more round, which ends the day without a second question."""
        d = self.start_daemon()
        t = self.terminal(["guide", "after-bike-warmup"])
        t.expect("Stop if it hurts:")
        t.expect("How does your back feel", message="the end of round 1")
        self.expect_session("assess", "", 1)
        for name in AFTER_BIKE_NAMES:
            self.assertIn("Round 1, step %d of 6: %s" % (AFTER_BIKE_NAMES.index(name) + 1, name),
                          t.output)
        self.assertIn("first side: rep 10 of 10", t.output)     # counted, per side
        self.assertIn("other side: breath 10 of 10", t.output)
        t.type("sometimes")                                     # not an answer: asked again
        t.expect("Please answer better, same or irritated")
        self.expect_session("assess", "", 1)
        t.type("better")
        # the answer was of round 1: round 2 ends the day without the question
        t.expect("Done for today: 2 rounds (after round 1 it felt better).")
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertIn("Round 2, step 6 of 6: Quad stretch", t.output)
        self.assertEqual(t.output.count("How does your back feel"), 1, t.output)
        self.expect_session("idle", "", 0)
        self.assertIn("2 rounds, last assessment better", d.log())

    def test_guide_irritated_rests(self):
        d = self.start_daemon()
        t = self.terminal(["guide", "after-bike-warmup"])
        t.expect("How does your back feel", message="the end of round 1")
        t.type("i")
        t.expect("Rest 5:00, on your back")
        self.assertEqual(self.routine()["RoutineState"], "rest")
        t.expect("Done for today: 1 round, last one felt irritated")
        self.assertEqual(t.wait_exit(), 0, t.output)
        # the article asks for the whole rest: the countdown does not offer to end it
        self.assertIn("left; stay down until the rest is over", t.output)
        self.assertNotIn("Enter ends the rest", t.output)
        self.expect_session("idle", "", 0)
        self.assertIn("1 round, last assessment irritated", d.log())

    def test_guide_reads_on_after_a_nul_byte(self):
        """A NUL typed (Ctrl-@) or piped in hid every newline after it: the guide heard
        nothing more, and waited at the question for ever."""
        self.start_daemon()
        t = self.terminal(["guide", "after-bike-warmup"])
        t.expect("How does your back feel", message="the end of round 1")
        t.type("\0")
        t.type("i")
        t.expect("Rest 5:00, on your back")
        self.assertEqual(self.routine()["RoutineState"], "rest")

    def test_guide_waits_for_enter_without_a_number(self):
        """A routine with no numbers: each part waits for Enter; no round rule: done after one."""
        self.start_daemon()
        t = self.terminal(["guide", "breathing-and-core"])
        parts = 5   # five steps, one part each (knees to chest ends with both knees in)
        for i in range(1, parts + 1):
            t.expect("press Enter when done", count=i)
            t.type("")
        t.expect("Done for today: 1 round")
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertIn("Knees to chest", t.output)
        self.assertNotIn("other side", t.output)

    def test_guide_quit_finishes(self):
        self.start_daemon()
        t = self.terminal(["guide", "key-exercises"], second_ms=1000)
        t.expect("get ready")
        self.assertEqual(self.routine()["RoutineState"], "step")
        t.type("q")
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertEqual(self.routine()["RoutineState"], "idle")

    def test_guide_joins_session_under_way(self):
        self.start_daemon()
        self.rcall("Begin", "after-bike-warmup", sig="(s)")
        self.rcall("Next")
        self.rcall("Next")
        t = self.terminal(["guide"], second_ms=1000)
        t.expect("Joining the guided session")
        t.expect("Round 1, step 3 of 6: Active knee-to-chest pull")
        # another screen moves the session on: this one follows
        self.rcall("Next")
        t.expect("Round 1, step 4 of 6: Twisted circles")
        t.type("q")
        self.assertEqual(t.wait_exit(), 0, t.output)

    def guide_sees_warmupd_go(self, stop):
        """STOP ends warmupd during a guide: it says warmupd went away and exits 1, never that
        the session was finished elsewhere (the proxy drops the properties first)."""
        d = self.start_daemon()
        t = self.terminal(["guide", "key-exercises"], second_ms=1000)
        t.expect("get ready")
        stop(d)
        self.assertEqual(t.wait_exit(), 1, t.output)
        self.assertIn("warmupd went away", t.output)
        self.assertNotIn("finished elsewhere", t.output)

    def test_guide_warmupd_killed(self):
        self.guide_sees_warmupd_go(self.kill_daemon)

    def test_guide_warmupd_terminated(self):
        self.guide_sees_warmupd_go(lambda d: d.terminate())

    def test_guide_other_routine_under_way_refused(self):
        self.start_daemon()
        self.rcall("Begin", "key-exercises", sig="(s)")
        out = self.run_tool([WARMUPCTL, "--session", "guide", "after-bike-warmup"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("a guided session of key-exercises is under way", out.stderr)
        self.assertEqual(self.routine()["CurrentRoutine"], "key-exercises")

    def wait_for_callers(self, monitor, member, first_arg, count, message):
        """Wait until COUNT different connections have called MEMBER(FIRST_ARG, ...)."""
        wait_for(lambda: len({sender for sender, _, _ in monitor.seen(member, first_arg)}) >= count,
                 message=message)

    def two_screens_follow_one_session(self, first, second):
        """FIRST and SECOND (Terminals) each began or joined the after-bike-warmup session: the
        follower SECOND (whose second is long, so it never moves the session on itself)
        answers the question; both end the day and exit 0."""
        for t in (first, second):
            t.expect("How does your back feel", message="the end of round 1 on both screens")
        self.assertEqual(self.routine()["CurrentRoutine"], "after-bike-warmup")
        second.type("same")
        for t in (first, second):
            t.expect("Done for today: 1 round, last one felt same")
            self.assertEqual(t.wait_exit(), 0, t.output)
            self.assertNotIn("failed", t.output)
        self.assertEqual(first.output.count("Joining the guided session under way")
                         + second.output.count("Joining the guided session under way"), 1,
                         first.output + second.output)
        self.assertEqual(self.routine()["RoutineState"], "idle")

    def test_two_guides_begin_together(self):
        """Two `guide` screens both read RoutineState "idle" (warmupd is stopped until both
        have asked) and both call Begin(): the one refused with WrongState reads the state
        afresh, finds the same routine under way and joins it, not 'Begin failed'."""
        d = self.start_daemon()
        monitor = wutest.Monitor(self.bus, ["type='method_call',member='GetAll'"])
        d.proc.send_signal(signal.SIGSTOP)
        try:
            first = self.terminal(["guide", "after-bike-warmup"])
            second = self.terminal(["guide", "after-bike-warmup"], second_ms=1000)
            self.wait_for_callers(monitor, "GetAll", ROUTINE_IFACE, 2,
                                  "both guides to ask for Routine1's properties")
        finally:
            d.proc.send_signal(signal.SIGCONT)
            monitor.close()
        self.two_screens_follow_one_session(first, second)

    def test_two_watch_guides_on_the_demo(self):
        """Two screens run `watch --guide` through the demo ride: StartFloorRoutine reaches both
        at once, both see "idle" and call Begin(); both follow the one session to its end."""
        monitor = wutest.Monitor(self.bus, ["type='method_call',member='GetNameOwner'"])
        try:
            first = self.terminal(["--wait", "30", "watch", "--guide"])
            second = self.terminal(["--wait", "30", "watch", "--guide"], second_ms=1000)
            self.wait_for_callers(monitor, "GetNameOwner", wutest.BUS_NAME, 2,
                                  "both screens to look for warmupd")
        finally:
            monitor.close()
        self.start_daemon(os.path.join(SRCDIR, "data", "traces", "demo.trace"), speed=0)
        for t in (first, second):
            t.expect("Time for the floor routine: after-bike-warmup")
        self.two_screens_follow_one_session(first, second)

    def test_watch_guide_starts_on_floor_routine(self):
        """watch --guide: the warm-up completes, StartFloorRoutine arrives, the guide begins the
        announced routine by itself."""
        path, _ = self.write_trace("short.trace", [wutest.gen_trace().pedal(30)])
        config = self.write_config("[Warmup]\nDuration=10\n[Routine]\nName=chronic-back-pain\n")
        # know when warmupctl is ready: its proxy asks the bus who owns the name
        monitor = wutest.Monitor(self.bus, ["type='method_call',member='GetNameOwner'"])
        try:
            t = self.terminal(["--wait", "30", "watch", "--guide"], second_ms=1000)
            wait_for(lambda: monitor.seen("GetNameOwner", wutest.BUS_NAME) or t.proc.poll() is not None,
                     message="warmupctl to look for warmupd")
        finally:
            monitor.close()
        self.start_daemon(path, config=config, speed=0)
        t.expect("Time for the floor routine: chronic-back-pain")
        t.expect("Four moves to ease chronic back pain")
        t.expect("Round 1, step 1 of 4: Sky-high stretch")
        self.assertEqual(self.routine()["CurrentRoutine"], "chronic-back-pain")
        t.type("q")
        self.assertEqual(t.wait_exit(), 0, t.output)
        self.assertEqual(self.routine()["RoutineState"], "idle")

    def test_guide_input_closed(self):
        self.start_daemon()
        env = self.bus.env()
        out = subprocess.run([WARMUPCTL, "--session", "guide", "key-exercises"], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             timeout=wutest.TIMEOUT)
        self.assertEqual(out.returncode, 1)
        self.assertIn("input closed", out.stderr)
        # the session stays in warmupd for another screen to join
        self.assertEqual(self.routine()["RoutineState"], "step")


if __name__ == "__main__":
    wutest.main()
