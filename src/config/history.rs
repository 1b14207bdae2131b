//! `irc.history`: the room archive (MAM), history on join, and how long lines are kept.

use super::ConfigDuration;
use serde::Deserialize;

/// The room archive of a transport with group chats (`irc.history`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// Archive the lines of every room (stanza-ids, MAM, history on join). Default `true`.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Lines a join gets when its `<history/>` asks for nothing else. Default 20; at most
    /// 500 (a bigger `<history maxstanzas>` is cut there too).
    #[serde(default = "default_on_join")]
    pub on_join: usize,
    /// Lines older than this are removed. Default `30d`.
    #[serde(default = "default_max_age")]
    pub max_age: ConfigDuration,
    /// Lines kept per room at most (the oldest go first). Default 100000.
    #[serde(default = "default_max_per_room")]
    pub max_per_room: u64,
}

/// History lines one join gets at most, whatever it asks.
pub const MAX_ON_JOIN: usize = 500;

fn default_enabled() -> bool {
    true
}
fn default_on_join() -> usize {
    20
}
fn default_max_age() -> ConfigDuration {
    ConfigDuration::from_secs(30 * 86_400)
}
fn default_max_per_room() -> u64 {
    100_000
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            on_join: default_on_join(),
            max_age: default_max_age(),
            max_per_room: default_max_per_room(),
        }
    }
}

impl HistoryConfig {
    /// What is wrong, as (key below `history`, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.on_join > MAX_ON_JOIN {
            out.push((
                "on_join",
                format!(
                    "{} is more than the {MAX_ON_JOIN} lines a join may get",
                    self.on_join
                ),
            ));
        }
        if self.max_per_room == 0 {
            out.push((
                "max_per_room",
                "must be at least 1 (turn the archive off with enabled: false)".into(),
            ));
        }
        if self.max_age.0.as_secs() < 60 {
            out.push(("max_age", "must be at least 1m".into()));
        }
        out
    }
}
