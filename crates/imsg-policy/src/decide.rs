//! The inbound decision: dispatch, pair or drop, with the chain of checks that led there.

use std::fmt;
use std::sync::Arc;

use imsg_target::{Handle, Service};

use crate::access::{AccessPolicy, CompiledGroup};
use crate::allowlist::{AllowMatch, AllowSet, ChatFacts};
use crate::command::control_command;
use crate::echo::{EchoMatch, LoopGuard, RecentSends, is_invisible};
use crate::inbound::{InboundMessage, UnixMillis};
use crate::pairing::{PairingSnapshot, PendingState};
use crate::settings::{DmPolicy, GroupPolicy};

/// What happens to one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand the message to the agent.
    Dispatch(Dispatch),
    /// An unknown DM sender under `dmPolicy: "pairing"`: run the pairing state
    /// machine ([`PairingSnapshot::request`]); the message itself is never processed.
    Pair(PairRequest),
    /// Ignore the message, for this reason.
    Drop(DropReason),
}

impl Decision {
    /// The drop reason, if this is a drop.
    pub fn drop_reason(&self) -> Option<DropReason> {
        match self {
            Decision::Drop(reason) => Some(*reason),
            _ => None,
        }
    }

    /// Whether the message goes to the agent.
    pub fn is_dispatch(&self) -> bool {
        matches!(self, Decision::Dispatch(_))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Dispatch(d) => write!(
                f,
                "dispatch ({}, {})",
                d.peer,
                if d.command_authorized {
                    "commands authorized"
                } else {
                    "commands not authorized"
                }
            ),
            Decision::Pair(p) => write!(f, "pair (sender `{}`)", p.sender_id),
            Decision::Drop(reason) => write!(f, "drop ({reason})"),
        }
    }
}

/// Whether the conversation is a direct one or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatType {
    /// A one-to-one conversation.
    Direct,
    /// A group conversation.
    Group,
}

/// Who the session belongs to: the facts the channel builds its session key from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionPeer {
    /// A group, by chat id (`agent:<agent>:imessage:group:<chat_id>`).
    Group {
        /// The chat row id.
        chat_id: i64,
    },
    /// A direct conversation, by the normalized sender.
    Direct {
        /// The normalized sender handle.
        sender: Handle,
    },
}

impl fmt::Display for SessionPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionPeer::Group { chat_id } => write!(f, "group {chat_id}"),
            SessionPeer::Direct { sender } => write!(f, "direct {sender}"),
        }
    }
}

/// How the sender or chat got past the access checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Admission {
    /// The applicable list contains `*`.
    Wildcard,
    /// A handle entry names the sender.
    Handle,
    /// A chat entry names the conversation.
    Chat,
    /// The sender was approved by pairing on this account.
    Paired,
    /// The policy admits everyone (`dmPolicy` or `groupPolicy` open).
    Open,
}

impl fmt::Display for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Admission::Wildcard => "wildcard `*`",
            Admission::Handle => "sender entry",
            Admission::Chat => "chat entry",
            Admission::Paired => "pairing approval",
            Admission::Open => "open policy",
        })
    }
}

impl From<AllowMatch> for Admission {
    fn from(m: AllowMatch) -> Self {
        match m {
            AllowMatch::Wildcard => Admission::Wildcard,
            AllowMatch::Handle => Admission::Handle,
            AllowMatch::Chat => Admission::Chat,
        }
    }
}

/// Everything the channel needs to hand an admitted message to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// Direct or group (a group may have come in with `is_group: false`).
    pub chat_type: ChatType,
    /// The session owner.
    pub peer: SessionPeer,
    /// The normalized sender.
    pub sender: Handle,
    /// The chat row id, when known (always known for groups).
    pub chat_id: Option<i64>,
    /// How the message was admitted.
    pub admitted_by: Admission,
    /// The canonical name of the control command the text is, if any.
    pub command: Option<&'static str>,
    /// Whether this sender may run control commands here. When false the
    /// gateway must treat a command as ordinary text.
    pub command_authorized: bool,
    /// Whether the message counts as mentioning the assistant (always true in
    /// DMs; true in groups for a pattern match or an authorized command).
    pub was_mentioned: bool,
    /// The group's `systemPrompt`: the exact entry's when it has one (even blank), else `*`'s.
    pub system_prompt: Option<Arc<str>>,
}

