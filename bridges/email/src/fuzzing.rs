//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`) call these with arbitrary bytes, and each asserts the
//! invariants of what it exercises. Not part of the bridge's API.

use crate::address::{check_alias, MailAddress};
use crate::digest::{self, Item, Source};
use crate::inbound::{self, InboundMail, MAX_TEXT};
use crate::smtp::{
    DataReader, RcptVerdict, Reply, Session, SessionConfig, Step, MAX_COMMAND_LINE, MAX_DATA_LINE,
};
use crate::{header, html, reply};
use chrono::{DateTime, Utc};

/// Largest message the fuzzed SMTP session takes.
const MAX_MESSAGE: u64 = 64 * 1024;

/// An SMTP client's bytes through the session state machine, framed as the server frames
/// them (command lines up to [`MAX_COMMAND_LINE`], then the DATA phase read by a
/// [`DataReader`]); recipients at `mail.test` exist. Every message delivered is parsed as
/// the listener parses it ([`mail`]'s invariants).
///
/// Invariants: no panic; every reply is lines of `code text CRLF` without other control
/// characters, none longer than 512 octets; a delivered message is within the size limit
/// and has no line over [`MAX_DATA_LINE`]; the session closes after a bounded number of
/// steps past the end of the input.
pub fn smtp_session(data: &[u8]) {
    let config = SessionConfig {
        hostname: "mx.mail.test".into(),
        max_message_bytes: MAX_MESSAGE,
        max_recipients: 5,
        tls_available: data.first().is_some_and(|b| b % 2 == 1),
    };
    let mut session = Session::new(config, "192.0.2.1:25".parse().expect("an address"));
    check_reply(&session.greeting());
    let mut input = data;
    let mut discarding = false;
    loop {
        // The next line as the server cuts it (conn.next_line).
        let Some(lf) = input.iter().position(|&b| b == b'\n') else {
            return;
        };
        let mut line = &input[..lf];
        input = &input[lf + 1..];
        let step = if std::mem::take(&mut discarding) || line.len() + 1 > MAX_COMMAND_LINE {
            session.line_too_long()
        } else {
            line = line.strip_suffix(b"\r").unwrap_or(line);
            session.line(line)
        };
        let step = match step {
            Step::CheckRecipient(rcpt) => {
                let verdict = if rcpt.to_ascii_lowercase().ends_with("@mail.test") {
                    RcptVerdict::Accept
                } else {
                    RcptVerdict::Reject(format!("no mailbox {rcpt}\r\nhere"))
                };
                session.recipient_checked(verdict)
            }
            Step::StartData(reply) => {
                check_reply(&reply);
                let mut reader = DataReader::new(MAX_MESSAGE);
                match reader.feed(input) {
                    Some((outcome, used)) => {
                        input = &input[used..];
                        session.data_received(outcome)
                    }
                    None => return,
                }
            }
            step => step,
        };
        let step = match step {
            Step::Deliver(envelope, message) => {
                assert!(
                    message.len() as u64 <= MAX_MESSAGE,
                    "a message over the limit"
                );
                assert!(!envelope.rcpt_to.is_empty(), "a message without recipient");
                for l in message.split(|&b| b == b'\n') {
                    assert!(l.len() < MAX_DATA_LINE, "a delivered line over the limit");
                }
                let result = match inbound::parse(&message) {
                    Ok(mail) => {
                        check_mail(&mail);
                        Ok(format!("id\r\n{}", mail.text.len()))
                    }
                    Err(e) => Err(crate::smtp::DeliverError::Permanent(format!("5.6.0 {e}"))),
                };
                Step::Reply(session.delivered(result))
            }
            step => step,
        };
        match step {
            Step::Reply(reply) => check_reply(&reply),
            Step::StartTls(reply) => {
                check_reply(&reply);
                session.tls_started();
            }
            Step::Close(reply) => {
                check_reply(&reply);
                return;
            }
            other => panic!("a step the driver never gets here: {other:?}"),
        }
        if input.len() >= MAX_COMMAND_LINE && !input.contains(&b'\n') {
            discarding = true;
        }
    }
}

fn check_reply(reply: &Reply) {
    let wire = reply.to_wire();
    assert!(wire.ends_with(b"\r\n"), "a reply without CRLF");
    for line in wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").expect("reply lines end in CRLF");
        assert!(line.len() <= 512, "a reply line of {} octets", line.len());
        assert!(
            line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit),
            "a reply line without its code: {line:?}"
        );
        let text = String::from_utf8_lossy(line);
        assert!(
            !text.chars().any(char::is_control),
            "a control character in a reply: {text:?}"
        );
    }
}

