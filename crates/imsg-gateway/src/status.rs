//! The live status a running `imsg-gateway run` publishes, one file per account, so that
//! `channels status` and `doctor` work from another terminal.
//!
//! `<state>/status/<account>.json` is rewritten atomically (temp file, fsync, rename) whenever the
//! account's status changes and at least every few seconds; it carries the pid of the gateway, so a
//! reader can tell a live gateway from a file left behind by a crash ("not running").

use std::io::Write as _;
use std::path::{Path, PathBuf};

use imsg_channel::ChannelStatus;
use serde::{Deserialize, Serialize};

/// The format version of a status file.
pub const STATUS_VERSION: u32 = 1;

/// One account's published status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedStatus {
    /// Always [`STATUS_VERSION`].
    pub version: u32,
    /// The pid of the gateway that wrote it.
    pub pid: u32,
    /// The account id.
    pub account_id: String,
    /// Whether the account is enabled in the config the gateway runs.
    pub enabled: bool,
    /// Whether the account is configured.
    pub configured: bool,
    /// `stopped`, `starting`, `running`, `backoff` or `failed`.
    pub state: String,
    /// The last recorded error.
    pub last_error: Option<String>,
    /// How many times the transport was restarted.
    pub restarts: u64,
    /// Milliseconds since the epoch of the last inbound message.
    pub last_inbound_at: Option<i64>,
    /// Milliseconds since the epoch of the last outbound send.
    pub last_outbound_at: Option<i64>,
    /// Milliseconds since the epoch of the last (re)start.
    pub last_start_at: Option<i64>,
    /// Milliseconds since the epoch of this write.
    pub updated_at: i64,
}

impl PublishedStatus {
    /// The status to publish for `status` of an account.
    pub fn from_channel(status: &ChannelStatus, enabled: bool, configured: bool) -> Self {
        PublishedStatus {
            version: STATUS_VERSION,
            pid: std::process::id(),
            account_id: status.account_id.clone(),
            enabled,
            configured,
            state: status.state.as_str().to_owned(),
            last_error: status.last_error.clone(),
            restarts: status.restarts,
            last_inbound_at: status.last_inbound_at,
            last_outbound_at: status.last_outbound_at,
            last_start_at: status.last_start_at,
            updated_at: now_ms(),
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The directory of status files.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("status")
}

/// The status file of `account_id`.
pub fn file(state_dir: &Path, account_id: &str) -> PathBuf {
    dir(state_dir).join(format!("{account_id}.json"))
}

/// Creates `path` (and its parents) with mode 0700 where it is new.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(parent)?;
    // NamedTempFile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(parent) {
        // Best effort: the rename is durable once the directory is synced.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Publishes `status`.
///
/// # Errors
///
/// The I/O error; the caller logs it and keeps running.
pub fn publish(state_dir: &Path, status: &PublishedStatus) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(&file(state_dir, &status.account_id), &bytes)
}

/// Removes the status file of `account_id` if this process wrote it.
pub fn withdraw(state_dir: &Path, account_id: &str) {
    let path = file(state_dir, account_id);
    if let Ok(Some(found)) = read(&path)
        && found.pid == std::process::id()
    {
        let _ = std::fs::remove_file(path);
    }
}

/// Reads one status file; `None` when it does not exist.
///
/// # Errors
///
/// A message naming the file when it cannot be read or parsed.
pub fn read(path: &Path) -> Result<Option<PublishedStatus>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: not a status file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Whether a process with `pid` exists (signal 0; EPERM still means it exists).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(errno) => errno == nix::errno::Errno::EPERM,
    }
}

/// What `channels status` knows of a running gateway for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// A gateway with a live pid published this.
    Running(PublishedStatus),
    /// The file names a pid that is gone: the gateway crashed or was killed.
    Stale(PublishedStatus),
    /// No file: no gateway serves this account.
    NotRunning,
    /// The file is unreadable.
    Unreadable(String),
}

/// Reads the live status of `account_id`.
pub fn live(state_dir: &Path, account_id: &str) -> Live {
    match read(&file(state_dir, account_id)) {
        Ok(Some(s)) if pid_alive(s.pid) => Live::Running(s),
        Ok(Some(s)) => Live::Stale(s),
        Ok(None) => Live::NotRunning,
        Err(e) => Live::Unreadable(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_published_status_reads_back_as_running_and_is_withdrawn() {
        let dir = tempfile::tempdir().unwrap();
        let status = PublishedStatus::from_channel(&ChannelStatus::stopped("work"), true, true);
        publish(dir.path(), &status).unwrap();
        assert_eq!(live(dir.path(), "work"), Live::Running(status));
        withdraw(dir.path(), "work");
        assert_eq!(live(dir.path(), "work"), Live::NotRunning);
    }

    #[test]
    fn a_file_of_a_gone_pid_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = PublishedStatus::from_channel(&ChannelStatus::stopped("a"), true, true);
        // pid_max on Linux is at most 2^22, so this pid cannot exist.
        status.pid = 99_999_999;
        publish(dir.path(), &status).unwrap();
        assert!(matches!(live(dir.path(), "a"), Live::Stale(_)));
    }

    #[cfg(unix)]
    #[test]
    fn status_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let status = PublishedStatus::from_channel(&ChannelStatus::stopped("a"), true, true);
        publish(dir.path(), &status).unwrap();
        let mode = std::fs::metadata(file(dir.path(), "a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
