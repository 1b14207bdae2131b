//! Registration forms: which fields a bridge asks for, and the values a user gave.

use std::collections::BTreeMap;

/// What kind of value a field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// A secret (shown masked, never echoed back, never logged).
    Secret,
    /// A yes/no flag ("true"/"false").
    Flag,
    /// An XMPP address; the core checks it and hands the bridge its normalised bare form.
    Jid,
    /// Several lines of text (a data form's text-multi); the bridge gets them joined with
    /// `\n`.
    Lines,
}

/// One field of a registration form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormField {
    /// Field name: one of XEP-0077's (`username`, `password`, `email`, `nick`, …) where one
    /// fits, so that old clients can show it.
    pub name: &'static str,
    /// Human label.
    pub label: &'static str,
    /// Kind of value.
    pub kind: FieldKind,
    /// Must be given.
    pub required: bool,
}

/// What a bridge asks of a user to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationForm {
    /// Shown above the form.
    pub instructions: String,
    /// The fields, in display order.
    pub fields: Vec<FormField>,
}

/// Values a user submitted, by field name.
pub type FormValues = BTreeMap<String, String>;

/// What a bridge keeps of a registration: the validated values, persisted by the core and
/// handed back when a session opens.
pub type LoginData = BTreeMap<String, String>;

/// A settings form a network offers on one of its addresses (an ad-hoc command), e.g.
/// per-network settings of an IRC user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandForm {
    /// The command node (`configure`).
    pub node: &'static str,
    /// Its human name.
    pub name: String,
    /// Shown above the form.
    pub instructions: String,
    /// The fields.
    pub fields: Vec<FormField>,
}

/// One value in the answer to a command (shown as a read-only form field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyField {
    /// Field name (`id`).
    pub name: &'static str,
    /// Human label.
    pub label: &'static str,
    /// The value.
    pub value: String,
}

/// A bridge's answer to a user command: a note, and values to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandReply {
    /// One or more lines for the user.
    pub note: String,
    /// Values, shown in a result form (ids a client may want to copy).
    pub fields: Vec<ReplyField>,
}
