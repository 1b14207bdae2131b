//! The load generator of the email benchmarks: a pipelining SMTP client (RFC 2920: a
//! message's text, then the next message's MAIL, RCPT and DATA, in one write; one round trip
//! per mail), over K connections at once. Against a server without PIPELINING (aiosmtpd) it
//! sends one command at a time.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Each SMTP reply may take this long.
const STEP: Duration = Duration::from_secs(30);

/// One message to send: envelope and the DATA payload (CRLF, dot-stuffed, ending with the
/// terminating `.` line).
pub struct Outgoing {
    from: String,
    to: String,
    data: Vec<u8>,
}

impl Outgoing {
    pub fn new(from: &str, to: &str, raw: &str) -> Outgoing {
        let mut text = raw.replace("\r\n", "\n").replace('\n', "\r\n");
        if !text.ends_with("\r\n") {
            text.push_str("\r\n");
        }
        let mut stuffed = text.replace("\r\n.", "\r\n..");
        if stuffed.starts_with('.') {
            stuffed.insert(0, '.');
        }
        stuffed.push_str(".\r\n");
        Outgoing {
            from: from.to_owned(),
            to: to.to_owned(),
            data: stuffed.into_bytes(),
        }
    }

    fn envelope(&self) -> String {
        format!(
            "MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
            self.from, self.to
        )
    }
}

/// What one connection's sending came to.
#[derive(Default)]
pub struct Sent {
    pub accepted: usize,
    /// Non-250 answers to a message's text, or a refused MAIL/RCPT/DATA: (code, text).
    pub refused: Vec<(u16, String)>,
    pub last_answer: Option<Instant>,
}

struct SmtpConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The server offers PIPELINING; without it every command waits for its reply.
    pipelining: bool,
}

impl SmtpConn {
    fn open(port: u16) -> SmtpConn {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(STEP)).ok();
        stream.set_write_timeout(Some(STEP)).ok();
        let writer = stream.try_clone().expect("clone the stream");
        let mut conn = SmtpConn {
            reader: BufReader::new(stream),
            writer,
            pipelining: false,
        };
        let (code, text) = conn.reply();
        assert_eq!(code, 220, "greeting: {text}");
        conn.send(b"EHLO bench.test\r\n");
        let (code, text) = conn.reply();
        assert_eq!(code, 250, "EHLO: {text}");
        conn.pipelining = text.lines().any(|l| l.get(4..) == Some("PIPELINING"));
        conn
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("SMTP write: {e}"));
    }

    /// The next reply: (code, lines joined by `\n`).
    fn reply(&mut self) -> (u16, String) {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                Ok(_) => panic!("SMTP server closed the connection after {lines:?}"),
                Err(e) => panic!("SMTP read: {e} after {lines:?}"),
            }
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line);
            if !more {
                break;
            }
        }
        let code = lines[0].get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        (code, lines.join("\n"))
    }

    /// The replies to MAIL, RCPT and DATA: true when all three went through (354 last).
    fn envelope_replies(&mut self, sent: &mut Sent) -> bool {
        let replies = [self.reply(), self.reply(), self.reply()];
        let ok = replies[0].0 == 250 && replies[1].0 == 250 && replies[2].0 == 354;
        if !ok {
            sent.refused
                .extend(replies.into_iter().filter(|r| r.0 >= 400));
        }
        ok
    }

    /// Sends `mails` pipelined: one write per mail (its text, then the next mail's
    /// envelope), one round trip per mail.
    fn pump(mut self, mails: &[Outgoing], stop: &AtomicBool) -> Sent {
        if !self.pipelining {
            return self.lock_step(mails, stop);
        }
        let mut sent = Sent::default();
        let Some(first) = mails.first() else {
            return sent;
        };
        self.send(first.envelope().as_bytes());
        let mut open = self.envelope_replies(&mut sent);
        for (i, mail) in mails.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let next = mails.get(i + 1);
            let mut batch = Vec::new();
            if open {
                batch.extend_from_slice(&mail.data);
            } else {
                // DATA was refused: the transaction is over (RSET to be sure).
                batch.extend_from_slice(b"RSET\r\n");
            }
            if let Some(next) = next {
                batch.extend_from_slice(next.envelope().as_bytes());
            }
            self.send(&batch);
            let (code, text) = self.reply();
            if open && code == 250 {
                sent.accepted += 1;
            } else if open {
                sent.refused.push((code, text));
            }
            sent.last_answer = Some(Instant::now());
            if next.is_some() {
                open = self.envelope_replies(&mut sent);
            }
        }
        self.send(b"QUIT\r\n");
        let _ = self.reply();
        sent
    }
}

impl SmtpConn {
    /// Without PIPELINING (aiosmtpd): MAIL, RCPT, DATA and the text, each after the reply.
    fn lock_step(mut self, mails: &[Outgoing], stop: &AtomicBool) -> Sent {
        let mut sent = Sent::default();
        for mail in mails {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut ok = true;
            for (command, want) in [
                (format!("MAIL FROM:<{}>\r\n", mail.from), 250),
                (format!("RCPT TO:<{}>\r\n", mail.to), 250),
                ("DATA\r\n".to_owned(), 354),
            ] {
                self.send(command.as_bytes());
                let (code, text) = self.reply();
                if code != want {
                    sent.refused.push((code, text));
                    ok = false;
                    break;
                }
            }
            if !ok {
                self.send(b"RSET\r\n");
                let _ = self.reply();
                continue;
            }
            self.send(&mail.data);
            let (code, text) = self.reply();
            if code == 250 {
                sent.accepted += 1;
            } else {
                sent.refused.push((code, text));
            }
            sent.last_answer = Some(Instant::now());
        }
        self.send(b"QUIT\r\n");
        let _ = self.reply();
        sent
    }
}

/// Sends `mails` over `conns` connections, mail i on connection i % conns, one thread per
/// connection. Returns (accepted, refusals, time of the last answer).
pub fn send_all(port: u16, mails: &[Outgoing], conns: usize, stop: &AtomicBool) -> Sent {
    let shares: Vec<Vec<&Outgoing>> = (0..conns)
        .map(|c| mails.iter().skip(c).step_by(conns).collect())
        .collect();
    let results: Vec<Sent> = thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    let share: Vec<Outgoing> = share
                        .into_iter()
                        .map(|m| Outgoing {
                            from: m.from.clone(),
                            to: m.to.clone(),
                            data: m.data.clone(),
                        })
                        .collect();
                    let conn = SmtpConn::open(port);
                    conn.pump(&share, stop)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    stop.store(true, Ordering::Relaxed);
                    panic!("an SMTP client thread failed (see above)")
                })
            })
            .collect()
    });
    let mut all = Sent::default();
    for s in results {
        all.accepted += s.accepted;
        all.refused.extend(s.refused);
        all.last_answer = all.last_answer.max(s.last_answer);
    }
    all
}
