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
