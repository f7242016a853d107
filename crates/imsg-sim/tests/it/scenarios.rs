//! Behaviour beyond the numbered examples: `send` acting as Messages.app, the `inject` driver, watch details
//! (batches, filters, multiple joins, URL-preview dedupe, unsubscribe) and the CLI pages, with snapshots.

use serde_json::{Value, json};

use crate::harness::{Fixture, Row, Sim, insert, run_cli};

fn request(sim: &mut Sim, id: i64, method: &str, params: Value) -> Value {
    sim.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string());
    sim.until(|v| v["id"] == id)
}

fn is_uppercase_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('A'..='F').contains(&c))
}

#[test]
fn send_writes_the_row_watchers_see() {
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(&fixture, &[("IMSG_SIM_SELF_HANDLE", "bot@example.com")]);
    let sub = request(&mut sim, 1, "watch.subscribe", json!({"debounce_ms": 0}));
    assert_eq!(sub["result"], json!({"subscription": 1}));
    let sent = request(&mut sim, 2, "send", json!({"chat_id": 2, "text": "ok!"}));
    let guid = sent["result"]["guid"].as_str().expect("guid").to_owned();
    assert!(is_uppercase_uuid(&guid), "{guid}");
    assert_eq!(sent["result"]["id"], 16);
    let note = sim.until(|v| v["method"] == "message");
    let message = &note["params"]["message"];
    assert_eq!(message["guid"], guid.as_str());
    insta::assert_json_snapshot!("send_row_in_watch", message, {".guid" => "[guid]", ".created_at" => "[now]"});
    assert_eq!(sim.finish().code(), Some(0));
}

#[test]
fn direct_sends_create_the_chat_and_attachment_rows() {
    let fixture = Fixture::f();
    let file = fixture.home().join("cat.jpg");
    std::fs::write(&file, b"0123456789").expect("file");
    let mut sim = Sim::rpc(&fixture, &[]);
    let text = request(
        &mut sim,
        1,
        "send",
        json!({"to": "(415) 555-1212", "text": "hello", "service": "sms"}),
    );
    assert_eq!(text["result"]["id"], 16, "{text}");
    let both = request(
        &mut sim,
        2,
        "send",
        json!({"to": "+14155551212", "text": "see pic", "file": file, "service": "sms"}),
    );
    assert_eq!(both["result"]["id"], 17, "{both}");
    let chats = request(&mut sim, 3, "chats.list", json!({"limit": 1}));
    let chat = &chats["result"]["chats"][0];
    assert_eq!(chat["guid"], "SMS;-;+14155551212");
    assert_eq!(chat["service"], "SMS");
    assert_eq!(chat["participants"], json!(["+14155551212"]));
    let chat_id = chat["id"].as_i64().expect("chat id");
    let history = request(
        &mut sim,
        4,
        "messages.history",
        json!({"chat_id": chat_id, "attachments": true}),
    );
    let home = fixture.home().to_str().expect("utf-8").to_owned();
    insta::with_settings!({filters => vec![(home.as_str(), "[home]")]}, {
        insta::assert_json_snapshot!("direct_send_history", history["result"], {
            ".messages[].guid" => "[guid]", ".messages[].created_at" => "[now]"
        });
    });
}

#[test]
fn group_sends_are_from_the_self_handle() {
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(&fixture, &[]);
    let sent = request(
        &mut sim,
        1,
        "send",
        json!({"chat_guid": "iMessage;+;chat123", "text": "to all"}),
    );
    assert_eq!(sent["result"]["ok"], true, "{sent}");
    let history = request(
        &mut sim,
        2,
        "messages.history",
        json!({"chat_id": 1, "limit": 1}),
    );
    let row = &history["result"]["messages"][0];
    assert_eq!(
        (row["text"].as_str(), row["is_from_me"].as_bool()),
        (Some("to all"), Some(true))
    );
    assert_eq!(
        row["sender"], "me@icloud.com",
        "group rows have handle 0, so the sender falls back to the caller id"
    );
    let missing = request(
        &mut sim,
        3,
        "send",
        json!({"chat_guid": "iMessage;+;nowhere", "text": "x"}),
    );
    assert_eq!(missing["error"]["code"], -32603, "{missing}");
}

