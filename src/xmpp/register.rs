//! XEP-0077 in-band registration with a transport, and XEP-0100 gateway prompts.

use super::form::{data_form, field, text_el};
use super::ns::GATEWAY;
use minidom::Element;
use switchboard_bridge::{FieldKind, FormValues, LoginData, RegistrationForm};
use xmpp_parsers::data_forms::{DataForm, DataFormType, FieldType};
use xmpp_parsers::ns;

/// XEP-0077 field names that old clients show without data forms.
const LEGACY_FIELDS: &[&str] = &[
    "username", "nick", "password", "name", "first", "last", "email", "address", "city", "state",
    "zip", "phone", "url", "date",
];

/// The registration form, filled with the current values when already registered.
/// Secret values are never sent back.
pub fn form_query(form: &RegistrationForm, current: Option<&LoginData>) -> Element {
    let mut query = Element::builder("query", ns::REGISTER)
        .append(text_el(
            "instructions",
            ns::REGISTER,
            form.instructions.clone(),
        ))
        .build();
    if current.is_some() {
        query.append_child(Element::bare("registered", ns::REGISTER));
    }
    let value_of = |name: &str, kind: FieldKind| {
        current
            .filter(|_| kind != FieldKind::Secret)
            .and_then(|d| d.get(name))
            .cloned()
    };
    for f in form
        .fields
        .iter()
        .filter(|f| LEGACY_FIELDS.contains(&f.name))
    {
        query.append_child(text_el(
            f.name,
            ns::REGISTER,
            value_of(f.name, f.kind).unwrap_or_default(),
        ));
    }
    let fields = form
        .fields
        .iter()
        .map(|f| {
            let type_ = match f.kind {
                FieldKind::Text => FieldType::TextSingle,
                FieldKind::Secret => FieldType::TextPrivate,
                FieldKind::Flag => FieldType::Boolean,
                FieldKind::Jid => FieldType::JidSingle,
                FieldKind::Lines => FieldType::TextMulti,
            };
            field(
                f.name,
                type_,
                f.label,
                f.required,
                value_of(f.name, f.kind).as_deref(),
            )
        })
        .collect();
    let x = data_form(
        DataFormType::Form,
        ns::REGISTER,
        Some("Registration"),
        Some(&form.instructions),
        fields,
    );
    query.append_child(x.into());
    query
}

/// What a user submitted with `<iq type='set'><query xmlns='jabber:iq:register'>`.
#[derive(Debug, PartialEq, Eq)]
pub enum Submission {
    /// `<remove/>`: unregister.
    Remove,
    /// Field values (from a data form if present, else the legacy child elements).
    Values(FormValues),
}

/// Reads a registration submission.
pub fn parse_submission(query: &Element) -> Result<Submission, String> {
    if query.has_child("remove", ns::REGISTER) {
        return Ok(Submission::Remove);
    }
    if let Some(x) = query.get_child("x", ns::DATA_FORMS) {
        return form_values(x).map(Submission::Values);
    }
    let values = query
        .children()
        .filter(|c| c.ns() == ns::REGISTER && LEGACY_FIELDS.contains(&c.name()))
        .map(|c| (c.name().to_string(), c.text()))
        .collect();
    Ok(Submission::Values(values))
}

/// The values of a submitted data form (`<x type='submit'>`), by field name.
pub fn form_values(x: &Element) -> Result<FormValues, String> {
    let form = DataForm::try_from(x.clone()).map_err(|e| format!("bad data form: {e}"))?;
    if form.type_ != DataFormType::Submit {
        return Err("the data form must be of type 'submit'".into());
    }
    Ok(form
        .fields
        .into_iter()
        .filter(|f| f.var.as_deref().is_some_and(|v| v != "FORM_TYPE"))
        .filter_map(|f| Some((f.var?, f.values.join("\n"))))
        .collect())
}

/// Checks submitted values against the form: required fields present, nothing unknown.
pub fn check_values(form: &RegistrationForm, values: &FormValues) -> Result<(), String> {
    check_fields(&form.fields, values)
}

/// [`check_values`] for any list of fields.
pub fn check_fields(
    fields: &[switchboard_bridge::FormField],
    values: &FormValues,
) -> Result<(), String> {
    for f in fields {
        if f.required && values.get(f.name).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("the field '{}' ({}) is required", f.name, f.label));
        }
    }
    if let Some(unknown) = values.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
        return Err(format!("unknown field '{unknown}'"));
    }
    Ok(())
}

/// XEP-0100 `jabber:iq:gateway` answer to a get: description and prompt.
pub fn gateway_prompt(desc: &str, prompt: &str) -> Element {
    Element::builder("query", GATEWAY)
        .append(text_el("desc", GATEWAY, desc))
        .append(text_el("prompt", GATEWAY, prompt))
        .build()
}

