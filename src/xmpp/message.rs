//! Chat messages: from XMPP users to the neutral model and back.

use super::text::{xml_string, xml_text};
use switchboard_bridge::{Attachment, MessageContent, TextKind};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Id, Message, MessageType};
use xmpp_parsers::ns;
use xmpp_parsers::oob::Oob;
use xmpp_parsers::receipts::Received;

/// Longest body the gateway takes from a user (bytes); bridges split further.
pub const MAX_BODY: usize = 64 * 1024;

/// What a user's message says, or `None` when it has no body (chat states, receipts…).
pub fn content(msg: &Message) -> Result<Option<MessageContent>, String> {
    let Some((_, body)) = msg.get_best_body(vec!["en", ""]) else {
        return Ok(None);
    };
    if body.len() > MAX_BODY {
        return Err(format!(
            "the message is {} bytes long; the gateway takes at most {MAX_BODY}",
            body.len()
        ));
    }
    let subject = msg.get_best_subject(vec!["en", ""]).map(|(_, s)| s.clone());
    let attachments = oob_urls(msg);
    // Clients put the URL of a shared file in the body too (XEP-0066 as Conversations
    // uses it); the file goes as an attachment, not as text.
    let mut body = body.as_str();
    for a in &attachments {
        if let Some(rest) = body.trim_end().strip_suffix(a.url.as_str()) {
            body = rest.trim_end();
        }
    }
    let (kind, text) = match body.strip_prefix("/me ") {
        Some(action) => (TextKind::Action, action.to_string()),
        None => (TextKind::Normal, body.to_string()),
    };
    Ok(Some(MessageContent {
        text,
        kind,
        subject,
        attachments,
    }))
}

/// Longest attachment URL taken from a user.
const MAX_URL: usize = 2048;
/// Attachments taken from one message.
const MAX_ATTACHMENTS: usize = 10;

/// XEP-0066 out-of-band URLs of a message (http and https only).
fn oob_urls(msg: &Message) -> Vec<Attachment> {
    msg.payloads
        .iter()
        .filter(|p| p.is("x", ns::OOB))
        .filter_map(|p| p.get_child("url", ns::OOB))
        .map(|u| u.text().trim().to_string())
        .filter(|u| u.len() <= MAX_URL && (u.starts_with("https://") || u.starts_with("http://")))
        .take(MAX_ATTACHMENTS)
        .map(|url| Attachment {
            url,
            media_type: None,
        })
        .collect()
}

/// The messages that show foreign content to a user: the text, then one message per
/// attachment whose body is its URL with XEP-0066 data (so clients show it inline).
pub fn to_user_parts(from: Jid, to: Jid, content: &MessageContent) -> Vec<Message> {
    let mut out = Vec::new();
    if !content.text.is_empty() || content.attachments.is_empty() {
        out.push(to_user(from.clone(), to.clone(), content));
    }
    for a in &content.attachments {
        let url = xml_text(&a.url).into_owned();
        let mut m = Message::chat(to.clone()).with_body("".into(), url.clone());
        m.from = Some(from.clone());
        m.id = Some(Id(format!("sb-{:016x}", rand::random::<u64>())));
        m.payloads.push(Oob { url, desc: None }.into());
        out.push(m);
    }
    out
}

/// True when the sender asked for an XEP-0184 receipt.
pub fn wants_receipt(msg: &Message) -> bool {
    msg.payloads.iter().any(|p| p.is("request", ns::RECEIPTS))
}

/// The body XMPP clients show for some content (`/me …` for actions).
pub fn body(content: &MessageContent) -> String {
    match content.kind {
        TextKind::Action => format!("/me {}", content.text),
        TextKind::Normal | TextKind::Notice => content.text.clone(),
    }
}

/// A chat message from a foreign contact to a user (body and subject made fit for XML).
pub fn to_user(from: Jid, to: Jid, content: &MessageContent) -> Message {
    let body = xml_string(body(content));
    let mut m = Message::chat(to).with_body("".into(), body);
    m.from = Some(from);
    m.id = Some(Id(format!("sb-{:016x}", rand::random::<u64>())));
    if let Some(subject) = &content.subject {
        m.subjects.insert("".into(), xml_text(subject).into_owned());
    }
    if content.kind == TextKind::Notice {
        m.type_ = MessageType::Normal;
    }
    m
}

/// An XEP-0184 receipt for the message the user sent with `id`.
pub fn receipt(from: Jid, to: Jid, id: &str) -> Message {
    let mut m = Message::new(to).with_payload(Received { id: id.to_string() });
    m.from = Some(from);
    m
}

/// Whether a message of this type is one a user writes to a contact.
pub fn is_chat(msg: &Message) -> bool {
    matches!(msg.type_, MessageType::Chat | MessageType::Normal)
}

/// XEP-0334's namespace.
const NS_HINTS: &str = "urn:xmpp:hints";

