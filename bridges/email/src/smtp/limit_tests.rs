//! The listener's limits over real sockets: connections per IP, the session lifetime,
//! commands without mail, refused recipients (and their counters).

use super::server_tests::{config, connect, start, Client};
use super::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::BufReader;
use tokio::net::{TcpSocket, TcpStream};

/// A connection from `ip` (a loopback address) to the server.
async fn connect_from(ip: &str, to: std::net::SocketAddr) -> Client<TcpStream> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    Client {
        io: BufReader::new(socket.connect(to).await.unwrap()),
    }
}

#[tokio::test]
async fn one_address_gets_its_share_and_others_are_still_served() {
    let stats = Arc::new(SmtpStats::default());
    let server = start(SmtpServerConfig {
        max_connections_per_ip: 2,
        stats: stats.clone(),
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect_from("127.0.0.1", server.addr).await;
        c.expect(220).await;
        held.push(c);
    }
    let mut third = connect_from("127.0.0.1", server.addr).await;
    assert_eq!(
        third.expect(421).await,
        ["mx.test Too many connections from your address, try again later"]
    );
    assert!(third.closed().await);
    assert_eq!(stats.refused_per_ip.load(Ordering::Relaxed), 1);
    // Another address is served meanwhile.
    let mut other = connect_from("127.0.0.2", server.addr).await;
    other.expect(220).await;
    other.command("NOOP", 250).await;
    // Once one of the first leaves, its address may connect again.
    held.pop().unwrap().command("QUIT", 221).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = connect_from("127.0.0.1", server.addr).await;
        if again.reply().await.0 == 220 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_busy_session_still_ends_at_its_lifetime() {
    let stats = Arc::new(SmtpStats::default());
    let server = start(SmtpServerConfig {
        max_session: Duration::from_millis(800),
        stats: stats.clone(),
        ..config()
    })
    .await;
    let started = Instant::now();
    let mut c = connect(&server).await;
    c.command("EHLO c.test", 250).await;
    // A command every 100 ms, each moving a transaction along, so no other limit ends it.
    let mut answered = 0;
    loop {
        c.send("MAIL FROM:<a@b.example>\r\n").await;
        let (code, lines) = c.reply().await;
        if code == 421 {
            assert_eq!(lines, ["mx.test Session too long, closing connection"]);
            break;
        }
        assert_eq!(code, 250);
        c.command("RCPT TO:<alice@m.test>", 250).await;
        c.send("RSET\r\n").await;
        assert_eq!(c.reply().await.0, 250);
        answered += 1;
        assert!(answered < 50, "the session never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lived = started.elapsed();
    assert!(lived >= Duration::from_millis(800), "{lived:?}");
    assert!(lived < Duration::from_secs(3), "{lived:?}");
    assert_eq!(stats.closed_lifetime.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn noop_loops_and_guessed_recipients_end_the_session() {
    let stats = Arc::new(SmtpStats::default());
    let server = start(SmtpServerConfig {
        rcpt_reject_delay: Duration::from_millis(200),
        stats: stats.clone(),
        ..config()
    })
    .await;
    let mut c = connect(&server).await;
    c.command("EHLO c.test", 250).await;
    for _ in 1..MAX_IDLE_COMMANDS {
        c.command("NOOP", 250).await;
    }
    c.command("NOOP", 421).await;
    assert!(c.closed().await);
    assert_eq!(stats.closed_idle.load(Ordering::Relaxed), 1);

    // Each refused recipient is answered late, and counts as an error.
    let mut c = connect(&server).await;
    c.command("EHLO c.test", 250).await;
    c.command("MAIL FROM:<a@b.example>", 250).await;
    let started = Instant::now();
    for i in 1..MAX_ERRORS {
        c.command(&format!("RCPT TO:<guess{i}@m.test>"), 550).await;
    }
    let slow = started.elapsed();
    assert!(
        slow >= Duration::from_millis(200) * (MAX_ERRORS - 1),
        "{slow:?}"
    );
    c.command("RCPT TO:<guess@m.test>", 421).await;
    assert!(c.closed().await);
    assert_eq!(stats.closed_errors.load(Ordering::Relaxed), 1);
    assert_eq!(
        stats.rcpt_refused.load(Ordering::Relaxed),
        u64::from(MAX_ERRORS)
    );
}
