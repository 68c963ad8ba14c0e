#!/bin/bash
# warmupd against the real Bluetooth stack, in a virtual machine (issue 8, "Real BlueZ").
#
# Boots Debian 12's own kernel under qemu (TCG) with the host root shared read-only
# (tests/vm/lib.sh) and runs tests/vm/real-bluez-guest.sh in it: hci_vhci + btvirt (virtual
# LE controllers), a system dbus-daemon with Debian's system bus configuration plus
# data/io.github.warmupd.conf, the real bluetoothd, an FTMS bike and a CSC sensor written
# for the test (tests/vm/ftms-peripheral.py, GATT server + LE advertising on hci1 / hci2),
# and the built src/warmupd as user warmupd on hci0: discover, connect, cap, warm up,
# release; the link drops and comes back; bluetoothd restarts; then the CSC sensor
# (advisory warm-up). Assertions on warmupd's D-Bus (gdbus) and on what the bike received.
#
# Needs root (creates the system user warmupd if missing, as the package's sysusers.d file
# would; the guest sees the host's /etc/passwd read-only). Skips (TAP "1..0 # SKIP", exit 0)
# only when not run as root, or when qemu or a static busybox is missing. The guest's console and logs are printed when a check fails;
# everything stays in $builddir/tests/vm/work/real-bluez/. TAP output.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # the harness runs *.sh with $(SHELL)
set -u
srcdir=${WARMUPD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export WARMUPD_SRCDIR=$srcdir
export WARMUPD_BUILDDIR=${WARMUPD_BUILDDIR:-$srcdir}
. "$srcdir/tests/vm/lib.sh"

vm_require_qemu
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (creates the user warmupd)"; exit 0; }
for tool in btvirt /usr/libexec/bluetooth/bluetoothd gdbus setpriv dbus-daemon; do
  command -v "$tool" >/dev/null 2>&1 \
    || { echo "Bail out! $tool is missing (packages bluez, bluez-test-tools, libglib2.0-bin, dbus)"; exit 99; }
done
/usr/bin/python3 -c 'import dbus, gi.repository.GLib' 2>/dev/null \
  || { echo "Bail out! /usr/bin/python3 cannot import dbus and gi (python3-dbus, python3-gi)"; exit 99; }
[ -x "$WARMUPD_BUILDDIR/src/warmupd" ] || { echo "Bail out! src/warmupd is not built"; exit 99; }

# the service's user, as systemd/sysusers.d/warmupd.conf declares it
getent group warmupd >/dev/null || groupadd --system warmupd
getent group bluetooth >/dev/null || groupadd --system bluetooth
getent passwd warmupd >/dev/null || useradd --system --gid warmupd --groups bluetooth \
  --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin warmupd
getent passwd warmupd >/dev/null || { echo "Bail out! cannot create user warmupd"; exit 99; }

vm_init real-bluez
vm_debian_kernel || { echo "Bail out! cannot get Debian's kernel (see above)"; exit 99; }
VM_TIMEOUT=${VM_TIMEOUT:-420}
started=$(date +%s)
vm_run "$srcdir/tests/vm/real-bluez-guest.sh"
status=$?
echo "# guest ran for $(( $(date +%s) - started )) s (status $status), kernel $VM_KVER"

tap=$VM_RESULTS/tap
plan=$(grep -m1 '^1\.\.' "$tap" 2>/dev/null)
if [ -n "$plan" ]; then
  echo "$plan"
  grep -v '^1\.\.' "$tap"
else
  # the guest did not finish: what it checked so far, then a bail-out
  count=$(grep -c '^\(not \)\?ok ' "$tap" 2>/dev/null)
  echo "1..$(( ${count:-0} + 1 ))"
  grep -v '^Bail out!' "$tap" 2>/dev/null
  reason=$(grep -m1 '^Bail out!' "$tap" 2>/dev/null)
  echo "not ok $(( ${count:-0} + 1 )) - the guest finished every check (${reason:-status $status})"
  [ "$status" = 0 ] && status=1
fi
if [ "$status" != 0 ]; then
  vm_dump_console 400
  for f in "$VM_RESULTS"/*.log; do
    echo "# --- $f (last 40 lines)"; tail -n 40 "$f" | sed 's/^/# /'
  done
  exit 1
fi
exit 0
