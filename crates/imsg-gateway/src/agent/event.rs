//! The agent's view of an inbound event: a plain, serializable copy of what the channel hands over.
//!
//! This is also the stable JSON the `exec` backend writes to its command's stdin (documented in
//! `docs/agents.md`). Fields are only ever added to it, never renamed or removed; `version` changes
//! only if that promise has to be broken.

use imsg_channel::{InboundEnvelope, InboundEvent, ReactionEvent};
use imsg_policy::ChatType;
use serde::{Deserialize, Serialize};

/// The version of the JSON shape, written as `"version"` in every event.
pub const EVENT_VERSION: u32 = 1;

/// One event for the agent: a message or a reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AgentEvent {
    /// An admitted message.
    Message(MessageEvent),
    /// A tapback added to or removed from a message; never text.
    Reaction(ReactionNotice),
}

impl AgentEvent {
    /// The copy of a channel event, or `None` for a kind of event this version does not know.
    pub fn from_inbound(event: &InboundEvent) -> Option<AgentEvent> {
        match event {
            InboundEvent::Message(envelope) => {
                Some(AgentEvent::Message(MessageEvent::from(envelope)))
            }
            InboundEvent::Reaction(reaction) => {
                Some(AgentEvent::Reaction(ReactionNotice::from(reaction)))
            }
            _ => None,
        }
    }

    /// The session key of the conversation.
    pub fn session_key(&self) -> &str {
        match self {
            AgentEvent::Message(m) => &m.session_key,
            AgentEvent::Reaction(r) => &r.session_key,
        }
    }

    /// The account that received the event.
    pub fn account_id(&self) -> &str {
        match self {
            AgentEvent::Message(m) => &m.account_id,
            AgentEvent::Reaction(r) => &r.account_id,
        }
    }
}

/// Direct or group, as written in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    /// A one-to-one conversation.
    Direct,
    /// A group conversation.
    Group,
}

impl ChatKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
        }
    }
}

impl From<ChatType> for ChatKind {
    fn from(value: ChatType) -> Self {
        match value {
            ChatType::Direct => ChatKind::Direct,
            ChatType::Group => ChatKind::Group,
        }
    }
}

/// Who sent a message or a reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderInfo {
    /// The normalized handle (E.164 phone or lowercased email).
    pub id: String,
    /// The handle exactly as imsg reported it.
    pub raw: String,
    /// A label for prompts: the contact name when known, else the id.
    pub label: String,
}

impl From<&imsg_channel::Sender> for SenderInfo {
    fn from(s: &imsg_channel::Sender) -> Self {
        SenderInfo {
            id: s.id.clone(),
            raw: s.raw.clone(),
            label: s.label.clone(),
        }
    }
}

/// Which conversation the event belongs to (the parts of the reply route an agent may use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatInfo {
    /// Direct or group.
    #[serde(rename = "type")]
    pub kind: ChatKind,
    /// The chat row id, when known (always for groups).
    pub id: Option<i64>,
    /// The chat guid, when known.
    pub guid: Option<String>,
    /// The service the event came over (`imessage`, `sms` or `auto`).
    pub service: String,
}

impl From<&imsg_channel::ReplyRoute> for ChatInfo {
    fn from(route: &imsg_channel::ReplyRoute) -> Self {
        ChatInfo {
            kind: route.chat_type.into(),
            id: route.chat_id,
            guid: route.chat_guid.clone(),
            service: route.service.as_str().to_owned(),
        }
    }
}

/// An admitted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    /// Always [`EVENT_VERSION`].
    pub version: u32,
    /// The account that received it.
    pub account_id: String,
    /// The agent it is routed to.
    pub agent_id: String,
    /// The session key, lowercased.
    pub session_key: String,
    /// The conversation.
    pub chat: ChatInfo,
    /// Who sent it.
    pub sender: SenderInfo,
    /// The text (an attachment-only message has a placeholder such as `<media:image>`).
    pub text: String,
    /// The chat.db rowid.
    pub message_id: i64,
    /// The message guid.
    pub guid: Option<String>,
    /// The group's name, for groups.
    pub group_subject: Option<String>,
    /// The group's participants, for groups (empty otherwise).
    pub group_members: Vec<String>,
    /// The message this one replies to inline.
    pub reply_to: Option<ReplyToInfo>,
    /// Files staged for the agent.
    pub attachments: Vec<AttachmentInfo>,
    /// Earlier messages the agent did not see, oldest first.
    pub history: Vec<HistoryInfo>,
    /// Milliseconds since the Unix epoch, when known.
    pub timestamp: Option<i64>,
    /// Whether the bot was mentioned (always true in a DM).
    pub was_mentioned: bool,
    /// Whether the sender may run control commands.
    pub command_authorized: bool,
}