impl Dispatch {
    /// Whether the message should be executed as a control command.
    pub fn runs_command(&self) -> bool {
        self.command.is_some() && self.command_authorized
    }
}

/// An unknown DM sender who should be offered pairing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRequest {
    /// The normalized sender id the request is filed under.
    pub sender_id: Handle,
    /// The DM's chat id, where the pairing reply should go when known.
    pub chat_id: Option<i64>,
    /// What the pairing snapshot says about this sender right now.
    pub pending: PendingState,
}

/// Why a message was dropped.
///
/// The `Display` texts of the variants shared with the newest anchor are its
/// drop reasons, word for word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The sender is empty.
    MissingSender,
    /// The sender names nobody (no letter or digit).
    InvalidSender,
    /// `is_from_me` is set: our own Apple ID sent it.
    FromMe,
    /// The message is one of our own sends coming back.
    Echo,
    /// The text carries markers of leaked assistant output (an agent loop through another bot).
    ReflectedAssistantContent,
    /// The chat's loop guard has tripped after repeated echo-type drops.
    LoopSuppressed,
    /// Neither text nor forwardable media.
    EmptyBody,
    /// A group message without a chat id: nowhere to reply.
    GroupWithoutChatId,
    /// `groupPolicy: "disabled"`.
    GroupPolicyDisabled,
    /// `groupPolicy: "allowlist"` with an empty effective group allowlist.
    GroupAllowlistEmpty,
    /// The sender and chat are not in the effective group allowlist.
    NotInGroupAllowFrom,
    /// The `groups` map is non-empty and lists neither this chat nor `*`.
    GroupNotInAllowlist,
    /// `dmPolicy: "disabled"`.
    DmPolicyDisabled,
    /// `dmPolicy: "allowlist"` and the sender is not admitted.
    DmPolicyBlocked,
    /// A control command in a group from a sender who may not run commands.
    ControlCommandUnauthorized,
    /// The group requires a mention and no pattern matched.
    NoMention,
    /// The group requires a mention and the agent has no mention pattern at all.
    NoMentionPatterns,
}

impl DropReason {
    /// The reason as one short phrase (the anchor's wording where it has one).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingSender => "missing sender",
            Self::InvalidSender => "invalid sender",
            Self::FromMe => "from me",
            Self::Echo => "echo",
            Self::ReflectedAssistantContent => "reflected assistant content",
            Self::LoopSuppressed => "loop guard tripped",
            Self::EmptyBody => "empty body",
            Self::GroupWithoutChatId => "group without chat_id",
            Self::GroupPolicyDisabled => "groupPolicy disabled",
            Self::GroupAllowlistEmpty => "groupPolicy allowlist (empty groupAllowFrom)",
            Self::NotInGroupAllowFrom => "not in groupAllowFrom",
            Self::GroupNotInAllowlist => "group id not in allowlist",
            Self::DmPolicyDisabled => "dmPolicy disabled",
            Self::DmPolicyBlocked => "dmPolicy blocked",
            Self::ControlCommandUnauthorized => "control command (unauthorized)",
            Self::NoMention => "no mention",
            Self::NoMentionPatterns => "mention required but no mention patterns",
        }
    }

    /// Whether this drop counts towards the loop guard.
    pub fn is_echo_type(self) -> bool {
        matches!(self, Self::Echo | Self::ReflectedAssistantContent)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state `decide` reads besides the policy and the message.
///
/// Nothing here is modified by deciding: the channel updates the pairing
/// snapshot, the recent sends and the loop guard itself.
#[derive(Debug, Clone, Copy)]
pub struct DecideContext<'a> {
    /// The pairing state of the policy's account.
    pub pairing: &'a PairingSnapshot,
    /// Our recent sends, for echo matching.
    pub recent_sends: Option<&'a RecentSends>,
    /// The per-chat loop limiter.
    pub loop_guard: Option<&'a LoopGuard>,
    /// The current time.
    pub now: UnixMillis,
}

