//! What a message says, independent of any protocol.

use serde::{Deserialize, Serialize};

/// How a text is meant to be shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// An ordinary message.
    #[default]
    Normal,
    /// An action ("/me waves"; IRC CTCP ACTION). The text excludes the "/me " prefix.
    Action,
    /// A notice (IRC NOTICE, automated messages).
    Notice,
}

/// The content of one message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContent {
    /// The text, possibly several lines.
    pub text: String,
    /// How the text is meant to be shown.
    #[serde(default)]
    pub kind: TextKind,
    /// A subject line (mail Subject, XMPP `<subject/>`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Files shared by URL (XMPP XEP-0066 out-of-band data, MMS media).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file shared by URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Where the file can be fetched.
    pub url: String,
    /// Its media type, when known (`image/jpeg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

impl MessageContent {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}
