//! The SMS benchmark's MTs (`tests/bench_sms.rs`): which sender sends which messages
//! between which numbers, and counting them as they reach Kannel's fake SMSC.

use super::bench::{missing, parse_tagged, repeated};
use super::kannel::{Kannel, Mt};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The user number of sender `u` (0-based) and the phone it texts.
pub fn numbers(u: usize) -> (String, String) {
    (
        format!("+1555100{:04}", u + 1),
        format!("+4917000{:04}", u + 1),
    )
}

/// The messages of sender `u`: a contiguous range of sequence numbers.
pub fn share(n: usize, users: usize, u: usize) -> std::ops::Range<usize> {
    let (base, extra) = (n / users, n % users);
    let start = u * base + u.min(extra);
    start..start + base + usize::from(u < extra)
}

/// The sender (0-based) whose share holds message `seq`.
pub fn sender_of(n: usize, users: usize, seq: usize) -> usize {
    (0..users)
        .find(|&u| share(n, users, u).contains(&seq))
        .expect("a sequence number within 0..n")
}

pub struct Tally {
    /// Sequence number -> how often it arrived.
    pub seen: BTreeMap<usize, u32>,
    /// MTs that are not this phase's, or that came with the wrong numbers.
    pub wrong: Vec<String>,
    /// When the last missing message arrived.
    pub complete_at: Instant,
}

/// Counts one MT into `tally`.
pub fn record(mt: Mt, tag: &str, n: usize, users: usize, tally: &mut Tally) {
    match parse_tagged(&mt.text) {
        Some((t, seq)) if t == tag && seq < n => {
            let (from, to) = numbers(sender_of(n, users, seq));
            if !mt.from.ends_with(&from[1..]) || !mt.to.ends_with(&to[1..]) {
                tally
                    .wrong
                    .push(format!("wrong numbers (want {from} -> {to}): {}", mt.raw));
            }
            let count = tally.seen.entry(seq).or_insert(0);
            *count += 1;
            if *count == 1 && tally.seen.len() == n {
                tally.complete_at = Instant::now();
            }
        }
        _ => tally.wrong.push(mt.raw),
    }
}

/// Takes MTs until all `n` messages of phase `tag` arrived; panics at `deadline`, with
/// `details()`.
pub fn collect(
    kannel: &Kannel,
    tag: &str,
    n: usize,
    users: usize,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
    details: &dyn Fn() -> String,
) -> Tally {
    let mut tally = Tally {
        seen: BTreeMap::new(),
        wrong: Vec::new(),
        complete_at: Instant::now(),
    };
    while tally.seen.len() < n {
        let now = Instant::now();
        if now >= deadline || stop() {
            let missing = missing(&tally.seen, n);
            panic!(
                "phase {tag}: {} of {n} MTs before the deadline or a failure; first missing: {missing:?}; \
                 stray: {:?}\n{}",
                tally.seen.len(),
                &tally.wrong[..tally.wrong.len().min(20)],
                details()
            );
        }
        if let Some(mt) = kannel.try_mt((deadline - now).min(Duration::from_secs(1))) {
            record(mt, tag, n, users, &mut tally);
        }
    }
    tally
}

/// Half a second more for duplicates, untimed.
pub fn linger(kannel: &Kannel, tag: &str, n: usize, users: usize, mut tally: Tally) -> Tally {
    let complete_at = tally.complete_at;
    let until = Instant::now() + Duration::from_millis(500);
    while let Some(mt) = kannel.try_mt(until.saturating_duration_since(Instant::now())) {
        record(mt, tag, n, users, &mut tally);
    }
    tally.complete_at = complete_at;
    tally
}

/// Panics unless every message of the phase arrived exactly once and nothing else came.
pub fn check(tag: &str, n: usize, tally: &Tally) {
    let duplicates = repeated(&tally.seen);
    assert!(
        duplicates.is_empty() && tally.wrong.is_empty() && tally.seen.len() == n,
        "phase {tag}: {} of {n} distinct; sent more than once (seq, times): {:?}; \
         unexpected MTs: {:?}",
        tally.seen.len(),
        duplicates,
        &tally.wrong[..tally.wrong.len().min(20)]
    );
}

/// Waits for the warm-up MTs (one per sender, `tag` with seq = sender).
pub fn collect_warmup(
    kannel: &Kannel,
    tag: &str,
    users: usize,
    deadline: Instant,
    details: &dyn Fn() -> String,
) {
    // The warm-up message of sender u is seq u; with n = users each sender owns exactly it.
    let tally = collect(kannel, tag, users, users, deadline, &|| false, details);
    check(tag, users, &tally);
}
