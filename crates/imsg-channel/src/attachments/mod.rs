//! Attachments in and out, on this Mac or on a remote one reached over SSH.
//!
//! Inbound ([`AttachmentStager::stage_inbound`]): each attachment imsg reports is checked (a path, not
//! missing, not an Apple rich-link payload, absolute, no `..`, no control characters, inside the roots
//! after symlinks are resolved, within `mediaMaxMb`) and copied into the staging area under a random
//! name with mode 0600. The staged copies are removed when the returned [`Staged`] is dropped, and a
//! sweep removes any left behind after a bounded age. On a remote Mac the file is fetched with the
//! system `scp` (argv only, strict host keys, SFTP protocol), retried with backoff while it is still
//! arriving, and capped while it downloads.
//!
//! Outbound ([`AttachmentStager::prepare_outbound`]): a file is sent only from the local roots or the
//! staging area and within `mediaMaxMb`; it is copied into the staging area first (so what is checked
//! is what is sent) and, for a remote Mac, uploaded into a staging directory of the remote user. The
//! returned [`OutboundFile`] names the path to pass as `send`'s `file`.
//!
//! Every refusal is logged at info with the reason and the attachment's name; full paths only at debug.

mod local;
pub mod remote_host;
pub mod roots;
mod scp;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imsg_config::ResolvedAccount;

pub use remote_host::{RemoteHost, RemoteHostError, SshTarget, detect_remote_host};
pub use roots::{RootError, RootPattern, parse_roots};
pub use scp::TransferError;

use crate::handler::{Attachment, AttachmentKind};

/// The remote staging directory used when none is configured, relative to the remote user's home.
pub const DEFAULT_REMOTE_STAGING_DIR: &str = ".imsg-gateway/outbound";

/// Where imsg runs, as far as attachments are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteSetting {
    /// imsg runs on this machine; attachment paths are local.
    Local,
    /// imsg runs on this remote Mac (`remoteHost` from the configuration).
    Host(SshTarget),
    /// Read the SSH wrapper script at this path (`cliPath`) to find the remote Mac, if any.
    DetectFrom(PathBuf),
}

/// Connection options applied over whatever the wrapper or `remoteHost` gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SshOverrides {
    /// The port.
    pub port: Option<u16>,
    /// The identity (private key) file.
    pub identity_file: Option<PathBuf>,
    /// The known_hosts file checked with `StrictHostKeyChecking=yes`.
    pub known_hosts_file: Option<PathBuf>,
}

/// Everything the stager needs, usually built by [`AttachmentConfig::from_account`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttachmentConfig {
    /// `includeAttachments`: whether inbound attachments are staged at all.
    pub include: bool,
    /// `attachmentRoots` (with the default root).
    pub local_roots: Vec<RootPattern>,
    /// `remoteAttachmentRoots` (with every local root).
    pub remote_roots: Vec<RootPattern>,
    /// `mediaMaxMb` in bytes, for both directions.
    pub max_bytes: u64,
    /// Where imsg runs.
    pub remote: RemoteSetting,
    /// The staging area, under the state directory; created 0700.
    pub staging_dir: PathBuf,
    /// The remote staging directory for outbound files: relative to the remote home, or absolute.
    pub remote_staging_dir: String,
    /// The scp program (default `scp` from `PATH`).
    pub scp_program: PathBuf,
    /// The sftp program, for the remote staging directory and its cleanup (default `sftp`).
    pub sftp_program: PathBuf,
    /// Options applied over the detected or configured SSH target.
    pub ssh: SshOverrides,
    /// How many times a fetch is tried while the file is still arriving (at least 1).
    pub fetch_attempts: u32,
    /// The first wait between tries; each next wait doubles.
    pub fetch_backoff: Duration,
    /// The bound on one scp or sftp run.
    pub transfer_timeout: Duration,
    /// ssh's `ConnectTimeout`.
    pub connect_timeout: Duration,
    /// Staged files older than this are removed by [`AttachmentStager::sweep`].
    pub stale_after: Duration,
}

