//! Property-test kit for users: strategies that draw messages from inside and outside a configuration,
//! and invariant checks to run against one's own resolved policy in CI.
//!
//! Available with the `proptest` cargo feature. The quickest use is one call
//! in a plain test:
//!
//! ```no_run
//! # fn my_policy() -> imsg_policy::AccessPolicy { imsg_policy::AccessPolicy::builder("default").build() }
//! let policy = my_policy(); // e.g. resolved by imsg-config from your config file
//! if let Err(failure) = imsg_policy::testing::check_policy(&policy, 512) {
//!     panic!("{failure}");
//! }
//! ```
//!
//! The complete example a user would put in their CI, which is also a test of
//! this repository (`tests/user_ci_example.rs`):
//!
//! ```rust,no_run
#![doc = include_str!("../tests/user_ci_example.rs")]
//! ```

use std::collections::BTreeSet;

use imsg_target::{AllowEntry, Handle, Service};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use crate::access::AccessPolicy;
use crate::command::control_command;
use crate::decide::{Admission, ChatType, DecideContext, Decision, decide};
use crate::inbound::{InboundMessage, UnixMillis};
use crate::pairing::PairingSnapshot;
use crate::settings::{DmPolicy, GroupPolicy, GroupRule};

/// Senders that no configuration is expected to name.
const FOREIGN_SENDERS: &[&str] = &[
    "+15559990001",
    "+447700900123",
    "stranger@example.net",
    "bob",
];

/// Chat ids that no configuration is expected to name.
const FOREIGN_CHATS: &[i64] = &[900_001, 900_002];

/// Texts every message strategy mixes in: plain, commands (including the
/// switchable ones), blank, and a leaked-output marker.
const TEXTS: &[&str] = &[
    "hello",
    "/status",
    "/help",
    "/config set commands.bash true",
    "/bash rm -rf ~",
    "/think hard",
    "   ",
    "\u{FFFC}",
    "@everyone hi",
];

/// The people and chats a policy names, gathered for the strategies.
#[derive(Debug, Clone, Default)]
struct Universe {
    senders: BTreeSet<String>,
    chats: BTreeSet<i64>,
    mentions: BTreeSet<String>,
}

impl Universe {
    fn of(policy: &AccessPolicy) -> Universe {
        let mut u = Universe::default();
        let mut lists: Vec<&[AllowEntry]> = vec![policy.allow_from()];
        lists.extend(policy.group_allow_from());
        for rule in policy.groups().values() {
            lists.extend(rule.allow_from.as_deref());
        }
        for entry in lists.into_iter().flatten() {
            match entry {
                AllowEntry::Handle { handle, .. } => {
                    u.senders.insert(handle.as_str().to_owned());
                }
                AllowEntry::ChatId(id) => {
                    u.chats.insert(*id);
                }
                _ => {}
            }
        }
        u.chats
            .extend(policy.groups().keys().filter_map(|k| k.parse::<i64>().ok()));
        let mut patterns: Vec<&String> = policy.mention_patterns.patterns().iter().collect();
        for agent in policy.agent_mention_patterns.values() {
            patterns.extend(agent.patterns());
        }
        // A pattern is often a literal (`@clawd`); using it as text gives a mention.
        u.mentions
            .extend(patterns.into_iter().map(|p| format!("{p} hi")));
        u.senders
            .extend(FOREIGN_SENDERS.iter().map(|s| (*s).to_owned()));
        u.chats.extend(FOREIGN_CHATS);
        u
    }
}

