//! Foreign sessions: one per registered user, opened at start and on registration.

use super::outbox;
use super::Transport;
use crate::store::Registration;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use switchboard_bridge::{BridgeError, LoginData, LoginId, Session, SessionState};
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
    /// Resources of each user that told the transport they are online.
    online: HashMap<BareJid, HashSet<Jid>>,
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

    /// Notes a resource online; true when it is the user's first.
    pub(super) fn resource_online(&mut self, who: &Jid) -> bool {
        let set = self.online.entry(who.to_bare()).or_default();
        let first = set.is_empty();
        set.insert(who.clone());
        first
    }

    /// Notes a resource offline; true when the user has no resource online any more.
    pub(super) fn resource_offline(&mut self, who: &Jid) -> bool {
        let bare = who.to_bare();
        let Some(set) = self.online.get_mut(&bare) else {
            return true;
        };
        set.remove(who);
        if set.is_empty() {
            self.online.remove(&bare);
            return true;
        }
        false
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
