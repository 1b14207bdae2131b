//! `get-irc-connection-info` on a network's JID: whether the user's connection to it is
//! up, since when, where, and in which channels (biboumi's command of that name).

use super::{key, IrcSession};
use std::time::SystemTime;

/// The command's node.
pub const CONNECTION_INFO: &str = "get-irc-connection-info";

impl IrcSession {
    /// What the user's connection to `network` is, as a note.
    pub(super) fn connection_info(&self, network: &str, now: SystemTime) -> String {
        let conns = self.conns.lock().expect("conns poisoned");
        let Some(conn) = conns.get(&key(network)) else {
            return format!("You are not connected to the IRC server {network}");
        };
        let Some(up) = conn.status.lock().expect("status poisoned").clone() else {
            return format!("Connecting to the IRC server {network}: not registered yet.");
        };
        let mut channels: Vec<String> = conn
            .channels
            .lock()
            .expect("channels poisoned")
            .iter()
            .cloned()
            .collect();
        channels.sort();
        let ago = now.duration_since(up.since).map_or(0, |d| d.as_secs());
        let since = crate::time::format(up.since)
            .replace('T', " ")
            .trim_end_matches('Z')
            .to_string();
        format!(
            "Connected to IRC server {} on port {}{} since {since} ({ago} seconds ago).\n{}",
            up.host,
            up.port,
            if up.tls { " (encrypted)" } else { "" },
            if channels.is_empty() {
                "In no channel.".to_string()
            } else {
                format!("Channels: {}", channels.join(", "))
            }
        )
    }
}
