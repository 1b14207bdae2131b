//! Tests of the SMTP state machine, without sockets.

use super::*;

fn config(tls: bool) -> SessionConfig {
    SessionConfig {
        hostname: "mx.example.org".into(),
        max_message_bytes: 1000,
        max_recipients: 2,
        tls_available: tls,
    }
}

fn session() -> Session {
    Session::new(config(false), "192.0.2.1:4000".parse().unwrap())
}

/// Sends a line and returns the reply code; recipient checks accept anything not
/// starting with "nobody" and fail temporarily for "later".
fn code(s: &mut Session, line: &str) -> u16 {
    match s.line(line.as_bytes()) {
        Step::Reply(r) | Step::StartData(r) | Step::StartTls(r) | Step::Close(r) => r.code,
        Step::CheckRecipient(rcpt) => {
            let verdict = if rcpt.starts_with("nobody") {
                RcptVerdict::Reject("No such user".into())
            } else if rcpt.starts_with("later") {
                RcptVerdict::TempFail(String::new())
            } else {
                RcptVerdict::Accept
            };
            match s.recipient_checked(verdict) {
                Step::Reply(r) | Step::Close(r) => r.code,
                other => panic!("unexpected {other:?}"),
            }
        }
        Step::Deliver(..) => panic!("no delivery from a command"),
    }
}

