//! A null SMTP server: answers everything at once, keeps the messages. The email
//! benchmarks' reference for their load generator, and a relay that is never the
//! bottleneck. [`Relay`]: it or the aiosmtpd capture, as a gateway's relay.

use super::smtp::SmtpCapture;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct SinkMail {
    pub at: Instant,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

pub struct Sink {
    pub port: u16,
    mails: Arc<Mutex<Vec<SinkMail>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the sink");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (mails.clone(), stop.clone());
        let acceptor = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let m = m.clone();
                        thread::spawn(move || {
                            let _ = sink_session(stream, &m);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Sink {
            port,
            mails,
            stop,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn count(&self) -> usize {
        self.mails.lock().unwrap().len()
    }

    pub fn mails_from(&self, from: usize) -> Vec<SinkMail> {
        self.mails.lock().unwrap()[from..].to_vec()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// One client of the sink, until QUIT, EOF or 60 s of silence.
fn sink_session(stream: TcpStream, mails: &Mutex<Vec<SinkMail>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut out = Vec::new();
    out.extend_from_slice(b"220 sink ESMTP\r\n");
    let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
    loop {
        // Answers go out once everything pipelined so far is read.
        if reader.buffer().is_empty() && !out.is_empty() {
            writer.write_all(&out)?;
            out.clear();
        }
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if in_data {
            if line == ".\r\n" || line == ".\n" {
                in_data = false;
                mails.lock().unwrap().push(SinkMail {
                    at: Instant::now(),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data: std::mem::take(&mut data),
                });
                out.extend_from_slice(b"250 2.0.0 OK\r\n");
            } else {
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.extend_from_slice(
                b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n",
            );
        } else if upper.starts_with("HELO")
            || upper.starts_with("MAIL")
            || upper.starts_with("RSET")
            || upper.starts_with("NOOP")
        {
            out.extend_from_slice(b"250 OK\r\n");
        } else if upper.starts_with("RCPT") {
            let addr = line
                .split_once('<')
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(a, _)| a.to_owned())
                .unwrap_or_default();
            rcpt.push(addr);
            out.extend_from_slice(b"250 OK\r\n");
        } else if upper.starts_with("DATA") {
            in_data = true;
            out.extend_from_slice(b"354 go on\r\n");
        } else if upper.starts_with("QUIT") {
            out.extend_from_slice(b"221 bye\r\n");
            writer.write_all(&out)?;
            return Ok(());
        } else {
            out.extend_from_slice(b"502 not here\r\n");
        }
    }
}

// ---------------------------------------------------------------------------------------

/// Where a benchmarked gateway relays to: the null sink or the aiosmtpd capture.
pub enum Relay {
    Sink(Sink),
    Capture(SmtpCapture),
}

/// A relayed mail: (arrival, recipients, raw text).
pub type Relayed = (Instant, Vec<String>, String);

impl Relay {
    pub fn addr(&self) -> String {
        match self {
            Relay::Sink(s) => s.addr(),
            Relay::Capture(c) => c.addr(),
        }
    }

    /// Mails from index `from` on (the sink) or not yet handed out (the capture). The
    /// capture's arrival time is when this call saw it (it polls a file): call it often.
    pub fn since(&self, from: usize) -> Vec<Relayed> {
        match self {
            Relay::Sink(s) => s
                .mails_from(from)
                .into_iter()
                .map(|m| (m.at, m.rcpt_to, m.data))
                .collect(),
            // The capture hands each mail out once (`from` is where the sink would start).
            Relay::Capture(c) => {
                let now = Instant::now();
                let mut new = Vec::new();
                while let Some(m) = c.try_mail(Duration::ZERO) {
                    new.push((now, m.rcpt_tos, m.raw));
                }
                new
            }
        }
    }

    pub fn count(&self) -> usize {
        match self {
            Relay::Sink(s) => s.count(),
            Relay::Capture(c) => c.mails().len(),
        }
    }
}
