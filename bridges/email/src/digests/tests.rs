//! The digest machinery against an in-memory store, a watcher that records what it was
//! asked, a clock stepped by hand, and a real SMTP relay in-process (our own listener code
//! with a capturing handler), so that mails really go through lettre.

use super::*;
use crate::config::EmailConfig;
use crate::relay::Relay;
use crate::smtp::{self, DeliverError, Envelope, RcptVerdict, SmtpHandler, SmtpServerConfig};
use async_trait::async_trait;
use std::sync::OnceLock;
use std::time::SystemTime;
use switchboard_bridge::{
    BridgeStore, CancellationToken, CommandReply, FormValues, Inbox, MemoryStore, MissedMessage,
    Network, Observation, RoomMessage, Watcher, OWNER_KEY,
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

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Watcher for Recorder {
    fn follow_room(&self, room: &str, nick: &str, since: Option<SystemTime>) {
        let since = if since.is_some() { "since" } else { "fresh" };
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
            store: self.store.clone(),
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
    })
}

fn code_in(mail: &str) -> String {
    let line = mail
        .lines()
        .find(|l| l.starts_with("Verification code: "))
        .unwrap_or_else(|| panic!("no code in {mail}"));
    line["Verification code: ".len()..].trim().to_string()
}

#[tokio::test]
async fn a_new_address_is_verified_by_the_mailed_code_before_anything_is_collected() {
    let rig = Rig::new().await;
    let reply = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "alice@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap();
    assert!(
        reply
            .note
            .contains("verification code was mailed to alice@example.net"),
        "{}",
        reply.note
    );
    let id = reply.fields[0].value.clone();
    let mails = rig.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, vec!["alice@example.net".to_string()]);
    let code = code_in(&mails[0].1);
    // Not followed before it is confirmed.
    assert!(rig.asked().is_empty(), "{:?}", rig.asked());
    let list = rig.run("digest-list", ALICE, &[]).await.unwrap();
    assert!(
        list.note.contains(&format!(
            "{id}: {ROOM} to alice@example.net, every 1h (waiting for digest-verify)"
        )),
        "{}",
        list.note
    );

    let wrong = rig
        .run("digest-verify", ALICE, &[("code", "000000x")])
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, BridgeError::Invalid(t) if t.contains("4 tries left")),
        "{wrong:?}"
    );
    // Someone else cannot use alice's code.
    let other = rig
        .run("digest-verify", "eve@localhost", &[("code", &code)])
        .await
        .unwrap_err();
    assert!(matches!(other, BridgeError::NotFound(_)), "{other:?}");
    let ok = rig
        .run("digest-verify", ALICE, &[("code", &code)])
        .await
        .unwrap();
    assert!(ok.note.starts_with("Confirmed."), "{}", ok.note);
    assert_eq!(rig.asked(), vec![format!("follow {ROOM} as digest fresh")]);

    // The address is now known (in any case): a second digest to it needs no code.
    let third = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", "missed"),
                ("address", "Alice@Example.NET"),
                ("daily_at", "07:30"),
                ("timezone", "Europe/Berlin"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(rig.mails().len(), 1);
    assert!(third.note.starts_with("Subscribed."), "{}", third.note);
    assert!(
        third.note.contains("daily at 07:30 (Europe/Berlin)"),
        "{}",
        third.note
    );
    assert_eq!(rig.asked().last().unwrap(), &format!("watch {ALICE}"));
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_reasons() {
    let rig = Rig::new().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("source", "lounge"),
                ("address", "a@example.net"),
                ("every", "1h"),
            ],
            "give a room JID",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "not-an-address"),
                ("every", "1h"),
            ],
            "address:",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "a@example.net"),
                ("every", "10s"),
            ],
            "at most every 1m",
        ),
        (
            &[("source", ROOM), ("address", "a@example.net")],
            "give either",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "a@example.net"),
                ("daily_at", "7h"),
            ],
            "not a time",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "a@example.net"),
                ("daily_at", "07:00"),
                ("timezone", "Mars/Olympus"),
            ],
            "not a time zone",
        ),
    ];
    for (fields, expected) in cases {
        let e = rig
            .run("digest-subscribe", ALICE, fields)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(expected), "{fields:?}: {e}");
    }
    assert!(rig.mails().is_empty());
    // A relay that refuses the address: no subscription is left behind.
    let e = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "refused@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BridgeError::Rejected(t) if t.contains("no such mailbox")),
        "{e:?}"
    );
    let e = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "later@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        e.is_transient() && e.to_string().contains("cannot mail the code now"),
        "{e:?}"
    );
    assert_eq!(
        rig.run("digest-list", ALICE, &[]).await.unwrap().note,
        "You have no digests."
    );
    // Pending subscriptions are capped, and five wrong codes drop them.
    for n in 0..3 {
        rig.run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", &format!("p{n}@example.net")),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap();
    }
    let e = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "p4@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BridgeError::LimitReached(_)), "{e:?}");
    for _ in 0..4 {
        rig.run("digest-verify", ALICE, &[("code", "x")])
            .await
            .unwrap_err();
    }
    let e = rig
        .run("digest-verify", ALICE, &[("code", "x")])
        .await
        .unwrap_err();
    assert!(matches!(e, BridgeError::NotAllowed(_)), "{e:?}");
    assert_eq!(
        rig.run("digest-list", ALICE, &[]).await.unwrap().note,
        "You have no digests."
    );
    // Only the owner ends a digest.
    let id = rig
        .subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let e = rig
        .run("digest-unsubscribe", "eve@localhost", &[("id", &id)])
        .await
        .unwrap_err();
    assert!(matches!(e, BridgeError::NotFound(_)), "{e:?}");
    rig.run("digest-unsubscribe", ALICE, &[("id", &id)])
        .await
        .unwrap();
    assert_eq!(rig.asked().last().unwrap(), &format!("unfollow {ROOM}"));
}

