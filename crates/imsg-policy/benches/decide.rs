//! Criterion bench of `decide` against a naive re-parse-and-scan baseline, with big allowlists.
//!
//! The policy has 10,000 `allowFrom` entries, 10,000 `groupAllowFrom` entries
//! and 50 mention patterns. The baseline does per message what the anchor
//! does: parse every allowlist entry again and compare it with the sender in
//! a linear scan, then try the mention regexes one by one (we give it the
//! regexes precompiled, which flatters it).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imsg_policy::{
    AccessPolicy, DecideContext, DmPolicy, GroupPolicy, GroupRule, InboundMessage, MentionPatterns,
    PairingSnapshot, UnixMillis, decide,
};
use imsg_target::{AllowEntry, Handle, Region};
use regex::{Regex, RegexBuilder};

const N: usize = 10_000;
const PATTERNS: usize = 50;

/// The raw configuration, as strings, shared by both implementations.
struct Fixture {
    allow_from: Vec<String>,
    group_allow_from: Vec<String>,
    patterns: Vec<String>,
}

fn fixture() -> Fixture {
    // Half the DM list in national spelling, half in E.164, as people type them.
    let allow_from = (0..N)
        .map(|i| {
            if i % 2 == 0 {
                format!("+1415{:07}", i)
            } else {
                format!("user{i}@example.com")
            }
        })
        .collect();
    let group_allow_from = (0..N)
        .map(|i| {
            if i % 2 == 0 {
                format!("chat_id:{}", 100_000 + i)
            } else {
                format!("+1650{:07}", i)
            }
        })
        .collect();
    let patterns = (0..PATTERNS)
        .map(|i| format!("\\b@?assistant{i}\\b"))
        .collect();
    Fixture {
        allow_from,
        group_allow_from,
        patterns,
    }
}

fn policy(f: &Fixture) -> AccessPolicy {
    let region = Region::default();
    let parse = |list: &[String]| -> Vec<AllowEntry> {
        list.iter()
            .filter_map(|raw| AllowEntry::parse(raw, &region).ok())
            .collect()
    };
    let groups: BTreeMap<String, GroupRule> = [(
        "*".to_owned(),
        GroupRule {
            require_mention: Some(true),
            ..GroupRule::default()
        },
    )]
    .into();
    AccessPolicy::builder("default")
        .dm_policy(DmPolicy::Pairing)
        .allow_from(parse(&f.allow_from))
        .group_policy(GroupPolicy::Allowlist)
        .group_allow_from(Some(parse(&f.group_allow_from)))
        .groups(groups)
        .mention_patterns(MentionPatterns::compile(&f.patterns).unwrap_or_default())
        .build()
}

/// What the naive baseline decides, reduced to the outcome.
#[derive(Debug, PartialEq, Eq)]
enum Naive {
    Dispatch,
    Pair,
    Drop,
}

/// The anchor's way: parse every entry per message and scan.
fn naive_decide(f: &Fixture, regexes: &[Regex], message: &InboundMessage) -> Naive {
    let region = Region::default();
    let Some(sender) = Handle::normalize(&message.sender, &region) else {
        return Naive::Drop;
    };
    let scan = |list: &[String]| {
        list.iter()
            .any(|raw| match AllowEntry::parse(raw, &region) {
                Ok(AllowEntry::Wildcard) => true,
                Ok(AllowEntry::Handle { handle, .. }) => handle == sender,
                Ok(AllowEntry::ChatId(id)) => message.chat_id == Some(id),
                _ => false,
            })
    };
    if message.is_group {
        if !scan(&f.group_allow_from) {
            return Naive::Drop;
        }
        let text = message.text.to_lowercase();
        if regexes.iter().any(|r| r.is_match(&text)) {
            Naive::Dispatch
        } else {
            Naive::Drop
        }
    } else if scan(&f.allow_from) {
        Naive::Dispatch
    } else {
        Naive::Pair
    }
}

fn messages() -> Vec<(&'static str, InboundMessage)> {
    vec![
        (
            "dm_listed_last",
            InboundMessage::new("user9999@example.com", "hello").with_chat_id(1),
        ),
        (
            "dm_stranger",
            InboundMessage::new("+12125550199", "hello").with_chat_id(2),
        ),
        (
            "group_listed_sender_mentioned",
            InboundMessage::new("+16500009999", "hey assistant49, what's up?")
                .with_chat_id(42)
                .with_group(true),
        ),
        (
            "group_unlisted",
            InboundMessage::new("+12125550199", "hey assistant49")
                .with_chat_id(7)
                .with_group(true),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let policy = policy(&f);
    let pairing = PairingSnapshot::new("default");
    let ctx = DecideContext::new(&pairing, UnixMillis::new(0));
    let regexes: Vec<Regex> = f
        .patterns
        .iter()
        .filter_map(|p| RegexBuilder::new(p).case_insensitive(true).build().ok())
        .collect();

    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    for (name, message) in messages() {
        // Both sides must agree on the outcome, or the comparison means nothing.
        let fast = match decide(&policy, &message, &ctx) {
            imsg_policy::Decision::Dispatch(_) => Naive::Dispatch,
            imsg_policy::Decision::Pair(_) => Naive::Pair,
            imsg_policy::Decision::Drop(_) => Naive::Drop,
        };
        assert_eq!(fast, naive_decide(&f, &regexes, &message), "{name}");
        group.bench_function(format!("compiled/{name}"), |b| {
            b.iter(|| decide(black_box(&policy), black_box(&message), black_box(&ctx)))
        });
        group.bench_function(format!("naive_baseline/{name}"), |b| {
            b.iter(|| naive_decide(black_box(&f), black_box(&regexes), black_box(&message)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