impl AttachmentConfig {
    /// A configuration with the defaults: attachments off, the default roots, 16 MiB, imsg local.
    pub fn new(staging_dir: impl Into<PathBuf>) -> AttachmentConfig {
        let default_root = RootPattern::parse(imsg_config::DEFAULT_ATTACHMENT_ROOT).ok();
        AttachmentConfig {
            include: false,
            local_roots: default_root.iter().cloned().collect(),
            remote_roots: default_root.into_iter().collect(),
            max_bytes: 16 * 1024 * 1024,
            remote: RemoteSetting::Local,
            staging_dir: staging_dir.into(),
            remote_staging_dir: DEFAULT_REMOTE_STAGING_DIR.to_owned(),
            scp_program: PathBuf::from("scp"),
            sftp_program: PathBuf::from("sftp"),
            ssh: SshOverrides::default(),
            fetch_attempts: 4,
            fetch_backoff: Duration::from_millis(250),
            transfer_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(60 * 60),
        }
    }

    /// The configuration of one account: `includeAttachments`, the roots, `mediaMaxMb`, and where imsg
    /// runs (`remoteHost`, else the wrapper named by `cliPath` unless it is literally `imsg`).
    ///
    /// A root that cannot apply here (a Windows drive root) is skipped with a warning.
    ///
    /// # Errors
    ///
    /// [`AttachmentError::RemoteHost`] for an unsafe `remoteHost` (the loader refuses those already).
    pub fn from_account(
        account: &ResolvedAccount,
        staging_dir: impl Into<PathBuf>,
    ) -> Result<AttachmentConfig, AttachmentError> {
        let limits = &account.limits;
        let mut config = AttachmentConfig::new(staging_dir);
        config.include = limits.include_attachments;
        config.local_roots = posix_roots(&limits.attachment_roots);
        config.remote_roots = posix_roots(&limits.remote_attachment_roots);
        config.max_bytes = limits.media_max_mb.saturating_mul(1024 * 1024);
        config.remote = match account.process.remote_host.as_deref() {
            Some(host) => RemoteSetting::Host(SshTarget::new(RemoteHost::parse(host)?)),
            None => match cli_path_of(account) {
                cli if cli.as_os_str() == "imsg" => RemoteSetting::Local,
                cli => RemoteSetting::DetectFrom(cli),
            },
        };
        Ok(config)
    }
}

/// The roots the loader accepted, minus those that cannot apply to a POSIX path (a Windows drive root
/// such as `C:/x`, which the shared configuration format allows); each skipped root is logged.
fn posix_roots(raw: &[String]) -> Vec<RootPattern> {
    raw.iter()
        .filter_map(|r| match RootPattern::parse(r) {
            Ok(root) => Some(root),
            Err(e) => {
                tracing::warn!(error = %e, "attachment root skipped");
                None
            }
        })
        .collect()
}

/// The one read of `cliPath`: the resolved command name or path (`~` already expanded by imsg-config).
fn cli_path_of(account: &ResolvedAccount) -> PathBuf {
    account.process.cli_path.as_path().to_path_buf()
}

/// What can go wrong setting up the stager or sending a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// A root pattern is invalid.
    #[error(transparent)]
    Root(#[from] RootError),
    /// The remote host is unsafe, or the wrapper runs a local command through ssh.
    #[error(transparent)]
    RemoteHost(#[from] RemoteHostError),
    /// The staging area cannot be created or used.
    #[error("attachment staging directory `{dir}`: {error}")]
    Staging {
        /// The directory.
        dir: String,
        /// The OS error.
        error: String,
    },
    /// The remote staging directory is not a plain path.
    #[error(
        "remote staging directory `{0}` refused: it must be a path of letters, digits, `.`, `_` and `-` \
         segments, without `..`"
    )]
    RemoteStagingDir(String),
    /// An outbound file was refused.
    #[error("file `{}` not sent: {}", .0.name, .0.reason)]
    Refused(Refusal),
    /// Copying to the remote Mac failed.
    #[error("copying the file to the remote Mac failed: {0}")]
    Transfer(#[from] TransferError),
}

