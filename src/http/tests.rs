//! The listener's bounds, against raw sockets on 127.0.0.1:0; what `/metrics` counts.

use super::*;
use std::io::{Read, Write as _};
use std::net::TcpStream;
use std::time::Instant;

fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        header_timeout: Duration::from_millis(300),
        connection_lifetime: Duration::from_secs(2),
        shutdown_grace: Duration::from_millis(500),
    }
}

/// Serves a `/ping` route with `limits`; returns its port and the shutdown token.
async fn start(limits: Limits) -> (u16, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve_router(listener, app, limits, shutdown.clone()));
    (port, shutdown, task)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_a_byte_at_a_time_ends_with_the_connection_lifetime() {
    let (port, shutdown, _task) = start(limits(8)).await;
    let took = blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            .unwrap();
        let start = Instant::now();
        // A byte every 100 ms: the headers came in time, the body never ends.
        while start.elapsed() < Duration::from_secs(8) {
            if s.write_all(b"x").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        start.elapsed()
    })
    .await;
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "cut after the 2 s lifetime, not before: {took:?}"
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
    };
    let response = metrics(State(state)).await.into_response();
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
