//! The only place that starts a process for attachments: the system `scp` and `sftp`, always as argv.
//!
//! Every run forces `BatchMode=yes` (no prompt can hang the gateway) and `StrictHostKeyChecking=yes`
//! (an unknown or changed host key is an error, never accepted), given before any option carried from
//! the wrapper because ssh keeps the first value it sees. scp runs in its SFTP protocol (`-s`), so the
//! remote path is never read by a remote shell; `--` ends the options before the operands.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::remote_host::SshTarget;

/// How a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The host key is not in known_hosts; nothing was accepted.
    #[error(
        "the host key of `{host}` is unknown, so the copy was refused (host keys are never accepted \
         automatically). Check the Mac's fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on \
         the Mac), then add it: `{fix}`"
    )]
    UnknownHostKey {
        /// The destination as given to scp.
        host: String,
        /// The command that records the key.
        fix: String,
    },
    /// The host key differs from the recorded one.
    #[error(
        "the host key of `{host}` does not match the one in known_hosts (a reinstalled Mac, or someone in \
         between); the copy was refused. If the change is expected, remove the old key with `{fix}` and add \
         the new one after checking its fingerprint"
    )]
    HostKeyChanged {
        /// The destination as given to scp.
        host: String,
        /// The command that removes the old key.
        fix: String,
    },
    /// The remote file does not exist (yet).
    #[error("the remote file does not exist")]
    NotFound,
    /// The download grew past the size cap and was stopped.
    #[error("the remote file is larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: u64,
    },
    /// The program could not be started.
    #[error("could not start `{program}`: {error}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        error: String,
    },
    /// The run took longer than the bound and was killed.
    #[error("`{program}` took longer than {secs} s and was stopped")]
    Timeout {
        /// The program.
        program: String,
        /// The bound.
        secs: u64,
    },
    /// Any other failure, with the end of its stderr.
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// The exit status.
        status: String,
        /// The last lines of stderr.
        stderr: String,
    },
}

