//! An in-process transport for unit tests: a link without a server (what the transport
//! sends comes out of [`Rig::out`]), in-memory storage, and a small connector that offers
//! user commands and records what the gateway observed for it.

use super::{BridgeInputs, Transport, TransportParts};
use crate::access::Access;
use crate::link::{self, LinkHandle, LinkState, Queued};
use crate::store::sqlite::SqliteStore;
use crate::store::BridgeKv;
use crate::watch::Hub;
use async_trait::async_trait;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_bridge::{
    BridgeError, Capabilities, Chat, CommandForm, CommandReply, Connector, EventSink, FieldKind,
    FormField, FormValues, GroupId, LoginData, LoginId, Network, NetworkInfo, Observation,
    RegistrationForm, ReplyField, Session, UserId, Watcher,
};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use xmpp_parsers::stanza::Stanza;

const T: Duration = Duration::from_secs(5);

/// A connector with two user commands (`digest-list` without fields, `digest-subscribe`
/// with a JID field) that keeps what it is given.
pub(crate) struct TestConnector {
    info: NetworkInfo,
    /// (node, values) of every user command run.
    pub(crate) ran: Mutex<Vec<(String, FormValues)>>,
    seen: Mutex<Vec<Observation>>,
    seen_notify: Notify,
    watcher: Mutex<Option<Arc<dyn Watcher>>>,
    /// With group chats: sessions open without registration and record their calls.
    groups: bool,
    /// What the sessions were asked ("join #room as nick", "leave #room").
    pub(crate) calls: Arc<Mutex<Vec<String>>>,
}

impl TestConnector {
    fn new(groups: bool) -> Self {
        TestConnector {
            groups,
            calls: Arc::default(),
            info: NetworkInfo {
                id: "test",
                display_name: "Test",
                gateway_type: "smtp",
                registration_required: !groups,
                prompt: "Address",
                caps: Capabilities::default(),
                send_window: 1,
            },
            ran: Mutex::default(),
            seen: Mutex::default(),
            seen_notify: Notify::new(),
            watcher: Mutex::default(),
        }
    }

    /// The watcher the transport handed the bridge at start.
    pub(crate) fn watcher(&self) -> Arc<dyn Watcher> {
        self.watcher.lock().unwrap().clone().expect("started")
    }

    /// The next observation (in order), waiting for it.
    pub(crate) async fn next_seen(&self) -> Observation {
        let wait = async {
            loop {
                let notified = self.seen_notify.notified();
                {
                    let mut seen = self.seen.lock().unwrap();
                    if !seen.is_empty() {
                        return seen.remove(0);
                    }
                }
                notified.await;
            }
        };
        tokio::time::timeout(T, wait)
            .await
            .expect("an observation in time")
    }
}

#[async_trait]
impl Connector for TestConnector {
    fn info(&self) -> &NetworkInfo {
        &self.info
    }

    fn registration_form(&self) -> RegistrationForm {
        RegistrationForm {
            instructions: String::new(),
            fields: vec![],
        }
    }

    async fn register(&self, _form: &FormValues) -> Result<LoginData, BridgeError> {
        Err(BridgeError::Unsupported("registration"))
    }

    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError> {
        Ok(match local.strip_prefix('#') {
            Some(_) => Chat::Group(GroupId::new(local)),
            None => Chat::Direct(UserId::new(local)),
        })
    }

    fn format_address(&self, chat: &Chat) -> String {
        match chat {
            Chat::Group(g) => g.as_str().to_string(),
            Chat::Direct(u) => u.as_str().to_string(),
        }
    }

    async fn start(
        &self,
        network: Network,
    ) -> Result<Option<switchboard_bridge::axum::Router>, BridgeError> {
        *self.watcher.lock().unwrap() = Some(network.watcher);
        Ok(None)
    }

