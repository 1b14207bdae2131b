//! Namespaces that xmpp-parsers does not define.

/// XEP-0100 Gateway Interaction.
pub const GATEWAY: &str = "jabber:iq:gateway";
/// XEP-0050 Ad-Hoc Commands.
pub const COMMANDS: &str = "http://jabber.org/protocol/commands";
