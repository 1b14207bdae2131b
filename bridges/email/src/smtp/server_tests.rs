//! The listener over real sockets on 127.0.0.1, with an in-memory handler.

use super::*;
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_bridge::CancellationToken;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::rustls;

#[derive(Default)]
pub(super) struct Memory {
    pub(super) mail: Mutex<Vec<(Envelope, Vec<u8>)>>,
}

#[async_trait]
impl SmtpHandler for Memory {
    async fn check_recipient(&self, rcpt: &str) -> RcptVerdict {
        if rcpt.starts_with("alice") {
            RcptVerdict::Accept
        } else {
            RcptVerdict::Reject("No such user here".into())
        }
    }

    async fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> Result<String, DeliverError> {
        let mut mail = self.mail.lock().unwrap();
        mail.push((envelope, message));
        Ok(format!("m{}", mail.len()))
    }
}

pub(super) struct Server {
    pub(super) addr: SocketAddr,
    pub(super) memory: Arc<Memory>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

pub(super) async fn start(config: SmtpServerConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let memory = Arc::new(Memory::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, config, memory.clone(), shutdown.clone()));
    Server {
        addr,
        memory,
        shutdown,
        task,
    }
}

pub(super) fn config() -> SmtpServerConfig {
    SmtpServerConfig {
        max_message_bytes: 4096,
        max_recipients: 3,
        command_timeout: Duration::from_secs(10),
        rcpt_reject_delay: Duration::from_millis(20),
        ..SmtpServerConfig::new("mx.test")
    }
}

pub(super) struct Client<S> {
    pub(super) io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub(super) async fn send(&mut self, text: &str) {
        self.io.get_mut().write_all(text.as_bytes()).await.unwrap();
    }

    /// Reads one (possibly multi-line) reply: its code and lines.
    pub(super) async fn reply(&mut self) -> (u16, Vec<String>) {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = timeout(Duration::from_secs(10), self.io.read_line(&mut line)).await;
            let n = read.expect("no reply in time").unwrap();
            assert!(
                n > 0 && line.ends_with("\r\n"),
                "connection closed after {lines:?}"
            );
            let code = line[..3].parse().unwrap();
            lines.push(line[4..line.len() - 2].to_string());
            if line.as_bytes()[3] == b' ' {
                return (code, lines);
            }
        }
    }

    pub(super) async fn expect(&mut self, code: u16) -> Vec<String> {
        let (got, lines) = self.reply().await;
        assert_eq!(got, code, "{lines:?}");
        lines
    }

    pub(super) async fn command(&mut self, line: &str, code: u16) -> Vec<String> {
        self.send(&format!("{line}\r\n")).await;
        self.expect(code).await
    }

    pub(super) async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        let read = timeout(Duration::from_secs(10), self.io.read_to_end(&mut rest)).await;
        matches!(read, Ok(Ok(0)) | Ok(Err(_)))
    }
}

pub(super) async fn connect(server: &Server) -> Client<TcpStream> {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut client = Client {
        io: BufReader::new(tcp),
    };
    assert_eq!(client.expect(220).await, ["mx.test ESMTP Switchboard"]);
    client
}

#[tokio::test]
async fn a_whole_transaction() {
    let server = start(config()).await;
    let mut c = connect(&server).await;
    let ehlo = c.command("EHLO client.test", 250).await;
    assert_eq!(
        ehlo,
        ["mx.test Hello", "PIPELINING", "SIZE 4096", "8BITMIME"]
    );
    c.command("MAIL FROM:<bob@example.net> SIZE=100", 250).await;
    c.command("RCPT TO:<alice@mail.example.org>", 250).await;
    c.command("DATA", 354).await;
    c.send("Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n").await;
    assert_eq!(c.expect(250).await, ["OK queued as m1"]);
    c.command("QUIT", 221).await;
    assert!(c.closed().await);
    let mail = server.memory.mail.lock().unwrap().clone();
    let (envelope, message) = &mail[0];
    assert_eq!(envelope.mail_from, "bob@example.net");
    assert_eq!(envelope.rcpt_to, ["alice@mail.example.org"]);
    assert_eq!(envelope.helo, "client.test");
    assert!(envelope.peer.ip().is_loopback() && !envelope.tls);
    assert_eq!(message, b"Subject: hi\r\n\r\nHello\r\n.dot\r\n");
}

