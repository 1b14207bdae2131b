//! Helpers every bridge's typed config shares.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Reads a duration written the human way (`30s`, `5m`, `1h 30m`, `1d`); for
/// `#[serde(deserialize_with = "switchboard_bridge::config::duration")]`.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "'{text}' is not a duration like 30s, 5m or 6h ({e})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "duration")]
        d: Duration,
    }

    #[test]
    fn reads_human_durations_and_names_bad_ones() {
        let t: T = serde_json::from_str(r#"{"d": "1h 30m"}"#).unwrap();
        assert_eq!(t.d, Duration::from_secs(5400));
        let e = serde_json::from_str::<T>(r#"{"d": "soon"}"#).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("'soon' is not a duration like 30s"),
            "{e}"
        );
    }
}
