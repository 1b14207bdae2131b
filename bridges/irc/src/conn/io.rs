//! Socket plumbing: TCP or TLS, bounded line reading, and flood-controlled writing.

use crate::config::Network;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_bridge::BridgeError;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::rustls;

/// Longest line taken from a server (IRCv3 tags may add up to 8191 bytes to the 512).
const MAX_LINE: usize = 8191 + 512;

/// A byte stream to the server, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
/// The connection's stream.
pub type Stream = Pin<Box<dyn Io>>;

/// Connects, with TLS when the network says so.
pub async fn connect(network: &Network) -> Result<Stream, String> {
    let tcp = TcpStream::connect((network.host.as_str(), network.port))
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    if !network.tls {
        return Ok(Box::pin(tcp));
    }
    let config = tls_config(network.tls_verify);
    let name = rustls::pki_types::ServerName::try_from(network.host.clone())
        .map_err(|e| format!("bad server name {}: {e}", network.host))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(Box::pin(tls))
}

fn tls_config(verify: bool) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let config = if verify {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    };
    Arc::new(config)
}

/// Accepts any certificate: only for networks configured with `tls_verify: false`.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Reads lines of at most [`MAX_LINE`] bytes (without CR LF).
pub struct LineReader {
    inner: BufReader<ReadHalf<Stream>>,
    buf: Vec<u8>,
}

impl LineReader {
    /// Reads from `read`.
    pub fn new(read: ReadHalf<Stream>) -> Self {
        Self {
            inner: BufReader::with_capacity(4096, read),
            buf: Vec::with_capacity(512),
        }
    }

    /// The next line, `None` at end of stream. A line over the limit is an error (the
    /// server is broken or hostile). Cancel-safe: a line read in part when the future is
    /// dropped (another branch of a `select!` won) is finished by the next call.
    pub async fn next_line(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            let available = self
                .inner
                .fill_buf()
                .await
                .map_err(|e| format!("read failed: {e}"))?;
            if available.is_empty() {
                return Ok(None);
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.buf.extend_from_slice(&available[..i]);
                    (i + 1, true)
                }
                None => {
                    self.buf.extend_from_slice(available);
                    (available.len(), false)
                }
            };
            self.inner.consume(used);
            if self.buf.len() > MAX_LINE {
                self.buf.clear();
                return Err(format!("the server sent a line over {MAX_LINE} bytes"));
            }
            if done {
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                if self.buf.is_empty() {
                    continue;
                }
                return Ok(Some(std::mem::take(&mut self.buf)));
            }
        }
    }
}

/// Lines waiting to be written: urgent ones first and at once; the others through a token
/// bucket (`burst` lines, then one per `interval`) when flood control is on.
pub struct Throttle {
    urgent: VecDeque<String>,
    queue: VecDeque<Entry>,
    enabled: bool,
    burst: f64,
    interval: Duration,
    tokens: f64,
    refilled: Instant,
}

enum Entry {
    Line(String),
    Notify(oneshot::Sender<Result<(), BridgeError>>),
}

impl Throttle {
    /// Flood control as the network is configured.
    pub fn new(network: &Network) -> Self {
        Self {
            urgent: VecDeque::new(),
            queue: VecDeque::new(),
            enabled: network.throttle,
            burst: f64::from(network.burst.max(1)),
            interval: network.interval,
            tokens: f64::from(network.burst.max(1)),
            refilled: Instant::now(),
        }
    }

    /// Queues a line that skips flood control (PONG, CAP, registration).
    pub fn push_urgent(&mut self, line: String) {
        self.urgent.push_back(line);
    }

    /// Queues a line.
    pub fn push(&mut self, line: String) {
        self.queue.push_back(Entry::Line(line));
    }

    /// Tells `done` once every line queued so far is written.
    pub fn notify_when_sent(&mut self, done: oneshot::Sender<Result<(), BridgeError>>) {
        self.queue.push_back(Entry::Notify(done));
    }

    /// Lines (and notifications) waiting for tokens.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Lines wait for tokens.
    pub fn waiting(&self) -> bool {
        !self.queue.is_empty()
    }

    fn refill(&mut self) {
        if !self.enabled {
            return;
        }
        let elapsed = self.refilled.elapsed().as_secs_f64();
        self.refilled = Instant::now();
        self.tokens = (self.tokens + elapsed / self.interval.as_secs_f64()).min(self.burst);
    }

    /// Resolves when the next queued line may go.
    pub async fn ready(&mut self) {
        self.refill();
        if self.enabled && self.tokens < 1.0 {
            let wait = self.interval.mul_f64(1.0 - self.tokens);
            tokio::time::sleep(wait).await;
        }
    }

    /// Writes everything allowed now.
    pub async fn flush<W: AsyncWrite + Unpin>(&mut self, write: &mut W) -> std::io::Result<()> {
        let mut out = Vec::new();
        while let Some(line) = self.urgent.pop_front() {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.refill();
        let mut notify = Vec::new();
        while let Some(entry) = self.queue.front() {
            match entry {
                Entry::Notify(_) => {
                    if let Some(Entry::Notify(done)) = self.queue.pop_front() {
                        notify.push(done);
                    }
                }
                Entry::Line(_) if self.enabled && self.tokens < 1.0 => break,
                Entry::Line(_) => {
                    if let Some(Entry::Line(line)) = self.queue.pop_front() {
                        out.extend_from_slice(line.as_bytes());
                        out.extend_from_slice(b"\r\n");
                        if self.enabled {
                            self.tokens -= 1.0;
                        }
                    }
                }
            }
        }
        if !out.is_empty() {
            write.write_all(&out).await?;
            write.flush().await?;
        }
        for done in notify {
            let _ = done.send(Ok(()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A line that arrives in two parts, with the read cancelled in between (another
    /// `select!` branch won), comes out whole.
    #[tokio::test]
    async fn a_read_cancelled_halfway_through_a_line_loses_nothing() {
        let (client, mut server) = tokio::io::duplex(64);
        let stream: Stream = Box::pin(client);
        let (read, _write) = tokio::io::split(stream);
        let mut lines = LineReader::new(read);
        server.write_all(b":carol!c@h JO").await.unwrap();
        let cut = tokio::time::timeout(Duration::from_millis(50), lines.next_line()).await;
        assert!(cut.is_err(), "no whole line yet");
        server.write_all(b"IN #a\r\n:x PING :y\r\n").await.unwrap();
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some(b":carol!c@h JOIN #a".as_slice())
        );
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some(b":x PING :y".as_slice())
        );
    }
}