#[test]
fn a_whole_transaction() {
    let mut s = session();
    assert_eq!(
        s.greeting().to_wire(),
        b"220 mx.example.org ESMTP Switchboard\r\n"
    );
    match s.line(b"EHLO client.example") {
        Step::Reply(r) => {
            assert_eq!(r.code, 250);
            assert_eq!(
                r.lines,
                [
                    "mx.example.org Hello",
                    "PIPELINING",
                    "SIZE 1000",
                    "8BITMIME"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(code(&mut s, "MAIL FROM:<bob@example.net> SIZE=100"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<alice@mail.example.org>"), 250);
    assert_eq!(
        code(&mut s, "RCPT TO:<ALICE@mail.example.org>"),
        250,
        "a duplicate"
    );
    assert_eq!(code(&mut s, "DATA"), 354);
    assert_eq!(s.state(), State::Data);
    let Step::Deliver(envelope, message) =
        s.data_received(DataOutcome::Message(b"hi\r\n".to_vec()))
    else {
        panic!("no delivery")
    };
    assert_eq!(envelope.mail_from, "bob@example.net");
    assert_eq!(envelope.rcpt_to, ["alice@mail.example.org"]);
    assert_eq!(envelope.helo, "client.example");
    assert_eq!(envelope.peer.to_string(), "192.0.2.1:4000");
    assert!(!envelope.tls);
    assert_eq!(message, b"hi\r\n");
    assert_eq!(
        s.delivered(Ok("m1".into())),
        Reply::new(250, "OK queued as m1")
    );
    assert_eq!(s.state(), State::Greeted);
    // The next transaction starts clean.
    assert_eq!(code(&mut s, "RCPT TO:<alice@mail.example.org>"), 503);
    assert_eq!(code(&mut s, "MAIL FROM:<>"), 250);
    assert_eq!(code(&mut s, "QUIT"), 221);
}

#[test]
fn commands_out_of_order_get_503() {
    let mut s = session();
    assert_eq!(code(&mut s, "MAIL FROM:<bob@example.net>"), 503);
    assert_eq!(code(&mut s, "DATA"), 503);
    assert_eq!(code(&mut s, "NOOP"), 250);
    assert_eq!(code(&mut s, "HELO client.example"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<alice@mail.example.org>"), 503);
    assert_eq!(code(&mut s, "DATA"), 503);
    assert_eq!(code(&mut s, "MAIL FROM:<bob@example.net>"), 250);
    assert_eq!(code(&mut s, "MAIL FROM:<bob@example.net>"), 503);
    assert_eq!(code(&mut s, "DATA"), 503);
    assert_eq!(code(&mut s, "RCPT TO:<nobody@mail.example.org>"), 550);
    assert_eq!(code(&mut s, "RCPT TO:<later@mail.example.org>"), 451);
    assert_eq!(code(&mut s, "DATA"), 503, "no recipient was accepted");
    assert_eq!(code(&mut s, "RSET"), 250);
    assert_eq!(s.state(), State::Greeted);
    let mut s = session();
    assert_eq!(code(&mut s, "STARTTLS"), 502, "not configured");
    assert_eq!(code(&mut s, "EXPN list"), 502);
    assert_eq!(code(&mut s, "FOO"), 500);
    assert_eq!(code(&mut s, "VRFY bob"), 252);
}

#[test]
fn recipient_and_size_limits() {
    let mut s = session();
    code(&mut s, "EHLO client.example");
    assert_eq!(code(&mut s, "MAIL FROM:<bob@example.net> SIZE=1001"), 552);
    assert_eq!(s.state(), State::Greeted);
    assert_eq!(code(&mut s, "MAIL FROM:<bob@example.net> SIZE=1000"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<a@mail.example.org>"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<b@mail.example.org>"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<c@mail.example.org>"), 452);
    assert_eq!(code(&mut s, "DATA"), 354);
    let step = s.data_received(DataOutcome::TooBig { size: 5000 });
    assert_eq!(step, Step::Reply(Reply::new(552, "Too much mail data")));
    assert_eq!(s.state(), State::Greeted);
    code(&mut s, "MAIL FROM:<bob@example.net>");
    code(&mut s, "RCPT TO:<a@mail.example.org>");
    code(&mut s, "DATA");
    let step = s.data_received(DataOutcome::LineTooLong);
    assert_eq!(step, Step::Reply(Reply::new(500, "Line too long")));
}

#[test]
fn delivery_failures_and_handler_text_are_bounded() {
    let mut s = session();
    assert_eq!(
        s.delivered(Err(DeliverError::Transient("db busy".into())))
            .code,
        451
    );
    let r = s.delivered(Err(DeliverError::Permanent("x\r\n".repeat(300))));
    assert_eq!(r.code, 554);
    assert!(r.lines[0].len() <= 203 && !r.lines[0].contains('\r'));
    let r = s.delivered(Ok("id\r\n250 fake".into()));
    assert_eq!(r.to_wire(), b"250 OK queued as id??250 fake\r\n");
}

#[test]
fn starttls_is_offered_once_and_resets_the_session() {
    let mut s = Session::new(config(true), "192.0.2.1:4000".parse().unwrap());
    assert_eq!(code(&mut s, "STARTTLS"), 503, "EHLO first");
    let Step::Reply(r) = s.line(b"EHLO client.example") else {
        panic!()
    };
    assert_eq!(r.lines.last().unwrap(), "STARTTLS");
    code(&mut s, "MAIL FROM:<bob@example.net>");
    assert_eq!(code(&mut s, "STARTTLS"), 503, "not inside a transaction");
    code(&mut s, "RSET");
    assert!(matches!(
        s.line(b"STARTTLS"),
        Step::StartTls(Reply { code: 220, .. })
    ));
    s.tls_started();
    assert!(s.is_tls());
    assert_eq!(s.state(), State::Fresh);
    assert_eq!(
        code(&mut s, "MAIL FROM:<bob@example.net>"),
        503,
        "EHLO again first"
    );
    let Step::Reply(r) = s.line(b"EHLO client.example") else {
        panic!()
    };
    assert!(!r.lines.contains(&"STARTTLS".to_string()));
    assert_eq!(code(&mut s, "STARTTLS"), 503);
}

#[test]
fn too_many_errors_close_the_connection() {
    let mut s = session();
    for _ in 0..MAX_ERRORS - 1 {
        assert_eq!(code(&mut s, "BOGUS"), 500);
    }
    assert!(matches!(
        s.line(b"\x01"),
        Step::Close(Reply { code: 421, .. })
    ));
    let mut s = session();
    assert!(matches!(
        s.line_too_long(),
        Step::Reply(Reply { code: 500, .. })
    ));
}

#[test]
fn random_input_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let words: [&[u8]; 9] = [
        b"EHLO a.b",
        b"MAIL FROM:<a@b.c>",
        b"RCPT TO:<x@y.z>",
        b"DATA",
        b"RSET",
        b"STARTTLS",
        b"\r\n.\r\n",
        b".",
        b"\n",
    ];
    for _ in 0..2_000 {
        let mut s = Session::new(config(next() % 2 == 0), "192.0.2.1:4000".parse().unwrap());
        let mut reader = DataReader::new(next() % 64);
        for _ in 0..40 {
            let mut line = words[(next() % 9) as usize].to_vec();
            line.extend((0..next() % 8).map(|_| next() as u8));
            if s.state() == State::Data {
                if let Some((outcome, _)) = reader.feed(&line) {
                    if let Step::Deliver(..) = s.data_received(outcome) {
                        s.delivered(Ok("x".into()));
                    }
                    reader = DataReader::new(next() % 64);
                }
                continue;
            }
            match s.line(&line) {
                Step::CheckRecipient(_) => {
                    s.recipient_checked(RcptVerdict::Accept);
                }
                Step::StartTls(_) => s.tls_started(),
                Step::Close(_) => break,
                _ => {}
            }
        }
    }
}

#[test]
fn refused_recipients_count_as_errors() {
    let mut s = session();
    code(&mut s, "EHLO client.test");
    code(&mut s, "MAIL FROM:<a@b.example>");
    for _ in 1..MAX_ERRORS {
        assert_eq!(code(&mut s, "RCPT TO:<nobody@mx.test>"), 550);
    }
    assert_eq!(code(&mut s, "RCPT TO:<nobody2@mx.test>"), 421);
    assert_eq!(s.limit_hit(), Some(Limit::Errors));
    // An accepted recipient is no error.
    let many = SessionConfig {
        max_recipients: 100,
        ..config(false)
    };
    let mut s = Session::new(many, "192.0.2.1:4000".parse().unwrap());
    code(&mut s, "EHLO client.test");
    code(&mut s, "MAIL FROM:<a@b.example>");
    for i in 0..3 * MAX_ERRORS {
        assert_eq!(code(&mut s, &format!("RCPT TO:<u{i}@mx.test>")), 250);
    }
    assert_eq!(s.limit_hit(), None);
}

#[test]
fn commands_without_mail_end_the_session_but_mail_resets_the_count() {
    let mut s = session();
    assert_eq!(code(&mut s, "EHLO client.test"), 250);
    for _ in 1..MAX_IDLE_COMMANDS {
        assert_eq!(code(&mut s, "NOOP"), 250);
    }
    assert_eq!(code(&mut s, "RSET"), 421);
    assert_eq!(s.limit_hit(), Some(Limit::Idle));
    // Recipients given again and again (or past the limit) count too.
    let mut s = session();
    code(&mut s, "EHLO client.test");
    code(&mut s, "MAIL FROM:<a@b.example>");
    assert_eq!(code(&mut s, "RCPT TO:<u@mx.test>"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<v@mx.test>"), 250);
    for _ in 1..MAX_IDLE_COMMANDS / 2 {
        assert_eq!(code(&mut s, "RCPT TO:<U@mx.test>"), 250);
        assert_eq!(code(&mut s, "RCPT TO:<w@mx.test>"), 452);
    }
    assert_eq!(code(&mut s, "RCPT TO:<u@mx.test>"), 250);
    assert_eq!(code(&mut s, "RCPT TO:<u@mx.test>"), 421);

    // A client that delivers mail may NOOP between messages for ever.
    let mut s = session();
    code(&mut s, "EHLO client.test");
    for round in 0..5 {
        for _ in 0..MAX_IDLE_COMMANDS - 1 {
            assert_eq!(code(&mut s, "NOOP"), 250, "round {round}");
        }
        code(&mut s, "MAIL FROM:<a@b.example>");
        code(&mut s, "RCPT TO:<u@mx.test>");
        assert_eq!(code(&mut s, "DATA"), 354);
        let step = s.data_received(DataOutcome::Message(b"x\r\n".to_vec()));
        assert!(matches!(step, Step::Deliver(..)));
        assert_eq!(s.delivered(Ok("id".into())).code, 250);
    }
    assert_eq!(s.limit_hit(), None);
}
