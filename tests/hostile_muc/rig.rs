//! The rig of the hostile MUC tests: Prosody (mail and IRC components; alice, bob, carol),
//! InspIRCd, a mail capture and the gateway.

use crate::common::mail::{config, start_gateway, MAIL, SECRET};
use crate::common::smtp::{CaptureOptions, SmtpCapture};
use crate::common::{free_port, workdir, Agent, Gateway, Inspircd, Prosody};
use std::time::Duration;

pub const IRC: &str = "irc.localhost";
pub const T: Duration = Duration::from_secs(15);
pub const SECRET_ROOM: &str = "secret@conference.localhost";

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub prosody: Prosody,
    pub ircd: Inspircd,
    pub capture: SmtpCapture,
    pub gw: Gateway,
}

/// Prosody (mail and IRC components; alice, bob, carol), InspIRCd, a mail capture and the
/// gateway; `irc_keys`: more keys of the `irc` section, two spaces in.
pub fn rig(name: &str, irc_keys: &str) -> Rig {
    let dir = workdir(name);
    let prosody = Prosody::start(
        dir.path(),
        &[(MAIL, SECRET), (IRC, "irc-secret")],
        &[
            ("alice", "localhost", "pw"),
            ("bob", "localhost", "pw"),
            ("carol", "localhost", "pw"),
        ],
    );
    let ircd = Inspircd::start(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let irc = format!(
        "irc:\n  domain: {IRC}\n  secret: irc-secret\n  quit_grace: 1s\n{irc_keys}  networks:\n    \"127.0.0.1\": {{port: {}, tls: false, throttle: false}}\n",
        ircd.port()
    );
    let gw = start_gateway(
        dir.path(),
        &config(
            &prosody,
            &capture.addr(),
            free_port(),
            &format!("  digest: {{min_interval: 1s}}\n{irc}"),
        ),
    );
    Rig {
        dir,
        prosody,
        ircd,
        capture,
        gw,
    }
}

impl Rig {
    /// `jid` (with a resource) online, once the IRC transport answers.
    pub fn user(&self, jid: &str) -> Agent {
        let agent = Agent::connect(self.dir.path(), jid, "pw", self.prosody.c2s_port(), true);
        agent.wait_for_service(IRC, Duration::from_secs(40));
        agent
    }
}

pub fn channel(chan: &str) -> String {
    format!("{chan}%127.0.0.1@{IRC}")
}
