//! Fixture F of spec section 15.1, and helpers to run the `imsg` wrapper binary through imsg-rpc.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imsg_rpc::{
    ClientConfig, ImsgChild, Notification, Notifications, RpcClient, SpawnOptions, SubscribeParams,
};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

/// Upper bound on any single wait in these tests; they normally finish far sooner.
pub(crate) const BOUND: Duration = Duration::from_secs(20);

/// Path of the simulator built under the name `imsg`.
pub(crate) const IMSG: &str = env!("CARGO_BIN_EXE_imsg");

/// `T(k)` of the fixture: Apple-epoch nanoseconds, one minute apart from 2025-05-03T21:20Z.
pub(crate) fn t(k: i64) -> i64 {
    768_000_000_000_000_000 + k * 60 * 1_000_000_000
}

/// One message of the fixture: rowid, guid, handle, from_me, text, k of `T(k)`, chat.
type Row<'a> = (i64, &'a str, i64, i64, Option<&'a str>, i64, i64);

/// A temporary directory holding Fixture F as `chat.db`.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    /// Writes Fixture F exactly as spec section 15.1 lists it.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("chat.db");
        imsg_sim::db::init_schema(&db).unwrap();
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO handle (ROWID, id) VALUES (1, '+15551230001'), (2, 'alice@example.com');
             INSERT INTO chat (ROWID, guid, chat_identifier, service_name, display_name) VALUES
               (1, 'iMessage;+;chat123', 'chat123', 'iMessage', 'Group Chat'),
               (2, 'iMessage;-;+15551230001', '+15551230001', 'iMessage', NULL);
             INSERT INTO chat_handle_join (chat_id, handle_id) VALUES (1, 1), (1, 2), (2, 1);",
        )
        .unwrap();
        let body: Vec<u8> = [&[0x01, 0x2B, 0x09][..], b"from body", &[0x86, 0x84]].concat();
        // (rowid, guid, handle, from_me, text, k of the date, chat)
        let rows: [Row<'_>; 6] = [
            (10, "G-10", 1, 0, Some("hi there"), 0, 2),
            (11, "G-11", 1, 1, Some("hello back"), 1, 2),
            (12, "G-12", 2, 0, Some("group hello"), 2, 1),
            (13, "G-13", 1, 0, Some("Liked “group hello”"), 3, 1),
            (14, "G-14", 2, 0, Some("reply text"), 4, 1),
            (15, "G-15", 1, 0, None, 5, 2),
        ];
        for (rowid, guid, handle, from_me, text, k, chat) in rows {
            conn.execute(
                "INSERT INTO message (ROWID, guid, handle_id, is_from_me, text, date, service)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'iMessage')",
                params![rowid, guid, handle, from_me, text, t(k)],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?1, ?2, ?3)",
                params![chat, rowid, t(k)],
            )
            .unwrap();
        }
        conn.execute_batch(
            "UPDATE message SET destination_caller_id = 'me@icloud.com' WHERE ROWID = 11;
             UPDATE message SET associated_message_guid = 'p:0/G-12', associated_message_type = 2001
               WHERE ROWID = 13;
             UPDATE message SET thread_originator_guid = 'G-12' WHERE ROWID = 14;
             INSERT INTO attachment (ROWID, guid, filename, transfer_name, uti, mime_type, total_bytes,
               is_sticker) VALUES (1, 'AT-1', '~/Library/Messages/Attachments/aa/10/G-15/photo.jpg',
               'photo.jpg', 'public.jpeg', 'image/jpeg', 12345, 0);
             INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (15, 1);",
        )
        .unwrap();
        conn.execute(
            "UPDATE message SET attributedBody = ?1 WHERE ROWID = 15",
            [body],
        )
        .unwrap();
        Self { dir }
    }

    /// The database path.
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("chat.db")
    }

    /// Spawn options for `imsg rpc --db <fixture>` with a fast fallback poll.
    pub(crate) fn options(&self) -> SpawnOptions {
        options_for(&self.db())
    }

    /// Spawns a fresh simulator on the fixture.
    pub(crate) fn spawn(&self) -> Session {
        Session::start(self.options())
    }
}

/// Spawn options for the `imsg` wrapper on `db`, with short polls and bounded timeouts.
pub(crate) fn options_for(db: &Path) -> SpawnOptions {
    let mut config = ClientConfig::default();
    config.request_timeout = BOUND;
    config.send_timeout = BOUND;
    let mut options = SpawnOptions::new(IMSG)
        .with_db(db.display().to_string())
        .with_client(config)
        .with_env("IMSG_SIM_POLL_MS", "100");
    // Tests assert the exit code after `shutdown`; on a loaded machine the default 500 ms
    // before SIGTERM could turn a clean EOF exit into a signal.
    options.close_grace = Duration::from_secs(5);
    options
}

/// A running simulator with its client and notification stream.
pub(crate) struct Session {
    pub(crate) child: ImsgChild,
    pub(crate) client: RpcClient,
    pub(crate) notifications: Notifications,
}

impl Session {
    pub(crate) fn start(options: SpawnOptions) -> Self {
        let (child, client, notifications) = imsg_rpc::spawn(options).unwrap();
        Self {
            child,
            client,
            notifications,
        }
    }

    /// Subscribes with `params`, bounded, and returns the subscription id; a refusal fails the test.
    pub(crate) async fn subscribe(&self, params: SubscribeParams) -> i64 {
        tokio::time::timeout(BOUND, self.client.watch_subscribe(&params))
            .await
            .expect("no subscribe answer within the bound")
            .expect("watch.subscribe failed")
            .subscription
    }

    /// Waits for the next notification, bounded.
    pub(crate) async fn next(&mut self) -> Notification {
        tokio::time::timeout(BOUND, self.notifications.recv())
            .await
            .expect("no notification within the bound")
            .expect("notification stream ended")
    }

    /// Waits for the next `message` notification and returns it as JSON.
    pub(crate) async fn next_message(&mut self) -> (i64, Value) {
        match self.next().await {
            Notification::Message(event) => (
                event.subscription,
                serde_json::to_value(&event.message).unwrap(),
            ),
            other => panic!("expected a message notification, got {other:?}"),
        }
    }

    /// Stops the child and returns its exit code.
    pub(crate) async fn stop(self) -> Option<i32> {
        tokio::time::timeout(BOUND, self.child.shutdown())
            .await
            .unwrap()
            .and_then(|s| s.code())
    }
}

/// The `CHAT1` abbreviation of the spec, merged into `value`.
pub(crate) fn chat1(value: Value) -> Value {
    merge(
        value,
        json!({"chat_identifier":"chat123","chat_guid":"iMessage;+;chat123",
        "chat_name":"Group Chat","participants":["+15551230001","alice@example.com"],
        "is_group":true}),
    )
}

/// The `CHAT2` abbreviation of the spec, merged into `value`.
pub(crate) fn chat2(value: Value) -> Value {
    merge(
        value,
        json!({"chat_identifier":"+15551230001","chat_guid":"iMessage;-;+15551230001",
        "chat_name":"+15551230001","participants":["+15551230001"],"is_group":false}),
    )
}

/// Adds the keys of `extra` to the object `value`.
pub(crate) fn merge(mut value: Value, extra: Value) -> Value {
    if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
        map.extend(extra);
    }
    value
}
