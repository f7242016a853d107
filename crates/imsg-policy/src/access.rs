//! The resolved access policy of one account, its builder, and the start-up warnings derived from it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use imsg_target::{AllowEntry, Region, Target};

use crate::allowlist::{AllowSet, ChatFacts};
use crate::mention::MentionPatterns;
use crate::settings::{CommandSettings, DmPolicy, GroupPolicy, GroupRule};

/// The account id used when a configuration names no accounts.
pub const DEFAULT_ACCOUNT_ID: &str = "default";

/// The key of the `groups` map entry that holds defaults for every group.
pub(crate) const WILDCARD_GROUP: &str = "*";

/// One entry of the `groups` map, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledGroup {
    /// The map key as written.
    pub(crate) key: String,
    /// The group's own `requireMention`, if set.
    pub(crate) require_mention: Option<bool>,
    /// The group's own sender allowlist, if set.
    pub(crate) allow_from: Option<AllowSet>,
    /// The group's own system prompt, if set (shared, so dispatch does not copy it).
    pub(crate) system_prompt: Option<Arc<str>>,
}

/// The resolved access policy of one account: everything [`decide`](crate::decide) needs
/// besides the message and the pairing snapshot.
///
/// Built once per account (and again on a config reload) with
/// [`AccessPolicy::builder`]; building compiles every allowlist into hash sets
/// and the `groups` map into lookup tables, so deciding is a handful of lookups.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    pub(crate) account_id: String,
    pub(crate) dm_policy: DmPolicy,
    pub(crate) group_policy: GroupPolicy,
    pub(crate) allow_from: AllowSet,
    /// `None` when `groupAllowFrom` is absent (then `allowFrom` is used for groups).
    pub(crate) group_allow_from: Option<AllowSet>,
    /// The `groups` map as configured, for explanations and the testing module.
    pub(crate) groups_config: BTreeMap<String, GroupRule>,
    /// Entries of `groups` keyed by a canonical decimal chat id.
    pub(crate) groups_by_id: HashMap<i64, Arc<CompiledGroup>>,
    /// Entries of `groups` keyed by any other text (matched to a chat guid or identifier).
    pub(crate) groups_by_name: HashMap<String, Arc<CompiledGroup>>,
    /// The `*` entry of `groups`.
    pub(crate) groups_wildcard: Option<Arc<CompiledGroup>>,
    pub(crate) mention_patterns: MentionPatterns,
    pub(crate) agent_mention_patterns: BTreeMap<String, MentionPatterns>,
    pub(crate) commands: CommandSettings,
    pub(crate) region: Region,
    pub(crate) default_to: Option<Target>,
}

/// Builds an [`AccessPolicy`]; every setting not given keeps the schema default.
#[derive(Debug, Clone)]
pub struct AccessPolicyBuilder {
    account_id: String,
    dm_policy: DmPolicy,
    group_policy: GroupPolicy,
    allow_from: Vec<AllowEntry>,
    group_allow_from: Option<Vec<AllowEntry>>,
    groups: BTreeMap<String, GroupRule>,
    mention_patterns: MentionPatterns,
    agent_mention_patterns: BTreeMap<String, MentionPatterns>,
    commands: CommandSettings,
    region: Region,
    default_to: Option<Target>,
}

impl AccessPolicy {
    /// Starts a policy for `account_id` with the schema defaults: `dmPolicy`
    /// pairing, `groupPolicy` allowlist, empty lists, no groups, no mention
    /// patterns, default command switches, region `US`.
    pub fn builder(account_id: impl Into<String>) -> AccessPolicyBuilder {
        AccessPolicyBuilder {
            account_id: account_id.into(),
            dm_policy: DmPolicy::default(),
            group_policy: GroupPolicy::default(),
            allow_from: Vec::new(),
            group_allow_from: None,
            groups: BTreeMap::new(),
            mention_patterns: MentionPatterns::none(),
            agent_mention_patterns: BTreeMap::new(),
            commands: CommandSettings::default(),
            region: Region::default(),
            default_to: None,
        }
    }

