#!/bin/bash
# Real GPIO (issue 8): warmupd on a real kernel GPIO chip through the real libgpiod.
#
# Boots a small kernel with gpio-sim (tests/vm/build-gpio-kernel.sh, built once and cached)
# under qemu TCG with tests/vm/lib.sh; in the guest (tests/vm/real-gpio-guest.sh) a gpio-sim
# chip is created through configfs with one line named for warmupd, warmupd runs on it
# ([Gpio] Line=NAME, pull-up bias, falling edge) on a private session bus, and gpio-pulse
# (tests/vm/gpio-pulse.c: clock_nanosleep to absolute deadlines) drives the line's pull:
# a 60 ms low pulse every 800 ms (75 rpm, one magnet) for 30 s, then nothing.
#
# Asserts (TAP): the kernel, the chip, warmupd holding the named line on the second chip;
# every falling edge reached warmupd (Sensor1.Events, its --record); Sensor1.Cadence within
# 1 rpm of 75 half-way through every revolution of the steady part (the overdue bounds warmupd
# publishes around a late-read edge are measured and printed); after the stop the cadence
# only falls and is 0 within StaleAfter of the first missing revolution (and not before
# StaleAfter after the last one); the warm-up started by pedalling and was paused only by
# the stop; Sensor1 still connected, nothing dropped; then the gpio-sim device stops being
# live (its chip is removed under warmupd's requested line) with nothing else going on:
# Sensor1.Connected goes false by itself within VMT_REMOVAL_WAIT s (Debian's 6.1 kernel
# wakes nobody polling the line's fd on removal: warmupd watches the chip's node), and once
# the device is live again warmupd takes the line back; a 3 s line storm (the pull flipped
# as fast as writes go) takes Sensor1.Connected false with the reason on Error, and true
# again once the line is calm; warmupd exits 0 on SIGTERM.
# Prints the stimulus' measured accuracy (gpio-pulse's lateness, the kernel-stamped
# periods) and the stop latency as TAP comments; also in $VM_WORK/figures.txt.
# Skips (TAP "1..0 # SKIP", exit 0) only when qemu or a static busybox is missing. The guest
# console is printed on failure. Environment: VMT_COUNT (pulses, default 38: 30 s),
# VMT_REMOVAL_WAIT (s, default 10),
# VMT_GPIO_KERNEL (a bzImage to boot instead of building one), CC.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/vm/lib.sh
. "$here/lib.sh"
vm_require_qemu
export WARMUPD_SRCDIR WARMUPD_BUILDDIR   # lib.sh derives them when run by hand

PY=/usr/bin/python3
export VMT_PERIOD_MS=800 VMT_LOW_MS=60 VMT_COUNT=${VMT_COUNT:-38} VMT_LINE=3 \
  VMT_LINE_NAME=warmupd-reed VMT_STALE_AFTER=3 VMT_REMOVAL_WAIT=${VMT_REMOVAL_WAIT:-10}

echo "1..12"
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $*"; }
bail () {  # the rest cannot run: report them as failed, show the guest, stop
  local why=$1
  while [ "$n" -lt 12 ]; do not_ok "$why"; done
  [ -f "${VM_WORK:-/nonexistent}/console.log" ] && vm_dump_console 120
  exit 1
}

vm_init real-gpio

# 1: the kernel (cached after the first build; VMT_GPIO_KERNEL: use that bzImage instead)
if [ -n "${VMT_GPIO_KERNEL:-}" ]; then
  VM_KERNEL=$VMT_GPIO_KERNEL
  echo "# build-gpio-kernel: not run: VMT_GPIO_KERNEL=$VMT_GPIO_KERNEL" > "$VM_WORK/kernel-build.txt"
else
  VM_KERNEL=$("$here/build-gpio-kernel.sh" 2> "$VM_WORK/kernel-build.txt" | tail -n 1)
fi
if [ -n "$VM_KERNEL" ] && [ -r "$VM_KERNEL" ]; then
  ok "gpio-sim kernel: $VM_KERNEL"
  sed 's/^#*/#/' "$VM_WORK/kernel-build.txt"
