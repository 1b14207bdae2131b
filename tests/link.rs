//! The component link against a fake XEP-0114 server on 127.0.0.1:0, in-process: the
//! handshake, a refused secret, stanzas queued while the server is away, a stanza that
//! does not parse, and the keepalive. (The real-server tests are in `e2e_core.rs`.)

use std::time::Duration;
use switchboard::config::Secret;
use switchboard::link::{self, LinkConfig, LinkHandle, LinkState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use xmpp_parsers::component::Handshake;
use xmpp_parsers::message::Message;
use xmpp_parsers::stanza::Stanza;

const DOMAIN: &str = "echo.test";
const SECRET: &str = "sekrit";
const T: Duration = Duration::from_secs(10);

/// The server side of one component connection: raw text in, raw text out.
struct FakeServer {
    stream: TcpStream,
    received: String,
}

impl FakeServer {
    /// Accepts a connection and runs the handshake; `accept` decides whether the
    /// component's secret is taken (else a `not-authorized` stream error is sent).
    async fn accept(listener: &TcpListener, accept: bool) -> FakeServer {
        let (stream, _) = tokio::time::timeout(T, listener.accept())
            .await
            .expect("a connection")
            .unwrap();
        let mut server = FakeServer {
            stream,
            received: String::new(),
        };
        server
            .read_until(|r| r.contains("<stream:stream") && r.trim_end().ends_with('>'))
            .await;
        assert!(
            server.received.contains("jabber:component:accept"),
            "{}",
            server.received
        );
        server
            .write(&format!(
                "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
                 xmlns='jabber:component:accept' id='s1d' from='{DOMAIN}'>"
            ))
            .await;
        server.read_until(|r| r.contains("</handshake>")).await;
        let expected = Handshake::from_stream_id_and_password("s1d".into(), SECRET);
        let hex: String = expected
            .data
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let sent_right_secret = server.received.contains(&format!(">{hex}</handshake>"));
        if accept && sent_right_secret {
            server.write("<handshake/>").await;
        } else {
            server
                .write("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
                .await;
        }
        server.received.clear();
        server
    }

    async fn write(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.unwrap();
    }

    /// Reads until `done` holds for everything received so far.
    async fn read_until(&mut self, done: impl Fn(&str) -> bool) {
        let mut buf = [0u8; 4096];
        let read = async {
            while !done(&self.received) {
                let n = self.stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the link closed; received so far: {}", self.received);
                self.received.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        };
        if tokio::time::timeout(T, read).await.is_err() {
            panic!("timed out; received so far: {}", self.received);
        }
    }
}

fn config(port: u16, secret: &str, keepalive: Duration) -> LinkConfig {
    LinkConfig {
        server: format!("127.0.0.1:{port}"),
        domain: DOMAIN.into(),
        secret: serde_yaml_ng::from_str::<Secret>(secret).unwrap(),
        keepalive,
        queue: 4,
    }
}

fn message(n: u32) -> Stanza {
    let mut m = Message::chat(Some("alice@example.org".parse().unwrap()))
        .with_body("".into(), format!("queued {n}"));
    m.from = Some(format!("bob@{DOMAIN}").parse().unwrap());
    m.into()
}

async fn wait_state(link: &LinkHandle, pred: impl Fn(&LinkState) -> bool) -> LinkState {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let state = link.state();
        if pred(&state) {
            return state;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "link state stuck at {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_refused_secret_is_reported_with_the_servers_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (inbound, _rx) = mpsc::channel(8);
    let abort = CancellationToken::new();
    let (link, task) = link::spawn(
        config(port, "wrong", Duration::from_secs(30)),
        inbound,
        abort.clone(),
    );
    let _server = FakeServer::accept(&listener, true).await;
    let state = wait_state(&link, |s| matches!(s, LinkState::Down { .. })).await;
    let LinkState::Down { reason } = state else {
        unreachable!()
    };
    assert!(
        reason.contains("refused the component echo.test: not-authorized"),
        "{reason}"
    );
    assert!(
        !reason.contains("wrong"),
        "the secret must not appear: {reason}"
    );
    abort.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn stanzas_wait_while_the_server_is_away_and_arrive_in_order() {
    // A port with nothing behind it yet: the link retries with backoff.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (inbound, _rx) = mpsc::channel(8);
    let (link, task) = link::spawn(
        config(port, SECRET, Duration::from_secs(30)),
        inbound,
        CancellationToken::new(),
    );
    for n in 1..=4 {
        link.send(message(n)).expect("room in the queue");
    }
    assert!(link.send(message(5)).is_err(), "the bound is 4");
    wait_state(&link, |s| matches!(s, LinkState::Down { .. })).await;

    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let mut server = FakeServer::accept(&listener, true).await;
    server.read_until(|r| r.contains("queued 4")).await;
    let order: Vec<usize> = (1..=4)
        .map(|n| server.received.find(&format!("queued {n}")).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "in order: {}",
        server.received
    );
    assert_eq!(link.state(), LinkState::Up);

    // Dropping the last handle closes the link cleanly once the queue is written.
    drop(link);
    server.read_until(|r| r.contains("</stream:stream>")).await;
    tokio::time::timeout(T, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_stanza_that_does_not_parse_is_bounced_and_the_link_stays_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (inbound, mut rx) = mpsc::channel(8);
    let (link, _task) = link::spawn(
        config(port, SECRET, Duration::from_secs(30)),
        inbound,
        CancellationToken::new(),
    );
    let mut server = FakeServer::accept(&listener, true).await;
    server
        .write("<message type='bogus' id='b1' from='mallory@example.org/x' to='bob@echo.test'><body>x</body></message>")
        .await;
    server.read_until(|r| r.contains("</message>")).await;
    let reply = server.received.clone();
    assert!(
        reply.contains("type=\"error\"") || reply.contains("type='error'"),
        "{reply}"
    );
    assert!(
        reply.contains("bad-request")
            && reply.contains("b1")
            && reply.contains("mallory@example.org/x"),
        "{reply}"
    );

    server
        .write("<message type='chat' id='ok' from='alice@example.org/x' to='bob@echo.test'><body>fine</body></message>")
        .await;
    let next = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert!(
        matches!(next, Stanza::Message(m) if m.id.as_ref().map(|i| i.0.as_str()) == Some("ok"))
    );
    assert_eq!(link.state(), LinkState::Up);
    assert_eq!(
        link.stats()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_quiet_link_pings_instead_of_dropping() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (inbound, _rx) = mpsc::channel(8);
    let (link, _task) = link::spawn(
        config(port, SECRET, Duration::from_millis(300)),
        inbound,
        CancellationToken::new(),
    );
    let mut server = FakeServer::accept(&listener, true).await;
    server
        .read_until(|r| r.contains("switchboard-keepalive"))
        .await;
    assert!(
        server.received.contains("urn:xmpp:ping"),
        "{}",
        server.received
    );
    // Answering keeps the link up well past the silence limit.
    server
        .write("<iq type='result' id='switchboard-keepalive' from='echo.test' to='echo.test'/>")
        .await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(link.state(), LinkState::Up);
}

#[tokio::test]
async fn a_stanza_xml_cannot_carry_is_dropped_and_counted_and_the_link_stays_up() {
    use std::sync::atomic::Ordering::Relaxed;
    use xmpp_parsers::disco::{DiscoInfoResult, Identity};
    use xmpp_parsers::iq::Iq;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (inbound, _rx) = mpsc::channel(8);
    let (link, _task) = link::spawn(
        config(port, SECRET, Duration::from_secs(30)),
        inbound,
        CancellationToken::new(),
    );
    let mut server = FakeServer::accept(&listener, true).await;
    // Built past the gateway's builders, which would have cleaned them.
    let mut poisoned = Message::chat(Some("alice@example.org".parse().unwrap()))
        .with_body("".into(), "ring\u{7}bell".into());
    poisoned.from = Some(format!("bob@{DOMAIN}").parse().unwrap());
    link.send(poisoned.into()).unwrap();
    // An answer to something alice asked: she gets an error instead.
    let mut answer = Iq::from_result(
        "q1",
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("client", "pc", "en", "x\u{ffff}")],
            features: Default::default(),
            extensions: vec![],
        }),
    );
    if let Iq::Result { from, to, .. } = &mut answer {
        *from = Some(format!("bob@{DOMAIN}").parse().unwrap());
        *to = Some("alice@example.org/phone".parse().unwrap());
    }
    link.send(answer.into()).unwrap();
    link.send(message(1)).unwrap();
    server.read_until(|r| r.contains("queued 1")).await;
    let got = server.received.clone();
    assert!(
        !got.contains("ring"),
        "the poisoned message is not written: {got}"
    );
    assert!(
        got.contains("internal-server-error") && got.contains("q1") && !got.contains("<identity"),
        "the asker gets an error: {got}"
    );
    assert_eq!(link.stats().unserialisable.load(Relaxed), 2);
    assert_eq!(link.state(), LinkState::Up);
    assert_eq!(link.stats().connects.load(Relaxed), 1, "no reconnect");
    // And the stream is still well-formed for what follows.
    link.send(message(2)).unwrap();
    server.read_until(|r| r.contains("queued 2")).await;
    assert_eq!(link.stats().connects.load(Relaxed), 1);
}
