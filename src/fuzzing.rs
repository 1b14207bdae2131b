//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`) call these with arbitrary bytes, and each asserts the
//! invariants of what it exercises (no panic, bounded work, every stanza produced
//! serialises). Not part of the gateway's API.

use crate::transport::fuzzing::{check_serialises, Rig, DOMAIN};
use crate::xmpp::address::{escape, target, unescape, Target};
use crate::xmpp::{errors, message, muc};
use minidom::Element;
use std::path::Path;
use std::time::Duration;
use switchboard_bridge::{BridgeError, MessageContent, RemoteEvent};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

/// Panics unless `element` serialises, as the link would write it.
pub fn check_stanza(element: &Element) {
    check_serialises(element)
}

/// Stanzas taken from one input.
const MAX_STANZAS: usize = 16;
/// Largest stanza input: the server bounds stanzas (Prosody's default
/// `c2s_stanza_size_limit` is 256 kB; components get what users send).
const MAX_STANZA_INPUT: usize = 256 * 1024;
/// Longest a single input may keep the transport busy before it counts as a hang.
const HANG: Duration = Duration::from_secs(10);

/// The stanza that registers `alice@example.org` with the echo bridge: after it the
/// transport has a session, and messages to contacts reach the bridge and echo back.
const REGISTER: &str = "<iq xmlns='jabber:component:accept' type='set' id='reg' \
    from='alice@example.org/phone' to='echo.example.org'>\
    <query xmlns='jabber:iq:register'><username>alice</username></query></iq>";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// Runs `f` against a fresh transport (echo bridge) with `alice@example.org` registered;
/// returns how many stanzas the transport sent.
fn with_rig<F>(f: impl FnOnce(Rig) -> F) -> usize
where
    F: std::future::Future<Output = Rig>,
{
    runtime().block_on(async {
        let run = async {
            let mut rig = Rig::start().await;
            rig.stanza(parse_stanza(REGISTER).expect("the register stanza parses"))
                .await;
            f(rig).await.sent
        };
        tokio::time::timeout(HANG, run)
            .await
            .expect("one input kept the transport busy for 10 s")
    })
}

fn parse_stanza(xml: &str) -> Option<Stanza> {
    let element: Element = xml.parse().ok()?;
    Stanza::try_from(element).ok()
}