/// Why one attachment was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// `includeAttachments` is off.
    Disabled,
    /// No path, or imsg reported it missing, or it does not exist.
    Missing,
    /// An Apple rich-link payload (`.pluginPayloadAttachment`), not a file the sender chose.
    RichLinkPayload,
    /// The path is relative.
    Relative,
    /// The path has a `..` (or, remotely, a `.`) component.
    ParentComponent,
    /// The path has a control character, such as a newline.
    ControlCharacter,
    /// The path is not UTF-8.
    NotUtf8,
    /// A remote path has a character that is refused across the SSH boundary.
    UnsafeCharacter(char),
    /// The path is outside every root.
    OutsideRoots,
    /// The path is inside a root, but resolving its symlinks leads outside.
    SymlinkEscape,
    /// Not a regular file.
    NotAFile,
    /// Larger than `mediaMaxMb`.
    TooLarge {
        /// The size seen (at least `max + 1` when the copy was stopped).
        size: u64,
        /// The cap.
        max: u64,
    },
    /// Still smaller than imsg's `total_bytes` after every retry.
    Incomplete {
        /// Bytes present.
        have: u64,
        /// Bytes imsg reported.
        want: u64,
    },
    /// The wrapper script was refused, so nothing is fetched over SSH.
    UnsafeWrapper,
    /// The copy from the remote Mac failed.
    Transfer(TransferError),
    /// A local file-system error (its kind).
    Io(String),
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disabled => f.write_str("includeAttachments is off"),
            Self::Missing => f.write_str("missing"),
            Self::RichLinkPayload => f.write_str("rich-link payload, ignored"),
            Self::Relative => f.write_str("relative path"),
            Self::ParentComponent => f.write_str("path has a `..` or `.` component"),
            Self::ControlCharacter => f.write_str("path has a control character"),
            Self::NotUtf8 => f.write_str("path is not UTF-8"),
            Self::UnsafeCharacter(c) => write!(
                f,
                "remote path has `{}`, refused across SSH",
                c.escape_debug()
            ),
            Self::OutsideRoots => f.write_str("outside the attachment roots"),
            Self::SymlinkEscape => f.write_str("a symlink leads outside the attachment roots"),
            Self::NotAFile => f.write_str("not a regular file"),
            Self::TooLarge { size, max } => {
                write!(f, "too large ({size} bytes, mediaMaxMb allows {max})")
            }
            Self::Incomplete { have, want } => {
                write!(f, "still incomplete after retries ({have} of {want} bytes)")
            }
            Self::UnsafeWrapper => f.write_str("the SSH wrapper was refused"),
            Self::Transfer(e) => write!(f, "fetch failed: {e}"),
            Self::Io(kind) => write!(f, "file error: {kind}"),
        }
    }
}

/// One attachment that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The attachment's name (the sender's file name, else the last path segment).
    pub name: String,
    /// Why.
    pub reason: RefusalReason,
}

/// The result of staging one message's attachments. Dropping it removes the staged copies.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Staged {
    /// The staged files, in imsg's order, for the envelope.
    pub files: Vec<Attachment>,
    /// The attachments that were refused (each already logged).
    pub refusals: Vec<Refusal>,
    guards: Vec<tempfile::TempPath>,
}

impl Staged {
    /// The placeholder for a message with no text: `<media:KIND>` of the first staged file, or
    /// `<media:attachment>` when attachments came but none could be staged. `None` when none came.
    pub fn placeholder(&self) -> Option<String> {
        match self.files.first() {
            Some(file) => Some(format!("<media:{}>", file.kind.as_str())),
            None if !self.refusals.is_empty() => Some("<media:attachment>".to_owned()),
            None => None,
        }
    }

    /// Removes the staged copies now (dropping does the same).
    pub fn cleanup(self) {
        drop(self);
    }
}

