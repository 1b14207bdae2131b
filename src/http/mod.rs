//! The one HTTP listener: health, metrics and the bridges' routes (SMS webhooks, digest
//! unsubscribe links). It faces the internet (providers call it), so every connection is
//! bounded: how many at once, how long a request's headers may take (also between requests
//! on a kept-alive connection), and how long a connection may live.

use crate::link::LinkState;
use crate::transport::Transport;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Bounds on the listener's connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; one more is closed at once.
    pub max_connections: usize,
    /// How long a request's headers may take to arrive, and how long a kept-alive
    /// connection may wait idle for the next request.
    pub header_timeout: Duration,
    /// The longest a connection may live (a body sent a byte at a time ends here).
    pub connection_lifetime: Duration,
    /// After shutdown, how long requests under way may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

#[derive(Clone)]
struct AppState {
    transports: Arc<Vec<Arc<Transport>>>,
}

/// Serves HTTP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    transports: Vec<Arc<Transport>>,
    bridges: Vec<Router>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(AppState {
            transports: Arc::new(transports),
        });
    // Bridges mount their webhooks under their own paths (`/sms/…`).
    for routes in bridges {
        app = app.merge(routes);
    }
    serve_router(listener, app, Limits::default(), shutdown).await;
    Ok(())
}

/// Serves `app` on `listener` within `limits` until `shutdown`, then lets requests under
/// way finish (for at most `limits.shutdown_grace`).
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(
                max = limits.max_connections,
                "HTTP connection refused: too many at once"
            );
            continue; // dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        let lifetime = limits.connection_lifetime;
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(lifetime, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "HTTP connection ended with an error"),
                Err(_) => tracing::debug!("HTTP connection closed: it lived too long"),
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still running at shutdown were cut off");
    }
}

/// 200 when every component link is up, else 503; one line per transport.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    let mut all_up = true;
    for t in state.transports.iter() {
        let link = t.link().state();
        all_up &= link == LinkState::Up;
        let _ = writeln!(body, "{} {}", t.domain(), link_word(&link));
    }
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP switchboard_link_up Whether the component link is up."
    );
    let _ = writeln!(out, "# TYPE switchboard_link_up gauge");
    for t in state.transports.iter() {
        let up = u8::from(t.link().state() == LinkState::Up);
        let _ = writeln!(out, "switchboard_link_up{{domain=\"{}\"}} {up}", t.domain());
    }
    let _ = writeln!(out, "# HELP switchboard_sessions Foreign sessions open.");
    let _ = writeln!(out, "# TYPE switchboard_sessions gauge");
    let mut queued = Vec::new();
    for t in state.transports.iter() {
        let h = t.health().await;
        let _ = writeln!(
            out,
            "switchboard_sessions{{domain=\"{}\"}} {}",
            t.domain(),
            h.sessions
        );
        queued.push((t.domain().to_string(), h.queued, t.link().queued()));
    }
    let _ = writeln!(
        out,
        "# HELP switchboard_outbox_messages Messages waiting for a foreign network."
    );
    let _ = writeln!(out, "# TYPE switchboard_outbox_messages gauge");
    for (domain, outbox, _) in &queued {
        let _ = writeln!(
            out,
            "switchboard_outbox_messages{{domain=\"{domain}\"}} {outbox}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP switchboard_link_queue Stanzas waiting for the XMPP server."
    );
    let _ = writeln!(out, "# TYPE switchboard_link_queue gauge");
    for (domain, _, link) in &queued {
        let _ = writeln!(out, "switchboard_link_queue{{domain=\"{domain}\"}} {link}");
    }
    let _ = writeln!(
        out,
        "# HELP switchboard_stanzas_unserialisable_total Stanzas dropped before writing: XML cannot carry their content."
    );
    let _ = writeln!(
        out,
        "# TYPE switchboard_stanzas_unserialisable_total counter"
    );
    for t in state.transports.iter() {
        let n = t
            .link()
            .stats()
            .unserialisable
            .load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "switchboard_stanzas_unserialisable_total{{domain=\"{}\"}} {n}",
            t.domain()
        );
    }
    for t in state.transports.iter() {
        for c in t.counters() {
            let _ = writeln!(out, "# HELP {} {}", c.name, c.help);
            let _ = writeln!(out, "# TYPE {} counter", c.name);
            let _ = writeln!(out, "{}{{domain=\"{}\"}} {}", c.name, t.domain(), c.value);
        }
    }
    ([("content-type", "text/plain; version=0.0.4")], out)
}

fn link_word(state: &LinkState) -> &'static str {
    match state {
        LinkState::Up => "up",
        LinkState::Connecting => "connecting",
        LinkState::Down { .. } => "down",
        LinkState::Closed => "closed",
    }
}

#[cfg(test)]
mod tests;
