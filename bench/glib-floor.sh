#!/bin/bash
# What one GDBus emission costs on a newer GLib: builds GLib 2.84.4 (Debian trixie's
# sources, checked by sha256) into a cache and runs bench/emit-floor under callgrind against
# Debian 12's GLib 2.74 and against 2.84 (LD_LIBRARY_PATH: the same binary, ABI-compatible).
# Evidence for the CPU target of issue 7; not part of `make bench` (network, ~2 min build).
#
#   bash bench/glib-floor.sh [BUILDDIR]      (needs: curl, ninja-build, valgrind, dbus-x11
#                                              or dbus-daemon; meson 1.7 comes from trixie)
set -euo pipefail
builddir=$(cd "${1:-.}" && pwd)
cache=${GLIB_FLOOR_CACHE:-$builddir/bench/out/glib-2.84}
pool=http://deb.debian.org/debian/pool/main
glib_tar=glib2.0_2.84.4.orig.tar.xz
glib_sha=8a9ea10943c36fc117e253f80c91e477b673525ae45762942858aef57631bb90
meson_deb=meson_1.7.0-1_all.deb
meson_sha=e92d04e60e784336883d537755d09b7dcb856809fa318a0931df3898e84ded95
emit="$builddir/bench/emit-floor"

[ -x "$emit" ] || { echo "glib-floor: build bench/emit-floor first (make bench/emit-floor)" >&2; exit 1; }
for tool in curl ninja valgrind dbus-daemon; do
  command -v "$tool" >/dev/null || { echo "glib-floor: $tool is missing" >&2; exit 1; }
done

fetch() {  # fetch URL FILE SHA256
  if [ ! -f "$cache/$2" ]; then
    curl -fsS -o "$cache/$2.part" "$1"
    mv "$cache/$2.part" "$cache/$2"
  fi
  echo "$3  $cache/$2" | sha256sum -c --quiet -
}

lib="$cache/prefix/lib/x86_64-linux-gnu"
if [ ! -f "$lib/libgio-2.0.so.0" ]; then
  mkdir -p "$cache"
  fetch "$pool/g/glib2.0/$glib_tar" "$glib_tar" "$glib_sha"
  fetch "$pool/m/meson/$meson_deb" "$meson_deb" "$meson_sha"
  rm -rf "$cache/meson" "$cache/src" "$cache/build"
  dpkg-deb -x "$cache/$meson_deb" "$cache/meson"
  mkdir -p "$cache/src" && tar -xJf "$cache/$glib_tar" -C "$cache/src" --strip-components=1
  export PYTHONPATH="$cache/meson/usr/lib/python3/dist-packages"
  # as Debian builds it (glib_debug off), without what the measurement does not need
  /usr/bin/python3 "$cache/meson/usr/bin/meson" setup "$cache/build" "$cache/src" \
    --prefix="$cache/prefix" --libdir=lib/x86_64-linux-gnu --buildtype=release \
    -Dtests=false -Dintrospection=disabled -Ddocumentation=false -Dman-pages=disabled \
    -Dnls=disabled -Dlibmount=disabled -Dselinux=disabled -Dsysprof=disabled \
    -Dglib_debug=disabled --wrap-mode=nodownload >"$cache/build.log"
  nice ninja -C "$cache/build" -j2 >>"$cache/build.log"
  /usr/bin/python3 "$cache/meson/usr/bin/meson" install -C "$cache/build" >>"$cache/build.log"
fi

bus_dir=$(mktemp -d)
dbus-daemon --session --fork --print-address=3 --print-pid=4 \
  --address="unix:path=$bus_dir/bus" 3>"$bus_dir/address" 4>"$bus_dir/pid"
trap 'kill "$(cat "$bus_dir/pid")" 2>/dev/null; rm -rf "$bus_dir"' EXIT
export DBUS_SESSION_BUS_ADDRESS=$(cat "$bus_dir/address")

ir() {  # ir KIND COUNT [env...]: callgrind's instruction total of one emit-floor run
  env "${@:3}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$emit" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-36s %14s %14s\n' "instructions per emission (Ir)" "GLib 2.74" "GLib 2.84"
for kind in bare sensor; do
  old=$(( ($(ir $kind 2000 X=1) - $(ir $kind 1000 X=1)) / 1000 ))
  new=$(( ($(ir $kind 2000 LD_LIBRARY_PATH="$lib") - $(ir $kind 1000 LD_LIBRARY_PATH="$lib")) / 1000 ))
  label="bare signal (t)"
  [ "$kind" = sensor ] && label="Sensor1 PropertiesChanged, 4 values"
  printf '%-36s %14d %14d\n' "$label" "$old" "$new"
done
echo "libgio used with LD_LIBRARY_PATH: $(LD_LIBRARY_PATH="$lib" ldd "$emit" | awk '/libgio/ {print $3}')"
