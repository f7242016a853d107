//! The facts of one inbound message that the policy looks at, and the time type the crate uses.

use std::fmt;

use imsg_target::Service;

/// A point in time as milliseconds since the Unix epoch.
///
/// The policy never reads a clock: the caller passes the time in, so tests and
/// model checks can move it at will. Convert from `jiff` with
/// `UnixMillis::new(ts.as_millisecond())`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(i64);

impl UnixMillis {
    /// Wraps a count of milliseconds since 1970-01-01T00:00:00Z.
    pub const fn new(millis: i64) -> UnixMillis {
        UnixMillis(millis)
    }

    /// The count of milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This time plus `millis` (negative moves back), saturating at the ends.
    pub const fn add_millis(self, millis: i64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self`, saturating; negative when `earlier` is later.
    pub const fn millis_since(self, earlier: UnixMillis) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// The facts of one `message` notification from `imsg`, as the policy needs them.
///
/// Field names follow the notification (`imsg-protocol.md`); the channel fills
/// them in without interpretation. Strings are trimmed by the policy, and an
/// empty string counts as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboundMessage {
    /// `sender`: the sender's handle as reported (E.164 phone or email).
    pub sender: String,
    /// `is_from_me`: the row was sent by this Apple ID.
    pub is_from_me: bool,
    /// `text`: the message text.
    pub text: String,
    /// Whether the message carries media the channel will forward (valid
    /// attachments with `includeAttachments` on). A message with neither text
    /// nor media has an empty body and is dropped.
    pub has_media: bool,
    /// `chat_id`: the chat row id; 0 means the chat was unknown to imsg.
    pub chat_id: Option<i64>,
    /// `chat_guid`, such as `iMessage;+;chat123` or `SMS;-;+15551234567`.
    pub chat_guid: Option<String>,
    /// `chat_identifier`.
    pub chat_identifier: Option<String>,
    /// `is_group`: only a hint; the `groups` map and the `;+;` form also make a group.
    pub is_group: bool,
    /// `guid`: the message guid, used to recognize echoes of our own sends.
    pub guid: Option<String>,
    /// The service the message came over, when the channel knows it. When
    /// `None`, the policy reads it from the chat guid prefix (`SMS;…`, `iMessage;…`).
    pub service: Option<Service>,
    /// The agent this message is routed to, for per-agent mention patterns.
    pub agent_id: Option<String>,
}

impl InboundMessage {
    /// A message from `sender` with `text`, with every other fact absent or false.
    pub fn new(sender: impl Into<String>, text: impl Into<String>) -> InboundMessage {
        InboundMessage {
            sender: sender.into(),
            text: text.into(),
            ..InboundMessage::default()
        }
    }

    /// Sets `chat_id`.
    pub fn with_chat_id(mut self, chat_id: i64) -> InboundMessage {
        self.chat_id = Some(chat_id);
        self
    }

    /// Sets `is_group`.
    pub fn with_group(mut self, is_group: bool) -> InboundMessage {
        self.is_group = is_group;
        self
    }

    /// Sets `chat_guid`.
    pub fn with_chat_guid(mut self, guid: impl Into<String>) -> InboundMessage {
        self.chat_guid = Some(guid.into());
        self
    }

    /// Sets `chat_identifier`.
    pub fn with_chat_identifier(mut self, identifier: impl Into<String>) -> InboundMessage {
        self.chat_identifier = Some(identifier.into());
        self
    }

    /// Sets the message `guid`.
    pub fn with_guid(mut self, guid: impl Into<String>) -> InboundMessage {
        self.guid = Some(guid.into());
        self
    }

    /// Sets the service the message came over.
    pub fn with_service(mut self, service: Service) -> InboundMessage {
        self.service = Some(service);
        self
    }

    /// Sets `is_from_me`.
    pub fn with_from_me(mut self, is_from_me: bool) -> InboundMessage {
        self.is_from_me = is_from_me;
        self
    }

    /// Sets whether the message carries forwardable media.
    pub fn with_media(mut self, has_media: bool) -> InboundMessage {
        self.has_media = has_media;
        self
    }

    /// Sets the routed agent.
    pub fn with_agent(mut self, agent_id: impl Into<String>) -> InboundMessage {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// The chat id, with 0 (imsg's "unknown chat") read as absent.
    pub(crate) fn known_chat_id(&self) -> Option<i64> {
        self.chat_id.filter(|id| *id != 0)
    }

    /// The chat guid, trimmed, blank read as absent.
    pub(crate) fn chat_guid(&self) -> Option<&str> {
        non_blank(self.chat_guid.as_deref())
    }

    /// The chat identifier, trimmed, blank read as absent.
    pub(crate) fn chat_identifier(&self) -> Option<&str> {
        non_blank(self.chat_identifier.as_deref())
    }

    /// The conversation this message belongs to.
    pub fn chat_key(&self) -> ChatKey {
        if let Some(id) = self.known_chat_id() {
            ChatKey::ChatId(id)
        } else if let Some(guid) = self.chat_guid() {
            ChatKey::ChatGuid(guid.to_owned())
        } else if let Some(ident) = self.chat_identifier() {
            ChatKey::ChatIdentifier(ident.to_owned())
        } else {
            ChatKey::Sender(self.sender.trim().to_owned())
        }
    }

    /// The service the message came over: the given one, else the chat guid's prefix.
    pub(crate) fn effective_service(&self) -> Option<Service> {
        match self.service {
            Some(Service::Auto) | None => self.chat_guid().and_then(service_from_chat_guid),
            known => known,
        }
    }
}

/// A blank-is-absent view of an optional string, trimmed.
fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// The service named by a chat guid's prefix (`iMessage;-;…`, `SMS;+;…`).
///
/// RCS chats count as SMS: they arrive over the carrier, and an `imessage:`
/// allow entry should not admit them.
pub(crate) fn service_from_chat_guid(guid: &str) -> Option<Service> {
    let prefix = guid.split(';').next()?;
    if prefix.eq_ignore_ascii_case("imessage") {
        Some(Service::Imessage)
    } else if prefix.eq_ignore_ascii_case("sms") || prefix.eq_ignore_ascii_case("rcs") {
        Some(Service::Sms)
    } else {
        None
    }
}

/// The conversation a message belongs to, for echo matching and loop limiting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChatKey {
    /// A chat known by its row id.
    ChatId(i64),
    /// A chat known only by its guid.
    ChatGuid(String),
    /// A chat known only by its identifier.
    ChatIdentifier(String),
    /// No chat facts at all: the sender stands for the conversation.
    Sender(String),
}

impl fmt::Display for ChatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChatId(id) => write!(f, "chat_id:{id}"),
            Self::ChatGuid(guid) => write!(f, "chat_guid:{guid}"),
            Self::ChatIdentifier(ident) => write!(f, "chat_identifier:{ident}"),
            Self::Sender(sender) => write!(f, "sender:{sender}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_comes_from_the_chat_guid_prefix() {
        let cases = [
            ("iMessage;-;+15551234567", Some(Service::Imessage)),
            ("SMS;-;+15551234567", Some(Service::Sms)),
            ("RCS;-;+15551234567", Some(Service::Sms)),
            ("any;-;+15551234567", None),
            ("", None),
        ];
        for (guid, expected) in cases {
            assert_eq!(service_from_chat_guid(guid), expected, "{guid}");
        }
    }

    #[test]
    fn chat_key_prefers_the_chat_id_and_ignores_zero() {
        let m = InboundMessage::new("+1555", "hi")
            .with_chat_id(0)
            .with_chat_guid(" g ");
        assert_eq!(m.chat_key(), ChatKey::ChatGuid("g".into()));
        let m = InboundMessage::new(" +1555 ", "hi");
        assert_eq!(m.chat_key(), ChatKey::Sender("+1555".into()));
        assert_eq!(
            InboundMessage::new("a", "b")
                .with_chat_id(7)
                .chat_key()
                .to_string(),
            "chat_id:7"
        );
    }
}
