//! The one HTTP listener: health, metrics and the bridges' routes (SMS webhooks, digest
//! unsubscribe links). It faces the internet (providers call it), so every connection is
//! bounded ([`listener`]): how many at once and per client IP, how long a request's
//! headers (also between requests on a kept-alive connection) and then its body may take,
//! and how long a connection may live. `/metrics` and `/healthz` can require a token.

mod auth;
mod listener;

pub use listener::{serve_router, HttpStats, Limits};

use crate::config::{HttpConfig, Secret};
use crate::link::LinkState;
use crate::transport::Transport;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct AppState {
    transports: Arc<Vec<Arc<Transport>>>,
    token: Option<Secret>,
    stats: Arc<HttpStats>,
}

impl AppState {
    /// `None` when the request may see health and metrics, else the 401 to answer.
    fn refuse(&self, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
        let token = self.token.as_ref()?;
        if auth::carries(headers, uri, token.expose()) {
            return None;
        }
        self.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            path = uri.path(),
            "Health or metrics request without the token refused"
        );
        Some(
            (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                "a token is required (http.metrics_token)\n",
            )
                .into_response(),
        )
    }
}

/// The listener's bounds from its configuration.
pub fn limits(config: &HttpConfig) -> Limits {
    Limits {
        max_connections_per_ip: config.max_connections_per_ip,
        body_timeout: config.body_timeout.0,
        ..Limits::default()
    }
}

/// Serves HTTP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: HttpConfig,
    transports: Vec<Arc<Transport>>,
    bridges: Vec<Router>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let stats = Arc::new(HttpStats::default());
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(AppState {
            transports: Arc::new(transports),
            token: config.metrics_token.clone(),
            stats: stats.clone(),
        });
    // Bridges mount their webhooks under their own paths (`/sms/…`).
    for routes in bridges {
        app = app.merge(routes);
    }
    serve_router(listener, app, limits(&config), stats, shutdown).await;
    Ok(())
}

/// 200 when every component link is up, else 503; one line per transport.
async fn healthz(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = state.refuse(&headers, &uri) {
        return refused;
    }
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
    (status, body).into_response()
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = state.refuse(&headers, &uri) {
        return refused;
    }
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
    let _ = writeln!(
        out,
        "# HELP switchboard_inbound_events Events from bridges stored and not yet handed to the XMPP server."
    );
    let _ = writeln!(out, "# TYPE switchboard_inbound_events gauge");
    for t in state.transports.iter() {
        let n = t.inbound_waiting().await;
        let _ = writeln!(
            out,
            "switchboard_inbound_events{{domain=\"{}\"}} {n}",
            t.domain()
        );
    }
    let http = &state.stats;
    for (name, help, value) in [
        (
            "switchboard_http_refused_total",
            "HTTP connections closed at once: the listener was full.",
            &http.refused,
        ),
        (
            "switchboard_http_refused_per_ip_total",
            "HTTP connections closed at once: their client IP held http.max_connections_per_ip.",
            &http.refused_per_ip,
        ),
        (
            "switchboard_http_evicted_total",
            "HTTP connections closed to make room for a client of an address holding fewer (the listener was full).",
            &http.evicted,
        ),
        (
            "switchboard_http_body_timeouts_total",
            "HTTP requests whose body did not arrive within http.body_timeout (408).",
            &http.body_timeouts,
        ),
        (
            "switchboard_http_unauthorized_total",
            "Requests to /metrics or /healthz without http.metrics_token (401).",
            &http.unauthorized,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }
    for t in state.transports.iter() {
        for c in t.counters() {
            let _ = writeln!(out, "# HELP {} {}", c.name, c.help);
            let _ = writeln!(out, "# TYPE {} counter", c.name);
            let _ = writeln!(out, "{}{{domain=\"{}\"}} {}", c.name, t.domain(), c.value);
        }
    }
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
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
