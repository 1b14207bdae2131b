//! Clients of the gateway's SMTP listener for tests: swaks ([`send_mail`]) and a raw
//! socket ([`smtp_session`]).

use super::smtp::{SMTP_HINT, SMTP_STEP_TIMEOUT};
use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Output;
/// Runs swaks with `args` (stdin closed) and returns its output.
pub fn swaks(args: &[&str]) -> Output {
    Command::new("swaks")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("swaks: {e}: {SMTP_HINT}"))
}

/// How a swaks transaction ended.
#[derive(Clone, Debug)]
pub struct SmtpResult {
    /// swaks exited 0: every step succeeded, at least one recipient accepted.
    pub ok: bool,
    /// The last reply before QUIT (0 when there was none: no connection, a timeout).
    pub code: u16,
    /// Its text (lines of a multi-line reply joined by `\n`), or swaks's own error.
    pub text: String,
    /// swaks's stdout and stderr.
    pub transcript: String,
}

/// Sends `raw_message` (headers, blank line, body; LF or CRLF) from `from` to `to` (commas
/// for several) through 127.0.0.1:`port` with swaks, as it is (line ends made CRLF, a last
/// one added if missing).
pub fn send_mail(port: u16, from: &str, to: &str, raw_message: &str) -> SmtpResult {
    send_mail_with(port, from, to, raw_message, &[])
}

/// Like `send_mail`, with more swaks options: `["--tls"]`, `["--auth", "PLAIN",
/// "--auth-user", "u", "--auth-password", "p"]`, `["--tls-on-connect"]`, … (TLS needs
/// Perl's Net::SSLeay, libnet-ssleay-perl, which swaks only recommends).
pub fn send_mail_with(port: u16, from: &str, to: &str, raw: &str, extra: &[&str]) -> SmtpResult {
    let secs = SMTP_STEP_TIMEOUT.as_secs();
    let common = format!("--server 127.0.0.1:{port} --helo client.test --timeout {secs}s");
    // Without --no-data-fixup swaks replaces tokens (%DATE%, …) and a literal `\n` in the
    // data, drops a leading "From " line and adds a blank line at the end.
    let mut child = Command::new("swaks")
        .args(common.split(' '))
        .args(["--data", "-", "--no-data-fixup", "--from", from, "--to", to])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("swaks: {e}: {SMTP_HINT}"));
    let mut stdin = child.stdin.take().expect("swaks's stdin");
    stdin
        .write_all(smtp_data(raw).as_bytes())
        .expect("write to swaks");
    drop(stdin);
    let output = child.wait_with_output().expect("wait for swaks");
    let [stdout, stderr] = [&output.stdout, &output.stderr].map(|o| String::from_utf8_lossy(o));
    let transcript = format!("{stdout}{stderr}");
    let (code, text) = final_reply(&transcript);
    let ok = output.status.success();
    SmtpResult {
        ok,
        code,
        text,
        transcript,
    }
}

/// The DATA payload for swaks --no-data-fixup: CRLF line ends, a final line end, leading
/// dots doubled, and the closing "." (swaks adds its CRLF).
fn smtp_data(raw: &str) -> String {
    let mut data = raw.replace("\r\n", "\n").replace('\n', "\r\n");
    if !data.ends_with("\r\n") {
        data.push_str("\r\n");
    }
    let stuffed = if data.starts_with('.') { "." } else { "" };
    format!("{stuffed}{}.", data.replace("\r\n.", "\r\n.."))
}

/// The last server reply before QUIT in a swaks transcript: `<-` (plain), `<~` (TLS), `<**`
/// and `<~*` (refusals), then the reply line; swaks's `***` errors when there is none.
fn final_reply(transcript: &str) -> (u16, String) {
    let (mut last, mut current) = (None, Vec::new());
    for line in transcript.lines() {
        if matches!(line.trim(), "-> QUIT" | "~> QUIT") {
            break;
        }
        if !(line.starts_with("<-") || line.starts_with("<~") || line.starts_with("<*")) {
            continue;
        }
        let reply = line.get(3..).unwrap_or("").trim_start();
        let code = reply.get(..3).and_then(|c| c.parse::<u16>().ok());
        let text = reply.get(4..).unwrap_or("").to_owned();
        match code {
            Some(_) if reply.as_bytes().get(3) == Some(&b'-') => current.push(text),
            Some(code) => {
                current.push(text);
                last = Some((code, current.join("\n")));
                current.clear();
            }
            None => last = Some((0, reply.to_owned())),
        }
    }
    let errors = transcript.lines().filter(|l| l.starts_with("***"));
    last.unwrap_or_else(|| (0, errors.collect::<Vec<_>>().join("\n")))
}

/// Speaks SMTP on 127.0.0.1:`port` line by line and returns the replies, the greeting first,
/// each multi-line reply joined by `\n`. After a `354` the lines up to "." are sent without
/// waiting. Stops early (shorter result) when the server closes or a reply takes longer
/// than [`SMTP_STEP_TIMEOUT`].
pub fn smtp_session(port: u16, lines: &[&str]) -> Vec<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, SMTP_STEP_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(SMTP_STEP_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(SMTP_STEP_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    let mut read_reply = || {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                _ => return None,
            }
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line);
            if !more {
                return Some(lines.join("\n"));
            }
        }
    };
    let mut replies: Vec<String> = read_reply().into_iter().collect();
    let mut in_data = false;
    for line in lines {
        if replies.is_empty() || writer.write_all(format!("{line}\r\n").as_bytes()).is_err() {
            break;
        }
        if in_data && *line != "." {
            continue;
        }
        match read_reply() {
            Some(reply) => {
                in_data = reply.starts_with("354");
                replies.push(reply);
            }
            None => break,
        }
    }
    replies
}
