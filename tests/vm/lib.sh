# tests/vm/lib.sh: boot a Linux guest under qemu (TCG, no KVM) with the host's root shared
# read-only over 9p and one writable results folder, run a guest script in it, get its exit
# status and console back. Shared by every tests/vm/*.sh (real BlueZ, real GPIO). bash only.
#
# INTERFACE (stable; other tests rely on it)
#   . "$WARMUPD_SRCDIR/tests/vm/lib.sh"      # needs WARMUPD_SRCDIR / WARMUPD_BUILDDIR, or
#                                              # derives them from this file's location
#   vm_require_qemu        TAP "1..0 # SKIP" and exit 0 (automake's TAP driver counts an
#                          exit status 77 as an ERROR) when qemu-system-x86_64 or a static
#                          busybox is missing; the only reason a VM test skips (.ci/vm,
#                          which installs both, fails on any skip).
#   vm_init NAME           fresh work folder $VM_WORK = $builddir/tests/vm/work/NAME with
#                          $VM_RESULTS = $VM_WORK/results (the guest's writable folder).
#   vm_debian_kernel       Debian 12's own kernel: `apt-get download` of the linux-image-6.1
#                          package linux-image-amd64 depends on, unpacked once into
#                          $VM_CACHE/debian-<version> and indexed with `depmod -b`. Sets
#                          VM_KERNEL (vmlinuz), VM_MODROOT (the unpacked root: modules under
#                          lib/modules/$VM_KVER), VM_KVER, and VM_INITRD_MODULES (virtio/9p
#                          modules the initramfs loads). Returns 1 (with a message) on failure.
#   vm_run GUEST_SCRIPT    boots $VM_KERNEL and runs GUEST_SCRIPT (a host file, run with
#                          bash in the guest) as root after the chroot into the host root.
#                          Returns the script's exit status; 124 when the guest ran past
#                          $VM_TIMEOUT; 125 when the guest never reported a status (panic,
#                          missing 9p...). The console is saved in $VM_WORK/console.log.
#                          Safe to call from concurrent runs (flock on the cache); vm_init's
#                          work folder is not: one run of a given test per tree at a time.
#   vm_dump_console [N]    print the last N (default 200) console lines as TAP diagnostics
#                          ("# ..."); call it when a test fails.
#
#   Knobs for vm_run (set before calling; all optional except VM_KERNEL):
#     VM_KERNEL          bzImage/vmlinuz path. A custom kernel (e.g. the gpio-sim build) just
#                        sets this, leaves VM_MODROOT and VM_INITRD_MODULES empty, and has
#                        built in: 64BIT, BLK_DEV_INITRD, BINFMT_ELF, BINFMT_SCRIPT, PRINTK,
#                        TTY, SERIAL_8250, SERIAL_8250_CONSOLE, PCI, VIRTIO_PCI, NET, NET_9P,
#                        NET_9P_VIRTIO, 9P_FS, 9P_FS_POSIX_ACL (optional), DEVTMPFS, PROC_FS,
#                        SYSFS, TMPFS, UNIX, FUTEX, EPOLL, SIGNALFD, TIMERFD, EVENTFD, SHMEM,
#                        MULTIUSER (the initramfs is an uncompressed cpio, no RD_* needed).
#     VM_MODROOT         a root with lib/modules/$(uname -r) for modprobe in the guest:
#                        `modprobe -d "$VM_MODROOT" MODULE` (the path is the same in the guest).
#     VM_INITRD_MODULES  module names loaded (insmod, dependencies first) before mounting 9p.
#     VM_TIMEOUT         seconds before the guest is killed (default 300).
#     VM_MEM, VM_SMP     guest memory in MiB (default 1024) and CPUs (default 2: MTTCG).
#     VM_APPEND          extra kernel command line.
#
#   The guest sees:
#     /                  the host root, read-only (same paths: the build tree, /usr, /etc).
#     $VM_GUEST_RESULTS  = /run/vm: the results folder, writable, the same files as the
#                        host's $VM_RESULTS. GUEST_SCRIPT runs from there.
#     /run, /var/lib/bluetooth, /var/tmp, /dev/shm: empty tmpfs. /tmp is NOT replaced (the
#                        build tree may live there); TMPDIR=/run/tmp instead.
#     environment        PATH, HOME=/root, TMPDIR, VM_RESULTS=/run/vm, VM_MODROOT, VM_KVER,
#                        and every host variable named WARMUPD_* or VMT_* (for the test's
#                        own parameters).
#   Guest and host exchange files only through the results folder.

