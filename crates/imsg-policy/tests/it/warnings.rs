//! Start-up warnings: each mirrors a runtime rule, so a warning appears exactly when the gate would bite.

use std::fmt::Write as _;

use imsg_policy::{
    AccessPolicy, AccessPolicyBuilder, DmPolicy, DropReason, GroupPolicy, PolicyWarning,
    startup_warnings,
};

use crate::common::{decide_plain, entries, group, groups, patterns};

#[test]
fn warnings_for_typical_configs() {
    let cases: Vec<(&str, AccessPolicyBuilder)> = vec![
        ("defaults", AccessPolicy::builder("default")),
        (
            "owner with patterns",
            AccessPolicy::builder("default")
                .allow_from(entries(&["+15550001111"]))
                .mention_patterns(patterns(&["@clawd"])),
        ),
        (
            "open everything without patterns",
            AccessPolicy::builder("default")
                .dm_policy(DmPolicy::Open)
                .allow_from(entries(&["*"]))
                .group_policy(GroupPolicy::Open),
        ),
        (
            "no mention needed anywhere",
            AccessPolicy::builder("default")
                .group_policy(GroupPolicy::Open)
                .groups(groups(&[("*", Some(false))])),
        ),
        (
            "listed groups without mention",
            AccessPolicy::builder("default")
                .group_allow_from(Some(entries(&["chat_id:1"])))
                .groups(groups(&[("1", Some(false))])),
        ),
        (
            "agent without patterns",
            AccessPolicy::builder("default")
                .group_allow_from(Some(entries(&["chat_id:1"])))
                .mention_patterns(patterns(&["@clawd"]))
                .agent_mention_patterns("ops", patterns(&[])),
        ),
        (
            "allowlist DMs with nobody",
            AccessPolicy::builder("default")
                .dm_policy(DmPolicy::Allowlist)
                .group_policy(GroupPolicy::Disabled),
        ),
    ];
    let mut out = String::new();
    for (name, builder) in cases {
        writeln!(out, "{name}:").unwrap();
        for warning in startup_warnings(&builder.build()) {
            writeln!(out, "  - {warning}").unwrap();
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn the_mention_warning_mirrors_the_runtime_gate() {
    // With the warning, an unmentioned group message drops for lack of patterns.
    let policy = AccessPolicy::builder("default")
        .group_policy(GroupPolicy::Open)
        .build();
    assert!(
        startup_warnings(&policy)
            .contains(&PolicyWarning::MentionRequiredWithoutPatterns { agent_id: None })
    );
    assert_eq!(
        decide_plain(&policy, &group(1, "+15550001111", "hello")).drop_reason(),
        Some(DropReason::NoMentionPatterns)
    );
    // Without it, the same message is dispatched.
    let policy = AccessPolicy::builder("default")
        .group_policy(GroupPolicy::Open)
        .groups(groups(&[("*", Some(false))]))
        .build();
    assert!(
        !startup_warnings(&policy)
            .iter()
            .any(|w| matches!(w, PolicyWarning::MentionRequiredWithoutPatterns { .. }))
    );
    assert!(decide_plain(&policy, &group(1, "+15550001111", "hello")).is_dispatch());
}

#[test]
fn the_group_warnings_follow_the_lists_groups_really_meet() {
    use std::collections::BTreeMap;

    use imsg_policy::GroupRule;

    let rule = |require_mention: Option<bool>, allow_from: Option<&[&str]>| GroupRule {
        require_mention,
        allow_from: allow_from.map(entries),
        ..GroupRule::default()
    };
    let empty: &[&str] = &[];
    // `*` with its own empty list: every group meets an empty list, whatever groupAllowFrom says.
    let all_empty = AccessPolicy::builder("default")
        .group_allow_from(Some(entries(&["+15550001111"])))
        .groups(BTreeMap::from([("*".to_owned(), rule(None, Some(empty)))]))
        .build();
    assert_eq!(
        decide_plain(&all_empty, &group(1, "+15550001111", "hello")).drop_reason(),
        Some(DropReason::GroupAllowlistEmpty)
    );
    assert_eq!(
        startup_warnings(&all_empty),
        [PolicyWarning::EmptyGroupAllowlist]
    );
    // The only group that needs a mention admits nobody; the others need none.
    let unreachable_mention = AccessPolicy::builder("default")
        .group_policy(GroupPolicy::Open)
        .groups(BTreeMap::from([
            ("42".to_owned(), rule(Some(true), Some(empty))),
            ("*".to_owned(), rule(Some(false), None)),
        ]))
        .build();
    assert_eq!(
        decide_plain(&unreachable_mention, &group(42, "+15550001111", "hello")).drop_reason(),
        Some(DropReason::GroupAllowlistEmpty)
    );
    assert!(decide_plain(&unreachable_mention, &group(7, "+15550001111", "hello")).is_dispatch());
    assert_eq!(
        startup_warnings(&unreachable_mention),
        [PolicyWarning::GroupsOpen]
    );
}
