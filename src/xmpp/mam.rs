//! XEP-0313 (`urn:xmpp:mam:2`) on a room JID: a query parsed into what the archive is
//! asked, and the result messages and `<fin/>` built from what it holds. Pure.
//!
//! Form fields: `FORM_TYPE`, `start`, `end`, `with` (an occupant JID of this room, or the
//! room itself for no filter), and `before-id`/`after-id` (`urn:xmpp:mam:2#extended`). Any
//! other field is refused with `bad-request`, as XEP-0313 asks of a field the server does
//! not support, so a client never takes an unfiltered page for a filtered one.

use super::delay::rfc3339;
use super::form::{data_form, field, set_attr, text_el};
use super::muc::{occupant, stanza_id};
use super::text::xml_string;
use minidom::Element;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xmpp_parsers::data_forms::{DataFormType, FieldType};
use xmpp_parsers::date::DateTime;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};

/// The MAM namespace.
pub const NS: &str = "urn:xmpp:mam:2";
const NS_DATA: &str = "jabber:x:data";
const NS_RSM: &str = "http://jabber.org/protocol/rsm";
const NS_FORWARD: &str = "urn:xmpp:forward:0";
const NS_DELAY: &str = "urn:xmpp:delay";

/// A bigger `<max/>` is cut to this.
pub const MAX_PAGE: usize = 250;
/// A query without `<max/>` gets this many.
pub const DEFAULT_PAGE: usize = 50;
/// Ids and query ids longer than this are refused (ours are 16 characters at most).
const MAX_ID: usize = 256;

/// Where a page is taken from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// No `<before/>` or `<after/>`: the oldest lines.
    First,
    /// An empty `<before/>`: the newest lines.
    Last,
    /// The lines after this id.
    After(String),
    /// The lines before this id.
    Before(String),
}

/// A MAM query on a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MamQuery {
    /// Echoed in each result.
    pub query_id: Option<String>,
    /// Lines at or after.
    pub start: Option<SystemTime>,
    /// Lines at or before.
    pub end: Option<SystemTime>,
    /// Lines by this nick only.
    pub with: Option<String>,
    /// Lines at most ([`MAX_PAGE`] at most).
    pub max: usize,
    /// Where the page starts.
    pub page: Page,
}

/// One archived line, as the results show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedLine {
    /// Its id (the stanza-id it had live).
    pub id: String,
    /// Who said it.
    pub nick: String,
    /// What was said.
    pub body: String,
    /// When.
    pub at: SystemTime,
}

fn time(var: &str, value: &str) -> Result<SystemTime, String> {
    let t = DateTime::from_str(value.trim())
        .map_err(|_| format!("'{var}' must be a date like 2026-01-31T12:00:00Z"))?;
    let us = t.0.timestamp_micros();
    Ok(if us >= 0 {
        UNIX_EPOCH + Duration::from_micros(us as u64)
    } else {
        UNIX_EPOCH
    })
}

fn id(what: &str, value: &str) -> Result<String, String> {
    if value.len() > MAX_ID {
        return Err(format!("'{what}' is too long to be an id"));
    }
    Ok(value.to_string())
}

/// Parses the `<query xmlns='urn:xmpp:mam:2'/>` of an iq set to `room`; `Err` is the text
/// of a `bad-request`.
pub fn parse_query(query: &Element, room: &BareJid) -> Result<MamQuery, String> {
    let query_id = match query.attr("queryid") {
        Some(q) => Some(id("queryid", q)?),
        None => None,
    };
    let mut q = MamQuery {
        query_id,
        start: None,
        end: None,
        with: None,
        max: DEFAULT_PAGE,
        page: Page::First,
    };
    let (mut before, mut after) = (None, None);
    if let Some(form) = query.get_child("x", NS_DATA) {
        for f in form.children().filter(|c| c.is("field", NS_DATA)) {
            let var = f.attr("var").unwrap_or_default();
            let value = f
                .get_child("value", NS_DATA)
                .map(Element::text)
                .unwrap_or_default();
            match var {
                "FORM_TYPE" if value.trim() == NS => {}
                "FORM_TYPE" => return Err(format!("the form must be of type {NS}")),
                "start" => q.start = Some(time(var, &value)?),
                "end" => q.end = Some(time(var, &value)?),
                "with" => q.with = with(&value, room)?,
                "before-id" => before = Some(id(var, &value)?),
                "after-id" => after = Some(id(var, &value)?),
                other => {
                    return Err(format!(
                    "the filter '{}' is not supported (start, end, with, before-id, after-id are)",
                    xml_string(other.chars().take(64).collect())
                ))
                }
            }
        }
    }
    if let (Some(start), Some(end)) = (q.start, q.end) {
        if start > end {
            return Err("'start' is after 'end'".into());
        }
    }
    if let Some(set) = query.get_child("set", NS_RSM) {
        if let Some(max) = set.get_child("max", NS_RSM) {
            q.max = max
                .text()
                .trim()
                .parse::<usize>()
                .map_err(|_| "<max/> must be a whole number".to_string())?
                .min(MAX_PAGE);
        }
        if let Some(b) = set.get_child("before", NS_RSM) {
            before = Some(id("before", b.text().trim())?);
        }
        if let Some(a) = set.get_child("after", NS_RSM) {
            after = Some(id("after", a.text().trim())?);
        }
    }
    q.page = match (before, after) {
        (Some(_), Some(_)) => return Err("ask for a page before or after an id, not both".into()),
        (Some(b), None) if b.is_empty() => Page::Last,
        (Some(b), None) => Page::Before(b),
        (None, Some(a)) if a.is_empty() => return Err("<after/> needs an id".into()),
        (None, Some(a)) => Page::After(a),
        (None, None) => Page::First,
    };
    Ok(q)
}

