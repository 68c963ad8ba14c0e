# Runs INSIDE the guest booted by tests/vm/test-real-bluez.sh (bash, as root, host root
# read-only, $VM_RESULTS writable). The real Bluetooth stack: hci_vhci + btvirt (three
# virtual LE controllers), a system dbus-daemon with Debian's system bus configuration plus
# warmupd's policy, the real bluetoothd, an FTMS bike and a CSC sensor written for the test
# (tests/vm/ftms-peripheral.py) on hci1 / hci2, and the built warmupd on hci0 as user
# warmupd. Writes TAP lines to $VM_RESULTS/tap (the host prints the plan and them) and every
# log to $VM_RESULTS. Exit status 0 when every check passed.

set -u
R=$VM_RESULTS
src=$WARMUPD_SRCDIR
warmupd_bin=$WARMUPD_BUILDDIR/src/warmupd
peripheral=$src/tests/vm/ftms-peripheral.py
: > "$R/tap"
n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $*" >> "$R/tap"; echo "[guest] ok $n - $*"; }
not_ok () {
  n=$((n + 1)); failed=$((failed + 1))
  echo "not ok $n - $*" >> "$R/tap"; echo "[guest] not ok $n - $*"
}
diag () { echo "# $*" >> "$R/tap"; echo "[guest] # $*"; }
say () { echo "[guest $(cut -d' ' -f1 /proc/uptime)] $*"; }
# check DESCRIPTION COMMAND...
check () { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# wait_for SECONDS COMMAND...: poll every 0.3 s until COMMAND succeeds
wait_for () {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.3
  done
}
# expect SECONDS DESCRIPTION COMMAND...: wait_for as a TAP check
expect () {
  local t=$1 d=$2; shift 2
  if wait_for "$t" "$@"; then ok "$d"; else not_ok "$d (not within $t s)"; return 1; fi
}
# bail REASON: a setup step failed, nothing else can be checked
bail () { echo "Bail out! $*" >> "$R/tap"; say "Bail out! $*"; dump_logs; exit 1; }
dump_logs () {
  for f in bluetoothd.log bike.log csc.log warmupd-ftms.log warmupd-csc.log btvirt.log; do
    [ -s "$R/$f" ] || continue
    echo "[guest] ----- tail of $f"; tail -n 60 "$R/$f"
  done
}

# --- D-Bus helpers (gdbus, the client a user would have) -------------------------------------
WU=io.github.warmupd
WU_PATH=/io/github/warmupd
# prop DEST PATH IFACE NAME: the value, GVariant text without the type wrapper (strings
# keep their quotes)
prop () {
  gdbus call --system --dest "$1" --object-path "$2" \
    --method org.freedesktop.DBus.Properties.Get "$3" "$4" 2>/dev/null \
    | sed -e 's/^(<\(.*\)>,)$/\1/' -e 's/^@[a-z]* //'
}
wprop () { prop $WU $WU_PATH $WU.Warmup1 "$1"; }
sprop () { prop $WU "$WU_PATH/sensors/$1" $WU.Sensor1 "$2"; }
state_is () { [ "$(wprop State)" = "'$1'" ]; }
# num_near VALUE TARGET TOLERANCE
num_near () { awk -v v="$1" -v t="$2" -v e="$3" 'BEGIN { exit !(v != "" && v+0 >= t-e && v+0 <= t+e) }'; }
cadence_near () { num_near "$(wprop Cadence)" "$1" "$2"; }
sensor_cadence_near () { num_near "$(sprop "$1" Cadence)" "$2" "$3"; }
sensor_connected () { [ "$(sprop "$1" Connected)" = true ]; }
sensor_disconnected () { [ "$(sprop "$1" Connected)" = false ]; }
sensor_error_is () { [ "$(sprop "$1" Error)" = "'$2'" ]; }
sensor_resistance_is () { num_near "$(sprop "$1" Resistance)" "$2" 0; }
elapsed_at_least () { num_near "$(wprop Elapsed)" "$(( $1 + 500 ))" 500; }
resumed () { state_is warming-up || state_is complete; }
cap_is () { num_near "$(wprop ResistanceCap)" "$1" 0; }
# the first Sensor1 object whose name starts with KIND (ftms0, csc1 ...)
sensor_named () {
  gdbus introspect --system --dest $WU --object-path $WU_PATH/sensors 2>/dev/null \
    | sed -n "s/^ *node \($1[0-9]*\) .*/\1/p" | head -n 1
}
sensor_error_matches () { sprop "$1" Error | grep -q -- "$2"; }
has_sensor () { [ -n "$(sensor_named "$1")" ]; }
bluez_running () { gdbus call --system --dest org.bluez --object-path / \
  --method org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1; }
adapter_address () { prop org.bluez "/org/bluez/$1" org.bluez.Adapter1 Address | tr -d "'"; }
in_log () { grep -q -- "$2" "$R/$1"; }
count_in_log () { grep -c -- "$2" "$R/$1"; }
more_in_log () { [ "$(count_in_log "$1" "$2")" -gt "$3" ]; }
pid_alive () { kill -0 "$1" 2>/dev/null; }

# --- the stack ---------------------------------------------------------------------------------
say "loading modules from $VM_MODROOT"
modprobe -d "$VM_MODROOT" -a hci_vhci af_alg algif_hash algif_skcipher cmac ecb \
  || bail "modprobe hci_vhci af_alg algif_hash algif_skcipher cmac ecb failed"

# Debian's system bus configuration, with warmupd's policy included directly (the host's
# /usr/share/dbus-1/system.d is read-only); everything else as shipped, so the bus denies
# what the real one denies
sed -e "s|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>\n  <include>$src/data/io.github.warmupd.conf</include>|" \
    -e 's|<syslog/>||' \
    /usr/share/dbus-1/system.conf > "$R/system.conf"
mkdir -p /run/dbus
dbus-daemon --config-file="$R/system.conf" --fork --print-pid=1 > "$R/dbus.pid" \
  || bail "the system dbus-daemon did not start"
say "system bus up (pid $(cat "$R/dbus.pid"))"

# every signal bluetoothd sends: the record of what the real stack did, for failures
dbus-monitor --system "type='signal',sender='org.bluez'" > "$R/bluez-signals.log" 2>&1 &
btvirt -l3 > "$R/btvirt.log" 2>&1 &
btvirt_pid=$!
wait_for 20 test -e /sys/class/bluetooth/hci2 || bail "btvirt -l3 made no hci0..hci2"

bluetoothd_pid=
start_bluetoothd () {
  echo "----- bluetoothd started at $(cut -d' ' -f1 /proc/uptime)" >> "$R/bluetoothd.log"
  /usr/libexec/bluetooth/bluetoothd -n >> "$R/bluetoothd.log" 2>&1 &
  bluetoothd_pid=$!
  wait_for 20 bluez_running
}
start_bluetoothd || bail "bluetoothd did not come up on the system bus"
wait_for 20 test -n "$(adapter_address hci2)" || bail "bluetoothd has no hci2"
hci0=$(adapter_address hci0); hci1=$(adapter_address hci1); hci2=$(adapter_address hci2)
say "bluetoothd $bluetoothd_pid: hci0 $hci0, hci1 $hci1, hci2 $hci2"
[ -n "$hci0" ] && [ -n "$hci1" ] || bail "no adapter addresses"
dev_path () { echo "/org/bluez/hci0/dev_$(echo "$1" | tr : _)"; }

warmupd_uid=$(id -u warmupd) || bail "no user warmupd"
warmupd_gid=$(id -g warmupd)
bluetooth_gid=$(getent group bluetooth | cut -d: -f3)
warmupd_pid=
start_warmupd () {   # start_warmupd CONFIG LOG
  setpriv --reuid="$warmupd_uid" --regid="$warmupd_gid" \
    --groups="$warmupd_gid${bluetooth_gid:+,$bluetooth_gid}" -- \
    env G_DEBUG=fatal-criticals WARMUPD_ROUTINES_DIR="$src/data/routines" "$warmupd_bin" --config "$1" -v > "$R/$2" 2>&1 &
  warmupd_pid=$!
}
stop_warmupd () {   # SIGTERM, then its exit status
  kill -TERM "$warmupd_pid" 2>/dev/null
  wait "$warmupd_pid"
}

# ================================================================================================
# 1. The smart bike (FTMS) on hci1
# ================================================================================================
/usr/bin/python3 "$peripheral" --kind ftms --adapter hci1 --log "$R/bike.log" \
  --cadence 70 --power 110 --rate 4 > "$R/bike.out" 2>&1 &
bike_pid=$!
wait_for 30 in_log bike.log advertising || bail "the FTMS peripheral is not advertising on hci1"
say "bike advertising on hci1"

cat > "$R/warmupd-ftms.conf" <<EOF
[Warmup]
Duration=25
StartAfter=1
PauseAfter=2
StaleAfter=2
AbandonAfter=300
[Resistance]
Cap=8
ReapplyAfter=2
[Bike]
Adapter=hci0
EOF
start_warmupd "$R/warmupd-ftms.conf" warmupd-ftms.log
expect 60 "warmupd (user warmupd) found the bike on hci0 and connected" has_sensor ftms
bike=$(sensor_named ftms)
expect 60 "Sensor1 $bike: Connected" sensor_connected "$bike"
[ "$(sprop "$bike" Address)" = "'$hci1'" ] && ok "Sensor1 Address is hci1's address $hci1" \
  || not_ok "Sensor1 Address $(sprop "$bike" Address), hci1 is $hci1"
expect 30 "live cadence from Indoor Bike Data: 70 rpm" sensor_cadence_near "$bike" 70 1
# bluetoothd 5.66 may never emit Connected true for a first LE connection (then an RSSI
# change arrives with Connected false in every client's cache): the link must hold
check "the first connection held (no link loss before the first link up)" \
  awk '/link up/ { exit 0 } /: disconnected|link lost|no longer resolved/ { exit 1 }' \
  "$R/warmupd-ftms.log"
expect 30 "the warm-up starts on pedalling" state_is warming-up
expect 30 "the bike received Request Control (answered Success)" in_log bike.log "control 00 result 01"
expect 30 "the bike's resistance was set to the cap, level 8" in_log bike.log "resistance 8.0"
check "Warmup1.Control is resistance" [ "$(wprop Control)" = "'resistance'" ]
check "Warmup1.ResistanceCap is 8" cap_is 8

# --- the link drops mid warm-up, the bike comes back ---------------------------------------------
requests_before=$(count_in_log bike.log "control 00 result 01")
caps_before=$(count_in_log bike.log "resistance 8.0")
attempts_before=$(count_in_log warmupd-ftms.log "waiting -> connecting")
kill -USR1 "$bike_pid"
expect 30 "link lost: Sensor1.Connected false" sensor_disconnected "$bike"
expect 30 "link lost: the warm-up pauses" state_is paused
# out of range until warmupd is trying to reconnect
expect 30 "link lost: warmupd tries to reconnect" \
  more_in_log warmupd-ftms.log "waiting -> connecting" "$attempts_before"
kill -USR2 "$bike_pid"
expect 60 "the bike is back: reconnected" sensor_connected "$bike"
expect 30 "the warm-up resumes (or has already completed)" resumed
expect 30 "control requested again after the reconnect" \
  more_in_log bike.log "control 00 result 01" "$requests_before"
expect 30 "the cap is written again after the reconnect" \
  more_in_log bike.log "resistance 8.0" "$caps_before"

# --- what the bike saw, and the real notification fd ---------------------------------------------
expect 20 "Sensor1.Resistance follows the bike: 8" sensor_resistance_is "$bike" 8
check "Feature and both ranges read before control (each connection)" \
  awk '/connected/ { f = r = p = 0 } /read 2acc/ { f = 1 } /read 2ad6/ { r = 1 }
       /read 2ad8/ { p = 1 } / write / && !(f && r && p) { bad = 1 } END { exit bad }' "$R/bike.log"
check "control point indications on before any write (each connection)" \
  awk '/connected/ { on = 0 } /notify-on 2ad9/ { on = 1 } / write / && !on { bad = 1 }
       END { exit bad }' "$R/bike.log"
check "no write refused for indications off" sh -c "! grep -q refused-write '$R/bike.log'"
check "every control point request indicated and confirmed" \
  test "$(count_in_log bike.log ' control ')" = "$(count_in_log bike.log 'confirmed 2ad9')"
check "status notifications on (0x2ADA)" in_log bike.log "notify-on 2ada"
check "Indoor Bike Data subscribed (0x2AD2)" in_log bike.log "notify-on 2ad2"
check "writes come from hci0 ($hci0)" in_log bike.log "from $hci0"
mtu_line=$(grep -m1 '0x2AD2 notifications on fd' "$R/warmupd-ftms.log")
wu_mtu=$(echo "$mtu_line" | sed -n 's/.*(MTU \([0-9]*\)).*/\1/p')
write_mtu=$(sed -n 's/.* write .* mtu \([0-9]*\)$/\1/p' "$R/bike.log" | head -n 1)
diag "warmupd: ${mtu_line#*DEBUG: }; the bike's side of the link: ATT MTU $write_mtu"
check "Indoor Bike Data through AcquireNotify (an fd, not PropertiesChanged)" test -n "$mtu_line"
check "AcquireNotify's MTU ($wu_mtu) is the one negotiated on the link ($write_mtu)" \
  test -n "$wu_mtu" -a "$wu_mtu" = "$write_mtu"
check "the negotiated MTU is above the default 23" test "${wu_mtu:-0}" -gt 23
# the fd warmupd holds now (the latest AcquireNotify of 0x2AD2): a socket, non-blocking
notify_fd=$(sed -n 's/.*0x2AD2 notifications on fd \([0-9]*\) .*/\1/p' "$R/warmupd-ftms.log" | tail -n 1)
fd_flags=$(sed -n 's/^flags:\s*//p' "/proc/$warmupd_pid/fdinfo/$notify_fd" 2>/dev/null)
diag "fd $notify_fd: $(readlink "/proc/$warmupd_pid/fd/$notify_fd" 2>/dev/null), flags $fd_flags"
check "the notification fd is a socket from bluetoothd" \
  sh -c "readlink /proc/$warmupd_pid/fd/$notify_fd | grep -q '^socket:'"
check "the notification fd is non-blocking (O_NONBLOCK in fdinfo)" \
  test -n "$fd_flags" -a $(( 0$fd_flags & 04000 )) -ne 0

expect 60 "the warm-up completes" state_is complete
check "Warmup1.Pauses: the one pause of the link loss" [ "$(wprop Pauses)" = "uint32 1" -o "$(wprop Pauses)" = "1" ]
expect 20 "released: the bike received Reset (Success)" in_log bike.log "control 01 result 01"
expect 10 "ResistanceCap -1 once released" cap_is -1

# --- bluetoothd restarts -------------------------------------------------------------------------
kill -TERM "$bluetoothd_pid"; wait "$bluetoothd_pid"
expect 20 "bluetoothd gone: Sensor1.Error says so" sensor_error_is "$bike" "bluetoothd not running"
check "bluetoothd gone: Sensor1.Connected false" sensor_disconnected "$bike"
start_bluetoothd || bail "bluetoothd did not come back"
expect 60 "bluetoothd back: the bike re-registered and advertises" \
  more_in_log bike.log "advertising" 1
expect 90 "bluetoothd back: warmupd reconnected the bike" sensor_connected "$bike" || {
  # evidence for a hang: where each of warmupd's threads waits
  for t in /proc/"$warmupd_pid"/task/*; do
    diag "warmupd thread $(cat "$t/comm"): wchan $(cat "$t/wchan" 2>/dev/null) $(tr '\n' ' ' < "$t/stack" 2>/dev/null | cut -c1-200)"
  done
  diag "warmupd log since the restart: $(awk '/not running -> running/ { n++ } n >= 2' "$R/warmupd-ftms.log" | tr '\n' '|' | cut -c1-600)"
}
expect 30 "bluetoothd back: live cadence again" sensor_cadence_near "$bike" 70 1
check "bluetoothd back: its first connection held" \
  awk '/bluetoothd not running -> running/ { n++ } n == 2 && /link up/ { exit 0 }
       n == 2 && /: disconnected|link lost|no longer resolved/ { exit 1 }' "$R/warmupd-ftms.log"
check "bluetoothd back: Sensor1.Error cleared" sensor_error_is "$bike" ""
check "warmupd still running" pid_alive "$warmupd_pid"
stop_warmupd; status=$?
check "warmupd exits 0 on SIGTERM (status $status)" test "$status" = 0
check "no critical or warning from warmupd" \
  sh -c "! grep -E 'CRITICAL|WARNING|fatal' '$R/warmupd-ftms.log'"
kill -TERM "$bike_pid"; wait "$bike_pid"

# ================================================================================================
# 2. A cadence sensor (CSC) on hci2: cadence only, advisory warm-up
# ================================================================================================
# the bike is forgotten so warmupd does not look for it
gdbus call --system --dest org.bluez --object-path /org/bluez/hci0 \
  --method org.bluez.Adapter1.RemoveDevice "$(dev_path "$hci1")" >/dev/null 2>&1
/usr/bin/python3 "$peripheral" --kind csc --adapter hci2 --log "$R/csc.log" \
  --cadence 75 --rate 2 > "$R/csc.out" 2>&1 &
csc_pid=$!
wait_for 30 in_log csc.log advertising || bail "the CSC peripheral is not advertising on hci2"
cat > "$R/warmupd-csc.conf" <<EOF
[Warmup]
Duration=6
StartAfter=1
PauseAfter=3
StaleAfter=3
[Resistance]
Cap=8
[Bike]
Adapter=hci0
[Sensors]
Addresses=$hci2
EOF
start_warmupd "$R/warmupd-csc.conf" warmupd-csc.log
expect 60 "CSC: warmupd found the sensor" has_sensor csc
csc=$(sensor_named csc)
expect 60 "CSC: Sensor1 $csc Connected" sensor_connected "$csc"
expect 30 "CSC: cadence from crank revolutions: 75 rpm" sensor_cadence_near "$csc" 75 1
expect 30 "CSC: the warm-up starts" state_is warming-up
check "CSC: Warmup1.Control is advisory" [ "$(wprop Control)" = "'advisory'" ]
check "CSC: Sensor1.Power -1 (not reported)" num_near "$(sprop "$csc" Power)" -1 0
expect 30 "CSC: the warm-up completes" state_is complete
check "CSC: nothing written to the sensor" sh -c "! grep -q ' write ' '$R/csc.log'"
stop_warmupd; status=$?
check "CSC: warmupd exits 0 on SIGTERM (status $status)" test "$status" = 0
kill -TERM "$csc_pid"; wait "$csc_pid"

kill -TERM "$bluetoothd_pid" "$btvirt_pid" 2>/dev/null
echo "1..$n" >> "$R/tap"
[ "$failed" = 0 ] || dump_logs
say "done: $n checks, $failed failed"
[ "$failed" = 0 ]
