//! Channel member standing: the prefix modes a server announces (ISUPPORT `PREFIX`),
//! the prefixes in NAMES replies, and channel MODE changes (ISUPPORT `CHANMODES`).
//!
//! Everything here is a pure function over foreign input and never panics.

use switchboard_bridge::Rank;

/// One prefix mode: its letter, its NAMES prefix character, and the rank it grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PrefixMode {
    letter: char,
    prefix: char,
    rank: Rank,
}

/// The prefix modes a server supports, most powerful first, from ISUPPORT `PREFIX`.
///
/// The default is `(qaohv)~&@%+` (InspIRCd, UnrealIRCd and most networks); servers with
/// only `(ov)@+` announce it and get only those two.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefixes {
    modes: Vec<PrefixMode>,
}

impl Default for Prefixes {
    fn default() -> Self {
        Self::from_pairs("qaohv".chars().zip("~&@%+".chars()))
    }
}

/// The rank of a well-known prefix mode, by letter first, then by prefix character.
fn known_rank(letter: char, prefix: char) -> Option<Rank> {
    let rank = |c| match c {
        'q' | '~' => Some(Rank::Owner),
        'a' | '&' => Some(Rank::Admin),
        'o' | '@' => Some(Rank::Operator),
        'h' | '%' => Some(Rank::Moderator),
        'v' | '+' => Some(Rank::Voiced),
        _ => None,
    };
    match letter {
        'q' | 'a' | 'o' | 'h' | 'v' => rank(letter),
        _ => rank(prefix),
    }
}

impl Prefixes {
    /// Parses the value of ISUPPORT `PREFIX`, such as `(qaohv)~&@%+` or `(ov)@+`. An
    /// empty value or `()` means the server has no prefix modes. Returns `None` when the
    /// value is malformed: no parentheses, different numbers of letters and prefixes,
    /// a letter that is not ASCII alphabetic, or a prefix that is not ASCII punctuation.
    ///
    /// Letters `q a o h v` (or, for other letters, prefixes `~ & @ % +`) map to Owner,
    /// Admin, Operator, Moderator and Voiced. Any other mode ranks by its position: like
    /// the nearest known mode after it in the list, or Voiced when there is none.
    pub fn parse(value: &str) -> Option<Self> {
        if value.is_empty() {
            return Some(Self { modes: Vec::new() });
        }
        let (letters, prefixes) = value.strip_prefix('(')?.split_once(')')?;
        let valid = letters.chars().count() == prefixes.chars().count()
            && letters.chars().all(|c| c.is_ascii_alphabetic())
            && prefixes.chars().all(|c| c.is_ascii_punctuation());
        valid.then(|| Self::from_pairs(letters.chars().zip(prefixes.chars())))
    }

    fn from_pairs(pairs: impl Iterator<Item = (char, char)>) -> Self {
        let known: Vec<_> = pairs
            .map(|(letter, prefix)| (letter, prefix, known_rank(letter, prefix)))
            .collect();
        let mut modes = Vec::with_capacity(known.len());
        let mut below = Rank::Voiced;
        for &(letter, prefix, rank) in known.iter().rev() {
            let rank = rank.unwrap_or(below);
            below = rank;
            modes.push(PrefixMode {
                letter,
                prefix,
                rank,
            });
        }
        modes.reverse();
        Self { modes }
    }

    /// The rank granted by prefix mode `letter` (`o` → Operator), or `None` when
    /// `letter` is not a prefix mode on this server.
    pub fn mode_rank(&self, letter: char) -> Option<Rank> {
        self.modes
            .iter()
            .find(|m| m.letter == letter)
            .map(|m| m.rank)
    }

    /// The rank shown by NAMES prefix `prefix` (`@` → Operator), or `None` when it is
    /// not a prefix on this server.
    pub fn prefix_rank(&self, prefix: char) -> Option<Rank> {
        self.modes
            .iter()
            .find(|m| m.prefix == prefix)
            .map(|m| m.rank)
    }

