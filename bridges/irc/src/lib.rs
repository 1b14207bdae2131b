//! The IRC bridge: IRC channels as group chats and IRC nicks as contacts, one IRC
//! connection per user and network (biboumi's model).
//!
//! Addresses are biboumi's: `#chan%network` is a channel, `nick%network` a user. Networks
//! come from the `irc.networks` configuration; hosts not listed are refused unless
//! `allow_any_network` is set.

pub mod address;
pub mod config;
pub mod conn;
#[doc(hidden)]
pub mod fuzzing;
pub mod hits;
mod nick;
pub mod ranks;
mod session;
pub mod text;
pub mod time;

pub use config::IrcConfig;

/// The node of the per-network settings command on `net@irc.example.org`.
pub const CONFIGURE: &str = "configure";

use async_trait::async_trait;
use session::{Handle, IrcSession, NetworkCounts};
use std::sync::Arc;
use switchboard_bridge::{
    BridgeError, Capabilities, Chat, CommandForm, Connector, EventSink, FieldKind, FormField,
    FormValues, GroupId, LoginData, LoginId, NetworkInfo, RegistrationForm, Session,
};

/// The IRC transport.
pub struct IrcConnector {
    info: NetworkInfo,
    config: Arc<IrcConfig>,
    counts: NetworkCounts,
    hits: Arc<hits::LimitHits>,
}

impl IrcConnector {
    /// A connector serving the configured networks.
    pub fn new(config: IrcConfig) -> Self {
        Self {
            info: NetworkInfo {
                id: "irc",
                display_name: "IRC",
                gateway_type: "irc",
                registration_required: false,
                prompt: "#channel%network or nick%network",
                caps: Capabilities {
                    groups: true,
                    receipts: false,
                    presence: true,
                },
                send_window: 1,
            },
            config: Arc::new(config),
            counts: NetworkCounts::default(),
            hits: Arc::default(),
        }
    }
}

#[async_trait]
impl Connector for IrcConnector {
    fn info(&self) -> &NetworkInfo {
        &self.info
    }

    fn counters(&self) -> Vec<switchboard_bridge::Counter> {
        self.hits.counters()
    }

    fn registration_form(&self) -> RegistrationForm {
        let field = |name, label, kind| FormField {
            name,
            label,
            kind,
            required: false,
        };
        RegistrationForm {
            instructions: "Registration is optional: join #channel%network rooms right away. \
                           Set the nick, user name and real name used on every network here."
                .into(),
            fields: vec![
                field("nick", "Nick", FieldKind::Text),
                field("username", "User name", FieldKind::Text),
                field("name", "Real name", FieldKind::Text),
            ],
        }
    }

    async fn register(&self, form: &FormValues) -> Result<LoginData, BridgeError> {
        let mut data = LoginData::new();
        for (field, key) in [
            ("nick", "nick"),
            ("username", "username"),
            ("name", "realname"),
        ] {
            let Some(value) = form.get(field).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
                continue;
            };
            if value.contains(|c: char| c.is_control() || (c == ' ' && field != "name")) {
                return Err(BridgeError::Invalid(format!(
                    "{field}: spaces and control characters are not allowed"
                )));
            }
            data.insert(key.to_string(), value.to_string());
        }
        Ok(data)
    }

    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError> {
        match &self.config.fixed_network {
            None => Ok(address::parse(local, "#&")?.chat()),
            Some(network) => address::parse_fixed(local, network).map(|a| a.chat()),
        }
    }

    fn format_address(&self, chat: &Chat) -> String {
        let id = match chat {
            Chat::Group(g) => g.as_str(),
            Chat::Direct(u) => u.as_str(),
        };
        match &self.config.fixed_network {
            None => id.to_string(),
            Some(network) => address::format_fixed(id, network),
        }
    }

    fn commands_for(&self, chat: &Chat) -> Vec<CommandForm> {
        let field = |name, label, kind| FormField {
            name,
            label,
            kind,
            required: false,
        };
        let network = match address::Address::from_chat(chat) {
            Ok(address::Address::Network { network }) => network,
            // The channel's own settings; the core adds its fields (persistent,
            // record_history) to the same form.
            Ok(address::Address::Channel { .. }) => {
                return vec![CommandForm {
                    node: CONFIGURE,
                    name: "Channel settings".into(),
                    instructions: "encoding_in: how this channel's lines that are not UTF-8 \
                                   are read (latin-1, utf-8-lossy, windows-1251, koi8-r, …); \
                                   empty for the network's."
                        .into(),
                    fields: vec![field(
                        "encoding_in",
                        "Fallback encoding of this channel",
                        FieldKind::Text,
                    )],
                }]
            }
            _ => return Vec::new(),
        };
        vec![CommandForm {
            node: CONFIGURE,
            name: format!("Settings for {network}"),
            instructions: "Used from the next connection to this network. Passwords are stored \
                           and never shown again; leave them empty to keep them."
                .into(),
            fields: vec![
                field("nick", "Nick", FieldKind::Text),
                field("username", "User name", FieldKind::Text),
                field("realname", "Real name", FieldKind::Text),
                field(
                    "sasl_password",
                    "SASL password (account: the nick)",
                    FieldKind::Secret,
                ),
                field(
                    "nickserv_password",
                    "NickServ password (sent with IDENTIFY)",
                    FieldKind::Secret,
                ),
                field("pass", "Server password (PASS)", FieldKind::Secret),
                field(
                    "after_connect_commands",
                    "IRC commands sent once connected, one per line (no JOIN)",
                    FieldKind::Lines,
                ),
                field(
                    "encoding_in",
                    "Fallback encoding for lines that are not UTF-8 (latin-1, windows-1251, …)",
                    FieldKind::Text,
                ),
            ],
        }]
    }

    fn transport_chat(&self) -> Option<Chat> {
        let network = self.config.fixed_network.as_deref()?;
        Some(
            address::Address::Network {
                network: network.to_lowercase(),
            }
            .chat(),
        )
    }

    fn groups_persistent_by_default(&self) -> bool {
        self.config.persistent_by_default
    }

    fn queries_for(&self, chat: &Chat) -> Vec<CommandForm> {
        match address::Address::from_chat(chat) {
            Ok(address::Address::Network { .. }) => vec![CommandForm {
                node: session::CONNECTION_INFO,
                name: "Get connection information".into(),
                instructions: String::new(),
                fields: Vec::new(),
            }],
            _ => Vec::new(),
        }
    }

    fn occupant_chat(&self, group: &GroupId, nick: &str) -> Option<Chat> {
        let network = group.as_str().split_once('%')?.1;
        Some(Chat::Direct(address::user_id(nick, network)))
    }

    async fn open_session(
        &self,
        _login: LoginId,
        data: LoginData,
        events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError> {
        let session = IrcSession::new(
            self.config.clone(),
            &data,
            events,
            self.counts.clone(),
            self.hits.clone(),
        );
        Ok(Arc::new(Handle(Arc::new(session))))
    }
}
