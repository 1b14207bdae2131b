//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`) call these with arbitrary bytes, and each asserts the
//! invariants of what it exercises. Not part of the bridge's API.

use crate::address::{self, Address};
use crate::conn::state::{Action, ConnState};
use crate::text::{self, Fallback};
use switchboard_bridge::{Chat, RemoteEvent};

/// Longest line the connection reads (`conn::io`): a longer one drops the connection.
const MAX_LINE: usize = 8191 + 512;

/// What the server sent, as the connection reads it: lines split on LF (a CR before it
/// dropped, empty lines skipped), each decoded (the first byte of the input picks UTF-8
/// or Latin-1 as the network's fallback; channel `#c` reads windows-1251 and `#j`
/// Shift_JIS, as a user's channel settings would have them), parsed and handed to
/// [`ConnState::handle`]. A line over
/// the limit is a lost connection: the state is reset, as before a reconnect.
///
/// Invariants: no panic; every line the state machine asks to write is one IRC line (no
/// CR, LF or NUL); what it knows stays bounded by what it was sent. Returns the events
/// reported, for the targets that carry them on toward XMPP.
pub fn irc_lines(data: &[u8]) -> Vec<RemoteEvent> {
    let (fallback, stream) = match data.split_first() {
        Some((b, rest)) if b % 2 == 1 => (Fallback::Utf8Lossy, rest),
        Some((_, rest)) => (Fallback::Latin1, rest),
        None => (Fallback::Latin1, data),
    };
    let mut state = ConnState::new("net", "alice", fallback);
    for (channel, encoding) in [("#c", "windows-1251"), ("#j", "shift_jis")] {
        let f = encoding.parse().expect("a known encoding");
        state.channel_fallbacks.insert(channel.into(), f);
    }
    let mut events = Vec::new();
    for raw in stream.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        if raw.len() > MAX_LINE {
            state.reset();
            continue;
        }
        let line = text::decode_with(raw, || state.fallback_for(raw));
        let Ok(msg) = line.parse::<irc_proto::Message>() else {
            continue;
        };
        for action in state.handle(msg) {
            match action {
                Action::Send { line, .. } => assert!(
                    !line.contains(['\r', '\n', '\0']),
                    "a line to the server holds a line break or NUL: {line:?}"
                ),
                Action::Emit(event) => events.push(event),
                Action::Registered | Action::Fatal(_) => {}
            }
        }
    }
    let known: usize = state
        .channels
        .values()
        .map(|c| c.members.len() + c.topic.len() + c.name.len())
        .sum();
    assert!(
        known <= data.len() * 2 + 64,
        "the state knows more ({known}) than it was sent ({})",
        data.len()
    );
    events
}

/// An IRC address (a JID local part, unescaped) parsed, turned into its chat and back:
/// the round trip names the same chat, and a chat's id parses again.
pub fn address(data: &[u8]) {
    let Ok(local) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = address::parse(local, "#&") else {
        return;
    };
    let chat = parsed.chat();
    let back = Address::from_chat(&chat)
        .unwrap_or_else(|e| panic!("the id of {parsed:?} ({chat:?}) does not parse: {e}"));
    assert_eq!(
        back.chat(),
        chat,
        "{local:?}: the round trip changed the chat"
    );
    if let Chat::Group(_) = chat {
        assert!(matches!(back, Address::Channel { .. }));
    }
    // What goes to the server in a command never breaks the line.
    let clean = text::sanitize(local);
    assert!(!clean.contains(['\r', '\n', '\0']));
}
