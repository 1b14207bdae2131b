//! One line, many reports: every user's IRC connection in a channel hears the same line,
//! and the archive keeps it once. A report is the same line as an earlier one when the
//! same nick said the same text in the same room within [`WINDOW`], and the earlier line
//! was not yet reported by this login (a login that reports the same text twice heard it
//! said twice). Pure: time is passed in.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;
use switchboard_bridge::{GroupId, LoginId};

/// How far apart two connections may hear one line.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Lines remembered at most (the oldest are forgotten first): bounds memory whatever the
/// rooms say.
pub const CAPACITY: usize = 16_384;

#[derive(Debug)]
struct Seen {
    seq: i64,
    group: GroupId,
    nick: String,
    body: String,
    /// Who reported it, as indexes into `Dedupe::logins`.
    by: Vec<u32>,
}

impl Seen {
    fn is(&self, group: &GroupId, nick: &str, body: &str) -> bool {
        self.group == *group && self.nick.eq_ignore_ascii_case(nick) && self.body == body
    }
}

/// The lines heard lately, by a hash of room, nick (ASCII case ignored) and text; reports
/// of a line cost no allocation once it is known.
#[derive(Debug, Default)]
pub struct Dedupe {
    lines: HashMap<u64, VecDeque<Seen>>,
    /// Every remembered line in the order heard (time, seq, key), to forget the oldest.
    order: VecDeque<(i64, i64, u64)>,
    /// Logins as small numbers.
    logins: HashMap<LoginId, u32>,
    /// Keys are hashed with a key of this process's own, so that nobody on IRC can pick
    /// texts that all land in one bucket.
    hasher: RandomState,
}

/// What a report turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// A line not heard before: archive it under this seq.
    New(i64),
    /// A line already archived under this seq.
    Known(i64),
}

fn key(hasher: &RandomState, group: &GroupId, nick: &str, body: &str) -> u64 {
    let mut h = hasher.build_hasher();
    group.hash(&mut h);
    for b in nick.bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.write_u8(0xff);
    body.hash(&mut h);
    h.finish()
}

impl Dedupe {
    /// A report from `login` at `now` (µs) of `nick` saying `body` in `group`; `fresh` is the
    /// seq a new line gets. `expected` is how many logins are in the room: once that many
    /// reported a line, no other report can be of it and it is forgotten at once.
    #[allow(clippy::too_many_arguments)]
    pub fn report(
        &mut self,
        login: &LoginId,
        group: &GroupId,
        nick: &str,
        body: &str,
        now: i64,
        expected: usize,
        fresh: impl FnOnce() -> i64,
    ) -> Report {
        self.forget(now);
        let next = self.logins.len() as u32;
        let who = match self.logins.get(login) {
            Some(n) => *n,
            None => {
                self.logins.insert(login.clone(), next);
                next
            }
        };
        let k = key(&self.hasher, group, nick, body);
        if let Some(seen) = self.lines.get_mut(&k) {
            if let Some(i) = seen
                .iter()
                .position(|s| s.is(group, nick, body) && !s.by.contains(&who))
            {
                let line = &mut seen[i];
                line.by.push(who);
                let seq = line.seq;
                if line.by.len() >= expected {
                    seen.remove(i);
                    if seen.is_empty() {
                        self.lines.remove(&k);
                    }
                }
                return Report::Known(seq);
            }
        }
        let seq = fresh();
        if expected > 1 {
            self.lines.entry(k).or_default().push_back(Seen {
                seq,
                group: group.clone(),
                nick: nick.to_string(),
                body: body.to_string(),
                by: vec![who],
            });
            self.order.push_back((now, seq, k));
        }
        Report::New(seq)
    }

