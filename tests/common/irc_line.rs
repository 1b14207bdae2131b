//! One line of IRC as the test client receives it, parsed by hand, and IRC name comparison.

/// One line from the server, parsed by hand:
/// `[@tags] [:prefix] COMMAND param... [:trailing]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrcLine {
    /// The line as received, without its `\r\n`.
    pub raw: String,
    /// The message tags without the leading `@` (`time=...;msgid=...`), or empty.
    pub tags: String,
    /// The whole prefix without its `:` (`nick!user@host` or a server name).
    pub prefix: Option<String>,
    /// The nick of a `nick!user@host` (or plain `nick`) prefix; `None` for a server prefix.
    pub prefix_nick: Option<String>,
    /// `PRIVMSG`, `JOIN`, `001`, … (upper-cased).
    pub command: String,
    /// The parameters; the trailing one (after ` :`) is the last.
    pub params: Vec<String>,
}

impl IrcLine {
    pub fn parse(raw: &str) -> IrcLine {
        let mut rest = raw;
        let mut tags = String::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (t, r) = after.split_once(' ').unwrap_or((after, ""));
            tags = t.to_owned();
            rest = r.trim_start_matches(' ');
        }
        let mut prefix = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (p, r) = after.split_once(' ').unwrap_or((after, ""));
            prefix = Some(p.to_owned());
            rest = r.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (param, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_owned());
            rest = r;
        }
        let prefix_nick = prefix.as_deref().and_then(|p| {
            let nick = p.split(['!', '@']).next().unwrap_or(p);
            // Nicks cannot contain dots; server names (irc.test) do.
            let is_server = nick.len() == p.len() && p.contains('.');
            (!is_server && !nick.is_empty()).then(|| nick.to_owned())
        });
        IrcLine {
            raw: raw.to_owned(),
            tags,
            prefix,
            prefix_nick,
            command: command.to_ascii_uppercase(),
            params,
        }
    }

    /// The `n`th parameter (0-based), if present.
    pub fn param(&self, n: usize) -> Option<&str> {
        self.params.get(n).map(String::as_str)
    }

    /// The last parameter (the trailing one, when there is one).
    pub fn last(&self) -> Option<&str> {
        self.params.last().map(String::as_str)
    }

    /// The value of message tag `key` (unescaped); `Some("")` for a tag without a value.
    pub fn tag(&self, key: &str) -> Option<String> {
        self.tags.split(';').find_map(|tag| {
            let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
            (k == key).then(|| unescape_tag_value(v))
        })
    }

    /// Sent by `nick` (IRC case-insensitively).
    pub fn is_from(&self, nick: &str) -> bool {
        self.prefix_nick.as_deref().is_some_and(|n| irc_eq(n, nick))
    }

    /// The text of a PRIVMSG (`None` for any other command).
    pub fn privmsg_text(&self) -> Option<&str> {
        (self.command == "PRIVMSG" && self.params.len() >= 2).then(|| self.params[1].as_str())
    }

    /// A PRIVMSG or NOTICE from `from` to `target` (channel or nick) whose text is `text`.
    pub fn is_message(&self, from: &str, target: &str, text: &str) -> bool {
        matches!(self.command.as_str(), "PRIVMSG" | "NOTICE")
            && self.is_from(from)
            && self.param(0).is_some_and(|t| irc_eq(t, target))
            && self.param(1) == Some(text)
    }
}

/// IRC name comparison under the `rfc1459` casemapping InspIRCd announces:
/// ASCII case plus `[]\~` = `{}|^`.
pub fn irc_eq(a: &str, b: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        }
    }
    a.chars().map(fold).eq(b.chars().map(fold))
}

fn unescape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
