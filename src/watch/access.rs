//! Who may read a chat the gateway follows for a bridge (digests: the gateway follows a
//! chat once for all its subscribers, with whatever access it was given, so each
//! subscriber must show they may read it themselves).
//!
//! * A chat of one of the gateway's own transports (an IRC channel): the owner must be in
//!   it through the gateway right now, as that transport's state has it (any of their
//!   resources joined). Each transport registers itself in the [`Hub`] for this.
//! * A MUC room elsewhere: the room itself must vouch for the owner. The owner invites the
//!   watching transport (`mail.example.org`) to the room from inside it (XEP-0045 §7.8.2,
//!   a mediated invitation); the room relays it with the owner's real JID, and only rooms
//!   the owner may enter do so (Prosody refuses invitations from non-members of a
//!   members-only room, and in such a room the invitation also makes the transport a
//!   member, so its occupant may join). An invitation counts for [`INVITATION_VALID`].

use super::{Hub, TransportWatch};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use switchboard_bridge::ReadAccess;
use xmpp_parsers::jid::BareJid;

/// How long a room's invitation lets its inviter subscribe to it.
pub const INVITATION_VALID: Duration = Duration::from_secs(3600);
/// Invitations kept per transport; more (within the hour) are not recorded.
const MAX_INVITATIONS: usize = 4096;

/// A transport that can say whether a user is in one of its chats.
pub trait Occupancy: Send + Sync {
    /// Is `owner` in the chat `room` (a JID on this transport) through the gateway?
    fn occupies(&self, owner: &BareJid, room: &BareJid) -> bool;
}

/// Invitations rooms relayed to one transport: (room in lower case, inviter) → when.
#[derive(Default)]
pub(super) struct Invitations(HashMap<(String, BareJid), Instant>);

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
    /// A room relayed `inviter`'s invitation to this transport.
    pub(super) fn invited(&self, room: &BareJid, inviter: BareJid) {
        let mut invitations = self.invitations.lock().expect("invitations mutex poisoned");
        invitations
            .0
            .retain(|_, at| at.elapsed() < INVITATION_VALID);
        if invitations.0.len() >= MAX_INVITATIONS {
            tracing::warn!(domain = %self.domain, room = %room, "Too many invitations this hour; not recording one");
            return;
        }
        tracing::info!(domain = %self.domain, room = %room, inviter = %inviter, "A room vouched for its inviter");
        invitations
            .0
            .insert((room.as_str().to_lowercase(), inviter), Instant::now());
    }

    fn was_invited(&self, owner: &BareJid, room: &BareJid) -> bool {
        self.invitations
            .lock()
            .expect("invitations mutex poisoned")
            .0
            .get(&(room.as_str().to_lowercase(), owner.clone()))
            .is_some_and(|at| at.elapsed() < INVITATION_VALID)
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
        if self.was_invited(&owner, &room) {
            ReadAccess::Granted
        } else {
            ReadAccess::Refused {
                why: format!(
                    "only its members get its digest; from inside {room}, invite {} to the room \
                     (a XEP-0045 invitation), then subscribe within {} minutes",
                    self.domain,
                    INVITATION_VALID.as_secs() / 60
                ),
            }
        }
    }
}
