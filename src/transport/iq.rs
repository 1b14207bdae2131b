//! IQ requests to the transport and its contacts: disco, version, ping, registration,
//! gateway prompts and ad-hoc commands.

use super::Transport;
use crate::xmpp::address::{self, escape, Target};
use crate::xmpp::ns::{COMMANDS, GATEWAY};
use crate::xmpp::register::{self, Submission};
use crate::xmpp::{adhoc, directory, disco, presence as build, version};
use minidom::Element;
use std::sync::Arc;
use switchboard_bridge::{BridgeError, Chat};

/// XEP-0045 moderation.
const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoItemsQuery, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::ns;
use xmpp_parsers::presence::Type;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

/// What an IQ handler answers.
pub(super) enum Answer {
    Result(Option<Element>),
    Error(ErrorType, DefinedCondition, String),
    Bridge(BridgeError),
    Stanza(Box<xmpp_parsers::stanza_error::StanzaError>),
}

pub(super) fn unsupported(what: &str) -> Answer {
    Answer::Error(
        ErrorType::Cancel,
        DefinedCondition::ServiceUnavailable,
        format!("{what} is not supported here"),
    )
}

impl Transport {
    pub(super) async fn handle_iq(self: &Arc<Self>, from: Jid, iq: Iq) {
        let (to, id, payload, is_set) = match &iq {
            Iq::Get {
                to, id, payload, ..
            } => (to.clone(), id.clone(), payload.clone(), false),
            Iq::Set {
                to, id, payload, ..
            } => (to.clone(), id.clone(), payload.clone(), true),
            Iq::Result { .. } | Iq::Error { .. } => return,
        };
        let Some(to) = to else { return };
        let target = address::target(&to);
        let answer = match (&target, is_set) {
            (
                Target::Contact {
                    local,
                    resource: Some(nick),
                },
                false,
            ) if payload.is("ping", ns::PING) => self.occupant_ping(&from, local, nick),
            (_, false) if payload.is("ping", ns::PING) => Answer::Result(None),
            (Target::Transport, false) => self.transport_get(&from, &payload).await,
            (Target::Transport, true) => self.transport_set(&from, &payload).await,
            (
                Target::Contact {
                    local,
                    resource: None,
                },
                _,
            ) if payload.is("query", disco::MAM) => {
                self.mam_iq(&from, local, &payload, is_set).await
            }
            (
                Target::Contact {
                    local,
                    resource: None,
                },
                _,
            ) if payload.is("query", super::room_configure::MUC_OWNER) => {
                self.muc_owner(&from, local, &payload, is_set).await
            }
            (Target::Contact { local, .. }, false) => {
                self.contact_get(&from, local, &payload).await
            }
            (Target::Contact { local, .. }, true) if payload.is("command", COMMANDS) => {
                self.contact_command(&from, local, &payload).await
            }
            (Target::Contact { local, .. }, true) if payload.is("query", MUC_ADMIN) => {
                self.muc_admin(&from, local, &payload).await
            }
            (Target::Contact { .. }, true) => unsupported("this request"),
        };
        let stanza = Stanza::Iq(iq);
        match answer {
            Answer::Result(payload) => {
                self.reply(Iq::Result {
                    from: Some(to),
                    to: Some(from),
                    id,
                    payload,
                });
            }
            Answer::Error(type_, condition, text) => {
                self.reply_error(&stanza, type_, condition, text)
            }
            Answer::Bridge(e) => self.reply_bridge_error(&stanza, &e),
            Answer::Stanza(e) => {
                if let Some(reply) = crate::xmpp::errors::reply(&stanza, *e) {
                    self.reply(reply);
                }
            }
        }
    }

