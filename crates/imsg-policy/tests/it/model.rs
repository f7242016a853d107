//! Model-based proptest: random sequences of messages, approvals, clock ticks and config switches
//! run against the real engine and a dumb Vec/BTreeSet reference model; they must agree after every step.

use std::collections::{BTreeMap, BTreeSet};

use imsg_policy::{
    AccessPolicy, ChatType, CodeSource, CommandSettings, DecideContext, Decision, DmPolicy,
    DropReason, GroupPolicy, GroupRule, InboundMessage, MentionPatterns, PairOutcome,
    PairingSnapshot, PendingState, UnixMillis, decide,
};
use imsg_target::{AllowEntry, Handle, Region, Service};
use proptest::prelude::*;

use crate::common::{dm_policies, group_policies};

/// The senders of the model world, as `imsg` reports them.
const SENDERS: [&str; 6] = [
    "+15550000001",
    "+15550000002",
    "+15550000003",
    "+15550000004",
    "+15550000005",
    "user@example.com",
];

/// How a config spells each sender: other spellings of the same person.
const SPELLINGS: [&str; 6] = [
    "+1 555 000 0001",
    "(555) 000-0002",
    "15550000003",
    "+15550000004",
    "555.000.0005",
    "User@Example.COM",
];

const ACCOUNTS: [&str; 2] = ["default", "work"];
const HOUR: i64 = 3_600_000;

/// An allow entry of the model.
#[derive(Debug, Clone, PartialEq)]
enum ModelEntry {
    Star,
    Sender(usize, Option<Service>),
    Chat(i64),
}

impl ModelEntry {
    fn text(&self) -> String {
        match self {
            ModelEntry::Star => "*".into(),
            ModelEntry::Sender(i, None) => SPELLINGS[*i].into(),
            ModelEntry::Sender(i, Some(s)) => format!("{s}:{}", SPELLINGS[*i]),
            ModelEntry::Chat(id) => format!("chat_id:{id}"),
        }
    }

    fn names_sender(&self, sender: usize, service: Option<Service>) -> bool {
        match self {
            ModelEntry::Sender(i, None) => *i == sender,
            ModelEntry::Sender(i, Some(s)) => *i == sender && service == Some(*s),
            _ => false,
        }
    }
}

/// A configuration of the model.
#[derive(Debug, Clone)]
struct ModelConfig {
    dm: DmPolicy,
    group: GroupPolicy,
    allow_from: Vec<ModelEntry>,
    group_allow_from: Option<Vec<ModelEntry>>,
    /// chat id key (or `None` for `*`) and requireMention.
    groups: Vec<(Option<i64>, Option<bool>)>,
    patterns: bool,
    use_access_groups: bool,
}

impl ModelConfig {
    fn policy(&self, account: &str) -> AccessPolicy {
        let parse = |list: &[ModelEntry]| -> Vec<AllowEntry> {
            list.iter()
                .map(|e| AllowEntry::parse(&e.text(), &Region::default()).unwrap())
                .collect()
        };
        let groups: BTreeMap<String, GroupRule> = self
            .groups
            .iter()
            .map(|(key, rm)| {
                let key = key.map_or_else(|| "*".to_owned(), |id| id.to_string());
                (
                    key,
                    GroupRule {
                        require_mention: *rm,
                        ..GroupRule::default()
                    },
                )
            })
            .collect();
        let patterns = if self.patterns { vec!["@bot"] } else { vec![] };
        AccessPolicy::builder(account)
            .dm_policy(self.dm)
            .group_policy(self.group)
            .allow_from(parse(&self.allow_from))
            .group_allow_from(self.group_allow_from.as_deref().map(parse))
            .groups(groups)
            .mention_patterns(MentionPatterns::compile(&patterns).unwrap())
            .commands(CommandSettings {
                use_access_groups: self.use_access_groups,
                ..CommandSettings::default()
            })
            .build()
    }

    fn group_rule(&self, key: Option<i64>) -> Option<Option<bool>> {
        self.groups
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, rm)| *rm)
    }
}

/// What the model expects of one message.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Dispatch {
        chat_type: ChatType,
        authorized: bool,
        mentioned: bool,
        command: bool,
    },
    Pair,
    Drop(DropReason),
}

/// A message of the model world.
#[derive(Debug, Clone)]
struct ModelMessage {
    account: usize,
    sender: usize,
    chat_id: i64,
    is_group: bool,
    service: Option<Service>,
    /// Whether the chat guid has the group form `iMessage;+;chat<id>`.
    group_guid: bool,
    text: &'static str,
    /// Decide against the other account's snapshot (a wiring mistake the engine must shrug off).
    foreign_snapshot: bool,
}