#[tokio::test]
async fn unknown_recipients_too_many_recipients_and_oversize_mail() {
    let server = start(config()).await;
    let mut c = connect(&server).await;
    c.command("HELO client.test", 250).await;
    c.command("MAIL FROM:<bob@example.net> SIZE=5000", 552)
        .await;
    c.command("MAIL FROM:<bob@example.net>", 250).await;
    assert_eq!(
        c.command("RCPT TO:<bob@mail.example.org>", 550).await,
        ["No such user here"]
    );
    for n in 1..=3 {
        c.command(&format!("RCPT TO:<alice{n}@mail.example.org>"), 250)
            .await;
    }
    c.command("RCPT TO:<alice4@mail.example.org>", 452).await;
    c.command("DATA", 354).await;
    for _ in 0..100 {
        c.send(&format!("{}\r\n", "x".repeat(98))).await;
    }
    c.send(".\r\n").await;
    c.expect(552).await;
    // The connection goes on, and nothing was stored.
    c.command("NOOP", 250).await;
    assert!(server.memory.mail.lock().unwrap().is_empty());
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let server = start(config()).await;
    let mut c = connect(&server).await;
    c.send("EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<alice@m.test>\r\nRCPT TO:<x@m.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 250, 550, 354] {
        c.expect(code).await;
    }
    c.send("one\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice2@m.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 250, 354] {
        c.expect(code).await;
    }
    c.send("two\r\n.\r\nQUIT\r\n").await;
    c.expect(250).await;
    c.expect(221).await;
    let mail = server.memory.mail.lock().unwrap().clone();
    assert_eq!(mail.len(), 2);
    assert_eq!(
        (mail[0].0.mail_from.as_str(), mail[0].1.as_slice()),
        ("", &b"one\r\n"[..])
    );
    assert_eq!(mail[1].0.rcpt_to, ["alice2@m.test"]);
}

#[tokio::test]
async fn long_lines_and_garbage_are_refused_without_harm() {
    let server = start(config()).await;
    let mut c = connect(&server).await;
    c.send(&format!("NOOP {}\r\nNOOP\r\n", "x".repeat(5000)))
        .await;
    assert_eq!(c.expect(500).await, ["Line too long"]);
    c.expect(250).await;
    c.send("\x00\x7f\u{ff}binary\r\n").await;
    c.expect(500).await;
    // Errors add up to a 421.
    for _ in 0..7 {
        c.command("BOGUS", 500).await;
    }
    c.command("BOGUS", 421).await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn shutdown_answers_421_and_serve_returns() {
    let server = start(config()).await;
    let mut c = connect(&server).await;
    c.command("EHLO client.test", 250).await;
    server.shutdown.cancel();
    assert_eq!(
        c.expect(421).await,
        ["mx.test Service shutting down, try again later"]
    );
    assert!(c.closed().await);
    timeout(Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn slow_clients_time_out() {
    let server = start(SmtpServerConfig {
        command_timeout: Duration::from_millis(300),
        data_timeout: Duration::from_millis(650),
        ..config()
    })
    .await;
    let mut c = connect(&server).await;
    assert_eq!(c.expect(421).await, ["mx.test Timeout, closing connection"]);
    assert!(c.closed().await);
    // A client that trickles its message in is cut off by the DATA timeout.
    let mut c = connect(&server).await;
    c.send("HELO c.test\r\nMAIL FROM:<>\r\nRCPT TO:<alice@m.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 250, 354] {
        c.expect(code).await;
    }
    // One byte every 100 ms: each read is in time, the whole message is not.
    for _ in 0..50 {
        tokio::select! {
            _ = c.io.get_ref().readable() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                c.io.get_mut().write_all(b"x").await.unwrap();
            }
        }
    }
    assert_eq!(c.reply().await.0, 421);
}

#[tokio::test]
async fn connections_beyond_the_cap_get_421() {
    let server = start(SmtpServerConfig {
        max_connections: 1,
        ..config()
    })
    .await;
    let mut first = connect(&server).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut second = Client {
        io: BufReader::new(tcp),
    };
    assert_eq!(
        second.expect(421).await,
        ["mx.test Too many connections, try again later"]
    );
    assert!(second.closed().await);
    first.command("QUIT", 221).await;
    assert!(first.closed().await);
    // The slot is free again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    connect(&server).await.command("NOOP", 250).await;
}

#[tokio::test]
async fn starttls_with_a_self_signed_certificate() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("sb-smtp-starttls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.signing_key.serialize_pem()).unwrap();
    let tls = load_tls_config(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let server = start(SmtpServerConfig {
        tls: Some(tls),
        ..config()
    })
    .await;

    let mut c = connect(&server).await;
    let ehlo = c.command("EHLO client.test", 250).await;
    assert_eq!(ehlo.last().unwrap(), "STARTTLS");
    // Plaintext pipelined after STARTTLS is dropped, not run inside TLS.
    c.send("STARTTLS\r\nBOGUS\r\n").await;
    c.expect(220).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, c.io.into_inner()).await.unwrap();
    let mut c = Client {
        io: BufReader::new(tls),
    };
    c.command("MAIL FROM:<>", 503).await;
    let ehlo = c.command("EHLO client.test", 250).await;
    assert!(!ehlo.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
    c.command("STARTTLS", 503).await;
    c.command("MAIL FROM:<bob@example.net>", 250).await;
    c.command("RCPT TO:<alice@m.test>", 250).await;
    c.command("DATA", 354).await;
    c.send("secret\r\n.\r\n").await;
    c.expect(250).await;
    c.command("QUIT", 221).await;
    let mail = server.memory.mail.lock().unwrap().clone();
    assert!(mail[0].0.tls);
    assert_eq!(mail[0].1, b"secret\r\n");
}
