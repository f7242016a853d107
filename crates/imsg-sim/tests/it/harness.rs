//! Test harness: Fixture F (the small chat.db every conformance example starts from), the simulator as a
//! child process behind a raw pipe, and JSON matching with the few masks where imsg's output is not fixed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

/// How long any single read from the child may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// `T(k)` of Fixture F: Apple-epoch nanoseconds, one minute apart from 2025-05-03T21:20:00Z.
pub fn t(k: i64) -> i64 {
    768_000_000_000_000_000 + k * 60_000_000_000
}

/// A temporary home directory with Fixture F at `chat.db`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// Builds Fixture F, row by row, through the public schema function and plain SQL.
    pub fn f() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("chat.db");
        imsg_sim::db::init_schema(&db).expect("schema");
        let conn = Connection::open(&db).expect("open");
        conn.execute_batch(
            "INSERT INTO handle (ROWID, id) VALUES (1, '+15551230001'), (2, 'alice@example.com');
             INSERT INTO chat (ROWID, guid, chat_identifier, service_name, display_name)
               VALUES (1, 'iMessage;+;chat123', 'chat123', 'iMessage', 'Group Chat'),
                      (2, 'iMessage;-;+15551230001', '+15551230001', 'iMessage', NULL);
             INSERT INTO chat_handle_join (chat_id, handle_id) VALUES (1, 1), (1, 2), (2, 1);
             INSERT INTO attachment (ROWID, guid, filename, transfer_name, uti, mime_type, total_bytes, is_sticker)
               VALUES (1, 'AT-1', '~/Library/Messages/Attachments/aa/10/G-15/photo.jpg', 'photo.jpg',
                       'public.jpeg', 'image/jpeg', 12345, 0);",
        )
        .expect("fixture rows");
        let mut body = vec![0x01, 0x2B, 0x09];
        body.extend_from_slice(b"from body");
        body.extend_from_slice(&[0x86, 0x84]);
        let rows: [Row<'_>; 6] = [
            Row {
                id: 10,
                handle: 1,
                from_me: 0,
                text: Some("hi there"),
                chat: Some(2),
                k: 0,
                ..Row::default()
            },
            Row {
                id: 11,
                handle: 1,
                from_me: 1,
                text: Some("hello back"),
                dest: Some("me@icloud.com"),
                chat: Some(2),
                k: 1,
                ..Row::default()
            },
            Row {
                id: 12,
                handle: 2,
                from_me: 0,
                text: Some("group hello"),
                chat: Some(1),
                k: 2,
                ..Row::default()
            },
            Row {
                id: 13,
                handle: 1,
                from_me: 0,
                text: Some("Liked “group hello”"),
                assoc: Some(("p:0/G-12", 2001)),
                chat: Some(1),
                k: 3,
                ..Row::default()
            },
            Row {
                id: 14,
                handle: 2,
                from_me: 0,
                text: Some("reply text"),
                thread: Some("G-12"),
                chat: Some(1),
                k: 4,
                ..Row::default()
            },
            Row {
                id: 15,
                handle: 1,
                from_me: 0,
                text: None,
                body: Some(&body),
                chat: Some(2),
                k: 5,
                ..Row::default()
            },
        ];
        for row in &rows {
            insert(&conn, row);
        }
        conn.execute(
            "INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (15, 1)",
            [],
        )
        .expect("attachment join");
        Self { dir }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("chat.db")
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// Opens a writer connection, as the harness's stand-in for Messages.app.
    pub fn writer(&self) -> Connection {
        let conn = Connection::open(self.db()).expect("writer");
        conn.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        conn
    }
}

/// One message row of the fixture or of a test, written with plain SQL.
#[derive(Default)]
pub struct Row<'a> {
    pub id: i64,
    pub handle: i64,
    pub from_me: i64,
    pub text: Option<&'a str>,
    pub body: Option<&'a [u8]>,
    pub dest: Option<&'a str>,
    pub assoc: Option<(&'a str, i64)>,
    pub thread: Option<&'a str>,
    pub chat: Option<i64>,
    pub k: i64,
}

/// Inserts a row with guid `G-<id>` and date `T(k)`, plus its chat join when it has a chat.
pub fn insert(conn: &Connection, row: &Row<'_>) {
    conn.execute(
        "INSERT INTO message (ROWID, guid, text, handle_id, attributedBody, service, date, is_from_me,
           destination_caller_id, associated_message_guid, associated_message_type, thread_originator_guid)
         VALUES (?1, ?2, ?3, ?4, ?5, 'iMessage', ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            row.id,
            format!("G-{}", row.id),
            row.text,
            row.handle,
            row.body,
            t(row.k),
            row.from_me,
            row.dest,
            row.assoc.map(|a| a.0),
            row.assoc.map_or(0, |a| a.1),
            row.thread
        ],
    )
    .expect("insert message");
    if let Some(chat) = row.chat {
        conn.execute(
            "INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?1, ?2, ?3)",
            params![chat, row.id, t(row.k)],
        )
        .expect("insert join");
    }
}

/// The simulator as a child process: raw stdin, and stdout lines delivered through a channel.
pub struct Sim {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
}

