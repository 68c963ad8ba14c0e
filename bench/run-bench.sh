#!/bin/sh
# warmupd benchmark: replay one hour of 4 Hz FTMS data in virtual time on a private session
# bus, with one client subscribed to PropertiesChanged, and print figures beside the targets:
#
#   CPU per sample  < 20 us          (utime+stime of warmupd over the whole run / samples)
#   peak RSS        VmHWM of warmupd / VmHWM of bench/floor, same run: printed, no verdict
#                   (0.1 s of replay; the <= 1.3 x floor verdict is bench/perf.py's live
#                   session: an hour at 4 Hz against the mocked BlueZ bike)
#
# warmupd runs BENCH_RUNS times (default 3, one fresh subscriber each); the table shows
# medians with the range of the runs, and the highest VmHWM.
#
# Every process here (warmupd, the floor, the bus, the subscriber) runs with the Environment=
# of systemd/warmupd.service.in (glibc's tunables), as the unit runs warmupd.
#
# Figures only: a missed target is printed as "NOT met", never fails. Exits non-zero only
# when the run itself broke (tool missing, daemon died, replay never finished, ...).
#
# Usage: bench/run-bench.sh [BUILDDIR [SRCDIR]]     (both default to this script's tree)
# Run by `make bench`. Writes into BUILDDIR/bench/out/.
set -eu

script_dir=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${1:-$script_dir/..}" && pwd)
srcdir=$(cd "${2:-$script_dir/..}" && pwd)
outdir="$builddir/bench/out"
python=/usr/bin/python3
deadline_s=120     # generous: the replay normally takes well under a second
runs=${BENCH_RUNS:-3}
LC_ALL=C
export LC_ALL

die () {
  echo "run-bench: $*" >&2
  exit 1
}

# --- tooling ------------------------------------------------------------------------------
missing=""
for tool in dbus-daemon gdbus getconf awk; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ ! -x "$python" ]; then
  missing="$missing $python"
elif ! "$python" -c 'import gi; gi.require_version("Gio", "2.0"); from gi.repository import Gio' \
    >/dev/null 2>&1; then
  missing="$missing python3-gi(for $python)"
fi
[ -r /proc/self/status ] || missing="$missing /proc"
[ -z "$missing" ] || die "missing tooling:$missing"
case "$runs" in
  '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer, not '$runs'" ;;
esac

