//! The pairing store on disk, in the files and JSON shapes OpenClaw uses, so a migrating user keeps
//! their approvals and pending requests.
//!
//! Per account, under `<state>/credentials/`:
//!
//! - `imessage-pairing.json`: `{"version":1,"requests":[{"id","code","createdAt","lastSeenAt","meta"}]}`
//! - `imessage-allowFrom.json`: `{"version":1,"allowFrom":["+15551234567", ...]}`
//!
//! The default account uses exactly those names (OpenClaw's); account `<id>` uses
//! `imessage-<id>-pairing.json` and `imessage-<id>-allowFrom.json`. Both are guarded by one lock
//! file, `imessage[-<id>]-pairing.lock`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imsg_policy::{DEFAULT_ACCOUNT_ID, PairingRequest, PairingSnapshot, PairingStore, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::StoreError;
use super::file::{
    DEFAULT_LOCK_TIMEOUT, MAX_JSON_BYTES, atomic_write, blocking, check_account_id, check_version,
    corrupt, lock_exclusive, parse_json, pretty_json, read_optional,
};

/// A [`PairingStore`] over OpenClaw's pairing and allowFrom files.
///
/// - `load` reads both files without the lock: every write is an atomic rename, so a reader sees a
///   whole old or a whole new file, never a torn one.
/// - `update` is lock, read, change, atomic write, unlock, so the running gateway and a
///   `pairing approve` in another process never lose each other's change. The lock wait is bounded
///   (see [`FilePairingStore::with_lock_timeout`]).
/// - A missing file is an empty state; a file that does not parse, or has a `version` other than 1,
///   is [`StoreError::Corrupt`] naming it, and is never overwritten.
/// - Keys this store does not know (at the top level, in a request, or in its `meta`) are kept when
///   the file is rewritten.
#[derive(Debug, Clone)]
pub struct FilePairingStore {
    credentials: PathBuf,
    lock_timeout: Duration,
}

impl FilePairingStore {
    /// A store under `<state_dir>/credentials`.
    pub fn new(state_dir: impl AsRef<Path>) -> FilePairingStore {
        FilePairingStore::in_credentials_dir(state_dir.as_ref().join("credentials"))
    }

