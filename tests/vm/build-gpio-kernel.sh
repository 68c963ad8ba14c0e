#!/bin/bash
# Build (once) a small x86_64 kernel with a simulated GPIO chip (gpio-sim) for
# tests/vm/test-real-gpio.sh: Debian 12's kernels do not enable gpio-sim, so this starts
# from Debian's linux-source-6.1, applies `make tinyconfig`, then turns on what the GPIO
# test and the VM helper need (see OPTIONS below), all built in: no modules.
#
# usage: tests/vm/build-gpio-kernel.sh [OUTDIR]
#   OUTDIR defaults to $VM_CACHE/gpio-kernel, VM_CACHE being tests/vm/lib.sh's cache
#   ($WARMUPD_BUILDDIR/tests/vm/cache; the build tree when WARMUPD_BUILDDIR is unset).
#   On success prints the path of the bzImage on stdout (the last line) and exits 0.
#   The image is cached: OUTDIR/bzImage is reused while OUTDIR/stamp matches (a hash of the
#   OPTIONS and DISABLE lists below and of the linux-source package version).
#   Exit 77 when linux-source-6.1 (or the tools to build it) is not installed, 1 on a
#   failed build or when a required option did not stick after olddefconfig.
# Environment: JOBS (default nproc), KERNEL_SOURCE (default /usr/src/linux-source-6.1.tar.xz),
#   GPIO_KERNEL_FORCE=1 to rebuild.
# Progress goes to stderr; the full build log is OUTDIR/build.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-${VM_CACHE:-${WARMUPD_BUILDDIR:-$top}/tests/vm/cache}/gpio-kernel}
src_tar=${KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
jobs=${JOBS:-$(nproc)}

say () { printf '# build-gpio-kernel: %s\n' "$*" >&2; }

# Everything is built in (=y). Grouped by why it is needed.
OPTIONS=(
  # the machine: 64-bit, two vCPUs (qemu runs one TCG thread per vCPU), precise sleeps.
  # Without ACPI there is no HPET and no PM timer: the TSC cannot be calibrated under TCG,
  # the clocksource is refined-jiffies and every sleep ends on a 4 ms tick.
  64BIT SMP X86_MPPARSE ACPI X86_PM_TIMER HPET_TIMER HIGH_RES_TIMERS PRINTK PRINTK_TIME
  # console on the serial port
  TTY SERIAL_8250 SERIAL_8250_CONSOLE UNIX98_PTYS
  # early userspace: lib.sh's busybox initramfs (an uncompressed cpio)
  BLK_DEV_INITRD BINFMT_ELF BINFMT_SCRIPT
  # filesystems the guest mounts
  PROC_FS PROC_SYSCTL SYSFS DEVTMPFS DEVTMPFS_MOUNT SHMEM TMPFS
  # the host root over 9p on virtio-pci
  PCI VIRTIO_MENU VIRTIO VIRTIO_PCI NET INET NETWORK_FILESYSTEMS NET_9P NET_9P_VIRTIO 9P_FS
  # what glibc, GLib, dbus-daemon and gdbus from the host root call
  MULTIUSER UNIX FUTEX EPOLL EVENTFD SIGNALFD TIMERFD POSIX_TIMERS FILE_LOCKING
  INOTIFY_USER ADVISE_SYSCALLS MEMBARRIER FHANDLE
  # the point of it all: GPIO character device (uAPI v1 for libgpiod 1.6, v2) and gpio-sim
  GPIOLIB GPIO_CDEV GPIO_CDEV_V1 CONFIGFS_FS GPIO_SIM
)
# Turned off again after olddefconfig: INET (for 9P_FS) and ACPI (for the HPET) bring these
# by default, and they only cost build time.
DISABLE=(IPV6 WIRELESS INET_DIAG ETHTOOL_NETLINK NET_IP_TUNNEL INET_TUNNEL
         ACPI_AC ACPI_BATTERY ACPI_BUTTON ACPI_FAN ACPI_THERMAL ACPI_PROCESSOR ACPI_VIDEO
         ACPI_TABLE_UPGRADE INPUT RD_GZIP RD_BZIP2 RD_LZMA RD_XZ RD_LZO RD_LZ4 RD_ZSTD)

if [ ! -r "$src_tar" ]; then
  say "SKIP: $src_tar missing (apt-get install linux-source-6.1 bc bison flex libelf-dev)"
  exit 77
fi
for tool in make gcc bc bison flex xz; do
  command -v "$tool" >/dev/null || { say "SKIP: $tool not installed"; exit 77; }
done

pkgver=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null || stat -c %s-%Y "$src_tar")
stamp=$(printf '%s\n' "$pkgver" "$(uname -m)" "${OPTIONS[@]}" -- "${DISABLE[@]}" \
        | sha256sum | cut -c1-16)

if [ "${GPIO_KERNEL_FORCE:-0}" != 1 ] && [ -s "$out/bzImage" ] && \
   [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  say "cached: $out/bzImage (linux-source $pkgver)"
  echo "$out/bzImage"
  exit 0
fi

mkdir -p "$out"
rm -f "$out/bzImage" "$out/stamp"
work=$(mktemp -d "$out/src.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$out/build.log
: > "$log"
start=$SECONDS

say "unpacking $src_tar ($pkgver)"
tar -C "$work" -xf "$src_tar"
ksrc=$(echo "$work"/linux-source-*)

kmake () { make -C "$ksrc" ARCH=x86_64 -j"$jobs" "$@" >>"$log" 2>&1; }

say "configuring: tinyconfig + ${#OPTIONS[@]} options"
kmake tinyconfig
args=()
for o in "${OPTIONS[@]}"; do args+=(--enable "$o"); done
"$ksrc/scripts/config" --file "$ksrc/.config" "${args[@]}" --disable MODULES
kmake olddefconfig
args=()
for o in "${DISABLE[@]}"; do args+=(--disable "$o"); done
"$ksrc/scripts/config" --file "$ksrc/.config" "${args[@]}"
kmake olddefconfig
# An option whose dependencies are not met is silently dropped by olddefconfig: check them.
missing=()
for o in "${OPTIONS[@]}"; do
  grep -qx "CONFIG_$o=y" "$ksrc/.config" || missing+=("$o")
done
if [ ${#missing[@]} -ne 0 ]; then
  say "FAILED: not enabled after olddefconfig: ${missing[*]}"
  exit 1
fi

say "building bzImage with $jobs jobs (log: $log)"
if ! kmake bzImage; then
  say "FAILED: kernel build; the end of $log:"
  tail -n 40 "$log" >&2
  exit 1
fi
cp "$ksrc/arch/x86/boot/bzImage" "$out/bzImage.tmp"
cp "$ksrc/.config" "$out/config"
mv "$out/bzImage.tmp" "$out/bzImage"
echo "$stamp" > "$out/stamp"
say "built $out/bzImage in $((SECONDS - start)) s ($(stat -c %s "$out/bzImage") bytes)"
echo "$out/bzImage"
