//! Outgoing mail: one chat message as one mail, threaded per correspondent.

use crate::address::MailAddress;
use crate::header;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::Message;
use serde::{Deserialize, Serialize};

/// References kept in a thread (the first and the latest ones).
const MAX_REFERENCES: usize = 10;

/// What the gateway remembers of a conversation with one correspondent, so that every
/// mail continues the same thread.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// Message-IDs of the thread, oldest first (the first one and the latest ones).
    pub ids: Vec<String>,
    /// The subject of the thread, once there is one.
    #[serde(default)]
    pub subject: Option<String>,
}

impl Thread {
    /// Adds a message to the thread, keeping the first and the latest ids.
    pub fn push(&mut self, id: String) {
        if self.ids.contains(&id) {
            return;
        }
        self.ids.push(id);
        if self.ids.len() > MAX_REFERENCES {
            self.ids.remove(1);
        }
    }
}

/// One mail to write.
pub struct Draft<'a> {
    /// The user's name, shown in From.
    pub from_name: &'a str,
    /// The user's own address (`alias@address_domain`).
    pub from: &'a MailAddress,
    /// The correspondent.
    pub to: &'a MailAddress,
    /// The subject the user gave, if any.
    pub subject: Option<&'a str>,
    /// The text.
    pub text: &'a str,
    /// The Message-ID, without angle brackets (stable across retries).
    pub message_id: &'a str,
}

/// Why a mail could not be built (a checked address that lettre still refuses).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the mail: {0}")]
pub struct ComposeError(pub String);

/// Builds the mail, continuing `thread`; returns it with the subject used.
pub fn compose(draft: &Draft<'_>, thread: &Thread) -> Result<(Message, String), ComposeError> {
    let err = |e: &dyn std::fmt::Display| ComposeError(e.to_string());
    let from = Mailbox::new(
        Some(header::display_name(draft.from_name)).filter(|n| !n.is_empty()),
        draft.from.to_string().parse().map_err(|e| err(&e))?,
    );
    let to = Mailbox::new(None, draft.to.to_string().parse().map_err(|e| err(&e))?);
    let subject = match (draft.subject, &thread.subject) {
        (Some(s), _) if !header::subject(s).is_empty() => header::subject(s),
        (_, Some(s)) => reply_subject(s),
        _ => header::derived_subject(draft.text, &format!("Message from {}", draft.from_name)),
    };
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(subject.clone())
        .message_id(Some(format!("<{}>", draft.message_id)))
        .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_string());
    if let Some(last) = thread.ids.last() {
        builder = builder.in_reply_to(format!("<{last}>"));
        let refs: Vec<String> = thread.ids.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.references(refs.join(" "));
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(draft.text.to_string())
        .map_err(|e| err(&e))?;
    Ok((message, subject))
}

/// "Re: <subject>", without piling up prefixes.
pub fn reply_subject(subject: &str) -> String {
    let s = header::subject(subject);
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("re:") {
        s
    } else {
        header::subject(&format!("Re: {s}"))
    }
}

/// A Message-ID from a stable token (the gateway's transaction id) and the host name.
pub fn message_id(token: &str, hostname: &str) -> String {
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    format!("{token}@{hostname}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> MailAddress {
        MailAddress::parse(s).unwrap()
    }

    fn formatted(m: &Message) -> String {
        String::from_utf8(m.formatted()).unwrap()
    }

    #[test]
    fn a_first_mail_has_a_derived_subject_and_no_thread_headers() {
        let (from, to) = (addr("alice@mail.example.org"), addr("bob@example.net"));
        let draft = Draft {
            from_name: "Alice \"Admin\"\r\nBcc: evil@x",
            from: &from,
            to: &to,
            subject: None,
            text: "Lunch today?\nAt five.",
            message_id: "t1@mail.example.org",
        };
        let (m, subject) = compose(&draft, &Thread::default()).unwrap();
        assert_eq!(subject, "Lunch today?");
        let text = formatted(&m);
        // The name (made one line, quotes dropped) is encoded by lettre; it adds no header.
        assert!(
            text.contains(
                "From: =?utf-8?b?QWxpY2UgQWRtaW4gQmNjOiBldmlsQHg=?= <alice@mail.example.org>\r\n"
            ),
            "{text}"
        );
        assert!(text.contains("To: bob@example.net\r\n"), "{text}");
        assert!(
            text.contains("Message-ID: <t1@mail.example.org>\r\n"),
            "{text}"
        );
        assert!(!text.contains("In-Reply-To"), "{text}");
        assert!(!text.contains("\r\nBcc:"), "{text}");
    }

    #[test]
    fn later_mails_continue_the_thread() {
        let (from, to) = (addr("alice@mail.example.org"), addr("bob@example.net"));
        let mut thread = Thread::default();
        thread.push("a@x".into());
        thread.push("b@y".into());
        thread.subject = Some("Lunch".into());
        let draft = Draft {
            from_name: "Alice",
            from: &from,
            to: &to,
            subject: None,
            text: "ok",
            message_id: "t2@mail.example.org",
        };
        let (m, subject) = compose(&draft, &thread).unwrap();
        assert_eq!(subject, "Re: Lunch");
        let text = formatted(&m);
        assert!(text.contains("In-Reply-To: <b@y>\r\n"), "{text}");
        assert!(text.contains("References: <a@x> <b@y>\r\n"), "{text}");
        let injected = Draft {
            subject: Some("Hi\r\nBcc: victim@example.net"),
            ..draft
        };
        let (m, subject) = compose(&injected, &thread).unwrap();
        assert_eq!(subject, "Hi Bcc: victim@example.net");
        assert!(!formatted(&m).contains("\r\nBcc:"));
    }

    #[test]
    fn threads_keep_the_first_and_latest_ids() {
        let mut t = Thread::default();
        for i in 0..15 {
            t.push(format!("m{i}@x"));
        }
        assert_eq!(t.ids.len(), MAX_REFERENCES);
        assert_eq!(t.ids[0], "m0@x");
        assert_eq!(t.ids.last().unwrap(), "m14@x");
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(message_id("t<>\r\n1", "h.example"), "t1@h.example");
    }
}
