//! What a network says about the user's connection (`RemoteEvent::NetworkText`): from the
//! network's JID to each of the user's resources known to be online, never stored; to the
//! bare JID when none is known.

use super::Transport;
use crate::xmpp::message;
use switchboard_bridge::{Chat, UserId};
use xmpp_parsers::jid::{BareJid, Jid};

impl Transport {
    pub(super) async fn network_text(&self, user: &BareJid, network: &UserId, text: &str) {
        let Some(from) = self.contact_jid(&Chat::Direct(network.clone())) else {
            return;
        };
        let mut to = self.sessions().resources_of(user);
        if to.is_empty() {
            to.push(Jid::from(user.clone()));
        }
        for resource in to {
            self.forward(message::network_text(from.clone(), resource, text).into())
                .await;
        }
    }
}
