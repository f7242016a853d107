//! Echo and loop guards through `decide`: own sends coming back drop, and a runaway chat is muted.

use imsg_policy::{
    AccessPolicy, ChatKey, DecideContext, Decision, DmPolicy, DropReason, InboundMessage,
    LoopGuard, PairingSnapshot, RecentSends, UnixMillis, decide,
};

use crate::common::{NOW, dm, entries};

#[test]
fn echoes_drop_and_repeated_echoes_mute_the_chat_for_a_minute() {
    let policy = AccessPolicy::builder("default")
        .dm_policy(DmPolicy::Open)
        .allow_from(entries(&["*"]))
        .build();
    let pairing = PairingSnapshot::new("default");
    let mut sends = RecentSends::new();
    let mut guard = LoopGuard::new();
    let mut now = NOW;
    let step =
        |sends: &RecentSends, guard: &LoopGuard, message: &InboundMessage, now: UnixMillis| {
            let ctx = DecideContext::new(&pairing, now)
                .with_recent_sends(sends)
                .with_loop_guard(guard);
            decide(&policy, message, &ctx)
        };

    // Five replies of ours bounce back as inbound rows (imsg#72-style echoes).
    for i in 0..5 {
        let text = format!("reply {i}");
        sends.record(ChatKey::ChatId(7), None, &text, now);
        let echo = dm(7, "+15550001111", &format!("\u{93}b\u{2}{text}"));
        let decision = step(&sends, &guard, &echo, now.add_millis(500));
        assert_eq!(decision.drop_reason(), Some(DropReason::Echo), "echo {i}");
        guard.observe(&echo, &decision, now.add_millis(500));
        now = now.add_millis(1_000);
    }

    // The chat is now muted, even for a genuine message; other chats are not.
    let genuine = dm(7, "+15550001111", "are you there?");
    let cases = [
        (genuine.clone(), now, Some(DropReason::LoopSuppressed)),
        (dm(8, "+15550002222", "hi"), now, None),
        (genuine, now.add_millis(61_000), None),
    ];
    for (message, at, expected) in cases {
        let decision = step(&sends, &guard, &message, at);
        assert_eq!(decision.drop_reason(), expected, "{message:?} at {at}");
        if expected.is_none() {
            assert!(matches!(decision, Decision::Dispatch(_)), "{decision}");
        }
    }
}

#[test]
fn a_guid_echo_is_recognized_in_any_chat_for_a_minute() {
    let policy = AccessPolicy::builder("default")
        .dm_policy(DmPolicy::Open)
        .build();
    let pairing = PairingSnapshot::new("default");
    let mut sends = RecentSends::new();
    sends.record(ChatKey::ChatId(7), Some("GUID-1"), "hello", NOW);
    let echo = dm(9, "+15550001111", "different text").with_guid("GUID-1");
    let cases = [
        (NOW.add_millis(59_000), Some(DropReason::Echo)),
        (NOW.add_millis(61_000), None),
    ];
    for (at, expected) in cases {
        let ctx = DecideContext::new(&pairing, at).with_recent_sends(&sends);
        assert_eq!(
            decide(&policy, &echo, &ctx).drop_reason(),
            expected,
            "at {at}"
        );
    }
}

#[test]
fn an_attachment_placeholder_without_forwarded_media_is_an_empty_body() {
    // chat.db stores one U+FFFC per attachment as the text of an attachment-only
    // row; with media not forwarded, that is no body at all, and a stranger's
    // such row must not even trigger a pairing code.
    let policy = AccessPolicy::builder("default").build();
    let cases = [
        ("\u{FFFC}", false, Some(DropReason::EmptyBody)),
        ("\u{FFFC}\u{FFFC}", false, Some(DropReason::EmptyBody)),
        (" \u{200B}\u{2060} ", false, Some(DropReason::EmptyBody)),
        ("\u{FEFF}", false, Some(DropReason::EmptyBody)),
        ("\u{FFFC}", true, None),
        ("\u{FFFC}hi", false, None),
    ];
    for (text, has_media, expected) in cases {
        let message = dm(7, "+15550001111", text).with_media(has_media);
        let decision = crate::common::decide_plain(&policy, &message);
        assert_eq!(
            decision.drop_reason(),
            expected,
            "{text:?} media={has_media}"
        );
        if expected.is_none() {
            assert!(matches!(decision, Decision::Pair(_)), "{decision}");
        }
    }
}

#[test]
fn a_loop_guard_counts_the_drops_of_every_key_the_message_belongs_to() {
    // Drops are filed under the message's chat key, which is the chat guid
    // when imsg reported chat_id 0, and the chat id otherwise. A later message
    // carrying both belongs to both; the guard must not pick one at random.
    let message = dm(9, "+15550001111", "hi").with_chat_guid("iMessage;-;+15550001111");
    // Every new map hashes differently: repeat so a random pick shows.
    for round in 0..64 {
        let mut guard = LoopGuard::new();
        guard.record_echo(ChatKey::ChatId(9), NOW);
        for i in 0..5 {
            guard.record_echo(
                ChatKey::ChatGuid("iMessage;-;+15550001111".into()),
                NOW.add_millis(i),
            );
        }
        assert!(
            guard.is_tripped(&message, NOW.add_millis(10)),
            "round {round}"
        );
    }
}
