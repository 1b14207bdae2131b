//! IRC addresses in JID local parts (biboumi's scheme): `#chan%net` is a channel, `nick%net`
//! a user. Ids are the lowercased address, so they are stable and unique per network.

use switchboard_bridge::{BridgeError, Chat, GroupId, UserId};

/// What a local part names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A channel on a network.
    Channel {
        /// The channel, with its `#`.
        channel: String,
        /// The network name.
        network: String,
    },
    /// The network itself (`net@irc.example.org`): server notices, raw commands, the
    /// channel list.
    Network {
        /// The network name.
        network: String,
    },
    /// A user on a network.
    User {
        /// The nick.
        nick: String,
        /// The network name.
        network: String,
    },
}

const HINT: &str = "IRC addresses look like #channel%network or nick%network";

/// Parses an (unescaped) local part. `chantypes` are the channel prefixes (`#&`).
pub fn parse(local: &str, chantypes: &str) -> Result<Address, BridgeError> {
    let Some((name, network)) = local.split_once('%') else {
        let valid = !local.is_empty()
            && !local.starts_with(|c| chantypes.contains(c))
            && !local
                .chars()
                .any(|c| c.is_control() || c == ' ' || c == ',');
        if valid {
            return Ok(Address::Network {
                network: local.to_lowercase(),
            });
        }
        return Err(BridgeError::InvalidAddress(format!(
            "'{local}' has no %network part; {HINT}"
        )));
    };
    if name.is_empty() || network.is_empty() {
        return Err(BridgeError::InvalidAddress(format!(
            "'{local}' is incomplete; {HINT}"
        )));
    }
    let bad = |s: &str| s.chars().any(|c| c.is_control() || c == ' ' || c == ',');
    if bad(name) || bad(network) || network.contains('%') {
        return Err(BridgeError::InvalidAddress(format!(
            "'{local}' holds characters IRC does not allow"
        )));
    }
    let network = network.to_lowercase();
    Ok(if name.starts_with(|c| chantypes.contains(c)) {
        Address::Channel {
            channel: name.to_lowercase(),
            network,
        }
    } else {
        Address::User {
            nick: name.to_string(),
            network,
        }
    })
}

/// Parses a local part of a gateway serving one network (`irc.fixed_network`): `#chan`
/// and `nick` on that network, the empty local part (the transport's own JID) the network
/// itself. A `%network` part is refused: there is no other network to name.
pub fn parse_fixed(local: &str, network: &str) -> Result<Address, BridgeError> {
    let network = network.to_lowercase();
    if local.is_empty() {
        return Ok(Address::Network { network });
    }
    if local.contains('%') {
        return Err(BridgeError::InvalidAddress(format!(
            "'{local}': this gateway serves only {network}; write #channel@… or nick@…"
        )));
    }
    match parse(&format!("{local}%{network}"), "#&")? {
        Address::Network { .. } => Err(BridgeError::InvalidAddress(format!(
            "'{local}' is not a channel or a nick"
        ))),
        address => Ok(address),
    }
}

/// The local part of a chat id (`#chan%net`, `nick%net`, `net`) on a gateway serving only
/// `network`: the id without `%net`, and empty for the network itself.
pub fn format_fixed(id: &str, network: &str) -> String {
    if id.eq_ignore_ascii_case(network) {
        return String::new();
    }
    match id.rsplit_once('%') {
        Some((name, net)) if net.eq_ignore_ascii_case(network) => name.to_string(),
        _ => id.to_string(),
    }
}

impl Address {
    /// The network name.
    pub fn network(&self) -> &str {
        match self {
            Address::Channel { network, .. }
            | Address::User { network, .. }
            | Address::Network { network } => network,
        }
    }

    /// The chat (and id) for this address.
    pub fn chat(&self) -> Chat {
        match self {
            Address::Channel { channel, network } => Chat::Group(group_id(channel, network)),
            Address::User { nick, network } => Chat::Direct(user_id(nick, network)),
            Address::Network { network } => Chat::Direct(UserId::new(network.clone())),
        }
    }

    /// Back from a chat id.
    pub fn from_chat(chat: &Chat) -> Result<Address, BridgeError> {
        let local = match chat {
            Chat::Group(g) => g.as_str(),
            Chat::Direct(u) => u.as_str(),
        };
        parse(local, "#&")
    }
}

/// The id of a channel on a network.
pub fn group_id(channel: &str, network: &str) -> GroupId {
    GroupId::new(format!(
        "{}%{}",
        channel.to_lowercase(),
        network.to_lowercase()
    ))
}

/// The id of a nick on a network (nicks keep their case for display; JID local parts
/// are lowercased by the XMPP server anyway).
pub fn user_id(nick: &str, network: &str) -> UserId {
    UserId::new(format!("{nick}%{}", network.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_network_drops_the_network_part() {
        assert_eq!(
            parse_fixed("#Rust", "Libera").unwrap(),
            Address::Channel {
                channel: "#rust".into(),
                network: "libera".into()
            }
        );
        assert_eq!(
            parse_fixed("Carol", "libera").unwrap(),
            Address::User {
                nick: "Carol".into(),
                network: "libera".into()
            }
        );
        assert_eq!(
            parse_fixed("", "libera").unwrap(),
            Address::Network {
                network: "libera".into()
            }
        );
        let e = parse_fixed("#rust%oftc", "libera").unwrap_err().to_string();
        assert!(e.contains("serves only libera"), "{e}");
        assert!(parse_fixed("a b", "libera").is_err());
        for (id, local) in [
            ("#rust%libera", "#rust"),
            ("carol%libera", "carol"),
            ("libera", ""),
        ] {
            assert_eq!(format_fixed(id, "libera"), local);
            assert_eq!(
                parse_fixed(local, "libera").unwrap().chat(),
                parse(id, "#&").unwrap().chat()
            );
        }
    }

    #[test]
    fn channels_and_users() {
        assert_eq!(
            parse("#Rust%Libera", "#&").unwrap(),
            Address::Channel {
                channel: "#rust".into(),
                network: "libera".into()
            }
        );
        assert_eq!(
            parse("Alice%127.0.0.1", "#&").unwrap(),
            Address::User {
                nick: "Alice".into(),
                network: "127.0.0.1".into()
            }
        );
        assert_eq!(parse("&local%net", "#&").unwrap().network(), "net");
    }

    #[test]
    fn ids_round_trip() {
        let a = parse("#bench%127.0.0.1", "#&").unwrap();
        assert_eq!(a.chat(), Chat::Group(GroupId::new("#bench%127.0.0.1")));
        assert_eq!(Address::from_chat(&a.chat()).unwrap(), a);
    }

    #[test]
    fn malformed_addresses_say_what_is_expected() {
        assert_eq!(
            parse("Libera", "#&").unwrap(),
            Address::Network {
                network: "libera".into()
            }
        );
        for bad in [
            "a b",
            "#chan",
            "%net",
            "#chan%",
            "a b%net",
            "#x%net%more",
            "nick%ne\nt",
        ] {
            let e = parse(bad, "#&").unwrap_err();
            assert!(matches!(e, BridgeError::InvalidAddress(_)), "{bad}: {e:?}");
        }
        assert!(parse("#chan", "#&")
            .unwrap_err()
            .to_string()
            .contains("#channel%network"));
    }
}
