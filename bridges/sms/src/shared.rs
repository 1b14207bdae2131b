//! State shared by the connector, its sessions and its webhooks.

use crate::config::SmsConfig;
use crate::limits::Limits;
use crate::number::{self, E164};
use crate::numbers::Numbers;
use crate::provider::Provider;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use switchboard_bridge::{
    Attachment, BridgeError, Chat, Inbound, IncomingMessage, LoginId, MessageContent, MessageId,
    Network, NetworkHealth, Recipient, RemoteEvent, Sender, TxnId, UserId,
};

/// How long the record of a sent message waits for its delivery report.
pub const OUT_TTL: Duration = Duration::from_secs(7 * 86_400);
/// Longest inbound text passed on (characters); longer ones are cut with a note.
pub const MAX_INBOUND_CHARS: usize = 8_000;
/// Longest provider message id used as a deduplication key (Twilio's are 34).
const MAX_ID_CHARS: usize = 128;

/// What the bridge keeps of one outgoing message (`out:<txn>` in its store): who sent it
/// to whom, and the provider's id once it took it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutRecord {
    /// The sender's login.
    pub login: String,
    /// The phone.
    pub to: String,
    /// The provider's id, once it took the message.
    #[serde(default)]
    pub id: Option<String>,
}

/// The key of an outgoing message's record.
pub fn out_key(reference: &str) -> String {
    format!("out:{reference}")
}

/// The key of a number assigned by an admin.
pub fn number_key(number: &E164) -> String {
    format!("number:{number}")
}

/// What a delivery report says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// Delivered to the phone.
    Delivered,
    /// Failed for good, with the provider's reason.
    Failed(String),
    /// Still on its way (queued, sent to the carrier, …).
    Pending,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Counters {
    /// SMS received and passed to a user.
    pub received: AtomicU64,
    /// SMS to a number nobody owns (or whose owner may not use the gateway).
    pub unrouted: AtomicU64,
    /// Webhook requests refused (bad signature or secret).
    pub refused: AtomicU64,
    /// SMS the provider took.
    pub sent: AtomicU64,
}

/// Everything the connector, sessions and webhooks share.
pub struct Shared {
    /// The configuration.
    pub config: SmsConfig,
    /// The provider.
    pub provider: Box<dyn Provider>,
    /// Numbers and owners.
    pub numbers: Numbers,
    /// Sending limits.
    pub limits: Limits,
    /// Counters.
    pub counters: Counters,
    /// Set when the transport starts.
    pub network: OnceLock<Network>,
    /// The provider's health, from the last request.
    pub health: Mutex<Option<NetworkHealth>>,
}

impl Shared {
    /// The network context; the core starts a connector before any session or webhook.
    pub fn network(&self) -> Result<&Network, BridgeError> {
        self.network
            .get()
            .ok_or_else(|| BridgeError::Transient("the SMS bridge is starting".into()))
    }

    /// Notes how the last provider request went.
    pub fn set_health(&self, ok: bool, text: String) {
        let mut h = self.health.lock().expect("health lock poisoned");
        if h.as_ref().is_some_and(|h| h.ok == ok && h.text == text) {
            return;
        }
        *h = Some(NetworkHealth {
            ok,
            text,
            since: SystemTime::now(),
        });
    }

    /// A number from a provider: E.164 or national in `sms.default_region`; SMSCs often
    /// drop the `+`, so digits alone are read as international when no region applies.
    pub fn inbound_number(&self, raw: &str) -> Result<E164, crate::NumberError> {
        let region = self.config.default_region.as_deref();
        match number::normalize(raw, region) {
            Err(crate::NumberError::NoRegion(_)) => number::normalize(&format!("+{raw}"), None),
            other => other,
        }
    }

