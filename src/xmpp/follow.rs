//! Following a MUC room as an occupant on a bridge's behalf (digests): the join and leave
//! presences, and what the room sends that occupant. Pure; the I/O is in `crate::watch`.
//!
//! The occupant is the transport's own domain with the fixed resource [`RESOURCE`]
//! (`mail.example.org/digest`), so a room sees one occupant per transport, and nothing a
//! user sends ever reaches that full JID.

use super::delay::rfc3339;
use minidom::Element;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xmpp_parsers::date::DateTime;
use xmpp_parsers::delay::Delay;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::muc::muc::History;
use xmpp_parsers::muc::user::{MucUser, Status};
use xmpp_parsers::muc::Muc;
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type};
use xmpp_parsers::stanza_id::StanzaId;

/// The resource of the transport's occupant JID in followed rooms.
pub const RESOURCE: &str = "digest";

/// The full JID `domain/digest` that joins followed rooms.
pub fn occupant_of(domain: &str) -> Option<Jid> {
    Jid::new(&format!("{domain}/{RESOURCE}")).ok()
}

/// The join: `<x xmlns='…/muc'><history since='…'/></x>` with `since`, else
/// `maxstanzas='0'` (no history).
pub fn join(from: &Jid, room: &BareJid, nick: &str, since: Option<SystemTime>) -> Option<Presence> {
    let to = room.with_resource_str(nick).ok()?;
    let history = match since.and_then(|t| DateTime::from_str(&rfc3339(t)).ok()) {
        Some(stamp) => History::new().with_since(stamp),
        None => History::new().with_maxstanzas(0),
    };
    let mut p = Presence::available()
        .with_from(from.clone())
        .with_to(Jid::from(to));
    p.payloads.push(Muc::new().with_history(history).into());
    Some(p)
}

/// Leaving a followed room.
pub fn leave(from: &Jid, room: &BareJid, nick: &str) -> Option<Presence> {
    let to = room.with_resource_str(nick).ok()?;
    Some(
        Presence::unavailable()
            .with_from(from.clone())
            .with_to(Jid::from(to)),
    )
}

/// A message said in a room, as read from a groupchat message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    /// The occupant's nick.
    pub nick: String,
    /// The text.
    pub body: String,
    /// The XEP-0203 stamp of a message the room replays from its history.
    pub at: Option<SystemTime>,
    /// The same for the live message and its replay: the room's XEP-0359 stanza id when it
    /// stamps one, else a hash of nick, message id and body.
    pub dedupe: String,
}

/// Reads a groupchat message from `room/nick`: `None` for subject changes, messages
/// without a body, messages from the room itself, and our own (`own_nick`).
pub fn said(m: &Message, room: &BareJid, own_nick: &str) -> Option<Said> {
    if m.type_ != MessageType::Groupchat {
        return None;
    }
    let from = m.from.as_ref()?;
    let nick = from.resource()?.as_str();
    if nick == own_nick {
        return None;
    }
    let (_, body) = m.get_best_body(vec!["en", ""])?;
    if body.trim().is_empty() {
        return None;
    }
    let at = m
        .payloads
        .iter()
        .filter(|p| p.is("delay", ns::DELAY))
        .find_map(|p| Delay::try_from(p.clone()).ok())
        .and_then(|d| system_time(&d.stamp));
    let by_room = m
        .payloads
        .iter()
        .filter(|p| p.is("stanza-id", ns::SID))
        .filter_map(|p| StanzaId::try_from(p.clone()).ok())
        .find(|s| same_bare(&s.by.to_bare(), room));
    let dedupe = match by_room {
        Some(sid) => format!("sid:{}", sid.id),
        None => {
            let id = m.id.as_ref().map(|i| i.0.as_str()).unwrap_or("");
            format!("h:{:016x}", fnv1a(&[nick, id, body]))
        }
    };
    Some(Said {
        nick: nick.to_string(),
        body: body.clone(),
        at,
        dedupe,
    })
}

/// What a presence from a followed room says about our occupant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Occupancy {
    /// We are in, under this nick (self-presence, status 110).
    Joined(String),
    /// We are out (our unavailable self-presence: kicked, room destroyed).
    Left,
    /// The room refused us: `"<condition>: <text>"`.
    Refused(String),
    /// About someone else.
    Other,
}

/// Reads a presence from a followed room.
pub fn occupancy(p: &Presence) -> Occupancy {
    if p.type_ == Type::Error {
        return Occupancy::Refused(error_reason(&p.payloads));
    }
    let own = p
        .payloads
        .iter()
        .filter(|x| x.is("x", ns::MUC_USER))
        .filter_map(|x| MucUser::try_from(x.clone()).ok())
        .any(|x| x.status.contains(&Status::SelfPresence));
    match (own, p.type_ == Type::Unavailable, p.from.as_ref()) {
        (true, true, _) => Occupancy::Left,
        (true, false, Some(from)) => match from.resource() {
            Some(nick) => Occupancy::Joined(nick.as_str().to_string()),
            None => Occupancy::Other,
        },
        _ => Occupancy::Other,
    }
}

/// `condition: text` of the `<error/>` among payloads.
pub fn error_reason(payloads: &[Element]) -> String {
    let Some(error) = payloads.iter().find(|p| p.name() == "error") else {
        return "error: the room gave no reason".into();
    };
    let condition = error
        .children()
        .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| "undefined-condition".into());
    match error.get_child("text", ns::XMPP_STANZAS).map(Element::text) {
        Some(text) if !text.trim().is_empty() => format!("{condition}: {}", text.trim()),
        _ => condition,
    }
}

/// A XEP-0045 §7.8.2 mediated invitation a room relayed to the transport: the room and
/// the invitation's reason. Only from a bare JID (a room: clients always send from a full
/// JID, and the XMPP server stamps `from`) and of type normal; anything else is `None`.
/// (The inviter is not used: semi-anonymous rooms show only their occupant JID.)
pub fn invitation(m: &Message) -> Option<(BareJid, String)> {
    let from = m.from.as_ref()?;
    if from.resource().is_some() || from.node().is_none() || m.type_ != MessageType::Normal {
        return None;
    }
    let invite = m
        .payloads
        .iter()
        .find(|x| x.is("x", ns::MUC_USER))?
        .get_child("invite", ns::MUC_USER)?;
    let reason = invite
        .get_child("reason", ns::MUC_USER)
        .map(Element::text)
        .unwrap_or_default();
    Some((from.to_bare(), reason.trim().to_string()))
}

/// Room JIDs compare as JIDs normalise: the bare part without regard to case.
pub fn same_bare(a: &BareJid, b: &BareJid) -> bool {
    a.as_str().eq_ignore_ascii_case(b.as_str())
}

fn system_time(stamp: &DateTime) -> Option<SystemTime> {
    let millis = u64::try_from(stamp.0.timestamp_millis()).ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(millis))
}

/// FNV-1a over length-prefixed parts: stable across builds and restarts (unlike std's
/// hasher), so a bridge may keep the keys.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        let len = (part.len() as u64).to_le_bytes();
        for b in len.iter().chain(part.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests;