    async fn transport_get(self: &Arc<Self>, from: &Jid, payload: &Element) -> Answer {
        let info = self.connector.info();
        if payload.is("query", ns::DISCO_INFO) {
            let node = DiscoInfoQuery::try_from(payload.clone())
                .ok()
                .and_then(|q| q.node);
            return match node {
                None => Answer::Result(Some(disco::transport_info(info).into())),
                Some(node) => match self.command(&node, from) {
                    Some(cmd) => Answer::Result(Some(adhoc::node_info(&cmd).into())),
                    None => Answer::Error(
                        ErrorType::Cancel,
                        DefinedCondition::ItemNotFound,
                        format!("no node '{node}'"),
                    ),
                },
            };
        }
        if payload.is("query", ns::DISCO_ITEMS) {
            let node = DiscoItemsQuery::try_from(payload.clone())
                .ok()
                .and_then(|q| q.node);
            return match node.as_deref() {
                Some(COMMANDS) => {
                    let is_admin = self.access.is_admin(from);
                    Answer::Result(Some(
                        adhoc::list(&self.me, &self.commands(), is_admin).into(),
                    ))
                }
                // The transport's JID standing for a network lists its channels.
                None => match self.connector.transport_chat() {
                    Some(chat) => self.directory(from, &chat, payload).await,
                    None => Answer::Result(Some(
                        DiscoItemsResult {
                            node: None,
                            items: vec![],
                            rsm: None,
                        }
                        .into(),
                    )),
                },
                Some(node) => Answer::Error(
                    ErrorType::Cancel,
                    DefinedCondition::ItemNotFound,
                    format!("no node '{node}'"),
                ),
            };
        }
        if payload.is("query", ns::VERSION) {
            return Answer::Result(Some(version::version().into()));
        }
        if payload.is("query", ns::REGISTER) {
            let current = match self
                .store
                .registration(&self.domain, from.to_bare().as_str())
                .await
            {
                Ok(reg) => reg.map(|r| r.data),
                Err(e) => return storage_error(e),
            };
            let form = self.connector.registration_form();
            return Answer::Result(Some(register::form_query(&form, current.as_ref())));
        }
        if payload.is("query", GATEWAY) {
            let desc = format!("Enter the {} address of the contact.", info.display_name);
            return Answer::Result(Some(register::gateway_prompt(&desc, info.prompt)));
        }
        unsupported(&format!("<{} xmlns='{}'/>", payload.name(), payload.ns()))
    }

