#!/bin/sh
# The D-Bus policy (data/io.github.warmupd.conf), tested for real: a private dbus-daemon
# started with Debian's own default-deny system bus configuration, with only the listen
# address, the user, the pid file and the include directories changed, and the policy
# <include>d directly (a broken file inside an <includedir> is only logged; included
# directly it must make the bus fail to start). warmupd runs under it as user warmupd;
# clients call as root, as an unprivileged uid, and as an unprivileged uid in group warmupd.
#
# Needs root (users, setpriv); creates the system user and group "warmupd" if missing
# (as the package's sysusers.d file would) and removes the ones it created when it ends,
# however it ends (an existing user or group is left as it was). TAP output.

set -u

srcdir=${WARMUPD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${WARMUPD_BUILDDIR:-$srcdir}
warmupd=$builddir/src/warmupd
policy=$srcdir/data/io.github.warmupd.conf
system_conf=${WARMUPD_SYSTEM_CONF:-/usr/share/dbus-1/system.conf}

skip_all () { echo "1..0 # SKIP $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip_all "needs root (creates users, switches uid with setpriv)"
for tool in dbus-daemon setpriv gdbus; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool is not installed"
done
/usr/bin/python3 -c 'import gi; gi.require_version("Gio", "2.0")' 2>/dev/null \
  || skip_all "python3-gi is not installed"
[ -r "$system_conf" ] || skip_all "$system_conf is missing (package dbus)"
[ -x "$warmupd" ] || { echo "Bail out! $warmupd is not built"; exit 1; }
[ -r "$policy" ] || { echo "Bail out! $policy is missing"; exit 1; }

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
not_ok () { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
diag () { sed 's/^/# /' "$@"; }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check () {
  description=$1; shift
  if "$@"; then ok "$description"; else not_ok "$description"; fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmupd-policy.XXXXXX") || exit 1
chmod 755 "$tmp"     # the bus socket must be reachable by the other uids
# warmupd runs as users warmupd and nobody: a tree under a private (0700) directory is out of
# their reach, so they run copies of the binary and the routines from $tmp.
cp "$warmupd" "$tmp/warmupd" && cp -r "$srcdir/data/routines" "$tmp/routines" \
  && chmod -R a+rX "$tmp/warmupd" "$tmp/routines" \
  || { echo "Bail out! cannot copy $warmupd and the routines into $tmp"; exit 1; }
warmupd=$tmp/warmupd
bus_pid=
daemon_pid=
created_user=
created_group=

# Remove the user and group this run created, no others.
remove_created_users () {
  if [ -n "$created_user" ]; then
    gid=$(getent group warmupd | cut -d: -f3)
    userdel warmupd >/dev/null 2>&1 || echo "# could not remove the user warmupd created by this test"
    # userdel also deletes a group named like the user (USERGROUPS_ENAB): one that was there
    # before this run is put back with its gid
    if [ -z "$created_group" ] && [ -n "$gid" ] && ! getent group warmupd >/dev/null; then
      groupadd --system --gid "$gid" warmupd 2>/dev/null || echo "# could not restore the group warmupd"
    fi
  fi
  if [ -n "$created_group" ] && getent group warmupd >/dev/null; then
    groupdel warmupd >/dev/null 2>&1 || echo "# could not remove the group warmupd created by this test"
  fi
  created_user= created_group=
}

cleanup () {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
  rm -rf "$tmp"
  remove_created_users
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# --- users --------------------------------------------------------------------------------
if ! getent group warmupd >/dev/null; then
  if groupadd --system warmupd 2>/dev/null; then created_group=1
  elif ! getent group warmupd >/dev/null; then echo "Bail out! cannot create group warmupd"; exit 1
  fi
fi
if ! getent passwd warmupd >/dev/null; then
  if useradd --system --gid warmupd --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin warmupd 2>/dev/null; then created_user=1
  elif ! getent passwd warmupd >/dev/null; then echo "Bail out! cannot create user warmupd"; exit 1
  fi
fi
[ -n "$created_user$created_group" ] &&
  echo "# created for this test (removed at the end):${created_user:+ user warmupd}${created_group:+ group warmupd}"
warmupd_gid=$(getent group warmupd | cut -d: -f3)
nobody_uid=65534
nobody_gid=65534

as_nobody () { setpriv --reuid=$nobody_uid --regid=$nobody_gid --clear-groups -- "$@"; }
as_member () { setpriv --reuid=$nobody_uid --regid=$nobody_gid --groups="$warmupd_gid" -- "$@"; }

# --- the bus configuration: Debian's system.conf with four things changed --------------------
# make_conf POLICY_FILE OUTPUT
make_conf () {
  sed -e "s|<listen>[^<]*</listen>|<listen>unix:path=$tmp/system_bus_socket</listen>|" \
      -e "s|<user>[^<]*</user>|<user>root</user>|" \
      -e "s|<pidfile>[^<]*</pidfile>|<pidfile>$tmp/dbus.pid</pidfile>|" \
      -e "/<includedir>[^<]*<\/includedir>/d" \
      -e "s|</busconfig>|  <include>$1</include>\n</busconfig>|" \
      "$system_conf" > "$2"
}

# start_bus CONF: the bus address in $address and its pid in $bus_pid; status of dbus-daemon
start_bus () {
  rm -f "$tmp/bus.out"
  dbus-daemon --config-file="$1" --fork --print-address=3 --print-pid=4 \
    3>"$tmp/bus.address" 4>"$tmp/bus.pid" 2>"$tmp/bus.err"
  status=$?
  address=$(head -n 1 "$tmp/bus.address")
  bus_pid=$(head -n 1 "$tmp/bus.pid")
  return $status
}

make_conf "$policy" "$tmp/system.conf"

# Sanity of the edit: default-deny is still there and the policy is included directly.
check "the bus config is Debian's default-deny system config" \
  grep -q '<deny send_type="method_call"/>' "$tmp/system.conf"
check "the policy file is included directly, no system include directories left" \
  sh -c "grep -q '<include>$policy</include>' '$tmp/system.conf' \
         && ! grep -q '<includedir>' '$tmp/system.conf'"

# --- a broken policy must fail the bus start -------------------------------------------------
sed -e 's|</busconfig>||' "$policy" > "$tmp/broken.conf"
make_conf "$tmp/broken.conf" "$tmp/system-broken.conf"
if start_bus "$tmp/system-broken.conf"; then
  not_ok "a broken policy file (XML cut short) fails the bus start"
  kill "$bus_pid" 2>/dev/null; bus_pid=
else
  ok "a broken policy file (XML cut short) fails the bus start"
  diag "$tmp/bus.err"
  bus_pid=
fi
sed -e 's|<allow own="io.github.warmupd"/>|<allow own="io.github.warmupd" bogus="1"/>|' \
  "$policy" > "$tmp/broken2.conf"
make_conf "$tmp/broken2.conf" "$tmp/system-broken2.conf"
if start_bus "$tmp/system-broken2.conf"; then
  not_ok "a policy file with an unknown attribute fails the bus start"
  kill "$bus_pid" 2>/dev/null; bus_pid=
else
  ok "a policy file with an unknown attribute fails the bus start"
  diag "$tmp/bus.err"
  bus_pid=
fi

# --- the real policy ---------------------------------------------------------------------------
if ! start_bus "$tmp/system.conf"; then
  not_ok "the bus starts with the policy included"
  diag "$tmp/bus.err"
  echo "1..$n"
  exit 0
fi
ok "the bus starts with the policy included"
export DBUS_SYSTEM_BUS_ADDRESS="$address"
unset DBUS_SESSION_BUS_ADDRESS

dest="--system --dest io.github.warmupd --object-path /io/github/warmupd"
iface=io.github.warmupd.Warmup1

# call OUTPUT_FILE COMMAND...: run a gdbus call, its stdout+stderr in OUTPUT_FILE
call () {
  out=$1; shift
  "$@" >"$out" 2>&1
}
denied () { grep -q 'org.freedesktop.DBus.Error.AccessDenied' "$1"; }

# Before warmupd runs: no one but warmupd and root may own the name.
call "$tmp/own-nobody" as_nobody gdbus call --system --dest org.freedesktop.DBus \
  --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.RequestName \
  io.github.warmupd 4
if denied "$tmp/own-nobody"; then ok "nobody may not own io.github.warmupd (RequestName)"
else not_ok "nobody may not own io.github.warmupd (RequestName)"; diag "$tmp/own-nobody"; fi

call "$tmp/own-member" as_member gdbus call --system --dest org.freedesktop.DBus \
  --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.RequestName \
  io.github.warmupd 4
if denied "$tmp/own-member"; then ok "a member of group warmupd may not own the name either"
else not_ok "a member of group warmupd may not own the name either"; diag "$tmp/own-member"; fi

printf '# defaults\n' > "$tmp/warmupd.conf"
chmod 644 "$tmp/warmupd.conf"
# (setpriv itself in the background, not a shell function: $! must be warmupd's pid)
setpriv --reuid=$nobody_uid --regid=$nobody_gid --clear-groups -- \
  "$warmupd" --config "$tmp/warmupd.conf" >"$tmp/warmupd-nobody.log" 2>&1 &
intruder=$!
i=0
while kill -0 "$intruder" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$intruder" 2>/dev/null; then
  kill "$intruder"; wait "$intruder"
  not_ok "warmupd run as nobody cannot own the name and exits"
else
  wait "$intruder"; st=$?
  if [ $st -ne 0 ] && grep -q "could not own" "$tmp/warmupd-nobody.log"; then
    ok "warmupd run as nobody cannot own the name and exits (status $st)"
  else
    not_ok "warmupd run as nobody cannot own the name and exits (status $st)"
    diag "$tmp/warmupd-nobody.log"
  fi
fi

# warmupd as its own user owns the name (and keeps its history where systemd's
# StateDirectory= would put it).
mkdir -m 700 "$tmp/state-dir" && chown warmupd:warmupd "$tmp/state-dir"
WARMUPD_ROUTINES_DIR=$tmp/routines \
setpriv --reuid=warmupd --regid=warmupd --init-groups -- \
  "$warmupd" --config "$tmp/warmupd.conf" --state-dir "$tmp/state-dir" >"$tmp/warmupd.log" 2>&1 &
daemon_pid=$!
owner=
i=0
while [ $i -lt 300 ]; do
  owner=$(gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
            --method org.freedesktop.DBus.GetNameOwner io.github.warmupd 2>/dev/null)
  [ -n "$owner" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1; i=$((i + 1))
done
if [ -n "$owner" ]; then
  ok "warmupd running as user warmupd owns io.github.warmupd"
else
  not_ok "warmupd running as user warmupd owns io.github.warmupd"
  diag "$tmp/warmupd.log"
fi
owner_uid=$(gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetConnectionUnixUser io.github.warmupd 2>/dev/null \
  | sed -n 's/^(uint32 \([0-9]*\),)$/\1/p')
check "the owner's uid is warmupd's ($owner_uid)" \
  test "$owner_uid" = "$(id -u warmupd)"

# Everyone may read.
call "$tmp/get" as_nobody gdbus call $dest --method org.freedesktop.DBus.Properties.Get $iface State
if grep -q "'idle'" "$tmp/get"; then ok "nobody: Get State"
else not_ok "nobody: Get State"; diag "$tmp/get"; fi

call "$tmp/getall" as_nobody gdbus call $dest --method org.freedesktop.DBus.Properties.GetAll $iface
if grep -q "'Duration'" "$tmp/getall"; then ok "nobody: GetAll"
else not_ok "nobody: GetAll"; diag "$tmp/getall"; fi

call "$tmp/introspect" as_nobody gdbus introspect --system --dest io.github.warmupd \
  --object-path /io/github/warmupd
if grep -q "interface $iface" "$tmp/introspect"; then ok "nobody: introspection"
else not_ok "nobody: introspection"; diag "$tmp/introspect"; fi

call "$tmp/gmo" as_nobody gdbus call $dest \
  --method org.freedesktop.DBus.ObjectManager.GetManagedObjects
if grep -q "^(@a{oa{sa{sv}}} {}\|^({" "$tmp/gmo" && ! denied "$tmp/gmo"; then
  ok "nobody: GetManagedObjects"
else not_ok "nobody: GetManagedObjects"; diag "$tmp/gmo"; fi

call "$tmp/ping" as_nobody gdbus call $dest --method org.freedesktop.DBus.Peer.Ping
if [ "$(cat "$tmp/ping")" = "()" ]; then ok "nobody: Ping"
else not_ok "nobody: Ping"; diag "$tmp/ping"; fi

# Control is for root and group warmupd.
call "$tmp/start-nobody" as_nobody gdbus call $dest --method $iface.Start
if denied "$tmp/start-nobody"; then ok "nobody: Start is AccessDenied"
else not_ok "nobody: Start is AccessDenied"; diag "$tmp/start-nobody"; fi

call "$tmp/stop-nobody" as_nobody gdbus call $dest --method $iface.Stop
if denied "$tmp/stop-nobody"; then ok "nobody: Stop is AccessDenied"
else not_ok "nobody: Stop is AccessDenied"; diag "$tmp/stop-nobody"; fi

call "$tmp/set-nobody" as_nobody gdbus call $dest --method org.freedesktop.DBus.Properties.Set \
  $iface Duration '<60.0>'
if denied "$tmp/set-nobody"; then ok "nobody: Properties.Set is AccessDenied"
else not_ok "nobody: Properties.Set is AccessDenied"; diag "$tmp/set-nobody"; fi

call "$tmp/start-member" as_member gdbus call $dest --method $iface.Start
if [ "$(cat "$tmp/start-member")" = "()" ]; then ok "group warmupd member: Start succeeds"
else not_ok "group warmupd member: Start succeeds"; diag "$tmp/start-member"; fi

call "$tmp/start-member2" as_member gdbus call $dest --method $iface.Start
if grep -q 'io.github.warmupd.Error.AlreadyRunning' "$tmp/start-member2"; then
  ok "group warmupd member: a second Start gets io.github.warmupd.Error.AlreadyRunning"
else not_ok "group warmupd member: a second Start gets io.github.warmupd.Error.AlreadyRunning"
  diag "$tmp/start-member2"; fi

call "$tmp/state" as_nobody gdbus call $dest --method org.freedesktop.DBus.Properties.Get \
  $iface State
if grep -q "'warming-up'" "$tmp/state"; then ok "nobody: State reads warming-up"
else not_ok "nobody: State reads warming-up"; diag "$tmp/state"; fi

call "$tmp/stop-root" gdbus call $dest --method $iface.Stop
if [ "$(cat "$tmp/stop-root")" = "()" ]; then ok "root: Stop succeeds"
else not_ok "root: Stop succeeds"; diag "$tmp/stop-root"; fi

call "$tmp/start-root" gdbus call $dest --method $iface.Start
if [ "$(cat "$tmp/start-root")" = "()" ]; then ok "root: Start succeeds"
else not_ok "root: Start succeeds"; diag "$tmp/start-root"; fi

call "$tmp/stop-member" as_member gdbus call $dest --method $iface.Stop
if [ "$(cat "$tmp/stop-member")" = "()" ]; then ok "group warmupd member: Stop succeeds"
else not_ok "group warmupd member: Stop succeeds"; diag "$tmp/stop-member"; fi

# The guided session (Routine1): reading a routine is for everyone, steering the session
# (Begin, Next, NextFrom, Assess, Finish, Dismiss) for root and group warmupd.
riface=io.github.warmupd.Routine1
call "$tmp/getroutine-nobody" as_nobody gdbus call $dest --method $riface.GetRoutine \
  after-bike-warmup
if grep -q "'windshield-wipers'" "$tmp/getroutine-nobody"; then ok "nobody: GetRoutine"
else not_ok "nobody: GetRoutine"; diag "$tmp/getroutine-nobody"; fi

call "$tmp/begin-nobody" as_nobody gdbus call $dest --method $riface.Begin after-bike-warmup
if denied "$tmp/begin-nobody"; then ok "nobody: Begin is AccessDenied"
else not_ok "nobody: Begin is AccessDenied"; diag "$tmp/begin-nobody"; fi

call "$tmp/begin-member" as_member gdbus call $dest --method $riface.Begin after-bike-warmup
if [ "$(cat "$tmp/begin-member")" = "()" ]; then ok "group warmupd member: Begin succeeds"
else not_ok "group warmupd member: Begin succeeds"; diag "$tmp/begin-member"; diag "$tmp/warmupd.log"; fi

for method in Next Finish Dismiss; do
  call "$tmp/$method-nobody" as_nobody gdbus call $dest --method $riface.$method
  if denied "$tmp/$method-nobody"; then ok "nobody: $method is AccessDenied"
  else not_ok "nobody: $method is AccessDenied"; diag "$tmp/$method-nobody"; fi
done

call "$tmp/NextFrom-nobody" as_nobody gdbus call $dest --method $riface.NextFrom 0 1
if denied "$tmp/NextFrom-nobody"; then ok "nobody: NextFrom is AccessDenied"
else not_ok "nobody: NextFrom is AccessDenied"; diag "$tmp/NextFrom-nobody"; fi

# allowed through like Next: warmupd itself refuses a step the session is not at
call "$tmp/nextfrom-member" as_member gdbus call $dest --method $riface.NextFrom 5 1
if grep -q 'io.github.warmupd.Error.WrongState' "$tmp/nextfrom-member"; then
  ok "group warmupd member: NextFrom for another step gets io.github.warmupd.Error.WrongState"
else not_ok "group warmupd member: NextFrom for another step gets io.github.warmupd.Error.WrongState"
  diag "$tmp/nextfrom-member"; fi

call "$tmp/assess-member" as_member gdbus call $dest --method $riface.Assess better
if grep -q 'io.github.warmupd.Error.WrongState' "$tmp/assess-member"; then
  ok "group warmupd member: Assess mid-round gets io.github.warmupd.Error.WrongState"
else not_ok "group warmupd member: Assess mid-round gets io.github.warmupd.Error.WrongState"
  diag "$tmp/assess-member"; fi

call "$tmp/dismiss-member" as_member gdbus call $dest --method $riface.Dismiss
if grep -q 'io.github.warmupd.Error.WrongState' "$tmp/dismiss-member"; then
  ok "group warmupd member: Dismiss mid-session gets io.github.warmupd.Error.WrongState"
else not_ok "group warmupd member: Dismiss mid-session gets io.github.warmupd.Error.WrongState"
  diag "$tmp/dismiss-member"; fi

call "$tmp/finish-member" as_member gdbus call $dest --method $riface.Finish
if [ "$(cat "$tmp/finish-member")" = "()" ]; then ok "group warmupd member: Finish succeeds"
else not_ok "group warmupd member: Finish succeeds"; diag "$tmp/finish-member"; fi

# The session history is health data: the control group only.
call "$tmp/history-nobody" as_nobody gdbus call $dest --method $iface.GetHistory 0
if denied "$tmp/history-nobody"; then ok "nobody: GetHistory is AccessDenied"
else not_ok "nobody: GetHistory is AccessDenied"; diag "$tmp/history-nobody"; fi

call "$tmp/history-member" as_member gdbus call $dest --method $iface.GetHistory 0
if grep -q "'outcome': <'cancelled'>" "$tmp/history-member" && ! denied "$tmp/history-member"
then ok "group warmupd member: GetHistory lists the stopped warm-ups"
else not_ok "group warmupd member: GetHistory lists the stopped warm-ups"
  diag "$tmp/history-member"; diag "$tmp/warmupd.log"; fi

# Signals reach unprivileged listeners: a listener as nobody (python3-gi) subscribes to
# PropertiesChanged, makes a round trip to the bus (the bus handles a connection's messages in
# order, so once the reply is back the AddMatch is in) and prints READY; then root starts a
# warm-up (PropertiesChanged State -> warming-up). (gdbus monitor is no good here: it prints
# "The name ... is owned by" before it sends its AddMatch.)
cat > "$tmp/listen.py" <<'PYEOF'
import gi
gi.require_version("Gio", "2.0")
gi.require_version("GLib", "2.0")
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
loop = GLib.MainLoop()
def on_signal(conn, sender, path, iface, member, params):
    print("%s %s %s" % (path, member, params), flush=True)
    if "warming-up" in str(params):
        loop.quit()
bus.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                     "/io/github/warmupd", None, Gio.DBusSignalFlags.NONE, on_signal)
bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
              "GetId", None, None, Gio.DBusCallFlags.NONE, -1, None)
print("READY", flush=True)
GLib.timeout_add_seconds(60, loop.quit)   # a hang detector only: the shell waits 30 s
loop.run()
PYEOF
chmod 644 "$tmp/listen.py"
setpriv --reuid=$nobody_uid --regid=$nobody_gid --clear-groups -- \
  /usr/bin/python3 "$tmp/listen.py" >"$tmp/monitor" 2>&1 &
monitor=$!
wait_for_line () {   # wait_for_line PATTERN FILE PID: until PATTERN is in FILE, PID exits, or 30 s
  i=0
  while ! grep -q "$1" "$2" 2>/dev/null && kill -0 "$3" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1; i=$((i + 1))
  done
  grep -q "$1" "$2" 2>/dev/null
}
if wait_for_line '^READY$' "$tmp/monitor" "$monitor"; then
  gdbus call $dest --method $iface.Start >/dev/null 2>&1
  wait_for_line "warming-up" "$tmp/monitor" "$monitor"
fi
kill "$monitor" 2>/dev/null; wait "$monitor" 2>/dev/null
if grep -q "warming-up" "$tmp/monitor"; then ok "nobody receives PropertiesChanged signals"
else not_ok "nobody receives PropertiesChanged signals"; diag "$tmp/monitor"; fi

# SIGTERM: warmupd exits 0.
# (a hang detector: it may wait 3.5 s for a bike's release; 30 s, then SIGKILL)
kill -TERM "$daemon_pid"
i=0
while kill -0 "$daemon_pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$daemon_pid" 2>/dev/null; then
  kill -KILL "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null
  daemon_pid=
  not_ok "warmupd exits 0 on SIGTERM (still running 30 s later)"; diag "$tmp/warmupd.log"
else
  wait "$daemon_pid"; st=$?
  daemon_pid=
  if [ $st -eq 0 ]; then ok "warmupd exits 0 on SIGTERM"
  else not_ok "warmupd exits 0 on SIGTERM (status $st)"; diag "$tmp/warmupd.log"; fi
fi

echo "1..$n"
exit 0
