//! Helpers for the literal-XML unit tests of this module.

use minidom::Element;
use xmpp_parsers::stanza::Stanza;

/// Serialises anything that converts to an element, with single-quoted attributes.
pub fn element_xml(e: impl Into<Element>) -> String {
    String::from(&e.into()).replace('"', "'")
}

/// Parses a literal stanza in the component namespace.
pub fn stanza(xml: &str) -> Stanza {
    let e: Element = xml.parse().expect("test XML parses");
    Stanza::try_from(e).expect("test XML is a valid stanza")
}
