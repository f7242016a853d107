//! Allowlists compiled once into hash sets, so a decision costs a few lookups, not a scan.

use std::collections::HashSet;

use imsg_target::{AllowEntry, Service};

/// How an allowlist admitted a message, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllowMatch {
    /// The list contains `*`.
    Wildcard,
    /// A handle entry equals the sender (with a compatible service).
    Handle,
    /// A `chat_id:`/`chat_guid:`/`chat_identifier:` entry names the conversation.
    Chat,
}

/// The chat facts of a message that chat entries are compared with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChatFacts<'a> {
    /// The chat row id; `None` when absent or 0 (imsg's "unknown chat").
    pub(crate) chat_id: Option<i64>,
    /// The chat guid, trimmed; `None` when blank.
    pub(crate) chat_guid: Option<&'a str>,
    /// The chat identifier, trimmed; `None` when blank.
    pub(crate) chat_identifier: Option<&'a str>,
}

/// One allowlist (`allowFrom`, `groupAllowFrom` or a group's own list), compiled.
///
/// INVARIANT: the sets hold exactly the entries of `entries`, split by kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowSet {
    /// The entries as configured, kept for explanations and the testing module.
    entries: Vec<AllowEntry>,
    /// The list contains `*`.
    wildcard: bool,
    /// Bare (or `auto:`) handles: match a sender on any service.
    any_service: HashSet<String>,
    /// `sms:` handles: match only messages known to come over SMS.
    sms_only: HashSet<String>,
    /// `imessage:` handles: match only messages known to come over iMessage.
    imessage_only: HashSet<String>,
    /// `chat_id:` entries.
    chat_ids: HashSet<i64>,
    /// `chat_guid:` entries, compared exactly.
    chat_guids: HashSet<String>,
    /// `chat_identifier:` entries, compared exactly.
    chat_identifiers: HashSet<String>,
}

impl AllowSet {
    /// Compiles a list of parsed entries.
    pub(crate) fn new(entries: Vec<AllowEntry>) -> AllowSet {
        let mut set = AllowSet::default();
        for entry in &entries {
            match entry {
                AllowEntry::Wildcard => set.wildcard = true,
                AllowEntry::ChatId(id) => {
                    set.chat_ids.insert(*id);
                }
                AllowEntry::ChatGuid(guid) => {
                    set.chat_guids.insert(guid.clone());
                }
                AllowEntry::ChatIdentifier(ident) => {
                    set.chat_identifiers.insert(ident.clone());
                }
                AllowEntry::Handle { handle, service } => {
                    let bucket = match service {
                        Some(Service::Sms) => &mut set.sms_only,
                        Some(Service::Imessage) => &mut set.imessage_only,
                        Some(Service::Auto) | None => &mut set.any_service,
                    };
                    bucket.insert(handle.as_str().to_owned());
                }
            }
        }
        set.entries = entries;
        set
    }

    /// The entries as configured.
    pub(crate) fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// True when the list has no entry at all: an empty list denies.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the list contains `*`.
    pub(crate) fn has_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether a handle entry names this sender on this service; `*` and chat entries do not count.
    ///
    /// `service` is the service the message came over, `None` when unknown.
    /// An `sms:` entry matches only SMS messages and an `imessage:` entry only
    /// iMessage ones; a bare entry matches either.
    pub(crate) fn has_handle(&self, sender: &str, service: Option<Service>) -> bool {
        if self.any_service.contains(sender) {
            return true;
        }
        match service {
            Some(Service::Sms) => self.sms_only.contains(sender),
            Some(Service::Imessage) => self.imessage_only.contains(sender),
            Some(Service::Auto) | None => false,
        }
    }

    /// Whether a chat entry names this conversation.
    pub(crate) fn has_chat(&self, chat: &ChatFacts<'_>) -> bool {
        chat.chat_id.is_some_and(|id| self.chat_ids.contains(&id))
            || chat.chat_guid.is_some_and(|g| self.chat_guids.contains(g))
            || chat
                .chat_identifier
                .is_some_and(|i| self.chat_identifiers.contains(i))
    }

