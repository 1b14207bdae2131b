//! How often each of the bounds in `irc.limits` was hit, over all connections, for
//! `/metrics` (one counter per bound: `switchboard_irc_limit_<name>_total`).

use std::sync::atomic::{AtomicU64, Ordering};
use switchboard_bridge::Counter;

/// One bound of [`crate::config::Limits`] (and the write timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A MOTD line past `motd_lines` dropped.
    Motd,
    /// A `CAP LS` line past `cap_ls_lines` ignored.
    CapLs,
    /// A forced JOIN past `forced_joins` left.
    ForcedJoin,
    /// A member past `members_per_channel` not kept.
    Members,
    /// A command left the flood-control queue past `throttle_queue`.
    ThrottleQueue,
    /// A command refused: `command_queue` full.
    CommandQueue,
    /// A raw JOIN refused: it would pass `max_channels_per_user`.
    RawJoin,
    /// A connection dropped: a write waited past `write_timeout`.
    WriteTimeout,
    /// A LIST reply line past the 20000 channels kept.
    List,
    /// A channel line said while our join completed, past the lines held for it.
    HeldLines,
    /// A CTCP request left unanswered: answers past the bucket's burst.
    CtcpFlood,
    /// An invitation from IRC not passed on: past the bucket's burst, or a pending
    /// invitation of ours past the bound.
    InviteFlood,
    /// A line of server text (welcome, notices, command replies) not passed on: past the
    /// bucket's burst.
    ServerText,
    /// A split quit shown at once: more nicks held back than the bound.
    NetsplitHeld,
    /// A joined channel's away states not asked: more members than `who_on_join`.
    WhoOnJoin,
}

const ALL: [(Limit, &str, &str); 15] = [
    (
        Limit::Motd,
        "switchboard_irc_limit_motd_total",
        "MOTD lines dropped past irc.limits.motd_lines.",
    ),
    (
        Limit::CapLs,
        "switchboard_irc_limit_cap_ls_total",
        "CAP LS lines ignored past irc.limits.cap_ls_lines.",
    ),
    (
        Limit::ForcedJoin,
        "switchboard_irc_limit_forced_join_total",
        "Channels the server joined us to unasked, left past irc.limits.forced_joins.",
    ),
    (
        Limit::Members,
        "switchboard_irc_limit_members_total",
        "Channel members not kept past irc.limits.members_per_channel.",
    ),
    (
        Limit::ThrottleQueue,
        "switchboard_irc_limit_throttle_queue_total",
        "Commands that filled the flood-control queue past irc.limits.throttle_queue.",
    ),
    (
        Limit::CommandQueue,
        "switchboard_irc_limit_command_queue_total",
        "Commands refused because irc.limits.command_queue was full.",
    ),
    (
        Limit::RawJoin,
        "switchboard_irc_limit_raw_join_total",
        "Raw JOIN commands refused past irc.max_channels_per_user.",
    ),
    (
        Limit::WriteTimeout,
        "switchboard_irc_limit_write_timeout_total",
        "Connections dropped because a write waited past the write_timeout.",
    ),
    (
        Limit::List,
        "switchboard_irc_limit_list_total",
        "LIST reply lines dropped past the 20000 channels kept.",
    ),
    (
        Limit::HeldLines,
        "switchboard_irc_limit_held_lines_total",
        "Channel lines said while a join completed, dropped past the 64 held.",
    ),
    (
        Limit::CtcpFlood,
        "switchboard_irc_limit_ctcp_flood_total",
        "CTCP requests left unanswered past 3 answers at once and one per 2 s.",
    ),
    (
        Limit::InviteFlood,
        "switchboard_irc_limit_invite_flood_total",
        "Invitations from IRC dropped past 3 at once and one per 10 s.",
    ),
    (
        Limit::ServerText,
        "switchboard_irc_limit_server_text_total",
        "Lines of server text (welcome, notices, command replies) dropped past 64 at once and 10 per s.",
    ),
    (
        Limit::NetsplitHeld,
        "switchboard_irc_limit_netsplit_held_total",
        "Netsplit quits shown at once because 10000 were held back already.",
    ),
    (
        Limit::WhoOnJoin,
        "switchboard_irc_limit_who_on_join_total",
        "Channels joined whose members' away states were not asked: more members than irc.limits.who_on_join.",
    ),
];

/// The counters, shared by every connection of the bridge.
#[derive(Debug, Default)]
pub struct LimitHits([AtomicU64; ALL.len()]);

impl LimitHits {
    fn index(limit: Limit) -> usize {
        ALL.iter().position(|(l, _, _)| *l == limit).unwrap_or(0)
    }

    /// Counts one hit.
    pub fn hit(&self, limit: Limit) {
        self.0[Self::index(limit)].fetch_add(1, Ordering::Relaxed);
    }

    /// Hits of one bound so far.
    pub fn get(&self, limit: Limit) -> u64 {
        self.0[Self::index(limit)].load(Ordering::Relaxed)
    }

    /// Every counter, for `/metrics`.
    pub fn counters(&self) -> Vec<Counter> {
        ALL.iter()
            .map(|(limit, name, help)| Counter {
                name,
                help,
                value: self.get(*limit),
            })
            .collect()
    }
}
