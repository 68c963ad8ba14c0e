#!/bin/sh
# LOG_COMPILER of `make check-valgrind` for the unit tests (the C test programs): run one
# under memcheck. Any error, or any definitely lost block, makes it exit 3, which the TAP
# driver reports as an ERROR for that test. Only GLib's suppressions (its caches and one-time
# type registrations): the project has none of its own.
#
# Children are traced (--trace-children=yes): a g_test_trap_subprocess() child (the test
# program run again, e.g. tests/test-history's read-only directory as nobody) is under
# memcheck too; programs outside the tree (/bin, /usr, /sbin) are not. Each process writes
# its own report (--log-file=DIR/PID), copied to stderr (the test's log) at the end: a trap
# child's stderr is captured by its parent, and its exit status 3 would pass a test that
# expects the child to fail. So an error in any report makes this exit 3 whatever the test
# program's own status was.
#
# The integration tests run warmupd under the same options through WARMUPD_VALGRIND=1
# (tests/wutest.py: the daemon and the short runs of run_tool()).
logs=$(mktemp -d "${TMPDIR:-/tmp}/warmupd-valgrind.XXXXXX") || exit 99
trap 'rm -rf "$logs"' EXIT
set -- --tool=memcheck --error-exitcode=3 --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --num-callers=30 --track-fds=no \
  --trace-children=yes --trace-children-skip='/bin/*,/usr/*,/sbin/*' \
  --log-file="$logs/%p" "$@"
supp=/usr/share/glib-2.0/valgrind/glib.supp
[ -f "$supp" ] && set -- --suppressions="$supp" "$@"
valgrind "$@"
status=$?
reports=0 bad=0
for f in "$logs"/*; do
  [ -f "$f" ] || continue
  reports=$((reports + 1))
  cat "$f" >&2
  grep -q 'ERROR SUMMARY: [1-9]' "$f" && bad=1
done
if [ "$reports" -eq 0 ]; then
  echo "valgrind-run.sh: no memcheck report" >&2
  exit 3
fi
if [ "$bad" -ne 0 ] && [ "$status" -eq 0 ]; then
  echo "valgrind-run.sh: memcheck found errors in a child process" >&2
  status=3
fi
exit "$status"