    /// The account this policy belongs to.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The DM policy.
    pub fn dm_policy(&self) -> DmPolicy {
        self.dm_policy
    }

    /// The group policy.
    pub fn group_policy(&self) -> GroupPolicy {
        self.group_policy
    }

    /// The `allowFrom` entries as configured.
    pub fn allow_from(&self) -> &[AllowEntry] {
        self.allow_from.entries()
    }

    /// The `groupAllowFrom` entries as configured; `None` when absent.
    pub fn group_allow_from(&self) -> Option<&[AllowEntry]> {
        self.group_allow_from.as_ref().map(AllowSet::entries)
    }

    /// The `groups` map as configured.
    pub fn groups(&self) -> &BTreeMap<String, GroupRule> {
        &self.groups_config
    }

    /// The global mention patterns.
    pub fn mention_patterns(&self) -> &MentionPatterns {
        &self.mention_patterns
    }

    /// The command switches.
    pub fn commands(&self) -> CommandSettings {
        self.commands
    }

    /// The region used to read national phone numbers.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The mention patterns that apply to messages routed to `agent_id`:
    /// the agent's own list when configured (even if empty), else the global one.
    pub fn mention_patterns_for(&self, agent_id: Option<&str>) -> &MentionPatterns {
        agent_id
            .and_then(|id| self.agent_mention_patterns.get(id))
            .unwrap_or(&self.mention_patterns)
    }

    /// The allowlist group messages are checked against, for a chat without its own list:
    /// `groupAllowFrom` when present (even empty), else `allowFrom`.
    pub(crate) fn effective_group_allow(&self) -> &AllowSet {
        self.group_allow_from.as_ref().unwrap_or(&self.allow_from)
    }

    /// The exact `groups` entry for a chat: by chat id, else chat guid, else chat identifier.
    /// The `*` entry is not an exact entry.
    pub(crate) fn lookup_group(&self, chat: &ChatFacts<'_>) -> Option<&Arc<CompiledGroup>> {
        if self.groups_by_id.is_empty() && self.groups_by_name.is_empty() {
            return None;
        }
        chat.chat_id
            .and_then(|id| self.groups_by_id.get(&id))
            .or_else(|| chat.chat_guid.and_then(|g| self.groups_by_name.get(g)))
            .or_else(|| {
                chat.chat_identifier
                    .and_then(|i| self.groups_by_name.get(i))
            })
    }

    /// Whether the `groups` map is non-empty, which turns it into an allowlist.
    pub(crate) fn groups_is_allowlist(&self) -> bool {
        !self.groups_config.is_empty()
    }

    /// Whether the effective `requireMention` default (the `*` entry, else true) holds.
    pub(crate) fn default_require_mention(&self) -> bool {
        self.groups_wildcard
            .as_ref()
            .and_then(|g| g.require_mention)
            .unwrap_or(true)
    }
}

impl AccessPolicyBuilder {
    /// Sets `dmPolicy`.
    pub fn dm_policy(mut self, policy: DmPolicy) -> Self {
        self.dm_policy = policy;
        self
    }

    /// Sets `allowFrom`. An empty list admits nobody.
    pub fn allow_from(mut self, entries: Vec<AllowEntry>) -> Self {
        self.allow_from = entries;
        self
    }

    /// Sets `groupPolicy`.
    pub fn group_policy(mut self, policy: GroupPolicy) -> Self {
        self.group_policy = policy;
        self
    }

    /// Sets `groupAllowFrom`: `None` when the key is absent (groups then use
    /// `allowFrom`), `Some(vec![])` when it is explicitly empty (groups are denied).
    pub fn group_allow_from(mut self, entries: Option<Vec<AllowEntry>>) -> Self {
        self.group_allow_from = entries;
        self
    }

    /// Sets the `groups` map, keyed by chat id (or chat guid or identifier), with `*` for defaults.
    pub fn groups(mut self, groups: BTreeMap<String, GroupRule>) -> Self {
        self.groups = groups;
        self
    }

    /// Sets the global mention patterns (`messages.groupChat.mentionPatterns`).
    pub fn mention_patterns(mut self, patterns: MentionPatterns) -> Self {
        self.mention_patterns = patterns;
        self
    }

