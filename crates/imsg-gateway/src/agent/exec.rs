//! The `exec` backend: one run of a configured command per event.
//!
//! The command is started from `argv` (no shell), in a process group of its own, with the event as one
//! line of JSON on stdin. What it prints on stdout, trimmed, is the reply (nothing printed: no reply). A run
//! that exits non-zero, prints more than the cap, prints invalid UTF-8 or outlasts the timeout is an error for
//! the log; its output is never sent. On a timeout or an overflow the whole process group is killed, so a
//! script's own children do not linger.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use imsg_channel::Reply;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::config::ExecConfig;
use super::event::AgentEvent;
use super::{Backend, BackendError};

/// How much of the command's stderr is kept for the log.
const STDERR_KEEP: usize = 2048;

/// How long to wait for a killed process to be reaped.
const REAP_GRACE: Duration = Duration::from_secs(5);

/// Why a run produced no reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The command could not be started.
    #[error("cannot start `{program}`: {message}")]
    Spawn {
        /// `argv[0]`.
        program: String,
        /// The OS error.
        message: String,
    },
    /// The run outlasted `timeoutMs`; its process group was killed.
    #[error("`{program}` did not finish within {timeout_ms} ms; its process group was killed")]
    Timeout {
        /// `argv[0]`.
        program: String,
        /// The limit.
        timeout_ms: u64,
    },
    /// The run printed more than `maxOutputBytes`; its process group was killed.
    #[error("`{program}` printed more than {limit} bytes on stdout; its process group was killed")]
    OutputTooLarge {
        /// `argv[0]`.
        program: String,
        /// The cap.
        limit: usize,
    },
    /// The run exited unsuccessfully.
    #[error("`{program}` exited with {status}; stderr: {stderr:?}")]
    Failed {
        /// `argv[0]`.
        program: String,
        /// The exit status as the OS describes it.
        status: String,
        /// The start of its stderr.
        stderr: String,
    },
    /// The run printed something that is not UTF-8.
    #[error("`{program}` printed invalid UTF-8 on stdout")]
    NotUtf8 {
        /// `argv[0]`.
        program: String,
    },
    /// Reading or writing the pipes failed.
    #[error("`{program}`: {message}")]
    Io {
        /// `argv[0]`.
        program: String,
        /// What failed.
        message: String,
    },
}

/// Runs the configured command per event.
#[derive(Debug, Clone)]
pub struct ExecBackend {
    config: ExecConfig,
}

/// What reading a pipe up to a cap found.
enum Capped {
    /// Everything, within the cap.
    All(Vec<u8>),
    /// More than the cap.
    Overflow,
}

/// Reads `pipe` to its end, or until more than `cap` bytes arrived.
async fn read_capped(mut pipe: impl AsyncRead + Unpin, cap: usize) -> std::io::Result<Capped> {
    let mut out = Vec::new();
    let mut buf = [0_u8; 8192];
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            return Ok(Capped::All(out));
        }
        if out.len() + n > cap {
            return Ok(Capped::Overflow);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Reads `pipe` to its end, keeping the first `keep` bytes; the rest is read and dropped so the child never
/// blocks on a full stderr pipe.
async fn read_head(mut pipe: impl AsyncRead + Unpin, keep: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0_u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = keep.saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
    }
    out
}

/// Kills the process group `pgid` (the child made it its own group at spawn).
fn kill_group(pgid: Option<Pid>) {
    if let Some(pgid) = pgid {
        // ESRCH (already gone) is the only expected failure, and it means there is nothing left to kill.
        if let Err(err) = killpg(pgid, Signal::SIGKILL) {
            tracing::debug!(%err, pgid = pgid.as_raw(), "exec backend: killpg");
        }
    }
}

/// Kills the process group when dropped while armed: a run whose future is dropped (the gateway shutting
/// down, a caller's own timeout) must not leave the command behind.
struct GroupGuard {
    pgid: Option<Pid>,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid);
        }
    }
}

