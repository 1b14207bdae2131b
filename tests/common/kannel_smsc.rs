//! The phone side of [`super::kannel::Kannel`]: one TCP client on Kannel's fake SMSC port,
//! speaking its line protocol (`gw/smsc/smsc_fake.c` in Kannel 1.4.5), plus the SMS text
//! encodings (GSM 03.38 test, URL encoding) the rig and the Twilio fake share.
//!
//! One message per `\n`-terminated line, `FROM TO TYPE DATA`:
//! - towards the phone (MT), as Kannel writes them:
//!   - `text MSG`: 7-bit (GSM) coding, MSG raw in UTF-8. Characters outside GSM 03.38 were
//!     already replaced by `?`; a newline in MSG ends the line early (continued on the next);
//!   - `ucs-2 DATA`: UCS-2 coding, DATA the URL-encoded UTF-16BE bytes (`+` is byte 0x20);
//!   - `data DATA`: 8-bit coding, URL-encoded bytes;
//!   - `udh UDH data DATA`: one part of a concatenated message: UDH URL-encoded
//!     (`%05%00%03<ref><total><seq>`), DATA the part's bytes URL-encoded: UTF-8 for 7-bit,
//!     UTF-16BE for UCS-2 (the line does not say which).
//! - towards Kannel (MO), as the rig writes them: `text MSG` (7-bit, MSG raw UTF-8, no newline)
//!   or `ucs2 DATA` (UCS-2, URL-encoded UTF-16BE). Also accepted: `data`, `udh`/`udh-data`,
//!   `udh-text`, `route`, `dlr-mask`. Note `ucs2` in, `ucs-2` out.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How an MT line coded its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// 7-bit GSM (`text` lines, and UTF-8-looking concatenated parts).
    Gsm,
    /// 8-bit binary (`data` lines); `text` is its bytes read as UTF-8, lossily.
    Binary,
    /// UCS-2 (`ucs-2` lines, and UTF-16BE-looking concatenated parts).
    Ucs2,
}

/// Where a concatenated part belongs (from its UDH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub reference: u16,
    pub total: u8,
    /// 1-based.
    pub seq: u8,
}

/// One SMS Kannel sent towards the phone. A long text that Kannel split (concatenation) gives
/// one `Mt` per part, each with `part` set and only its own piece in `text`; see
/// [`join_parts`] and `Kannel::expect_mt_message`.
#[derive(Clone, Debug)]
pub struct Mt {
    pub from: String,
    pub to: String,
    /// Decoded to Unicode, whatever the coding.
    pub text: String,
    /// The line(s) as received, without the final newline.
    pub raw: String,
    /// For a concatenated part, guessed from its bytes: UCS-2 when they hold a NUL byte or are
    /// not UTF-8 made of GSM characters (pure CJK parts could be misread).
    pub coding: Coding,
    /// The raw UDH bytes (empty without).
    pub udh: Vec<u8>,
    pub part: Option<Part>,
}

/// The text of a concatenated message: `parts` sorted by sequence number, joined.
pub fn join_parts(parts: &[Mt]) -> String {
    let mut sorted: Vec<&Mt> = parts.iter().collect();
    sorted.sort_by_key(|mt| mt.part.map(|p| p.seq).unwrap_or(0));
    sorted.iter().map(|mt| mt.text.as_str()).collect()
}

