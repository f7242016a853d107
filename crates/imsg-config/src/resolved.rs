//! The resolved configuration: validated, merged, defaults applied, one value per account.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imsg_policy::AccessPolicy;
use imsg_target::{Region, Service};
use serde_json::{Value, json};

use crate::error::Position;

/// The root every account may read attachments from, whatever the configuration says.
pub const DEFAULT_ATTACHMENT_ROOT: &str = "/Users/*/Library/Messages/Attachments";

/// Every account of the iMessage channel, ready to run, plus what the operator should be told at start-up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedConfig {
    /// The accounts, sorted by id; empty when the file has no iMessage section.
    pub accounts: Vec<ResolvedAccount>,
    /// The id of the account used when none is named: `defaultAccount`, else `default` if it exists, else
    /// the first id. `None` only when there are no accounts.
    pub default_account: Option<String>,
    /// Start-up warnings: legacy sections migrated, open groups, mention gating without patterns, ...
    pub warnings: Vec<ConfigWarning>,
}

/// One account: identity, access policy, process settings, channel limits.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedAccount {
    /// The normalized account id (`Work` becomes `work`).
    pub id: String,
    /// The key as written under `channels.imessage.accounts`, or `None` for the implicit `default` account of
    /// a section without accounts.
    pub key: Option<String>,
    /// The display name, trimmed; `None` when blank or absent.
    pub name: Option<String>,
    /// Whether the account runs: false when the account or the whole section says `enabled: false`.
    pub enabled: bool,
    /// Whether the account (with what it inherits) sets anything that makes it a configured account, by the
    /// anchor's rule (section 1.3 of the behaviour spec) plus the newest keys; the status surface reports
    /// "not configured" otherwise. Unlike the anchor, injected defaults do not count, so `{}` is not configured.
    pub configured: bool,
    /// The access policy for `imsg-policy`.
    pub policy: AccessPolicy,
    /// How to start and probe `imsg rpc`.
    pub process: ProcessSettings,
    /// Chunking, media, history and attachment limits.
    pub limits: ChannelLimits,
    /// Service used for chat targets (default `auto`).
    pub service: Service,
    /// Region for reading national phone numbers (default `US`).
    pub region: Region,
    /// Whether `/config` and `/allowlist` writes from this account are allowed (default true).
    pub config_writes: bool,
    /// `messages.responsePrefix`, when set.
    pub response_prefix: Option<String>,
    /// `session.dmScope` (default `main`).
    pub dm_scope: DmScope,
    /// Whether read receipts are sent when the bridge supports them (default true).
    pub send_read_receipts: bool,
    /// Which reactions become events (default `own`).
    pub reaction_notifications: ReactionNotifications,
    /// Catching up on messages that arrived while the channel was down (`catchup`).
    pub catchup: CatchupSettings,
}

/// How to run `imsg` for one account (consumed by `imsg-rpc`).
///
/// The paths are final: `~` was expanded once, here, with the home directory of the load, and `imsg-rpc`
/// starts exactly what it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessSettings {
    /// The executable or wrapper script (default the command `imsg`).
    pub cli_path: Executable,
    /// The Messages database, `~` expanded; `None` lets imsg use its default.
    pub db_path: Option<PathBuf>,
    /// The validated SSH host for attachments; `None` means auto-detect from the wrapper script.
    pub remote_host: Option<String>,
    /// How long the start-up probe may take (default 10 s).
    pub probe_timeout: Duration,
}

impl ProcessSettings {
    /// The executable used when `cliPath` is not set.
    pub const DEFAULT_CLI_PATH: &'static str = "imsg";
    /// The probe timeout used when `probeTimeoutMs` is not set.
    pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Default for ProcessSettings {
    /// What an account that sets none of the process keys gets.
    fn default() -> Self {
        ProcessSettings {
            cli_path: Executable::Command(Self::DEFAULT_CLI_PATH.to_owned()),
            db_path: None,
            remote_host: None,
            probe_timeout: Self::DEFAULT_PROBE_TIMEOUT,
        }
    }
}

/// The `cliPath` to start: a command name looked up on `PATH`, or a path.
///
/// A value without a `/` (after `~` expansion) is a command name, as a shell would treat it; anything else
/// is a path, absolute or relative to the working directory of the process that starts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Executable {
    /// A bare name such as `imsg`, found on `PATH` when started.
    Command(String),
    /// A path such as `/opt/homebrew/bin/imsg` or `/Users/me/bin/imsg-remote` (`~` already expanded).
    Path(PathBuf),
}

