//! Wire types: the JSON-RPC envelope and the params and results of every imsg 0.9.0 method.
//!
//! Key names follow the code of imsg 0.9.0 (spec section 7), not its docs: `original_path` and
//! `total_bytes`, for example. No struct denies unknown fields, so a newer imsg that adds keys
//! still decodes. Optional keys are `Option` and are left out when serialising, so a value that
//! was decoded serialises back to the same object.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The `jsonrpc` member: only `"2.0"` exists, so any other version fails to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Version {
    /// JSON-RPC 2.0.
    #[serde(rename = "2.0")]
    V2,
}

/// An outgoing request line.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a, P: Serialize> {
    pub(crate) jsonrpc: Version,
    pub(crate) id: u64,
    pub(crate) method: &'a str,
    pub(crate) params: &'a P,
}

/// A JSON-RPC error object as imsg writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ErrorObject {
    pub(crate) code: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<Value>,
}

impl ErrorObject {
    /// Reads the `error` member of an answer; `None` when it is `null`.
    ///
    /// imsg always writes `{code, message, data}`. Anything else (no `code`, a `code` as text,
    /// a bare string) still becomes an error for the request, as `-32603` when no integer code
    /// can be read, so a caller never waits for its timeout on an answer that did arrive.
    pub(crate) fn from_raw(raw: &RawValue) -> Option<ErrorObject> {
        let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        match value {
            Value::Null => None,
            Value::Object(mut map) => {
                let code = map
                    .get("code")
                    .and_then(|c| c.as_i64().or_else(|| c.as_str()?.trim().parse().ok()))
                    .unwrap_or(crate::error::INTERNAL_ERROR);
                let message = match map.remove("message") {
                    Some(Value::String(text)) => text,
                    _ => String::new(),
                };
                let data = map.remove("data").filter(|d| !d.is_null());
                Some(ErrorObject {
                    code,
                    message,
                    data,
                })
            }
            other => Some(ErrorObject {
                code: crate::error::INTERNAL_ERROR,
                message: "malformed error object".to_owned(),
                data: Some(other),
            }),
        }
    }
}

/// Any incoming line, before it is known to be a response or a notification.
///
/// The payload members stay raw so a notification's params are parsed once, straight into
/// their typed struct.
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming<'a> {
    #[serde(default, deserialize_with = "nullable")]
    #[expect(
        dead_code,
        reason = "parsed only so that a wrong version rejects the line"
    )]
    pub(crate) jsonrpc: Option<Version>,
    #[serde(default, borrow)]
    pub(crate) id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) method: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) result: Option<&'a RawValue>,
    /// Kept raw and read leniently by [`ErrorObject::from_raw`]: an answer that names its id must
    /// reach its caller even when the error object is not the shape imsg writes.
    #[serde(default, borrow)]
    pub(crate) error: Option<&'a RawValue>,
}

/// A notification from imsg, delivered in arrival order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notification {
    /// A `message` notification: one new row on a subscription.
    Message(Box<MessageEvent>),
    /// An `error` notification: the subscription's stream failed and is dead.
    Error(StreamError),
    /// A notification method this crate does not know (for example from a newer imsg).
    Other {
        /// The method name.
        method: String,
        /// The raw params.
        params: Value,
    },
    /// A known notification whose params did not match the expected shape.
    ///
    /// It is still delivered, never dropped, so the consumer can log or repair it.
    Malformed {
        /// The method name.
        method: String,
        /// The raw params.
        params: Value,
        /// Why decoding failed.
        error: String,
    },
}

/// The params of a `message` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// The subscription id; it may be one whose `watch.subscribe` answer has not arrived yet.
    pub subscription: i64,
    /// The message row.
    pub message: Message,
}

/// The params of an `error` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamError {
    /// The subscription that failed.
    pub subscription: i64,
    /// The failure.
    pub error: StreamErrorDetail,
}

/// The `error` member of an `error` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamErrorDetail {
    /// The description, for example `database is locked (code: 5)`.
    #[serde(default, deserialize_with = "nullable")]
    pub message: String,
}