#[tokio::test]
async fn one_digest_per_period_with_every_message_once_and_nothing_for_an_empty_period() {
    let rig = Rig::new().await;
    rig.subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    for n in 0..20 {
        rig.say(
            if n % 2 == 0 { "bob" } else { "carol" },
            &format!("message <{n}>"),
            &format!("m{n}"),
        )
        .await;
        rig.advance(1);
    }
    // A replay of a message from the room's history is kept once.
    rig.say("bob", "message <0>", "m0").await;
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes, "nothing before the hour");
    rig.advance(3600);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    let mail = &mails.last().unwrap().1;
    assert!(
        mail.contains("20 new messages in lounge@conference.localhost"),
        "{mail}"
    );
    assert!(
        mail.contains("List-Unsubscribe: <mailto:unsubscribe+"),
        "{mail}"
    );
    assert!(
        mail.contains("https://gw.test/email/unsubscribe/"),
        "{mail}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains("message &lt;0&gt;") && !html.contains("<0>"),
        "escaped: {html}"
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("20 messages from 2 people"), "{text}");
    assert!(
        text.contains("and 15 more"),
        "max_items 5 per source: {text}"
    );
    // Sent: the items are gone, and the next period has nothing to say.
    assert_eq!(rig.store.count("digest:item:"), 0);
    rig.advance(3600);
    rig.digests.send_due().await.unwrap();
    assert_eq!(
        rig.mails().len(),
        codes + 1,
        "an empty period sends nothing"
    );
    rig.say("bob", "later", "m99").await;
    rig.advance(3600);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes + 2);
    assert!(
        rig.mails().last().unwrap().1.contains("1 new message in"),
        "{}",
        rig.mails().last().unwrap().1
    );
}

#[tokio::test]
async fn a_restart_mid_period_loses_nothing_and_rejoins_since_the_newest_message() {
    let mut rig = Rig::new().await;
    rig.subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    for n in 0..10 {
        rig.say("bob", &format!("before {n}"), &format!("b{n}"))
            .await;
    }
    rig.restart().await;
    assert_eq!(
        rig.asked().last().unwrap(),
        &format!("follow {ROOM} as digest since")
    );
    // The room replays what was said while the gateway was away, with stamps to the
    // second: older than the subscription, by the clock, yet never sent.
    rig.digests
        .observe(Observation::Room(RoomMessage {
            room: ROOM.into(),
            sender: "bob".into(),
            body: "said while away".into(),
            at: (rig.clock.now() - chrono::Duration::seconds(1)).into(),
            dedupe: "w0".into(),
        }))
        .await
        .unwrap();
    // …and replays the last ones the gateway had: kept once.
    rig.say("bob", "before 9", "b9").await;
    for n in 0..9 {
        rig.say("bob", &format!("after {n}"), &format!("a{n}"))
            .await;
    }
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    assert!(
        mails.last().unwrap().1.contains("20 new messages in"),
        "{}",
        mails.last().unwrap().1
    );
}

