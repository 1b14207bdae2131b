//! Invitations to rooms: mediated ones (XEP-0045 §7.8.2, `<x muc#user><invite to=…/>`
//! sent to a room) and direct ones (XEP-0249, `<x xmlns='jabber:x:conference' jid=…/>`
//! sent to a contact), read from users' messages and written to them.

use super::form::set_attr;
use super::text::xml_text;
use minidom::Element;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::muc::user::{Invite, MucUser};

/// XEP-0249's namespace.
pub const NS_CONFERENCE: &str = "jabber:x:conference";
/// The longest reason passed on.
const MAX_REASON: usize = 1024;

/// A mediated invitation the user asks a room to send: whom, and why.
#[derive(Debug, PartialEq)]
pub struct Mediated {
    /// The invitee.
    pub to: Jid,
    /// The user's reason.
    pub reason: Option<String>,
}

/// The mediated invitation in a message to a room, if it holds one (a `<decline/>` or a
/// status-only `<x/>` is not one).
pub fn mediated(m: &Message) -> Option<Mediated> {
    let x = m
        .payloads
        .iter()
        .find(|p| p.is("x", xmpp_parsers::ns::MUC_USER))?;
    let user = MucUser::try_from(x.clone()).ok()?;
    let invite = user.invite?;
    Some(Mediated {
        to: invite.to?,
        reason: invite.reason.map(bounded),
    })
}

/// A direct invitation (XEP-0249) in a message to a contact: the room, and why.
pub fn direct(m: &Message) -> Option<(BareJid, Option<String>)> {
    let x = m.payloads.iter().find(|p| p.is("x", NS_CONFERENCE))?;
    let room = BareJid::new(x.attr("jid")?).ok()?;
    Some((room, x.attr("reason").map(str::to_string).map(bounded)))
}

/// True when a mediated invitation's `to` names someone on the foreign network rather than
/// an XMPP user: a bare nick (`to='bob'`, a JID with only a domain part and no dot), or a
/// contact of this gateway (`bob%net@gateway`).
pub fn names_foreign_user(to: &Jid, gateway: &str) -> Option<String> {
    match to.node() {
        Some(node) if to.domain().as_str() == gateway => Some(node.to_string()),
        None if !to.domain().as_str().contains('.') => Some(to.domain().to_string()),
        _ => None,
    }
}

/// The room passing on a user's invitation (XEP-0045 §7.8.2): from the room, the
/// inviter's full JID inside.
pub fn forwarded(room: &BareJid, to: Jid, inviter: Jid, reason: Option<&str>) -> Message {
    let invite = Invite {
        from: Some(inviter),
        to: None,
        reason: reason.map(|r| xml_text(r).into_owned()),
    };
    let x = MucUser {
        invite: Some(invite),
        ..MucUser::default()
    };
    let mut m = Message::new(Some(to));
    m.type_ = MessageType::Normal;
    m.from = Some(room.clone().into());
    m.payloads.push(x.into());
    m
}

/// An invitation from the foreign network to the user: mediated, from the room with the
/// inviter's occupant JID inside (as biboumi sends it), and direct (XEP-0249) in the same
/// message for clients that only read that.
pub fn from_network(room: &BareJid, to: Jid, inviter: Option<Jid>) -> Message {
    let x = MucUser {
        invite: Some(Invite {
            from: inviter,
            to: None,
            reason: None,
        }),
        ..MucUser::default()
    };
    let mut m = Message::new(Some(to));
    m.type_ = MessageType::Normal;
    m.from = Some(room.clone().into());
    m.payloads.push(x.into());
    let mut direct = Element::builder("x", NS_CONFERENCE).build();
    set_attr(&mut direct, "jid", room.to_string());
    m.payloads.push(direct);
    m
}

/// At most [`MAX_REASON`] bytes, cut at a character boundary.
fn bounded(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(xml: &str) -> Message {
        Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn a_mediated_invitation_is_read_and_other_muc_user_payloads_are_not() {
        let m = message(
            "<message xmlns='jabber:component:accept' to='#den%net@irc.example'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob'><reason>come</reason></invite></x></message>",
        );
        assert_eq!(
            mediated(&m),
            Some(Mediated {
                to: Jid::new("bob").unwrap(),
                reason: Some("come".into())
            })
        );
        let decline = message(
            "<message xmlns='jabber:component:accept' to='#den%net@irc.example'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><decline to='a@b'/></x></message>",
        );
        assert_eq!(mediated(&decline), None);
        let no_to = message(
            "<message xmlns='jabber:component:accept' to='#den%net@irc.example'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite/></x></message>",
        );
        assert_eq!(mediated(&no_to), None);
    }

    #[test]
    fn a_direct_invitation_is_read() {
        let m = message(
            "<message xmlns='jabber:component:accept' to='bob%net@irc.example'>\
             <x xmlns='jabber:x:conference' jid='#den%net@irc.example' reason='hi'/></message>",
        );
        assert_eq!(
            direct(&m),
            Some((
                BareJid::new("#den%net@irc.example").unwrap(),
                Some("hi".into())
            ))
        );
        let bad = message(
            "<message xmlns='jabber:component:accept' to='bob%net@irc.example'>\
             <x xmlns='jabber:x:conference' jid='@@'/></message>",
        );
        assert_eq!(direct(&bad), None);
    }

    #[test]
    fn who_is_on_the_foreign_network() {
        let gw = "irc.example";
        let j = |s: &str| Jid::new(s).unwrap();
        assert_eq!(names_foreign_user(&j("bob"), gw).as_deref(), Some("bob"));
        assert_eq!(
            names_foreign_user(&j("bob%net@irc.example"), gw).as_deref(),
            Some("bob%net")
        );
        assert_eq!(names_foreign_user(&j("bob@example.com"), gw), None);
        assert_eq!(names_foreign_user(&j("example.com"), gw), None);
    }

    #[test]
    fn invitations_written_to_users() {
        let room = BareJid::new("#den%net@irc.example").unwrap();
        let m = forwarded(
            &room,
            Jid::new("bob@example.com").unwrap(),
            Jid::new("alice@example.com/phone").unwrap(),
            Some("a <b>"),
        );
        assert_eq!(
            String::from(&Element::from(m)),
            "<message xmlns='jabber:component:accept' from='#den%net@irc.example' to='bob@example.com'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@example.com/phone'>\
             <reason>a &lt;b&gt;</reason></invite></x></message>"
        );
        let m = from_network(
            &room,
            Jid::new("alice@example.com").unwrap(),
            Jid::new("#den%net@irc.example/carol").ok(),
        );
        assert_eq!(
            String::from(&Element::from(m)),
            "<message xmlns='jabber:component:accept' from='#den%net@irc.example' to='alice@example.com'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='#den%net@irc.example/carol'/></x>\
             <x xmlns='jabber:x:conference' jid='#den%net@irc.example'/></message>"
        );
    }
}
