//! The `configure` command on a room JID (biboumi's channel settings).
//!
//! One form with the core's fields (`persistent`, `record_history`: see
//! [`super::bouncer`]) and the bridge's own fields for that group, if it has a
//! `configure` form there (the IRC bridge's `encoding_in`). Submitting some fields leaves
//! the others as they were. The core's fields are stored as the room's settings; the
//! bridge's are handed to the user's session, stored like every bridge settings command
//! and applied again whenever the session opens.

use super::iq::{storage_error, Answer};
use super::Transport;
use crate::xmpp::{adhoc, register};
use minidom::Element;
use std::sync::Arc;
use switchboard_bridge::{
    BridgeError, Chat, CommandForm, FieldKind, FormField, FormValues, GroupId,
};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

/// The channel settings command's node (biboumi's name).
pub(super) const ROOM_CONFIGURE: &str = "configure";

/// The core's fields of the form.
const CORE_FIELDS: [&str; 2] = ["persistent", "record_history"];

/// The channel settings form: the core's fields, then those of `bridge` (the bridge's
/// own `configure` form on the group, if any).
pub(super) fn room_form(bridge: Option<CommandForm>) -> CommandForm {
    let field = |name, label| FormField {
        name,
        label,
        kind: FieldKind::Flag,
        required: false,
    };
    let mut form = CommandForm {
        node: ROOM_CONFIGURE,
        name: "Channel settings".into(),
        instructions: "persistent: stay in the channel while you are away, and catch up when \
                       you come back. record_history: keep this channel's lines in your archive."
            .into(),
        fields: vec![
            field("persistent", "Stay in the channel while away"),
            field("record_history", "Archive this channel"),
        ],
    };
    if let Some(bridge) = bridge {
        form.instructions = format!("{} {}", form.instructions, bridge.instructions);
        form.fields.extend(
            bridge
                .fields
                .into_iter()
                .filter(|f| !CORE_FIELDS.contains(&f.name)),
        );
    }
    form
}

fn flag(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

impl Transport {
    /// The bridge's own `configure` form on a group, if it has one.
    pub(super) fn bridge_room_form(&self, chat: &Chat) -> Option<CommandForm> {
        self.connector
            .commands_for(chat)
            .into_iter()
            .find(|f| f.node == ROOM_CONFIGURE)
    }

    /// The `configure` command on a room JID: the form, then the submitted settings, stored
    /// and applied at once. Fields left out keep their values.
    pub(super) async fn room_command(
        self: &Arc<Self>,
        from: &Jid,
        group: GroupId,
        request: adhoc::Request,
        payload: &Element,
    ) -> Answer {
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return Answer::Bridge(e),
        };
        let session_id = request.session_id();
        if request.is_cancel() {
            return Answer::Result(Some(adhoc::canceled(ROOM_CONFIGURE, &session_id)));
        }
        let chat = Chat::Group(group.clone());
        let bridge_form = self.bridge_room_form(&chat);
        let bridge_key =
            super::adhoc::command_key(ROOM_CONFIGURE, &self.connector.format_address(&chat));
        let mut bridge_values: FormValues = match &bridge_form {
            None => FormValues::new(),
            Some(_) => match self.store.setting(&login, &bridge_key).await {
                Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_default(),
                Ok(None) => FormValues::new(),
                Err(e) => return storage_error(e),
            },
        };
        let form = room_form(bridge_form);
        let mut settings = self.room_settings(&login, &group).await;
        let submitted = match adhoc::submitted(payload) {
            None => {
                let mut current = bridge_values.clone();
                current.insert("persistent".into(), settings.persistent.to_string());
                current.insert("record_history".into(), settings.record_history.to_string());
                return Answer::Result(Some(adhoc::form_stage(&session_id, &form, &current)));
            }
            Some(Err(text)) => {
                return Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text)
            }
            Some(Ok(values)) => values,
        };
        if let Err(text) = register::check_fields(&form.fields, &submitted) {
            return Answer::Error(ErrorType::Modify, DefinedCondition::NotAcceptable, text);
        }
        let mut bridge_changed = false;
        for (name, value) in submitted {
            if !CORE_FIELDS.contains(&name.as_str()) {
                bridge_values.insert(name, value);
                bridge_changed = true;
                continue;
            }
            let Some(on) = flag(&value) else {
                return Answer::Error(
                    ErrorType::Modify,
                    DefinedCondition::NotAcceptable,
                    format!("{name} must be true or false"),
                );
            };
            match name.as_str() {
                "persistent" => settings.persistent = on,
                _ => settings.record_history = on,
            }
        }
        if bridge_changed {
            // The session checks the values first: nothing is stored that it refused (as
            // for every bridge settings command, so without a session nothing is).
            let Some(session) = self.session_of(&login) else {
                return Answer::Bridge(BridgeError::NotLoggedIn);
            };
            if let Err(e) = session
                .configure(&chat, ROOM_CONFIGURE, &bridge_values)
                .await
            {
                return Answer::Bridge(e);
            }
            let json = serde_json::to_string(&bridge_values).unwrap_or_default();
            if let Err(e) = self.store.put_setting(&login, &bridge_key, &json).await {
                return storage_error(e);
            }
        }
        if settings.persistent {
            let join = self
                .rooms()
                .get(&(login.clone(), group.clone()))
                .filter(|room| room.joined)
                .map(|room| (room.nick.clone(), room.joined_key.clone()));
            if let Some((nick, key)) = join {
                self.set_join(&login, &group, &mut settings, &nick, key.as_deref());
            }
        } else {
            // Kept only for rejoining a persistent channel.
            settings.key = None;
        }
        if let Err(e) = self.save_room_settings(&login, &group, &settings).await {
            return storage_error(e);
        }
        tracing::info!(domain = %self.domain, login = %login, group = %group, persistent = settings.persistent, record_history = settings.record_history, bridge_fields = bridge_changed, "Channel settings saved");
        self.apply_room_settings(&login, &group, &settings).await;
        Answer::Result(Some(adhoc::completed(
            ROOM_CONFIGURE,
            &session_id,
            "Saved.",
            &[],
        )))
    }
}