/// A file ready for `send`: pass [`OutboundFile::file_param`] as the `file` parameter, then call
/// [`OutboundFile::release`] (imsg has copied the file into its own staging by the time `send` answers).
#[derive(Debug)]
pub struct OutboundFile {
    param: String,
    _local: tempfile::TempPath,
    remote: Option<RemoteCopy>,
}

#[derive(Debug)]
struct RemoteCopy {
    path: String,
    target: SshTarget,
    sftp: PathBuf,
    scp: PathBuf,
    timeout: Duration,
    connect_timeout: Duration,
}

impl OutboundFile {
    /// The path for `send`'s `file` parameter, on the machine imsg runs on.
    pub fn file_param(&self) -> &str {
        &self.param
    }

    /// Whether the file was copied to a remote Mac.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Removes the staged copies: the local one, and the remote one over sftp (a failure there is
    /// logged; the remote staging directory is the user's to clean then).
    pub async fn release(self) {
        if let Some(remote) = &self.remote {
            let transfer = scp::Transfer {
                scp: &remote.scp,
                sftp: &remote.sftp,
                target: &remote.target,
                timeout: remote.timeout,
                connect_timeout: remote.connect_timeout,
            };
            if let Err(e) = transfer.sftp_batch(&format!("-rm {}\n", remote.path)).await {
                tracing::info!(error = %e, "could not remove the remote staged copy of an outbound file");
            }
        }
    }
}

/// Where inbound files are fetched from.
#[derive(Debug, Clone)]
enum Source {
    Local,
    Remote(SshTarget),
    Refused(String),
}

/// Stages inbound attachments and prepares outbound files for one account.
#[derive(Debug)]
pub struct AttachmentStager {
    config: AttachmentConfig,
    source: Source,
    resolved_local_roots: Vec<RootPattern>,
    staging: PathBuf,
    inbound: PathBuf,
    outbound: PathBuf,
    fetch: PathBuf,
}

impl AttachmentStager {
    /// Creates the staging area (0700), resolves where imsg runs (reading the wrapper script when asked),
    /// and sweeps stale files.
    ///
    /// A wrapper whose ssh line runs a local command does not fail this: the stager then refuses every
    /// remote attachment and outbound file (fail closed) and says why in the log.
    ///
    /// # Errors
    ///
    /// [`AttachmentError::Staging`] when the staging area cannot be created, and
    /// [`AttachmentError::RemoteStagingDir`] for an unusable remote staging directory.
    pub fn new(config: AttachmentConfig) -> Result<AttachmentStager, AttachmentError> {
        let staging_err = |dir: &Path, e: std::io::Error| AttachmentError::Staging {
            dir: dir.display().to_string(),
            error: e.to_string(),
        };
        if !valid_remote_dir(&config.remote_staging_dir) {
            return Err(AttachmentError::RemoteStagingDir(
                config.remote_staging_dir.escape_debug().to_string(),
            ));
        }
        let dirs = ["inbound", "outbound", "fetch"].map(|d| config.staging_dir.join(d));
        for dir in dirs.iter().chain([&config.staging_dir]) {
            local::private_dir(dir).map_err(|e| staging_err(dir, e))?;
        }
        let staging = std::fs::canonicalize(&config.staging_dir)
            .map_err(|e| staging_err(&config.staging_dir, e))?;
        let source = resolve_source(&config);
        // Each root as written and as resolved: the lexical path is checked against the first, the
        // canonical path matches the second (a canonical path has no symlinks, so also admitting it under
        // the written form widens nothing).
        let mut resolved_local_roots = config.local_roots.clone();
        for root in &config.local_roots {
            let resolved = root.resolved();
            if !resolved_local_roots.contains(&resolved) {
                resolved_local_roots.push(resolved);
            }
        }
        let [inbound, outbound, fetch] = ["inbound", "outbound", "fetch"].map(|d| staging.join(d));
        let stager = AttachmentStager {
            config,
            source,
            resolved_local_roots,
            staging,
            inbound,
            outbound,
            fetch,
        };
        stager.sweep();
        Ok(stager)
    }