/// Inbound messages drawn from inside and outside `policy`: allowlisted and
/// foreign senders, listed and unlisted chats, groups flagged or recognized by
/// `;+;`, mentions, control commands, blank bodies (and attachment-only rows,
/// U+FFFC), rows from this Apple ID, SMS and iMessage.
pub fn inbound_messages(policy: &AccessPolicy) -> impl Strategy<Value = InboundMessage> + use<> {
    let u = Universe::of(policy);
    let senders: Vec<String> = u.senders.into_iter().collect();
    let chats: Vec<i64> = u.chats.into_iter().collect();
    let mut texts: Vec<String> = TEXTS.iter().map(|t| (*t).to_owned()).collect();
    texts.extend(u.mentions);
    let service = prop_oneof![
        Just(None),
        Just(Some(Service::Imessage)),
        Just(Some(Service::Sms))
    ];
    let guid_form = prop_oneof![Just(None), Just(Some("-")), Just(Some("+"))];
    (
        prop::sample::select(senders),
        prop::option::weighted(0.9, prop::sample::select(chats)),
        any::<bool>(),
        prop::sample::select(texts),
        service,
        guid_form,
        any::<bool>(),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(sender, chat_id, is_group, text, service, guid_form, has_media, is_from_me)| {
                let mut m = InboundMessage::new(sender.clone(), text);
                m.chat_id = chat_id;
                m.is_group = is_group;
                m.has_media = has_media;
                m.is_from_me = is_from_me;
                if let Some(form) = guid_form {
                    let prefix = if service == Some(Service::Sms) {
                        "SMS"
                    } else {
                        "iMessage"
                    };
                    let tail = match (form, chat_id) {
                        ("+", Some(id)) => format!("chat{id}"),
                        _ => sender,
                    };
                    m.chat_guid = Some(format!("{prefix};{form};{tail}"));
                } else {
                    m.service = service;
                }
                m
            },
        )
}

/// Pairing snapshots for `policy`'s account and for a foreign one, approving
/// some of the senders the strategies use.
pub fn pairing_snapshots(policy: &AccessPolicy) -> impl Strategy<Value = PairingSnapshot> + use<> {
    let u = Universe::of(policy);
    let senders: Vec<String> = u.senders.into_iter().collect();
    let own = policy.account_id().to_owned();
    let foreign = format!("{own}-other");
    (
        prop::sample::subsequence(senders.clone(), 0..=senders.len().min(3)),
        prop::bool::weighted(0.8),
    )
        .prop_map(move |(approved, mine)| {
            let account = if mine { own.clone() } else { foreign.clone() };
            PairingSnapshot::from_parts(account, approved, Vec::new())
        })
}

/// A policy invariant that a decision broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy invariant violated: {rule}: {detail}")]
#[non_exhaustive]
pub struct InvariantViolation {
    /// Which invariant.
    pub rule: &'static str,
    /// The message and decision that broke it.
    pub detail: String,
}

/// Checks one decision of `policy` against the invariants every configuration must keep:
///
/// 1. under `dmPolicy: "allowlist"` or `"pairing"` no DM from a sender outside
///    the effective allowlist (`allowFrom` plus this account's pairing
///    approvals) is dispatched;
/// 2. under `dmPolicy: "disabled"` no DM is dispatched or offered pairing, and
///    only DMs under `"pairing"` are ever offered pairing;
/// 3. under `groupPolicy: "disabled"` no group message is dispatched, where a
///    message is a group when flagged `is_group`, when its chat is an exact key
///    of `groups`, or when its chat guid or identifier has the `;+;` form; and
///    every message is dispatched as the chat type it is;
/// 4. no group message is dispatched unless the applicable sender list (the
///    group's own `allowFrom`, else under `groupPolicy: "allowlist"` the
///    effective `groupAllowFrom`) names the sender or the chat (or holds `*`),
///    and a non-empty `groups` map admits only the chats it lists (all, with `*`);
/// 5. control commands run only for senders a handle entry (or, in DMs, a
///    pairing approval) names, unless `commands.useAccessGroups` is off, and
///    an unauthorized control command in a group is dropped;
/// 6. a group that requires a mention dispatches only messages a mention
///    pattern matches, or authorized control commands (so only those when no
///    pattern exists);
/// 7. `is_from_me`, a sender that names nobody, and a blank body without
///    media neither reach the agent nor trigger pairing;
/// 8. a pairing approval admits its sender on its own account only, and never to groups.
///
/// # Errors
///
/// The first [`InvariantViolation`] found.
pub fn check_invariants(
    policy: &AccessPolicy,
    message: &InboundMessage,
    pairing: &PairingSnapshot,
    now: UnixMillis,
) -> Result<(), InvariantViolation> {
    let decision = decide(policy, message, &DecideContext::new(pairing, now));
    check_decision(policy, message, pairing, &decision)?;

    // Pairing isolation: approvals on another account change nothing.
    if let Some(sender) = Handle::normalize(&message.sender, &policy.region) {
        let foreign = PairingSnapshot::from_parts(
            format!("{}-other", policy.account_id()),
            [sender.as_str().to_owned()],
            Vec::new(),
        );
        let empty = PairingSnapshot::new(policy.account_id());
        if decide(policy, message, &DecideContext::new(&foreign, now))
            != decide(policy, message, &DecideContext::new(&empty, now))
        {
            return Err(InvariantViolation {
                rule: "an approval on another account must not change the decision",
                detail: format!("{message:?} was decided as {decision}"),
            });
        }
    }
    Ok(())
}

