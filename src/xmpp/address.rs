//! JIDs on a transport domain: XEP-0106 escaping and what a `to` address points at.

use xmpp_parsers::jid::Jid;

/// What a stanza sent to the transport's domain is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The transport itself (`irc.example.org`).
    Transport,
    /// A foreign address (`bob%example.net@mail.example.org/res`): the unescaped local
    /// part and the resource, if any.
    Contact {
        /// The local part, XEP-0106-unescaped.
        local: String,
        /// The resource (a MUC nick for rooms).
        resource: Option<String>,
    },
}

/// Classifies a `to` JID on our domain.
pub fn target(to: &Jid) -> Target {
    match to.node() {
        None => Target::Transport,
        Some(node) => Target::Contact {
            local: unescape(node.as_str()),
            resource: to.resource().map(|r| r.as_str().to_string()),
        },
    }
}

const ESCAPES: [(char, &str); 10] = [
    (' ', "\\20"),
    ('"', "\\22"),
    ('&', "\\26"),
    ('\'', "\\27"),
    ('/', "\\2f"),
    (':', "\\3a"),
    ('<', "\\3c"),
    ('>', "\\3e"),
    ('@', "\\40"),
    ('\\', "\\5c"),
];

/// XEP-0106 escaping of a local part: the characters a JID node may not hold become
/// `\xx`, and so does a backslash that would otherwise read as an escape.
pub fn escape(local: &str) -> String {
    let mut out = String::with_capacity(local.len());
    for (i, c) in local.char_indices() {
        match ESCAPES.iter().find(|(ch, _)| *ch == c) {
            Some(('\\', esc)) => {
                // Only a backslash that starts a valid escape sequence needs escaping.
                if is_escape_at(&local[i..]) {
                    out.push_str(esc);
                } else {
                    out.push('\\');
                }
            }
            Some((_, esc)) => out.push_str(esc),
            None => out.push(c),
        }
    }
    out
}

/// XEP-0106 unescaping: `\40` → `@` and so on; anything else is kept as written.
pub fn unescape(local: &str) -> String {
    let mut out = String::with_capacity(local.len());
    let mut rest = local;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match ESCAPES.iter().find(|(_, esc)| tail.starts_with(esc)) {
            Some((c, esc)) => {
                out.push(*c);
                rest = &tail[esc.len()..];
            }
            None => {
                out.push('\\');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_escape_at(s: &str) -> bool {
    ESCAPES.iter().any(|(_, esc)| s.starts_with(esc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_unescapes_xep_0106_examples() {
        let cases = [
            ("space cadet", "space\\20cadet"),
            ("call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"),
            ("at&t guy", "at\\26t\\20guy"),
            ("d'artagnan", "d\\27artagnan"),
            ("/.fanboy", "\\2f.fanboy"),
            ("::foo::", "\\3a\\3afoo\\3a\\3a"),
            ("<foo>", "\\3cfoo\\3e"),
            ("user@host", "user\\40host"),
            ("c:\\net", "c\\3a\\net"),
            ("c:\\\\net", "c\\3a\\\\net"),
            ("c:\\cool stuff", "c\\3a\\cool\\20stuff"),
            ("c:\\5commas", "c\\3a\\5c5commas"),
        ];
        for (plain, escaped) in cases {
            assert_eq!(escape(plain), escaped, "escape {plain}");
            assert_eq!(unescape(escaped), plain, "unescape {escaped}");
        }
    }

    #[test]
    fn classifies_targets() {
        let j = |s: &str| Jid::new(s).unwrap();
        assert_eq!(target(&j("echo.test")), Target::Transport);
        assert_eq!(
            target(&j("bob\\40example.net@mail.test/phone")),
            Target::Contact {
                local: "bob@example.net".into(),
                resource: Some("phone".into())
            }
        );
        assert_eq!(
            target(&j("#rust%libera@irc.test")),
            Target::Contact {
                local: "#rust%libera".into(),
                resource: None
            }
        );
    }
}
