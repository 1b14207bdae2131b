//! Switchboard: an XMPP gateway (XEP-0114 component) to foreign networks.
//!
//! This crate is the only code that speaks XMPP. Bridges (`bridges/*`) speak their own
//! protocol and the neutral model of `switchboard-bridge`.

pub mod access;
pub mod archive;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod link;
pub mod store;
pub mod transport;
pub mod watch;
pub mod xmpp;

pub use error::Error;

use access::Access;
use config::Config;
use link::LinkConfig;
use std::sync::Arc;
use std::time::Duration;
use store::sqlite::SqliteStore;
use store::Store;
use switchboard_bridge::Connector;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use transport::{Transport, TransportParts};

/// How long sessions get to close on shutdown.
const SESSION_GRACE: Duration = Duration::from_secs(3);
/// How long links get to write what is queued on shutdown.
const LINK_GRACE: Duration = Duration::from_secs(3);
/// Stanzas read from a link and waiting for their transport.
const INBOUND_QUEUE: usize = 1024;

/// The bridge behind a transport section of the configuration.
fn connector_for(config: &Config, key: &str) -> Arc<dyn Connector> {
    match (key, &config.irc) {
        ("echo", _) => Arc::new(switchboard_echo::EchoConnector::default()),
        ("irc", Some(irc)) => Arc::new(switchboard_irc::IrcConnector::new(irc.bridge.clone())),
        ("sms", _) => {
            let sms = config
                .sms
                .as_ref()
                .expect("transports() lists sms only when configured");
            Arc::new(switchboard_sms::SmsConnector::new(sms.bridge.clone()))
        }
        ("email", _) => {
            let email = config
                .email
                .as_ref()
                .expect("transports() lists email only when configured");
            Arc::new(switchboard_email::EmailConnector::new(email.bridge.clone()))
        }
        (other, _) => unreachable!("config::Config::transports names no bridge '{other}'"),
    }
}

/// Runs the gateway until `shutdown` fires, then stops it in order: users are told the
/// transports are going away, foreign sessions close, queued stanzas are written, links
/// close. Returns an error only when startup fails (storage, HTTP listener).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let sqlite = SqliteStore::open(config.sqlite_path().as_deref())?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let public_url = config.http.as_ref().map(|h| {
        h.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", h.listen))
    });
    let mut routes = Vec::new();
    let http_listener = match &config.http {
        Some(http) => {
            Some(
                TcpListener::bind(&http.listen)
                    .await
                    .map_err(|source| Error::HttpBind {
                        addr: http.listen.clone(),
                        source,
                    })?,
            )
        }
        None => None,
    };
    let domains: Vec<String> = config
        .transports()
        .into_iter()
        .map(|t| t.link.domain.clone())
        .collect();
    let access = Access::new(&config.xmpp.allow, &config.xmpp.admins)
        .with_transports(domains.iter().map(String::as_str));
    // Watching chats for bridges (digests) is gateway-wide: one presence book, one
    // registry of who watches whom, for every transport.
    let hub = Arc::new(watch::Hub::default());
    let abort_links = CancellationToken::new();
    let mut transports = Vec::new();
    let mut transport_tasks = Vec::new();
    let mut link_tasks = Vec::new();
    for t in config.transports() {
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (link, link_task) = link::spawn(
            LinkConfig {
                server: config.xmpp.server.clone(),
                domain: t.link.domain.clone(),
                secret: t.link.secret.clone(),
                keepalive: config.xmpp.keepalive.0,
                queue: config.xmpp.link_queue,
            },
            inbound_tx,
            abort_links.clone(),
        );
        let archive = match (t.key, &config.irc) {
            ("irc", Some(irc)) if irc.history.enabled => Some(
                archive::Archive::open(
                    &t.link.domain,
                    irc.history.clone(),
                    store.clone(),
                    shutdown.clone(),
                )
                .await?,
            ),
            _ => None,
        };
        let (transport, bridge_inputs) = Transport::new(TransportParts {
            domain: t.link.domain.clone(),
            connector: connector_for(&config, t.key),
            store: store.clone(),
            link,
            access: access.clone(),
            user_queue: config.xmpp.user_queue as u64,
            sealer: store::seal::Sealer::new(
                config
                    .storage_secret
                    .as_ref()
                    .unwrap_or(&t.link.secret)
                    .expose(),
                &t.link.domain,
            ),
            hub: hub.clone(),
            archive,
        });
        tracing::info!(transport = t.key, domain = %t.link.domain, "Transport starting");
        let kv = Arc::new(store::BridgeKv::new(sqlite.clone(), t.link.domain.clone()));
        let router = transport
            .start_network(kv, public_url.clone(), shutdown.clone())
            .await
            .map_err(|source| Error::BridgeStart {
                transport: t.key,
                source,
            })?;
        routes.extend(router);
        transport_tasks.push(tokio::spawn(transport.clone().run(
            inbound_rx,
            bridge_inputs,
            shutdown.clone(),
            SESSION_GRACE,
        )));
        transports.push(transport);
        link_tasks.push(link_task);
    }
    let http_task = http_listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "HTTP listening");
        }
        tokio::spawn(http::serve(
            listener,
            config
                .http
                .clone()
                .expect("a listener comes from the http section"),
            transports.clone(),
            std::mem::take(&mut routes),
            shutdown.clone(),
        ))
    });

    shutdown.cancelled().await;
    tracing::info!("Shutting down");
    for task in transport_tasks {
        let _ = task.await;
    }
    if let Some(task) = http_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    // Dropping the last handles closes each link's queue: it writes what is left and
    // closes its stream. A link that cannot reach the server is aborted after the grace.
    drop(transports);
    let links = futures::future::join_all(link_tasks);
    if tokio::time::timeout(LINK_GRACE, links).await.is_err() {
        tracing::warn!("Component links did not flush in time");
        abort_links.cancel();
    }
    tracing::info!("Stopped");
    Ok(())
}
