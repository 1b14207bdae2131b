//! Twilio's webhooks: inbound messages and status callbacks, each signed with
//! `X-Twilio-Signature` over the public URL and every form parameter.

use super::decode::{get, pairs};
use super::{refused, retry_later};
use crate::config::ProviderConfig;
use crate::shared::{Report, Shared};
use crate::signature::verify_twilio;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use switchboard_bridge::Attachment;

/// Media taken from one inbound message.
const MAX_MEDIA: usize = 10;

/// The empty TwiML answer (SignalWire requires exactly this shape).
const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// The form of a correctly signed request, or `None`.
fn verified(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Vec<(String, String)>> {
    let ProviderConfig::Twilio { auth_token, .. } = &shared.config.provider else {
        return None;
    };
    let public = shared.network.get()?.public_url.as_deref()?;
    let url = format!(
        "{}{}",
        public.trim_end_matches('/'),
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let signature = headers.get("x-twilio-signature")?.to_str().ok()?;
    let params = pairs(body);
    verify_twilio(auth_token, &url, &params, signature).then_some(params)
}

/// `POST /sms/twilio`: a text (or MMS) from a phone.
pub async fn inbound(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = verified(&shared, &uri, &headers, &body) else {
        return refused(&shared, "twilio inbound");
    };
    let (Some(from), Some(to)) = (get(&params, "From"), get(&params, "To")) else {
        return (StatusCode::BAD_REQUEST, "From and To are required\n").into_response();
    };
    let count: usize = get(&params, "NumMedia")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let media = (0..count.min(MAX_MEDIA))
        .filter_map(|i| {
            let url = get(&params, &format!("MediaUrl{i}"))?;
            (url.starts_with("https://") || url.starts_with("http://")).then(|| Attachment {
                url: url.to_string(),
                media_type: get(&params, &format!("MediaContentType{i}")).map(str::to_string),
            })
        })
        .collect();
    let text = get(&params, "Body").unwrap_or("").to_string();
    let id = get(&params, "MessageSid").map(str::to_string);
    match shared.inbound(from, to, text, media, id).await {
        Ok(_) => ([("content-type", "text/xml")], EMPTY_TWIML).into_response(),
        Err(_) => retry_later(),
    }
}

/// `POST /sms/twilio/status?ref=<txn>`: how a message we sent is doing.
pub async fn status(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = verified(&shared, &uri, &headers, &body) else {
        return refused(&shared, "twilio status");
    };
    let query = pairs(uri.query().unwrap_or("").as_bytes());
    let Some(reference) = get(&query, "ref") else {
        return (StatusCode::BAD_REQUEST, "ref is required\n").into_response();
    };
    let status = get(&params, "MessageStatus").unwrap_or("");
    let report = match status {
        "delivered" | "read" => Report::Delivered,
        "failed" | "undelivered" => Report::Failed(match get(&params, "ErrorCode") {
            Some(code) => format!("{status} (Twilio error {code})"),
            None => status.to_string(),
        }),
        _ => Report::Pending,
    };
    match shared
        .report(reference, get(&params, "MessageSid"), report)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => retry_later(),
    }
}
