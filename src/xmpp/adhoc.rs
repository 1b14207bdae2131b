//! XEP-0050 ad-hoc commands: listing, and single-stage execution with a result form.
//!
//! A command here answers at once (status `completed`) with a note and result fields.
//! Multi-stage commands with forms (per-user settings) come with the bridges that need
//! them, through the same [`Command`] list.

use super::form::{data_form, field, set_attr, text_el};
use super::ns::COMMANDS;
use minidom::Element;
use switchboard_bridge::{CommandForm, FieldKind, FormValues};
use xmpp_parsers::data_forms::{DataFormType, FieldType};
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns;

/// A command a transport offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Its node, e.g. `status`.
    pub node: &'static str,
    /// Its human name.
    pub name: std::borrow::Cow<'static, str>,
    /// Only `xmpp.admins` may see and run it.
    pub admin_only: bool,
}

/// The core's own commands.
pub const CORE_COMMANDS: &[Command] = &[
    Command {
        node: "status",
        name: std::borrow::Cow::Borrowed("Gateway status"),
        admin_only: true,
    },
    Command {
        node: "disconnect-user",
        name: std::borrow::Cow::Borrowed("Disconnect a user"),
        admin_only: true,
    },
    Command {
        node: "ping",
        name: std::borrow::Cow::Borrowed("Ping the gateway"),
        admin_only: false,
    },
    Command {
        node: "hello",
        name: std::borrow::Cow::Borrowed("Say hello"),
        admin_only: false,
    },
];

/// The commands `is_admin` may see, as disco#items on the commands node.
pub fn list(transport: &Jid, commands: &[Command], is_admin: bool) -> DiscoItemsResult {
    DiscoItemsResult {
        node: Some(COMMANDS.to_string()),
        items: commands
            .iter()
            .filter(|c| is_admin || !c.admin_only)
            .map(|c| Item {
                jid: transport.clone(),
                node: Some(c.node.to_string()),
                name: Some(c.name.to_string()),
            })
            .collect(),
        rsm: None,
    }
}

/// disco#info of one command node.
pub fn node_info(command: &Command) -> DiscoInfoResult {
    DiscoInfoResult {
        node: Some(command.node.to_string()),
        identities: vec![Identity::new(
            "automation",
            "command-node",
            "en",
            command.name.to_string(),
        )],
        features: [COMMANDS, ns::DATA_FORMS]
            .into_iter()
            .map(String::from)
            .collect(),
        extensions: vec![],
    }
}

/// What a request on the commands namespace asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// The command node.
    pub node: String,
    /// `execute` (also when absent), `cancel`, …
    pub action: String,
    /// The session id when continuing a session.
    pub session: Option<String>,
}

impl Request {
    /// The session this request continues, or a fresh id for a new one.
    pub fn session_id(&self) -> String {
        self.session
            .clone()
            .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()))
    }

    /// Whether the request cancels its session.
    pub fn is_cancel(&self) -> bool {
        self.action == "cancel"
    }
}

/// Reads `<command xmlns='http://jabber.org/protocol/commands' node='…' action='…'/>`.
pub fn parse_request(command: &Element) -> Result<Request, String> {
    let node = command
        .attr("node")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| "the command has no node".to_string())?;
    Ok(Request {
        node: node.to_string(),
        action: command.attr("action").unwrap_or("execute").to_string(),
        session: command.attr("sessionid").map(str::to_string),
    })
}

/// A completed command: a note and result fields (label, value).
pub fn completed(
    node: &str,
    session: &str,
    note: &str,
    fields: &[(&str, &str, String)],
) -> Element {
    let mut cmd = Element::bare("command", COMMANDS);
    set_attr(&mut cmd, "node", node);
    set_attr(&mut cmd, "sessionid", session);
    set_attr(&mut cmd, "status", "completed");
    let mut note_el = text_el("note", COMMANDS, note);
    set_attr(&mut note_el, "type", "info");
    cmd.append_child(note_el);
    let fields = fields
        .iter()
        .map(|(var, label, value)| field(var, FieldType::TextSingle, label, false, Some(value)))
        .collect();
    cmd.append_child(data_form(DataFormType::Result_, "", Some(note), None, fields).into());
    cmd
}