    /// Whether `letter` is a prefix mode (one that always takes a nick argument).
    pub fn is_prefix_mode(&self, letter: char) -> bool {
        self.mode_rank(letter).is_some()
    }

    /// The most powerful mode letter that grants exactly `rank`, for setting it
    /// (`Operator` → `o`); `None` for Regular or when this server has no such mode.
    pub fn mode_letter(&self, rank: Rank) -> Option<char> {
        self.modes.iter().find(|m| m.rank == rank).map(|m| m.letter)
    }

    /// Splits a NAMES entry into the ranks of its leading prefixes (several with the
    /// `multi-prefix` capability, in the order sent) and the nick. The userhost-in-names
    /// form `nick!user@host` gives only `nick`. An entry made only of prefixes gives an
    /// empty nick, which callers should skip.
    pub fn split_names_entry<'a>(&self, entry: &'a str) -> (Vec<Rank>, &'a str) {
        let mut ranks = Vec::new();
        let mut rest = entry;
        while let Some(c) = rest.chars().next() {
            match self.prefix_rank(c) {
                Some(rank) => {
                    ranks.push(rank);
                    rest = &rest[c.len_utf8()..];
                }
                None => break,
            }
        }
        let nick = rest.split(['!', '@']).next().unwrap_or(rest);
        (ranks, nick)
    }

    /// The highest rank of a NAMES entry (Regular without prefix) and its nick; see
    /// [`Prefixes::split_names_entry`].
    pub fn rank_of_entry<'a>(&self, entry: &'a str) -> (Rank, &'a str) {
        let (ranks, nick) = self.split_names_entry(entry);
        (highest(ranks), nick)
    }

    /// Reads the parameters of a channel MODE after the channel name, such as
    /// `["+ov-h", "alice", "bob", "carol"]`: the first is the mode string, the rest are
    /// arguments, handed out in order to the letters that take one: prefix modes always,
    /// then as `chanmodes` says. A mode string without a leading sign is adding. Letters
    /// that are not ASCII alphanumeric are skipped; a letter whose argument is missing
    /// gets `None`; arguments left over are ignored.
    pub fn parse_mode_changes(&self, modes: &[&str], chanmodes: &ChanModes) -> Vec<ModeChange> {
        let Some((modestring, args)) = modes.split_first() else {
            return Vec::new();
        };
        let mut args = args.iter();
        let mut adding = true;
        let mut changes = Vec::new();
        for letter in modestring.chars() {
            match letter {
                '+' => adding = true,
                '-' => adding = false,
                _ if letter.is_ascii_alphanumeric() => {
                    let takes_arg =
                        self.is_prefix_mode(letter) || chanmodes.takes_arg(letter, adding);
                    let arg = if takes_arg {
                        args.next().map(|arg| (*arg).to_owned())
                    } else {
                        None
                    };
                    changes.push(ModeChange {
                        adding,
                        letter,
                        arg,
                    });
                }
                _ => {}
            }
        }
        changes
    }
}

/// One channel mode set or unset, such as `+o alice` or `-l`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeChange {
    /// `true` for `+`, `false` for `-`.
    pub adding: bool,
    /// The mode letter.
    pub letter: char,
    /// The argument (a nick for prefix modes, a mask, key or limit), when it takes one.
    pub arg: Option<String>,
}

/// Which non-prefix channel modes take an argument, from ISUPPORT `CHANMODES=A,B,C,D`:
/// A (lists such as bans) always, B (such as the key) always, C (such as the limit) only
/// when set, D (flags) never. Letters in none of the groups are treated as D.
///
/// The default is `beI,k,l,imnpst`, close to what InspIRCd announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChanModes {
    list: String,
    always: String,
    when_set: String,
    never: String,
}

impl Default for ChanModes {
    fn default() -> Self {
        Self {
            list: "beI".into(),
            always: "k".into(),
            when_set: "l".into(),
            never: "imnpst".into(),
        }
    }
}

