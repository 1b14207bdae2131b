//! XEP-0045 multi-user chat stanzas for group chats of the foreign network.

use super::text::{jid_part, xml_string, xml_text};
use minidom::Element;
use switchboard_bridge::Rank;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Id, Message, MessageType};
use xmpp_parsers::muc::user::{Actor, Affiliation, Item, MucUser, Role, Status};
use xmpp_parsers::muc::Muc;
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type};
use xmpp_parsers::stanza_error::StanzaError;

/// MUC affiliation and role for a rank (biboumi's mapping of IRC prefixes).
pub fn affiliation_role(rank: Rank) -> (Affiliation, Role) {
    match rank {
        Rank::Owner => (Affiliation::Owner, Role::Moderator),
        Rank::Admin | Rank::Operator => (Affiliation::Admin, Role::Moderator),
        Rank::Moderator => (Affiliation::Member, Role::Moderator),
        Rank::Voiced => (Affiliation::Member, Role::Participant),
        Rank::Regular => (Affiliation::None, Role::Participant),
    }
}

/// The occupant JID `room/nick`; controls in a foreign nick show as control pictures
/// ([`jid_part`]), so such a nick still makes a JID.
pub fn occupant(room: &BareJid, nick: &str) -> Option<Jid> {
    room.with_resource_str(&jid_part(nick)).ok().map(Jid::from)
}

/// What one occupant presence says.
#[derive(Clone, Debug, Default)]
pub struct OccupantPresence<'a> {
    /// Available or gone.
    pub unavailable: bool,
    /// Their standing (ignored when leaving).
    pub rank: Rank,
    /// Status codes (110 self, 210 nick assigned, 303 new nick, 307 kicked, …).
    pub statuses: Vec<Status>,
    /// For 303: the new nick.
    pub new_nick: Option<&'a str>,
    /// For kicks: who did it.
    pub actor: Option<&'a str>,
    /// For kicks and leaving: why.
    pub reason: Option<&'a str>,
    /// Away, with this message (shown as `<show>away</show>` and status).
    pub away: Option<&'a str>,
    /// Their real JID (the rooms are non-anonymous: a foreign occupant's contact JID, the
    /// user's own full JID in their self-presence).
    pub jid: Option<FullJid>,
}

/// A presence of an occupant, to one of the user's resources.
pub fn occupant_presence(from: Jid, to: &Jid, p: &OccupantPresence<'_>) -> Presence {
    let (affiliation, role) = if p.unavailable {
        (Affiliation::None, Role::None)
    } else {
        affiliation_role(p.rank)
    };
    let names = (affiliation_str(&affiliation), role_str(&role));
    let mut item = Item::new(affiliation, role);
    if let Some(nick) = p.new_nick {
        item = item.with_nick(jid_part(nick).into_owned());
    }
    if let Some(actor) = p.actor.and_then(actor) {
        item = item.with_actor(actor);
    }
    if let Some(jid) = &p.jid {
        item = item.with_jid(jid.clone());
    }
    if let Some(reason) = p.reason.filter(|_| p.statuses.contains(&Status::Kicked)) {
        item = item.with_reason(xml_text(reason).into_owned());
    }
    let mut x: Element = MucUser::new()
        .with_items(vec![item])
        .with_statuses(p.statuses.clone())
        .into();
    // xmpp-parsers leaves out `none`, the default; XEP-0045 wants both attributes always.
    if let Some(item) = x.get_child_mut("item", ns::MUC_USER) {
        for (name, value) in [("affiliation", names.0), ("role", names.1)] {
            if item.attr(name).is_none() {
                if let Ok(name) = minidom::rxml::NcName::try_from(name) {
                    item.set_attr(minidom::rxml::Namespace::NONE, name, value);
                }
            }
        }
    }
    let kind = if p.unavailable {
        Type::Unavailable
    } else {
        Type::None
    };
    let mut presence = Presence::new(kind).with_from(from).with_to(to.clone());
    presence.payloads.push(x);
    if let Some(reason) = p.reason.filter(|r| p.unavailable && !r.is_empty()) {
        presence.set_status("", xml_text(reason).into_owned());
    }
    if let Some(away) = p.away.filter(|_| !p.unavailable) {
        presence.show = Some(xmpp_parsers::presence::Show::Away);
        if !away.is_empty() {
            presence.set_status("", xml_text(away).into_owned());
        }
    }
    presence
}

fn affiliation_str(a: &Affiliation) -> &'static str {
    match a {
        Affiliation::Owner => "owner",
        Affiliation::Admin => "admin",
        Affiliation::Member => "member",
        Affiliation::Outcast => "outcast",
        Affiliation::None => "none",
    }
}