impl ModelMessage {
    /// The service the engine should see: the given one, else the guid's `iMessage` prefix.
    fn service(&self) -> Option<Service> {
        self.service
            .or(self.group_guid.then_some(Service::Imessage))
    }

    fn inbound(&self) -> InboundMessage {
        let mut m = InboundMessage::new(SENDERS[self.sender], self.text)
            .with_chat_id(self.chat_id)
            .with_group(self.is_group);
        if let Some(s) = self.service {
            m = m.with_service(s);
        }
        if self.group_guid {
            // An explicit service wins over the guid prefix, so the guid does not change it.
            m = m.with_chat_guid(format!("iMessage;+;chat{}", self.chat_id));
        }
        m
    }
}

/// One pending request of the model.
#[derive(Debug, Clone)]
struct ModelRequest {
    sender: usize,
    created_at: i64,
    code: String,
}

/// The per-account pairing state of the model.
#[derive(Debug, Clone, Default)]
struct ModelPairing {
    approved: BTreeSet<usize>,
    requests: Vec<ModelRequest>,
}

impl ModelPairing {
    fn prune(&mut self, now: i64) {
        self.requests.retain(|r| now - r.created_at <= HOUR);
    }
}

/// The model's decision, written as plainly as possible from the rules in docs/policy.md.
fn model_decide(cfg: &ModelConfig, pairing: &ModelPairing, m: &ModelMessage) -> Expect {
    if m.text.trim().is_empty() {
        return Expect::Drop(DropReason::EmptyBody);
    }
    let listed = cfg.group_rule(Some(m.chat_id));
    let admits = |list: &[ModelEntry]| {
        list.iter().any(|e| {
            *e == ModelEntry::Star
                || e.names_sender(m.sender, m.service())
                || *e == ModelEntry::Chat(m.chat_id)
        })
    };
    let names = |list: &[ModelEntry]| list.iter().any(|e| e.names_sender(m.sender, m.service()));
    let is_command = m.text == "/status";
    if m.is_group || m.group_guid || listed.is_some() {
        if cfg.group == GroupPolicy::Disabled {
            return Expect::Drop(DropReason::GroupPolicyDisabled);
        }
        if cfg.group == GroupPolicy::Allowlist {
            let list = cfg.group_allow_from.as_ref().unwrap_or(&cfg.allow_from);
            if list.is_empty() {
                return Expect::Drop(DropReason::GroupAllowlistEmpty);
            }
            if !admits(list) {
                return Expect::Drop(DropReason::NotInGroupAllowFrom);
            }
        }
        let star = cfg.group_rule(None);
        if !cfg.groups.is_empty() && listed.is_none() && star.is_none() {
            return Expect::Drop(DropReason::GroupNotInAllowlist);
        }
        let authorized = !cfg.use_access_groups
            || names(&cfg.allow_from)
            || cfg.group_allow_from.as_deref().is_some_and(names);
        if is_command && !authorized {
            return Expect::Drop(DropReason::ControlCommandUnauthorized);
        }
        let require = listed.flatten().or(star.flatten()).unwrap_or(true);
        let matched = cfg.patterns && m.text.contains("@bot");
        if require && !matched && !is_command {
            return Expect::Drop(if cfg.patterns {
                DropReason::NoMention
            } else {
                DropReason::NoMentionPatterns
            });
        }
        return Expect::Dispatch {
            chat_type: ChatType::Group,
            authorized,
            // Past the gate, a required mention is a match or an authorized command.
            mentioned: matched || (require && is_command),
            command: is_command,
        };
    }
    if cfg.dm == DmPolicy::Disabled {
        return Expect::Drop(DropReason::DmPolicyDisabled);
    }
    let paired = pairing.approved.contains(&m.sender);
    if !(admits(&cfg.allow_from) || paired || cfg.dm == DmPolicy::Open) {
        return if cfg.dm == DmPolicy::Pairing {
            Expect::Pair
        } else {
            Expect::Drop(DropReason::DmPolicyBlocked)
        };
    }
    Expect::Dispatch {
        chat_type: ChatType::Direct,
        authorized: !cfg.use_access_groups || names(&cfg.allow_from) || paired,
        mentioned: true,
        command: is_command,
    }
}

fn observed(decision: &Decision) -> Expect {
    match decision {
        Decision::Dispatch(d) => Expect::Dispatch {
            chat_type: d.chat_type,
            authorized: d.command_authorized,
            mentioned: d.was_mentioned,
            command: d.command == Some("status"),
        },
        Decision::Pair(_) => Expect::Pair,
        Decision::Drop(reason) => Expect::Drop(*reason),
    }
}

