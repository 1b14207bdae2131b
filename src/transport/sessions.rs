//! Foreign sessions: one per registered user, opened at start and on registration.

use super::outbox;
use super::Transport;
use crate::store::Registration;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use switchboard_bridge::{Availability, BridgeError, LoginData, LoginId, Session, SessionState};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use xmpp_parsers::jid::{BareJid, Jid};

/// A live session.
pub(super) struct Entry {
    pub(super) jid: BareJid,
    pub(super) session: Arc<dyn Session>,
    pub(super) cancel: CancellationToken,
    /// Wakes the login's outbox worker.
    pub(super) notify: Arc<Notify>,
    /// Messages of this login in the outbox (kept here so that taking a message needs no
    /// count query).
    pub(super) queued: Arc<AtomicU64>,
    pub(super) state: SessionState,
}

/// The live sessions of a transport, by login and by user.
#[derive(Default)]
pub(super) struct Sessions {
    by_login: HashMap<LoginId, Entry>,
    by_jid: HashMap<BareJid, LoginId>,
    /// Resources of each user that told the transport they are online, with how available
    /// each said it is.
    online: HashMap<BareJid, HashMap<Jid, Shown>>,
    /// The resource of each user that last sent the transport a message or an available
    /// presence (a join), until it sends an unavailable one.
    last: HashMap<BareJid, Jid>,
}

/// How available one resource said it is, and its status text.
pub(super) type Shown = (Availability, Option<String>);

/// How available a user is over their resources: the most available one's (chat and
/// available before away, away before extended away, before do-not-disturb).
fn best(resources: &HashMap<Jid, Shown>) -> Option<Shown> {
    let rank = |a: Availability| match a {
        Availability::Chat | Availability::Available => 0,
        Availability::Away => 1,
        Availability::ExtendedAway => 2,
        Availability::DoNotDisturb => 3,
        Availability::Offline => 4,
    };
    resources
        .values()
        .min_by_key(|(a, _)| rank(*a))
        .map(|(a, s)| match a {
            Availability::Chat | Availability::Available => (Availability::Available, None),
            _ => (*a, s.clone()),
        })
}

impl Sessions {
    pub(super) fn len(&self) -> usize {
        self.by_login.len()
    }

    /// Sessions whose foreign connection is not up.
    pub(super) fn down(&self) -> usize {
        self.by_login.values().filter(|e| !e.state.is_up()).count()
    }

    /// Some login with a session (the fuzz rig speaks for it).
    pub(super) fn first_login(&self) -> Option<LoginId> {
        self.by_login.keys().min().cloned()
    }

    pub(super) fn get(&self, login: &LoginId) -> Option<&Entry> {
        self.by_login.get(login)
    }

    pub(super) fn get_mut(&mut self, login: &LoginId) -> Option<&mut Entry> {
        self.by_login.get_mut(login)
    }

    pub(super) fn login_of(&self, jid: &BareJid) -> Option<LoginId> {
        self.by_jid.get(jid).cloned()
    }

    /// Notes a resource online, as available as it says; returns how available the user
    /// now is over all resources when that changed.
    pub(super) fn resource_online(&mut self, who: &Jid, shown: Shown) -> Option<Shown> {
        let set = self.online.entry(who.to_bare()).or_default();
        let before = best(set);
        set.insert(who.clone(), shown);
        let after = best(set);
        (after != before).then_some(after).flatten()
    }

    /// Notes a resource offline: `None` when the user has no resource online any more,
    /// else how available the others make them (`Some(None)` when unchanged).
    pub(super) fn resource_offline(&mut self, who: &Jid) -> Option<Option<Shown>> {
        let bare = who.to_bare();
        let set = self.online.get_mut(&bare)?;
        let before = best(set);
        set.remove(who);
        if set.is_empty() {
            self.online.remove(&bare);
            return None;
        }
        let after = best(set);
        Some((after != before).then_some(after).flatten())
    }

    /// Notes who spoke to the transport: `available` false forgets the resource.
    pub(super) fn note_resource(&mut self, who: &Jid, available: bool) {
        if who.resource().is_none() {
            return;
        }
        let bare = who.to_bare();
        if available {
            if self.last.get(&bare) != Some(who) {
                self.last.insert(bare, who.clone());
            }
        } else if self.last.get(&bare) == Some(who) {
            self.last.remove(&bare);
        }
    }

