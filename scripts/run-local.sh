#!/bin/bash
# Sets up and runs Switchboard locally on its embedded defaults: SQLite storage, a local
# Prosody and a local InspIRCd on loopback, with the IRC transport on irc.localhost (network
# `local`: join #chan%local@irc.localhost/yournick) and the echo transport on echo.localhost.
#
#   scripts/run-local.sh            build, start Prosody, run the gateway in the foreground
#
# Log in with any XMPP client as admin@localhost (password printed below, kept in
# .local/admin-password) on 127.0.0.1:$SWITCHBOARD_C2S_PORT (default 5222, plaintext on
# loopback), then join #test%local@irc.localhost, or message anything@echo.localhost after
# registering with that transport. IRC clients reach the same IRC server on
# 127.0.0.1:$SWITCHBOARD_IRC_PORT (default 6667).
# Ctrl-C stops everything. State lives in .local/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
C2S_PORT=${SWITCHBOARD_C2S_PORT:-5222}
COMPONENT_PORT=${SWITCHBOARD_COMPONENT_PORT:-5347}
HTTP_PORT=${SWITCHBOARD_HTTP_PORT:-8080}
IRC_PORT=${SWITCHBOARD_IRC_PORT:-6667}
IRC_TLS_PORT=${SWITCHBOARD_IRC_TLS_PORT:-6697}
L="$ROOT/.local"

scripts/install-deps.sh
cargo build --release --bin switchboard

mkdir -p "$L/prosody/data" "$L/prosody/certs" "$L/inspircd/tls"
[ -f "$L/echo-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/echo-secret"
[ -f "$L/irc-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/irc-secret"
[ -f "$L/admin-password" ] || head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$L/admin-password"
SECRET=$(cat "$L/echo-secret")
IRC_SECRET=$(cat "$L/irc-secret")

# The tests' Prosody template: loopback only, plaintext c2s (never expose it).
sed -e "s#@DATA_DIR@#\"$L/prosody/data\"#" \
    -e "s#@C2S_PORT@#$C2S_PORT#" \
    -e "s#@COMPONENT_PORT@#$COMPONENT_PORT#" \
    -e "s#@COMPONENTS@#Component \"echo.localhost\"\n    component_secret = \"$SECRET\"\nComponent \"irc.localhost\"\n    component_secret = \"$IRC_SECRET\"#" \
    tests/support/prosody.cfg.lua.in > "$L/prosody/prosody.cfg.lua"
prosodyctl --config "$L/prosody/prosody.cfg.lua" register admin localhost "$(cat "$L/admin-password")" >/dev/null

cat > "$L/switchboard.yaml" <<YAML
xmpp:
  server: "127.0.0.1:$COMPONENT_PORT"
  allow: ["localhost"]
  admins: ["admin@localhost"]
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:$HTTP_PORT"
irc:
  domain: irc.localhost
  secret: "\${IRC_COMPONENT_SECRET}"
  networks:
    local: {host: 127.0.0.1, port: $IRC_PORT, tls: false}
echo:
  domain: echo.localhost
  secret: "\${ECHO_COMPONENT_SECRET}"
YAML

# The tests' InspIRCd template: loopback only, limits raised, oper oper/operpass.
[ -f "$L/inspircd/tls/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
  -subj /CN=localhost -keyout "$L/inspircd/tls/key.pem" -out "$L/inspircd/tls/cert.pem" 2>/dev/null
echo "Switchboard local IRC server." > "$L/inspircd/motd.txt"
sed -e "s#@DIR@#$L/inspircd#g" -e "s#@PORT@#$IRC_PORT#" -e "s#@TLS_PORT@#$IRC_TLS_PORT#" \
  tests/support/inspircd.conf.in > "$L/inspircd/inspircd.conf"
# Run from its own directory, so anything it writes (a core file, say) stays in .local/.
(cd "$L/inspircd" && exec /usr/sbin/inspircd --config inspircd.conf --nofork --runasroot) \
  > "$L/inspircd/console.log" 2>&1 &
IRCD_PID=$!

prosody -F --config "$L/prosody/prosody.cfg.lua" > "$L/prosody/prosody.log" 2>&1 &
PROSODY_PID=$!
trap 'kill $PROSODY_PID $IRCD_PID 2>/dev/null; wait $PROSODY_PID $IRCD_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "Activated service 'c2s' on \[127.0.0.1\]:$C2S_PORT" "$L/prosody/prosody.log" && break
  kill -0 $PROSODY_PID 2>/dev/null || { cat "$L/prosody/prosody.log"; exit 1; }
  sleep 0.1
done

echo "Prosody on 127.0.0.1:$C2S_PORT; log in as admin@localhost with password $(cat "$L/admin-password")"
echo "IRC on 127.0.0.1:$IRC_PORT; from XMPP join #test%local@irc.localhost/yournick"
echo "Gateway health: http://127.0.0.1:$HTTP_PORT/healthz  (Ctrl-C stops everything)"
cd "$L"
ECHO_COMPONENT_SECRET=$SECRET IRC_COMPONENT_SECRET=$IRC_SECRET \
  "$ROOT/target/release/switchboard" --config switchboard.yaml &
GW_PID=$!
trap 'kill -TERM $GW_PID 2>/dev/null; wait $GW_PID 2>/dev/null; kill $PROSODY_PID $IRCD_PID 2>/dev/null; wait $PROSODY_PID $IRCD_PID 2>/dev/null || true' EXIT INT TERM
wait $GW_PID
