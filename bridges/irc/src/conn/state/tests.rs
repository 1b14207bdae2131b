//! Literal IRC lines in, events and replies out.

use super::*;
use switchboard_bridge::{Chat, GroupId, LeaveReason, Rank, SessionState, TextKind, UserId};

pub(super) fn state() -> ConnState {
    let mut s = ConnState::new("net", "alice", Fallback::Latin1);
    feed(&mut s, ":irc.test 001 alice :Welcome");
    feed(
        &mut s,
        ":irc.test 005 alice PREFIX=(qaohv)~&@%+ CHANTYPES=# :are supported",
    );
    s
}

pub(super) fn feed(s: &mut ConnState, line: &str) -> Vec<Action> {
    s.handle(line.parse().unwrap_or_else(|e| panic!("{line}: {e}")))
}

pub(super) fn events(actions: Vec<Action>) -> Vec<RemoteEvent> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Emit(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn joined(s: &mut ConnState) {
    feed(s, ":alice!a@h JOIN #Chan");
    feed(s, ":irc.test 332 alice #Chan :the topic");
    feed(s, ":irc.test 333 alice #Chan carol!c@h 1700000000");
    feed(s, ":irc.test 353 alice = #Chan :~carol @+bob alice");
    feed(s, ":irc.test 366 alice #Chan :End of /NAMES list.");
}

#[test]
fn registration_requests_only_offered_caps_and_ends_cap() {
    let mut s = ConnState::new("net", "alice", Fallback::Latin1);
    assert_eq!(
        s.hello("ali", "Alice\r\nQUIT", None),
        ["CAP LS 302", "NICK alice", "USER ali 0 * :Alice QUIT"]
    );
    // A server password goes first, on one line whatever it holds.
    assert_eq!(
        s.hello("ali", "Alice", Some("se cret\r\nQUIT")),
        [
            "PASS :se cret QUIT",
            "CAP LS 302",
            "NICK alice",
            "USER ali 0 * :Alice"
        ]
    );
    assert!(feed(&mut s, ":irc.test CAP * LS * :multi-prefix sasl=PLAIN").is_empty());
    let req = feed(
        &mut s,
        ":irc.test CAP * LS :server-time echo-message away-notify",
    );
    assert_eq!(
        req,
        [Action::Send {
            line: "CAP REQ :server-time echo-message multi-prefix away-notify".into(),
            urgent: true
        }]
    );
    let end = feed(
        &mut s,
        ":irc.test CAP * ACK :server-time echo-message multi-prefix away-notify",
    );
    assert_eq!(
        end,
        [Action::Send {
            line: "CAP END".into(),
            urgent: true
        }]
    );
    assert!(s.caps.contains("echo-message"));
    assert_eq!(
        feed(&mut s, ":irc.test 001 alice :Welcome"),
        [Action::Registered]
    );
    assert_eq!(
        feed(&mut s, "PING :irc.test"),
        [Action::Send {
            line: "PONG :irc.test".into(),
            urgent: true
        }]
    );
}

#[test]
fn a_nick_in_use_at_registration_takes_underscores_then_gives_up() {
    let mut s = ConnState::new("net", "alice", Fallback::Latin1);
    for tried in ["alice_", "alice__", "alice___"] {
        let out = feed(&mut s, ":irc.test 433 * x :Nickname is already in use.");
        assert_eq!(
            out,
            [Action::Send {
                line: format!("NICK {tried}"),
                urgent: true
            }]
        );
    }
    // The fallbacks are taken too: the connection ends, saying what it tried.
    let out = feed(
        &mut s,
        ":irc.test 433 * alice___ :Nickname is already in use.",
    );
    assert_eq!(
        out,
        [Action::Fatal(BridgeError::Conflict(
            "net: Nickname is already in use. (tried alice and 3 more with underscores)".into()
        ))]
    );
    // An erroneous nick is not retried with underscores.
    let mut s = ConnState::new("net", "al/ce", Fallback::Latin1);
    let out = feed(&mut s, ":irc.test 432 * al/ce :Erroneous Nickname");
    assert_eq!(
        out,
        [Action::Fatal(BridgeError::Conflict(
            "net: Erroneous Nickname".into()
        ))]
    );
}

#[test]
fn a_fallback_nick_is_told_watched_and_taken_back() {
    let mut s = ConnState::new("net", "alice", Fallback::Latin1);
    feed(&mut s, ":irc.test 433 * alice :Nickname is already in use.");
    let out = feed(&mut s, ":irc.test 001 alice_ :Welcome");
    assert_eq!(out[0], Action::Registered);
    let RemoteEvent::NetworkText { text, .. } = &events(out)[0] else {
        panic!("no notice")
    };
    assert!(text.contains("connected as alice_"), "{text}");
    let out = feed(
        &mut s,
        ":irc.test 005 alice_ MONITOR=30 PREFIX=(ov)@+ :are supported",
    );
    assert_eq!(
        out,
        [Action::Send {
            line: "MONITOR + alice".into(),
            urgent: false
        }]
    );
    // Joined under the fallback: the room hears the nick was changed (210).
    feed(&mut s, ":alice_!a@h JOIN #chan");
    feed(&mut s, ":irc.test 353 alice_ = #chan :alice_ alice");
    let joined = events(feed(&mut s, ":irc.test 366 alice_ #chan :End"));
    assert!(
        matches!(&joined[0], RemoteEvent::GroupJoined(g) if g.nick == "alice_" && g.nick_changed),
        "{joined:?}"
    );
    // The holder goes offline: the nick is asked for; a race lost stays quiet.
    let nick = Action::Send {
        line: "NICK alice".into(),
        urgent: false,
    };
    assert_eq!(feed(&mut s, ":irc.test 731 alice_ :alice!g@h"), [nick]);
    assert!(feed(
        &mut s,
        ":irc.test 433 alice_ alice :Nickname is already in use."
    )
    .is_empty());
    assert_eq!(s.nick, "alice_");
    // Seen leaving the nick in a shared channel: asked for again, and got.
    let out = feed(&mut s, ":alice!g@h NICK :ghost");
    assert!(
        out.contains(&Action::Send {
            line: "NICK alice".into(),
            urgent: false
        }),
        "{out:?}"
    );
    let out = feed(&mut s, ":alice_!a@h NICK :alice");
    assert_eq!(s.nick, "alice");
    assert!(out.contains(&Action::Send {
        line: "MONITOR - alice".into(),
        urgent: false
    }));
    assert!(events(out).iter().any(|e| matches!(e,
        RemoteEvent::Membership { nick, change: MembershipChange::NickChanged { new_nick }, .. }
            if nick == "alice_" && new_nick == "alice")));
    // Back on the wanted nick, a quit of someone else's asks for nothing.
    let out = feed(&mut s, ":ghost!g@h QUIT :bye");
    assert!(
        !out.iter().any(|a| matches!(a, Action::Send { .. })),
        "{out:?}"
    );
}

#[test]
fn a_nick_change_the_user_asked_for_and_was_refused_is_still_told() {
    let mut s = state();
    joined(&mut s);
    s.wanted_nick = "bob".into();
    let out = events(feed(
        &mut s,
        ":irc.test 433 alice bob :Nickname is already in use.",
    ));
    assert!(
        matches!(
            &out[..],
            [RemoteEvent::GroupError {
                error: BridgeError::Conflict(_),
                ..
            }]
        ),
        "{out:?}"
    );
}

#[test]
fn names_then_end_announce_the_join_with_ranks_and_topic() {
    let mut s = state();
    feed(&mut s, ":alice!a@h JOIN #Chan");
    feed(&mut s, ":irc.test 332 alice #Chan :the \x02topic\x02");
    feed(&mut s, ":irc.test 333 alice #Chan carol!c@h 1700000000");
    assert!(events(feed(
        &mut s,
        ":irc.test 353 alice = #Chan :~carol @+bob alice"
    ))
    .is_empty());
    let mut ev = events(feed(
        &mut s,
        ":irc.test 366 alice #Chan :End of /NAMES list.",
    ));
    let RemoteEvent::GroupJoined(switchboard_bridge::GroupSnapshot {
        group,
        nick,
        nick_changed,
        mut occupants,
        topic,
        topic_by,
    }) = ev.remove(0)
    else {
        panic!()
    };
    assert_eq!(group, GroupId::new("#chan%net"));
    assert_eq!(
        (
            nick.as_str(),
            nick_changed,
            topic.as_str(),
            topic_by.as_deref()
        ),
        ("alice", false, "the topic", Some("carol"))
    );
    occupants.sort_by(|a, b| a.nick.cmp(&b.nick));
    let ranks: Vec<(&str, Rank)> = occupants
        .iter()
        .map(|o| (o.nick.as_str(), o.rank))
        .collect();
    assert_eq!(
        ranks,
        [
            ("alice", Rank::Regular),
            ("bob", Rank::Operator),
            ("carol", Rank::Owner)
        ]
    );
}

#[test]
fn join_refusals_fail_the_pending_join() {
    let mut s = state();
    s.wanted.insert("#k".into(), Some("wrong".into()));
    let ev = events(feed(
        &mut s,
        ":irc.test 475 alice #k :Cannot join channel (incorrect channel key)",
    ));
    assert_eq!(
        ev,
        [RemoteEvent::GroupJoinFailed {
            group: GroupId::new("#k%net"),
            error: BridgeError::Auth("Cannot join channel (incorrect channel key) (net)".into())
        }]
    );
    assert!(s.wanted.is_empty());
    // A refusal for a channel nobody asked for is ignored.
    assert!(events(feed(&mut s, ":irc.test 474 alice #other :banned")).is_empty());
}

#[test]
fn messages_strip_formatting_and_map_actions_and_private_chat() {
    let mut s = state();
    joined(&mut s);
    let ev = events(feed(&mut s, ":carol!c@h PRIVMSG #chan :\x0304red\x03 text"));
    let RemoteEvent::Message(m) = &ev[0] else {
        panic!()
    };
    assert_eq!(
        (m.content.text.as_str(), m.content.kind),
        ("red text", TextKind::Normal)
    );
    assert_eq!(m.chat, Chat::Group(GroupId::new("#chan%net")));
    assert_eq!(m.sender.display_name.as_deref(), Some("carol"));
    let ev = events(feed(
        &mut s,
        ":carol!c@h PRIVMSG alice :\x01ACTION waves\x01",
    ));
    let RemoteEvent::Message(m) = &ev[0] else {
        panic!()
    };
    assert_eq!(
        (m.content.text.as_str(), m.content.kind),
        ("waves", TextKind::Action)
    );
    assert_eq!(m.chat, Chat::Direct(UserId::new("carol%net")));
    // IRCv3 server-time becomes the message's timestamp.
    let ev = events(feed(
        &mut s,
        "@time=2026-11-23T10:00:00.123Z :carol!c@h PRIVMSG #chan :earlier",
    ));
    let RemoteEvent::Message(m) = &ev[0] else {
        panic!()
    };
    assert_eq!(m.timestamp, crate::time::parse("2026-11-23T10:00:00.123Z"));
    // Our own echo (echo-message) and CTCP requests are not bridged.
    assert!(events(feed(&mut s, ":alice!a@h PRIVMSG #chan :mine")).is_empty());
    assert!(events(feed(&mut s, ":carol!c@h PRIVMSG alice :\x01VERSION\x01")).is_empty());
    let ev = events(feed(&mut s, ":carol!c@h NOTICE alice :heads up"));
    let RemoteEvent::Message(m) = &ev[0] else {
        panic!()
    };
    assert_eq!(m.content.kind, TextKind::Notice);
}

#[test]
fn membership_changes() {
    let mut s = state();
    joined(&mut s);
    let change = |ev: Vec<RemoteEvent>| match &ev[..] {
        [RemoteEvent::Membership { nick, change, .. }] => (nick.clone(), change.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        change(events(feed(&mut s, ":dave!d@h JOIN #chan"))),
        (
            "dave".into(),
            MembershipChange::Joined {
                rank: Rank::Regular
            }
        )
    );
    assert_eq!(
        change(events(feed(&mut s, ":op!o@h MODE #chan +v dave"))),
        (
            "dave".into(),
            MembershipChange::RankChanged { rank: Rank::Voiced }
        )
    );
    assert_eq!(
        change(events(feed(&mut s, ":dave!d@h NICK :david"))),
        (
            "dave".into(),
            MembershipChange::NickChanged {
                new_nick: "david".into()
            }
        )
    );
    assert_eq!(
        change(events(feed(&mut s, ":carol!c@h KICK #chan david :spam"))),
        (
            "david".into(),
            MembershipChange::Kicked {
                by: Some("carol".into()),
                reason: Some("spam".into())
            }
        )
    );
    assert_eq!(
        change(events(feed(&mut s, ":bob!b@h QUIT :gone"))),
        (
            "bob".into(),
            MembershipChange::Left {
                reason: Some("gone".into())
            }
        )
    );
    assert_eq!(
        change(events(feed(&mut s, ":carol!c@h AWAY :lunch"))),
        (
            "carol".into(),
            MembershipChange::Away {
                message: Some("lunch".into())
            }
        )
    );
    assert_eq!(
        change(events(feed(&mut s, ":carol!c@h AWAY"))),
        ("carol".into(), MembershipChange::Away { message: None })
    );
    assert!(events(feed(&mut s, ":stranger!s@h AWAY :not here")).is_empty());
    let ev = events(feed(&mut s, ":carol!c@h KICK #chan alice :out"));
    assert_eq!(
        ev,
        [RemoteEvent::GroupLeft {
            group: GroupId::new("#chan%net"),
            reason: LeaveReason::Kicked {
                by: Some("carol".into()),
                reason: Some("out".into())
            }
        }]
    );
    assert!(s.channels.is_empty());
}

#[test]
fn permission_errors_become_group_errors() {
    let mut s = state();
    joined(&mut s);
    let ev = events(feed(
        &mut s,
        ":irc.test 482 alice #chan :You must be a channel op or higher to change the topic.",
    ));
    assert!(
        matches!(&ev[..], [RemoteEvent::GroupError { error: BridgeError::Forbidden(t), .. }] if t.contains("channel op")),
        "{ev:?}"
    );
}

#[test]
fn sasl_plain_when_a_password_is_set() {
    let mut s = ConnState::new("net", "alice", Fallback::Latin1);
    s.sasl = Some(("alice".into(), "pw".into()));
    let req = feed(
        &mut s,
        ":irc.test CAP * LS :sasl=PLAIN,EXTERNAL server-time",
    );
    assert_eq!(
        req,
        [Action::Send {
            line: "CAP REQ :server-time sasl".into(),
            urgent: true
        }]
    );
    let auth = feed(&mut s, ":irc.test CAP alice ACK :server-time sasl");
    assert_eq!(
        auth,
        [Action::Send {
            line: "AUTHENTICATE PLAIN".into(),
            urgent: true
        }]
    );
    // base64("\0alice\0pw")
    assert_eq!(
        feed(&mut s, "AUTHENTICATE +"),
        [Action::Send {
            line: "AUTHENTICATE AGFsaWNlAHB3".into(),
            urgent: true
        }]
    );
    assert_eq!(
        feed(
            &mut s,
            ":irc.test 903 alice :SASL authentication successful"
        ),
        [Action::Send {
            line: "CAP END".into(),
            urgent: true
        }]
    );
    let mut failed = ConnState::new("net", "alice", Fallback::Latin1);
    failed.sasl = Some(("alice".into(), "wrong".into()));
    let out = feed(
        &mut failed,
        ":irc.test 904 alice :SASL authentication failed",
    );
    assert!(
        matches!(
            &out[0],
            Action::Emit(RemoteEvent::State(SessionState::BadCredentials { .. }))
        ),
        "{out:?}"
    );
    assert_eq!(
        out[1],
        Action::Send {
            line: "CAP END".into(),
            urgent: true
        }
    );
    // A server without SASL: the user hears the password was not used.
    let mut none = ConnState::new("net", "alice", Fallback::Latin1);
    none.sasl = Some(("alice".into(), "pw".into()));
    let out = feed(&mut none, ":irc.test CAP * LS :server-time");
    assert!(
        matches!(
            &out[0],
            Action::Emit(RemoteEvent::State(SessionState::BadCredentials { .. }))
        ),
        "{out:?}"
    );
}

#[test]
fn pong_carries_no_line_break_from_the_ping_token() {
    let mut s = state();
    assert_eq!(
        feed(&mut s, "PING :irc.test"),
        [Action::Send {
            line: "PONG :irc.test".into(),
            urgent: true
        }]
    );
    // Found by the irc fuzz target: the reader ends lines at LF, so a CR inside one is
    // the server's to choose.
    let msg: Message = "PING :irc.test\rPRIVMSG #c :spam".parse().unwrap();
    assert_eq!(
        s.handle(msg),
        [Action::Send {
            line: "PONG :irc.test PRIVMSG #c :spam".into(),
            urgent: true
        }]
    );
}

#[test]
fn a_channel_with_its_own_fallback_decodes_its_lines_with_it() {
    let mut s = state();
    assert_eq!(
        s.fallback_for(b":b!b@h PRIVMSG #cyr :\xef"),
        Fallback::Latin1
    );
    let cp1251: Fallback = "windows-1251".parse().unwrap();
    s.channel_fallbacks.insert("#cyr".into(), cp1251);
    // Any case of the channel, any of the commands about it.
    for line in [
        b":b!b@h PRIVMSG #CYR :\xef\xf0".as_slice(),
        b":b!b@h TOPIC #cyr :\xef",
        b":irc.test 332 alice #Cyr :\xef",
        b":op!o@h KICK #cyr b :\xef",
    ] {
        assert_eq!(s.fallback_for(line), cp1251, "{line:?}");
    }
    // Other channels, private messages and lines about no channel keep the network's.
    assert_eq!(
        s.fallback_for(b":b!b@h PRIVMSG #lat :\xef"),
        Fallback::Latin1
    );
    assert_eq!(
        s.fallback_for(b":b!b@h PRIVMSG alice :\xef"),
        Fallback::Latin1
    );
    assert_eq!(s.fallback_for(b":b!b@h QUIT :\xef"), Fallback::Latin1);
    feed(&mut s, ":alice!a@h JOIN #cyr");
    feed(&mut s, ":irc.test 366 alice #cyr :End of /NAMES list.");
    let msg: irc_proto::Message = text::decode(b":b!b@h PRIVMSG #cyr :\xef\xf0", cp1251)
        .parse()
        .unwrap();
    let got = events(s.handle(msg));
    assert!(
        matches!(&got[..], [RemoteEvent::Message(m)] if m.content.text == "пр"),
        "{got:?}"
    );
}

#[test]
fn lines_said_while_the_names_come_are_held_until_the_join_is_announced() {
    let mut s = state();
    feed(&mut s, ":alice!a@h JOIN #Chan");
    feed(&mut s, ":irc.test 353 alice = #Chan :carol alice");
    // Said between our JOIN and the end of the names: nothing the core could show yet.
    assert!(events(feed(&mut s, ":carol!c@h PRIVMSG #chan :early one")).is_empty());
    assert!(events(feed(
        &mut s,
        ":carol!c@h PRIVMSG #Chan :\x01ACTION early two\x01"
    ))
    .is_empty());
    // A private line is not held.
    assert_eq!(
        events(feed(&mut s, ":carol!c@h PRIVMSG alice :psst")).len(),
        1
    );
    let got = events(feed(
        &mut s,
        ":irc.test 366 alice #Chan :End of /NAMES list.",
    ));
    let kinds: Vec<_> = got
        .iter()
        .map(|e| match e {
            RemoteEvent::GroupJoined(_) => "joined".to_string(),
            RemoteEvent::Message(m) => m.content.text.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["joined", "early one", "early two"]);
    // Afterwards lines go straight through.
    assert_eq!(
        events(feed(&mut s, ":carol!c@h PRIVMSG #chan :later")).len(),
        1
    );
}

#[test]
fn a_server_flooding_a_join_in_progress_fills_only_the_held_lines() {
    let mut s = state();
    feed(&mut s, ":alice!a@h JOIN #flood");
    for i in 0..(HELD_LINES + 50) {
        feed(&mut s, &format!(":carol!c@h PRIVMSG #flood :line {i}"));
    }
    assert_eq!(s.hits.get(crate::hits::Limit::HeldLines), 50);
    let got = events(feed(&mut s, ":irc.test 366 alice #flood :End"));
    assert_eq!(got.len(), 1 + HELD_LINES, "the join and the first lines");
    // A join that fails drops what was held with the channel.
    feed(&mut s, ":alice!a@h JOIN #gone");
    feed(&mut s, ":carol!c@h PRIVMSG #gone :never shown");
    feed(
        &mut s,
        ":irc.test 474 alice #gone :Cannot join channel (+b)",
    );
    assert!(!s.channels.contains_key("#gone"));
}

#[test]
fn ctcp_requests_to_our_nick_are_answered_by_notice_and_others_not_at_all() {
    let mut s = state();
    let sent = |actions: Vec<Action>| -> Vec<String> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Send {
                    line,
                    urgent: false,
                } => Some(line),
                _ => None,
            })
            .collect()
    };
    let got = sent(feed(&mut s, ":carol!c@h PRIVMSG alice :\x01PING 42\x01"));
    assert_eq!(got, ["NOTICE carol :\x01PING 42\x01"]);
    let got = sent(feed(&mut s, ":carol!c@h PRIVMSG alice :\x01version\x01"));
    assert!(
        got[0].starts_with("NOTICE carol :\x01VERSION Switchboard "),
        "{got:?}"
    );
    // To a channel, unknown requests, and nothing is bridged either way.
    feed(&mut s, ":alice!a@h JOIN #c");
    feed(&mut s, ":irc.test 366 alice #c :End");
    assert!(feed(&mut s, ":carol!c@h PRIVMSG #c :\x01VERSION\x01").is_empty());
    assert!(feed(&mut s, ":carol!c@h PRIVMSG alice :\x01FINGER\x01").is_empty());
    // The bucket is spent after the burst (two answers above, one more now).
    assert_eq!(
        sent(feed(&mut s, ":carol!c@h PRIVMSG alice :\x01TIME\x01")).len(),
        1
    );
    assert!(feed(&mut s, ":carol!c@h PRIVMSG alice :\x01PING 1\x01").is_empty());
    assert_eq!(s.hits.get(crate::hits::Limit::CtcpFlood), 1);
    // A prefix a hostile server made up still gives one line to one target.
    let mut odd = state();
    let got = sent(feed(&mut odd, "::x!c@h PRIVMSG alice :\x01PING 1\x01"));
    assert_eq!(got, ["NOTICE x :\x01PING 1\x01"]);
    // Off: nothing answered.
    let mut off = state();
    off.ctcp.enabled = false;
    assert!(feed(&mut off, ":carol!c@h PRIVMSG alice :\x01PING 42\x01").is_empty());
}
