//! End-to-end tests of the gateway core through the echo transport: a real Prosody, the
//! real `switchboard` binary, and real XMPP users (python3-slixmpp).

mod common;

use common::echo::*;
use common::{error_condition, free_port, workdir};
use minidom::Element;
use std::time::Duration;

#[test]
fn disco_version_ping_and_admin_commands() {
    let dir = workdir("disco");
    let prosody = prosody(dir.path());
    let http = free_port();
    let _gw = start_gateway(dir.path(), &prosody, http);
    let alice = user(dir.path(), &prosody, "alice@localhost");

    let info = alice.wait_for_service(ECHO, T);
    assert_eq!(wait_health(http, 200), "echo.localhost up\n");
    let (code, metrics) = common::http_get(http, "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("switchboard_link_up{domain=\"echo.localhost\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_outbox_messages{domain=\"echo.localhost\"} 0"),
        "{metrics}"
    );
    let query = info
        .get_child("query", common::NS_DISCO_INFO)
        .expect("disco#info query");
    let identity = query
        .get_child("identity", common::NS_DISCO_INFO)
        .expect("an identity");
    assert_eq!(identity.attr("category"), Some("gateway"));
    assert_eq!(identity.attr("type"), Some("echo"));
    let features: Vec<&str> = query.children().filter_map(|f| f.attr("var")).collect();
    for f in [
        NS_REGISTER,
        "jabber:iq:gateway",
        "jabber:iq:version",
        "urn:xmpp:ping",
        NS_COMMANDS,
    ] {
        assert!(features.contains(&f), "missing feature {f}: {features:?}");
    }

    let version = alice.iq(
        &format!("<iq type='get' id='v1' to='{ECHO}'><query xmlns='jabber:iq:version'/></iq>"),
        "v1",
        T,
    );
    let v = version
        .get_child("query", "jabber:iq:version")
        .expect("version query");
    assert_eq!(
        v.get_child("name", "jabber:iq:version")
            .map(Element::text)
            .as_deref(),
        Some("Switchboard")
    );
    assert_eq!(
        v.get_child("version", "jabber:iq:version")
            .map(Element::text)
            .as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let pong = alice.iq(
        &format!("<iq type='get' id='p1' to='{ECHO}'><ping xmlns='urn:xmpp:ping'/></iq>"),
        "p1",
        T,
    );
    assert_eq!(pong.attr("type"), Some("result"));

    // XEP-0100: the gateway turns what a user types into a contact JID.
    let prompt = alice.iq(
        &format!("<iq type='set' id='g1' to='{ECHO}'><query xmlns='jabber:iq:gateway'><prompt>bob smith</prompt></query></iq>"),
        "g1",
        T,
    );
    let jid = prompt
        .get_child("query", "jabber:iq:gateway")
        .and_then(|q| q.get_child("jid", "jabber:iq:gateway"));
    assert_eq!(
        jid.map(Element::text).as_deref(),
        Some("bob\\20smith@echo.localhost")
    );

    // A user who is not an admin sees no admin commands and may not run them; `ping` and
    // `hello` are for anyone.
    let list = alice.iq(
        &format!("<iq type='get' id='l1' to='{ECHO}'><query xmlns='http://jabber.org/protocol/disco#items' node='{NS_COMMANDS}'/></iq>"),
        "l1",
        T,
    );
    let nodes: Vec<String> = list
        .get_child("query", "http://jabber.org/protocol/disco#items")
        .map(|q| {
            q.children()
                .filter_map(|i| i.attr("node").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(nodes, ["ping", "hello"], "{}", String::from(&list));
    let pong = common::run_command(&alice, ECHO, "ping", &[]);
    assert_eq!(
        common::command_note(&pong),
        "Pong",
        "{}",
        String::from(&pong)
    );
    let hello = common::run_command(&alice, ECHO, "hello", &[("name", "Alice")]);
    assert_eq!(common::command_note(&hello), "Hello Alice!");
    // Without the name the form asks for: an error naming the field.
    let incomplete = common::run_command(&alice, ECHO, "hello", &[]);
    assert_eq!(
        error_condition(&incomplete).as_deref(),
        Some("not-acceptable"),
        "{}",
        String::from(&incomplete)
    );
    assert!(common::error_text(&incomplete).contains("'name'"));
    let refused = alice.iq(
        &format!("<iq type='set' id='c1' to='{ECHO}'><command xmlns='{NS_COMMANDS}' node='status' action='execute'/></iq>"),
        "c1",
        T,
    );
    assert_eq!(error_condition(&refused).as_deref(), Some("forbidden"));

    let admin = user(dir.path(), &prosody, "admin@localhost");
    let note = status_note(&admin);
    assert!(
        note.starts_with("Echo transport: link Up, 0 sessions"),
        "{note}"
    );
}

#[test]
fn registration_round_trip_survives_a_gateway_restart() {
    let dir = workdir("register");
    let prosody = prosody(dir.path());
    let http = free_port();
    let mut gw = start_gateway(dir.path(), &prosody, http);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.wait_for_service(ECHO, T);

    // Not registered yet: messages are refused with registration-required.
    chat(&alice, "bob@echo.localhost", "too early", "m0");
    let refused = alice.expect(T, "registration-required", |s| s.attr("id") == Some("m0"));
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("registration-required")
    );

    let form = alice.iq(
        &format!("<iq type='get' id='f1' to='{ECHO}'><query xmlns='{NS_REGISTER}'/></iq>"),
        "f1",
        T,
    );
    let q = form
        .get_child("query", NS_REGISTER)
        .expect("register query");
    assert!(q.has_child("username", NS_REGISTER) && !q.has_child("registered", NS_REGISTER));
    assert!(
        q.has_child("x", "jabber:x:data"),
        "a data form: {}",
        String::from(&form)
    );

    // A missing required field is refused with a text that names it.
    let id = alice.new_id();
    let bad = alice.iq(
        &format!("<iq type='set' id='{id}' to='{ECHO}'><query xmlns='{NS_REGISTER}'/></iq>"),
        &id,
        T,
    );
    assert_eq!(error_condition(&bad).as_deref(), Some("not-acceptable"));
    assert!(String::from(&bad).contains("the field 'username' (Name) is required"));

    let ok = register(&alice, "ann");
    assert_eq!(ok.attr("type"), Some("result"), "{}", String::from(&ok));
    alice.expect(T, "a subscription request from the transport", |s| {
        is_from(s, "presence", ECHO) && s.attr("type") == Some("subscribe")
    });

    chat(&alice, "bob@echo.localhost", "hello bob", "m1");
    expect_echo(&alice, "bob@echo.localhost", "hello bob");
    assert!(
        !gw.log().contains(SECRET),
        "the component secret must never be logged"
    );
    assert!(
        !gw.log().contains("hello bob"),
        "bodies are not logged even at trace level"
    );
    alice.expect(T, "a delivery receipt for m1", |s| {
        s.get_child("received", "urn:xmpp:receipts")
            .and_then(|r| r.attr("id"))
            == Some("m1")
    });

    // Restart: SIGTERM exits 0 quickly and the user sees the transport go offline.
    let status = gw
        .sigterm_and_wait(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}\n{}", gw.log());
    alice.expect(T, "unavailable presence from the transport", |s| {
        is_from(s, "presence", ECHO) && s.attr("type") == Some("unavailable")
    });
    let gw2 = start_gateway(dir.path(), &prosody, http);
    gw2.wait_for_log("Component link up", T);

    let form = alice.iq(
        &format!("<iq type='get' id='f2' to='{ECHO}'><query xmlns='{NS_REGISTER}'/></iq>"),
        "f2",
        T,
    );
    let q = form
        .get_child("query", NS_REGISTER)
        .expect("register query");
    assert!(
        q.has_child("registered", NS_REGISTER),
        "still registered: {}",
        String::from(&form)
    );
    assert_eq!(
        q.get_child("username", NS_REGISTER)
            .map(Element::text)
            .as_deref(),
        Some("ann")
    );
    chat(&alice, "carol@echo.localhost", "after restart", "m2");
    expect_echo(&alice, "carol@echo.localhost", "after restart");

    // Unregistering removes the user's data: messages are refused again.
    let bye = alice.iq(&format!("<iq type='set' id='u1' to='{ECHO}'><query xmlns='{NS_REGISTER}'><remove/></query></iq>"), "u1", T);
    assert_eq!(bye.attr("type"), Some("result"));
    chat(&alice, "bob@echo.localhost", "gone", "m3");
    let refused = alice.expect(T, "registration-required after removal", |s| {
        s.attr("id") == Some("m3")
    });
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("registration-required")
    );
}

#[test]
fn a_domain_not_allowed_is_forbidden_and_never_reaches_the_bridge() {
    let dir = workdir("forbidden");
    let prosody = prosody(dir.path());
    let _gw = start_gateway(dir.path(), &prosody, free_port());
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.wait_for_service(ECHO, T);
    let mallory = user(dir.path(), &prosody, "mallory@other.localhost");

    let disco = mallory.iq(
        &format!(
            "<iq type='get' id='d1' to='{ECHO}'><query xmlns='{}'/></iq>",
            common::NS_DISCO_INFO
        ),
        "d1",
        T,
    );
    assert_eq!(error_condition(&disco).as_deref(), Some("forbidden"));
    let reg = register(&mallory, "mallory");
    assert_eq!(error_condition(&reg).as_deref(), Some("forbidden"));
    chat(&mallory, "bob@echo.localhost", "let me in", "x1");
    let refused = mallory.expect(T, "a forbidden message error", |s| {
        s.attr("id") == Some("x1")
    });
    assert_eq!(error_condition(&refused).as_deref(), Some("forbidden"));
    assert!(
        String::from(&refused).contains("not open to your server"),
        "{}",
        String::from(&refused)
    );
    mallory.expect_none(Duration::from_secs(1), |s| body(s) == "let me in");

    // Nothing of mallory's reached the bridge: no session was opened, nothing queued.
    let admin = user(dir.path(), &prosody, "admin@localhost");
    let note = status_note(&admin);
    assert!(note.contains("0 sessions (0 down), 0 queued"), "{note}");
}