fn role_str(r: &Role) -> &'static str {
    match r {
        Role::Moderator => "moderator",
        Role::Participant => "participant",
        Role::Visitor => "visitor",
        Role::None => "none",
    }
}

fn actor(nick: &str) -> Option<Actor> {
    let mut el = Element::bare("actor", ns::MUC_USER);
    el.set_attr(
        minidom::rxml::Namespace::NONE,
        minidom::rxml::NcName::try_from("nick").ok()?,
        jid_part(nick).into_owned(),
    );
    Actor::try_from(el).ok()
}

/// The room subject, sent after the self-presence (even when empty, so clients know the
/// join is complete).
pub fn subject(room: &BareJid, by: Option<&str>, to: &Jid, topic: &str) -> Message {
    let from = by
        .and_then(|nick| occupant(room, nick))
        .unwrap_or_else(|| room.clone().into());
    let mut m = Message::groupchat(Some(to.clone()));
    m.from = Some(from);
    m.subjects.insert("".into(), xml_text(topic).into_owned());
    m
}

/// A groupchat message from an occupant.
pub fn groupchat(from: Jid, to: &Jid, body: String, id: Option<String>) -> Message {
    let mut m = Message::groupchat(Some(to.clone())).with_body("".into(), xml_string(body));
    m.from = Some(from);
    m.id =
        Some(Id(id.unwrap_or_else(|| {
            format!("sb-{:016x}", rand::random::<u64>())
        })));
    m
}

/// Whether a presence asks to join a room (carries `<x xmlns='…/muc'/>`), and the password.
pub fn join_request(presence: &Presence) -> Option<Option<String>> {
    presence
        .payloads
        .iter()
        .find(|p| p.is("x", ns::MUC))
        .map(|x| Muc::try_from(x.clone()).ok().and_then(|m| m.password))
}

/// What a XEP-0199 ping to an occupant JID (`room/nick`) finds, as the gateway's own
/// state of the room sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OccupantPing {
    /// The pinging resource is in the room as that nick (a XEP-0410 self-ping).
    SelfJoined,
    /// The pinging resource is in the room, and the nick is another occupant there.
    OtherOccupant,
    /// The pinging resource is in the room, but nobody there has that nick.
    NoSuchOccupant,
    /// The pinging resource is not (or no longer, or not yet) in the room.
    NotJoined,
}

/// The error a ping to an occupant JID is answered with, or `None` for a result.
///
/// XEP-0410 §3.2: a self-ping from a resource that is not joined gets `not-acceptable`
/// (the client then rejoins), never a timeout or `remote-server-not-found` (which clients
/// take for a network problem and keep waiting). A ping to another occupant is answered
/// by the gateway for them (`result`: the network says they are in the room), and one to
/// a nick nobody has gets `item-not-found`.
pub fn occupant_ping_error(found: OccupantPing) -> Option<StanzaError> {
    use xmpp_parsers::stanza_error::{DefinedCondition as C, ErrorType as T};
    match found {
        OccupantPing::SelfJoined | OccupantPing::OtherOccupant => None,
        OccupantPing::NoSuchOccupant => Some(crate::xmpp::errors::error(
            T::Cancel,
            C::ItemNotFound,
            "no occupant of this room has that nick",
        )),
        OccupantPing::NotJoined => Some(crate::xmpp::errors::error(
            T::Modify,
            C::NotAcceptable,
            "you are not in this room",
        )),
    }
}

/// `<stanza-id xmlns='urn:xmpp:sid:0' by='ROOM' id='…'/>` (XEP-0359): the id a room's
/// archive gives a line, the same in the live message, in history and in MAM results.
pub fn stanza_id(room: &BareJid, id: &str) -> Element {
    // Built directly (not through xmpp-parsers' typed StanzaId): it is made for every
    // message relayed to a room, and the typed conversion costs several times as much.
    let mut el = Element::bare("stanza-id", "urn:xmpp:sid:0");
    super::form::set_attr(&mut el, "by", room.as_str());
    super::form::set_attr(&mut el, "id", id);
    el
}

/// A line that named the user while they were away from a persistent room: a chat
/// message from the room to their bare JID (their server keeps it offline), saying who.
pub fn highlight(room: &BareJid, to: &BareJid, nick: &str, body: &str) -> Message {
    let mut m = Message::chat(Some(to.clone().into())).with_body(
        "".into(),
        xml_string(format!("<{}> {body}", jid_part(nick))),
    );
    m.from = Some(room.clone().into());
    m.id = Some(Id(format!("sb-hl-{:016x}", rand::random::<u64>())));
    m
}

/// Whether a message is of type groupchat.
pub fn is_groupchat(m: &Message) -> bool {
    m.type_ == MessageType::Groupchat
}

#[cfg(test)]
mod tests;