/// A raw mail (as stored after DATA) reduced to what a chat shows, and the text helpers
/// on the same bytes taken as text: HTML to text, quote stripping, header lines.
///
/// Invariants: no panic; the text is at most [`MAX_TEXT`] characters (plus the cut
/// marker); sender name, subject and Message-ID are one line each; HTML to text and
/// quote stripping never grow the text by more than their entity expansion allows.
/// Returns what of the mail would go on to XMPP (text, subject, sender's name), for the
/// targets that carry it on.
pub fn mail(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(mail) = inbound::parse(data) {
        check_mail(&mail);
        out.push(mail.text);
        out.extend(mail.subject);
        out.extend(mail.from_name);
    }
    let text = String::from_utf8_lossy(data);
    let plain = html::to_text(&text);
    assert!(
        plain.chars().count() <= text.chars().count() * 2 + 2,
        "HTML to text grew {} characters into {}",
        text.chars().count(),
        plain.chars().count()
    );
    let new = reply::new_text(&text);
    assert!(new.len() <= text.len() + 1, "quote stripping grew the text");
    for max in [1, 60, 120] {
        let one = header::one_line(&text, max);
        assert!(!one.contains(['\r', '\n']));
        assert!(one.chars().count() <= max + 1);
    }
    let _ = header::display_name(&text);
    let _ = header::derived_subject(&text, "fallback");
    let escaped = html::escape(&text);
    assert!(!escaped.contains(['<', '>', '"']), "escape left markup");
    out
}

fn check_mail(mail: &InboundMail) {
    assert!(
        mail.text.chars().count() <= MAX_TEXT + 2,
        "a mail text of {} characters",
        mail.text.chars().count()
    );
    for one in [&mail.from_name, &mail.subject, &mail.message_id]
        .into_iter()
        .flatten()
    {
        assert!(
            !one.contains(['\r', '\n']),
            "a header value on two lines: {one:?}"
        );
    }
    let again = MailAddress::parse(&mail.from.to_string()).expect("the sender parses again");
    assert_eq!(again, mail.from);
}

/// Arbitrary chat text made into a digest: the input is `sender NUL text` items
/// separated by LF LF, the first line names the source. The text and HTML parts and the
/// whole mail are built.
///
/// Invariants: no panic; everything from the chat is escaped in the HTML (no markup but
/// the digest's own); the mail builds and every line of it is at most 998 octets
/// (RFC 5322) with the headers on their own lines.
pub fn digest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (name, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let at: DateTime<Utc> = DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
    let items: Vec<Item> = rest
        .split("\n\n")
        .filter(|s| !s.is_empty())
        .take(200)
        .enumerate()
        .map(|(i, part)| {
            let (sender, text) = part.split_once('\0').unwrap_or(("someone", part));
            Item {
                sender: sender.to_string(),
                text: text.to_string(),
                at: at + chrono::Duration::minutes(i as i64),
            }
        })
        .collect();
    let source = Source {
        name: name.to_string(),
        link: Some(format!("xmpp:{name}?join")),
        items,
    };
    let sources = [source];
    let html = digest::html(&sources, 10, "https://gw.test/u?t=1&x=<2>");
    assert_eq!(
        html.matches("<li>").count(),
        sources[0].items.len().min(10),
        "the HTML shows another number of items"
    );
    let outside_tags = strip_own_markup(&html);
    assert!(
        !outside_tags.contains(['<', '>']),
        "chat text made markup in the HTML digest"
    );
    let plain = digest::text(&sources, 10, "https://gw.test/u?t=1");
    assert!(plain.ends_with("Unsubscribe: https://gw.test/u?t=1\n"));
    let _ = digest::subject(&sources);
    let from = MailAddress::parse("digests@mail.test").expect("an address");
    let to = MailAddress::parse("bob@example.org").expect("an address");
    let env = digest::Envelope {
        from: &from,
        to: &to,
        unsubscribe_mailto: "unsubscribe+t@mail.test",
        unsubscribe_url: "https://gw.test/u?t=1",
        message_id: "digest.1@mail.test",
        max_items: 10,
    };
    match digest::build(&env, &sources) {
        Ok(Some(message)) => {
            let wire = message.formatted();
            for line in wire.split(|&b| b == b'\n') {
                assert!(line.len() <= 1000, "a mail line of {} octets", line.len());
            }
        }
        Ok(None) => assert!(
            sources[0].items.is_empty(),
            "a digest with items built nothing"
        ),
        Err(e) => panic!("a digest does not build: {e}"),
    }
}

/// The HTML with the digest's own tags removed: what is left came from the chat (escaped).
fn strip_own_markup(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        let end = after.find('>').map(|i| i + 1).unwrap_or(after.len());
        let tag = &after[..end];
        // The digest's tags carry only our own attributes: a link's href is escaped text.
        let own = tag.starts_with("<!DOCTYPE")
            || tag
                .trim_start_matches(['<', '/'])
                .split([' ', '>'])
                .next()
                .is_some_and(|n| {
                    [
                        "html", "head", "meta", "body", "h2", "h3", "p", "a", "ul", "li", "small",
                        "hr",
                    ]
                    .contains(&n)
                });
        if !own {
            out.push_str(tag);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A mail address (as typed, as a JID local part, as an alias): each that parses formats
/// and parses back to itself.
pub fn address(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = MailAddress::parse(text) {
        assert_eq!(MailAddress::parse(&a.to_string()).as_ref(), Ok(&a));
        assert_eq!(MailAddress::from_jid_local(&a.jid_local()).as_ref(), Ok(&a));
        assert!(!a.to_string().contains(char::is_control));
    }
    if let Ok(a) = MailAddress::from_jid_local(text) {
        assert_eq!(MailAddress::from_jid_local(&a.jid_local()).as_ref(), Ok(&a));
    }
    if let Ok(alias) = check_alias(text) {
        assert_eq!(check_alias(&alias).as_ref(), Ok(&alias));
    }
}
