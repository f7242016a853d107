//! Persistence seams: where the channel keeps its place in the stream and what it has handled.
//!
//! Each seam is a trait with an in-memory implementation here; the file-backed implementations
//! keep the same contract on disk (atomic writes under a file lock, dirs 0700, files 0600). The
//! pairing store is `imsg_policy::PairingStore`.

mod file;
mod file_cursor;
mod file_dedupe;
mod file_pairing;
mod memory;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use file::DEFAULT_LOCK_TIMEOUT;
pub use file_cursor::FileCursorStore;
pub use file_dedupe::FileDedupeStore;
pub use file_pairing::FilePairingStore;
pub use memory::{MemoryCursorStore, MemoryDedupeStore};

/// What went wrong reading or writing a store. Names the file, so the owner can find it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing, locking or renaming a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A file exists but does not hold what it should. Nothing is overwritten.
    #[error("{}: not a valid store file: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process (or another store in this one) kept the lock longer than the wait allowed.
    #[error("{}: still locked by another process after {waited:?}", path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this store waited.
        waited: Duration,
    },
    /// An account id that is not normalized (`[a-z0-9][a-z0-9_-]{0,63}`) cannot name a store file.
    #[error("account id `{account_id}` cannot name a store file")]
    InvalidAccount {
        /// The id as given.
        account_id: String,
    },
}

/// Where an account's stream was handled up to.
///
/// `rowid` is a low-water mark: every message with a rowid at or below it was handled (dispatched,
/// or dropped with its reason), so a resubscribe with `since_rowid = rowid` misses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Cursor {
    /// The highest rowid up to which everything was handled.
    pub rowid: i64,
    /// When the cursor was written, in milliseconds since the epoch.
    pub updated_at_ms: i64,
}

impl Cursor {
    /// A cursor at `rowid`, written at `updated_at_ms`.
    pub fn new(rowid: i64, updated_at_ms: i64) -> Cursor {
        Cursor {
            rowid,
            updated_at_ms,
        }
    }
}

/// Keeps each account's [`Cursor`].
pub trait CursorStore: Send + Sync {
    /// The cursor of `account_id`, or `None` on the first run.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the file cannot be read or is corrupt.
    fn load(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Cursor>, StoreError>> + Send;

    /// Replaces the cursor of `account_id`. After it returns, a crash leaves this cursor or a newer one.
    ///
    /// # Errors
    ///
    /// [`StoreError`]; the old cursor is kept.
    fn save(
        &self,
        account_id: &str,
        cursor: Cursor,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Remembers which messages were handled, by key (`guid:<guid>`, or `rowid:<n>` for a row without
/// a guid), so that a message seen again after a restart or a resubscribe is not handled twice.
///
/// Implementations keep a bounded number of the newest keys per account.
pub trait DedupeStore: Send + Sync {
    /// Whether `key` was recorded for `account_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the record cannot be read.
    fn contains(
        &self,
        account_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records `key` for `account_id`. After it returns, a crash of the process keeps the record.
    ///
    /// # Errors
    ///
    /// [`StoreError`]; the key may not be recorded.
    fn insert(
        &self,
        account_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The default number of keys a dedupe store keeps per account.
pub const DEDUPE_CAPACITY: usize = 10_000;
