//! String-level helpers for the tool and CLI layer: handle and messaging-target
//! normalization, the "looks like a target" heuristics and chat-target formatting.

use crate::handle::Handle;
use crate::prefix::{has_any_prefix, js_trim, split_chat, split_service};
use crate::region::Region;
use crate::target::Target;

/// The hint shown to users who typed something that is not a target.
pub const TARGET_ID_HINT: &str = "<handle|chat_id:ID>";

/// Normalizes a handle or chat reference to its canonical text.
///
/// Service prefixes are stripped (repeatedly), chat prefixes are rewritten to
/// their canonical lowercase spelling with the value's case kept
/// (`CHAT:42` is `chat_id:42`), and anything else goes through
/// [`Handle::normalize`]. Returns `None` for blank input or input that names
/// nobody; unlike the anchor, this never produces a bare `+`.
pub fn normalize_handle(raw: &str, region: &Region) -> Option<String> {
    let mut text = js_trim(raw);
    while let Some((_, _, rest)) = split_service(text) {
        text = js_trim(rest);
    }
    if text.is_empty() {
        return None;
    }
    if let Some((kind, value)) = split_chat(text) {
        return Some(format!("{}{value}", kind.canonical()));
    }
    Handle::normalize(text, region).map(Handle::into_string)
}

/// Whether `s` is exactly 32 ASCII hex digits, the shape of a Messages chat identifier.
fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Normalizes a messaging target typed into the tool or CLI layer.
///
/// A service prefix is kept in its lowercase spelling in front of the
/// normalized handle (`sms:+1 (555) 222-3333` is `sms:+15552223333`) but
/// dropped in front of a chat target (`sms:chat_id:123` is `chat_id:123`).
/// A bare 32-hex-digit string is a chat identifier, lowercased, not a phone
/// number. Returns `None` for blank input or input that names nobody.
pub fn normalize_messaging_target(raw: &str, region: &Region) -> Option<String> {
    let trimmed = js_trim(raw);
    if trimmed.is_empty() {
        return None;
    }
    if let Some((prefix, _, rest)) = split_service(trimmed) {
        let normalized = normalize_handle(rest, region)?;
        if split_chat(&normalized).is_some() {
            return Some(normalized);
        }
        return Some(format!("{prefix}{normalized}"));
    }
    if is_hex32(trimmed) {
        return Some(format!("chat_identifier:{}", trimmed.to_ascii_lowercase()));
    }
    normalize_handle(trimmed, region)
}

/// Whether the text looks like something the user meant as a target id.
///
/// True for any service or chat prefix, anything containing `@`, an optional
/// `+` followed by at least three digits and nothing else, and a bare
/// 32-hex-digit chat identifier.
pub fn looks_like_target_id(raw: &str) -> bool {
    let trimmed = js_trim(raw);
    if trimmed.is_empty() {
        return false;
    }
    if has_any_prefix(trimmed) || trimmed.contains('@') || is_hex32(trimmed) {
        return true;
    }
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the text carries an explicit service or chat prefix; bare phone
/// numbers and emails are not explicit.
pub fn looks_like_explicit_target_id(raw: &str) -> bool {
    has_any_prefix(js_trim(raw))
}

/// Whether a target addresses one person or a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChatType {
    /// A handle target: a direct conversation with one person.
    Direct,
    /// A chat target (`chat_id:`, `chat_guid:`, `chat_identifier:`).
    Group,
}

/// Infers the chat type of a target text; `None` when it does not parse.
pub fn infer_chat_type(raw: &str) -> Option<ChatType> {
    let target: Target = raw.parse().ok()?;
    Some(if target.is_chat() {
        ChatType::Group
    } else {
        ChatType::Direct
    })
}

/// Formats a chat id as a target (`chat_id:42`); no id or id 0 gives an empty string.
pub fn format_chat_target(chat_id: Option<i64>) -> String {
    match chat_id {
        Some(id) if id != 0 => Target::ChatId(id).to_string(),
        _ => String::new(),
    }
}
