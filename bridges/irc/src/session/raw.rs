//! Raw command lines a user sends to a network's JID: JOINs among them are taken out, so
//! that they count against `max_channels_per_user` like joins from rooms do.

/// One raw line, as the session treats it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RawLine {
    /// `JOIN #a,#b key1,key2`: the channels, lowercased, with their keys.
    Join(Vec<(String, Option<String>)>),
    /// Anything else (`JOIN 0`, which leaves every channel, included): sent as written.
    Other(String),
}

/// Classifies one line (no CR or LF in it).
pub(super) fn classify(line: &str) -> RawLine {
    let mut words = line.split_whitespace().peekable();
    // A prefix is allowed by the grammar (and ignored by servers from clients).
    if words.peek().is_some_and(|w| w.starts_with(':')) {
        words.next();
    }
    let is_join = words.next().is_some_and(|w| w.eq_ignore_ascii_case("JOIN"));
    let channels = words.next();
    let keys = words.next();
    let (true, Some(channels)) = (is_join, channels) else {
        return RawLine::Other(line.to_string());
    };
    if channels == "0" {
        return RawLine::Other(line.to_string());
    }
    let mut keys = keys
        .map(|k| k.trim_start_matches(':'))
        .unwrap_or_default()
        .split(',');
    let list: Vec<(String, Option<String>)> = channels
        .trim_start_matches(':')
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| {
            let key = keys.next().filter(|k| !k.is_empty()).map(str::to_string);
            (c.to_lowercase(), key)
        })
        .collect();
    if list.is_empty() {
        return RawLine::Other(line.to_string());
    }
    RawLine::Join(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_are_taken_out_with_their_keys() {
        assert_eq!(
            classify("join #A,#b,&c k1,,k3"),
            RawLine::Join(vec![
                ("#a".into(), Some("k1".into())),
                ("#b".into(), None),
                ("&c".into(), Some("k3".into())),
            ])
        );
        assert_eq!(
            classify(":me JOIN :#x"),
            RawLine::Join(vec![("#x".into(), None)])
        );
    }

    #[test]
    fn other_lines_and_join_zero_go_as_written() {
        for line in [
            "JOIN 0",
            "JOIN",
            "WHOIS bob",
            "PRIVMSG NickServ :JOIN #x",
            "JOINX #a",
        ] {
            assert_eq!(classify(line), RawLine::Other(line.into()), "{line}");
        }
    }
}
