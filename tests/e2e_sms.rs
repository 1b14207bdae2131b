//! End-to-end SMS: real Prosody, slixmpp users, the gateway, and behind it either a
//! Twilio-shaped HTTP endpoint (the one stand-in allowed) or a real Kannel with its fake
//! SMSC spoken to over TCP.

mod common;

use common::kannel::Kannel;
use common::sms::*;
use common::twilio::FakeTwilio;
use common::{error_condition, free_port, workdir, Gateway};
use std::time::Duration;

fn receipt_for(s: &minidom::Element, id: &str) -> bool {
    s.get_child("received", "urn:xmpp:receipts")
        .is_some_and(|r| r.attr("id") == Some(id))
}

#[test]
fn twilio_both_ways_with_receipts_media_limits_and_refusals() {
    let dir = workdir("sms-twilio");
    let prosody = prosody(dir.path());
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let http = free_port();
    let _gw = start_gateway(
        dir.path(),
        &config(
            &prosody,
            http,
            &twilio(&fake.api_base()),
            "  max_segments: 10\n",
        ),
    );
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let phone = contact(PHONE);

    // Out, non-ASCII and emoji intact, with a receipt once Twilio reports delivery.
    text(&alice, &phone, "Grüße 👋 from XMPP", "m1");
    let sent = fake.wait_messages(1, T);
    assert_eq!(sent[0].to, PHONE);
    assert_eq!(sent[0].from, ALICE_NUMBER);
    assert_eq!(sent[0].body, "Grüße 👋 from XMPP");
    let callback = sent[0].status_callback.clone().expect("a status callback");
    assert!(callback.starts_with(&format!("http://127.0.0.1:{http}/sms/twilio/status?ref=")));
    alice.expect_none(Duration::from_millis(500), |s| receipt_for(s, "m1"));
    assert_eq!(fake.send_status(&sent[0], "sent", None).0, 204);
    assert_eq!(fake.send_status(&sent[0], "delivered", None).0, 204);
    let r = alice.expect(T, "the receipt of m1", |s| receipt_for(s, "m1"));
    assert_eq!(r.attr("from"), Some(phone.as_str()));
    // Phone contacts are approved at once; the transport shows the provider's health.
    alice.send(&format!("<presence type='subscribe' to='{phone}'/>"));
    // (Prosody keeps the `subscribed` to itself; what alice sees is the phone's presence
    // once approved, and the gateway asking back.)
    alice.expect(T, "the phone's presence once approved", |s| {
        s.name() == "presence" && s.attr("from") == Some(phone.as_str()) && s.attr("type").is_none()
    });
    alice.expect(T, "the gateway subscribing back", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(phone.as_str())
            && s.attr("type") == Some("subscribe")
    });
    let (show, status) = transport_presence(&alice, "twilio: ok");
    assert_eq!(show, None, "{status}");
    // A repeated callback gives no second receipt.
    assert_eq!(fake.send_status(&sent[0], "delivered", None).0, 204);
    alice.expect_none(Duration::from_secs(1), |s| receipt_for(s, "m1"));

    // In: text and media from the phone, shown from its JID (media as OOB).
    let hook = format!("http://127.0.0.1:{http}/sms/twilio");
    let (code, answer) = fake.send_inbound(
        &hook,
        PHONE,
        ALICE_NUMBER,
        "Hi back ✓ 🎉",
        &[("https://media.example/cat.jpg", "image/jpeg")],
    );
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("<Response></Response>"), "{answer}");
    expect_text(&alice, &phone, "Hi back ✓ 🎉");
    let media = expect_text(&alice, &phone, "https://media.example/cat.jpg");
    assert!(media.get_child("x", "jabber:x:oob").is_some());

    // A forged webhook is refused and delivers nothing.
    let (code, _) = common::twilio::post_form(
        &hook,
        &[("From", PHONE), ("To", ALICE_NUMBER), ("Body", "forged")],
        Some("bm90IGEgc2lnbmF0dXJl"),
    );
    assert_eq!(code, 403);
    let (code, _) = common::twilio::post_form(
        &hook,
        &[("From", PHONE), ("To", ALICE_NUMBER), ("Body", "unsigned")],
        None,
    );
    assert_eq!(code, 403);
    alice.expect_none(Duration::from_secs(1), |s| {
        matches!(body(s).as_str(), "forged" | "unsigned")
    });
    assert_eq!(metric(http, "switchboard_sms_webhooks_refused_total"), 2);

    // A text to a number nobody owns is counted, not delivered.
    let (code, _) = fake.send_inbound(&hook, PHONE, "+15559990000", "nobody's", &[]);
    assert_eq!(code, 200);
    assert_eq!(metric(http, "switchboard_sms_unrouted_total"), 1);

    // Out with an attachment: MMS media.
    alice.send(&format!(
        "<message type='chat' id='m2' to='{phone}'><body>https://up.example/dog.png</body>\
         <x xmlns='jabber:x:oob'><url>https://up.example/dog.png</url></x></message>"
    ));
    let sent = fake.wait_messages(2, T);
    assert_eq!(
        sent[1].media_urls,
        vec!["https://up.example/dog.png".to_string()]
    );
    assert_eq!(sent[1].body, "");

    // A long message is sent whole; one past sms.max_segments is refused with its count.
    let long = "Lorem ipsum dolor sit amet. ".repeat(15); // 420 GSM-7 characters: 3 parts
    text(&alice, &phone, &long, "m3");
    let sent = fake.wait_messages(3, T);
    assert_eq!(sent[2].body, long);
    let too_long = "x".repeat(153 * 10 + 1);
    text(&alice, &phone, &too_long, "m4");
    let (condition, why) = expect_error(&alice, "m4");
    assert_eq!(condition, "not-acceptable");
    assert!(why.contains("needs 11 SMS segments"), "{why}");

    // Delivery failure reported later: an error for that message.
    text(&alice, &phone, "to a landline", "m5");
    let sent = fake.wait_messages(4, T);
    assert_eq!(
        fake.send_status(&sent[3], "undelivered", Some("30006")).0,
        204
    );
    let (condition, why) = expect_error(&alice, "m5");
    assert_eq!(condition, "recipient-unavailable");
    assert!(why.contains("30006"), "{why}");

    // A permanent provider refusal comes back with Twilio's reason.
    fake.fail_next(
        1,
        400,
        r#"{"code":21211,"message":"The 'To' number +15551234567 is not a valid phone number.","status":400}"#,
    );
    text(&alice, &phone, "refused", "m6");
    let (condition, why) = expect_error(&alice, "m6");
    assert_eq!(condition, "not-acceptable");
    assert!(why.contains("21211"), "{why}");

    // Bad numbers and users without a number.
    text(&alice, &contact("+1555"), "short", "m7");
    assert_eq!(expect_error(&alice, "m7").0, "jid-malformed");
    text(&alice, &contact("call-me"), "letters", "m8");
    assert_eq!(expect_error(&alice, "m8").0, "jid-malformed");
    let bob = user(dir.path(), &prosody, "bob@localhost");
    text(&bob, &phone, "hello?", "b1");
    let (condition, why) = expect_error(&bob, "b1");
    assert_eq!(condition, "not-allowed");
    assert!(why.contains("no phone number is assigned to you"), "{why}");
    assert_eq!(fake.messages().len(), 4, "nothing refused reached Twilio");
}

