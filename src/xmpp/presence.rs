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
    /// How the network as a whole is doing (an SMS provider), when the bridge knows.
    pub network: Option<switchboard_bridge::NetworkHealth>,
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
    if let Some(network) = &health.network {
        status.push_str(&format!(", {}", network.text));
        if !network.ok && p.show.is_none() {
            p.show = Some(Show::Away);
        }
    }
    // The network's text comes from the provider (an HTTP error body, say).
    p.set_status("en", super::text::xml_string(status));
    p
}

/// How available an (available) presence says its sender is, and its status text
/// (the first, trimmed, at most 200 characters; none when empty).
pub fn shown(p: &Presence) -> (switchboard_bridge::Availability, Option<String>) {
    use switchboard_bridge::Availability as A;
    use xmpp_parsers::presence::Show;
    let availability = match p.show {
        None => A::Available,
        Some(Show::Chat) => A::Chat,
        Some(Show::Away) => A::Away,
        Some(Show::Xa) => A::ExtendedAway,
        Some(Show::Dnd) => A::DoNotDisturb,
    };
    let status = p
        .statuses
        .values()
        .next()
        .map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty());
    (availability, status)
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
                network: None,
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
                network: None,
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
                network: None,
            },
        ));
        assert!(
            all.contains("<show>xa</show>") && all.contains("1 user,"),
            "{all}"
        );
    }

    #[test]
    fn a_failing_provider_shows_away_with_its_reason() {
        let gw = Jid::new("sms.test").unwrap();
        let user = Jid::new("alice@example.org").unwrap();
        let health = |ok: bool, text: &str| Health {
            sessions: 1,
            sessions_down: 0,
            queued: 0,
            network: Some(switchboard_bridge::NetworkHealth {
                ok,
                text: text.into(),
                since: std::time::SystemTime::UNIX_EPOCH,
            }),
        };
        let ok = element_xml(transport(&gw, &user, &health(true, "twilio: ok")));
        assert!(
            !ok.contains("<show>") && ok.contains("1 user, 0 queued, twilio: ok"),
            "{ok}"
        );
        let bad = element_xml(transport(&gw, &user, &health(false, "kannel: HTTP 503")));
        assert!(
            bad.contains("<show>away</show>") && bad.contains("kannel: HTTP 503"),
            "{bad}"
        );
    }

    #[test]
    fn a_providers_text_is_made_fit_for_xml() {
        let p = element_xml(transport(
            &Jid::new("sms.test").unwrap(),
            &Jid::new("alice@example.org").unwrap(),
            &Health {
                sessions: 1,
                sessions_down: 0,
                queued: 0,
                network: Some(switchboard_bridge::NetworkHealth {
                    ok: false,
                    text: "kannel: \u{1b}[31mdown".into(),
                    since: std::time::SystemTime::UNIX_EPOCH,
                }),
            },
        ));
        assert!(
            p.contains("1 user, 0 queued, kannel: [31mdown</status>"),
            "{p}"
        );
    }
}
