//! Durations written the human way in YAML: `30s`, `5m`, `1h 30m`, `1d`.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A duration read from a string such as `30s` or `6h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        switchboard_bridge::config::duration(d).map(ConfigDuration)
    }
}
