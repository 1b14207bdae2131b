//! The SMTP rig itself (no gateway): the aiosmtpd capture, swaks and the raw SMTP session.

mod common;

use common::smtp::{send_mail_with, Stage, TlsMode};
use common::{send_mail, smtp_session, swaks, workdir, CaptureOptions, SmtpCapture};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

const MESSAGE: &str = "From: =?UTF-8?Q?Z=C3=B6e_M=C3=BCller?= <zoe@example.test>\r\n\
To: bob@gateway.test\r\n\
Subject: =?UTF-8?B?R3LDvMOfZSDigJQgw6l0w6kg4piV?=\r\n\
X-Folded: first\r\n\tsecond\r\n\
X-Twice: one\r\n\
x-twice: two\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe, a long line that is =\r\nsoft-broken\r\n\
.a line starting with a dot\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
PHA+R3LDvMOfZTwvcD4=\r\n\
--b1--\r\n";

fn auth_args<'a>(mechanism: &'a str, password: &'a str) -> [&'a str; 6] {
    let user = "relay-user";
    [
        "--auth",
        mechanism,
        "--auth-user",
        user,
        "--auth-password",
        password,
    ]
}

#[test]
fn captures_a_mail_with_decoded_headers_and_parts() {
    let dir = workdir("smtp-capture");
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let to = "bob@gateway.test,carol@gateway.test";
    let result = send_mail(capture.port(), "zoe@example.test", to, MESSAGE);
    assert!(result.ok, "{}", result.transcript);
    assert_eq!(
        (result.code, result.text.as_str()),
        (250, "2.0.0 OK captured")
    );

    let mail = capture.expect_mail(WAIT);
    assert_eq!(mail.mail_from, "zoe@example.test");
    assert_eq!(mail.rcpt_tos, ["bob@gateway.test", "carol@gateway.test"]);
    assert_eq!(mail.raw, MESSAGE, "swaks must send the message as given");
    assert_eq!(mail.charset, "utf-8");
    assert_eq!(
        mail.header("subject"),
        Some("=?UTF-8?B?R3LDvMOfZSDigJQgw6l0w6kg4piV?=")
    );
    assert_eq!(mail.decoded_header("SUBJECT").unwrap(), "Grüße — été ☕");
    assert_eq!(
        mail.decoded_header("From").unwrap(),
        "Zöe Müller <zoe@example.test>"
    );
    assert_eq!(mail.header("X-Folded"), Some("first\tsecond"));
    assert_eq!(mail.header_all("X-TWICE"), ["one", "two"]);
    assert_eq!(mail.header("X-Missing"), None);
    assert!(mail.body.starts_with("--b1\r\n"), "{:?}", mail.body);
    assert_eq!(
        mail.text().unwrap(),
        "Grüße, a long line that is soft-broken\n.a line starting with a dot"
    );
    assert_eq!(mail.part("text/html"), Some("<p>Grüße</p>"));
    assert_eq!(mail.parts.len(), 2);
    assert!(mail.peer.starts_with("127.0.0.1:"), "{}", mail.peer);
    assert_eq!(
        (mail.auth_user.as_deref(), mail.tls.as_deref()),
        (None, None)
    );
    capture.expect_no_mail(Duration::from_millis(300));
    assert_eq!(capture.mails().len(), 1, "mails() keeps taken ones");

    // swaks building the message itself (a pre-encoded Subject: it does not encode).
    let server = capture.addr();
    let subject = "Subject: =?UTF-8?Q?caf=C3=A9_cr=C3=A8me?=";
    let output = swaks(&[
        "--server",
        &server,
        "--from",
        "a@example.test",
        "--to",
        "b@example.test",
        "--header",
        subject,
        "--body",
        "plain body",
    ]);
    assert!(output.status.success(), "{output:?}");
    let mail = capture.expect_mail(WAIT);
    assert_eq!(mail.decoded_header("subject").unwrap(), "café crème");
    assert!(mail.header("Message-Id").is_some(), "{:?}", mail.headers);
    assert!(mail.text().unwrap().starts_with("plain body\n"));

    // Sent as it is: no token replacement, LF made CRLF, a last line end added.
    let tricky = "Subject: 100%DATE% off \\n literal\n\n.leading dot\nlast line";
    let result = send_mail(capture.port(), "a@example.test", "b@example.test", tricky);
    assert!(result.ok, "{}", result.transcript);
    let mail = capture.expect_mail(WAIT);
    assert_eq!(mail.raw, tricky.replace('\n', "\r\n") + "\r\n");
    assert_eq!(mail.header("subject"), Some("100%DATE% off \\n literal"));

    let port = capture.port();
    drop(capture);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "Drop stops the server"
    );
}

