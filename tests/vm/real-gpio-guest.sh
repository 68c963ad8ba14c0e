#!/bin/bash
# The guest half of tests/vm/test-real-gpio.sh (run by vm_run inside the gpio-sim kernel,
# as root, in the host root read-only). Creates a gpio-sim chip through configfs, starts
# warmupd (the built binary, the host's libgpiod) on one named line on a private session
# bus, drives the line with gpio-pulse at a known cadence, then stops. Leaves everything
# the host asserts on in $VM_RESULTS:
#   chip          the gpio-sim device, chip and pull file used
#   sensor        Sensor1 properties of the GPIO sensor once it holds the line
#   pulses.log    gpio-pulse's log (deadlines, write times; CLOCK_MONOTONIC ns)
#   monitor.log   `gdbus monitor` of warmupd, each line stamped with CLOCK_MONOTONIC (s)
#   edges.trace   warmupd's --record: every edge with the kernel's timestamp
#   final         Warmup1 and Sensor1 properties after the stop
#   removal       the chip removed while warmupd listens, then back: monitor.log line marks,
#                 CLOCK_MONOTONIC times, whether warmupd noticed by itself, reconnected
#   storm         a 3 s line storm after that: monitor.log line mark, CLOCK_MONOTONIC start and
#                 end, flips written, warmupd's CPU ticks before and after
#   warmupd.log, warmupd.status (exit status after SIGTERM)
#   clocksource   the guest kernel's clocksource
# Parameters (VMT_*, from the host): VMT_PULSE (gpio-pulse binary), VMT_PERIOD_MS, VMT_LOW_MS,
# VMT_COUNT, VMT_LINE (offset in the bank), VMT_LINE_NAME, VMT_STALE_AFTER (s),
# VMT_REMOVAL_WAIT (s).
# Exit status: 0 when every step ran (the host judges the results), 1 with
# $VM_RESULTS/guest-error otherwise.
# shellcheck disable=SC2317  # the predicates below are called through wait_until
set -u
R=$VM_RESULTS
WARMUPD=$WARMUPD_BUILDDIR/src/warmupd
DEST=io.github.warmupd
OBJ=/io/github/warmupd
pids=()

