//! Persistent channels (bouncer mode) and channel settings.
//!
//! The `configure` command on a room JID ([`super::room_configure`]) sets, per user and
//! channel, `persistent` (the channel stays joined on the network while none of the user's
//! resources is in the room) and `record_history` (whether the archive keeps what the user
//! may read). Settings live in the store (`room:<group>` among the user's settings) with
//! the nick last joined with, so persistent channels are joined again when the gateway
//! starts. While a user is away from a persistent channel, lines keep being archived; a
//! line that names their nick is sent to their bare JID as a chat message from the room (so
//! their server keeps it offline), at most [`HIGHLIGHTS`] per [`HIGHLIGHT_WINDOW`]; on
//! return the join gets what was said since they left (at most [`MAX_ON_JOIN`] lines,
//! unless its `<history/>` asks otherwise).

use super::muc::Room;
use super::Transport;
use crate::config::MAX_ON_JOIN;
use crate::xmpp::history::HistoryRequest;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use switchboard_bridge::{GroupId, LoginId};
use xmpp_parsers::jid::BareJid;

/// Highlights sent to an away user per room and window at most; more are left to history.
pub(super) const HIGHLIGHTS: u32 = 10;
/// See [`HIGHLIGHTS`].
pub(super) const HIGHLIGHT_WINDOW: Duration = Duration::from_secs(600);

/// One user's settings for one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RoomSettings {
    /// Stay joined while away.
    pub persistent: bool,
    /// Archive what is said for this user.
    pub record_history: bool,
    /// The nick the channel was last joined with (a persistent channel rejoins with it).
    pub nick: Option<String>,
    /// Since when (µs since 1970) none of the user's resources has been in the room, if
    /// they are away from it: a return after a restart catches up from there.
    pub away_since: Option<i64>,
    /// The channel key it was last joined with, sealed ([`crate::store::seal`]): a
    /// persistent channel with a key rejoins with it.
    pub key: Option<String>,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            persistent: false,
            record_history: true,
            nick: None,
            away_since: None,
            key: None,
        }
    }
}

/// The sealed value's field name in a room's settings.
const KEY_FIELD: &str = "key";

fn settings_key(group: &GroupId) -> String {
    format!("room:{group}")
}

/// Whether `body` names `nick` as a word (ASCII case ignored), as IRC clients highlight.
pub(super) fn mentions(body: &str, nick: &str) -> bool {
    if nick.is_empty() {
        return false;
    }
    let is_nick_char = |c: char| c.is_alphanumeric() || "[]\\`_^{|}-".contains(c);
    body.split(|c: char| !is_nick_char(c))
        .any(|word| word.eq_ignore_ascii_case(nick))
}

/// What a returning user's join asks for, when they come back to a channel they were away
/// from: what was said since they left, unless the join asked for something itself.
pub(super) fn catch_up(
    asked: Option<HistoryRequest>,
    away_since: Option<SystemTime>,
) -> Option<HistoryRequest> {
    match (asked, away_since) {
        (None, Some(since)) => Some(HistoryRequest {
            max_stanzas: Some(MAX_ON_JOIN),
            seconds: None,
            since: Some(since),
        }),
        (asked, _) => asked,
    }
}

impl Room {
    /// Whether a highlight may be sent now (and counts it).
    pub(super) fn take_highlight(&mut self) -> bool {
        let now = Instant::now();
        match self.highlights {
            Some((since, n)) if now.duration_since(since) < HIGHLIGHT_WINDOW => {
                if n >= HIGHLIGHTS {
                    return false;
                }
                self.highlights = Some((since, n + 1));
            }
            _ => self.highlights = Some((now, 1)),
        }
        true
    }
}

