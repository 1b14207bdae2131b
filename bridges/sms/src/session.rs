//! One user's SMS sending: checks before the core stores a message, then the provider
//! call, recorded so that a retry after a crash does not send twice.

use crate::encoding;
use crate::number::{self, E164};
use crate::provider::OutboundSms;
use crate::shared::{out_key, OutRecord, Shared, OUT_TTL};
use async_trait::async_trait;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;
use switchboard_bridge::{
    BridgeError, CancellationToken, Chat, EventSink, LoginId, MessageId, OutgoingMessage,
    RemoteEvent, Sent, Session, SessionState, TextKind,
};

/// The session of one XMPP user.
pub struct SmsSession {
    login: LoginId,
    owner: String,
    shared: Arc<Shared>,
    events: EventSink,
}

impl SmsSession {
    /// A session for `owner` (a bare JID).
    pub fn new(login: LoginId, owner: String, shared: Arc<Shared>, events: EventSink) -> Self {
        Self {
            login,
            owner,
            shared,
            events,
        }
    }

    fn own_number(&self) -> Result<E164, BridgeError> {
        self.shared.numbers.number_of(&self.owner).ok_or_else(|| {
            BridgeError::NotAllowed(
                "no phone number is assigned to you on this gateway, so you cannot send SMS; \
                 ask its operator to assign one"
                    .into(),
            )
        })
    }

    fn phone_number(&self, chat: &Chat) -> Result<E164, BridgeError> {
        match chat {
            // Contact ids come from `parse_address`: already E.164.
            Chat::Direct(user) => match E164::from_canonical(user.as_str()) {
                Some(n) => Ok(n),
                None => number::normalize(user.as_str(), None)
                    .map_err(|e| BridgeError::InvalidAddress(e.to_string())),
            },
            Chat::Group(_) => Err(BridgeError::Unsupported("group texts")),
        }
    }
}

/// The text of a message as an SMS carries it.
pub fn sms_text(msg: &OutgoingMessage) -> String {
    let c = &msg.content;
    let text = match c.kind {
        TextKind::Action => format!("/me {}", c.text),
        TextKind::Normal | TextKind::Notice => c.text.clone(),
    };
    match &c.subject {
        Some(subject) if !subject.trim().is_empty() => format!("{}\n{text}", subject.trim()),
        _ => text,
    }
}

