//! The pairing state machine: codes, expiry, cap, approval, reply text, the in-memory store.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use imsg_policy::{
    AccessPolicy, DecideContext, Decision, MemoryPairingStore, PairOutcome, PairingSnapshot,
    PairingStore, PendingState, REQUEST_TTL_MS, ScriptedCodes, decide, pairing_reply,
};
use imsg_target::{Handle, Region};

use crate::common::{NOW, dm};

fn handle(raw: &str) -> Handle {
    Handle::normalize(raw, &Region::default()).unwrap()
}

/// Eight copies of each byte, in order: forces the codes `AAAAAAAA`, `BBBBBBBB`, …
fn forced(letters: &[u8]) -> ScriptedCodes {
    ScriptedCodes::new(letters.iter().flat_map(|b| [*b; 8]).collect())
}

/// Polls a future that must be ready at once (the memory store's are).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the memory store answers at once"),
    }
}

#[test]
fn a_repeat_message_keeps_the_code_and_sends_nothing() {
    let mut state = PairingSnapshot::new("default");
    let mut codes = forced(&[0, 1]);
    let first = state
        .request(&handle("u1@example.com"), Some(7), NOW, &mut codes)
        .unwrap();
    let second = state
        .request(
            &handle("U1@example.com"),
            None,
            NOW.add_millis(60_000),
            &mut codes,
        )
        .unwrap();
    assert_eq!(
        first,
        PairOutcome::Created {
            code: "AAAAAAAA".into()
        }
    );
    assert_eq!(
        second,
        PairOutcome::AlreadyPending {
            code: "AAAAAAAA".into()
        }
    );
    let live = state.live_requests(NOW);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].created_at, NOW);
    assert_eq!(live[0].last_seen_at, NOW.add_millis(60_000));
    assert_eq!(live[0].chat_id, Some(7));
}

#[test]
fn requests_expire_an_hour_after_creation_even_when_refreshed() {
    let mut state = PairingSnapshot::new("default");
    let mut codes = forced(&[0, 1]);
    let alice = handle("+15550001111");
    state.request(&alice, None, NOW, &mut codes).unwrap();
    // A repeat message 59 minutes in does not extend the hour.
    state
        .request(&alice, None, NOW.add_millis(59 * 60_000), &mut codes)
        .unwrap();
    let cases = [
        (REQUEST_TTL_MS, 1),
        (REQUEST_TTL_MS + 1, 0),
        (2 * REQUEST_TTL_MS, 0),
    ];
    for (age, live) in cases {
        assert_eq!(
            state.live_requests(NOW.add_millis(age)).len(),
            live,
            "age {age}"
        );
    }
    let again = state
        .request(&alice, None, NOW.add_millis(2 * REQUEST_TTL_MS), &mut codes)
        .unwrap();
    assert_eq!(
        again,
        PairOutcome::Created {
            code: "BBBBBBBB".into()
        }
    );
}

#[test]
fn colliding_codes_are_drawn_again() {
    let mut state = PairingSnapshot::new("default");
    // The source yields AAAAAAAA, then AAAAAAAA again, then BBBBBBBB.
    let mut codes = forced(&[0, 0, 1]);
    let first = state
        .request(&handle("+15550001111"), None, NOW, &mut codes)
        .unwrap();
    let second = state
        .request(&handle("+15550002222"), None, NOW, &mut codes)
        .unwrap();
    assert_eq!(
        first,
        PairOutcome::Created {
            code: "AAAAAAAA".into()
        }
    );
    assert_eq!(
        second,
        PairOutcome::Created {
            code: "BBBBBBBB".into()
        }
    );
}

#[test]
fn a_source_that_only_collides_fails_closed() {
    let mut state = PairingSnapshot::new("default");
    let mut codes = forced(&[0]);
    state
        .request(&handle("+15550001111"), None, NOW, &mut codes)
        .unwrap();
    let err = state
        .request(&handle("+15550002222"), None, NOW, &mut codes)
        .unwrap_err();
    assert_eq!(err.to_string(), "failed to generate unique pairing code");
    assert_eq!(state.live_requests(NOW).len(), 1);
}

