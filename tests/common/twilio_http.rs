//! Minimal blocking HTTP/1.1 on std sockets for the SMS rig: a client (`Connection: close`),
//! a one-request server side, and form encoding. Enough for Twilio's and Kannel's requests.

use super::kannel_smsc::{url_decode, url_encode};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// A request as a server read it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent: path and query, still URL-encoded.
    pub target: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query parameters, decoded to bytes (Kannel's `text` may be UTF-16BE).
    pub fn query_bytes(&self) -> Vec<(String, Vec<u8>)> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    String::from_utf8_lossy(&url_decode(k)).into_owned(),
                    url_decode(v),
                )
            })
            .collect()
    }

    /// One query parameter's bytes.
    pub fn query_param(&self, name: &str) -> Option<Vec<u8>> {
        self.query_bytes()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The body as form fields.
    pub fn form(&self) -> Vec<(String, String)> {
        form_decode(&String::from_utf8_lossy(&self.body))
    }
}

/// Form-encodes `params` (`+` for space).
pub fn form_encode(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k.as_bytes()), url_encode(v.as_bytes())))
        .collect();
    pairs.join("&")
}

pub fn form_decode(body: &str) -> Vec<(String, String)> {
    let text = |s: &str| String::from_utf8_lossy(&url_decode(s)).into_owned();
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (text(k), text(v))
        })
        .collect()
}

/// A blocking form POST to `url` (`http://host:port/path?query`), with X-Twilio-Signature
/// when given: (status, body).
pub fn post_form(url: &str, params: &[(&str, &str)], signature: Option<&str>) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(signature) = signature {
        headers.push(("X-Twilio-Signature", signature));
    }
    http_request("POST", url, &headers, form_encode(params).as_bytes())
}

/// A blocking GET of `url`: (status, body).
pub fn http_get_url(url: &str) -> (u16, String) {
    http_request("GET", url, &[], b"")
}

/// One blocking request to an `http://` URL (`Connection: close`): (status, body). Panics
/// when the server cannot be reached or does not answer within 30 s.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    try_http_request(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Like `http_request`, with the error instead of a panic.
pub fn try_http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<(u16, String)> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not an http URL: {url}"),
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(invalid)?;
    let (host, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let addr = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let (start, _, body) = read_message(&mut BufReader::new(stream), true)?;
    let status = start.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    Ok((
        status.unwrap_or(0),
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// Accepts one connection on `listener` within `timeout`, reads its request and answers
/// `status` with `body` (text/plain). `None` when nobody connected in time.
pub fn accept_one(
    listener: &TcpListener,
    timeout: Duration,
    status: u16,
    body: &str,
) -> Option<HttpRequest> {
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let deadline = Instant::now() + timeout;
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).expect("a blocking stream");
    let request = read_request(&mut stream).expect("read an HTTP request");
    respond(&mut stream, status, "text/plain", body).expect("answer the request");
    Some(request)
}

/// Reads one request from a server-side connection.
pub fn read_request(stream: &mut TcpStream) -> io::Result<HttpRequest> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (start, headers, body) = read_message(&mut BufReader::new(stream.try_clone()?), false)?;
    let mut words = start.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let target = words.next().unwrap_or("").to_owned();
    Ok(HttpRequest {
        method,
        target,
        headers,
        body,
    })
}

/// Writes a whole response, `Connection: close`.
pub fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

type Message = (String, Vec<(String, String)>, Vec<u8>);

/// Reads one HTTP/1.x message: start line, headers (names lower-cased), body (by
/// Content-Length, chunked, or, for a response, up to EOF).
fn read_message(reader: &mut impl BufRead, response: bool) -> io::Result<Message> {
    fn next_line(reader: &mut impl BufRead) -> io::Result<String> {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
    let invalid = |e: std::num::ParseIntError| io::Error::new(io::ErrorKind::InvalidData, e);
    let start = next_line(reader)?;
    let mut headers = Vec::new();
    loop {
        let header = next_line(reader)?;
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let size = next_line(reader)?;
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .map_err(invalid)?;
            let mut chunk = vec![0; size + 2]; // with its CRLF
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length") {
        body.resize(length.parse().map_err(invalid)?, 0);
        reader.read_exact(&mut body)?;
    } else if response {
        reader.read_to_end(&mut body)?;
    }
    Ok((start, headers, body))
}
