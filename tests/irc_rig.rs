//! Tests of the IRC half of the test rig: a private InspIRCd and raw IRC clients. They pin
//! down what the IRC bridge's tests rely on (ops for the first joiner, operator override,
//! restarts on the same port, the capabilities, ISUPPORT tokens and error numerics).
//! Run with `--nocapture` to see the timings and the exact server lines.

mod common;

use common::irc_client::irc_eq;
use common::{workdir, Inspircd, IrcClient, IrcLine};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn has_member(names: &[String], member: &str) -> bool {
    names.iter().any(|n| n == member)
}

#[test]
fn parse_irc_lines() {
    let line = IrcLine::parse(
        "@time=2026-01-02T03:04:05.000Z;msgid=a\\sb :alice!u@127.0.0.1 PRIVMSG #test :hello  there",
    );
    assert_eq!(line.tags, "time=2026-01-02T03:04:05.000Z;msgid=a\\sb");
    assert_eq!(line.tag("msgid").as_deref(), Some("a b"));
    assert_eq!(line.prefix.as_deref(), Some("alice!u@127.0.0.1"));
    assert_eq!(line.prefix_nick.as_deref(), Some("alice"));
    assert_eq!(line.command, "PRIVMSG");
    assert_eq!(line.params, ["#test", "hello  there"]);
    assert_eq!(line.privmsg_text(), Some("hello  there"));

    let line = IrcLine::parse(":irc.test 366 bob #test :End of /NAMES list.");
    assert_eq!(line.prefix_nick, None);
    assert_eq!(line.params, ["bob", "#test", "End of /NAMES list."]);

    let line = IrcLine::parse("PING :irc.test");
    assert_eq!((line.prefix, line.command.as_str()), (None, "PING"));
    assert_eq!(line.params, ["irc.test"]);

    let line = IrcLine::parse(":a!b@c MODE #t +l 5");
    assert_eq!(line.params, ["#t", "+l", "5"]);
    let line = IrcLine::parse(":irc.test CAP * LS :a b ");
    assert_eq!(line.params, ["*", "LS", "a b "]);
    assert!(irc_eq("Nick[a]", "nick{A}"));
}

#[test]
fn two_clients_talk_in_a_channel_and_come_back_after_a_restart() {
    let dir = workdir("irc-rig-talk");
    let started = Instant::now();
    let mut ircd = Inspircd::start(dir.path());
    eprintln!("InspIRCd ready after {:?}", started.elapsed());
    let port = ircd.port();

    let registering = Instant::now();
    let alice = IrcClient::connect(port, "alice");
    eprintln!("alice registered after {:?}", registering.elapsed());
    let bob = IrcClient::connect(port, "bob");

    // The first joiner creates the channel and is its operator.
    let names = alice.join("#test");
    assert_eq!(names, ["@alice"]);
    let names = bob.join("#test");
    assert!(
        has_member(&names, "@alice") && has_member(&names, "bob"),
        "{names:?}"
    );
    alice.expect(T, "bob's JOIN", |l| l.command == "JOIN" && l.is_from("bob"));

    alice.privmsg("#test", "hello bob");
    let line = bob.expect(T, "alice's message", |l| {
        l.is_message("alice", "#test", "hello bob")
    });
    assert_eq!(line.privmsg_text(), Some("hello bob"));
    bob.privmsg("alice", "hi alice, in private");
    alice.expect(T, "bob's private message", |l| {
        l.is_message("bob", "alice", "hi alice, in private")
    });
    // Without echo-message, a sender does not get its own message back.
    alice.expect_none(Duration::from_millis(300), |l| {
        l.command == "PRIVMSG" && l.is_from("alice")
    });

    let names = alice.names("#test");
    assert!(
        has_member(&names, "@alice") && has_member(&names, "bob"),
        "{names:?}"
    );

    // A restart disconnects everybody; the server comes back on the same port, empty.
    let restarting = Instant::now();
    ircd.restart();
    eprintln!("InspIRCd restarted after {:?}", restarting.elapsed());
    assert_eq!(ircd.port(), port);
    let error = alice.expect(T, "ERROR on shutdown", |l| l.command == "ERROR");
    eprintln!("on SIGTERM a client gets: {}", error.raw);
    alice.expect_disconnect(T);
    bob.expect_disconnect(T);

    let alice = IrcClient::connect(port, "alice");
    let bob = IrcClient::connect(port, "bob");
    assert_eq!(alice.join("#test"), ["@alice"]);
    bob.join("#test");
    bob.privmsg("#test", "back again");
    alice.expect(T, "bob's message after the restart", |l| {
        l.is_message("bob", "#test", "back again")
    });
    alice.quit();
    bob.expect(T, "alice's QUIT", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });
    bob.quit();

    // After a crash (SIGKILL) it comes back on the same port too.
    let carol = IrcClient::connect(port, "carol");
    ircd.kill9();
    carol.expect_disconnect(T);
    ircd.restart();
    let carol = IrcClient::connect(port, "carol");
    assert_eq!(carol.join("#test"), ["@carol"]);
    carol.quit();
    ircd.stop();
}

#[test]
fn an_operator_kicks_without_channel_status() {
    let dir = workdir("irc-rig-oper");
    let ircd = Inspircd::start(dir.path());
    let alice = IrcClient::connect(ircd.port(), "alice");
    let bob = IrcClient::connect(ircd.port(), "bob");
    alice.join("#test");
    bob.join("#test");

    // Not a channel operator: refused.
    bob.send("KICK #test alice :not yet");
    let refused = bob.expect_command(T, "482");
    assert_eq!(refused.param(1), Some("#test"));

    bob.send("OPER oper operpass");
    bob.expect_command(T, "381");
    bob.send("KICK #test alice :bye");
    let kick = alice.expect(T, "the KICK", |l| l.command == "KICK" && l.is_from("bob"));
    assert_eq!(kick.params, ["#test", "alice", "bye"]);
    let names = bob.names("#test");
    assert_eq!(names, ["bob"]);

    // A wrong password is refused with 491.
    alice.send("OPER oper wrong");
    alice.expect_command(T, "491");
}

