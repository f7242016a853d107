//! The client against scripted peers: framing faults, id matching, timeouts, back-pressure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use imsg_rpc::{
    ChatsListParams, ClientConfig, HistoryParams, Notification, ReadParams, RpcClient, RpcError,
    SendParams, SendTarget, SubscribeParams, TypingParams,
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::peer::{message_line, session, small_config};

/// Waits until every task of the (paused-clock) runtime is blocked: the clock only jumps when
/// nothing else can run, so this returns once the system has settled.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

fn event_id(n: &Notification) -> i64 {
    match n {
        Notification::Message(event) => event.message.id,
        other => panic!("expected a message notification, got {other:?}"),
    }
}

#[tokio::test]
async fn junk_lines_are_counted_and_skipped() {
    let (client, _notifications, mut peer) = session(small_config(8, 8), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.chats_list(&ChatsListParams { limit: Some(1) }).await }
    });
    let req = peer.request().await;
    let oversized = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(2000));
    let junk: Vec<&[u8]> = vec![
        b"not-json\n",
        b"42\n",
        b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}]\n",
        b"\"a string\"\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"res\n",
        b"\xff\xfe{\"bad\":\"utf8\"}\n",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"t\":\"\xc3\x28\"}}\n",
        b"{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}\n",
        b"\n",
        b"   \r\n",
        b"\r\n",
        oversized.as_bytes(),
        b"Permission Error: old imsg banner on stdout\n",
    ];
    for line in junk {
        peer.write(line).await;
    }
    let answer = json!({"jsonrpc":"2.0","id":req["id"],"result":{"chats":[]}});
    let mut text = serde_json::to_vec(&answer).unwrap();
    text.extend_from_slice(b"\r\n");
    peer.write(&text).await;
    let list = call.await.unwrap().unwrap();
    assert!(list.chats.is_empty());
    let counters = client.counters();
    // Blank lines are not counted at all; the oversized line is counted as a line.
    assert_eq!(counters.lines, 11);
    assert_eq!(counters.bad_lines, 9);
    assert_eq!(counters.oversized, 1);
    assert_eq!(counters.pending, 0);
    assert!(client.close_reason().is_none());
}

#[tokio::test]
async fn a_line_split_over_many_writes_is_reassembled() {
    let (client, mut notifications, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({"limit":1})).await }
    });
    let req = peer.request().await;
    let mut bytes = message_line(1, 10);
    bytes.extend(
        serde_json::to_vec(&json!({"jsonrpc":"2.0","id":req["id"],
        "result":{"chats":[],"note":"é\u{2028}x"}}))
        .unwrap(),
    );
    bytes.push(b'\n');
    // Every byte in its own write, so multi-byte UTF-8 is split as well.
    for byte in &bytes {
        peer.write(std::slice::from_ref(byte)).await;
    }
    let value = call.await.unwrap().unwrap();
    assert_eq!(value["note"], "é\u{2028}x");
    assert_eq!(event_id(&notifications.recv().await.unwrap()), 10);
    assert_eq!(client.counters().bad_lines, 0);
}

#[tokio::test]
async fn unknown_duplicate_and_string_ids() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    assert_eq!(req["id"], 1);
    peer.answer(&json!(999), json!({"wrong": true})).await;
    peer.answer(&req["id"], json!({"right": 1})).await;
    peer.answer(&req["id"], json!({"duplicate": 2})).await;
    assert_eq!(first.await.unwrap().unwrap(), json!({"right": 1}));

    // A peer that stringifies ids is still matched.
    let second = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    peer.answer(&json!(req["id"].to_string()), json!({"string": true}))
        .await;
    assert_eq!(second.await.unwrap().unwrap(), json!({"string": true}));
    assert_eq!(client.counters().orphan_responses, 2);

    // An error with id null (a parse error for a line we never sent) is logged, not fatal.
    peer.line(&json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}))
        .await;
    let third = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    peer.answer(&req["id"], json!({})).await;
    assert_eq!(third.await.unwrap().unwrap(), json!({}));
    assert_eq!(client.counters().orphan_responses, 3);
}

#[tokio::test]
async fn concurrent_requests_matched_out_of_order() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call("chats.list", json!({"limit": i})).await })
        })
        .collect();
    let mut requests = Vec::new();
    for _ in 0..5 {
        requests.push(peer.request().await);
    }
    for req in requests.iter().rev() {
        peer.answer(&req["id"], json!({"echo": req["params"]["limit"]}))
            .await;
    }
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), json!({"echo": i}));
    }
}

