//! The dedupe record on disk: an append-only log of handled keys per account, loaded into memory
//! on first use and compacted by atomic rewrite when it grows.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::file::{
    DEFAULT_LOCK_TIMEOUT, LockGuard, atomic_write, blocking, check_account_id, io_error,
    lock_exclusive, open_append, parent_dir, read_optional, sync_dir,
};
use super::{DEDUPE_CAPACITY, DedupeStore, StoreError};

/// A [`DedupeStore`] keeping `<state>/dedupe/<account>.log`, one key per line.
///
/// - A record is one `write` of one line to a file opened for appending: once `insert` returns, the
///   line is in the kernel and survives the process being killed (even `kill -9`); it is not
///   fsynced, so a power loss may forget the newest keys.
/// - On first use of an account the log is read into memory (the newest `capacity` distinct keys);
///   a torn last line (a line without its newline) is ignored and cut off. `contains` then answers
///   from memory.
/// - When the log holds more than twice `capacity` lines it is rewritten atomically (fsynced) with
///   the newest `capacity` keys.
/// - A key holding `\`, a newline or a carriage return is stored escaped (`\\`, `\n`, `\r`), so a
///   line is always exactly one key.
/// - The store owns each account's log while it is in use: it holds an exclusive lock on
///   `<state>/dedupe/<account>.lock` from the account's first use until the store is dropped, so a
///   second store on the same account (another gateway, or a second instance in this process)
///   waits for it at most the lock timeout and then fails with [`StoreError::LockTimeout`].
///   Clones of one store share its open logs (and locks), so clone it rather than build another.
#[derive(Debug, Clone)]
pub struct FileDedupeStore {
    dir: PathBuf,
    capacity: usize,
    lock_timeout: Duration,
    accounts: Arc<Mutex<BTreeMap<String, Slot>>>,
}

/// One account's log, loaded on first use.
type Slot = Arc<Mutex<Option<AccountLog>>>;

impl FileDedupeStore {
    /// A store under `<state_dir>/dedupe` keeping [`DEDUPE_CAPACITY`] keys per account.
    pub fn new(state_dir: impl AsRef<Path>) -> FileDedupeStore {
        FileDedupeStore::with_capacity(state_dir, DEDUPE_CAPACITY)
    }

    /// A store under `<state_dir>/dedupe` keeping `capacity` keys per account (at least one).
    pub fn with_capacity(state_dir: impl AsRef<Path>, capacity: usize) -> FileDedupeStore {
        FileDedupeStore {
            dir: state_dir.as_ref().join("dedupe"),
            capacity: capacity.max(1),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            accounts: Arc::default(),
        }
    }

    /// The same store, waiting at most `timeout` for an account's log held by another store.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> FileDedupeStore {
        self.lock_timeout = timeout;
        self
    }

    /// The log of `account_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidAccount`] when `account_id` is not a normalized account id.
    pub fn path(&self, account_id: &str) -> Result<PathBuf, StoreError> {
        check_account_id(account_id)?;
        Ok(self.dir.join(format!("{account_id}.log")))
    }

    /// The lock file marking the owner of `account_id`'s log.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidAccount`] when `account_id` is not a normalized account id.
    pub fn lock_path(&self, account_id: &str) -> Result<PathBuf, StoreError> {
        check_account_id(account_id)?;
        Ok(self.dir.join(format!("{account_id}.lock")))
    }

    fn slot(&self, account_id: &str) -> Result<(Slot, Opener), StoreError> {
        let opener = Opener {
            path: self.path(account_id)?,
            lock_path: self.lock_path(account_id)?,
            capacity: self.capacity,
            lock_timeout: self.lock_timeout,
        };
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = accounts.entry(account_id.to_owned()).or_default().clone();
        Ok((slot, opener))
    }
}

/// What is needed to open one account's log.
#[derive(Debug, Clone)]
struct Opener {
    path: PathBuf,
    lock_path: PathBuf,
    capacity: usize,
    lock_timeout: Duration,
}

impl Opener {
    /// The loaded log in `slot`, loading it first when needed.
    fn loaded<'a>(
        &self,
        slot: &'a mut Option<AccountLog>,
    ) -> Result<&'a mut AccountLog, StoreError> {
        let log = match slot.take() {
            Some(log) => log,
            None => AccountLog::open(self)?,
        };
        Ok(slot.insert(log))
    }
}

/// The answer from memory, when the log is loaded and not busy; `None` sends the caller to the
/// blocking path.
fn contains_in_memory(slot: &Slot, key: &str) -> Option<bool> {
    let guard = slot.try_lock().ok()?;
    guard.as_ref().map(|log| log.keys.contains(key))
}