impl Executable {
    /// Classifies a trimmed `cliPath` value, expanding a leading `~` with `home`.
    pub(crate) fn resolve(value: &str, home: Option<&str>) -> Executable {
        let expanded = crate::validate::expand_tilde(value, home);
        if expanded.contains('/') {
            Executable::Path(PathBuf::from(expanded))
        } else {
            Executable::Command(expanded)
        }
    }

    /// The value to hand to the process spawner: the command name or the path.
    pub fn as_path(&self) -> &Path {
        match self {
            Executable::Command(name) => Path::new(name),
            Executable::Path(path) => path,
        }
    }

    /// Whether this is a command name looked up on `PATH`.
    pub fn is_command(&self) -> bool {
        matches!(self, Executable::Command(_))
    }
}

impl fmt::Display for Executable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Executable::Command(name) => f.write_str(name),
            Executable::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `catchup`: replaying messages that arrived while the channel was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatchupSettings {
    /// Whether catch-up runs at start-up (`enabled`, default false).
    pub enabled: bool,
    /// Messages older than this are not replayed (`maxAgeMinutes`, 1 to 720, default 120).
    pub max_age: Duration,
    /// At most this many messages per run (`perRunLimit`, 1 to 500, default 50).
    pub per_run_limit: u64,
    /// How far back the first run ever looks (`firstRunLookbackMinutes`, 1 to 720, default 30).
    pub first_run_lookback: Duration,
    /// How often one message is retried before it is skipped (`maxFailureRetries`, 1 to 1000, default 10).
    pub max_failure_retries: u64,
}

impl CatchupSettings {
    /// Default and range of `maxAgeMinutes`.
    pub const MAX_AGE_MINUTES: (u64, std::ops::RangeInclusive<u64>) = (120, 1..=720);
    /// Default and range of `perRunLimit`.
    pub const PER_RUN_LIMIT: (u64, std::ops::RangeInclusive<u64>) = (50, 1..=500);
    /// Default and range of `firstRunLookbackMinutes`.
    pub const FIRST_RUN_LOOKBACK_MINUTES: (u64, std::ops::RangeInclusive<u64>) = (30, 1..=720);
    /// Default and range of `maxFailureRetries`.
    pub const MAX_FAILURE_RETRIES: (u64, std::ops::RangeInclusive<u64>) = (10, 1..=1000);
}

impl Default for CatchupSettings {
    fn default() -> Self {
        CatchupSettings {
            enabled: false,
            max_age: minutes(Self::MAX_AGE_MINUTES.0),
            per_run_limit: Self::PER_RUN_LIMIT.0,
            first_run_lookback: minutes(Self::FIRST_RUN_LOOKBACK_MINUTES.0),
            max_failure_retries: Self::MAX_FAILURE_RETRIES.0,
        }
    }
}

/// `n` minutes.
pub(crate) const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// Limits and switches the channel applies to one account.
///
/// [`ChannelLimits::default`] is what an account that sets none of these keys gets; the associated constants
/// are the defaults of the numeric limits, the one place they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelLimits {
    /// Maximum characters per outbound chunk (default 4000).
    pub text_chunk_limit: u64,
    /// How replies are split (default `length`).
    pub chunk_mode: ChunkMode,
    /// Media size cap in MiB (default 16).
    pub media_max_mb: u64,
    /// Group pending-history size (`historyLimit`, then `messages.groupChat.historyLimit`, then 50); 0 disables.
    pub history_limit: u64,
    /// DM history limit; `None` is unlimited.
    pub dm_history_limit: Option<u64>,
    /// Per-peer DM history overrides.
    pub dms: BTreeMap<String, Option<u64>>,
    /// Whether inbound attachments are handed to the agent (default false).
    pub include_attachments: bool,
    /// Local attachment roots: account, channel, then the default `/Users/*/Library/Messages/Attachments`.
    pub attachment_roots: Vec<String>,
    /// Remote attachment roots: account remote, channel remote, then every local root.
    pub remote_attachment_roots: Vec<String>,
    /// How Markdown tables are rendered (default `code`).
    pub markdown_tables: TableMode,
    /// `blockStreaming`: `None` keeps the agent's default.
    pub block_streaming: Option<bool>,
}

