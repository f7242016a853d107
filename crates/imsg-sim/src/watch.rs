//! Watch subscriptions: one thread per subscription, polling chat.db as imsg 0.9.0 does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;

use crate::failure::sqlite_description;
use crate::output::Output;
use crate::store::{BuildOptions, ParentCache, Shared, open_read_only};

/// How often a subscription checks whether another connection committed, standing in for kqueue events.
const CHANGE_CHECK: Duration = Duration::from_millis(20);

/// The validated parameters of one subscription.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) id: i64,
    pub(crate) chat_id: Option<i64>,
    /// The exclusive ROWID cursor the first poll starts after; `None` takes `MAX(ROWID)` on the watch thread.
    pub(crate) cursor: Option<i64>,
    /// Lowercased participant filter; empty means everyone.
    pub(crate) participants: Vec<String>,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
    pub(crate) attachments: bool,
    pub(crate) include_reactions: bool,
    pub(crate) debounce: Duration,
}

/// A running subscription: its cancel flag, its start gate and its thread.
#[derive(Debug)]
pub(crate) struct Running {
    cancel: Arc<AtomicBool>,
    gate: Option<mpsc::Sender<()>>,
    _thread: JoinHandle<()>,
}

impl Running {
    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Lets the subscription start polling; called once its `watch.subscribe` result has been written.
    pub(crate) fn open_gate(&mut self) {
        if let Some(gate) = self.gate.take() {
            // The thread may already have ended (e.g. the database vanished); nothing to wake then.
            let _ = gate.send(());
        }
    }
}

/// Timing of the poll triggers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) fallback: Duration,
    pub(crate) file_events: bool,
}

/// Starts a subscription thread; the first poll runs at once.
pub(crate) fn start(
    spec: Spec,
    shared: Arc<Shared>,
    out: Arc<Output>,
    timing: Timing,
) -> std::io::Result<Running> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let (gate, opened) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("watch-{}", spec.id))
        .spawn(move || {
            // imsg 0.9.0 may emit the first notification before the subscribe result; holding the first poll
            // until the result is written picks the order every client handles, and keeps tests deterministic.
            let _ = opened.recv();
            run(&spec, &shared, &out, timing, &flag);
        })?;
    Ok(Running {
        cancel,
        gate: Some(gate),
        _thread: thread,
    })
}

fn run(spec: &Spec, shared: &Shared, out: &Output, timing: Timing, cancel: &AtomicBool) {
    let fail = |err: &rusqlite::Error| {
        if !cancel.load(Ordering::SeqCst) {
            out.notification(&json!({
                "jsonrpc": "2.0",
                "method": "error",
                "params": {"subscription": spec.id, "error": {"message": sqlite_description(err)}},
            }));
        }
    };
    let conn = match open_read_only(&shared.db_path) {
        Ok(conn) => conn,
        Err(err) => return fail(&err),
    };
    let mut cursor = match spec.cursor {
        Some(cursor) => cursor,
        None => match max_rowid(&conn) {
            Ok(cursor) => cursor,
            Err(err) => return fail(&err),
        },
    };
    let mut seen_version = data_version(&conn).unwrap_or(0);
    if let Err(err) = poll(spec, shared, out, &conn, &mut cursor, cancel) {
        return fail(&err);
    }
    let mut next_fallback = Instant::now() + timing.fallback;
    let mut pending: Option<Instant> = None;
    while !cancel.load(Ordering::SeqCst) && !out.is_broken() {
        std::thread::sleep(CHANGE_CHECK.min(timing.fallback));
        let now = Instant::now();
        if timing.file_events && pending.is_none() {
            // Another connection's commit changes data_version; like a kqueue event, it schedules one poll
            // after debounce_ms, and events during that wait are absorbed.
            if let Ok(v) = data_version(&conn)
                && v != seen_version
            {
                seen_version = v;
                pending = Some(now + spec.debounce);
            }
        }
        let due = pending.is_some_and(|at| now >= at) || now >= next_fallback;
        if !due {
            continue;
        }
        if let Err(err) = poll(spec, shared, out, &conn, &mut cursor, cancel) {
            return fail(&err);
        }
        pending = None;
        if now >= next_fallback {
            next_fallback = now + timing.fallback;
        }
    }
}

/// The "from now" cursor: the highest ROWID, or 0 for an empty table.
pub(crate) fn max_rowid(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT IFNULL(MAX(ROWID), 0) FROM message", [], |r| {
        r.get(0)
    })
}

fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

/// One poll in a fresh read transaction, so rows committed by other processes are seen.
fn poll(
    spec: &Spec,
    shared: &Shared,
    out: &Output,
    conn: &Connection,
    cursor: &mut i64,
    cancel: &AtomicBool,
) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let rows = shared.poll_rows(&tx, *cursor, spec.chat_id, spec.include_reactions)?;
    let opts = BuildOptions {
        attachments: spec.attachments,
        reactions: spec.include_reactions,
        reaction_event: spec.include_reactions,
    };
    let mut parents = ParentCache::default();
    for (row, joined) in rows {
        let chat_id = joined.or(spec.chat_id).unwrap_or(0);
        let text = row.resolved_text();
        let sender = row.effective_sender();
        if shared.is_balloon_duplicate(&row, chat_id, &text, &sender) {
            continue;
        }
        *cursor = (*cursor).max(row.rowid);
        if !spec.participants.is_empty() && !spec.participants.contains(&sender.to_lowercase()) {
            continue;
        }
        let date = row.date.unwrap_or(0);
        if spec.start.is_some_and(|s| date < s) || spec.end.is_some_and(|e| date >= e) {
            continue;
        }
        let message = shared.message_json(&tx, &row, chat_id, opts, &mut parents)?;
        if cancel.load(Ordering::SeqCst) {
            break;
        }
        out.notification(&json!({
            "jsonrpc": "2.0",
            "method": "message",
            "params": {"subscription": spec.id, "message": message},
        }));
    }
    tx.commit()
}