    /// Sets the mention patterns of one agent (`agents.list[].groupChat.mentionPatterns`),
    /// which replace the global ones for messages routed to that agent.
    pub fn agent_mention_patterns(
        mut self,
        agent_id: impl Into<String>,
        patterns: MentionPatterns,
    ) -> Self {
        self.agent_mention_patterns
            .insert(agent_id.into(), patterns);
        self
    }

    /// Sets the `commands.*` switches.
    pub fn commands(mut self, commands: CommandSettings) -> Self {
        self.commands = commands;
        self
    }

    /// Sets the region used to read national phone numbers.
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Sets `defaultTo`. A handle target there may always be messaged
    /// ([`check_outbound`](crate::check_outbound) admits it whatever `allowFrom`
    /// says); a chat target gets no exemption and follows the group rules.
    pub fn default_to(mut self, target: Option<Target>) -> Self {
        self.default_to = target;
        self
    }

    /// Compiles the policy. Building cannot fail: everything that can be
    /// wrong was rejected when the entries and patterns were parsed.
    pub fn build(self) -> AccessPolicy {
        let mut groups_by_id = HashMap::new();
        let mut groups_by_name = HashMap::new();
        let mut groups_wildcard = None;
        for (key, rule) in &self.groups {
            let compiled = Arc::new(CompiledGroup {
                key: key.clone(),
                require_mention: rule.require_mention,
                allow_from: rule.allow_from.clone().map(AllowSet::new),
                system_prompt: rule.system_prompt.as_deref().map(Arc::from),
            });
            if key == WILDCARD_GROUP {
                groups_wildcard = Some(compiled);
            } else if let Some(id) = canonical_chat_id(key) {
                groups_by_id.insert(id, compiled);
            } else {
                groups_by_name.insert(key.clone(), compiled);
            }
        }
        AccessPolicy {
            account_id: self.account_id,
            dm_policy: self.dm_policy,
            group_policy: self.group_policy,
            allow_from: AllowSet::new(self.allow_from),
            group_allow_from: self.group_allow_from.map(AllowSet::new),
            groups_config: self.groups,
            groups_by_id,
            groups_by_name,
            groups_wildcard,
            mention_patterns: self.mention_patterns,
            agent_mention_patterns: self.agent_mention_patterns,
            commands: self.commands,
            region: self.region,
            default_to: self.default_to,
        }
    }
}

/// A `groups` key that is exactly the decimal spelling of a chat id.
///
/// Keys are not trimmed, so `" 99 "` is not chat 99 (as in the anchor); it
/// can still match a chat guid or identifier spelled that way.
fn canonical_chat_id(key: &str) -> Option<i64> {
    let id: i64 = key.parse().ok()?;
    (id.to_string() == key).then_some(id)
}

/// Something about a policy that will surprise its owner at run time.
///
/// The gateway logs these at start-up and on reload; each mirrors a runtime
/// rule of [`decide`](crate::decide) exactly, so a warning never cries wolf.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyWarning {
    /// A group requires a mention but the agent has no mention pattern, so
    /// every message there (except authorized control commands) is dropped.
    MentionRequiredWithoutPatterns {
        /// The agent whose patterns are empty; `None` for the global patterns.
        agent_id: Option<String>,
    },
    /// `groupPolicy` is allowlist and the effective group allowlist is empty, so
    /// every group message is dropped.
    EmptyGroupAllowlist,
    /// `dmPolicy` is allowlist and `allowFrom` is empty, so every DM is dropped.
    EmptyDmAllowlist,
    /// `groupPolicy` is open: any member of any group can trigger the assistant.
    GroupsOpen,
    /// Every DM sender is admitted, by `dmPolicy: "open"` or a `*` in `allowFrom`.
    DmsOpenToEveryone,
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MentionRequiredWithoutPatterns { agent_id: None } => f.write_str(
                "groups require a mention but no mention patterns are configured, so group messages will be dropped",
            ),
            Self::MentionRequiredWithoutPatterns {
                agent_id: Some(agent),
            } => write!(
                f,
                "groups require a mention but agent `{agent}` has no mention patterns, so its group messages will be dropped"
            ),
            Self::EmptyGroupAllowlist => f.write_str(
                "groupPolicy is allowlist but the group allowlist is empty, so group messages will be dropped",
            ),
            Self::EmptyDmAllowlist => f.write_str(
                "dmPolicy is allowlist but allowFrom is empty, so direct messages will be dropped",
            ),
            Self::GroupsOpen => f.write_str(
                "groupPolicy is open, so any member of any group can trigger the assistant; prefer allowlist with groupAllowFrom",
            ),
            Self::DmsOpenToEveryone => {
                f.write_str("every direct-message sender is admitted (dmPolicy open or `*` in allowFrom)")
            }
        }
    }
}

