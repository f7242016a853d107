//! Echo and loop guards: recognizing our own sends coming back, and stopping runaway exchanges.
//!
//! Both are plain values the channel owns and passes to [`decide`](crate::decide)
//! by reference; time is always an argument, so they are as pure as the rest.

use std::collections::{HashMap, VecDeque};

use crate::inbound::{ChatKey, InboundMessage, UnixMillis};

/// How long a sent text is remembered for echo matching (the newest anchor uses 4 s).
pub const ECHO_TEXT_TTL_MS: i64 = 4_000;

/// How long a sent message guid is remembered for echo matching (the newest anchor uses 60 s).
pub const ECHO_GUID_TTL_MS: i64 = 60_000;

/// How many echo-type drops in one chat trip the loop guard.
pub const LOOP_LIMIT: usize = 5;

/// The window in which [`LOOP_LIMIT`] echo-type drops trip the loop guard.
pub const LOOP_WINDOW_MS: i64 = 60_000;

/// One message the assistant sent, remembered so its echo can be recognized.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnSend {
    /// The conversation it was sent to.
    chat: ChatKey,
    /// The guid `send` returned, if any (some sends return none).
    guid: Option<String>,
    /// The text, normalized with [`normalize_echo_text`].
    text: String,
    /// When it was sent.
    sent_at: UnixMillis,
}

/// The assistant's recent sends, per conversation, with their time-to-live.
///
/// The channel calls [`RecentSends::record`] after every successful `send`
/// and [`RecentSends::prune`] now and then; `decide` drops an inbound message
/// as `echo` when it carries a remembered guid (within 60 s) or the same
/// normalized text in the same chat (within 4 s).
#[derive(Debug, Clone, Default)]
pub struct RecentSends {
    sends: VecDeque<OwnSend>,
}

impl RecentSends {
    /// An empty memory.
    pub const fn new() -> RecentSends {
        RecentSends {
            sends: VecDeque::new(),
        }
    }

    /// Remembers a send to `chat` at `now`, with the guid `send` returned, if any.
    pub fn record(&mut self, chat: ChatKey, guid: Option<&str>, text: &str, now: UnixMillis) {
        self.prune(now);
        self.sends.push_back(OwnSend {
            chat,
            guid: guid
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned),
            text: normalize_echo_text(text),
            sent_at: now,
        });
    }

    /// Forgets sends older than the longest time-to-live.
    pub fn prune(&mut self, now: UnixMillis) {
        self.sends
            .retain(|s| now.millis_since(s.sent_at) <= ECHO_GUID_TTL_MS);
    }

    /// How many sends are remembered.
    pub fn len(&self) -> usize {
        self.sends.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    /// Whether `message` is an echo of one of our sends, and why.
    pub(crate) fn echo_of(&self, message: &InboundMessage, now: UnixMillis) -> Option<EchoMatch> {
        if self.sends.is_empty() {
            return None;
        }
        let guid = message
            .guid
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty());
        let mut text: Option<String> = None;
        for send in self.sends.iter().rev() {
            let age = now.millis_since(send.sent_at);
            if !(0..=ECHO_GUID_TTL_MS).contains(&age) {
                continue;
            }
            if guid.is_some() && send.guid.as_deref() == guid {
                return Some(EchoMatch::Guid);
            }
            if age <= ECHO_TEXT_TTL_MS && chat_matches(&send.chat, message) {
                let text = text.get_or_insert_with(|| normalize_echo_text(&message.text));
                if !text.is_empty() && *text == send.text {
                    return Some(EchoMatch::Text);
                }
            }
        }
        None
    }
}

/// How an inbound message was recognized as our own send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EchoMatch {
    /// Its guid is one `send` returned.
    Guid,
    /// Its normalized text equals a recent send to the same chat.
    Text,
}

/// Whether `message` belongs to the conversation `chat`, without allocating.
pub(crate) fn chat_matches(chat: &ChatKey, message: &InboundMessage) -> bool {
    match chat {
        ChatKey::ChatId(id) => message.known_chat_id() == Some(*id),
        ChatKey::ChatGuid(guid) => message.chat_guid() == Some(guid.as_str()),
        ChatKey::ChatIdentifier(ident) => message.chat_identifier() == Some(ident.as_str()),
        ChatKey::Sender(sender) => {
            message.known_chat_id().is_none()
                && message.chat_guid().is_none()
                && message.chat_identifier().is_none()
                && message.sender.trim() == sender
        }
    }
}

/// Normalizes text for echo comparison.
///
/// Messages read back from `attributedBody` can carry a few prefix bytes (a
/// control character and a letter, field report #64309), so text that starts
/// with a control character loses everything up to the last control character
/// among its first three.
/// Then control, zero-width and replacement characters are removed,
/// whitespace runs collapse to one space, and the ends are trimmed.
pub(crate) fn normalize_echo_text(text: &str) -> String {
    let starts_with_control = text
        .chars()
        .next()
        .is_some_and(|c| c.is_control() && !c.is_whitespace());
    let head_cut = text
        .char_indices()
        .filter(|_| starts_with_control)
        .take(3)
        .filter(|(_, c)| c.is_control() && !c.is_whitespace())
        .last()
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text[head_cut..].chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if c.is_control() || is_invisible(c) {
            continue;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Characters that never show and only get in the way of comparison.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFFC}'
            | '\u{FFFD}'
    )
}

