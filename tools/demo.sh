#!/bin/sh
# The demo: replay the shipped warm-up (a twelve-minute ride) at 30x on a private session
# bus and follow it with `warmupctl watch` until it says to start the floor routine.
# Usage: tools/demo.sh [BUILDDIR [SRCDIR]]   (WARMUPD_DEMO_SPEED overrides the 30x)
set -eu
builddir=${1:-.}
srcdir=${2:-$builddir}
speed=${WARMUPD_DEMO_SPEED:-30}
trace="$srcdir/data/traces/demo.trace"
log="$builddir/demo-warmupd.log"
# Not installed yet: the floor routines come from the source tree.
export WARMUPD_ROUTINES_DIR="${WARMUPD_ROUTINES_DIR:-$srcdir/data/routines}"

echo "Replaying $trace at ${speed}x; warmupd's log goes to $log"
# --config /dev/null: the demo runs on the built-in defaults, whatever /etc holds.
status=0
dbus-run-session -- sh -c '
  "$1/src/warmupd" --session --config /dev/null --replay "$2" --speed "$3" 2>"$4" &
  daemon=$!
  "$1/src/warmupctl" --session --wait 10 watch
  status=$?
  kill -TERM "$daemon" 2>/dev/null
  wait "$daemon" || status=1
  exit $status
' demo "$builddir" "$trace" "$speed" "$log" 2>/dev/null || status=$?
if [ "$status" -ne 0 ]; then
  echo "The demo failed (status $status). The end of warmupd's log ($log):" >&2
  tail -n 20 "$log" >&2 2>/dev/null || echo "(no log: warmupd did not start)" >&2
fi
exit "$status"
