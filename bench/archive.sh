#!/bin/bash
# The benchmark of issue 12 ("IRC that remembers"): ../shared/bench against biboumi with its
# archive on (its default), switchboard with its archive on (its default) and switchboard
# with `irc.history.enabled: false` (bench/switchboard-noarchive.yaml.in), one after the
# other with the same load, then the ratios. Extra arguments go to gwbench.py, e.g.
#   bench/archive.sh --scenarios x2i,i2x --repeat 3
# Results: bench/results/<UTC date>-{biboumi,switchboard,switchboard-noarchive}.jsonl.
# The in-process archive figures (MAM at 100k lines, bytes per line) are
# `cargo test --release --test bench_archive -- --ignored --nocapture --test-threads 1`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
HARNESS="$ROOT/../shared/bench"
[ -x "$HARNESS/run.sh" ] || { echo "archive.sh: no benchmark harness at $HARNESS" >&2; exit 2; }
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
timeout 3600 ./run.sh --gateway switchboard --gw-domain biboumi.localhost \
  --gateway-cmd "$ROOT/target/release/switchboard --config {config}" \
  --gateway-config-template conf/switchboard.yaml.in \
  --out "$OUT/$STAMP-switchboard.jsonl" "$@" > /dev/null
timeout 3600 ./run.sh --gateway switchboard --gw-domain biboumi.localhost \
  --gateway-cmd "$ROOT/target/release/switchboard --config {config}" \
  --gateway-config-template "$ROOT/bench/switchboard-noarchive.yaml.in" \
  --out "$OUT/$STAMP-switchboard-noarchive.jsonl" "$@" > /dev/null
echo "== biboumi (archive on) against switchboard (archive on)"
/usr/bin/python3 "$ROOT/bench/ratios.py" "$OUT/$STAMP-biboumi.jsonl" "$OUT/$STAMP-switchboard.jsonl"
echo "== switchboard without its archive (left) against with it (right)"
/usr/bin/python3 "$ROOT/bench/ratios.py" "$OUT/$STAMP-switchboard-noarchive.jsonl" "$OUT/$STAMP-switchboard.jsonl"
