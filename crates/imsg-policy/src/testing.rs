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
use crate::settings::{DmPolicy, GroupPolicy};

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
/// `;+;`, mentions, control commands, blank bodies, SMS and iMessage.
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
    )
        .prop_map(
            |(sender, chat_id, is_group, text, service, guid_form, has_media)| {
                let mut m = InboundMessage::new(sender.clone(), text);
                m.chat_id = chat_id;
                m.is_group = is_group;
                m.has_media = has_media;
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
/// 1. under `dmPolicy: "allowlist"` no DM from a sender outside the effective
///    allowlist (`allowFrom` plus this account's pairing approvals) is dispatched;
/// 2. under `dmPolicy: "disabled"` no DM is dispatched or offered pairing;
/// 3. under `groupPolicy: "disabled"` no group message is dispatched;
/// 4. under `groupPolicy: "allowlist"` no group message is dispatched unless
///    the applicable list names the sender or the chat (or holds `*`);
/// 5. control commands run only for senders a handle entry (or, in DMs, a
///    pairing approval) names, unless `commands.useAccessGroups` is off;
/// 6. a pairing approval admits its sender on its own account only, and never to groups.
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
    let fail = |rule: &'static str| {
        Err(InvariantViolation {
            rule,
            detail: format!("{message:?} was decided as {decision}"),
        })
    };
    let Some(sender) = Handle::normalize(&message.sender, &policy.region) else {
        return match decision {
            Decision::Drop(_) => Ok(()),
            _ => fail("a message without a usable sender must drop"),
        };
    };
    let service = message.effective_service();
    let own_pairing = pairing.account_id() == policy.account_id();
    let paired = own_pairing && pairing.is_approved(sender.as_str());
    let names = |list: &[AllowEntry]| naive_names(list, &sender, service);
    let admits = |list: &[AllowEntry]| {
        list.iter().any(|e| matches!(e, AllowEntry::Wildcard))
            || names(list)
            || list.iter().any(|e| naive_names_chat(e, message))
    };

    match &decision {
        Decision::Dispatch(d) if d.chat_type == ChatType::Direct => {
            if policy.dm_policy() == DmPolicy::Disabled {
                return fail("dmPolicy disabled never dispatches");
            }
            if policy.dm_policy() == DmPolicy::Allowlist && !(admits(policy.allow_from()) || paired)
            {
                return fail(
                    "dmPolicy allowlist dispatches only senders in the effective allowlist",
                );
            }
            if d.admitted_by == Admission::Paired && !own_pairing {
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
            if policy.group_policy() == GroupPolicy::Allowlist {
                let own_list = group_own_list(policy, message);
                let list: &[AllowEntry] = match own_list {
                    Some(list) => list,
                    None => policy.group_allow_from().unwrap_or(policy.allow_from()),
                };
                if !admits(list) {
                    return fail("groupPolicy allowlist dispatches only listed senders or chats");
                }
            }
        }
        Decision::Pair(_) => {
            if policy.dm_policy() != DmPolicy::Pairing {
                return fail("only dmPolicy pairing offers pairing");
            }
        }
        Decision::Drop(_) => {}
    }

    // Commands: compute authorization from the raw entries, independently of the engine.
    if let Decision::Dispatch(d) = &decision
        && d.runs_command()
        && policy.commands().use_access_groups
    {
        let group_lists = d.chat_type == ChatType::Group
            && (policy.group_allow_from().is_some_and(names)
                || group_own_list(policy, message).is_some_and(names));
        let dm_pairing = d.chat_type == ChatType::Direct && paired;
        if !(names(policy.allow_from()) || group_lists || dm_pairing) {
            return fail("control commands run only for senders a handle entry names");
        }
    }
    if let Decision::Dispatch(d) = &decision
        && d.command.is_some() != control_command(&message.text, &policy.commands()).is_some()
    {
        return fail("the command reported must be the command the text is");
    }

    // Pairing isolation: approvals on another account change nothing.
    let foreign = PairingSnapshot::from_parts(
        format!("{}-other", policy.account_id()),
        [sender.as_str().to_owned()],
        Vec::new(),
    );
    let empty = PairingSnapshot::new(policy.account_id());
    if decide(policy, message, &DecideContext::new(&foreign, now))
        != decide(policy, message, &DecideContext::new(&empty, now))
    {
        return fail("an approval on another account must not change the decision");
    }
    Ok(())
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

/// The group's own allowFrom that applies to the message's chat, if any.
fn group_own_list<'p>(
    policy: &'p AccessPolicy,
    message: &InboundMessage,
) -> Option<&'p [AllowEntry]> {
    let groups = policy.groups();
    let exact = [
        message.known_chat_id().map(|id| id.to_string()),
        message.chat_guid().map(str::to_owned),
        message.chat_identifier().map(str::to_owned),
    ]
    .into_iter()
    .flatten()
    .find_map(|key| groups.get(&key));
    exact
        .and_then(|r| r.allow_from.as_deref())
        .or_else(|| groups.get("*").and_then(|r| r.allow_from.as_deref()))
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
