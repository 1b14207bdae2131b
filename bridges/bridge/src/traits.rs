//! The two traits a bridge implements.

use crate::network::{Counter, Network, NetworkHealth};
use crate::{
    BridgeError, CancellationToken, Chat, EventSink, FormValues, GroupId, JoinRequest, LoginData,
    LoginId, OutgoingMessage, PresenceUpdate, RegistrationForm, Sent,
};
use async_trait::async_trait;
use std::sync::Arc;

/// What a network can do beyond one-to-one text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Group chats (shown as MUC rooms).
    pub groups: bool,
    /// Reports delivery of sent messages ([`crate::RemoteEvent::Delivered`]).
    pub receipts: bool,
    /// Takes the XMPP user's presence ([`Session::set_presence`]).
    pub presence: bool,
}

/// Static facts about a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkInfo {
    /// Short stable name (`irc`, `sms`, `email`, `echo`), used in storage and logs.
    pub id: &'static str,
    /// Name shown to users ("IRC").
    pub display_name: &'static str,
    /// XEP-0100 gateway type for disco (`irc`, `sms`, `smtp`).
    pub gateway_type: &'static str,
    /// Whether a user must register before using the transport. When false, the core opens
    /// a session on first use with empty login data.
    pub registration_required: bool,
    /// XEP-0100 prompt: what the user should enter to get a contact's address.
    pub prompt: &'static str,
    /// Optional capabilities.
    pub caps: Capabilities,
    /// How many of one user's messages the core hands to [`Session::send_message`] at
    /// once. 1 keeps them strictly in order (IRC); a larger window suits networks that do
    /// not keep order anyway and answer slowly (an SMS API).
    pub send_window: usize,
}

/// One transport: the entry point of a bridge.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Static facts about the network.
    fn info(&self) -> &NetworkInfo;

    /// The fields a user fills in to register.
    fn registration_form(&self) -> RegistrationForm;

    /// Validates a registration and returns what to keep of it. May talk to the network to
    /// check credentials. `form` also carries [`crate::OWNER_KEY`]: who registers (a
    /// normalised bare JID).
    async fn register(&self, form: &FormValues) -> Result<LoginData, BridgeError>;

    /// Parses the (already XEP-0106-unescaped) local part of a JID into a chat. Pure.
    fn parse_address(&self, local: &str) -> Result<Chat, BridgeError>;

    /// Formats a chat as the local part of a JID (before XEP-0106 escaping). Pure; the
    /// inverse of [`Connector::parse_address`].
    fn format_address(&self, chat: &Chat) -> String;

    /// The chat for a private message to one occupant of a group (`room/nick` in XMPP),
    /// when the network has such a thing. Pure.
    fn occupant_chat(&self, _group: &GroupId, _nick: &str) -> Option<Chat> {
        None
    }

    /// The chat the transport's own JID stands for, if any (IRC with `fixed_network`: the
    /// network; `parse_address("")` then gives it too): messages to the transport JID go
    /// to it and its commands are offered there.
    fn transport_chat(&self) -> Option<Chat> {
        None
    }

    /// Groups stay joined while their user is away (bouncer mode) unless the user's channel
    /// settings say otherwise (IRC: `irc.persistent_by_default`).
    fn groups_persistent_by_default(&self) -> bool {
        false
    }

    /// Settings forms the network offers on an address (ad-hoc commands on its JID).
    fn commands_for(&self, _chat: &Chat) -> Vec<crate::CommandForm> {
        Vec::new()
    }

    /// Read-only commands on a foreign address (IRC: `get-irc-connection-info` on a
    /// network): no fields, nothing stored, answered by [`Session::query`].
    fn queries_for(&self, _chat: &Chat) -> Vec<crate::CommandForm> {
        Vec::new()
    }

    /// Starts network-wide work when the transport starts: loads what the bridge stored,
    /// spawns listeners, and returns HTTP routes to mount on the gateway's one listener
    /// (`http.listen`). Tasks it spawns stop when `network.shutdown` fires.
    async fn start(&self, _network: Network) -> Result<Option<axum::Router>, BridgeError> {
        Ok(None)
    }

    /// How the network as a whole is doing, when that means something (a provider API).
    fn health(&self) -> Option<NetworkHealth> {
        None
    }

    /// Counters for `/metrics`.
    fn counters(&self) -> Vec<Counter> {
        Vec::new()
    }

    /// Commands only gateway admins may run on the transport JID.
    fn admin_commands(&self) -> Vec<crate::CommandForm> {
        Vec::new()
    }

    /// Runs an admin command with the values of its form; answers with a note for the
    /// admin.
    async fn admin_command(
        &self,
        _node: &str,
        _values: &FormValues,
    ) -> Result<String, BridgeError> {
        Err(BridgeError::Unsupported("admin commands"))
    }

    /// Commands any user of the gateway may run on the transport JID (subscriptions,
    /// settings that belong to no one address). A command without fields runs at once.
    fn user_commands(&self) -> Vec<crate::CommandForm> {
        Vec::new()
    }

    /// Runs a user command with the values of its form. `values` also carries
    /// [`crate::OWNER_KEY`]: who runs it (a normalised bare JID). JID fields arrive checked
    /// and normalised.
    async fn user_command(
        &self,
        _node: &str,
        _values: &FormValues,
    ) -> Result<crate::CommandReply, BridgeError> {
        Err(BridgeError::Unsupported("user commands"))
    }

    /// Something the gateway saw for the bridge (see [`crate::Watcher`]). `Ok` means the
    /// bridge took it (stored it durably where it must survive a restart); an `Err` is
    /// logged by the core and the observation is dropped.
    async fn observe(&self, _seen: crate::Observation) -> Result<(), BridgeError> {
        Ok(())
    }

    /// Opens a session for a login. Must not do slow I/O: connecting happens in
    /// [`Session::run`], which reports progress as events.
    async fn open_session(
        &self,
        login: LoginId,
        data: LoginData,
        events: EventSink,
    ) -> Result<Arc<dyn Session>, BridgeError>;
}