/// The user's input from an XEP-0100 set.
pub fn gateway_input(query: &Element) -> Option<String> {
    query
        .get_child("prompt", GATEWAY)
        .map(|p| p.text().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// XEP-0100 answer to a set: the contact's JID.
pub fn gateway_jid(jid: &str) -> Element {
    let mut q = Element::bare("query", GATEWAY);
    q.append_child(text_el("jid", GATEWAY, jid));
    // Older clients read the answer from <prompt/>.
    q.append_child(text_el("prompt", GATEWAY, jid));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;
    use switchboard_bridge::FormField;

    fn form() -> RegistrationForm {
        RegistrationForm {
            instructions: "Choose a name.".into(),
            fields: vec![
                FormField {
                    name: "username",
                    label: "Name",
                    kind: FieldKind::Text,
                    required: true,
                },
                FormField {
                    name: "password",
                    label: "Password",
                    kind: FieldKind::Secret,
                    required: false,
                },
            ],
        }
    }

    #[test]
    fn the_form_has_legacy_fields_and_a_data_form() {
        let xml = element_xml(form_query(&form(), None));
        assert!(xml.starts_with("<query xmlns='jabber:iq:register'><instructions>Choose a name.</instructions><username></username><password></password>"), "{xml}");
        assert!(
            xml.contains(
                "<field type='hidden' var='FORM_TYPE'><value>jabber:iq:register</value></field>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<field label='Name' var='username'><required/></field>"),
            "{xml}"
        );
        assert!(xml.contains("type='text-private' var='password'"), "{xml}");
        assert!(!xml.contains("<registered/>"));
    }

    #[test]
    fn a_registered_user_sees_values_but_never_secrets() {
        let data = LoginData::from([
            ("username".into(), "ann".into()),
            ("password".into(), "hunter2".into()),
        ]);
        let xml = element_xml(form_query(&form(), Some(&data)));
        assert!(xml.contains("<registered/>"), "{xml}");
        assert!(xml.contains("<username>ann</username>"), "{xml}");
        assert!(!xml.contains("hunter2"), "{xml}");
    }

    #[test]
    fn reads_legacy_and_data_form_submissions() {
        let legacy: Element = "<query xmlns='jabber:iq:register'><username>ann</username><password>pw</password></query>".parse().unwrap();
        assert_eq!(
            parse_submission(&legacy).unwrap(),
            Submission::Values(FormValues::from([
                ("username".into(), "ann".into()),
                ("password".into(), "pw".into())
            ]))
        );
        let x: Element =
            "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>\
            <field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>\
            <field var='username'><value>bob</value></field></x></query>"
                .parse()
                .unwrap();
        assert_eq!(
            parse_submission(&x).unwrap(),
            Submission::Values(FormValues::from([("username".into(), "bob".into())]))
        );
        let remove: Element = "<query xmlns='jabber:iq:register'><remove/></query>"
            .parse()
            .unwrap();
        assert_eq!(parse_submission(&remove).unwrap(), Submission::Remove);
        let bad: Element =
            "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'/></query>"
                .parse()
                .unwrap();
        assert_eq!(
            parse_submission(&bad).unwrap_err(),
            "the data form must be of type 'submit'"
        );
    }

    #[test]
    fn checks_required_and_unknown_fields() {
        let f = form();
        assert_eq!(
            check_values(&f, &FormValues::new()).unwrap_err(),
            "the field 'username' (Name) is required"
        );
        let extra = FormValues::from([
            ("username".into(), "a".into()),
            ("colour".into(), "x".into()),
        ]);
        assert_eq!(
            check_values(&f, &extra).unwrap_err(),
            "unknown field 'colour'"
        );
        assert!(check_values(&f, &FormValues::from([("username".into(), "a".into())])).is_ok());
    }

    #[test]
    fn gateway_prompt_round_trip() {
        assert_eq!(
            element_xml(gateway_prompt("Enter a name", "Name")),
            "<query xmlns='jabber:iq:gateway'><desc>Enter a name</desc><prompt>Name</prompt></query>"
        );
        let set: Element =
            "<query xmlns='jabber:iq:gateway'><prompt> bob@example.net </prompt></query>"
                .parse()
                .unwrap();
        assert_eq!(gateway_input(&set).as_deref(), Some("bob@example.net"));
        assert_eq!(
            element_xml(gateway_jid("bob\\40example.net@mail.test")),
            "<query xmlns='jabber:iq:gateway'><jid>bob\\40example.net@mail.test</jid><prompt>bob\\40example.net@mail.test</prompt></query>"
        );
    }
}