impl ChannelLimits {
    /// Default `textChunkLimit`: characters per outbound chunk.
    pub const DEFAULT_TEXT_CHUNK_LIMIT: u64 = 4000;
    /// Default `mediaMaxMb`: the media size cap in MiB.
    pub const DEFAULT_MEDIA_MAX_MB: u64 = 16;
    /// Default group pending-history size, when neither `historyLimit` nor
    /// `messages.groupChat.historyLimit` is set.
    pub const DEFAULT_HISTORY_LIMIT: u64 = 50;

    /// The media size cap in bytes (`mediaMaxMb` MiB).
    pub fn media_max_bytes(&self) -> u64 {
        self.media_max_mb.saturating_mul(1024 * 1024)
    }
}

impl Default for ChannelLimits {
    fn default() -> Self {
        ChannelLimits {
            text_chunk_limit: Self::DEFAULT_TEXT_CHUNK_LIMIT,
            chunk_mode: ChunkMode::default(),
            media_max_mb: Self::DEFAULT_MEDIA_MAX_MB,
            history_limit: Self::DEFAULT_HISTORY_LIMIT,
            dm_history_limit: None,
            dms: BTreeMap::new(),
            include_attachments: false,
            attachment_roots: vec![DEFAULT_ATTACHMENT_ROOT.to_owned()],
            remote_attachment_roots: vec![DEFAULT_ATTACHMENT_ROOT.to_owned()],
            markdown_tables: TableMode::default(),
            block_streaming: None,
        }
    }
}

/// `chunkMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ChunkMode {
    /// Split by length at whitespace.
    #[default]
    Length,
    /// Split at blank lines first, then by length.
    Newline,
}

/// `markdown.tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TableMode {
    /// Tables are sent unchanged.
    Off,
    /// Rows become bullet lists.
    Bullets,
    /// Tables are re-rendered in a code block.
    #[default]
    Code,
}

/// `session.dmScope`: how direct-message sessions are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DmScope {
    /// Every DM shares the agent's main session.
    #[default]
    Main,
    /// One session per peer.
    PerPeer,
    /// One session per channel and peer.
    PerChannelPeer,
    /// One session per account, channel and peer.
    PerAccountChannelPeer,
}

/// `reactionNotifications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReactionNotifications {
    /// Reactions are ignored.
    Off,
    /// Only reactions to the assistant's own messages.
    #[default]
    Own,
    /// Every reaction.
    All,
}

/// Something the operator should know at start-up; loading still succeeded.
///
/// Prints as one line, `<dotted.path>: <message> at line L column C` (the position when the key was
/// written), the shape of a [`crate::ConfigError`] without the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigWarning {
    /// The dotted key path the warning is about.
    pub path: String,
    /// Where the key (or the list item) is in the text, when it was written there.
    pub position: Option<Position>,
    /// One lowercase sentence.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        crate::error::write_escaped(f, &self.message)?;
        if let Some(position) = self.position {
            write!(f, " at {position}")?;
        }
        Ok(())
    }
}

impl ChunkMode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Newline => "newline",
        }
    }
}

impl TableMode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Bullets => "bullets",
            Self::Code => "code",
        }
    }
}

impl DmScope {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::PerPeer => "per-peer",
            Self::PerChannelPeer => "per-channel-peer",
            Self::PerAccountChannelPeer => "per-account-channel-peer",
        }
    }
}