    /// The remote Mac attachments are fetched from, when imsg runs on one.
    pub fn remote(&self) -> Option<&SshTarget> {
        match &self.source {
            Source::Remote(target) => Some(target),
            _ => None,
        }
    }

    /// Why attachments over SSH are refused (the wrapper runs a local command), for status output.
    pub fn remote_refusal(&self) -> Option<&str> {
        match &self.source {
            Source::Refused(why) => Some(why),
            _ => None,
        }
    }

    /// Whether inbound attachments are staged (`includeAttachments`).
    pub fn includes_attachments(&self) -> bool {
        self.config.include
    }

    /// The staging area (canonical).
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Removes staged files older than the configured age from the staging area; returns how many.
    pub fn sweep(&self) -> usize {
        let age = self.config.stale_after;
        [&self.inbound, &self.outbound, &self.fetch]
            .iter()
            .map(|dir| match local::sweep(dir, age) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not sweep the attachment staging area");
                    0
                }
            })
            .sum()
    }

    /// Checks and stages the attachments of one inbound message. Never fails: what cannot be staged is
    /// listed in [`Staged::refusals`] and logged.
    pub async fn stage_inbound(&self, attachments: &[imsg_rpc::Attachment]) -> Staged {
        let mut staged = Staged::default();
        for attachment in attachments {
            let name = display_name(attachment);
            match self.stage_one(attachment, &name).await {
                Ok((file, guard)) => {
                    staged.files.push(file);
                    staged.guards.push(guard);
                }
                Err(reason) => {
                    if reason == RefusalReason::Disabled {
                        tracing::debug!(attachment = %name, "attachment not staged: includeAttachments is off");
                    } else {
                        tracing::info!(attachment = %name, reason = %reason, "attachment refused");
                        tracing::debug!(attachment = %name, path = %attachment.original_path.escape_debug(), "refused attachment path");
                    }
                    staged.refusals.push(Refusal { name, reason });
                }
            }
        }
        staged
    }

    async fn stage_one(
        &self,
        attachment: &imsg_rpc::Attachment,
        name: &str,
    ) -> Result<(Attachment, tempfile::TempPath), RefusalReason> {
        if !self.config.include {
            return Err(RefusalReason::Disabled);
        }
        let path = attachment.original_path.as_str();
        if is_rich_link(&attachment.transfer_name)
            || is_rich_link(path)
            || is_rich_link(&attachment.filename)
        {
            return Err(RefusalReason::RichLinkPayload);
        }
        if path.is_empty() || attachment.missing {
            return Err(RefusalReason::Missing);
        }
        let declared = u64::try_from(attachment.total_bytes).unwrap_or(0);
        if declared > self.config.max_bytes {
            return Err(RefusalReason::TooLarge {
                size: declared,
                max: self.config.max_bytes,
            });
        }
        let extension = local::safe_extension(if attachment.transfer_name.is_empty() {
            path
        } else {
            &attachment.transfer_name
        });
        let (guard, size) = match &self.source {
            Source::Refused(_) => return Err(RefusalReason::UnsafeWrapper),
            Source::Local => self.stage_local(path, declared, &extension).await?,
            Source::Remote(target) => {
                self.stage_remote(target, path, declared, &extension)
                    .await?
            }
        };
        let mime_type = if attachment.mime_type.trim().is_empty() {
            guess_mime(&attachment.uti, &extension).to_owned()
        } else {
            attachment.mime_type.trim().to_owned()
        };
        let file = Attachment {
            path: guard.to_path_buf(),
            kind: AttachmentKind::from_mime(&mime_type),
            mime_type,
            name: name.to_owned(),
            size,
        };
        tracing::debug!(attachment = %name, staged = %file.path.display(), size, "attachment staged");
        Ok((file, guard))
    }

    async fn stage_local(
        &self,
        path: &str,
        declared: u64,
        extension: &str,
    ) -> Result<(tempfile::TempPath, u64), RefusalReason> {
        let lexical = roots::check_local_path(path)?;
        let mut wait = self.config.fetch_backoff;
        let mut attempt = 1;
        loop {
            let roots = self.resolved_local_roots.clone();
            let lexical_c = lexical.clone();
            let max = self.config.max_bytes;
            let inbound = self.inbound.clone();
            let ext = extension.to_owned();
            let result = blocking(move || {
                let checked = local::check(&lexical_c, &roots, None, max)?;
                if checked.size < declared {
                    return Err(RefusalReason::Incomplete {
                        have: checked.size,
                        want: declared,
                    });
                }
                local::capped_copy(&checked.canonical, Some(&checked), &inbound, &ext, max)
            })
            .await;
            match result {
                Err(RefusalReason::Incomplete { .. }) if attempt < self.config.fetch_attempts => {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn stage_remote(
        &self,
        target: &SshTarget,
        path: &str,
        declared: u64,
        extension: &str,
    ) -> Result<(tempfile::TempPath, u64), RefusalReason> {
        let lexical = roots::check_remote_path(path)?;
        if !roots::inside_any(&self.config.remote_roots, &lexical) {
            return Err(RefusalReason::OutsideRoots);
        }
        let Some(remote_path) = lexical.to_str() else {
            return Err(RefusalReason::NotUtf8);
        };
        let io_err = |e: std::io::Error| RefusalReason::Io(e.kind().to_string());
        let transfer = self.transfer(target);
        let max = self.config.max_bytes;
        let mut wait = self.config.fetch_backoff;
        let mut attempt = 1;
        loop {
            // A private (0700) directory per try: scp writes the download there, then the capped copy
            // moves it into the staging area under a random 0600 name.
            let tmp = tempfile::Builder::new()
                .prefix(local::STAGED_PREFIX)
                .tempdir_in(&self.fetch)
                .map_err(io_err)?;
            let download = tmp.path().join("download");
            let outcome = match transfer.fetch(remote_path, &download, max).await {
                Ok(()) => {
                    let inbound = self.inbound.clone();
                    let ext = extension.to_owned();
                    let dl = download.clone();
                    blocking(move || {
                        let size = std::fs::metadata(&dl).map_err(io_err)?.len();
                        if size < declared {
                            return Err(RefusalReason::Incomplete {
                                have: size,
                                want: declared,
                            });
                        }
                        local::capped_copy(&dl, None, &inbound, &ext, max)
                    })
                    .await
                }
                Err(TransferError::TooLarge { .. }) => Err(RefusalReason::TooLarge {
                    size: max.saturating_add(1),
                    max,
                }),
                Err(TransferError::NotFound) => Err(RefusalReason::Missing),
                Err(e) => {
                    if matches!(
                        e,
                        TransferError::UnknownHostKey { .. } | TransferError::HostKeyChanged { .. }
                    ) {
                        tracing::warn!(error = %e, "attachment fetch refused by host key checking");
                    }
                    Err(RefusalReason::Transfer(e))
                }
            };
            drop(tmp);
            let retry = matches!(
                outcome,
                Err(RefusalReason::Missing | RefusalReason::Incomplete { .. })
            );
            if retry && attempt < self.config.fetch_attempts {
                tracing::debug!(attempt, "remote attachment not complete yet; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
                attempt += 1;
                continue;
            }
            return outcome;
        }
    }

    fn transfer<'a>(&'a self, target: &'a SshTarget) -> scp::Transfer<'a> {
        scp::Transfer {
            scp: &self.config.scp_program,
            sftp: &self.config.sftp_program,
            target,
            timeout: self.config.transfer_timeout,
            connect_timeout: self.config.connect_timeout,
        }
    }

    /// Checks a file the agent wants to send and prepares it for imsg's `send`.
    ///
    /// The file must be absolute, free of `..` and control characters, inside the local roots or the
    /// staging area after symlinks are resolved, and within `mediaMaxMb`. It is copied into the staging
    /// area, and for a remote Mac uploaded into the remote staging directory.
    ///
    /// # Errors
    ///
    /// [`AttachmentError::Refused`] (logged at info with the file's name), or
    /// [`AttachmentError::Transfer`] when the upload fails.
    pub async fn prepare_outbound(&self, path: &Path) -> Result<OutboundFile, AttachmentError> {
        let name = path.file_name().map_or_else(
            || "file".to_owned(),
            |n| n.to_string_lossy().escape_debug().to_string(),
        );
        match self.prepare_outbound_inner(path).await {
            Ok(file) => Ok(file),
            Err(PrepareError::Refused(reason)) => {
                tracing::info!(file = %name, reason = %reason, "outbound file refused");
                tracing::debug!(file = %name, path = %path.display(), "refused outbound path");
                Err(AttachmentError::Refused(Refusal { name, reason }))
            }
            Err(PrepareError::Transfer(e)) => {
                tracing::warn!(file = %name, error = %e, "outbound file could not be copied to the remote Mac");
                Err(AttachmentError::Transfer(e))
            }
        }
    }

    async fn prepare_outbound_inner(&self, path: &Path) -> Result<OutboundFile, PrepareError> {
        let Some(raw) = path.to_str() else {
            return Err(RefusalReason::NotUtf8.into());
        };
        let lexical = roots::check_local_path(raw)?;
        let roots = self.resolved_local_roots.clone();
        let staging = self.staging.clone();
        let outbound = self.outbound.clone();
        let max = self.config.max_bytes;
        let ext = local::safe_extension(raw);
        let (guard, _size) = blocking(move || {
            let checked = local::check(&lexical, &roots, Some(&staging), max)?;
            local::capped_copy(&checked.canonical, Some(&checked), &outbound, &ext, max)
        })
        .await?;
        let target = match &self.source {
            Source::Local => {
                let param = guard.to_string_lossy().into_owned();
                return Ok(OutboundFile {
                    param,
                    _local: guard,
                    remote: None,
                });
            }
            Source::Refused(_) => return Err(RefusalReason::UnsafeWrapper.into()),
            Source::Remote(target) => target,
        };
        // The staged name is ours (prefix plus random letters plus a sanitized extension), so the remote
        // path is in the safe alphabet whatever the original file was called.
        let file_name = guard
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = self.config.remote_staging_dir.trim_end_matches('/');
        let remote_path = format!("{dir}/{file_name}");
        let transfer = self.transfer(target);
        let mut mkdirs = String::new();
        let mut prefix = String::new();
        for segment in dir.split('/') {
            if segment.is_empty() {
                prefix.push('/');
                continue;
            }
            prefix.push_str(segment);
            mkdirs.push_str(&format!("-mkdir {prefix}\n"));
            prefix.push('/');
        }
        transfer.sftp_batch(&mkdirs).await?;
        transfer.upload(&guard, &remote_path).await?;
        let param = if remote_path.starts_with('/') {
            remote_path.clone()
        } else {
            format!("~/{remote_path}")
        };
        Ok(OutboundFile {
            param,
            _local: guard,
            remote: Some(RemoteCopy {
                path: remote_path,
                target: target.clone(),
                sftp: self.config.sftp_program.clone(),
                scp: self.config.scp_program.clone(),
                timeout: self.config.transfer_timeout,
                connect_timeout: self.config.connect_timeout,
            }),
        })
    }
}

enum PrepareError {
    Refused(RefusalReason),
    Transfer(TransferError),
}

impl From<RefusalReason> for PrepareError {
    fn from(reason: RefusalReason) -> Self {
        PrepareError::Refused(reason)
    }
}

impl From<TransferError> for PrepareError {
    fn from(error: TransferError) -> Self {
        PrepareError::Transfer(error)
    }
}

/// Runs file-system work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RefusalReason> + Send + 'static,
) -> Result<T, RefusalReason> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(RefusalReason::Io(e.to_string())))
}

/// Resolves [`RemoteSetting`] into where files come from, applying the overrides.
fn resolve_source(config: &AttachmentConfig) -> Source {
    let target = match &config.remote {
        RemoteSetting::Local => return Source::Local,
        RemoteSetting::Host(target) => target.clone(),
        RemoteSetting::DetectFrom(script) => match read_wrapper(script) {
            None => return Source::Local,
            Some(text) => match detect_remote_host(&text) {
                Ok(Some(target)) => {
                    tracing::info!(host = %target.host, "remote Mac detected from the SSH wrapper");
                    target
                }
                Ok(None) => {
                    tracing::debug!(cli_path = %script.display(), "cliPath names no SSH wrapper; attachments are local");
                    return Source::Local;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "attachments over SSH are refused");
                    return Source::Refused(e.to_string());
                }
            },
        },
    };
    let mut target = target;
    let o = &config.ssh;
    if o.port.is_some() {
        target.port = o.port;
    }
    if o.identity_file.is_some() {
        target.identity_file.clone_from(&o.identity_file);
    }
    if o.known_hosts_file.is_some() {
        target.known_hosts_file.clone_from(&o.known_hosts_file);
    }
    Source::Remote(target)
}

