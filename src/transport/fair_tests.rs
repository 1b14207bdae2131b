//! Bridge events through a running transport: one login flooding its sink does not hold
//! back another's events, and what a login says comes out in order, all of it. Also a
//! small bench of events per second through the transport (`--nocapture` prints it).

use super::{Transport, TransportParts};
use crate::access::Access;
use crate::link::{self, Queued};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::watch::Hub;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_bridge::{
    BridgeError, Capabilities, Chat, Connector, EventSink, IncomingMessage, LoginData, LoginId,
    MessageContent, NetworkInfo, OutgoingMessage, RegistrationForm, RemoteEvent, Sender, Sent,
    Session, UserId,
};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Bound on every wait of these tests.
const T: Duration = Duration::from_secs(60);
const DOMAIN: &str = "flood.example.org";

/// Sessions that hand their sink to the test and, when closed, say `farewell` numbered
/// goodbyes from "leaving".
struct Flood {
    info: NetworkInfo,
    sinks: Mutex<Vec<EventSink>>,
    opened: Notify,
    farewell: usize,
}

struct Quiet {
    sink: EventSink,
    farewell: usize,
}

#[async_trait]
impl Session for Quiet {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        shutdown.cancelled().await;
        for n in 0..self.farewell {
            if self.sink.emit(said("leaving", n)).await.is_err() {
                return;
            }
        }
    }

    async fn send_message(&self, _msg: OutgoingMessage) -> Result<Sent, BridgeError> {
        Err(BridgeError::Unsupported("sending"))
    }
}

#[async_trait]
impl Connector for Flood {
    fn info(&self) -> &NetworkInfo {
        &self.info
    }

    fn registration_form(&self) -> RegistrationForm {
        RegistrationForm {
            instructions: String::new(),
            fields: vec![],
        }
    }

    async fn register(
        &self,
        _form: &switchboard_bridge::FormValues,
    ) -> Result<LoginData, BridgeError> {
        Err(BridgeError::Unsupported("registration"))
    }

    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError> {
        Ok(Chat::Direct(UserId::new(local)))
    }

    fn format_address(&self, chat: &Chat) -> String {
        match chat {
            Chat::Group(g) => g.as_str().to_string(),
            Chat::Direct(u) => u.as_str().to_string(),
        }
    }

    async fn open_session(
        &self,
        _login: LoginId,
        _data: LoginData,
        events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError> {
        self.sinks.lock().unwrap().push(events.clone());
        self.opened.notify_one();
        Ok(Arc::new(Quiet {
            sink: events,
            farewell: self.farewell,
        }))
    }
}

/// A running transport with one registered session per user.
struct Running {
    /// The sinks, in the order of the users given.
    sinks: Vec<EventSink>,
    transport: Arc<Transport>,
    out: mpsc::Receiver<Queued>,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<()>,
}

async fn start(users: &[&str]) -> Running {
    start_saying(users, 0).await
}

async fn start_saying(users: &[&str], farewell: usize) -> Running {
    let (link, out, _state) = link::test_link(64);
    let store = SqliteStore::open(None).unwrap();
    let mut logins = Vec::new();
    for user in users {
        let reg = store
            .put_registration(DOMAIN, &format!("{user}@example.org"), &LoginData::new())
            .await
            .unwrap();
        logins.push(reg.login);
    }
    let connector = Arc::new(Flood {
        info: NetworkInfo {
            id: "flood",
            display_name: "Flood",
            gateway_type: "irc",
            registration_required: true,
            prompt: "Nick",
            caps: Capabilities::default(),
            send_window: 1,
        },
        sinks: Mutex::default(),
        opened: Notify::new(),
        farewell,
    });
    let (transport, inputs) = Transport::new(TransportParts {
        domain: DOMAIN.into(),
        connector: connector.clone(),
        store: Arc::new(store),
        link,
        access: Access::new(&["example.org".into()], &[]),
        user_queue: 10,
        sealer: crate::store::seal::Sealer::new("test secret", DOMAIN),
        hub: Arc::new(Hub::default()),
        archive: None,
    });
    let (_inbound_tx, inbound) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let stopped = tokio::spawn(transport.clone().run(
        inbound,
        inputs,
        shutdown.clone(),
        Duration::from_secs(5),
    ));
    tokio::time::timeout(T, async {
        while connector.sinks.lock().unwrap().len() < users.len() {
            connector.opened.notified().await;
        }
    })
    .await
    .expect("sessions open in time");
    let sinks = connector.sinks.lock().unwrap().clone();
    let sinks = logins
        .iter()
        .map(|l| {
            sinks
                .iter()
                .find(|s| s.login() == l)
                .expect("a sink per login")
                .clone()
        })
        .collect();
    Running {
        sinks,
        transport,
        out,
        shutdown,
        stopped,
    }
}

fn said(peer: &str, n: usize) -> RemoteEvent {
    RemoteEvent::Message(IncomingMessage {
        id: None,
        chat: Chat::Direct(UserId::new(peer)),
        sender: Sender {
            user: UserId::new(peer),
            display_name: None,
            is_self: false,
        },
        content: MessageContent::text(n.to_string()),
        txn: None,
        timestamp: None,
    })
}

/// Emits `count` numbered messages from `peer` through `sink`, in order.
fn flood(sink: EventSink, peer: &'static str, count: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for n in 0..count {
            sink.emit(said(peer, n))
                .await
                .expect("the transport takes events");
        }
    })
}

