//! Unsubscribe links of digest mails (RFC 8058 one-click): `POST` ends the subscription;
//! `GET` (a person clicking the link) shows a page with the button, so that link scanners
//! that prefetch mail links end nothing.

use super::Digests;
use std::sync::Arc;
use switchboard_bridge::axum::extract::{DefaultBodyLimit, Path, State};
use switchboard_bridge::axum::http::{header, StatusCode};
use switchboard_bridge::axum::response::{IntoResponse, Response};
use switchboard_bridge::axum::routing::get;
use switchboard_bridge::axum::Router;

/// Path of the unsubscribe links, below `http.public_url`.
const PATH: &str = "/email/unsubscribe/";

/// The unsubscribe URL for a token.
pub fn url(public_url: &str, token: &str) -> String {
    format!("{}{PATH}{token}", public_url.trim_end_matches('/'))
}

/// The routes to mount on the gateway's listener.
pub fn routes(digests: Arc<Digests>) -> Router {
    Router::new()
        .route(
            &format!("{PATH}{{token}}"),
            get(confirm_page).post(one_click),
        )
        .layer(DefaultBodyLimit::max(4096))
        .with_state(digests)
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Switchboard digests</title>\
             </head><body><p>{text}</p></body></html>\n"
        ),
    )
        .into_response()
}

async fn confirm_page(State(digests): State<Arc<Digests>>, Path(token): Path<String>) -> Response {
    let known = digests.token_known(&token).await;
    match known {
        Ok(true) => page(
            StatusCode::OK,
            "Stop this digest? <form method=\"post\"><button type=\"submit\" \
             name=\"List-Unsubscribe\" value=\"One-Click\">Unsubscribe</button></form>",
        ),
        Ok(false) => page(StatusCode::NOT_FOUND, "This digest has already ended."),
        Err(_) => page(StatusCode::SERVICE_UNAVAILABLE, "Please try again later."),
    }
}

async fn one_click(State(digests): State<Arc<Digests>>, Path(token): Path<String>) -> Response {
    match digests.unsubscribe_token(&token).await {
        Ok(true) => page(
            StatusCode::OK,
            "Unsubscribed: no more digests will be sent.",
        ),
        Ok(false) => page(StatusCode::NOT_FOUND, "This digest has already ended."),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot unsubscribe now");
            page(StatusCode::SERVICE_UNAVAILABLE, "Please try again later.")
        }
    }
}

impl Digests {
    /// Whether an unsubscribe token belongs to a live subscription.
    async fn token_known(&self, token: &str) -> Result<bool, switchboard_bridge::BridgeError> {
        if !super::subscription::token_shaped(token) {
            return Ok(false);
        }
        Ok(self
            .shared
            .network()?
            .store
            .get(&super::subscription::token_key(token))
            .await?
            .is_some())
    }
}
