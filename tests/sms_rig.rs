//! Tests of the SMS half of the test rig, without the gateway: the Twilio stand-in (its
//! Messages API, scripted failures, signed webhooks) and a private Kannel whose fake SMSC is
//! driven by the rig (MT in GSM, UCS-2 and concatenated parts; MO in GSM and UCS-2).
//! Run with `--nocapture` to see the exact fake-SMSC lines and get-url requests.

mod common;

use base64::Engine;
use common::kannel::{join_parts, Coding};
use common::kannel_smsc::decode_utf16be;
use common::twilio::{accept_one, form_encode, http_request, sign, HttpRequest};
use common::{workdir, FakeTwilio, Kannel, TwilioMessage};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "test-auth-token";

#[test]
fn twilio_signature_matches_the_documented_example() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let mut params = vec![
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    params.reverse();
    assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    assert_ne!(sign("54321", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

fn messages_url(twilio: &FakeTwilio, sid: &str) -> String {
    format!(
        "{}/2010-04-01/Accounts/{sid}/Messages.json",
        twilio.api_base()
    )
}

/// POSTs a form to the fake as the gateway would, with HTTP Basic `user:password`.
fn send(url: &str, user: &str, password: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let headers = [
        ("Authorization", format!("Basic {basic}")),
        (
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = http_request("POST", url, &headers, form_encode(form).as_bytes());
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, json)
}

const FORM: &[(&str, &str)] = &[
    ("To", "+15550001111"),
    ("From", "+15550002222"),
    ("Body", "Grüße 👋"),
    ("MediaUrl", "https://files.example/1.png"),
    ("MediaUrl", "https://files.example/2.png"),
    ("StatusCallback", "http://127.0.0.1:9/sms/twilio/status"),
];

#[test]
fn fake_twilio_accepts_authenticated_sends_and_refuses_others() {
    let twilio = FakeTwilio::start(SID, TOKEN);
    let url = messages_url(&twilio, SID);

    let (status, json) = send(&url, SID, TOKEN, FORM);
    assert_eq!(status, 201, "{json}");
    let sid = json["sid"].as_str().expect("a sid");
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert!(sid[2..].chars().all(|c| c.is_ascii_hexdigit()), "{sid}");
    assert_eq!(json["status"], "queued");
    assert_eq!(json["to"], "+15550001111");
    assert_eq!(json["from"], "+15550002222");
    assert_eq!(json["body"], "Grüße 👋");
    assert_eq!(json["num_segments"], "1");
    assert!(json["error_code"].is_null() && json["error_message"].is_null());

    let messages = twilio.wait_messages(1, T);
    let message = &messages[0];
    assert_eq!(message.sid, sid);
    assert_eq!(
        (message.to.as_str(), message.from.as_str()),
        ("+15550001111", "+15550002222")
    );
    assert_eq!(message.body, "Grüße 👋");
    assert_eq!(
        message.media_urls,
        ["https://files.example/1.png", "https://files.example/2.png"]
    );
    assert_eq!(
        message.status_callback.as_deref(),
        Some("http://127.0.0.1:9/sms/twilio/status")
    );
    assert_eq!(message.form.len(), FORM.len());

    let (status, json) = send(&url, SID, "wrong-token", FORM);
    assert_eq!(
        (status, &json["code"], &json["message"]),
        (401, &20003.into(), &"Authenticate".into())
    );
    let (status, json) = send(&messages_url(&twilio, "ACother"), SID, TOKEN, FORM);
    assert_eq!((status, &json["code"]), (404, &20404.into()));
    let (status, json) = send(&url, SID, TOKEN, &[("From", "+15550002222"), ("Body", "x")]);
    assert_eq!((status, &json["code"]), (400, &21604.into()));
    let (status, _) = http_request("POST", &url, &[], form_encode(FORM).as_bytes());
    assert_eq!(status, 401);

    assert_eq!(twilio.attempts(), 5);
    assert_eq!(twilio.messages().len(), 1);
}

#[test]
fn fake_twilio_plays_scripted_failures_in_order() {
    let twilio = FakeTwilio::start(SID, TOKEN);
    let url = messages_url(&twilio, SID);
    twilio.fail_next(
        2,
        500,
        r#"{"code":20500,"message":"Internal Server Error","status":500}"#,
    );
    let invalid_to = r#"{"code":21211,"message":"The 'To' number +1555 is not a valid phone number.","status":400}"#;
    twilio.fail_next(1, 400, invalid_to);

    let long_gsm = "x".repeat(161);
    let form = [
        ("To", "+1555"),
        ("From", "+15550002222"),
        ("Body", long_gsm.as_str()),
    ];
    let statuses: Vec<(u16, serde_json::Value)> =
        (0..4).map(|_| send(&url, SID, TOKEN, &form)).collect();
    assert_eq!(statuses[0].0, 500);
    assert_eq!(statuses[1].0, 500);
    assert_eq!(
        (statuses[2].0, &statuses[2].1["code"]),
        (400, &21211.into())
    );
    assert_eq!(
        (statuses[3].0, &statuses[3].1["num_segments"]),
        (201, &"2".into())
    );
    assert_eq!(twilio.attempts(), 4);
    assert_eq!(twilio.wait_messages(1, T).len(), 1);
    assert_eq!(common::twilio::segments(&"👋".repeat(35)), 1); // 70 UTF-16 units
    assert_eq!(common::twilio::segments(&"👋".repeat(36)), 2);
}

/// Runs `call` in a thread while the test's own listener takes its one request.
fn capture(call: impl FnOnce(String) -> (u16, String) + Send, path: &str) -> (HttpRequest, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}{path}",
        listener.local_addr().unwrap().port()
    );
    thread::scope(|scope| {
        let caller = scope.spawn({
            let url = url.clone();
            move || call(url)
        });
        let request = accept_one(&listener, T, 200, "").expect("a webhook request");
        assert_eq!(caller.join().unwrap().0, 200);
        (request, url)
    })
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {form:?}"))
}

fn assert_signed(request: &HttpRequest, url: &str) -> Vec<(String, String)> {
    let form = request.form();
    let params: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        request.header("X-Twilio-Signature"),
        Some(sign(TOKEN, url, &params).as_str())
    );
    assert_eq!(request.method, "POST");
    form
}

#[test]
fn fake_twilio_sends_signed_webhooks() {
    let twilio = FakeTwilio::start(SID, TOKEN);
    let media = [("https://api.twilio.example/Media/ME1", "image/jpeg")];
    let inbound =
        |url: String| twilio.send_inbound(&url, "+15550003333", "+15550004444", "hi 👋", &media);
    let (request, url) = capture(inbound, "/sms/twilio?tenant=a");
    let form = assert_signed(&request, &url);
    println!("inbound webhook: {form:?}");
    assert!(field(&form, "MessageSid").starts_with("SM"));
    assert_eq!(field(&form, "AccountSid"), SID);
    assert_eq!(
        (field(&form, "From"), field(&form, "To")),
        ("+15550003333", "+15550004444")
    );
    assert_eq!(field(&form, "Body"), "hi 👋");
    assert_eq!(field(&form, "NumMedia"), "1");
    assert_eq!(field(&form, "MediaUrl0"), media[0].0);
    assert_eq!(field(&form, "MediaContentType0"), "image/jpeg");
    assert_eq!(field(&form, "NumSegments"), "1");
    assert_eq!(field(&form, "SmsStatus"), "received");
    assert_eq!(field(&form, "ApiVersion"), "2010-04-01");

    let mut message = TwilioMessage {
        sid: "SM0123456789abcdef0123456789abcdef".into(),
        to: "+15550004444".into(),
        from: "+15550003333".into(),
        body: "x".into(),
        media_urls: vec![],
        status_callback: None,
        form: vec![],
    };
    let status = |url: String| {
        message.status_callback = Some(url);
        twilio.send_status(&message, "undelivered", Some("30003"))
    };
    let (request, url) = capture(status, "/sms/twilio/status");
    let form = assert_signed(&request, &url);
    assert_eq!(
        field(&form, "MessageSid"),
        "SM0123456789abcdef0123456789abcdef"
    );
    assert_eq!(field(&form, "MessageStatus"), "undelivered");
    assert_eq!(field(&form, "ErrorCode"), "30003");
    assert_eq!(field(&form, "AccountSid"), SID);
}

#[test]
fn kannel_delivers_mt_to_the_fake_smsc() {
    let dir = workdir("sms-rig-mt");
    let kannel = Kannel::start(dir.path(), "http://127.0.0.1:9/sms/kannel?secret=s");
    let ucs2 = [("charset", "UTF-8"), ("coding", "2")];
    let (status, body) = kannel.sendsms("+4915000", "+4917000", "Grüße 👋", &ucs2);
    assert_eq!((status, body.trim()), (202, "0: Accepted for delivery"));
    let mt = kannel.expect_mt(T);
    println!("MT UCS-2: {}", mt.raw);
    assert_eq!((mt.from.as_str(), mt.to.as_str()), ("+4915000", "+4917000"));
    assert_eq!(
        (mt.text.as_str(), mt.coding, mt.part),
        ("Grüße 👋", Coding::Ucs2, None)
    );
    assert!(mt.raw.contains(" ucs-2 "), "{}", mt.raw);

    kannel.sendsms("100", "200", "Hello äöü €", &[]);
    let mt = kannel.expect_mt(T);
    println!("MT GSM: {}", mt.raw);
    assert_eq!(
        (mt.raw.as_str(), mt.coding),
        ("100 200 text Hello äöü €", Coding::Gsm)
    );

    // A newline splits a 7-bit MT line; the reader joins it back.
    kannel.sendsms("100", "200", "line one\nline two", &[]);
    assert_eq!(kannel.expect_mt(T).text, "line one\nline two");
    // 7-bit coding loses what GSM cannot hold: one `?` per UTF-8 byte.
    kannel.sendsms("100", "200", "hi 👋", &[]);
    assert_eq!(kannel.expect_mt(T).text, "hi ????");

    let long: String = (0..400)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    kannel.sendsms("100", "200", &long, &[]);
    let parts = kannel.expect_mt_parts(3, T);
    for part in &parts {
        println!("MT part: {}", part.raw);
    }
    let seqs: Vec<_> = parts
        .iter()
        .map(|mt| mt.part.expect("a concatenated part"))
        .collect();
    assert!(seqs
        .iter()
        .all(|p| p.total == 3 && p.reference == seqs[0].reference));
    assert_eq!(
        parts
            .iter()
            .map(|mt| mt.text.chars().count())
            .collect::<Vec<_>>(),
        [153, 153, 94]
    );
    assert_eq!(join_parts(&parts), long);

    let long_ucs2 = format!("{}👋", "ü".repeat(100));
    kannel.sendsms("100", "200", &long_ucs2, &ucs2);
    let message = kannel.expect_mt_message(T);
    assert_eq!(message.parts.len(), 2);
    assert!(message.parts.iter().all(|mt| mt.coding == Coding::Ucs2));
    assert_eq!(message.text, long_ucs2);
    kannel.expect_no_mt(Duration::from_millis(300));
    let status = kannel.status();
    assert!(
        status.contains(" (online ") && status.contains("sent: sms 6"),
        "{status}"
    );
}

#[test]
fn kannel_forwards_mo_to_the_get_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = workdir("sms-rig-mo");
    let kannel = Kannel::start(
        dir.path(),
        &format!("http://127.0.0.1:{port}/sms/kannel?secret=S3"),
    );

    let text = "Grüße 👋 + & = %";
    kannel.send_mo("+4917000", "+4915000", text);
    let request = accept_one(&listener, T, 200, "").expect("the MO request");
    println!("MO UCS-2: {} {}", request.method, request.target);
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("GET", "/sms/kannel")
    );
    let param = |name: &str| {
        request
            .query_param(name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(param("secret"), b"S3");
    assert_eq!(
        (param("from"), param("to")),
        (b"+4917000".to_vec(), b"+4915000".to_vec())
    );
    assert_eq!(
        (param("coding"), param("charset")),
        (b"2".to_vec(), b"UTF-16BE".to_vec())
    );
    assert_eq!(decode_utf16be(&param("text")), text);
    assert!(!param("id").is_empty());

    // Plain GSM text goes 7-bit and keeps its spaces (%b). A refused request comes again.
    kannel.send_mo("+4917000", "+4915000", "two  spaces äö");
    let first = accept_one(&listener, T, 503, "try later").expect("the MO request");
    let again = accept_one(&listener, T, 202, "").expect("the MO request, retried");
    println!("MO GSM: {}", again.target);
    assert_eq!(first.target, again.target);
    assert_eq!(
        again.query_param("text").unwrap(),
        "two  spaces äö".as_bytes()
    );
    assert_eq!(again.query_param("coding").unwrap(), b"0");
    assert_eq!(again.query_param("charset").unwrap(), b"UTF-8");
    assert!(accept_one(&listener, Duration::from_millis(1500), 200, "").is_none());
}
