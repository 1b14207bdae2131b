//! Digest subscriptions as the hostile MUC tests ask for them, and what their answers say.

use crate::common::mail::MAIL;
use crate::common::{command_note, error_condition, error_text, run_command, Agent};
use minidom::Element;

pub fn subscribe(agent: &Agent, source: &str, address: &str) -> Element {
    run_command(
        agent,
        MAIL,
        "digest-subscribe",
        &[("source", source), ("address", address), ("every", "1h")],
    )
}

pub fn assert_forbidden(answer: &Element, needle: &str) {
    assert_eq!(
        error_condition(answer).as_deref(),
        Some("forbidden"),
        "{}",
        String::from(answer)
    );
    assert!(
        error_text(answer).contains(needle),
        "{}",
        String::from(answer)
    );
}

pub fn assert_accepted(answer: &Element) {
    assert!(
        command_note(answer).contains("verification code was mailed"),
        "{}",
        String::from(answer)
    );
}

/// Joins `room` (a MUC room) as `nick` and waits for the self-presence.
pub fn join_muc(agent: &Agent, room: &str, nick: &str) {
    crate::common::join_room(agent, room, nick);
}

pub fn code_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("Verification code: "))
        .unwrap_or_else(|| panic!("no code in {text}"))
        .trim()
        .to_string()
}
