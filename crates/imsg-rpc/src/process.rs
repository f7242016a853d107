//! Spawning `<cliPath> rpc [--db <dbPath>]`, forwarding its stderr, and stopping it.
//!
//! A reaper task owns the [`tokio::process::Child`]: it waits for the exit, publishes the
//! status, and delivers SIGTERM or SIGKILL when asked. The stdout end becomes an
//! [`RpcClient`]; when it reaches EOF the client records one [`RpcError::Closed`] that names
//! the exit status and the stderr tail.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::client::{ClientConfig, CloseReporter, Notifications, PeerHooks, RpcClient};
use crate::error::RpcError;
use crate::frame::{Frame, LineDecoder};

/// Longest stderr line kept; a longer one is discarded and logged as a marker.
const STDERR_LINE_BYTES: usize = 4096;

/// How long the reporter waits for the exit status after stdout closed.
const EXIT_STATUS_WAIT: Duration = Duration::from_secs(2);

/// How often shutdown checks whether the child's process group is empty.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// How long the reporter waits for the stderr forwarder to finish after stdout closed.
const STDERR_DRAIN_WAIT: Duration = Duration::from_millis(500);

/// How to start `imsg rpc`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpawnOptions {
    /// The imsg binary or a wrapper script (for example `exec ssh -T host imsg "$@"`), started
    /// exactly as given: a value without a `/` is a command name looked up on `PATH`, anything
    /// else a path. Nothing is expanded here; `imsg-config` resolves `~` once, at load.
    pub cli_path: PathBuf,
    /// The chat.db path passed as `--db`, exactly as given.
    pub db_path: Option<PathBuf>,
    /// Extra arguments after `rpc`, for example `--json`.
    pub extra_args: Vec<OsString>,
    /// Environment variables set for the child (and for the probe's `--help`/`--version` runs).
    pub env: Vec<(OsString, OsString)>,
    /// Settings of the client over the child's pipes.
    pub client: ClientConfig,
    /// How many stderr lines to keep for the error reported when the child exits.
    pub stderr_tail_lines: usize,
    /// How long to wait after closing stdin before SIGTERM (default 500 ms).
    pub close_grace: Duration,
    /// How long to wait after SIGTERM before SIGKILL (default 500 ms).
    pub term_grace: Duration,
    /// How long to wait for the exit after SIGKILL (default 2 s).
    pub kill_wait: Duration,
}

impl SpawnOptions {
    /// Options for `cli_path` with every other setting at its default.
    #[must_use]
    pub fn new(cli_path: impl Into<PathBuf>) -> Self {
        Self {
            cli_path: cli_path.into(),
            db_path: None,
            extra_args: Vec::new(),
            env: Vec::new(),
            client: ClientConfig::default(),
            stderr_tail_lines: 20,
            close_grace: Duration::from_millis(500),
            term_grace: Duration::from_millis(500),
            kill_wait: Duration::from_secs(2),
        }
    }

    /// Sets the chat.db path.
    #[must_use]
    pub fn with_db(mut self, db_path: impl Into<PathBuf>) -> Self {
        self.db_path = Some(db_path.into());
        self
    }

    /// Adds an environment variable for the child.
    #[must_use]
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Replaces the client settings.
    #[must_use]
    pub fn with_client(mut self, client: ClientConfig) -> Self {
        self.client = client;
        self
    }

    /// The argument list after the program: `rpc [extra] [--db <path>]`.
    pub(crate) fn rpc_args(&self) -> Vec<OsString> {
        let mut args = vec![OsString::from("rpc")];
        args.extend(self.extra_args.iter().cloned());
        if let Some(db) = &self.db_path {
            args.push(OsString::from("--db"));
            args.push(db.clone().into_os_string());
        }
        args
    }
}

/// Signals the reaper can deliver.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// A running `imsg rpc` child. Dropping it kills the child.
#[derive(Debug)]
pub struct ImsgChild {
    pid: Option<u32>,
    client: RpcClient,
    signals: mpsc::UnboundedSender<Signal>,
    status: watch::Receiver<Option<ExitStatus>>,
    options: SpawnOptions,
}

