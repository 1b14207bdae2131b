//! The [`Session`] trait for an IRC session.

use super::*;

/// Wraps the session so `Arc<Self>` methods can be used from the trait.
pub struct Handle(pub Arc<IrcSession>);

#[async_trait]
impl Session for Handle {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        shutdown.cancelled().await;
        // Connections send QUIT on stop; give them a moment to do it.
        self.0.stop.cancel();
        self.0.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(3), self.0.tasks.wait()).await;
    }

    async fn send_message(&self, msg: OutgoingMessage) -> Result<Sent, BridgeError> {
        let address = Address::from_chat(&msg.chat)?;
        let (target, network) = match &address {
            Address::Channel { channel, network } => (channel.clone(), network.clone()),
            Address::User { nick, network } => (nick.clone(), network.clone()),
            // Messages to the network itself are raw IRC commands, one per line (biboumi's
            // way to WHOIS or talk to services); each line stays one line.
            Address::Network { network } => (String::new(), network.clone()),
        };
        let tx = match &address {
            Address::Channel { .. } => self.0.joined(&network, &target)?,
            Address::User { .. } | Address::Network { .. } => {
                self.0.connection(&network, &self.0.identity.nick)?
            }
        };
        let (done, written) = oneshot::channel();
        if let Address::Network { .. } = address {
            // JOINs count against max_channels_per_user: taken out and joined as such.
            let mut joins = Vec::new();
            let mut rest = Vec::new();
            for line in crate::text::lines(&msg.content.text) {
                match raw::classify(&line) {
                    raw::RawLine::Join(list) => joins.extend(list),
                    raw::RawLine::Other(line) => rest.push(line),
                }
            }
            if !joins.is_empty() {
                self.0.raw_joins(&network, joins)?;
            }
            if rest.is_empty() {
                return Ok(Sent {
                    id: None,
                    timestamp: None,
                });
            }
            IrcSession::send(
                &tx,
                Command::Raw {
                    text: rest.join("\n"),
                    done,
                },
            )
            .await?;
            written.await.map_err(|_| {
                BridgeError::Transient(format!("the connection to {network} was lost"))
            })??;
            return Ok(Sent {
                id: None,
                timestamp: None,
            });
        }
        IrcSession::send(
            &tx,
            Command::Say {
                txn: matches!(address, Address::User { .. }).then(|| msg.txn.clone()),
                target,
                text: msg.content.text,
                kind: msg.content.kind,
                done,
            },
        )
        .await?;
        written.await.map_err(|_| {
            BridgeError::Transient(format!("the connection to {network} was lost"))
        })??;
        Ok(Sent {
            id: None,
            timestamp: None,
        })
    }

    async fn join_group(&self, request: JoinRequest) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(&request.group)?;
        let tx = self.0.connection(&network, &request.nick)?;
        let total = self.0.channel_total();
        {
            let mut conns = self.0.conns.lock().expect("conns poisoned");
            let Some(conn) = conns.get_mut(&key(&network)) else {
                return Err(BridgeError::Transient(format!(
                    "the connection to {network} was lost"
                )));
            };
            let mut channels = conn.channels.lock().expect("channels poisoned");
            if !channels.contains(&channel) {
                // Channels followed for digests are counted apart (L4): many users'
                // digests never use up the channels of one shared identity for all.
                let limit = if request.watching {
                    self.0.config.max_followed_channels
                } else {
                    self.0.config.max_channels_per_user
                };
                if total >= limit {
                    return Err(BridgeError::LimitReached(format!(
                        "you are in {limit} channels already, the most this gateway allows"
                    )));
                }
                channels.insert(channel.clone());
            }
            drop(channels);
            conn.generation += 1;
        }
        self.0.queue(
            &tx,
            Command::Join {
                channel,
                key: request.password,
            },
        )
    }

    async fn leave_group(
        &self,
        group: &GroupId,
        reason: Option<String>,
    ) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let (tx, last, generation) = {
            let mut conns = self.0.conns.lock().expect("conns poisoned");
            let Some(conn) = conns.get_mut(&key(&network)) else {
                return Ok(());
            };
            let mut channels = conn.channels.lock().expect("channels poisoned");
            channels.remove(&channel);
            let last = channels.is_empty();
            drop(channels);
            (conn.tx.clone(), last, conn.generation)
        };
        self.0.queue(&tx, Command::Part { channel, reason })?;
        if last {
            self.0.schedule_quit(network, generation);
        }
        Ok(())
    }

    async fn set_topic(&self, group: &GroupId, topic: &str) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        self.0.queue(
            &tx,
            Command::Topic {
                channel,
                topic: topic.to_string(),
            },
        )
    }

    async fn configure(
        &self,
        chat: &Chat,
        node: &str,
        values: &FormValues,
    ) -> Result<(), BridgeError> {
        if node != crate::CONFIGURE {
            return Err(BridgeError::NotFound(format!("no command '{node}'")));
        }
        let network = match Address::from_chat(chat)? {
            Address::Network { network } => network,
            Address::Channel { channel, network } => {
                return self.0.set_channel_encoding(&network, &channel, values)
            }
            Address::User { .. } => {
                return Err(BridgeError::Unsupported(
                    "settings on anything but a network or a channel",
                ))
            }
        };
        let net = self.0.config.network(&network).ok_or_else(|| {
            BridgeError::NotAllowed(format!(
                "the IRC network '{network}' is not served by this gateway"
            ))
        })?;
        for key in ["nick", "username"] {
            if let Some(v) = values.get(key).filter(|v| !v.is_empty()) {
                if valid_nick(v) != *v {
                    return Err(BridgeError::Invalid(format!(
                        "{key}: '{v}' is not a valid IRC {key}"
                    )));
                }
            }
        }
        super::network_settings::after_connect(values)?;
        super::network_settings::encoding(values)?;
        self.0
            .settings
            .lock()
            .expect("settings poisoned")
            .insert(net.name, values.clone());
        Ok(())
    }

    async fn list_groups(&self, service: &Chat) -> Result<Vec<GroupListing>, BridgeError> {
        let Address::Network { network } = Address::from_chat(service)? else {
            return Err(BridgeError::Unsupported(
                "channel lists of anything but a network",
            ));
        };
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        let (done, listed) = oneshot::channel();
        self.0.queue(&tx, Command::List { done })?;
        match tokio::time::timeout(Duration::from_secs(30), listed).await {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(_)) => Err(BridgeError::Transient(format!(
                "the connection to {network} was lost"
            ))),
            Err(_) => Err(BridgeError::Transient(format!(
                "{network} sent no channel list within 30 s"
            ))),
        }
    }

    async fn change_nick(&self, group: &GroupId, nick: &str) -> Result<(), BridgeError> {
        let (_, network) = IrcSession::channel(group)?;
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        self.0.queue(
            &tx,
            Command::Nick {
                nick: nick.to_string(),
            },
        )
    }

    async fn watch(&self, user: &switchboard_bridge::UserId) -> Result<bool, BridgeError> {
        let Address::User { nick, network } = Address::from_chat(&Chat::Direct(user.clone()))?
        else {
            return Ok(false);
        };
        // Only on a connection that is up: watching is no reason to connect.
        let tx = match self
            .0
            .conns
            .lock()
            .expect("conns poisoned")
            .get(&key(&network))
        {
            Some(c) if c.status.lock().expect("status poisoned").is_some() => c.tx.clone(),
            _ => return Ok(false),
        };
        let (done, watched) = oneshot::channel();
        self.0.queue(&tx, Command::Watch { nick, done })?;
        Ok(tokio::time::timeout(Duration::from_secs(2), watched)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false))
    }

    async fn query(&self, chat: &Chat, node: &str) -> Result<String, BridgeError> {
        match (Address::from_chat(chat)?, node) {
            (Address::Network { network }, super::CONNECTION_INFO) => Ok(self
                .0
                .connection_info(&network, std::time::SystemTime::now())),
            _ => Err(BridgeError::NotFound(format!("no command '{node}' here"))),
        }
    }

    async fn invite(
        &self,
        group: &GroupId,
        user: &switchboard_bridge::UserId,
    ) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let nick = match Address::from_chat(&Chat::Direct(user.clone()))? {
            Address::User { nick, network: n } if n.eq_ignore_ascii_case(&network) => nick,
            _ => {
                return Err(BridgeError::InvalidAddress(format!(
                    "only someone on {network} can be invited to {channel}"
                )))
            }
        };
        let tx = self.0.joined(&network, &channel)?;
        self.0.queue(&tx, Command::Invite { channel, nick })
    }

    async fn kick(
        &self,
        group: &GroupId,
        nick: &str,
        reason: Option<&str>,
    ) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        let command = Command::Kick {
            channel,
            nick: nick.to_string(),
            reason: reason.map(str::to_string),
        };
        self.0.queue(&tx, command)
    }

    async fn set_presence(&self, presence: PresenceUpdate) -> Result<(), BridgeError> {
        let away = match presence.availability {
            Availability::Available | Availability::Chat => Some(None),
            Availability::Away | Availability::ExtendedAway | Availability::DoNotDisturb => {
                let default = match presence.availability {
                    Availability::ExtendedAway => "Extended away",
                    Availability::DoNotDisturb => "Do not disturb",
                    _ => "Away",
                };
                let text = presence.status.as_deref().unwrap_or(default);
                Some(Some(crate::text::sanitize(text)))
            }
            Availability::Offline => None,
        };
        if let Some(away) = away {
            // Every connection now, and the ones opened later at registration.
            *self.0.away.lock().expect("away poisoned") = away.clone();
            let conns = self.0.conns.lock().expect("conns poisoned");
            for conn in conns.values() {
                let _ = conn.tx.try_send(Command::Away { text: away.clone() });
            }
            return Ok(());
        }
        if presence.availability == Availability::Offline {
            let conns: Vec<_> = self
                .0
                .conns
                .lock()
                .expect("conns poisoned")
                .drain()
                .collect();
            // A connection whose queue is full ends anyway once its queue drains: the
            // last sender is dropped here.
            for (_, conn) in conns {
                let _ = conn.tx.try_send(Command::Quit {
                    reason: self.0.config.quit_message.clone(),
                });
            }
        }
        Ok(())
    }
}