vm_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${WARMUPD_SRCDIR:=$(cd "$vm_lib_dir/../.." && pwd)}"
: "${WARMUPD_BUILDDIR:=$WARMUPD_SRCDIR}"
: "${VM_CACHE:=$WARMUPD_BUILDDIR/tests/vm/cache}"
VM_GUEST_RESULTS=/run/vm
VM_KERNEL=${VM_KERNEL:-}
VM_MODROOT=${VM_MODROOT:-}
VM_INITRD_MODULES=${VM_INITRD_MODULES:-}
VM_KVER=${VM_KVER:-}

vm_qemu=${VM_QEMU:-qemu-system-x86_64}

vm_busybox () {
  local b
  for b in /bin/busybox /usr/bin/busybox; do
    # a static busybox runs in an initramfs that has no libraries
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return 0; fi
  done
  return 1
}

vm_require_qemu () {
  if ! command -v "$vm_qemu" >/dev/null 2>&1; then
    echo "1..0 # SKIP $vm_qemu is not installed (package qemu-system-x86)"; exit 0
  fi
  if ! "$vm_qemu" -accel help 2>/dev/null | grep -qx tcg; then
    echo "1..0 # SKIP $vm_qemu has no TCG accelerator"; exit 0
  fi
  if ! vm_busybox >/dev/null; then
    echo "1..0 # SKIP no static busybox (package busybox-static)"; exit 0
  fi
}

vm_init () {
  VM_WORK=$WARMUPD_BUILDDIR/tests/vm/work/$1
  rm -rf "$VM_WORK"
  mkdir -p "$VM_WORK/results" "$VM_CACHE"
  VM_RESULTS=$VM_WORK/results
  chmod 0777 "$VM_RESULTS"
}

# --- Debian's kernel, downloaded and unpacked once --------------------------------------------
vm_debian_kernel () {
  local pkg deb dir
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-6\.1[^ ]*-amd64\)$/\1/p' | head -n 1)
  if [ -z "$pkg" ]; then
    echo "# vm: apt-cache knows no linux-image-6.1 (run apt-get update)" >&2; return 1
  fi
  VM_KVER=${pkg#linux-image-}
  dir=$VM_CACHE/debian-$VM_KVER
  # one download at a time per cache (two test runs may share a tree)
  exec {vm_lock}> "$VM_CACHE/.debian-kernel.lock"
  flock "$vm_lock"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir" "$VM_CACHE/dl"; mkdir -p "$VM_CACHE/dl"
    echo "# vm: downloading $pkg" >&2
    (cd "$VM_CACHE/dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) \
      || { echo "# vm: apt-get download $pkg failed" >&2; return 1; }
    deb=$(ls "$VM_CACHE"/dl/*.deb | head -n 1)
    dpkg-deb -x "$deb" "$dir" || return 1
    depmod -b "$dir" "$VM_KVER" || return 1
    rm -rf "$VM_CACHE/dl"
    touch "$dir/.done"
  fi
  exec {vm_lock}>&-
  VM_MODROOT=$dir
  VM_KERNEL=$dir/boot/vmlinuz-$VM_KVER
  VM_INITRD_MODULES="virtio_pci 9pnet_virtio 9p"
}

# vm_module_files MODROOT KVER NAMES...: the .ko files for NAMES, dependencies first
vm_module_files () {
  local root=$1 kver=$2; shift 2
  local m
  for m in "$@"; do
    modprobe -d "$root" -S "$kver" --show-depends "$m" 2>/dev/null \
      | sed -n 's/^insmod \([^ ]*\).*/\1/p'
  done | awk '!seen[$0]++'
}

# --- the initramfs: busybox, the modules, /init -----------------------------------------------
vm_make_initramfs () {
  local out=$1 tree=$VM_WORK/initramfs bb f n=0
  rm -rf "$tree"; mkdir -p "$tree/bin" "$tree/mod" "$tree/dev" "$tree/proc" "$tree/sys" \
    "$tree/newroot"
  bb=$(vm_busybox) || return 1
  cp "$bb" "$tree/bin/busybox"
  : > "$tree/mod/list"
  if [ -n "$VM_INITRD_MODULES" ]; then
    for f in $(vm_module_files "$VM_MODROOT" "$VM_KVER" $VM_INITRD_MODULES); do
      n=$((n + 1))
      case $f in
        *.xz) xz -dc "$f" > "$tree/mod/$n.ko" ;;
        *.zst) zstd -qdc "$f" > "$tree/mod/$n.ko" ;;
        *.gz) gzip -dc "$f" > "$tree/mod/$n.ko" ;;
        *) cp "$f" "$tree/mod/$n.ko" ;;
      esac
      echo "$n.ko" >> "$tree/mod/list"
    done
  fi
  cat > "$tree/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mod/list); do insmod /mod/$m || echo "vm-init: insmod $m failed"; done