    /// Whether the list admits the message: `*`, then the sender, then the chat.
    pub(crate) fn admits(
        &self,
        sender: &str,
        service: Option<Service>,
        chat: &ChatFacts<'_>,
    ) -> Option<AllowMatch> {
        if self.wildcard {
            Some(AllowMatch::Wildcard)
        } else if self.has_handle(sender, service) {
            Some(AllowMatch::Handle)
        } else if self.has_chat(chat) {
            Some(AllowMatch::Chat)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use imsg_target::{AllowEntry, Region, Service};

    use super::{AllowSet, ChatFacts};

    /// The newest anchor's two matchers (gateway spec 9.8) in terms of a compiled list:
    /// the sender matcher is `*` or a handle entry; the reply-context matcher also takes chat entries.
    #[test]
    fn sender_and_conversation_matchers_9_8() {
        struct Case {
            matcher: &'static str,
            allow_from: &'static [&'static str],
            sender: &'static str,
            chat: ChatFacts<'static>,
            expected: bool,
        }
        let id = |n| ChatFacts {
            chat_id: Some(n),
            ..ChatFacts::default()
        };
        let guid = |g| ChatFacts {
            chat_guid: Some(g),
            ..ChatFacts::default()
        };
        let ident = |i| ChatFacts {
            chat_identifier: Some(i),
            ..ChatFacts::default()
        };
        let cases = [
            Case {
                matcher: "sender",
                allow_from: &["chat_id:9"],
                sender: "+1555",
                chat: id(9),
                expected: false,
            },
            Case {
                matcher: "sender",
                allow_from: &["imessage:chat_id:9"],
                sender: "+1555",
                chat: id(9),
                expected: false,
            },
            Case {
                matcher: "sender",
                allow_from: &["chat_guid:team-thread"],
                sender: "+1555",
                chat: guid("team-thread"),
                expected: false,
            },
            Case {
                matcher: "sender",
                allow_from: &["chat_identifier:team"],
                sender: "+1555",
                chat: ident("team"),
                expected: false,
            },
            Case {
                matcher: "sender",
                allow_from: &[],
                sender: "+1555",
                chat: ChatFacts::default(),
                expected: false,
            },
            Case {
                matcher: "sender",
                allow_from: &["user@example.com"],
                sender: "User@Example.com",
                chat: ChatFacts::default(),
                expected: true,
            },
            Case {
                matcher: "sender",
                allow_from: &["*"],
                sender: "+1555",
                chat: ChatFacts::default(),
                expected: true,
            },
            Case {
                matcher: "conversation",
                allow_from: &["chat_id:9"],
                sender: "+1555",
                chat: id(9),
                expected: true,
            },
            Case {
                matcher: "conversation",
                allow_from: &["imessage:chat_guid:team-thread"],
                sender: "+1555",
                chat: guid("team-thread"),
                expected: true,
            },
            Case {
                matcher: "conversation",
                allow_from: &["chat_id:9"],
                sender: "+1555",
                chat: id(10),
                expected: false,
            },
        ];
        let region = Region::default();
        let mut out = String::new();
        for c in cases {
            let list = AllowSet::new(
                c.allow_from
                    .iter()
                    .map(|r| AllowEntry::parse(r, &region).unwrap())
                    .collect(),
            );
            let sender = imsg_target::Handle::normalize(c.sender, &region).unwrap();
            let service: Option<Service> = None;
            let got = match c.matcher {
                "sender" => list.has_wildcard() || list.has_handle(sender.as_str(), service),
                _ => list.admits(sender.as_str(), service, &c.chat).is_some(),
            };
            assert_eq!(
                got, c.expected,
                "{} {:?} {}",
                c.matcher, c.allow_from, c.sender
            );
            writeln!(
                out,
                "{} {:?} sender={} chat={:?} -> {got}",
                c.matcher, c.allow_from, c.sender, c.chat
            )
            .unwrap();
        }
        insta::assert_snapshot!(out);
    }
}
