#!/bin/bash
# Lint udev/60-warmupd.rules (TAP). The strongest linter available is used:
#  1. `udevadm verify` (systemd >= 254): $WARMUPD_UDEVADM_VERIFY, or the copy that
#     tools/fetch-udevadm unpacked into $builddir/build-aux/udevadm (.ci/extra-checks fetches
#     it from bookworm-backports; nothing is installed);
#  2. udevadm < 254: `udevadm test` in a private mount namespace (unshare -m) with the rules
#     bind-mounted over /etc/udev/rules.d; every message udev prints about our file fails;
#  3. neither: a syntax check of our own (known keys, operators allowed for each key).
# Whatever the linter, a deliberately broken copy of the rules must be rejected by it, and
# the rules must still do what they are for: gpiochips to group gpio, 0660; and nothing more:
# no TAG+="systemd"/SYSTEMD_WANTS, which would start warmupd on every coldplug (each boot)
# and each `udevadm trigger`, even after `systemctl disable warmupd`.
set -uo pipefail

builddir=${WARMUPD_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
srcdir=${WARMUPD_SRCDIR:-$builddir}
rules=$srcdir/udev/60-warmupd.rules
sysusers_conf=$srcdir/systemd/sysusers.d/warmupd.conf
tmp=$(mktemp -d "${TMPDIR:-/tmp}/warmupd-udev.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
not_ok () { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
comment () { sed 's/^/# /'; }

# A broken copy: an unknown key, a match operator on an assignment key, an unterminated value.
mkdir -p "$tmp/broken"
{
  cat "$rules"
  echo 'SUBSYSTEM=="gpio", KERNAL=="gpiochip*", GROUP="gpio"'
  echo 'SUBSYSTEM=="gpio", GROUP=="gpio"'
  echo 'SUBSYSTEM=="gpio", MODE="0660'
} >"$tmp/broken/60-warmupd.rules"

# Groups that sysusers.d creates with warmupd: udev resolves names when it loads the rules,
# so on a machine where warmupd is not installed yet "Unknown group 'gpio'" is expected.
our_groups=$(awk '$1 == "g" || $1 == "u" { print $2 } $1 == "m" { print $3 }' "$sysusers_conf" 2>/dev/null | sort -u)

# --- linters: each prints its complaints and returns non-zero when there are any ----------

lint_verify () { # udevadm >= 254
  # -N never: names are resolved at run time (the group gpio comes with the package).
  "$verify_udevadm" verify --resolve-names=never --no-summary "$1" 2>&1
}

lint_udevadm_test () { # udevadm < 254: load the rules for real, in a private mount namespace
  local file=$1 dir out
  dir=$tmp/rules.$RANDOM
  mkdir -p "$dir"
  cp "$file" "$dir/60-warmupd.rules"
  out=$(unshare -m sh -c '
          mount --make-rprivate / && mount --bind "$1" /etc/udev/rules.d &&
          exec "$2" test --action=add /sys/class/net/lo' sh "$dir" "$udevadm" 2>&1)
  if [ $? -ne 0 ] && ! printf '%s\n' "$out" | grep -q 'Reading rules file: /etc/udev/rules.d/60-warmupd.rules'; then
    printf '%s\n' "$out" | tail -n 5
    return 2
  fi
  printf '%s\n' "$out" | grep -q 'Reading rules file: /etc/udev/rules.d/60-warmupd.rules' ||
    { echo "udevadm test never read the rules"; return 2; }
  local complaints
  complaints=$(printf '%s\n' "$out" | grep '/etc/udev/rules.d/60-warmupd.rules:' |
                 grep -v -E "Unknown group '($(echo $our_groups | tr ' ' '|'))', ignoring")
  [ -z "$complaints" ] && return 0
  printf '%s\n' "$complaints"
  return 1
}

lint_syntax () { # no udevadm we can use: keys and operators, by hand
  awk '
    BEGIN {
      split("ACTION DEVPATH KERNEL KERNELS NAME SYMLINK SUBSYSTEM SUBSYSTEMS DRIVER DRIVERS " \
            "TAG TAGS TEST PROGRAM RESULT CONST", m); for (i in m) match_key[m[i]] = 1
      split("ENV ATTR ATTRS SYSCTL TEST IMPORT", a); for (i in a) arg_key[a[i]] = 1
      split("OWNER GROUP MODE LABEL GOTO RUN OPTIONS SECLABEL IMPORT NAME SYMLINK TAG ENV ATTR SYSCTL RUN",
            s); for (i in s) assign_key[s[i]] = 1
      bad = 0
    }
    function fail(msg) { printf "%s:%d %s\n", FILENAME, FNR, msg; bad = 1 }
    /^[ \t]*(#|$)/ { next }
    {
      line = $0
      while (line ~ /\\$/ && (getline nxt) > 0) { sub(/\\$/, "", line); line = line nxt }
      rest = line
      while (rest !~ /^[ \t,]*$/) {
        sub(/^[ \t,]+/, "", rest)
        if (!match(rest, /^[A-Z_]+(\{[^}]*\})?/)) { fail("cannot parse: " rest); break }
        keyfull = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
        key = keyfull; sub(/\{.*/, "", key)
        if (!match(rest, /^[ \t]*(==|!=|\+=|-=|:=|=)[ \t]*/)) { fail("no operator after " keyfull); break }
        op = substr(rest, 1, RLENGTH); gsub(/[ \t]/, "", op); rest = substr(rest, RLENGTH + 1)
        if (!match(rest, /^"[^"]*"/)) { fail("unterminated or unquoted value for " keyfull); break }
        rest = substr(rest, RLENGTH + 1)
        if (!(key in match_key) && !(key in arg_key) && !(key in assign_key)) { fail("Invalid key \x27" key "\x27"); continue }
        if ((key in arg_key) && keyfull !~ /\{.+\}/) fail(key " needs {attribute}")
        ismatch = (op == "==" || op == "!=")
        if (ismatch && !(key in match_key) && !(key in arg_key)) fail("Invalid operator for " key)
        if (!ismatch && !(key in assign_key)) fail("Invalid operator for " key)
      }
    }
    END { exit bad }' "$1"
}

# --- pick the linter -----------------------------------------------------------------------
verify_udevadm=${WARMUPD_UDEVADM_VERIFY:-}
if [ -z "$verify_udevadm" ] && [ -x "$builddir/build-aux/udevadm/udevadm-verify" ]; then
  verify_udevadm=$builddir/build-aux/udevadm/udevadm-verify
fi
if [ -z "$verify_udevadm" ]; then
  for candidate in "${UDEVADM:-}" "$(command -v udevadm || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if "$candidate" verify --help >/dev/null 2>&1; then verify_udevadm=$candidate; break; fi
  done
fi
udevadm=${UDEVADM:-}
[ -n "$udevadm" ] && [ -x "$udevadm" ] || udevadm=$(command -v udevadm || true)

# WARMUPD_UDEV_LINTER=syntax forces the last resort (to check the check itself).
linter=""
if [ "${WARMUPD_UDEV_LINTER:-}" = syntax ]; then
  :
elif [ -n "$verify_udevadm" ] && "$verify_udevadm" verify --help >/dev/null 2>&1; then
  linter=lint_verify
  linter_name="udevadm $("$verify_udevadm" --version) verify ($verify_udevadm)"
elif [ -n "$udevadm" ] && [ -e /sys/class/net/lo ] && unshare -m true 2>/dev/null; then
  lint_udevadm_test "$rules" >/dev/null 2>&1
  if [ $? -ne 2 ]; then # 2: udevadm test itself could not run here
    linter=lint_udevadm_test
    linter_name="udevadm $("$udevadm" --version) test in a private mount namespace"
  fi
fi
if [ -z "$linter" ]; then
  linter=lint_syntax
  linter_name="built-in syntax check (no usable udevadm)"
fi

echo "1..4"
echo "# linter: $linter_name"

out=$($linter "$rules" 2>&1); status=$?
if [ "$status" -eq 0 ]; then
  [ -n "$out" ] && printf '%s\n' "$out" | comment
  ok "60-warmupd.rules passes the lint"
else
  printf '%s\n' "$out" | comment
  not_ok "60-warmupd.rules passes the lint (status $status)"
fi

out=$($linter "$tmp/broken/60-warmupd.rules" 2>&1); status=$?
printf '%s\n' "$out" | comment
if [ "$status" -eq 1 ] || { [ "$status" -ne 0 ] && [ "$linter" = lint_verify ]; }; then
  ok "a deliberately broken copy is rejected"
else
  not_ok "a deliberately broken copy is rejected (status $status)"
fi

# What the rules must do (the linters check form, not intent).
flat=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$rules" | grep -v '^[[:space:]]*#')
want_gpio=$(printf '%s\n' "$flat" | grep 'SUBSYSTEM=="gpio"' | grep 'KERNEL=="gpiochip' |
              grep 'GROUP="gpio"' | grep -c 'MODE="0660"')
if [ "$want_gpio" -ge 1 ]; then
  ok "gpiochips go to group gpio, mode 0660"
else
  not_ok "a rule gives gpiochips to group gpio, mode 0660"
fi

# ...and what they must not: starting a unit from udev ignores `systemctl disable`. warmupd is
# started by its [Install] targets only (multi-user.target, bluetooth.target; test-unit.sh).
starts=$(printf '%s\n' "$flat" | grep -n -E 'SYSTEMD_(USER_)?WANTS|TAG\+?=+"systemd"|RUN\+?=')
if [ -z "$starts" ]; then
  ok "the rules start nothing (no SYSTEMD_WANTS, no TAG systemd, no RUN)"
else
  printf '%s\n' "$starts" | comment
  not_ok "the rules start nothing (no SYSTEMD_WANTS, no TAG systemd, no RUN)"
fi

exit "$failed"