/// Per-chat loop limiter: after [`LOOP_LIMIT`] echo-type drops within
/// [`LOOP_WINDOW_MS`], every message in that chat is dropped until the
/// window slides past them.
///
/// The channel feeds it with [`LoopGuard::observe`] after every decision.
#[derive(Debug, Clone, Default)]
pub struct LoopGuard {
    drops: HashMap<ChatKey, VecDeque<UnixMillis>>,
}

impl LoopGuard {
    /// A guard with no history.
    pub fn new() -> LoopGuard {
        LoopGuard::default()
    }

    /// Records the decision taken for `message`: echo-type drops count against its chat.
    pub fn observe(
        &mut self,
        message: &InboundMessage,
        decision: &crate::Decision,
        now: UnixMillis,
    ) {
        if let crate::Decision::Drop(reason) = decision
            && reason.is_echo_type()
        {
            self.record_echo(message.chat_key(), now);
        }
    }

    /// Records one echo-type drop in `chat` at `now`.
    pub fn record_echo(&mut self, chat: ChatKey, now: UnixMillis) {
        let times = self.drops.entry(chat).or_default();
        times.retain(|t| in_window(*t, now));
        times.push_back(now);
        // Only the newest LOOP_LIMIT matter for the trip condition.
        while times.len() > LOOP_LIMIT {
            times.pop_front();
        }
    }

    /// Forgets drops that fell out of the window, and chats with none left.
    pub fn prune(&mut self, now: UnixMillis) {
        self.drops.retain(|_, times| {
            times.retain(|t| in_window(*t, now));
            !times.is_empty()
        });
    }

    /// Whether the chat of `message` is suppressed at `now`.
    pub fn is_tripped(&self, message: &InboundMessage, now: UnixMillis) -> bool {
        if self.drops.is_empty() {
            return false;
        }
        // A message can belong to several keys (its chat id and its chat guid,
        // when earlier rows of the chat reported only one of them): any tripped one counts.
        self.drops.iter().any(|(chat, times)| {
            chat_matches(chat, message)
                && times.iter().filter(|t| in_window(**t, now)).count() >= LOOP_LIMIT
        })
    }
}

/// Whether a drop at `at` still counts at `now`.
fn in_window(at: UnixMillis, now: UnixMillis) -> bool {
    (0..LOOP_WINDOW_MS).contains(&now.millis_since(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_text_normalization() {
        let cases = [
            ("hello world", "hello world"),
            ("  hello \n\t world  ", "hello world"),
            ("\u{93}b\u{2}hello", "hello"),
            ("hel\u{200B}lo", "hello"),
            ("\u{FFFC}", ""),
            ("a\u{0}b", "ab"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_echo_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn echoes_match_by_guid_or_by_text_in_the_same_chat_within_their_ttl() {
        let t0 = UnixMillis::new(1_000_000);
        let mut sends = RecentSends::new();
        sends.record(ChatKey::ChatId(42), Some("G1"), "Hello  there", t0);
        let same_text = InboundMessage::new("+1555", "hello there").with_chat_id(42);
        let cases = [
            (same_text.clone(), t0.add_millis(1_000), None),
            (
                InboundMessage::new("+1555", "Hello there").with_chat_id(42),
                t0.add_millis(4_000),
                Some(EchoMatch::Text),
            ),
            (
                InboundMessage::new("+1555", "Hello there").with_chat_id(42),
                t0.add_millis(4_001),
                None,
            ),
            (
                InboundMessage::new("+1555", "Hello there").with_chat_id(7),
                t0,
                None,
            ),
            (
                InboundMessage::new("+1555", "other")
                    .with_chat_id(7)
                    .with_guid("G1"),
                t0.add_millis(60_000),
                Some(EchoMatch::Guid),
            ),
            (
                InboundMessage::new("+1555", "other")
                    .with_chat_id(7)
                    .with_guid("G1"),
                t0.add_millis(60_001),
                None,
            ),
        ];
        for (message, now, expected) in cases {
            assert_eq!(
                sends.echo_of(&message, now),
                expected,
                "{message:?} at {now}"
            );
        }
    }

    #[test]
    fn loop_guard_trips_after_five_echo_drops_in_a_minute() {
        let chat = ChatKey::ChatId(9);
        let message = InboundMessage::new("+1555", "hi").with_chat_id(9);
        let other = InboundMessage::new("+1555", "hi").with_chat_id(10);
        let mut guard = LoopGuard::new();
        let t0 = UnixMillis::new(0);
        for i in 0..4 {
            guard.record_echo(chat.clone(), t0.add_millis(i * 1_000));
        }
        assert!(!guard.is_tripped(&message, t0.add_millis(5_000)));
        guard.record_echo(chat, t0.add_millis(5_000));
        assert!(guard.is_tripped(&message, t0.add_millis(5_000)));
        assert!(!guard.is_tripped(&other, t0.add_millis(5_000)));
        assert!(!guard.is_tripped(&message, t0.add_millis(60_000)));
        guard.prune(t0.add_millis(120_000));
        assert!(guard.drops.is_empty());
    }
}