/// One user's connection to the foreign network.
#[async_trait]
pub trait Session: Send + Sync + 'static {
    /// Runs the connection until `shutdown` fires: connects, reconnects, and reports state
    /// and foreign traffic through the session's [`EventSink`]. Never fails: problems are
    /// [`crate::SessionState`] events. Returns after closing the foreign side cleanly.
    async fn run(self: Arc<Self>, shutdown: CancellationToken);

    /// Checks a message before the core stores it (whether the user may send at all,
    /// length, rate limits). Cheap, no I/O. An error is answered to the user at once and
    /// the message is not stored.
    fn admit(&self, _msg: &OutgoingMessage) -> Result<(), BridgeError> {
        Ok(())
    }

    /// Delivers one message. `Ok` means the foreign side took it.
    async fn send_message(&self, msg: OutgoingMessage) -> Result<Sent, BridgeError>;

    /// Passes on the XMPP user's presence (only when [`Capabilities::presence`]).
    async fn set_presence(&self, _presence: PresenceUpdate) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("presence"))
    }

    /// Starts joining a group (only with [`Capabilities::groups`]). `Ok` means the request
    /// went out; the outcome arrives as [`crate::RemoteEvent::GroupJoined`] or
    /// [`crate::RemoteEvent::GroupJoinFailed`]. Joining a group already joined answers with
    /// `GroupJoined` again.
    async fn join_group(&self, _request: JoinRequest) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("group chats"))
    }

    /// Leaves a group; [`crate::RemoteEvent::GroupLeft`] follows.
    async fn leave_group(
        &self,
        _group: &GroupId,
        _reason: Option<String>,
    ) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("group chats"))
    }

    /// Sets a group's topic.
    async fn set_topic(&self, _group: &GroupId, _topic: &str) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("topics"))
    }

    /// Asks the network to report `user`'s presence ([`crate::RemoteEvent::Presence`],
    /// now and when it changes). `Ok(false)` when it cannot (no connection to that network
    /// open, no way to watch, the watch list full): the core then shows the contact as it
    /// did before.
    async fn watch(&self, _user: &crate::UserId) -> Result<bool, BridgeError> {
        Ok(false)
    }

    /// Answers a read-only command ([`Connector::queries_for`]) on `chat` with a note.
    async fn query(&self, _chat: &Chat, node: &str) -> Result<String, BridgeError> {
        Err(BridgeError::NotFound(format!("no command '{node}'")))
    }

    /// Invites `user` to `group` (the answer, when the network refuses, comes as a
    /// [`crate::RemoteEvent::GroupError`] for the group).
    async fn invite(&self, _group: &GroupId, _user: &crate::UserId) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("invitations"))
    }

    /// Changes the user's nick in a group (on IRC: network-wide).
    async fn change_nick(&self, _group: &GroupId, _nick: &str) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("nick changes"))
    }

    /// Removes someone from a group.
    async fn kick(
        &self,
        _group: &GroupId,
        _nick: &str,
        _reason: Option<&str>,
    ) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("kicks"))
    }

    /// The groups a network (or service) lists, for disco#items on its JID.
    async fn list_groups(&self, _service: &Chat) -> Result<Vec<crate::GroupListing>, BridgeError> {
        Err(BridgeError::Unsupported("group directories"))
    }

    /// Applies a settings form (see [`Connector::commands_for`]). The core stores the
    /// values and applies them again whenever the session opens.
    async fn configure(
        &self,
        _chat: &Chat,
        _node: &str,
        _values: &crate::FormValues,
    ) -> Result<(), BridgeError> {
        Err(BridgeError::Unsupported("settings"))
    }

    /// The user unregistered: invalidate foreign credentials where the network has any.
    async fn logout(&self) -> Result<(), BridgeError> {
        Ok(())
    }
}
