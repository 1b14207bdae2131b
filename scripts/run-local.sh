#!/bin/bash
# Sets up and runs Switchboard locally on its embedded defaults: SQLite storage, a local
# Prosody, InspIRCd and Kannel on loopback, with the IRC transport on irc.localhost (network
# `local`: join #chan%local@irc.localhost/yournick), the SMS transport on sms.localhost
# (admin@localhost owns +15550000001; Kannel's fake SMSC stands in for the phones), the
# email transport on mail.localhost (register an alias; outgoing mail is printed by a local
# aiosmtpd into .local/mail/outbox.log; mail comes in on 127.0.0.1:2525; digests of rooms
# on conference.localhost, IRC channels or missed messages with the digest-subscribe command
# on mail.localhost) and the echo transport on echo.localhost.
#
#   scripts/run-local.sh            build, start Prosody, run the gateway in the foreground
#
# Log in with any XMPP client as admin@localhost (password printed below, kept in
# .local/admin-password) on 127.0.0.1:$SWITCHBOARD_C2S_PORT (default 5222, plaintext on
# loopback), then join #test%local@irc.localhost, or message anything@echo.localhost after
# registering with that transport. IRC clients reach the same IRC server on
# 127.0.0.1:$SWITCHBOARD_IRC_PORT (default 6667). Texts to +<number>@sms.localhost go
# through Kannel to its fake SMSC (printed in .local/kannel/phones.log); the script prints
# a curl line that fakes a reply from a phone.
# Ctrl-C stops everything. State lives in .local/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
C2S_PORT=${SWITCHBOARD_C2S_PORT:-5222}
COMPONENT_PORT=${SWITCHBOARD_COMPONENT_PORT:-5347}
HTTP_PORT=${SWITCHBOARD_HTTP_PORT:-8080}
IRC_PORT=${SWITCHBOARD_IRC_PORT:-6667}
IRC_TLS_PORT=${SWITCHBOARD_IRC_TLS_PORT:-6697}
KANNEL_SENDSMS_PORT=${SWITCHBOARD_KANNEL_PORT:-13013}
SMTP_IN_PORT=${SWITCHBOARD_SMTP_PORT:-2525}
SMTP_OUT_PORT=${SWITCHBOARD_RELAY_PORT:-2526}
L="$ROOT/.local"

scripts/install-deps.sh
cargo build --release --bin switchboard

