//! The checks of a network's `configure` values beyond nick and user name: the fallback
//! encoding (`encoding_in`), and the commands sent after connecting
//! (`after_connect_commands`, biboumi's field), which may not join channels (those count
//! against `max_channels_per_user`: join rooms instead) and are bounded.

use super::raw::{classify, RawLine};
use crate::text::Fallback;
use switchboard_bridge::{BridgeError, FormValues};

/// After-connect commands kept, at most.
pub const MAX_COMMANDS: usize = 10;
/// Bytes of one after-connect command, at most.
pub const MAX_COMMAND: usize = 400;

/// The after-connect commands of `values`, one per non-empty line, checked.
pub fn after_connect(values: &FormValues) -> Result<Vec<String>, BridgeError> {
    let Some(text) = values.get("after_connect_commands") else {
        return Ok(Vec::new());
    };
    let lines: Vec<String> = crate::text::lines(text)
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let field = |why: String| BridgeError::Invalid(format!("after_connect_commands: {why}"));
    if lines.len() > MAX_COMMANDS {
        return Err(field(format!(
            "{} commands; at most {MAX_COMMANDS}",
            lines.len()
        )));
    }
    for line in &lines {
        if line.len() > MAX_COMMAND {
            return Err(field(format!(
                "a command of {} bytes; at most {MAX_COMMAND}",
                line.len()
            )));
        }
        if matches!(classify(line), RawLine::Join(_)) {
            return Err(field(format!(
                "'{line}' joins a channel: join its room instead (joins count against your channel limit)"
            )));
        }
    }
    Ok(lines)
}

/// The fallback encoding of `values` (`encoding_in`), when one is set.
pub fn encoding(values: &FormValues) -> Result<Option<Fallback>, BridgeError> {
    match values.get("encoding_in").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(label) => label.parse().map(Some).map_err(|_| {
            BridgeError::Invalid(format!(
                "encoding_in: '{label}' is not an encoding (latin-1, utf-8-lossy, windows-1251, koi8-r, …)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> FormValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn after_connect_commands_are_lines_without_joins() {
        let v = values(&[(
            "after_connect_commands",
            "MODE me +x\n\n  PRIVMSG NickServ :hi \r\nWHO me",
        )]);
        assert_eq!(
            after_connect(&v).unwrap(),
            ["MODE me +x", "PRIVMSG NickServ :hi", "WHO me"]
        );
        let join = values(&[("after_connect_commands", "MODE me +x\njoin #a,#b")]);
        let e = after_connect(&join).unwrap_err().to_string();
        assert!(
            e.contains("after_connect_commands") && e.contains("join #a,#b"),
            "{e}"
        );
        let many = values(&[("after_connect_commands", &"WHO x\n".repeat(11))]);
        assert!(after_connect(&many).is_err());
        let long = values(&[("after_connect_commands", &"x".repeat(401))]);
        assert!(after_connect(&long).is_err());
        assert_eq!(
            after_connect(&FormValues::new()).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_fallback_encoding_is_a_known_label() {
        assert_eq!(encoding(&values(&[("encoding_in", "")])).unwrap(), None);
        assert!(encoding(&values(&[("encoding_in", "koi8-r")]))
            .unwrap()
            .is_some());
        let e = encoding(&values(&[("encoding_in", "klingon")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("encoding_in") && e.contains("klingon"), "{e}");
    }
}
