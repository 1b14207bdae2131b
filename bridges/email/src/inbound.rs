//! Incoming mail, reduced to what a chat shows: who wrote, the subject, the new text and
//! a list of attachments.

use crate::address::MailAddress;
use crate::{header, html, reply};
use mail_parser::{MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};

/// Longest text passed on (characters); longer ones are cut with a note.
pub const MAX_TEXT: usize = 20_000;

/// One incoming mail as a chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMail {
    /// The sender (From), checked.
    #[serde(with = "as_string")]
    pub from: MailAddress,
    /// The sender's display name, made safe.
    pub from_name: Option<String>,
    /// The subject, one line.
    pub subject: Option<String>,
    /// What the sender wrote: text/plain preferred, HTML turned to text, the quote and the
    /// signature removed, then a line per attachment.
    pub text: String,
    /// Its Message-ID (to thread the answer).
    pub message_id: Option<String>,
    /// Whether an authenticated path vouched for `from` (set by the listener; a mail
    /// stored before this field existed counts as unverified).
    #[serde(default)]
    pub verified: bool,
}

/// Why a mail cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// Not a parseable message.
    #[error("not a mail message")]
    Unparsable,
    /// No usable From address.
    #[error("the mail has no usable From address")]
    NoSender,
}

/// Parses a raw message.
pub fn parse(raw: &[u8]) -> Result<InboundMail, InboundError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(InboundError::Unparsable)?;
    let sender = message
        .from()
        .and_then(|a| a.first())
        .ok_or(InboundError::NoSender)?;
    let from = sender
        .address()
        .and_then(|a| MailAddress::parse(a).ok())
        .ok_or(InboundError::NoSender)?;
    let from_name = sender
        .name()
        .map(header::display_name)
        .filter(|n| !n.is_empty());
    let subject = message
        .subject()
        .map(header::subject)
        .filter(|s| !s.is_empty());
    let body = match message.body_text(0) {
        Some(text)
            if message.text_body.first().is_some_and(|&i| {
                message
                    .parts
                    .get(i as usize)
                    .is_some_and(|p| !p.is_content_type("text", "html"))
            }) =>
        {
            text.into_owned()
        }
        _ => message
            .body_html(0)
            .map(|h| html::to_text(&h))
            .unwrap_or_default(),
    };
    let mut text = reply::new_text(&body);
    for part in message.attachments() {
        let name = part
            .attachment_name()
            .map(|n| header::one_line(n, 100))
            .unwrap_or_else(|| "unnamed".into());
        text.push_str(&format!("\n[attachment: {name}, {}]", size(part.len())));
    }
    let text = text.trim().to_string();
    let text = match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{} […]", &text[..cut]),
        None => text,
    };
    Ok(InboundMail {
        from,
        from_name,
        subject,
        text,
        message_id: message.message_id().map(|id| header::one_line(id, 250)),
        verified: false,
    })
}

/// A checked address stored as its text.
mod as_string {
    use crate::address::MailAddress;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &MailAddress, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&a.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MailAddress, D::Error> {
        let text = String::deserialize(d)?;
        MailAddress::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn size(bytes: usize) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_reply_arrives_as_its_new_text() {
        let raw = "From: Bob Example <bob@example.net>\r\nTo: alice@mail.example.org\r\n\
            Subject: Re: Lunch\r\nMessage-ID: <b1@example.net>\r\n\r\n\
            Five is fine.\r\n\r\nOn Mon, 23 Nov 2026 at 09:12, Alice wrote:\r\n> Lunch?\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.from.to_string(), "bob@example.net");
        assert_eq!(m.from_name.as_deref(), Some("Bob Example"));
        assert_eq!(m.subject.as_deref(), Some("Re: Lunch"));
        assert_eq!(m.text, "Five is fine.");
        assert_eq!(m.message_id.as_deref(), Some("b1@example.net"));
    }

    #[test]
    fn html_only_mail_and_attachments() {
        let raw = "From: carol@example.com\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\
            MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi &amp; <b>bye</b></p>\r\n\
            --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"plan.pdf\"\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert_eq!(m.subject.as_deref(), Some("Grüße"));
        assert_eq!(m.text, "Hi & bye\n[attachment: plan.pdf, 9 B]");
    }

    #[test]
    fn mail_without_a_sender_is_refused() {
        assert_eq!(
            parse(b"Subject: x\r\n\r\nbody\r\n"),
            Err(InboundError::NoSender)
        );
        assert_eq!(
            parse(b"From: not an address\r\n\r\nbody\r\n"),
            Err(InboundError::NoSender)
        );
    }

    /// The hostile mails of the security review (H2): quadratic work took minutes on
    /// them (5 s for 100 000 blank lines, 22 s for 400 lines of `&`); linear work takes a
    /// fraction of a second even in a debug build.
    #[test]
    fn hostile_bodies_take_linear_time() {
        let blank = format!(
            "From: a@evil.example\r\nSubject: x\r\n\r\n{}x\r\n",
            "\r\n".repeat(1_000_000)
        );
        let amps = format!(
            "From: a@evil.example\r\nContent-Type: text/html\r\n\r\n{}",
            format!("{}\r\n", "&".repeat(998)).repeat(1000)
        );
        for (name, raw) in [("blank lines", blank), ("ampersands", amps)] {
            let started = std::time::Instant::now();
            let mail = parse(raw.as_bytes()).unwrap();
            let took = started.elapsed();
            assert!(took < std::time::Duration::from_secs(5), "{name}: {took:?}");
            assert!(!mail.text.is_empty(), "{name}");
            eprintln!("{name}: {} bytes parsed in {took:?}", raw.len());
        }
    }
}