fail () { echo "vm-init: $*"; echo "VM-GUEST-STATUS 125"; reboot -f; sleep 5; }
o=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o ro,$o,cache=loose hostroot /newroot || fail "cannot mount the host root"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm 2>/dev/null
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
for d in /var/lib/bluetooth /var/tmp; do
  [ -d /newroot$d ] && mount -t tmpfs -o mode=0755 tmpfs /newroot$d
done
mkdir -p /newroot/run/vm /newroot/run/tmp /newroot/run/lock
chmod 1777 /newroot/run/tmp
mount -t 9p -o $o results /newroot/run/vm || fail "cannot mount the results folder"
[ -d /sys/kernel/config ] && mount -t configfs configfs /newroot/sys/kernel/config 2>/dev/null
hostname vm
chroot /newroot /usr/bin/env -i $(cat /newroot/run/vm/.env) \
  /bin/bash /run/vm/guest.sh < /dev/console
status=$?
echo "VM-GUEST-STATUS $status"
sync
reboot -f
EOF
  chmod 0755 "$tree/init"
  (cd "$tree" && find . | cpio -o -H newc --quiet) > "$out"
}

# vm_run GUEST_SCRIPT: boot, run, return the script's status
vm_run () {
  local script=$1 initrd=$VM_WORK/initramfs.cpio status v
  [ -n "$VM_KERNEL" ] && [ -r "$VM_KERNEL" ] \
    || { echo "# vm: no kernel (VM_KERNEL='$VM_KERNEL')"; return 125; }
  vm_make_initramfs "$initrd" || { echo "# vm: cannot build the initramfs"; return 125; }
  cp "$script" "$VM_RESULTS/guest.sh"
  {
    echo "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "HOME=/root" "TMPDIR=/run/tmp" "VM_RESULTS=$VM_GUEST_RESULTS"
    echo "VM_MODROOT=$VM_MODROOT" "VM_KVER=$VM_KVER" "TERM=dumb" "LANG=C.UTF-8"
    for v in $(compgen -e); do
      case $v in WARMUPD_*|VMT_*) printf '%s=%s\n' "$v" "${!v}" ;; esac
    done
  } | tr '\n' ' ' > "$VM_RESULTS/.env"
  # shellcheck disable=SC2086
  timeout --kill-after=10 "${VM_TIMEOUT:-300}" "$vm_qemu" -accel tcg \
    -cpu max -m "${VM_MEM:-1024}" -smp "${VM_SMP:-2}" \
    -nographic -no-reboot -nodefaults -serial stdio -monitor none \
    -kernel "$VM_KERNEL" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init ${VM_APPEND:-}" \
    -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
    -fsdev local,id=results,path="$VM_RESULTS",security_model=none,multidevs=remap \
    -device virtio-9p-pci,fsdev=results,mount_tag=results \
    < /dev/null > "$VM_WORK/console.log" 2>&1
  status=$?
  [ "$status" = 124 ] || [ "$status" = 137 ] && { echo "# vm: the guest ran past ${VM_TIMEOUT:-300} s"; return 124; }
  status=$(sed -n 's/^VM-GUEST-STATUS \([0-9]*\).*/\1/p' "$VM_WORK/console.log" | tail -n 1)
  [ -n "$status" ] || return 125
  return "$status"
}

vm_dump_console () {
  echo "# --- guest console (last ${1:-200} lines of $VM_WORK/console.log) ---"
  tail -n "${1:-200}" "$VM_WORK/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/# /'
  echo "# --- end of guest console ---"
}
