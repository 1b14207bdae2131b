//! The accept loop and its bounds: connections in all and per client IP, how long a
//! request's headers and then its body may take, how long a connection may live. When
//! the listener is full, a client from an address holding fewer connections than the
//! greediest address gets the place of that address's oldest connection.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The largest request body read (the bridges' routes take less: 64 KiB for webhooks).
const MAX_BUFFERED_BODY: usize = 256 * 1024;
/// How long a new connection waits for the permit of one closed to make room for it.
const EVICTION_WAIT: Duration = Duration::from_millis(200);

/// Bounds on the listener's connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; one more is closed at once.
    pub max_connections: usize,
    /// Connections one client IP address may hold at once; one more is closed at once.
    pub max_connections_per_ip: usize,
    /// How long a request's headers may take to arrive, and how long a kept-alive
    /// connection may wait idle for the next request.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive once its headers are in.
    pub body_timeout: Duration,
    /// The longest a connection may live.
    pub connection_lifetime: Duration,
    /// After shutdown, how long requests under way may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_connections_per_ip: 32,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(15),
            connection_lifetime: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

/// What the listener counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections closed at once: the listener was full.
    pub refused: AtomicU64,
    /// Connections closed at once: their IP address held its share.
    pub refused_per_ip: AtomicU64,
    /// Connections closed to make room (the listener was full) for a client of an
    /// address holding fewer.
    pub evicted: AtomicU64,
    /// Requests whose body did not arrive in time (408).
    pub body_timeouts: AtomicU64,
    /// Requests to `/metrics` or `/healthz` without the right token (401).
    pub unauthorized: AtomicU64,
}

/// Connections held by each client IP address, oldest first, each with the token that
/// closes it.
#[derive(Default)]
struct PerIp(Mutex<PerIpTable>);

#[derive(Default)]
struct PerIpTable {
    next_id: u64,
    by_ip: HashMap<IpAddr, VecDeque<(u64, CancellationToken)>>,
}

/// One connection's share of its address's count, given back when dropped.
struct IpShare {
    table: Arc<PerIp>,
    ip: IpAddr,
    id: u64,
    close: CancellationToken,
}

impl PerIp {
    fn lock(&self) -> std::sync::MutexGuard<'_, PerIpTable> {
        self.0.lock().expect("per-IP table poisoned")
    }

    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpShare> {
        let mut t = self.lock();
        t.next_id += 1;
        let id = t.next_id;
        let held = t.by_ip.entry(ip).or_default();
        if held.len() >= max {
            return None;
        }
        let close = CancellationToken::new();
        held.push_back((id, close.clone()));
        Some(IpShare {
            table: self.clone(),
            ip,
            id,
            close,
        })
    }

    /// The listener is full and `ip` wants in: closes the oldest connection of the address
    /// holding the most, when that is more than `ip` holds (so many addresses that each
    /// trickle requests cannot keep a new client out, while one busy address is not
    /// pushed out by another). True when one was closed.
    fn evict_for(&self, ip: IpAddr) -> bool {
        let t = self.lock();
        let mine = t.by_ip.get(&ip).map_or(0, VecDeque::len);
        let Some((_, held)) = t
            .by_ip
            .iter()
            .filter(|(other, _)| **other != ip)
            .max_by_key(|(_, held)| held.len())
        else {
            return false;
        };
        // `mine` counts the newcomer itself already.
        if held.len() <= mine {
            return false;
        }
        match held.front() {
            Some((_, close)) => {
                close.cancel();
                true
            }
            None => false,
        }
    }
}

impl Drop for IpShare {
    fn drop(&mut self) {
        let mut t = self.table.lock();
        if let Some(held) = t.by_ip.get_mut(&self.ip) {
            held.retain(|(id, _)| *id != self.id);
            if held.is_empty() {
                t.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown`, then lets requests under
/// way finish (for at most `limits.shutdown_grace`).
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stats: Arc<HttpStats>,
    shutdown: CancellationToken,
) {
    let app = app.layer(axum::middleware::from_fn_with_state(
        (limits.body_timeout, stats.clone()),
        body_in_time,
    ));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // The per-IP share first: one address filling its share must not use up the
        // listener's permits.
        let Some(share) = per_ip.take(peer.ip(), limits.max_connections_per_ip) else {
            let n = stats.refused_per_ip.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(ip = %peer.ip(), max = limits.max_connections_per_ip, refused = n + 1, "HTTP connection refused: too many from one address");
            }
            continue; // dropping the stream closes it
        };
        let mut permit = permits.clone().try_acquire_owned().ok();
        if permit.is_none() && per_ip.evict_for(peer.ip()) {
            // The closed connection gives its permit back as soon as its task sees it.
            stats.evicted.fetch_add(1, Ordering::Relaxed);
            let freed = tokio::time::timeout(EVICTION_WAIT, permits.clone().acquire_owned());
            permit = freed.await.ok().and_then(Result::ok);
        }
        let Some(permit) = permit else {
            let n = stats.refused.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(
                    max = limits.max_connections,
                    refused = n + 1,
                    "HTTP connection refused: too many at once"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        let lifetime = limits.connection_lifetime;
        tokio::spawn(async move {
            let close = share.close.clone();
            let _held = (permit, share);
            tokio::select! {
                ended = tokio::time::timeout(lifetime, connection) => match ended {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::debug!(error = %e, "HTTP connection ended with an error"),
                    Err(_) => tracing::debug!("HTTP connection closed: it lived too long"),
                },
                _ = close.cancelled() => tracing::debug!("HTTP connection closed for a client of an address holding fewer"),
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still running at shutdown were cut off");
    }
}

/// Reads the whole request body within the body timeout before the route sees it; a
/// slower body gets 408 and the connection is closed (it is not worth keeping).
async fn body_in_time(
    State((timeout, stats)): State<(Duration, Arc<HttpStats>)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, MAX_BUFFERED_BODY);
    let bytes = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        // Too large, or the connection broke.
        Ok(Err(_)) => return close(StatusCode::BAD_REQUEST, "cannot read the request body\n"),
        Err(_) => {
            stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                path = parts.uri.path(),
                "HTTP request body too slow; closed"
            );
            return close(StatusCode::REQUEST_TIMEOUT, "request body too slow\n");
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn close(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}
