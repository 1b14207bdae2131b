//! The listener's bounds, against raw sockets on 127.0.0.1:0; what `/metrics` counts.

use super::*;
use std::io::{Read, Write as _};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        max_connections_per_ip: max_connections,
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_secs(10),
        connection_lifetime: Duration::from_secs(2),
        shutdown_grace: Duration::from_millis(500),
    }
}

/// Serves a `/ping` route with `limits`; returns its port and the shutdown token.
async fn start(limits: Limits) -> (u16, CancellationToken, tokio::task::JoinHandle<()>) {
    let (port, shutdown, task, _) = start_counted(limits).await;
    (port, shutdown, task)
}

/// [`start`], with the listener's counters.
async fn start_counted(
    limits: Limits,
) -> (
    u16,
    CancellationToken,
    tokio::task::JoinHandle<()>,
    Arc<HttpStats>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        );
    let shutdown = CancellationToken::new();
    let stats = Arc::new(HttpStats::default());
    let task = tokio::spawn(serve_router(
        listener,
        app,
        limits,
        stats.clone(),
        shutdown.clone(),
    ));
    (port, shutdown, task, stats)
}

/// Blocking client work off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Reads until the server closes the connection; returns what came and how long it took.
fn read_to_close(mut stream: TcpStream) -> (String, Duration) {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no close within 10 s: {e}"),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_idle_connection_is_closed_after_the_header_timeout() {
    let (port, shutdown, _task) = start(limits(8)).await;
    let (got, took) =
        blocking(move || read_to_close(TcpStream::connect(("127.0.0.1", port)).unwrap())).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(!got.contains("pong"), "{got}");
    // Kept alive after a request, then idle: closed the same way.
    let (got, took) = blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_to_close(s)
    })
    .await;
    assert!(
        got.starts_with("HTTP/1.1 200") && got.ends_with("pong"),
        "{got}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let (port, shutdown, _task) = start(limits(2)).await;
    let (third, held) = blocking(move || {
        let held: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = third.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        (read_to_close(third), held)
    })
    .await;
    assert!(!third.0.contains("pong"), "{}", third.0);
    assert!(
        third.1 < Duration::from_millis(250),
        "closed at once: {:?}",
        third.1
    );
    drop(held);
    // Once the others are gone, a request is served again.
    let got = blocking(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        read_to_close(s).0
    })
    .await;
    assert!(got.ends_with("pong"), "{got}");
    shutdown.cancel();
}