#[test]
fn faults_transient_then_success_and_refused_recipients() {
    let dir = workdir("smtp-faults");
    let opts = CaptureOptions {
        reject_rcpt: vec!["gone@example.test".into()],
        ..CaptureOptions::default()
    };
    let capture = SmtpCapture::start(dir.path(), opts);
    let port = capture.port();
    let message = "Subject: retry me\r\n\r\nbody\r\n";

    capture.fail_next(1, 451);
    let first = send_mail(port, "a@example.test", "b@example.test", message);
    assert!(!first.ok);
    assert_eq!(first.code, 451, "{}", first.transcript);
    assert!(first.text.starts_with("4.3.0"), "{}", first.text);
    let second = send_mail(port, "a@example.test", "b@example.test", message);
    assert!(second.ok, "{}", second.transcript);
    assert_eq!(
        capture.expect_mail(WAIT).header("Subject"),
        Some("retry me")
    );
    let rejections = capture.rejections();
    assert_eq!(rejections.len(), 1);
    assert_eq!(
        (rejections[0].stage, rejections[0].code),
        (Stage::Data, 451)
    );
    assert_eq!(rejections[0].rcpt_tos, ["b@example.test"]);

    capture.fail_next(2, 550);
    for _ in 0..2 {
        let refused = send_mail(port, "a@example.test", "b@example.test", message);
        assert_eq!(
            (refused.ok, refused.code),
            (false, 550),
            "{}",
            refused.transcript
        );
    }
    assert!(send_mail(port, "a@example.test", "b@example.test", message).ok);
    capture.expect_mail(WAIT);

    // A chosen recipient is refused at RCPT, the others go through.
    let replies = smtp_session(
        port,
        &[
            "EHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<gone@example.test>",
            "RCPT TO:<b@example.test>",
            "DATA",
            "Subject: partial",
            "",
            "..dot-stuffed",
            ".",
            "QUIT",
        ],
    );
    let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
    assert_eq!(
        codes,
        ["220", "250", "250", "550", "250", "354", "250", "221"],
        "{replies:?}"
    );
    assert!(
        replies[1].contains("250-SMTPUTF8"),
        "multi-line EHLO: {}",
        replies[1]
    );
    let mail = capture.expect_mail(WAIT);
    assert_eq!(mail.rcpt_tos, ["b@example.test"]);
    assert_eq!(mail.body, ".dot-stuffed\r\n");

    // RCPT faults count commands; an over-long line is answered, not hung on.
    capture.fault(Stage::Rcpt, 1, Some(452), Duration::ZERO);
    let long = format!("RCPT TO:<{}@example.test>", "x".repeat(2000));
    let lines = [
        "HELO c.test",
        "MAIL FROM:<a@x.test>",
        "RCPT TO:<b@x.test>",
        &long,
        "QUIT",
    ];
    let replies = smtp_session(port, &lines);
    let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
    assert_eq!(
        codes,
        ["220", "250", "250", "452", "500", "221"],
        "{replies:?}"
    );

    // A stall delays the reply, then goes on normally.
    capture.fault(Stage::Data, 1, None, Duration::from_millis(700));
    let started = Instant::now();
    assert!(send_mail(port, "a@example.test", "b@example.test", message).ok);
    assert!(started.elapsed() >= Duration::from_millis(700));
    capture.expect_mail(WAIT);
    capture.fail_next(5, 451);
    capture.fault(Stage::Data, 0, None, Duration::ZERO);
    assert!(send_mail(port, "a@example.test", "b@example.test", message).ok);
}

#[test]
fn auth_required_refuses_without_credentials() {
    let dir = workdir("smtp-auth");
    let opts = CaptureOptions {
        auth: Some(("relay-user".into(), "s3cret".into())),
        ..CaptureOptions::default()
    };
    let capture = SmtpCapture::start(dir.path(), opts);
    let (port, message) = (capture.port(), "Subject: auth\r\n\r\nbody\r\n");
    let none = send_mail(port, "a@example.test", "b@example.test", message);
    assert_eq!((none.ok, none.code), (false, 530), "{}", none.transcript);
    let wrong = auth_args("LOGIN", "wrong");
    let wrong = send_mail_with(port, "a@example.test", "b@example.test", message, &wrong);
    assert_eq!((wrong.ok, wrong.code), (false, 535), "{}", wrong.transcript);
    for mechanism in ["PLAIN", "LOGIN"] {
        let args = auth_args(mechanism, "s3cret");
        let good = send_mail_with(port, "a@example.test", "b@example.test", message, &args);
        assert!(good.ok, "{}", good.transcript);
        let mail = capture.expect_mail(WAIT);
        assert_eq!(mail.auth_user.as_deref(), Some("relay-user"));
    }
    assert_eq!(capture.mails().len(), 2);
}

#[test]
fn starttls_and_implicit_tls() {
    let dir = workdir("smtp-tls");
    let opts = CaptureOptions {
        auth: Some(("relay-user".into(), "s3cret".into())),
        tls: TlsMode::StarttlsRequired,
        ..CaptureOptions::default()
    };
    let capture = SmtpCapture::start(dir.path(), opts);
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(capture.ca_path())
        .arg(capture.dir().join("cert.pem"))
        .output()
        .expect("openssl verify");
    assert!(verify.status.success(), "{verify:?}");
    let (port, message) = (capture.port(), "Subject: tls\r\n\r\nbody\r\n");
    let auth = auth_args("PLAIN", "s3cret");
    let plain = send_mail_with(port, "a@example.test", "b@example.test", message, &auth);
    assert_eq!((plain.ok, plain.code), (false, 530), "{}", plain.transcript);
    let mut args = vec!["--tls"];
    args.extend(auth);
    let tls = send_mail_with(port, "a@example.test", "b@example.test", message, &args);
    assert!(tls.ok, "{}", tls.transcript);
    assert!(tls.transcript.contains("<~  250"), "{}", tls.transcript);
    let mail = capture.expect_mail(WAIT);
    assert!(
        mail.tls.as_deref().is_some_and(|v| v.starts_with("TLSv1.")),
        "{mail:?}"
    );
    assert_eq!(mail.auth_user.as_deref(), Some("relay-user"));

    let opts = CaptureOptions {
        tls: TlsMode::Implicit,
        ..CaptureOptions::default()
    };
    let implicit = SmtpCapture::start(dir.path(), opts);
    assert_ne!(implicit.dir(), capture.dir());
    let args = ["--tls-on-connect"];
    let result = send_mail_with(implicit.port(), "a@x.test", "b@x.test", message, &args);
    assert!(result.ok, "{}", result.transcript);
    assert!(implicit.expect_mail(WAIT).tls.is_some());
}