# The unit's Environment= for every process run here, parsed as bench/perf.py does
# (BENCH_GLIBC_TUNABLES replaces its GLIBC_TUNABLES).
unit_env=$("$python" -B -c 'import shlex, sys
sys.path.insert(0, sys.argv[1] + "/bench")
import perf
for name, value in sorted(perf.deployed_env(sys.argv[1]).items()):
    print("export %s=%s" % (name, shlex.quote(value)))' "$srcdir") ||
  die "cannot read the Environment= of $srcdir/systemd/warmupd.service.in"
eval "$unit_env"

for prog in src/warmupd bench/floor; do
  [ -x "$builddir/$prog" ] || die "$builddir/$prog is not built (run make first)"
done
[ -r "$srcdir/tools/gen-trace.py" ] || die "$srcdir/tools/gen-trace.py not found"
[ -r "$srcdir/bench/subscriber.py" ] || die "$srcdir/bench/subscriber.py not found"

sanitized=""
if command -v ldd >/dev/null 2>&1 && ldd "$builddir/src/warmupd" 2>/dev/null | grep -q -E 'lib(asan|ubsan|tsan)'; then
  sanitized=yes
fi

clk_tck=$(getconf CLK_TCK)
mkdir -p "$outdir"

# --- cleanup: every process we start, by pid ------------------------------------------------
bus_pid=""
floor_pid=""
sub_pid=""
wu_pid=""

stop_pid () {  # stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  i=0
  while kill -0 "$1" 2>/dev/null && [ "$i" -lt 250 ]; do
    sleep 0.02
    i=$((i + 1))
  done
  kill -KILL "$1" 2>/dev/null || true
}

cleanup () {
  status=$?
  trap - EXIT INT TERM
  stop_pid "$wu_pid"
  stop_pid "$sub_pid"
  stop_pid "$floor_pid"
  stop_pid "$bus_pid"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ns () { date +%s%N; }

# /proc figures of a live process
vmhwm_kib () { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"; }
cpu_ticks () {  # utime + stime, all threads; fields 14 and 15 (after "pid (comm)")
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
cpu_ns_schedstat () {  # time on CPU in ns summed over live threads ("" if unavailable)
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { if (NR) printf "%.0f\n", s }'
}

wait_for_line () {  # wait_for_line FILE REGEX PID SECONDS
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    [ "$i" -lt $(($4 * 50)) ] || return 1
    sleep 0.02
    i=$((i + 1))
  done
}

# --- 1. the trace -------------------------------------------------------------------------
trace="$outdir/hour.trace"
"$python" "$srcdir/tools/gen-trace.py" hour --rate 4 -o "$trace" \
  || die "cannot generate the trace with tools/gen-trace.py"
samples=$(grep -c '^[0-9.]* ftms\.indoor-bike-data ' "$trace" || true)
events=$(grep -c '^[0-9]' "$trace" || true)
[ "$samples" -gt 0 ] || die "no Indoor Bike Data samples in $trace"

# --- 2. a private session bus ---------------------------------------------------------------
bus_info="$outdir/bus.info"
dbus-daemon --session --fork --nosyslog --print-address=1 --print-pid=1 >"$bus_info" \
  || die "cannot start dbus-daemon"
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$bus_info")
bus_pid=$(sed -n 2p "$bus_info")
if [ -z "$DBUS_SESSION_BUS_ADDRESS" ] || [ -z "$bus_pid" ]; then
  die "dbus-daemon printed no address/pid"
fi
export DBUS_SESSION_BUS_ADDRESS
unset DBUS_SYSTEM_BUS_ADDRESS || true

# --- 3. the floor ---------------------------------------------------------------------------
floor_name=io.github.warmupd.BenchFloor
: >"$outdir/floor.log"  # empty it before the child starts: no stale "owned" line
"$builddir/bench/floor" "$floor_name" >"$outdir/floor.log" 2>&1 &
floor_pid=$!
wait_for_line "$outdir/floor.log" '^owned ' "$floor_pid" 10 \
  || die "bench/floor did not own $floor_name (see $outdir/floor.log)"
gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.NameHasOwner "$floor_name" | grep -q true \
  || die "the bus does not know $floor_name as owned"
sleep 1
floor_hwm=$(vmhwm_kib "$floor_pid")
stop_pid "$floor_pid"
floor_rc=0
wait "$floor_pid" || floor_rc=$?
floor_pid=""
[ "$floor_rc" -eq 0 ] || die "bench/floor exited with status $floor_rc"

# --- 4. warmupd, with one subscribed client (BENCH_RUNS times; medians are reported) ------
get_prop () {  # get_prop PATH INTERFACE PROPERTY -> gdbus text such as (<true>,)
  gdbus call --session --dest io.github.warmupd --object-path "$1" \
    --method org.freedesktop.DBus.Properties.Get "$2" "$3" 2>/dev/null
}
sensor_path=/io/github/warmupd/sensors/replay0
runs_file="$outdir/runs.txt"
: >"$runs_file"

run=1
while [ "$run" -le "$runs" ]; do
  sub_log="$outdir/subscriber.$run.log"
  wu_log="$outdir/warmupd.$run.log"
  : >"$sub_log"  # empty it before the child starts: no stale "ready" line
  "$python" "$srcdir/bench/subscriber.py" >"$sub_log" 2>&1 &
  sub_pid=$!
  wait_for_line "$sub_log" '^ready' "$sub_pid" 10 \
    || die "the subscriber did not get ready (see $sub_log)"

  t0=$(now_ns)
  "$builddir/src/warmupd" --session --config /dev/null --replay "$trace" --speed 0 \
    >"$wu_log" 2>&1 &
  wu_pid=$!
  finished=""
  while :; do
    if ! kill -0 "$wu_pid" 2>/dev/null; then
      wu_rc=0
      wait "$wu_pid" || wu_rc=$?
      wu_pid=""
      die "warmupd exited early with status $wu_rc (see $wu_log)"
    fi
    case "$(get_prop "$sensor_path" io.github.warmupd.Sensor1 Finished || true)" in
      *true*) finished=yes; break ;;
    esac
    [ $(($(now_ns) - t0)) -lt $((deadline_s * 1000000000)) ] || break
    sleep 0.02
  done
  t1=$(now_ns)
  [ -n "$finished" ] || die "the replay did not finish within $deadline_s s (see $wu_log)"

  # Read the figures before anything else touches the process.
  wu_ticks=$(cpu_ticks "$wu_pid")
  wu_sched_ns=$(cpu_ns_schedstat "$wu_pid")
  wu_hwm=$(vmhwm_kib "$wu_pid")

  state=$(get_prop /io/github/warmupd io.github.warmupd.Warmup1 State \
    | sed -n "s/^(<'\\(.*\\)'>,)\$/\\1/p")
  delivered=$(get_prop "$sensor_path" io.github.warmupd.Sensor1 Events \
    | sed -n 's/^(<uint64 \([0-9]*\)>,)$/\1/p')

  stop_pid "$sub_pid"
  sub_rc=0
  wait "$sub_pid" || sub_rc=$?
  sub_pid=""
  [ "$sub_rc" -eq 0 ] || die "the subscriber exited with status $sub_rc (see $sub_log)"
  sub_line=$(grep '^signals ' "$sub_log" || true)
  [ -n "$sub_line" ] || die "the subscriber printed no counts (see $sub_log)"

  stop_pid "$wu_pid"
  wu_rc=0
  wait "$wu_pid" || wu_rc=$?
  wu_pid=""
  [ "$wu_rc" -eq 0 ] || die "warmupd exited with status $wu_rc on SIGTERM (see $wu_log)"

  [ "$state" = complete ] \
    || die "Warmup1.State is '$state' after a steady hour, expected 'complete' (see $wu_log)"
  [ "$delivered" = "$events" ] \
    || die "Sensor1.Events is '$delivered', the trace has $events events (see $wu_log)"

  # one line a run: wall_ns ticks sched_ns hwm_kib then the subscriber's "name count" pairs
  echo "$((t1 - t0)) $wu_ticks ${wu_sched_ns:--1} $wu_hwm $sub_line" >>"$runs_file"
  run=$((run + 1))
done

# --- 5. figures ------------------------------------------------------------------------------
report=$(awk -v samples="$samples" -v events="$events" -v hz="$clk_tck" \
  -v floor_hwm="$floor_hwm" -v state="$state" -v runs="$runs" '
function met(ok) { return ok ? "met" : "NOT met" }
function sort(a, n,   i, j, t) {
  for (i = 2; i <= n; i++)
    for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function range(a, n, fmt) { sort(a, n); return sprintf("(runs: " fmt " .. " fmt ")", a[1], a[n]) }
{
  wall[NR] = $1 / 1e9; wall2[NR] = wall[NR]
  cpu[NR] = $2 * 1000 / hz; cpu2[NR] = cpu[NR]
  us[NR] = cpu[NR] * 1000 / samples; us2[NR] = us[NR]
  sched[NR] = $3; hwm[NR] = $4
  for (i = 5; i < NF; i += 2) c[NR, $i] = $(i + 1)
  sig[NR] = c[NR, "signals"]
}
END {
  n = NR
  peak = 0; for (i = 1; i <= n; i++) if (hwm[i] > peak) peak = hwm[i]
  have_sched = 1; for (i = 1; i <= n; i++) { if (sched[i] < 0) have_sched = 0; sched[i] /= 1e6 }
  same_sig = 1; for (i = 2; i <= n; i++) if (sig[i] != sig[1]) same_sig = 0
  cpu_us = median(us, n)
  ratio = peak / floor_hwm
  printf "warmupd benchmark: one hour at 4 Hz, virtual time (--speed 0), 1 subscribed client, %d run%s\n", n, (n > 1 ? "s (medians)" : "")
  printf "  %-30s %12d\n", "samples (Indoor Bike Data)", samples
  printf "  %-30s %12d   (Sensor1.Events; State %s)\n", "events delivered", events, state
  printf "  %-30s %12.3f   %s\n", "wall time to Finished (s)", median(wall, n), range(wall2, n, "%.3f")
  printf "  %-30s %12.0f   %s utime+stime, %d ticks/s\n", "CPU time total (ms)", median(cpu, n), range(cpu2, n, "%.0f"), hz
  if (have_sched)
    printf "  %-30s %12.1f   (schedstat of live threads, ns clock)\n", "CPU time, fine clock (ms)", median(sched, n)
  printf "  %-30s %12.2f   %s\n", "CPU per sample (us)", cpu_us, range(us2, n, "%.2f")
  printf "  %-30s %12s   target: < 20 us CPU/sample    %s\n", "", "", met(cpu_us < 20)
  printf "  %-30s %8d KiB = %.2f MiB (highest of the runs)\n", "peak RSS warmupd (VmHWM)", peak, peak / 1024
  printf "  %-30s %8d KiB = %.2f MiB\n", "peak RSS floor (VmHWM)", floor_hwm, floor_hwm / 1024
  printf "  %-30s %12.2f   (replay: the RSS <= 1.3 x floor verdict is bench/perf.py live)\n", "ratio warmupd / floor", ratio
  printf "  %-30s %12d   (Warmup1 %d, Sensor1 %d; %d property values)%s\n", "PropertiesChanged received", sig[n], c[n, "warmup1"], c[n, "sensor1"], c[n, "properties"], same_sig ? "" : " VARIES between runs"
  printf "  %-30s %12d\n", "StartFloorRoutine received", c[n, "floor-routine"]
}' "$runs_file")
if [ -n "$sanitized" ]; then
  report="$report
  WARNING: src/warmupd is built with sanitizers (--enable-sanitizers): CPU and RSS figures
  are not representative; benchmark a build configured without them."
fi
echo "$report"
echo "$report" >"$outdir/report.txt"
echo "(logs and trace in $outdir)"
