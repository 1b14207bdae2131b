#!/bin/bash
# Email throughput (issue 5), two benchmarks, release build:
#
# - inbound: mails per second through the gateway's SMTP listener into XMPP (real gateway,
#   Prosody, slixmpp users registered with the mail transport; a pipelining SMTP load
#   generator with K connections), with the same generator against a null SMTP sink and
#   against aiosmtpd as references (tests/bench_email.rs);
# - digests: digest mails composed and handed to the relay per second for 1000 verified
#   subscribers of one busy MUC room, all due at the same minute (daily_at)
#   (tests/bench_digest.rs).
#
# Results are printed and written to bench/results/email-<UTC>.txt (inbound) and
# bench/results/email-digest-<UTC>.txt. See BENCHMARKS.md, "Email throughput (issue 5)".
#
#   bench/email.sh                 both (inbound, then digests)
#   bench/email.sh inbound         only the inbound benchmark
#   bench/email.sh digests         only the digest benchmark
#
# Inbound knobs: EMAIL_BENCH_N (2000) mails per phase, EMAIL_BENCH_CONNS ("1 4") SMTP
# connections K (one phase each), EMAIL_BENCH_USERS (1) XMPP users the mails go to in turn,
# EMAIL_BENCH_ROUNDS (1; medians over rounds).
# Digest knobs: EMAIL_BENCH_SUBS (1000) subscriptions, EMAIL_BENCH_MESSAGES (50) messages
# said in the room, EMAIL_BENCH_PARALLEL ("8"; e.g. "8 32": one round per value of
# email.digest.send_parallel, the gateway restarted in between), EMAIL_BENCH_DIGEST_LEAD
# (150) seconds from the start to the digests' daily_at slot (the next whole minute after
# it; the setup must finish before it), EMAIL_BENCH_RELAY (sink: a null SMTP server in the
# test; aiosmtpd: the Python capture of the email tests).
# Both: EMAIL_BENCH_TIMEOUT (600) seconds per test; RUST_LOG is the gateway's log filter
# (default info).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v prosody >/dev/null || ! /usr/bin/python3 -c 'import slixmpp, aiosmtpd' 2>/dev/null; then
  scripts/install-deps.sh
fi

export RUST_LOG="${RUST_LOG:-info}"
which="${1:-all}"
case "$which" in
  inbound) tests=(bench_email) ;;
  digests) tests=(bench_digest) ;;
  all) tests=(bench_email bench_digest) ;;
  *) echo "usage: $0 [inbound|digests]" >&2; exit 2 ;;
esac

cargo test --release "${tests[@]/#/--test=}" --no-run
status=0
for t in "${tests[@]}"; do
  cargo test --release --quiet --test "$t" -- --ignored --nocapture --test-threads 1 || status=$?
done
exit "$status"
