//! Digest mails: what a room (or the missed messages of a user) said during a period, as
//! one multipart mail (text and HTML), grouped by source and sender.

use crate::address::MailAddress;
use crate::header;
use crate::html::escape;
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// One message collected for a digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    /// Who wrote it.
    pub sender: String,
    /// What they wrote.
    pub text: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// One source of a digest: a room, a channel, or "missed messages".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Its name as shown (`#rust%libera@irc.example.org`, "Missed messages").
    pub name: String,
    /// An `xmpp:` link back to it, when it has one.
    pub link: Option<String>,
    /// What was said, oldest first.
    pub items: Vec<Item>,
}

/// What a digest mail needs besides its sources.
pub struct Envelope<'a> {
    /// The gateway's sender address.
    pub from: &'a MailAddress,
    /// The subscriber.
    pub to: &'a MailAddress,
    /// `mailto:` address that unsubscribes (handled by our SMTP listener).
    pub unsubscribe_mailto: &'a str,
    /// One-click `https:` URL that unsubscribes (RFC 8058).
    pub unsubscribe_url: &'a str,
    /// Message-ID without angle brackets.
    pub message_id: &'a str,
    /// Items shown per source; the rest are counted.
    pub max_items: usize,
}

/// A sender's messages within one source, in order of first appearance.
fn by_sender(items: &[Item]) -> Vec<(&str, Vec<&Item>)> {
    let mut groups: Vec<(&str, Vec<&Item>)> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|(s, _)| *s == item.sender) {
            Some((_, list)) => list.push(item),
            None => groups.push((&item.sender, vec![item])),
        }
    }
    groups
}

/// One sender's part of a source: name, messages in all, messages shown.
type SenderPart<'a> = (&'a str, usize, Vec<&'a Item>);

/// What a source shows: its senders' parts, and how many messages are left out.
fn shown(items: &[Item], max: usize) -> (Vec<SenderPart<'_>>, usize) {
    let mut left = max;
    let mut hidden = 0;
    let groups = by_sender(items)
        .into_iter()
        .map(|(sender, list)| {
            let total = list.len();
            let take = total.min(left);
            left -= take;
            hidden += total - take;
            (sender, total, list.into_iter().take(take).collect())
        })
        .collect();
    (groups, hidden)
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The subject: how much, and where.
pub fn subject(sources: &[Source]) -> String {
    let total: usize = sources.iter().map(|s| s.items.len()).sum();
    let messages = count(total, "new message", "new messages");
    match sources {
        [one] => header::subject(&format!("Digest: {messages} in {}", one.name)),
        _ => header::subject(&format!(
            "Digest: {messages} in {}",
            count(sources.len(), "conversation", "conversations")
        )),
    }
}

/// The text part.
pub fn text(sources: &[Source], max_items: usize, unsubscribe_url: &str) -> String {
    let mut out = String::new();
    for source in sources.iter().filter(|s| !s.items.is_empty()) {
        let senders = by_sender(&source.items).len();
        out.push_str(&format!(
            "{} — {} from {}\n",
            source.name,
            count(source.items.len(), "message", "messages"),
            count(senders, "person", "people")
        ));
        if let Some(link) = &source.link {
            out.push_str(&format!("{link}\n"));
        }
        let (groups, hidden) = shown(&source.items, max_items);
        for (sender, total, items) in groups {
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("\n  {sender} ({total}):\n"));
            for item in items {
                let line = header::one_line(&item.text, 500);
                out.push_str(&format!("    [{}] {line}\n", item.at.format("%H:%M")));
            }
        }
        if hidden > 0 {
            out.push_str(&format!("\n  …and {hidden} more\n"));
        }
        out.push('\n');
    }
    out.push_str(&format!("--\nUnsubscribe: {unsubscribe_url}\n"));
    out
}

/// The HTML part; everything that came from a chat is escaped.
pub fn html(sources: &[Source], max_items: usize, unsubscribe_url: &str) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">",
    );
    for source in sources.iter().filter(|s| !s.items.is_empty()) {
        let name = escape(&source.name);
        let title = match &source.link {
            Some(link) => format!("<a href=\"{}\">{name}</a>", escape(link)),
            None => name,
        };
        out.push_str(&format!(
            "<h2>{title}</h2><p>{} from {}</p>",
            count(source.items.len(), "message", "messages"),
            count(by_sender(&source.items).len(), "person", "people")
        ));
        let (groups, hidden) = shown(&source.items, max_items);
        for (sender, total, items) in groups {
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("<h3>{} ({total})</h3><ul>", escape(sender)));
            for item in items {
                out.push_str(&format!(
                    "<li><small>{}</small> {}</li>",
                    item.at.format("%H:%M"),
                    escape(&header::one_line(&item.text, 500))
                ));
            }
            out.push_str("</ul>");
        }
        if hidden > 0 {
            out.push_str(&format!("<p>…and {hidden} more</p>"));
        }
    }
    out.push_str(&format!(
        "<hr><p><small><a href=\"{}\">Unsubscribe</a></small></p></body></html>",
        escape(unsubscribe_url)
    ));
    out
}

