//! The policy vectors of gateway spec 9.6 and 9.8, plus our deliberate differences, as one table each.

use std::fmt::Write as _;

use imsg_policy::{
    AccessPolicy, AccessPolicyBuilder, CommandSettings, DmPolicy, GroupPolicy, GroupRule,
    InboundMessage, PairingSnapshot,
};
use imsg_target::Service;

use crate::common::{decide_plain, dm, entries, explain, group, groups, patterns};

/// One vector: a policy, a message, what the anchor does, what we decide.
struct Case {
    id: &'static str,
    policy: AccessPolicy,
    message: InboundMessage,
    pairing: Option<PairingSnapshot>,
    anchor: &'static str,
    expected: &'static str,
}

/// Builds a case without pairing state.
fn case(
    id: &'static str,
    policy: AccessPolicyBuilder,
    message: InboundMessage,
    anchor: &'static str,
    expected: &'static str,
) -> Case {
    Case {
        id,
        policy: policy.build(),
        message,
        pairing: None,
        anchor,
        expected,
    }
}

/// Runs a table: asserts every decision, then snapshots the table with full explanations.
fn run(name: &str, cases: Vec<Case>) {
    let mut out = String::new();
    for c in &cases {
        let pairing = c
            .pairing
            .clone()
            .unwrap_or_else(|| PairingSnapshot::new(c.policy.account_id()));
        let explanation = explain(&c.policy, &c.message, &pairing);
        let decision = explanation.lines().next().unwrap_or_default();
        assert_eq!(
            decision,
            format!("decision: {}", c.expected),
            "{}: {explanation}",
            c.id
        );
        writeln!(out, "## {}\nanchor: {}\n{explanation}", c.id, c.anchor).unwrap();
    }
    insta::assert_snapshot!(name, out);
}

/// The base of the anchor's monitor tests (9.6): DMs open to `*`, every group
/// requires a mention, pattern `@clawd`; `groupPolicy` unset, which the
/// unvalidated monitor treats as open.
fn monitor_base() -> AccessPolicyBuilder {
    AccessPolicy::builder("default")
        .dm_policy(DmPolicy::Open)
        .allow_from(entries(&["*"]))
        .group_policy(GroupPolicy::Open)
        .groups(groups(&[("*", Some(true))]))
        .mention_patterns(patterns(&["@clawd"]))
}

/// The base of the newest anchor's gating tests (9.8): as above with `@openclaw`.
fn gating_base() -> AccessPolicyBuilder {
    monitor_base().mention_patterns(patterns(&["@openclaw"]))
}

const ALICE: &str = "+15550001111";

#[test]
fn anchor_monitor_vectors_9_6() {
    let cases = vec![
        case(
            "M1",
            monitor_base(),
            group(99, ALICE, "hello group"),
            "agent not called; nothing sent",
            "drop (no mention)",
        ),
        case(
            "M2",
            monitor_base().groups(groups(&[("*", Some(false))])),
            group(123, ALICE, "hello group"),
            "agent called",
            "dispatch (group 123, commands not authorized)",
        ),
        case(
            "M3",
            monitor_base().mention_patterns(patterns(&[])),
            group(777, ALICE, "hello group"),
            "agent called (no patterns, so no gating)",
            "drop (mention required but no mention patterns)",
        ),
        case(
            "M4",
            monitor_base().groups(groups(&[("99", Some(false))])),
            group(123, ALICE, "@clawd hello"),
            "agent not called; nothing sent",
            "drop (group id not in allowlist)",
        ),
        case(
            "M5",
            monitor_base().groups(groups(&[("2", Some(false))])),
            dm(2, ALICE, "hello"),
            "agent called; ChatType group; SessionKey agent:main:imessage:group:2",
            "dispatch (group 2, commands not authorized)",
        ),
        case(
            "M6",
            monitor_base().mention_patterns(patterns(&[])),
            dm(77, ALICE, "hello"),
            "exactly one send: `PFX final reply`",
            "dispatch (direct +15550001111, commands not authorized)",
        ),
        case(
            "M7",
            monitor_base()
                .dm_policy(DmPolicy::Pairing)
                .allow_from(vec![]),
            dm(77, ALICE, "hello"),
            "agent not called; pairing request upserted; one send with the sender id and code",
            "pair (sender `+15550001111`)",
        ),
        case(
            "M8",
            monitor_base(),
            group(42, "+15550002222", "@clawd ping"),
            "agent called once; ChatType group; reply sent to chat_id:42",
            "dispatch (group 42, commands not authorized)",
        ),
        case(
            "M9",
            monitor_base()
                .group_policy(GroupPolicy::Allowlist)
                .group_allow_from(Some(entries(&["chat_id:101"]))),
            group(202, "+15550003333", "@clawd hi"),
            "agent not called",
            "drop (not in groupAllowFrom)",
        ),
        case(
            "M10",
            monitor_base().group_policy(GroupPolicy::Disabled),
            group(303, ALICE, "@clawd hi"),
            "agent not called",
            "drop (groupPolicy disabled)",
        ),
        case(
            "M11",
            monitor_base(),
            group(99, ALICE, "@clawd hi"),
            "Body contains `Test Group id:99` and `+15550001111: @clawd hi`",
            "dispatch (group 99, commands not authorized)",
        ),
        case(
            "M12",
            monitor_base(),
            dm(55, ALICE, "replying now"),
            "dispatched with ReplyTo* fields",
            "dispatch (direct +15550001111, commands not authorized)",
        ),
        case(
            "M13",
            monitor_base(),
            dm(7, "+15550004444", "hey"),
            "dispatched; last route updated to +15550004444",
            "dispatch (direct +15550004444, commands not authorized)",
        ),
    ];
    run("anchor_monitor_vectors_9_6", cases);
}