    async fn transport_set(self: &Arc<Self>, from: &Jid, payload: &Element) -> Answer {
        if payload.is("query", ns::REGISTER) {
            return match register::parse_submission(payload) {
                Ok(Submission::Remove) => self.unregister(&from.to_bare()).await,
                Ok(Submission::Values(values)) => self.register(&from.to_bare(), values).await,
                Err(text) => Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text),
            };
        }
        if payload.is("query", GATEWAY) {
            let Some(input) = register::gateway_input(payload) else {
                return Answer::Error(
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    "the prompt is empty".into(),
                );
            };
            return match self.connector.parse_address(&input) {
                Ok(chat) => {
                    let local = escape(&self.connector.format_address(&chat));
                    Answer::Result(Some(register::gateway_jid(&format!(
                        "{local}@{}",
                        self.domain
                    ))))
                }
                Err(e) => Answer::Bridge(e),
            };
        }
        if payload.is("command", COMMANDS) {
            return self.execute_command(from, payload).await;
        }
        unsupported(&format!("<{} xmlns='{}'/>", payload.name(), payload.ns()))
    }

    /// XEP-0045 moderation: a role change to `none` kicks (IRC KICK); other changes are
    /// not bridged yet.
    async fn muc_admin(self: &Arc<Self>, from: &Jid, local: &str, query: &Element) -> Answer {
        let group = match self.connector.parse_address(local) {
            Ok(Chat::Group(group)) => group,
            Ok(Chat::Direct(_)) => return unsupported("moderation of a contact"),
            Err(e) => return Answer::Bridge(e),
        };
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return Answer::Bridge(e),
        };
        if !self.in_room(&login, &group, from) {
            return Answer::Error(
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                "you are not in this room".into(),
            );
        }
        let Some(session) = self.session_of(&login) else {
            return Answer::Bridge(BridgeError::NotLoggedIn);
        };
        for item in query.children().filter(|c| c.is("item", MUC_ADMIN)) {
            let (Some(nick), Some("none")) = (item.attr("nick"), item.attr("role")) else {
                return Answer::Error(
                    ErrorType::Cancel,
                    DefinedCondition::FeatureNotImplemented,
                    "only kicks (role none, by nick) are bridged to this network".into(),
                );
            };
            let reason = item.get_child("reason", MUC_ADMIN).map(Element::text);
            if let Err(e) = session.kick(&group, nick, reason.as_deref()).await {
                return Answer::Bridge(e);
            }
        }
        Answer::Result(None)
    }

    async fn contact_get(self: &Arc<Self>, from: &Jid, local: &str, payload: &Element) -> Answer {
        let chat = match self.connector.parse_address(local) {
            Ok(chat) => chat,
            Err(e) => return Answer::Bridge(e),
        };
        if payload.is("query", ns::DISCO_INFO) {
            let non_anonymous = match &chat {
                Chat::Group(group) => self.non_anonymous(group),
                Chat::Direct(_) => false,
            };
            let info = disco::contact_info(
                self.connector.info(),
                &chat,
                local,
                self.archive.is_some(),
                non_anonymous,
            );
            return Answer::Result(Some(info.into()));
        }
        if payload.is("query", ns::DISCO_ITEMS) {
            let node = DiscoItemsQuery::try_from(payload.clone())
                .ok()
                .and_then(|q| q.node);
            if node.as_deref() == Some(COMMANDS) {
                let to = Jid::new(&format!("{}@{}", escape(local), self.domain));
                return match to {
                    Ok(to) => self.contact_commands(&to, local),
                    Err(_) => unsupported("commands here"),
                };
            }
            return self.directory(from, &chat, payload).await;
        }
        unsupported(&format!("<{} xmlns='{}'/>", payload.name(), payload.ns()))
    }

    /// disco#items on a foreign JID: the groups it lists (an IRC network's channels),
    /// paged with XEP-0059; empty where the network has no directory.
    async fn directory(self: &Arc<Self>, from: &Jid, chat: &Chat, payload: &Element) -> Answer {
        let empty = || {
            Answer::Result(Some(
                DiscoItemsResult {
                    node: None,
                    items: vec![],
                    rsm: None,
                }
                .into(),
            ))
        };
        if let Chat::Group(_) = chat {
            return empty();
        }
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(_) => return empty(),
        };
        let Some(session) = self.session_of(&login) else {
            return empty();
        };
        let listings = match session.list_groups(chat).await {
            Ok(listings) => listings,
            Err(BridgeError::Unsupported(_)) => return empty(),
            Err(e) => return Answer::Bridge(e),
        };
        let rsm = DiscoItemsQuery::try_from(payload.clone())
            .ok()
            .and_then(|q| q.rsm);
        let domain = self.domain.clone();
        let connector = self.connector.clone();
        let result = directory::page(listings, rsm.as_ref(), |group| {
            let local = escape(&connector.format_address(&Chat::Group(group.clone())));
            Jid::new(&format!("{local}@{domain}")).ok()
        });
        Answer::Result(Some(result.into()))
    }

    async fn register(
        self: &Arc<Self>,
        jid: &BareJid,
        values: switchboard_bridge::FormValues,
    ) -> Answer {
        let form = self.connector.registration_form();
        if let Err(text) = register::check_values(&form, &values) {
            return Answer::Error(ErrorType::Modify, DefinedCondition::NotAcceptable, text);
        }
        // The bridge learns who registers (to keep names such as mail aliases unique).
        let mut values = values;
        values.insert(switchboard_bridge::OWNER_KEY.into(), jid.to_string());
        let data = match self.connector.register(&values).await {
            Ok(data) => data,
            Err(e) => return Answer::Bridge(e),
        };
        let reg = match self
            .store
            .put_registration(&self.domain, jid.as_str(), &data)
            .await
        {
            Ok(reg) => reg,
            Err(e) => return storage_error(e),
        };
        if let Err(e) = self.open_session(&reg).await {
            return Answer::Bridge(e);
        }
        tracing::info!(domain = %self.domain, login = %reg.login, "User registered");
        // XEP-0100: the transport asks to be in the user's roster.
        let user: Jid = jid.clone().into();
        self.reply(build::simple(Type::Subscribe, &self.me, &user));
        self.send_transport_presence(&user).await;
        Answer::Result(None)
    }

    async fn unregister(self: &Arc<Self>, jid: &BareJid) -> Answer {
        let removed = match self
            .store
            .delete_registration(&self.domain, jid.as_str())
            .await
        {
            Ok(removed) => removed,
            Err(e) => return storage_error(e),
        };
        let Some(reg) = removed else {
            return Answer::Error(
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
                "you are not registered".into(),
            );
        };
        if let Some(session) = self.close_session(&reg.login).await {
            if let Err(e) = session.logout().await {
                tracing::warn!(login = %reg.login, error = %e, "Foreign logout failed");
            }
        }
        tracing::info!(domain = %self.domain, login = %reg.login, "User unregistered");
        let user: Jid = jid.clone().into();
        self.reply(build::simple(Type::Unsubscribe, &self.me, &user));
        self.reply(build::simple(Type::Unsubscribed, &self.me, &user));
        self.reply(build::simple(Type::Unavailable, &self.me, &user));
        Answer::Result(None)
    }
}

pub(super) fn storage_error(e: crate::error::Error) -> Answer {
    tracing::error!(error = %e, "Storage failed");
    Answer::Error(
        ErrorType::Wait,
        DefinedCondition::InternalServerError,
        "the gateway cannot reach its storage right now; try again later".into(),
    )
}
