//! The agent side of the channel: what a handler receives and what it answers.

use std::path::PathBuf;

use async_trait::async_trait;
use imsg_policy::{ChatType, UnixMillis};
use imsg_target::Service;

/// The agent: receives one event and answers with zero or more replies.
///
/// An embedding gateway implements this trait and nothing else to get a working bot. The channel
/// calls it for one event at a time per conversation (events of different chats run concurrently),
/// and sends the replies, in order, to the conversation the event came from.
#[async_trait]
pub trait MessageHandler: Send + Sync {
    /// Handles `event` and returns the replies to send (empty: send nothing).
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] is logged with the account and chat; its text never reaches the contact.
    async fn handle(&self, event: InboundEvent) -> Result<Vec<Reply>, HandlerError>;
}

/// Why a handler could not answer. Logged, never sent to the contact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    message: String,
}

impl HandlerError {
    /// A handler error with `message` (for the owner's log only).
    pub fn new(message: impl Into<String>) -> HandlerError {
        HandlerError {
            message: message.into(),
        }
    }
}

/// What the channel hands to the agent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InboundEvent {
    /// An admitted message.
    Message(InboundEnvelope),
    /// A tapback on a message, per `reactionNotifications`; never delivered as text.
    Reaction(ReactionEvent),
}

impl InboundEvent {
    /// The route replies to this event take.
    pub fn route(&self) -> &ReplyRoute {
        match self {
            InboundEvent::Message(envelope) => &envelope.route,
            InboundEvent::Reaction(reaction) => &reaction.route,
        }
    }

    /// The session key of the conversation.
    pub fn session_key(&self) -> &str {
        match self {
            InboundEvent::Message(envelope) => &envelope.session_key,
            InboundEvent::Reaction(reaction) => &reaction.session_key,
        }
    }
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sender {
    /// The normalized handle (E.164 phone or lowercased email), the id policies match on.
    pub id: String,
    /// The handle exactly as imsg reported it.
    pub raw: String,
    /// A label for prompts: the contact name when imsg knows one, else the id.
    pub label: String,
}

/// One admitted message, with everything the agent needs to answer it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InboundEnvelope {
    /// The account that received it.
    pub account_id: String,
    /// The agent it is routed to.
    pub agent_id: String,
    /// The session key (`agent:<agent>:imessage:group:<chat_id>`, or the DM scope's key), lowercased.
    pub session_key: String,
    /// Direct or group.
    pub chat_type: ChatType,
    /// Who sent it.
    pub sender: Sender,
    /// The message text as sent (CRLF folded to LF). For an attachment-only message, a placeholder
    /// such as `<media:image>` that the agent sees and no contact ever does.
    pub text: String,
    /// The message rowid in chat.db.
    pub message_id: i64,
    /// The message guid.
    pub guid: Option<String>,
    /// The group's display name (`chat_name`), for groups.
    pub group_subject: Option<String>,
    /// The group's participants, for groups.
    pub group_members: Vec<String>,
    /// The message this one replies to, when it is an inline reply.
    pub reply_to: Option<ReplyTo>,
    /// Attachments staged for the agent (empty unless `includeAttachments` is on).
    pub attachments: Vec<Attachment>,
    /// Earlier messages of the conversation the agent did not see (unmentioned group messages, or
    /// DM history), oldest first.
    pub history: Vec<HistoryEntry>,
    /// When the message was sent.
    pub timestamp: Option<UnixMillis>,
    /// Whether the bot was mentioned (always true in a DM).
    pub was_mentioned: bool,
    /// Whether the sender may run control commands.
    pub command_authorized: bool,
    /// The service the message came over.
    pub service: Service,
    /// Where replies go.
    pub route: ReplyRoute,
}

/// The message an inline reply refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyTo {
    /// Its id (guid or rowid as text).
    pub id: Option<String>,
    /// Its text.
    pub body: Option<String>,
    /// Its sender.
    pub sender: Option<String>,
}

/// What kind of file an attachment is, from its MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttachmentKind {
    /// `image/*`.
    Image,
    /// `audio/*`.
    Audio,
    /// `video/*`.
    Video,
    /// PDFs, text and office documents.
    Document,
    /// Anything else.
    Unknown,
}

impl AttachmentKind {
    /// The kind of a MIME type.
    pub fn from_mime(mime: &str) -> AttachmentKind {
        let mime = mime.trim().to_ascii_lowercase();
        match mime.split('/').next().unwrap_or_default() {
            "image" => AttachmentKind::Image,
            "audio" => AttachmentKind::Audio,
            "video" => AttachmentKind::Video,
            "text" => AttachmentKind::Document,
            "application" if mime != "application/octet-stream" => AttachmentKind::Document,
            _ => AttachmentKind::Unknown,
        }
    }

    /// The lowercase name, as in the `<media:<kind>>` placeholder.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::Audio => "audio",
            AttachmentKind::Video => "video",
            AttachmentKind::Document => "document",
            AttachmentKind::Unknown => "unknown",
        }
    }
}

/// A file that came with a message, staged where the agent may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attachment {
    /// The staged copy (random name, mode 0600), removed after the handler returns.
    pub path: PathBuf,
    /// The MIME type imsg reported.
    pub mime_type: String,
    /// The kind, from the MIME type.
    pub kind: AttachmentKind,
    /// The name the sender gave the file.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An earlier message given as context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The sender's label.
    pub sender: String,
    /// The text.
    pub body: String,
    /// When it was sent.
    pub timestamp: Option<UnixMillis>,
    /// Its rowid.
    pub message_id: i64,
}

/// A tapback added to or removed from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReactionEvent {
    /// The account that received it.
    pub account_id: String,
    /// The session key of the conversation.
    pub session_key: String,
    /// Who reacted.
    pub sender: Sender,
    /// The reaction kind as imsg names it (`love`, `like`, `dislike`, `laugh`, `emphasis`,
    /// `question`, or `custom`).
    pub kind: String,
    /// The emoji, for custom reactions.
    pub emoji: Option<String>,
    /// True when added, false when removed.
    pub added: bool,
    /// The guid of the message reacted to.
    pub target_guid: Option<String>,
    /// Whether the message reacted to was one of ours.
    pub on_own_message: bool,
    /// Where replies go.
    pub route: ReplyRoute,
}

/// Where replies to an event go: the chat it came from, over the service it came over.
///
/// The channel fills this in from the inbound chat guid and service; a handler passes it back
/// untouched (it is also the key for typing indicators and read receipts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReplyRoute {
    /// The chat row id, when imsg knew the chat.
    pub chat_id: Option<i64>,
    /// The chat guid (`iMessage;-;+1555…`, `SMS;-;+1555…`, `iMessage;+;chat…`).
    pub chat_guid: Option<String>,
    /// The normalized sender handle, for direct conversations.
    pub handle: Option<String>,
    /// Direct or group.
    pub chat_type: ChatType,
    /// The service to answer over.
    pub service: Service,
}

/// One reply from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Reply {
    /// The text (markdown is rendered to plain text, sanitized and chunked on the way out).
    pub text: String,
    /// An optional local file to send with it.
    pub file: Option<PathBuf>,
}

impl Reply {
    /// A text reply.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            file: None,
        }
    }

    /// Attaches a local file.
    pub fn with_file(mut self, file: impl Into<PathBuf>) -> Reply {
        self.file = Some(file.into());
        self
    }
}