#[test]
fn the_fourth_stranger_is_ignored() {
    let mut state = PairingSnapshot::new("default");
    let mut codes = forced(&[0, 1, 2, 3]);
    let outcomes: Vec<_> = [
        "+15550000001",
        "+15550000002",
        "+15550000003",
        "+15550000004",
    ]
    .iter()
    .map(|s| state.request(&handle(s), None, NOW, &mut codes).unwrap())
    .collect();
    assert_eq!(
        outcomes,
        [
            PairOutcome::Created {
                code: "AAAAAAAA".into()
            },
            PairOutcome::Created {
                code: "BBBBBBBB".into()
            },
            PairOutcome::Created {
                code: "CCCCCCCC".into()
            },
            PairOutcome::CapReached,
        ]
    );
    let ids: Vec<_> = state
        .live_requests(NOW)
        .iter()
        .map(|r| r.sender_id.clone())
        .collect();
    assert_eq!(ids, ["+15550000001", "+15550000002", "+15550000003"]);
}

#[test]
fn approval_is_by_code_in_any_case_and_only_for_live_requests() {
    let mut state = PairingSnapshot::new("default");
    let mut codes = forced(&[0, 1]);
    state
        .request(&handle("+15550001111"), None, NOW, &mut codes)
        .unwrap();
    state
        .request(&handle("+15550002222"), None, NOW, &mut codes)
        .unwrap();
    assert_eq!(state.approve("  aaaaaaaa ", NOW).unwrap(), "+15550001111");
    assert!(state.is_approved("+15550001111"));
    assert_eq!(state.live_requests(NOW).len(), 1);
    let errors = [
        ("AAAAAAAA", NOW),
        ("", NOW),
        ("BBBBBBBB", NOW.add_millis(REQUEST_TTL_MS + 1)),
    ];
    for (code, at) in errors {
        let err = state.approve(code, at).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("no pending pairing request has code `{code}`")
        );
    }
}

#[test]
fn decide_reports_what_pairing_would_do() {
    let policy = AccessPolicy::builder("default").build();
    let mut state = PairingSnapshot::new("default");
    let mut codes = forced(&[0, 1, 2]);
    let pending = |state: &PairingSnapshot, sender: &str| match decide(
        &policy,
        &dm(1, sender, "hi"),
        &DecideContext::new(state, NOW),
    ) {
        Decision::Pair(p) => p.pending,
        other => panic!("{other}"),
    };
    assert_eq!(pending(&state, "+15550000001"), PendingState::New);
    for s in ["+15550000001", "+15550000002", "+15550000003"] {
        state.request(&handle(s), None, NOW, &mut codes).unwrap();
    }
    assert_eq!(
        pending(&state, "+15550000001"),
        PendingState::Pending {
            code: "AAAAAAAA".into()
        }
    );
    assert_eq!(pending(&state, "+15550000009"), PendingState::CapReached);
    state.approve("AAAAAAAA", NOW).unwrap();
    let admitted = decide(
        &policy,
        &dm(1, "+15550000001", "hi"),
        &DecideContext::new(&state, NOW),
    );
    assert!(admitted.is_dispatch(), "{admitted}");
}

#[test]
fn the_reply_names_the_sender_the_code_and_our_approve_command() {
    let text = format!(
        "{}\n---\n{}",
        pairing_reply("default", "+15550001111", "PAIRCODE"),
        pairing_reply("work", "user@example.com", "JKL01234")
    );
    insta::assert_snapshot!(text);
}

#[test]
fn the_memory_store_keeps_accounts_apart() {
    let store = MemoryPairingStore::new();
    let mut codes = forced(&[0]);
    let alice = handle("+15550001111");
    let outcome = ready(store.update("work", |s| s.request(&alice, None, NOW, &mut codes)))
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        PairOutcome::Created {
            code: "AAAAAAAA".into()
        }
    );
    ready(store.update("work", |s| s.approve("AAAAAAAA", NOW)))
        .unwrap()
        .unwrap();
    let work = ready(store.load("work")).unwrap();
    let default = ready(store.load("default")).unwrap();
    assert!(work.is_approved("+15550001111"));
    assert!(!default.is_approved("+15550001111"));
    assert_eq!(default.account_id(), "default");
}