/// Checks a given decision for `message` against the invariants of
/// [`check_invariants`], all but pairing isolation (which decides again).
fn check_decision(
    policy: &AccessPolicy,
    message: &InboundMessage,
    pairing: &PairingSnapshot,
    decision: &Decision,
) -> Result<(), InvariantViolation> {
    let fail = |rule: &'static str| {
        Err(InvariantViolation {
            rule,
            detail: format!("{message:?} was decided as {decision}"),
        })
    };
    let reaches_agent = !matches!(decision, Decision::Drop(_));
    let Some(sender) = Handle::normalize(&message.sender, &policy.region) else {
        return if reaches_agent {
            fail("a message without a usable sender must drop")
        } else {
            Ok(())
        };
    };
    if reaches_agent && message.is_from_me {
        return fail("a message from this Apple ID must drop");
    }
    if reaches_agent && !message.has_media && naive_blank(&message.text) {
        return fail("a message without text or media must drop");
    }
    let service = message.effective_service();
    let own_pairing = pairing.account_id() == policy.account_id();
    let paired = own_pairing && pairing.is_approved(sender.as_str());
    let names = |list: &[AllowEntry]| naive_names(list, &sender, service);
    let admits = |list: &[AllowEntry]| {
        list.iter().any(|e| matches!(e, AllowEntry::Wildcard))
            || names(list)
            || list.iter().any(|e| naive_names_chat(e, message))
    };
    let is_group = naive_is_group(policy, message);
    let (exact, star) = naive_group_rules(policy, message);
    let own_list = exact
        .and_then(|r| r.allow_from.as_deref())
        .or_else(|| star.and_then(|r| r.allow_from.as_deref()));

    match decision {
        Decision::Dispatch(d)
            if d.chat_type
                != if is_group {
                    ChatType::Group
                } else {
                    ChatType::Direct
                } =>
        {
            return fail(
                "a message is a group when flagged, listed in `groups` or of the `;+;` form, and only then",
            );
        }
        Decision::Dispatch(d) if d.chat_type == ChatType::Direct => {
            if policy.dm_policy() == DmPolicy::Disabled {
                return fail("dmPolicy disabled never dispatches");
            }
            if matches!(policy.dm_policy(), DmPolicy::Allowlist | DmPolicy::Pairing)
                && !(admits(policy.allow_from()) || paired)
            {
                return fail(
                    "dmPolicy allowlist or pairing dispatches only senders in the effective allowlist",
                );
            }
            if d.admitted_by == Admission::Paired && !paired {
                return fail("a pairing approval admits on its own account only");
            }
        }
        Decision::Dispatch(d) => {
            if policy.group_policy() == GroupPolicy::Disabled {
                return fail("groupPolicy disabled never dispatches a group message");
            }
            if d.admitted_by == Admission::Paired {
                return fail("a pairing approval never admits to groups");
            }
            let list = match (own_list, policy.group_policy()) {
                (Some(list), _) => Some(list),
                (None, GroupPolicy::Allowlist) => {
                    Some(policy.group_allow_from().unwrap_or(policy.allow_from()))
                }
                (None, _) => None,
            };
            if list.is_some_and(|list| !admits(list)) {
                return fail("a group sender list dispatches only listed senders or chats");
            }
            if !policy.groups().is_empty() && exact.is_none() && star.is_none() {
                return fail("a non-empty groups map dispatches only the chats it lists");
            }
            if d.command.is_some() && !d.command_authorized {
                return fail("an unauthorized control command in a group must drop");
            }
            let require_mention = exact
                .and_then(|r| r.require_mention)
                .or_else(|| star.and_then(|r| r.require_mention))
                .unwrap_or(true);
            let patterns = policy.mention_patterns_for(message.agent_id.as_deref());
            if require_mention
                && !(d.was_mentioned && (patterns.is_match(&message.text) || d.runs_command()))
            {
                return fail(
                    "a group that requires a mention dispatches only mentions and authorized commands",
                );
            }
        }
        Decision::Pair(_) if policy.dm_policy() != DmPolicy::Pairing => {
            return fail("only dmPolicy pairing offers pairing");
        }
        Decision::Pair(_) if is_group => {
            return fail("a group message is never offered pairing");
        }
        _ => {}
    }

    // Commands: compute authorization from the raw entries, independently of the engine.
    if let Decision::Dispatch(d) = decision
        && d.runs_command()
        && policy.commands().use_access_groups
    {
        let group_lists = d.chat_type == ChatType::Group
            && (policy.group_allow_from().is_some_and(names) || own_list.is_some_and(names));
        let dm_pairing = d.chat_type == ChatType::Direct && paired;
        if !(names(policy.allow_from()) || group_lists || dm_pairing) {
            return fail("control commands run only for senders a handle entry names");
        }
    }
    if let Decision::Dispatch(d) = decision
        && d.command.is_some() != control_command(&message.text, &policy.commands()).is_some()
    {
        return fail("the command reported must be the command the text is");
    }
    Ok(())
}