    fn user_commands(&self) -> Vec<CommandForm> {
        vec![
            CommandForm {
                node: "digest-list",
                name: "My digests".into(),
                instructions: String::new(),
                fields: vec![],
            },
            CommandForm {
                node: "digest-subscribe",
                name: "Subscribe to a digest".into(),
                instructions: "Which room?".into(),
                fields: vec![
                    FormField {
                        name: "source",
                        label: "Room",
                        kind: FieldKind::Jid,
                        required: true,
                    },
                    FormField {
                        name: "every",
                        label: "Every",
                        kind: FieldKind::Text,
                        required: false,
                    },
                ],
            },
        ]
    }

    async fn user_command(
        &self,
        node: &str,
        values: &FormValues,
    ) -> Result<CommandReply, BridgeError> {
        self.ran
            .lock()
            .unwrap()
            .push((node.to_string(), values.clone()));
        if values.get("every").map(String::as_str) == Some("never") {
            return Err(BridgeError::Invalid(
                "every: 'never' is not a duration".into(),
            ));
        }
        Ok(CommandReply {
            note: format!("{node} done"),
            fields: vec![ReplyField {
                name: "id",
                label: "Subscription",
                value: "42".into(),
            }],
        })
    }

    async fn observe(&self, seen: Observation) -> Result<(), BridgeError> {
        self.seen.lock().unwrap().push(seen);
        self.seen_notify.notify_waiters();
        Ok(())
    }

    async fn open_session(
        &self,
        _login: LoginId,
        _data: LoginData,
        _events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError> {
        if !self.groups {
            return Err(BridgeError::Unsupported("sessions"));
        }
        Ok(Arc::new(GroupSession(self.calls.clone())))
    }
}

/// A session that only joins and leaves groups, recording each call; what the network
/// answers, a test hands the transport itself ([`Rig::event`]).
struct GroupSession(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl Session for GroupSession {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        shutdown.cancelled().await;
    }

    async fn send_message(
        &self,
        msg: switchboard_bridge::OutgoingMessage,
    ) -> Result<switchboard_bridge::Sent, BridgeError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("say {}", msg.content.text));
        Ok(switchboard_bridge::Sent {
            id: None,
            timestamp: None,
        })
    }

    async fn join_group(
        &self,
        request: switchboard_bridge::JoinRequest,
    ) -> Result<(), BridgeError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("join {} as {}", request.group, request.nick));
        Ok(())
    }

    async fn leave_group(
        &self,
        group: &GroupId,
        _reason: Option<String>,
    ) -> Result<(), BridgeError> {
        self.0.lock().unwrap().push(format!("leave {group}"));
        Ok(())
    }
}

/// One transport on `domain`, started (its watcher handed to the connector, observations
/// delivered, the link followed), with the link down until [`Rig::connect`].
pub(crate) struct Rig {
    pub(crate) transport: Arc<Transport>,
    pub(crate) connector: Arc<TestConnector>,
    out: mpsc::Receiver<Queued>,
    link: LinkHandle,
    state: watch::Sender<LinkState>,
    shutdown: CancellationToken,
}

impl Rig {
    /// Users of `example.org` may use it; `admin@example.org` is an admin; the domains in
    /// `transports` are the gateway's own.
    pub(crate) async fn start(domain: &str, hub: Arc<Hub>, transports: &[&str]) -> Rig {
        Self::start_with(domain, hub, transports, false).await
    }

    /// The same, with a connector whose users join group chats (`#…` addresses) without
    /// registering.
    pub(crate) async fn with_groups(domain: &str, hub: Arc<Hub>, transports: &[&str]) -> Rig {
        Self::start_with(domain, hub, transports, true).await
    }

    /// [`Rig::with_groups`] with the room archive on (as on IRC by default).
    pub(crate) async fn with_archive(domain: &str, hub: Arc<Hub>, transports: &[&str]) -> Rig {
        Self::start_inner(domain, hub, transports, true, true).await
    }

    async fn start_with(domain: &str, hub: Arc<Hub>, transports: &[&str], groups: bool) -> Rig {
        Self::start_inner(domain, hub, transports, groups, false).await
    }

