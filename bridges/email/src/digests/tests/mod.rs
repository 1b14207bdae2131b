//! The digest machinery against an in-memory store, a watcher that records what it was
//! asked, a clock stepped by hand, and a real SMTP relay in-process (our own listener code
//! with a capturing handler), so that mails really go through lettre.

mod code_mails;
mod commands;
mod sending;

use super::*;
use crate::config::EmailConfig;
use crate::relay::Relay;
use crate::smtp::{self, DeliverError, Envelope, RcptVerdict, SmtpHandler, SmtpServerConfig};
use async_trait::async_trait;
use std::sync::OnceLock;
use std::time::SystemTime;
use switchboard_bridge::{
    BridgeStore, CancellationToken, CommandReply, FormValues, Inbox, MemoryStore, MissedMessage,
    Network, Observation, ReadAccess, RoomMessage, Watcher, OWNER_KEY,
};

const ROOM: &str = "lounge@conference.localhost";
const ALICE: &str = "alice@localhost";

#[derive(Default)]
struct Capture {
    mails: Mutex<Vec<(Vec<String>, String)>>,
}

#[async_trait]
impl SmtpHandler for Capture {
    async fn check_recipient(&self, rcpt: &str) -> RcptVerdict {
        if rcpt.starts_with("refused@") {
            RcptVerdict::Reject("5.1.1 no such mailbox".into())
        } else if rcpt.starts_with("later@") {
            RcptVerdict::TempFail("4.2.1 try later".into())
        } else {
            RcptVerdict::Accept
        }
    }
    async fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> Result<String, DeliverError> {
        let text = String::from_utf8_lossy(&message).into_owned();
        self.mails.lock().unwrap().push((envelope.rcpt_to, text));
        Ok("id".into())
    }
}

/// Records what the digests asked the core to watch; refuses reading the rooms in the
/// second list (the core would: the owner is not in them).
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>, Mutex<Vec<String>>);

impl Watcher for Recorder {
    fn follow_room(&self, room: &str, nick: &str, since: Option<SystemTime>) {
        let since = match since {
            Some(t) => format!("since {}", DateTime::<Utc>::from(t).to_rfc3339()),
            None => "fresh".into(),
        };
        self.0
            .lock()
            .unwrap()
            .push(format!("follow {room} as {nick} {since}"));
    }
    fn unfollow_room(&self, room: &str) {
        self.0.lock().unwrap().push(format!("unfollow {room}"));
    }
    fn watch_missed(&self, owner: &str) {
        self.0.lock().unwrap().push(format!("watch {owner}"));
    }
    fn unwatch_missed(&self, owner: &str) {
        self.0.lock().unwrap().push(format!("unwatch {owner}"));
    }
    fn may_read(&self, owner: &str, room: &str) -> ReadAccess {
        if self.1.lock().unwrap().iter().any(|r| r == room) {
            ReadAccess::Refused {
                why: format!("{owner} is not in {room}"),
            }
        } else {
            ReadAccess::Granted
        }
    }
}