impl Transport {
    /// A user's settings for a channel (the defaults when none are stored).
    pub(super) async fn room_settings(&self, login: &LoginId, group: &GroupId) -> RoomSettings {
        let defaults = RoomSettings {
            persistent: self.connector.groups_persistent_by_default(),
            ..RoomSettings::default()
        };
        match self.store.setting(login, &settings_key(group)).await {
            Ok(Some(json)) => serde_json::from_str(&json).unwrap_or(defaults),
            Ok(None) => defaults,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read channel settings; using the defaults");
                defaults
            }
        }
    }

    pub(super) async fn save_room_settings(
        &self,
        login: &LoginId,
        group: &GroupId,
        settings: &RoomSettings,
    ) -> Result<(), crate::error::Error> {
        let json = serde_json::to_string(settings).unwrap_or_default();
        self.store
            .put_setting(login, &settings_key(group), &json)
            .await
    }

    /// Remembers the nick and key a persistent channel was joined with, for the next
    /// start (the key sealed).
    pub(super) async fn remember_join(
        &self,
        login: &LoginId,
        group: &GroupId,
        nick: &str,
        key: Option<&str>,
    ) {
        let mut settings = self.room_settings(login, group).await;
        if !settings.persistent {
            return;
        }
        let changed = settings.nick.as_deref() != Some(nick)
            || self.room_key(login, group, &settings).as_deref() != key;
        if changed {
            self.set_join(login, group, &mut settings, nick, key);
            if let Err(e) = self.save_room_settings(login, group, &settings).await {
                tracing::warn!(error = %e, "Cannot store a channel's nick and key");
            }
        }
    }

    /// Puts the nick and the sealed key of a join into a room's settings.
    pub(super) fn set_join(
        &self,
        login: &LoginId,
        group: &GroupId,
        settings: &mut RoomSettings,
        nick: &str,
        key: Option<&str>,
    ) {
        settings.nick = Some(nick.to_string());
        settings.key = key
            .filter(|k| !k.is_empty())
            .map(|k| self.seal_value(login, &settings_key(group), KEY_FIELD, k));
    }

    /// The key a room's settings hold, opened (`None` if there is none, or it no longer
    /// opens: the user gives it again on the next join).
    fn room_key(&self, login: &LoginId, group: &GroupId, s: &RoomSettings) -> Option<String> {
        let sealed = s.key.as_deref()?;
        self.open_value(login, &settings_key(group), KEY_FIELD, sealed)
    }

    /// Stores that the user went away from a persistent room (or came back: `None`).
    pub(super) async fn store_away(
        &self,
        login: &LoginId,
        group: &GroupId,
        since: Option<SystemTime>,
    ) {
        let mut settings = self.room_settings(login, group).await;
        let since = since.map(crate::archive::to_us);
        if settings.away_since != since {
            settings.away_since = since;
            if let Err(e) = self.save_room_settings(login, group, &settings).await {
                tracing::warn!(error = %e, "Cannot store when a user left a persistent channel");
            }
        }
    }

    /// Settings take effect on a room the user is in (or away from).
    pub(super) async fn apply_room_settings(
        &self,
        login: &LoginId,
        group: &GroupId,
        s: &RoomSettings,
    ) {
        let key = (login.clone(), group.clone());
        let (joined, was_recording, unattended) = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(&key) else {
                return;
            };
            let was = !room.unrecorded;
            room.unrecorded = !s.record_history;
            room.persistent = s.persistent;
            let unattended = room.resources.is_empty() && room.pending.is_empty();
            (room.joined, was, unattended)
        };
        if let (true, Some(archive)) = (joined, &self.archive) {
            match (was_recording, s.record_history) {
                (false, true) => archive.joined(login, group).await,
                (true, false) => archive.left(login, group).await,
                _ => {}
            }
        }
        if joined && unattended && !s.persistent {
            // Kept only because it was persistent, and nobody is in: leave now.
            self.bridge_leave(&key, None).await;
        }
    }

    /// Joins again, without anyone asking, every persistent channel in the store (after a
    /// start), with the nick it was last joined with.
    pub(super) async fn rejoin_persistent(self: &Arc<Self>) {
        let regs = match self.store.registrations(&self.domain).await {
            Ok(regs) => regs,
            Err(e) => return tracing::error!(error = %e, "Cannot read registrations"),
        };
        let mut rejoined = 0;
        for reg in regs {
            let stored = match self.store.settings(&reg.login, "room:").await {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot read channel settings");
                    continue;
                }
            };
            for (key, json) in stored {
                let Some(group) = key.strip_prefix("room:").map(GroupId::new) else {
                    continue;
                };
                let Ok(settings) = serde_json::from_str::<RoomSettings>(&json) else {
                    continue;
                };
                let (true, Some(nick)) = (settings.persistent, settings.nick.clone()) else {
                    continue;
                };
                // Away since they left, or, if they were in when the gateway stopped,
                // since now (what was said while it was down was not heard).
                let stored_away = settings.away_since.map(crate::archive::from_us);
                let away_since = stored_away.unwrap_or_else(SystemTime::now);
                if self.session_of(&reg.login).is_none() {
                    continue;
                }
                let room_key = (reg.login.clone(), group);
                {
                    let mut rooms = self.rooms();
                    if rooms.contains_key(&room_key) {
                        continue;
                    }
                    rooms.insert(
                        room_key.clone(),
                        Room {
                            nick: nick.clone(),
                            persistent: true,
                            away_since: Some(away_since),
                            ..Room::default()
                        },
                    );
                }
                if stored_away.is_none() {
                    // Kept for the next start too, until the user comes back.
                    self.store_away(&room_key.0, &room_key.1, Some(away_since))
                        .await;
                }
                let key = self.room_key(&room_key.0, &room_key.1, &settings);
                self.bridge_join(&room_key, nick, key).await;
                rejoined += 1;
            }
        }
        if rejoined > 0 {
            tracing::info!(domain = %self.domain, channels = rejoined, "Persistent channels joined again");
        }
    }

    /// [`Transport::rejoin_persistent`] as a task of its own.
    pub(super) async fn rejoin_persistent_task(self: Arc<Self>) {
        self.rejoin_persistent().await
    }

    /// A line said while the user is away from a persistent channel that names them: a chat
    /// message from the room to their bare JID.
    pub(super) async fn highlight(
        &self,
        user: &BareJid,
        room: &BareJid,
        said_by: &str,
        body: &str,
    ) {
        let m = crate::xmpp::muc::highlight(room, user, said_by, body);
        self.forward_stanza(m).await;
    }
}

#[cfg(test)]
#[path = "bouncer_tests.rs"]
mod tests;
