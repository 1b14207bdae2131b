//! One user's mail: each chat message becomes a mail from their alias, threaded per
//! correspondent.

use crate::address::MailAddress;
use crate::compose::{self, Draft};
use crate::shared::Shared;
use async_trait::async_trait;
use std::sync::Arc;
use switchboard_bridge::{
    BridgeError, CancellationToken, Chat, LoginId, MessageId, OutgoingMessage, Sent, Session,
    TextKind,
};

/// The session of one registered user.
pub struct EmailSession {
    login: LoginId,
    owner: String,
    alias: String,
    name: String,
    shared: Arc<Shared>,
}

impl EmailSession {
    /// A session for `owner`, who holds `alias` and signs as `name`.
    pub fn new(
        login: LoginId,
        owner: String,
        alias: String,
        name: String,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            login,
            owner,
            alias,
            name,
            shared,
        }
    }

    fn correspondent(chat: &Chat) -> Result<MailAddress, BridgeError> {
        match chat {
            Chat::Direct(user) => MailAddress::parse(user.as_str())
                .map_err(|e| BridgeError::InvalidAddress(e.to_string())),
            Chat::Group(_) => Err(BridgeError::Unsupported("group mail")),
        }
    }
}

#[async_trait]
impl Session for EmailSession {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        shutdown.cancelled().await;
    }

    fn admit(&self, msg: &OutgoingMessage) -> Result<(), BridgeError> {
        Self::correspondent(&msg.chat)?;
        if msg.content.text.trim().is_empty() && msg.content.attachments.is_empty() {
            return Err(BridgeError::Invalid("an empty mail cannot be sent".into()));
        }
        Ok(())
    }

    async fn send_message(&self, msg: OutgoingMessage) -> Result<Sent, BridgeError> {
        let to = Self::correspondent(&msg.chat)?;
        let from = MailAddress::parse(&format!(
            "{}@{}",
            self.alias, self.shared.config.address_domain
        ))
        .map_err(|e| BridgeError::Invalid(e.to_string()))?;
        let mut text = match msg.content.kind {
            TextKind::Action => format!("* {} {}", self.name, msg.content.text),
            TextKind::Normal | TextKind::Notice => msg.content.text.clone(),
        };
        for a in &msg.content.attachments {
            text.push_str(&format!("\n\n{}", a.url));
        }
        let mut thread = self.shared.thread(&self.owner, &to.to_string()).await?;
        // The same id on every retry: a relay or reader that saw it already can tell.
        let message_id = compose::message_id(msg.txn.as_str(), self.shared.config.hostname());
        let draft = Draft {
            from_name: &self.name,
            from: &from,
            to: &to,
            subject: msg.content.subject.as_deref(),
            text: &text,
            message_id: &message_id,
        };
        let (mail, subject) =
            compose::compose(&draft, &thread).map_err(|e| BridgeError::Invalid(e.to_string()))?;
        self.shared.relay.send(mail).await?;
        tracing::debug!(login = %self.login, "Mail handed to the relay");
        thread.push(message_id.clone());
        if thread.subject.is_none() {
            thread.subject = Some(subject);
        }
        self.shared
            .save_thread(&self.owner, &to.to_string(), &thread)
            .await?;
        Ok(Sent {
            id: Some(MessageId::new(message_id)),
            timestamp: None,
        })
    }

    async fn logout(&self) -> Result<(), BridgeError> {
        self.shared.release_alias(&self.owner).await
    }
}