/// Whether `text` shows nothing, by a plain scan: only whitespace, control,
/// zero-width and formatting characters, and U+FFFC.
fn naive_blank(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '\u{200B}'..='\u{200F}'
                    | '\u{202A}'..='\u{202E}'
                    | '\u{2060}'..='\u{206F}'
                    | '\u{FEFF}'
                    | '\u{FFFC}'
                    | '\u{FFFD}'
            )
    })
}

/// Whether the message is a group: flagged, an exact key of `groups`, or of the `;+;` form.
fn naive_is_group(policy: &AccessPolicy, message: &InboundMessage) -> bool {
    let group_form = [message.chat_guid(), message.chat_identifier()]
        .into_iter()
        .flatten()
        .any(|s| s.contains(";+;"));
    message.is_group || group_form || naive_group_rules(policy, message).0.is_some()
}

/// The exact `groups` entry of the message's chat (by chat id, else guid, else
/// identifier; a key spelling a chat id names only that chat id), and the `*` entry.
fn naive_group_rules<'p>(
    policy: &'p AccessPolicy,
    message: &InboundMessage,
) -> (Option<&'p GroupRule>, Option<&'p GroupRule>) {
    let groups = policy.groups();
    let is_chat_id_key = |key: &str| key.parse::<i64>().is_ok_and(|id| id.to_string() == key);
    let by_id = message
        .known_chat_id()
        .and_then(|id| groups.get(&id.to_string()));
    let by_name = [message.chat_guid(), message.chat_identifier()]
        .into_iter()
        .flatten()
        .filter(|key| *key != "*" && !is_chat_id_key(key))
        .find_map(|key| groups.get(key));
    (by_id.or(by_name), groups.get("*"))
}

