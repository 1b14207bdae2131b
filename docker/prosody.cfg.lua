-- Prosody for `docker-compose up` (see docker-compose.yml): the VirtualHost "localhost" and
-- one XEP-0114 component per Switchboard transport. The component secrets come from the
-- container's environment (ENV_<NAME> reads the variable <NAME>); docker-compose.yml passes them.

data_path = "/var/lib/prosody"
log = { { levels = { min = "info" }, to = "console" } }
admins = { "admin@localhost" }

-- All interfaces inside the container; docker-compose.yml publishes c2s on the host's
-- loopback only, and the component port only on the compose network.
interfaces = { "*" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
component_ports = { 5347 }
component_interfaces = { "*" }

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "time"; "uptime";
    "carbons"; "blocklist"; "private"; "vcard_legacy";
}
-- A local playground: no federation.
modules_disabled = { "s2s"; "s2s_auth_certs" }

authentication = "internal_hashed"
storage = "internal"
-- Accounts are made with `prosodyctl register`, not by clients.
allow_registration = false
-- certs/localhost.{crt,key}, made when the image is built.
certificates = "certs"

VirtualHost "localhost"

Component "echo.localhost"
    component_secret = ENV_ECHO_COMPONENT_SECRET

Component "irc.localhost"
    component_secret = ENV_IRC_COMPONENT_SECRET

Component "sms.localhost"
    component_secret = ENV_SMS_COMPONENT_SECRET

Component "mail.localhost"
    component_secret = ENV_MAIL_COMPONENT_SECRET
