//! Capability negotiation (CAP LS, REQ, ACK/NAK) and SASL PLAIN.

use super::{Action, ConnState, WANTED_CAPS};
use crate::hits::Limit;
use irc_proto::CapSubCommand;
use switchboard_bridge::{RemoteEvent, SessionState};

impl ConnState {
    pub(super) fn cap(
        &mut self,
        sub: CapSubCommand,
        a: Option<String>,
        b: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let send = |line: String| Action::Send { line, urgent: true };
        match sub {
            CapSubCommand::LS => {
                // `CAP * LS * :list` continues, `CAP * LS :list` ends.
                let (more, list) = match (a.as_deref(), b) {
                    (Some("*"), Some(list)) => (true, list),
                    (Some(list), None) => (false, list.to_string()),
                    (_, Some(list)) => (false, list),
                    (None, None) => (false, String::new()),
                };
                if self.ls_done {
                    // A server that keeps offering: answered already.
                    self.hits.hit(Limit::CapLs);
                    return;
                }
                self.ls_lines += 1;
                // Only what we would request is kept, so the list cannot grow memory.
                for cap in list.split_whitespace() {
                    let cap = cap.split('=').next().unwrap_or(cap);
                    let useful = cap == "sasl" || WANTED_CAPS.contains(&cap);
                    if useful && !self.offered.iter().any(|o| o == cap) {
                        self.offered.push(cap.to_string());
                    }
                }
                if more && self.ls_lines < self.limits.cap_ls_lines {
                    return;
                }
                if more {
                    self.hits.hit(Limit::CapLs);
                    tracing::info!(network = %self.network, lines = self.ls_lines, "CAP LS goes on too long; going on with what was offered");
                }
                self.ls_done = true;
                let mut wanted: Vec<&str> = WANTED_CAPS
                    .iter()
                    .copied()
                    .filter(|c| self.offered.iter().any(|o| o == c))
                    .collect();
                if self.sasl.is_some() {
                    if self.offered.iter().any(|o| o == "sasl") {
                        wanted.push("sasl");
                    } else {
                        out.push(Action::Emit(RemoteEvent::State(
                            SessionState::BadCredentials {
                                reason: format!(
                                    "{} does not offer SASL; the password was not used",
                                    self.network
                                ),
                            },
                        )));
                    }
                }
                if wanted.is_empty() {
                    out.push(send("CAP END".into()));
                } else {
                    out.push(send(format!("CAP REQ :{}", wanted.join(" "))));
                }
            }
            CapSubCommand::ACK | CapSubCommand::NAK => {
                if sub == CapSubCommand::ACK {
                    // Only what we asked for: a server acknowledging endless names
                    // cannot grow the set.
                    let list = b.or(a).unwrap_or_default();
                    for cap in list.split_whitespace() {
                        if cap == "sasl" || WANTED_CAPS.contains(&cap) {
                            self.caps.insert(cap.to_string());
                        }
                    }
                }
                if self.caps.contains("sasl") && self.sasl.is_some() && !self.registered {
                    out.push(send("AUTHENTICATE PLAIN".into()));
                } else if !self.registered {
                    out.push(send("CAP END".into()));
                }
            }
            _ => {}
        }
    }

    /// `AUTHENTICATE +`: the server waits for our PLAIN credentials.
    pub(super) fn authenticate(&mut self, arg: &str, out: &mut Vec<Action>) {
        let Some((account, password)) = &self.sasl else {
            return;
        };
        if arg != "+" {
            return;
        }
        use base64::Engine;
        let plain = format!("\0{account}\0{password}");
        let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
        // Lines carry at most 400 bytes of it; a final "+" when it divides evenly.
        for chunk in encoded.as_bytes().chunks(400) {
            out.push(Action::Send {
                line: format!("AUTHENTICATE {}", String::from_utf8_lossy(chunk)),
                urgent: true,
            });
        }
        if encoded.len() % 400 == 0 {
            out.push(Action::Send {
                line: "AUTHENTICATE +".into(),
                urgent: true,
            });
        }
    }
}
