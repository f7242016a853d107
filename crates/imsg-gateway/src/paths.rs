//! Where the config file and the state directory are, and loading the config from there.
//!
//! Config: `--config PATH` > `IMSG_GATEWAY_CONFIG` > `~/.imsg-gateway/config.json5`. State:
//! `--state-dir` > `IMSG_GATEWAY_STATE_DIR` > `~/.imsg-gateway`. An OpenClaw file
//! (`~/.openclaw/openclaw.json`) is read as it is when it is named.

use std::path::{Path, PathBuf};

use imsg_config::{LoadOptions, ResolvedAccount, ResolvedConfig};

use crate::exit::Failure;

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "IMSG_GATEWAY_CONFIG";
/// The environment variable naming the state directory.
pub const STATE_DIR_ENV: &str = "IMSG_GATEWAY_STATE_DIR";
/// The default state directory, under the home directory.
pub const DEFAULT_DIR: &str = ".imsg-gateway";
/// The default config file name inside the default directory.
pub const DEFAULT_CONFIG_FILE: &str = "config.json5";

/// Where the config path came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config`.
    Flag,
    /// `IMSG_GATEWAY_CONFIG`.
    Env,
    /// The default location.
    Default,
}

impl ConfigSource {
    /// How the source is named in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Flag => "--config",
            ConfigSource::Env => CONFIG_ENV,
            ConfigSource::Default => "default",
        }
    }
}

/// The home directory, or an error naming what to set instead.
fn home() -> Result<PathBuf, Failure> {
    std::env::home_dir().ok_or_else(|| {
        Failure::config("the home directory is unknown").hint(format!(
            "pass --config and --state-dir, or set {CONFIG_ENV} and {STATE_DIR_ENV}"
        ))
    })
}

/// Expands a leading `~/`.
pub fn expand(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    match (text.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if text == "~" => std::env::home_dir().unwrap_or_else(|| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

/// The config path the flags and environment select (`--config` already includes the
/// environment through clap's `env`, so the source is told apart here).
pub fn config_path(flag: Option<&Path>) -> Result<(PathBuf, ConfigSource), Failure> {
    if let Some(path) = flag {
        let from_env = std::env::var_os(CONFIG_ENV).is_some_and(|v| Path::new(&v) == path);
        let source = if from_env {
            ConfigSource::Env
        } else {
            ConfigSource::Flag
        };
        return Ok((expand(path), source));
    }
    Ok((
        home()?.join(DEFAULT_DIR).join(DEFAULT_CONFIG_FILE),
        ConfigSource::Default,
    ))
}

/// The state directory the flags and environment select.
pub fn state_dir(flag: Option<&Path>) -> Result<PathBuf, Failure> {
    match flag {
        Some(path) => Ok(expand(path)),
        None => Ok(home()?.join(DEFAULT_DIR)),
    }
}

/// A loaded configuration with where it came from and its text (for line numbers).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// How it was selected.
    pub source: ConfigSource,
    /// Its text.
    pub text: String,
    /// The resolved accounts.
    pub config: ResolvedConfig,
}

impl Loaded {
    /// The account named by `--account`, or the default account.
    ///
    /// # Errors
    ///
    /// Exit 78 when the account is unknown or the file has no iMessage section.
    pub fn account(&self, id: Option<&str>) -> Result<&ResolvedAccount, Failure> {
        let known = || {
            self.config
                .accounts
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match id {
            Some(id) => self.config.account(id).ok_or_else(|| {
                Failure::config(format!(
                    "{}: no iMessage account `{id}` (accounts: {})",
                    self.path.display(),
                    known()
                ))
                .hint("pass one of the listed ids to --account")
            }),
            None => self
                .config
                .default_account
                .as_deref()
                .and_then(|id| self.config.account(id))
                .ok_or_else(|| {
                    Failure::config(format!(
                        "{}: the file has no channels.imessage section",
                        self.path.display()
                    ))
                    .hint("add `channels: { imessage: { ... } }`; docs/config.md has an example")
                }),
        }
    }
}

/// Loads the config the flags select.
///
/// # Errors
///
/// Exit 78 for a missing, unreadable or invalid file, with the path and line.
pub fn load(flag: Option<&Path>) -> Result<Loaded, Failure> {
    let (path, source) = config_path(flag)?;
    load_from(&path, source)
}

/// Loads `path`.
///
/// # Errors
///
/// Exit 78 for a missing, unreadable or invalid file, with the path and line.
pub fn load_from(path: &Path, source: ConfigSource) -> Result<Loaded, Failure> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        let what = format!("{}: cannot read the config file: {err}", path.display());
        let hint = if source == ConfigSource::Default {
            format!(
                "create it (docs/config.md has an example), or pass --config PATH or set {CONFIG_ENV}; an OpenClaw file works as it is"
            )
        } else {
            "check the path given with --config or IMSG_GATEWAY_CONFIG".to_owned()
        };
        Failure::config(what).hint(hint)
    })?;
    let mut options = LoadOptions::new(path.display().to_string());
    if let Some(home) = std::env::home_dir() {
        options = options.with_home(home.display().to_string());
    }
    let config = imsg_config::from_str(&text, &options)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        source,
        text,
        config,
    })
}
