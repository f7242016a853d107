//! Fuzz-style proptests: no input string, configuration or sequence makes the policy panic.

use std::collections::BTreeMap;

use imsg_policy::{
    AccessPolicy, ChatKey, ChatType, CommandSettings, DecideContext, Decision, DropReason,
    GroupRule, InboundMessage, LoopGuard, MentionPatterns, PairingSnapshot, PolicyWarning,
    RecentSends, ScriptedCodes, UnixMillis, check_outbound, decide, decide_explained,
    startup_warnings,
};
use imsg_target::{AllowEntry, Handle, Region, Service, Target};
use proptest::prelude::*;

use crate::common::{dm_policies, group_policies};

/// Text that mixes the shapes the policy cares about with arbitrary Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ +()0-9a-zA-Z@.;:_*/-]{0,24}",
        Just("/status".to_owned()),
        Just("@clawd hi".to_owned()),
        Just("<think>x</think>".to_owned()),
        Just("iMessage;+;chat1".to_owned()),
        Just("\u{93}b\u{2}hi".to_owned()),
    ]
}

fn entries() -> impl Strategy<Value = Vec<AllowEntry>> {
    prop::collection::vec(text(), 0..5).prop_map(|raw| {
        raw.iter()
            .filter_map(|r| AllowEntry::parse(r, &Region::default()).ok())
            .collect()
    })
}

fn policy() -> impl Strategy<Value = AccessPolicy> {
    let dm = dm_policies();
    let group = group_policies();
    let rule = (
        prop::option::of(any::<bool>()),
        prop::option::of(entries()),
        prop::option::of(text()),
    )
        .prop_map(|(require_mention, allow_from, system_prompt)| GroupRule {
            require_mention,
            allow_from,
            system_prompt,
        });
    let groups = prop::collection::btree_map(
        prop_oneof![text(), Just("*".to_owned()), "[0-9]{1,3}"],
        rule,
        0..4,
    );
    let patterns = prop::collection::vec(
        prop_oneof![
            text(),
            Just("@clawd".to_owned()),
            Just("\\bbot\\b".to_owned())
        ],
        0..4,
    );
    (
        dm,
        group,
        entries(),
        prop::option::of(entries()),
        groups,
        patterns,
        any::<[bool; 4]>(),
        text(),
    )
        .prop_map(
            |(dm, group, allow, group_allow, groups, patterns, cmd, account): (
                _,
                _,
                _,
                _,
                BTreeMap<_, _>,
                Vec<String>,
                [bool; 4],
                String,
            )| {
                AccessPolicy::builder(account)
                    .dm_policy(dm)
                    .group_policy(group)
                    .allow_from(allow)
                    .group_allow_from(group_allow)
                    .groups(groups)
                    .mention_patterns(MentionPatterns::compile(&patterns).unwrap_or_default())
                    .commands(CommandSettings {
                        use_access_groups: cmd[0],
                        config: cmd[1],
                        debug: cmd[2],
                        bash: cmd[3],
                    })
                    .build()
            },
        )
}