/// What a network says about the user's connection, from its JID to one resource: a chat
/// message that is neither copied to other resources (XEP-0280 `<private/>`, XEP-0334
/// `<no-copy/>`) nor archived or stored offline (`<no-store/>`), as it matters only now.
pub fn network_text(from: Jid, to: Jid, text: &str) -> Message {
    let mut m = Message::chat(to).with_body("".into(), xml_text(text).into_owned());
    m.from = Some(from);
    m.id = Some(Id(format!("sb-{:016x}", rand::random::<u64>())));
    for hint in ["no-copy", "no-store"] {
        m.payloads
            .push(minidom::Element::builder(hint, NS_HINTS).build());
    }
    m.payloads.push(xmpp_parsers::carbons::Private.into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::{element_xml, stanza};

    #[test]
    fn network_text_is_private_and_never_stored() {
        let mut m = network_text(
            Jid::new("net@irc.example").unwrap(),
            Jid::new("alice@example.org/phone").unwrap(),
            "irc.test: *** Looking up your hostname\u{1}",
        );
        m.id = None;
        assert_eq!(
            element_xml(m),
            "<message xmlns='jabber:component:accept' from='net@irc.example' to='alice@example.org/phone' type='chat'>\
             <body>irc.test: *** Looking up your hostname</body>\
             <no-copy xmlns='urn:xmpp:hints'/><no-store xmlns='urn:xmpp:hints'/>\
             <private xmlns='urn:xmpp:carbons:2'/></message>"
        );
    }
    use xmpp_parsers::stanza::Stanza;

    fn msg(xml: &str) -> Message {
        match stanza(xml) {
            Stanza::Message(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn reads_body_subject_action_and_receipt_request() {
        let m = msg("<message xmlns='jabber:component:accept' from='a@x/r' to='b@echo.test' type='chat' id='1'>\
            <body>/me waves</body><subject>Hi</subject><request xmlns='urn:xmpp:receipts'/></message>");
        let c = content(&m).unwrap().unwrap();
        assert_eq!(c.text, "waves");
        assert_eq!(c.kind, TextKind::Action);
        assert_eq!(c.subject.as_deref(), Some("Hi"));
        assert!(wants_receipt(&m));
        let state = msg(
            "<message xmlns='jabber:component:accept' from='a@x/r' to='b@echo.test' type='chat'>\
            <active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        );
        assert_eq!(content(&state).unwrap(), None);
        assert!(!wants_receipt(&state));
    }

    #[test]
    fn oob_urls_become_attachments_and_leave_the_body() {
        let m = msg(
            "<message xmlns='jabber:component:accept' from='a@x/r' to='b@echo.test' type='chat'>\
            <body>look https://up.example/cat.jpg</body>\
            <x xmlns='jabber:x:oob'><url>https://up.example/cat.jpg</url></x>\
            <x xmlns='jabber:x:oob'><url>file:///etc/passwd</url></x></message>",
        );
        let c = content(&m).unwrap().unwrap();
        assert_eq!(c.text, "look");
        assert_eq!(c.attachments.len(), 1, "only http(s) URLs are taken");
        assert_eq!(c.attachments[0].url, "https://up.example/cat.jpg");
        let parts = to_user_parts(
            Jid::new("+1555@sms.test").unwrap(),
            Jid::new("a@x").unwrap(),
            &c,
        );
        assert_eq!(parts.len(), 2);
        let media = element_xml(parts[1].clone());
        assert!(
            media.contains("<body>https://up.example/cat.jpg</body>")
                && media
                    .contains("<x xmlns='jabber:x:oob'><url>https://up.example/cat.jpg</url></x>"),
            "{media}"
        );
    }

    #[test]
    fn refuses_oversized_bodies() {
        let big = "x".repeat(MAX_BODY + 1);
        let m = msg(&format!("<message xmlns='jabber:component:accept' from='a@x/r' to='b@echo.test'><body>{big}</body></message>"));
        assert!(content(&m).unwrap_err().contains("at most 65536"));
    }

    #[test]
    fn builds_messages_and_receipts() {
        let from = Jid::new("bob@echo.test").unwrap();
        let to = Jid::new("a@x").unwrap();
        let m = to_user(
            from.clone(),
            to.clone(),
            &MessageContent {
                text: "waves".into(),
                kind: TextKind::Action,
                subject: None,
                attachments: vec![],
            },
        );
        let xml = element_xml(m);
        assert!(
            xml.contains("<body>/me waves</body>")
                && xml.contains("type='chat'")
                && xml.contains("from='bob@echo.test'"),
            "{xml}"
        );
        assert_eq!(
            element_xml(receipt(from, to, "m1")),
            "<message xmlns='jabber:component:accept' from='bob@echo.test' to='a@x' type='chat'><received xmlns='urn:xmpp:receipts' id='m1'/></message>"
        );
    }

    #[test]
    fn foreign_text_is_made_fit_for_xml() {
        let c = MessageContent {
            text: "ring\u{7}bell".into(),
            kind: TextKind::Normal,
            subject: Some("page\u{c}break".into()),
            attachments: vec![Attachment {
                url: "https://up.example/\u{1b}x".into(),
                media_type: None,
            }],
        };
        let parts = to_user_parts(
            Jid::new("+1555@sms.test").unwrap(),
            Jid::new("a@x").unwrap(),
            &c,
        );
        let text = element_xml(parts[0].clone());
        assert!(
            text.contains("<body>ringbell</body>")
                && text.contains("<subject>page\nbreak</subject>"),
            "{text}"
        );
        let media = element_xml(parts[1].clone());
        assert!(
            media.contains("<body>https://up.example/x</body>")
                && media.contains("<url>https://up.example/x</url>"),
            "{media}"
        );
    }
}