impl DedupeStore for FileDedupeStore {
    fn contains(
        &self,
        account_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let slot = self.slot(account_id);
        let key = key.to_owned();
        async move {
            let (slot, opener) = slot?;
            if let Some(answer) = contains_in_memory(&slot, &key) {
                return Ok(answer);
            }
            let path = opener.path.clone();
            blocking(&path, move || {
                let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let log = opener.loaded(&mut guard)?;
                Ok(log.keys.contains(&key))
            })
            .await
        }
    }

    fn insert(
        &self,
        account_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let slot = self.slot(account_id);
        let key = key.to_owned();
        async move {
            let (slot, opener) = slot?;
            let path = opener.path.clone();
            blocking(&path, move || {
                let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
                let log = opener.loaded(&mut guard)?;
                let outcome = log.insert(key);
                if outcome.is_err() {
                    // A failed append may have left part of a line: drop the log (and its lock) so
                    // the next use reloads it and cuts the torn tail off.
                    *guard = None;
                }
                outcome
            })
            .await
        }
    }
}

/// One account's log, open for appending, with its newest keys in memory.
#[derive(Debug)]
struct AccountLog {
    path: PathBuf,
    capacity: usize,
    file: File,
    order: VecDeque<String>,
    keys: HashSet<String>,
    /// Lines in the file, counting repeats and keys no longer in memory.
    lines: usize,
    /// Held for as long as the log is open: this store owns the file.
    _owner: LockGuard,
}

impl AccountLog {
    fn open(opener: &Opener) -> Result<AccountLog, StoreError> {
        let owner = lock_exclusive(&opener.lock_path, opener.lock_timeout)?;
        let path = opener.path.clone();
        let existed = path.exists();
        let bytes = read_optional(&path, u64::MAX)?.unwrap_or_default();
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let file = open_append(&path)?;
        if !existed {
            sync_dir(parent_dir(&path))?;
        }
        if complete < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                bytes = bytes.len() - complete,
                "dedupe log ends in a torn line; ignoring it"
            );
            file.set_len(complete as u64)
                .map_err(|e| io_error(&path, e))?;
        }
        let mut all = Vec::new();
        for line in bytes[..complete].split_inclusive(|&b| b == b'\n') {
            let raw = line.strip_suffix(b"\n").unwrap_or(line);
            match std::str::from_utf8(raw).ok().and_then(unescape) {
                Some(key) => all.push(key),
                None => tracing::warn!(
                    path = %path.display(),
                    "dedupe log line is not a valid key; ignoring it"
                ),
            }
        }
        let lines = all.len();
        let mut keys = HashSet::new();
        let mut newest = Vec::new();
        for key in all.into_iter().rev() {
            if newest.len() == opener.capacity {
                break;
            }
            if keys.insert(key.clone()) {
                newest.push(key);
            }
        }
        newest.reverse();
        Ok(AccountLog {
            path,
            capacity: opener.capacity,
            file,
            order: newest.into(),
            keys,
            lines,
            _owner: owner,
        })
    }

    fn insert(&mut self, key: String) -> Result<(), StoreError> {
        if self.keys.contains(&key) {
            return Ok(());
        }
        let mut line = escape(&key).into_owned();
        line.push('\n');
        // One write of one short line to an O_APPEND file: it lands whole, after any other line.
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| io_error(&self.path, e))?;
        self.lines += 1;
        self.keys.insert(key.clone());
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
        if self.lines > self.capacity.saturating_mul(2)
            && let Err(e) = self.compact()
        {
            // The key itself is recorded; the log only stays longer until a compaction works.
            tracing::warn!(error = %e, "cannot compact the dedupe log");
        }
        Ok(())
    }

    /// Rewrites the log with the keys in memory, then appends to the new file.
    fn compact(&mut self) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        for key in &self.order {
            bytes.extend_from_slice(escape(key).as_bytes());
            bytes.push(b'\n');
        }
        atomic_write(&self.path, &bytes)?;
        self.file = open_append(&self.path)?;
        self.lines = self.order.len();
        Ok(())
    }
}

/// A key as one line: `\` becomes `\\`, a newline `\n`, a carriage return `\r`.
fn escape(key: &str) -> Cow<'_, str> {
    if !key.contains(['\\', '\n', '\r']) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 2);
    for c in key.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The key a line holds, or `None` for a malformed escape.
fn unescape(line: &str) -> Option<String> {
    if !line.contains('\\') {
        return Some(line.to_owned());
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_never_leaves_a_newline() {
        for key in ["guid:plain", "a\nb", "back\\slash", "\r\n\\n", ""] {
            let line = escape(key);
            assert!(!line.contains(['\n', '\r']), "{line:?}");
            assert_eq!(unescape(&line).as_deref(), Some(key));
        }
        assert_eq!(unescape("bad\\x"), None);
        assert_eq!(unescape("trailing\\"), None);
    }
}