    /// The user's resources known to be online: those that sent the transport presence,
    /// and the one that last spoke to it.
    pub(super) fn resources_of(&self, user: &BareJid) -> Vec<Jid> {
        let mut out: Vec<Jid> = self
            .online
            .get(user)
            .map(|set| set.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(last) = self.last.get(user) {
            if !out.contains(last) {
                out.push(last.clone());
            }
        }
        out
    }

    pub(super) fn users(&self) -> Vec<BareJid> {
        self.by_jid.keys().cloned().collect()
    }

    fn insert(&mut self, login: LoginId, entry: Entry) {
        self.by_jid.insert(entry.jid.clone(), login.clone());
        self.by_login.insert(login, entry);
    }

    fn remove(&mut self, login: &LoginId) -> Option<Entry> {
        let entry = self.by_login.remove(login)?;
        self.by_jid.remove(&entry.jid);
        Some(entry)
    }
}

impl Transport {
    /// Opens a session for every stored registration (after a restart); their outbox
    /// workers deliver what was queued before.
    pub(super) async fn restore_sessions(self: &Arc<Self>) {
        let regs = match self.store.registrations(&self.domain).await {
            Ok(regs) => regs,
            Err(e) => {
                tracing::error!(domain = %self.domain, error = %e, "Cannot read registrations");
                return;
            }
        };
        tracing::info!(domain = %self.domain, users = regs.len(), "Restoring sessions");
        for reg in regs {
            if let Err(e) = self.open_session(&reg).await {
                tracing::warn!(domain = %self.domain, login = %reg.login, error = %e, "Cannot open a session");
            }
            if let Ok(jid) = BareJid::new(&reg.jid) {
                self.send_transport_presence(&jid.into()).await;
            }
        }
    }

    /// Opens (or reopens, with new data) the session of a registration.
    pub(super) async fn open_session(
        self: &Arc<Self>,
        reg: &Registration,
    ) -> Result<(), BridgeError> {
        let jid = BareJid::new(&reg.jid)
            .map_err(|e| BridgeError::InvalidAddress(format!("stored JID {}: {e}", reg.jid)))?;
        self.close_session(&reg.login).await;
        // A queue of its own: this session waits only for its own backlog.
        let sink = self.event_queues.sink(reg.login.clone());
        // The user's name, as a hint for networks that need one (an IRC nick before the
        // user chose one).
        let mut data = reg.data.clone();
        data.insert(switchboard_bridge::OWNER_KEY.into(), jid.to_string());
        if let Some(node) = jid.node() {
            data.entry("display_name".into())
                .or_insert_with(|| node.to_string());
        }
        let session = self
            .connector
            .open_session(reg.login.clone(), data, sink)
            .await?;
        let cancel = self.session_shutdown.child_token();
        let notify = Arc::new(Notify::new());
        let waiting = self.store.outbox_len(&reg.login).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "Cannot count a login's outbox");
            0
        });
        let queued = Arc::new(AtomicU64::new(waiting));
        self.sessions().insert(
            reg.login.clone(),
            Entry {
                jid,
                session: session.clone(),
                cancel: cancel.clone(),
                notify: notify.clone(),
                queued: queued.clone(),
                state: SessionState::Connecting,
            },
        );
        self.replay_commands(&reg.login, &session).await;
        self.tasks.spawn(session.clone().run(cancel.clone()));
        self.tasks.spawn(outbox::worker(
            self.clone(),
            reg.login.clone(),
            session,
            notify,
            queued,
            cancel,
        ));
        tracing::debug!(domain = %self.domain, login = %reg.login, "Session opened");
        Ok(())
    }

    /// Closes a login's session, if open.
    pub(super) async fn close_session(&self, login: &LoginId) -> Option<Arc<dyn Session>> {
        let entry = self.sessions().remove(login)?;
        entry.cancel.cancel();
        Some(entry.session)
    }

    /// The login of a user, opening an implicit one on networks that need no
    /// registration.
    pub(super) async fn login_for(self: &Arc<Self>, jid: &BareJid) -> Result<LoginId, BridgeError> {
        if let Some(login) = self.sessions().login_of(jid) {
            return Ok(login);
        }
        if self.connector.info().registration_required {
            return Err(BridgeError::NotLoggedIn);
        }
        let reg = self
            .store
            .put_registration(&self.domain, jid.as_str(), &LoginData::new())
            .await
            .map_err(|e| BridgeError::Transient(format!("storage: {e}")))?;
        self.open_session(&reg).await?;
        Ok(reg.login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_as_available_as_their_most_available_resource() {
        let mut s = Sessions::default();
        let phone = Jid::new("alice@example.org/phone").unwrap();
        let desk = Jid::new("alice@example.org/desk").unwrap();
        let away = |t: &str| (Availability::Away, Some(t.to_string()));
        // The first resource: a change from nothing.
        assert_eq!(
            s.resource_online(&phone, (Availability::Available, None)),
            Some((Availability::Available, None))
        );
        // Another resource away: still available, nothing to tell.
        assert_eq!(s.resource_online(&desk, away("lunch")), None);
        // The phone goes dnd: the desk's away (with its text) is the best.
        assert_eq!(
            s.resource_online(&phone, (Availability::DoNotDisturb, None)),
            Some(away("lunch"))
        );
        // Chat counts as available, and its status text is not an away text.
        assert_eq!(
            s.resource_online(&phone, (Availability::Chat, Some("hi".into()))),
            Some((Availability::Available, None))
        );
        // The phone leaves: the desk is away; the desk leaves: nobody is online.
        assert_eq!(s.resource_offline(&phone), Some(Some(away("lunch"))));
        assert_eq!(s.resource_offline(&desk), None);
        assert_eq!(s.resource_offline(&desk), None);
    }
}
