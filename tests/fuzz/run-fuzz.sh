#!/bin/bash
# Build and run the libFuzzer targets (called by `make fuzz`).
#
#   run-fuzz.sh SRCDIR OUTDIR SECONDS TARGET...
#
# Environment: FUZZ_CC (clang), GIO_CFLAGS / GIO_LIBS (else from pkg-config).
#
# For each TARGET: builds OUTDIR/fuzz-TARGET from tests/fuzz/fuzz-TARGET.c and the pure
# sources with clang -fsanitize=fuzzer,address,undefined (every UBSan check fatal), replays
# every seed of tests/fuzz/corpus/TARGET (the regression inputs: any crash there fails at
# once), then fuzzes a copy of the corpus for SECONDS with tests/fuzz/TARGET.dict when there
# is one. Crashers, leaks, timeouts and OOMs land in OUTDIR/artifacts-TARGET/. Prints one
# table: executions, exec/s, coverage (libFuzzer's cov: edges and ft: features), corpus
# size, crashes. Exits 1 when any target crashed or did not build, 0 otherwise.
set -uo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 SRCDIR OUTDIR SECONDS TARGET..." >&2
  exit 2
fi
srcdir=$1 out=$2 seconds=$3
shift 3
cc=${FUZZ_CC:-clang}
gio_cflags=${GIO_CFLAGS:-$(pkg-config --cflags gio-2.0)}
gio_libs=${GIO_LIBS:-$(pkg-config --libs gio-2.0)}

if ! command -v "$cc" >/dev/null; then
  echo "make fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)"
  exit 1
fi

# Every pure source a target may need: the codecs, the trace parser and reader, the cadence estimator,
# the FTMS session, the configuration validation, the routine parser and the guide.
sources="ftms.c trace.c csc.c cps.c cadence.c ftms-session.c error.c controller.c
         config.c config-gpio.c config-ble.c config-sensors.c routine.c guide.c"

mkdir -p "$out/obj"
rows=()
failed=0
total_start=$(date +%s)
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
# shellcheck disable=SC2206 # the pkg-config flags are word lists
cflags=(-std=c11 -g -O1 -D_GNU_SOURCE -DG_LOG_DOMAIN=\"fuzz\" -I"$srcdir/include" -I"$srcdir/src"
        $gio_cflags)

# The sources once, instrumented for coverage (fuzzer-no-link), shared by every target.
echo "=== fuzz: build the sources (clang, ASan + UBSan, coverage)"
objs=()
for s in $sources; do
  o=$out/obj/${s%.c}.o
  "$cc" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$srcdir/src/$s" -o "$o" ||
    { echo "make fuzz: src/$s does not build"; exit 1; }
  objs+=("$o")
done

for t in "$@"; do
  echo "=== fuzz-$t: build"
  bin=$out/fuzz-$t
  # shellcheck disable=SC2086 # the pkg-config flags are word lists
  if ! "$cc" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer "$srcdir/tests/fuzz/fuzz-$t.c" \
       "${objs[@]}" $gio_libs -lm -o "$bin"; then
    echo "fuzz-$t: build failed"
    rows+=("$(printf '%-14s %s' "$t" "BUILD FAILED")")
    failed=1
    continue
  fi

  corpus=$out/corpus-$t artifacts=$out/artifacts-$t
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp "$srcdir/tests/fuzz/corpus/$t/"* "$corpus/"
  seeds=$(find "$srcdir/tests/fuzz/corpus/$t" -type f | wc -l)
  dict=()
  [ -f "$srcdir/tests/fuzz/$t.dict" ] && dict=(-dict="$srcdir/tests/fuzz/$t.dict")

  # 1. the seeds themselves, once each: the regression inputs of crashes already fixed
  echo "=== fuzz-$t: $seeds seeds (regression)"
  if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -runs=0 -artifact_prefix="$artifacts/seed-" \
       "$srcdir/tests/fuzz/corpus/$t" \
       >"$out/seeds-$t.log" 2>&1; then
    tail -n 40 "$out/seeds-$t.log"
    echo "fuzz-$t: a seed input crashes"
    rows+=("$(printf '%-14s %s' "$t" "SEED CRASH (see $out/seeds-$t.log)")")
    failed=1
    continue
  fi

  # 2. fuzzing
  echo "=== fuzz-$t: ${seconds} s"
  log=$out/fuzz-$t.log
  ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
    "$corpus" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 20
    [ "$crashes" -eq 0 ] && crashes="exit $status"
  fi
  echo "fuzz-$t: ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, crashes $crashes"
  rows+=("$(printf '%-14s %6s %12s %8s %6s %6s %6s %8s' "$t" "$seconds" "${execs:-?}" \
            "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
done

echo
echo "=== fuzz results ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -m), $("$cc" --version | head -n 1))"
printf '%-14s %6s %12s %8s %6s %6s %6s %8s\n' target secs executions exec/s cov ft corpus crashes
for r in "${rows[@]}"; do echo "$r"; done
echo "total: $(( $(date +%s) - total_start )) s"
[ "$failed" -eq 0 ] || echo "FUZZING FOUND A PROBLEM: inputs in $out/artifacts-*/"
exit "$failed"
