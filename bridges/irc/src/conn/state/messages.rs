//! Channel and private messages (PRIVMSG, NOTICE, CTCP ACTION), and the CTCP requests
//! answered instead of bridged.

use super::{group_id, Action, ConnState, HELD_LINES};
use crate::address::user_id;
use crate::text::{self, Ctcp};
use switchboard_bridge::{Chat, IncomingMessage, MessageContent, RemoteEvent, Sender, TextKind};

impl ConnState {
    pub(super) fn text(
        &mut self,
        from: Option<String>,
        target: &str,
        body: &str,
        notice: bool,
        time: Option<std::time::SystemTime>,
        out: &mut Vec<Action>,
    ) {
        // CTCP other than ACTION is answered (VERSION, PING, TIME to our nick), not bridged.
        let Some(from) = from else { return };
        let (kind, raw) = match text::parse_ctcp(body) {
            Some(Ctcp::Action(action)) => (TextKind::Action, action),
            Some(Ctcp::Other { command, args }) => {
                if !self.is_channel(target) {
                    self.ctcp_request(&from, command, args, out);
                }
                return;
            }
            None if notice => (TextKind::Notice, body),
            None => (TextKind::Normal, body),
        };
        if self.is_me(&from) {
            if !self.is_channel(target) {
                self.echoed_privately(target);
            }
            return; // echo-message of our own line: the core reflected it already
        }
        let chat = if self.is_channel(target) {
            Chat::Group(group_id(target, &self.network))
        } else {
            Chat::Direct(user_id(&from, &self.network))
        };
        let message = IncomingMessage {
            id: None,
            chat,
            sender: Sender {
                user: user_id(&from, &self.network),
                display_name: Some(from.clone()),
                is_self: false,
            },
            content: MessageContent {
                text: text::strip_formatting(raw),
                kind,
                subject: None,
                attachments: Vec::new(),
            },
            txn: None,
            timestamp: time,
        };
        if matches!(message.chat, Chat::Group(_)) {
            if let Some(c) = self
                .channels
                .get_mut(&target.to_lowercase())
                .filter(|c| !c.announced)
            {
                if c.held.len() < HELD_LINES {
                    c.held.push(message);
                } else {
                    self.hits.hit(crate::hits::Limit::HeldLines);
                }
                return;
            }
        }
        out.push(Action::Emit(RemoteEvent::Message(message)));
    }
}
