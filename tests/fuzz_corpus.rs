//! Replays every committed fuzz input (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`)
//! through the same entry points the cargo-fuzz targets call, on stable: an input that
//! panics or breaks an invariant fails the test, with its file named.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use switchboard::fuzzing::{run, TARGETS};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs every file of `<root>/<target>/` and returns the failures.
fn replay(root: &str) -> (usize, Vec<String>) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(root);
    let mut count = 0;
    let mut failed = Vec::new();
    for target in TARGETS {
        for file in inputs(&base.join(target)) {
            let data = std::fs::read(&file).expect("a corpus file reads");
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| run(target, &data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    (count, failed)
}

#[test]
fn every_corpus_input_keeps_the_invariants() {
    let (count, failed) = replay("corpus");
    assert!(
        count >= 10 * TARGETS.len(),
        "only {count} corpus inputs found"
    );
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}

#[test]
fn every_fixed_crash_stays_fixed() {
    let (_, failed) = replay("regressions");
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}

#[test]
fn a_broken_invariant_fails_the_replay() {
    // The check the targets apply to what they produce can fail: a stanza holding U+0007
    // cannot be written.
    let stanza = |text: &str| {
        minidom::Element::builder("message", "jabber:component:accept")
            .append(minidom::Element::builder("body", "jabber:component:accept").append(text))
            .build()
    };
    switchboard::fuzzing::check_stanza(&stanza("ring bell"));
    let bad = catch_unwind(|| switchboard::fuzzing::check_stanza(&stanza("ring\u{7}bell")));
    assert!(bad.is_err(), "a stanza with U+0007 serialised");
}

#[test]
fn the_entry_points_reach_the_code_they_fuzz() {
    // Not vacuous: a disco query is answered by the transport, IRC lines become events.
    let disco = "<iq type='get' id='d1' from='alice@example.org/phone' to='echo.example.org'>\
        <query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
    // The registration's answer and presences, then the disco answer.
    let sent = switchboard::fuzzing::stanzas(disco.as_bytes());
    assert!(sent >= 2, "{sent} stanzas sent");
    assert!(switchboard::fuzzing::stanzas(disco.replace("iq", "ix").as_bytes()) < sent);
    let events = switchboard_irc::fuzzing::irc_lines(
        b"\0:irc.test 001 alice :Hi\r\n:bob!b@h PRIVMSG alice :hello\r\n",
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(switchboard::fuzzing::stanzas(b"<message"), 0);
    // A MAM query on a room is answered (from the archive the rig keeps).
    let mam = "<iq type='set' id='m1' from='alice@example.org/phone' to='#room@echo.example.org'>\
        <query xmlns='urn:xmpp:mam:2'/></iq>";
    assert!(switchboard::fuzzing::stanzas(mam.as_bytes()) > switchboard::fuzzing::stanzas(b"<x/>"));
}