mkdir -p "$L/prosody/data" "$L/prosody/certs" "$L/inspircd/tls"
[ -f "$L/echo-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/echo-secret"
[ -f "$L/irc-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/irc-secret"
[ -f "$L/sms-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/sms-secret"
[ -f "$L/mail-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/mail-secret"
[ -f "$L/kannel-secret" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$L/kannel-secret"
[ -f "$L/admin-password" ] || head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$L/admin-password"
SECRET=$(cat "$L/echo-secret")
IRC_SECRET=$(cat "$L/irc-secret")
SMS_SECRET=$(cat "$L/sms-secret")
KANNEL_SECRET=$(cat "$L/kannel-secret")
MAIL_SECRET=$(cat "$L/mail-secret")

# The tests' Prosody template: loopback only, plaintext c2s (never expose it).
sed -e "s#@DATA_DIR@#\"$L/prosody/data\"#" \
    -e "s#@C2S_PORT@#$C2S_PORT#" \
    -e "s#@COMPONENT_PORT@#$COMPONENT_PORT#" \
    -e "s#@COMPONENTS@#Component \"echo.localhost\"\n    component_secret = \"$SECRET\"\nComponent \"irc.localhost\"\n    component_secret = \"$IRC_SECRET\"\nComponent \"sms.localhost\"\n    component_secret = \"$SMS_SECRET\"\nComponent \"mail.localhost\"\n    component_secret = \"$MAIL_SECRET\"#" \
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
sms:
  domain: sms.localhost
  secret: "\${SMS_COMPONENT_SECRET}"
  provider:
    kind: kannel
    sendsms_url: "http://127.0.0.1:$KANNEL_SENDSMS_PORT/cgi-bin/sendsms"
    username: gw
    password: gwpass
    webhook_secret: "\${KANNEL_HOOK_SECRET}"
  numbers: {"+15550000001": "admin@localhost"}
email:
  domain: mail.localhost
  secret: "\${MAIL_COMPONENT_SECRET}"
  address_domain: mail.localhost
  smtp: {relay: "127.0.0.1:$SMTP_OUT_PORT", security: none}
  listen: "127.0.0.1:$SMTP_IN_PORT"
  postmaster: admin@localhost
  # Digests (ad-hoc digest-subscribe on mail.localhost; rooms on conference.localhost):
  # short periods allowed here, for trying it out.
  digest: {min_interval: 1m, missed_after: 2m}
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

# The tests' Kannel template (loopback only), with Debian's fakesmsc as the phones.
mkdir -p "$L/kannel"
sed -e "s#@DIR@#$L/kannel#g" -e "s#@ADMIN_PORT@#13000#" -e "s#@ADMIN_PASSWORD@#adminpw#" \
    -e "s#@STATUS_PASSWORD@#statuspw#" -e "s#@BOX_PORT@#13001#" -e "s#@SMSC_PORT@#13002#" \
    -e "s#@SENDSMS_PORT@#$KANNEL_SENDSMS_PORT#" -e "s#@MO_RETRIES@#30#" -e "s#@USER@#gw#" \
    -e "s#@PASS@#gwpass#" \
    -e "s#@GET_URL@#http://127.0.0.1:$HTTP_PORT/sms/kannel?secret=$KANNEL_SECRET\&from=%p\&to=%P\&text=%b\&charset=%C\&coding=%c\&id=%I#" \
    tests/support/kannel.conf.in > "$L/kannel/kannel.conf"
(cd "$L/kannel" && exec /usr/sbin/bearerbox -v 1 kannel.conf) > "$L/kannel/bearerbox.log" 2>&1 &
BEARERBOX_PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:13000/status.txt?password=statuspw" >/dev/null && break; sleep 0.1
done
(cd "$L/kannel" && exec /usr/sbin/smsbox -v 1 kannel.conf) > "$L/kannel/smsbox.log" 2>&1 &
SMSBOX_PID=$!
/usr/lib/kannel/test/fakesmsc -H 127.0.0.1 -r 13002 -m 0 "0 0 text unused" > "$L/kannel/phones.log" 2>&1 &
PHONES_PID=$!

# Outgoing mail goes to a local aiosmtpd that prints it (Debian's python3-aiosmtpd).
mkdir -p "$L/mail"
/usr/bin/python3 -m aiosmtpd -n -c aiosmtpd.handlers.Debugging -l "127.0.0.1:$SMTP_OUT_PORT" \
  > "$L/mail/outbox.log" 2>&1 &
RELAY_PID=$!

prosody -F --config "$L/prosody/prosody.cfg.lua" > "$L/prosody/prosody.log" 2>&1 &
PROSODY_PID=$!
trap 'kill $PROSODY_PID $IRCD_PID $PHONES_PID $SMSBOX_PID $BEARERBOX_PID $RELAY_PID 2>/dev/null; wait $PROSODY_PID $IRCD_PID $PHONES_PID $SMSBOX_PID $BEARERBOX_PID $RELAY_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "Activated service 'c2s' on \[127.0.0.1\]:$C2S_PORT" "$L/prosody/prosody.log" && break
  kill -0 $PROSODY_PID 2>/dev/null || { cat "$L/prosody/prosody.log"; exit 1; }
  sleep 0.1
done

echo "Prosody on 127.0.0.1:$C2S_PORT; log in as admin@localhost with password $(cat "$L/admin-password")"
echo "IRC on 127.0.0.1:$IRC_PORT; from XMPP join #test%local@irc.localhost/yournick"
echo "SMS: text +4917000000@sms.localhost; texts land in $L/kannel/phones.log. Fake a reply:"
echo "  curl 'http://127.0.0.1:$HTTP_PORT/sms/kannel?secret=$KANNEL_SECRET&from=%2B4917000000&to=%2B15550000001&text=hello'"
echo "Email: register an alias with mail.localhost, then write to bob%example.net@mail.localhost;"
echo "  sent mail is printed in $L/mail/outbox.log; mail in: swaks --server 127.0.0.1:$SMTP_IN_PORT --to <alias>@mail.localhost"
echo "Gateway health: http://127.0.0.1:$HTTP_PORT/healthz  (Ctrl-C stops everything)"
cd "$L"
ECHO_COMPONENT_SECRET=$SECRET IRC_COMPONENT_SECRET=$IRC_SECRET \
  SMS_COMPONENT_SECRET=$SMS_SECRET KANNEL_HOOK_SECRET=$KANNEL_SECRET \
  MAIL_COMPONENT_SECRET=$MAIL_SECRET \
  "$ROOT/target/release/switchboard" --config switchboard.yaml &
GW_PID=$!
trap 'kill -TERM $GW_PID 2>/dev/null; wait $GW_PID 2>/dev/null; kill $PROSODY_PID $IRCD_PID $PHONES_PID $SMSBOX_PID $BEARERBOX_PID $RELAY_PID 2>/dev/null; wait $PROSODY_PID $IRCD_PID $PHONES_PID $SMSBOX_PID $BEARERBOX_PID $RELAY_PID 2>/dev/null || true' EXIT INT TERM
wait $GW_PID