fn message() -> impl Strategy<Value = InboundMessage> {
    let service = prop_oneof![
        Just(None),
        Just(Some(Service::Sms)),
        Just(Some(Service::Imessage)),
        Just(Some(Service::Auto))
    ];
    (
        text(),
        text(),
        prop::option::of(prop_oneof![any::<i64>(), Just(0i64), 1i64..5]),
        prop::option::of(text()),
        prop::option::of(text()),
        any::<[bool; 3]>(),
        service,
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(
            |(
                sender,
                text,
                chat_id,
                chat_guid,
                chat_identifier,
                flags,
                service,
                guid,
                agent_id,
            )| InboundMessage {
                sender,
                is_from_me: flags[0],
                text,
                has_media: flags[1],
                chat_id,
                chat_guid,
                chat_identifier,
                is_group: flags[2],
                guid,
                service,
                agent_id,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decide_never_panics_and_explain_agrees(
        policy in policy(),
        message in message(),
        own in prop::collection::vec((message(), text(), any::<i16>()), 0..4),
        now in any::<i64>(),
    ) {
        let now = UnixMillis::new(now);
        let mut sends = RecentSends::new();
        let mut guard = LoopGuard::new();
        for (m, t, dt) in &own {
            sends.record(m.chat_key(), m.guid.as_deref(), t, now.add_millis(i64::from(*dt)));
            guard.record_echo(m.chat_key(), now.add_millis(i64::from(*dt)));
        }
        let pairing = PairingSnapshot::from_parts(policy.account_id(), [message.sender.clone()], vec![]);
        let ctx = DecideContext::new(&pairing, now).with_recent_sends(&sends).with_loop_guard(&guard);
        let decision = decide(&policy, &message, &ctx);
        let explained = decide_explained(&policy, &message, &ctx);
        prop_assert_eq!(&explained.decision, &decision);
        prop_assert!(!explained.to_string().is_empty());
        guard.observe(&message, &decision, now);
    }

    #[test]
    fn pairing_sequences_never_panic(
        steps in prop::collection::vec((text(), any::<i32>(), prop::option::of(text()), any::<u8>()), 0..40),
        bytes in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut state = PairingSnapshot::new("default");
        let mut codes = ScriptedCodes::new(bytes);
        let mut now = UnixMillis::new(0);
        for (sender, dt, approve, _) in steps {
            now = now.add_millis(i64::from(dt));
            if let Some(handle) = Handle::normalize(&sender, &Region::default()) {
                let _ = state.request(&handle, None, now, &mut codes);
            }
            if let Some(code) = approve {
                let _ = state.approve(&code, now);
            }
            prop_assert!(state.live_requests(now).len() <= 3);
            state.prune(now);
        }
    }

    #[test]
    fn outbound_check_never_panics(policy in policy(), target in text(), origin in prop::option::of((text(), text()))) {
        let pairing = PairingSnapshot::new(policy.account_id());
        if let Ok(target) = target.parse::<Target>() {
            let origin = origin.and_then(|(t, s)| {
                Some(imsg_policy::ReplyOrigin {
                    target: t.parse().ok()?,
                    chat_type: imsg_policy::ChatType::Group,
                    sender: Handle::normalize(&s, &Region::default())?,
                })
            });
            let _ = check_outbound(&policy, &target, origin.as_ref(), &pairing);
        }
    }

    #[test]
    fn startup_warnings_mirror_the_gates(policy in policy(), message in message()) {
        let warnings = startup_warnings(&policy);
        let pairing = PairingSnapshot::new(policy.account_id());
        let decision = decide(&policy, &message, &DecideContext::new(&pairing, UnixMillis::new(0)));
        if warnings.contains(&PolicyWarning::EmptyGroupAllowlist) {
            prop_assert!(
                !matches!(&decision, Decision::Dispatch(d) if d.chat_type == ChatType::Group),
                "{} despite {:?}", decision, warnings
            );
        }
        if decision.drop_reason() == Some(DropReason::NoMentionPatterns) {
            prop_assert!(
                warnings.iter().any(|w| matches!(w, PolicyWarning::MentionRequiredWithoutPatterns { .. })),
                "{} without a warning", decision
            );
        }
    }

    #[test]
    fn mention_compilation_never_panics(patterns in prop::collection::vec(text(), 0..4), body in text()) {
        if let Ok(compiled) = MentionPatterns::compile(&patterns) {
            let _ = compiled.is_match(&body);
        }
    }
}

#[test]
fn chat_keys_render_like_targets() {
    let cases = [
        (ChatKey::ChatId(7), "chat_id:7"),
        (ChatKey::ChatGuid("g".into()), "chat_guid:g"),
        (ChatKey::ChatIdentifier("i".into()), "chat_identifier:i"),
        (ChatKey::Sender("+1555".into()), "sender:+1555"),
    ];
    for (key, text) in cases {
        assert_eq!(key.to_string(), text);
    }
}

#[cfg(feature = "proptest")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The user-facing invariant checks hold for the engine on arbitrary
    /// policies, with messages from the policy's own strategy and arbitrary ones.
    #[test]
    fn invariant_checks_hold_on_random_policies(
        (policy, message, pairing) in policy().prop_flat_map(|p| {
            let messages = prop_oneof![
                imsg_policy::testing::inbound_messages(&p).boxed(),
                message().boxed(),
            ];
            let pairing = imsg_policy::testing::pairing_snapshots(&p).boxed();
            (Just(p), messages, pairing)
        }).boxed(),
        now in any::<i64>(),
    ) {
        imsg_policy::testing::check_invariants(&policy, &message, &pairing, UnixMillis::new(now))?;
    }
}