#[test]
fn newest_gating_vectors_9_8() {
    let approved = PairingSnapshot::from_parts("default", ["+15550003333".to_owned()], vec![]);
    let mut cases = vec![
        case(
            "G1 unmentioned group message",
            gating_base(),
            group(99, ALICE, "hello group"),
            "drop, reason `no mention`",
            "drop (no mention)",
        ),
        case(
            "G2 mentioned group message",
            gating_base(),
            group(42, "+15550002222", "@openclaw ping"),
            "dispatch; ChatType group; SessionKey agent:main:imessage:group:42",
            "dispatch (group 42, commands not authorized)",
        ),
        case(
            "G3 DM-flagged message in a listed group",
            gating_base().groups(groups(&[("2", Some(false))])),
            dm(2, ALICE, "hello"),
            "isGroup true; SessionKey agent:main:imessage:group:2",
            "dispatch (group 2, commands not authorized)",
        ),
        case(
            "G4 no mention patterns",
            gating_base().mention_patterns(patterns(&[])),
            group(42, ALICE, "@openclaw ping"),
            "dispatch",
            "drop (mention required but no mention patterns)",
        ),
        case(
            "G5 chat not in groups map",
            gating_base().groups(groups(&[("99", None)])),
            group(123, ALICE, "@openclaw hi"),
            "drop",
            "drop (group id not in allowlist)",
        ),
    ];
    let g6 = || {
        gating_base()
            .group_policy(GroupPolicy::Allowlist)
            .group_allow_from(Some(entries(&["chat_id:101"])))
    };
    cases.push(Case {
        pairing: Some(approved.clone()),
        ..case(
            "G6a paired sender, chat not listed",
            g6(),
            group(202, "+15550003333", "@openclaw hi"),
            "drop (the pairing store is ignored for groups)",
            "drop (not in groupAllowFrom)",
        )
    });
    cases.push(Case {
        pairing: Some(approved),
        ..case(
            "G6b listed chat",
            g6(),
            group(101, "+15550003333", "@openclaw hi"),
            "dispatch",
            "dispatch (group 101, commands not authorized)",
        )
    });
    let legacy = || {
        gating_base()
            .group_policy(GroupPolicy::Allowlist)
            .allow_from(entries(&["chat_id:101"]))
    };
    cases.extend([
        case(
            "G7 allowFrom fallback when groupAllowFrom is absent",
            legacy(),
            group(101, ALICE, "@openclaw hi"),
            "dispatch",
            "dispatch (group 101, commands not authorized)",
        ),
        case(
            "G8 explicitly empty groupAllowFrom",
            legacy().group_allow_from(Some(vec![])),
            group(101, ALICE, "@openclaw hi"),
            "drop, `groupPolicy allowlist (empty groupAllowFrom)`",
            "drop (groupPolicy allowlist (empty groupAllowFrom))",
        ),
        case(
            "G9 sender not in groupAllowFrom",
            legacy().group_allow_from(Some(entries(&["+15550004444"]))),
            group(101, ALICE, "@openclaw hi"),
            "drop, `not in groupAllowFrom`",
            "drop (not in groupAllowFrom)",
        ),
        case(
            "G10 command admitted by a chat entry",
            g6().allow_from(vec![]),
            group(101, ALICE, "/status"),
            "drop, `control command (unauthorized)`",
            "drop (control command (unauthorized))",
        ),
        case(
            "G11 command admitted by the legacy allowFrom chat entry",
            legacy(),
            group(101, ALICE, "/status"),
            "drop, `control command (unauthorized)`",
            "drop (control command (unauthorized))",
        ),
        case(
            "G12 groupPolicy disabled",
            gating_base().group_policy(GroupPolicy::Disabled),
            group(42, ALICE, "@openclaw hi"),
            "drop",
            "drop (groupPolicy disabled)",
        ),
    ]);
    // resolveIMessageGroupRequireMention: an exact entry wins over `*`; our
    // groups map also matches chat identifiers, so the vector's keys apply as written.
    let family =
        || gating_base().groups(groups(&[("chat:family", Some(false)), ("*", Some(true))]));
    cases.extend([
        case(
            "R1 requireMention from the exact entry",
            family(),
            group(5, ALICE, "hello").with_chat_identifier("chat:family"),
            "requireMention false",
            "dispatch (group 5, commands not authorized)",
        ),
        case(
            "R2 requireMention from `*`",
            family(),
            group(6, ALICE, "hello").with_chat_identifier("chat:other"),
            "requireMention true",
            "drop (no mention)",
        ),
    ]);
    run("newest_gating_vectors_9_8", cases);
}