/// The first 64 KiB of the wrapper as text; `None` when it cannot be read or is not text (a binary).
fn read_wrapper(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(64 * 1024).read_to_end(&mut bytes).ok()?;
    String::from_utf8(bytes).ok()
}

/// Segments of letters, digits, `.`, `_`, `-`; optionally absolute; no `.`/`..`; not starting with `-`.
fn valid_remote_dir(dir: &str) -> bool {
    let rel = dir.strip_prefix('/').unwrap_or(dir);
    !rel.is_empty()
        && !dir.starts_with('-')
        && rel.trim_end_matches('/').split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && !s.starts_with('-')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
}

fn is_rich_link(name: &str) -> bool {
    name.to_ascii_lowercase()
        .trim_end_matches('/')
        .ends_with(".pluginpayloadattachment")
}

/// The name for logs: the sender's file name, else the last path segment; control characters escaped.
fn display_name(attachment: &imsg_rpc::Attachment) -> String {
    let name = if attachment.transfer_name.is_empty() {
        attachment
            .original_path
            .rsplit('/')
            .next()
            .unwrap_or_default()
    } else {
        attachment.transfer_name.as_str()
    };
    if name.is_empty() {
        "attachment".to_owned()
    } else {
        name.escape_debug().to_string()
    }
}

