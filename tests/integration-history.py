#!/usr/bin/python3
"""Integration tests of the session history: the real warmupd on a private bus with a temp
state directory, replaying traces; Warmup1.GetHistory, HistoryError, a SIGKILL mid warm-up
recovered as interrupted, a corrupt database, and `warmupctl history`. TAP output."""

import csv
import io
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402  (prints "1..0 # SKIP" and exits when gi or dbus-daemon is missing)
from wutest import OBJECT_PATH, WARMUP_IFACE, WARMUPCTL, GLib, Gio, wait_for  # noqa: E402

gt = wutest.gen_trace()

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CSV_COLUMNS = ["id", "start_time", "end_time", "outcome", "counted_seconds", "pauses",
               "avg_cadence", "max_cadence", "avg_power", "cap", "recaps", "source", "routine",
               "rounds", "assessment"]


def straight(seconds=700):
    return [gt.stop(3), gt.pedal(seconds, cadence=75, resistance=20, power=120), gt.stop(10)]


class HistoryTests(wutest.WarmupdTestCase):

    def setUp(self):
        super().setUp()
        self.state_dir = os.path.join(self.tmpdir, "state")
        # never the real $STATE_DIRECTORY of whoever runs the tests
        self._saved_state_env = os.environ.pop("STATE_DIRECTORY", None)

    def tearDown(self):
        os.environ.pop("STATE_DIRECTORY", None)
        if self._saved_state_env is not None:
            os.environ["STATE_DIRECTORY"] = self._saved_state_env
        super().tearDown()

    # -- helpers -------------------------------------------------------------------------

    def state_args(self):
        return ["--state-dir", self.state_dir]

    def history(self, limit=0):
        return self.call(OBJECT_PATH, WARMUP_IFACE, "GetHistory", GLib.Variant("(u)", (limit,)),
                         "(aa{sv})")[0]

    def history_error_name(self):
        try:
            self.history()
        except GLib.Error as e:
            return Gio.DBusError.get_remote_error(e), e.message
        self.fail("GetHistory succeeded; an error was expected")

    def warmupctl(self, *args):
        return self.run_tool([WARMUPCTL, "--session", "history"] + list(args))

    def assert_iso_times(self, row):
        self.assertRegex(row["start_time"], ISO_UTC)
        self.assertRegex(row["end_time"], ISO_UTC)
        self.assertLessEqual(row["start_time"], row["end_time"])

    # -- a complete warm-up ----------------------------------------------------------------

    def test_complete_warmup_is_recorded(self):
        path, _ = self.write_trace("straight.trace", straight())
        d = self.replay(path, args=self.state_args())

        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")
        rows = self.history()
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual(row["outcome"], "complete")
        self.assertEqual(row["counted_seconds"], 600.0)
        self.assertEqual(row["pauses"], 0)
        self.assertEqual(row["avg_cadence"], 75.0)
        self.assertEqual(row["max_cadence"], 75.0)
        self.assertEqual(row["avg_power"], 120.0)
        self.assertEqual(row["cap"], 30.0)          # 30 % of the bike's 0..100
        self.assertEqual(row["recaps"], 0)
        self.assertEqual(row["source"], "replay:straight.trace")
        self.assertEqual(row["routine"], "after-bike-warmup")
        self.assertNotIn("rounds", row)             # no guided routine followed
        self.assertNotIn("assessment", row)
        self.assert_iso_times(row)
        self.assertTrue(os.path.exists(os.path.join(self.state_dir, "history.db")))
        self.assert_in_log(d, "history: ")

        # a second daemon on the same directory: the row is still there, nothing recovered,
        # and the newest comes first
        self.assertEqual(d.terminate(), 0)
        pause_path, _ = self.write_trace("pause.trace", [
            gt.stop(3), gt.pedal(100, cadence=75, resistance=20), gt.stop(400)])
        d2 = self.replay(pause_path, args=self.state_args(), name="warmupd-2")
        rows = self.history()
        self.assertEqual([r["outcome"] for r in rows], ["cancelled", "complete"])
        self.assertGreater(rows[0]["id"], rows[1]["id"])
        self.assertEqual(rows[0]["counted_seconds"], 99.0)
        self.assertEqual(rows[0]["pauses"], 1)
        self.assertEqual(len(self.history(1)), 1)
        self.assertNotIn("interrupted", d2.log())

    # -- the guided floor routine that followed ----------------------------------------------

    def replay_with_routines(self, path):
        os.environ["WARMUPD_ROUTINES_DIR"] = os.path.join(wutest.SRCDIR, "data", "routines")
        try:
            return self.replay(path, args=self.state_args())
        finally:
            os.environ.pop("WARMUPD_ROUTINES_DIR", None)

    def guided_routine(self, *assessments):
        """Begin after-bike-warmup and assess one round with each of ASSESSMENTS (None: a
        round that ends the session without an assessment, the routine's last)."""
        routine_iface = "io.github.warmupd.Routine1"

        def routine(method, *args):
            sig = "(" + "s" * len(args) + ")"
            return self.call(OBJECT_PATH, routine_iface, method,
                             GLib.Variant(sig, args) if args else None)

        def do_round():
            for _ in range(100):
                if self.get(routine_iface, "RoutineState", OBJECT_PATH) in ("assess", "done"):
                    return
                routine("Next")
            self.fail("the round never reached its end")

        routine("Begin", "after-bike-warmup")
        for assessment in assessments:
            do_round()
            if assessment is not None:
                routine("Assess", assessment)

    def test_guided_routine_rounds_and_assessment_stored(self):
        path, _ = self.write_trace("straight.trace", straight())
        self.replay_with_routines(path)
        # the round rule: better -> another round, the last (MaxRounds=2): done, no question
        self.guided_routine("better", None)
        wait_for(lambda: "rounds" in self.history()[0], message="rounds in the history")
        row = self.history()[0]
        self.assertEqual(row["outcome"], "complete")
        self.assertEqual(row["rounds"], 2)
        self.assertEqual(row["assessment"], "better")

    def test_failed_routine_outcome_write_sets_history_error(self):
        path, _ = self.write_trace("straight.trace", straight())
        self.replay_with_routines(path)
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")
        # another process holds the write lock: the outcome's UPDATE fails (a row deleted
        # behind warmupd's back is written again as a new row)
        self.hold_write_lock()
        self.guided_routine("same")
        # no GetHistory here: a failed read would publish HistoryError by itself
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="HistoryError to say why history is off")

    def test_history_back_on_at_the_next_warmup(self):
        path, _ = self.write_trace("straight.trace", straight())
        self.replay_with_routines(path)
        lock = self.hold_write_lock()
        self.guided_routine("same")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") != "",
                 message="history off after the failed write")
        lock.execute("COMMIT")
        # the next warm-up writes the last one and itself
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared once the database opens again")
        rows = self.history()
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual(rows[0]["outcome"], "running")
        self.assertEqual(rows[1]["assessment"], "same")

    def test_routine_after_a_cancelled_warmup_not_recorded(self):
        """A guided session after a cancelled warm-up (which announced no floor routine), of
        another routine than the warm-up's: its rounds and assessment are not the warm-up's."""
        routine_iface = "io.github.warmupd.Routine1"
        os.environ["WARMUPD_ROUTINES_DIR"] = os.path.join(wutest.SRCDIR, "data", "routines")
        try:
            d = self.start_daemon(args=self.state_args() + ["-v"])
        finally:
            os.environ.pop("WARMUPD_ROUTINES_DIR", None)
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.call(OBJECT_PATH, routine_iface, "Begin", GLib.Variant("(s)", ("key-exercises",)))
        for _ in range(4):
            self.call(OBJECT_PATH, routine_iface, "Next")
        self.assertEqual(self.get(routine_iface, "RoutineState", OBJECT_PATH), "done")
        self.call(OBJECT_PATH, routine_iface, "Finish")
        rows = self.history()
        self.assertEqual([r["outcome"] for r in rows], ["cancelled"], rows)
        self.assertNotIn("rounds", rows[0])
        self.assertNotIn("assessment", rows[0])
        self.assert_in_log(d, "guided session of key-exercises is not recorded: "
                              "the last warm-up did not complete")

    # -- warmupctl history -----------------------------------------------------------------

    def test_warmupctl_history(self):
        path, _ = self.write_trace("straight.trace", straight())
        self.replay(path, args=self.state_args())

        table = self.warmupctl()
        self.assertEqual(table.returncode, 0, table.stderr)
        lines = table.stdout.splitlines()
        self.assertEqual(len(lines), 2, table.stdout)
        self.assertEqual(lines[0].split()[:5], ["ID", "START", "OUTCOME", "COUNTED", "PAUSES"])
        for text in ("complete", "10:00", "75/75", "120 W", "after-bike-warmup",
                     "replay:straight.trace"):
            self.assertIn(text, lines[1])

        out = self.warmupctl("--csv")
        self.assertEqual(out.returncode, 0, out.stderr)
        records = list(csv.reader(io.StringIO(out.stdout)))
        self.assertEqual(records[0], CSV_COLUMNS)
        self.assertEqual(len(records), 2)
        row = dict(zip(CSV_COLUMNS, records[1]))
        self.assertEqual(row["outcome"], "complete")
        self.assertEqual(row["counted_seconds"], "600.0")
        self.assertEqual(row["avg_power"], "120.0")
        self.assertEqual(row["cap"], "30.0")
        self.assertEqual(row["rounds"], "")
        self.assertRegex(row["start_time"], ISO_UTC)

        limited = self.warmupctl("--csv", "--limit", "1")
        self.assertEqual(limited.returncode, 0, limited.stderr)
        self.assertEqual(len(limited.stdout.splitlines()), 2)

        bad = self.warmupctl("--limit", "-1")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--limit", bad.stderr)

    def test_warmupctl_history_options_before_the_command(self):
        """-w SECONDS and --limit N before the word history: their values are not the
        command word."""
        path, _ = self.write_trace("straight.trace", straight())
        self.replay(path, args=self.state_args())
        for options in (["-n", "1", "-w", "5"], ["--limit", "1", "--wait", "5"],
                        ["--limit=1", "--wait=5"]):
            out = self.run_tool([WARMUPCTL, "--session"] + options + ["history", "--csv"])
            self.assertEqual(out.returncode, 0, "%r: %s" % (options, out.stderr))
            self.assertEqual(len(out.stdout.splitlines()), 2, options)
            self.assertTrue(out.stdout.startswith(",".join(CSV_COLUMNS)), options)

    # -- kill -9 mid warm-up -------------------------------------------------------------------

    def test_sigkill_mid_warmup_recovered_as_interrupted(self):
        path, _ = self.write_trace("long.trace", straight())
        # 20 times real time: the 600 s warm-up takes 30 s, long enough to kill it mid-way
        d = self.start_daemon(path, speed=20, args=self.state_args())
        wait_for(lambda: self.get(WARMUP_IFACE, "Elapsed") >= 150, message="150 s counted")
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "warming-up")
        elapsed = self.get(WARMUP_IFACE, "Elapsed")
        running = self.history()
        self.assertEqual(running[0]["outcome"], "running")
        self.kill_daemon(d)

        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2")
        rows = self.history()
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual(row["outcome"], "interrupted")
        # written every 10 counted seconds: at most that much lost (and at 20x, what was
        # counted between reading Elapsed and the kill landing)
        self.assertGreaterEqual(row["counted_seconds"], elapsed - 10.0)
        self.assertLessEqual(row["counted_seconds"], elapsed + 40.0)
        self.assertEqual(row["cap"], 30.0)
        self.assert_iso_times(row)
        self.assert_in_log(d2, "closed as interrupted")

    def test_sigterm_mid_warmup_ends_interrupted(self):
        path, _ = self.write_trace("half.trace", [gt.stop(3), gt.pedal(200, cadence=75)])
        d = self.replay(path, args=self.state_args())
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "warming-up")
        self.assertEqual(d.terminate(), 0)
        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2")
        rows = self.history()
        self.assertEqual(rows[0]["outcome"], "interrupted")
        self.assertEqual(rows[0]["counted_seconds"], 199.0)   # all of it: written at the stop
        self.assertNotIn("closed as interrupted", d2.log())

    # -- a failed write or read mid warm-up ----------------------------------------------------

    def db_rows(self):
        """(id, outcome, counted_seconds) of every row in the file on disk, oldest first."""
        with sqlite3.connect(os.path.join(self.state_dir, "history.db")) as db:
            return list(db.execute("SELECT id, coalesce(outcome, 'running'), counted_seconds "
                                   "FROM warmups ORDER BY id"))

    def hold_write_lock(self):
        """Another process holds the database's write lock (longer than warmupd's 2 s busy
        timeout) until COMMIT on the connection returned."""
        db = sqlite3.connect(os.path.join(self.state_dir, "history.db"), isolation_level=None,
                             timeout=10)
        self.addCleanup(db.close)
        db.execute("BEGIN IMMEDIATE")
        return db

    def test_lock_held_mid_warmup_the_outcome_is_still_stored(self):
        """Progress writes fail while someone else holds the write lock: HistoryError says so,
        the row stays in memory, the next write after the lock is gone stores it, and the
        warm-up ends complete (it was never written again and became 'interrupted')."""
        conf = self.write_config("[Warmup]\nDuration=300\n")
        path, _ = self.write_trace("long.trace", straight(400))
        self.start_daemon(path, config=conf, speed=20, args=self.state_args())
        wait_for(lambda: self.get(WARMUP_IFACE, "Elapsed") >= 20, message="20 s counted")
        lock = self.hold_write_lock()
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="a failed write in HistoryError")
        self.assertEqual(self.get(WARMUP_IFACE, "State"), "warming-up")
        lock.execute("COMMIT")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared by the next write")
        wait_for(lambda: self.get(WARMUP_IFACE, "State") == "complete", message="complete")
        wait_for(lambda: self.db_rows() == [(1, "complete", 300.0)],
                 message="the complete warm-up on disk")
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")
        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2")
        self.assertEqual([r["outcome"] for r in self.history()], ["complete"])
        self.assertNotIn("closed as interrupted", d2.log())

    def test_lock_held_mid_warmup_inputs_are_not_held_up(self):
        """While another process holds the write lock, warmupd does not retry the write at
        every input, each waiting out the busy timeout (2 s per Indoor Bike Data packet froze
        the main loop): the replay goes on at its speed, and the warm-up is stored once the
        lock is gone."""
        conf = self.write_config("[Warmup]\nDuration=300\n")
        path, _ = self.write_trace("long.trace", straight(400))
        self.start_daemon(path, config=conf, speed=20, args=self.state_args())
        wait_for(lambda: self.get(WARMUP_IFACE, "Elapsed") >= 20, message="20 s counted")
        lock = self.hold_write_lock()
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="a failed write in HistoryError")
        start = self.get(WARMUP_IFACE, "Elapsed")
        # 120 s of the trace is 6 s at speed 20; an input held up 2 s each took minutes
        wait_for(lambda: self.get(WARMUP_IFACE, "Elapsed") >= start + 120, timeout=30,
                 message="120 s more counted while the lock is held")
        self.assertIn("locked", self.get(WARMUP_IFACE, "HistoryError"))
        lock.execute("COMMIT")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "", timeout=30,
                 message="HistoryError cleared by the next write")
        wait_for(lambda: self.get(WARMUP_IFACE, "State") == "complete", message="complete")
        wait_for(lambda: self.db_rows() == [(1, "complete", 300.0)],
                 message="the complete warm-up on disk")

    def test_lock_held_at_the_end_the_outcome_is_written_later(self):
        """The write of the outcome itself fails, and nothing follows the warm-up: a retry
        stores it once the lock is gone."""
        path, _ = self.write_trace("half.trace", [gt.stop(3), gt.pedal(200, cadence=75)])
        d = self.replay(path, args=self.state_args())
        self.assertEqual(self.db_rows(), [(1, "running", 190.0)])   # the last progress step
        lock = self.hold_write_lock()
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="the failed write in HistoryError")
        self.assertIn("kept", self.get(WARMUP_IFACE, "HistoryError"))
        lock.execute("COMMIT")
        wait_for(lambda: self.db_rows() == [(1, "cancelled", 199.0)], timeout=30,
                 message="the cancelled warm-up written by a retry")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared")
        self.assertTrue(d.running())

    def test_lock_held_from_one_warmup_into_the_next_both_are_written(self):
        """The lock is held from the end of one warm-up into the next: the first one's outcome
        is kept in memory under the new one (it was dropped, left running on disk and closed
        as 'interrupted' at the next start-up), and both are written once the lock is gone."""
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        self.start_daemon(config=conf, args=self.state_args())
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.assertEqual([r[1] for r in self.db_rows()], ["running"])
        lock = self.hold_write_lock()
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="the failed write in HistoryError")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertIn("locked", self.get(WARMUP_IFACE, "HistoryError"))
        lock.execute("COMMIT")
        wait_for(lambda: [r[1] for r in self.db_rows()] == ["cancelled", "cancelled"],
                 timeout=30, message="both warm-ups written with their outcomes")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared")
        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2")
        self.assertEqual([r["outcome"] for r in self.history()], ["cancelled", "cancelled"])
        self.assertNotIn("closed as interrupted", d2.log())

    def test_failed_read_mid_warmup_keeps_the_row(self):
        """GetHistory fails (the table gone for a moment): the caller gets HistoryUnavailable,
        and the running warm-up is still written (a failed read closed the history before,
        and the warm-up's end was never written)."""
        path, _ = self.write_trace("half.trace", [gt.stop(3), gt.pedal(200, cadence=75)])
        self.replay(path, args=self.state_args())
        with sqlite3.connect(os.path.join(self.state_dir, "history.db")) as db:
            db.execute("ALTER TABLE warmups RENAME TO hidden")
        name, message = self.history_error_name()
        self.assertEqual(name, "io.github.warmupd.Error.HistoryUnavailable")
        self.assertIn("no such table", message)
        with sqlite3.connect(os.path.join(self.state_dir, "history.db")) as db:
            db.execute("ALTER TABLE hidden RENAME TO warmups")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertEqual(self.db_rows(), [(1, "cancelled", 199.0)])
        self.assertEqual([r["outcome"] for r in self.history()], ["cancelled"])
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")

    # -- the file deleted or replaced while warmupd runs ------------------------------------

    def remove_history_files(self):
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(os.path.join(self.state_dir, "history.db" + suffix))
            except FileNotFoundError:
                pass

    def test_database_deleted_while_running_is_made_again(self):
        """An admin deletes history.db (and its -wal, -shm): warmupd notices, says so, and
        makes a new one; nothing goes on into the deleted file."""
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        d = self.start_daemon(config=conf, args=self.state_args())
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertEqual([r["outcome"] for r in self.history()], ["cancelled"])
        self.remove_history_files()
        # what GetHistory lists is what is on disk: nothing now
        self.assertEqual(self.history(), [])
        self.assertIn("deleted or replaced", d.log())
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertEqual([(r[1]) for r in self.db_rows()], ["cancelled"])
        self.assertEqual([r["outcome"] for r in self.history()], ["cancelled"])
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")
        # deleted mid warm-up: the running one goes into the new file
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.remove_history_files()
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertEqual([(r[1]) for r in self.db_rows()], ["cancelled"])
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")

    def test_database_replaced_mid_warmup(self):
        """A copy renamed over history.db mid warm-up (a backup restored, a VACUUM INTO):
        the warm-up's end goes into the file now at the path, into its own row there."""
        path, _ = self.write_trace("half.trace", [gt.stop(3), gt.pedal(200, cadence=75)])
        d = self.replay(path, args=self.state_args())
        db_path = os.path.join(self.state_dir, "history.db")
        with sqlite3.connect(db_path) as src, sqlite3.connect(db_path + ".new") as dst:
            src.backup(dst)
        os.rename(db_path + ".new", db_path)
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertEqual(self.db_rows(), [(1, "cancelled", 199.0)])
        self.assertIn("deleted or replaced", d.log())
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")
        # and it stays so once warmupd has closed it (its own WAL went with the old file)
        self.assertEqual(d.terminate(), 0)
        self.assertEqual(self.db_rows(), [(1, "cancelled", 199.0)])

    def replace_with_renumbered_copy(self, old_id, new_id, remove_logs=False):
        """A copy of history.db renamed over it (a backup restored) in which the warm-up under
        OLD_ID is under NEW_ID, and OLD_ID is an older warm-up of the copy's own. REMOVE_LOGS:
        the old file's -wal and -shm are removed first (else they are left as they are)."""
        db_path = os.path.join(self.state_dir, "history.db")
        src = sqlite3.connect(db_path)
        dst = sqlite3.connect(db_path + ".new", isolation_level=None)
        src.backup(dst)
        src.close()
        # the copy stands alone: no -wal of its own left behind when it is renamed
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.execute("UPDATE warmups SET id = ? WHERE id = ?", (new_id, old_id))
        dst.execute("INSERT INTO warmups (id, start_time, end_time, outcome, counted_seconds, "
                    "source) VALUES (?, '2020-01-01T10:00:00Z', '2020-01-01T10:10:00Z', "
                    "'complete', 600, 'restored')", (old_id,))
        dst.close()
        if remove_logs:
            for suffix in ("-wal", "-shm"):
                os.unlink(db_path + suffix)
        os.rename(db_path + ".new", db_path)

    def test_database_replaced_while_warmups_wait_to_be_written(self):
        """The lock held from one warm-up into the next (both kept in memory), then a copy in
        which those warm-ups are under other ids put in place: once opened again, the earlier
        one is written into its own row there (found by its start) and the new one into a new
        row; the restored file's other rows are left alone, and nothing is written twice."""
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        d = self.start_daemon(config=conf, args=self.state_args())
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.assertEqual([r[1] for r in self.db_rows()], ["cancelled", "running"])
        lock = self.hold_write_lock()
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="the failed write in HistoryError")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")   # the second one now waits under it
        self.assertIn("could not be written yet", d.log())
        self.replace_with_renumbered_copy(2, 3)
        lock.execute("COMMIT")   # on the file no longer at the path
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.assertIn("deleted or replaced", d.log())
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "", timeout=30,
                 message="HistoryError cleared")
        rows = self.db_rows()
        self.assertEqual([(r[0], r[1]) for r in rows],
                         [(1, "cancelled"), (2, "complete"), (3, "cancelled"), (4, "cancelled")],
                         d.log())
        with sqlite3.connect(os.path.join(self.state_dir, "history.db")) as db:
            self.assertEqual(db.execute("SELECT source FROM warmups WHERE id = 2").fetchone(),
                             ("restored",))
        self.assertEqual(d.terminate(), 0)
        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2")
        self.assertEqual(len(self.history()), 4)
        self.assertNotIn("closed as interrupted", d2.log())

    def test_database_replaced_and_locked_is_opened_once_free(self):
        """The file put in place is itself locked by another process when warmupd opens it
        again: opening fails (HistoryError says so, nothing is lost), and a later retry opens
        it and writes the warm-up once the lock is gone."""
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        d = self.start_daemon(config=conf, args=self.state_args())
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        # the copy's own -wal and -shm: the old ones (warmupd's, still open) are not the copy's
        self.replace_with_renumbered_copy(1, 5, remove_logs=True)
        lock = self.hold_write_lock()   # on the copy now at the path
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="the failed opening in HistoryError")
        self.assertIn("kept in memory", self.get(WARMUP_IFACE, "HistoryError"))
        self.assertEqual([(r[0], r[1]) for r in self.db_rows()], [(1, "complete"), (5, "running")])
        lock.execute("COMMIT")
        wait_for(lambda: [(r[0], r[1]) for r in self.db_rows()]
                 == [(1, "complete"), (5, "cancelled")], timeout=30,
                 message="the warm-up written into its own row by a retry")
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared")
        self.assertTrue(d.running())

    def start_with_the_database_locked(self):
        """warmupd started while another process holds the write lock (an sqlite3 shell mid
        transaction, a backup): opening fails, as closing unfinished rows needs the lock.
        Returns the daemon and the lock's connection."""
        self.fill_history(2)
        lock = self.hold_write_lock()
        d = self.start_daemon(args=self.state_args())
        wait_for(lambda: "locked" in self.get(WARMUP_IFACE, "HistoryError"),
                 message="the failed opening in HistoryError")
        name, _ = self.history_error_name()
        self.assertEqual(name, "io.github.warmupd.Error.HistoryUnavailable")
        return d, lock

    def test_locked_at_startup_opened_by_the_retry(self):
        """Nothing else happens (no warm-up, no GetHistory): the retry every 10 s opens the
        database once the lock is gone (nothing retried it before: history stayed off until
        a warm-up's next state change)."""
        d, lock = self.start_with_the_database_locked()
        lock.execute("COMMIT")
        # the retry comes every 10 s: the default deadline (30 s) is three of them
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared by the retry")
        self.assert_in_log(d, "history back on")
        self.assertEqual([r["id"] for r in self.history()], [2, 1])

    def test_locked_at_startup_get_history_opens_it(self):
        """GetHistory opens the database when it is not open, without waiting for the
        retry (it answered HistoryUnavailable until a warm-up's next state change)."""
        _, lock = self.start_with_the_database_locked()
        lock.execute("COMMIT")
        self.assertEqual([r["id"] for r in self.history()], [2, 1])
        wait_for(lambda: self.get(WARMUP_IFACE, "HistoryError") == "",
                 message="HistoryError cleared")

    def test_warmup_without_cadence_leaves_cadence_out(self):
        # started by hand on an empty trace and cancelled: no cadence was ever reported
        conf = self.write_config("[Warmup]\nAutostart=manual\n")
        self.replay(os.path.join(wutest.TRACES, "empty.trace"), config=conf,
                    args=self.state_args())
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        row = self.history()[0]
        self.assertEqual(row["outcome"], "cancelled")
        for unknown in ("avg_cadence", "max_cadence", "avg_power"):
            self.assertNotIn(unknown, row)
        csv_rows = list(csv.DictReader(io.StringIO(self.warmupctl("--csv").stdout)))
        self.assertEqual((csv_rows[0]["avg_cadence"], csv_rows[0]["max_cadence"]), ("", ""))

    def test_second_instance_leaves_the_running_row_alone(self):
        path, _ = self.write_trace("half.trace", [gt.stop(3), gt.pedal(200, cadence=75)])
        self.replay(path, args=self.state_args())
        self.assertEqual(self.history()[0]["outcome"], "running")
        # started by hand on the same bus and state directory: it cannot own the name
        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2", wait=False)
        self.assertEqual(d2.wait_exit(), 1)
        self.assertIn("could not own the name", d2.log())
        self.assertNotIn("closed as interrupted", d2.log())
        rows = self.history()
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["outcome"], "running")
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")

    # -- a big history ---------------------------------------------------------------------

    def start_with_history(self, name):
        """warmupd, once it has opened its history: that follows the bus name, and a SIGTERM
        sent as soon as the name is seen owned may stop it before (a loaded ASan run did)."""
        d = self.start_daemon(args=self.state_args(), name=name)
        wait_for(lambda: "history: " in d.log(), message="warmupd to open its history")
        return d

    def fill_history(self, rows):
        """ROWS complete warm-ups (ids 1..ROWS, counted_seconds = id) written with sqlite
        into a history.db made by warmupd: much faster than warm-ups."""
        d = self.start_with_history("warmupd-creates")
        self.assertEqual(d.terminate(), 0)
        with sqlite3.connect(os.path.join(self.state_dir, "history.db")) as db:
            db.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
                       "INSERT INTO warmups (start_time, end_time, outcome, counted_seconds, "
                       "pauses, avg_cadence, max_cadence, avg_power, cap, recaps, source, "
                       "routine, rounds, assessment) SELECT '2024-05-01T07:30:12Z', "
                       "'2024-05-01T07:40:12Z', 'complete', x, 1, 75, 80, 120, 30, 2, "
                       "'ftms:AA:BB:CC:DD:EE:FF', 'after-bike-warmup', 2, 'better' FROM n",
                       (rows,))
        os.remove(os.path.join(self.tmpdir, "warmupd-creates.log"))

    def history_before(self, before, limit=0, bus=None):
        conn = (bus or self.bus).conn
        reply = conn.call_sync(wutest.BUS_NAME, OBJECT_PATH, WARMUP_IFACE, "GetHistoryBefore",
                               GLib.Variant("(xu)", (before, limit)),
                               GLib.VariantType("(aa{sv})"), Gio.DBusCallFlags.NONE, -1, None)
        return reply.unpack()[0]

    @staticmethod
    def vm_hwm_kib(daemon):
        with open("/proc/%d/status" % daemon.proc.pid) as f:
            return int(re.search(r"^VmHWM:\s*(\d+) kB", f.read(), re.M).group(1))

    def test_startup_counts_a_big_history_without_reading_it(self):
        """Start-up logs how many warm-ups there are: a count, not every row in memory
        (300,000 rows took ~100 MB at start-up before)."""
        if wutest.VALGRIND:
            self.skipTest("the peak memory of valgrind is not warmupd's")
        d = self.start_with_history("warmupd-small")
        small = self.vm_hwm_kib(d)
        self.assertEqual(d.terminate(), 0)
        self.fill_history(300000)
        d = self.start_daemon(args=self.state_args())
        wait_for(lambda: "300000 warm-ups" in d.log(), message="the count in the log")
        big = self.vm_hwm_kib(d)
        # ASan (.ci/sanitizers) holds freed memory in quarantine: SQLite's page cache of the
        # count stays (~26 MiB); reading every row took far more there too
        with open("/proc/%d/maps" % d.proc.pid) as f:
            allowed = 48 * 1024 if "libasan" in f.read() else 16 * 1024
        self.assertLess(big - small, allowed, "peak RSS %d KiB with 300,000 rows, %d KiB "
                                              "with none" % (big, small))

    def test_big_history_replies_are_bounded_and_page_to_the_oldest(self):
        self.fill_history(2500)
        self.start_daemon(args=self.state_args())
        ids = lambda rows: [r["id"] for r in rows]  # noqa: E731
        # GetHistory(0) and a limit above the maximum: the newest 1000
        self.assertEqual(ids(self.history()), list(range(2500, 1500, -1)))
        self.assertEqual(ids(self.history(5000)), list(range(2500, 1500, -1)))
        self.assertEqual(ids(self.history(3)), [2500, 2499, 2498])
        # GetHistoryBefore(id, limit): older than id, newest first; 0: from the newest
        self.assertEqual(ids(self.history_before(0, 2)), [2500, 2499])
        self.assertEqual(ids(self.history_before(1501)), list(range(1500, 500, -1)))
        self.assertEqual(ids(self.history_before(501, 5000)), list(range(500, 0, -1)))
        self.assertEqual(self.history_before(1), [])
        row = self.history_before(8, 1)[0]
        self.assertEqual((row["id"], row["counted_seconds"], row["outcome"]), (7, 7.0, "complete"))
        with self.assertRaises(GLib.Error) as caught:
            self.history_before(-1)
        self.assertEqual(Gio.DBusError.get_remote_error(caught.exception),
                         "io.github.warmupd.Error.InvalidArgument")
        # warmupctl history pages through all of them, or stops at --limit
        out = self.warmupctl("--csv")
        self.assertEqual(out.returncode, 0, out.stderr)
        records = list(csv.reader(io.StringIO(out.stdout)))
        self.assertEqual(records[0], CSV_COLUMNS)
        self.assertEqual([int(r[0]) for r in records[1:]], list(range(2500, 0, -1)))
        out = self.warmupctl("--csv", "--limit", "1200")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual([int(r[0]) for r in list(csv.reader(io.StringIO(out.stdout)))[1:]],
                         list(range(2500, 1300, -1)))
        table = self.warmupctl()
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertEqual(len(table.stdout.splitlines()), 2501)

    def test_big_history_on_a_bus_with_a_small_message_limit(self):
        """A bus that refuses messages over 1 MiB (the system bus: 32 MiB) and a history
        whose every row would not fit in one reply: GetHistory(0) and `warmupctl history`
        work, and warmupd keeps its connection (the bus dropped it before: exit 1)."""
        self.fill_history(3000)   # ~460 bytes a row: 1.4 MB in all
        small = wutest.Bus(self.tmpdir, max_message_size=1024 * 1024)
        self.addCleanup(small.close)
        d = wutest.Daemon(self, args=self.state_args())
        d.bus = small
        d.start()
        wait_for(lambda: small.name_owner() is not None, message="warmupd on the small bus")
        rows = small.conn.call_sync(wutest.BUS_NAME, OBJECT_PATH, WARMUP_IFACE, "GetHistory",
                                    GLib.Variant("(u)", (0,)), GLib.VariantType("(aa{sv})"),
                                    Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
        self.assertEqual(len(rows), 1000)
        self.assertEqual(len(self.history_before(rows[-1]["id"], bus=small)), 1000)
        out = self.run_tool([WARMUPCTL, "--session", "history", "--csv"], env=small.env())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), 3001)
        self.assertTrue(d.running(), d.log())
        self.assertEqual(d.terminate(), 0)

    # -- no history ------------------------------------------------------------------------

    def test_corrupt_database_daemon_keeps_working(self):
        os.makedirs(self.state_dir)
        db = os.path.join(self.state_dir, "history.db")
        garbage = b"not a database at all " * 20
        with open(db, "wb") as f:
            f.write(garbage)
        path, _ = self.write_trace("straight.trace", straight())
        d = self.replay(path, args=self.state_args())

        self.assertEqual(self.get(WARMUP_IFACE, "State"), "complete")   # the warm-up ran
        self.assertEqual(len(self.signals.floor), 1)
        error = self.get(WARMUP_IFACE, "HistoryError")
        self.assertIn(db, error)
        self.assertIn("not a database", error)
        name, message = self.history_error_name()
        self.assertEqual(name, "io.github.warmupd.Error.HistoryUnavailable")
        self.assertIn("not a database", message)
        self.assert_in_log(d, "history off: ")
        with open(db, "rb") as f:
            self.assertEqual(f.read(), garbage, "the corrupt file must be left alone")

        out = self.warmupctl()
        self.assertEqual(out.returncode, 1)
        self.assertIn("io.github.warmupd.Error.HistoryUnavailable", out.stderr)
        # CSV: no header either, so a file it is redirected to is not an empty history
        out = self.warmupctl("--csv")
        self.assertEqual(out.returncode, 1)
        self.assertIn("io.github.warmupd.Error.HistoryUnavailable", out.stderr)
        self.assertEqual(out.stdout, "")

    def test_state_directory_name_not_utf8(self):
        """A state directory whose name is not UTF-8 (byte 0xE9): HistoryError and the
        HistoryUnavailable message name the database by its display name, U+FFFD for the
        byte (a GLib critical before, fatal under the harness)."""
        self.state_dir = os.path.join(self.tmpdir, os.fsdecode(b"\xe9tat"))
        os.makedirs(self.state_dir)
        with open(os.path.join(self.state_dir, "history.db"), "wb") as f:
            f.write(b"not a database at all " * 20)
        d = self.start_daemon(args=self.state_args())
        shown = os.path.join(self.tmpdir, "\ufffdtat", "history.db")
        error = self.get(WARMUP_IFACE, "HistoryError")
        self.assertIn(shown, error)
        self.assertIn("not a database", error)
        name, message = self.history_error_name()
        self.assertEqual(name, "io.github.warmupd.Error.HistoryUnavailable")
        self.assertIn(shown, message)
        self.assertTrue(d.running())
        self.assertNotIn("CRITICAL", d.log())
        self.assertEqual(d.terminate(), 0)

        # a directory that cannot be made: the message names it the same way
        with open(os.path.join(self.tmpdir, os.fsdecode(b"\xe9")), "w"):
            pass
        self.state_dir = os.path.join(self.tmpdir, os.fsdecode(b"\xe9"), "state")
        d2 = self.start_daemon(args=self.state_args(), name="warmupd-2")
        self.assertIn(os.path.join(self.tmpdir, "\ufffd", "state") + ": ",
                      self.get(WARMUP_IFACE, "HistoryError"))
        self.assertNotIn("CRITICAL", d2.log())

    def test_no_state_directory_no_history(self):
        d = self.start_daemon()
        self.assertIn("no state directory", self.get(WARMUP_IFACE, "HistoryError"))
        name, _ = self.history_error_name()
        self.assertEqual(name, "io.github.warmupd.Error.HistoryUnavailable")
        # history off is not a failed write: warm-ups, and stopping during one, warn of nothing
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Stop")
        self.call(OBJECT_PATH, WARMUP_IFACE, "Start")
        self.assertEqual(d.terminate(), 0)
        self.assertNotIn("history-WARNING", d.log())
        self.assertNotIn("could not be written", d.log())

    def test_state_directory_from_systemd(self):
        # systemd's StateDirectory= sets $STATE_DIRECTORY (several paths are ':'-separated)
        os.environ["STATE_DIRECTORY"] = self.state_dir + ":" + os.path.join(self.tmpdir, "other")
        path, _ = self.write_trace("straight.trace", straight())
        self.replay(path)
        self.assertEqual(self.get(WARMUP_IFACE, "HistoryError"), "")
        self.assertEqual(len(self.history()), 1)
        self.assertTrue(os.path.exists(os.path.join(self.state_dir, "history.db")))
        self.assertFalse(os.path.exists(os.path.join(self.tmpdir, "other")))


if __name__ == "__main__":
    wutest.main()
