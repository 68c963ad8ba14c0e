#!/bin/bash
# The systemd unit, checked as CI checks it (TAP):
#  - the built unit has every @var@ substituted and starts $(sbindir)/warmupd;
#  - `systemd-analyze verify` prints nothing at all (it only warns about unknown keys, so
#    any output is a failure), and a deliberately broken copy is caught the same way;
#  - `systemd-analyze security --offline=yes` scores an overall exposure of 1.5 or lower
#    (the score and every exposure left open are printed as TAP comments);
#  - the sysusers.d file creates user warmupd in groups bluetooth and gpio (in a scratch
#    root: the machine's own users are never touched);
#  - [Install] is the only way in: WantedBy= multi-user.target (boot) and bluetooth.target (an
#    adapter appearing; the udev rules start nothing, see test-udev.sh);
#  - the unit's GLIBC_TUNABLES names tunables the binary's glibc knows, with their values
#    taken (glibc silently ignores a name it does not know), and a misspelt one is caught.
# Skips when systemd-analyze is missing; check 6 when systemd-sysusers is, check 8 when the
# binary's loader cannot list tunables.
set -uo pipefail

builddir=${WARMUPD_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
srcdir=${WARMUPD_SRCDIR:-$builddir}
sbindir=${WARMUPD_SBINDIR:-}
analyze=${SYSTEMD_ANALYZE:-}
[ -n "$analyze" ] || analyze=$(command -v systemd-analyze || true)
max_exposure=1.5

if [ -z "$analyze" ] || [ ! -x "$analyze" ]; then
  echo "1..0 # SKIP systemd-analyze not found (Debian: systemd)"
  exit 0
fi

unit=$builddir/systemd/warmupd.service
binary=$builddir/src/warmupd
tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmupd-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
not_ok () { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
comment () { sed 's/^/# /'; }

echo "1..8"

# 1. the built unit ----------------------------------------------------------------------
if [ ! -f "$unit" ]; then
  not_ok "built unit $unit exists (make builds it; run make check)"
elif grep -q '@[A-Za-z_]*@' "$unit"; then
  grep -n '@[A-Za-z_]*@' "$unit" | comment
  not_ok "every @variable@ of the unit is substituted"
elif [ -n "$sbindir" ] && ! grep -qx "ExecStart=$sbindir/warmupd" "$unit"; then
  grep -n '^ExecStart=' "$unit" | comment
  not_ok "ExecStart is $sbindir/warmupd"
else
  ok "built unit substituted, ExecStart=${sbindir:-?}/warmupd"
fi

# verify wants ExecStart's binary to exist: a copy of the unit points at the built one. The
# man pages of Documentation= are looked up in the source tree's man/ (when they exist).
mkdir -p "$tmp/verify" "$tmp/man"
sed "s|^ExecStart=[^ ]*/warmupd|ExecStart=$binary|" "$unit" >"$tmp/verify/warmupd.service" 2>/dev/null
man_args=(--man=no)
if ls "$srcdir"/man/*.[158] >/dev/null 2>&1 && command -v man >/dev/null; then
  for page in "$srcdir"/man/*.[158]; do
    section=${page##*.}
    mkdir -p "$tmp/man/man$section"
    cp "$page" "$tmp/man/man$section/"
  done
  man_args=(--man=yes)
  echo "# Documentation= man pages looked up in $srcdir/man"
else
  echo "# no man pages in $srcdir/man (or no man): Documentation= not checked"
fi

run_verify () { # unit file -> output of verify (stdout+stderr), status in $verify_status
  verify_out=$(cd "$tmp" && MANPATH="$tmp/man" SYSTEMD_LOG_COLOR=0 \
                 "$analyze" verify "${man_args[@]}" "$1" 2>&1)
  verify_status=$?
}

# 2. verify prints nothing ---------------------------------------------------------------
if [ ! -x "$binary" ]; then
  not_ok "systemd-analyze verify: built binary $binary missing"
else
  run_verify "$tmp/verify/warmupd.service"
  if [ "$verify_status" -eq 0 ] && [ -z "$verify_out" ]; then
    ok "systemd-analyze verify: no output"
  else
    printf '%s\n' "$verify_out" | comment
    not_ok "systemd-analyze verify: no output (status $verify_status)"
  fi
fi

# 3. ...and a broken unit is caught (the check above really checks) ---------------------
mkdir -p "$tmp/broken"
sed -e 's/^ProtectSystem=strict$/ProtectSytem=strict/' -e "s|^ExecStart=[^ ]*/warmupd|ExecStart=$binary|" \
  "$unit" >"$tmp/broken/warmupd.service" 2>/dev/null
run_verify "$tmp/broken/warmupd.service"
if [ -n "$verify_out" ]; then
  ok "systemd-analyze verify reports a misspelt key"
else
  not_ok "systemd-analyze verify reports a misspelt key (it printed nothing)"
fi

# 4. security score ----------------------------------------------------------------------
security_out=$(cd "$tmp" && SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0 \
                 "$analyze" security --offline=yes --no-pager "$tmp/verify/warmupd.service" 2>&1)
score=$(printf '%s\n' "$security_out" |
          sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\).*/\1/p' | head -n 1)
if [ -z "$score" ]; then
  printf '%s\n' "$security_out" | comment
  not_ok "systemd-analyze security: no overall exposure level found"
else
  echo "# overall exposure level: $score (at most $max_exposure allowed)"
  echo "# exposures left open:"
  printf '%s\n' "$security_out" | grep '✗' | sed 's/  */ /g; s/^/#   /'
  if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
    ok "systemd-analyze security: exposure $score <= $max_exposure"
  else
    not_ok "systemd-analyze security: exposure $score <= $max_exposure"
  fi
fi

# 5. hardening that must not silently disappear -----------------------------------------
missing=""
for line in 'Type=notify' 'NotifyAccess=main' 'BusName=io.github.warmupd' 'User=warmupd' \
            'CapabilityBoundingSet=' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
            'PrivateNetwork=yes' 'RestrictAddressFamilies=AF_UNIX' 'DevicePolicy=closed' \
            'DeviceAllow=char-gpiochip rw' 'WatchdogSec=30s' 'Restart=on-failure'; do
  grep -qxF "$line" "$unit" 2>/dev/null || missing="$missing [$line]"
done
if [ -z "$missing" ]; then
  ok "unit keeps its service type, identity and key hardening lines"
else
  not_ok "unit lines missing:$missing"
fi

# 6. sysusers.d --------------------------------------------------------------------------
sysusers=$(command -v systemd-sysusers || true)
conf=$srcdir/systemd/sysusers.d/warmupd.conf
if [ -z "$sysusers" ]; then
  ok "# SKIP systemd-sysusers not found"
else
  mkdir -p "$tmp/root/etc"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/root/etc/passwd"
  printf 'root:x:0:\n' >"$tmp/root/etc/group"
  : >"$tmp/root/etc/shadow"; : >"$tmp/root/etc/gshadow"
  out=$("$sysusers" --root="$tmp/root" "$conf" 2>&1)
  status=$?
  if [ "$status" -eq 0 ] && grep -q '^warmupd:x:[0-9]*:[0-9]*:' "$tmp/root/etc/passwd" &&
     grep -q '^bluetooth:x:[0-9]*:\(.*,\)\?warmupd\(,.*\)\?$' "$tmp/root/etc/group" &&
     grep -q '^gpio:x:[0-9]*:\(.*,\)\?warmupd\(,.*\)\?$' "$tmp/root/etc/group" &&
     grep -q '^warmupd:x:[0-9]*:' "$tmp/root/etc/group"; then
    ok "sysusers.d creates user warmupd in groups bluetooth and gpio"
  else
    printf '%s\n' "$out" | comment
    comment <"$tmp/root/etc/passwd"; comment <"$tmp/root/etc/group"
    not_ok "sysusers.d creates user warmupd in groups bluetooth and gpio"
  fi
fi

# 7. [Install] ------------------------------------------------------------------------------
# every WantedBy= of [Install] (one or several lines, one or several targets a line)
wanted_by=$(awk '/^\[/ { install = ($0 == "[Install]"); next }
                 install && /^WantedBy=/ { sub(/^WantedBy=/, ""); print }' "$unit" 2>/dev/null |
              tr ' ' '\n' | grep -v '^$' | sort -u | tr '\n' ' ')
missing=""
for target in multi-user.target bluetooth.target; do
  case " $wanted_by" in *" $target "*) ;; *) missing="$missing $target" ;; esac
