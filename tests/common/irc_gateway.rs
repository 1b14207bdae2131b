//! The gateway as the IRC tests run it: its configuration beside a test Prosody, and a
//! user who sees the IRC transport online.

use super::{Agent, Prosody};
use std::path::Path;
use std::time::Duration;

/// The gateway's YAML for the IRC transport `domain` (component `secret`) beside
/// `prosody`: users of `localhost` allowed, SQLite in the work directory, and `irc_keys`
/// (lines indented by two spaces) as the rest of the `irc` section.
pub fn irc_gateway_yaml(prosody: &Prosody, domain: &str, secret: &str, irc_keys: &str) -> String {
    format!(
        "xmpp:\n  server: \"127.0.0.1:{}\"\n  allow: [\"localhost\"]\nstorage: \"sqlite://switchboard.db\"\nirc:\n  domain: {domain}\n  secret: {secret}\n{irc_keys}",
        prosody.component_port()
    )
}

/// `name@localhost` (password `pw`) logged in, once the transport `domain` answers.
pub fn irc_user(dir: &Path, prosody: &Prosody, name: &str, domain: &str) -> Agent {
    let agent = Agent::connect(
        dir,
        &format!("{name}@localhost"),
        "pw",
        prosody.c2s_port(),
        true,
    );
    agent.wait_for_service(domain, Duration::from_secs(10));
    agent
}
