//! The SMS transport: phone numbers as contacts.

use crate::config::SmsConfig;
use crate::limits::Limits;
use crate::number;
use crate::numbers::{Numbers, Origin};
use crate::session::SmsSession;
use crate::shared::{number_key, Counters, Shared};
use crate::{provider, webhook};
use async_trait::async_trait;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use switchboard_bridge::{
    axum::Router, BridgeError, Capabilities, Chat, CommandForm, Connector, Counter, EventSink,
    FieldKind, FormField, FormValues, LoginData, LoginId, Network, NetworkHealth, NetworkInfo,
    RegistrationForm, Session, UserId,
};

/// SMS of one user in flight at once: providers answer in milliseconds to a second, and
/// SMS keep no order anyway.
const SEND_WINDOW: usize = 8;

static INFO: NetworkInfo = NetworkInfo {
    id: "sms",
    display_name: "SMS",
    gateway_type: "sms",
    registration_required: false,
    prompt: "Phone number (international, like +15551234567)",
    caps: Capabilities {
        groups: false,
        receipts: true,
        presence: false,
    },
    send_window: SEND_WINDOW,
};

/// The SMS bridge.
pub struct SmsConnector {
    shared: Arc<Shared>,
}

impl SmsConnector {
    /// A connector for a checked configuration (see [`SmsConfig::problems`]); numbers in
    /// it that do not parse are skipped with a warning.
    pub fn new(config: SmsConfig) -> Self {
        let numbers = Numbers::default();
        for (n, owner) in &config.numbers {
            match number::normalize(n, config.default_region.as_deref()) {
                Ok(n) => {
                    let _ = numbers.assign(n, owner, Origin::Config);
                }
                Err(e) => tracing::warn!(number = %n, error = %e, "Skipping sms.numbers entry"),
            }
        }
        let shared = Shared {
            provider: provider::from_config(&config.provider, config.request_timeout),
            limits: Limits::new(config.rate_per_minute, config.daily_cap),
            numbers,
            counters: Counters::default(),
            network: OnceLock::new(),
            health: Mutex::new(None),
            config,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    fn number_field() -> FormField {
        FormField {
            name: "number",
            label: "Phone number (E.164)",
            kind: FieldKind::Text,
            required: true,
        }
    }

    fn parse_number(&self, values: &FormValues) -> Result<number::E164, BridgeError> {
        let raw = values.get("number").map(String::as_str).unwrap_or("");
        number::normalize(raw, self.shared.config.default_region.as_deref())
            .map_err(|e| BridgeError::InvalidAddress(e.to_string()))
    }
}

#[async_trait]
impl Connector for SmsConnector {
    fn info(&self) -> &NetworkInfo {
        &INFO
    }

    fn registration_form(&self) -> RegistrationForm {
        RegistrationForm {
            instructions: "No registration is needed: the gateway's operator assigns you a \
                           phone number. Write to +<number>@ this gateway to text a phone."
                .into(),
            fields: Vec::new(),
        }
    }

    async fn register(&self, _form: &FormValues) -> Result<LoginData, BridgeError> {
        Ok(LoginData::new())
    }

    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError> {
        let n = number::normalize(local, self.shared.config.default_region.as_deref())
            .map_err(|e| BridgeError::InvalidAddress(e.to_string()))?;
        Ok(Chat::Direct(UserId::new(n.into_string())))
    }

    fn format_address(&self, chat: &Chat) -> String {
        match chat {
            Chat::Direct(user) => user.as_str().to_string(),
            Chat::Group(group) => group.as_str().to_string(),
        }
    }

    async fn start(&self, network: Network) -> Result<Option<Router>, BridgeError> {
        // (A scan also drops the transport's expired records, `out:` ones included.)
        let stored = network.store.scan("number:").await?;
        for (key, owner) in stored {
            let raw = key.trim_start_matches("number:");
            match number::normalize(raw, None) {
                Ok(n) => {
                    if let Err(e) = self.shared.numbers.assign(n, &owner, Origin::Admin) {
                        tracing::warn!(error = %e, "A stored number assignment no longer applies");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "Unreadable stored number"),
            }
        }
        tracing::info!(
            provider = self.shared.provider.name(),
            numbers = self.shared.numbers.len(),
            "SMS bridge started"
        );
        let _ = self.shared.network.set(network);
        Ok(Some(webhook::routes(self.shared.clone())))
    }

    fn health(&self) -> Option<NetworkHealth> {
        self.shared
            .health
            .lock()
            .expect("health lock poisoned")
            .clone()
    }

    fn counters(&self) -> Vec<Counter> {
        let c = &self.shared.counters;
        let v = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        vec![
            Counter {
                name: "switchboard_sms_received_total",
                help: "SMS received and passed to their owner.",
                value: v(&c.received),
            },
            Counter {
                name: "switchboard_sms_unrouted_total",
                help: "SMS to numbers nobody owns, not delivered.",
                value: v(&c.unrouted),
            },
            Counter {
                name: "switchboard_sms_webhooks_refused_total",
                help: "Webhook requests refused for a bad signature or secret.",
                value: v(&c.refused),
            },
            Counter {
                name: "switchboard_sms_sent_total",
                help: "SMS the provider took.",
                value: v(&c.sent),
            },
        ]
    }

    fn admin_commands(&self) -> Vec<CommandForm> {
        vec![
            CommandForm {
                node: "assign-number",
                name: "Assign a phone number".into(),
                instructions: "Texts to the number reach this user, who sends from it.".into(),
                fields: vec![
                    Self::number_field(),
                    FormField {
                        name: "jid",
                        label: "User (bare JID)",
                        kind: FieldKind::Jid,
                        required: true,
                    },
                ],
            },
            CommandForm {
                node: "unassign-number",
                name: "Unassign a phone number".into(),
                instructions: "The number stops reaching its user.".into(),
                fields: vec![Self::number_field()],
            },
        ]
    }

    async fn admin_command(&self, node: &str, values: &FormValues) -> Result<String, BridgeError> {
        let number = self.parse_number(values)?;
        let store = &self.shared.network()?.store;
        match node {
            "assign-number" => {
                let owner = values.get("jid").cloned().unwrap_or_default();
                if let Some(current) = self.shared.numbers.owner_of(&number) {
                    if current != owner {
                        tracing::info!(number = %number, "Reassigning a number");
                    }
                }
                self.shared
                    .numbers
                    .assign(number.clone(), &owner, Origin::Admin)?;
                store.put(&number_key(&number), &owner, None).await?;
                Ok(format!("{number} is now assigned to {owner}."))
            }
            "unassign-number" => {
                let owner = self.shared.numbers.unassign(&number)?;
                store.delete(&number_key(&number)).await?;
                Ok(format!("{number} no longer belongs to {owner}."))
            }
            _ => Err(BridgeError::NotFound(format!("no command {node}"))),
        }
    }

    async fn open_session(
        &self,
        login: LoginId,
        data: LoginData,
        events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError> {
        let owner = data
            .get(switchboard_bridge::OWNER_KEY)
            .cloned()
            .ok_or_else(|| BridgeError::Invalid("the gateway gave no session owner".into()))?;
        Ok(Arc::new(SmsSession::new(
            login,
            owner,
            self.shared.clone(),
            events,
        )))
    }
}
