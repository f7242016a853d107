//! Allowlist entries (`allowFrom`, `groupAllowFrom`) and their strict parser.

use std::fmt;

use crate::handle::Handle;
use crate::prefix::{
    ChatPrefix, ChatPrefixError, ChatRef, js_trim, parse_chat_value, split_chat,
    split_dm_chat_guid, split_service, strip_tel,
};
use crate::region::Region;
use crate::service::Service;

/// One entry of an allowlist, parsed and normalized.
///
/// Unlike the anchor, parsing is strict: an entry that names nobody is an
/// error instead of a handle that silently matches other senders.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AllowEntry {
    /// `*`: every sender.
    Wildcard,
    /// A chat by its numeric row id.
    ChatId(i64),
    /// A chat by its GUID, case preserved.
    ChatGuid(String),
    /// A chat by its identifier, case preserved.
    ChatIdentifier(String),
    /// A sender, optionally restricted to one service.
    Handle {
        /// The normalized sender handle.
        handle: Handle,
        /// `Some(Sms)` for `sms:` entries and `Some(Imessage)` for
        /// `imessage:` entries, which match only messages of that service;
        /// `None` for bare and `auto:` entries, which match either service.
        service: Option<Service>,
    },
}

/// Why an allowlist entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseAllowEntryError {
    /// The entry was empty or blank.
    #[error("allow entry is empty")]
    Empty,
    /// A service prefix was followed by nothing.
    #[error("allow entry `{raw}` names no handle after its service prefix")]
    MissingHandle {
        /// The entry as written.
        raw: String,
    },
    /// More than one service prefix, such as `imessage:sms:+1555`.
    #[error("allow entry `{raw}` has more than one service prefix")]
    MultipleServices {
        /// The entry as written.
        raw: String,
    },
    /// A service prefix in front of `*`; the wildcard admits every service.
    #[error("allow entry `{raw}` puts a service prefix on the wildcard `*`")]
    ServiceOnWildcard {
        /// The entry as written.
        raw: String,
    },
    /// A chat prefix followed by a value that names no chat.
    #[error(transparent)]
    Chat(#[from] ChatPrefixError),
    /// The handle contains no letter or digit, so it names nobody.
    #[error("allow entry `{raw}` contains no letter or digit")]
    NoHandle {
        /// The entry as written.
        raw: String,
    },
}

impl AllowEntry {
    /// Parses one allowlist entry, normalizing handles with `region`.
    ///
    /// Besides the target grammar, two spellings found in migrated files name the handle inside them: a
    /// `tel:` URI (`tel:+15551234567`, parameters after `;` ignored) and a direct-message chat guid
    /// (`iMessage;-;+15551234567`, `SMS;-;+15551234567`). An `SMS;-;` (or `RCS;-;`) guid keeps the SMS
    /// service, as an `sms:` entry would; an `iMessage;-;` (or `any;-;`) guid gives a plain handle that
    /// matches the sender on either service, which is what the anchor admitted.
    ///
    /// # Errors
    ///
    /// Returns a [`ParseAllowEntryError`] for empty entries, a service prefix
    /// with nothing after it (or in front of `*`, or doubled), a chat prefix
    /// with an empty or non-integer value, and handles with no letter or digit.
    pub fn parse(raw: &str, region: &Region) -> Result<AllowEntry, ParseAllowEntryError> {
        let trimmed = js_trim(raw);
        if trimmed.is_empty() {
            return Err(ParseAllowEntryError::Empty);
        }
        let (service, rest) = match split_service(trimmed) {
            Some((_, service, rest)) => (Some(service), js_trim(rest)),
            None => (None, trimmed),
        };
        if service.is_some() {
            if rest.is_empty() {
                return Err(ParseAllowEntryError::MissingHandle {
                    raw: trimmed.to_owned(),
                });
            }
            if split_service(rest).is_some() {
                return Err(ParseAllowEntryError::MultipleServices {
                    raw: trimmed.to_owned(),
                });
            }
            if rest == "*" {
                return Err(ParseAllowEntryError::ServiceOnWildcard {
                    raw: trimmed.to_owned(),
                });
            }
        } else if rest == "*" {
            return Ok(AllowEntry::Wildcard);
        }
        // A chat entry has no service; the anchor drops the prefix too.
        if let Some((kind, value)) = split_chat(rest) {
            return Ok(match parse_chat_value(kind, value)? {
                ChatRef::Id(id) => AllowEntry::ChatId(id),
                ChatRef::Guid(guid) => AllowEntry::ChatGuid(guid),
                ChatRef::Identifier(ident) => AllowEntry::ChatIdentifier(ident),
            });
        }
        // `auto:` means "either service", exactly like a bare entry.
        let mut service = service.filter(|s| *s != Service::Auto);
        // Forms an OpenClaw file may hold, which the anchor's digit-keeping normalization read as the
        // number: a DM chat guid (`SMS;-;+15551234567`) and a `tel:` URI. Both name the handle inside.
        let mut rest = rest;
        if let Some((guid_service, handle)) = split_dm_chat_guid(rest) {
            match (service, guid_service) {
                (Some(written), Some(named)) if written != named => {
                    return Err(ParseAllowEntryError::MultipleServices {
                        raw: trimmed.to_owned(),
                    });
                }
                (None, named) => service = named,
                _ => {}
            }
            rest = handle;
        }
        if let Some(number) = strip_tel(rest) {
            rest = number;
        }
        if rest.is_empty() {
            return Err(ParseAllowEntryError::MissingHandle {
                raw: trimmed.to_owned(),
            });
        }
        let handle =
            Handle::normalize(rest, region).ok_or_else(|| ParseAllowEntryError::NoHandle {
                raw: trimmed.to_owned(),
            })?;
        Ok(AllowEntry::Handle { handle, service })
    }

