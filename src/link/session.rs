//! One connected XEP-0114 session: handshake, then the read/write loop.

use super::{LinkConfig, LinkStats, Outgoing, Queued};
use crate::error::Error;
use crate::xmpp::errors::bounce_invalid;
use crate::xmpp::text::unwritable;
use futures::{SinkExt, StreamExt};
use minidom::Element;
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_xmpp::xmlstream::{
    initiate_stream, FallibleStreamElement, ReadError, StreamElementError, StreamHeader, Timeouts,
    XmlStream, XmppStreamElement,
};
use xmpp_parsers::component::Handshake;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;
use xmpp_parsers::stanza::Stanza;

/// An authenticated component stream.
pub(super) type Stream = XmlStream<BufStream<TcpStream>, FallibleStreamElement>;

/// How a session ended.
pub(super) enum End {
    /// Every sender is gone and the queue is drained; the stream was closed cleanly.
    Closed,
    /// The connection broke; reconnect.
    Lost(String),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Id prefix of our keepalive pings, which travel through the server back to us.
pub(super) const KEEPALIVE_ID: &str = "switchboard-keepalive";

/// Connects and authenticates (XEP-0114 handshake).
pub(super) async fn connect(config: &LinkConfig) -> Result<Stream, Error> {
    let io_err = |source| Error::LinkIo {
        addr: config.server.clone(),
        source,
    };
    let timeouts = Timeouts {
        read_timeout: config.keepalive,
        response_timeout: config.keepalive.max(Duration::from_secs(5)),
    };
    let handshake = async {
        let tcp = TcpStream::connect(&config.server).await.map_err(io_err)?;
        tcp.set_nodelay(true).map_err(io_err)?;
        let header = StreamHeader {
            to: Some(Cow::Borrowed(config.domain.as_str())),
            from: None,
            id: None,
        };
        let mut pending = initiate_stream(BufStream::new(tcp), ns::COMPONENT, header, timeouts)
            .await
            .map_err(io_err)?;
        let stream_id = pending
            .take_header()
            .id
            .ok_or_else(|| Error::LinkProtocol {
                domain: config.domain.clone(),
                reason: "the server sent no stream id".into(),
            })?;
        let mut stream: Stream = pending.skip_features();
        let nonza =
            Handshake::from_stream_id_and_password(stream_id.into_owned(), config.secret.expose());
        stream
            .send(&XmppStreamElement::ComponentHandshake(nonza))
            .await
            .map_err(io_err)?;
        loop {
            let reason = match stream.next().await {
                Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::ComponentHandshake(_)))) => {
                    return Ok(stream)
                }
                Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
                    return Err(Error::LinkAuth {
                        domain: config.domain.clone(),
                        reason: e.0.to_string(),
                    })
                }
                Some(Err(ReadError::SoftTimeout)) => continue,
                Some(Err(ReadError::HardError(e))) => return Err(io_err(e)),
                Some(Ok(other)) => format!("unexpected element during handshake: {other:?}"),
                Some(Err(e)) => e.to_string(),
                None => "the server closed the connection during the handshake".into(),
            };
            return Err(Error::LinkProtocol {
                domain: config.domain.clone(),
                reason,
            });
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| Error::LinkProtocol {
            domain: config.domain.clone(),
            reason: format!("no handshake within {CONNECT_TIMEOUT:?}"),
        })?
}