impl From<&InboundEnvelope> for MessageEvent {
    fn from(e: &InboundEnvelope) -> Self {
        MessageEvent {
            version: EVENT_VERSION,
            account_id: e.account_id.clone(),
            agent_id: e.agent_id.clone(),
            session_key: e.session_key.clone(),
            chat: ChatInfo {
                // The envelope's own chat type wins over the route's: they agree, but the
                // envelope is the policy's verdict.
                kind: e.chat_type.into(),
                ..ChatInfo::from(&e.route)
            },
            sender: SenderInfo::from(&e.sender),
            text: e.text.clone(),
            message_id: e.message_id,
            guid: e.guid.clone(),
            group_subject: e.group_subject.clone(),
            group_members: e.group_members.clone(),
            reply_to: e.reply_to.as_ref().map(|r| ReplyToInfo {
                id: r.id.clone(),
                body: r.body.clone(),
                sender: r.sender.clone(),
            }),
            attachments: e
                .attachments
                .iter()
                .map(|a| AttachmentInfo {
                    path: a.path.display().to_string(),
                    mime_type: a.mime_type.clone(),
                    kind: a.kind.as_str().to_owned(),
                    name: a.name.clone(),
                    size: a.size,
                })
                .collect(),
            history: e
                .history
                .iter()
                .map(|h| HistoryInfo {
                    sender: h.sender.clone(),
                    body: h.body.clone(),
                    timestamp: h.timestamp.map(|t| t.as_millis()),
                    message_id: h.message_id,
                })
                .collect(),
            timestamp: e.timestamp.map(|t| t.as_millis()),
            was_mentioned: e.was_mentioned,
            command_authorized: e.command_authorized,
        }
    }
}

/// The message an inline reply refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyToInfo {
    /// Its id (guid or rowid as text).
    pub id: Option<String>,
    /// Its text.
    pub body: Option<String>,
    /// Its sender.
    pub sender: Option<String>,
}

/// A file staged for the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentInfo {
    /// Where the staged copy is (removed after the handler returns).
    pub path: String,
    /// The MIME type.
    pub mime_type: String,
    /// `image`, `audio`, `video`, `document` or `unknown`.
    pub kind: String,
    /// The sender's file name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// An earlier message given as context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryInfo {
    /// The sender's label.
    pub sender: String,
    /// The text.
    pub body: String,
    /// Milliseconds since the Unix epoch, when known.
    pub timestamp: Option<i64>,
    /// The chat.db rowid.
    pub message_id: i64,
}

/// A tapback on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionNotice {
    /// Always [`EVENT_VERSION`].
    pub version: u32,
    /// The account that received it.
    pub account_id: String,
    /// The session key of the conversation.
    pub session_key: String,
    /// The conversation.
    pub chat: ChatInfo,
    /// Who reacted.
    pub sender: SenderInfo,
    /// `love`, `like`, `dislike`, `laugh`, `emphasis`, `question` or `custom`.
    pub reaction: String,
    /// The emoji of a custom reaction.
    pub emoji: Option<String>,
    /// True when added, false when removed.
    pub added: bool,
    /// The guid of the message reacted to.
    pub target_guid: Option<String>,
    /// Whether the message reacted to was one of the bot's.
    pub on_own_message: bool,
}

impl From<&ReactionEvent> for ReactionNotice {
    fn from(r: &ReactionEvent) -> Self {
        ReactionNotice {
            version: EVENT_VERSION,
            account_id: r.account_id.clone(),
            session_key: r.session_key.clone(),
            chat: ChatInfo::from(&r.route),
            sender: SenderInfo::from(&r.sender),
            reaction: r.kind.clone(),
            emoji: r.emoji.clone(),
            added: r.added,
            target_guid: r.target_guid.clone(),
            on_own_message: r.on_own_message,
        }
    }
}
