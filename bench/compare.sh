#!/bin/bash
# Runs ../shared/bench (Prosody + InspIRCd on loopback) against biboumi and switchboard with
# the same load, one after the other, and prints the figures side by side with ratios.
#   bench/compare.sh [extra gwbench.py options]      e.g. --scenarios x2i --x2i-m 20000
# With COMPARE_NOARCHIVE=1, switchboard also runs with `irc.history.enabled: false`
# (bench/switchboard-noarchive.yaml.in, for the archive's own cost: BENCHMARKS.md, issue 12)
# and its figures are printed against the archived run's.
# Results go to bench/results/<UTC date>-{biboumi,switchboard[,switchboard-noarchive]}.jsonl. Needs biboumi,
# prosody and inspircd (Debian packages: scripts/install-deps.sh installs the last two;
# biboumi is installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
HARNESS="$ROOT/../shared/bench"
[ -x "$HARNESS/run.sh" ] || { echo "compare.sh: no benchmark harness at $HARNESS" >&2; exit 2; }
scripts/install-deps.sh
if ! command -v biboumi >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends biboumi >/dev/null
fi
cargo build --release --bin switchboard
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/bench/results"
mkdir -p "$OUT"
cd "$HARNESS"
timeout 3600 ./run.sh --out "$OUT/$STAMP-biboumi.jsonl" "$@" > /dev/null
ours() { # template, result name
  timeout 3600 ./run.sh --gateway switchboard --gw-domain biboumi.localhost \
    --gateway-cmd "$ROOT/target/release/switchboard --config {config}" \
    --gateway-config-template "$1" --out "$OUT/$STAMP-$2.jsonl" "${@:3}" > /dev/null
}
ours conf/switchboard.yaml.in switchboard "$@"
/usr/bin/python3 "$ROOT/bench/ratios.py" "$OUT/$STAMP-biboumi.jsonl" "$OUT/$STAMP-switchboard.jsonl"
if [ "${COMPARE_NOARCHIVE:-0}" = 1 ]; then
  ours "$ROOT/bench/switchboard-noarchive.yaml.in" switchboard-noarchive "$@"
  echo "== switchboard without its archive (left column) against with it (right column)"
  /usr/bin/python3 "$ROOT/bench/ratios.py" "$OUT/$STAMP-switchboard-noarchive.jsonl" "$OUT/$STAMP-switchboard.jsonl"
fi