/// The nick a `with` names: an occupant JID of this room (the room itself: no filter).
fn with(value: &str, room: &BareJid) -> Result<Option<String>, String> {
    let jid = Jid::new(value.trim()).map_err(|_| "'with' must be a JID".to_string())?;
    if jid.to_bare() != *room {
        return Err("'with' must be an occupant of this room (room/nick)".into());
    }
    Ok(jid.resource().map(|r| r.as_str().to_string()))
}

/// `<message from=ROOM to=USER><result queryid id><forwarded><delay/><message type=groupchat
/// from=ROOM/nick>…` for one line.
pub fn result_message(
    room: &BareJid,
    to: &Jid,
    query_id: Option<&str>,
    line: &ArchivedLine,
) -> Message {
    let from: Jid = occupant(room, &line.nick).unwrap_or_else(|| room.clone().into());
    let mut inner = Element::builder("message", "jabber:client")
        .append(text_el("body", "jabber:client", line.body.clone()))
        .append(stanza_id(room, &line.id))
        .build();
    set_attr(&mut inner, "type", "groupchat");
    set_attr(&mut inner, "from", from.to_string());
    set_attr(&mut inner, "id", line.id.clone());
    let mut delay = Element::builder("delay", NS_DELAY).build();
    set_attr(&mut delay, "stamp", rfc3339(line.at));
    let forwarded = Element::builder("forwarded", NS_FORWARD)
        .append(delay)
        .append(inner)
        .build();
    let mut result = Element::builder("result", NS).append(forwarded).build();
    set_attr(&mut result, "id", line.id.clone());
    if let Some(q) = query_id {
        set_attr(&mut result, "queryid", q);
    }
    let mut m = Message::new(Some(to.clone()));
    m.type_ = MessageType::Normal;
    m.from = Some(room.clone().into());
    m.payloads.push(result);
    m
}

/// The `<fin/>` that answers the query: whether the page reaches the end of what matches,
/// and its first and last ids (none on an empty page).
pub fn fin(complete: bool, first: Option<&str>, last: Option<&str>) -> Element {
    let mut set = Element::builder("set", NS_RSM).build();
    if let Some(first) = first {
        set.append_child(text_el("first", NS_RSM, first));
    }
    if let Some(last) = last {
        set.append_child(text_el("last", NS_RSM, last));
    }
    let mut fin = Element::builder("fin", NS).append(set).build();
    set_attr(
        &mut fin,
        "complete",
        if complete { "true" } else { "false" },
    );
    fin
}

/// The form an iq get on a room's MAM query gets: the fields it may be filtered by.
pub fn query_form() -> Element {
    let fields = vec![
        field("start", FieldType::TextSingle, "From", false, None),
        field("end", FieldType::TextSingle, "Until", false, None),
        field(
            "with",
            FieldType::JidSingle,
            "Said by (room/nick)",
            false,
            None,
        ),
        field("before-id", FieldType::TextSingle, "Before", false, None),
        field("after-id", FieldType::TextSingle, "After", false, None),
    ];
    let form = data_form(DataFormType::Form, NS, None, None, fields);
    Element::builder("query", NS)
        .append(Element::from(form))
        .build()
}

#[cfg(test)]
mod tests;