#[async_trait]
impl Session for SmsSession {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        // Nothing to connect: the provider is reached per message.
        let _ = self
            .events
            .emit(RemoteEvent::State(SessionState::Connected))
            .await;
        shutdown.cancelled().await;
    }

    fn admit(&self, msg: &OutgoingMessage) -> Result<(), BridgeError> {
        self.own_number()?;
        self.phone_number(&msg.chat)?;
        let text = sms_text(msg);
        if !msg.content.attachments.is_empty() && !self.shared.provider.supports_media() {
            return Err(BridgeError::Invalid(format!(
                "{} sends text only, so attachments cannot go by SMS; send a link as text instead",
                self.shared.provider.name()
            )));
        }
        if text.trim().is_empty() && msg.content.attachments.is_empty() {
            return Err(BridgeError::Invalid("an empty SMS cannot be sent".into()));
        }
        let seg = encoding::segments(&text);
        let max = self.shared.config.max_segments;
        if seg.count > max {
            let coding = match seg.coding {
                encoding::Coding::Gsm7 => "GSM-7",
                encoding::Coding::Ucs2 => "UCS-2",
            };
            return Err(BridgeError::Invalid(format!(
                "the message needs {} SMS segments ({} {coding} units); at most {max} are allowed",
                seg.count, seg.units
            )));
        }
        self.shared.limits.take(&self.owner, SystemTime::now())
    }

    async fn send_message(&self, msg: OutgoingMessage) -> Result<Sent, BridgeError> {
        let from = self.own_number()?;
        let to = self.phone_number(&msg.chat)?;
        let network = self.shared.network()?;
        let key = out_key(msg.txn.as_str());
        // Sent before a crash, once the provider took it: do not send it again.
        if let Some(json) = network.store.get(&key).await? {
            if let Ok(OutRecord { id: Some(id), .. }) = serde_json::from_str(&json) {
                tracing::info!(login = %self.login, "Message already taken by the provider; not sent again");
                return Ok(Sent {
                    id: Some(MessageId::new(id)),
                    timestamp: None,
                });
            }
        }
        let mut record = OutRecord {
            login: self.login.to_string(),
            to: to.to_string(),
            id: None,
        };
        let json = serde_json::to_string(&record).unwrap_or_default();
        network.store.put(&key, &json, Some(OUT_TTL)).await?;
        let sms = OutboundSms {
            from,
            to,
            text: sms_text(&msg),
            media: msg
                .content
                .attachments
                .iter()
                .map(|a| a.url.clone())
                .collect(),
            reference: msg.txn.to_string(),
            public_url: network.public_url.clone(),
        };
        let provider = self.shared.provider.name();
        match self.shared.provider.send(&sms).await {
            Ok(accepted) => {
                self.shared.counters.sent.fetch_add(1, Ordering::Relaxed);
                self.shared.set_health(true, format!("{provider}: ok"));
                record.id = Some(accepted.id.clone().unwrap_or_else(|| msg.txn.to_string()));
                let json = serde_json::to_string(&record).unwrap_or_default();
                if let Err(e) = network.store.put(&key, &json, Some(OUT_TTL)).await {
                    tracing::warn!(error = %e, "Cannot note that the provider took a message");
                }
                Ok(Sent {
                    id: accepted.id.map(MessageId::new),
                    timestamp: None,
                })
            }
            Err(e) => {
                if e.is_transient() {
                    self.shared.set_health(false, e.to_string());
                } else {
                    // Final: no report will come for it.
                    let _ = network.store.delete(&key).await;
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmsConfig;
    use crate::error::SmsError;
    use crate::limits::Limits;
    use crate::numbers::{Numbers, Origin};
    use crate::provider::{Accepted, Provider};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use switchboard_bridge::{
        BridgeStore, Inbox, MemoryStore, MessageContent, Network, TxnId, UserId,
    };

    /// Fails with the scripted errors first, then accepts; counts calls.
    struct Scripted {
        calls: Arc<AtomicUsize>,
        failures: Mutex<Vec<SmsError>>,
    }

    #[async_trait]
    impl Provider for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        fn supports_media(&self) -> bool {
            false
        }
        async fn send(&self, _: &OutboundSms) -> Result<Accepted, SmsError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            match self.failures.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(Accepted {
                    id: Some(format!("SM{n}")),
                }),
            }
        }
    }

    struct Rig {
        session: SmsSession,
        store: Arc<MemoryStore>,
        calls: Arc<AtomicUsize>,
    }

    fn rig(failures: Vec<SmsError>) -> Rig {
        let config: SmsConfig = serde_yaml_ng::from_str(
            "provider: {kind: twilio, account_sid: AC1, auth_token: t}\nmax_segments: 2",
        )
        .unwrap();
        let numbers = Numbers::default();
        let mine = number::normalize("+15550001111", None).unwrap();
        numbers.assign(mine, "alice@x", Origin::Config).unwrap();
        let store = Arc::new(MemoryStore::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            provider: Box::new(Scripted {
                calls: calls.clone(),
                failures: Mutex::new(failures),
            }),
            limits: Limits::new(2, 1000),
            numbers,
            counters: Default::default(),
            network: std::sync::OnceLock::new(),
            health: Mutex::new(None),
            config,
        });
        let (tx, _) = tokio::sync::mpsc::channel(1);
        let _ = shared.network.set(Network {
            inbox: Inbox::new(tx),
            store: store.clone(),
            shutdown: CancellationToken::new(),
            public_url: Some("http://gw".into()),
            watcher: Arc::new(switchboard_bridge::NoWatcher),
        });
        let (etx, _) = tokio::sync::mpsc::channel(8);
        let login = LoginId::new("l1");
        let sink = EventSink::new(login.clone(), etx);
        Rig {
            session: SmsSession::new(login, "alice@x".into(), shared, sink),
            store,
            calls,
        }
    }

    fn msg(text: &str) -> OutgoingMessage {
        OutgoingMessage {
            chat: Chat::Direct(UserId::new("+15551234567")),
            content: MessageContent::text(text),
            txn: TxnId::new("t1"),
        }
    }

    #[tokio::test]
    async fn a_message_the_provider_took_is_not_sent_again_after_a_crash() {
        let r = rig(vec![]);
        let sent = r.session.send_message(msg("hi")).await.unwrap();
        assert_eq!(sent.id.unwrap().as_str(), "SM0");
        let json = r.store.get("out:t1").await.unwrap().unwrap();
        let record: OutRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (record.login.as_str(), record.id.as_deref()),
            ("l1", Some("SM0"))
        );
        // The outbox retries the same message after a restart: the provider is not asked.
        let again = r.session.send_message(msg("hi")).await.unwrap();
        assert_eq!(again.id.unwrap().as_str(), "SM0");
        assert_eq!(r.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_permanent_ones_forget_the_record() {
        let busy = SmsError::Status {
            provider: "scripted",
            status: 503,
            reason: "busy".into(),
        };
        let r = rig(vec![busy]);
        let e = r.session.send_message(msg("hi")).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(r.session.send_message(msg("hi")).await.is_ok());
        assert_eq!(r.calls.load(Ordering::SeqCst), 2);

        let refused = SmsError::Status {
            provider: "scripted",
            status: 400,
            reason: "21211: invalid To".into(),
        };
        let r = rig(vec![refused]);
        let e = r.session.send_message(msg("hi")).await.unwrap_err();
        assert!(
            matches!(e, BridgeError::Rejected(ref t) if t.contains("21211")),
            "{e}"
        );
        assert_eq!(r.store.get("out:t1").await.unwrap(), None);
    }

    #[test]
    fn admit_checks_length_media_emptiness_and_rate() {
        let r = rig(vec![]);
        let three_parts = "x".repeat(153 * 2 + 1);
        let e = r.session.admit(&msg(&three_parts)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the message needs 3 SMS segments (307 GSM-7 units); at most 2 are allowed"
        );
        assert!(r.session.admit(&msg("  ")).is_err());
        let mut media = msg("look");
        media
            .content
            .attachments
            .push(switchboard_bridge::Attachment {
                url: "https://x/a.png".into(),
                media_type: None,
            });
        assert!(r
            .session
            .admit(&media)
            .unwrap_err()
            .to_string()
            .contains("text only"));
        r.session.admit(&msg("1")).unwrap();
        r.session.admit(&msg("2")).unwrap();
        assert!(matches!(
            r.session.admit(&msg("3")),
            Err(BridgeError::LimitReached(_))
        ));
    }
}