#[test]
fn stored_wildcards_and_blanks_are_not_approvals() {
    let state = PairingSnapshot::from_parts(
        "default",
        ["*".to_owned(), " ".to_owned(), " +15550001111 ".to_owned()],
        vec![],
    );
    assert_eq!(state.approved().collect::<Vec<_>>(), ["+15550001111"]);
}

#[test]
fn a_new_code_is_unique_among_stored_codes_in_any_case() {
    // Approval matches codes case-insensitively, so a stored lowercase code
    // and a new uppercase one would be the same code: approving it would admit
    // whichever sender comes first.
    let stored = imsg_policy::PairingRequest {
        sender_id: "+15550001111".into(),
        code: "aaaaaaaa".into(),
        created_at: NOW,
        last_seen_at: NOW,
        chat_id: None,
    };
    let mut state = PairingSnapshot::from_parts("default", Vec::new(), vec![stored]);
    let outcome = state
        .request(&handle("+15550002222"), None, NOW, &mut forced(&[0, 1]))
        .unwrap();
    assert_eq!(
        outcome,
        PairOutcome::Created {
            code: "BBBBBBBB".into()
        }
    );
    assert_eq!(state.approve("AAAAAAAA", NOW).unwrap(), "+15550001111");
    assert_eq!(state.approve("bbbbbbbb", NOW).unwrap(), "+15550002222");
}

#[test]
fn a_snapshot_of_another_account_says_nothing_about_pending_requests() {
    // decide ignores a snapshot of another account for approvals; its pending
    // requests must not show through either.
    let policy = AccessPolicy::builder("default").build();
    let mut work = PairingSnapshot::new("work");
    work.request(&handle("+15550001111"), Some(7), NOW, &mut forced(&[0]))
        .unwrap();
    for _ in 0..2 {
        let other = format!("+1555000{}", 2000 + work.requests().len());
        work.request(
            &handle(&other),
            None,
            NOW,
            &mut forced(&[work.requests().len() as u8]),
        )
        .unwrap();
    }
    let empty = PairingSnapshot::new("default");
    for sender in ["+15550001111", "+15550009999"] {
        let message = dm(7, sender, "hello");
        let foreign = decide(&policy, &message, &DecideContext::new(&work, NOW));
        let own = decide(&policy, &message, &DecideContext::new(&empty, NOW));
        assert_eq!(foreign, own, "{sender}");
        match foreign {
            Decision::Pair(request) => assert_eq!(request.pending, PendingState::New),
            other => panic!("expected pair, got {other}"),
        }
    }
}

#[test]
fn the_pending_state_is_what_request_will_do() {
    // A stored file may hold more than three live requests and blank codes;
    // `request` prunes to the three most recently seen and keeps a blank-code
    // request as pending. What decide reports must match what request does.
    let stored = |sender: &str, code: &str, seen: i64| imsg_policy::PairingRequest {
        sender_id: sender.into(),
        code: code.into(),
        created_at: NOW,
        last_seen_at: NOW.add_millis(seen),
        chat_id: None,
    };
    let snapshot = PairingSnapshot::from_parts(
        "default",
        Vec::new(),
        vec![
            stored("+15550000001", "AAAAAAAA", 1),
            stored("+15550000002", "BBBBBBBB", 2),
            stored("+15550000003", "CCCCCCCC", 3),
            stored("+15550000004", "DDDDDDDD", 4),
            stored("+15550000005", "", 5),
        ],
    );
    for sender in [
        "+15550000001",
        "+15550000002",
        "+15550000004",
        "+15550000005",
        "+15550000009",
    ] {
        let at = NOW.add_millis(10);
        let predicted = snapshot.pending_state(sender, at);
        let outcome = snapshot
            .clone()
            .request(&handle(sender), None, at, &mut forced(&[7]))
            .unwrap();
        let consistent = matches!(
            (&predicted, &outcome),
            (PendingState::New, PairOutcome::Created { .. })
                | (
                    PendingState::Pending { .. },
                    PairOutcome::AlreadyPending { .. }
                )
                | (PendingState::CapReached, PairOutcome::CapReached)
        );
        assert!(
            consistent,
            "{sender}: predicted {predicted:?}, got {outcome:?}"
        );
    }
}