/// The digest mail, or `None` when nothing was said (an empty period sends nothing).
pub fn build(env: &Envelope<'_>, sources: &[Source]) -> Result<Option<Message>, String> {
    if sources.iter().all(|s| s.items.is_empty()) {
        return Ok(None);
    }
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    let from: Mailbox = Mailbox::new(
        Some("Switchboard digests".into()),
        env.from.to_string().parse().map_err(|e| format!("{e}"))?,
    );
    let to: Mailbox = env.to.to_string().parse().map_err(|e| format!("{e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject(sources))
        .message_id(Some(format!("<{}>", env.message_id)))
        .raw_header(raw(
            "List-Unsubscribe",
            format!(
                "<mailto:{}>, <{}>",
                env.unsubscribe_mailto, env.unsubscribe_url
            ),
        ))
        .raw_header(raw(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ))
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text(sources, env.max_items, env.unsubscribe_url)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html(sources, env.max_items, env.unsubscribe_url)),
                ),
        )
        .map_err(|e| e.to_string())?;
    Ok(Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sender: &str, text: &str, minute: u32) -> Item {
        Item {
            sender: sender.into(),
            text: text.into(),
            at: DateTime::parse_from_rfc3339(&format!("2026-11-23T09:{minute:02}:00Z"))
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    fn room() -> Source {
        let mut items = Vec::new();
        for i in 0..20 {
            let sender = ["alice", "bob", "<script>carol</script>"][i % 3];
            items.push(item(
                sender,
                &format!("message {i} & <b>bold</b>"),
                i as u32,
            ));
        }
        Source {
            name: "room@conference.localhost".into(),
            link: Some("xmpp:room@conference.localhost?join".into()),
            items,
        }
    }

    #[test]
    fn groups_by_sender_counts_and_caps() {
        let text = text(&[room()], 10, "https://gw/u?t=1");
        assert!(text.starts_with("room@conference.localhost — 20 messages from 3 people\nxmpp:room@conference.localhost?join\n"), "{text}");
        assert!(
            text.contains("\n  alice (7):\n    [09:00] message 0 & <b>bold</b>\n"),
            "{text}"
        );
        assert!(text.contains("…and 10 more"), "{text}");
        assert_eq!(text.matches("    [09:").count(), 10);
        assert_eq!(
            subject(&[room()]),
            "Digest: 20 new messages in room@conference.localhost"
        );
    }

    #[test]
    fn html_is_escaped_and_links_back() {
        let html = html(&[room()], 20, "https://gw/u?t=1&x=\"y\"");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;carol&lt;/script&gt; (6)"),
            "{html}"
        );
        assert!(
            html.contains("message 0 &amp; &lt;b&gt;bold&lt;/b&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"xmpp:room@conference.localhost?join\">"),
            "{html}"
        );
        assert!(
            html.contains("href=\"https://gw/u?t=1&amp;x=&quot;y&quot;\""),
            "{html}"
        );
    }

    #[test]
    fn one_multipart_mail_with_unsubscribe_headers_or_none_when_empty() {
        let (from, to) = (
            MailAddress::parse("digests@mail.localhost").unwrap(),
            MailAddress::parse("reader@example.net").unwrap(),
        );
        let env = Envelope {
            from: &from,
            to: &to,
            unsubscribe_mailto: "unsubscribe+tok@mail.localhost",
            unsubscribe_url: "https://gw.example/digest/unsubscribe?token=tok",
            message_id: "d1@mail.localhost",
            max_items: 50,
        };
        let m = build(&env, &[room()]).unwrap().unwrap();
        // Long headers are folded; unfold to compare.
        let raw = String::from_utf8(m.formatted())
            .unwrap()
            .replace("\r\n ", " ");
        assert!(raw.contains("List-Unsubscribe: <mailto:unsubscribe+tok@mail.localhost>, <https://gw.example/digest/unsubscribe?token=tok>\r\n"), "{raw}");
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let empty = Source {
            items: vec![],
            ..room()
        };
        assert!(build(&env, &[empty]).unwrap().is_none());
    }
}
