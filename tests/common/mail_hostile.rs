//! Helpers of the hostile-mail tests: the gateway's HTTP port, its counters, a `/healthz`
//! prober that keeps the worst answer time, and DKIM signing with a key made per test.

use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The HTTP port in a config made by `mail::config`.
pub fn http_port(config: &str) -> u16 {
    let at = config
        .find("http:\n  listen: \"127.0.0.1:")
        .expect("an http section")
        + 27;
    config[at..]
        .split('"')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("an http port")
}

/// The value of the gateway's counter `name` (0 when absent).
pub fn metric(http: u16, name: &str) -> u64 {
    let (_, text) = super::http_get(http, "/metrics");
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One `GET /healthz`: its status (0 when it failed) and how long the answer took.
fn healthz(http: u16) -> (u16, Duration) {
    let started = Instant::now();
    let answer = (|| -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", http))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        Ok(text)
    })();
    let status = answer
        .ok()
        .and_then(|t| t.split_whitespace().nth(1).and_then(|c| c.parse().ok()))
        .unwrap_or(0);
    (status, started.elapsed())
}

/// Asks `/healthz` every 50 ms until stopped; keeps the worst time and every failure.
pub struct HealthProbe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(Duration, usize, Vec<u16>)>>,
}

impl HealthProbe {
    pub fn start(http: u16) -> HealthProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut worst, mut asked, mut bad) = (Duration::ZERO, 0, Vec::new());
            // Bounded: 10 minutes of probes at most.
            let deadline = Instant::now() + Duration::from_secs(600);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let (status, took) = healthz(http);
                worst = worst.max(took);
                asked += 1;
                if status != 200 {
                    bad.push(status);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (worst, asked, bad)
        });
        HealthProbe {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops; (worst answer time, answers, statuses other than 200).
    pub fn finish(mut self) -> (Duration, usize, Vec<u16>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("the probe")
    }
}

/// A DKIM key of `domain` under `selector`: signs mails, and gives its DNS record.
pub struct DkimKey {
    pkcs8: Vec<u8>,
    domain: String,
    selector: String,
}

impl DkimKey {
    pub fn new(domain: &str, selector: &str) -> DkimKey {
        DkimKey {
            pkcs8: Ed25519Key::generate_pkcs8().expect("an ed25519 key"),
            domain: domain.into(),
            selector: selector.into(),
        }
    }

    fn key(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.pkcs8).expect("the key")
    }

    /// The TXT record (zone-file line) that publishes the public key.
    pub fn record(&self) -> String {
        use base64::Engine;
        let public = base64::engine::general_purpose::STANDARD.encode(self.key().public_key());
        format!(
            "{}._domainkey.{}. TXT \"v=DKIM1; k=ed25519; p={public}\"",
            self.selector, self.domain
        )
    }

    /// `raw` (CRLF line ends) with a DKIM-Signature header on top.
    pub fn sign(&self, raw: &str) -> String {
        let signature = DkimSigner::from_key(self.key())
            .domain(&self.domain)
            .selector(&self.selector)
            .headers(["From", "To", "Subject", "Message-ID"])
            .sign(raw.as_bytes())
            .expect("sign");
        format!("{}{raw}", signature.to_header())
    }
}
