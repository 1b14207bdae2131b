//! The core's ad-hoc commands besides `status`: `ping` and `hello` (biboumi's, for anyone:
//! is the gateway there, does a form round trip work) and `disconnect-user` (admins: a
//! user's rooms are closed and their foreign connections end).

use super::bridge_commands::form_values;
use super::iq::Answer;
use super::Transport;
use crate::xmpp::adhoc;
use crate::xmpp::muc::{self, OccupantPresence};
use minidom::Element;
use switchboard_bridge::{
    Availability, CommandForm, FieldKind, FormField, LoginId, PresenceUpdate,
};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::muc::user::Status;

/// The longest name `hello` greets.
const MAX_NAME: usize = 64;

fn hello_form() -> CommandForm {
    CommandForm {
        node: "hello",
        name: "Configure your name.".into(),
        instructions: "Please provide your name.".into(),
        fields: vec![FormField {
            name: "name",
            label: "Your name",
            kind: FieldKind::Text,
            required: true,
        }],
    }
}

fn disconnect_form() -> CommandForm {
    CommandForm {
        node: "disconnect-user",
        name: "Disconnect a user".into(),
        instructions: "The user leaves every room and every foreign connection of theirs ends; \
                       their settings stay, and joining again connects again."
            .into(),
        fields: vec![FormField {
            name: "jid",
            label: "User (bare JID)",
            kind: FieldKind::Jid,
            required: true,
        }],
    }
}

impl Transport {
    /// `ping`: answered at once.
    pub(super) fn ping_command(&self, session: &str) -> Answer {
        Answer::Result(Some(adhoc::completed("ping", session, "Pong", &[])))
    }

    /// `hello`: a form asking a name, then a greeting.
    pub(super) fn hello_command(&self, session: &str, payload: &Element) -> Answer {
        let values = match form_values(&hello_form(), session, payload, None) {
            Ok(values) => values,
            Err(answer) => return answer,
        };
        let name: String = values
            .get("name")
            .map(|n| n.trim().chars().take(MAX_NAME).collect())
            .unwrap_or_default();
        Answer::Result(Some(adhoc::completed(
            "hello",
            session,
            &format!("Hello {name}!"),
            &[],
        )))
    }

    /// `disconnect-user`: the form, then the user disconnected.
    pub(super) async fn disconnect_command(&self, session: &str, payload: &Element) -> Answer {
        let values = match form_values(&disconnect_form(), session, payload, None) {
            Ok(values) => values,
            Err(answer) => return answer,
        };
        let user = values.get("jid").and_then(|j| BareJid::new(j).ok());
        let login = user.and_then(|u| self.sessions().login_of(&u));
        let count = match login {
            Some(login) => {
                self.disconnect_user(&login).await;
                1
            }
            None => 0,
        };
        let note = match count {
            1 => "1 user has been disconnected.".to_string(),
            n => format!("{n} users have been disconnected."),
        };
        Answer::Result(Some(adhoc::completed(
            "disconnect-user",
            session,
            &note,
            &[],
        )))
    }

    /// Every room of `login` closes for its resources (110 + 307, kicked by the gateway)
    /// and its foreign connections go offline.
    async fn disconnect_user(&self, login: &LoginId) {
        tracing::info!(domain = %self.domain, login = %login, "Disconnecting a user on an admin's word");
        let closed: Vec<_> = {
            let mut rooms = self.rooms();
            let mine: Vec<_> = rooms.keys().filter(|(l, _)| l == login).cloned().collect();
            mine.into_iter()
                .filter_map(|key| rooms.remove(&key).map(|room| (key.1, room)))
                .collect()
        };
        for (group, room) in closed {
            self.archive_left(login, &group).await;
            let Some(room_jid) = self.room_jid(&group) else {
                continue;
            };
            let Some(me) = muc::occupant(&room_jid, &room.nick) else {
                continue;
            };
            for resource in room.resources.iter().chain(room.pending.iter()) {
                let p = OccupantPresence {
                    unavailable: true,
                    statuses: vec![Status::Kicked, Status::SelfPresence],
                    reason: Some("disconnected by the gateway's admin"),
                    ..Default::default()
                };
                self.forward_stanza(muc::occupant_presence(me.clone(), resource, &p))
                    .await;
            }
        }
        if let Some(session) = self.session_of(login) {
            let offline = PresenceUpdate {
                availability: Availability::Offline,
                status: None,
            };
            if let Err(e) = session.set_presence(offline).await {
                tracing::debug!(error = %e, "The network takes no presence");
            }
        }
    }
}
