//! The bridge's commands on the transport JID: admin commands (for `xmpp.admins`) and
//! user commands (for anyone who may use the gateway). Both show their form first, then
//! run with the submitted values, checked, and with JID fields normalised.

use super::iq::Answer;
use super::Transport;
use crate::xmpp::{adhoc, register};
use minidom::Element;
use switchboard_bridge::{CommandForm, FieldKind, FormValues, OWNER_KEY};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    /// A bridge's admin command: its form first, then the values, run by the bridge.
    pub(super) async fn bridge_admin_command(
        &self,
        form: &CommandForm,
        session: &str,
        payload: &Element,
    ) -> Answer {
        let values = match form_values(form, session, payload, None) {
            Ok(values) => values,
            Err(answer) => return answer,
        };
        match self.connector.admin_command(form.node, &values).await {
            Ok(note) => {
                tracing::info!(domain = %self.domain, node = form.node, "Admin command run");
                Answer::Result(Some(adhoc::completed(form.node, session, &note, &[])))
            }
            Err(e) => Answer::Bridge(e),
        }
    }

    /// A bridge's user command: like an admin command, but a form without fields runs at
    /// once, the bridge learns who runs it ([`OWNER_KEY`]), and the reply shows fields.
    pub(super) async fn bridge_user_command(
        &self,
        form: &CommandForm,
        session: &str,
        from: &Jid,
        payload: &Element,
    ) -> Answer {
        let values = match form_values(form, session, payload, Some(&from.to_bare())) {
            Ok(values) => values,
            Err(answer) => return answer,
        };
        match self.connector.user_command(form.node, &values).await {
            Ok(reply) => {
                tracing::info!(domain = %self.domain, node = form.node, "User command run");
                let fields: Vec<(&str, &str, String)> = reply
                    .fields
                    .iter()
                    .map(|f| (f.name, f.label, f.value.clone()))
                    .collect();
                Answer::Result(Some(adhoc::completed(
                    form.node,
                    session,
                    &reply.note,
                    &fields,
                )))
            }
            Err(e) => Answer::Bridge(e),
        }
    }
}

/// The values a command runs with, or the answer to give instead: the form stage when
/// nothing was submitted (unless a user command has no fields), or an error. With an
/// `owner`, it is set under [`OWNER_KEY`], whatever the user submitted there.
pub(super) fn form_values(
    form: &CommandForm,
    session: &str,
    payload: &Element,
    owner: Option<&xmpp_parsers::jid::BareJid>,
) -> Result<FormValues, Answer> {
    let mut submitted = match adhoc::submitted(payload) {
        None if owner.is_some() && form.fields.is_empty() => FormValues::new(),
        None => {
            return Err(Answer::Result(Some(adhoc::form_stage(
                session,
                form,
                &FormValues::new(),
            ))))
        }
        Some(Err(text)) => {
            return Err(Answer::Error(
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                text,
            ))
        }
        Some(Ok(values)) => values,
    };
    if owner.is_some() {
        submitted.remove(OWNER_KEY);
    }
    if let Err(text) = register::check_fields(&form.fields, &submitted) {
        return Err(Answer::Error(
            ErrorType::Modify,
            DefinedCondition::NotAcceptable,
            text,
        ));
    }
    let mut values = normalise_jids(&form.fields, submitted)
        .map_err(|text| Answer::Error(ErrorType::Modify, DefinedCondition::JidMalformed, text))?;
    if let Some(owner) = owner {
        values.insert(OWNER_KEY.into(), owner.to_string());
    }
    Ok(values)
}