#[tokio::test]
async fn a_digest_interrupted_after_it_was_recorded_goes_out_again_the_same() {
    let mut rig = Rig::new().await;
    let id = rig
        .subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    rig.say("bob", "one", "x1").await;
    let good_relay = rig.relay_addr.clone();
    rig.relay_addr = "127.0.0.1:1".into();
    rig.restart().await;
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let list = rig.run("digest-list", ALICE, &[]).await.unwrap().note;
    assert!(
        list.contains("last problem: ") && list.contains("the mail relay is unavailable"),
        "{list}"
    );
    let stored: Subscription = serde_json::from_str(
        &rig.store
            .get(&subscription::sub_key(&SubscriptionId::parse(&id).unwrap()))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let in_flight = stored
        .in_flight
        .clone()
        .expect("recorded before the relay was called");
    // More is said meanwhile; the retry sends what was recorded, then the rest next time.
    rig.say("bob", "two", "x2").await;
    rig.relay_addr = good_relay;
    rig.restart().await;
    rig.advance(61);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    let mail = &mails.last().unwrap().1;
    assert!(
        mail.contains(&format!("Message-ID: <{}>", in_flight.message_id)),
        "{mail}"
    );
    assert!(mail.contains("1 new message in"), "{mail}");
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes + 2);
    assert!(rig.mails().last().unwrap().1.contains("two"));
}

#[tokio::test]
async fn missed_messages_wait_and_are_dropped_when_the_user_comes_back() {
    let rig = Rig::new().await;
    rig.subscribe_verified(ALICE, "missed", "alice@example.net", "1m")
        .await;
    let codes = rig.mails().len();
    let missed = |body: &str, at: DateTime<Utc>| {
        Observation::Missed(MissedMessage {
            owner: ALICE.into(),
            from: "bob%example.net@mail.localhost".into(),
            sender: "Bob".into(),
            body: body.into(),
            at: at.into(),
        })
    };
    rig.digests
        .observe(missed("while away", rig.clock.now()))
        .await
        .unwrap();
    rig.advance(61);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes, "not yet missed_after old");
    rig.digests
        .observe(Observation::Online {
            owner: ALICE.into(),
        })
        .await
        .unwrap();
    rig.advance(700);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes, "seen when alice came back");
    rig.digests
        .observe(missed("really missed", rig.clock.now()))
        .await
        .unwrap();
    // Someone else's missed messages are not alice's.
    rig.digests
        .observe(Observation::Missed(MissedMessage {
            owner: "bob@localhost".into(),
            from: "x%y.z@mail.localhost".into(),
            sender: String::new(),
            body: "not for alice".into(),
            at: rig.clock.now().into(),
        }))
        .await
        .unwrap();
    rig.advance(601);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    let mail = &mails.last().unwrap().1;
    assert!(
        mail.contains("really missed") && mail.contains("Bob (bob%example.net@mail.localhost)"),
        "{mail}"
    );
    assert!(!mail.contains("not for alice"));
}

#[tokio::test]
async fn unsubscribe_tokens_end_a_digest_once_and_stop_following() {
    let rig = Rig::new().await;
    let id = rig
        .subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    rig.subscribe_verified("bob@localhost", ROOM, "bob@example.net", "1h")
        .await;
    let sub = rig
        .digests
        .index()
        .subs
        .get(&SubscriptionId::parse(&id).unwrap())
        .cloned()
        .unwrap();
    assert!(!rig.digests.unsubscribe_token("not-hex").await.unwrap());
    assert!(!rig
        .digests
        .unsubscribe_token(&"0".repeat(32))
        .await
        .unwrap());
    assert!(rig.digests.unsubscribe_token(&sub.token).await.unwrap());
    assert!(
        !rig.digests.unsubscribe_token(&sub.token).await.unwrap(),
        "once"
    );
    // bob still follows the room.
    assert!(
        !rig.asked().iter().any(|a| a.starts_with("unfollow")),
        "{:?}",
        rig.asked()
    );
    rig.say("bob", "hi", "h1").await;
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let last = rig.mails().last().unwrap().clone();
    assert_eq!(last.0, vec!["bob@example.net".to_string()]);
}