#[test]
fn inject_writes_what_messages_app_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("chat.db");
    let db_arg = db.to_str().expect("utf-8");
    let photo = dir.path().join("photo.heic");
    std::fs::write(&photo, b"heic").expect("photo");
    let photo_arg = photo.to_str().expect("utf-8");
    let (_, code) = run_cli(&["init", "--db", db_arg], &[]);
    assert_eq!(code, 0);
    let steps: &[&[&str]] = &[
        &[
            "--from",
            "+15550001111",
            "--text",
            "plain dm",
            "--guid",
            "A-1",
            "--date",
            "2025-05-03T21:20:00Z",
        ],
        &[
            "--from",
            "+15550001111",
            "--text",
            "body only",
            "--body-only",
            "--guid",
            "A-2",
            "--date",
            "2025-05-03T21:21:00Z",
        ],
        &[
            "--from",
            "+15550002222",
            "--sms",
            "--text",
            "sms dm",
            "--guid",
            "A-3",
            "--date",
            "2025-05-03T21:22:00Z",
        ],
        &[
            "--from",
            "bob@example.com",
            "--group",
            "chat42",
            "--group-name",
            "Crew",
            "--member",
            "+15550001111",
            "--text",
            "hi crew",
            "--guid",
            "A-4",
            "--date",
            "2025-05-03T21:23:00Z",
        ],
        &[
            "--from",
            "+15550001111",
            "--group",
            "chat42",
            "--tapback",
            "love",
            "--target",
            "A-4",
            "--guid",
            "A-5",
            "--date",
            "2025-05-03T21:24:00Z",
        ],
        &[
            "--from",
            "+15550001111",
            "--group",
            "chat42",
            "--thread-originator",
            "A-4",
            "--text",
            "inline reply",
            "--guid",
            "A-6",
            "--date",
            "2025-05-03T21:25:00Z",
        ],
        &[
            "--from",
            "bob@example.com",
            "--group",
            "chat42",
            "--attachment",
            photo_arg,
            "--guid",
            "A-7",
            "--date",
            "2025-05-03T21:26:00Z",
        ],
        &[
            "--from",
            "+15550001111",
            "--from-me",
            "--text",
            "sent from phone",
            "--destination-caller-id",
            "me@icloud.com",
            "--guid",
            "A-8",
            "--date",
            "2025-05-03T21:27:00Z",
        ],
        &[
            "--from",
            "+15550001111",
            "--unjoined",
            "--text",
            "no chat",
            "--guid",
            "A-9",
            "--date",
            "2025-05-03T21:28:00Z",
        ],
        &[
            "--from",
            "+15550001111",
            "--attachment",
            "~/Audio Message.caf",
            "--audio-transcription",
            "Call me back please",
            "--guid",
            "A-10",
            "--date",
            "2025-05-03T21:29:00Z",
        ],
    ];
    let mut printed = Vec::new();
    for step in steps {
        let mut args = vec!["inject", "--db", db_arg];
        args.extend_from_slice(step);
        let (stdout, code) = run_cli(&args, &[]);
        assert_eq!(code, 0, "{step:?}: {stdout}");
        printed.push(serde_json::from_str::<Value>(&stdout).expect("inject prints JSON"));
    }
    insta::assert_json_snapshot!("inject_printed", printed);
    let (bad, code) = run_cli(
        &[
            "inject",
            "--db",
            db_arg,
            "--from",
            "x",
            "--tapback",
            "like",
            "--target",
            "nope",
        ],
        &[],
    );
    assert_eq!(code, 1, "{bad}");

    let mut sim = Sim::spawn(&["rpc", "--db", db_arg], dir.path(), &[]);
    let mut seen = Vec::new();
    sim.send(r#"{"jsonrpc":"2.0","id":1,"method":"watch.subscribe","params":{"since_rowid":-1,"include_reactions":true,"attachments":true}}"#);
    assert_eq!(sim.json()["result"]["subscription"], 1);
    for _ in 0..10 {
        seen.push(sim.json()["params"]["message"].clone());
    }
    let home = dir.path().to_str().expect("utf-8").to_owned();
    insta::with_settings!({filters => vec![(home.as_str(), "[home]")]}, {
        insta::assert_json_snapshot!("inject_watch_stream", seen);
    });
}