#[tokio::test]
async fn remote_errors_render_like_the_gateways() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(&SendParams::text(SendTarget::ChatId(999), "hi"))
                .await
        }
    });
    let req = peer.request().await;
    peer.line(
        &json!({"jsonrpc":"2.0","id":req["id"],"error":{"code":-32602,
        "message":"Invalid params","data":"unknown chat_id 999"}}),
    )
    .await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(-32602));
    assert_eq!(
        err.to_string(),
        "Invalid params: code=-32602 unknown chat_id 999"
    );
}

#[tokio::test]
async fn malformed_error_objects_still_answer_their_request() {
    // imsg 0.9.0 always writes `code`, but a peer that does not must not leave the caller
    // waiting for its timeout: the answer names its id, so it is an error for that request.
    let bodies = [
        json!({"message":"boom"}),
        json!({"code":"-32602","message":"Invalid params","data":"x"}),
        json!("a bare string"),
        json!(42),
    ];
    for body in bodies {
        let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
        let call = tokio::spawn({
            let client = client.clone();
            async move { client.chats_list(&ChatsListParams { limit: Some(1) }).await }
        });
        let req = peer.request().await;
        peer.line(&json!({"jsonrpc":"2.0","id":req["id"],"error":body.clone()}))
            .await;
        let err = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .unwrap_or_else(|_| panic!("no answer for error body {body}"))
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, RpcError::Remote { .. }),
            "error body {body} gave {err:?}"
        );
        assert_eq!(client.counters().bad_lines, 0, "error body {body}");
    }
}

#[tokio::test]
async fn typed_methods_write_exact_lines() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let worker = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .chats_list(&ChatsListParams { limit: Some(1) })
                .await
                .unwrap();
            client
                .messages_history(&HistoryParams {
                    chat_id: 2,
                    limit: Some(2),
                    attachments: Some(true),
                    ..HistoryParams::default()
                })
                .await
                .unwrap();
            let sub = client
                .watch_subscribe(&SubscribeParams {
                    since_rowid: Some(11),
                    ..SubscribeParams::default()
                })
                .await
                .unwrap();
            client.watch_unsubscribe(sub.subscription).await.unwrap();
            client
                .send(&SendParams::text(
                    SendTarget::To("+15551230001".into()),
                    "hi",
                ))
                .await
                .unwrap();
            client
                .typing(&TypingParams {
                    target: SendTarget::ChatId(2),
                    typing: false,
                    service: None,
                })
                .await
                .unwrap();
            client
                .read(&ReadParams {
                    target: SendTarget::ChatGuid("iMessage;+;chat123".into()),
                })
                .await
                .unwrap();
            client
                .call(
                    "tapback",
                    json!({"chat_id":1,"message_guid":"G-12","reaction":"like"}),
                )
                .await
                .unwrap()
        }
    });
    let results = [
        json!({"chats":[]}),
        json!({"messages":[]}),
        json!({"subscription":1}),
        json!({"ok":true}),
        json!({"ok":true,"transport":"applescript","id":19,"guid":"4F1C"}),
        json!({"ok":true}),
        json!({"ok":true}),
        json!({"ok":true,"reaction":"like"}),
    ];
    let mut lines = Vec::new();
    for result in results {
        let text = peer.request_text().await;
        let req: Value = serde_json::from_str(&text).unwrap();
        peer.answer(&req["id"], result).await;
        lines.push(text);
    }
    assert_eq!(worker.await.unwrap(), json!({"ok":true,"reaction":"like"}));
    insta::assert_snapshot!(lines.join("\n"));
}

