//! The relay that sends the gateway's mail (lettre, async, rustls).

use crate::config::{Security, SmtpConfig};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::Path;
use switchboard_bridge::BridgeError;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::RootCertStore;

/// A pool of connections to the configured relay.
pub struct Relay {
    transport: Result<AsyncSmtpTransport<Tokio1Executor>, String>,
}

impl Relay {
    /// A relay client for `config` (nothing connects until the first mail).
    pub fn new(config: &SmtpConfig) -> Self {
        let transport = build(config);
        if let Err(e) = &transport {
            tracing::error!(error = %e, "The mail relay settings are unusable; no mail goes out");
        }
        Self { transport }
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
    let roots = match (&config.ca_file, config.security) {
        (Some(path), Security::Starttls | Security::Tls) => Some(load_roots(path)?),
        _ => None,
    };
    // lettre (rustls, ring) trusts the webpki-roots (Mozilla) set by default, not the
    // system's store; `ca_file` adds to it.
    let tls = || {
        let mut parameters = TlsParameters::builder(host.clone());
        if let Some(roots) = &roots {
            parameters = parameters.add_root_certificate(roots.clone());
        }
        parameters
            .build_rustls()
            .map_err(|e| format!("TLS settings for {host}: {e}"))
    };
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

/// The extra trusted roots in the PEM file at `path` (`smtp.ca_file`), checked as rustls
/// will take them: at least one certificate, each usable as a trust anchor.
pub(crate) fn load_roots(path: &Path) -> Result<Certificate, String> {
    let fail = |reason: String| format!("{}: {reason}", path.display());
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no CERTIFICATE section".into()));
    }
    let mut store = RootCertStore::empty();
    for (n, cert) in certs.into_iter().enumerate() {
        store
            .add(cert)
            .map_err(|e| fail(format!("certificate {}: {e}", n + 1)))?;
    }
    Certificate::from_pem(&pem).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("sb-relay-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        assert!(load_roots(&good).is_ok());
        let key_only = dir.join("key.pem");
        std::fs::write(&key_only, ca.signing_key.serialize_pem()).unwrap();
        let err = load_roots(&key_only).unwrap_err();
        assert!(err.contains("no CERTIFICATE"), "{err}");
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = load_roots(&garbage).unwrap_err();
        assert!(err.contains("certificate 1"), "{err}");
        let err = load_roots(&dir.join("missing.pem")).unwrap_err();
        assert!(err.contains("missing.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
