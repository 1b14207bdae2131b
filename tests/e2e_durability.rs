//! End-to-end durability: the component link across Prosody restarts and bad stanzas, the
//! outbox across failures and a SIGKILL, and per-user bounds.

mod common;

use common::echo::*;
use common::{error_condition, free_port, workdir, Gateway};
use std::time::Duration;

#[test]
fn keeps_working_after_prosody_restarts_and_bad_stanzas() {
    let dir = workdir("reconnect");
    let mut prosody = prosody(dir.path());
    let gw = start_gateway(dir.path(), &prosody, free_port());
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.wait_for_service(ECHO, T);
    assert_eq!(register(&alice, "ann").attr("type"), Some("result"));

    // A stanza xmpp-parsers cannot parse is bounced; the link stays up.
    alice.send("<message type='bogus' id='b1' to='bob@echo.localhost'><body>x</body></message>");
    let bounced = alice.expect(T, "bad-request for the bogus message", |s| {
        s.attr("id") == Some("b1")
    });
    assert_eq!(error_condition(&bounced).as_deref(), Some("bad-request"));
    // Keepalive is 2 s: quiet links must not be dropped.
    std::thread::sleep(Duration::from_secs(5));
    chat(&alice, "bob@echo.localhost", "still here", "m1");
    expect_echo(&alice, "bob@echo.localhost", "still here");
    assert_eq!(
        gw.log().matches("Component link up").count(),
        1,
        "{}",
        gw.log()
    );
    drop(alice);

    prosody.restart();
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.wait_for_service(ECHO, Duration::from_secs(40));
    chat(&alice, "bob@echo.localhost", "after the restart", "m2");
    expect_echo(&alice, "bob@echo.localhost", "after the restart");
    let log = gw.log();
    assert_eq!(log.matches("Component link up").count(), 2, "{log}");
    // The foreign session lived on across the link restart.
    assert_eq!(log.matches("Echo session opened").count(), 1, "{log}");
}

#[test]
fn queued_messages_survive_sigkill_and_failures_come_back_as_errors() {
    let dir = workdir("durable");
    let prosody = prosody(dir.path());
    let http = free_port();
    let mut gw = start_gateway(dir.path(), &prosody, http);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.wait_for_service(ECHO, T);
    assert_eq!(register(&alice, "ann").attr("type"), Some("result"));

    // Permanent failure: an error with the network's reason, and no echo.
    chat(&alice, "bob@echo.localhost", "!reject: not today", "r1");
    let rejected = alice.expect(T, "the rejection", |s| s.attr("id") == Some("r1"));
    assert_eq!(
        error_condition(&rejected).as_deref(),
        Some("not-acceptable")
    );
    assert!(String::from(&rejected).contains("not today"));

    // Transient failures are retried from storage: the message arrives exactly once.
    chat(&alice, "bob@echo.localhost", "!flaky 2", "f1");
    expect_echo(&alice, "bob@echo.localhost", "!flaky 2");
    alice.expect_none(Duration::from_secs(2), |s| body(s) == "!flaky 2");

    // A crash while a message waits for retries: it is delivered after the restart.
    let retries_before = gw.log().matches("Delivery failed; retrying").count();
    chat(&alice, "bob@echo.localhost", "!flaky 4", "f2");
    let deadline = std::time::Instant::now() + T;
    while gw.log().matches("Delivery failed; retrying").count() == retries_before {
        assert!(
            std::time::Instant::now() < deadline,
            "no retry logged\n{}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    gw.kill9();
    let _gw2 = start_gateway(dir.path(), &prosody, http);
    let echo = alice.expect(
        Duration::from_secs(40),
        "the queued message after the crash",
        |s| is_from(s, "message", "bob@echo.localhost") && body(s) == "!flaky 4",
    );
    assert_eq!(echo.attr("type"), Some("chat"));
    alice.expect_none(Duration::from_secs(2), |s| body(s) == "!flaky 4");
}

#[test]
fn a_user_past_their_queue_gets_resource_constraint_and_logs_can_be_json() {
    let dir = workdir("queue");
    let prosody = prosody(dir.path());
    let config = config(&prosody, free_port())
        .replace("  keepalive: 2s", "  keepalive: 2s\n  user_queue: 1");
    let gw = Gateway::start_with_args(
        dir.path(),
        &config,
        &[("ECHO_SECRET", SECRET)],
        &["--log-format", "json"],
    );
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.wait_for_service(ECHO, T);
    assert_eq!(register(&alice, "ann").attr("type"), Some("result"));

    // The first message waits for a flaky network; the second is one too many.
    chat(&alice, "bob@echo.localhost", "!flaky 1000", "q1");
    gw.wait_for_log("Delivery failed; retrying", T);
    chat(&alice, "bob@echo.localhost", "one too many", "q2");
    let refused = alice.expect(T, "resource-constraint", |s| s.attr("id") == Some("q2"));
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("resource-constraint")
    );
    assert!(
        String::from(&refused).contains("1 of your messages are still waiting"),
        "{}",
        String::from(&refused)
    );

    for line in gw.log().lines().filter(|l| !l.trim().is_empty()) {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            parsed.get("level").is_some() && parsed.get("fields").is_some(),
            "{line}"
        );
    }
}
