//! Fault injection: each `IMSG_SIM_*` fault mode does what docs/simulator.md says.

use serde_json::Value;

use crate::harness::{Fixture, Row, Sim, insert};

const SUBSCRIBE_ALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"watch.subscribe","params":{"since_rowid":-1,"debounce_ms":0}}"#;

fn chats(id: i64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"chats.list","params":{{"limit":1}}}}"#)
}

#[test]
fn exits_after_n_notifications_with_the_given_code() {
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(
        &fixture,
        &[
            ("IMSG_SIM_EXIT_AFTER_NOTIFICATIONS", "2"),
            ("IMSG_SIM_EXIT_CODE", "3"),
        ],
    );
    sim.send(SUBSCRIBE_ALL);
    assert_eq!(sim.json()["result"]["subscription"], 1);
    assert_eq!(sim.json()["params"]["message"]["id"], 10);
    assert_eq!(sim.json()["params"]["message"]["id"], 11);
    assert!(sim.stdout_ends(), "nothing after the second notification");
    assert_eq!(sim.wait().code(), Some(3));
}

#[test]
fn exits_after_n_responses() {
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(&fixture, &[("IMSG_SIM_EXIT_AFTER_RESPONSES", "1")]);
    sim.send(&chats(1));
    assert_eq!(sim.json()["id"], 1);
    assert!(sim.stdout_ends());
    assert_eq!(sim.wait().code(), Some(1));
}

#[test]
fn end_of_input_uses_the_given_exit_code() {
    let fixture = Fixture::f();
    let sim = Sim::rpc(&fixture, &[("IMSG_SIM_EXIT_CODE", "7")]);
    assert_eq!(sim.finish().code(), Some(7));
}

#[test]
fn writes_garbage_every_n_lines() {
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(&fixture, &[("IMSG_SIM_GARBAGE_EVERY", "2")]);
    for id in 1..=4 {
        sim.send(&chats(id));
    }
    let lines: Vec<String> = (0..6).map(|_| sim.line()).collect();
    let ids: Vec<Option<i64>> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v["id"].as_i64())
        })
        .collect();
    assert_eq!(
        ids,
        vec![Some(1), Some(2), None, Some(3), Some(4), None],
        "{lines:?}"
    );
    assert!(serde_json::from_str::<Value>(&lines[2]).is_err());
}

#[test]
fn writes_one_oversized_line() {
    let fixture = Fixture::f();
    let size = 20 * 1024 * 1024;
    let mut sim = Sim::rpc(
        &fixture,
        &[
            ("IMSG_SIM_OVERSIZED_BYTES", "20971520"),
            ("IMSG_SIM_OVERSIZED_BEFORE", "2"),
        ],
    );
    sim.send(&chats(1));
    sim.send(&chats(2));
    sim.send(&chats(3));
    assert_eq!(sim.json()["id"], 1);
    let big = sim.line();
    assert_eq!(big.len(), size);
    assert!(big.bytes().all(|b| b == b'x'));
    assert_eq!(sim.json()["id"], 2);
    assert_eq!(
        sim.json()["id"],
        3,
        "the oversized line is written only once"
    );
}

#[test]
fn stalls_requests_while_watch_keeps_streaming() {
    let fixture = Fixture::f();
    // Request 2 stalls for far longer than a debounce-0 poll takes, so the notification must overtake it.
    let mut sim = Sim::rpc(
        &fixture,
        &[("IMSG_SIM_STALL_MS", "3000"), ("IMSG_SIM_STALL_AT", "2")],
    );
    sim.send(r#"{"jsonrpc":"2.0","id":1,"method":"watch.subscribe","params":{"debounce_ms":0}}"#);
    assert_eq!(sim.json()["result"]["subscription"], 1);
    sim.send(&chats(2));
    insert(
        &fixture.writer(),
        &Row {
            id: 16,
            handle: 1,
            text: Some("during stall"),
            chat: Some(2),
            k: 6,
            ..Row::default()
        },
    );
    let first = sim.json();
    assert_eq!(first["params"]["message"]["id"], 16, "{first}");
    assert_eq!(
        sim.json()["id"],
        2,
        "the stalled request is answered afterwards"
    );
}

#[test]
fn writes_a_line_to_stderr() {
    let fixture = Fixture::f();
    let sim = Sim::rpc(
        &fixture,
        &[("IMSG_SIM_STDERR_LINE", "warning: simulated noise")],
    );
    assert_eq!(sim.stderr_line(), "warning: simulated noise");
    assert_eq!(sim.finish().code(), Some(0));
}