#[test]
fn deliberate_differences() {
    let alice_sms = || {
        AccessPolicy::builder("default")
            .dm_policy(DmPolicy::Allowlist)
            .allow_from(entries(&["sms:+15550001111"]))
    };
    let alice_bare = || {
        AccessPolicy::builder("default")
            .dm_policy(DmPolicy::Allowlist)
            .allow_from(entries(&["+1 (555) 000-1111"]))
    };
    let owner_groups = || {
        AccessPolicy::builder("default")
            .allow_from(entries(&[ALICE]))
            .group_policy(GroupPolicy::Open)
            .groups(groups(&[("*", Some(true))]))
            .mention_patterns(patterns(&["@clawd"]))
    };
    let paired_elsewhere = PairingSnapshot::from_parts("work", [ALICE.to_owned()], vec![]);
    let paired_here = PairingSnapshot::from_parts("default", [ALICE.to_owned()], vec![]);
    let mut own_list = GroupRule {
        allow_from: Some(entries(&["+15550009999"])),
        system_prompt: Some("Keep it short.".into()),
        ..GroupRule::default()
    };
    own_list.require_mention = Some(false);
    let mut cases = vec![
        case(
            "D1 sms: entry, message over iMessage",
            alice_sms(),
            dm(9, ALICE, "hi").with_chat_guid("iMessage;-;+15550001111"),
            "admitted (the service is ignored)",
            "drop (dmPolicy blocked)",
        ),
        case(
            "D2 sms: entry, message over SMS",
            alice_sms(),
            dm(9, ALICE, "hi").with_chat_guid("SMS;-;+15550001111"),
            "admitted",
            "dispatch (direct +15550001111, commands authorized)",
        ),
        case(
            "D3 sms: entry, service unknown",
            alice_sms(),
            dm(9, ALICE, "hi"),
            "admitted",
            "drop (dmPolicy blocked)",
        ),
        case(
            "D4 bare entry matches either service",
            alice_bare(),
            dm(9, ALICE, "hi").with_service(Service::Sms),
            "admitted",
            "dispatch (direct +15550001111, commands authorized)",
        ),
        case(
            "D5 digit-less handles stay distinct",
            AccessPolicy::builder("default")
                .dm_policy(DmPolicy::Allowlist)
                .allow_from(entries(&["bob"])),
            dm(9, "alice", "hi"),
            "admitted (`bob` and `alice` both normalize to `+`)",
            "drop (dmPolicy blocked)",
        ),
        case(
            "D6 `;+;` chat guid means group",
            owner_groups(),
            InboundMessage::new(ALICE, "@clawd hi")
                .with_chat_id(12)
                .with_chat_guid("iMessage;+;chat123"),
            "treated as a DM when is_group is false",
            "dispatch (group 12, commands authorized)",
        ),
        case(
            "D7 dmPolicy open does not authorize commands",
            AccessPolicy::builder("default")
                .dm_policy(DmPolicy::Open)
                .allow_from(entries(&["*"])),
            dm(9, "+15550002222", "/status"),
            "command authorized",
            "dispatch (direct +15550002222, commands not authorized)",
        ),
        case(
            "D8 chat entry admits a DM but does not authorize commands",
            AccessPolicy::builder("default")
                .dm_policy(DmPolicy::Allowlist)
                .allow_from(entries(&["chat_id:9"])),
            dm(9, ALICE, "/status"),
            "admitted, command authorized",
            "dispatch (direct +15550001111, commands not authorized)",
        ),
        case(
            "D9 an authorized command needs no mention",
            owner_groups(),
            group(42, ALICE, "/status"),
            "same",
            "dispatch (group 42, commands authorized)",
        ),
        case(
            "D10 an authorized command passes even without patterns",
            owner_groups().mention_patterns(patterns(&[])),
            group(42, ALICE, "/status"),
            "dispatch (no gating at all)",
            "dispatch (group 42, commands authorized)",
        ),
        case(
            "D11 is_from_me drops",
            owner_groups(),
            dm(9, ALICE, "hi").with_from_me(true),
            "drop",
            "drop (from me)",
        ),
        case(
            "D12 empty body drops",
            owner_groups(),
            dm(9, ALICE, "  "),
            "dispatched as `<media:unknown>`",
            "drop (empty body)",
        ),
        case(
            "D13 media without text is a body",
            owner_groups(),
            dm(9, ALICE, "").with_media(true),
            "dispatched",
            "dispatch (direct +15550001111, commands authorized)",
        ),
        case(
            "D14 empty sender drops",
            owner_groups(),
            dm(9, "  ", "hi"),
            "drop",
            "drop (missing sender)",
        ),
        case(
            "D15 per-agent patterns replace the global ones",
            owner_groups().agent_mention_patterns("ops", patterns(&["@ops"])),
            group(42, "+15550002222", "@clawd hi").with_agent("ops"),
            "same",
            "drop (no mention)",
        ),
        case(
            "D16 a group's own allowFrom replaces groupAllowFrom",
            AccessPolicy::builder("default")
                .group_allow_from(Some(entries(&[ALICE])))
                .groups([("42".to_owned(), own_list)].into())
                .mention_patterns(patterns(&["@clawd"])),
            group(42, "+15550009999", "hello"),
            "not in the anchor",
            "dispatch (group 42, commands authorized)",
        ),
        case(
            "D17 explicitly empty groupAllowFrom denies despite `*` in allowFrom",
            AccessPolicy::builder("default")
                .allow_from(entries(&["*"]))
                .group_allow_from(Some(vec![])),
            group(42, ALICE, "@clawd hi"),
            "same",
            "drop (groupPolicy allowlist (empty groupAllowFrom))",
        ),
        case(
            "D18 a wildcard admits to groups but does not authorize commands",
            AccessPolicy::builder("default")
                .allow_from(entries(&["*"]))
                .groups(groups(&[("*", Some(false))])),
            group(42, ALICE, "/status"),
            "command authorized",
            "drop (control command (unauthorized))",
        ),
        case(
            "D19 useAccessGroups false authorizes every admitted sender",
            AccessPolicy::builder("default")
                .allow_from(entries(&["*"]))
                .groups(groups(&[("*", Some(false))]))
                .commands(CommandSettings {
                    use_access_groups: false,
                    ..CommandSettings::default()
                }),
            group(42, ALICE, "/status"),
            "same",
            "dispatch (group 42, commands authorized)",
        ),
        case(
            "D20 group without chat id drops",
            owner_groups(),
            InboundMessage::new(ALICE, "@clawd hi").with_group(true),
            "same",
            "drop (group without chat_id)",
        ),
        case(
            "D21 reflected assistant output drops",
            owner_groups(),
            dm(9, ALICE, "<final>done</final>"),
            "dispatched",
            "drop (reflected assistant content)",
        ),
    ];
    cases.push(Case {
        pairing: Some(paired_elsewhere),
        ..case(
            "D22 an approval on another account does not admit",
            AccessPolicy::builder("default"),
            dm(9, ALICE, "hi"),
            "admitted (the store is channel-wide)",
            "pair (sender `+15550001111`)",
        )
    });
    cases.push(Case {
        pairing: Some(paired_here.clone()),
        ..case(
            "D23 an approval admits DMs and authorizes DM commands",
            AccessPolicy::builder("default"),
            dm(9, ALICE, "/status"),
            "same",
            "dispatch (direct +15550001111, commands authorized)",
        )
    });
    cases.push(Case {
        pairing: Some(paired_here),
        ..case(
            "D24 an approval never widens group access",
            AccessPolicy::builder("default").mention_patterns(patterns(&["@clawd"])),
            group(42, ALICE, "@clawd hi"),
            "dispatch (the store is merged into groupAllowFrom)",
            "drop (groupPolicy allowlist (empty groupAllowFrom))",
        )
    });
    run("deliberate_differences", cases);
}

