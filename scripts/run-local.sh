#!/bin/bash
# Sets up and runs Switchboard locally on its embedded defaults: SQLite storage and a local
# Prosody on loopback, with the echo transport on echo.localhost.
#
#   scripts/run-local.sh            build, start Prosody, run the gateway in the foreground
#
# Log in with any XMPP client as admin@localhost (password printed below, kept in
# .local/admin-password) on 127.0.0.1:$SWITCHBOARD_C2S_PORT (default 5222, plaintext on
# loopback), then message anything@echo.localhost after registering with the transport.
# Ctrl-C stops the gateway and Prosody. State lives in .local/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
C2S_PORT=${SWITCHBOARD_C2S_PORT:-5222}
COMPONENT_PORT=${SWITCHBOARD_COMPONENT_PORT:-5347}
HTTP_PORT=${SWITCHBOARD_HTTP_PORT:-8080}
L="$ROOT/.local"

scripts/install-deps.sh
cargo build --release --bin switchboard

mkdir -p "$L/prosody/data" "$L/prosody/certs"
[ -f "$L/echo-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/echo-secret"
[ -f "$L/admin-password" ] || head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$L/admin-password"
SECRET=$(cat "$L/echo-secret")

# The tests' Prosody template: loopback only, plaintext c2s (never expose it).
sed -e "s#@DATA_DIR@#\"$L/prosody/data\"#" \
    -e "s#@C2S_PORT@#$C2S_PORT#" \
    -e "s#@COMPONENT_PORT@#$COMPONENT_PORT#" \
    -e "s#@COMPONENTS@#Component \"echo.localhost\"\n    component_secret = \"$SECRET\"#" \
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
echo:
  domain: echo.localhost
  secret: "\${ECHO_COMPONENT_SECRET}"
YAML

prosody -F --config "$L/prosody/prosody.cfg.lua" > "$L/prosody/prosody.log" 2>&1 &
PROSODY_PID=$!
trap 'kill $PROSODY_PID 2>/dev/null; wait $PROSODY_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "Activated service 'c2s' on \[127.0.0.1\]:$C2S_PORT" "$L/prosody/prosody.log" && break
  kill -0 $PROSODY_PID 2>/dev/null || { cat "$L/prosody/prosody.log"; exit 1; }
  sleep 0.1
done

echo "Prosody on 127.0.0.1:$C2S_PORT; log in as admin@localhost with password $(cat "$L/admin-password")"
echo "Gateway health: http://127.0.0.1:$HTTP_PORT/healthz  (Ctrl-C stops everything)"
cd "$L"
ECHO_COMPONENT_SECRET=$SECRET "$ROOT/target/release/switchboard" --config switchboard.yaml &
GW_PID=$!
trap 'kill -TERM $GW_PID 2>/dev/null; wait $GW_PID 2>/dev/null; kill $PROSODY_PID 2>/dev/null; wait $PROSODY_PID 2>/dev/null || true' EXIT INT TERM
wait $GW_PID