/// The first stage of a settings command: a form with the current values (never secrets).
pub fn form_stage(session: &str, form: &CommandForm, current: &FormValues) -> Element {
    let mut cmd = Element::bare("command", COMMANDS);
    set_attr(&mut cmd, "node", form.node);
    set_attr(&mut cmd, "sessionid", session);
    set_attr(&mut cmd, "status", "executing");
    let mut actions = Element::bare("actions", COMMANDS);
    set_attr(&mut actions, "execute", "complete");
    actions.append_child(Element::bare("complete", COMMANDS));
    cmd.append_child(actions);
    let fields = form
        .fields
        .iter()
        .map(|f| {
            let (type_, value) = match f.kind {
                FieldKind::Text => (
                    FieldType::TextSingle,
                    current.get(f.name).map(String::as_str),
                ),
                FieldKind::Secret => (FieldType::TextPrivate, None),
                FieldKind::Flag => (FieldType::Boolean, current.get(f.name).map(String::as_str)),
                FieldKind::Jid => (
                    FieldType::JidSingle,
                    current.get(f.name).map(String::as_str),
                ),
                FieldKind::Lines => {
                    let mut multi = field(f.name, FieldType::TextMulti, f.label, f.required, None);
                    if let Some(lines) = current.get(f.name).filter(|v| !v.is_empty()) {
                        multi.values = lines
                            .split('\n')
                            .map(|l| crate::xmpp::text::xml_text(l).into_owned())
                            .collect();
                    }
                    return multi;
                }
            };
            field(f.name, type_, f.label, f.required, value)
        })
        .collect();
    let x = data_form(
        DataFormType::Form,
        "",
        Some(&form.name),
        Some(&form.instructions),
        fields,
    );
    cmd.append_child(x.into());
    cmd
}

/// The values of a submitted form in a command, if the command carries one.
pub fn submitted(command: &Element) -> Option<Result<FormValues, String>> {
    let x = command.get_child("x", ns::DATA_FORMS)?;
    Some(crate::xmpp::register::form_values(x))
}

