//! Send targets: the grammar the anchor accepts for `--to` and `defaultTo`.

use std::fmt;
use std::str::FromStr;

use crate::prefix::{
    ChatPrefix, ChatPrefixError, ChatRef, has_any_prefix, js_trim, parse_chat_value, split_chat,
    split_service,
};
use crate::service::Service;

/// Where to send a message.
///
/// Parsed from text with [`FromStr`] and printed with [`Display`](fmt::Display);
/// printing a parsed target and parsing it again gives the same target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A chat by its numeric `chat.db` row id (`chat_id:42`).
    ChatId(i64),
    /// A chat by its GUID (`chat_guid:iMessage;+;chat123`), case preserved.
    ChatGuid(String),
    /// A chat by its identifier (`chat_identifier:chat123`), case preserved.
    ChatIdentifier(String),
    /// A person, by the handle as written (not normalized), and a service.
    Handle {
        /// The handle exactly as the user wrote it, trimmed.
        to: String,
        /// The service to send with; a bare handle means [`Service::Auto`].
        service: Service,
    },
}

/// Why a send target could not be parsed; messages match the anchor's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseTargetError {
    /// The input was empty or blank.
    #[error("iMessage target is required")]
    Empty,
    /// A service prefix was followed by nothing.
    #[error("{service}: target is required")]
    MissingHandle {
        /// The service whose prefix stood alone.
        service: Service,
    },
    /// A chat prefix was followed by a value that names no chat.
    #[error(transparent)]
    Chat(#[from] ChatPrefixError),
    /// A handle target was built from text that would parse as something else.
    #[error(
        "`{to}` is not a valid handle target: it is blank, padded with whitespace or starts with a chat prefix"
    )]
    InvalidHandle {
        /// The rejected handle text.
        to: String,
    },
}

impl Target {
    /// Builds a handle target, checking that it prints and parses back to itself.
    ///
    /// # Errors
    ///
    /// Returns [`ParseTargetError::InvalidHandle`] when `to` is blank, has
    /// surrounding whitespace, or starts with a chat prefix (such text parses
    /// as a chat target instead).
    pub fn handle(to: impl Into<String>, service: Service) -> Result<Target, ParseTargetError> {
        let to = to.into();
        if to.is_empty() || js_trim(&to) != to || split_chat(&to).is_some() {
            return Err(ParseTargetError::InvalidHandle { to });
        }
        Ok(Target::Handle { to, service })
    }

    /// Whether this names a chat (a group or a specific conversation) rather than a person.
    pub fn is_chat(&self) -> bool {
        !matches!(self, Target::Handle { .. })
    }
}

/// Parses the text after a chat prefix.
fn parse_chat(kind: ChatPrefix, value: &str) -> Result<Target, ParseTargetError> {
    Ok(match parse_chat_value(kind, value)? {
        ChatRef::Id(id) => Target::ChatId(id),
        ChatRef::Guid(guid) => Target::ChatGuid(guid),
        ChatRef::Identifier(ident) => Target::ChatIdentifier(ident),
    })
}

impl FromStr for Target {
    type Err = ParseTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = js_trim(s);
        if trimmed.is_empty() {
            return Err(ParseTargetError::Empty);
        }
        // Service prefixes are checked before chat prefixes, as in the anchor.
        if let Some((_, service, rest)) = split_service(trimmed) {
            let rest = js_trim(rest);
            if rest.is_empty() {
                return Err(ParseTargetError::MissingHandle { service });
            }
            // A chat target needs no service, so the prefix is dropped.
            if let Some((kind, value)) = split_chat(rest) {
                return parse_chat(kind, value);
            }
            // A second service prefix stays part of the handle, as in the anchor.
            return Ok(Target::Handle {
                to: rest.to_owned(),
                service,
            });
        }
        if let Some((kind, value)) = split_chat(trimmed) {
            return parse_chat(kind, value);
        }
        Ok(Target::Handle {
            to: trimmed.to_owned(),
            service: Service::Auto,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::ChatId(id) => write!(f, "{}{id}", ChatPrefix::Id.canonical()),
            Target::ChatGuid(guid) => write!(f, "{}{guid}", ChatPrefix::Guid.canonical()),
            Target::ChatIdentifier(ident) => {
                write!(f, "{}{ident}", ChatPrefix::Identifier.canonical())
            }
            // A bare handle reads as `auto` unless it would be mistaken for a
            // prefixed target, in which case the prefix is spelled out.
            Target::Handle {
                to,
                service: Service::Auto,
            } if !has_any_prefix(to) => f.write_str(to),
            Target::Handle { to, service } => write!(f, "{}{to}", service.prefix()),
        }
    }
}