/// Whether a handle entry of `list` names `sender` over `service`, by a plain scan.
fn naive_names(list: &[AllowEntry], sender: &Handle, service: Option<Service>) -> bool {
    list.iter().any(|e| match e {
        AllowEntry::Handle {
            handle,
            service: None | Some(Service::Auto),
        } => handle == sender,
        AllowEntry::Handle {
            handle,
            service: Some(s),
        } => handle == sender && service == Some(*s),
        _ => false,
    })
}

/// Whether a chat entry names the message's chat, by a plain comparison.
fn naive_names_chat(entry: &AllowEntry, message: &InboundMessage) -> bool {
    match entry {
        AllowEntry::ChatId(id) => message.known_chat_id() == Some(*id),
        AllowEntry::ChatGuid(g) => message.chat_guid() == Some(g.as_str()),
        AllowEntry::ChatIdentifier(i) => message.chat_identifier() == Some(i.as_str()),
        _ => false,
    }
}

/// A failed [`check_policy`] run, with the smallest counterexample proptest found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct PolicyCheckFailure {
    /// The broken invariant and the minimal input, as one line.
    reason: String,
}

/// Runs `cases` random messages and pairing snapshots through [`check_invariants`].
///
/// # Errors
///
/// A [`PolicyCheckFailure`] describing the minimal failing message.
pub fn check_policy(policy: &AccessPolicy, cases: u32) -> Result<(), PolicyCheckFailure> {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        inbound_messages(policy),
        pairing_snapshots(policy),
        any::<i64>(),
    );
    runner
        .run(&strategy, |(message, pairing, now)| {
            check_invariants(policy, &message, &pairing, UnixMillis::new(now))
                .map_err(|v| TestCaseError::fail(v.to_string()))
        })
        .map_err(|err| PolicyCheckFailure {
            reason: match err {
                TestError::Fail(reason, (message, pairing, _)) => {
                    format!("{reason} (minimal input: {message:?} with {pairing:?})")
                }
                TestError::Abort(reason) => format!("policy check aborted: {reason}"),
            },
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use imsg_target::{AllowEntry, Handle, Region};

    use super::{check_decision, check_policy};
    use crate::{
        AccessPolicy, Admission, ChatType, Decision, Dispatch, DmPolicy, GroupPolicy, GroupRule,
        InboundMessage, MentionPatterns, PairRequest, PairingSnapshot, PendingState, SessionPeer,
    };

    fn entry(raw: &str) -> AllowEntry {
        AllowEntry::parse(raw, &Region::default()).unwrap()
    }

    fn forged_dispatch(
        chat_type: ChatType,
        sender: &str,
        command: Option<&'static str>,
        authorized: bool,
    ) -> Decision {
        let sender = Handle::normalize(sender, &Region::default()).unwrap();
        Decision::Dispatch(Dispatch {
            chat_type,
            peer: match chat_type {
                ChatType::Group => SessionPeer::Group { chat_id: 42 },
                ChatType::Direct => SessionPeer::Direct {
                    sender: sender.clone(),
                },
            },
            sender,
            chat_id: Some(42),
            admitted_by: Admission::Open,
            command,
            command_authorized: authorized,
            was_mentioned: true,
            system_prompt: None,
        })
    }

    /// Wrong decisions an engine bug could produce: the checks must catch each one.
    #[test]
    fn the_checks_reject_forged_wrong_decisions() {
        let open_dms = AccessPolicy::builder("default")
            .dm_policy(DmPolicy::Open)
            .group_policy(GroupPolicy::Disabled)
            .build();
        let pairing_dms = AccessPolicy::builder("default")
            .allow_from(vec![entry("+15550001111")])
            .build();
        let open_groups = AccessPolicy::builder("default")
            .group_policy(GroupPolicy::Open)
            .groups(BTreeMap::from([(
                "*".to_owned(),
                GroupRule {
                    require_mention: Some(false),
                    ..GroupRule::default()
                },
            )]))
            .build();
        let listed_groups = AccessPolicy::builder("default")
            .group_policy(GroupPolicy::Open)
            .groups(BTreeMap::from([("7".to_owned(), GroupRule::default())]))
            .mention_patterns(MentionPatterns::compile(&["@bot"]).unwrap())
            .build();
        let mention_no_patterns = AccessPolicy::builder("default")
            .group_policy(GroupPolicy::Open)
            .build();
        let stranger = "+15559990001";
        let group = InboundMessage::new(stranger, "hello")
            .with_chat_id(42)
            .with_group(true);
        let two_person_group = InboundMessage::new(stranger, "hello")
            .with_chat_id(42)
            .with_chat_guid("iMessage;+;chat42");
        let dm = InboundMessage::new(stranger, "hello").with_chat_id(42);
        let cases = [
            (
                "a flagged group dispatched as a DM under groupPolicy disabled",
                &open_dms,
                group.clone(),
                forged_dispatch(ChatType::Direct, stranger, None, false),
            ),
            (
                "a `;+;` group dispatched as a DM under groupPolicy disabled",
                &open_dms,
                two_person_group,
                forged_dispatch(ChatType::Direct, stranger, None, false),
            ),
            (
                "a stranger's DM dispatched under pairing",
                &pairing_dms,
                dm.clone(),
                forged_dispatch(ChatType::Direct, stranger, None, false),
            ),
            (
                "an unauthorized control command dispatched in a group",
                &open_groups,
                InboundMessage::new(stranger, "/status")
                    .with_chat_id(42)
                    .with_group(true),
                forged_dispatch(ChatType::Group, stranger, Some("status"), false),
            ),
            (
                "a row from this Apple ID dispatched",
                &open_dms,
                dm.clone().with_from_me(true),
                forged_dispatch(ChatType::Direct, stranger, None, false),
            ),
            (
                "an attachment placeholder without media dispatched",
                &open_dms,
                InboundMessage::new(stranger, "\u{FFFC}").with_chat_id(42),
                forged_dispatch(ChatType::Direct, stranger, None, false),
            ),
            (
                "a chat the groups map does not list dispatched",
                &listed_groups,
                InboundMessage::new(stranger, "@bot hi")
                    .with_chat_id(42)
                    .with_group(true),
                forged_dispatch(ChatType::Group, stranger, None, false),
            ),
            (
                "a group message dispatched without a mention pattern",
                &mention_no_patterns,
                group.clone(),
                forged_dispatch(ChatType::Group, stranger, None, false),
            ),
            (
                "a group message offered pairing",
                &pairing_dms,
                group,
                Decision::Pair(PairRequest {
                    sender_id: Handle::normalize(stranger, &Region::default()).unwrap(),
                    chat_id: Some(42),
                    pending: PendingState::New,
                }),
            ),
        ];
        let pairing = PairingSnapshot::new("default");
        for (name, policy, message, decision) in cases {
            assert!(
                check_decision(policy, &message, &pairing, &decision).is_err(),
                "{name}: {decision} passed the checks"
            );
        }
    }

    #[test]
    fn the_engine_passes_its_own_checks_on_these_policies() {
        let policies = [
            AccessPolicy::builder("default").build(),
            AccessPolicy::builder("default")
                .dm_policy(DmPolicy::Open)
                .group_policy(GroupPolicy::Open)
                .allow_from(vec![entry("*"), entry("+15550001111")])
                .build(),
            AccessPolicy::builder("work")
                .dm_policy(DmPolicy::Pairing)
                .allow_from(vec![entry("sms:+15550001111"), entry("chat_id:9")])
                .group_allow_from(Some(vec![entry("chat_id:42")]))
                .groups(BTreeMap::from([(
                    "42".to_owned(),
                    GroupRule {
                        require_mention: Some(true),
                        allow_from: Some(vec![entry("+15550002222")]),
                        ..GroupRule::default()
                    },
                )]))
                .mention_patterns(MentionPatterns::compile(&["@bot"]).unwrap())
                .build(),
        ];
        for policy in &policies {
            if let Err(failure) = check_policy(policy, 512) {
                panic!("{failure}");
            }
        }
    }
}
