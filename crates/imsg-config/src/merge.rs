//! The one merge of the channel section and an account, field by field, and the legacy-section migration.
//!
//! The table in `docs/config.md` mirrors [`merge`] line for line: scalars and objects set on the account
//! replace the channel's value wholesale, allowlists are replaced (never appended, so an account can narrow
//! who may talk to it), and attachment roots are the one additive exception.

use crate::raw::{RawAccount, RawCatchup, RawImessage};
use crate::validate::normalize_account_id;

/// The account's value when it set one, else the channel's.
fn pick<T: Clone>(account: &Option<T>, top: &Option<T>) -> Option<T> {
    account.as_ref().or(top.as_ref()).cloned()
}

/// The account's entries followed by the channel's; `None` only when neither side set the list.
fn concat(account: &Option<Vec<String>>, top: &Option<Vec<String>>) -> Option<Vec<String>> {
    match (account, top) {
        (None, None) => None,
        _ => Some(
            account
                .iter()
                .chain(top.iter())
                .flatten()
                .cloned()
                .collect(),
        ),
    }
}

/// Overlays `account` on the channel-level `top`.
///
/// Nothing here applies a default: an unset field stays `None`, so a channel-level `dmPolicy` reaches every
/// account that does not set its own (the anchor injected defaults into each account first, which hid it).
pub(crate) fn merge(top: &RawAccount, account: &RawAccount) -> RawAccount {
    RawAccount {
        name: pick(&account.name, &top.name),
        capabilities: pick(&account.capabilities, &top.capabilities),
        markdown: pick(&account.markdown, &top.markdown),
        enabled: pick(&account.enabled, &top.enabled),
        config_writes: pick(&account.config_writes, &top.config_writes),
        cli_path: pick(&account.cli_path, &top.cli_path),
        db_path: pick(&account.db_path, &top.db_path),
        remote_host: pick(&account.remote_host, &top.remote_host),
        service: pick(&account.service, &top.service),
        region: pick(&account.region, &top.region),
        dm_policy: pick(&account.dm_policy, &top.dm_policy),
        // Allowlists: replaced, never appended.
        allow_from: pick(&account.allow_from, &top.allow_from),
        group_allow_from: pick(&account.group_allow_from, &top.group_allow_from),
        group_policy: pick(&account.group_policy, &top.group_policy),
        history_limit: pick(&account.history_limit, &top.history_limit),
        dm_history_limit: pick(&account.dm_history_limit, &top.dm_history_limit),
        // Maps are replaced wholesale too: a `groups` map is an allowlist of chats.
        dms: pick(&account.dms, &top.dms),
        include_attachments: pick(&account.include_attachments, &top.include_attachments),
        media_max_mb: pick(&account.media_max_mb, &top.media_max_mb),
        text_chunk_limit: pick(&account.text_chunk_limit, &top.text_chunk_limit),
        chunk_mode: pick(&account.chunk_mode, &top.chunk_mode),
        block_streaming: pick(&account.block_streaming, &top.block_streaming),
        block_streaming_coalesce: pick(
            &account.block_streaming_coalesce,
            &top.block_streaming_coalesce,
        ),
        groups: pick(&account.groups, &top.groups),
        heartbeat: pick(&account.heartbeat, &top.heartbeat),
        // Attachment roots: additive (account first), as in the newest OpenClaw.
        attachment_roots: concat(&account.attachment_roots, &top.attachment_roots),
        remote_attachment_roots: concat(
            &account.remote_attachment_roots,
            &top.remote_attachment_roots,
        ),
        context_visibility: pick(&account.context_visibility, &top.context_visibility),
        reaction_notifications: pick(&account.reaction_notifications, &top.reaction_notifications),
        coalesce_same_sender_dms: pick(
            &account.coalesce_same_sender_dms,
            &top.coalesce_same_sender_dms,
        ),
        // One level deeper: an account that sets `catchup.enabled` keeps the section's limits.
        catchup: merge_catchup(account.catchup.as_ref(), top.catchup.as_ref()),
        probe_timeout_ms: pick(&account.probe_timeout_ms, &top.probe_timeout_ms),
        send_read_receipts: pick(&account.send_read_receipts, &top.send_read_receipts),
        send_transport: pick(&account.send_transport, &top.send_transport),
        default_to: pick(&account.default_to, &top.default_to),
        streaming: pick(&account.streaming, &top.streaming),
    }
}