/// Params of `chats.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatsListParams {
    /// How many chats to return; imsg defaults to 20 and clamps to at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// Result of `chats.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatsList {
    /// Chats, newest activity first.
    #[serde(default, deserialize_with = "nullable")]
    pub chats: Vec<Chat>,
}

/// One chat (spec section 7.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// `chat.ROWID`.
    pub id: i64,
    /// `chat.chat_identifier`, possibly empty.
    #[serde(default, deserialize_with = "nullable")]
    pub identifier: String,
    /// `chat.guid`, possibly empty.
    #[serde(default, deserialize_with = "nullable")]
    pub guid: String,
    /// The display name, else the identifier.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `chat.service_name`, for example `iMessage` or `SMS`.
    #[serde(default, deserialize_with = "nullable")]
    pub service: String,
    /// The time of the newest message, ISO-8601 UTC with milliseconds.
    #[serde(default, deserialize_with = "nullable")]
    pub last_message_at: String,
    /// Participant handles, sorted.
    #[serde(default, deserialize_with = "nullable")]
    pub participants: Vec<String>,
    /// True when the guid or identifier contains `;+;`.
    #[serde(default, deserialize_with = "nullable")]
    pub is_group: bool,
    /// The Contacts name of a direct chat, macOS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
}

/// Params of `messages.history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryParams {
    /// The chat to read; required by imsg.
    pub chat_id: i64,
    /// How many messages; imsg defaults to 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Keep only messages from these senders (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<String>>,
    /// Inclusive lower bound, ISO-8601 with a zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Exclusive upper bound, ISO-8601 with a zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Fill in each message's `attachments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<bool>,
    /// Convert CAF and GIF attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_attachments: Option<bool>,
}

/// Result of `messages.history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Messages, newest first by date.
    #[serde(default, deserialize_with = "nullable")]
    pub messages: Vec<Message>,
}

/// Params of `watch.subscribe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscribeParams {
    /// Restrict to one chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// Exclusive cursor: absent or 0 is "from now", negative replays everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_rowid: Option<i64>,
    /// Keep only messages from these senders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<String>>,
    /// Inclusive lower date bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Exclusive upper date bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Fill in attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<bool>,
    /// Convert CAF and GIF attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_attachments: Option<bool>,
    /// Stream tapback rows and aggregate `reactions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_reactions: Option<bool>,
    /// Delay after a file event before polling; imsg defaults to 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce_ms: Option<u64>,
}

/// Result of `watch.subscribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The per-process subscription id, from 1.
    pub subscription: i64,
}

/// Params of `watch.unsubscribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeParams {
    /// The subscription to cancel.
    pub subscription: i64,
}

/// The `{"ok": true}` result of `watch.unsubscribe`, `typing` and `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkResult {
    /// Always true on success.
    #[serde(default, deserialize_with = "nullable")]
    pub ok: bool,
}

/// Where a `send`, `typing` or `read` goes: exactly one of these keys is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendTarget {
    /// A direct handle: phone, email or contact name.
    To(String),
    /// A chat by `chat.ROWID` (preferred).
    ChatId(i64),
    /// A chat by `chat_identifier`.
    ChatIdentifier(String),
    /// A chat by `guid`.
    ChatGuid(String),
}

/// The `service` of a `send`; imsg matches it case-sensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// iMessage, falling back as Messages decides.
    Auto,
    /// iMessage only.
    Imessage,
    /// SMS only.
    Sms,
}

/// The `transport` of a `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The bridge when ready, else AppleScript.
    Auto,
    /// The IMCore bridge only.
    Bridge,
    /// Messages.app automation only.
    Applescript,
}

/// Params of `send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendParams {
    /// The recipient or chat.
    #[serde(flatten)]
    pub target: SendTarget,
    /// The text; may be empty when `file` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A file path on the imsg host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// iMessage, SMS or auto.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// The delivery path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// ISO-3166 region for phone normalisation, default `US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl SendParams {
    /// A text send to a target with every option left at imsg's default.
    #[must_use]
    pub fn text(target: SendTarget, text: impl Into<String>) -> Self {
        Self {
            target,
            text: Some(text.into()),
            file: None,
            service: None,
            transport: None,
            region: None,
        }
    }
}

