#!/bin/bash
# Coverage-guided fuzzing of every target (or the ones named) for a bounded time each, on a
# nightly toolchain with cargo-fuzz (installed when missing). CI and people use it:
#
#   scripts/fuzz.sh [seconds-per-target] [target…]        (default: 40 s, every target)
#
# Each target starts from its committed corpus (fuzz/corpus/<target>/ and the fixed crashes
# of fuzz/regressions/<target>/, read only) and writes
# what it finds to fuzz/corpus-new/<target>/ (not committed; `cargo fuzz cmin` it into the
# corpus when it is worth keeping). Limits: 2 GB RSS, 512 MB per allocation, 10 s per input;
# one process per target. A crash leaves its input in fuzz/artifacts/<target>/ and makes the
# script exit 1 after all targets ran. FUZZ_KEEP_GOING=1 goes on past crashes (libFuzzer's
# fork mode), to count executions and collect every crash of a long run. Each target's
# libFuzzer output is kept in fuzz/logs/<target>.log.
# Prints one line per target: executions, new inputs, result. FUZZ_REPORT_ONLY=1 (CI) prints
# what crashed, with each input in base64, and exits 0 all the same.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-40}
shift || true
all=(stanzas irc smtp mail sms_webhook config digest addresses)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: no nightly toolchain; fuzzing skipped"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo +stable install cargo-fuzz --locked
fi

cd fuzz
cargo +nightly fuzz build >/dev/null 2>build.log || { cat build.log; exit 1; }
rm -f build.log

flags=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10
       -print_final_stats=1)
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
  flags+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
else
  : # one process, in-process fuzzing (-jobs would send the output to fuzz-N.log)
fi

failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus-new/$t" "corpus/$t" "artifacts/$t"
  mkdir -p logs
  log=logs/$t.log
  start=$(date +%s)
  dirs=("corpus-new/$t" "corpus/$t")
  [ -d "regressions/$t" ] && dirs+=("regressions/$t")
  nice cargo +nightly fuzz run "$t" "${dirs[@]}" -- "${flags[@]}" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1)
  new=$(find "corpus-new/$t" -type f | wc -l)
  crashes=$(grep -c '^==[0-9]*== ERROR: libFuzzer\|^panicked at\|^thread .* panicked' "$log")
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    failed+=("$t")
    grep -m3 'panicked at\|ERROR: libFuzzer\|Test unit written' "$log" | sed 's/^/    /'
    [ "${FUZZ_VERBOSE:-0}" = 1 ] && tail -40 "$log"
  fi
  summary+=("$(printf '%-12s %5ss %10s executions %5s new inputs %3s crash reports  %s' \
    "$t" "$took" "${execs:-?}" "$new" "$crashes" "$result")")
done
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)"
  # Each input, so a run whose files are gone (CI) can still be reproduced: save it with
  # `base64 -d` under fuzz/regressions/<target>/ and fix what it finds.
  for t in "${failed[@]}"; do
    for f in artifacts/"$t"/*; do
      [ -f "$f" ] && printf 'fuzz: %s %s base64 %s\n' "$t" "$(basename "$f")" "$(head -c 4096 "$f" | base64 -w0)"
    done
  done
  if [ "${FUZZ_REPORT_ONLY:-0}" = 1 ]; then
    echo "fuzz: FUZZ_REPORT_ONLY=1: reported, not failed (the committed corpora and regressions gate, in cargo test)"
    exit 0
  fi
  exit 1
fi