    /// Lines remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn forget(&mut self, now: i64) {
        let horizon = now - WINDOW.as_micros() as i64;
        while let Some((at, _, _)) = self.order.front() {
            if *at > horizon && self.order.len() < CAPACITY {
                break;
            }
            let Some((_, seq, k)) = self.order.pop_front() else {
                break;
            };
            if let Some(seen) = self.lines.get_mut(&k) {
                // Gone already if everyone reported it.
                seen.retain(|s| s.seq != seq);
                if seen.is_empty() {
                    self.lines.remove(&k);
                }
            }
        }
        if self.order.is_empty() && self.logins.len() > CAPACITY {
            // Logins come and go: their numbers are only needed while lines are remembered.
            self.logins.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Report::{Known, New};

    /// A dedupe whose new lines get 1, 2, 3…; reports are (login, group, nick, body, time,
    /// logins in the room).
    #[derive(Default)]
    struct T {
        d: Dedupe,
        next: i64,
    }

    impl T {
        fn in_room(
            &mut self,
            login: &str,
            group: &str,
            nick: &str,
            body: &str,
            now: i64,
            n: usize,
        ) -> Report {
            let next = &mut self.next;
            self.d.report(
                &LoginId::new(login),
                &GroupId::new(group),
                nick,
                body,
                now,
                n,
                || {
                    *next += 1;
                    *next
                },
            )
        }

        fn r(&mut self, login: &str, nick: &str, body: &str, now: i64) -> Report {
            self.in_room(login, "#a%net", nick, body, now, 10)
        }
    }

    #[test]
    fn one_line_heard_by_many_connections_is_one_line() {
        let mut t = T::default();
        assert_eq!(t.r("a", "Bob", "hi", 0), New(1));
        assert_eq!(t.r("b", "bob", "hi", 5), Known(1));
        assert_eq!(t.r("c", "BOB", "hi", 9), Known(1));
    }

    #[test]
    fn the_same_text_said_twice_is_two_lines_for_everyone() {
        let mut t = T::default();
        assert_eq!(t.r("a", "bob", "ok", 0), New(1));
        assert_eq!(t.r("a", "bob", "ok", 1), New(2));
        assert_eq!(t.r("b", "bob", "ok", 2), Known(1));
        assert_eq!(t.r("b", "bob", "ok", 3), Known(2));
        assert_eq!(t.r("b", "bob", "ok", 4), New(3));
    }

    #[test]
    fn another_room_nick_or_text_is_another_line() {
        let mut t = T::default();
        t.r("a", "bob", "ok", 0);
        assert_eq!(t.in_room("b", "#b%net", "bob", "ok", 1, 10), New(2));
        assert_eq!(t.r("b", "carol", "ok", 1), New(3));
        assert_eq!(t.r("b", "bob", "OK", 1), New(4));
    }

    #[test]
    fn a_line_everyone_reported_is_forgotten_at_once() {
        let mut t = T::default();
        assert_eq!(t.in_room("a", "#a%net", "bob", "hi", 0, 2), New(1));
        assert_eq!(t.in_room("b", "#a%net", "bob", "hi", 1, 2), Known(1));
        assert!(t.d.lines.is_empty());
        // Said again later, by then everyone reported the first: a new line.
        assert_eq!(t.in_room("b", "#a%net", "bob", "hi", 2, 2), New(2));
        // Alone in the room: nothing to remember.
        assert_eq!(t.in_room("a", "#a%net", "eve", "x", 3, 1), New(3));
        assert_eq!(t.in_room("a", "#a%net", "eve", "x", 4, 1), New(4));
        assert!(!t.d.lines.values().flatten().any(|s| s.nick == "eve"));
    }

    #[test]
    fn a_line_is_forgotten_after_the_window_and_memory_is_bounded() {
        let mut t = T::default();
        let window = WINDOW.as_micros() as i64;
        t.r("a", "bob", "hi", 0);
        assert_eq!(t.r("b", "bob", "hi", window + 1), New(2));
        for i in 0..(CAPACITY as i64 + 10) {
            t.r("a", "bob", &i.to_string(), window + 2);
        }
        assert!(t.d.len() <= CAPACITY);
    }
}
