//! A complete CI test of one's own policy, exactly as a user of `imsg-policy` would write it.
//!
//! Enable the `proptest` feature in your dev-dependency
//! (`imsg-policy = { version = "…", features = ["proptest"] }`), build the
//! policy your gateway really runs with, and let proptest look for a message
//! that breaks an invariant.

use imsg_policy::testing::{check_invariants, check_policy, inbound_messages, pairing_snapshots};
use imsg_policy::{AccessPolicy, DmPolicy, GroupPolicy, GroupRule, MentionPatterns, UnixMillis};
use imsg_target::{AllowEntry, Region};
use proptest::prelude::*;

/// The policy under test. In a real project, resolve it from your config file
/// with `imsg-config` instead of building it by hand.
fn my_policy() -> Result<AccessPolicy, Box<dyn std::error::Error>> {
    let region = Region::default();
    let entry = |raw: &str| AllowEntry::parse(raw, &region);
    Ok(AccessPolicy::builder("default")
        .dm_policy(DmPolicy::Allowlist)
        .allow_from(vec![
            entry("+1 (415) 555-2671")?,
            entry("sms:+15550001111")?,
        ])
        .group_policy(GroupPolicy::Allowlist)
        .group_allow_from(Some(vec![entry("chat_id:42")?]))
        .groups(
            [(
                "42".to_owned(),
                GroupRule {
                    require_mention: Some(true),
                    ..GroupRule::default()
                },
            )]
            .into(),
        )
        .mention_patterns(MentionPatterns::compile(&["@clawd"])?)
        .build())
}

/// The one-call form: 512 random messages and pairing states against every invariant.
#[test]
fn my_policy_keeps_its_invariants() {
    if let Err(failure) = check_policy(&my_policy().unwrap(), 512) {
        panic!("{failure}");
    }
}

proptest! {
    /// The same with the building blocks, to add checks of your own.
    #[test]
    fn strangers_never_reach_my_agent(
        message in inbound_messages(&my_policy().unwrap()),
        pairing in pairing_snapshots(&my_policy().unwrap()),
    ) {
        let policy = my_policy().unwrap();
        check_invariants(&policy, &message, &pairing, UnixMillis::new(0))?;
        // A rule of this deployment: a direct conversation reaches the agent only
        // from the two listed people, or from someone the owner approved by
        // pairing on this very account (approvals on other accounts never count).
        let decision = imsg_policy::decide(
            &policy,
            &message,
            &imsg_policy::DecideContext::new(&pairing, UnixMillis::new(0)),
        );
        if let imsg_policy::Decision::Dispatch(d) = decision
            && d.chat_type == imsg_policy::ChatType::Direct
        {
            let listed = ["+14155552671", "+15550001111"].contains(&d.sender.as_str());
            let paired_here = pairing.account_id() == policy.account_id()
                && pairing.is_approved(d.sender.as_str());
            prop_assert!(listed || paired_here, "unexpected DM from {}", d.sender);
        }
    }
}
