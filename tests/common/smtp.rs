//! SMTP for the email bridge's tests: [`SmtpCapture`], a real aiosmtpd server (Debian's
//! python3-aiosmtpd, `tests/support/smtp_capture.py`) that stands in for the gateway's relay
//! and records what it accepts. Clients of the gateway's own listener are in
//! `smtp_client.rs` (re-exported here).

#[allow(unused_imports)]
pub use super::smtp_client::{send_mail, send_mail_with, smtp_session, swaks, SmtpResult};
use super::*;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

pub const CAPTURE_SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_capture.py");
pub(super) const SMTP_HINT: &str =
    "run scripts/install-deps.sh (installs python3-aiosmtpd, swaks, openssl)";
const PORT_ATTEMPTS: usize = 3;
/// Each SMTP step of [`send_mail`] and [`smtp_session`] may take this long.
pub const SMTP_STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// Transport security the capture offers. The certificate is made per capture: a leaf for
/// `localhost` and `127.0.0.1` signed by a fresh CA ([`SmtpCapture::ca_path`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    #[default]
    None,
    /// STARTTLS offered, not required.
    Starttls,
    /// STARTTLS required before MAIL (`530 Must issue a STARTTLS command first`).
    StarttlsRequired,
    /// TLS from the first byte (port-465 style).
    Implicit,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CaptureOptions {
    /// AUTH PLAIN/LOGIN with this (user, password) is then required before MAIL (`530`); a
    /// wrong password gets `535`. AUTH is offered without TLS too.
    pub auth: Option<(String, String)>,
    pub tls: TlsMode,
    /// These recipients always get `550 5.1.1` at RCPT.
    pub reject_rcpt: Vec<String>,
}

/// Where a fault strikes: the MAIL, RCPT or end-of-DATA reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Stage {
    Mail,
    Rcpt,
    Data,
}

/// A message the capture accepted (`250` after DATA). Headers and parts are parsed by
/// Python's `email` package, a parser independent of the gateway's.
#[derive(Clone, Debug, Deserialize)]
pub struct CapturedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// As received, dot-unstuffed, CRLF line ends: UTF-8 when it was valid UTF-8, else
    /// latin-1 (one char per byte); `charset` says which.
    pub raw: String,
    pub charset: String,
    /// Unfolded, names as sent, values trimmed and still encoded.
    pub headers: Vec<(String, String)>,
    /// The header values with RFC 2047 encoded-words decoded, one per `headers` entry.
    pub decoded: Vec<String>,
    /// Everything after the first blank line, as sent (transfer-encoded, CRLF).
    pub body: String,
    /// The leaf MIME parts in order (one for a message that is not multipart).
    pub parts: Vec<MailPart>,
    /// `127.0.0.1:port` of the client.
    pub peer: String,
    /// The AUTH login, when the client authenticated.
    pub auth_user: Option<String>,
    /// The TLS version (`TLSv1.3`) when the message came over TLS.
    pub tls: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct MailPart {
    /// Lower-case `type/subtype`.
    pub mime: String,
    pub filename: Option<String>,
    /// Decoded text of a `text/*` part, LF line ends.
    pub text: Option<String>,
    /// Decoded size in bytes.
    pub size: usize,
}

/// A refusal the capture gave (a fault, or a `reject_rcpt` recipient).
#[derive(Clone, Debug, Deserialize)]
pub struct Rejection {
    pub stage: Stage,
    pub code: u16,
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event {
    Mail(Box<CapturedMail>),
    Reject(Rejection),
}

#[derive(Default)]
struct Seen {
    offset: usize,
    mails: Vec<CapturedMail>,
    rejections: Vec<Rejection>,
    taken: usize,
}

/// A private aiosmtpd on a free loopback port, for one test. Files in `<workdir>/smtp-N/`:
/// `capture.jsonl` (one line per accepted or refused message), `capture.log` (aiosmtpd's
/// log, with every command), `control.json` (faults), and the TLS files.
pub struct SmtpCapture {
    dir: PathBuf,
    port: u16,
    out: PathBuf,
    log: PathBuf,
    child: Mutex<Option<Child>>,
    seen: Mutex<Seen>,
    seq: AtomicU64,
}

impl SmtpCapture {
    /// Starts the server and returns once it listens. Panics (with its log) when it cannot.
    pub fn start(workdir: &Path, opts: CaptureOptions) -> SmtpCapture {
        assert!(Path::new(PYTHON).exists(), "no {PYTHON}: {SMTP_HINT}");
        let dir = (1..)
            .map(|n| workdir.join(format!("smtp-{n}")))
            .find(|d| !d.exists());
        let dir = dir.expect("a directory name");
        fs::create_dir_all(&dir).expect("create the SMTP capture directory");
        let mut capture = SmtpCapture {
            out: dir.join("capture.jsonl"),
            log: dir.join("capture.log"),
            dir,
            port: 0,
            child: Mutex::new(None),
            seen: Mutex::new(Seen::default()),
            seq: AtomicU64::new(0),
        };
        let options = serde_json::to_string(&opts).expect("options as JSON");
        for _ in 0..PORT_ATTEMPTS {
            capture.port = free_port();
            let (stdout, stderr) = stdout_stderr_log(&capture.log);
            let offset = file_len(&capture.log);
            let mut child = spawn_or_explain(
                Command::new(PYTHON)
                    .arg(CAPTURE_SCRIPT)
                    .args(["--port", &capture.port.to_string(), "--options", &options])
                    .args([OsStr::new("--out"), capture.out.as_os_str()])
                    .args(["--control", "control.json"])
                    .current_dir(&capture.dir)
                    .stdin(Stdio::null())
                    .stdout(stdout)
                    .stderr(stderr),
                "the SMTP capture (python3-aiosmtpd)",
            );
            let details = || tail(&capture.log, 30);
            let (log, what) = (&capture.log, "the SMTP capture");
            match wait_started(
                &mut child,
                log,
                offset,
                "READY ",
                "BIND FAILED",
                what,
                &details,
            ) {
                Start::Ready => {
                    *capture.child.get_mut().unwrap() = Some(child);
                    return capture;
                }
                Start::PortTaken => terminate(Some(child)),
            }
        }
        panic!(
            "no free port for the SMTP capture\n{}",
            tail(&capture.log, 30)
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, for the gateway's `smtp.relay`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA (PEM) that signed the server's certificate (`cert.pem` in `dir`).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads what the server wrote since last time.
    fn refresh(&self) -> MutexGuard<'_, Seen> {
        let mut seen = self.seen.lock().unwrap();
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&self.out) {
            file.seek(SeekFrom::Start(seen.offset as u64))
                .expect("seek");
            file.read_to_end(&mut bytes).expect("read the capture file");
        }
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let complete = std::str::from_utf8(&bytes[..end]).expect("UTF-8 capture lines");
        for line in complete.lines() {
            match serde_json::from_str(line) {
                Ok(Event::Mail(mail)) => seen.mails.push(*mail),
                Ok(Event::Reject(rejection)) => seen.rejections.push(rejection),
                Err(e) => panic!("bad capture line {line:?}: {e}"),
            }
        }
        seen.offset += complete.len();
        seen
    }