impl ExecBackend {
    /// A backend running `config.argv`.
    pub fn new(config: ExecConfig) -> ExecBackend {
        ExecBackend { config }
    }

    fn program(&self) -> String {
        self.config.argv.first().cloned().unwrap_or_default()
    }

    /// Runs the command once with `input` on stdin and returns its stdout.
    ///
    /// # Errors
    ///
    /// See [`ExecError`].
    pub async fn run(&self, input: &[u8]) -> Result<String, ExecError> {
        let program = self.program();
        let Some((first, args)) = self.config.argv.split_first() else {
            return Err(ExecError::Spawn {
                program,
                message: "argv is empty".to_owned(),
            });
        };
        let mut child = Command::new(first)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A group of its own, so a timeout can kill the command and everything it started.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| ExecError::Spawn {
                program: program.clone(),
                message: err.to_string(),
            })?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let mut guard = GroupGuard { pgid, armed: true };
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ExecError::Io {
                program,
                message: "the pipes were not set up".to_owned(),
            });
        };
        let limit = self.config.max_output_bytes;
        let work = async {
            let write = async {
                // A command that ignores its input may exit before reading it; a broken pipe then is fine.
                let result = stdin.write_all(input).await;
                drop(stdin);
                match result {
                    Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err),
                    _ => Ok(()),
                }
            };
            let out = async {
                let result = read_capped(stdout, limit).await;
                if matches!(result, Ok(Capped::Overflow)) {
                    // Stop the writer at once; waiting for it to finish could take until the timeout.
                    kill_group(pgid);
                }
                result
            };
            let (written, out, err) = tokio::join!(write, out, read_head(stderr, STDERR_KEEP));
            let status = child.wait().await;
            (written, out, err, status)
        };
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let finished = tokio::time::timeout(timeout, work).await;
        if finished.is_ok() {
            // The child has been reaped; its pid (the group id) may be reused from now on.
            guard.armed = false;
        }
        let Ok((written, out, stderr, status)) = finished else {
            kill_group(pgid);
            // Reap it so no zombie is left; bounded, since a process in uninterruptible sleep may not die.
            if tokio::time::timeout(REAP_GRACE, child.wait()).await.is_ok() {
                guard.armed = false;
            } else {
                tracing::warn!(
                    program,
                    "exec backend: a killed command was not reaped in time"
                );
            }
            return Err(ExecError::Timeout {
                program,
                timeout_ms: self.config.timeout_ms,
            });
        };
        let io_error = |err: std::io::Error| ExecError::Io {
            program: program.clone(),
            message: err.to_string(),
        };
        let out = out.map_err(io_error)?;
        let status = status.map_err(io_error)?;
        let Capped::All(out) = out else {
            return Err(ExecError::OutputTooLarge {
                program,
                limit: self.config.max_output_bytes,
            });
        };
        if !status.success() {
            return Err(ExecError::Failed {
                program,
                status: status.to_string(),
                stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
            });
        }
        written.map_err(io_error)?;
        if !stderr.is_empty() {
            tracing::debug!(
                program,
                stderr = %String::from_utf8_lossy(&stderr).trim(),
                "exec backend: the command wrote to stderr"
            );
        }
        String::from_utf8(out).map_err(|_| ExecError::NotUtf8 { program })
    }
}

#[async_trait]
impl Backend for ExecBackend {
    fn name(&self) -> &'static str {
        "exec"
    }

    async fn respond(&self, event: &AgentEvent) -> Result<Vec<Reply>, BackendError> {
        let mut input = serde_json::to_vec(event).map_err(|err| ExecError::Io {
            program: self.program(),
            message: format!("cannot encode the event: {err}"),
        })?;
        input.push(b'\n');
        let out = self.run(&input).await?;
        let text = out.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Reply::text(text)])
    }

    fn describe(&self) -> String {
        format!("exec (`{}`)", self.program())
    }
}
