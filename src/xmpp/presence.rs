//! Presence of the transport and its contacts.

use xmpp_parsers::jid::Jid;
use xmpp_parsers::presence::{Presence, Show, Type};

/// How the transport is doing, for its presence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// Users with a session.
    pub sessions: usize,
    /// Sessions whose foreign connection is not up.
    pub sessions_down: usize,
    /// Messages waiting for the foreign network.
    pub queued: u64,
}

/// The transport's presence: available; `away` while some foreign connections are down,
/// `xa` while all are; the status text carries live load.
pub fn transport(from: &Jid, to: &Jid, health: &Health) -> Presence {
    let mut p = Presence::available()
        .with_from(from.clone())
        .with_to(to.clone());
    let users = match health.sessions {
        1 => "1 user".to_string(),
        n => format!("{n} users"),
    };
    let mut status = format!("{users}, {} queued", health.queued);
    if health.sessions_down > 0 {
        p.show = Some(if health.sessions_down == health.sessions {
            Show::Xa
        } else {
            Show::Away
        });
        status.push_str(&format!(", {} not connected", health.sessions_down));
    }
    p.set_status("en", status);
    p
}

/// A presence of `type_` without payload.
pub fn simple(type_: Type, from: &Jid, to: &Jid) -> Presence {
    Presence::new(type_)
        .with_from(from.clone())
        .with_to(to.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;

    #[test]
    fn status_shows_load_and_health() {
        let gw = Jid::new("echo.test").unwrap();
        let user = Jid::new("alice@example.org").unwrap();
        let ok = element_xml(transport(
            &gw,
            &user,
            &Health {
                sessions: 3,
                sessions_down: 0,
                queued: 2,
            },
        ));
        assert_eq!(
            ok,
            "<presence xmlns='jabber:component:accept' from='echo.test' to='alice@example.org'>\
             <status xml:lang='en'>3 users, 2 queued</status><priority>0</priority></presence>"
        );
        let some = element_xml(transport(
            &gw,
            &user,
            &Health {
                sessions: 2,
                sessions_down: 1,
                queued: 0,
            },
        ));
        assert!(
            some.contains("<show>away</show>")
                && some.contains("2 users, 0 queued, 1 not connected"),
            "{some}"
        );
        let all = element_xml(transport(
            &gw,
            &user,
            &Health {
                sessions: 1,
                sessions_down: 1,
                queued: 0,
            },
        ));
        assert!(
            all.contains("<show>xa</show>") && all.contains("1 user,"),
            "{all}"
        );
    }
}
