//! One line, many reports: every user's IRC connection in a channel hears the same line,
//! and the archive keeps it once. A report is the same line as an earlier one when the
//! same nick said the same text in the same room within [`WINDOW`], and the earlier line
//! was not yet reported by this login (a login that reports the same text twice heard it
//! said twice). Pure: time is passed in.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
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
}

/// What a report turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// A line not heard before: archive it under this seq.
    New(i64),
    /// A line already archived under this seq.
    Known(i64),
}

fn key(group: &GroupId, nick: &str, body: &str) -> u64 {
    let mut h = DefaultHasher::new();
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
        let k = key(group, nick, body);
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

    fn l(s: &str) -> LoginId {
        LoginId::new(s)
    }

    fn g() -> GroupId {
        GroupId::new("#a%net")
    }

    #[test]
    fn one_line_heard_by_many_connections_is_one_line() {
        let mut d = Dedupe::default();
        let mut next = 100;
        let mut fresh = || {
            next += 1;
            next
        };
        assert_eq!(
            d.report(&l("a"), &g(), "Bob", "hi", 0, 10, &mut fresh),
            Report::New(101)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "hi", 5, 10, &mut fresh),
            Report::Known(101)
        );
        assert_eq!(
            d.report(&l("c"), &g(), "BOB", "hi", 9, 10, &mut fresh),
            Report::Known(101)
        );
    }

    #[test]
    fn the_same_text_said_twice_is_two_lines_for_everyone() {
        let mut d = Dedupe::default();
        let mut next = 0;
        let mut fresh = || {
            next += 1;
            next
        };
        assert_eq!(
            d.report(&l("a"), &g(), "bob", "ok", 0, 10, &mut fresh),
            Report::New(1)
        );
        assert_eq!(
            d.report(&l("a"), &g(), "bob", "ok", 1, 10, &mut fresh),
            Report::New(2)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "ok", 2, 10, &mut fresh),
            Report::Known(1)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "ok", 3, 10, &mut fresh),
            Report::Known(2)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "ok", 4, 10, &mut fresh),
            Report::New(3)
        );
    }

    #[test]
    fn another_room_nick_or_text_is_another_line() {
        let mut d = Dedupe::default();
        let mut next = 0;
        let mut fresh = || {
            next += 1;
            next
        };
        d.report(&l("a"), &g(), "bob", "ok", 0, 10, &mut fresh);
        let other = GroupId::new("#b%net");
        assert_eq!(
            d.report(&l("b"), &other, "bob", "ok", 1, 10, &mut fresh),
            Report::New(2)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "carol", "ok", 1, 10, &mut fresh),
            Report::New(3)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "OK", 1, 10, &mut fresh),
            Report::New(4)
        );
    }

    #[test]
    fn a_line_everyone_reported_is_forgotten_at_once() {
        let mut d = Dedupe::default();
        let mut next = 0;
        let mut fresh = || {
            next += 1;
            next
        };
        assert_eq!(
            d.report(&l("a"), &g(), "bob", "hi", 0, 2, &mut fresh),
            Report::New(1)
        );
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "hi", 1, 2, &mut fresh),
            Report::Known(1)
        );
        assert!(d.lines.is_empty());
        // Said again later, by then everyone reported the first: a new line.
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "hi", 2, 2, &mut fresh),
            Report::New(2)
        );
        // Alone in the room: nothing to remember.
        assert_eq!(
            d.report(&l("a"), &g(), "eve", "x", 3, 1, &mut fresh),
            Report::New(3)
        );
        assert_eq!(
            d.report(&l("a"), &g(), "eve", "x", 4, 1, &mut fresh),
            Report::New(4)
        );
        assert!(!d.lines.values().flatten().any(|s| s.nick == "eve"));
    }

    #[test]
    fn a_line_is_forgotten_after_the_window_and_memory_is_bounded() {
        let mut d = Dedupe::default();
        let mut next = 0;
        let mut fresh = || {
            next += 1;
            next
        };
        let window = WINDOW.as_micros() as i64;
        d.report(&l("a"), &g(), "bob", "hi", 0, 10, &mut fresh);
        assert_eq!(
            d.report(&l("b"), &g(), "bob", "hi", window + 1, 10, &mut fresh),
            Report::New(2)
        );
        for i in 0..(CAPACITY as i64 + 10) {
            d.report(
                &l("a"),
                &g(),
                "bob",
                &i.to_string(),
                window + 2,
                10,
                &mut fresh,
            );
        }
        assert!(d.len() <= CAPACITY);
    }
}
