//! SMS providers behind one trait: Twilio-compatible REST APIs and Kannel's sendsms.

mod kannel;
mod twilio;

pub use kannel::Kannel;
pub use twilio::Twilio;

use crate::config::ProviderConfig;
use crate::error::SmsError;
use crate::number::E164;
use async_trait::async_trait;
use std::time::Duration;

/// One text to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundSms {
    /// The user's number.
    pub from: E164,
    /// The phone.
    pub to: E164,
    /// The text (may be empty when media are sent).
    pub text: String,
    /// Media URLs (MMS), for providers that take them.
    pub media: Vec<String>,
    /// The gateway's reference for this message (stable across retries); delivery
    /// reports carry it back.
    pub reference: String,
    /// Base URL at which the provider reaches the gateway (`http.public_url`).
    pub public_url: Option<String>,
}

/// The provider took a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's id for it, when it gives one.
    pub id: Option<String>,
}

/// A provider's API.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short name for logs and errors (`twilio`, `kannel`).
    fn name(&self) -> &'static str;
    /// Whether it sends media (MMS).
    fn supports_media(&self) -> bool;
    /// Hands one text to the provider.
    async fn send(&self, sms: &OutboundSms) -> Result<Accepted, SmsError>;
}

/// The provider a config names.
pub fn from_config(config: &ProviderConfig, timeout: Duration) -> Box<dyn Provider> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with rustls builds");
    match config {
        ProviderConfig::Twilio {
            account_sid,
            auth_token,
            api_base,
        } => Box::new(Twilio::new(http, api_base, account_sid, auth_token)),
        ProviderConfig::Kannel {
            sendsms_url,
            username,
            password,
            webhook_secret,
            smsc,
            delivery_reports,
        } => Box::new(Kannel::new(
            http,
            sendsms_url,
            username,
            password,
            webhook_secret,
            smsc.clone(),
            *delivery_reports,
        )),
    }
}

/// Sends a request; answers the status and body of the reply.
pub(crate) async fn exchange(
    provider: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, String), SmsError> {
    let response = request
        .send()
        .await
        .map_err(|e| request_error(provider, e))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| request_error(provider, e))?;
    Ok((status, text))
}

/// Maps a transport failure of `reqwest` to an [`SmsError`].
pub(crate) fn request_error(provider: &'static str, e: reqwest::Error) -> SmsError {
    if e.is_timeout() {
        SmsError::Timeout { provider }
    } else {
        // The URL may hold credentials (Kannel's query): never show it.
        SmsError::Unreachable {
            provider,
            reason: e.without_url().to_string(),
        }
    }
}

/// A provider's error text, cut to a length fit for an error stanza.
pub(crate) fn short(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
