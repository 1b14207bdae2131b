//! The HTTP listener under attack, against the real gateway: 300 slow connections
//! (headers and bodies trickled) from ten loopback addresses while a signed Twilio webhook
//! from 127.0.0.1 is still answered promptly; one address refused past its share; a
//! token on `/metrics` and `/healthz`.

mod common;

use common::sms::{contact, prosody, user, ALICE_NUMBER, AUTH_TOKEN, PHONE};
use common::{body, free_port, http_get, workdir, FakeTwilio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const T: Duration = Duration::from_secs(15);
const TOKEN: &str = "metrics-token-5f1d0c2a9b7e";
/// Addresses the slow clients come from, and connections from each.
const SLOW_IPS: u8 = 10;
const PER_SLOW_IP: usize = 30;
/// How long the attack goes on at most.
const ATTACK: Duration = Duration::from_secs(25);

fn config(prosody: &common::Prosody, http: u16, fake: &FakeTwilio) -> String {
    common::sms::config(prosody, http, &common::sms::twilio(&fake.api_base()), "")
        .replace(
            &format!("  public_url: \"http://127.0.0.1:{http}\"\n"),
            &format!(
                "  public_url: \"http://127.0.0.1:{http}\"\n  body_timeout: 3s\n  metrics_token: \"${{METRICS_TOKEN}}\"\n"
            ),
        )
}

async fn connect_from(ip: &str, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{ip}:0").parse().unwrap())?;
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
}

/// What the slow clients saw.
#[derive(Default)]
struct Attack {
    connections: AtomicU64,
    /// Connections the gateway closed (or answered, 408 for a slow body) before the
    /// client gave up.
    closed: AtomicU64,
}

/// One slow client: connects from `ip`, sends a request a byte every 500 ms (headers
/// never finished, or a body never finished), connects again when the gateway closes it,
/// until `stop`.
async fn slow_client(
    ip: String,
    port: u16,
    body: bool,
    attack: Arc<Attack>,
    stop: Arc<AtomicBool>,
) {
    let head: &[u8] = if body {
        b"POST /sms/twilio HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n"
    } else {
        b"POST /sms/twilio HTTP/1.1\r\nHost: x\r\n"
    };
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        // Back again a little after being closed, as a slowloris client is.
        if !first {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        first = false;
        let Ok(mut s) = connect_from(&ip, port).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        attack.connections.fetch_add(1, Ordering::Relaxed);
        if s.write_all(head).await.is_err() {
            attack.closed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mut buf = [0u8; 512];
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let byte: &[u8] = if body { b"a" } else { b"X" };
            if s.write_all(byte).await.is_err() {
                attack.closed.fetch_add(1, Ordering::Relaxed);
                break;
            }
            match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    attack.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(Ok(_)) | Err(_) => {} // an answer (read on), or nothing yet
            }
        }
    }
}

