//! Small builders for XML that xmpp-parsers has no type for (XEP-0077 legacy fields,
//! XEP-0100, XEP-0050) and data forms.

use super::text::{xml_string, xml_text};
use minidom::rxml::NcName;
use minidom::Element;
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};

/// An element with text content (made fit for XML).
pub fn text_el(name: &str, ns: &str, text: impl Into<String>) -> Element {
    Element::builder(name, ns)
        .append(xml_string(text.into()))
        .build()
}

/// Sets an attribute whose name is a fixed, valid XML name.
pub fn set_attr(el: &mut Element, name: &'static str, value: impl Into<String>) {
    let name = NcName::try_from(name).expect("attribute names here are valid XML names");
    el.set_attr(
        minidom::rxml::Namespace::NONE,
        name,
        xml_string(value.into()),
    );
}

/// A data form of `type_` with a hidden FORM_TYPE when `form_type` is not empty.
pub fn data_form(
    type_: DataFormType,
    form_type: &str,
    title: Option<&str>,
    instructions: Option<&str>,
    fields: Vec<Field>,
) -> DataForm {
    let mut form = DataForm {
        type_,
        title: title.map(|t| xml_text(t).into_owned()),
        instructions: instructions.map(|i| xml_text(i).into_owned()),
        fields,
    };
    if !form_type.is_empty() {
        form.set_form_type(form_type.to_string());
    }
    form
}

/// A field with a label and optional value.
pub fn field(
    var: &str,
    type_: FieldType,
    label: &str,
    required: bool,
    value: Option<&str>,
) -> Field {
    let mut f = Field::new(var, type_);
    f.label = Some(xml_text(label).into_owned());
    f.required = required;
    if let Some(v) = value {
        f.values.push(xml_text(v).into_owned());
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;

    #[test]
    fn form_text_from_bridges_is_made_fit_for_xml() {
        let form = data_form(
            DataFormType::Result_,
            "",
            Some("t\u{7}"),
            Some("i\u{c}j"),
            vec![field(
                "topic",
                FieldType::TextSingle,
                "Topic\u{1}",
                false,
                Some("v\u{7}al"),
            )],
        );
        assert_eq!(
            element_xml(form),
            "<x xmlns='jabber:x:data' type='result'><title>t</title><instructions>i\nj</instructions>\
             <field label='Topic' var='topic'><value>val</value></field></x>"
        );
        let mut note = text_el("note", "urn:x", "a\u{7}b");
        set_attr(&mut note, "type", "in\u{7}fo");
        assert_eq!(
            element_xml(note),
            "<note xmlns='urn:x' type='info'>ab</note>"
        );
    }
}