/// A code source that never repeats: the n-th code spells n in the code alphabet.
#[derive(Debug, Default)]
struct CountingCodes(u64);

impl CodeSource for CountingCodes {
    fn fill(&mut self, bytes: &mut [u8]) -> Result<(), getrandom::Error> {
        self.0 += 1;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = ((self.0 >> (5 * i)) & 31) as u8;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Op {
    Message(ModelMessage),
    /// Approve the n-th live request (modulo their count) of an account, in lowercase when asked.
    Approve {
        account: usize,
        nth: usize,
        lowercase: bool,
    },
    /// Approve a code no request can have.
    ApproveBogus {
        account: usize,
    },
    Tick(i64),
    SwitchConfig(usize),
}

fn entry() -> impl Strategy<Value = ModelEntry> {
    let service = prop_oneof![
        Just(None),
        Just(Some(Service::Sms)),
        Just(Some(Service::Imessage))
    ];
    prop_oneof![
        1 => Just(ModelEntry::Star),
        4 => (0..SENDERS.len(), service).prop_map(|(i, s)| ModelEntry::Sender(i, s)),
        2 => (1i64..=4).prop_map(ModelEntry::Chat),
    ]
}

fn config() -> impl Strategy<Value = ModelConfig> {
    let dm = dm_policies();
    let group = group_policies();
    let rm = prop_oneof![Just(None), Just(Some(true)), Just(Some(false))];
    let groups = prop::collection::vec((prop::option::weighted(0.8, 1i64..=4), rm), 0..3);
    (
        dm,
        group,
        prop::collection::vec(entry(), 0..4),
        prop::option::of(prop::collection::vec(entry(), 0..3)),
        groups,
        any::<bool>(),
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(dm, group, allow_from, group_allow_from, mut groups, patterns, use_access_groups)| {
                // Keys are unique in a map.
                let mut seen = BTreeSet::new();
                groups.retain(|(k, _)| seen.insert(*k));
                ModelConfig {
                    dm,
                    group,
                    allow_from,
                    group_allow_from,
                    groups,
                    patterns,
                    use_access_groups,
                }
            },
        )
}

fn op(n_configs: usize) -> impl Strategy<Value = Op> {
    let service = prop_oneof![
        Just(None),
        Just(Some(Service::Sms)),
        Just(Some(Service::Imessage))
    ];
    let text = prop_oneof![Just("hello"), Just("@bot hi"), Just("/status"), Just("  ")];
    let message = (
        0..2usize,
        0..SENDERS.len(),
        1i64..=5,
        any::<bool>(),
        service,
        prop::bool::weighted(0.2),
        text,
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(account, sender, chat_id, is_group, service, group_guid, text, foreign_snapshot)| {
                Op::Message(ModelMessage {
                    account,
                    sender,
                    chat_id,
                    is_group,
                    service,
                    group_guid,
                    text,
                    foreign_snapshot,
                })
            },
        );
    prop_oneof![
        8 => message,
        2 => (0..2usize, 0..4usize, any::<bool>())
            .prop_map(|(account, nth, lowercase)| Op::Approve { account, nth, lowercase }),
        1 => (0..2usize).prop_map(|account| Op::ApproveBogus { account }),
        2 => prop_oneof![0i64..120_000, Just(HOUR), Just(HOUR + 1), 0..2 * HOUR].prop_map(Op::Tick),
        1 => (0..n_configs).prop_map(Op::SwitchConfig),
    ]
}

fn scenario() -> impl Strategy<Value = (Vec<ModelConfig>, Vec<Op>)> {
    prop::collection::vec(config(), 1..4).prop_flat_map(|configs| {
        let n = configs.len();
        (Just(configs), prop::collection::vec(op(n), 1..60))
    })
}

/// Checks that the real snapshot holds what the model holds.
fn check_pairing(
    real: &PairingSnapshot,
    model: &ModelPairing,
    now: UnixMillis,
) -> Result<(), TestCaseError> {
    let approved: BTreeSet<String> = real.approved().map(str::to_owned).collect();
    let expected: BTreeSet<String> = model.approved.iter().map(|i| canonical(*i)).collect();
    prop_assert_eq!(approved, expected);
    let live: Vec<(String, String)> = real
        .live_requests(now)
        .iter()
        .map(|r| (r.sender_id.clone(), r.code.clone()))
        .collect();
    let mut expected: Vec<_> = model
        .requests
        .iter()
        .filter(|r| now.as_millis() - r.created_at <= HOUR)
        .collect();
    expected.sort_by_key(|r| (r.created_at, canonical(r.sender)));
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|r| (canonical(r.sender), r.code.clone()))
        .collect();
    prop_assert_eq!(live, expected);
    Ok(())
}

fn canonical(sender: usize) -> String {
    Handle::normalize(SENDERS[sender], &Region::default())
        .unwrap()
        .into_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_agrees_with_the_model((configs, ops) in scenario()) {
        let mut cfg = 0usize;
        let mut policies: Vec<AccessPolicy> = ACCOUNTS.iter().map(|a| configs[cfg].policy(a)).collect();
        let mut real: Vec<PairingSnapshot> = ACCOUNTS.iter().map(|a| PairingSnapshot::new(*a)).collect();
        let mut model: Vec<ModelPairing> = vec![ModelPairing::default(); ACCOUNTS.len()];
        let mut now = 1_700_000_000_000i64;
        let mut codes = CountingCodes::default();
        for op in ops {
            match op {
                Op::Message(m) if m.foreign_snapshot => {
                    // The other account's approvals and requests must count for nothing.
                    let a = m.account;
                    let t = UnixMillis::new(now);
                    let decision = decide(&policies[a], &m.inbound(), &DecideContext::new(&real[1 - a], t));
                    let expected = model_decide(&configs[cfg], &ModelPairing::default(), &m);
                    prop_assert_eq!(observed(&decision), expected, "{:?} under {:?}", m, configs[cfg]);
                    if let Decision::Pair(request) = decision {
                        prop_assert_eq!(request.pending, PendingState::New);
                    }
                }
                Op::Message(m) => {
                    let a = m.account;
                    let t = UnixMillis::new(now);
                    let decision = decide(&policies[a], &m.inbound(), &DecideContext::new(&real[a], t));
                    let expected = model_decide(&configs[cfg], &model[a], &m);
                    prop_assert_eq!(observed(&decision), expected.clone(), "{:?} under {:?}", m, configs[cfg]);
                    if let Decision::Pair(request) = decision {
                        model[a].prune(now);
                        let pending = model[a].requests.iter().find(|r| r.sender == m.sender).map(|r| r.code.clone());
                        let expected_state = match &pending {
                            Some(code) => PendingState::Pending { code: code.clone() },
                            None if model[a].requests.len() >= 3 => PendingState::CapReached,
                            None => PendingState::New,
                        };
                        prop_assert_eq!(&request.pending, &expected_state);
                        let outcome = real[a].request(&request.sender_id, request.chat_id, t, &mut codes).unwrap();
                        match (outcome, expected_state) {
                            (PairOutcome::Created { code }, PendingState::New) => {
                                prop_assert!(model[a].requests.iter().all(|r| r.code != code), "duplicate live code");
                                model[a].requests.push(ModelRequest { sender: m.sender, created_at: now, code });
                            }
                            (PairOutcome::AlreadyPending { code }, PendingState::Pending { code: expected }) => {
                                prop_assert_eq!(code, expected);
                            }
                            (PairOutcome::CapReached, PendingState::CapReached) => {}
                            (outcome, state) => prop_assert!(false, "outcome {:?} for state {:?}", outcome, state),
                        }
                    }
                }
                Op::Approve { account: a, nth, lowercase } => {
                    model[a].prune(now);
                    let mut live = model[a].requests.clone();
                    live.sort_by_key(|r| (r.created_at, canonical(r.sender)));
                    if let Some(request) = live.get(nth % live.len().max(1)) {
                        let code = if lowercase { request.code.to_lowercase() } else { request.code.clone() };
                        let approved = real[a].approve(&code, UnixMillis::new(now)).unwrap();
                        prop_assert_eq!(approved, canonical(request.sender));
                        model[a].requests.retain(|r| r.code != request.code);
                        model[a].approved.insert(request.sender);
                    }
                }
                Op::ApproveBogus { account: a } => {
                    model[a].prune(now);
                    prop_assert!(real[a].approve("00000000", UnixMillis::new(now)).is_err());
                }
                Op::Tick(ms) => now += ms,
                Op::SwitchConfig(i) => {
                    cfg = i;
                    policies = ACCOUNTS.iter().map(|a| configs[cfg].policy(a)).collect();
                }
            }
            for a in 0..ACCOUNTS.len() {
                check_pairing(&real[a], &model[a], UnixMillis::new(now))?;
            }
        }
    }
}
