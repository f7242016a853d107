//! The outbound check (gateway spec 11.8): which targets the agent may send to, and the refusal texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use imsg_policy::{
    AccessPolicy, AccessPolicyBuilder, ChatType, DmPolicy, GroupPolicy, GroupRule, PairingSnapshot,
    ReplyOrigin, check_outbound,
};
use imsg_target::{Handle, Region, Target};

use crate::common::entries;

fn target(raw: &str) -> Target {
    raw.parse().unwrap()
}

/// A `groups` map with one entry that has its own `allowFrom`.
fn own_list(key: &str, allow_from: &[&str]) -> BTreeMap<String, GroupRule> {
    BTreeMap::from([(
        key.to_owned(),
        GroupRule {
            allow_from: Some(entries(allow_from)),
            ..GroupRule::default()
        },
    )])
}

fn handle(raw: &str) -> Handle {
    Handle::normalize(raw, &Region::default()).unwrap()
}

struct Case {
    name: &'static str,
    policy: AccessPolicyBuilder,
    target: &'static str,
    origin: Option<(&'static str, ChatType, &'static str)>,
    paired: &'static [&'static str],
    expected: Result<(), &'static str>,
}

fn allowlisted() -> AccessPolicyBuilder {
    AccessPolicy::builder("default")
        .dm_policy(DmPolicy::Allowlist)
        .allow_from(entries(&["+15550001111", "sms:+15550003333"]))
        .group_policy(GroupPolicy::Allowlist)
        .group_allow_from(Some(entries(&["chat_id:101", "+15550001111"])))
}