impl<'a> DecideContext<'a> {
    /// A context with a pairing snapshot and the time, and no echo or loop state.
    pub fn new(pairing: &'a PairingSnapshot, now: UnixMillis) -> DecideContext<'a> {
        DecideContext {
            pairing,
            recent_sends: None,
            loop_guard: None,
            now,
        }
    }

    /// Adds the recent own sends.
    pub fn with_recent_sends(mut self, sends: &'a RecentSends) -> DecideContext<'a> {
        self.recent_sends = Some(sends);
        self
    }

    /// Adds the loop guard.
    pub fn with_loop_guard(mut self, guard: &'a LoopGuard) -> DecideContext<'a> {
        self.loop_guard = Some(guard);
        self
    }
}

/// One check in the chain, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The sender is present and names someone.
    Sender,
    /// The message was not sent by our own Apple ID.
    FromMe,
    /// The message is not an echo of our own send.
    Echo,
    /// The text shows no leaked assistant markers.
    Reflection,
    /// The chat's loop guard is not tripped.
    LoopGuard,
    /// The message has text or media.
    Body,
    /// Direct or group.
    ChatType,
    /// A group has a chat id.
    GroupChatId,
    /// `groupPolicy`.
    GroupPolicy,
    /// The sender allowlist that applies to this group.
    GroupAllowlist,
    /// The `groups` map as an allowlist.
    GroupsMap,
    /// Control-command authorization.
    ControlCommand,
    /// Mention gating.
    Mention,
    /// `dmPolicy`.
    DmPolicy,
    /// DM admission: allowlist, pairing approvals, open.
    DmAdmission,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::Sender => "sender",
            Check::FromMe => "from me",
            Check::Echo => "echo",
            Check::Reflection => "reflection",
            Check::LoopGuard => "loop guard",
            Check::Body => "body",
            Check::ChatType => "chat type",
            Check::GroupChatId => "group chat id",
            Check::GroupPolicy => "groupPolicy",
            Check::GroupAllowlist => "group allowlist",
            Check::GroupsMap => "groups map",
            Check::ControlCommand => "control command",
            Check::Mention => "mention",
            Check::DmPolicy => "dmPolicy",
            Check::DmAdmission => "dm admission",
        })
    }
}

/// One step of an explanation: a check, whether it let the message through, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The check.
    pub check: Check,
    /// True when the message passed on to the next check.
    pub passed: bool,
    /// What the check saw.
    pub detail: String,
}

/// A decision with the chain of checks that led to it, for `policy explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The decision, identical to what [`decide`] returns.
    pub decision: Decision,
    /// The checks in order; the last one decided.
    pub steps: Vec<Step>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "decision: {}", self.decision)?;
        for (i, step) in self.steps.iter().enumerate() {
            let verdict = if step.passed { "pass" } else { "decides" };
            writeln!(
                f,
                "{:>3}. {:<16} {:<8} {}",
                i + 1,
                step.check.to_string(),
                verdict,
                step.detail
            )?;
        }
        Ok(())
    }
}

/// Decides what happens to `message` under `policy`.
///
/// Pure and total: no I/O, no clock, no panic, no error. Anything doubtful is
/// a [`Decision::Drop`] with its reason. The order of checks is written out in
/// `docs/policy.md`.
pub fn decide(
    policy: &AccessPolicy,
    message: &InboundMessage,
    ctx: &DecideContext<'_>,
) -> Decision {
    evaluate(policy, message, ctx, &mut NoTrace)
}

