//! XEP-0050 ad-hoc commands on the transport JID: which a user may see, and running them.

use super::iq::{unsupported, Answer};
use super::Transport;
use crate::xmpp::adhoc;
use minidom::Element;
use std::sync::atomic::Ordering;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    pub(super) fn command(&self, node: &str, from: &Jid) -> Option<adhoc::Command> {
        adhoc::CORE_COMMANDS
            .iter()
            .find(|c| c.node == node && (!c.admin_only || self.access.is_admin(from)))
            .copied()
    }

    pub(super) async fn execute_command(&self, from: &Jid, payload: &Element) -> Answer {
        let request = match adhoc::parse_request(payload) {
            Ok(r) => r,
            Err(text) => {
                return Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text)
            }
        };
        let known = adhoc::CORE_COMMANDS.iter().any(|c| c.node == request.node);
        let Some(command) = self.command(&request.node, from) else {
            return if known {
                Answer::Error(
                    ErrorType::Auth,
                    DefinedCondition::Forbidden,
                    "only gateway admins may run this command".into(),
                )
            } else {
                Answer::Error(
                    ErrorType::Cancel,
                    DefinedCondition::ItemNotFound,
                    format!("no command '{}'", request.node),
                )
            };
        };
        let session = request
            .session
            .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
        if request.action == "cancel" {
            return Answer::Result(Some(adhoc::canceled(command.node, &session)));
        }
        match command.node {
            "status" => {
                let (note, fields) = self.status_report().await;
                let fields: Vec<(&str, &str, String)> =
                    fields.iter().map(|(v, l, x)| (*v, *l, x.clone())).collect();
                Answer::Result(Some(adhoc::completed(
                    command.node,
                    &session,
                    &note,
                    &fields,
                )))
            }
            _ => unsupported("this command"),
        }
    }

    /// The admin status report: a summary line and fields.
    pub(super) async fn status_report(
        &self,
    ) -> (String, Vec<(&'static str, &'static str, String)>) {
        let health = self.health().await;
        let link = self.link.state();
        let stats = self.link.stats();
        let note = format!(
            "{} transport: link {:?}, {} sessions ({} down), {} queued",
            self.connector.info().display_name,
            link,
            health.sessions,
            health.sessions_down,
            health.queued
        );
        let fields = vec![
            ("link", "Component link", format!("{link:?}")),
            (
                "connects",
                "Link connections since start",
                stats.connects.load(Ordering::Relaxed).to_string(),
            ),
            ("sessions", "Sessions", health.sessions.to_string()),
            (
                "sessions_down",
                "Sessions not connected",
                health.sessions_down.to_string(),
            ),
            (
                "queued",
                "Messages waiting for the network",
                health.queued.to_string(),
            ),
            (
                "link_queue",
                "Stanzas waiting for the XMPP server",
                self.link.queued().to_string(),
            ),
            (
                "invalid_stanzas",
                "Unparseable stanzas bounced",
                stats.invalid_stanzas.load(Ordering::Relaxed).to_string(),
            ),
            (
                "uptime",
                "Uptime (s)",
                self.started.elapsed().as_secs().to_string(),
            ),
        ];
        (note, fields)
    }
}
