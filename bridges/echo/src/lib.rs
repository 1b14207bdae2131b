//! A test-only network that answers every message with the same text.
//!
//! It exercises the whole bridge layer end to end without a foreign server: registration,
//! sessions, the durable outbox and events back to XMPP. Not a product feature.
//!
//! Addresses: any non-empty local part without `/` is a user (`alice@echo.example.org`);
//! a local part starting with `#` is a group. A text starting with `!reject` is refused
//! permanently, and `!flaky N` fails transiently N times per session before it goes
//! through, so tests can see the core's error mapping and retries.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_bridge::{
    BridgeError, CancellationToken, Capabilities, Chat, Connector, EventSink, FieldKind, FormField,
    FormValues, GroupId, IncomingMessage, LoginData, LoginId, MessageId, NetworkInfo,
    OutgoingMessage, RegistrationForm, RemoteEvent, Sender, Sent, Session, SessionState, UserId,
};

/// The echo network.
pub struct EchoConnector {
    info: NetworkInfo,
}

impl Default for EchoConnector {
    fn default() -> Self {
        Self {
            info: NetworkInfo {
                id: "echo",
                display_name: "Echo",
                gateway_type: "echo",
                registration_required: true,
                prompt: "Any name",
                caps: Capabilities {
                    groups: false,
                    receipts: true,
                    presence: false,
                },
                send_window: 1,
            },
        }
    }
}

#[async_trait]
impl Connector for EchoConnector {
    fn info(&self) -> &NetworkInfo {
        &self.info
    }

    fn registration_form(&self) -> RegistrationForm {
        RegistrationForm {
            instructions: "Choose a name for the echo network.".into(),
            fields: vec![FormField {
                name: "username",
                label: "Name",
                kind: FieldKind::Text,
                required: true,
            }],
        }
    }

    async fn register(&self, form: &FormValues) -> Result<LoginData, BridgeError> {
        let name = form.get("username").map(|s| s.trim()).unwrap_or_default();
        if name.is_empty() {
            return Err(BridgeError::Invalid("username: a name is required".into()));
        }
        if name.chars().any(char::is_control) {
            return Err(BridgeError::Invalid(
                "username: control characters are not allowed".into(),
            ));
        }
        Ok(LoginData::from([(
            "username".to_string(),
            name.to_string(),
        )]))
    }

    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError> {
        if local.is_empty() || local.contains('/') || local.chars().any(char::is_control) {
            return Err(BridgeError::InvalidAddress(format!(
                "'{local}' is not an echo address"
            )));
        }
        Ok(match local.strip_prefix('#') {
            Some(_) => Chat::Group(GroupId::new(local)),
            None => Chat::Direct(UserId::new(local)),
        })
    }

    fn format_address(&self, chat: &Chat) -> String {
        match chat {
            Chat::Direct(user) => user.as_str().to_string(),
            Chat::Group(group) => group.as_str().to_string(),
        }
    }

    async fn open_session(
        &self,
        login: LoginId,
        _data: LoginData,
        events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError> {
        tracing::debug!(login = %login, "Echo session opened");
        Ok(Arc::new(EchoSession {
            events,
            flaky: Mutex::new(HashMap::new()),
        }))
    }
}

struct EchoSession {
    events: EventSink,
    /// Transient failures left per `!flaky` text.
    flaky: Mutex<HashMap<String, u32>>,
}

#[async_trait]
impl Session for EchoSession {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        if self
            .events
            .emit(RemoteEvent::State(SessionState::Connected))
            .await
            .is_err()
        {
            return;
        }
        shutdown.cancelled().await;
    }

    async fn send_message(&self, msg: OutgoingMessage) -> Result<Sent, BridgeError> {
        let text = &msg.content.text;
        if let Some(reason) = text.strip_prefix("!reject") {
            return Err(BridgeError::Rejected(format!(
                "the echo network refused this message{reason}"
            )));
        }
        if let Some(count) = text.strip_prefix("!flaky ") {
            let count: u32 = count
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let mut flaky = self.flaky.lock().expect("flaky map poisoned");
            let left = flaky.entry(text.clone()).or_insert(count);
            if *left > 0 {
                *left -= 1;
                return Err(BridgeError::Transient("the echo network is flaky".into()));
            }
        }
        let id = MessageId::new(format!("echo-{}", msg.txn));
        let sender = match &msg.chat {
            Chat::Direct(user) => user.clone(),
            Chat::Group(_) => UserId::new("echo"),
        };
        let echo = RemoteEvent::Message(IncomingMessage {
            id: Some(id.clone()),
            chat: msg.chat.clone(),
            sender: Sender {
                user: sender,
                display_name: None,
                is_self: false,
            },
            content: msg.content.clone(),
            txn: None,
            timestamp: None,
        });
        self.events
            .emit(RemoteEvent::Delivered {
                chat: msg.chat.clone(),
                txn: msg.txn.clone(),
            })
            .await
            .map_err(|e| BridgeError::Transient(e.to_string()))?;
        self.events
            .emit(echo)
            .await
            .map_err(|e| BridgeError::Transient(e.to_string()))?;
        Ok(Sent {
            id: Some(id),
            timestamp: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        let c = EchoConnector::default();
        for local in ["alice", "#room", "bob@example.net"] {
            let chat = c.parse_address(local).unwrap();
            assert_eq!(c.format_address(&chat), local);
        }
        assert!(matches!(c.parse_address("#room"), Ok(Chat::Group(_))));
    }

    #[test]
    fn bad_addresses_are_refused() {
        let c = EchoConnector::default();
        for local in ["", "a/b", "a\nb"] {
            assert!(matches!(
                c.parse_address(local),
                Err(BridgeError::InvalidAddress(_))
            ));
        }
    }

    #[tokio::test]
    async fn register_needs_a_name() {
        let c = EchoConnector::default();
        let err = c.register(&FormValues::new()).await.unwrap_err();
        assert_eq!(
            err,
            BridgeError::Invalid("username: a name is required".into())
        );
        let ok = c
            .register(&FormValues::from([("username".into(), " ann ".into())]))
            .await
            .unwrap();
        assert_eq!(ok.get("username").map(String::as_str), Some("ann"));
    }

    #[tokio::test]
    async fn flaky_fails_then_echoes() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let c = EchoConnector::default();
        let login = LoginId::new("l1");
        let s = c
            .open_session(login.clone(), LoginData::new(), EventSink::new(login, tx))
            .await
            .unwrap();
        let msg = OutgoingMessage {
            chat: Chat::Direct(UserId::new("bob")),
            content: switchboard_bridge::MessageContent::text("!flaky 2"),
            txn: switchboard_bridge::TxnId::new("t1"),
        };
        assert!(s
            .send_message(msg.clone())
            .await
            .unwrap_err()
            .is_transient());
        assert!(s
            .send_message(msg.clone())
            .await
            .unwrap_err()
            .is_transient());
        s.send_message(msg).await.unwrap();
        assert!(matches!(
            rx.recv().await.unwrap().event,
            RemoteEvent::Delivered { .. }
        ));
        match rx.recv().await.unwrap().event {
            RemoteEvent::Message(m) => assert_eq!(m.content.text, "!flaky 2"),
            other => panic!("expected the echo, got {other:?}"),
        }
    }
}