/// Like [`decide`], and also returns every check made and what it saw.
pub fn decide_explained(
    policy: &AccessPolicy,
    message: &InboundMessage,
    ctx: &DecideContext<'_>,
) -> Explanation {
    let mut trace = Steps(Vec::new());
    let decision = evaluate(policy, message, ctx, &mut trace);
    Explanation {
        decision,
        steps: trace.0,
    }
}

/// Receives the checks as they are made; the no-op version compiles away.
trait Trace {
    /// Records a check; `detail` is only called when the trace keeps details.
    fn step(&mut self, check: Check, passed: bool, detail: impl FnOnce() -> String);
}

/// Keeps nothing: what [`decide`] uses.
struct NoTrace;

impl Trace for NoTrace {
    #[inline(always)]
    fn step(&mut self, _: Check, _: bool, _: impl FnOnce() -> String) {}
}

/// Keeps every step: what [`decide_explained`] uses.
struct Steps(Vec<Step>);

impl Trace for Steps {
    fn step(&mut self, check: Check, passed: bool, detail: impl FnOnce() -> String) {
        self.0.push(Step {
            check,
            passed,
            detail: detail(),
        });
    }
}

/// Records a deciding step and returns the drop.
fn drop_at<T: Trace>(
    trace: &mut T,
    check: Check,
    reason: DropReason,
    detail: impl FnOnce() -> String,
) -> Decision {
    trace.step(check, false, detail);
    Decision::Drop(reason)
}

/// The decision procedure shared by [`decide`] and [`decide_explained`].
fn evaluate<T: Trace>(
    policy: &AccessPolicy,
    message: &InboundMessage,
    ctx: &DecideContext<'_>,
    trace: &mut T,
) -> Decision {
    let raw_sender = message.sender.trim();
    if raw_sender.is_empty() {
        return drop_at(trace, Check::Sender, DropReason::MissingSender, || {
            "the sender is empty".into()
        });
    }
    if message.is_from_me {
        return drop_at(trace, Check::FromMe, DropReason::FromMe, || {
            "`is_from_me` is set".into()
        });
    }
    trace.step(Check::FromMe, true, || "not from this Apple ID".into());

    if let Some(sends) = ctx.recent_sends
        && let Some(echo) = sends.echo_of(message, ctx.now)
    {
        return drop_at(trace, Check::Echo, DropReason::Echo, || match echo {
            EchoMatch::Guid => "the guid is one of our recent sends".into(),
            EchoMatch::Text => "the text equals a recent send to this chat".into(),
        });
    }
    trace.step(Check::Echo, true, || match ctx.recent_sends {
        Some(_) => "not one of our recent sends".into(),
        None => "no recent sends were given".into(),
    });

    if let Some(marker) = reflection_marker(&message.text) {
        return drop_at(
            trace,
            Check::Reflection,
            DropReason::ReflectedAssistantContent,
            || format!("the text contains `{marker}` outside code"),
        );
    }

    trace.step(Check::Reflection, true, || {
        "no leaked assistant markers".into()
    });

    if let Some(guard) = ctx.loop_guard
        && guard.is_tripped(message, ctx.now)
    {
        return drop_at(trace, Check::LoopGuard, DropReason::LoopSuppressed, || {
            "too many echo-type drops in this chat within the last minute".into()
        });
    }

    trace.step(Check::LoopGuard, true, || match ctx.loop_guard {
        Some(_) => "not tripped for this chat".into(),
        None => "no loop guard was given".into(),
    });

    let blank_text = is_blank_text(&message.text);
    if blank_text && !message.has_media {
        return drop_at(trace, Check::Body, DropReason::EmptyBody, || {
            "no text and no forwardable media".into()
        });
    }

    trace.step(Check::Body, true, || {
        if blank_text {
            "media without text".into()
        } else {
            "has text".into()
        }
    });

    let Some(sender) = Handle::normalize(raw_sender, &policy.region) else {
        return drop_at(trace, Check::Sender, DropReason::InvalidSender, || {
            format!("`{raw_sender}` names nobody")
        });
    };
    trace.step(Check::Sender, true, || format!("`{sender}`"));

    let service = message.effective_service();
    let chat = ChatFacts {
        chat_id: message.known_chat_id(),
        chat_guid: message.chat_guid(),
        chat_identifier: message.chat_identifier(),
    };
    let exact_group = policy.lookup_group(&chat);
    let group_form = [chat.chat_guid, chat.chat_identifier]
        .into_iter()
        .flatten()
        .any(|s| s.contains(";+;"));
    let is_group = message.is_group || exact_group.is_some() || group_form;
    trace.step(Check::ChatType, true, || {
        if !is_group {
            "direct: not flagged as a group, not listed in `groups`, no `;+;` chat".into()
        } else if message.is_group {
            "group: `is_group` is set".into()
        } else if let Some(g) = exact_group {
            format!("group: listed in `groups` as `{}`", g.key)
        } else {
            "group: the chat guid or identifier has the `;+;` form".into()
        }
    });

    let facts = Facts {
        policy,
        message,
        ctx,
        sender,
        service,
        chat,
    };
    if is_group {
        facts.group(exact_group, trace)
    } else {
        facts.direct(trace)
    }
}

