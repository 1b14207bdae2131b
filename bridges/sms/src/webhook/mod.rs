//! HTTP routes the providers call, mounted on the gateway's listener: Twilio's inbound
//! and status webhooks, Kannel's sms-service and delivery reports.

pub mod decode;
mod kannel;
mod twilio;

use crate::config::ProviderConfig;
use crate::shared::Shared;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Largest webhook body taken (Twilio's biggest requests are a few KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// The routes of the configured provider.
pub fn routes(shared: Arc<Shared>) -> Router {
    let router = match shared.config.provider {
        ProviderConfig::Twilio { .. } => Router::new()
            .route("/sms/twilio", post(twilio::inbound))
            .route("/sms/twilio/status", post(twilio::status)),
        ProviderConfig::Kannel { .. } => Router::new()
            .route("/sms/kannel", get(kannel::inbound).post(kannel::inbound))
            .route("/sms/kannel/dlr", get(kannel::dlr).post(kannel::dlr)),
    };
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// 403 for a request that failed authentication; counted, and nothing is delivered.
fn refused(shared: &Shared, what: &str) -> Response {
    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(webhook = what, "Webhook refused: bad signature or secret");
    (StatusCode::FORBIDDEN, "forbidden\n").into_response()
}

/// 503 so that the provider retries later (the gateway is stopping or its store failed).
fn retry_later() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the gateway cannot take this now; retry\n",
    )
        .into_response()
}