/// The programs and bounds of a transfer.
#[derive(Debug, Clone)]
pub(crate) struct Transfer<'a> {
    pub(crate) scp: &'a Path,
    pub(crate) sftp: &'a Path,
    pub(crate) target: &'a SshTarget,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl Transfer<'_> {
    /// The ssh options shared by scp and sftp, strict ones first.
    fn ssh_options(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)).into(),
        ];
        if let Some(port) = self.target.port {
            args.extend(["-P".into(), port.to_string().into()]);
        }
        if let Some(key) = &self.target.identity_file {
            args.extend(["-i".into(), key.clone().into_os_string()]);
        }
        if let Some(file) = &self.target.known_hosts_file {
            let mut opt = OsString::from("UserKnownHostsFile=");
            opt.push(file);
            args.extend(["-o".into(), opt]);
        }
        if let Some(jump) = &self.target.proxy_jump {
            args.extend(["-J".into(), jump.into()]);
        }
        args
    }

    /// `host:path` for scp.
    fn remote(&self, path: &str) -> OsString {
        format!("{}:{path}", self.target.host).into()
    }

    /// Downloads `remote_path` to `dest`, killing scp if `dest` grows past `max_bytes`.
    pub(crate) async fn fetch(
        &self,
        remote_path: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<(), TransferError> {
        let mut args = vec![OsString::from("-s")];
        args.extend(self.ssh_options());
        args.push("--".into());
        args.push(self.remote(remote_path));
        args.push(dest.as_os_str().to_owned());
        let mut child = self.spawn(self.scp, &args, false)?;
        let watch = async {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Ok(meta) = tokio::fs::metadata(dest).await
                    && meta.len() > max_bytes
                {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            out = finish(&mut child, None, self.timeout) => Some(out),
            () = watch => None,
        };
        match outcome {
            None => {
                kill(&mut child).await;
                Err(TransferError::TooLarge { max: max_bytes })
            }
            Some(out) => self.classify(self.scp, out),
        }
    }

    /// Uploads `local` to `remote_path`.
    pub(crate) async fn upload(
        &self,
        local: &Path,
        remote_path: &str,
    ) -> Result<(), TransferError> {
        let mut args = vec![OsString::from("-s")];
        args.extend(self.ssh_options());
        args.push("--".into());
        args.push(local.as_os_str().to_owned());
        args.push(self.remote(remote_path));
        let mut child = self.spawn(self.scp, &args, false)?;
        let out = finish(&mut child, None, self.timeout).await;
        self.classify(self.scp, out)
    }

    /// Runs sftp batch commands (each line already validated to the safe path alphabet, so sftp's own
    /// quoting never comes into play). A leading `-` on a command makes sftp ignore its failure.
    pub(crate) async fn sftp_batch(&self, commands: &str) -> Result<(), TransferError> {
        let mut args = vec![OsString::from("-b"), OsString::from("-")];
        args.extend(self.ssh_options());
        args.push("--".into());
        args.push(self.target.host.to_string().into());
        let mut child = self.spawn(self.sftp, &args, true)?;
        let out = finish(&mut child, Some(commands.as_bytes()), self.timeout).await;
        self.classify(self.sftp, out)
    }

    fn spawn(
        &self,
        program: &Path,
        args: &[OsString],
        stdin: bool,
    ) -> Result<Child, TransferError> {
        tracing::debug!(program = %program.display(), ?args, "starting transfer");
        Command::new(program)
            .args(args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransferError::Spawn {
                program: program.display().to_string(),
                error: e.to_string(),
            })
    }

    fn classify(&self, program: &Path, out: RunOutcome) -> Result<(), TransferError> {
        let name = program.display().to_string();
        let (status, stderr) = match out {
            RunOutcome::Exited { success: true, .. } => return Ok(()),
            RunOutcome::Exited { status, stderr, .. } => (status, stderr),
            RunOutcome::TimedOut => {
                return Err(TransferError::Timeout {
                    program: name,
                    secs: self.timeout.as_secs(),
                });
            }
            RunOutcome::WaitFailed(error) => {
                return Err(TransferError::Spawn {
                    program: name,
                    error,
                });
            }
        };
        let host = self.target.host.to_string();
        let known_hosts = self.target.known_hosts_file.as_ref().map_or_else(
            || "~/.ssh/known_hosts".to_owned(),
            |p| p.display().to_string(),
        );
        let bare = self.target.host.bare_host();
        let keyscan_host = match self.target.port {
            Some(port) => format!("-p {port} {bare}"),
            None => bare.to_owned(),
        };
        let known_name = match self.target.port {
            Some(port) => format!("[{bare}]:{port}"),
            None => bare.to_owned(),
        };
        if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            return Err(TransferError::HostKeyChanged {
                host,
                fix: format!("ssh-keygen -R '{known_name}' -f {known_hosts}"),
            });
        }
        if stderr.contains("Host key verification failed")
            || stderr.contains("host key is known for")
        {
            return Err(TransferError::UnknownHostKey {
                host,
                fix: format!("ssh-keyscan -H {keyscan_host} >> {known_hosts}"),
            });
        }
        if stderr.contains("No such file or directory") {
            return Err(TransferError::NotFound);
        }
        Err(TransferError::Failed {
            program: name,
            status,
            stderr: tail(&stderr),
        })
    }
}

/// How a child run ended.
enum RunOutcome {
    Exited {
        success: bool,
        status: String,
        stderr: String,
    },
    TimedOut,
    WaitFailed(String),
}

/// Feeds `input`, collects stderr (bounded) and waits, all under `timeout`.
async fn finish(child: &mut Child, input: Option<&[u8]>, timeout: Duration) -> RunOutcome {
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let run = async {
        if let (Some(pipe), Some(bytes)) = (stdin.as_mut(), input) {
            // A write error means the child already exited; its status says why.
            let _ = pipe.write_all(bytes).await;
        }
        drop(stdin.take());
        let mut text = Vec::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.take(64 * 1024).read_to_end(&mut text).await;
        }
        (child.wait().await, text)
    };
    match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            kill(child).await;
            RunOutcome::TimedOut
        }
        Ok((Err(e), _)) => RunOutcome::WaitFailed(e.to_string()),
        Ok((Ok(status), text)) => RunOutcome::Exited {
            success: status.success(),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&text).into_owned(),
        },
    }
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
}

/// The last three non-blank lines of stderr, for the log.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .get(lines.len().saturating_sub(3)..)
        .unwrap_or_default()
        .join(" / ")
}
