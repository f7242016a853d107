//! The outbound check: may the agent send to this target?

use imsg_target::{AllowEntry, Handle, Service, Target};

use crate::access::AccessPolicy;
use crate::allowlist::{AllowSet, ChatFacts};
use crate::decide::ChatType;
use crate::inbound::service_from_chat_guid;
use crate::pairing::PairingSnapshot;
use crate::settings::{DmPolicy, GroupPolicy};

/// A send was refused by the account's policy. The texts are the newest anchor's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// A chat target while `groupPolicy` is disabled.
    #[error("iMessage outbound blocked: group targets are disabled")]
    GroupsDisabled,
    /// A chat target under `groupPolicy: "allowlist"` with an empty group allowlist.
    #[error("iMessage outbound blocked: channels.imessage.groupAllowFrom is empty")]
    GroupAllowlistEmpty,
    /// A chat target the group allowlist does not name.
    #[error("iMessage outbound blocked: target is not in channels.imessage.groupAllowFrom")]
    NotInGroupAllowFrom,
    /// A chat target that a non-empty `groups` map (without `*`) does not list. Inbound
    /// messages of such a chat are dropped, so the agent may not start a conversation there.
    #[error("iMessage outbound blocked: target is not in channels.imessage.groups")]
    NotInGroups,
    /// A handle target while `allowFrom` and `defaultTo` are both empty.
    #[error("iMessage outbound blocked: channels.imessage.allowFrom/defaultTo is empty")]
    DmAllowlistEmpty,
    /// A handle target that neither `allowFrom` nor `defaultTo` names.
    #[error("iMessage outbound blocked: target is not in channels.imessage.allowFrom/defaultTo")]
    NotInAllowFrom,
}

/// The inbound message a send answers, when it is a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyOrigin {
    /// The conversation the inbound message came from, as a send target.
    pub target: Target,
    /// Whether that conversation is direct or a group (as [`decide`](crate::decide) found).
    pub chat_type: ChatType,
    /// Its normalized sender.
    pub sender: Handle,
}

/// Checks whether the agent may send to `target` under `policy`.
///
/// - A reply into the conversation it answers (`origin.target == target`) is
///   checked as that conversation: a direct one by the DM rules applied to
///   the sender, a group by the group rules, where the group allowlist may
///   name either the chat or the sender.
/// - Any other chat target (`chat_id:`, `chat_guid:`, `chat_identifier:`)
///   counts as a group: refused under `groupPolicy: "disabled"`, and when a
///   non-empty `groups` map without `*` does not list it; under
///   `"allowlist"` the list inbound messages of that chat are checked against
///   (the group's own `allowFrom`, else the effective `groupAllowFrom`) must
///   name the chat or hold `*`. A `*` that reaches groups only through the
///   `allowFrom` fallback does not count here: a DM wildcard never lets the
///   agent start a group conversation.
/// - Any other handle target is free under `dmPolicy: "open"`; otherwise the
///   handle must be named by `allowFrom` (`*` counts) or `defaultTo`, or be
///   approved by pairing on this account.
///
/// # Errors
///
/// An [`OutboundError`] naming the rule that refused the send.
pub fn check_outbound(
    policy: &AccessPolicy,
    target: &Target,
    origin: Option<&ReplyOrigin>,
    pairing: &PairingSnapshot,
) -> Result<(), OutboundError> {
    let reply = origin.filter(|o| o.target == *target);
    match (reply, target) {
        (Some(o), _) if o.chat_type == ChatType::Direct => {
            check_direct(policy, &o.sender, None, &chat_facts(target), pairing, true)
        }
        (Some(o), _) => check_group(policy, target, Some(&o.sender)),
        (None, Target::Handle { to, service }) => {
            let Some(handle) = Handle::normalize(to, &policy.region) else {
                return Err(OutboundError::NotInAllowFrom);
            };
            let service = match service {
                Service::Auto => None,
                known => Some(*known),
            };
            check_direct(
                policy,
                &handle,
                service,
                &ChatFacts::default(),
                pairing,
                false,
            )
        }
        (None, chat) => check_group(policy, chat, None),
    }
}