    /// Whether this entry names a sender (a handle or the wildcard) rather than a chat.
    pub fn is_sender(&self) -> bool {
        matches!(self, AllowEntry::Wildcard | AllowEntry::Handle { .. })
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowEntry::Wildcard => f.write_str("*"),
            AllowEntry::ChatId(id) => write!(f, "{}{id}", ChatPrefix::Id.canonical()),
            AllowEntry::ChatGuid(guid) => write!(f, "{}{guid}", ChatPrefix::Guid.canonical()),
            AllowEntry::ChatIdentifier(ident) => {
                write!(f, "{}{ident}", ChatPrefix::Identifier.canonical())
            }
            AllowEntry::Handle {
                handle,
                service: None,
            } => f.write_str(handle.as_str()),
            AllowEntry::Handle {
                handle,
                service: Some(service),
            } => write!(f, "{}{}", service.prefix(), handle.as_str()),
        }
    }
}

/// An entry of a sender-only allowlist named a chat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("iMessage allowFrom entries must be sender handles: {entry}")]
#[non_exhaustive]
pub struct ParseAllowFromEntriesError {
    /// The offending entry, trimmed.
    pub entry: String,
}

/// Splits a comma- or newline-separated list of sender handles, as typed
/// during onboarding, into trimmed entries.
///
/// Empty pieces are skipped. Entries are returned as written; normalize them
/// with [`AllowEntry::parse`]. Semicolons are not separators because they
/// occur inside chat GUIDs.
///
/// # Errors
///
/// Returns [`ParseAllowFromEntriesError`] for the first entry that names a
/// chat (`chat_id:123`, `imessage:chat_id:123`, even `chat_identifier:` with
/// no value), because this list admits senders only.
pub fn parse_allow_from_entries(text: &str) -> Result<Vec<String>, ParseAllowFromEntriesError> {
    let mut entries = Vec::new();
    for piece in text.split([',', '\n', '\r']) {
        let entry = js_trim(piece);
        if entry.is_empty() {
            continue;
        }
        let mut rest = entry;
        while let Some((_, _, tail)) = split_service(rest) {
            rest = js_trim(tail);
        }
        if split_chat(rest).is_some() {
            return Err(ParseAllowFromEntriesError {
                entry: entry.to_owned(),
            });
        }
        entries.push(entry.to_owned());
    }
    Ok(entries)
}