/// Result of `send`.
///
/// Every member is read leniently: a successful send must never turn into a decode error (a
/// caller might then retry it and deliver it twice), so a value of an unexpected type is
/// treated as absent rather than rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResult {
    /// Always true on success.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub ok: bool,
    /// `applescript` or `bridge`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string"
    )]
    pub transport: Option<String>,
    /// The ROWID of the sent row, when imsg observed it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::int"
    )]
    pub id: Option<i64>,
    /// The guid of the sent row, when known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string"
    )]
    pub guid: Option<String>,
    /// The message id newer imsg versions add (equal to the guid).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::string"
    )]
    pub message_id: Option<String>,
}

impl SendResult {
    /// The best reference to the sent message, by the precedence of spec section 10.6:
    /// `message_id`, then `guid`, then the numeric `id`; `None` when imsg returned none.
    #[must_use]
    pub fn message_ref(&self) -> Option<String> {
        self.message_id
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| self.guid.clone().filter(|s| !s.is_empty()))
            .or_else(|| self.id.map(|id| id.to_string()))
    }
}

/// Reads an explicit `null` like an absent key: the type's default.
///
/// imsg 0.9.0 leaves optional strings out rather than writing `null`, but the newest openclaw
/// client accepts `null` for every message field, and a row must not be lost over it.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserialisers that read a value of the wrong type as absent instead of failing.
mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// A string, or a number turned into its decimal text.
    pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// An integer, or a string holding one.
    pub(super) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// A bool, or `"true"`.
    pub(super) fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::String(s) => s == "true",
            _ => false,
        })
    }
}

/// Params of `typing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypingParams {
    /// The recipient or chat.
    #[serde(flatten)]
    pub target: SendTarget,
    /// True to start the indicator, false to stop it.
    pub typing: bool,
    /// Service for a direct target, lowercased by imsg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Params of `read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadParams {
    /// The chat to mark read.
    #[serde(flatten)]
    pub target: SendTarget,
}

/// One message (spec section 7.2): a history entry or the payload of a `message` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `message.ROWID`, the watch cursor.
    pub id: i64,
    /// The joined chat; 0 for a row with no chat join yet.
    #[serde(default, deserialize_with = "nullable")]
    pub chat_id: i64,
    /// `message.guid`, possibly empty.
    #[serde(default, deserialize_with = "nullable")]
    pub guid: String,
    /// The guid this message replies to (non-tapback associated guid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_guid: Option<String>,
    /// The inline-thread originator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_originator_guid: Option<String>,
    /// The parent's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_text: Option<String>,
    /// The parent's sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_sender: Option<String>,
    /// The sender handle, or `destination_caller_id` as a fallback, possibly empty.
    #[serde(default, deserialize_with = "nullable")]
    pub sender: String,
    /// The Contacts name of the sender, macOS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// True for rows sent from this account (on any device).
    #[serde(default, deserialize_with = "nullable")]
    pub is_from_me: bool,
    /// The text, possibly decoded from `attributedBody`.
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    /// ISO-8601 UTC with milliseconds.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
    /// Attachments; empty unless requested.
    #[serde(default, deserialize_with = "nullable")]
    pub attachments: Vec<Attachment>,
    /// Aggregated tapbacks.
    #[serde(default, deserialize_with = "nullable")]
    pub reactions: Vec<Reaction>,
    /// The local handle the message was addressed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_caller_id: Option<String>,
    /// `chat.chat_identifier`, or empty.
    #[serde(default, deserialize_with = "nullable")]
    pub chat_identifier: String,
    /// `chat.guid`, or empty.
    #[serde(default, deserialize_with = "nullable")]
    pub chat_guid: String,
    /// The chat's display name, else its identifier.
    #[serde(default, deserialize_with = "nullable")]
    pub chat_name: String,
    /// The chat's participants.
    #[serde(default, deserialize_with = "nullable")]
    pub participants: Vec<String>,
    /// True for group chats (`;+;`).
    #[serde(default, deserialize_with = "nullable")]
    pub is_group: bool,
    /// True on tapback rows (watch with `include_reactions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_reaction: Option<bool>,
    /// `love`, `like`, ..., `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction_type: Option<String>,
    /// The tapback's emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction_emoji: Option<String>,
    /// True for an added tapback, false for a removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_reaction_add: Option<bool>,
    /// The guid of the message the tapback is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reacted_to_guid: Option<String>,
}

