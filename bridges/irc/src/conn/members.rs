//! Channel members, stored compactly: a busy channel is held once per user of the gateway
//! in it, so this is O(users²) memory and every byte per member counts.

use std::collections::HashMap;
use switchboard_bridge::Rank;

const RANKS: [Rank; 6] = [
    Rank::Regular,
    Rank::Voiced,
    Rank::Moderator,
    Rank::Operator,
    Rank::Admin,
    Rank::Owner,
];

/// The members of one channel, by case-insensitive nick, with the ranks each holds.
#[derive(Debug, Default)]
pub struct Members(HashMap<Box<str>, Member>);

#[derive(Debug)]
struct Member {
    /// The nick as written, when it differs from the (lowercased) key.
    nick: Option<Box<str>>,
    /// One bit per [`Rank`] held.
    ranks: u8,
}

fn bit(rank: Rank) -> u8 {
    1 << RANKS.iter().position(|r| *r == rank).unwrap_or(0)
}

fn key(nick: &str) -> Box<str> {
    nick.to_lowercase().into_boxed_str()
}

impl Member {
    fn new(nick: &str, ranks: u8) -> Self {
        let lower = nick.to_lowercase();
        Self {
            nick: (lower != nick).then(|| nick.into()),
            ranks,
        }
    }

    fn highest(&self) -> Rank {
        RANKS
            .iter()
            .rev()
            .copied()
            .find(|r| self.ranks & bit(*r) != 0)
            .unwrap_or_default()
    }
}

impl Members {
    /// Adds (or replaces) a member holding `ranks`.
    pub fn insert(&mut self, nick: &str, ranks: impl IntoIterator<Item = Rank>) {
        let bits = ranks.into_iter().fold(0, |acc, r| acc | bit(r));
        self.0.insert(key(nick), Member::new(nick, bits));
    }

    /// Removes a member and returns the ranks they held (as bits, for [`Members::restore`]).
    pub fn take(&mut self, nick: &str) -> Option<u8> {
        self.0.remove(&key(nick)).map(|m| m.ranks)
    }

    /// Puts back a member taken with [`Members::take`], with the ranks they held.
    pub fn restore(&mut self, nick: &str, ranks: u8) {
        self.0.insert(key(nick), Member::new(nick, ranks));
    }

    /// Removes a member; true when they were there.
    pub fn remove(&mut self, nick: &str) -> bool {
        self.0.remove(&key(nick)).is_some()
    }

    /// Renames a member, keeping their ranks; true when they were there.
    pub fn rename(&mut self, old: &str, new: &str) -> bool {
        match self.0.remove(&key(old)) {
            Some(m) => {
                self.0.insert(key(new), Member::new(new, m.ranks));
                true
            }
            None => false,
        }
    }

    /// Gives or takes a rank; the member's nick as written and highest rank after, when
    /// they are there.
    pub fn set_rank(&mut self, nick: &str, rank: Rank, held: bool) -> Option<(String, Rank)> {
        let k = key(nick);
        let m = self.0.get_mut(&k)?;
        if held {
            m.ranks |= bit(rank);
        } else {
            m.ranks &= !bit(rank);
        }
        Some((m.nick.as_deref().unwrap_or(&k).to_string(), m.highest()))
    }

    /// Every member as (nick, highest rank).
    pub fn iter(&self) -> impl Iterator<Item = (&str, Rank)> {
        self.0
            .iter()
            .map(|(k, m)| (m.nick.as_deref().unwrap_or(k), m.highest()))
    }

    /// Whether `nick` is a member.
    pub fn contains(&self, nick: &str) -> bool {
        self.0.contains_key(&key(nick))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_with_ranks_as_bits() {
        let mut m = Members::default();
        m.insert("Carol", [Rank::Operator, Rank::Voiced]);
        m.insert("bob", []);
        assert_eq!(
            m.set_rank("CAROL", Rank::Operator, false),
            Some(("Carol".into(), Rank::Voiced))
        );
        assert_eq!(m.set_rank("nobody", Rank::Voiced, true), None);
        assert!(m.rename("carol", "Carla"));
        let mut all: Vec<_> = m.iter().map(|(n, r)| (n.to_string(), r)).collect();
        all.sort();
        assert_eq!(
            all,
            [
                ("Carla".to_string(), Rank::Voiced),
                ("bob".to_string(), Rank::Regular)
            ]
        );
        assert!(m.remove("BOB") && !m.remove("bob"));
        assert_eq!(m.len(), 1);
    }
}