else
  sed 's/^#*/#/' "$VM_WORK/kernel-build.txt"
  bail "no gpio-sim kernel (tests/vm/build-gpio-kernel.sh failed)"
fi
export VM_KERNEL

export VMT_PULSE=$VM_WORK/gpio-pulse
if [ ! -x "$WARMUPD_BUILDDIR/src/warmupd" ]; then
  bail "$WARMUPD_BUILDDIR/src/warmupd is not built"
fi
if ! ${CC:-cc} -std=c11 -O2 -Wall -Wextra -o "$VMT_PULSE" "$here/gpio-pulse.c"; then
  bail "cannot build tests/vm/gpio-pulse.c"
fi

VM_TIMEOUT=${VM_TIMEOUT:-300} vm_run "$here/real-gpio-guest.sh"
status=$?
R=$VM_RESULTS
if [ "$status" -ne 0 ]; then
  echo "# the guest exited with status $status: $(cat "$R/guest-error" 2>/dev/null)"
  if [ -f "$R/warmupd.log" ]; then
    echo "# --- warmupd.log ---"; tail -n 40 "$R/warmupd.log" | sed 's/^/# /'
  fi
fi

# 2..12: judged on the host from the guest's results
"$PY" - "$R" "$n" <<'EOF'
import os, re, statistics, sys

R, n = sys.argv[1], int(sys.argv[2])
period_s = int(os.environ["VMT_PERIOD_MS"]) / 1000.0
count = int(os.environ["VMT_COUNT"])
stale = float(os.environ["VMT_STALE_AFTER"])
target = 60.0 / period_s
failed = False
figures = []


def read(name):
    try:
        with open(os.path.join(R, name), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def check(cond, what, diag=()):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, what))
    if not cond:
        failed = True
        for line in diag:
            print("#   " + line)


def fig(line):
    figures.append(line)
    print("# " + line)


chip = dict(l.split(" ", 1) for l in read("chip").splitlines() if " " in l)
sensor = dict(l.split(" ", 1) for l in read("sensor").splitlines() if " " in l)
final = dict(l.split(" ", 1) for l in read("final").splitlines() if " " in l)

# 2: the chip
check(chip.get("name") == os.environ["VMT_LINE_NAME"] and chip.get("chip", "").startswith("gpiochip")
      and chip.get("decoy") != chip.get("chip"),
      "gpio-sim chip %s created through configfs, line %s named '%s' (decoy %s)"
      % (chip.get("chip"), chip.get("line"), chip.get("name"), chip.get("decoy")),
      [read("guest-error")])

# 3: warmupd found the line by its name, on the second chip, and holds it
want = "-> listening: /dev/%s line %s, falling edges, pull-up" % (chip.get("chip"), chip.get("line"))
check("<'gpio'>" in sensor.get("Kind", "") and "<true>" in sensor.get("Connected", "")
      and "<''>" in sensor.get("Error", "") and want in read("warmupd.log"),
      "warmupd holds the line by name: Sensor1 %s Address %s Connected %s, /dev/%s line %s"
      % (sensor.get("path"), sensor.get("Address"), sensor.get("Connected"), chip.get("chip"),
         chip.get("line")),
      ["sensor: %r" % sensor, "wanted in warmupd.log: %s" % want]
      + ["warmupd.log: " + l for l in read("warmupd.log").splitlines()[:20]])

# gpio-pulse's log: (deadline, before, after) in seconds
pulses = []
for l in read("pulses.log").splitlines():
    f = l.split()
    if f[:1] == ["pulse"]:
        pulses.append(tuple(int(x) / 1e9 for x in f[2:5]))

# the kernel-stamped edges warmupd recorded, up to the chip's removal (test 10)
edges = []
for l in read("edges.trace").splitlines():
    f = l.split()
    if len(f) == 3 and f[1] in ("gpio.edge", "link"):
        if (f[1], f[2]) == ("link", "down"):
            break
        edges.append((float(f[0]), f[2]))
falling = [t for t, e in edges if e == "falling"]
events = re.search(r"<uint64 (\d+)>", final.get("Sensor1.Events", ""))
events = int(events.group(1)) if events else -1