/// The chat facts a target names.
fn chat_facts(target: &Target) -> ChatFacts<'_> {
    match target {
        Target::ChatId(id) => ChatFacts {
            chat_id: Some(*id),
            ..ChatFacts::default()
        },
        Target::ChatGuid(guid) => ChatFacts {
            chat_guid: Some(guid.as_str()),
            ..ChatFacts::default()
        },
        Target::ChatIdentifier(ident) => ChatFacts {
            chat_identifier: Some(ident.as_str()),
            ..ChatFacts::default()
        },
        Target::Handle { .. } => ChatFacts::default(),
    }
}

/// The rules for group conversations; `sender` is the sender replied to, if any.
///
/// The list is the one [`decide`](crate::decide) applies to the chat: the
/// group's own `allowFrom` (exact entry, else `*`), else the effective
/// `groupAllowFrom`.
fn check_group(
    policy: &AccessPolicy,
    target: &Target,
    sender: Option<&Handle>,
) -> Result<(), OutboundError> {
    if policy.group_policy == GroupPolicy::Disabled {
        return Err(OutboundError::GroupsDisabled);
    }
    let facts = chat_facts(target);
    // A non-empty `groups` map is an allowlist of chats under every group policy, exactly as
    // `decide` applies it to inbound messages.
    if policy.groups_is_allowlist()
        && policy.groups_wildcard.is_none()
        && policy.lookup_group(&facts).is_none()
    {
        return Err(OutboundError::NotInGroups);
    }
    if policy.group_policy == GroupPolicy::Open {
        return Ok(());
    }
    let own_list = policy
        .lookup_group(&facts)
        .and_then(|g| g.allow_from.as_ref())
        .or_else(|| {
            policy
                .groups_wildcard
                .as_ref()
                .and_then(|g| g.allow_from.as_ref())
        });
    let (list, dm_fallback) = match own_list {
        Some(list) => (list, false),
        None => (
            policy.effective_group_allow(),
            policy.group_allow_from.is_none(),
        ),
    };
    if list.is_empty() {
        return Err(OutboundError::GroupAllowlistEmpty);
    }
    // A `*` of `allowFrom` reached through the fallback admits inbound group
    // messages, so replies to them pass; it never lets the agent start a
    // group conversation (field report 3.2.6: a DM wildcard must not
    // authorize agent-initiated group sends).
    let wildcard = list.has_wildcard() && (sender.is_some() || !dm_fallback);
    let service = facts.chat_guid.and_then(service_from_chat_guid);
    if wildcard
        || list.has_chat(&facts)
        || sender.is_some_and(|s| list.has_handle(s.as_str(), service))
    {
        Ok(())
    } else {
        Err(OutboundError::NotInGroupAllowFrom)
    }
}

/// The rules for direct conversations with `handle` over `service` (`None` = automatic).
///
/// A `reply` answers a DM that [`decide`](crate::decide) dispatched, so a
/// pairing approval of this account counts under every DM policy, as it does
/// there; an agent-initiated send reaches approved senders only under `pairing`.
fn check_direct(
    policy: &AccessPolicy,
    handle: &Handle,
    service: Option<Service>,
    chat: &ChatFacts<'_>,
    pairing: &PairingSnapshot,
    reply: bool,
) -> Result<(), OutboundError> {
    if policy.dm_policy == DmPolicy::Open {
        return Ok(());
    }
    let paired = (reply || policy.dm_policy == DmPolicy::Pairing)
        && pairing.account_id() == policy.account_id
        && pairing.is_approved(handle.as_str());
    let default_to = match &policy.default_to {
        Some(Target::Handle { to, .. }) => Handle::normalize(to, &policy.region),
        _ => None,
    };
    if admits_handle(&policy.allow_from, handle, service)
        || policy.allow_from.has_chat(chat)
        || default_to.as_ref() == Some(handle)
        || paired
    {
        return Ok(());
    }
    if policy.allow_from.is_empty() && policy.default_to.is_none() {
        Err(OutboundError::DmAllowlistEmpty)
    } else {
        Err(OutboundError::NotInAllowFrom)
    }
}

/// Whether `list` names `handle` for a send over `service` (`None` = automatic).
///
/// A service-restricted entry matches an automatic send too: the target is
/// the same person, and `imsg` picks the service.
fn admits_handle(list: &AllowSet, handle: &Handle, service: Option<Service>) -> bool {
    if list.has_wildcard() || list.has_handle(handle.as_str(), service) {
        return true;
    }
    service.is_none()
        && list
            .entries()
            .iter()
            .any(|e| matches!(e, AllowEntry::Handle { handle: h, service: Some(_) } if h == handle))
}
