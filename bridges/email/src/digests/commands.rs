//! The digest commands users run on the mail transport: subscribe (a code is mailed to a
//! new address), verify, list, unsubscribe.

use super::subscription::{self, ScheduleSpec, SourceRef, Subscription, SubscriptionId};
use super::Digests;
use crate::address::MailAddress;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::Message;
use switchboard_bridge::{
    BridgeError, CommandForm, CommandReply, FieldKind, FormField, FormValues, ReadAccess,
    ReplyField, OWNER_KEY,
};

/// Wrong codes an owner may give before their pending subscriptions are dropped.
const MAX_WRONG_CODES: u32 = 5;
/// Subscriptions waiting for a code, per owner (each mailed a code to some address).
const MAX_PENDING: usize = 3;

fn field(name: &'static str, label: &'static str, kind: FieldKind, required: bool) -> FormField {
    FormField {
        name,
        label,
        kind,
        required,
    }
}

/// The commands' forms.
pub fn forms() -> Vec<CommandForm> {
    vec![
        CommandForm {
            node: "digest-subscribe",
            name: "Subscribe to a digest by mail".into(),
            instructions: "Mail a digest of a room (its JID), an IRC channel (its JID) or your \
                           missed messages ('missed') to an address, every so often (30m, 6h, \
                           1d) or daily at a time (07:30) in a time zone. A new address gets a \
                           code to confirm with digest-verify."
                .into(),
            fields: vec![
                field(
                    "source",
                    "Room JID, IRC channel JID, or 'missed'",
                    FieldKind::Jid,
                    true,
                ),
                field("address", "Mail address", FieldKind::Text, true),
                field("every", "Every (30m, 6h, 1d)", FieldKind::Text, false),
                field("daily_at", "Or daily at (HH:MM)", FieldKind::Text, false),
                field(
                    "timezone",
                    "Time zone for daily_at (Europe/Berlin; default UTC)",
                    FieldKind::Text,
                    false,
                ),
            ],
        },
        CommandForm {
            node: "digest-verify",
            name: "Confirm a digest address".into(),
            instructions: "Enter the code mailed to the address.".into(),
            fields: vec![field("code", "Verification code", FieldKind::Text, true)],
        },
        CommandForm {
            node: "digest-list",
            name: "List your digests".into(),
            instructions: String::new(),
            fields: Vec::new(),
        },
        CommandForm {
            node: "digest-unsubscribe",
            name: "End a digest".into(),
            instructions: "The id digest-list shows.".into(),
            fields: vec![field("id", "Subscription id", FieldKind::Text, true)],
        },
    ]
}

