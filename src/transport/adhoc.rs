//! XEP-0050 ad-hoc commands on the transport JID: which a user may see, and running them.

use super::iq::{storage_error, unsupported, Answer};
use super::room_configure::{room_form, ROOM_CONFIGURE};
use super::Transport;
use crate::xmpp::{adhoc, register};
use minidom::Element;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use switchboard_bridge::{BridgeError, Chat, FieldKind, FormValues, LoginId, Session};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    /// The core's commands, the bridge's admin commands, and the bridge's user commands
    /// (for anyone who may use the gateway).
    pub(super) fn commands(&self) -> Vec<adhoc::Command> {
        let mut all = adhoc::CORE_COMMANDS.to_vec();
        let admin = self
            .connector
            .admin_commands()
            .into_iter()
            .map(|f| (f, true));
        let user = self
            .connector
            .user_commands()
            .into_iter()
            .map(|f| (f, false));
        all.extend(admin.chain(user).map(|(f, admin_only)| adhoc::Command {
            node: f.node,
            name: f.name.into(),
            admin_only,
        }));
        all.extend(self.network_forms().into_iter().map(|f| adhoc::Command {
            node: f.node,
            name: f.name.into(),
            admin_only: false,
        }));
        all
    }

    /// Whether the transport's own JID stands for a network (IRC's `fixed_network`): then
    /// messages to it are that network's, and its commands are offered here.
    pub(super) fn transport_is_a_network(&self) -> bool {
        self.connector.transport_chat().is_some()
    }

    /// The network's commands, when the transport's JID stands for one.
    fn network_forms(&self) -> Vec<switchboard_bridge::CommandForm> {
        match self.connector.transport_chat() {
            Some(chat) => self.forms_for(&chat),
            None => Vec::new(),
        }
    }

    pub(super) fn command(&self, node: &str, from: &Jid) -> Option<adhoc::Command> {
        self.commands()
            .into_iter()
            .find(|c| c.node == node && (!c.admin_only || self.access.is_admin(from)))
    }

    pub(super) async fn execute_command(self: &Arc<Self>, from: &Jid, payload: &Element) -> Answer {
        let request = match adhoc::parse_request(payload) {
            Ok(r) => r,
            Err(text) => {
                return Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text)
            }
        };
        let known = self.commands().iter().any(|c| c.node == request.node);
        let Some(command) = self.command(&request.node, from) else {
            return if known {
                Answer::Error(
                    ErrorType::Auth,
                    DefinedCondition::Forbidden,
                    "only gateway admins may run this command".into(),
                )
            } else {
                Answer::Error(
                    ErrorType::Cancel,
                    DefinedCondition::ItemNotFound,
                    format!("no command '{}'", request.node),
                )
            };
        };
        let session = request.session_id();
        if request.is_cancel() {
            return Answer::Result(Some(adhoc::canceled(command.node, &session)));
        }
        match command.node {
            "status" => {
                let (note, fields) = self.status_report().await;
                let fields: Vec<(&str, &str, String)> =
                    fields.iter().map(|(v, l, x)| (*v, *l, x.clone())).collect();
                Answer::Result(Some(adhoc::completed(
                    command.node,
                    &session,
                    &note,
                    &fields,
                )))
            }
            "ping" => self.ping_command(&session),
            "hello" => self.hello_command(&session, payload),
            "disconnect-user" => self.disconnect_command(&session, payload).await,
            node if self.network_forms().iter().any(|f| f.node == node) => {
                self.contact_command(from, "", payload).await
            }
            node if command.admin_only => match self
                .connector
                .admin_commands()
                .into_iter()
                .find(|f| f.node == node)
            {
                Some(form) => self.bridge_admin_command(&form, &session, payload).await,
                None => unsupported("this command"),
            },
            node => match self
                .connector
                .user_commands()
                .into_iter()
                .find(|f| f.node == node)
            {
                Some(form) => {
                    self.bridge_user_command(&form, &session, from, payload)
                        .await
                }
                None => unsupported("this command"),
            },
        }
    }

    /// The admin status report: a summary line and fields.
    pub(super) async fn status_report(
        &self,
    ) -> (String, Vec<(&'static str, &'static str, String)>) {
        let health = self.health().await;
        let link = self.link.state();
        let stats = self.link.stats();
        let note = format!(
            "{} transport: link {:?}, {} sessions ({} down), {} queued",
            self.connector.info().display_name,
            link,
            health.sessions,
            health.sessions_down,
            health.queued
        );
        let fields = vec![
            ("link", "Component link", format!("{link:?}")),
            (
                "connects",
                "Link connections since start",
                stats.connects.load(Ordering::Relaxed).to_string(),
            ),
            ("sessions", "Sessions", health.sessions.to_string()),
            (
                "sessions_down",
                "Sessions not connected",
                health.sessions_down.to_string(),
            ),
            (
                "queued",
                "Messages waiting for the network",
                health.queued.to_string(),
            ),
            (
                "link_queue",
                "Stanzas waiting for the XMPP server",
                self.link.queued().to_string(),
            ),
            (
                "invalid_stanzas",
                "Unparseable stanzas bounced",
                stats.invalid_stanzas.load(Ordering::Relaxed).to_string(),
            ),
            (
                "unserialisable",
                "Stanzas dropped: XML cannot carry their content",
                stats.unserialisable.load(Ordering::Relaxed).to_string(),
            ),
            (
                "uptime",
                "Uptime (s)",
                self.started.elapsed().as_secs().to_string(),
            ),
        ];
        (note, fields)
    }
}

