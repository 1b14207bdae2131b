//! The relay that sends the gateway's mail: lettre's SMTP client (async, rustls) over
//! connections we open ourselves, with `TCP_NODELAY`, kept in a small pool.
//!
//! lettre's own pooled transport cannot set `TCP_NODELAY`, and it writes a message and its
//! closing `CRLF.CRLF` in two writes: Nagle's algorithm then holds the terminator until the
//! relay's delayed ACK (40 ms on Linux), a stall on every mail (`BENCHMARKS.md`, email).

use crate::config::{Security, SmtpConfig};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use switchboard_bridge::BridgeError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};

/// Idle connections kept for the next mails.
const POOL: usize = 16;
/// An idle connection older than this is closed rather than reused (relays drop idle
/// clients after a minute or so).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// How to reach the relay, checked once.
struct Settings {
    host: String,
    port: u16,
    /// For STARTTLS (lettre upgrades the connection).
    starttls: Option<TlsParameters>,
    /// For implicit TLS (we wrap the connection before SMTP starts).
    implicit: Option<tokio_rustls::TlsConnector>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
}

/// Connections to the configured relay.
pub struct Relay {
    settings: Result<Settings, String>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Relay {
    /// A relay client for `config` (nothing connects until the first mail).
    pub fn new(config: &SmtpConfig) -> Self {
        let settings = build(config);
        if let Err(e) = &settings {
            tracing::error!(error = %e, "The mail relay settings are unusable; no mail goes out");
        }
        Self {
            settings,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one mail. Errors say whether a retry may work (4xx, connection problems) or
    /// not (5xx).
    pub async fn send(&self, message: Message) -> Result<(), BridgeError> {
        let settings = self
            .settings
            .as_ref()
            .map_err(|e| BridgeError::Rejected(e.clone()))?;
        let envelope = message.envelope().clone();
        let body = message.formatted();
        let attempt = async {
            // A pooled connection the relay closed meanwhile fails at once: then once more
            // on a fresh one.
            if let Some(mut conn) = self.pooled() {
                match conn.send(&envelope, &body).await {
                    Ok(_) => return Ok(conn),
                    Err(e) if e.is_permanent() => return Err(SendError::Smtp(e)),
                    Err(e) => {
                        tracing::debug!(error = %e, "A pooled relay connection failed; reconnecting")
                    }
                }
            }
            let mut conn = connect(settings).await?;
            conn.send(&envelope, &body).await?;
            Ok::<_, SendError>(conn)
        };
        match tokio::time::timeout(settings.timeout, attempt).await {
            Ok(Ok(conn)) => {
                self.put_back(conn);
                Ok(())
            }
            Ok(Err(e)) if e.is_permanent() => Err(BridgeError::Rejected(format!(
                "the mail relay refused the message: {}",
                e.reason()
            ))),
            Ok(Err(e)) => Err(BridgeError::Transient(format!(
                "the mail relay is unavailable: {}",
                e.reason()
            ))),
            Err(_) => Err(BridgeError::Transient(format!(
                "the mail relay is unavailable: no answer within {}",
                humantime::format_duration(settings.timeout)
            ))),
        }
    }

    fn pooled(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < MAX_IDLE && !conn.has_broken() {
                return Some(conn);
            }
        }
        None
    }

    fn put_back(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL {
            idle.push((conn, Instant::now()));
        }
    }
}

/// Why a mail did not go out.
#[derive(Debug)]
enum SendError {
    /// The relay answered with an error, or lettre gave up.
    Smtp(lettre::transport::smtp::Error),
    /// The connection or its TLS failed (always worth another try).
    Io(io::Error),
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        SendError::Smtp(e)
    }
}

impl SendError {
    fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp(e) if e.is_permanent())
    }

    /// The relay's answer, or what went wrong, without lettre's debug wrapping.
    fn reason(&self) -> String {
        let text = match self {
            SendError::Smtp(e) => e.to_string(),
            SendError::Io(e) => e.to_string(),
        };
        text.chars().take(300).collect()
    }
}

/// Opens and readies one connection: TCP with `TCP_NODELAY`, TLS as configured, EHLO,
/// login.
async fn connect(s: &Settings) -> Result<AsyncSmtpConnection, SendError> {
    let network = SendError::Io;
    let tcp = TcpStream::connect((s.host.as_str(), s.port))
        .await
        .map_err(network)?;
    tcp.set_nodelay(true).map_err(network)?;
    let mut conn = match &s.implicit {
        Some(tls) => {
            let name = ServerName::try_from(s.host.clone())
                .map_err(|e| network(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
            let stream = tls.connect(name, tcp).await.map_err(network)?;
            AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(stream)), &s.hello)
                .await?
        }
        None => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &s.hello).await?,
    };
    if let Some(parameters) = &s.starttls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(network(io::Error::other(
                "the relay does not offer STARTTLS (email.smtp.security: starttls)",
            )));
        }
        conn.starttls(parameters.clone(), &s.hello).await?;
    }
    if let Some(credentials) = &s.credentials {
        conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
            .await?;
    }
    Ok(conn)
}

/// A TLS stream from the first byte (port 465), as lettre takes a stream.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

fn build(config: &SmtpConfig) -> Result<Settings, String> {
    let (host, port) = config
        .relay
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("'{}' is not host:port", config.relay))?;
    let extra_roots = match (&config.ca_file, config.security) {
        (Some(path), Security::Starttls | Security::Tls) => Some(load_roots(path)?),
        _ => None,
    };
    // The Mozilla roots (webpki-roots), not the system's store; `ca_file` adds to them.
    let (starttls, implicit) = match config.security {
        Security::Starttls => {
            let mut parameters = TlsParameters::builder(host.clone());
            if let Some(roots) = &extra_roots {
                parameters = parameters.add_root_certificate(roots.clone());
            }
            let parameters = parameters
                .build_rustls()
                .map_err(|e| format!("TLS settings for {host}: {e}"))?;
            (Some(parameters), None)
        }
        Security::Tls => (None, Some(implicit_tls(config.ca_file.as_deref())?)),
        Security::None => (None, None),
    };
    Ok(Settings {
        host,
        port,
        starttls,
        implicit,
        credentials: match (&config.username, &config.password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password.clone())),
            _ => None,
        },
        timeout: config.timeout,
        hello: ClientId::default(),
    })
}

/// The rustls client for implicit TLS: Mozilla's roots plus `ca_file`'s.
fn implicit_tls(ca_file: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS settings: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
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