/// The facts established by the common checks, shared by the group and DM paths.
struct Facts<'p, 'm, 'c> {
    policy: &'p AccessPolicy,
    message: &'m InboundMessage,
    ctx: &'c DecideContext<'c>,
    sender: Handle,
    service: Option<Service>,
    chat: ChatFacts<'m>,
}

impl Facts<'_, '_, '_> {
    /// The group path: group policy, allowlists, the `groups` map, commands, mentions.
    fn group<T: Trace>(self, exact: Option<&Arc<CompiledGroup>>, trace: &mut T) -> Decision {
        let policy = self.policy;
        let Some(chat_id) = self.chat.chat_id else {
            return drop_at(
                trace,
                Check::GroupChatId,
                DropReason::GroupWithoutChatId,
                || "a group message needs a chat id to be answered".into(),
            );
        };
        if policy.group_policy == GroupPolicy::Disabled {
            return drop_at(
                trace,
                Check::GroupPolicy,
                DropReason::GroupPolicyDisabled,
                || "groupPolicy is disabled".into(),
            );
        }
        trace.step(Check::GroupPolicy, true, || {
            format!("groupPolicy is {}", policy.group_policy)
        });

        let wildcard = policy.groups_wildcard.as_ref();
        // The group's own list (exact entry, else `*`) replaces groupAllowFrom
        // for this chat and applies under either open or allowlist.
        let own_list = exact
            .and_then(|g| g.allow_from.as_ref())
            .or_else(|| wildcard.and_then(|g| g.allow_from.as_ref()));
        let (list, list_name): (Option<&AllowSet>, &str) = match (own_list, policy.group_policy) {
            (Some(list), _) => (Some(list), "the group's own allowFrom"),
            (None, GroupPolicy::Allowlist) => (
                Some(policy.effective_group_allow()),
                if policy.group_allow_from.is_some() {
                    "groupAllowFrom"
                } else {
                    "allowFrom (groupAllowFrom is absent)"
                },
            ),
            (None, _) => (None, ""),
        };
        let admitted_by = match list {
            None => {
                trace.step(Check::GroupAllowlist, true, || {
                    "groupPolicy is open: no sender list applies".into()
                });
                Admission::Open
            }
            Some(list) if list.is_empty() => {
                return drop_at(
                    trace,
                    Check::GroupAllowlist,
                    DropReason::GroupAllowlistEmpty,
                    || format!("{list_name} is empty, which admits nobody"),
                );
            }
            Some(list) => match list.admits(self.sender.as_str(), self.service, &self.chat) {
                Some(m) => {
                    trace.step(Check::GroupAllowlist, true, || {
                        format!("{list_name} admits it by {}", Admission::from(m))
                    });
                    m.into()
                }
                None => {
                    return drop_at(
                        trace,
                        Check::GroupAllowlist,
                        DropReason::NotInGroupAllowFrom,
                        || {
                            format!(
                                "{list_name} names neither `{}`{} nor chat {chat_id}",
                                self.sender,
                                service_note(self.service)
                            )
                        },
                    );
                }
            },
        };

        if policy.groups_is_allowlist() && exact.is_none() && wildcard.is_none() {
            return drop_at(
                trace,
                Check::GroupsMap,
                DropReason::GroupNotInAllowlist,
                || format!("`groups` lists neither chat {chat_id} nor `*`"),
            );
        }
        trace.step(Check::GroupsMap, true, || match (exact, wildcard) {
            (Some(g), _) => format!("`groups` lists it as `{}`", g.key),
            (None, Some(_)) => "`groups` has `*`".into(),
            (None, None) => "`groups` is empty, so every group is admitted".into(),
        });

        let command = control_command(&self.message.text, &policy.commands);
        // Only handle entries authorize commands: `*` and chat entries admit,
        // and pairing approvals never reach groups.
        let command_authorized = !policy.commands.use_access_groups
            || policy
                .allow_from
                .has_handle(self.sender.as_str(), self.service)
            || policy
                .group_allow_from
                .as_ref()
                .is_some_and(|l| l.has_handle(self.sender.as_str(), self.service))
            || own_list.is_some_and(|l| l.has_handle(self.sender.as_str(), self.service));
        if let Some(name) = command {
            if !command_authorized {
                return drop_at(
                    trace,
                    Check::ControlCommand,
                    DropReason::ControlCommandUnauthorized,
                    || format!("`/{name}` from a sender no handle entry names"),
                );
            }
            trace.step(Check::ControlCommand, true, || {
                format!("`/{name}` from an authorized sender")
            });
        }

        let require_mention = exact
            .and_then(|g| g.require_mention)
            .or_else(|| wildcard.and_then(|g| g.require_mention))
            .unwrap_or(true);
        let patterns = policy.mention_patterns_for(self.message.agent_id.as_deref());
        let matched = patterns.is_match(&self.message.text);
        let was_mentioned = if !require_mention {
            trace.step(Check::Mention, true, || "no mention required here".into());
            matched
        } else if matched {
            trace.step(Check::Mention, true, || "a mention pattern matched".into());
            true
        } else if command.is_some() {
            trace.step(Check::Mention, true, || {
                "an authorized control command needs no mention".into()
            });
            true
        } else if patterns.is_empty() {
            return drop_at(trace, Check::Mention, DropReason::NoMentionPatterns, || {
                "a mention is required but no mention pattern is configured".into()
            });
        } else {
            return drop_at(trace, Check::Mention, DropReason::NoMention, || {
                "a mention is required and no pattern matched".into()
            });
        };

        let system_prompt = match exact {
            Some(g) if g.system_prompt.is_some() => g.system_prompt.clone(),
            _ => wildcard.and_then(|g| g.system_prompt.clone()),
        };
        Decision::Dispatch(Dispatch {
            chat_type: ChatType::Group,
            peer: SessionPeer::Group { chat_id },
            sender: self.sender,
            chat_id: Some(chat_id),
            admitted_by,
            command,
            command_authorized,
            was_mentioned,
            system_prompt,
        })
    }

    /// The DM path: DM policy, allowlist, pairing approvals.
    fn direct<T: Trace>(self, trace: &mut T) -> Decision {
        let policy = self.policy;
        if policy.dm_policy == DmPolicy::Disabled {
            return drop_at(trace, Check::DmPolicy, DropReason::DmPolicyDisabled, || {
                "dmPolicy is disabled".into()
            });
        }
        trace.step(Check::DmPolicy, true, || {
            format!("dmPolicy is {}", policy.dm_policy)
        });

        let sender = self.sender.as_str();
        let paired = self.ctx.pairing.account_id() == policy.account_id
            && self.ctx.pairing.is_approved(sender);
        let admitted_by = match policy.allow_from.admits(sender, self.service, &self.chat) {
            Some(m) => Some(Admission::from(m)),
            None if paired => Some(Admission::Paired),
            None if policy.dm_policy == DmPolicy::Open => Some(Admission::Open),
            None => None,
        };
        let Some(admitted_by) = admitted_by else {
            if policy.dm_policy == DmPolicy::Pairing {
                // A snapshot of another account says nothing about this one.
                let pending = if self.ctx.pairing.account_id() == policy.account_id {
                    self.ctx.pairing.pending_state(sender, self.ctx.now)
                } else {
                    PendingState::New
                };
                trace.step(Check::DmAdmission, false, || {
                    format!(
                        "allowFrom and this account's pairing approvals do not name `{sender}`{}; {pending}",
                        service_note(self.service)
                    )
                });
                return Decision::Pair(PairRequest {
                    sender_id: self.sender,
                    chat_id: self.chat.chat_id,
                    pending,
                });
            }
            return drop_at(
                trace,
                Check::DmAdmission,
                DropReason::DmPolicyBlocked,
                || {
                    format!(
                        "allowFrom and this account's pairing approvals do not name `{sender}`{}",
                        service_note(self.service)
                    )
                },
            );
        };
        trace.step(Check::DmAdmission, true, || {
            format!("admitted by {admitted_by}")
        });

        let command = control_command(&self.message.text, &policy.commands);
        let command_authorized = if policy.commands.use_access_groups {
            policy.allow_from.has_handle(sender, self.service) || paired
        } else {
            true
        };
        if let Some(name) = command {
            trace.step(Check::ControlCommand, true, || {
                if command_authorized {
                    format!("`/{name}` will run: the sender is named or paired")
                } else {
                    format!(
                        "`/{name}` is passed on as text: only named or paired senders run commands"
                    )
                }
            });
        }
        Decision::Dispatch(Dispatch {
            chat_type: ChatType::Direct,
            peer: SessionPeer::Direct {
                sender: self.sender.clone(),
            },
            sender: self.sender,
            chat_id: self.chat.chat_id,
            admitted_by,
            command,
            command_authorized,
            was_mentioned: true,
            system_prompt: None,
        })
    }
}