/// Spawns `<cliPath> rpc [extra args] [--db <dbPath>]` and connects a client to its pipes.
///
/// Must be called inside a Tokio runtime.
///
/// # Errors
///
/// [`RpcError::NotFound`] when the program does not exist, [`RpcError::Spawn`] for any other
/// failure to start it.
pub fn spawn(options: SpawnOptions) -> Result<(ImsgChild, RpcClient, Notifications), RpcError> {
    let program = options.cli_path.clone();
    let mut command = Command::new(&program);
    command
        .args(options.rpc_args())
        .envs(options.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so signals reach what a wrapper script started (ssh) too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|err| spawn_error(&options.cli_path, &program, err))?;
    let pid = child.id();
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(RpcError::Spawn {
            program: program.display().to_string(),
            source: Arc::new(std::io::Error::other("child pipes were not created")),
        });
    };
    debug!(?pid, program = %program.display(), "spawned imsg rpc");

    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let (stderr_done_tx, stderr_done) = watch::channel(false);
    tokio::spawn(forward_stderr(
        stderr,
        Arc::clone(&tail),
        options.stderr_tail_lines,
        stderr_done_tx,
    ));

    let (status_tx, status) = watch::channel(None);
    let (signals, signal_rx) = mpsc::unbounded_channel();
    tokio::spawn(reap(child, pid, signal_rx, status_tx));

    let mut exit_watch = status.clone();
    let hooks = PeerHooks {
        exited: Box::pin(async move {
            // An error means the reaper is gone; either way there is nothing more to wait for.
            let _ = exit_watch.wait_for(Option::is_some).await;
        }),
        report: close_reporter(status.clone(), stderr_done, tail),
    };
    let mut config = options.client.clone();
    if config.binary == ClientConfig::default().binary {
        config.binary = program.display().to_string();
    }
    let (client, notifications) = RpcClient::start(stdout, stdin, config, Some(hooks));
    let handle = ImsgChild {
        pid,
        client: client.clone(),
        signals,
        status,
        options,
    };
    Ok((handle, client, notifications))
}

impl ImsgChild {
    /// The child's process id, if it was still known at spawn time.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The exit status, if the child has exited and been reaped.
    #[must_use]
    pub fn try_status(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// Waits for the child to exit, at most `timeout`.
    pub async fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_status(&mut self.status, timeout).await
    }