/// One attachment (spec section 7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Raw `attachment.filename`, often starting with `~`.
    #[serde(default, deserialize_with = "nullable")]
    pub filename: String,
    /// The original file name.
    #[serde(default, deserialize_with = "nullable")]
    pub transfer_name: String,
    /// The uniform type identifier, for example `public.jpeg`.
    #[serde(default, deserialize_with = "nullable")]
    pub uti: String,
    /// The MIME type, possibly empty.
    #[serde(default, deserialize_with = "nullable")]
    pub mime_type: String,
    /// The size in bytes.
    #[serde(default, deserialize_with = "nullable")]
    pub total_bytes: i64,
    /// True for stickers.
    #[serde(default, deserialize_with = "nullable")]
    pub is_sticker: bool,
    /// `filename` with `~` expanded on the imsg host.
    #[serde(default, deserialize_with = "nullable")]
    pub original_path: String,
    /// True when the file is absent on the imsg host.
    #[serde(default, deserialize_with = "nullable")]
    pub missing: bool,
    /// The converted file, when conversion was requested and worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_path: Option<String>,
    /// The converted file's MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_mime_type: Option<String>,
}

/// One aggregated tapback (spec section 7.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// ROWID of the latest tapback row for this sender and kind (0 if imsg left it out: an
    /// odd aggregated tapback must not cost the message that carries it).
    #[serde(default, deserialize_with = "nullable")]
    pub id: i64,
    /// `love`, `like`, `dislike`, `laugh`, `emphasis`, `question` or `custom`.
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    /// The emoji.
    #[serde(default, deserialize_with = "nullable")]
    pub emoji: String,
    /// The reacting handle, possibly empty.
    #[serde(default, deserialize_with = "nullable")]
    pub sender: String,
    /// The Contacts name of the sender, macOS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// True when this account reacted.
    #[serde(default, deserialize_with = "nullable")]
    pub is_from_me: bool,
    /// When the tapback was made.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Expands the spec's `CHAT1` abbreviation into the message object.
    fn with_chat1(mut v: Value) -> Value {
        let extra = json!({"chat_identifier":"chat123","chat_guid":"iMessage;+;chat123",
            "chat_name":"Group Chat","participants":["+15551230001","alice@example.com"],
            "is_group":true});
        if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), extra) {
            map.extend(extra);
        }
        v
    }

    #[test]
    fn request_params_on_the_wire() {
        let cases: Vec<(&str, Value)> = vec![
            (
                "chats.list",
                serde_json::to_value(ChatsListParams { limit: Some(1) }).unwrap(),
            ),
            (
                "messages.history",
                serde_json::to_value(HistoryParams {
                    chat_id: 2,
                    limit: Some(2),
                    attachments: Some(true),
                    ..HistoryParams::default()
                })
                .unwrap(),
            ),
            (
                "watch.subscribe",
                serde_json::to_value(SubscribeParams {
                    chat_id: Some(1),
                    since_rowid: Some(11),
                    include_reactions: Some(true),
                    ..SubscribeParams::default()
                })
                .unwrap(),
            ),
            (
                "send chat",
                serde_json::to_value(SendParams {
                    service: Some(Service::Auto),
                    region: Some("US".into()),
                    ..SendParams::text(SendTarget::ChatId(2), "ok!")
                })
                .unwrap(),
            ),
            (
                "send direct file",
                serde_json::to_value(SendParams {
                    target: SendTarget::To("(415) 555-1212".into()),
                    text: None,
                    file: Some("/tmp/a.png".into()),
                    service: None,
                    transport: Some(Transport::Applescript),
                    region: None,
                })
                .unwrap(),
            ),
            (
                "typing",
                serde_json::to_value(TypingParams {
                    target: SendTarget::ChatGuid("iMessage;-;+15551230001".into()),
                    typing: true,
                    service: None,
                })
                .unwrap(),
            ),
            (
                "read",
                serde_json::to_value(ReadParams {
                    target: SendTarget::ChatIdentifier("chat123".into()),
                })
                .unwrap(),
            ),
        ];
        insta::assert_json_snapshot!(cases);
    }

    #[test]
    fn request_envelope_exact_text() {
        let line = serde_json::to_string(&Request {
            jsonrpc: Version::V2,
            id: 7,
            method: "chats.list",
            params: &ChatsListParams { limit: Some(1) },
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"jsonrpc":"2.0","id":7,"method":"chats.list","params":{"limit":1}}"#
        );
    }

    #[test]
    fn spec_examples_decode_and_round_trip() {
        // Ex 12 (row 12 with an aggregated reaction), Ex 13 (attachment, destination_caller_id),
        // Ex 18 (tapback row) and a message with an unknown future key.
        let cases = vec![
            with_chat1(
                json!({"id":12,"chat_id":1,"guid":"G-12","sender":"alice@example.com",
                "is_from_me":false,"text":"group hello","created_at":"2025-05-03T21:22:00.000Z",
                "attachments":[],"reactions":[{"id":13,"type":"like","emoji":"👍",
                "sender":"+15551230001","is_from_me":false,
                "created_at":"2025-05-03T21:23:00.000Z"}]}),
            ),
            json!({"id":15,"chat_id":2,"guid":"G-15","sender":"+15551230001","is_from_me":false,
                "text":"from body","created_at":"2025-05-03T21:25:00.000Z","attachments":[{
                "filename":"~/Library/Messages/Attachments/aa/10/G-15/photo.jpg",
                "transfer_name":"photo.jpg","uti":"public.jpeg","mime_type":"image/jpeg",
                "total_bytes":12345,"is_sticker":false,
                "original_path":"/home/u/Library/Messages/Attachments/aa/10/G-15/photo.jpg",
                "missing":true}],"reactions":[],"destination_caller_id":"me@icloud.com",
                "chat_identifier":"+15551230001","chat_guid":"iMessage;-;+15551230001",
                "chat_name":"+15551230001","participants":["+15551230001"],"is_group":false}),
            with_chat1(
                json!({"id":13,"chat_id":1,"guid":"G-13","sender":"+15551230001",
                "is_from_me":false,"text":"Liked “group hello”",
                "created_at":"2025-05-03T21:23:00.000Z","attachments":[],"reactions":[],
                "is_reaction":true,"reaction_type":"like","reaction_emoji":"👍",
                "is_reaction_add":true,"reacted_to_guid":"G-12"}),
            ),
        ];
        for case in cases {
            let msg: Message = serde_json::from_value(case.clone()).unwrap();
            assert_eq!(serde_json::to_value(&msg).unwrap(), case);
        }
        // A key from a newer imsg is tolerated, not rejected.
        let future = with_chat1(json!({"id":20,"chat_id":1,"text":"x","poll":{"a":1}}));
        let msg: Message = serde_json::from_value(future).unwrap();
        assert_eq!((msg.id, msg.chat_identifier.as_str()), (20, "chat123"));
    }

    #[test]
    fn real_payload_variants_decode_as_messages() {
        // Escaped slashes, raw U+2028, keys left out, explicit nulls (which the newest openclaw
        // validator accepts for every field) and unknown keys: none may turn a row into a
        // `Malformed` notification, which a consumer cannot route.
        let line = concat!(
            r#"{"jsonrpc":"2.0","method":"message","params":{"subscription":1,"message":{"id":16,"#,
            r#""chat_id":null,"guid":null,"sender":null,"is_from_me":null,"text":"a"#,
            "\u{2028}",
            r#"b \/ c","created_at":null,"attachments":null,"#,
            r#""chat_identifier":null,"chat_guid":"iMessage;-;+1555","chat_name":null,"#,
            r#""participants":null,"is_group":null,"reply_to_guid":null,"date_read":null,"#,
            r#""reactions":[{"id":null,"type":"like","emoji":null}],"#,
            r#""poll":{"a":[1]}}}}"#
        );
        let Some(crate::Notification::Message(event)) =
            crate::client::decode_notification_line(line.as_bytes())
        else {
            panic!("not decoded as a message: {line}");
        };
        let m = &event.message;
        assert_eq!(
            (m.id, m.chat_id, m.text.as_str()),
            (16, 0, "a\u{2028}b / c")
        );
        assert_eq!(
            (m.sender.as_str(), m.is_from_me, m.is_group),
            ("", false, false)
        );
        assert!(m.attachments.is_empty() && m.participants.is_empty() && m.reply_to_guid.is_none());
        // One odd aggregated tapback must not cost the whole row.
        assert_eq!(m.reactions.len(), 1);
        assert_eq!(
            (m.reactions[0].id, m.reactions[0].kind.as_str()),
            (0, "like")
        );

        let attachment: Attachment = serde_json::from_str(
            r#"{"filename":null,"transfer_name":"a.jpg","uti":null,"mime_type":null,
            "total_bytes":null,"is_sticker":null,"original_path":"\/Users\/me\/a.jpg","missing":null}"#,
        )
        .unwrap();
        assert_eq!(attachment.original_path, "/Users/me/a.jpg");
        assert_eq!((attachment.total_bytes, attachment.missing), (0, false));
        let reaction: Reaction = serde_json::from_str(
            r#"{"id":13,"type":null,"emoji":null,"sender":null,"is_from_me":null,"created_at":null}"#,
        )
        .unwrap();
        assert_eq!(reaction.id, 13);
        let chat: Chat = serde_json::from_str(
            r#"{"id":2,"identifier":null,"guid":null,"name":null,"service":null,
            "last_message_at":null,"participants":null,"is_group":null}"#,
        )
        .unwrap();
        assert_eq!(chat.id, 2);
    }

    #[test]
    fn chat_list_example_decodes() {
        let v = json!({"chats":[{"id":2,"identifier":"+15551230001",
            "guid":"iMessage;-;+15551230001","name":"+15551230001","service":"iMessage",
            "last_message_at":"2025-05-03T21:25:00.000Z","participants":["+15551230001"],
            "is_group":false}]});
        let list: ChatsList = serde_json::from_value(v.clone()).unwrap();
        insta::assert_debug_snapshot!(list);
        assert_eq!(serde_json::to_value(&list).unwrap(), v);
    }

    #[test]
    fn send_results_decode_leniently() {
        let cases = [
            (
                json!({"ok":true,"transport":"applescript","id":19,"guid":"4F1C"}),
                Some("4F1C"),
            ),
            (
                json!({"ok":true,"transport":"applescript","id":19}),
                Some("19"),
            ),
            (json!({"ok":true,"transport":"applescript"}), None),
            (json!({"ok":true,"transport":"bridge","guid":""}), None),
            (
                json!({"ok":true,"id":"19","guid":"G","message_id":"M","chat_guid":"x"}),
                Some("M"),
            ),
            (json!({"ok":"true","id":{"odd":1},"guid":7}), Some("7")),
        ];
        for (value, want) in cases {
            let result: SendResult = serde_json::from_value(value.clone()).unwrap();
            assert!(result.ok, "{value}");
            assert_eq!(result.message_ref().as_deref(), want, "{value}");
        }
    }

    #[test]
    fn wrong_version_is_rejected() {
        let bad = br#"{"jsonrpc":"1.0","id":1,"result":{}}"#;
        assert!(serde_json::from_slice::<Incoming<'_>>(bad).is_err());
        let missing = br#"{"id":1,"result":{}}"#;
        assert!(serde_json::from_slice::<Incoming<'_>>(missing).is_ok());
    }
}
