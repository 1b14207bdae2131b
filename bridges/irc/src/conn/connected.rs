//! One connected session: the lines read and written with flood control, pings, and the
//! session's commands, until the connection is lost or quits.

use super::commands::{apply, join_line};
use super::io::{self, LineReader, Throttle};
use super::state::{Action, ConnState};
use super::{Command, Identity, Reporting};
use crate::config::Network;
use crate::text;
use std::time::Duration;
use switchboard_bridge::{BridgeError, RemoteEvent, SessionState};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why a connected session ended.
pub(super) enum End {
    /// Asked to quit (or shutting down): done.
    Quit,
    /// Lost: reconnect.
    Lost(String),
    /// Cannot go on (refused nick): give up.
    Fatal(BridgeError),
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn session(
    stream: io::Stream,
    network: &Network,
    who: &Identity,
    state: &mut ConnState,
    commands: &mut mpsc::Receiver<Command>,
    events: &Reporting,
    shutdown: &CancellationToken,
    quit_message: &str,
) -> End {
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = LineReader::new(read);
    let mut throttle = Throttle::new(network);
    for line in state.hello(&who.username, &who.realname, who.server_password.as_deref()) {
        throttle.push_urgent(line);
    }
    let mut pinged = false;
    let room = state.limits.throttle_queue;
    // Held split quits are looked at once a second (a timer that lives across iterations,
    // so that a busy connection still gets its ticks).
    let mut splits = tokio::time::interval(Duration::from_secs(1));
    splits.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A server that stops reading (a zero TCP window) must not hold the connection for
        // ever: past the write timeout it counts as lost.
        match tokio::time::timeout(network.write_timeout, throttle.flush(&mut write)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return End::Lost(format!("write failed: {e}")),
            Err(_) => {
                state.hits.hit(crate::hits::Limit::WriteTimeout);
                return End::Lost(format!(
                    "the server took no data for {:?}",
                    network.write_timeout
                ));
            }
        }
        tokio::select! {
            line = tokio::time::timeout(network.keepalive, reader.next_line()) => {
                let bytes = match line {
                    Err(_) if !pinged => { pinged = true; throttle.push_urgent(format!("PING :{}", network.host)); continue; }
                    Err(_) => return End::Lost(format!("no answer from the server for {:?}", network.keepalive * 2)),
                    Ok(Err(e)) => return End::Lost(e),
                    Ok(Ok(None)) => return End::Lost("the server closed the connection".into()),
                    Ok(Ok(Some(bytes))) => bytes,
                };
                pinged = false;
                let line = text::decode_with(&bytes, || state.fallback_for(&bytes));
                let msg = match line.parse::<irc_proto::Message>() {
                    Ok(msg) => msg,
                    Err(e) => { tracing::debug!(network = %network.name, error = %e, "Unparsable IRC line"); continue; }
                };
                for action in state.handle(msg) {
                    match action {
                        Action::Emit(event) => { if events.emit(event).await.is_err() { return End::Quit; } }
                        Action::Send { line, urgent: true } => throttle.push_urgent(line),
                        Action::Send { line, urgent: false } => throttle.push(line),
                        Action::Registered => {
                            *events.status.lock().expect("status poisoned") = Some(super::Connected {
                                host: network.host.clone(),
                                port: network.port,
                                tls: network.tls,
                                since: std::time::SystemTime::now(),
                            });
                            let _ = events.emit(RemoteEvent::State(SessionState::Connected)).await;
                            if let Some(pw) = &who.nickserv_password {
                                throttle.push_urgent(format!("PRIVMSG NickServ :IDENTIFY {}", text::sanitize(pw)));
                            }
                            for line in &who.after_connect {
                                throttle.push(line.clone());
                            }
                            if !state.listing.is_empty() {
                                throttle.push("LIST".into());
                            }
                            if state.away.is_some() {
                                throttle.push(super::commands::away_line(state.away.as_deref()));
                            }
                            for (chan, key) in &state.wanted {
                                throttle.push(join_line(chan, key.as_deref()));
                            }
                        }
                        Action::Fatal(e) => {
                            let _ = tokio::time::timeout(Duration::from_secs(2), write.write_all(b"QUIT\r\n")).await;
                            return End::Fatal(e);
                        }
                    }
                }
            }
            // Commands wait in their (bounded) queue while flood control is behind.
            command = commands.recv(), if throttle.len() < room => match command {
                None => return quit(&mut write, quit_message).await,
                Some(Command::Quit { reason }) => return quit(&mut write, &reason).await,
                Some(command) => {
                    apply(command, state, &mut throttle);
                    if throttle.len() >= room {
                        state.hits.hit(crate::hits::Limit::ThrottleQueue);
                    }
                }
            },
            _ = throttle.ready(), if throttle.waiting() => {}
            _ = splits.tick(), if state.held_splits() > 0 => {
                for action in state.expire_splits(std::time::Instant::now()) {
                    if let Action::Emit(event) = action {
                        if events.emit(event).await.is_err() { return End::Quit; }
                    }
                }
            }
            _ = shutdown.cancelled() => return quit(&mut write, quit_message).await,
        }
    }
}

async fn quit(write: &mut tokio::io::WriteHalf<io::Stream>, reason: &str) -> End {
    let line = format!("QUIT :{}\r\n", text::sanitize(reason));
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = write.write_all(line.as_bytes()).await;
        let _ = write.flush().await;
        let _ = write.shutdown().await;
    })
    .await;
    End::Quit
}