/// Exchanges stanzas until the connection breaks or the outbound queue closes.
pub(super) async fn run(
    mut stream: Stream,
    config: &LinkConfig,
    outbound: &mut mpsc::Receiver<Queued>,
    unsent: &mut Option<Queued>,
    inbound: &mpsc::Sender<Stanza>,
    stats: &LinkStats,
    abort: &CancellationToken,
) -> End {
    if let Some(queued) = unsent.take() {
        if let Err(end) = write_batch(&mut stream, queued, outbound, unsent, config, stats).await {
            return end;
        }
    }
    // A stanza read while the transport was behind. Reading pauses until it is handed over,
    // but writing goes on: blocking both ways could deadlock with a transport that waits
    // for room in the outbound queue.
    let mut waiting: Option<Stanza> = None;
    loop {
        tokio::select! {
            permit = inbound.reserve(), if waiting.is_some() => {
                let stanza = waiting.take().expect("guarded by the select condition");
                match permit {
                    Ok(permit) => permit.send(stanza),
                    // The transport has stopped (shutdown): what still arrives has no one
                    // to handle it; keep writing until the queue is drained.
                    Err(_) => tracing::debug!("Dropping an inbound stanza during shutdown"),
                }
            }
            item = stream.next(), if waiting.is_none() => match item {
                Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza)))) => {
                    if is_keepalive(&stanza, &config.domain) {
                        stats.markers.echoed(&stanza);
                        continue;
                    }
                    match inbound.try_send(stanza) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(stanza)) => waiting = Some(stanza),
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            tracing::debug!("Dropping an inbound stanza during shutdown");
                        }
                    }
                }
                Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
                    return End::Lost(format!("stream error from the server: {}", e.0));
                }
                Some(Ok(FallibleStreamElement::Ok(other))) => {
                    tracing::debug!(element = ?other, "Ignoring unexpected stream element");
                }
                Some(Ok(FallibleStreamElement::Err(StreamElementError::InvalidStanza { name, header, error, .. }))) => {
                    stats.invalid_stanzas.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(kind = %name, from = ?header.from, %error, "Bouncing a stanza that does not parse");
                    if let Some(reply) = bounce_invalid(&name.to_string(), &header, &error.to_string(), &config.domain) {
                        let reply: Element = reply.into();
                        match unwritable(&reply) {
                            Some(why) => drop_unwritable(&reply, &why, config, stats),
                            None => {
                                if let Err(e) = write(&mut stream, &reply).await {
                                    return End::Lost(format!("write failed: {e}"));
                                }
                            }
                        }
                    }
                }
                Some(Ok(FallibleStreamElement::Err(e @ StreamElementError::InvalidNonza { .. }))) => {
                    return End::Lost(format!("unusable element from the server: {e}"));
                }
                Some(Err(ReadError::SoftTimeout)) => {
                    if let Err(e) = write(&mut stream, &keepalive_ping(&config.domain, KEEPALIVE_ID).into()).await {
                        return End::Lost(format!("write failed: {e}"));
                    }
                }
                Some(Err(ReadError::HardError(e))) => return End::Lost(format!("read failed: {e}")),
                Some(Err(ReadError::ParseError(e))) => return End::Lost(format!("XML error: {e}")),
                Some(Err(ReadError::StreamFooterReceived)) | None => {
                    return End::Lost("the server closed the stream".into());
                }
            },
            next = outbound.recv() => match next {
                Some(queued) => {
                    if let Err(end) = write_batch(&mut stream, queued, outbound, unsent, config, stats).await {
                        return end;
                    }
                }
                None => return close(stream).await,
            },
            _ = abort.cancelled() => return close(stream).await,
        }
    }
}

async fn write(stream: &mut Stream, element: &Element) -> std::io::Result<()> {
    stream.send(element).await
}

/// Stanzas written before the socket is flushed at most: what waits in the queue goes out
/// in a few large writes instead of one system call per stanza (a line relayed to a room
/// is one stanza per occupant), while the read side still gets its turn between batches.
const WRITE_BATCH: usize = 64;

/// Writes `first` and whatever else is queued already (up to [`WRITE_BATCH`]), then
/// flushes once.
async fn write_batch(
    stream: &mut Stream,
    first: Queued,
    outbound: &mut mpsc::Receiver<Queued>,
    unsent: &mut Option<Queued>,
    config: &LinkConfig,
    stats: &LinkStats,
) -> Result<(), End> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(queued) = next.take() {
        write_queued(stream, queued, unsent, config, stats).await?;
        written += 1;
        if written < WRITE_BATCH {
            next = outbound.try_recv().ok();
        }
    }
    <Stream as SinkExt<&Element>>::flush(stream)
        .await
        .map_err(|e| End::Lost(format!("write failed: {e}")))
}