/// `catchup` key by key: the account's value for each key it sets, else the section's.
fn merge_catchup(account: Option<&RawCatchup>, top: Option<&RawCatchup>) -> Option<RawCatchup> {
    let (account, top) = match (account, top) {
        (None, None) => return None,
        (Some(one), None) | (None, Some(one)) => return Some(one.clone()),
        (Some(account), Some(top)) => (account, top),
    };
    Some(RawCatchup {
        enabled: account.enabled.or(top.enabled),
        max_age_minutes: account.max_age_minutes.or(top.max_age_minutes),
        per_run_limit: account.per_run_limit.or(top.per_run_limit),
        first_run_lookback_minutes: account
            .first_run_lookback_minutes
            .or(top.first_run_lookback_minutes),
        max_failure_retries: account.max_failure_retries.or(top.max_failure_retries),
    })
}

/// Migrates the legacy top-level `imessage` section into `channels.imessage` (merge-missing, as the anchor's
/// loader does): every key already under `channels.imessage` wins, and anything only the legacy section has
/// is taken from it. Keys are filled at the section level, in `accounts`, and inside each account; a field's
/// value is taken whole from one side, and account keys are matched by their id (`Work` is `work`). Unlike the
/// anchor, which recursed into every object and matched account keys exactly, a legacy
/// `groups` map can therefore not add chats (or a group `allowFrom`) to the allowlist under
/// `channels.imessage`.
pub(crate) fn migrate_legacy(current: RawImessage, legacy: RawImessage) -> RawImessage {
    let (Ok(mut target), Ok(source)) = (
        serde_json::to_value(&current),
        serde_json::to_value(&legacy),
    ) else {
        return current;
    };
    fill_missing(&mut target, source, Level::Section);
    // Both sides were valid sections, so their union is one too; keep the current section if not.
    serde_json::from_value(target).unwrap_or(current)
}

/// Where [`fill_missing`] is in the section.
#[derive(Clone, Copy)]
enum Level {
    /// The section itself: fill its keys, and recurse into `accounts`.
    Section,
    /// The `accounts` map: fill missing accounts, and the missing keys of accounts both sides have.
    Accounts,
    /// One account: fill its missing keys only.
    Account,
}