#[test]
fn outbound_targets() {
    let cases = vec![
        Case {
            name: "group targets refused when groups are disabled",
            policy: allowlisted().group_policy(GroupPolicy::Disabled),
            target: "chat_id:101",
            origin: None,
            paired: &[],
            expected: Err("iMessage outbound blocked: group targets are disabled"),
        },
        Case {
            name: "explicitly empty groupAllowFrom denies all group sends",
            policy: allowlisted().group_allow_from(Some(vec![])),
            target: "chat_id:101",
            origin: None,
            paired: &[],
            expected: Err("iMessage outbound blocked: channels.imessage.groupAllowFrom is empty"),
        },
        Case {
            name: "listed chat",
            policy: allowlisted(),
            target: "chat_id:101",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "unlisted chat",
            policy: allowlisted(),
            target: "chat_id:202",
            origin: None,
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.groupAllowFrom",
            ),
        },
        Case {
            name: "a DM wildcard does not open group sends when groupAllowFrom is set",
            policy: allowlisted().allow_from(entries(&["*"])),
            target: "chat_id:202",
            origin: None,
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.groupAllowFrom",
            ),
        },
        Case {
            name: "a DM wildcard does not open agent-initiated group sends through the fallback",
            policy: allowlisted()
                .allow_from(entries(&["*"]))
                .group_allow_from(None),
            target: "chat_id:202",
            origin: None,
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.groupAllowFrom",
            ),
        },
        Case {
            name: "a chat entry of allowFrom admits group sends through the fallback",
            policy: allowlisted()
                .allow_from(entries(&["*", "chat_id:202"]))
                .group_allow_from(None),
            target: "chat_id:202",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "reply into a group the fallback wildcard admitted",
            policy: allowlisted()
                .allow_from(entries(&["*"]))
                .group_allow_from(None),
            target: "chat_id:202",
            origin: Some(("chat_id:202", ChatType::Group, "+15550002222")),
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "reply into a group admitted by its own allowFrom",
            policy: allowlisted()
                .group_allow_from(Some(vec![]))
                .groups(own_list("202", &["+15550002222"])),
            target: "chat_id:202",
            origin: Some(("chat_id:202", ChatType::Group, "+15550002222")),
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "a group's own allowFrom replaces groupAllowFrom for sends to it",
            policy: allowlisted().groups(own_list("101", &["+15550002222"])),
            target: "chat_id:101",
            origin: Some(("chat_id:101", ChatType::Group, "+15550001111")),
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.groupAllowFrom",
            ),
        },
        Case {
            name: "a group's own allowFrom naming the chat admits agent-initiated sends",
            policy: allowlisted()
                .group_allow_from(Some(vec![]))
                .groups(own_list("202", &["chat_id:202"])),
            target: "chat_id:202",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "reply into a group whose sender is listed",
            policy: allowlisted(),
            target: "chat_id:202",
            origin: Some(("chat_id:202", ChatType::Group, "+15550001111")),
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "a listed requester does not open other groups",
            policy: allowlisted(),
            target: "chat_id:303",
            origin: Some(("chat_id:202", ChatType::Group, "+15550001111")),
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.groupAllowFrom",
            ),
        },
        Case {
            name: "groups open",
            policy: allowlisted().group_policy(GroupPolicy::Open),
            target: "chat_guid:iMessage;+;x",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "groups open, but the groups map does not list the chat",
            policy: allowlisted()
                .group_policy(GroupPolicy::Open)
                .groups(own_list("42", &["*"])),
            target: "chat_id:101",
            origin: None,
            paired: &[],
            expected: Err("iMessage outbound blocked: target is not in channels.imessage.groups"),
        },
        Case {
            name: "groups open, and the groups map lists the chat",
            policy: allowlisted()
                .group_policy(GroupPolicy::Open)
                .groups(own_list("42", &["*"])),
            target: "chat_id:42",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "groups allowlist with a groups map that does not list the chat",
            policy: allowlisted().groups(own_list("42", &["*"])),
            target: "chat_id:101",
            origin: Some(("chat_id:101", ChatType::Group, "+15550001111")),
            paired: &[],
            expected: Err("iMessage outbound blocked: target is not in channels.imessage.groups"),
        },
        Case {
            name: "listed handle in another spelling",
            policy: allowlisted(),
            target: "+1 (555) 000-1111",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "sms: entry admits an automatic send to the same person",
            policy: allowlisted(),
            target: "+15550003333",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "sms: entry does not admit an iMessage send",
            policy: allowlisted(),
            target: "imessage:+15550003333",
            origin: None,
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.allowFrom/defaultTo",
            ),
        },
        Case {
            name: "unlisted handle",
            policy: allowlisted(),
            target: "+15550002222",
            origin: None,
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.allowFrom/defaultTo",
            ),
        },
        Case {
            name: "defaultTo admits its handle",
            policy: allowlisted().default_to(Some(target("+15550002222"))),
            target: "+1 555 000 2222",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "empty allowFrom and no defaultTo",
            policy: allowlisted().allow_from(vec![]),
            target: "+15550002222",
            origin: None,
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: channels.imessage.allowFrom/defaultTo is empty",
            ),
        },
        Case {
            name: "dmPolicy open sends anywhere",
            policy: allowlisted().dm_policy(DmPolicy::Open),
            target: "+15550002222",
            origin: None,
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "a paired sender may be messaged under pairing",
            policy: allowlisted().dm_policy(DmPolicy::Pairing),
            target: "+15550002222",
            origin: None,
            paired: &["+15550002222"],
            expected: Ok(()),
        },
        Case {
            name: "pairing approvals do not count under allowlist",
            policy: allowlisted(),
            target: "+15550002222",
            origin: None,
            paired: &["+15550002222"],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.allowFrom/defaultTo",
            ),
        },
        Case {
            name: "reply into a DM from a sender approved on this account, under allowlist",
            policy: allowlisted(),
            target: "chat_id:9",
            origin: Some(("chat_id:9", ChatType::Direct, "+15550002222")),
            paired: &["+15550002222"],
            expected: Ok(()),
        },
        Case {
            name: "reply into a DM admitted by a chat entry",
            policy: allowlisted().allow_from(entries(&["chat_id:9"])),
            target: "chat_id:9",
            origin: Some(("chat_id:9", ChatType::Direct, "+15550002222")),
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "reply into a DM is checked by the DM rules even when groups are disabled",
            policy: allowlisted().group_policy(GroupPolicy::Disabled),
            target: "chat_id:9",
            origin: Some(("chat_id:9", ChatType::Direct, "+15550001111")),
            paired: &[],
            expected: Ok(()),
        },
        Case {
            name: "reply into a DM from a sender no longer listed",
            policy: allowlisted(),
            target: "chat_id:9",
            origin: Some(("chat_id:9", ChatType::Direct, "+15550002222")),
            paired: &[],
            expected: Err(
                "iMessage outbound blocked: target is not in channels.imessage.allowFrom/defaultTo",
            ),
        },
    ];
    let mut out = String::new();
    for c in cases {
        let policy = c.policy.build();
        let pairing = PairingSnapshot::from_parts(
            "default",
            c.paired.iter().map(|s| (*s).to_owned()),
            vec![],
        );
        let origin = c.origin.map(|(t, chat_type, sender)| ReplyOrigin {
            target: target(t),
            chat_type,
            sender: handle(sender),
        });
        let got = check_outbound(&policy, &target(c.target), origin.as_ref(), &pairing);
        let got_text = got.as_ref().map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(got_text, c.expected.map_err(str::to_owned), "{}", c.name);
        writeln!(
            out,
            "{}: `{}` -> {}",
            c.name,
            c.target,
            match &got {
                Ok(()) => "allowed".to_owned(),
                Err(e) => e.to_string(),
            }
        )
        .unwrap();
    }
    insta::assert_snapshot!(out);
}
