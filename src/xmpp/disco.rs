//! XEP-0030 service discovery answers.

use super::ns::{COMMANDS, GATEWAY};
use switchboard_bridge::{Chat, NetworkInfo};
use xmpp_parsers::disco::{DiscoInfoResult, Identity};
use xmpp_parsers::ns;

/// disco#info of the transport JID itself.
pub fn transport_info(info: &NetworkInfo) -> DiscoInfoResult {
    let mut features: Vec<&str> = vec![
        ns::DISCO_INFO,
        ns::DISCO_ITEMS,
        ns::REGISTER,
        GATEWAY,
        ns::VERSION,
        ns::PING,
        COMMANDS,
    ];
    if info.caps.receipts {
        features.push(ns::RECEIPTS);
    }
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new(
            "gateway",
            info.gateway_type,
            "en",
            format!("{} gateway (Switchboard)", info.display_name),
        )],
        features: features.into_iter().map(String::from).collect(),
        extensions: vec![],
    }
}

/// XEP-0313 message archive management.
pub const MAM: &str = "urn:xmpp:mam:2";
/// XEP-0359 stanza ids.
pub const SID: &str = "urn:xmpp:sid:0";

/// disco#info of a foreign contact or group on the transport. A group is a MUC room
/// (`conference/<network type>`, the MUC feature: Gajim takes a room without it for no
/// room), with MAM and stanza-ids when `archived`, `muc_nonanonymous` when every
/// occupant's real JID is shown.
pub fn contact_info(
    info: &NetworkInfo,
    chat: &Chat,
    name: &str,
    archived: bool,
    non_anonymous: bool,
) -> DiscoInfoResult {
    let name = super::text::xml_text(name);
    let name = name.as_ref();
    let identity = match chat {
        Chat::Group(_) => Identity::new("conference", info.gateway_type, "en", name),
        Chat::Direct(_) => Identity::new("client", "pc", "en", name),
    };
    let mut features = vec![ns::DISCO_INFO.to_string(), ns::PING.to_string()];
    if let Chat::Group(_) = chat {
        features.push(ns::MUC.to_string());
        if non_anonymous {
            features.push("muc_nonanonymous".to_string());
        }
        if archived {
            features.push(MAM.to_string());
            features.push(SID.to_string());
        }
    }
    if info.caps.receipts {
        features.push(ns::RECEIPTS.to_string());
    }
    DiscoInfoResult {
        node: None,
        identities: vec![identity],
        features: features.into_iter().collect(),
        extensions: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;
    use switchboard_bridge::{Capabilities, UserId};

    fn info() -> NetworkInfo {
        NetworkInfo {
            id: "irc",
            display_name: "IRC",
            gateway_type: "irc",
            registration_required: false,
            prompt: "nick",
            caps: Capabilities {
                groups: true,
                receipts: false,
                presence: true,
            },
            send_window: 1,
        }
    }

    #[test]
    fn transport_identity_is_a_gateway_of_the_bridge_type() {
        let xml = element_xml(transport_info(&info()));
        assert!(xml.contains(
            "<identity category='gateway' name='IRC gateway (Switchboard)' type='irc' xml:lang='en'/>"
        ), "{xml}");
        for f in [ns::REGISTER, GATEWAY, ns::VERSION, ns::PING, COMMANDS] {
            assert!(xml.contains(&format!("<feature var='{f}'/>")), "{f}: {xml}");
        }
        assert!(!xml.contains(ns::RECEIPTS));
    }

    #[test]
    fn contacts_are_clients_and_groups_are_conferences() {
        let direct = element_xml(contact_info(
            &info(),
            &Chat::Direct(UserId::new("bob")),
            "bob",
            true,
            true,
        ));
        assert!(direct.contains("category='client'"), "{direct}");
        assert!(
            !direct.contains(ns::MUC) && !direct.contains(MAM),
            "{direct}"
        );
        let room = Chat::Group(switchboard_bridge::GroupId::new("#r"));
        let group = element_xml(contact_info(&info(), &room, "#r", true, true));
        assert!(group.contains("category='conference'"), "{group}");
        assert!(group.contains("type='irc'"), "{group}");
        for f in [ns::MUC, MAM, SID, ns::PING, "muc_nonanonymous"] {
            assert!(
                group.contains(&format!("<feature var='{f}'/>")),
                "{f}: {group}"
            );
        }
        let unarchived = element_xml(contact_info(&info(), &room, "#r", false, false));
        assert!(unarchived.contains(ns::MUC), "{unarchived}");
        assert!(
            !unarchived.contains(MAM)
                && !unarchived.contains(SID)
                && !unarchived.contains("muc_nonanonymous"),
            "{unarchived}"
        );
    }
}