say () { echo "guest: $*"; }
fail () {
  echo "$*" > "$R/guest-error"
  say "FAILED: $*"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  exit 1
}
# wait_until SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds or time is up
wait_until () {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
prop () {  # prop IFACE NAME [PATH]: gdbus's printed value, e.g. (<75.0>,)
  gdbus call --session --dest "$DEST" --object-path "${3:-$OBJ}" \
    --method org.freedesktop.DBus.Properties.Get "$1" "$2" 2>/dev/null
}

# the clock every sleep and timestamp below rests on: hpet (refined-jiffies, in a kernel
# without ACPI, would end every sleep on a 4 ms tick)
cat /sys/devices/system/clocksource/clocksource0/current_clocksource > "$R/clocksource"

# --- a gpio-sim chip: a decoy device first, so the named line is not on the first chip --------
cfg=/sys/kernel/config/gpio-sim
[ -d "$cfg" ] || fail "no $cfg (kernel without CONFIGFS_FS/GPIO_SIM, or configfs not mounted)"
if ! { mkdir "$cfg/decoy" "$cfg/decoy/bank0" && echo 4 > "$cfg/decoy/bank0/num_lines" \
       && echo 1 > "$cfg/decoy/live"; }; then
  fail "cannot create the decoy gpio-sim device"
fi
dev=$cfg/bike
mkdir "$dev" "$dev/bank0" "$dev/bank0/line$VMT_LINE" || fail "mkdir in $cfg"
echo 8 > "$dev/bank0/num_lines"
echo warmupd-bike > "$dev/bank0/label"
echo "$VMT_LINE_NAME" > "$dev/bank0/line$VMT_LINE/name"
echo 1 > "$dev/live" || fail "cannot make the gpio-sim device live"
chip=$(cat "$dev/bank0/chip_name")
devname=$(cat "$dev/dev_name")
pull=/sys/devices/platform/$devname/$chip/sim_gpio$VMT_LINE/pull
[ -w "$pull" ] || fail "no $pull"
wait_until 10 test -c "/dev/$chip" || fail "/dev/$chip did not appear"
printf 'device %s\nchip %s\nline %s\nname %s\npull %s\ndecoy %s\n' "$devname" "$chip" \
  "$VMT_LINE" "$VMT_LINE_NAME" "$pull" "$(cat "$cfg/decoy/bank0/chip_name")" > "$R/chip"
say "gpio-sim: $devname $chip line $VMT_LINE '$VMT_LINE_NAME'"

# --- a private session bus (/tmp is the host's, read-only: the socket goes in /run/tmp) --------
dbus-daemon --session --address=unix:path=/run/tmp/bus --fork --print-pid=1 \
  > /run/tmp/bus.pid || fail "dbus-daemon did not start"
pids+=("$(cat /run/tmp/bus.pid)")
export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/tmp/bus

# every change warmupd publishes, stamped on arrival with CLOCK_MONOTONIC
gdbus monitor --session --dest "$DEST" 2>&1 | "$VMT_PULSE" stamp > "$R/monitor.log" &
pids+=($!)
wait_until 20 grep -q "$DEST" "$R/monitor.log" || fail "gdbus monitor did not start"

cat > /run/tmp/warmupd.conf <<EOF
[Warmup]
StaleAfter=$VMT_STALE_AFTER
[Gpio]
Line=$VMT_LINE_NAME
Bias=pull-up
Edge=falling
EOF
# The private bus stands in for the system bus too: BlueZ is simply absent there, instead of
# a missing system bus that warmupd would retry every 30 s (a wake-up the removal test below
# must not have).
DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS \
G_DEBUG=fatal-criticals WARMUPD_ROUTINES_DIR=$WARMUPD_SRCDIR/data/routines \
  "$WARMUPD" --session --config /run/tmp/warmupd.conf --record "$R/edges.trace" \
  > "$R/warmupd.log" 2>&1 &
wpid=$!
pids+=("$wpid")

# --- warmupd holds the line --------------------------------------------------------------------
sensor_path () {
  gdbus call --session --dest "$DEST" --object-path "$OBJ" \
    --method org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>/dev/null \
    | grep -o "$OBJ/sensors/gpio[0-9]*" | head -n 1
}
connected () {
  local p
  p=$(sensor_path) && [ -n "$p" ] && prop io.github.warmupd.Sensor1 Connected "$p" | grep -q true
}
wait_until 60 connected || fail "the GPIO sensor never connected ($(tail -n 5 "$R/warmupd.log"))"
spath=$(sensor_path)
for p in Kind Name Address Connected Error Events; do
  echo "$p $(prop io.github.warmupd.Sensor1 "$p" "$spath")"
done > "$R/sensor"
echo "path $spath" >> "$R/sensor"
say "warmupd holds the line: $(grep Address "$R/sensor")"

# --- pedal: one revolution every VMT_PERIOD_MS, then stop --------------------------------------
say "driving $VMT_COUNT pulses, one every $VMT_PERIOD_MS ms"
"$VMT_PULSE" drive "$pull" "$VMT_PERIOD_MS" "$VMT_LOW_MS" "$VMT_COUNT" > "$R/pulses.log" \
  || fail "gpio-pulse failed"
cadence_zero () { prop io.github.warmupd.Warmup1 Cadence | grep -q '^(<0\.0>,)$'; }
wait_until 30 cadence_zero || fail "Cadence never came back to 0 after the stop"
paused () { prop io.github.warmupd.Warmup1 State | grep -q "'paused'"; }
wait_until 30 paused || echo "state not paused" >> "$R/final-notes"
{
  for p in State Cadence Elapsed Pauses Source; do
    echo "Warmup1.$p $(prop io.github.warmupd.Warmup1 "$p")"
  done
  for p in Connected Cadence Events DroppedPackets Error; do
    echo "Sensor1.$p $(prop io.github.warmupd.Sensor1 "$p" "$spath")"
  done
} > "$R/final"

# --- the chip goes away while warmupd listens, and comes back -----------------------------------
# The gpio-sim device stops being live: its chip is removed (gpiochip_remove()) while warmupd
# holds the line. Nothing else happens meanwhile: no pulse, no D-Bus call to warmupd (its
# PropertiesChanged signals reach the monitor without waking it; its system bus is the private
# bus, so no Bluetooth retry timer runs either). Only the loss of the chip itself may wake it.
# Progress is polled in monitor.log, never on warmupd.
sensor1_says () {  # sensor1_says MARK 'Connected': <false>: a Sensor1 change after line MARK
  tail -n +"$(($1 + 1))" "$R/monitor.log" | grep "'io.github.warmupd.Sensor1'" | grep -q -F "$2"
}
mark=$(wc -l < "$R/monitor.log")
{ echo "mark $mark"; echo removed | "$VMT_PULSE" stamp; } > "$R/removal"
echo 0 > "$dev/live" || fail "cannot make the gpio-sim device not live"
test -e "/dev/$chip" && wait_until 10 test ! -e "/dev/$chip"
if wait_until "$VMT_REMOVAL_WAIT" sensor1_says "$mark" "'Connected': <false>"; then
  echo "noticed by-itself" >> "$R/removal"
else
  # What the old code needed: anything else waking warmupd's main loop (a D-Bus call here).
  echo "noticed not-within-${VMT_REMOVAL_WAIT}s" >> "$R/removal"
  prop io.github.warmupd.Sensor1 Connected "$spath" > /dev/null
  if wait_until 5 sensor1_says "$mark" "'Connected': <false>"; then
    echo "woken noticed-after-a-dbus-call" >> "$R/removal"
  else
    echo "woken not-even-after-a-dbus-call" >> "$R/removal"
  fi
fi
mark=$(wc -l < "$R/monitor.log")
{ echo "relive_mark $mark"; echo relived | "$VMT_PULSE" stamp; } >> "$R/removal"
echo 1 > "$dev/live" || fail "cannot make the gpio-sim device live again"
echo "chip_again $(cat "$dev/bank0/chip_name")" >> "$R/removal"
# warmupd retries every 5 s while the line is missing
if wait_until 30 sensor1_says "$mark" "'Connected': <true>"; then
  echo "reconnected yes" >> "$R/removal"
else
  echo "reconnected no" >> "$R/removal"
fi
echo "error_after $(prop io.github.warmupd.Sensor1 Error "$spath")" >> "$R/removal"
echo "connected_after $(prop io.github.warmupd.Sensor1 Connected "$spath")" >> "$R/removal"

# --- a line storm: the pull flipped as fast as writes go, for 3 s --------------------------------
# warmupd's CPU time (utime + stime, in clock ticks) is taken before and after it.
storm_pull=/sys/devices/platform/$(cat "$dev/dev_name")/$(cat "$dev/bank0/chip_name")/sim_gpio$VMT_LINE/pull
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$wpid/stat"; }
mark=$(wc -l < "$R/monitor.log")
{
  echo "storm_mark $mark"; echo "clk_tck $(getconf CLK_TCK)"; echo "cpu_before $(cpu_ticks)"
  echo storm_start | "$VMT_PULSE" stamp
} > "$R/storm"
"$VMT_PULSE" storm "$storm_pull" 3000 >> "$R/storm" || echo "storm_failed yes" >> "$R/storm"
{ echo storm_end | "$VMT_PULSE" stamp; echo "cpu_after $(cpu_ticks)"; } >> "$R/storm"
# once calm for a second, the Error is cleared
wait_until 20 sensor1_says "$mark" "'Error': <''>" || echo "calm_seen no" >> "$R/storm"

# --- SIGTERM: warmupd exits 0 ------------------------------------------------------------------
kill -TERM "$wpid"
exited () { ! kill -0 "$wpid" 2>/dev/null; }
if wait_until 20 exited; then
  wait "$wpid"
  echo $? > "$R/warmupd.status"
else
  kill -KILL "$wpid"
  echo "still running 20 s after SIGTERM" > "$R/warmupd.status"
fi
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
sync
say "done"
exit 0
