//! A hostile server's lines against the bounds of `irc.limits`: literal lines in, what
//! is kept, what is answered, and the counter of each bound.

use super::tests::{events, feed, state};
use super::*;
use crate::config::Limits;
use crate::hits::{Limit, LimitHits};

fn bounded(limits: Limits, max_channels: usize) -> (ConnState, Arc<LimitHits>) {
    let hits = Arc::new(LimitHits::default());
    let s = state().with_limits(limits, max_channels, hits.clone());
    (s, hits)
}

fn notice_text(actions: Vec<Action>) -> String {
    match events(actions).as_slice() {
        [RemoteEvent::NetworkText { text, .. }] => text.clone(),
        other => panic!("one notice expected, got {other:?}"),
    }
}

#[test]
fn motd_lines_past_the_bound_are_dropped_and_counted() {
    let limits = Limits {
        motd_lines: 3,
        ..Limits::default()
    };
    let (mut s, hits) = bounded(limits, 100);
    feed(
        &mut s,
        ":irc.test 375 alice :- irc.test Message of the day -",
    );
    let long = "x".repeat(8000);
    for i in 0..50 {
        assert!(feed(&mut s, &format!(":irc.test 372 alice :- {i} {long}")).is_empty());
    }
    assert_eq!(s.motd.len(), 3);
    assert!(s.motd.iter().all(|l| l.len() <= 512), "lines are cut");
    assert_eq!(hits.get(Limit::Motd), 47);
    let motd = notice_text(feed(&mut s, ":irc.test 376 alice :End of /MOTD command."));
    assert_eq!(motd.lines().count(), 3);
    assert!(motd.starts_with("0 xxx"), "{motd}");
    assert!(s.motd.is_empty());
}

#[test]
fn no_motd_forgets_what_came_before() {
    let (mut s, hits) = bounded(Limits::default(), 100);
    feed(&mut s, ":irc.test 372 alice :- stray");
    assert!(feed(&mut s, ":irc.test 422 alice :MOTD File is missing").is_empty());
    assert!(s.motd.is_empty());
    assert_eq!(hits.get(Limit::Motd), 0);
}

#[test]
fn cap_ls_that_never_ends_is_answered_after_the_bound() {
    let limits = Limits {
        cap_ls_lines: 4,
        ..Limits::default()
    };
    let hits = Arc::new(LimitHits::default());
    let mut s =
        ConnState::new("net", "alice", Fallback::Latin1).with_limits(limits, 100, hits.clone());
    let junk: Vec<String> = (0..500).map(|i| format!("vendor/cap-{i}=x")).collect();
    let line = format!(":irc.test CAP * LS * :server-time {}", junk.join(" "));
    for _ in 0..3 {
        assert!(feed(&mut s, &line).is_empty());
    }
    assert_eq!(
        s.offered,
        ["server-time"],
        "only caps we would use are kept"
    );
    // The fourth continuation reaches the bound: registration goes on.
    assert_eq!(
        feed(&mut s, &line),
        [Action::Send {
            line: "CAP REQ :server-time".into(),
            urgent: true
        }]
    );
    assert_eq!(hits.get(Limit::CapLs), 1);
    for _ in 0..10 {
        assert!(feed(&mut s, &line).is_empty());
    }
    assert_eq!(hits.get(Limit::CapLs), 11);
    assert_eq!(s.offered, ["server-time"]);
}

#[test]
fn forced_joins_past_the_bound_are_left() {
    let limits = Limits {
        forced_joins: 2,
        ..Limits::default()
    };
    let (mut s, hits) = bounded(limits, 100);
    s.wanted.insert("#asked".into(), None);
    assert!(feed(&mut s, ":alice!a@h JOIN #asked").is_empty());
    assert!(feed(&mut s, ":alice!a@h JOIN #forced1").is_empty());
    assert!(feed(&mut s, ":alice!a@h JOIN #forced2").is_empty());
    for i in 3..20 {
        assert_eq!(
            feed(&mut s, &format!(":alice!a@h JOIN #forced{i}")),
            [Action::Send {
                line: format!("PART #forced{i} :not asked for"),
                urgent: false
            }]
        );
    }
    assert_eq!(s.channels.len(), 3);
    assert_eq!(hits.get(Limit::ForcedJoin), 17);
    // A channel the user asks for still joins.
    s.wanted.insert("#later".into(), None);
    assert!(feed(&mut s, ":alice!a@h JOIN #later").is_empty());
    assert!(s.channels.contains_key("#later"));
}

#[test]
fn forced_joins_never_pass_max_channels() {
    let (mut s, hits) = bounded(Limits::default(), 2);
    s.wanted.insert("#a".into(), None);
    s.wanted.insert("#b".into(), None);
    feed(&mut s, ":alice!a@h JOIN #a");
    feed(&mut s, ":alice!a@h JOIN #b");
    assert_eq!(
        feed(&mut s, ":alice!a@h JOIN #c"),
        [Action::Send {
            line: "PART #c :not asked for".into(),
            urgent: false
        }]
    );
    assert_eq!(hits.get(Limit::ForcedJoin), 1);
}

#[test]
fn members_past_the_bound_are_not_kept() {
    let limits = Limits {
        members_per_channel: 5,
        ..Limits::default()
    };
    let (mut s, hits) = bounded(limits, 100);
    s.wanted.insert("#chan".into(), None);
    feed(&mut s, ":alice!a@h JOIN #chan");
    let names: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    feed(
        &mut s,
        &format!(":irc.test 353 alice = #chan :alice {}", names.join(" ")),
    );
    assert_eq!(s.channels["#chan"].members.len(), 5);
    assert_eq!(hits.get(Limit::Members), 36);
    // Already a member: updated, not counted.
    feed(&mut s, ":irc.test 353 alice = #chan :@u0");
    assert_eq!(hits.get(Limit::Members), 36);
    feed(&mut s, ":irc.test 366 alice #chan :End of /NAMES list.");
    // A JOIN past the bound is not shown either.
    assert!(feed(&mut s, ":zed!z@h JOIN #chan").is_empty());
    assert_eq!(hits.get(Limit::Members), 37);
    // Once someone leaves there is room again.
    feed(&mut s, ":u1!u@h PART #chan :bye");
    assert_eq!(events(feed(&mut s, ":zed!z@h JOIN #chan")).len(), 1);
    assert_eq!(s.channels["#chan"].members.len(), 5);
}

#[test]
fn cap_ack_keeps_only_what_we_would_ask_for() {
    let (mut s, _) = bounded(Limits::default(), 100);
    let junk: Vec<String> = (0..300).map(|i| format!("junk-{i}")).collect();
    for _ in 0..5 {
        feed(
            &mut s,
            &format!(":irc.test CAP * ACK :server-time {}", junk.join(" ")),
        );
    }
    assert_eq!(s.caps.len(), 1);
    assert!(s.caps.contains("server-time"));
}

#[test]
fn a_list_past_its_bound_is_cut_and_counted() {
    let (mut s, hits) = bounded(Limits::default(), 100);
    let (done, mut listed) = oneshot::channel();
    s.listing.push(done);
    for i in 0..20_005 {
        feed(&mut s, &format!(":irc.test 322 alice #c{i} 3 :topic"));
    }
    assert_eq!(hits.get(Limit::List), 5);
    feed(&mut s, ":irc.test 323 alice :End of /LIST");
    assert_eq!(listed.try_recv().unwrap().len(), 20_000);
}