/// A MIME type when imsg reported none, from the UTI or the extension.
fn guess_mime(uti: &str, extension: &str) -> &'static str {
    match (uti, extension) {
        ("public.jpeg", _) | (_, "jpg" | "jpeg") => "image/jpeg",
        ("public.png", _) | (_, "png") => "image/png",
        ("public.heic", _) | (_, "heic") => "image/heic",
        ("com.compuserve.gif", _) | (_, "gif") => "image/gif",
        ("com.apple.coreaudio-format", _) | (_, "caf") => "audio/x-caf",
        (_, "m4a") => "audio/mp4",
        (_, "mp3") => "audio/mpeg",
        ("com.apple.quicktime-movie", _) | (_, "mov") => "video/quicktime",
        (_, "mp4") => "video/mp4",
        ("com.adobe.pdf", _) | (_, "pdf") => "application/pdf",
        (_, "txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_staging_dirs_are_plain_paths() {
        for ok in [".imsg-gateway/outbound", "/tmp/x/y", "a", "/a/b/"] {
            assert!(valid_remote_dir(ok), "{ok}");
        }
        for bad in [
            "", "/", "../x", "a/../b", "-x", "a/-b", "a b", "a/$HOME", "a;b", "./a",
        ] {
            assert!(!valid_remote_dir(bad), "{bad}");
        }
    }

    #[test]
    fn rich_links_and_mime_guesses() {
        assert!(is_rich_link("ABC.pluginPayloadAttachment"));
        assert!(!is_rich_link("photo.jpg"));
        assert_eq!(guess_mime("", "heic"), "image/heic");
        assert_eq!(guess_mime("com.adobe.pdf", ""), "application/pdf");
        assert_eq!(guess_mime("", ""), "application/octet-stream");
    }
}
