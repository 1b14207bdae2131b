//! The one HTTP listener: health and metrics now, bridge webhooks later.

use crate::link::LinkState;
use crate::transport::Transport;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::fmt::Write;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
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
