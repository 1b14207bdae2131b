//! Error stanzas: the one place that maps bridge errors to XMPP error conditions.

use switchboard_bridge::BridgeError;
use tokio_xmpp::xmlstream::RawStanzaHeader;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// An error with a human text in English. The text often carries a foreign reason (an IRC
/// numeric's text, a provider's answer): it is made fit for XML here.
pub fn error(
    type_: ErrorType,
    condition: DefinedCondition,
    text: impl Into<String>,
) -> StanzaError {
    StanzaError::new(type_, condition, "en", super::text::xml_string(text.into()))
}

/// The XMPP error for a bridge error. The text is the bridge's own description, which
/// carries the foreign side's reason where there is one.
pub fn from_bridge(e: &BridgeError) -> StanzaError {
    use DefinedCondition as C;
    use ErrorType as T;
    let (type_, condition) = match e {
        BridgeError::Unsupported(_) => (T::Cancel, C::FeatureNotImplemented),
        BridgeError::InvalidAddress(_) => (T::Modify, C::JidMalformed),
        BridgeError::NotFound(_) => (T::Cancel, C::ItemNotFound),
        BridgeError::NotLoggedIn => (T::Auth, C::RegistrationRequired),
        BridgeError::NotAllowed(_) => (T::Cancel, C::NotAllowed),
        BridgeError::Auth(_) => (T::Auth, C::NotAuthorized),
        BridgeError::Invalid(_) => (T::Modify, C::NotAcceptable),
        BridgeError::Rejected(_) => (T::Cancel, C::NotAcceptable),
        BridgeError::LimitReached(_) => (T::Wait, C::PolicyViolation),
        BridgeError::Transient(_) => (T::Wait, C::RemoteServerTimeout),
        BridgeError::Conflict(_) => (T::Cancel, C::Conflict),
        BridgeError::Full(_) => (T::Wait, C::ServiceUnavailable),
        BridgeError::InviteOnly(_) => (T::Auth, C::RegistrationRequired),
        BridgeError::Banned(_) => (T::Auth, C::Forbidden),
        BridgeError::Forbidden(_) => (T::Auth, C::Forbidden),
        BridgeError::Unreachable(_) => (T::Cancel, C::RemoteServerNotFound),
        _ => (T::Cancel, C::UndefinedCondition),
    };
    error(type_, condition, e.to_string())
}

/// The error reply to a stanza (from its `to`, to its `from`), or `None` for stanzas that
/// must not be answered with an error (errors themselves, iq results).
pub fn reply(stanza: &Stanza, err: StanzaError) -> Option<Stanza> {
    match stanza {
        Stanza::Iq(Iq::Get { from, to, id, .. } | Iq::Set { from, to, id, .. }) => {
            Some(iq_error(id.clone(), to.clone(), from.clone(), err))
        }
        Stanza::Iq(_) => None,
        Stanza::Message(m) if m.type_ == MessageType::Error => None,
        Stanza::Message(m) => {
            let mut reply = Message::error(m.from.clone()).with_payload(err);
            reply.from = m.to.clone();
            reply.id = m.id.clone();
            Some(reply.into())
        }
        Stanza::Presence(p) if p.type_ == PresenceType::Error => None,
        Stanza::Presence(p) => {
            let mut reply = Presence::error().with_payload(err);
            reply.from = p.to.clone();
            reply.to = p.from.clone();
            reply.id = p.id.clone();
            Some(reply.into())
        }
    }
}

fn iq_error(id: String, from: Option<Jid>, to: Option<Jid>, err: StanzaError) -> Stanza {
    let mut iq = Iq::from_error(id, err);
    if let Iq::Error { from: f, to: t, .. } = &mut iq {
        *f = from;
        *t = to;
    }
    iq.into()
}

