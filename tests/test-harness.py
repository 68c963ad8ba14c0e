#!/usr/bin/python3
"""The test harness's own guarantees (tests/wutest.py), so that `./configure
--enable-sanitizers && make check` and `make check-valgrind` cannot pass by not looking:

- a sanitizer report (ASan, LeakSanitizer, UBSan) in warmupd's log fails the test, whatever
  warmupd's exit status was;
- a sanitizer report on the stderr of a tool run with run_tool() (warmupctl) fails the test;
- a clean daemon and clean tools do not;
- under WARMUPD_VALGRIND=1, warmupd runs under memcheck with GLib's suppressions, the
  daemon and the short runs of run_tool() ([WARMUPD, "--check-config", ...]) alike, and a
  memcheck error (or a run with no memcheck summary) in either fails the test.

The "daemons" here are small shell scripts standing in for warmupd: they print what the real
sanitizer runtimes print, on stderr, and stay up until SIGTERM like warmupd does."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wutest  # noqa: E402
from wutest import wait_for  # noqa: E402

ASAN = """=================================================================
==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010
READ of size 1 at 0x602000000010 thread T0
    #0 0x55 in on_notify src/source-ftms.c:120
SUMMARY: AddressSanitizer: heap-use-after-free src/source-ftms.c:120 in on_notify
"""
LSAN = """
=================================================================
==4243==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 5 byte(s) in 1 object(s) allocated from:
    #0 0x7f in __interceptor_malloc