    async fn start_inner(
        domain: &str,
        hub: Arc<Hub>,
        transports: &[&str],
        groups: bool,
        archived: bool,
    ) -> Rig {
        let (link, out, state) = link::test_link(64);
        let sqlite = SqliteStore::open(None).unwrap();
        let shutdown = CancellationToken::new();
        let archive = match archived {
            true => Some(
                crate::archive::Archive::open(
                    domain,
                    crate::config::HistoryConfig::default(),
                    Arc::new(sqlite.clone()),
                    shutdown.clone(),
                )
                .await
                .unwrap(),
            ),
            false => None,
        };
        let connector = Arc::new(TestConnector::new(groups));
        let access = Access::new(&["example.org".into()], &["admin@example.org".into()])
            .with_transports(transports.iter().copied());
        let (transport, inputs) = Transport::new(TransportParts {
            domain: domain.into(),
            connector: connector.clone(),
            store: Arc::new(sqlite.clone()),
            link: link.clone(),
            access,
            user_queue: 10,
            sealer: crate::store::seal::Sealer::new("test secret", domain),
            hub,
            archive,
        });
        let kv = Arc::new(BridgeKv::new(sqlite, domain));
        transport
            .start_network(kv, None, shutdown.clone())
            .await
            .unwrap();
        let BridgeInputs { observations, .. } = inputs;
        tokio::spawn(crate::watch::deliver(
            observations,
            connector.clone(),
            domain.into(),
            shutdown.clone(),
        ));
        tokio::spawn(transport.watch.clone().follow_link(shutdown.clone()));
        Rig {
            transport,
            connector,
            out,
            link,
            state,
            shutdown,
        }
    }

    /// A new component connection; returns once the watcher has seen it.
    pub(crate) async fn connect(&self) {
        self.link.stats().connects.fetch_add(1, Ordering::Relaxed);
        self.state.send_replace(LinkState::Up);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// The link is lost.
    pub(crate) fn disconnect(&self) {
        self.state.send_replace(LinkState::Down {
            reason: "test".into(),
        });
    }

    /// Feeds a literal stanza to the transport as if read from its link.
    pub(crate) async fn receive(&self, xml: &str) {
        self.transport
            .handle_stanza(crate::xmpp::testing::stanza(xml))
            .await;
    }

    /// The next stanza the transport sent, as XML with single quotes.
    pub(crate) async fn sent(&mut self) -> String {
        let queued = tokio::time::timeout(T, self.out.recv())
            .await
            .expect("a stanza in time")
            .expect("the link is open");
        crate::xmpp::testing::element_xml(queued.element().into_owned())
    }

    /// The next item taken off the link queue, as the link would take it (the caller
    /// marks it written, or drops it unwritten).
    pub(crate) async fn take_queued(&mut self) -> Queued {
        tokio::time::timeout(T, self.out.recv())
            .await
            .expect("a stanza in time")
            .expect("the link is open")
    }

    /// Everything sent so far, without waiting.
    pub(crate) fn sent_now(&mut self) -> Vec<String> {
        let mut all = Vec::new();
        while let Ok(q) = self.out.try_recv() {
            all.push(crate::xmpp::testing::element_xml(q.element().into_owned()));
        }
        all
    }

    /// An event from the bridge for the session of `user` (a bare JID with a session).
    pub(crate) async fn event(&self, user: &str, event: switchboard_bridge::RemoteEvent) {
        let jid = xmpp_parsers::jid::BareJid::new(user).unwrap();
        let login = self.transport.sessions().login_of(&jid).expect("a session");
        self.transport
            .handle_event(switchboard_bridge::Envelope { login, event })
            .await;
    }

    /// What the sessions were asked so far, taken.
    pub(crate) fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.connector.calls.lock().unwrap())
    }

    /// Sends a stanza the way the transport sends messages to users.
    pub(crate) async fn forward(&self, xml: &str) {
        let stanza: Stanza = crate::xmpp::testing::stanza(xml);
        self.transport.forward(stanza).await;
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