#[tokio::test]
async fn notifications_in_order_including_before_the_subscribe_answer() {
    let (client, mut notifications, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .watch_subscribe(&SubscribeParams {
                    since_rowid: Some(11),
                    ..SubscribeParams::default()
                })
                .await
        }
    });
    let req = peer.request().await;
    // The watcher's first row beats the subscribe answer, as imsg 0.9.0 allows.
    peer.write(&message_line(1, 12)).await;
    peer.answer(&req["id"], json!({"subscription":1})).await;
    peer.write(&message_line(1, 14)).await;
    peer.line(
        &json!({"jsonrpc":"2.0","method":"error","params":{"subscription":1,
        "error":{"message":"database is locked (code: 5)"}}}),
    )
    .await;
    peer.line(&json!({"jsonrpc":"2.0","method":"watch.overflow","params":{"subscription":1}}))
        .await;
    peer.line(&json!({"jsonrpc":"2.0","method":"message","params":{"subscription":"x"}}))
        .await;
    assert_eq!(call.await.unwrap().unwrap().subscription, 1);
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(match notifications.recv().await.unwrap() {
            Notification::Message(e) => format!("message {} sub {}", e.message.id, e.subscription),
            Notification::Error(e) => format!("error sub {}: {}", e.subscription, e.error.message),
            Notification::Other { method, .. } => format!("other {method}"),
            Notification::Malformed { method, .. } => format!("malformed {method}"),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        [
            "message 12 sub 1",
            "message 14 sub 1",
            "error sub 1: database is locked (code: 5)",
            "other watch.overflow",
            "malformed message",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stalled_peer_times_out_and_pending_entry_is_removed() {
    let mut config = ClientConfig::default();
    config.request_timeout = Duration::from_secs(10);
    config.send_timeout = Duration::from_secs(150);
    let (client, _n, mut peer) = session(config, 64 * 1024);

    let list = tokio::spawn({
        let client = client.clone();
        async move { client.chats_list(&ChatsListParams::default()).await }
    });
    let first = peer.request().await;
    let err = list.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, RpcError::Timeout { method, after } if method == "chats.list" && *after == Duration::from_secs(10)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "imsg rpc timeout (`chats.list`) after 10s");

    let start = tokio::time::Instant::now();
    let send = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(&SendParams::text(SendTarget::ChatId(2), "hi"))
                .await
        }
    });
    let second = peer.request().await;
    let err = send.await.unwrap().unwrap_err();
    assert!(
        matches!(err, RpcError::SendOutcomeUnknown { .. }),
        "{err:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(150));

    // Both entries are gone; the late answers are counted as orphans, not delivered.
    settle().await;
    assert_eq!(client.counters().pending, 0);
    peer.answer(&first["id"], json!({"chats":[]})).await;
    peer.answer(&second["id"], json!({"ok":true})).await;
    let after = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let third = peer.request().await;
    peer.answer(&third["id"], json!({"fresh":true})).await;
    assert_eq!(after.await.unwrap().unwrap(), json!({"fresh":true}));
    assert_eq!(client.counters().orphan_responses, 2);
}

#[tokio::test]
async fn peer_dying_mid_line_fails_pending_and_later_requests_with_one_error() {
    let (client, mut notifications, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    peer.request().await;
    peer.write(&message_line(1, 30)).await;
    peer.write(br#"{"jsonrpc":"2.0","id":1,"resu"#).await;
    drop(peer);
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(err, RpcError::Closed { status: None, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "imsg rpc closed");
    let later = client.call("chats.list", json!({})).await.unwrap_err();
    assert_eq!(later.to_string(), err.to_string());
    assert!(client.close_reason().is_some());
    // The notification before the fragment still arrives, then the stream ends.
    assert_eq!(event_id(&notifications.recv().await.unwrap()), 30);
    assert!(notifications.recv().await.is_none());
    assert_eq!(client.counters().bad_lines, 1);
}

#[tokio::test(start_paused = true)]
async fn flood_loses_nothing_and_blocks_the_peer() {
    const TOTAL: i64 = 300;
    let (_client, mut notifications, mut peer) = session(small_config(4, 4), 512);
    let written = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let written = Arc::clone(&written);
        async move {
            for id in 1..=TOTAL {
                peer.writer.write_all(&message_line(7, id)).await.unwrap();
                written.fetch_add(1, Ordering::SeqCst);
            }
            peer
        }
    });
    settle().await;
    // The consumer has read nothing: the peer is blocked after channel (4) + overflow (4) +
    // what fits in the decoder and the 512-byte pipe, far below the total.
    let blocked_at = written.load(Ordering::SeqCst);
    assert!(
        blocked_at < 16,
        "peer wrote {blocked_at} lines before blocking"
    );
    assert!(!writer.is_finished());
    let mut next = 1;
    while next <= TOTAL {
        let n = notifications.recv().await.unwrap();
        assert_eq!(event_id(&n), next);
        next += 1;
    }
    writer.await.unwrap();
    assert_eq!(written.load(Ordering::SeqCst), 300);
}

#[tokio::test]
async fn responses_are_routed_while_the_consumer_is_not_draining() {
    // Channel 2 + overflow 8: nine notifications leave room in the overflow queue, so the
    // answer behind them is routed although nobody reads the notifications.
    let (client, mut notifications, mut peer) = session(small_config(2, 8), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    for id in 1..=9 {
        peer.write(&message_line(1, id)).await;
    }
    peer.answer(&req["id"], json!({"chats":[]})).await;
    assert_eq!(call.await.unwrap().unwrap(), json!({"chats":[]}));
    for id in 1..=9 {
        assert_eq!(event_id(&notifications.recv().await.unwrap()), id);
    }
}

#[tokio::test(start_paused = true)]
async fn a_response_behind_a_full_queue_times_out_instead_of_hanging() {
    // Channel 2 + overflow 2 and a caller that never drains: the answer sits behind 40
    // notifications, so the request times out (no deadlock), and nothing is lost afterwards.
    let (client, mut notifications, mut peer) = session(small_config(2, 2), 512);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    let writer = tokio::spawn(async move {
        for id in 1..=40 {
            peer.write(&message_line(1, id)).await;
        }
        peer.answer(&req["id"], json!({"chats":[]})).await;
        peer
    });
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err:?}");
    for id in 1..=40 {
        assert_eq!(event_id(&notifications.recv().await.unwrap()), id);
    }
    let _peer = writer.await.unwrap();
    settle().await;
    assert_eq!(client.counters().orphan_responses, 1);
    assert_eq!(client.counters().pending, 0);
}

#[tokio::test]
async fn dropping_every_handle_closes_the_peer_input() {
    let (client, notifications, mut peer) = session(ClientConfig::default(), 64 * 1024);
    drop(client);
    let mut line = String::new();
    let n = tokio::io::AsyncBufReadExt::read_line(&mut peer.reader, &mut line)
        .await
        .unwrap();
    assert_eq!(n, 0, "expected EOF, got {line:?}");
    drop(notifications);
}

#[tokio::test]
async fn close_input_after_queued_requests() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    client.close_input();
    let mut line = String::new();
    let n = tokio::io::AsyncBufReadExt::read_line(&mut peer.reader, &mut line)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The peer can still answer what it already got.
    peer.answer(&req["id"], json!({"late":"ok"})).await;
    assert_eq!(call.await.unwrap().unwrap(), json!({"late":"ok"}));
    let err = client.call("chats.list", json!({})).await.unwrap_err();
    assert!(matches!(err, RpcError::InputClosed), "{err:?}");
}