/// Stanzas from a user's server: the input is the inside of a component stream (any
/// number of top-level elements; at most [`MAX_STANZAS`] are taken), each handed to a
/// transport as its link would hand it over — message, presence, iq with disco, register,
/// ad-hoc commands, MUC joins and admin — after `alice@example.org` registered.
///
/// Invariants: no panic; no input keeps the transport busy (10 s); every stanza the
/// transport sends in answer serialises. Returns how many stanzas the transport sent.
pub fn stanzas(data: &[u8]) -> usize {
    if data.len() > MAX_STANZA_INPUT {
        return 0;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let wrapped = format!(
        "<stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>{text}</stream>"
    );
    let Ok(stream) = wrapped.parse::<Element>() else {
        return 0;
    };
    let stanzas: Vec<Stanza> = stream
        .children()
        .take(MAX_STANZAS)
        .filter_map(|e| Stanza::try_from(e.clone()).ok())
        .collect();
    if stanzas.is_empty() {
        return 0;
    }
    with_rig(|mut rig| async move {
        for stanza in stanzas {
            rig.stanza(stanza).await;
        }
        rig
    })
}

/// Events a bridge reports (from foreign text), handed to a transport for the session of
/// `alice@example.org`, and each text of `texts` put into the stanzas foreign text goes
/// into (a chat message with subject, a groupchat message, a room subject, an occupant
/// presence with a status, an error).
///
/// Invariant: every stanza produced serialises. Until foreign text passes the gateway's
/// XML boundary, text with characters XML forbids fails here.
pub fn foreign(events: Vec<RemoteEvent>, texts: &[String]) {
    if !events.is_empty() {
        let _ = with_rig(|mut rig| async move {
            for event in events.into_iter().take(64) {
                rig.event(event).await;
            }
            rig
        });
    }
    let user: Jid = Jid::new("alice@example.org/phone").expect("a JID");
    let contact: Jid = Jid::new(&format!("bob@{DOMAIN}")).expect("a JID");
    let room: BareJid = BareJid::new(&format!("#room@{DOMAIN}")).expect("a JID");
    for text in texts {
        let content = MessageContent {
            subject: Some(text.clone()),
            ..MessageContent::text(text.clone())
        };
        for m in message::to_user_parts(contact.clone(), user.clone(), &content) {
            check_serialises(&m.into());
        }
        let from = muc::occupant(&room, text).unwrap_or_else(|| room.clone().into());
        check_serialises(&muc::groupchat(from.clone(), &user, text.clone(), None).into());
        // The relay's room line, written item by item as the link writes it: the body as
        // the relay cleans it, the raw text as the id (refused, never written, when XML
        // cannot carry it).
        let body = crate::xmpp::text::xml_string(text.clone());
        let sid = Some((room.clone(), "1f".to_string()));
        for id in [None, Some(text.clone())] {
            match crate::xmpp::room_line::RoomLine::new(
                from.clone(),
                body.clone(),
                id,
                sid.clone(),
                vec![],
            ) {
                Ok(line) => {
                    if let Err(e) = xso::to_vec(&line.to(user.clone())) {
                        panic!("a room line does not serialise ({e}): {text:?}");
                    }
                }
                Err(_) => assert!(
                    crate::xmpp::text::first_forbidden(text).is_some(),
                    "a clean line refused: {text:?}"
                ),
            }
        }
        check_serialises(&muc::subject(&room, Some(text), &user, text).into());
        let away = muc::OccupantPresence {
            away: Some(text),
            reason: Some(text),
            ..Default::default()
        };
        check_serialises(&muc::occupant_presence(room.clone().into(), &user, &away).into());
        let e = errors::from_bridge(&BridgeError::Rejected(text.clone()));
        check_serialises(&e.into());
        let e = errors::error(ErrorType::Cancel, DefinedCondition::NotAcceptable, text);
        check_serialises(&e.into());
    }
}

/// IRC lines from a server (see `switchboard_irc::fuzzing::irc_lines`) and what the
/// transport makes of the events they cause.
pub fn irc(data: &[u8]) {
    let events = switchboard_irc::fuzzing::irc_lines(data);
    foreign(events, &[]);
}

/// A configuration file: parsed, expanded and checked (`${VAR}` finds `VALUE` for any
/// name). Invariant: no panic; a file that loads names its transports; a refused one
/// names at least one problem.
pub fn config(data: &[u8]) {
    if data.len() > 64 * 1024 {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::config::Config::parse(Path::new("fuzz.yaml"), text, &|_| Some("VALUE".into())) {
        Ok(config) => {
            for t in config.transports() {
                assert!(!t.link.domain.is_empty());
            }
            let _ = config.sqlite_path();
        }
        Err(e) => assert!(!e.to_string().is_empty(), "a refused file without problem"),
    }
}

/// Addresses: XEP-0106 escaping round trips (`unescape(escape(x)) == x`), what a JID on
/// the transport's domain points at, and the bridges' own address parsers (IRC, mail,
/// phone numbers) each with their round trips.
pub fn addresses(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let escaped = escape(text);
    assert_eq!(
        unescape(&escaped),
        text,
        "XEP-0106 escaping does not round trip"
    );
    for c in ['"', '&', '\'', '/', ':', '<', '>', '@', ' '] {
        assert!(!escaped.contains(c), "{escaped:?} still holds {c:?}");
    }
    if let Ok(jid) = Jid::new(&format!("{escaped}@{DOMAIN}")) {
        match target(&jid) {
            Target::Contact { local, .. } => {
                // Replies come from the contact's canonical JID, escape(local): it must
                // point at the same foreign address. (A node that is not in canonical
                // XEP-0106 form, such as `\5cgs` where `\5c` precedes no escape, is read
                // and then written canonically, so the node itself need not come back.)
                let canonical = Jid::new(&format!("{}@{DOMAIN}", escape(&local)))
                    .expect("a canonical contact JID is a JID");
                match target(&canonical) {
                    Target::Contact { local: again, .. } => {
                        assert_eq!(again, local, "the canonical contact JID points elsewhere")
                    }
                    Target::Transport => panic!("a contact's canonical JID is the transport"),
                }
            }
            Target::Transport => panic!("a JID with a node is the transport"),
        }
    }
    if let Ok(jid) = Jid::new(text) {
        let _ = target(&jid);
        let again = Jid::new(jid.as_str()).expect("a JID's text is a JID");
        assert_eq!(again, jid);
    }
    switchboard_irc::fuzzing::address(data);
    switchboard_email::fuzzing::address(data);
    switchboard_sms::fuzzing::number(text);
}

/// The fuzz targets, by name (the binaries in `fuzz/fuzz_targets/` and the directories of
/// `fuzz/corpus/`).
pub const TARGETS: &[&str] = &[
    "stanzas",
    "irc",
    "smtp",
    "mail",
    "sms_webhook",
    "config",
    "digest",
    "addresses",
];

/// Runs one input through the entry point of `target`.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "stanzas" => {
            stanzas(data);
        }
        "irc" => irc(data),
        "smtp" => switchboard_email::fuzzing::smtp_session(data),
        "mail" => foreign(Vec::new(), &switchboard_email::fuzzing::mail(data)),
        "sms_webhook" => foreign(Vec::new(), &switchboard_sms::fuzzing::webhook(data)),
        "config" => config(data),
        "digest" => switchboard_email::fuzzing::digest(data),
        "addresses" => addresses(data),
        other => panic!("no fuzz target '{other}'"),
    }
}
