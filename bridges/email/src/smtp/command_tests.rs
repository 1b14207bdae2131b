//! Literal command lines against the parser in `command.rs`.

use super::command::*;
use super::MAX_PATH;

fn parse(s: &str) -> Result<Command, ParseError> {
    Command::parse(s.as_bytes())
}

#[test]
fn plain_commands() {
    assert_eq!(
        parse("EHLO client.example"),
        Ok(Command::Ehlo("client.example".into()))
    );
    assert_eq!(
        parse("helo [127.0.0.1]"),
        Ok(Command::Helo("[127.0.0.1]".into()))
    );
    assert_eq!(parse("DATA"), Ok(Command::Data));
    assert_eq!(parse("rset "), Ok(Command::Rset));
    assert_eq!(parse("NOOP whatever"), Ok(Command::Noop));
    assert_eq!(parse("QUIT\r"), Ok(Command::Quit));
    assert_eq!(parse("StartTLS"), Ok(Command::StartTls));
    assert_eq!(parse("VRFY bob"), Ok(Command::Vrfy));
    assert_eq!(parse("EXPN list"), Ok(Command::Unknown("EXPN".into())));
    assert_eq!(parse("get / HTTP/1.1"), Ok(Command::Unknown("GET".into())));
}

#[test]
fn mail_and_rcpt_paths() {
    assert_eq!(
        parse("MAIL FROM:<bob@example.net>"),
        Ok(Command::MailFrom {
            path: "bob@example.net".into(),
            size: None
        })
    );
    assert_eq!(
        parse("mail from: <> SIZE=1000 body=8BITMIME"),
        Ok(Command::MailFrom {
            path: String::new(),
            size: Some(1000)
        })
    );
    assert_eq!(
        parse("RCPT TO:<@relay.example,@b.example:alice@mail.example.org>"),
        Ok(Command::RcptTo("alice@mail.example.org".into()))
    );
    assert_eq!(
        parse("RCPT TO:<Postmaster>"),
        Ok(Command::RcptTo("Postmaster".into()))
    );
    assert_eq!(
        parse("RCPT TO:<first.last+tag@[IPv6:2001:db8::1]>"),
        Ok(Command::RcptTo("first.last+tag@[IPv6:2001:db8::1]".into()))
    );
}

#[test]
fn strictness() {
    let args = |s: &str| matches!(parse(s), Err(ParseError::Arguments(_)));
    assert!(args("MAIL FROM:bob@example.net"));
    assert!(args("MAIL FROM:<bob@example.net"));
    assert!(args("MAIL FROM:<bob@example.net>SIZE=1"));
    assert!(args("MAIL TO:<bob@example.net>"));
    assert!(args("MAIL FROM:<bob>"));
    assert!(args("MAIL FROM:<\"b b\"@example.net>"));
    assert!(args("MAIL FROM:<bo..b@example.net>"));
    assert!(args("MAIL FROM:<bob@exa_mple.net>"));
    assert!(args("MAIL FROM:<bob@example.net> SIZE=abc"));
    assert!(args("MAIL FROM:<bob@example.net> SIZE=1 SIZE=2"));
    assert!(args(
        "MAIL FROM:<bob@example.net> SIZE=99999999999999999999"
    ));
    assert!(args("MAIL FROM:<bob@example.net> BODY=BINARYMIME"));
    assert!(args("MAIL FROM:<bob@exämple.net>"));
    assert!(args("MAIL FROM:<bob@example.net>\tSIZE=1"));
    assert!(args("RCPT TO:<>"));
    assert!(args("RCPT TO:<postmaster@>"));
    assert!(args("EHLO"));
    assert!(args("EHLO a b"));
    assert!(args("DATA now"));
    assert!(args("VRFY"));
    assert_eq!(parse(""), Err(ParseError::Syntax));
    assert_eq!(parse(" MAIL FROM:<>"), Err(ParseError::Syntax));
    assert_eq!(parse("MA1L FROM:<>"), Err(ParseError::Syntax));
    assert_eq!(parse("\x00\x01"), Err(ParseError::Syntax));
}

#[test]
fn lengths_and_unknown_parameters() {
    let ok = format!("MAIL FROM:<{}@example.net>", "a".repeat(MAX_PATH - 12));
    assert!(parse(&ok).is_ok());
    let long = format!("MAIL FROM:<{}@example.net>", "a".repeat(MAX_PATH - 11));
    assert_eq!(parse(&long), Err(ParseError::PathTooLong));
    assert_eq!(ParseError::PathTooLong.code(), 501);
    let e = parse("MAIL FROM:<a@example.net> SMTPUTF8").unwrap_err();
    assert_eq!(e, ParseError::UnknownParameter("SMTPUTF8".into()));
    assert_eq!(e.code(), 555);
    let e = parse("RCPT TO:<a@example.net> NOTIFY=NEVER").unwrap_err();
    assert_eq!(e, ParseError::UnknownParameter("NOTIFY".into()));
    let e = parse(&format!("RCPT TO:<a@example.net> {}=1", "X".repeat(100))).unwrap_err();
    assert_eq!(
        e,
        ParseError::UnknownParameter(format!("{}...", "X".repeat(32)))
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let prefixes: [&[u8]; 5] = [
        b"",
        b"MAIL FROM:<",
        b"RCPT TO:<",
        b"EHLO ",
        b"MAIL FROM:<a@b.c> ",
    ];
    for _ in 0..20_000 {
        let prefix = prefixes[(next() % 5) as usize];
        let len = (next() % 80) as usize;
        let mut line = prefix.to_vec();
        // Mostly printable, sometimes anything.
        line.extend((0..len).map(|_| {
            let r = next();
            if r % 8 == 0 {
                (r >> 8) as u8
            } else {
                b" <>@.:=\"[]a1"[(r >> 8) as usize % 12]
            }
        }));
        if let Ok(Command::MailFrom { path, .. } | Command::RcptTo(path)) = Command::parse(&line) {
            assert!(path.len() <= MAX_PATH && path.bytes().all(|b| b.is_ascii_graphic()));
        }
    }
}