impl Running {
    /// The next message stanza for a user: (user, body).
    async fn next_message(&mut self) -> (String, String) {
        loop {
            let q = tokio::time::timeout(T, self.out.recv())
                .await
                .expect("a stanza in time")
                .expect("the link is open");
            let element = q.element();
            if element.name() != "message" {
                continue; // the transport's presences at start
            }
            let to = element.attr("to").unwrap_or_default();
            let user = to.split('@').next().unwrap_or_default().to_string();
            let body = element
                .children()
                .find(|c| c.name() == "body")
                .map(|b| b.text())
                .unwrap_or_default();
            return (user, body);
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        drop(self.out);
        let _ = tokio::time::timeout(T, self.stopped).await;
    }
}

#[tokio::test]
async fn a_flooding_login_does_not_hold_back_another() {
    const FLOOD: usize = 10_000;
    const FEW: usize = 10;
    let mut t = start(&["a", "b"]).await;
    let a = flood(t.sinks[0].clone(), "hostile", FLOOD);
    // Well into the flood (A's queue full, A waiting), B speaks.
    let mut next_a = 0;
    while next_a < 1_000 {
        let (user, body) = t.next_message().await;
        assert_eq!((user.as_str(), body), ("a", next_a.to_string()));
        next_a += 1;
    }
    let b = flood(t.sinks[1].clone(), "friend", FEW);
    let mut next_b = 0;
    let (mut since_b, mut last_b) = (0, 0);
    while next_a < FLOOD || next_b < FEW {
        let (user, body) = t.next_message().await;
        since_b += 1;
        match user.as_str() {
            "a" => {
                assert_eq!(body, next_a.to_string(), "A's events in order");
                next_a += 1;
            }
            "b" => {
                assert_eq!(body, next_b.to_string(), "B's events in order");
                next_b += 1;
                last_b = since_b;
                // What was already on its way to the link (its queue, 64 + 16), and
                // then one of A's per one of B's, plus slack for B's task starting.
                assert!(
                    since_b <= 80 + 2 * FEW + 40,
                    "B's event {next_b} came out {since_b} stanzas after B began"
                );
            }
            other => panic!("a message for {other}"),
        }
    }
    eprintln!("B's last event came out {last_b} stanzas after B began");
    a.await.unwrap();
    b.await.unwrap();
    let full = t
        .transport
        .counters()
        .into_iter()
        .find(|c| c.name == "switchboard_transport_event_queue_full_total")
        .map(|c| c.value);
    assert!(
        full.is_some_and(|n| n > 0),
        "A waited on its queue: {full:?}"
    );
    t.stop().await;
}

/// Events per second from `logins` sessions emitting `each` events at once, through the
/// transport into the link.
async fn rate(logins: usize, each: usize) -> f64 {
    let names: Vec<String> = (0..logins).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut t = start(&names).await;
    let began = Instant::now();
    let floods: Vec<_> = t
        .sinks
        .iter()
        .map(|s| flood(s.clone(), "peer", each))
        .collect();
    for _ in 0..logins * each {
        t.next_message().await;
    }
    let rate = (logins * each) as f64 / began.elapsed().as_secs_f64();
    for f in floods {
        f.await.unwrap();
    }
    t.stop().await;
    rate
}

#[tokio::test]
async fn bench_events_per_second() {
    for (logins, each) in [(1, 20_000), (4, 5_000), (100, 200)] {
        let r = rate(logins, each).await;
        println!("events/s through the transport, {logins} login(s) x {each}: {r:.0}");
        assert!(r > 0.0);
    }
}

#[tokio::test]
async fn what_sessions_say_while_closing_still_comes_out() {
    // More than a queue holds: the sessions wait on their queues while the transport,
    // shutting down, keeps taking their events.
    const BYE: usize = 3 * super::EVENT_QUEUE;
    let mut t = start_saying(&["a", "b"], BYE).await;
    t.shutdown.cancel();
    let (mut next_a, mut next_b) = (0, 0);
    while next_a < BYE || next_b < BYE {
        let (user, body) = t.next_message().await;
        let next = match user.as_str() {
            "a" => &mut next_a,
            "b" => &mut next_b,
            other => panic!("a message for {other}"),
        };
        assert_eq!(body, next.to_string(), "{user}'s goodbyes in order");
        *next += 1;
    }
    tokio::time::timeout(T, t.stopped)
        .await
        .expect("the transport stops")
        .unwrap();
}