impl ChanModes {
    /// Parses the value of ISUPPORT `CHANMODES`, such as `beI,k,l,imnpst`. Returns
    /// `None` when there are fewer than four comma-separated groups (groups may be
    /// empty); groups after the fourth are ignored, so their letters take no argument.
    pub fn parse(value: &str) -> Option<Self> {
        let mut groups = value.split(',').map(str::to_owned);
        Some(Self {
            list: groups.next()?,
            always: groups.next()?,
            when_set: groups.next()?,
            never: groups.next()?,
        })
    }

    /// Whether mode `letter` takes an argument when set (`adding`) or unset.
    pub fn takes_arg(&self, letter: char, adding: bool) -> bool {
        self.list.contains(letter)
            || self.always.contains(letter)
            || (adding && self.when_set.contains(letter))
    }

    /// Whether `letter` is a list mode (group A: bans, exceptions, invite exceptions).
    pub fn is_list_mode(&self, letter: char) -> bool {
        self.list.contains(letter)
    }

    /// Whether `letter` is a flag (group D), taking no argument.
    pub fn is_flag(&self, letter: char) -> bool {
        self.never.contains(letter)
    }
}

/// The highest of the ranks a member holds (they can be `+o` and `+v` at once);
/// Regular when there are none.
pub fn highest(ranks: impl IntoIterator<Item = Rank>) -> Rank {
    ranks.into_iter().max().unwrap_or(Rank::Regular)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The changes as `+o alice` / `-l` strings, for compact expectations.
    fn changes(modes: &[&str]) -> Vec<String> {
        let prefixes = Prefixes::default();
        let changes = prefixes.parse_mode_changes(modes, &ChanModes::default());
        let sign = |adding| if adding { '+' } else { '-' };
        changes
            .into_iter()
            .map(|c| match c.arg {
                Some(arg) => format!("{}{} {arg}", sign(c.adding), c.letter),
                None => format!("{}{}", sign(c.adding), c.letter),
            })
            .collect()
    }

    #[test]
    fn default_prefixes() {
        let p = Prefixes::default();
        assert_eq!(Prefixes::parse("(qaohv)~&@%+"), Some(p.clone()));
        assert_eq!(p.mode_rank('q'), Some(Rank::Owner));
        assert_eq!(p.mode_rank('a'), Some(Rank::Admin));
        assert_eq!(p.mode_rank('o'), Some(Rank::Operator));
        assert_eq!(p.mode_rank('h'), Some(Rank::Moderator));
        assert_eq!(p.mode_rank('v'), Some(Rank::Voiced));
        assert_eq!(p.mode_rank('b'), None);
        assert_eq!(p.prefix_rank('~'), Some(Rank::Owner));
        assert_eq!(p.prefix_rank('%'), Some(Rank::Moderator));
        assert_eq!(p.prefix_rank('#'), None);
        assert!(p.is_prefix_mode('h'));
        assert!(!p.is_prefix_mode('k'));
        assert_eq!(p.mode_letter(Rank::Operator), Some('o'));
        assert_eq!(p.mode_letter(Rank::Regular), None);
    }

    #[test]
    fn parse_other_prefix_lists() {
        let ov = Prefixes::parse("(ov)@+").unwrap_or_default();
        assert_eq!(ov.mode_rank('o'), Some(Rank::Operator));
        assert_eq!(ov.mode_rank('h'), None);
        assert_eq!(ov.prefix_rank('~'), None);
        assert_eq!(ov.mode_letter(Rank::Moderator), None);
        // Unknown modes rank like the nearest known mode below them, else Voiced.
        let odd = Prefixes::parse("(Yqaohvz)!~&@%+.").unwrap_or_default();
        assert_eq!(odd.mode_rank('Y'), Some(Rank::Owner));
        assert_eq!(odd.prefix_rank('!'), Some(Rank::Owner));
        assert_eq!(odd.mode_rank('z'), Some(Rank::Voiced));
        let mid = Prefixes::parse("(oXv)@!+").unwrap_or_default();
        assert_eq!(mid.mode_rank('X'), Some(Rank::Voiced));
        // Known prefix characters rank unknown letters.
        let y = Prefixes::parse("(yo)~@").unwrap_or_default();
        assert_eq!(y.mode_rank('y'), Some(Rank::Owner));
        let none = Prefixes::parse("").unwrap_or_default();
        assert!(!none.is_prefix_mode('o'));
        assert_eq!(Prefixes::parse("()"), Some(none));
    }

    #[test]
    fn reject_malformed_prefix_lists() {
        let bad = [
            "qaohv~&@%+",
            "(qaohv~&@%+",
            "(ov)@",
            "(ov)@+%",
            "(o1)@+",
            "(ov)@a",
        ];
        for bad in bad.into_iter().chain(["(o)é", "(o)@@"]) {
            assert_eq!(Prefixes::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_entries() {
        let p = Prefixes::default();
        let (ranks, nick) = p.split_names_entry("@+alice");
        assert_eq!((ranks, nick), (vec![Rank::Operator, Rank::Voiced], "alice"));
        let (ranks, nick) = p.split_names_entry("~bob!u@host.example");
        assert_eq!((ranks, nick), (vec![Rank::Owner], "bob"));
        assert_eq!(p.split_names_entry("carol"), (vec![], "carol"));
        assert_eq!(p.split_names_entry("dave!~d@h"), (vec![], "dave"));
        assert_eq!(p.split_names_entry("@"), (vec![Rank::Operator], ""));
        assert_eq!(p.split_names_entry(""), (vec![], ""));
        assert_eq!(p.split_names_entry("é"), (vec![], "é"));
        assert_eq!(p.rank_of_entry("+@%alice"), (Rank::Operator, "alice"));
        assert_eq!(p.rank_of_entry("alice"), (Rank::Regular, "alice"));
    }

    #[test]
    fn mode_changes_with_prefix_modes() {
        let parsed = Prefixes::default().parse_mode_changes(&["-v", "bob"], &ChanModes::default());
        let arg = Some("bob".to_owned());
        assert_eq!(
            parsed,
            [ModeChange {
                adding: false,
                letter: 'v',
                arg
            }]
        );
        let ov = changes(&["+ov-h", "alice", "bob", "carol"]);
        assert_eq!(ov, ["+o alice", "+v bob", "-h carol"]);
        assert_eq!(changes(&["-o"]), ["-o"]);
        assert_eq!(changes(&["o", "alice", "extra"]), ["+o alice"]);
        assert!(changes(&[]).is_empty());
        assert!(changes(&["+-"]).is_empty());
    }

    #[test]
    fn mode_changes_by_chanmodes_group() {
        let limit_key = changes(&["+lk-l", "10", "key"]);
        assert_eq!(limit_key, ["+l 10", "+k key", "-l"]);
        let key_bans = changes(&["-k+b-b", "key", "*!*@a", "*!*@b"]);
        assert_eq!(key_bans, ["-k key", "+b *!*@a", "-b *!*@b"]);
        assert_eq!(changes(&["+imZ-t", "alice"]), ["+i", "+m", "+Z", "-t"]);
        assert_eq!(changes(&["+ é:v", "bob"]), ["+v bob"]);
    }

    #[test]
    fn chanmodes_parse() {
        assert_eq!(
            ChanModes::parse("beI,k,l,imnpst"),
            Some(ChanModes::default())
        );
        let c = ChanModes::parse("b,,fl,,X").unwrap_or_default();
        assert!(c.takes_arg('f', true) && !c.takes_arg('f', false));
        assert!(c.is_list_mode('b') && !c.is_list_mode('k'));
        assert!(!c.takes_arg('X', true) && !c.is_flag('X'));
        assert!(ChanModes::default().is_flag('n'));
        assert_eq!(ChanModes::parse("beI,k,l"), None);
        assert_eq!(ChanModes::parse(""), None);
    }

    #[test]
    fn highest_rank() {
        assert_eq!(highest([]), Rank::Regular);
        assert_eq!(
            highest([Rank::Voiced, Rank::Operator, Rank::Moderator]),
            Rank::Operator
        );
        assert_eq!(highest(vec![Rank::Owner]), Rank::Owner);
    }
}