/// Writes a stanza from the queue. Its content is checked first: rxml refuses what XML
/// cannot carry only half-way through an element, and while tokio-xmpp then takes the
/// half back out of its buffer, rxml's encoder stays inside that element. So a stanza
/// that fails the check is never handed to the stream: it is dropped, logged (no body)
/// and counted, an iq result is answered with an error instead, and the link goes on.
/// Only an I/O error keeps the stanza for the next connection. The stanza is buffered,
/// not flushed ([`write_batch`] flushes).
async fn write_queued(
    stream: &mut Stream,
    queued: Queued,
    unsent: &mut Option<Queued>,
    config: &LinkConfig,
    stats: &LinkStats,
) -> Result<(), End> {
    let element = match &queued.stanza {
        Outgoing::Element(element) => element,
        Outgoing::Line(copy) => {
            return match stream.feed(copy).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    stats.unserialisable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(domain = %config.domain, to = %copy.recipient(), why = %e, "Dropping a room line XML cannot carry");
                    Err(End::Lost(format!(
                        "restarting the stream after a stanza it refused: {e}"
                    )))
                }
                Err(e) => {
                    *unsent = Some(queued);
                    Err(End::Lost(format!("write failed: {e}")))
                }
            };
        }
    };
    if let Some(why) = unwritable(element) {
        drop_unwritable(element, &why, config, stats);
        if let Some(error) = answer_for_unwritable(element) {
            if unwritable(&error).is_none() {
                write(stream, &error)
                    .await
                    .map_err(|e| End::Lost(format!("write failed: {e}")))?;
            }
        }
        return Ok(());
    }
    match stream.feed(element).await {
        Ok(()) => Ok(()),
        // The encoder refused the content after all (a case the check does not know):
        // the stanza is dropped, never retried, but the encoder's state is unknown, so
        // the stream starts again.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            drop_unwritable(element, &e.to_string(), config, stats);
            Err(End::Lost(format!(
                "restarting the stream after a stanza it refused: {e}"
            )))
        }
        Err(e) => {
            *unsent = Some(queued);
            Err(End::Lost(format!("write failed: {e}")))
        }
    }
}

fn drop_unwritable(element: &Element, why: &str, config: &LinkConfig, stats: &LinkStats) {
    stats.unserialisable.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        domain = %config.domain,
        kind = element.name(),
        from = element.attr("from").unwrap_or(""),
        to = element.attr("to").unwrap_or(""),
        id = element.attr("id").unwrap_or(""),
        %why,
        "Dropping a stanza XML cannot carry"
    );
}

/// The answer a user gets instead of an iq result that cannot be written: the same
/// addresses and id, `<internal-server-error/>`. Other stanzas answer nothing the user
/// sent, so there is no one to tell.
fn answer_for_unwritable(element: &Element) -> Option<Element> {
    if element.name() != "iq" || element.attr("type") != Some("result") {
        return None;
    }
    let id = element.attr("id")?.to_string();
    let from = element.attr("from").and_then(|j| Jid::new(j).ok());
    let to = element.attr("to").and_then(|j| Jid::new(j).ok())?;
    let error = crate::xmpp::errors::error(
        xmpp_parsers::stanza_error::ErrorType::Wait,
        xmpp_parsers::stanza_error::DefinedCondition::InternalServerError,
        "the answer held characters XML cannot carry",
    );
    let mut iq = Iq::from_error(id, error);
    if let Iq::Error { from: f, to: t, .. } = &mut iq {
        *f = from;
        *t = Some(to);
    }
    Some(Stanza::from(iq).into())
}

async fn close(mut stream: Stream) -> End {
    let closing = <Stream as SinkExt<&Element>>::close(&mut stream);
    let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    End::Closed
}

/// A ping of the transport to itself with `id` (a keepalive, or a flush marker whose id
/// starts with [`KEEPALIVE_ID`]).
pub(super) fn keepalive_ping(domain: &str, id: &str) -> Stanza {
    let me: Jid = Jid::new(domain).expect("the configured domain is a valid JID");
    Iq::from_get(id, Ping)
        .with_from(me.clone())
        .with_to(me)
        .into()
}

/// Our own ping coming back through the server (or the server's answer to it).
fn is_keepalive(stanza: &Stanza, domain: &str) -> bool {
    let Stanza::Iq(iq) = stanza else { return false };
    let (id, from) = match iq {
        Iq::Get { id, from, .. } | Iq::Result { id, from, .. } | Iq::Error { id, from, .. } => {
            (id, from)
        }
        Iq::Set { .. } => return false,
    };
    id.starts_with(KEEPALIVE_ID) && from.as_ref().is_some_and(|f| f.as_str() == domain)
}
