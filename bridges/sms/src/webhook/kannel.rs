//! Kannel's requests: the sms-service `get-url`/`post-url` with a phone's text, and
//! delivery reports; both carry `secret=` in the query.

use super::decode::{decode_text, get, pairs, raw_param, same_secret};
use super::{refused, retry_later};
use crate::config::ProviderConfig;
use crate::shared::{Report, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn authentic(shared: &Shared, query: &str) -> bool {
    let ProviderConfig::Kannel { webhook_secret, .. } = &shared.config.provider else {
        return false;
    };
    raw_param(query, "secret").is_some_and(|s| same_secret(&s, webhook_secret.as_bytes()))
}

/// 200, closing the connection: smsbox opens a new one for every request and never reuses
/// it, so a kept-alive connection would only pile up (hundreds per second under load).
fn done() -> Response {
    (StatusCode::OK, [(axum::http::header::CONNECTION, "close")]).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `GET|POST /sms/kannel?secret=…&from=%p&to=%P&text=%b&charset=%C`: a phone's text.
/// With `post-url`, the text is the body and the numbers come as `X-Kannel-From/To`.
pub async fn inbound(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query().unwrap_or("");
    if !authentic(&shared, query) {
        return refused(&shared, "kannel inbound");
    }
    let params = pairs(query.as_bytes());
    let from = get(&params, "from").or_else(|| header(&headers, "x-kannel-from"));
    let to = get(&params, "to").or_else(|| header(&headers, "x-kannel-to"));
    let (Some(from), Some(to)) = (from, to) else {
        return (StatusCode::BAD_REQUEST, "from and to are required\n").into_response();
    };
    let (bytes, charset) = match raw_param(query, "text") {
        Some(bytes) => (bytes, get(&params, "charset").map(str::to_string)),
        None => {
            let charset = header(&headers, "content-type")
                .and_then(|ct| ct.split("charset=").nth(1))
                .map(|c| c.trim_matches('"').to_string());
            (body.to_vec(), charset)
        }
    };
    let text = decode_text(&bytes, charset.as_deref());
    let id = get(&params, "id").map(str::to_string);
    match shared.inbound(from, to, text, Vec::new(), id).await {
        // An empty body: with `max-messages = 0` Kannel sends nothing back to the phone.
        Ok(_) => done(),
        Err(_) => retry_later(),
    }
}

/// `GET /sms/kannel/dlr?secret=…&ref=<txn>&type=%d`: a delivery report.
pub async fn dlr(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let query = uri.query().unwrap_or("");
    if !authentic(&shared, query) {
        return refused(&shared, "kannel dlr");
    }
    let params = pairs(query.as_bytes());
    let (Some(reference), Some(kind)) = (get(&params, "ref"), get(&params, "type")) else {
        return (StatusCode::BAD_REQUEST, "ref and type are required\n").into_response();
    };
    let report = match kind.parse::<u8>() {
        Ok(1) => Report::Delivered,
        Ok(2) => Report::Failed("not delivered to the phone".into()),
        Ok(16) => Report::Failed("refused by the SMS centre".into()),
        _ => Report::Pending,
    };
    match shared.report(reference, None, report).await {
        Ok(()) => done(),
        Err(_) => retry_later(),
    }
}