/// The answer to `action='cancel'`.
pub fn canceled(node: &str, session: &str) -> Element {
    let mut cmd = Element::bare("command", COMMANDS);
    set_attr(&mut cmd, "node", node);
    set_attr(&mut cmd, "sessionid", session);
    set_attr(&mut cmd, "status", "canceled");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;

    #[test]
    fn admins_see_admin_commands_others_do_not() {
        let me = Jid::new("echo.test").unwrap();
        let nodes = |admin| -> Vec<String> {
            list(&me, CORE_COMMANDS, admin)
                .items
                .into_iter()
                .filter_map(|i| i.node)
                .collect()
        };
        assert_eq!(nodes(false), ["ping", "hello"]);
        assert_eq!(nodes(true), ["status", "disconnect-user", "ping", "hello"]);
        let xml = element_xml(list(&me, &CORE_COMMANDS[..1], true));
        assert_eq!(
            xml,
            "<query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'>\
             <item jid='echo.test' name='Gateway status' node='status'/></query>"
        );
    }

    #[test]
    fn settings_forms_show_values_but_not_secrets_and_read_submissions() {
        use switchboard_bridge::FormField;
        let form = CommandForm {
            node: "configure",
            name: "Settings".into(),
            instructions: "Set them.".into(),
            fields: vec![
                FormField {
                    name: "nick",
                    label: "Nick",
                    kind: FieldKind::Text,
                    required: false,
                },
                FormField {
                    name: "pw",
                    label: "Password",
                    kind: FieldKind::Secret,
                    required: false,
                },
            ],
        };
        let current = FormValues::from([
            ("nick".into(), "ann".into()),
            ("pw".into(), "hunter2".into()),
        ]);
        let xml = element_xml(form_stage("s1", &form, &current));
        assert!(
            xml.contains("status='executing'")
                && xml.contains("<actions execute='complete'><complete/></actions>"),
            "{xml}"
        );
        assert!(
            xml.contains("<value>ann</value>") && !xml.contains("hunter2"),
            "{xml}"
        );
        let submit: Element = "<command xmlns='http://jabber.org/protocol/commands' node='configure' sessionid='s1'>\
            <x xmlns='jabber:x:data' type='submit'><field var='nick'><value>bob</value></field></x></command>".parse().unwrap();
        assert_eq!(
            submitted(&submit).unwrap().unwrap(),
            FormValues::from([("nick".into(), "bob".into())])
        );
        let bare: Element =
            "<command xmlns='http://jabber.org/protocol/commands' node='configure'/>"
                .parse()
                .unwrap();
        assert!(submitted(&bare).is_none());
    }

    #[test]
    fn lines_are_a_text_multi_field_one_value_per_line() {
        use switchboard_bridge::FormField;
        let form = CommandForm {
            node: "configure",
            name: "Settings".into(),
            instructions: String::new(),
            fields: vec![FormField {
                name: "cmds",
                label: "Commands",
                kind: FieldKind::Lines,
                required: false,
            }],
        };
        let current = FormValues::from([("cmds".into(), "WHO a\nMODE b +x".into())]);
        let xml = element_xml(form_stage("s1", &form, &current));
        assert!(
            xml.contains("type='text-multi' var='cmds'")
                && xml.contains("<value>WHO a</value><value>MODE b +x</value>"),
            "{xml}"
        );
        let submit: Element = "<command xmlns='http://jabber.org/protocol/commands' node='configure' sessionid='s1'>\
            <x xmlns='jabber:x:data' type='submit'><field var='cmds'><value>one</value><value>two</value></field></x></command>".parse().unwrap();
        assert_eq!(
            submitted(&submit).unwrap().unwrap(),
            FormValues::from([("cmds".into(), "one\ntwo".into())])
        );
    }

    #[test]
    fn parses_requests() {
        let e: Element = "<command xmlns='http://jabber.org/protocol/commands' node='status'/>"
            .parse()
            .unwrap();
        assert_eq!(
            parse_request(&e).unwrap(),
            Request {
                node: "status".into(),
                action: "execute".into(),
                session: None
            }
        );
        let e: Element = "<command xmlns='http://jabber.org/protocol/commands'/>"
            .parse()
            .unwrap();
        assert_eq!(parse_request(&e).unwrap_err(), "the command has no node");
        let e: Element = "<command xmlns='http://jabber.org/protocol/commands' node='c' sessionid='s1' action='cancel'/>"
            .parse()
            .unwrap();
        let r = parse_request(&e).unwrap();
        assert!(r.is_cancel());
        assert_eq!(r.session_id(), "s1");
        let fresh = parse_request(
            &"<command xmlns='http://jabber.org/protocol/commands' node='c'/>"
                .parse()
                .unwrap(),
        )
        .unwrap();
        assert!(!fresh.is_cancel());
        assert_eq!(fresh.session_id().len(), 16);
        assert_ne!(fresh.session_id(), fresh.session_id());
    }

    #[test]
    fn completed_has_note_and_result_form() {
        let xml = element_xml(completed(
            "status",
            "s1",
            "All good",
            &[("users", "Users", "3".into())],
        ));
        assert!(xml.starts_with("<command xmlns='http://jabber.org/protocol/commands' node='status' sessionid='s1' status='completed'><note type='info'>All good</note>"), "{xml}");
        assert!(xml.contains("<x xmlns='jabber:x:data' type='result'><title>All good</title><field label='Users' var='users'><value>3</value></field></x>"), "{xml}");
    }
}