/// The settings key under which a command's values on an address are kept.
pub(super) fn command_key(node: &str, local: &str) -> String {
    format!("command:{node}:{local}")
}

impl Transport {
    /// disco#items of the commands node on a foreign address.
    pub(super) fn contact_commands(&self, to: &Jid, local: &str) -> Answer {
        let forms = match self.connector.parse_address(local) {
            Ok(chat) => self.forms_for(&chat),
            Err(e) => return Answer::Bridge(e),
        };
        let items = forms
            .iter()
            .map(|f| xmpp_parsers::disco::Item {
                jid: to.clone(),
                node: Some(f.node.to_string()),
                name: Some(f.name.clone()),
            })
            .collect();
        Answer::Result(Some(
            xmpp_parsers::disco::DiscoItemsResult {
                node: Some(crate::xmpp::ns::COMMANDS.to_string()),
                items,
                rsm: None,
            }
            .into(),
        ))
    }

    /// The commands on a foreign address: the bridge's, and on a group the channel
    /// settings, with the core's fields and the bridge's own.
    fn forms_for(&self, chat: &Chat) -> Vec<switchboard_bridge::CommandForm> {
        let mut forms = self.connector.commands_for(chat);
        forms.extend(self.connector.queries_for(chat));
        if matches!(chat, Chat::Group(_)) && self.connector.info().caps.groups {
            let bridge = self.bridge_room_form(chat);
            forms.retain(|f| f.node != ROOM_CONFIGURE);
            forms.push(room_form(bridge));
        }
        forms
    }