/// The in-memory store, with writes that fail on demand (a database briefly locked).
struct Flaky {
    inner: Arc<MemoryStore>,
    failing_puts: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl BridgeStore for Flaky {
    async fn get(&self, key: &str) -> Result<Option<String>, switchboard_bridge::StoreFailed> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), switchboard_bridge::StoreFailed> {
        use std::sync::atomic::Ordering::SeqCst;
        let left = self.failing_puts.load(SeqCst);
        if left > 0 {
            self.failing_puts.store(left - 1, SeqCst);
            return Err(switchboard_bridge::StoreFailed("database is locked".into()));
        }
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, switchboard_bridge::StoreFailed> {
        self.inner.delete(key).await
    }
    async fn scan(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, switchboard_bridge::StoreFailed> {
        self.inner.scan(prefix).await
    }
}

struct Stepped(Mutex<DateTime<Utc>>);

impl Clock for Stepped {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct Rig {
    digests: Arc<Digests>,
    store: Arc<MemoryStore>,
    /// Writes that fail before the store works again.
    failing_puts: Arc<std::sync::atomic::AtomicUsize>,
    watcher: Arc<Recorder>,
    clock: Arc<Stepped>,
    capture: Arc<Capture>,
    relay_addr: String,
    shutdown: CancellationToken,
}

impl Rig {
    async fn new() -> Rig {
        let capture = Arc::new(Capture::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_addr = listener.local_addr().unwrap().to_string();
        let shutdown = CancellationToken::new();
        tokio::spawn(smtp::serve(
            listener,
            SmtpServerConfig::new("relay.test"),
            capture.clone(),
            shutdown.clone(),
        ));
        let store = Arc::new(MemoryStore::default());
        let start = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut rig = Rig {
            digests: Digests::new(shared_for("127.0.0.1:1"), Arc::new(SystemClock)),
            store,
            failing_puts: Arc::default(),
            watcher: Arc::new(Recorder::default()),
            clock: Arc::new(Stepped(Mutex::new(start))),
            capture,
            relay_addr,
            shutdown,
        };
        rig.restart().await;
        rig
    }

    /// A new `Digests` over the same store (a gateway restart).
    async fn restart(&mut self) {
        let shared = shared_for(&self.relay_addr);
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        let _ = shared.network.set(Network {
            inbox: Inbox::new(tx),
            store: Arc::new(Flaky {
                inner: self.store.clone(),
                failing_puts: self.failing_puts.clone(),
            }),
            shutdown: self.shutdown.child_token(),
            public_url: Some("https://gw.test".into()),
            watcher: self.watcher.clone(),
        });
        self.digests = Digests::new(shared, self.clock.clone());
        // The tests run the scheduler's rounds themselves (`send_due`).
        self.digests.load().await.unwrap();
    }

    fn advance(&self, secs: i64) {
        *self.clock.0.lock().unwrap() += chrono::Duration::seconds(secs);
    }

    fn mails(&self) -> Vec<(Vec<String>, String)> {
        self.capture.mails.lock().unwrap().clone()
    }

    fn asked(&self) -> Vec<String> {
        self.watcher.0.lock().unwrap().clone()
    }

    async fn run(
        &self,
        node: &str,
        owner: &str,
        fields: &[(&str, &str)],
    ) -> Result<CommandReply, BridgeError> {
        let mut values = FormValues::new();
        for (k, v) in fields {
            values.insert(k.to_string(), v.to_string());
        }
        values.insert(OWNER_KEY.into(), owner.into());
        self.digests.command(node, &values).await
    }

    /// Subscribes and confirms with the code from the mail; returns the id.
    async fn subscribe_verified(
        &self,
        owner: &str,
        source: &str,
        address: &str,
        every: &str,
    ) -> String {
        let before = self.mails().len();
        let reply = self
            .run(
                "digest-subscribe",
                owner,
                &[("source", source), ("address", address), ("every", every)],
            )
            .await
            .unwrap();
        let id = reply.fields[0].value.clone();
        let mails = self.mails();
        if mails.len() > before {
            let code = code_in(&mails.last().unwrap().1);
            self.run("digest-verify", owner, &[("code", &code)])
                .await
                .unwrap();
        }
        id
    }

    async fn say(&self, sender: &str, body: &str, dedupe: &str) {
        self.digests
            .observe(Observation::Room(RoomMessage {
                room: ROOM.into(),
                sender: sender.into(),
                body: body.into(),
                at: self.clock.now().into(),
                dedupe: dedupe.into(),
            }))
            .await
            .unwrap();
    }
}

fn shared_for(relay: &str) -> Arc<crate::shared::Shared> {
    let config: EmailConfig = serde_yaml_ng::from_str(&format!(
        "address_domain: mail.test\nlisten: 127.0.0.1:0\nsmtp: {{relay: \"{relay}\", security: none, timeout: 5s}}\ndigest: {{min_interval: 1m, missed_after: 10m, max_items: 5}}\n"
    ))
    .unwrap();
    Arc::new(crate::shared::Shared {
        relay: Relay::new(&config.smtp),
        config,
        network: OnceLock::new(),
        inbound: Default::default(),
    })
}

fn code_in(mail: &str) -> String {
    let line = mail
        .lines()
        .find(|l| l.starts_with("Verification code: "))
        .unwrap_or_else(|| panic!("no code in {mail}"));
    line["Verification code: ".len()..].trim().to_string()
}