/// The `<bad-request/>` answer to a stanza that did not parse, built from its raw header.
/// `None` when it must not (or cannot) be answered: an error or result, or no usable
/// sender. `from` is the stanza's `to` when inside `domain`, else `domain` itself.
pub fn bounce_invalid(
    kind: &str,
    header: &RawStanzaHeader,
    reason: &str,
    domain: &str,
) -> Option<Stanza> {
    if matches!(header.type_.as_deref(), Some("error") | Some("result")) {
        return None;
    }
    let to = Jid::new(header.from.as_deref()?).ok()?;
    let from = header
        .to
        .as_deref()
        .and_then(|t| Jid::new(t).ok())
        .filter(|j| j.domain().as_str() == domain)
        .or_else(|| Jid::new(domain).ok())?;
    let err = error(
        ErrorType::Modify,
        DefinedCondition::BadRequest,
        format!("the gateway could not parse this {kind}: {reason}"),
    );
    Some(match kind {
        "iq" => iq_error(header.id.clone()?, Some(from), Some(to), err),
        "message" => {
            let mut m = Message::error(to).with_payload(err);
            m.from = Some(from);
            m.id = header.id.clone().map(xmpp_parsers::message::Id);
            m.into()
        }
        _ => {
            let mut p = Presence::error()
                .with_payload(err)
                .with_from(from)
                .with_to(to);
            p.id = header.id.clone();
            p.into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;

    fn header(type_: Option<&str>) -> RawStanzaHeader {
        RawStanzaHeader {
            from: Some("mallory@example.org/x".into()),
            to: Some("bob@echo.test".into()),
            type_: type_.map(str::to_string),
            id: Some("m1".into()),
        }
    }

    #[test]
    fn a_bogus_message_is_answered_with_bad_request() {
        let reply = bounce_invalid(
            "message",
            &header(Some("bogus")),
            "unknown type",
            "echo.test",
        )
        .expect("a reply");
        assert_eq!(
            element_xml(reply),
            "<message xmlns='jabber:component:accept' from='bob@echo.test' id='m1' \
             to='mallory@example.org/x' type='error'><error type='modify'>\
             <bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>\
             the gateway could not parse this message: unknown type</text></error></message>"
        );
    }

    #[test]
    fn errors_and_results_are_never_answered() {
        assert!(bounce_invalid("message", &header(Some("error")), "x", "echo.test").is_none());
        assert!(bounce_invalid("iq", &header(Some("result")), "x", "echo.test").is_none());
    }

    #[test]
    fn a_foreign_to_is_replaced_by_our_domain() {
        let mut h = header(None);
        h.to = Some("someone@elsewhere.org".into());
        let reply = element_xml(bounce_invalid("presence", &h, "x", "echo.test").unwrap());
        assert!(reply.contains("from='echo.test'"), "{reply}");
    }

    #[test]
    fn bridge_errors_map_to_conditions() {
        let cases = [
            (
                BridgeError::InvalidAddress("x".into()),
                "jid-malformed",
                "modify",
            ),
            (
                BridgeError::NotFound("x".into()),
                "item-not-found",
                "cancel",
            ),
            (BridgeError::NotLoggedIn, "registration-required", "auth"),
            (BridgeError::NotAllowed("x".into()), "not-allowed", "cancel"),
            (
                BridgeError::Rejected("x".into()),
                "not-acceptable",
                "cancel",
            ),
            (
                BridgeError::LimitReached("x".into()),
                "policy-violation",
                "wait",
            ),
            (
                BridgeError::Transient("x".into()),
                "remote-server-timeout",
                "wait",
            ),
            (
                BridgeError::Unsupported("edits"),
                "feature-not-implemented",
                "cancel",
            ),
        ];
        for (e, condition, type_) in cases {
            let xml = crate::xmpp::testing::element_xml(from_bridge(&e));
            assert!(xml.contains(&format!("<{condition} ")), "{e:?}: {xml}");
            assert!(xml.contains(&format!("type='{type_}'")), "{e:?}: {xml}");
            assert!(xml.contains(&e.to_string()), "{e:?}: {xml}");
        }
    }

    #[test]
    fn foreign_reasons_in_errors_are_made_fit_for_xml() {
        let xml = element_xml(from_bridge(&BridgeError::Rejected(
            "Cannot send to channel\u{7}".into(),
        )));
        assert!(xml.contains("Cannot send to channel</text>"), "{xml}");
        assert!(!xml.contains('\u{7}'), "{xml}");
    }
}