    /// A store directly in `credentials_dir` (OpenClaw lets the credentials directory be moved).
    pub fn in_credentials_dir(credentials_dir: impl Into<PathBuf>) -> FilePairingStore {
        FilePairingStore {
            credentials: credentials_dir.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The same store, waiting at most `timeout` for the lock held by another process.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> FilePairingStore {
        self.lock_timeout = timeout;
        self
    }

    /// The directory holding the files.
    pub fn credentials_dir(&self) -> &Path {
        &self.credentials
    }

    /// The pending-requests file of `account_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidAccount`] when `account_id` is not a normalized account id.
    pub fn pairing_path(&self, account_id: &str) -> Result<PathBuf, StoreError> {
        self.path(account_id, "pairing.json")
    }

    /// The approved-senders file of `account_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidAccount`] when `account_id` is not a normalized account id.
    pub fn allow_from_path(&self, account_id: &str) -> Result<PathBuf, StoreError> {
        self.path(account_id, "allowFrom.json")
    }

    /// The lock file guarding both files of `account_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidAccount`] when `account_id` is not a normalized account id.
    pub fn lock_path(&self, account_id: &str) -> Result<PathBuf, StoreError> {
        self.path(account_id, "pairing.lock")
    }

    fn path(&self, account_id: &str, suffix: &str) -> Result<PathBuf, StoreError> {
        check_account_id(account_id)?;
        let name = if account_id == DEFAULT_ACCOUNT_ID {
            format!("imessage-{suffix}")
        } else {
            format!("imessage-{account_id}-{suffix}")
        };
        Ok(self.credentials.join(name))
    }

    fn files(&self, account_id: &str) -> Result<Files, StoreError> {
        Ok(Files {
            account_id: account_id.to_owned(),
            pairing: self.pairing_path(account_id)?,
            allow_from: self.allow_from_path(account_id)?,
            lock: self.lock_path(account_id)?,
        })
    }
}

/// The paths of one account.
#[derive(Debug, Clone)]
struct Files {
    account_id: String,
    pairing: PathBuf,
    allow_from: PathBuf,
    lock: PathBuf,
}

impl PairingStore for FilePairingStore {
    type Error = StoreError;

    fn load(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<PairingSnapshot, StoreError>> + Send {
        let files = self.files(account_id);
        async move {
            let files = files?;
            let path = files.pairing.clone();
            blocking(&path, move || {
                Ok(read_state(&files)?.snapshot(&files.account_id))
            })
            .await
        }
    }

    fn update<R, F>(
        &self,
        account_id: &str,
        change: F,
    ) -> impl Future<Output = Result<R, StoreError>> + Send
    where
        F: FnOnce(&mut PairingSnapshot) -> R + Send,
        R: Send,
    {
        let files = self.files(account_id);
        let timeout = self.lock_timeout;
        async move {
            let files = files?;
            let path = files.pairing.clone();
            let read_files = files.clone();
            let (guard, state) = blocking(&path, move || {
                let guard = lock_exclusive(&read_files.lock, timeout)?;
                let state = read_state(&read_files)?;
                Ok((guard, state))
            })
            .await?;
            let before = state.snapshot(&files.account_id);
            let mut after = before.clone();
            // The change is a pure function of the snapshot: it runs here, while the lock is held,
            // and a panic in it drops the guard without writing anything.
            let result = change(&mut after);
            blocking(&path, move || {
                let outcome = state.write_changes(&files, &before, &after);
                drop(guard);
                outcome
            })
            .await?;
            Ok(result)
        }
    }
}

/// The two files as read, with what must survive a rewrite.
#[derive(Debug, Default)]
struct StoredState {
    pairing: PairingDoc,
    allow_from: AllowDoc,
}

impl StoredState {
    fn snapshot(&self, account_id: &str) -> PairingSnapshot {
        let approved = self.allow_from.entries();
        let requests = self
            .pairing
            .requests
            .iter()
            .filter_map(RequestEntry::to_request)
            .collect();
        PairingSnapshot::from_parts(account_id, approved, requests)
    }

    /// Writes the files whose part of the snapshot changed: allowFrom first, so a crash between the
    /// two leaves an approved sender whose request is still listed (harmless), never a removed
    /// request without its approval.
    fn write_changes(
        &self,
        files: &Files,
        before: &PairingSnapshot,
        after: &PairingSnapshot,
    ) -> Result<(), StoreError> {
        if !before.approved().eq(after.approved()) {
            let doc = self.allow_from.rewritten(after);
            atomic_write(&files.allow_from, &pretty_json(&files.allow_from, &doc)?)?;
        }
        if before.requests() != after.requests() {
            let doc = self.pairing.rewritten(after);
            atomic_write(&files.pairing, &pretty_json(&files.pairing, &doc)?)?;
        }
        Ok(())
    }
}

fn read_state(files: &Files) -> Result<StoredState, StoreError> {
    let pairing = match read_optional(&files.pairing, MAX_JSON_BYTES)? {
        Some(bytes) => {
            let doc: PairingDoc = parse_json(&files.pairing, &bytes)?;
            check_version(&files.pairing, doc.version.as_ref())?;
            doc
        }
        None => PairingDoc::default(),
    };
    let allow_from = match read_optional(&files.allow_from, MAX_JSON_BYTES)? {
        Some(bytes) => {
            let doc: AllowDoc = parse_json(&files.allow_from, &bytes)?;
            check_version(&files.allow_from, doc.version.as_ref())?;
            for entry in &doc.allow_from {
                if !(entry.is_string() || entry.is_number()) {
                    return Err(corrupt(
                        &files.allow_from,
                        format!("allowFrom entry {entry} is not a string"),
                    ));
                }
            }
            doc
        }
        None => AllowDoc::default(),
    };
    Ok(StoredState {
        pairing,
        allow_from,
    })
}

/// `imessage-pairing.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PairingDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<Value>,
    #[serde(default)]
    requests: Vec<RequestEntry>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl PairingDoc {
    /// The document for `snapshot`, keeping what this store does not model from the entries read.
    fn rewritten(&self, snapshot: &PairingSnapshot) -> PairingDoc {
        let read: BTreeMap<&str, &RequestEntry> = self
            .requests
            .iter()
            .map(|entry| (entry.id.trim(), entry))
            .collect();
        let requests = snapshot
            .requests()
            .iter()
            .map(|request| {
                RequestEntry::from_request(request, read.get(request.sender_id.as_str()).copied())
            })
            .collect();
        PairingDoc {
            version: Some(Value::from(1)),
            requests,
            extra: self.extra.clone(),
        }
    }
}

/// One request as OpenClaw stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestEntry {
    #[serde(default)]
    id: String,
    #[serde(default)]
    code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen_at: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meta: Option<Map<String, Value>>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A request whose creation time cannot be read counts as expired, as in OpenClaw.
const UNREADABLE_TIME: UnixMillis = UnixMillis::new(i64::MIN);

impl RequestEntry {
    fn to_request(&self) -> Option<PairingRequest> {
        let sender_id = self.id.trim();
        if sender_id.is_empty() || sender_id == "*" {
            return None;
        }
        let created_at = self
            .created_at
            .as_ref()
            .and_then(parse_time)
            .unwrap_or(UNREADABLE_TIME);
        let last_seen_at = self
            .last_seen_at
            .as_ref()
            .and_then(parse_time)
            .unwrap_or(created_at);
        let chat_id = self
            .meta
            .as_ref()
            .and_then(|meta| meta.get("chatId"))
            .and_then(|v| match v {
                Value::String(s) => s.trim().parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            });
        Some(PairingRequest {
            sender_id: sender_id.to_owned(),
            code: self.code.clone(),
            created_at,
            last_seen_at,
            chat_id,
        })
    }

    /// The entry for `request`; `read` is the entry of the same sender as read, whose unknown keys
    /// and exact time strings are kept when the times did not change.
    fn from_request(request: &PairingRequest, read: Option<&RequestEntry>) -> RequestEntry {
        let keep_time = |old: Option<&Value>, new: UnixMillis| -> Value {
            match old {
                Some(v) if parse_time(v).unwrap_or(UNREADABLE_TIME) == new => v.clone(),
                _ => Value::String(format_time(new)),
            }
        };
        let mut meta = read.and_then(|r| r.meta.clone()).unwrap_or_default();
        meta.entry("sender")
            .or_insert_with(|| Value::String(request.sender_id.clone()));
        if let Some(chat_id) = request.chat_id {
            meta.insert("chatId".to_owned(), Value::String(chat_id.to_string()));
        }
        RequestEntry {
            id: request.sender_id.clone(),
            code: request.code.clone(),
            created_at: Some(keep_time(
                read.and_then(|r| r.created_at.as_ref()),
                request.created_at,
            )),
            last_seen_at: Some(keep_time(
                read.and_then(|r| r.last_seen_at.as_ref()),
                request.last_seen_at,
            )),
            meta: Some(meta),
            extra: read.map(|r| r.extra.clone()).unwrap_or_default(),
        }
    }
}

/// `imessage-allowFrom.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct AllowDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<Value>,
    #[serde(default, rename = "allowFrom")]
    allow_from: Vec<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl AllowDoc {
    /// The entries as strings, untrimmed (the snapshot trims and drops blanks and `*`).
    fn entries(&self) -> Vec<String> {
        self.allow_from
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The document for `snapshot`: senders still approved keep the order they were read in, new
    /// ones follow sorted.
    fn rewritten(&self, snapshot: &PairingSnapshot) -> AllowDoc {
        let approved: BTreeSet<&str> = snapshot.approved().collect();
        let mut written = BTreeSet::new();
        let mut list = Vec::new();
        for entry in self.entries() {
            let entry = entry.trim().to_owned();
            if approved.contains(entry.as_str()) && written.insert(entry.clone()) {
                list.push(Value::String(entry));
            }
        }
        for entry in approved {
            if written.insert(entry.to_owned()) {
                list.push(Value::String(entry.to_owned()));
            }
        }
        AllowDoc {
            version: Some(Value::from(1)),
            allow_from: list,
            extra: self.extra.clone(),
        }
    }
}

/// Reads an ISO 8601 / RFC 3339 time (OpenClaw writes `2026-01-05T10:00:00.000Z`).
fn parse_time(value: &Value) -> Option<UnixMillis> {
    let text = value.as_str()?;
    let ts: jiff::Timestamp = text.trim().parse().ok()?;
    Some(UnixMillis::new(ts.as_millisecond()))
}

/// Writes a time as JavaScript's `toISOString` does: UTC, milliseconds, `Z`.
fn format_time(time: UnixMillis) -> String {
    let ts =
        jiff::Timestamp::from_millisecond(time.as_millis()).unwrap_or(if time.as_millis() < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
    jiff::fmt::temporal::DateTimePrinter::new()
        .precision(Some(3))
        .timestamp_to_string(&ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_javascript_writes_them_and_read_back() {
        let t = UnixMillis::new(1_767_607_200_123);
        let text = format_time(t);
        assert_eq!(text, "2026-01-05T10:00:00.123Z");
        assert_eq!(parse_time(&Value::String(text)), Some(t));
        assert_eq!(
            format_time(UnixMillis::new(1_767_607_200_000)),
            "2026-01-05T10:00:00.000Z"
        );
        assert_eq!(parse_time(&Value::String("yesterday".into())), None);
    }

    #[test]
    fn account_names_follow_the_openclaw_layout() {
        let store = FilePairingStore::new("state");
        assert_eq!(
            store.pairing_path("default").ok(),
            Some(PathBuf::from("state/credentials/imessage-pairing.json"))
        );
        assert_eq!(
            store.allow_from_path("work").ok(),
            Some(PathBuf::from(
                "state/credentials/imessage-work-allowFrom.json"
            ))
        );
        for bad in ["", "../x", "Work", "a/b", ".hidden"] {
            assert!(
                matches!(
                    store.pairing_path(bad),
                    Err(StoreError::InvalidAccount { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