#[test]
fn group_system_prompt_prefers_the_exact_entry_even_when_blank() {
    let rule = |prompt: &str| GroupRule {
        require_mention: Some(false),
        system_prompt: Some(prompt.to_owned()),
        ..GroupRule::default()
    };
    let policy = AccessPolicy::builder("default")
        .group_policy(GroupPolicy::Open)
        .groups(
            [
                ("123".to_owned(), rule("")),
                ("*".to_owned(), rule("Default group prompt.")),
            ]
            .into(),
        )
        .build();
    let cases = [(123, Some("")), (9, Some("Default group prompt."))];
    for (chat_id, expected) in cases {
        let decision = decide_plain(&policy, &group(chat_id, ALICE, "hello"));
        let imsg_policy::Decision::Dispatch(d) = decision else {
            panic!("chat {chat_id}: {decision}");
        };
        assert_eq!(d.system_prompt.as_deref(), expected, "chat {chat_id}");
    }
}

/// The command-gate rows of gateway spec 9.7, restated for our lists: "configured" is a non-empty
/// list, "allowed" is a handle entry naming the sender.
#[test]
fn command_gate_rows_9_7() {
    let open_groups = || {
        AccessPolicy::builder("default")
            .group_policy(GroupPolicy::Open)
            .groups(groups(&[("*", Some(false))]))
    };
    let cases = vec![
        case(
            "C1 no list configured: not authorized",
            open_groups(),
            group(42, ALICE, "/status"),
            "commandAuthorized false, blocked",
            "drop (control command (unauthorized))",
        ),
        case(
            "C2 one list names the sender: authorized",
            open_groups()
                .allow_from(entries(&["+15550002222"]))
                .group_allow_from(Some(entries(&[ALICE]))),
            group(42, ALICE, "/status"),
            "commandAuthorized true",
            "dispatch (group 42, commands authorized)",
        ),
        case(
            "C3 useAccessGroups off: authorized",
            open_groups()
                .allow_from(entries(&["+15550002222"]))
                .commands(CommandSettings {
                    use_access_groups: false,
                    ..CommandSettings::default()
                }),
            group(42, ALICE, "/status"),
            "commandAuthorized true",
            "dispatch (group 42, commands authorized)",
        ),
        case(
            "C4 unauthorized command in a group is blocked",
            open_groups().allow_from(entries(&["+15550002222"])),
            group(42, ALICE, "/status"),
            "shouldBlock true",
            "drop (control command (unauthorized))",
        ),
        case(
            "C5 a switched-off command is plain text",
            open_groups().allow_from(entries(&["+15550002222"])),
            group(42, ALICE, "/bash ls"),
            "not a command while commands.bash is off",
            "dispatch (group 42, commands not authorized)",
        ),
    ];
    run("command_gate_rows_9_7", cases);
}