fn value<'a>(values: &'a FormValues, name: &str) -> Option<&'a str> {
    values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl Digests {
    /// Runs a digest command for the owner named in `values`.
    pub async fn command(
        &self,
        node: &str,
        values: &FormValues,
    ) -> Result<CommandReply, BridgeError> {
        let owner = value(values, OWNER_KEY)
            .ok_or_else(|| BridgeError::Invalid("the gateway gave no owner".into()))?
            .to_string();
        match node {
            "digest-subscribe" => self.subscribe(&owner, values).await,
            "digest-verify" => {
                self.verify(&owner, value(values, "code").unwrap_or(""))
                    .await
            }
            "digest-list" => Ok(self.list(&owner)),
            "digest-unsubscribe" => self.end(&owner, value(values, "id").unwrap_or("")).await,
            _ => Err(BridgeError::Unsupported("this command")),
        }
    }

    async fn subscribe(
        &self,
        owner: &str,
        values: &FormValues,
    ) -> Result<CommandReply, BridgeError> {
        let config = &self.shared.config;
        let source = match value(values, "source").unwrap_or("") {
            "missed" => SourceRef::Missed(owner.to_string()),
            room if room.contains('@') => SourceRef::Room(room.to_string()),
            other => {
                return Err(BridgeError::Invalid(format!(
                    "source '{other}': give a room JID (room@conference.example.org), an IRC \
                     channel JID (#channel%network@irc.example.org) or 'missed'"
                )))
            }
        };
        if let SourceRef::Room(room) = &source {
            // The gateway follows a room once for every subscriber, with whatever access
            // it was given: only those who may read the room get its digest (M1).
            if let ReadAccess::Refused { why } =
                self.shared.network()?.watcher.may_read(owner, room)
            {
                tracing::info!(owner, room = %room, "Digest refused: the owner may not read the room");
                return Err(BridgeError::Forbidden(format!(
                    "no digest of {room} for you: {why}"
                )));
            }
        }
        let address = MailAddress::parse(value(values, "address").unwrap_or(""))
            .map_err(|e| BridgeError::InvalidAddress(format!("address: {e}")))?;
        let spec = ScheduleSpec {
            every: value(values, "every").map(str::to_string),
            daily_at: value(values, "daily_at").map(str::to_string),
            timezone: value(values, "timezone").map(str::to_string),
        };
        let schedule = spec
            .schedule(config.digest.min_interval)
            .map_err(|e| BridgeError::Invalid(e.to_string()))?;
        let network = self.shared.network()?;
        let verified = network
            .store
            .get(&subscription::verified_key(owner, &address.to_string()))
            .await?
            .is_some();
        self.check_limits(owner, verified)?;
        let now = self.clock.now();
        let source_prefix = subscription::items_prefix(&source);
        let sub = Subscription {
            id: SubscriptionId::random(),
            owner: owner.to_string(),
            source: source.clone(),
            address: address.to_string(),
            schedule: spec,
            code: (!verified).then(subscription::new_code),
            token: subscription::new_token(),
            created: now,
            // Nothing said before the subscription starts counts.
            cursor: subscription::item_key(&source, now, ""),
            next_due: schedule.next_after(now),
            in_flight: None,
            last_error: None,
        };
        debug_assert!(sub.cursor.starts_with(&source_prefix));
        if let Some(code) = &sub.code {
            // Mailed before anything is stored: no code, no pending subscription.
            self.take_code_mail(owner, &sub.address).await?;
            let mail = self.code_mail(owner, &sub, code)?;
            self.shared.relay.send(mail).await.map_err(|e| match e {
                BridgeError::Transient(t) => {
                    BridgeError::Transient(format!("cannot mail the code now: {t}"))
                }
                other => other,
            })?;
        }
        // Taken only now: the relay may be slow, and the scheduler saves under this lock.
        let _writes = self.writes.lock().await;
        self.check_limits(owner, verified)?;
        network
            .store
            .put(&subscription::token_key(&sub.token), sub.id.as_str(), None)
            .await?;
        let first_of_source = self.index().active_for(&source).next().is_none();
        self.save(&sub).await?;
        if sub.active() && first_of_source {
            self.watch(&source, false).await;
        }
        self.wake.notify_one();
        tracing::info!(id = %sub.id, owner, verified, "Digest subscription made");
        let description = sub.describe(&schedule.describe());
        let note = if sub.active() {
            format!("Subscribed. {description}")
        } else {
            format!(
                "A verification code was mailed to {address}; confirm it with digest-verify. \
                 {description}"
            )
        };
        Ok(CommandReply {
            note,
            fields: vec![ReplyField {
                name: "id",
                label: "Subscription id",
                value: sub.id.to_string(),
            }],
        })
    }

    /// The per-user limits: subscriptions held, and those waiting for a code (each mailed
    /// a code to an address the user has not proven).
    fn check_limits(&self, owner: &str, verified: bool) -> Result<(), BridgeError> {
        let config = &self.shared.config;
        let (held, pending) = {
            let index = self.index();
            let mine: Vec<_> = index.owned_by(owner).collect();
            (mine.len(), mine.iter().filter(|s| !s.active()).count())
        };
        if held >= config.digest.max_subscriptions {
            return Err(BridgeError::LimitReached(format!(
                "you have {held} digests, the most one user may have"
            )));
        }
        if !verified && pending >= MAX_PENDING {
            return Err(BridgeError::LimitReached(format!(
                "{pending} digests are waiting for digest-verify; confirm or end them first"
            )));
        }
        Ok(())
    }

    /// The mail that carries a verification code.
    fn code_mail(
        &self,
        owner: &str,
        sub: &Subscription,
        code: &str,
    ) -> Result<Message, BridgeError> {
        let from: Mailbox = format!(
            "Switchboard digests <noreply@{}>",
            self.shared.config.address_domain
        )
        .parse()
        .map_err(|e| BridgeError::Invalid(format!("sender address: {e}")))?;
        let to: Mailbox = sub
            .address
            .parse()
            .map_err(|e| BridgeError::InvalidAddress(format!("address: {e}")))?;
        let body = format!(
            "Verification code: {code}\r\n\r\n{owner} asked for digests of {} at this address.\r\n\
             If that was not you, ignore this mail: nothing is sent without the code.\r\n",
            sub.source.describe()
        );
        Message::builder()
            .from(from)
            .to(to)
            .subject("Your Switchboard digest code")
            .message_id(Some(format!(
                "<code.{}@{}>",
                sub.id,
                self.shared.config.hostname()
            )))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| BridgeError::Invalid(format!("cannot build the code mail: {e}")))
    }

    async fn verify(&self, owner: &str, code: &str) -> Result<CommandReply, BridgeError> {
        let _writes = self.writes.lock().await;
        let pending: Vec<Subscription> = self
            .index()
            .owned_by(owner)
            .filter(|s| !s.active())
            .cloned()
            .collect();
        if pending.is_empty() {
            return Err(BridgeError::NotFound(
                "no digest is waiting for a code".into(),
            ));
        }
        let matching: Vec<Subscription> = pending
            .iter()
            .filter(|s| s.code.as_deref() == Some(code))
            .cloned()
            .collect();
        if matching.is_empty() {
            let wrong = {
                let mut counts = self.wrong_codes.lock().unwrap_or_else(|e| e.into_inner());
                let n = counts.entry(owner.to_string()).or_default();
                *n += 1;
                *n
            };
            if wrong >= MAX_WRONG_CODES {
                for sub in &pending {
                    self.remove(sub).await?;
                }
                self.wrong_codes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(owner);
                return Err(BridgeError::NotAllowed(
                    "too many wrong codes; the digests waiting for one were dropped, subscribe again".into(),
                ));
            }
            return Err(BridgeError::Invalid(format!(
                "that code matches no digest waiting for one ({} tries left)",
                MAX_WRONG_CODES - wrong
            )));
        }
        self.wrong_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(owner);
        let store = &self.shared.network()?.store;
        let now = self.clock.now();
        let mut lines = Vec::new();
        for mut sub in matching {
            store
                .put(&subscription::verified_key(owner, &sub.address), "1", None)
                .await?;
            let schedule = sub
                .schedule
                .schedule(std::time::Duration::ZERO)
                .map_err(|e| BridgeError::Invalid(e.to_string()))?;
            let first_of_source = self.index().active_for(&sub.source).next().is_none();
            sub.code = None;
            sub.cursor = subscription::item_key(&sub.source, now, "");
            sub.next_due = schedule.next_after(now);
            self.save(&sub).await?;
            if first_of_source {
                self.watch(&sub.source, false).await;
            }
            lines.push(sub.describe(&schedule.describe()));
        }
        self.wake.notify_one();
        Ok(CommandReply {
            note: format!("Confirmed.\n{}", lines.join("\n")),
            fields: Vec::new(),
        })
    }

    fn list(&self, owner: &str) -> CommandReply {
        let lines: Vec<String> = self
            .index()
            .owned_by(owner)
            .map(|s| {
                let schedule = s
                    .schedule
                    .schedule(std::time::Duration::ZERO)
                    .map(|s| s.describe())
                    .unwrap_or_else(|e| e.to_string());
                s.describe(&schedule)
            })
            .collect();
        CommandReply {
            note: if lines.is_empty() {
                "You have no digests.".into()
            } else {
                lines.join("\n")
            },
            fields: Vec::new(),
        }
    }

    async fn end(&self, owner: &str, id: &str) -> Result<CommandReply, BridgeError> {
        let _writes = self.writes.lock().await;
        let sub = SubscriptionId::parse(id)
            .and_then(|id| self.index().subs.get(&id).cloned())
            .filter(|s| s.owner == owner)
            .ok_or_else(|| BridgeError::NotFound(format!("you have no digest '{id}'")))?;
        self.remove(&sub).await?;
        Ok(CommandReply {
            note: format!("Digest {} ended.", sub.id),
            fields: Vec::new(),
        })
    }
}
