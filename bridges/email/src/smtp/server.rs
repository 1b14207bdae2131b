//! The listener: one tokio task per connection, driving a [`Session`] over TCP (and TLS
//! after STARTTLS), with connection caps (in all and per client IP), timeouts, a session
//! lifetime, a pause after each refused recipient and `421` on shutdown.

use super::data::DataReader;
use super::limits::{bump, PerIp};
use super::reply::{excerpt, Reply};
use super::session::{Limit, RcptVerdict, Session, SessionConfig, Step};
pub use super::settings::{SmtpHandler, SmtpServerConfig};
use super::MAX_COMMAND_LINE;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchboard_bridge::CancellationToken;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;
/// How long connections get to finish after shutdown (a delivery in progress, a reply
/// to a client that does not read) before they are aborted.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Replies batched for a pipelining client before they are sent anyway.
const MAX_PENDING_OUTPUT: usize = 16 * 1024;

/// Accepts connections until `shutdown` is cancelled, then answers `421` to every client
/// waiting for a command and returns once all connections have ended (at most
/// [`SHUTDOWN_GRACE`] later: what is still running then is aborted, and its client, which
/// never heard `250`, sends the message again).
pub async fn serve(
    listener: TcpListener,
    config: SmtpServerConfig,
    handler: Arc<dyn SmtpHandler>,
    shutdown: CancellationToken,
) {
    let mut config = config;
    config.hostname = excerpt(config.hostname.replace(' ', "").as_bytes(), 255);
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let mut tasks = JoinSet::new();
    info!(addr = ?listener.local_addr().ok(), "SMTP listener started");
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    warn!(error = %e, "SMTP connection task failed");
                }
            }
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: do not spin.
                        warn!(error = %e, "SMTP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // A fresh socket's send buffer is empty: these writes do not block.
                let Some(slot) = per_ip.take(peer.ip(), config.max_connections_per_ip) else {
                    debug!(%peer, "SMTP connection refused: too many from this address");
                    bump(&config.stats.refused_per_ip);
                    let busy = Reply::new(421, format!(
                        "{} Too many connections from your address, try again later",
                        config.hostname));
                    let _ = tcp.try_write(&busy.to_wire());
                    continue;
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    debug!(%peer, "SMTP connection refused: too many connections");
                    bump(&config.stats.refused_busy);
                    let busy = Reply::new(421, format!(
                        "{} Too many connections, try again later", config.hostname));
                    let _ = tcp.try_write(&busy.to_wire());
                    continue;
                };
                let (config, handler, shutdown) =
                    (config.clone(), handler.clone(), shutdown.clone());
                tasks.spawn(async move {
                    connection(tcp, peer, config, handler, shutdown).await;
                    drop(permit);
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        warn!("SMTP connections still busy after the grace period: aborted");
        tasks.shutdown().await;
    }
    info!("SMTP listener stopped");
}

/// Why a connection loop ended.
enum Exit {
    Close,
    StartTls,
}

/// Why no more input came.
enum Stop {
    Shutdown,
    Timeout,
    /// The session reached [`SmtpServerConfig::max_session`].
    Lifetime,
    Closed,
}

struct Conn {
    session: Session,
    config: Arc<SmtpServerConfig>,
    handler: Arc<dyn SmtpHandler>,
    shutdown: CancellationToken,
    peer: SocketAddr,
    /// Received bytes not used yet.
    input: Vec<u8>,
    /// Replies not sent yet (batched while pipelined commands are waiting).
    output: Vec<u8>,
    /// Inside a command line that was too long: drop input up to the next LF.
    discarding: bool,
    /// When the connection must end, however active.
    end_of_life: Instant,
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    config: Arc<SmtpServerConfig>,
    handler: Arc<dyn SmtpHandler>,
    shutdown: CancellationToken,
) {
    debug!(%peer, "SMTP connection");
    let _ = tcp.set_nodelay(true);
    let session_config = SessionConfig {
        hostname: config.hostname.clone(),
        max_message_bytes: config.max_message_bytes,
        max_recipients: config.max_recipients,
        tls_available: config.tls.is_some(),
    };
    let mut conn = Conn {
        session: Session::new(session_config, peer),
        output: Vec::new(),
        input: Vec::new(),
        discarding: false,
        end_of_life: Instant::now() + config.max_session,
        config,
        handler,
        shutdown,
        peer,
    };
    conn.output = conn.session.greeting().to_wire();
    let mut tcp = tcp;
    match conn.run(&mut tcp).await {
        Exit::Close => close(&mut tcp).await,
        Exit::StartTls => {
            let Some(tls) = conn.config.tls.clone() else {
                return;
            };
            match timeout(
                conn.config.command_timeout,
                TlsAcceptor::from(tls).accept(tcp),
            )
            .await
            {
                Ok(Ok(mut stream)) => {
                    conn.session.tls_started();
                    // A second STARTTLS is refused by the session, so this run ends in Close.
                    let _ = conn.run(&mut stream).await;
                    close(&mut stream).await;
                }
                Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
    debug!(%peer, "SMTP connection closed");
}

async fn close<S: AsyncWrite + Unpin>(io: &mut S) {
    let _ = timeout(Duration::from_secs(1), io.shutdown()).await;
}

impl Conn {
    /// Serves commands until the connection ends or switches to TLS.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut S) -> Exit {
        loop {
            let step = match self.next_line() {
                Some(Ok(line)) => self.session.line(&line),
                Some(Err(())) => self.session.line_too_long(),
                None => {
                    let deadline = Instant::now() + self.config.command_timeout;
                    let deadline = deadline.min(self.end_of_life);
                    match self.read(io, deadline).await {
                        Ok(chunk) => self.input.extend_from_slice(&chunk),
                        Err(stop) => return self.stop(io, stop).await,
                    }
                    continue;
                }
            };
            let step = match step {
                Step::CheckRecipient(rcpt) => {
                    let check = self.handler.check_recipient(&rcpt);
                    let verdict = timeout(self.config.command_timeout, check)
                        .await
                        .unwrap_or_else(|_| {
                            RcptVerdict::TempFail("Recipient check timed out".into())
                        });
                    if let RcptVerdict::Reject(_) = verdict {
                        bump(&self.config.stats.rcpt_refused);
                        // Slows address guessing; the session's other limits still hold.
                        let pause = self.config.rcpt_reject_delay;
                        let until = (Instant::now() + pause).min(self.end_of_life);
                        tokio::select! {
                            _ = tokio::time::sleep_until(until) => {}
                            _ = self.shutdown.cancelled() => {}
                        }
                    }
                    self.session.recipient_checked(verdict)
                }
                Step::StartData(reply) => {
                    self.output.extend(reply.to_wire());
                    match self.data(io).await {
                        Ok(step) => step,
                        Err(stop) => return self.stop(io, stop).await,
                    }
                }
                step => step,
            };
            let step = match step {
                Step::Deliver(envelope, message) => {
                    let (size, rcpts) = (message.len(), envelope.rcpt_to.len());
                    let result = self.handler.deliver(envelope, message).await;
                    match &result {
                        Ok(id) => info!(peer = %self.peer, %id, size, rcpts, "mail accepted"),
                        Err(e) => warn!(peer = %self.peer, error = %e, "mail not stored"),
                    }
                    Step::Reply(self.session.delivered(result))
                }
                step => step,
            };
            match step {
                Step::Reply(reply) => {
                    self.output.extend(reply.to_wire());
                    if self.output.len() > MAX_PENDING_OUTPUT && !self.flush(io).await {
                        return Exit::Close;
                    }
                }
                Step::StartTls(reply) => {
                    self.output.extend(reply.to_wire());
                    if !self.flush(io).await {
                        return Exit::Close;
                    }
                    if !self.input.is_empty() {
                        // Plaintext sent after STARTTLS must not count as sent over TLS
                        // (CVE-2011-0411).
                        debug!(peer = %self.peer, bytes = self.input.len(), "dropping input sent before the TLS handshake");
                        self.input.clear();
                    }
                    return Exit::StartTls;
                }
                Step::Close(reply) => {
                    match self.session.limit_hit() {
                        Some(Limit::Errors) => bump(&self.config.stats.closed_errors),
                        Some(Limit::Idle) => bump(&self.config.stats.closed_idle),
                        None => {}
                    }
                    if self.session.limit_hit().is_some() {
                        debug!(peer = %self.peer, limit = ?self.session.limit_hit(), "SMTP session closed at a limit");
                    }
                    self.output.extend(reply.to_wire());
                    self.flush(io).await;
                    return Exit::Close;
                }
                Step::CheckRecipient(_) | Step::StartData(_) | Step::Deliver(..) => {
                    return Exit::Close; // not produced here
                }
            }
        }
    }

    /// The next complete command line from the input (CR LF removed), `Err` for one that
    /// was too long (dropped), `None` if more input is needed.
    fn next_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        let Some(lf) = self.input.iter().position(|&b| b == b'\n') else {
            if self.input.len() >= MAX_COMMAND_LINE {
                self.discarding = true;
                self.input.clear();
            }
            return None;
        };
        let mut line: Vec<u8> = self.input.drain(..=lf).collect();
        if std::mem::take(&mut self.discarding) || line.len() > MAX_COMMAND_LINE {
            return Some(Err(()));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(Ok(line))
    }

    /// Reads the message after `354` and returns the session's step for it.
    async fn data<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut S) -> Result<Step, Stop> {
        let mut reader = DataReader::new(self.config.max_message_bytes);
        let data_deadline = Instant::now() + self.config.data_timeout;
        let mut chunk = std::mem::take(&mut self.input);
        loop {
            if let Some((outcome, used)) = reader.feed(&chunk) {
                self.input = chunk.split_off(used);
                return Ok(self.session.data_received(outcome));
            }
            let deadline = data_deadline
                .min(Instant::now() + self.config.command_timeout)
                .min(self.end_of_life);
            chunk = self.read(io, deadline).await?;
        }
    }

    /// Sends pending replies, then reads what comes (at most [`READ_CHUNK`] bytes).
    async fn read<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        deadline: Instant,
    ) -> Result<Vec<u8>, Stop> {
        if !self.flush(io).await {
            return Err(Stop::Closed);
        }
        let mut chunk = vec![0; READ_CHUNK];
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => Err(Stop::Shutdown),
            read = timeout_at(deadline, io.read(&mut chunk)) => match read {
                Err(_) if Instant::now() >= self.end_of_life => Err(Stop::Lifetime),
                Err(_) => Err(Stop::Timeout),
                Ok(Ok(0)) | Ok(Err(_)) => Err(Stop::Closed),
                Ok(Ok(n)) => {
                    chunk.truncate(n);
                    Ok(chunk)
                }
            },
        }
    }

    /// Says why the connection ends, if there is someone to tell.
    async fn stop<S: AsyncWrite + Unpin>(&mut self, io: &mut S, stop: Stop) -> Exit {
        let reply = match stop {
            Stop::Shutdown => self.session.shutting_down(),
            Stop::Timeout => {
                debug!(peer = %self.peer, "SMTP client timed out");
                self.session.timeout()
            }
            Stop::Lifetime => {
                debug!(peer = %self.peer, "SMTP session reached its lifetime");
                bump(&self.config.stats.closed_lifetime);
                Reply::new(
                    421,
                    format!(
                        "{} Session too long, closing connection",
                        self.config.hostname
                    ),
                )
            }
            Stop::Closed => return Exit::Close,
        };
        self.output.extend(reply.to_wire());
        // Going away: do not wait long for a client that does not read.
        let within = self.config.command_timeout.min(Duration::from_secs(2));
        self.flush_within(io, within).await;
        Exit::Close
    }

    /// Writes the pending replies; false if the client is gone or does not read.
    async fn flush<S: AsyncWrite + Unpin>(&mut self, io: &mut S) -> bool {
        self.flush_within(io, self.config.command_timeout).await
    }

    async fn flush_within<S: AsyncWrite + Unpin>(&mut self, io: &mut S, within: Duration) -> bool {
        if self.output.is_empty() {
            return true;
        }
        let output = std::mem::take(&mut self.output);
        let write = async {
            io.write_all(&output).await?;
            io.flush().await
        };
        matches!(timeout(within, write).await, Ok(Ok(())))
    }
}