    /// An inbound SMS: passed to the owner of `to`. `Ok(false)` when nobody owns it (it
    /// is counted and logged, not delivered); `Err` when the core is shutting down (the
    /// provider should retry).
    pub async fn inbound(
        &self,
        from: &str,
        to: &str,
        text: String,
        media: Vec<Attachment>,
        id: Option<String>,
    ) -> Result<bool, switchboard_bridge::InboxClosed> {
        let owner = self
            .inbound_number(to)
            .ok()
            .and_then(|n| self.numbers.owner_of(&n));
        let Some(owner) = owner else {
            self.counters.unrouted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(to = %to.chars().take(32).collect::<String>(), "SMS to a number nobody owns; not delivered");
            return Ok(false);
        };
        // Alphanumeric senders ("MyBank") have no E.164 form; they are shown as sent.
        let sender = match self.inbound_number(from) {
            Ok(n) => n.into_string(),
            Err(_) => from
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(16)
                .collect(),
        };
        if sender.is_empty() {
            self.counters.unrouted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("SMS without a usable sender; not delivered");
            return Ok(false);
        }
        let mut text = text;
        if let Some((cut, _)) = text.char_indices().nth(MAX_INBOUND_CHARS) {
            text.truncate(cut);
            text.push_str(" […]");
        }
        // The provider's id makes a replayed or retried webhook deliver nothing new.
        let once = id.as_ref().map(|id| {
            format!(
                "sms-id:{}",
                id.chars().take(MAX_ID_CHARS).collect::<String>()
            )
        });
        let event = RemoteEvent::Message(IncomingMessage {
            id: id.map(MessageId::new),
            chat: Chat::Direct(UserId::new(sender.clone())),
            sender: Sender {
                user: UserId::new(sender),
                display_name: None,
                is_self: false,
            },
            content: MessageContent {
                text,
                attachments: media,
                ..MessageContent::default()
            },
            txn: None,
            timestamp: None,
        });
        let Ok(network) = self.network() else {
            return Err(switchboard_bridge::InboxClosed);
        };
        let item = Inbound {
            once,
            ..Inbound::new(Recipient::Owner(owner), event)
        };
        match network.inbox.deliver_one(item).await? {
            Ok(_stored_or_duplicate) => {
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            // The gateway cannot store it now: the provider is told to retry.
            Err(e) if e.is_transient() => Err(switchboard_bridge::InboxClosed),
            Err(e) => {
                self.counters.unrouted.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "SMS owner refused by the gateway; not delivered");
                Ok(false)
            }
        }
    }

    /// A delivery report for the message with `reference`. Reports for unknown (or
    /// already settled) messages are ignored, so repeats and late ones do no harm.
    pub async fn report(
        &self,
        reference: &str,
        provider_id: Option<&str>,
        report: Report,
    ) -> Result<(), BridgeError> {
        if report == Report::Pending {
            return Ok(());
        }
        let network = self.network()?;
        let key = out_key(reference);
        let Some(json) = network.store.get(&key).await? else {
            tracing::debug!("Delivery report for a message not awaited");
            return Ok(());
        };
        let Ok(record) = serde_json::from_str::<OutRecord>(&json) else {
            network.store.delete(&key).await?;
            return Ok(());
        };
        if let (Some(given), Some(known)) = (provider_id, &record.id) {
            if given != known {
                tracing::warn!("Delivery report whose message id does not match; ignored");
                return Ok(());
            }
        }
        let chat = Chat::Direct(UserId::new(record.to.clone()));
        let txn = TxnId::new(reference);
        let event = match report {
            Report::Delivered => RemoteEvent::Delivered { chat, txn },
            Report::Failed(reason) => RemoteEvent::DeliveryFailed { chat, txn, reason },
            Report::Pending => unreachable!("returned above"),
        };
        match network
            .inbox
            .deliver(Recipient::Login(LoginId::new(record.login)), event)
            .await
        {
            Err(_) => return Err(BridgeError::Transient("the gateway is stopping".into())),
            Ok(Err(e)) if e.is_transient() => return Err(e),
            Ok(Err(e)) => tracing::debug!(error = %e, "Delivery report for a closed session"),
            Ok(Ok(_)) => {}
        }
        network.store.delete(&key).await?;
        Ok(())
    }
}
