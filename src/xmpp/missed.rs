//! What the gateway needs to know to report missed messages: which stanzas it sends are
//! one-to-one messages a user would read, and what users' presence says about them.
//! Pure; the book keeping is in `crate::watch`.

use super::address::unescape;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type};

/// A one-to-one message with text, on its way to a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToUser {
    /// The user.
    pub to: BareJid,
    /// Where it comes from (a contact on one of our transports).
    pub from: BareJid,
    /// The sender as people read it: the XEP-0172 nick it carries, else the unescaped
    /// local part (XEP-0106), else the address.
    pub sender: String,
    /// The text.
    pub body: String,
}

/// Reads a message the gateway sends: `None` unless it is of type chat or normal and has
/// a body (groupchat, errors, receipts and chat states are not read by anyone later).
pub fn to_user(m: &Message) -> Option<ToUser> {
    if !matches!(m.type_, MessageType::Chat | MessageType::Normal) {
        return None;
    }
    let (_, body) = m.get_best_body(vec!["en", ""])?;
    if body.trim().is_empty() {
        return None;
    }
    let to = m.to.as_ref()?.to_bare();
    let from = m.from.as_ref()?.to_bare();
    let nick = m
        .payloads
        .iter()
        .find(|p| p.is("nick", ns::NICK))
        .map(|n| n.text().trim().to_string())
        .filter(|n| !n.is_empty());
    let sender = nick
        .or_else(|| from.node().map(|n| unescape(n.as_str())))
        .unwrap_or_else(|| from.to_string());
    Some(ToUser {
        to,
        from,
        sender,
        body: body.clone(),
    })
}

/// What a presence from a user says about one of their resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Online (the full JID, or a bare one).
    Available(Jid),
    /// Gone; from a bare JID (the server answering a probe): every resource is gone.
    Unavailable(Jid),
}

/// Reads a presence from a user: `None` for subscriptions and probes.
pub fn seen(p: &Presence) -> Option<Seen> {
    let from = p.from.clone()?;
    match p.type_ {
        Type::None => Some(Seen::Available(from)),
        Type::Unavailable | Type::Error => Some(Seen::Unavailable(from)),
        _ => None,
    }
}

/// `<presence type='probe'/>` from the transport to a user, so their server tells us
/// whether they are online.
pub fn probe(from: &Jid, to: &BareJid) -> Presence {
    Presence::new(Type::Probe)
        .with_from(from.clone())
        .with_to(Jid::from(to.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;
    use minidom::Element;

    fn message(xml: &str) -> Message {
        let e: Element = xml.parse().unwrap();
        Message::try_from(e).unwrap()
    }

    #[test]
    fn reads_chat_messages_to_users() {
        let m = message(
            "<message xmlns='jabber:component:accept' type='chat' \
             from='bob\\40example.net@mail.localhost/x' to='alice@localhost/phone'>\
             <body>hi alice</body></message>",
        );
        assert_eq!(
            to_user(&m).unwrap(),
            ToUser {
                to: BareJid::new("alice@localhost").unwrap(),
                from: BareJid::new("bob\\40example.net@mail.localhost").unwrap(),
                sender: "bob@example.net".into(),
                body: "hi alice".into(),
            }
        );
        let with_nick = message(
            "<message xmlns='jabber:component:accept' from='+4917000000@sms.localhost' \
             to='alice@localhost'><body>yo</body>\
             <nick xmlns='http://jabber.org/protocol/nick'>Bob</nick></message>",
        );
        let read = to_user(&with_nick).unwrap();
        assert_eq!((read.sender.as_str(), read.body.as_str()), ("Bob", "yo"));
        let from_transport = message(
            "<message xmlns='jabber:component:accept' type='chat' from='irc.localhost' \
             to='alice@localhost'><body>notice</body></message>",
        );
        assert_eq!(to_user(&from_transport).unwrap().sender, "irc.localhost");
    }

    #[test]
    fn ignores_what_nobody_reads_later() {
        let cases = [
            "<message xmlns='jabber:component:accept' type='groupchat' from='#a%n@irc.localhost/x' \
             to='alice@localhost/p'><body>room</body></message>",
            "<message xmlns='jabber:component:accept' type='error' from='b@sms.localhost' \
             to='alice@localhost'><body>bounced</body><error type='cancel'>\
             <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
            "<message xmlns='jabber:component:accept' from='b@sms.localhost' to='alice@localhost'>\
             <received xmlns='urn:xmpp:receipts' id='m1'/></message>",
            "<message xmlns='jabber:component:accept' type='chat' from='b@sms.localhost' \
             to='alice@localhost'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
        ];
        for xml in cases {
            assert_eq!(to_user(&message(xml)), None, "{xml}");
        }
    }

    #[test]
    fn reads_presence_and_builds_probes() {
        let p = |xml: &str| Presence::try_from(xml.parse::<Element>().unwrap()).unwrap();
        let on = p("<presence xmlns='jabber:component:accept' from='alice@localhost/phone' to='mail.localhost'/>");
        assert_eq!(
            seen(&on),
            Some(Seen::Available(Jid::new("alice@localhost/phone").unwrap()))
        );
        let off = p("<presence xmlns='jabber:component:accept' type='unavailable' from='alice@localhost' to='mail.localhost'/>");
        assert_eq!(
            seen(&off),
            Some(Seen::Unavailable(Jid::new("alice@localhost").unwrap()))
        );
        let sub = p("<presence xmlns='jabber:component:accept' type='subscribe' from='alice@localhost' to='mail.localhost'/>");
        assert_eq!(seen(&sub), None);
        let xml = element_xml(probe(
            &Jid::new("mail.localhost").unwrap(),
            &BareJid::new("alice@localhost").unwrap(),
        ));
        assert_eq!(
            xml,
            "<presence xmlns='jabber:component:accept' from='mail.localhost' to='alice@localhost' type='probe'><priority>0</priority></presence>"
        );
    }
}
