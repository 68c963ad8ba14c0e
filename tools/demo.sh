#!/bin/sh
# The demo: replay the shipped ten-minute-plus warm-up at 30x on a private session bus and
# follow it with `warmupctl watch` until it says to start the floor routine.
# Usage: tools/demo.sh [BUILDDIR [SRCDIR]]
set -eu
builddir=${1:-.}
srcdir=${2:-$builddir}
speed=${WARMUPD_DEMO_SPEED:-30}
trace="$srcdir/data/traces/demo.trace"

exec dbus-run-session -- sh -c '
  "$1/src/warmupd" --session --config /dev/null --replay "$2" --speed "$3" &
  daemon=$!
  "$1/src/warmupctl" --session --wait 10 watch
  status=$?
  kill -TERM "$daemon" 2>/dev/null
  wait "$daemon"
  exit $status
' demo "$builddir" "$trace" "$speed"