impl ReactionNotifications {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Own => "own",
            Self::All => "all",
        }
    }
}

impl ResolvedConfig {
    /// The account with this id, matched after the same normalization the loader applies (so `Work` finds
    /// `work`).
    pub fn account(&self, id: &str) -> Option<&ResolvedAccount> {
        let id = crate::validate::normalize_account_id(id);
        self.accounts.iter().find(|a| a.id == id)
    }

    /// A JSON rendering of everything resolved, for `config show --json` and snapshot tests.
    pub fn to_json(&self) -> Value {
        json!({
            "defaultAccount": self.default_account,
            "accounts": self.accounts.iter().map(ResolvedAccount::to_json).collect::<Vec<_>>(),
            "warnings": self.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }
}

impl ResolvedAccount {
    /// A JSON rendering of the account (allowlist entries in their canonical text form).
    pub fn to_json(&self) -> Value {
        let policy = &self.policy;
        let list = |entries: &[imsg_target::AllowEntry]| -> Vec<String> {
            entries.iter().map(ToString::to_string).collect()
        };
        let groups: serde_json::Map<String, Value> = policy
            .groups()
            .iter()
            .map(|(key, rule)| {
                let mut obj = serde_json::Map::new();
                if let Some(m) = rule.require_mention {
                    obj.insert("requireMention".into(), json!(m));
                }
                if let Some(a) = &rule.allow_from {
                    obj.insert("allowFrom".into(), json!(list(a)));
                }
                if let Some(p) = &rule.system_prompt {
                    obj.insert("systemPrompt".into(), json!(p));
                }
                (key.clone(), Value::Object(obj))
            })
            .collect();
        let commands = policy.commands();
        json!({
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "enabled": self.enabled,
            "configured": self.configured,
            "policy": {
                imsg_policy::DmPolicy::KEY: policy.dm_policy().as_str(),
                imsg_policy::GroupPolicy::KEY: policy.group_policy().as_str(),
                "allowFrom": list(policy.allow_from()),
                "groupAllowFrom": policy.group_allow_from().map(list),
                "groups": groups,
                "mentionPatterns": policy.mention_patterns().patterns(),
                "commands": {
                    "useAccessGroups": commands.use_access_groups,
                    "config": commands.config,
                    "debug": commands.debug,
                    "bash": commands.bash,
                },
            },
            "process": {
                "cliPath": self.process.cli_path.to_string(),
                "dbPath": self.process.db_path.as_ref().map(|p| p.display().to_string()),
                "remoteHost": self.process.remote_host,
                "probeTimeoutMs": u64::try_from(self.process.probe_timeout.as_millis()).unwrap_or(u64::MAX),
            },
            "limits": {
                "textChunkLimit": self.limits.text_chunk_limit,
                "chunkMode": self.limits.chunk_mode.as_str(),
                "mediaMaxMb": self.limits.media_max_mb,
                "historyLimit": self.limits.history_limit,
                "dmHistoryLimit": self.limits.dm_history_limit,
                "dms": self.limits.dms,
                "includeAttachments": self.limits.include_attachments,
                "attachmentRoots": self.limits.attachment_roots,
                "remoteAttachmentRoots": self.limits.remote_attachment_roots,
                "markdownTables": self.limits.markdown_tables.as_str(),
                "blockStreaming": self.limits.block_streaming,
            },
            "service": self.service.as_str(),
            "region": self.region.as_str(),
            "configWrites": self.config_writes,
            "responsePrefix": self.response_prefix,
            "dmScope": self.dm_scope.as_str(),
            "sendReadReceipts": self.send_read_receipts,
            "reactionNotifications": self.reaction_notifications.as_str(),
            "catchup": {
                "enabled": self.catchup.enabled,
                "maxAgeMinutes": self.catchup.max_age.as_secs() / 60,
                "perRunLimit": self.catchup.per_run_limit,
                "firstRunLookbackMinutes": self.catchup.first_run_lookback.as_secs() / 60,
                "maxFailureRetries": self.catchup.max_failure_retries,
            },
        })
    }
}