    /// A settings command on a foreign address: the form first, then the values, which are
    /// applied, stored, and applied again whenever the user's session opens.
    pub(super) async fn contact_command(
        self: &Arc<Self>,
        from: &Jid,
        local: &str,
        payload: &Element,
    ) -> Answer {
        let request = match adhoc::parse_request(payload) {
            Ok(r) => r,
            Err(text) => {
                return Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text)
            }
        };
        let chat = match self.connector.parse_address(local) {
            Ok(chat) => chat,
            Err(e) => return Answer::Bridge(e),
        };
        if let Chat::Group(group) = &chat {
            if request.node == ROOM_CONFIGURE && self.connector.info().caps.groups {
                return self
                    .room_command(from, group.clone(), request, payload)
                    .await;
            }
        }
        if let Some(query) = self
            .connector
            .queries_for(&chat)
            .into_iter()
            .find(|f| f.node == request.node)
        {
            return self.contact_query(from, &chat, query.node, &request).await;
        }
        let Some(form) = self
            .connector
            .commands_for(&chat)
            .into_iter()
            .find(|f| f.node == request.node)
        else {
            return Answer::Error(
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
                format!("no command '{}' here", request.node),
            );
        };
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return Answer::Bridge(e),
        };
        let session_id = request.session_id();
        if request.is_cancel() {
            return Answer::Result(Some(adhoc::canceled(form.node, &session_id)));
        }
        let key = command_key(form.node, local);
        let mut current: FormValues = match self.store.setting(&login, &key).await {
            Ok(Some(json)) => {
                let stored = serde_json::from_str(&json).unwrap_or_default();
                self.open_secrets(&login, &key, &form, &stored).0
            }
            Ok(None) => FormValues::new(),
            Err(e) => return storage_error(e),
        };
        let submitted = match adhoc::submitted(payload) {
            None => return Answer::Result(Some(adhoc::form_stage(&session_id, &form, &current))),
            Some(Err(text)) => {
                return Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text)
            }
            Some(Ok(values)) => values,
        };
        if let Err(text) = register::check_fields(&form.fields, &submitted) {
            return Answer::Error(ErrorType::Modify, DefinedCondition::NotAcceptable, text);
        }
        // An empty secret keeps the one stored (forms never show secrets back).
        for (name, value) in submitted {
            let secret = form
                .fields
                .iter()
                .any(|f| f.name == name && f.kind == FieldKind::Secret);
            if !(secret && value.is_empty()) {
                current.insert(name, value);
            }
        }
        let Some(session) = self.session_of(&login) else {
            return Answer::Bridge(BridgeError::NotLoggedIn);
        };
        if let Err(e) = session.configure(&chat, form.node, &current).await {
            return Answer::Bridge(e);
        }
        let stored = self.seal_secrets(&login, &key, &form, &current);
        let json = serde_json::to_string(&stored).unwrap_or_default();
        if let Err(e) = self.store.put_setting(&login, &key, &json).await {
            return storage_error(e);
        }
        tracing::info!(domain = %self.domain, login = %login, node = form.node, "Settings saved");
        Answer::Result(Some(adhoc::completed(
            form.node,
            &session_id,
            "Saved.",
            &[],
        )))
    }

    /// A read-only command on a foreign address: answered at once by the session.
    async fn contact_query(
        self: &Arc<Self>,
        from: &Jid,
        chat: &Chat,
        node: &'static str,
        request: &adhoc::Request,
    ) -> Answer {
        let session_id = request.session_id();
        if request.is_cancel() {
            return Answer::Result(Some(adhoc::canceled(node, &session_id)));
        }
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return Answer::Bridge(e),
        };
        let Some(session) = self.session_of(&login) else {
            return Answer::Bridge(BridgeError::NotLoggedIn);
        };
        match session.query(chat, node).await {
            Ok(note) => Answer::Result(Some(adhoc::completed(node, &session_id, &note, &[]))),
            Err(e) => Answer::Bridge(e),
        }
    }

    /// Applies every stored settings command to a session that just opened.
    pub(super) async fn replay_commands(&self, login: &LoginId, session: &Arc<dyn Session>) {
        let stored = match self.store.settings(login, "command:").await {
            Ok(stored) => stored,
            Err(e) => return tracing::warn!(error = %e, "Cannot read stored settings"),
        };
        for (key, json) in stored {
            let Some((node, local)) = key.strip_prefix("command:").and_then(|k| k.split_once(':'))
            else {
                continue;
            };
            let (Ok(chat), Ok(stored)) = (
                self.connector.parse_address(local),
                serde_json::from_str::<FormValues>(&json),
            ) else {
                continue;
            };
            let Some(form) = self
                .connector
                .commands_for(&chat)
                .into_iter()
                .find(|f| f.node == node)
            else {
                continue;
            };
            let (values, in_clear) = self.open_secrets(login, &key, &form, &stored);
            if in_clear {
                // Written before secrets were sealed: write it back sealed.
                let sealed = self.seal_secrets(login, &key, &form, &values);
                let json = serde_json::to_string(&sealed).unwrap_or_default();
                match self.store.put_setting(login, &key, &json).await {
                    Ok(()) => tracing::info!(login = %login, node, "Stored secrets sealed"),
                    Err(e) => tracing::warn!(error = %e, "Cannot seal stored secrets"),
                }
            }
            if let Err(e) = session.configure(&chat, node, &values).await {
                tracing::warn!(login = %login, node, error = %e, "Stored settings no longer apply");
            }
        }
    }
}