#[test]
fn admins_assign_numbers_at_run_time_and_limits_apply() {
    let dir = workdir("sms-assign");
    let prosody = prosody(dir.path());
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let http = free_port();
    let cfg = config(
        &prosody,
        http,
        &twilio(&fake.api_base()),
        "  rate_per_minute: 2\n",
    );
    let mut gw = start_gateway(dir.path(), &cfg);
    let admin = user(dir.path(), &prosody, "admin@localhost");
    let bob = user(dir.path(), &prosody, "bob@localhost");
    let phone = contact(PHONE);
    let hook = format!("http://127.0.0.1:{http}/sms/twilio");

    // Not for users.
    let refused = admin_command(&bob, "assign-number", &[]);
    assert_eq!(error_condition(&refused).as_deref(), Some("forbidden"));
    // A bad number, then a number the config gives to someone else.
    let bad = admin_command(
        &admin,
        "assign-number",
        &[("number", "12"), ("jid", "bob@localhost")],
    );
    assert_eq!(
        error_condition(&bad).as_deref(),
        Some("jid-malformed"),
        "{}",
        String::from(&bad)
    );
    let taken = admin_command(
        &admin,
        "assign-number",
        &[("number", ALICE_NUMBER), ("jid", "bob@localhost")],
    );
    assert_eq!(
        error_condition(&taken).as_deref(),
        Some("conflict"),
        "{}",
        String::from(&taken)
    );
    let done = admin_command(
        &admin,
        "assign-number",
        &[("number", "+1 (555) 000-2222"), ("jid", "Bob@LocalHost")],
    );
    let note = done
        .get_child("command", NS_COMMANDS)
        .and_then(|c| c.get_child("note", NS_COMMANDS))
        .map(|n| n.text())
        .unwrap_or_else(|| panic!("{}", String::from(&done)));
    assert_eq!(note, "+15550002222 is now assigned to bob@localhost.");

    // The assignment is stored: it holds after a restart.
    assert!(gw.sigterm_and_wait(T).is_some_and(|s| s.success()));
    drop(gw);
    let gw = start_gateway(dir.path(), &cfg);
    text(&bob, &phone, "from bob 1", "b1");
    assert_eq!(fake.wait_messages(1, T)[0].from, "+15550002222");
    fake.send_inbound(&hook, PHONE, "+15550002222", "to bob", &[]);
    expect_text(&bob, &phone, "to bob");

    // The per-minute rate is 2: the third message within a minute is refused.
    text(&bob, &phone, "from bob 2", "b2");
    text(&bob, &phone, "from bob 3", "b3");
    let (condition, why) = expect_error(&bob, "b3");
    assert_eq!(condition, "policy-violation");
    assert!(why.contains("per minute"), "{why}");
    fake.wait_messages(2, T);

    let done = admin_command(&admin, "unassign-number", &[("number", "+15550002222")]);
    assert!(
        String::from(&done).contains("completed"),
        "{}",
        String::from(&done)
    );
    text(&bob, &phone, "after unassign", "b4");
    assert_eq!(expect_error(&bob, "b4").0, "not-allowed");
    drop(gw);
}