/// What the IRC bridge will see from this server. Prints the exact lines (`--nocapture`).
#[test]
fn capabilities_isupport_and_refusals() {
    let dir = workdir("irc-rig-facts");
    let ircd = Inspircd::start(dir.path());
    let port = ircd.port();

    // Before registration: CAP LS, and a JOIN is refused with 451.
    let probe = IrcClient::connect_raw(port, "probe");
    probe.send("CAP LS 302");
    let ls = probe.expect(T, "CAP LS", |l| {
        l.command == "CAP" && l.param(1) == Some("LS")
    });
    eprintln!("CAP LS 302 -> {}", ls.raw);
    let caps: Vec<&str> = ls.last().unwrap_or_default().split_whitespace().collect();
    for cap in [
        "multi-prefix",
        "server-time",
        "echo-message",
        "message-tags",
        "away-notify",
        "account-notify",
        "extended-join",
        "userhost-in-names",
        "batch",
        "labeled-response",
        "cap-notify",
        "chghost",
        "invite-notify",
        "setname",
        "account-tag",
    ] {
        assert!(caps.contains(&cap), "{cap} missing from {caps:?}");
    }
    assert!(!caps.iter().any(|c| c.starts_with("sasl")), "{caps:?}");
    probe.send("JOIN #test");
    let unregistered = probe.expect_command(T, "451");
    eprintln!("JOIN before registration -> {}", unregistered.raw);
    probe.send("CAP END");
    probe.register("probe");
    // The welcome burst (005s, LUSERS, MOTD) ends with 376, or 422 without a MOTD.
    probe.expect(T, "end of MOTD", |l| {
        l.command == "376" || l.command == "422"
    });

    // ISUPPORT.
    let isupport: Vec<String> = probe
        .history()
        .into_iter()
        .filter(|l| IrcLine::parse(l).command == "005")
        .collect();
    for line in &isupport {
        eprintln!("{line}");
    }
    let tokens: Vec<String> = isupport
        .iter()
        .flat_map(|l| {
            let line = IrcLine::parse(l);
            line.params[1..line.params.len() - 1].to_vec()
        })
        .collect();
    for token in [
        "PREFIX=(ov)@+",
        "CHANTYPES=#",
        "NICKLEN=30",
        "CHANNELLEN=64",
        "TOPICLEN=307",
        "NETWORK=testnet",
        "CASEMAPPING=rfc1459",
        "NAMESX",
        "UHNAMES",
    ] {
        assert!(
            tokens.iter().any(|t| t == token),
            "{token} not in {tokens:?}"
        );
    }

    // 433: a second client with a nick in use.
    let taken = IrcClient::connect_raw(port, "taken");
    taken.send("NICK probe");
    taken.send("USER x 0 * :x");
    let in_use = taken.expect_command(T, "433");
    eprintln!("nick in use -> {}", in_use.raw);
    assert_eq!(in_use.params[..2], ["*", "probe"]);

    let op = IrcClient::connect(port, "chanop");
    let other = IrcClient::connect(port, "other");
    op.join("#test");
    let refusal = |setup: &str, join: &str, numeric: &str| {
        op.send(&format!("MODE #test {setup}"));
        op.expect(T, &format!("MODE {setup}"), |l| {
            l.command == "MODE" && l.is_from("chanop")
        });
        other.send(join);
        let line = other.expect(T, numeric, |l| {
            l.command.len() == 3 && l.param(1) == Some("#test")
        });
        eprintln!("{join} with {setup} -> {}", line.raw);
        assert_eq!(line.command, numeric, "{}", line.raw);
    };
    refusal("+l 1", "JOIN #test", "471");
    refusal("-l+i", "JOIN #test", "473");
    refusal("-i+b other!*@*", "JOIN #test", "474");
    refusal("-b+k other!*@* sekrit", "JOIN #test wrong", "475");
    assert!(has_member(&other.names("#test"), "@chanop"));
    other.send("JOIN #test sekrit");
    other.expect(T, "366", |l| l.command == "366");

    // With IRCv3 capabilities: the sender gets its own message back, with a msgid and time.
    let modern = IrcClient::connect_with_caps(
        port,
        "modern",
        &[
            "server-time",
            "echo-message",
            "message-tags",
            "multi-prefix",
        ],
    );
    modern.join("#modern");
    modern.privmsg("#modern", "echo me");
    let echo = modern.expect(T, "the echo", |l| {
        l.is_message("modern", "#modern", "echo me")
    });
    eprintln!("echo-message -> {}", echo.raw);
    assert!(
        echo.tag("msgid").is_some_and(|id| !id.is_empty()),
        "{}",
        echo.raw
    );
    assert!(
        echo.tag("time").is_some_and(|t| t.ends_with('Z')),
        "{}",
        echo.raw
    );

    // 482: channel operator privileges needed.
    for command in [
        "MODE #test +m",
        "TOPIC #test :new topic",
        "KICK #test chanop :x",
    ] {
        other.send(command);
        let line = other.expect(T, command, |l| {
            l.command.len() == 3 && l.param(1) == Some("#test")
        });
        eprintln!("{command} by a plain member -> {}", line.raw);
        assert_eq!(line.command, "482", "{}", line.raw);
    }
}
