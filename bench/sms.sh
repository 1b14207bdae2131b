#!/bin/bash
# SMS throughput (issue 4): SMS per second from XMPP through the gateway to a real Kannel
# (durable SQLite outbox on) against Kannel's own sendsms rate from a plain HTTP client, in
# one run on one Kannel. The test is tests/bench_sms.rs; results are printed and written to
# bench/results/sms-<UTC timestamp>.txt. See BENCHMARKS.md, "SMS throughput (issue 4)".
#
#   bench/sms.sh                          N=2000 messages per phase, U=4 senders
#   SMS_BENCH_USERS="1 4 8" bench/sms.sh  one run per U
#   SMS_BENCH_N=5000 SMS_BENCH_ROUNDS=3 bench/sms.sh
#
# SMS_BENCH_DLR=0 runs without delivery reports (the gateway with `delivery_reports: false`,
# the direct client without dlr-mask); by default both ask for them, as the gateway does.
# SMS_BENCH_ROUNDS alternates direct/gateway phases that many times and reports medians;
# SMS_BENCH_TIMEOUT bounds each run (seconds, default 300). RUST_LOG is the gateway's log
# filter (default info).
#
# Diagnosis only: SMS_BENCH_DIRECT_PAUSE_US=1000 makes each direct client pause that long
# after every answer (as the gateway does between two provider calls of one user).
# SMS_BENCH_KANNEL_NODELAY=1 builds a small LD_PRELOAD library (needs gcc)
# that sets TCP_NODELAY on every TCP socket the Kannel boxes connect or accept (stock Kannel
# leaves Nagle on everywhere, and its smsbox-bearerbox link then stalls for the 40 ms of a
# delayed ACK whenever delivery reports are asked for). Figures from such runs are not
# figures of stock Kannel; the results file says so.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/sbin/smsbox ] || ! command -v prosody >/dev/null \
    || ! /usr/bin/python3 -c 'import slixmpp' 2>/dev/null; then
  scripts/install-deps.sh
fi

export SMS_BENCH_N="${SMS_BENCH_N:-2000}"
export RUST_LOG="${RUST_LOG:-info}"
users="${SMS_BENCH_USERS:-4}"

if [ "${SMS_BENCH_KANNEL_NODELAY:-0}" = 1 ]; then
  shim_dir=target/bench-sms
  mkdir -p "$shim_dir"
  cat > "$shim_dir/nodelay.c" <<'C'
/* connect() and accept() that set TCP_NODELAY on TCP sockets when BENCH_TCP_NODELAY is set. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
static void nodelay(int fd) {
  int one = 1;
  if (getenv("BENCH_TCP_NODELAY")) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  int r = real(fd, addr, len);
  if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) nodelay(fd);
  return r;
}
int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
  int r = real(fd, addr, len);
  if (r >= 0) nodelay(r); /* fails harmlessly on a Unix socket */
  return r;
}
C
  gcc -shared -fPIC -O2 -o "$shim_dir/nodelay.so" "$shim_dir/nodelay.c" -ldl
  export SMS_BENCH_KANNEL_PRELOAD="$PWD/$shim_dir/nodelay.so"
fi

cargo test --release --test bench_sms --no-run
for u in ${users//,/ }; do
  echo "== SMS_BENCH_N=$SMS_BENCH_N SMS_BENCH_USERS=$u"
  SMS_BENCH_USERS="$u" cargo test --release --quiet --test bench_sms -- --ignored --nocapture
done