/// Trickles a `Content-Length: 1000` body a byte every 100 ms for at most 8 s; returns
/// what came back and when the server closed.
fn trickle_body(port: u16) -> (String, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while start.elapsed() < Duration::from_secs(8) {
        if s.write_all(b"x").is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(_) => {} // nothing yet
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_a_byte_at_a_time_gets_408_after_the_body_timeout() {
    let (port, shutdown, _task, stats) = start_counted(Limits {
        body_timeout: Duration::from_millis(700),
        connection_lifetime: Duration::from_secs(6),
        ..limits(8)
    })
    .await;
    let (got, took) = blocking(move || trickle_body(port)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(3),
        "cut after the 0.7 s body timeout, long before the 6 s lifetime: {took:?}"
    );
    assert_eq!(stats.body_timeouts.load(Ordering::Relaxed), 1);
    // A body that arrives in time is served.
    let got = blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhel",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        s.write_all(b"lo").unwrap();
        read_to_close(s).0
    })
    .await;
    assert!(
        got.starts_with("HTTP/1.1 200") && got.ends_with("hello"),
        "{got}"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_body_timeout_the_connection_lifetime_still_ends_a_trickle() {
    let (port, shutdown, _task) = start(Limits {
        body_timeout: Duration::from_secs(60),
        ..limits(8)
    })
    .await;
    let (_, took) = blocking(move || trickle_body(port)).await;
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "cut after the 2 s lifetime, not before: {took:?}"
    );
    shutdown.cancel();
}

/// A connection from `ip` (any of 127/8) to the server, with a request sent.
async fn connect_from(ip: &str, port: u16) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

/// Sends a GET /ping and reads until close; the answer.
async fn ping_on(mut s: tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = s
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_its_share_of_connections_and_others_are_still_served() {
    let (port, shutdown, _task, stats) = start_counted(Limits {
        max_connections_per_ip: 3,
        header_timeout: Duration::from_secs(5),
        ..limits(16)
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.2", port).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let fourth = ping_on(connect_from("127.0.0.2", port).await).await;
    assert!(!fourth.contains("pong"), "refused: {fourth}");
    assert!(started.elapsed() < Duration::from_millis(500), "at once");
    assert_eq!(stats.refused_per_ip.load(Ordering::Relaxed), 1);
    // Another address is served meanwhile.
    let other = ping_on(connect_from("127.0.0.3", port).await).await;
    assert!(other.ends_with("pong"), "{other}");
    // Once one of the three closes, the address gets a connection again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = ping_on(connect_from("127.0.0.2", port).await).await;
    assert!(again.ends_with("pong"), "{again}");
    assert_eq!(stats.refused_per_ip.load(Ordering::Relaxed), 1);
    assert_eq!(stats.refused.load(Ordering::Relaxed), 0);
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_want_the_token_when_one_is_set() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config: HttpConfig = serde_yaml_ng::from_str(&format!(
        "listen: \"127.0.0.1:{port}\"\nmetrics_token: \"s3cret-token-0123456789\""
    ))
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        config,
        Vec::new(),
        Vec::new(),
        shutdown.clone(),
    ));
    let get = |path: &'static str, auth: Option<&'static str>| async move {
        blocking(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let auth = auth
                .map(|a| format!("Authorization: {a}\r\n"))
                .unwrap_or_default();
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
            )
            .unwrap();
            read_to_close(s).0
        })
        .await
    };
    for path in ["/metrics", "/healthz"] {
        let got = get(path, None).await;
        assert!(got.starts_with("HTTP/1.1 401"), "{path}: {got}");
        assert!(!got.contains("s3cret"), "the token is never shown");
    }
    let wrong = get("/metrics", Some("Bearer s3cret-token-012345678X")).await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let ok = get("/metrics", Some("Bearer s3cret-token-0123456789")).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("switchboard_http_unauthorized_total 3"), "{ok}");
    let ok = get("/healthz?token=s3cret-token-0123456789", None).await;
    assert!(
        ok.starts_with("HTTP/1.1 200"),
        "no transports: all up: {ok}"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_returns() {
    let (port, shutdown, task) = start(limits(8)).await;
    let idle = blocking(move || TcpStream::connect(("127.0.0.1", port)).unwrap()).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("serve_router returns within the grace")
        .unwrap();
    assert!(
        blocking(move || TcpStream::connect(("127.0.0.1", port)))
            .await
            .is_err(),
        "no longer listening"
    );
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_listener_makes_room_for_an_address_holding_fewer() {
    let (port, shutdown, _task, stats) = start_counted(Limits {
        max_connections_per_ip: 4,
        header_timeout: Duration::from_secs(5),
        ..limits(4)
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", port).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The listener is full of 127.0.0.2's idle connections: a new address gets in.
    let started = Instant::now();
    let newcomer = ping_on(connect_from("127.0.0.3", port).await).await;
    assert!(newcomer.ends_with("pong"), "{newcomer}");
    assert!(started.elapsed() < Duration::from_secs(1), "promptly");
    assert_eq!(stats.evicted.load(Ordering::Relaxed), 1);
    // The oldest of the four was the one closed.
    use tokio::io::AsyncReadExt;
    let mut first = held.remove(0);
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(1), first.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
    // An address holding as many as the others does not push them out.
    let (a, b) = (
        connect_from("127.0.0.4", port).await,
        connect_from("127.0.0.4", port).await,
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let third = ping_on(connect_from("127.0.0.4", port).await).await;
    assert!(!third.contains("pong"), "{third}");
    assert!(stats.refused.load(Ordering::Relaxed) >= 1);
    drop((a, b, held));
    shutdown.cancel();
}

#[tokio::test]
async fn metrics_count_unwritable_stanzas_per_transport() {
    use crate::transport::testing::Rig;
    use std::sync::atomic::Ordering::Relaxed;
    let hub = Arc::new(crate::watch::Hub::default());
    let irc = Rig::start("irc.example.org", hub.clone(), &[]).await;
    let sms = Rig::start("sms.example.org", hub, &[]).await;
    irc.transport
        .link()
        .stats()
        .unserialisable
        .fetch_add(2, Relaxed);
    let state = AppState {
        transports: Arc::new(vec![irc.transport.clone(), sms.transport.clone()]),
        token: None,
        stats: Arc::default(),
    };
    let response = metrics(State(state), HeaderMap::new(), Uri::from_static("/metrics")).await;
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("# TYPE switchboard_stanzas_unserialisable_total counter")
            && text.contains(
                "switchboard_stanzas_unserialisable_total{domain=\"irc.example.org\"} 2\n"
            )
            && text.contains(
                "switchboard_stanzas_unserialisable_total{domain=\"sms.example.org\"} 0\n"
            ),
        "{text}"
    );
}
