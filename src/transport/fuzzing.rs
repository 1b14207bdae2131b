//! A transport without a server for the fuzz targets: the echo bridge behind it, storage
//! in memory, a link whose output is checked stanza by stanza.

use super::{BridgeInputs, Transport, TransportParts};
use crate::access::Access;
use crate::link::{self, LinkState, Outgoing, Queued};
use crate::store::sqlite::SqliteStore;
use crate::store::BridgeKv;
use crate::watch::Hub;
use minidom::Element;
use std::sync::Arc;
use switchboard_bridge::{Envelope, EventReceiver, RemoteEvent};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use xmpp_parsers::stanza::Stanza;

/// The transport's domain.
pub(crate) const DOMAIN: &str = "echo.example.org";
/// Rounds of letting the echo session's tasks run after each input.
const SETTLE: usize = 8;

/// One transport (the echo bridge), users of `example.org` allowed, `admin@example.org`
/// an admin, the link up.
pub(crate) struct Rig {
    transport: Arc<Transport>,
    out: mpsc::Receiver<Queued>,
    events: EventReceiver,
    _state: watch::Sender<LinkState>,
    shutdown: CancellationToken,
    /// Stanzas sent, all of which serialised.
    pub(crate) sent: usize,
}

impl Rig {
    pub(crate) async fn start() -> Rig {
        let (link, out, state) = link::test_link(256);
        state.send_replace(LinkState::Up);
        let sqlite = SqliteStore::open(None).expect("an in-memory store");
        let access = Access::new(&["example.org".into()], &["admin@example.org".into()])
            .with_transports([DOMAIN]);
        let shutdown = CancellationToken::new();
        // The archive is on, as on IRC by default, so MAM queries reach the store.
        let archive = crate::archive::Archive::open(
            DOMAIN,
            crate::config::HistoryConfig::default(),
            Arc::new(sqlite.clone()),
            shutdown.clone(),
        )
        .await
        .expect("an in-memory archive");
        let (transport, inputs) = Transport::new(TransportParts {
            domain: DOMAIN.into(),
            connector: Arc::new(switchboard_echo::EchoConnector::default()),
            store: Arc::new(sqlite.clone()),
            link,
            access,
            user_queue: 10,
            sealer: crate::store::seal::Sealer::new("fuzz secret", DOMAIN),
            hub: Arc::new(Hub::default()),
            archive: Some(archive),
        });
        let kv = Arc::new(BridgeKv::new(sqlite, DOMAIN));
        transport
            .start_network(kv, None, shutdown.clone())
            .await
            .expect("the echo network starts");
        // The echo bridge hands in no network-wide deliveries; its sessions' events are
        // taken below.
        let BridgeInputs {
            events,
            deliveries,
            observations,
        } = inputs;
        drop((deliveries, observations));
        Rig {
            transport,
            out,
            events,
            _state: state,
            shutdown,
            sent: 0,
        }
    }

    /// Hands a stanza to the transport as if read from its link, then lets everything it
    /// started run.
    pub(crate) async fn stanza(&mut self, stanza: Stanza) {
        self.transport.handle_stanza(stanza).await;
        self.settle().await;
    }

    /// Hands a foreign event to the transport as if a session of the first login had
    /// reported it (nothing when nobody is logged in).
    pub(crate) async fn event(&mut self, event: RemoteEvent) -> bool {
        let Some(login) = self.transport.sessions().first_login() else {
            return false;
        };
        self.transport.handle_event(Envelope { login, event }).await;
        self.settle().await;
        true
    }

    async fn settle(&mut self) {
        for _ in 0..SETTLE {
            tokio::task::yield_now().await;
            while let Some(envelope) = self.events.try_recv() {
                self.transport.handle_event(envelope).await;
            }
            self.drain();
        }
    }

    /// Takes what the transport sent: every stanza must serialise.
    fn drain(&mut self) {
        while let Ok(queued) = self.out.try_recv() {
            check_queued_serialises(&queued);
            self.sent += 1;
        }
    }
}

/// Every stanza the gateway produces must be writable to the server.
pub(crate) fn check_serialises(element: &Element) {
    let mut buf = Vec::new();
    if let Err(e) = element.write_to(&mut buf) {
        panic!("a stanza the gateway produced does not serialise ({e}): {element:?}");
    }
}

/// [`check_serialises`] for what the link takes from its queue.
fn check_queued_serialises(queued: &Queued) {
    // What the link would write: the element, or a room line's copy item by item.
    let written = match &queued.stanza {
        Outgoing::Element(element) => xso::to_vec(element),
        Outgoing::Line(copy) => xso::to_vec(copy),
    };
    if let Err(e) = written {
        panic!(
            "a stanza the gateway produced does not serialise ({e}): {:?}",
            queued.element()
        );
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.transport.session_shutdown.cancel();
    }
}
