//! A line relayed to a room's occupants, written straight from parts every copy shares.
//!
//! A line said in a room of K occupants' resources becomes K messages that differ only in
//! `to`. [`RoomLine`] holds the rest once: the occupant JID it is from, the id, the body,
//! the stanza-id and any other payloads, checked once for what XML cannot carry. Each
//! copy ([`RoomLineCopy`]) is a shared pointer and a recipient, serialised by the link
//! as XML items ([`xso::AsXml`]) without building a [`minidom::Element`] per recipient.
//! [`RoomLine::element`] gives the same stanza as an element, and a test checks that the
//! two write the same XML as [`super::muc::groupchat_element`].

use super::text::first_forbidden;
use minidom::rxml::{Namespace, NcNameStr};
use minidom::Element;
use std::borrow::Cow;
use std::sync::{Arc, LazyLock};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::ns;
use xso::error::Error;
use xso::{AsXml, Item};

/// The XEP-0359 namespace.
const NS_SID: &str = "urn:xmpp:sid:0";

/// The element and attribute names written, checked once.
struct Names {
    message: &'static NcNameStr,
    body: &'static NcNameStr,
    stanza_id: &'static NcNameStr,
    from: &'static NcNameStr,
    id: &'static NcNameStr,
    to: &'static NcNameStr,
    kind: &'static NcNameStr,
    by: &'static NcNameStr,
}

static NAMES: LazyLock<Names> = LazyLock::new(|| {
    let name = |s: &'static str| <&NcNameStr>::try_from(s).expect("a valid XML name");
    Names {
        message: name("message"),
        body: name("body"),
        stanza_id: name("stanza-id"),
        from: name("from"),
        id: name("id"),
        to: name("to"),
        kind: name("type"),
        by: name("by"),
    }
});

/// Why a line cannot be relayed: a character XML cannot carry in one of its parts (the
/// body is cleaned before, so this means a bug upstream).
#[derive(Debug, PartialEq, Eq)]
pub struct Unwritable(pub String);

/// What every copy of a relayed room line shares.
#[derive(Debug)]
pub struct RoomLine {
    from: Jid,
    id: String,
    body: String,
    /// The stanza-id's `by` and `id`.
    stanza_id: Option<(BareJid, String)>,
    /// Other payloads (a `<delay/>`), after the stanza-id.
    extra: Vec<Element>,
}

impl RoomLine {
    /// A line from occupant `from` with `body` (already cleaned for XML), the sender's `id`
    /// (or a fresh one, the same for every copy), the archive's stanza-id in `room`, and
    /// other payloads. Refused if any part holds what XML cannot carry. Takes its parts
    /// (a line made for a single copy allocates nothing more).
    pub fn new(
        from: Jid,
        body: String,
        id: Option<String>,
        stanza_id: Option<(BareJid, String)>,
        extra: Vec<Element>,
    ) -> Result<Arc<Self>, Unwritable> {
        let line = RoomLine {
            from,
            id: id.unwrap_or_else(|| format!("sb-{:016x}", rand::random::<u64>())),
            body,
            stanza_id,
            extra,
        };
        let texts = [line.from.as_str(), &line.id, &line.body];
        let sid = line.stanza_id.iter().flat_map(|(by, id)| [by.as_str(), id]);
        if let Some(c) = texts.into_iter().chain(sid).find_map(first_forbidden) {
            return Err(Unwritable(format!("U+{:04X} in a room line", c as u32)));
        }
        if let Some(why) = line.extra.iter().find_map(super::text::unwritable) {
            return Err(Unwritable(why));
        }
        Ok(Arc::new(line))
    }

    /// The copy for one recipient.
    pub fn to(self: &Arc<Self>, to: Jid) -> RoomLineCopy {
        RoomLineCopy {
            line: Arc::clone(self),
            to,
        }
    }
}

/// One recipient's copy of a [`RoomLine`].
#[derive(Debug, Clone)]
pub struct RoomLineCopy {
    line: Arc<RoomLine>,
    to: Jid,
}

impl RoomLineCopy {
    /// The recipient.
    pub fn recipient(&self) -> &Jid {
        &self.to
    }

    /// The stanza as an element (for tests, logs and the fuzz rig; the link writes the
    /// items directly).
    pub fn element(&self) -> Element {
        xso::transform(self).expect("a room line converts to an element")
    }
}

impl AsXml for RoomLineCopy {
    type ItemIter<'x> = Items<'x>;

    fn as_xml_iter(&self) -> Result<Items<'_>, Error> {
        Ok(Items {
            copy: self,
            step: 0,
            extra: 0,
            nested: None,
        })
    }
}

/// The XML items of a copy, in order: the message head and its attributes (in the order
/// minidom writes them: from, id, to, type), the body, the stanza-id, the other payloads
/// and the message's end.
pub struct Items<'x> {
    copy: &'x RoomLineCopy,
    step: u8,
    extra: usize,
    nested: Option<<Element as AsXml>::ItemIter<'x>>,
}

fn attr<'x>(name: &'static NcNameStr, value: &'x str) -> Item<'x> {
    Item::Attribute(
        Namespace::none().clone(),
        Cow::Borrowed(name),
        Cow::Borrowed(value),
    )
}

fn head<'x>(namespace: &'static str, name: &'static NcNameStr) -> Item<'x> {
    Item::ElementHeadStart(Namespace::from_str(namespace), Cow::Borrowed(name))
}

impl<'x> Iterator for Items<'x> {
    type Item = Result<Item<'x>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let names = &*NAMES;
        let line = &*self.copy.line;
        loop {
            let step = self.step;
            self.step = self.step.saturating_add(1);
            let item = match step {
                0 => head(ns::DEFAULT_NS, names.message),
                1 => attr(names.from, line.from.as_str()),
                2 => attr(names.id, &line.id),
                3 => attr(names.to, self.copy.to.as_str()),
                4 => attr(names.kind, "groupchat"),
                5 => Item::ElementHeadEnd,
                6 => head(ns::DEFAULT_NS, names.body),
                7 => Item::ElementHeadEnd,
                8 => Item::Text(Cow::Borrowed(&line.body)),
                9 => Item::ElementFoot,
                10..=13 => {
                    let Some((by, id)) = &line.stanza_id else {
                        self.step = 14;
                        continue;
                    };
                    match step {
                        10 => head(NS_SID, names.stanza_id),
                        11 => attr(names.by, by.as_str()),
                        12 => attr(names.id, id),
                        _ => Item::ElementFoot,
                    }
                }
                14 => {
                    if let Some(nested) = self.nested.as_mut() {
                        if let Some(item) = nested.next() {
                            self.step = 14;
                            return Some(item);
                        }
                        self.nested = None;
                    }
                    let Some(element) = line.extra.get(self.extra) else {
                        continue;
                    };
                    self.extra += 1;
                    self.step = 14;
                    match element.as_xml_iter() {
                        Ok(iter) => self.nested = Some(iter),
                        Err(e) => return Some(Err(e)),
                    }
                    continue;
                }
                15 => Item::ElementFoot,
                _ => return None,
            };
            return Some(Ok(item));
        }
    }
}

#[cfg(test)]
mod tests;