impl Sim {
    /// Starts `imsg-sim <args>` with `HOME` set to `home`, a short fallback poll, and the extra environment.
    pub fn spawn(args: &[&str], home: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imsg-sim"));
        cmd.args(args)
            .env("HOME", home)
            .env("IMSG_SIM_POLL_MS", "200")
            .env_remove("IMSG_VERSION")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("spawn imsg-sim");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        Self {
            stdin: child.stdin.take(),
            lines: pump(stdout),
            stderr: pump(stderr),
            child,
        }
    }

    /// Starts `imsg-sim rpc --db <fixture>`.
    pub fn rpc(fixture: &Fixture, env: &[(&str, &str)]) -> Self {
        let db = fixture.db();
        Self::spawn(
            &["rpc", "--db", db.to_str().expect("utf-8 path")],
            fixture.home(),
            env,
        )
    }

    /// Writes one raw line (a `\n` is appended).
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write newline");
        stdin.flush().expect("flush");
    }

    /// The next stdout line, failing the test after [`DEADLINE`].
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no line from imsg-sim within {DEADLINE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("imsg-sim closed stdout"),
        }
    }

    /// The next stdout line parsed as JSON.
    pub fn json(&self) -> Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Reads lines until one satisfies `pred`, returning it; fails after [`DEADLINE`] in total.
    pub fn until(&self, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .expect("expected line before the deadline");
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && pred(&value)
            {
                return value;
            }
        }
    }

    /// Whether stdout has ended (all lines read and the pipe closed), waiting at most [`DEADLINE`].
    pub fn stdout_ends(&self) -> bool {
        matches!(
            self.lines.recv_timeout(DEADLINE),
            Err(RecvTimeoutError::Disconnected)
        )
    }

    /// The next stderr line.
    pub fn stderr_line(&self) -> String {
        self.stderr.recv_timeout(DEADLINE).expect("stderr line")
    }

    /// Closes stdin and waits for the exit status, failing after [`DEADLINE`].
    pub fn finish(mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.wait()
    }

    /// Waits for the process to exit on its own, failing after [`DEADLINE`].
    pub fn wait(&mut self) -> ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < end,
                "imsg-sim did not exit within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe line by line (splitting on `\n` only) into a channel.
fn pump(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Runs a one-shot command and returns (stdout, exit code), failing the test after [`DEADLINE`].
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (String, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imsg-sim"));
    cmd.args(args)
        .env_remove("IMSG_VERSION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().expect("run imsg-sim");
    let mut pipe = child.stdout.take().expect("stdout");
    let (tx, output) = channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut pipe, &mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            panic!("imsg-sim {args:?} did not exit within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = output
        .recv_timeout(DEADLINE)
        .expect("stdout of a finished process");
    (stdout, status.code().unwrap_or(-1))
}

/// The chat fields that `examples.json` abbreviates as `CHAT1` / `CHAT2`.
pub fn chat_fields(chat: i64) -> Map<String, Value> {
    let value = match chat {
        1 => serde_json::json!({
            "chat_identifier": "chat123", "chat_guid": "iMessage;+;chat123", "chat_name": "Group Chat",
            "participants": ["+15551230001", "alice@example.com"], "is_group": true
        }),
        2 => serde_json::json!({
            "chat_identifier": "+15551230001", "chat_guid": "iMessage;-;+15551230001", "chat_name": "+15551230001",
            "participants": ["+15551230001"], "is_group": false
        }),
        other => panic!("no abbreviation for chat {other}"),
    };
    value.as_object().cloned().expect("object")
}

/// Expands the data-file shorthands: `"$chat": N` merges CHATN's fields; `$HOME` and `$TMP` in strings.
pub fn expand(value: &Value, home: &str) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                if key == "$chat" {
                    out.extend(chat_fields(v.as_i64().expect("$chat number")));
                } else {
                    out.insert(key.clone(), expand(v, home));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| expand(v, home)).collect()),
        Value::String(s) => Value::String(s.replace("$HOME", home).replace("$TMP", home)),
        other => other.clone(),
    }
}

/// Compares parsed JSON; `"<any>"` matches any value and `{"$contains": [..]}` any string containing all parts.
pub fn matches(expected: &Value, actual: &Value) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(s), _) if s == "<any>" => Ok(()),
        (Value::Object(e), Value::String(a)) if e.contains_key("$contains") => {
            let parts = e["$contains"].as_array().cloned().unwrap_or_default();
            match parts
                .iter()
                .filter_map(Value::as_str)
                .find(|p| !a.contains(p))
            {
                Some(missing) => Err(format!("`{a}` does not contain `{missing}`")),
                None => Ok(()),
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            let mut ek: Vec<_> = e.keys().collect();
            let mut ak: Vec<_> = a.keys().collect();
            ek.sort();
            ak.sort();
            if ek != ak {
                return Err(format!("keys differ: expected {ek:?}, got {ak:?}"));
            }
            for (k, v) in e {
                matches(v, &a[k]).map_err(|m| format!("{k}: {m}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("array length {} != {}: {actual}", e.len(), a.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, av).map_err(|m| format!("[{i}]: {m}"))?;
            }
            Ok(())
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("expected {e}, got {a}")),
    }
}
