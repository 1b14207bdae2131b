//! XEP-0092 software version.

use xmpp_parsers::version::VersionResult;

/// Our name and version. The OS is left out: it tells attackers more than it helps users.
pub fn version() -> VersionResult {
    VersionResult {
        name: "Switchboard".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        os: None,
    }
}
