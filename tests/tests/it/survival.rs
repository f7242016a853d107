//! End-to-end survival: imsg-rpc against the simulator's fault injection.

use std::time::Duration;

use imsg_rpc::{ChatsListParams, ClientConfig, RpcError, SendParams, SendTarget, SubscribeParams};
use serde_json::json;

use crate::fixture::{BOUND, Fixture, Session};

#[tokio::test]
async fn crash_after_notifications_fails_everything_with_the_exit_status() {
    let fixture = Fixture::new();
    let options = fixture
        .options()
        .with_env("IMSG_SIM_EXIT_AFTER_NOTIFICATIONS", "2")
        .with_env("IMSG_SIM_EXIT_CODE", "7")
        .with_env("IMSG_SIM_STDERR_LINE", "sim: about to crash");
    let mut session = Session::start(options);
    let sub = session
        .client
        .watch_subscribe(&SubscribeParams {
            since_rowid: Some(-1),
            ..SubscribeParams::default()
        })
        .await;
    // The crash may beat the subscribe answer; the two notifications still arrive.
    let (_, first) = session.next_message().await;
    let (_, second) = session.next_message().await;
    assert_eq!(
        (first["id"].clone(), second["id"].clone()),
        (json!(10), json!(11))
    );
    assert!(
        tokio::time::timeout(BOUND, session.notifications.recv())
            .await
            .unwrap()
            .is_none()
    );
    let err = session
        .client
        .chats_list(&ChatsListParams::default())
        .await
        .unwrap_err();
    match &err {
        RpcError::Closed {
            status,
            stderr_tail,
        } => {
            assert_eq!(status.and_then(|s| s.code()), Some(7));
            assert!(stderr_tail.contains("sim: about to crash"), "{stderr_tail}");
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with("imsg rpc exited (code 7)"),
        "{err}"
    );
    if let Err(sub_err) = sub {
        assert_eq!(sub_err.to_string(), err.to_string());
    }
    assert_eq!(
        session.client.close_reason().map(|e| e.to_string()),
        Some(err.to_string())
    );
}

#[tokio::test]
async fn garbage_lines_between_frames_are_skipped() {
    let fixture = Fixture::new();
    let mut session = Session::start(fixture.options().with_env("IMSG_SIM_GARBAGE_EVERY", "1"));
    for limit in 1..=5 {
        let list = session
            .client
            .chats_list(&ChatsListParams { limit: Some(limit) })
            .await
            .unwrap();
        assert_eq!(list.chats.len(), usize::try_from(limit.min(2)).unwrap());
    }
    session
        .subscribe(SubscribeParams {
            since_rowid: Some(-1),
            ..SubscribeParams::default()
        })
        .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(session.next_message().await.1["id"].as_i64().unwrap());
    }
    assert_eq!(ids, [10, 11, 12, 14, 15]);
    let counters = session.client.counters();
    assert!(counters.bad_lines >= 5, "{counters:?}");
    assert!(session.client.close_reason().is_none());
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn an_oversized_line_is_discarded_and_the_stream_goes_on() {
    let fixture = Fixture::new();
    let mut config = ClientConfig::default();
    config.max_line_bytes = 64 * 1024;
    config.request_timeout = BOUND;
    let options = fixture
        .options()
        .with_client(config)
        .with_env("IMSG_SIM_OVERSIZED_BYTES", "1000000")
        .with_env("IMSG_SIM_OVERSIZED_BEFORE", "1");
    let session = Session::start(options);
    for _ in 0..3 {
        let list = session
            .client
            .chats_list(&ChatsListParams { limit: Some(1) })
            .await
            .unwrap();
        assert_eq!(list.chats[0].id, 2);
    }
    let counters = session.client.counters();
    assert_eq!(counters.oversized, 1, "{counters:?}");
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn a_stalled_peer_times_out_and_a_stalled_send_is_outcome_unknown() {
    let fixture = Fixture::new();
    let mut config = ClientConfig::default();
    config.request_timeout = Duration::from_millis(300);
    config.send_timeout = Duration::from_millis(300);
    let options = fixture
        .options()
        .with_client(config)
        .with_env("IMSG_SIM_STALL_MS", "3000")
        .with_env("IMSG_SIM_STALL_AT", "2");
    let session = Session::start(options);
    let client = &session.client;
    // Request 1 is answered; request 2 (a send) hits the stall.
    client
        .chats_list(&ChatsListParams { limit: Some(1) })
        .await
        .unwrap();
    let err = client
        .send(&SendParams::text(SendTarget::ChatId(2), "are you there?"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RpcError::SendOutcomeUnknown { .. }),
        "{err:?}"
    );
    let err = client
        .chats_list(&ChatsListParams::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err:?}");
    // After the stall the late answers are dropped as orphans and the session works again.
    let list = tokio::time::timeout(BOUND, async {
        loop {
            match client.chats_list(&ChatsListParams { limit: Some(1) }).await {
                Ok(list) => break list,
                Err(RpcError::Timeout { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(list.chats.len(), 1);
    // The driver handles commands in order, so every timed-out entry was removed before the
    // last request was even registered.
    assert_eq!(client.counters().pending, 0);
    assert!(client.counters().orphan_responses >= 2);
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn exit_code_at_end_of_input_is_reported() {
    let fixture = Fixture::new();
    let session = Session::start(fixture.options().with_env("IMSG_SIM_EXIT_CODE", "5"));
    session
        .client
        .chats_list(&ChatsListParams { limit: Some(1) })
        .await
        .unwrap();
    let client = session.client.clone();
    assert_eq!(session.stop().await, Some(5));
    let err = client
        .chats_list(&ChatsListParams::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("imsg rpc exited (code 5)"),
        "{err}"
    );
}
