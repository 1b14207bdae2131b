//! The email transport: mail addresses as contacts, aliases as users' own addresses.

use crate::address::{self, MailAddress};
use crate::config::EmailConfig;
use crate::digests::{Clock, Digests, SystemClock};
use crate::relay::Relay;
use crate::session::EmailSession;
use crate::shared::Shared;
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use switchboard_bridge::{
    axum::Router, BridgeError, Capabilities, Chat, CommandForm, CommandReply, Connector, Counter,
    EventSink, FieldKind, FormField, FormValues, LoginData, LoginId, Network, NetworkInfo,
    Observation, RegistrationForm, Session, UserId, OWNER_KEY,
};

static INFO: NetworkInfo = NetworkInfo {
    id: "email",
    display_name: "Email",
    gateway_type: "smtp",
    registration_required: true,
    prompt: "Email address",
    caps: Capabilities {
        groups: false,
        receipts: false,
        presence: false,
    },
    // One mail after the other per user: each continues its correspondent's thread.
    send_window: 1,
};

/// The email bridge.
pub struct EmailConnector {
    shared: Arc<Shared>,
    digests: Arc<Digests>,
}

impl EmailConnector {
    /// A connector for a checked configuration (see [`EmailConfig::problems`]).
    pub fn new(config: EmailConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A connector whose digests read the time from `clock`.
    pub fn with_clock(config: EmailConfig, clock: Arc<dyn Clock>) -> Self {
        let shared = Arc::new(Shared {
            relay: Relay::new(&config.smtp),
            config,
            network: OnceLock::new(),
            inbound: Default::default(),
        });
        Self {
            digests: Digests::new(shared.clone(), clock),
            shared,
        }
    }
}

#[async_trait]
impl Connector for EmailConnector {
    fn info(&self) -> &NetworkInfo {
        &INFO
    }

    fn registration_form(&self) -> RegistrationForm {
        RegistrationForm {
            instructions: format!(
                "Choose your address: <alias>@{}. Mail to it reaches you here; mail you send \
                 goes out from it, under your name.",
                self.shared.config.address_domain
            ),
            fields: vec![
                FormField {
                    name: "username",
                    label: "Alias (3 to 32 letters, digits, '.', '-', '_')",
                    kind: FieldKind::Text,
                    required: true,
                },
                FormField {
                    name: "nick",
                    label: "Your name, as mail shows it",
                    kind: FieldKind::Text,
                    required: false,
                },
            ],
        }
    }

    async fn register(&self, form: &FormValues) -> Result<LoginData, BridgeError> {
        let owner = form
            .get(OWNER_KEY)
            .ok_or_else(|| BridgeError::Invalid("the gateway gave no owner".into()))?;
        let alias = address::check_alias(form.get("username").map(String::as_str).unwrap_or(""))
            .map_err(|e| BridgeError::Invalid(e.to_string()))?;
        self.shared.claim_alias(&alias, owner).await?;
        let mut data = LoginData::new();
        data.insert("alias".into(), alias);
        if let Some(nick) = form.get("nick").filter(|n| !n.trim().is_empty()) {
            data.insert("nick".into(), crate::header::display_name(nick));
        }
        Ok(data)
    }

    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError> {
        let address = MailAddress::from_jid_local(local)
            .map_err(|e| BridgeError::InvalidAddress(e.to_string()))?;
        Ok(Chat::Direct(UserId::new(address.to_string())))
    }

    fn format_address(&self, chat: &Chat) -> String {
        let id = match chat {
            Chat::Direct(user) => user.as_str(),
            Chat::Group(group) => group.as_str(),
        };
        match MailAddress::parse(id) {
            Ok(a) => a.jid_local(),
            Err(_) => id.replace('@', "%"),
        }
    }

    async fn start(&self, network: Network) -> Result<Option<Router>, BridgeError> {
        let _ = self.shared.network.set(network);
        crate::listener::start(self.shared.clone(), self.digests.clone()).await?;
        self.digests.start().await?;
        Ok(Some(crate::digests::unsubscribe_routes(
            self.digests.clone(),
        )))
    }

    fn counters(&self) -> Vec<Counter> {
        let mut counters = self.digests.counters();
        counters.extend(self.shared.inbound.counters());
        counters
    }

    fn user_commands(&self) -> Vec<CommandForm> {
        crate::digests::command_forms()
    }

    async fn user_command(
        &self,
        node: &str,
        values: &FormValues,
    ) -> Result<CommandReply, BridgeError> {
        self.digests.command(node, values).await
    }

    async fn observe(&self, seen: Observation) -> Result<(), BridgeError> {
        self.digests.observe(seen).await
    }

    async fn open_session(
        &self,
        login: LoginId,
        data: LoginData,
        _events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError> {
        let owner = data
            .get(OWNER_KEY)
            .cloned()
            .ok_or_else(|| BridgeError::Invalid("the gateway gave no session owner".into()))?;
        let alias = data.get("alias").cloned().ok_or(BridgeError::NotLoggedIn)?;
        let name = data
            .get("nick")
            .cloned()
            .or_else(|| data.get("display_name").cloned())
            .unwrap_or_else(|| alias.clone());
        Ok(Arc::new(EmailSession::new(
            login,
            owner,
            alias,
            name,
            self.shared.clone(),
        )))
    }
}
