//! Who may read a chat the gateway follows for a bridge (digests: the gateway follows a
//! chat once for all its subscribers, with whatever access it was given, so each
//! subscriber must show they may read it themselves).
//!
//! * A chat of one of the gateway's own transports (an IRC channel): the owner must be in
//!   it through the gateway right now, as that transport's state has it (any of their
//!   resources joined). Each transport registers itself in the [`Hub`] for this.
//! * A MUC room elsewhere: the room itself must vouch for the owner. A refused owner is
//!   given a code for that room; from inside the room, they invite the watching transport
//!   (`mail.example.org`) with the code as the reason (XEP-0045 §7.8.2, a mediated
//!   invitation). Only a room the owner may enter relays it (Prosody refuses invitations
//!   from non-members of a members-only room, and in such a room the invitation also makes
//!   the transport a member, so its occupant may join), and only the owner saw the code.
//!   The inviter's real JID cannot serve instead: semi-anonymous rooms replace it with the
//!   occupant JID. Codes and the proof each count for [`INVITATION_VALID`].

use super::{Hub, TransportWatch};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use switchboard_bridge::ReadAccess;
use xmpp_parsers::jid::BareJid;

/// How long a code waits for its invitation, and an invitation lets its owner subscribe.
pub const INVITATION_VALID: Duration = Duration::from_secs(3600);
/// Codes (and proofs) kept per transport; past it, no new ones within the hour.
const MAX_INVITATIONS: usize = 4096;

/// A transport that can say whether a user is in one of its chats.
pub trait Occupancy: Send + Sync {
    /// Is `owner` in the chat `room` (a JID on this transport) through the gateway?
    fn occupies(&self, owner: &BareJid, room: &BareJid) -> bool;
}

/// Codes given to owners refused a room, and owners a room vouched for, of one transport;
/// keyed by (room in lower case, owner).
#[derive(Default)]
pub(super) struct Invitations {
    codes: HashMap<(String, BareJid), (String, Instant)>,
    vouched: HashMap<(String, BareJid), Instant>,
}

impl Hub {
    /// Registers the transport on `domain` as the judge of who is in its chats.
    pub fn register_occupancy(&self, domain: &str, transport: Weak<dyn Occupancy>) {
        self.occupancy
            .lock()
            .expect("occupancy registry mutex poisoned")
            .insert(domain.to_ascii_lowercase(), transport);
    }

    fn occupancy_of(&self, domain: &str) -> Option<Arc<dyn Occupancy>> {
        self.occupancy
            .lock()
            .expect("occupancy registry mutex poisoned")
            .get(&domain.to_ascii_lowercase())
            .and_then(Weak::upgrade)
    }
}

impl TransportWatch {
    fn invitations(&self) -> std::sync::MutexGuard<'_, Invitations> {
        self.invitations.lock().expect("invitations mutex poisoned")
    }

    /// A room relayed an invitation to this transport with `reason`: the owner whose code
    /// for that room it is has shown they may read it.
    pub(super) fn invited(&self, room: &BareJid, reason: &str) {
        let key_room = room.as_str().to_lowercase();
        let mut inv = self.invitations();
        let owner = inv
            .codes
            .iter()
            .find(|((r, _), (code, at))| {
                *r == key_room && code == reason && at.elapsed() < INVITATION_VALID
            })
            .map(|((_, owner), _)| owner.clone());
        let Some(owner) = owner else {
            tracing::info!(domain = %self.domain, room = %room, "An invitation with no code of ours; ignored");
            return;
        };
        inv.codes.remove(&(key_room.clone(), owner.clone()));
        inv.vouched.retain(|_, at| at.elapsed() < INVITATION_VALID);
        if inv.vouched.len() >= MAX_INVITATIONS {
            tracing::warn!(domain = %self.domain, room = %room, "Too many rooms vouched for this hour; not recording one");
            return;
        }
        tracing::info!(domain = %self.domain, room = %room, owner = %owner, "A room vouched for a subscriber");
        inv.vouched.insert((key_room, owner), Instant::now());
    }

    /// Whether the room vouched for `owner` lately; otherwise the code to invite with.
    fn vouched_or_code(&self, owner: &BareJid, room: &BareJid) -> Result<(), Option<String>> {
        let key = (room.as_str().to_lowercase(), owner.clone());
        let mut inv = self.invitations();
        if inv
            .vouched
            .get(&key)
            .is_some_and(|at| at.elapsed() < INVITATION_VALID)
        {
            return Ok(());
        }
        if let Some((code, at)) = inv.codes.get(&key) {
            if at.elapsed() < INVITATION_VALID {
                return Err(Some(code.clone()));
            }
        }
        inv.codes
            .retain(|_, (_, at)| at.elapsed() < INVITATION_VALID);
        if inv.codes.len() >= MAX_INVITATIONS {
            return Err(None);
        }
        let code = format!("sb-{:010x}", rand::random::<u64>() & 0xff_ffff_ffff);
        inv.codes.insert(key, (code.clone(), Instant::now()));
        Err(Some(code))
    }

    pub(super) fn read_access(&self, owner: &str, room: &str) -> ReadAccess {
        let (Ok(owner), Ok(room)) = (BareJid::new(owner.trim()), BareJid::new(room.trim())) else {
            return ReadAccess::Refused {
                why: format!("'{room}' is not a room address"),
            };
        };
        if room.node().is_none() {
            return ReadAccess::Refused {
                why: format!("'{room}' is not a room address"),
            };
        }
        if let Some(transport) = self.hub.occupancy_of(room.domain().as_str()) {
            return if transport.occupies(&owner, &room) {
                ReadAccess::Granted
            } else {
                ReadAccess::Refused {
                    why: format!(
                        "only those in it get its digest; join {room} through this gateway first"
                    ),
                }
            };
        }
        match self.vouched_or_code(&owner, &room) {
            Ok(()) => ReadAccess::Granted,
            Err(Some(code)) => ReadAccess::Refused {
                why: format!(
                    "only its members get its digest; from inside {room}, invite {} to the room \
                     with the reason {code} (a XEP-0045 invitation), then subscribe again within \
                     {} minutes",
                    self.domain,
                    INVITATION_VALID.as_secs() / 60
                ),
            },
            Err(None) => ReadAccess::Refused {
                why: "too many digests are waiting for an invitation; try again later".into(),
            },
        }
    }
}
