//! A plain blocking HTTP/1.1 client with keep-alive, for Kannel's `sendsms` (the SMS
//! benchmark's direct phase, `tests/bench_sms.rs`), and the request the gateway makes.

use super::kannel::Kannel;
use super::kannel_smsc::url_encode;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Kannel's delivery-report mask the gateway asks for (`bridges/sms/src/provider/kannel.rs`).
pub const DLR_MASK: &str = "19";

/// One connection to smsbox at a time, kept open between requests.
pub struct KeepAlive {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
    /// How many connections were opened.
    pub connects: u32,
}

enum Failure {
    /// Nothing of an answer was read: on a reused connection smsbox had closed it.
    NoAnswer(String),
    Broken(String),
}

impl KeepAlive {
    pub fn new(port: u16) -> KeepAlive {
        KeepAlive {
            port,
            conn: None,
            connects: 0,
        }
    }

    /// `GET path`: (status, body). A request that got no answer at all on a reused
    /// connection is sent once more on a new one.
    pub fn get(&mut self, path: &str) -> (u16, String) {
        for _ in 0..2 {
            let reused = self.conn.is_some();
            let conn = match self.conn.take() {
                Some(conn) => conn,
                None => {
                    let stream = TcpStream::connect(("127.0.0.1", self.port))
                        .unwrap_or_else(|e| panic!("connect to smsbox: {e}"));
                    stream.set_nodelay(true).ok();
                    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
                    self.connects += 1;
                    BufReader::new(stream)
                }
            };
            let mut conn = conn;
            match exchange(&mut conn, path) {
                Ok((code, body, keep)) => {
                    if keep {
                        self.conn = Some(conn);
                    }
                    return (code, body);
                }
                Err(Failure::NoAnswer(_)) if reused => continue,
                Err(Failure::NoAnswer(e) | Failure::Broken(e)) => {
                    panic!("GET {path} on smsbox: {e}")
                }
            }
        }
        unreachable!("the second attempt is on a new connection")
    }
}

/// One request and its answer on `conn`: (status, body, whether the connection stays open).
fn exchange(conn: &mut BufReader<TcpStream>, path: &str) -> Result<(u16, String, bool), Failure> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    conn.get_mut()
        .write_all(request.as_bytes())
        .map_err(|e| Failure::NoAnswer(e.to_string()))?;
    let mut status = String::new();
    match conn.read_line(&mut status) {
        Ok(0) => return Err(Failure::NoAnswer("connection closed".into())),
        Ok(_) => {}
        Err(e) => return Err(Failure::NoAnswer(e.to_string())),
    }
    let broken = |e: std::io::Error| Failure::Broken(e.to_string());
    let mut parts = status.split_whitespace();
    let version = parts.next().unwrap_or_default().to_owned();
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Failure::Broken(format!("not an HTTP status line: {status:?}")))?;
    let mut keep = version == "HTTP/1.1";
    let mut length = None;
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).map_err(broken)? == 0 {
            return Err(Failure::Broken("closed within the headers".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (
            name.trim().to_ascii_lowercase(),
            value.trim().to_ascii_lowercase(),
        );
        match name.as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "connection" if value == "close" => keep = false,
            "connection" if value == "keep-alive" => keep = true,
            _ => {}
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            conn.read_exact(&mut body).map_err(broken)?;
        }
        None => {
            conn.read_to_end(&mut body).map_err(broken)?;
            keep = false;
        }
    }
    Ok((code, String::from_utf8_lossy(&body).into_owned(), keep))
}

/// The sendsms request the gateway makes for one message, the same parameters in the same
/// order (`Kannel::query` in bridges/sms/src/provider/kannel.rs).
pub fn sendsms_path(from: &str, to: &str, text: &str, dlr_url: Option<&str>) -> String {
    let mut params = vec![
        ("username", Kannel::USER),
        ("password", Kannel::PASS),
        ("from", from),
        ("to", to),
        ("text", text),
        ("charset", "UTF-8"),
        ("coding", "0"),
    ];
    if let Some(dlr_url) = dlr_url {
        params.extend([("dlr-mask", DLR_MASK), ("dlr-url", dlr_url)]);
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v.as_bytes())))
        .collect();
    format!("/cgi-bin/sendsms?{}", query.join("&"))
}