/// JID fields of a form, checked and replaced by their normalised bare form.
fn normalise_jids(
    fields: &[switchboard_bridge::FormField],
    mut values: FormValues,
) -> Result<FormValues, String> {
    for f in fields.iter().filter(|f| f.kind == FieldKind::Jid) {
        if let Some(v) = values.get_mut(f.name) {
            let jid = xmpp_parsers::jid::BareJid::new(v.trim())
                .map_err(|e| format!("{}: '{}' is not a JID: {e}", f.label, v))?;
            *v = jid.to_string();
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use crate::transport::testing::Rig;
    use crate::watch::Hub;
    use std::sync::Arc;

    const DISCO: &str = "<iq xmlns='jabber:component:accept' type='get' id='d1' \
        from='{from}' to='mail.example.org'>\
        <query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>";

    fn execute(from: &str, node: &str, form: &str) -> String {
        format!(
            "<iq xmlns='jabber:component:accept' type='set' id='c1' from='{from}' to='mail.example.org'>\
             <command xmlns='http://jabber.org/protocol/commands' node='{node}' action='execute'>{form}</command></iq>"
        )
    }

    fn submit(fields: &[(&str, &str)]) -> String {
        let fields: String = fields
            .iter()
            .map(|(var, value)| format!("<field var='{var}'><value>{value}</value></field>"))
            .collect();
        format!("<x xmlns='jabber:x:data' type='submit'>{fields}</x>")
    }

    async fn rig() -> Rig {
        Rig::start("mail.example.org", Arc::new(Hub::default()), &[]).await
    }

    #[tokio::test]
    async fn users_see_user_commands_and_admins_see_all() {
        let mut rig = rig().await;
        rig.receive(&DISCO.replace("{from}", "alice@example.org/phone"))
            .await;
        let list = rig.sent().await;
        assert!(
            list.contains("<item jid='mail.example.org' name='My digests' node='digest-list'/>")
                && list.contains("node='digest-subscribe'")
                && !list.contains("node='status'"),
            "{list}"
        );
        rig.receive(&DISCO.replace("{from}", "admin@example.org/desk"))
            .await;
        let list = rig.sent().await;
        assert!(
            list.contains("node='status'") && list.contains("node='digest-list'"),
            "{list}"
        );
        // Someone outside xmpp.allow sees nothing.
        rig.receive(&DISCO.replace("{from}", "eve@evil.org/x"))
            .await;
        assert!(rig.sent().await.contains("<forbidden"));
    }

    #[tokio::test]
    async fn a_command_without_fields_runs_at_once_with_its_owner() {
        let mut rig = rig().await;
        rig.receive(&execute("Alice@Example.org/phone", "digest-list", ""))
            .await;
        let reply = rig.sent().await;
        assert!(
            reply.contains("type='result'")
                && reply.contains("status='completed'")
                && reply.contains("<note type='info'>digest-list done</note>")
                && reply.contains("<field label='Subscription' var='id'><value>42</value></field>"),
            "{reply}"
        );
        let ran = rig.connector.ran.lock().unwrap().clone();
        assert_eq!(ran.len(), 1);
        assert_eq!(ran[0].0, "digest-list");
        assert_eq!(
            ran[0].1.get("owner").map(String::as_str),
            Some("alice@example.org")
        );
    }

    #[tokio::test]
    async fn a_form_comes_first_then_checked_values_run() {
        let mut rig = rig().await;
        rig.receive(&execute("alice@example.org/phone", "digest-subscribe", ""))
            .await;
        let form = rig.sent().await;
        assert!(
            form.contains("status='executing'")
                && form.contains("type='jid-single' var='source'")
                && form.contains("<required/>"),
            "{form}"
        );
        assert!(rig.connector.ran.lock().unwrap().is_empty());
        // The owner cannot be chosen by the user; JIDs come normalised.
        let values = submit(&[
            ("source", "Lobby@Conference.EXAMPLE.org"),
            ("owner", "bob@example.org"),
        ]);
        rig.receive(&execute(
            "alice@example.org/phone",
            "digest-subscribe",
            &values,
        ))
        .await;
        let reply = rig.sent().await;
        assert!(reply.contains("status='completed'"), "{reply}");
        let (node, values) = rig.connector.ran.lock().unwrap()[0].clone();
        assert_eq!(node, "digest-subscribe");
        assert_eq!(values["owner"], "alice@example.org");
        assert_eq!(values["source"], "lobby@conference.example.org");
    }

    #[tokio::test]
    async fn bad_values_and_bridge_refusals_are_errors() {
        let mut rig = rig().await;
        let missing = submit(&[("every", "1d")]);
        rig.receive(&execute(
            "alice@example.org/p",
            "digest-subscribe",
            &missing,
        ))
        .await;
        let reply = rig.sent().await;
        assert!(
            reply.contains("type='error'") && reply.contains("<not-acceptable"),
            "{reply}"
        );
        let bad_jid = submit(&[("source", "not a jid@@")]);
        rig.receive(&execute(
            "alice@example.org/p",
            "digest-subscribe",
            &bad_jid,
        ))
        .await;
        assert!(rig.sent().await.contains("<jid-malformed"));
        assert!(rig.connector.ran.lock().unwrap().is_empty());
        let refused = submit(&[
            ("source", "lobby@conference.example.org"),
            ("every", "never"),
        ]);
        rig.receive(&execute(
            "alice@example.org/p",
            "digest-subscribe",
            &refused,
        ))
        .await;
        let reply = rig.sent().await;
        assert!(
            reply.contains("<not-acceptable") && reply.contains("is not a duration"),
            "{reply}"
        );
    }
}
