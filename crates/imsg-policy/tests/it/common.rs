//! Shared helpers: parsing allow entries, building groups maps, rendering decisions.

use std::collections::BTreeMap;

use imsg_policy::{
    AccessPolicy, DecideContext, Decision, GroupRule, InboundMessage, MentionPatterns,
    PairingSnapshot, UnixMillis, decide, decide_explained,
};
use imsg_policy::{DmPolicy, GroupPolicy};
use imsg_target::{AllowEntry, Region};
use proptest::prelude::*;

/// A fixed "now" for tests that do not move time.
pub(crate) const NOW: UnixMillis = UnixMillis::new(1_768_608_000_000);

/// Parses allow entries with region US, panicking on a typo in the test itself.
pub(crate) fn entries(raw: &[&str]) -> Vec<AllowEntry> {
    raw.iter()
        .map(|r| AllowEntry::parse(r, &Region::default()).unwrap())
        .collect()
}

/// Compiles mention patterns.
pub(crate) fn patterns(raw: &[&str]) -> MentionPatterns {
    MentionPatterns::compile(raw).unwrap()
}

/// A `groups` map from `(key, requireMention)` pairs.
pub(crate) fn groups(rules: &[(&str, Option<bool>)]) -> BTreeMap<String, GroupRule> {
    rules
        .iter()
        .map(|(key, require_mention)| {
            (
                (*key).to_owned(),
                GroupRule {
                    require_mention: *require_mention,
                    ..GroupRule::default()
                },
            )
        })
        .collect()
}

/// Decides with an empty pairing snapshot of the policy's account.
pub(crate) fn decide_plain(policy: &AccessPolicy, message: &InboundMessage) -> Decision {
    let pairing = PairingSnapshot::new(policy.account_id());
    decide(policy, message, &DecideContext::new(&pairing, NOW))
}

/// Decides with the given snapshot and renders the explanation; checks it agrees with `decide`.
pub(crate) fn explain(
    policy: &AccessPolicy,
    message: &InboundMessage,
    pairing: &PairingSnapshot,
) -> String {
    let ctx = DecideContext::new(pairing, NOW);
    let explained = decide_explained(policy, message, &ctx);
    assert_eq!(explained.decision, decide(policy, message, &ctx));
    explained.to_string()
}

/// A group message.
pub(crate) fn group(chat_id: i64, sender: &str, text: &str) -> InboundMessage {
    InboundMessage::new(sender, text)
        .with_chat_id(chat_id)
        .with_group(true)
}

/// A direct message.
pub(crate) fn dm(chat_id: i64, sender: &str, text: &str) -> InboundMessage {
    InboundMessage::new(sender, text).with_chat_id(chat_id)
}

/// Every `dmPolicy`, for property tests.
pub(crate) fn dm_policies() -> impl Strategy<Value = DmPolicy> {
    prop_oneof![
        Just(DmPolicy::Pairing),
        Just(DmPolicy::Allowlist),
        Just(DmPolicy::Open),
        Just(DmPolicy::Disabled)
    ]
}

/// Every `groupPolicy`, for property tests.
pub(crate) fn group_policies() -> impl Strategy<Value = GroupPolicy> {
    prop_oneof![
        Just(GroupPolicy::Open),
        Just(GroupPolicy::Allowlist),
        Just(GroupPolicy::Disabled)
    ]
}
