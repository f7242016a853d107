//! The prefix vocabularies of the target grammar and helpers to match them.

use crate::service::Service;

/// Prefixes that select a numeric chat id, in the anchor's order.
pub(crate) const CHAT_ID_PREFIXES: [&str; 3] = ["chat_id:", "chatid:", "chat:"];
/// Prefixes that select a chat GUID.
pub(crate) const CHAT_GUID_PREFIXES: [&str; 3] = ["chat_guid:", "chatguid:", "guid:"];
/// Prefixes that select a chat identifier.
pub(crate) const CHAT_IDENTIFIER_PREFIXES: [&str; 3] =
    ["chat_identifier:", "chatidentifier:", "chatident:"];
/// Service prefixes with the service each one selects.
pub(crate) const SERVICE_PREFIXES: [(&str, Service); 3] = [
    ("imessage:", Service::Imessage),
    ("sms:", Service::Sms),
    ("auto:", Service::Auto),
];

/// The kind of chat a chat prefix selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatPrefix {
    /// `chat_id:` and its aliases.
    Id,
    /// `chat_guid:` and its aliases.
    Guid,
    /// `chat_identifier:` and its aliases.
    Identifier,
}

impl ChatPrefix {
    /// The canonical spelling used when printing a chat target.
    pub(crate) fn canonical(self) -> &'static str {
        match self {
            Self::Id => "chat_id:",
            Self::Guid => "chat_guid:",
            Self::Identifier => "chat_identifier:",
        }
    }
}

/// A chat prefix followed by a value that names no chat.
///
/// Send targets ([`crate::ParseTargetError`]) and allowlist entries ([`crate::ParseAllowEntryError`]) share
/// the chat grammar, so they share this error and its messages (the anchor's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChatPrefixError {
    /// A chat id prefix followed by something that is not an integer.
    #[error("Invalid chat_id: {value}")]
    InvalidChatId {
        /// The text after the prefix, trimmed.
        value: String,
    },
    /// A chat GUID prefix followed by nothing.
    #[error("chat_guid is required")]
    MissingChatGuid,
    /// A chat identifier prefix followed by nothing.
    #[error("chat_identifier is required")]
    MissingChatIdentifier,
}

/// A parsed chat reference, before it becomes a [`crate::Target`] or an [`crate::AllowEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChatRef {
    /// `chat_id:<n>`.
    Id(i64),
    /// `chat_guid:<guid>`, case preserved.
    Guid(String),
    /// `chat_identifier:<ident>`, case preserved.
    Identifier(String),
}

/// Parses the (trimmed) text after a chat prefix of kind `kind`.
pub(crate) fn parse_chat_value(kind: ChatPrefix, value: &str) -> Result<ChatRef, ChatPrefixError> {
    match kind {
        ChatPrefix::Id => {
            parse_chat_id(value)
                .map(ChatRef::Id)
                .ok_or_else(|| ChatPrefixError::InvalidChatId {
                    value: value.to_owned(),
                })
        }
        ChatPrefix::Guid if value.is_empty() => Err(ChatPrefixError::MissingChatGuid),
        ChatPrefix::Guid => Ok(ChatRef::Guid(value.to_owned())),
        ChatPrefix::Identifier if value.is_empty() => Err(ChatPrefixError::MissingChatIdentifier),
        ChatPrefix::Identifier => Ok(ChatRef::Identifier(value.to_owned())),
    }
}

/// Splits a direct-message chat guid, `<service>;-;<handle>`, into the service it names and the handle.
///
/// The service word is matched case-insensitively: `iMessage` and `any` (newer macOS) give `None`, meaning
/// "no particular service"; `SMS` and `RCS` (which reaches us over the carrier, like SMS) give
/// `Some(Service::Sms)`. Another word, a group guid (`;+;`) or an empty handle is not this form.
pub(crate) fn split_dm_chat_guid(s: &str) -> Option<(Option<Service>, &str)> {
    let (word, handle) = s.split_once(";-;")?;
    let service = if word.eq_ignore_ascii_case("imessage") || word.eq_ignore_ascii_case("any") {
        None
    } else if word.eq_ignore_ascii_case("sms") || word.eq_ignore_ascii_case("rcs") {
        Some(Service::Sms)
    } else {
        return None;
    };
    Some((service, js_trim(handle)))
}