/// The GSM 03.38 default alphabet; `GSM_EXTENSION` characters take two septets.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The number of GSM septets `text` takes, or `None` when it needs UCS-2.
pub fn gsm_septets(text: &str) -> Option<usize> {
    text.chars().try_fold(0, |n, c| {
        if GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXTENSION.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// URL-encodes bytes the way forms and Kannel do: `A-Za-z0-9-_.~` as is, space as `+`.
pub fn url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Undoes URL encoding (`%XX`, `+` for space) into bytes; a malformed `%` is kept as is.
pub fn url_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|d| d as u8)
}

pub fn utf16be_bytes(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

pub fn decode_utf16be(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// The MO line for `text`: `text` when it is GSM and one line, else `ucs2`.
pub fn mo_line(from: &str, to: &str, text: &str) -> String {
    if gsm_septets(text).is_some() && !text.contains(['\n', '\r']) {
        format!("{from} {to} text {text}")
    } else {
        mo_line_ucs2(from, to, text)
    }
}

pub fn mo_line_ucs2(from: &str, to: &str, text: &str) -> String {
    format!("{from} {to} ucs2 {}", url_encode(&utf16be_bytes(text)))
}

/// Parses one MT line; `None` when it does not start like one (a continuation line).
pub fn parse_mt(line: &str) -> Option<Mt> {
    let mut fields = line.splitn(4, ' ');
    let (from, to, kind) = (fields.next()?, fields.next()?, fields.next()?);
    let rest = fields.next()?;
    let (text, coding, udh) = match kind {
        "text" => (rest.to_owned(), Coding::Gsm, Vec::new()),
        "ucs-2" => (decode_utf16be(&url_decode(rest)), Coding::Ucs2, Vec::new()),
        "data" => {
            let bytes = url_decode(rest);
            (
                String::from_utf8_lossy(&bytes).into_owned(),
                Coding::Binary,
                Vec::new(),
            )
        }
        "udh" => {
            let (udh, data) = rest.split_once(" data ")?;
            let bytes = url_decode(data);
            let (text, coding) = match String::from_utf8(bytes.clone()) {
                Ok(text) if !text.contains('\0') && gsm_septets(&text).is_some() => {
                    (text, Coding::Gsm)
                }
                _ => (decode_utf16be(&bytes), Coding::Ucs2),
            };
            (text, coding, url_decode(udh))
        }
        _ => return None,
    };
    Some(Mt {
        from: from.to_owned(),
        to: to.to_owned(),
        text,
        raw: line.to_owned(),
        coding,
        part: concat_part(&udh),
        udh,
    })
}

/// The concatenation element of a UDH (IE 0x00, 8-bit reference, or 0x08, 16-bit).
fn concat_part(udh: &[u8]) -> Option<Part> {
    let mut ies = udh.get(1..1 + usize::from(*udh.first()?))?;
    while let [id, len, rest @ ..] = ies {
        let (data, next) = rest.split_at_checked(usize::from(*len))?;
        match (id, data) {
            (0x00, [r, total, seq]) => {
                return Some(Part {
                    reference: u16::from(*r),
                    total: *total,
                    seq: *seq,
                })
            }
            (0x08, [r1, r2, total, seq]) => {
                let reference = u16::from_be_bytes([*r1, *r2]);
                return Some(Part {
                    reference,
                    total: *total,
                    seq: *seq,
                });
            }
            _ => ies = next,
        }
    }
    None
}

#[derive(Default)]
struct Backlog {
    mts: VecDeque<Mt>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

type Shared = Arc<(Mutex<Backlog>, Condvar)>;

/// The rig's connection to the fake SMSC port: MO lines out, MT lines into a backlog.
pub struct SmscClient {
    stream: TcpStream,
    shared: Shared,
    reader: Option<JoinHandle<()>>,
}

impl SmscClient {
    pub fn connect(port: u16) -> std::io::Result<SmscClient> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let read_half = stream.try_clone()?;
        let shared: Shared = Arc::default();
        let for_reader = shared.clone();
        let reader = thread::Builder::new()
            .name("fake-smsc-reader".into())
            .spawn(move || read_lines(read_half, for_reader))?;
        Ok(SmscClient {
            stream,
            shared,
            reader: Some(reader),
        })
    }

    pub fn send_line(&self, line: &str) {
        assert!(
            !line.contains('\n'),
            "an SMSC line cannot hold a newline: {line:?}"
        );
        (&self.stream)
            .write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("write to the fake SMSC port: {e}"));
    }

    /// The first MT in the backlog for which `wanted` holds, waiting up to `timeout`.
    pub fn take(&self, timeout: Duration, wanted: &dyn Fn(&Mt) -> bool) -> Option<Mt> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.shared;
        let mut backlog = lock.lock().unwrap();
        loop {
            if let Some(i) = backlog.mts.iter().position(wanted) {
                return backlog.mts.remove(i);
            }
            let now = Instant::now();
            if now >= deadline || backlog.closed.is_some() {
                return None;
            }
            backlog = cond.wait_timeout(backlog, deadline - now).unwrap().0;
        }
    }

    /// What is in the backlog, and whether (why) the connection ended: for failure messages.
    pub fn describe(&self) -> String {
        let backlog = self.shared.0.lock().unwrap();
        let lines: Vec<&str> = backlog.mts.iter().map(|mt| mt.raw.as_str()).collect();
        let closed = backlog.closed.as_deref().unwrap_or("open");
        format!("fake SMSC connection: {closed}; unclaimed MT lines: {lines:#?}")
    }

    pub fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for SmscClient {
    fn drop(&mut self) {
        self.close();
    }
}

/// The reader thread. A `text` MT stays pending until the next line or a quiet moment, since
/// a line that does not parse continues its text (Kannel writes the newline in it as is).
fn read_lines(mut stream: TcpStream, shared: Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let (lock, cond) = &*shared;
    let (mut buf, mut chunk, mut pending) = (Vec::new(), [0u8; 8192], None::<Mt>);
    let push = |mt: Option<Mt>| {
        if let Some(mt) = mt {
            lock.lock().unwrap().mts.push_back(mt);
            cond.notify_all();
        }
    };
    let closed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break "closed by Kannel".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                push(pending.take());
                continue;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break format!("read error: {e}"),
        }
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let bytes: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&bytes[..end]).into_owned();
            match (parse_mt(&line), pending.as_mut()) {
                (Some(mt), _) => {
                    push(pending.take());
                    if mt.coding == Coding::Gsm && mt.part.is_none() {
                        pending = Some(mt);
                    } else {
                        push(Some(mt));
                    }
                }
                (None, Some(text_mt)) => {
                    text_mt.text = format!("{}\n{line}", text_mt.text);
                    text_mt.raw = format!("{}\n{line}", text_mt.raw);
                }
                (None, None) => eprintln!("fake SMSC: ignoring an unexpected line {line:?}"),
            }
        }
    };
    push(pending.take());
    lock.lock().unwrap().closed = Some(closed);
    cond.notify_all();
}