SUMMARY: AddressSanitizer: 5 byte(s) leaked in 1 allocation(s).
"""
UBSAN = "src/ftms.c:88:21: runtime error: left shift of 255 by 24 places cannot be represented" \
        " in type 'int'\n"
CLEAN = """(warmupd:77): warmupd-WARNING **: 20:36:30.972: no routines: Error opening directory
warmupd: replay: 1200 events, runtime: 0.4 s
AddressSanitizer is mentioned here only as a word, with no report.
"""


def fake_daemon_script(test, stderr_text):
    """A stand-in for warmupd: writes STDERR_TEXT, then waits for SIGTERM and exits 0."""
    report = test.write_file("report.txt", stderr_text)
    return test.write_file("fake-warmupd.sh",
                           "cat '%s' >&2\ntrap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n"
                           % report)


class Inner(wutest.WarmupdTestCase):
    """Run by HarnessTests (not collected on its own: see load_tests)."""
    stderr_text = ""
    tool = False

    def runTest(self):
        if self.tool:
            script = self.write_file("fake-tool.sh", "printf '%%s' '%s' >&2\nexit 0\n"
                                     % self.stderr_text)
            result = self.run_tool(["/bin/sh", script])
            self.assertEqual(result.returncode, 0)
            return
        d = wutest.Daemon(self)
        d.argv = ["/bin/sh", fake_daemon_script(self, self.stderr_text)]
        # not run under valgrind: give tearDown the clean memcheck log it looks for
        self.write_file(os.path.basename(d.vg_path), "==1== ERROR SUMMARY: 0 errors from 0 contexts\n")
        d.start()
        wait_for(lambda: os.path.getsize(d.log_path) >= len(self.stderr_text.encode()),
                 message="the fake daemon to write its report")


class InnerMemcheck(wutest.WarmupdTestCase):
    """A warmupd run by run_tool() whose memcheck log says VG_LOG (run by HarnessTests)."""
    vg_log = ""

    def runTest(self):
        self.tool_memcheck.append(([wutest.WARMUPD, "--check-config"], self.vg_log))


def run_inner(stderr_text, tool=False, base=Inner, **attrs):
    attrs.update({"stderr_text": stderr_text, "tool": tool})
    test = type("InnerCase", (base,), attrs)()
    result = unittest.TestResult()
    test.run(result)
    return result


class HarnessTests(unittest.TestCase):
    def assert_fails(self, result, what):
        self.assertEqual(len(result.failures) + len(result.errors), 1,
                         "a %s report did not fail the test" % what)
        text = (result.failures + result.errors)[0][1]
        self.assertIn("sanitizer reported an error", text)

    def test_report_finder(self):
        for text in (ASAN, LSAN, UBSAN):
            self.assertIsNotNone(wutest.sanitizer_report(CLEAN + text + CLEAN))
        self.assertTrue(wutest.sanitizer_report(CLEAN + UBSAN).startswith("src/ftms.c:88:21"))
        self.assertIsNone(wutest.sanitizer_report(CLEAN))
        self.assertIsNone(wutest.sanitizer_report(""))

    def test_asan_in_daemon_log_fails(self):
        self.assert_fails(run_inner(CLEAN + ASAN), "ASan")

    def test_leak_in_daemon_log_fails(self):
        # exit status 0, as a daemon whose leak report is printed after its own exit code
        self.assert_fails(run_inner(LSAN), "LeakSanitizer")

    def test_ubsan_in_daemon_log_fails(self):
        self.assert_fails(run_inner(UBSAN), "UBSan")

    def test_clean_daemon_passes(self):
        result = run_inner(CLEAN)
        self.assertEqual(result.failures + result.errors, [])
        self.assertEqual(result.testsRun, 1)

    def test_sanitizer_in_tool_stderr_fails(self):
        self.assert_fails(run_inner(LSAN, tool=True), "tool LeakSanitizer")

    def test_clean_tool_passes(self):
        result = run_inner(CLEAN, tool=True)
        self.assertEqual(result.failures + result.errors, [])

    def test_memcheck_error_in_tool_fails(self):
        for vg in ("==9== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)\n",
                   "==9== definitely lost: 24 bytes in 1 blocks\n"
                   "==9== ERROR SUMMARY: 1 errors from 1 contexts\n",
                   ""):   # no summary: memcheck did not finish
            result = run_inner("", base=InnerMemcheck, vg_log=vg)
            self.assertEqual(len(result.failures + result.errors), 1, "%r passed" % vg)
            self.assertIn("valgrind found errors in %s --check-config" % wutest.WARMUPD,
                          (result.failures + result.errors)[0][1])

    def test_clean_memcheck_in_tool_passes(self):
        result = run_inner("", base=InnerMemcheck,
                           vg_log="==9== ERROR SUMMARY: 0 errors from 0 contexts\n")
        self.assertEqual(result.failures + result.errors, [])

    def test_tool_command_line(self):
        argv = wutest.valgrind_argv([wutest.WARMUPD, "--check-config"], "/tmp/x.valgrind")
        self.assertEqual(argv[0], "valgrind")
        self.assertEqual(argv[-2:], [wutest.WARMUPD, "--check-config"])
        for option in ("--error-exitcode=3", "--leak-check=full",
                       "--errors-for-leak-kinds=definite", "--log-file=/tmp/x.valgrind"):
            self.assertIn(option, argv)
        self.assertEqual(wutest.memcheck_summary(
            "==1== definitely lost: 1,024 bytes in 2 blocks\n"
            "==1== ERROR SUMMARY: 2 errors from 2 contexts\n"), (2, 1024))
        self.assertEqual(wutest.memcheck_summary(""), (None, 0))

    def test_daemon_command_line(self):
        stub = type("Stub", (), {"bus": None, "tmpdir": "/tmp"})()
        argv = wutest.Daemon(stub, config="/dev/null").argv
        if not wutest.VALGRIND:
            self.assertEqual(argv[:2], [wutest.WARMUPD, "--session"])
            return
        # make check-valgrind (WARMUPD_VALGRIND=1): warmupd under memcheck
        self.assertEqual(argv[0], "valgrind")
        for option in ("--leak-check=full", "--errors-for-leak-kinds=definite",
                       "--suppressions=/usr/share/glib-2.0/valgrind/glib.supp"):
            self.assertIn(option, argv)
        self.assertEqual(argv[argv.index(wutest.WARMUPD):][:2], [wutest.WARMUPD, "--session"])


def load_tests(loader, tests, pattern):
    return loader.loadTestsFromTestCase(HarnessTests)


if __name__ == "__main__":
    wutest.main()
