//! The conformance examples of spec section 15, run through imsg-rpc against the `imsg` binary.
//!
//! Examples 3 to 9 are about malformed client lines, which imsg-rpc never writes; they are sent
//! raw over the child's stdin and the answers compared as parsed JSON, and then a second session
//! shows that imsg-rpc survives the same answers arriving with ids it does not know.

use std::process::Stdio;
use std::time::Duration;

use imsg_rpc::{
    ChatsListParams, ClientConfig, HistoryParams, Notification, RpcError, SendParams, SendTarget,
    Service, SubscribeParams, probe,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use crate::fixture::{BOUND, Fixture, IMSG, Session, chat1, chat2, merge, options_for, t};

/// Asserts that `err` is a remote error with this code, message and string data.
#[track_caller]
fn assert_remote(err: &RpcError, code: i64, message: &str, data: &str) {
    match err {
        RpcError::Remote {
            code: c,
            message: m,
            data: d,
        } => {
            assert_eq!((*c, m.as_str()), (code, message), "{err}");
            assert_eq!(d.as_ref().and_then(Value::as_str), Some(data), "{err}");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[tokio::test]
async fn ex01_02_version_and_help_probe() {
    let fixture = Fixture::new();
    let report = probe(&fixture.options(), BOUND).await.unwrap();
    assert_eq!(report.version.as_deref(), Some("0.9.0"));
    assert_eq!(report.chats, 1);
    let report = probe(&fixture.options().with_env("IMSG_VERSION", "9.9.9"), BOUND)
        .await
        .unwrap();
    assert_eq!(report.version.as_deref(), Some("9.9.9"));

    // The exact help text is not something imsg-rpc reads; check the documented prefix.
    let out = tokio::time::timeout(
        BOUND,
        tokio::process::Command::new(IMSG)
            .args(["rpc", "--help"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "imsg rpc\nRun JSON-RPC over stdin/stdout\n\nUsage:\n  imsg rpc [options]\n"
        ),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("unknown command"));
}

/// Writes `lines` to a fresh `imsg rpc` and reads `answers` lines back, as parsed JSON.
async fn raw_exchange(db: &std::path::Path, lines: &[&str], answers: usize) -> Vec<Value> {
    let mut child = tokio::process::Command::new(IMSG)
        .args(["rpc", "--db"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for line in lines {
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
    }
    drop(stdin);
    let mut out = Vec::new();
    for _ in 0..answers {
        let mut line = String::new();
        tokio::time::timeout(BOUND, stdout.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        out.push(serde_json::from_str(&line).unwrap());
    }
    let mut rest = String::new();
    tokio::time::timeout(BOUND, stdout.read_line(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, "", "unexpected extra output");
    let status = tokio::time::timeout(BOUND, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    out
}

/// Drops `data` of a parse error, whose text is platform-specific (spec section 16).
fn without_parse_data(mut v: Value) -> Value {
    if v["error"]["code"] == -32700
        && let Some(err) = v["error"].as_object_mut()
    {
        assert!(err.remove("data").is_some_and(|d| d.is_string()));
    }
    v
}

#[tokio::test]
async fn ex03_to_09_framing_and_errors() {
    let fixture = Fixture::new();
    let lines = [
        "not-json",
        "42",
        r#"[{"jsonrpc":"2.0","id":1,"method":"chats.list"}]"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"chats.list"}"#,
        r#"{"jsonrpc":"2.0","id":"a7"}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"nope"}"#,
        "",
        r#"{"jsonrpc":"2.0","method":"chats.list","params":{"limit":1}}"#,
        r#"{"method":"messages.history","params":{}}"#,
    ];
    let answers = raw_exchange(&fixture.db(), &lines, 7).await;
    let got: Vec<Value> = answers.iter().cloned().map(without_parse_data).collect();
    let parse = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}});
    let want = vec![
        parse.clone(),
        parse,
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request","data":"request must be an object"}}),
        json!({"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be 2.0"}}),
        json!({"jsonrpc":"2.0","id":"a7","error":{"code":-32600,"message":"Invalid Request","data":"method is required"}}),
        json!({"jsonrpc":"2.0","id":8,"error":{"code":-32601,"message":"Method not found","data":"nope"}}),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"Invalid params","data":"chat_id is required"}}),
    ];
    assert_eq!(got, want);

    // The same seven answers reaching imsg-rpc with ids it never sent (null, 1, "a7", 8): all
    // are orphans, none is fatal, and the session answers the next request normally.
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (client, _notifications) = imsg_rpc::RpcClient::connect(ours, ClientConfig::default());
    let (peer_read, mut peer_write) = tokio::io::split(theirs);
    let mut peer_read = BufReader::new(peer_read);
    for answer in &answers {
        let mut line = serde_json::to_vec(answer).unwrap();
        line.push(b'\n');
        peer_write.write_all(&line).await.unwrap();
    }
    // Let them all be read before a request with id 1 exists.
    tokio::time::timeout(BOUND, async {
        while client.counters().lines < 7 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call("chats.list", json!({"limit":1})).await }
    });
    let mut request = String::new();
    tokio::time::timeout(BOUND, peer_read.read_line(&mut request))
        .await
        .unwrap()
        .unwrap();
    let request: Value = serde_json::from_str(&request).unwrap();
    assert_eq!(request["id"], 1);
    let mut line =
        serde_json::to_vec(&json!({"jsonrpc":"2.0","id":1,"result":{"chats":[]}})).unwrap();
    line.push(b'\n');
    peer_write.write_all(&line).await.unwrap();
    let answer = tokio::time::timeout(BOUND, call).await.unwrap().unwrap();
    assert_eq!(answer.unwrap(), json!({"chats":[]}));
    let counters = client.counters();
    assert_eq!(
        (counters.orphan_responses, counters.bad_lines),
        (7, 0),
        "{counters:?}"
    );
    assert!(client.close_reason().is_none());

    // Through imsg-rpc: an unknown method is a typed remote error, rendered like the clients.
    let mut session = fixture.spawn();
    let err = session.client.call("nope", json!({})).await.unwrap_err();
    assert_remote(&err, -32601, "Method not found", "nope");
    assert_eq!(err.to_string(), "Method not found: code=-32601 nope");
    assert!(session.notifications.try_recv().is_none());
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex10_11_chats_list() {
    let fixture = Fixture::new();
    let session = fixture.spawn();
    let chat2_entry = json!({"id":2,"identifier":"+15551230001","guid":"iMessage;-;+15551230001",
        "name":"+15551230001","service":"iMessage","last_message_at":"2025-05-03T21:25:00.000Z",
        "participants":["+15551230001"],"is_group":false});
    let chat1_entry = json!({"id":1,"identifier":"chat123","guid":"iMessage;+;chat123",
        "name":"Group Chat","service":"iMessage","last_message_at":"2025-05-03T21:24:00.000Z",
        "participants":["+15551230001","alice@example.com"],"is_group":true});
    let list = session
        .client
        .chats_list(&ChatsListParams { limit: Some(10) })
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&list).unwrap(),
        json!({"chats":[chat2_entry.clone(), chat1_entry]})
    );
    for limit in [json!(1), json!(0), json!(-5)] {
        let v = session
            .client
            .call("chats.list", json!({ "limit": limit }))
            .await
            .unwrap();
        assert_eq!(v, json!({"chats":[chat2_entry.clone()]}), "limit {limit}");
    }
    let v = session
        .client
        .call("chats.list", json!({"limit":"abc"}))
        .await
        .unwrap();
    assert_eq!(v["chats"].as_array().map(Vec::len), Some(2));
    assert_eq!(session.stop().await, Some(0));
}

/// Message 14 and 12 of chat 1 as history returns them (Ex 12).
fn history_chat1() -> (Value, Value) {
    let m14 = chat1(
        json!({"id":14,"chat_id":1,"guid":"G-14","thread_originator_guid":"G-12",
        "reply_to_text":"group hello","reply_to_sender":"alice@example.com",
        "sender":"alice@example.com","is_from_me":false,"text":"reply text",
        "created_at":"2025-05-03T21:24:00.000Z","attachments":[],"reactions":[]}),
    );
    let m12 = chat1(
        json!({"id":12,"chat_id":1,"guid":"G-12","sender":"alice@example.com",
        "is_from_me":false,"text":"group hello","created_at":"2025-05-03T21:22:00.000Z",
        "attachments":[],"reactions":[{"id":13,"type":"like","emoji":"👍",
        "sender":"+15551230001","is_from_me":false,"created_at":"2025-05-03T21:23:00.000Z"}]}),
    );
    (m14, m12)
}

/// Message 11 as history returns it (Ex 13).
fn m11() -> Value {
    chat2(
        json!({"id":11,"chat_id":2,"guid":"G-11","destination_caller_id":"me@icloud.com",
        "sender":"+15551230001","is_from_me":true,"text":"hello back",
        "created_at":"2025-05-03T21:21:00.000Z","attachments":[],"reactions":[]}),
    )
}

#[tokio::test]
async fn ex12_to_16_messages_history() {
    let fixture = Fixture::new();
    let session = fixture.spawn();
    let client = &session.client;
    let history = |params: HistoryParams| async move {
        serde_json::to_value(client.messages_history(&params).await.unwrap()).unwrap()
    };

    // Ex 12.
    let (m14, m12) = history_chat1();
    let got = history(HistoryParams {
        chat_id: 1,
        limit: Some(10),
        ..HistoryParams::default()
    })
    .await;
    assert_eq!(got, json!({"messages":[m14.clone(), m12.clone()]}));

    // Ex 13: the attachment path is expanded with the simulator's $HOME.
    let home = std::env::var("HOME").unwrap();
    let m15 = chat2(
        json!({"id":15,"chat_id":2,"guid":"G-15","sender":"+15551230001",
        "is_from_me":false,"text":"from body","created_at":"2025-05-03T21:25:00.000Z",
        "attachments":[{"filename":"~/Library/Messages/Attachments/aa/10/G-15/photo.jpg",
        "transfer_name":"photo.jpg","uti":"public.jpeg","mime_type":"image/jpeg",
        "total_bytes":12345,"is_sticker":false,
        "original_path":format!("{home}/Library/Messages/Attachments/aa/10/G-15/photo.jpg"),
        "missing":true}],"reactions":[]}),
    );
    let got = history(HistoryParams {
        chat_id: 2,
        limit: Some(2),
        attachments: Some(true),
        ..HistoryParams::default()
    })
    .await;
    assert_eq!(got, json!({"messages":[m15, m11()]}));

    // Ex 14.
    let got = history(HistoryParams {
        chat_id: 2,
        start: Some("2025-05-03T21:21:00Z".into()),
        end: Some("2025-05-03T21:25:00.000Z".into()),
        ..HistoryParams::default()
    })
    .await;
    assert_eq!(got, json!({"messages":[m11()]}));

    // Ex 15: a comma-string participant list goes through the raw call.
    let got = client
        .call(
            "messages.history",
            json!({"chat_id":1,"participants":"ALICE@example.com"}),
        )
        .await
        .unwrap();
    assert_eq!(got, json!({"messages":[m14, m12]}));
    let got = history(HistoryParams {
        chat_id: 1,
        participants: Some(vec!["+15551230001".into()]),
        ..HistoryParams::default()
    })
    .await;
    assert_eq!(got, json!({"messages":[]}));

    // Ex 16.
    let got = history(HistoryParams {
        chat_id: 999,
        ..HistoryParams::default()
    })
    .await;
    assert_eq!(got, json!({"messages":[]}));
    let err = client
        .call("messages.history", json!({"limit":5}))
        .await
        .unwrap_err();
    assert_remote(&err, -32602, "Invalid params", "chat_id is required");
    let err = client
        .messages_history(&HistoryParams {
            chat_id: 1,
            start: Some("2025-05-03".into()),
            ..HistoryParams::default()
        })
        .await
        .unwrap_err();
    assert_remote(
        &err,
        -32603,
        "Internal error",
        "Invalid ISO8601 date: 2025-05-03",
    );
    assert_eq!(session.stop().await, Some(0));
}

/// Row 12 and 14 as watch emits them without reactions, and row 15 (Ex 17).
fn watch_rows() -> (Value, Value, Value) {
    let (m14, mut m12) = history_chat1();
    m12["reactions"] = json!([]);
    let m15 = chat2(
        json!({"id":15,"chat_id":2,"guid":"G-15","sender":"+15551230001",
        "is_from_me":false,"text":"from body","created_at":"2025-05-03T21:25:00.000Z",
        "attachments":[],"reactions":[]}),
    );
    (m12, m14, m15)
}

#[tokio::test]
async fn ex17_replay_from_a_cursor() {
    let fixture = Fixture::new();
    let mut session = fixture.spawn();
    assert_eq!(
        session
            .subscribe(SubscribeParams {
                since_rowid: Some(11),
                ..SubscribeParams::default()
            })
            .await,
        1
    );
    let (m12, m14, m15) = watch_rows();
    for want in [m12, m14, m15] {
        assert_eq!(session.next_message().await, (1, want));
    }
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex18_tapbacks_included_one_chat() {
    let fixture = Fixture::new();
    let mut session = fixture.spawn();
    assert_eq!(
        session
            .subscribe(SubscribeParams {
                chat_id: Some(1),
                since_rowid: Some(11),
                include_reactions: Some(true),
                ..SubscribeParams::default()
            })
            .await,
        1
    );
    let (_, m12_with_reaction) = history_chat1();
    let (_, m14, _) = watch_rows();
    let m13 = chat1(
        json!({"id":13,"chat_id":1,"guid":"G-13","sender":"+15551230001",
        "is_from_me":false,"text":"Liked “group hello”","created_at":"2025-05-03T21:23:00.000Z",
        "attachments":[],"reactions":[],"is_reaction":true,"reaction_type":"like",
        "reaction_emoji":"👍","is_reaction_add":true,"reacted_to_guid":"G-12"}),
    );
    for want in [m12_with_reaction, m13, m14] {
        assert_eq!(session.next_message().await, (1, want));
    }
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex19_21_live_tail_outgoing_and_unanchored_rows() {
    let fixture = Fixture::new();
    let mut session = fixture.spawn();
    assert_eq!(session.subscribe(SubscribeParams::default()).await, 1);
    // The "from now" snapshot is taken after the answer (spec 5.3); the spec tells a harness to
    // let a few hundred ms pass. There is no event to wait for: this is the protocol's race.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let inject = |message: imsg_sim::db::Message| imsg_sim::db::inject(&fixture.db(), &message);
    let row = inject(imsg_sim::db::Message {
        handle: "+15551230001".into(),
        text: Some("new inbound".into()),
        date: Some(t(6)),
        guid: Some("G-16".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(row.rowid, 16);
    let m16 = chat2(
        json!({"id":16,"chat_id":2,"guid":"G-16","sender":"+15551230001",
        "is_from_me":false,"text":"new inbound","created_at":"2025-05-03T21:26:00.000Z",
        "attachments":[],"reactions":[]}),
    );
    assert_eq!(session.next_message().await, (1, m16));

    inject(imsg_sim::db::Message {
        handle: "+15551230001".into(),
        text: Some("sent elsewhere".into()),
        from_me: true,
        date: Some(t(7)),
        guid: Some("G-17".into()),
        ..Default::default()
    })
    .unwrap();
    let (_, m17) = session.next_message().await;
    assert_eq!(
        (
            &m17["id"],
            &m17["is_from_me"],
            &m17["text"],
            &m17["chat_id"]
        ),
        (
            &json!(17),
            &json!(true),
            &json!("sent elsewhere"),
            &json!(2)
        )
    );

    // Ex 21: a row with no chat join yet comes out with chat_id 0 and empty chat fields.
    inject(imsg_sim::db::Message {
        handle: "+15551230001".into(),
        text: Some("anchorless".into()),
        date: Some(t(8)),
        guid: Some("G-18".into()),
        unjoined: true,
        ..Default::default()
    })
    .unwrap();
    let (_, m18) = session.next_message().await;
    let want = merge(
        m18.clone(),
        json!({"id":18,"chat_id":0,"guid":"G-18","chat_identifier":"","chat_guid":"",
        "chat_name":"","participants":[],"is_group":false}),
    );
    assert_eq!(m18, want);
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex20_22_23_replay_all_unsubscribe_and_param_errors() {
    let fixture = Fixture::new();
    let mut session = fixture.spawn();
    let client = session.client.clone();
    assert_eq!(
        session
            .subscribe(SubscribeParams {
                chat_id: Some(2),
                since_rowid: Some(-1),
                ..SubscribeParams::default()
            })
            .await,
        1
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (sub, m) = session.next_message().await;
        assert_eq!(sub, 1);
        ids.push(m["id"].as_i64().unwrap());
    }
    assert_eq!(ids, [10, 11, 15]);
    assert_eq!(
        session
            .subscribe(SubscribeParams {
                chat_id: Some(2),
                since_rowid: Some(0),
                ..SubscribeParams::default()
            })
            .await,
        2
    );

    // Ex 22.
    assert!(client.watch_unsubscribe(1).await.unwrap().ok);
    assert!(client.watch_unsubscribe(99).await.unwrap().ok);
    let err = client
        .call("watch.unsubscribe", json!({}))
        .await
        .unwrap_err();
    assert_remote(&err, -32602, "Invalid params", "subscription is required");

    // Ex 23: neither failed call uses up a subscription id.
    let err = client
        .call("watch.subscribe", json!({"debounce_ms":-1}))
        .await
        .unwrap_err();
    assert_remote(
        &err,
        -32602,
        "Invalid params",
        "debounce_ms must be a non-negative integer",
    );
    let err = client
        .watch_subscribe(&SubscribeParams {
            start: Some("yesterday".into()),
            ..SubscribeParams::default()
        })
        .await
        .unwrap_err();
    assert_remote(
        &err,
        -32603,
        "Internal error",
        "Invalid ISO8601 date: yesterday",
    );
    assert_eq!(session.subscribe(SubscribeParams::default()).await, 3);
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex24_stream_failure_is_an_error_notification() {
    let fixture = Fixture::new();
    let mut session = fixture.spawn();
    let sub = session
        .subscribe(SubscribeParams {
            since_rowid: Some(14),
            ..SubscribeParams::default()
        })
        .await;
    let (_, first) = session.next_message().await;
    assert_eq!(first["id"], 15);
    // Make the next poll fail: the table it reads is gone.
    let conn = rusqlite::Connection::open(fixture.db()).unwrap();
    conn.execute_batch("DROP TABLE message_attachment_join; DROP TABLE message;")
        .unwrap();
    match session.next().await {
        Notification::Error(err) => {
            assert_eq!(err.subscription, sub);
            assert!(!err.error.message.is_empty());
        }
        other => panic!("expected an error notification, got {other:?}"),
    }
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex25_to_28_send() {
    let fixture = Fixture::new();
    let mut session = fixture.spawn();
    let client = session.client.clone();

    // Ex 25: the simulator plays Messages.app and writes the row, so id and guid come back.
    let result = client
        .send(&SendParams {
            service: Some(Service::Auto),
            region: Some("US".into()),
            ..SendParams::text(SendTarget::ChatId(2), "ok!")
        })
        .await
        .unwrap();
    assert!(result.ok);
    assert_eq!(result.transport.as_deref(), Some("applescript"));
    assert_eq!(result.id, Some(16));
    assert!(result.guid.is_some_and(|g| !g.is_empty()));

    // Ex 26: attachment-only direct send; no id or guid.
    let file = fixture.dir.path().join("a.png");
    std::fs::write(&file, b"png").unwrap();
    let result = client
        .send(&SendParams {
            target: SendTarget::To("(415) 555-1212".into()),
            text: None,
            file: Some(file.display().to_string()),
            service: None,
            transport: None,
            region: None,
        })
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        json!({"ok":true,"transport":"applescript"})
    );

    // Ex 27.
    let cases = [
        (
            json!({"chat_id":1,"to":"+15551230001","text":"hi"}),
            "use to or chat_*; not both",
        ),
        (json!({"text":"hi"}), "to is required for direct sends"),
        (json!({"to":"+15551230001"}), "text or file is required"),
        (json!({"chat_id":999,"text":"hi"}), "unknown chat_id 999"),
        (
            json!({"to":"+15551230001","text":"hi","service":"iMessage"}),
            "invalid service",
        ),
        (
            json!({"to":"+15551230001","text":"hi","transport":"carrier-pigeon"}),
            "invalid transport",
        ),
    ];
    for (params, data) in cases {
        let err = client.call("send", params).await.unwrap_err();
        assert_remote(&err, -32602, "Invalid params", data);
    }
    assert!(session.notifications.try_recv().is_none());
    assert_eq!(session.stop().await, Some(0));

    // Ex 28: the Linux build's answer, through the simulator's send-error switch.
    let text = "Sending requires Messages.app automation and is only supported on macOS.";
    let session = Session::start(fixture.options().with_env("IMSG_SIM_SEND_ERROR", text));
    let err = session
        .client
        .send(&SendParams::text(SendTarget::ChatId(2), "hi"))
        .await
        .unwrap_err();
    assert_remote(
        &err,
        -32603,
        "Internal error",
        &format!("AppleScript failed: {text}"),
    );
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex29_30_bridge_methods_typing_and_read() {
    let fixture = Fixture::new();
    let session = fixture.spawn();
    let client = &session.client;
    let cases = [
        (
            "tapback",
            json!({"chat_id":1,"message_guid":"G-12","reaction":"wow"}),
            -32602,
            "unsupported tapback reaction wow; use love, like, dislike, laugh, emphasize, or question",
        ),
        (
            "tapback",
            json!({"chat_id":1,"reaction":"like"}),
            -32602,
            "message_id or message_guid is required",
        ),
        (
            "tapback",
            json!({"chat_id":1,"message_guid":"G-12","reaction":"👍"}),
            -32603,
            "Failed to launch Messages.app: Messages.app is only available on macOS.",
        ),
        (
            "group.rename",
            json!({"name":"x"}),
            -32602,
            "chat_guid, chat_identifier, or chat_id is required",
        ),
        (
            "typing",
            json!({"chat_id":2,"typing":true}),
            -32603,
            "Typing indicator failed: Typing indicators require Messages.app/IMCore and are only supported on macOS.",
        ),
        ("typing", json!({}), -32602, "to is required"),
    ];
    for (method, params, code, data) in cases {
        let err = client.call(method, params).await.unwrap_err();
        let message = if code == -32602 {
            "Invalid params"
        } else {
            "Internal error"
        };
        assert_remote(&err, code, message, data);
    }
    // The typed typing call reaches the same answer.
    let err = client
        .typing(&imsg_rpc::TypingParams {
            target: SendTarget::ChatId(2),
            typing: true,
            service: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(-32603));
    assert_eq!(session.stop().await, Some(0));

    // With the bridge switched on, the success shapes come back.
    let session = Session::start(fixture.options().with_env("IMSG_SIM_BRIDGE", "ready"));
    let v = session
        .client
        .call(
            "tapback",
            json!({"chat_id":1,"message_guid":"G-12","reaction":"👍"}),
        )
        .await
        .unwrap();
    assert_eq!(v, json!({"ok":true,"reaction":"like"}));
    let ok = session
        .client
        .typing(&imsg_rpc::TypingParams {
            target: SendTarget::ChatId(2),
            typing: true,
            service: None,
        })
        .await
        .unwrap();
    assert!(ok.ok);
    assert_eq!(session.stop().await, Some(0));
}

#[tokio::test]
async fn ex31_startup_failure_is_a_typed_permission_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent").join("chat.db");
    let session = Session::start(options_for(&missing));
    let err = session
        .client
        .chats_list(&ChatsListParams { limit: Some(1) })
        .await
        .unwrap_err();
    match &err {
        RpcError::PermissionDenied {
            binary,
            db_path,
            detail,
        } => {
            assert_eq!(binary, IMSG);
            assert_eq!(db_path.as_deref(), Some(missing.to_str().unwrap()));
            assert!(detail.contains("Permission Error"), "{detail}");
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    assert!(err.to_string().contains("grant Full Disk Access to `"));
    let again = session
        .client
        .watch_subscribe(&SubscribeParams::default())
        .await
        .unwrap_err();
    assert!(matches!(again, RpcError::PermissionDenied { .. }));
    // On EOF the startup-error mode exits with code 1.
    assert_eq!(session.stop().await, Some(1));

    // The probe reports the same typed error instead of hanging.
    let err = probe(&options_for(&missing), BOUND).await.unwrap_err();
    assert!(matches!(err, RpcError::PermissionDenied { .. }), "{err:?}");
}