/// Copies into `target` every key of `source` it lacks; see [`migrate_legacy`] for where it recurses.
fn fill_missing(target: &mut serde_json::Value, source: serde_json::Value, level: Level) {
    let (serde_json::Value::Object(target), serde_json::Value::Object(source)) = (target, source)
    else {
        return;
    };
    // Account keys are matched by id (`Work` is `work`), as everywhere else, and the current key wins. Only
    // keys the current section wrote are candidates, and a legacy id written twice is never folded, so such
    // duplicates still reach the duplicate-id error.
    let current_keys: Vec<String> = target.keys().cloned().collect();
    let legacy_ids: Vec<String> = source.keys().map(|k| normalize_account_id(k)).collect();
    for (key, value) in source {
        let existing_key = match level {
            Level::Accounts => {
                let id = normalize_account_id(&key);
                let unique = legacy_ids.iter().filter(|other| **other == id).count() == 1;
                current_keys
                    .iter()
                    .find(|k| unique && normalize_account_id(k) == id)
                    .cloned()
                    .unwrap_or_else(|| key.clone())
            }
            Level::Section | Level::Account => key.clone(),
        };
        match target.get_mut(&existing_key) {
            None => {
                target.insert(key, value);
            }
            Some(existing) => match level {
                Level::Section if key == "accounts" => {
                    fill_missing(existing, value, Level::Accounts);
                }
                Level::Accounts => fill_missing(existing, value, Level::Account),
                Level::Section | Level::Account => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::num::NonZeroU64;

    use proptest::prelude::*;

    use super::*;
    use imsg_policy::{DmPolicy, GroupPolicy};

    use crate::raw::{AllowFromValue, RawDmPolicy, RawGroup, Word};

    fn entries() -> impl Strategy<Value = Option<Vec<AllowFromValue>>> {
        proptest::option::of(proptest::collection::vec(
            prop_oneof![
                Just("*".to_owned()),
                "\\+1555[0-9]{7}",
                "[a-z]{1,6}@example\\.com"
            ]
            .prop_map(AllowFromValue),
            0..4,
        ))
    }

    fn roots() -> impl Strategy<Value = Option<Vec<String>>> {
        proptest::option::of(proptest::collection::vec("/[a-z]{1,5}/[a-z]{1,5}", 0..3))
    }

    prop_compose! {
        fn account()(
            name in proptest::option::of("[A-Za-z ]{0,8}"),
            enabled in proptest::option::of(any::<bool>()),
            cli_path in proptest::option::of("/usr/local/bin/[a-z]{1,6}"),
            dm_policy in proptest::option::of(prop_oneof![
                Just(Word(DmPolicy::Pairing)), Just(Word(DmPolicy::Allowlist)),
                Just(Word(DmPolicy::Open)), Just(Word(DmPolicy::Disabled))]),
            group_policy in proptest::option::of(prop_oneof![
                Just(Word(GroupPolicy::Open)), Just(Word(GroupPolicy::Allowlist)), Just(Word(GroupPolicy::Disabled))]),
            allow_from in entries(),
            group_allow_from in entries(),
            groups in proptest::option::of(proptest::collection::btree_map(
                "[0-9]{1,3}|\\*",
                proptest::option::of(any::<bool>()).prop_map(|m| RawGroup { require_mention: m, ..RawGroup::default() }),
                0..3)),
            text_chunk_limit in proptest::option::of(1u64..10_000).prop_map(|v| v.and_then(NonZeroU64::new)),
            history_limit in proptest::option::of(0u64..100),
            attachment_roots in roots(),
            remote_attachment_roots in roots(),
        ) -> RawAccount {
            RawAccount {
                name, enabled, cli_path, dm_policy, group_policy, allow_from, group_allow_from,
                groups: groups.map(|g: BTreeMap<String, RawGroup>| g),
                text_chunk_limit, history_limit, attachment_roots, remote_attachment_roots,
                ..RawAccount::default()
            }
        }
    }

    /// Two sample values for every field of an account, by its JSON name. The typed strategy above sets only
    /// a dozen fields, so a swapped `pick` on any other field would pass its laws; these samples cover all of
    /// them, and `the_samples_cover_every_account_field` keeps the table complete.
    fn samples() -> Vec<(&'static str, [serde_json::Value; 2])> {
        use serde_json::json;
        vec![
            ("name", [json!("A"), json!("B")]),
            ("capabilities", [json!(["x"]), json!([])]),
            ("markdown", [json!({ "tables": "off" }), json!({})]),
            ("enabled", [json!(true), json!(false)]),
            ("configWrites", [json!(true), json!(false)]),
            ("cliPath", [json!("/a/imsg"), json!("imsg")]),
            ("dbPath", [json!("/a/chat.db"), json!("/b/chat.db")]),
            ("remoteHost", [json!("a@mac"), json!("mac")]),
            ("service", [json!("sms"), json!("auto")]),
            ("region", [json!("US"), json!("GB")]),
            ("dmPolicy", [json!("open"), json!("pairing")]),
            ("allowFrom", [json!(["*"]), json!(["+15550001111"])]),
            ("groupAllowFrom", [json!(["*"]), json!([])]),
            ("groupPolicy", [json!("open"), json!("disabled")]),
            ("historyLimit", [json!(0), json!(5)]),
            ("dmHistoryLimit", [json!(1), json!(2)]),
            ("dms", [json!({ "+1": { "historyLimit": 1 } }), json!({})]),
            ("includeAttachments", [json!(true), json!(false)]),
            ("mediaMaxMb", [json!(1), json!(2)]),
            ("textChunkLimit", [json!(10), json!(20)]),
            ("chunkMode", [json!("newline"), json!("length")]),
            ("blockStreaming", [json!(true), json!(false)]),
            (
                "blockStreamingCoalesce",
                [json!({ "minChars": 1 }), json!({})],
            ),
            (
                "groups",
                [
                    json!({ "1": {} }),
                    json!({ "*": { "requireMention": false } }),
                ],
            ),
            ("heartbeat", [json!({ "a": 1 }), json!(null)]),
            ("attachmentRoots", [json!(["/a"]), json!(["/b", "/c"])]),
            ("remoteAttachmentRoots", [json!(["/r"]), json!([])]),
            ("contextVisibility", [json!("all"), json!("allowlist")]),
            ("reactionNotifications", [json!("off"), json!("all")]),
            ("coalesceSameSenderDms", [json!(true), json!(false)]),
            (
                "catchup",
                [
                    json!({ "enabled": true, "perRunLimit": 5 }),
                    json!({ "maxAgeMinutes": 60 }),
                ],
            ),
            ("probeTimeoutMs", [json!(1), json!(2)]),
            ("sendReadReceipts", [json!(true), json!(false)]),
            ("sendTransport", [json!("a"), json!({ "b": 1 })]),
            ("defaultTo", [json!("chat_id:1"), json!("+15550001111")]),
            ("streaming", [json!(1), json!("x")]),
        ]
    }

    /// An account setting a random subset of every field, built from [`samples`].
    fn any_account() -> impl Strategy<Value = RawAccount> {
        let count = samples().len();
        proptest::collection::vec(proptest::option::of(0..2usize), count).prop_map(|choices| {
            let object: serde_json::Map<String, serde_json::Value> = samples()
                .into_iter()
                .zip(choices)
                .filter_map(|((key, values), choice)| {
                    let value = values.get(choice?)?.clone();
                    // `null` reads as "not set"; keep it out so "set" stays unambiguous.
                    (!value.is_null()).then(|| (key.to_owned(), value))
                })
                .collect();
            serde_json::from_value(serde_json::Value::Object(object)).unwrap_or_default()
        })
    }

    /// An account as a JSON object of the fields it sets.
    fn fields(account: &RawAccount) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(account) {
            Ok(serde_json::Value::Object(map)) => map,
            other => panic!("an account serializes to an object, got {other:?}"),
        }
    }

    #[test]
    fn the_samples_cover_every_account_field() {
        let schema = crate::schema::json_schema();
        let mut known: Vec<&str> = schema["$defs"]["ImessageAccount"]["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        known.sort_unstable();
        let mut sampled: Vec<&str> = samples().iter().map(|(key, _)| *key).collect();
        sampled.sort_unstable();
        assert_eq!(sampled, known);
        // Every sample is a valid value of its field (a bad one would make `any_account` fall back to empty).
        for (key, values) in samples() {
            for value in values.into_iter().filter(|v| !v.is_null()) {
                let account: RawAccount =
                    serde_json::from_value(serde_json::json!({ key: value.clone() }))
                        .unwrap_or_else(|err| panic!("{key}: {value}: {err}"));
                assert!(fields(&account).contains_key(key), "{key}: {value}");
            }
        }
    }

    proptest! {
        #[test]
        fn every_field_obeys_the_merge_table(top in any_account(), acct in any_account()) {
            let (t, a, m) = (fields(&top), fields(&acct), fields(&merge(&top, &acct)));
            for (key, _) in samples() {
                let expected = match key {
                    // Additive, account first.
                    "attachmentRoots" | "remoteAttachmentRoots" => {
                        let list = |map: &serde_json::Map<String, serde_json::Value>| {
                            map.get(key).and_then(|v| v.as_array()).cloned()
                        };
                        match (list(&a), list(&t)) {
                            (None, None) => None,
                            (x, y) => Some(serde_json::Value::Array(
                                x.unwrap_or_default().into_iter().chain(y.unwrap_or_default()).collect(),
                            )),
                        }
                    }
                    // One level deeper, key by key.
                    "catchup" => match (a.get(key), t.get(key)) {
                        (Some(serde_json::Value::Object(x)), Some(serde_json::Value::Object(y))) => {
                            let mut both = y.clone();
                            both.extend(x.clone());
                            Some(serde_json::Value::Object(both))
                        }
                        (x, y) => x.or(y).cloned(),
                    },
                    // Everything else, allowlists and maps included: the account's value whole, else the section's.
                    _ => a.get(key).or_else(|| t.get(key)).cloned(),
                };
                prop_assert_eq!(m.get(key).cloned(), expected, "field {}", key);
            }
            prop_assert_eq!(merge(&top, &RawAccount::default()), top.clone());
            prop_assert_eq!(merge(&RawAccount::default(), &top), top);
        }
    }

    proptest! {
        #[test]
        fn an_empty_account_is_the_identity(top in account()) {
            prop_assert_eq!(merge(&top, &RawAccount::default()), top.clone());
            prop_assert_eq!(merge(&RawAccount::default(), &top), top);
        }

        #[test]
        fn account_scalars_win(top in account(), acct in account()) {
            let merged = merge(&top, &acct);
            if acct.name.is_some() { prop_assert_eq!(&merged.name, &acct.name); }
            if acct.enabled.is_some() { prop_assert_eq!(merged.enabled, acct.enabled); }
            if acct.cli_path.is_some() { prop_assert_eq!(&merged.cli_path, &acct.cli_path); }
            if acct.dm_policy.is_some() { prop_assert_eq!(merged.dm_policy, acct.dm_policy); }
            if acct.group_policy.is_some() { prop_assert_eq!(merged.group_policy, acct.group_policy); }
            if acct.text_chunk_limit.is_some() { prop_assert_eq!(merged.text_chunk_limit, acct.text_chunk_limit); }
            if acct.history_limit.is_some() { prop_assert_eq!(merged.history_limit, acct.history_limit); }
            // Unset account fields inherit the channel's value.
            if acct.dm_policy.is_none() { prop_assert_eq!(merged.dm_policy, top.dm_policy); }
            if acct.cli_path.is_none() { prop_assert_eq!(&merged.cli_path, &top.cli_path); }
        }

        #[test]
        fn allowlists_are_replaced_never_appended(top in account(), acct in account()) {
            let merged = merge(&top, &acct);
            let expected = if acct.allow_from.is_some() { &acct.allow_from } else { &top.allow_from };
            prop_assert_eq!(&merged.allow_from, expected);
            let expected = if acct.group_allow_from.is_some() { &acct.group_allow_from } else { &top.group_allow_from };
            prop_assert_eq!(&merged.group_allow_from, expected);
            let expected = if acct.groups.is_some() { &acct.groups } else { &top.groups };
            prop_assert_eq!(&merged.groups, expected);
            // In particular the merged list never holds more entries than the list it came from.
            if let (Some(a), Some(m)) = (&acct.allow_from, &merged.allow_from) {
                prop_assert!(m.len() <= a.len());
            }
        }

        #[test]
        fn attachment_roots_are_additive_account_first(top in account(), acct in account()) {
            let merged = merge(&top, &acct);
            let expected: Vec<String> = acct.attachment_roots.iter().chain(top.attachment_roots.iter()).flatten().cloned().collect();
            prop_assert_eq!(merged.attachment_roots.unwrap_or_default(), expected);
        }
    }

    #[test]
    fn legacy_keys_fill_only_what_channels_imessage_lacks() {
        let current = RawImessage {
            cli_path: Some("/new/imsg".to_owned()),
            groups: Some(BTreeMap::from([("1".to_owned(), RawGroup::default())])),
            ..RawImessage::default()
        };
        let legacy = RawImessage {
            cli_path: Some("/old/imsg".to_owned()),
            db_path: Some("/old/chat.db".to_owned()),
            groups: Some(BTreeMap::from([
                (
                    "1".to_owned(),
                    RawGroup {
                        require_mention: Some(false),
                        ..RawGroup::default()
                    },
                ),
                ("2".to_owned(), RawGroup::default()),
            ])),
            ..RawImessage::default()
        };
        let merged = migrate_legacy(current, legacy);
        assert_eq!(merged.cli_path.as_deref(), Some("/new/imsg"));
        assert_eq!(merged.db_path.as_deref(), Some("/old/chat.db"));
        // A field value is taken whole from one side: the legacy section must not add chats (or settings
        // such as a group `allowFrom`) to the groups allowlist under channels.imessage.
        let groups = merged.groups.unwrap_or_default();
        assert_eq!(groups.keys().collect::<Vec<_>>(), ["1"]);
        assert_eq!(groups.get("1").and_then(|g| g.require_mention), None);
    }

    #[test]
    fn legacy_accounts_fill_missing_fields_of_the_same_account() {
        let account = |allow: &[&str], policy: Option<RawDmPolicy>, groups: &[&str]| RawAccount {
            allow_from: Some(
                allow
                    .iter()
                    .map(|a| AllowFromValue((*a).to_owned()))
                    .collect(),
            ),
            dm_policy: policy,
            groups: Some(
                groups
                    .iter()
                    .map(|g| ((*g).to_owned(), RawGroup::default()))
                    .collect(),
            ),
            ..RawAccount::default()
        };
        let current = RawImessage {
            accounts: Some(BTreeMap::from([(
                "work".to_owned(),
                account(&["+15550001111"], None, &["1"]),
            )])),
            ..RawImessage::default()
        };
        let legacy = RawImessage {
            accounts: Some(BTreeMap::from([
                (
                    "work".to_owned(),
                    account(&["*"], Some(Word(DmPolicy::Allowlist)), &["1", "2"]),
                ),
                ("home".to_owned(), account(&["*"], None, &[])),
            ])),
            ..RawImessage::default()
        };
        let merged = migrate_legacy(current, legacy);
        let accounts = merged.accounts.unwrap_or_default();
        assert_eq!(accounts.keys().collect::<Vec<_>>(), ["home", "work"]);
        let work = accounts.get("work").cloned().unwrap_or_default();
        assert_eq!(
            work,
            account(&["+15550001111"], Some(Word(DmPolicy::Allowlist)), &["1"])
        );
    }
}