#[tokio::test]
async fn full_disk_access_error_is_typed() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.chats_list(&ChatsListParams { limit: Some(1) }).await }
    });
    let req = peer.request().await;
    peer.line(&json!({"jsonrpc":"2.0","id":req["id"],"error":{"code":-32603,
        "message":"Internal error","data":"unable to open database file (code: 14)\n\n⚠️  Permission Error: Cannot access Messages database\n\nThe Messages database at /Users/me/Library/Messages/chat.db requires Full Disk Access permission.\n\nTo fix:\n1. Open System Settings"}}))
        .await;
    let err = call.await.unwrap().unwrap_err();
    insta::assert_snapshot!(err.to_string());
    assert!(matches!(err, RpcError::PermissionDenied { .. }));
}

#[tokio::test]
async fn an_old_plain_text_permission_banner_becomes_the_typed_error() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.chats_list(&ChatsListParams { limit: Some(1) }).await }
    });
    peer.request().await;
    let banner = "unable to open database file (code: 14)\n\n⚠️  Permission Error: Cannot access \
                  Messages database\n\nThe Messages database at /Users/me/Library/Messages/chat.db \
                  requires Full Disk Access permission.\n";
    peer.write(banner.as_bytes()).await;
    drop(peer);
    let err = call.await.unwrap().unwrap_err();
    match &err {
        RpcError::PermissionDenied { db_path, .. } => {
            assert_eq!(
                db_path.as_deref(),
                Some("/Users/me/Library/Messages/chat.db")
            );
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    assert_eq!(client.counters().bad_lines, 3);
}

#[tokio::test(start_paused = true)]
async fn dropping_notifications_releases_answers_already_buffered() {
    // Channel 1 + overflow 1: after two notifications the driver stops decoding, with the rest
    // of the peer's output (more notifications, then the answer) already in its read buffer.
    // Dropping the receiver must let the driver route that answer; the peer writes nothing more.
    let (client, notifications, mut peer) = session(small_config(1, 1), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    let mut burst = Vec::new();
    for id in 1..=5 {
        burst.extend(message_line(1, id));
    }
    burst.extend(
        serde_json::to_vec(&json!({"jsonrpc":"2.0","id":req["id"],"result":{"chats":[]}})).unwrap(),
    );
    burst.push(b'\n');
    peer.write(&burst).await;
    // The driver has stalled once it holds one notification in the channel and one parked.
    while client.counters().notifications < 2 {
        tokio::task::yield_now().await;
    }
    drop(notifications);
    let answer = call.await.unwrap();
    assert_eq!(answer.unwrap(), json!({"chats":[]}));
    assert_eq!(client.counters().pending, 0);
    drop(peer);
}

#[tokio::test(start_paused = true)]
async fn a_request_queued_behind_a_failed_write_fails_at_once_and_is_not_outcome_unknown() {
    // The peer's input is a 1-byte pipe nobody reads, so the first request's line can never be
    // written completely; the second waits behind it. Then the peer closes its input.
    let (ours_in, theirs_in) = tokio::io::duplex(1);
    let (ours_out, _theirs_out) = tokio::io::duplex(1024);
    let (client, _n) = RpcClient::from_halves(ours_out, ours_in, ClientConfig::default());
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.chats_list(&ChatsListParams::default()).await }
    });
    let second = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(&SendParams::text(SendTarget::ChatId(2), "hi"))
                .await
        }
    });
    while client.counters().pending < 2 {
        tokio::task::yield_now().await;
    }
    drop(theirs_in);
    // The send's line never left the client: that is a plain i/o failure, not "outcome
    // unknown", and it must not wait for the send timeout.
    let err = second.await.unwrap().unwrap_err();
    assert!(matches!(err, RpcError::Io { .. }), "{err:?}");
    // The first line was cut off mid-write; what the peer made of it is unknown, so it keeps
    // its timeout.
    let err = first.await.unwrap().unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err:?}");
    assert_eq!(client.counters().pending, 0);
    // And later requests fail at once with the write error.
    let err = client.call("chats.list", json!({})).await.unwrap_err();
    assert!(matches!(err, RpcError::Io { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_bridge_send_is_outcome_unknown_too() {
    // `send.rich` and `send.attachment` deliver messages like `send` does: a timeout must not
    // look like a plain, retryable `Timeout`, and they get the long send timeout.
    let mut config = ClientConfig::default();
    config.request_timeout = Duration::from_secs(10);
    config.send_timeout = Duration::from_secs(150);
    let (client, _n, mut peer) = session(config, 64 * 1024);
    for method in ["send.rich", "send.attachment"] {
        let call = tokio::spawn({
            let client = client.clone();
            async move { client.call(method, json!({"chat_id":1,"text":"hi"})).await }
        });
        peer.request().await;
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(err, RpcError::SendOutcomeUnknown { after } if after == Duration::from_secs(150)),
            "{method}: {err:?}"
        );
    }
}

#[tokio::test]
async fn the_kept_permission_banner_stays_small_after_a_huge_junk_line() {
    // The recorded error is cloned to every pending and later request, so the banner text kept
    // for it must stay bounded even when a huge (but not oversized) junk line follows it.
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.chats_list(&ChatsListParams { limit: Some(1) }).await }
    });
    peer.request().await;
    peer.write(b"Permission Error: Cannot access Messages database\n")
        .await;
    let junk = format!("{}\n", "j".repeat(1_000_000));
    peer.write(junk.as_bytes()).await;
    drop(peer);
    let err = call.await.unwrap().unwrap_err();
    match &err {
        RpcError::PermissionDenied { detail, .. } => {
            assert!(detail.starts_with("Permission Error"), "{detail:.80}");
            assert!(detail.len() <= 4096, "kept {} bytes", detail.len());
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn odd_ids_are_orphans_and_never_fatal() {
    let (client, _n, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({})).await }
    });
    let req = peer.request().await;
    assert_eq!(req["id"], 1);
    // Overflowing, negative, fractional, boolean, object and non-numeric string ids, and a
    // float spelling of the right id: none matches request 1, none ends the session.
    for id in [
        "18446744073709551617",
        "-1",
        "1.5",
        "1.0",
        "1e0",
        "true",
        "{\"n\":1}",
        "[1]",
        "\"one\"",
        "\"\"",
    ] {
        peer.write(format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{}}}}\n").as_bytes())
            .await;
    }
    peer.answer(&req["id"], json!({"ok": 1})).await;
    assert_eq!(call.await.unwrap().unwrap(), json!({"ok": 1}));
    let counters = client.counters();
    assert_eq!((counters.orphan_responses, counters.bad_lines), (10, 0));
    assert!(client.close_reason().is_none());
}

#[tokio::test]
async fn a_line_with_surrounding_whitespace_is_still_a_frame() {
    // The reference clients trim every line before parsing it (spec 12.1); a row indented by a
    // wrapper must not be lost as a "non-object" line.
    let (client, mut notifications, mut peer) = session(ClientConfig::default(), 64 * 1024);
    let mut line = b" \t".to_vec();
    line.extend(message_line(1, 41));
    line.truncate(line.len() - 1);
    line.extend(b" \t\r\n");
    peer.write(&line).await;
    drop(peer);
    let first = notifications.recv().await;
    assert_eq!(first.as_ref().map(event_id), Some(41), "{first:?}");
    assert_eq!(client.counters().bad_lines, 0);
}