#[test]
fn twilio_failures_are_retried_exactly_once_and_survive_sigkill() {
    let dir = workdir("sms-durable");
    let prosody = prosody(dir.path());
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let http = free_port();
    let cfg = config(&prosody, http, &twilio(&fake.api_base()), "");
    let gw = start_gateway(dir.path(), &cfg);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let phone = contact(PHONE);

    // 500 twice, then accepted: sent exactly once.
    fake.fail_next(
        2,
        500,
        r#"{"code":20500,"message":"Internal Server Error","status":500}"#,
    );
    text(&alice, &phone, "third time lucky", "m1");
    let sent = fake.wait_messages(1, Duration::from_secs(20));
    assert_eq!(sent[0].body, "third time lucky");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fake.attempts(), 3);
    assert_eq!(fake.messages().len(), 1);
    drop(gw);

    // A provider that cannot be reached: messages wait in the outbox; SIGKILL; after the
    // restart (provider back) each is sent once.
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut gw = start_gateway(dir.path(), &config(&prosody, http, &twilio(&down), ""));
    for i in 0..3 {
        text(&alice, &phone, &format!("queued {i}"), &format!("q{i}"));
    }
    gw.wait_for_log("Delivery failed; retrying", T);
    wait_until(T, || metric(http, "switchboard_outbox_messages") == 3);
    let (show, status) = transport_presence(&alice, "3 queued, cannot reach twilio");
    assert_eq!(show.as_deref(), Some("away"), "{status}");
    gw.kill9();
    drop(gw);
    let _gw: Gateway = start_gateway(dir.path(), &cfg);
    let sent = fake.wait_messages(4, T);
    // Up to 8 SMS of one user are in flight at once, so their order is the provider's.
    let mut bodies: Vec<&str> = sent[1..].iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, ["queued 0", "queued 1", "queued 2"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fake.messages().len(), 4, "nothing sent twice");
}

#[test]
fn kannel_both_ways_unicode_long_texts_and_forged_requests() {
    let dir = workdir("sms-kannel");
    let prosody = prosody(dir.path());
    let http = free_port();
    let smsc = Kannel::start(
        dir.path(),
        &format!("http://127.0.0.1:{http}/sms/kannel?secret={KANNEL_SECRET}"),
    );
    let _gw = start_gateway(
        dir.path(),
        &config(&prosody, http, &kannel(&smsc.sendsms_url()), ""),
    );
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let phone = contact("+4917000000");

    text(&alice, &phone, "Grüße 👋 aus XMPP", "m1");
    let mt = smsc.expect_mt(T);
    assert_eq!(mt.text, "Grüße 👋 aus XMPP", "{}", mt.raw);
    assert!(mt.to.ends_with("4917000000"), "{}", mt.raw);
    assert!(mt.from.ends_with("15550001111"), "{}", mt.raw);
    // Kannel's delivery report (type 1 from the fake SMSC) comes back as the receipt.
    let r = alice.expect(T, "the receipt of m1", |s| receipt_for(s, "m1"));
    assert_eq!(r.attr("from"), Some(phone.as_str()));

    let long = "The quick brown fox jumps over the lazy dog. ".repeat(9); // 405 chars
    text(&alice, &phone, &long, "m2");
    let parts = smsc.expect_mt_parts(3, T);
    let whole: String = parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(whole, long);

    smsc.send_mo("+4917000000", ALICE_NUMBER, "Hallo 👋 zurück");
    expect_text(&alice, &phone, "Hallo 👋 zurück");
    smsc.send_mo("4917000000", ALICE_NUMBER, "plain  spaces kept");
    expect_text(&alice, &phone, "plain  spaces kept");

    // Forged: wrong or missing secret.
    let (code, _) = common::http_get(
        http,
        "/sms/kannel?secret=wrong&from=%2B4917000000&to=%2B15550001111&text=forged",
    );
    assert_eq!(code, 403);
    let (code, _) = common::http_get(http, "/sms/kannel/dlr?ref=x&type=1");
    assert_eq!(code, 403);
    alice.expect_none(Duration::from_secs(1), |s| body(s) == "forged");

    // Kannel is text only: an attachment is refused with a clear error.
    alice.send(&format!(
        "<message type='chat' id='m3' to='{phone}'><body>https://up.example/x.png</body>\
         <x xmlns='jabber:x:oob'><url>https://up.example/x.png</url></x></message>"
    ));
    let (condition, why) = expect_error(&alice, "m3");
    assert_eq!(condition, "not-acceptable");
    assert!(why.contains("text only"), "{why}");

    smsc.send_mo("+4917000000", "+15559990000", "to nobody");
    wait_until(T, || metric(http, "switchboard_sms_unrouted_total") == 1);
}