# 4: every pulse reached warmupd, as one falling edge each and nothing else (Sensor1.Events
# also counts the recording's "link up")
links = [(t, e) for t, e in edges if e in ("up", "down")]
check(len(pulses) == count and len(falling) == count and len(edges) == count + len(links)
      and links == edges[:1] and events == len(edges),
      "every pulse seen once: %d driven, %d falling edges recorded (%d events, link up first), "
      "Sensor1.Events %d" % (len(pulses), len(falling), len(edges), events),
      [read("guest-error"), "pulses.log tail: %r" % read("pulses.log")[-300:],
       "edges.trace head: %r" % read("edges.trace")[:300]])

# the stimulus' accuracy
fig("guest clocksource: %s" % read("clocksource").strip())
if pulses:
    late = sorted((a - d) * 1e6 for d, b, a in pulses)
    fig("gpio-pulse: %d writes of pull-down, lateness after the absolute deadline (write "
        "returned): mean %.0f us, p50 %.0f us, max %.0f us"
        % (len(late), statistics.mean(late), late[len(late) // 2], late[-1]))
if len(falling) > 2:
    dev = [((b - a) - period_s) * 1e6 for a, b in zip(falling, falling[1:])]
    fig("kernel-stamped periods (warmupd --record, %d): mean %.1f us off %d ms, stdev %.0f us, "
        "worst %+.0f us -> %.3f rpm mean, %.3f..%.3f rpm per revolution"
        % (len(dev), statistics.mean(dev), period_s * 1000, statistics.pstdev(dev),
           max(dev, key=abs), 60.0 / (period_s + statistics.mean(dev) / 1e6),
           60.0 / (period_s + max(dev) / 1e6), 60.0 / (period_s + min(dev) / 1e6)))

# Sensor1.Cadence as published (every value at once; Warmup1 follows at most once a second):
# (arrival time, value)
cad = []
rx = re.compile(r"^(\d+\.\d+) .*PropertiesChanged \('io\.github\.warmupd\.Sensor1', \{.*?'Cadence': <([-0-9.e+]+)>")
for l in read("monitor.log").splitlines():
    m = rx.match(l)
    if m:
        cad.append((float(m.group(1)), float(m.group(2))))

# 5: steady part, from the third pulse to the last: the value in force half-way through each
# revolution (what a client reading Cadence sees) within 1 rpm of the target. Around each
# edge warmupd may publish an "overdue" bound 60/(time since the last edge) before it has
# read the edge, by as much as the edge's delivery was late: reported, not asserted.
if len(pulses) >= 4 and cad:
    mids = [pulses[k][0] + period_s / 2 for k in range(2, len(pulses) - 1)]
    in_force = []
    for m in mids:
        before = [v for t, v in cad if t <= m]
        in_force.append(before[-1] if before else None)
    bad = [(round(m - pulses[0][0], 3), v) for m, v in zip(mids, in_force)
           if v is None or abs(v - target) > 1.0]
    known = [v for v in in_force if v is not None]
    check(known and not bad,
          "steady: Sensor1.Cadence within 1 rpm of %.0f half-way through each of %d revolutions "
          "(%.1f s to %.1f s): %.3f..%.3f"
          % (target, len(mids), mids[0] - pulses[0][0], mids[-1] - pulses[0][0],
             min(known) if known else -1, max(known) if known else -1),
          ["off (s from the first pulse, rpm): %r" % bad[:10]])
    start, end = pulses[2][2], pulses[-1][0]
    published = [v for t, v in cad if start < t <= end]
    # how long the value in force was more than 1 rpm off, over the steady window
    off_s, prev = 0.0, None
    for t, v in [(start, known[0] if known else target)] + \
            [(t, v) for t, v in cad if start < t <= end] + [(end, None)]:
        if prev is not None and abs(prev[1] - target) > 1.0:
            off_s += t - prev[0]
        prev = (t, v)
    if published:
        fig("Sensor1.Cadence published in the steady part: %d values, %.3f..%.3f rpm, mean %.3f; "
            "more than 1 rpm off for %.0f ms of %.1f s (overdue bounds before a late edge was read)"
            % (len(published), min(published), max(published), statistics.mean(published),
               off_s * 1000, end - start))
else:
    check(False, "steady cadence: no pulses or no Cadence published",
          ["%d pulses, %d Cadence changes" % (len(pulses), len(cad))])

removal = {}
for l in read("removal").splitlines():
    f = l.split()
    if len(f) == 2 and f[1] in ("removed", "relived"):
        removal[f[1]] = float(f[0])
    elif len(f) >= 2:
        removal[f[0]] = " ".join(f[1:])

# 6: the stop: after the last pulse the cadence only falls, and is 0 within StaleAfter of the
# first missing revolution, not before StaleAfter after the last one (up to the chip's
# removal: the line storm after it publishes its own values)
if pulses and cad:
    last_before, last_after = pulses[-1][1], pulses[-1][2]
    missing = pulses[-1][0] + period_s
    after = [(t, v) for t, v in cad if last_after < t < removal.get("removed", float("inf"))]
    zero = next((t for t, v in after if v == 0), None)
    falling_only = all(b[1] <= a[1] for a, b in zip(after, after[1:]))
    if zero is not None:
        fig("stop: Cadence 0 received %.3f s after the last pulse (StaleAfter %.0f s), "
            "%.3f s after the first missing one; %d values on the way down"
            % (zero - last_after, stale, zero - missing, len(after) - 1))
    check(zero is not None and falling_only and zero - missing <= stale
          and zero - last_before >= stale - 0.001,
          "stop seen: Cadence 0 within StaleAfter (%.0f s) of the first missing revolution, "
          "falling only" % stale,
          ["after the last pulse: %r" % after[:20]])
else:
    check(False, "stop seen: no pulses or no Cadence published")

monitor = read("monitor.log").splitlines()
mark = int(removal.get("mark", len(monitor)))

# 7: the warm-up: pedalling started it, nothing paused it before the stop, the stop did
# (up to the chip's removal)
states = re.findall(r"'State': <'([a-z-]+)'>", "\n".join(monitor[:mark]))
check(states == ["warming-up", "paused"] and "'paused'" in final.get("Warmup1.State", ""),
      "warm-up started by pedalling, paused only by the stop (states %s; Elapsed %s)"
      % ("->".join(states), final.get("Warmup1.Elapsed", "")),
      ["final: %r" % final])

# 8: warmupd's own view of the stop and of the line
check("<0.0>" in final.get("Sensor1.Cadence", "") and "<true>" in final.get("Sensor1.Connected", "")
      and "<uint32 0>" in final.get("Sensor1.DroppedPackets", ""),
      "Sensor1 after the stop: Cadence 0, still connected, nothing dropped",
      ["final: %r" % final])

# 9: SIGTERM
status = read("warmupd.status").strip()
log = read("warmupd.log")
check(status == "0" and "CRITICAL" not in log, "warmupd exits 0 on SIGTERM (status %s)" % (status or "none"),
      ["warmupd.log: " + l for l in log.splitlines()[-30:]])

relive_mark = int(removal.get("relive_mark", len(monitor)))
# Sensor1 changes after the removal, up to the chip's coming back: (time, line)
sensor_changes = []
for l in monitor[mark:relive_mark]:
    if "'io.github.warmupd.Sensor1'" in l:
        sensor_changes.append((float(l.split(" ", 1)[0]), l))
down = next(((t, l) for t, l in sensor_changes if "'Connected': <false>" in l), None)
up = next(((float(l.split(" ", 1)[0]), l) for l in monitor[relive_mark:]
           if "'io.github.warmupd.Sensor1'" in l and "'Connected': <true>" in l), None)
wait_s = float(os.environ["VMT_REMOVAL_WAIT"])

# 10: the chip removed under the requested line, nothing else going on: Connected false by
# itself, within VMT_REMOVAL_WAIT, with the reason on Sensor1.Error
if down is not None and "removed" in removal:
    fig("chip removed: Sensor1.Connected false received %.3f s after the device stopped being "
        "live" % (down[0] - removal["removed"]))
errors = [l for t, l in sensor_changes if "'Error': <'" in l and "'Error': <''>" not in l]
check(removal.get("noticed") == "by-itself" and down is not None
      and down[0] - removal["removed"] <= wait_s and errors,
      "chip removed while listening: Sensor1.Connected false by itself within %.0f s, Error set "
      "(%s)" % (wait_s, removal.get("noticed", "not run")),
      ["removal: %r" % removal, "Sensor1 changes after the removal: %r" % sensor_changes[:6],
       "warmupd.log: %r" % read("warmupd.log").splitlines()[-8:]])

# 11: live again: warmupd takes the line back (it retries every 5 s), Error cleared
if up is not None and "relived" in removal:
    fig("chip live again: Sensor1.Connected true received %.3f s later" % (up[0] - removal["relived"]))
check(removal.get("reconnected") == "yes" and up is not None
      and "<true>" in removal.get("connected_after", "")
      and "<''>" in removal.get("error_after", ""),
      "gpio-sim device live again (%s): warmupd holds the line again, Error cleared"
      % removal.get("chip_again"),
      ["removal: %r" % removal])

# 12: a 3 s line storm (the pull flipped as fast as writes go): Connected false with the
# storm on Error, at most a second of reading after it began; calm again: Connected true,
# Error cleared. warmupd's CPU time during it is printed.
storm = {}
for l in read("storm").splitlines():
    f = l.split()
    if len(f) == 2 and f[1] in ("storm_start", "storm_end"):
        storm[f[1]] = float(f[0])
    elif len(f) == 2:
        storm[f[0]] = f[1]
storm_mark = int(storm.get("storm_mark", len(monitor)))
storm_changes = [(float(l.split(" ", 1)[0]), l) for l in monitor[storm_mark:]
                 if "'io.github.warmupd.Sensor1'" in l]
storm_down = next(((t, l) for t, l in storm_changes if "'Connected': <false>" in l), None)
storm_up = next(((t, l) for t, l in storm_changes
                 if storm_down is not None and t >= storm_down[0] and "'Connected': <true>" in l),
                None)
storm_error = any("edges in a second, no switch makes that" in l for t, l in storm_changes)
if "flips" in storm and "storm_ms" in storm:
    fig("line storm: %s pull flips in %s ms (%.0f falling edges a second)"
        % (storm["flips"], storm["storm_ms"], int(storm["flips"]) / 2 / (int(storm["storm_ms"]) / 1000)))
if all(k in storm for k in ("cpu_before", "cpu_after", "clk_tck", "storm_start", "storm_end")):
    fig("line storm: warmupd used %.2f s of CPU in %.1f s of storm"
        % ((int(storm["cpu_after"]) - int(storm["cpu_before"])) / int(storm["clk_tck"]),
           storm["storm_end"] - storm["storm_start"]))
if storm_down is not None and storm_up is not None and "storm_end" in storm:
    fig("line storm: Sensor1.Connected false %.3f s after it began, true again %.3f s after "
        "it ended" % (storm_down[0] - storm["storm_start"], storm_up[0] - storm["storm_end"]))
check(storm_down is not None and storm_error and "storm_start" in storm
      and storm_down[0] - storm["storm_start"] <= 2.0
      and storm_up is not None and storm_up[0] >= storm["storm_end"]
      and "storm_failed" not in storm and "calm_seen" not in storm,
      "a 3 s line storm: Sensor1.Connected false with the storm on Error, true again once calm",
      ["storm: %r" % storm, "Sensor1 changes after the storm began: %r" % storm_changes[:6],
       "warmupd.log: %r" % read("warmupd.log").splitlines()[-8:]])

with open(os.path.join(R, "..", "figures.txt"), "w") as f:
    f.write("\n".join(figures) + "\n")
sys.exit(1 if failed else 0)
EOF
py_status=$?
if [ "$py_status" -ne 0 ] || [ "$status" -ne 0 ]; then
  vm_dump_console 120
  exit 1
fi
exit 0
