//! The gateway as the IRC tests run it: its configuration beside a test Prosody, and a
//! user who sees the IRC transport online.

use super::{workdir, Agent, Gateway, Inspircd, Prosody};
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

/// Prosody with the users `alice` and `bob` (password `pw`) and the component `domain`,
/// InspIRCd, and the gateway with the IRC transport on it: the network `127.0.0.1`
/// without flood control, and `extra` (lines indented by two spaces) as more keys of the
/// `irc` section.
pub struct IrcRig {
    /// The work directory (the gateway's database is in it).
    pub dir: tempfile::TempDir,
    /// The XMPP server.
    pub prosody: Prosody,
    /// The IRC server.
    pub ircd: Inspircd,
    /// The gateway's configuration, to start it again with.
    pub config: String,
    /// The gateway.
    pub gw: Gateway,
    /// The transport's domain.
    pub domain: String,
}

impl IrcRig {
    pub fn start(name: &str, domain: &str, secret: &str, extra: &str) -> IrcRig {
        Self::start_with_xmpp(name, domain, secret, extra, "")
    }

    /// [`IrcRig::start`] with `xmpp_extra` (lines indented by two spaces, such as
    /// `  admins: [...]`) as more keys of the `xmpp` section.
    pub fn start_with_xmpp(
        name: &str,
        domain: &str,
        secret: &str,
        extra: &str,
        xmpp_extra: &str,
    ) -> IrcRig {
        let dir = workdir(name);
        let prosody = Prosody::start(
            dir.path(),
            &[(domain, secret)],
            &[("alice", "localhost", "pw"), ("bob", "localhost", "pw")],
        );
        let ircd = Inspircd::start(dir.path());
        let keys = format!(
            "{extra}  networks:\n    \"127.0.0.1\": {{port: {}, tls: false, throttle: false}}\n",
            ircd.port()
        );
        let config = irc_gateway_yaml(&prosody, domain, secret, &keys).replace(
            "  allow: [\"localhost\"]\n",
            &format!("  allow: [\"localhost\"]\n{xmpp_extra}"),
        );
        let gw = Gateway::start(dir.path(), &config);
        IrcRig {
            dir,
            prosody,
            ircd,
            config,
            gw,
            domain: domain.to_string(),
        }
    }

    /// `name@localhost` logged in, once the transport answers.
    pub fn user(&self, name: &str) -> Agent {
        irc_user(self.dir.path(), &self.prosody, name, &self.domain)
    }
}
