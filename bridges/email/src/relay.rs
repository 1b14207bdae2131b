//! The relay that sends the gateway's mail (lettre, async, rustls).

use crate::config::{Security, SmtpConfig};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use switchboard_bridge::BridgeError;

/// A pool of connections to the configured relay.
pub struct Relay {
    transport: Result<AsyncSmtpTransport<Tokio1Executor>, String>,
}

impl Relay {
    /// A relay client for `config` (nothing connects until the first mail).
    pub fn new(config: &SmtpConfig) -> Self {
        Self {
            transport: build(config),
        }
    }

    /// Sends one mail. Errors say whether a retry may work (4xx, connection problems) or
    /// not (5xx).
    pub async fn send(&self, message: Message) -> Result<(), BridgeError> {
        let transport = self
            .transport
            .as_ref()
            .map_err(|e| BridgeError::Rejected(e.clone()))?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(BridgeError::Rejected(format!(
                "the mail relay refused the message: {}",
                reason(&e)
            ))),
            Err(e) => Err(BridgeError::Transient(format!(
                "the mail relay is unavailable: {}",
                reason(&e)
            ))),
        }
    }
}

/// The relay's answer, or what went wrong, without lettre's debug wrapping.
fn reason(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    text.chars().take(300).collect()
}

fn build(config: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let (host, port) = config
        .relay
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("'{}' is not host:port", config.relay))?;
    let tls = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
    let tls = match config.security {
        Security::Starttls => Tls::Required(tls()?),
        Security::Tls => Tls::Wrapper(tls()?),
        Security::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
        .port(port)
        .tls(tls)
        .timeout(Some(config.timeout));
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}
