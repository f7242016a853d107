//! The plumbing the file-backed stores share: private directories, atomic replacement of a file,
//! advisory locks with a bounded wait, and running blocking file work off the async runtime.
//!
//! Blocking I/O never runs on a runtime worker: every disk operation goes through [`blocking`],
//! which hands it to tokio's blocking pool when a runtime is present and runs it in place
//! otherwise (a CLI without a runtime, or a synchronous test).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::StoreError;

/// Mode of every directory a store creates.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of every file a store writes.
pub(crate) const FILE_MODE: u32 = 0o600;
/// The largest JSON store file read; a bigger one is reported as corrupt rather than loaded.
pub(crate) const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// How long a store waits for another process to release a lock before it gives up.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The first and the longest pause between two attempts at a held lock.
const LOCK_POLL_FIRST: Duration = Duration::from_millis(2);
const LOCK_POLL_MAX: Duration = Duration::from_millis(50);

/// An I/O error about `path`.
pub(crate) fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source: Arc::new(source),
    }
}

/// A corrupt-file error about `path`.
pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Checks that `account_id` is a normalized account id (`[a-z0-9][a-z0-9_-]{0,63}`), so it can
/// name a file without escaping the store's directory.
pub(crate) fn check_account_id(account_id: &str) -> Result<(), StoreError> {
    let mut chars = account_id.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if first_ok && rest_ok && account_id.len() <= 64 {
        Ok(())
    } else {
        Err(StoreError::InvalidAccount {
            account_id: account_id.to_owned(),
        })
    }
}

/// Creates `dir` and any missing parent, each new one with mode 0700 set explicitly (the umask
/// does not decide it). Directories that already exist are left as they are.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut missing = Vec::new();
    let mut current = dir;
    loop {
        if current.as_os_str().is_empty() {
            break;
        }
        match fs::metadata(current) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(io_error(
                    current,
                    io::Error::new(
                        io::ErrorKind::NotADirectory,
                        "exists and is not a directory",
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(current);
                match current.parent() {
                    Some(parent) => current = parent,
                    None => break,
                }
            }
            Err(e) => return Err(io_error(current, e)),
        }
    }
    for new_dir in missing.iter().rev() {
        match fs::DirBuilder::new().mode(DIR_MODE).create(new_dir) {
            Ok(()) => fs::set_permissions(new_dir, Permissions::from_mode(DIR_MODE))
                .map_err(|e| io_error(new_dir, e))?,
            // Another process made it between our look and our mkdir: it is theirs to have moded.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(new_dir, e)),
        }
    }
    Ok(())
}

/// The directory `path` lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Reads `path` whole, or `None` when it does not exist. A file over `limit` bytes is corrupt.
pub(crate) fn read_optional(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(corrupt(path, format!("larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}

/// Replaces `path` with `bytes` so that a crash at any instant leaves the old file or the new one:
/// a temporary file in the same directory (mode 0600), written, fsynced, renamed over `path`,
/// then the directory fsynced so the rename itself is durable.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    ensure_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(FILE_MODE))
        .tempfile_in(dir)
        .map_err(|e| io_error(dir, e))?;
    let tmp_path = tmp.path().to_owned();
    // The mode is set on the open file, so the umask cannot widen or narrow it.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|e| io_error(&tmp_path, e))?;
    tmp.write_all(bytes).map_err(|e| io_error(&tmp_path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_error(&tmp_path, e))?;
    tmp.persist(path).map_err(|e| io_error(path, e.error))?;
    sync_dir(dir)
}

/// Fsyncs a directory, making a rename or a new entry in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

/// Opens (creating, mode 0600) a file for appending.
pub(crate) fn open_append(path: &Path) -> Result<File, StoreError> {
    ensure_private_dir(parent_dir(path))?;
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|e| io_error(path, e))?;
    Ok(file)
}

/// An exclusive advisory lock (`flock`) on a lock file, released when dropped or when the process
/// dies, so a killed holder never leaves a stale lock behind.
///
/// Lock files are never deleted: removing one while another process waits on it would let two
/// holders in at once.
#[derive(Debug)]
pub(crate) struct LockGuard {
    file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first only makes it prompt.
        let _ = self.file.unlock();
    }
}

/// Takes the exclusive lock on `lock_path`, waiting at most `timeout` for another holder.
///
/// The wait polls with a growing pause (2 ms to 50 ms) rather than blocking in the kernel, so it is
/// bounded; a lock held past `timeout` is [`StoreError::LockTimeout`].
pub(crate) fn lock_exclusive(lock_path: &Path, timeout: Duration) -> Result<LockGuard, StoreError> {
    ensure_private_dir(parent_dir(lock_path))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(lock_path)
        .map_err(|e| io_error(lock_path, e))?;
    let mode = file
        .metadata()
        .map_err(|e| io_error(lock_path, e))?
        .permissions()
        .mode();
    if mode & 0o777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(|e| io_error(lock_path, e))?;
    }
    let started = Instant::now();
    let mut pause = LOCK_POLL_FIRST;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(LockGuard { file }),
            Err(fs::TryLockError::WouldBlock) => {
                let waited = started.elapsed();
                if waited >= timeout {
                    return Err(StoreError::LockTimeout {
                        path: lock_path.to_owned(),
                        waited,
                    });
                }
                std::thread::sleep(pause.min(timeout - waited));
                pause = (pause * 2).min(LOCK_POLL_MAX);
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(lock_path, e)),
        }
    }
}

/// Runs blocking file work on tokio's blocking pool when called inside a runtime, in place
/// otherwise. `path` names the file in the error if the task itself fails (a panic).
pub(crate) async fn blocking<T, F>(path: &Path, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(work).await {
            Ok(result) => result,
            Err(e) => Err(io_error(
                path,
                io::Error::other(format!("the store task failed: {e}")),
            )),
        },
        Err(_) => work(),
    }
}

/// Serializes `value` as JSON pretty-printed with two spaces and a trailing newline, the layout
/// OpenClaw writes.
pub(crate) fn pretty_json<T: serde::Serialize>(
    path: &Path,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| {
        io_error(
            path,
            io::Error::other(format!("cannot serialize the store: {e}")),
        )
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Parses a JSON store file, reporting any failure as corrupt with the reason and position.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(path, e.to_string()))
}

/// Checks a store file's `version` field: absent or `1` is understood; anything else is a file from
/// a newer (or foreign) writer, which is never overwritten.
pub(crate) fn check_version(
    path: &Path,
    version: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    match version {
        None => Ok(()),
        Some(v) if v.as_u64() == Some(1) => Ok(()),
        Some(v) => Err(corrupt(path, format!("unsupported version {v}"))),
    }
}