    /// Stops the child: closes its stdin, waits, sends SIGTERM, waits, sends SIGKILL, waits;
    /// then SIGTERM, a wait and SIGKILL for anything the child left in its process group.
    ///
    /// Every wait is bounded by the options' grace periods. Returns the exit status, or `None`
    /// if the child could not be reaped even after SIGKILL.
    pub async fn shutdown(mut self) -> Option<ExitStatus> {
        let status = self.stop().await;
        // Whatever the child started and left behind (ssh under a wrapper that did not `exec`)
        // is in its process group; it belongs to this session, so it goes too: SIGTERM, a
        // bounded wait, then SIGKILL for members that ignore SIGTERM.
        if group_alive(self.pid) {
            signal_group(self.pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = tokio::time::Instant::now() + self.options.term_grace;
            while group_alive(self.pid) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(GROUP_POLL).await;
            }
            if group_alive(self.pid) {
                warn!(pid = ?self.pid, "processes left by imsg rpc ignored SIGTERM; sending SIGKILL");
                signal_group(self.pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
        status
    }

    /// The escalation of [`ImsgChild::shutdown`] for the child itself.
    async fn stop(&mut self) -> Option<ExitStatus> {
        self.client.close_input();
        if let Some(status) = wait_status(&mut self.status, self.options.close_grace).await {
            return Some(status);
        }
        debug!(pid = ?self.pid, "imsg rpc did not exit on EOF; sending SIGTERM");
        let _ = self.signals.send(Signal::Term);
        if let Some(status) = wait_status(&mut self.status, self.options.term_grace).await {
            return Some(status);
        }
        warn!(pid = ?self.pid, "imsg rpc ignored SIGTERM; sending SIGKILL");
        let _ = self.signals.send(Signal::Kill);
        wait_status(&mut self.status, self.options.kill_wait).await
    }
}

impl Drop for ImsgChild {
    fn drop(&mut self) {
        // While the child runs, the reaper kills it and its group when this handle goes away.
        // Once it has exited the reaper is gone, but what it started may still hold the pipes:
        // kill-on-drop covers the whole group. The reaper is told first (its channel closes), so
        // whichever of the two sees the exit second does the killing.
        self.signals = mpsc::unbounded_channel().0;
        if self.status.borrow().is_some() && group_alive(self.pid) {
            signal_group(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Maps a failure to start the program to [`RpcError::NotFound`] or [`RpcError::Spawn`].
pub(crate) fn spawn_error(cli_path: &Path, program: &Path, err: std::io::Error) -> RpcError {
    if err.kind() == std::io::ErrorKind::NotFound {
        RpcError::NotFound {
            cli_path: cli_path.display().to_string(),
        }
    } else {
        RpcError::Spawn {
            program: program.display().to_string(),
            source: Arc::new(err),
        }
    }
}

/// Waits until the status watch holds an exit status, at most `timeout`.
async fn wait_status(
    status: &mut watch::Receiver<Option<ExitStatus>>,
    timeout: Duration,
) -> Option<ExitStatus> {
    let waited = tokio::time::timeout(timeout, status.wait_for(Option::is_some))
        .await
        .ok()
        .and_then(|result| result.ok().and_then(|status| *status));
    // The reaper may be gone without a status, or the wait timed out: report what is known.
    waited.or_else(|| *status.borrow())
}

/// Owns the child: reaps it and delivers signals.
async fn reap(
    mut child: Child,
    pid: Option<u32>,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    status_tx: watch::Sender<Option<ExitStatus>>,
) {
    let mut handle_alive = true;
    loop {
        tokio::select! {
            status = child.wait() => {
                match status {
                    Ok(status) => {
                        debug!(?pid, %status, "imsg rpc exited");
                        let _ = status_tx.send(Some(status));
                    }
                    Err(err) => warn!(?pid, error = %err, "waiting for imsg rpc failed"),
                }
                // If the handle is already gone, its drop may have missed the exit: what the
                // child left in its group is killed here instead.
                loop {
                    match signals.try_recv() {
                        Ok(_) => {}
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            if group_alive(pid) {
                                signal_group(pid, nix::sys::signal::Signal::SIGKILL);
                            }
                            break;
                        }
                        Err(mpsc::error::TryRecvError::Empty) => break,
                    }
                }
                return;
            }
            signal = signals.recv(), if handle_alive => match signal {
                Some(Signal::Term) => signal_group(pid, nix::sys::signal::Signal::SIGTERM),
                Some(Signal::Kill) => {
                    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
                    if let Err(err) = child.start_kill() {
                        warn!(?pid, error = %err, "killing imsg rpc failed");
                    }
                }
                None => {
                    // The ImsgChild handle was dropped: honour kill-on-drop right away.
                    handle_alive = false;
                    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.start_kill();
                }
            },
        }
    }
}

/// True while the child's process group has a member (signal 0 reaches someone).
fn group_alive(pid: Option<u32>) -> bool {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return false;
    };
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Sends a signal to the child's process group (the child leads it: `process_group(0)`).
fn signal_group(pid: Option<u32>, signal: nix::sys::signal::Signal) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let group = nix::unistd::Pid::from_raw(pid);
    if let Err(err) = nix::sys::signal::killpg(group, signal) {
        debug!(pid, %signal, error = %err, "signalling the imsg rpc process group failed");
    }
}

/// Forwards stderr to `tracing` line by line and keeps a bounded tail.
async fn forward_stderr<R: AsyncRead + Unpin>(
    mut stderr: R,
    tail: Arc<Mutex<VecDeque<String>>>,
    keep: usize,
    done: watch::Sender<bool>,
) {
    let mut decoder = LineDecoder::new(STDERR_LINE_BYTES);
    let record = |frame: Frame| {
        let line = match frame {
            Frame::Line(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Frame::Oversized => format!("<stderr line longer than {STDERR_LINE_BYTES} bytes>"),
        };
        warn!(target: "imsg_rpc::stderr", "{line}");
        if keep == 0 {
            return;
        }
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == keep {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    };
    loop {
        match stderr.read_buf(decoder.buffer_mut()).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                while let Some(frame) = decoder.next_frame() {
                    record(frame);
                }
            }
        }
    }
    if let Some(frame) = decoder.finish() {
        record(frame);
    }
    let _ = done.send(true);
}

/// Builds the error recorded when stdout closes: exit status plus stderr tail, both bounded.
fn close_reporter(
    mut status: watch::Receiver<Option<ExitStatus>>,
    mut stderr_done: watch::Receiver<bool>,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> CloseReporter {
    Box::new(move || {
        Box::pin(async move {
            let status = wait_status(&mut status, EXIT_STATUS_WAIT).await;
            let _ = tokio::time::timeout(STDERR_DRAIN_WAIT, stderr_done.wait_for(|d| *d)).await;
            let stderr_tail = tail
                .lock()
                .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
            RpcError::Closed {
                status,
                stderr_tail,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_passed_exactly_as_given() {
        // `~` belongs to imsg-config, which expands it once at load; this crate never reads `$HOME`.
        let options = SpawnOptions::new("~/bin/imsg").with_db("~/Library/Messages/chat.db");
        assert_eq!(options.cli_path, Path::new("~/bin/imsg"));
        assert_eq!(
            options.rpc_args(),
            ["rpc", "--db", "~/Library/Messages/chat.db"]
        );
    }

    #[test]
    fn rpc_arguments() {
        let mut options = SpawnOptions::new("imsg").with_db("/tmp/chat.db");
        options.extra_args.push("--json".into());
        assert_eq!(
            options.rpc_args(),
            ["rpc", "--json", "--db", "/tmp/chat.db"]
        );
        assert_eq!(SpawnOptions::new("imsg").rpc_args(), ["rpc"]);
    }
}