#[test]
fn inject_from_rust_matches_the_cli() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("chat.db");
    imsg_sim::db::init_schema(&db).expect("schema");
    let message = imsg_sim::db::Message {
        handle: "+15550001111".into(),
        text: Some("from rust".into()),
        date: Some(768_000_000_000_000_000),
        ..Default::default()
    };
    let first = imsg_sim::db::inject(&db, &message).expect("inject");
    assert_eq!((first.rowid, first.chat_id), (1, Some(1)));
    let second = imsg_sim::db::inject(&db, &message).expect("inject again");
    assert_eq!(
        (second.rowid, second.chat_id),
        (2, Some(1)),
        "the direct chat is reused"
    );
    assert_ne!(first.guid, second.guid);
    let orphan = imsg_sim::db::Message {
        handle: String::new(),
        ..message
    };
    assert!(matches!(
        imsg_sim::db::inject(&db, &orphan),
        Err(imsg_sim::db::DbError::MissingSender)
    ));
}

#[test]
fn backlog_drains_one_hundred_rows_per_poll() {
    let fixture = Fixture::f();
    let conn = fixture.writer();
    for id in 100..250 {
        insert(
            &conn,
            &Row {
                id,
                handle: 1,
                text: Some("bulk"),
                chat: Some(2),
                k: 10,
                ..Row::default()
            },
        );
    }
    // No file events and a long fallback: only the immediate poll on subscribe runs during this test.
    let mut sim = Sim::rpc(
        &fixture,
        &[
            ("IMSG_SIM_FILE_EVENTS", "0"),
            ("IMSG_SIM_POLL_MS", "600000"),
        ],
    );
    sim.send(r#"{"jsonrpc":"2.0","id":1,"method":"watch.subscribe","params":{"since_rowid":-1,"chat_id":2}}"#);
    assert_eq!(sim.json()["result"]["subscription"], 1);
    let ids: Vec<i64> = (0..100)
        .map(|_| sim.json()["params"]["message"]["id"].as_i64().expect("id"))
        .collect();
    let mut expected = vec![10, 11, 15];
    expected.extend(100..197);
    assert_eq!(ids, expected);
    sim.send(r#"{"jsonrpc":"2.0","id":2,"method":"chats.list","params":{"limit":1}}"#);
    assert_eq!(
        sim.json()["id"],
        2,
        "the 101st row must wait for the next trigger"
    );
}

#[test]
fn filters_advance_the_cursor_and_joins_repeat_rows() {
    let fixture = Fixture::f();
    let conn = fixture.writer();
    // Row 16 is joined to both chats; rows 17 and 18 are link previews with the same text 30 s apart.
    insert(
        &conn,
        &Row {
            id: 16,
            handle: 2,
            text: Some("twice"),
            chat: Some(1),
            k: 6,
            ..Row::default()
        },
    );
    conn.execute(
        "INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (2, 16, 0)",
        [],
    )
    .expect("second join");
    for id in [17, 18] {
        insert(
            &conn,
            &Row {
                id,
                handle: 2,
                text: Some("https://example.com"),
                chat: Some(1),
                k: 7,
                ..Row::default()
            },
        );
        conn.execute(
            "UPDATE message SET balloon_bundle_id = 'com.apple.messages.URLBalloonProvider' WHERE ROWID = ?1",
            [id],
        )
        .expect("balloon");
    }
    let mut sim = Sim::rpc(&fixture, &[]);
    sim.send(r#"{"jsonrpc":"2.0","id":1,"method":"watch.subscribe","params":{"since_rowid":9}}"#);
    assert_eq!(sim.json()["result"]["subscription"], 1);
    let mut seen = Vec::new();
    for _ in 0..7 {
        let m = sim.json()["params"]["message"].clone();
        seen.push((
            m["id"].as_i64().expect("id"),
            m["chat_id"].as_i64().expect("chat"),
        ));
    }
    assert_eq!(
        seen,
        vec![
            (10, 2),
            (11, 2),
            (12, 1),
            (14, 1),
            (15, 2),
            (16, 1),
            (16, 2)
        ]
    );
    assert_eq!(sim.json()["params"]["message"]["id"], 17);
    // The duplicate preview (18) is skipped; the next line is this response, not another notification.
    sim.send(r#"{"jsonrpc":"2.0","id":2,"method":"watch.subscribe","params":{"since_rowid":9,"participants":"ALICE@EXAMPLE.COM","start":"2025-05-03T21:24:00Z"}}"#);
    let next = sim.json();
    assert_eq!(next["id"], 2, "{next}");
    let filtered: Vec<(i64, i64)> = (0..3)
        .map(|_| {
            let m = sim.json()["params"]["message"].clone();
            (
                m["id"].as_i64().expect("id"),
                m["chat_id"].as_i64().expect("chat"),
            )
        })
        .collect();
    assert_eq!(
        filtered,
        vec![(14, 1), (16, 1), (16, 2)],
        "alice's rows from 21:24 on, once per join"
    );
    // Preview 17 was emitted by subscription 1 already; the process-wide dedupe keeps subscription 2 quiet.
    sim.send(r#"{"jsonrpc":"2.0","id":3,"method":"chats.list","params":{"limit":1}}"#);
    assert_eq!(sim.json()["id"], 3);
}

#[test]
fn unsubscribed_streams_stay_quiet() {
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(&fixture, &[]);
    assert_eq!(
        request(&mut sim, 1, "watch.subscribe", json!({"debounce_ms": 0}))["result"]["subscription"],
        1
    );
    assert_eq!(
        request(&mut sim, 2, "watch.subscribe", json!({"debounce_ms": 300}))["result"]["subscription"],
        2
    );
    assert_eq!(
        request(&mut sim, 3, "watch.unsubscribe", json!({"subscription": 1}))["result"]["ok"],
        true
    );
    insert(
        &fixture.writer(),
        &Row {
            id: 16,
            handle: 1,
            text: Some("after"),
            chat: Some(2),
            k: 6,
            ..Row::default()
        },
    );
    // Subscription 2 polls 300 ms after the change; a live subscription 1 would have polled before it.
    let first = sim.until(|v| v["method"] == "message");
    assert_eq!(first["params"]["subscription"], 2, "{first}");
    sim.send(r#"{"jsonrpc":"2.0","id":4,"method":"chats.list","params":{"limit":1}}"#);
    let after = sim.json();
    assert_eq!(
        after["id"], 4,
        "no notification for the cancelled subscription: {after}"
    );
}

#[test]
fn cli_pages() {
    let cases: &[(&str, &[&str])] = &[
        ("help_root", &["--help"]),
        ("help_rpc", &["rpc", "--help"]),
        ("help_inject", &["inject", "-h"]),
        ("status_json", &["status", "--json"]),
    ];
    for (name, args) in cases {
        let (stdout, code) = run_cli(args, &[]);
        assert_eq!(code, 0, "{name}");
        insta::assert_snapshot!(*name, stdout);
    }
    let (status, _) = run_cli(&["status", "--json"], &[("IMSG_SIM_BRIDGE", "ready")]);
    let status: Value = serde_json::from_str(&status).expect("status json");
    // advanced_features needs SIP disabled, so a ready bridge cannot report sip "unknown".
    assert_eq!(
        (
            status["advanced_features"].as_bool(),
            status["typing_indicators"].as_bool(),
            status["read_receipts"].as_bool(),
            status["v2_ready"].as_bool(),
            status["sip"].as_str()
        ),
        (
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            Some("disabled")
        )
    );
}

#[test]
fn chats_command_lists_conversations() {
    let fixture = Fixture::f();
    let db = fixture.db();
    let (stdout, code) = run_cli(
        &["chats", "--db", db.to_str().expect("utf-8"), "--limit", "5"],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "[2] +15551230001 (+15551230001) last=2025-05-03T21:25:00.000Z\n[1] Group Chat (chat123) last=2025-05-03T21:24:00.000Z\n"
    );
    let (json_out, _) = run_cli(
        &[
            "chats",
            "--db",
            db.to_str().expect("utf-8"),
            "--json",
            "--limit",
            "1",
        ],
        &[],
    );
    let first: Value =
        serde_json::from_str(json_out.lines().next().expect("a line")).expect("json line");
    assert_eq!(first["id"], 2);
}

#[test]
fn frames_keep_line_separators_raw_and_escape_slashes() {
    let fixture = Fixture::f();
    insert(
        &fixture.writer(),
        &Row {
            id: 16,
            handle: 1,
            text: Some("a\u{2028}b / c\nd"),
            chat: Some(2),
            k: 6,
            ..Row::default()
        },
    );
    let mut sim = Sim::rpc(&fixture, &[]);
    sim.send(
        r#"{"jsonrpc":"2.0","id":1,"method":"messages.history","params":{"chat_id":2,"limit":1}}"#,
    );
    let line = sim.line();
    // U+2028 is written raw, a newline inside a string is escaped, and `/` is written as `\/` like Foundation.
    assert!(line.contains("a\u{2028}b \\/ c\\nd"), "{line}");
    let value: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(value["result"]["messages"][0]["text"], "a\u{2028}b / c\nd");
}

#[test]
fn broken_databases_fail_per_request_and_per_stream() {
    let dir = tempfile::tempdir().expect("dir");
    let not_db = dir.path().join("chat.db");
    std::fs::write(
        &not_db,
        "this is not a sqlite file, just some text that is long enough to have a header",
    )
    .expect("file");
    let mut sim = Sim::spawn(
        &["rpc", "--db", not_db.to_str().expect("utf-8")],
        dir.path(),
        &[],
    );
    // The file opens, so there is no startup-error mode; each request fails with the generic text instead.
    let list = request(&mut sim, 1, "chats.list", json!({}));
    assert_eq!(list["error"]["code"], -32603, "{list}");
    assert!(
        !list["error"]["data"]
            .as_str()
            .expect("data")
            .contains("not a database"),
        "{list}"
    );
    // The subscription is created, then its stream fails with the SQLite description.
    let sub = request(&mut sim, 2, "watch.subscribe", json!({}));
    assert_eq!(sub["result"]["subscription"], 1, "{sub}");
    let failure = sim.until(|v| v["method"] == "error");
    assert_eq!(failure["params"]["subscription"], 1);
    let message = failure["params"]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("not a database") && message.contains("(code: 26)"),
        "{message}"
    );
    assert_eq!(sim.finish().code(), Some(0));
}

#[test]
fn the_minimal_schema_of_imsg_tests_still_serves() {
    // Only the columns imsg cannot do without: no guid trio, no attributedBody, no message_date.
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("chat.db");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "CREATE TABLE message (ROWID INTEGER PRIMARY KEY, handle_id INTEGER, text TEXT, date INTEGER,
           is_from_me INTEGER, service TEXT);
         CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT);
         CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, chat_identifier TEXT, guid TEXT, display_name TEXT,
           service_name TEXT);
         CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER);
         CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER);
         CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER);
         CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY, filename TEXT, transfer_name TEXT, uti TEXT,
           mime_type TEXT, total_bytes INTEGER, is_sticker INTEGER);
         INSERT INTO handle VALUES (1, '+15550001111');
         INSERT INTO chat VALUES (1, '+15550001111', 'iMessage;-;+15550001111', '', 'iMessage');
         INSERT INTO chat_handle_join VALUES (1, 1);
         INSERT INTO message VALUES (1, 1, 'hello', 768000000000000000, 0, 'iMessage');
         INSERT INTO chat_message_join VALUES (1, 1);",
    )
    .expect("minimal schema");
    drop(conn);
    let mut sim = Sim::spawn(
        &["rpc", "--db", db.to_str().expect("utf-8")],
        dir.path(),
        &[],
    );
    let chats = request(&mut sim, 1, "chats.list", json!({}));
    // An empty display_name gives an empty name (no fallback); last_message_at comes from message.date.
    assert_eq!(
        chats["result"]["chats"][0],
        json!({"id": 1, "identifier": "+15550001111", "guid": "iMessage;-;+15550001111", "name": "",
               "service": "iMessage", "last_message_at": "2025-05-03T21:20:00.000Z",
               "participants": ["+15550001111"], "is_group": false})
    );
    let history = request(&mut sim, 2, "messages.history", json!({"chat_id": 1}));
    let message = &history["result"]["messages"][0];
    assert_eq!(
        (message["guid"].as_str(), message["text"].as_str()),
        (Some(""), Some("hello"))
    );
    assert_eq!(message["chat_name"], "");
}