    /// Every message accepted so far, oldest first (whether taken by `try_mail` or not).
    pub fn mails(&self) -> Vec<CapturedMail> {
        self.refresh().mails.clone()
    }

    /// Every refusal so far, oldest first.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.refresh().rejections.clone()
    }

    /// The next accepted message not yet taken by `try_mail`/`expect_mail`, if one comes in
    /// time. Panics when the server has died.
    pub fn try_mail(&self, timeout: Duration) -> Option<CapturedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut seen = self.refresh();
                if let Some(mail) = seen.mails.get(seen.taken).cloned() {
                    seen.taken += 1;
                    return Some(mail);
                }
            }
            let mut child = self.child.lock().unwrap();
            if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
                panic!("the SMTP capture exited ({status})\n{}", self.details());
            }
            drop(child);
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Like `try_mail`; panics (with the server's log) when none comes.
    pub fn expect_mail(&self, timeout: Duration) -> CapturedMail {
        self.try_mail(timeout)
            .unwrap_or_else(|| panic!("no mail within {timeout:?}\n{}", self.details()))
    }

    /// Panics if a message is accepted within `wait`.
    pub fn expect_no_mail(&self, wait: Duration) {
        if let Some(mail) = self.try_mail(wait) {
            panic!("unexpected mail: {mail:#?}");
        }
    }

    /// The next `k` messages get `code` (e.g. 451, 550) after their DATA.
    pub fn fail_next(&self, k: usize, code: u16) {
        self.fault(Stage::Data, k, Some(code), Duration::ZERO);
    }

    /// Replaces the faults: each of the next `k` commands of `stage` (every RCPT counts) waits
    /// `delay`, then gets `code`, or goes on normally with `None` (`k` = 0 clears). The server
    /// reads the control file (replaced atomically) at each MAIL, RCPT and DATA.
    pub fn fault(&self, stage: Stage, k: usize, code: Option<u16>, delay: Duration) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let delay_ms = delay.as_millis() as u64;
        let json = serde_json::json!({"seq": seq, "stage": stage, "count": k,
            "code": code, "delay_ms": delay_ms});
        let control = self.dir.join("control.json");
        let tmp = self.dir.join("control.tmp");
        fs::write(&tmp, json.to_string()).expect("write the control file");
        fs::rename(&tmp, control).expect("replace the control file");
    }

    /// The server's log tail and the capture file's path, for failure messages.
    pub fn details(&self) -> String {
        let out = self.out.display();
        format!("{}\n(captured: {out})", tail(&self.log, 40))
    }
}

impl Drop for SmtpCapture {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        terminate(child.take());
    }
}

impl CapturedMail {
    /// The indexes of the headers called `name` (any case).
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        let headers = &self.headers;
        (0..headers.len()).filter(move |&i| headers[i].0.eq_ignore_ascii_case(name))
    }

    /// The first header called `name` (any case), still encoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// Every header called `name` (any case), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.named(name)
            .map(|i| self.headers[i].1.as_str())
            .collect()
    }

    /// The first header called `name` with its RFC 2047 encoded-words decoded.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.named(name).next().map(|i| self.decoded[i].clone())
    }

    /// The text of the first part of type `mime` (`text/plain`, `text/html`; the message
    /// itself when it is not multipart), transfer- and charset-decoded, LF line ends.
    pub fn part(&self, mime: &str) -> Option<&str> {
        let mut parts = self.parts.iter();
        parts
            .find(|p| p.mime.eq_ignore_ascii_case(mime))?
            .text
            .as_deref()
    }

    /// The `text/plain` part (a message without Content-Type is one).
    pub fn text(&self) -> Option<&str> {
        self.part("text/plain")
    }
}