/// The metrics text, read with the token.
fn metrics(http: u16) -> String {
    let (code, text) = http_get(http, &format!("/metrics?token={TOKEN}"));
    assert_eq!(code, 200, "{text}");
    text
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn a_signed_webhook_is_answered_promptly_under_300_slow_connections() {
    let dir = workdir("hostile-http");
    let prosody = prosody(dir.path());
    let fake = FakeTwilio::start(common::sms::ACCOUNT_SID, AUTH_TOKEN);
    let http = free_port();
    let gw = {
        let yaml = config(&prosody, http, &fake);
        let gw = common::Gateway::start_with_env(
            dir.path(),
            &yaml,
            &[
                ("SMS_SECRET", common::sms::SECRET),
                ("METRICS_TOKEN", TOKEN),
            ],
        );
        gw.wait_for_log("Component link up", T);
        gw
    };
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let hook = format!("http://127.0.0.1:{http}/sms/twilio");

    // 300 slow clients, half trickling headers and half bodies, from 127.0.0.2-11.
    let attack = Arc::new(Attack::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for i in 0..(SLOW_IPS as usize * PER_SLOW_IP) {
        let ip = format!("127.0.0.{}", 2 + (i % SLOW_IPS as usize));
        rt.spawn(slow_client(
            ip,
            http,
            i % 2 == 1,
            attack.clone(),
            stop.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while attack.connections.load(Ordering::Relaxed) < (SLOW_IPS as u64) * PER_SLOW_IP as u64 {
        assert!(
            Instant::now() < deadline,
            "the slow clients could not connect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));

    // Meanwhile a provider from 127.0.0.1 is served: each webhook answered 200 promptly.
    let started = Instant::now();
    let mut latencies = Vec::new();
    for n in 0..5 {
        let t = Instant::now();
        let (code, answer) = fake.send_inbound_sid(
            &hook,
            &format!("SMslowloris{n:04}"),
            PHONE,
            ALICE_NUMBER,
            &format!("through the crowd {n}"),
        );
        latencies.push(t.elapsed());
        assert_eq!(code, 200, "{answer}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let worst = latencies.iter().max().copied().unwrap();
    println!(
        "signed webhook under {} slow clients ({} connections made so far): latencies {latencies:?}, worst {worst:?}",
        SLOW_IPS as usize * PER_SLOW_IP,
        attack.connections.load(Ordering::Relaxed)
    );
    assert!(worst < Duration::from_secs(2), "{latencies:?}");
    for n in 0..5 {
        let text = format!("through the crowd {n}");
        let got = alice.expect(T, &text, |s| s.name() == "message" && body(s) == text);
        assert_eq!(got.attr("from"), Some(contact(PHONE).as_str()));
    }
    assert!(
        started.elapsed() < ATTACK,
        "the webhooks went out within the attack's bound"
    );
    let during = metrics(http);
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(2));
    println!(
        "slow clients made {} connections (each reconnects 250 ms after a close), the gateway closed {}",
        attack.connections.load(Ordering::Relaxed),
        attack.closed.load(Ordering::Relaxed)
    );
    let m = |name| metric(&during, name);
    println!(
        "gateway: refused (full) {}, evicted {}, body timeouts {}",
        m("switchboard_http_refused_total"),
        m("switchboard_http_evicted_total"),
        m("switchboard_http_body_timeouts_total")
    );
    // The listener was full, made room for 127.0.0.1, and cut the slow bodies.
    assert!(m("switchboard_http_refused_total") >= 1, "full: {during}");
    assert!(m("switchboard_http_evicted_total") >= 1, "{during}");
    assert!(
        metric(&during, "switchboard_http_body_timeouts_total") >= 1,
        "{during}"
    );
    drop(gw);
}

#[test]
fn one_address_past_its_share_is_refused_and_metrics_want_the_token() {
    let dir = workdir("hostile-http-ip");
    let prosody = prosody(dir.path());
    let fake = FakeTwilio::start(common::sms::ACCOUNT_SID, AUTH_TOKEN);
    let http = free_port();
    let yaml = config(&prosody, http, &fake);
    let gw = common::Gateway::start_with_env(
        dir.path(),
        &yaml,
        &[
            ("SMS_SECRET", common::sms::SECRET),
            ("METRICS_TOKEN", TOKEN),
        ],
    );
    gw.wait_for_log("Component link up", T);

    // (d) The token: 401 without it or with a wrong one, 200 with it (header or query).
    for path in [
        "/metrics",
        "/healthz",
        "/metrics?token=wrong",
        "/healthz?token=",
    ] {
        let (code, text) = http_get(http, path);
        assert_eq!(code, 401, "{path}: {text}");
    }
    let (code, _) = http_get(http, &format!("/healthz?token={TOKEN}"));
    assert_eq!(code, 200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bearer = |token: &'static str| {
        rt.block_on(async move {
            let mut s = connect_from("127.0.0.1", http).await.unwrap();
            let req = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut got = String::new();
            s.read_to_string(&mut got).await.unwrap();
            got
        })
    };
    assert!(bearer(TOKEN).starts_with("HTTP/1.1 200"));
    assert!(bearer("metrics-token-5f1d0c2a9b7f").starts_with("HTTP/1.1 401"));

    // One address holds 32 connections; the 33rd is closed at once, the 32 stay open.
    let (held, refused_in) = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..32 {
            held.push(connect_from("127.0.0.77", http).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let mut extra = connect_from("127.0.0.77", http).await.unwrap();
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the 33rd is closed: {read:?}"
        );
        (held, started.elapsed())
    });
    assert!(
        refused_in < Duration::from_millis(500),
        "at once: {refused_in:?}"
    );
    rt.block_on(async {
        let mut first = connect_from("127.0.0.78", http).await.unwrap();
        first
            .write_all(b"GET /healthz?token=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut got = String::new();
        first.read_to_string(&mut got).await.unwrap();
        assert!(
            got.starts_with("HTTP/1.1 401"),
            "another address is served: {got}"
        );
    });
    // The 32 are still open: none was closed by the refusal.
    rt.block_on(async {
        for mut s in held {
            let mut buf = [0u8; 8];
            let r = tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await;
            assert!(r.is_err(), "still open, nothing said: {r:?}");
        }
    });
    let text = metrics(http);
    assert_eq!(
        metric(&text, "switchboard_http_refused_per_ip_total"),
        1,
        "{text}"
    );
    assert_eq!(
        metric(&text, "switchboard_http_unauthorized_total"),
        6,
        "{text}"
    );
    assert!(!gw.log().contains(TOKEN), "the token is never logged");
}