/// Whether `text` shows nothing: only whitespace, control characters, zero-width
/// and formatting characters, and U+FFFC (the object replacement character
/// chat.db stores as the text of an attachment-only row).
fn is_blank_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
}

/// A note on the message's service, for explanations of a failed match.
fn service_note(service: Option<Service>) -> String {
    match service {
        Some(s) => format!(" (over {s})"),
        None => String::new(),
    }
}

/// Markers of leaked assistant output that, outside code, mean the text is a reflection.
const REFLECTION_MARKERS: &[&str] = &[
    "<think>",
    "</think>",
    "<final>",
    "</final>",
    "<relevant_memories>",
    "assistant to=",
    "#+#+",
];

/// The first reflection marker in `text` outside fenced or inline code, if any.
fn reflection_marker(text: &str) -> Option<&'static str> {
    // Cheap pre-check: every marker contains `<`, `=` or `#+`.
    if !text.contains(['<', '=', '#']) {
        return None;
    }
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code spans sit between odd and even backticks; look only outside them.
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 1 {
                continue;
            }
            let lower = part.to_ascii_lowercase();
            if let Some(marker) = REFLECTION_MARKERS.iter().find(|m| lower.contains(*m)) {
                return Some(marker);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_markers_count_only_outside_code() {
        let cases = [
            ("hello", None),
            ("<think>plan</think>", Some("<think>")),
            ("sure <FINAL>done", Some("<final>")),
            ("use `<think>` tags", None),
            ("```\n<final>\n```\nok", None),
            ("a = b", None),
            ("assistant to=functions.exec", Some("assistant to=")),
        ];
        for (text, expected) in cases {
            assert_eq!(reflection_marker(text), expected, "{text:?}");
        }
    }
}