/// Strips a `tel:` URI scheme (any case) and its `;name=value` parameters, returning the number part.
pub(crate) fn strip_tel(s: &str) -> Option<&str> {
    let rest = strip_prefix_ci(s, "tel:")?;
    let number = rest.split_once(';').map_or(rest, |(number, _)| number);
    Some(js_trim(number))
}

/// Trims the way JavaScript's `String.prototype.trim` does.
///
/// Rust's `str::trim` follows the Unicode `White_Space` property, which does
/// not include the byte-order mark; the anchor strips it, so we do too.
pub(crate) fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Strips `prefix` (ASCII, lowercase) from `s`, ignoring ASCII case.
///
/// `str::get` refuses a cut inside a multi-byte character, so non-ASCII
/// input can never panic here.
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Splits off a leading service prefix, returning the prefix text, the
/// service and the untrimmed remainder.
pub(crate) fn split_service(s: &str) -> Option<(&'static str, Service, &str)> {
    SERVICE_PREFIXES.iter().find_map(|&(prefix, service)| {
        strip_prefix_ci(s, prefix).map(|rest| (prefix, service, rest))
    })
}

/// Splits off a leading chat prefix, returning its kind and the trimmed value.
pub(crate) fn split_chat(s: &str) -> Option<(ChatPrefix, &str)> {
    let table: [(&[&str; 3], ChatPrefix); 3] = [
        (&CHAT_ID_PREFIXES, ChatPrefix::Id),
        (&CHAT_GUID_PREFIXES, ChatPrefix::Guid),
        (&CHAT_IDENTIFIER_PREFIXES, ChatPrefix::Identifier),
    ];
    table.iter().find_map(|(prefixes, kind)| {
        prefixes
            .iter()
            .find_map(|prefix| strip_prefix_ci(s, prefix))
            .map(|rest| (*kind, js_trim(rest)))
    })
}

/// Whether `s` starts with any service or chat prefix.
pub(crate) fn has_any_prefix(s: &str) -> bool {
    split_service(s).is_some() || split_chat(s).is_some()
}

/// Parses a chat id strictly: an optional sign and ASCII digits that fit an
/// `i64`, nothing else.
///
/// The anchor uses JavaScript `parseInt`, which silently stops at the first
/// non-digit (`12abc` is 12). Sending to, or allowing, the wrong chat is worse
/// than an error, so we reject such values.
pub(crate) fn parse_chat_id(value: &str) -> Option<i64> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // `i64::from_str` accepts a leading `+` or `-` itself.
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_parse_strictly() {
        let rows = [
            ("123", Some(123)),
            ("-5", Some(-5)),
            ("+5", Some(5)),
            ("0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("12abc", None),
            ("1.5", None),
            ("0x10", None),
            ("", None),
            ("+", None),
            ("-", None),
            ("+-1", None),
            ("1 2", None),
            ("\u{661}", None),
        ];
        for (input, expected) in rows {
            assert_eq!(parse_chat_id(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn prefixes_match_ascii_case_insensitively_and_never_split_characters() {
        let rows = [
            ("CHAT_ID:1", "chat_id:", Some("1")),
            ("Chat_Id:", "chat_id:", Some("")),
            ("chat_i", "chat_id:", None),
            ("ch\u{e9}t_id:1", "chat_id:", None),
            ("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}", "sms:", None),
            ("s\u{e9}s:", "sms:", None),
        ];
        for (input, prefix, expected) in rows {
            assert_eq!(strip_prefix_ci(input, prefix), expected, "input {input:?}");
        }
    }

    #[test]
    fn trimming_follows_javascript() {
        assert_eq!(js_trim("\u{feff} \u{a0}x\u{2028}\t"), "x");
        assert_eq!(js_trim("  "), "");
    }
}