/// The warnings a policy deserves at start-up, in a stable order.
pub fn startup_warnings(policy: &AccessPolicy) -> Vec<PolicyWarning> {
    let mut warnings = Vec::new();
    if policy.group_policy != GroupPolicy::Disabled {
        let reach = group_reach(policy);
        if policy.group_policy == GroupPolicy::Allowlist && !reach.admitted {
            // Every group message is dropped before mention gating, so a
            // mention warning would only add noise.
            warnings.push(PolicyWarning::EmptyGroupAllowlist);
        } else if reach.needs_mention {
            if policy.mention_patterns.is_empty() {
                warnings.push(PolicyWarning::MentionRequiredWithoutPatterns { agent_id: None });
            }
            for (agent, patterns) in &policy.agent_mention_patterns {
                if patterns.is_empty() && !policy.mention_patterns.is_empty() {
                    warnings.push(PolicyWarning::MentionRequiredWithoutPatterns {
                        agent_id: Some(agent.clone()),
                    });
                }
            }
        }
        if policy.group_policy == GroupPolicy::Open {
            warnings.push(PolicyWarning::GroupsOpen);
        }
    }
    match policy.dm_policy {
        DmPolicy::Allowlist if policy.allow_from.is_empty() => {
            warnings.push(PolicyWarning::EmptyDmAllowlist);
        }
        DmPolicy::Open => warnings.push(PolicyWarning::DmsOpenToEveryone),
        DmPolicy::Allowlist | DmPolicy::Pairing if policy.allow_from.has_wildcard() => {
            warnings.push(PolicyWarning::DmsOpenToEveryone);
        }
        _ => {}
    }
    warnings
}

/// What the group gates let through, by the same rules as the runtime checks G3, G4 and G6.
struct GroupReach {
    /// Some group's sender list can admit someone (or no list applies).
    admitted: bool,
    /// Some group whose sender list can admit someone requires a mention.
    needs_mention: bool,
}

/// Walks the chats the `groups` map admits (each listed one, and every unlisted
/// one when the map is empty or has `*`) with the sender list each meets: its
/// own `allowFrom`, else `*`'s, else under allowlist the effective `groupAllowFrom`.
fn group_reach(policy: &AccessPolicy) -> GroupReach {
    let wildcard = policy.groups_wildcard.as_ref();
    let wildcard_list = wildcard.and_then(|g| g.allow_from.as_ref());
    let default_mention = policy.default_require_mention();
    let can_admit = |own: Option<&AllowSet>| match own.or(wildcard_list) {
        Some(list) => !list.is_empty(),
        None => {
            policy.group_policy != GroupPolicy::Allowlist
                || !policy.effective_group_allow().is_empty()
        }
    };
    let mut reach = GroupReach {
        admitted: false,
        needs_mention: false,
    };
    if (!policy.groups_is_allowlist() || wildcard.is_some()) && can_admit(None) {
        reach.admitted = true;
        reach.needs_mention |= default_mention;
    }
    for group in policy
        .groups_by_id
        .values()
        .chain(policy.groups_by_name.values())
    {
        if can_admit(group.allow_from.as_ref()) {
            reach.admitted = true;
            reach.needs_mention |= group.require_mention.unwrap_or(default_mention);
        }
    }
    reach
}