/// XEP-0045's owner namespace (room configuration).
pub(super) const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";

impl Transport {
    /// Room configuration the XEP-0045 way (§10.1): a `get` on `muc#owner` answers the
    /// channel settings form, a `set` with a submitted form saves it as the `configure`
    /// command does, and a cancelled form changes nothing.
    pub(super) async fn muc_owner(
        self: &Arc<Self>,
        from: &Jid,
        local: &str,
        payload: &Element,
        is_set: bool,
    ) -> Answer {
        let group = match self.connector.parse_address(local) {
            Ok(Chat::Group(group)) if self.connector.info().caps.groups => group,
            Ok(_) => {
                return Answer::Error(
                    ErrorType::Cancel,
                    DefinedCondition::FeatureNotImplemented,
                    "only rooms have a configuration".into(),
                )
            }
            Err(e) => return Answer::Bridge(e),
        };
        let cancelled = payload
            .get_child("x", xmpp_parsers::ns::DATA_FORMS)
            .is_some_and(|x| x.attr("type") == Some("cancel"));
        if is_set && cancelled {
            return Answer::Result(None);
        }
        if is_set && adhoc::submitted(payload).is_none() {
            return Answer::Error(
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                "a room configuration set needs a submitted data form".into(),
            );
        }
        let request = adhoc::Request {
            node: ROOM_CONFIGURE.into(),
            action: "execute".into(),
            session: None,
        };
        // Without a submitted form this answers the form stage; with one, it saves.
        let asked = if is_set {
            payload.clone()
        } else {
            Element::bare("query", MUC_OWNER)
        };
        match self.room_command(from, group, request, &asked).await {
            Answer::Result(_) if is_set => Answer::Result(None),
            Answer::Result(Some(command)) => {
                let mut query = Element::bare("query", MUC_OWNER);
                if let Some(x) = command.get_child("x", xmpp_parsers::ns::DATA_FORMS) {
                    query.append_child(x.clone());
                }
                Answer::Result(Some(query))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_the_core_fields_then_the_bridges() {
        assert_eq!(room_form(None).fields.len(), 2);
        let bridge = CommandForm {
            node: ROOM_CONFIGURE,
            name: "Bridge".into(),
            instructions: "encoding_in: how.".into(),
            fields: vec![
                FormField {
                    name: "encoding_in",
                    label: "Encoding",
                    kind: FieldKind::Text,
                    required: false,
                },
                // A bridge field named like a core one is the core's.
                FormField {
                    name: "persistent",
                    label: "Shadow",
                    kind: FieldKind::Text,
                    required: false,
                },
            ],
        };
        let form = room_form(Some(bridge));
        let names: Vec<_> = form.fields.iter().map(|f| f.name).collect();
        assert_eq!(names, ["persistent", "record_history", "encoding_in"]);
        assert_eq!(form.fields[0].kind, FieldKind::Flag);
        assert!(form.instructions.ends_with("encoding_in: how."));
    }

    #[test]
    fn flags_are_xep_0004_booleans() {
        assert_eq!(flag(" true"), Some(true));
        assert_eq!(flag("0"), Some(false));
        assert_eq!(flag("yes"), None);
    }
}