done
if [ -z "$missing" ]; then
  ok "[Install] WantedBy= multi-user.target and bluetooth.target"
else
  echo "# WantedBy= in [Install]: ${wanted_by:-(none)}"
  not_ok "[Install] WantedBy= lacks:$missing"
fi

# 8. glibc tunables ----------------------------------------------------------------------
# The dynamic loader lists the tunables as it parsed them from GLIBC_TUNABLES (glibc 2.33+),
# "NAME: VALUE (min: ..., max: ...)", VALUE in hex or decimal by the tunable's type: each
# NAME=VALUE of the unit must show with that value. (This is the build machine's loader, the
# one the binary names; glibc ignores a name it does not know, so a typo would go unnoticed.)
tunables_not_taken () { # GLIBC_TUNABLES value -> the NAME=VALUE pairs the loader did not take
  local listed pair name value shown not_taken=""
  listed=$(GLIBC_TUNABLES=$1 "$interp" --list-tunables 2>/dev/null)
  IFS=: read -ra pairs <<<"$1"
  for pair in "${pairs[@]}"; do
    name=${pair%%=*} value=${pair#*=}
    shown=$(printf '%s\n' "$listed" | awk -F': ' -v n="$name" '$1 == n { split($2, v, " "); print v[1] }')
    # both must be integers (hex or decimal) and equal
    if ! [[ $value =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ && $shown =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] ||
       (( value != shown )); then
      not_taken="$not_taken [$pair: listed '${shown:-nothing}']"
    fi
  done
  echo "$not_taken"
}
tunables=$(sed -n 's/^Environment=GLIBC_TUNABLES=//p' "$unit" 2>/dev/null | tail -n 1)
interp=$(readelf -l "$binary" 2>/dev/null |
           sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p')
misspelt=${tunables/glibc./glibc.x}
if [ -z "$tunables" ]; then
  not_ok "unit sets Environment=GLIBC_TUNABLES= (glibc's cache bound, bench/README.md)"
elif [ -z "$interp" ] || ! "$interp" --list-tunables >/dev/null 2>&1; then
  ok "# SKIP no dynamic loader with --list-tunables for $binary (readelf, glibc >= 2.33)"
else
  not_taken=$(tunables_not_taken "$tunables")
  if [ -n "$not_taken" ]; then
    not_ok "GLIBC_TUNABLES=$tunables: not taken by $interp:$not_taken"
  elif [ -z "$(tunables_not_taken "$misspelt")" ]; then
    not_ok "a misspelt GLIBC_TUNABLES ($misspelt) is caught"
  else
    ok "GLIBC_TUNABLES=$tunables taken by $interp (a misspelt copy is not)"
  fi
fi

exit "$failed"
