//! Exit codes (sysexits) and the one-line error every command ends with.

use std::fmt;

use imsg_channel::ChannelError;
use imsg_config::{ConfigError, ConfigErrorKind};
use imsg_rpc::RpcError;

/// Success, including a graceful shutdown on SIGINT or SIGTERM.
pub const OK: u8 = 0;
/// Anything not covered by a more specific code.
pub const OTHER: u8 = 1;
/// A usage error (clap's own code).
pub const USAGE: u8 = 2;
/// `EX_UNAVAILABLE`: `imsg` is missing or does not speak `rpc`.
pub const UNAVAILABLE: u8 = 69;
/// `EX_TEMPFAIL`: a transient failure; a supervisor should restart.
pub const TEMPFAIL: u8 = 75;
/// `EX_NOPERM`: Full Disk Access (or another permission) is missing.
pub const NOPERM: u8 = 77;
/// `EX_CONFIG`: the configuration is invalid. systemd units do not restart on it.
pub const CONFIG: u8 = 78;

/// A command failed: the exit code, one line saying what, and a hint saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// What went wrong, on one line.
    pub what: String,
    /// What to do about it, when known.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with `code` and a one-line message.
    pub fn new(code: u8, what: impl Into<String>) -> Failure {
        Failure {
            code,
            what: one_line(&what.into()),
            hint: None,
        }
    }

    /// Adds the hint line.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(one_line(&hint.into()));
        self
    }

    /// A failure of kind "other" (exit 1).
    pub fn other(what: impl Into<String>) -> Failure {
        Failure::new(OTHER, what)
    }

    /// A configuration failure (exit 78).
    pub fn config(what: impl Into<String>) -> Failure {
        Failure::new(CONFIG, what)
    }

    /// A usage failure (exit 2) for arguments clap cannot check.
    pub fn usage(what: impl Into<String>) -> Failure {
        Failure::new(USAGE, what)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.what)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

impl From<ConfigError> for Failure {
    fn from(err: ConfigError) -> Failure {
        let hint = match err.kind() {
            ConfigErrorKind::Io(_) => {
                "pass --config PATH or set IMSG_GATEWAY_CONFIG; `imsg-gateway config schema` shows the keys"
            }
            _ => "fix the file and run `imsg-gateway config check`",
        };
        Failure::config(err.to_string()).hint(hint)
    }
}

impl From<&RpcError> for Failure {
    fn from(err: &RpcError) -> Failure {
        match err {
            RpcError::NotFound { .. } => Failure::new(UNAVAILABLE, err.to_string()).hint(
                "install imsg (brew install steipete/tap/imsg) or set channels.imessage.cliPath",
            ),
            RpcError::RpcUnsupported { .. } => Failure::new(UNAVAILABLE, err.to_string())
                .hint("update imsg to 0.9.0 or later (brew upgrade imsg)"),
            RpcError::PermissionDenied { binary, .. } => Failure::new(NOPERM, err.to_string())
                .hint(format!(
                    "System Settings > Privacy & Security > Full Disk Access: add `{binary}` and the app that starts it"
                )),
            RpcError::Spawn { .. } => Failure::new(UNAVAILABLE, err.to_string())
                .hint("check that channels.imessage.cliPath names an executable"),
            _ => Failure::new(TEMPFAIL, err.to_string())
                .hint("run `imsg-gateway doctor` to see which step fails"),
        }
    }
}

impl From<RpcError> for Failure {
    fn from(err: RpcError) -> Failure {
        Failure::from(&err)
    }
}

impl From<&ChannelError> for Failure {
    fn from(err: &ChannelError) -> Failure {
        match err {
            ChannelError::Unavailable(_) => Failure::new(UNAVAILABLE, err.to_string())
                .hint("run `imsg-gateway doctor` to see which step fails"),
            ChannelError::Permission(_) => Failure::new(NOPERM, err.to_string()).hint(
                "System Settings > Privacy & Security > Full Disk Access: add the program that runs imsg",
            ),
            ChannelError::Config(_) => Failure::config(err.to_string())
                .hint("fix the file and run `imsg-gateway config check`"),
            ChannelError::Refused(_) => Failure::new(OTHER, err.to_string()).hint(
                "`imsg-gateway policy explain` and docs/policy.md say which rule applies",
            ),
            ChannelError::Rpc(inner) => Failure::from(inner.as_ref()),
            _ => Failure::other(err.to_string()),
        }
    }
}

impl From<ChannelError> for Failure {
    fn from(err: ChannelError) -> Failure {
        Failure::from(&err)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        match err.downcast::<Failure>() {
            Ok(failure) => failure,
            Err(err) => Failure::other(format!("{err:#}")),
        }
    }
}

/// Folds a message onto one line: a multi-line text from a child or a library is joined with `; `.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_prints_one_error_line_and_one_hint_line() {
        let f = Failure::config("bad\nthing").hint("fix it");
        assert_eq!(f.to_string(), "error: bad; thing\nhint: fix it");
        assert_eq!(f.code, CONFIG);
    }

    #[test]
    fn rpc_errors_map_to_sysexits() {
        let nf = RpcError::NotFound {
            cli_path: "imsg".into(),
        };
        assert_eq!(Failure::from(&nf).code, UNAVAILABLE);
        let unsupported = RpcError::RpcUnsupported {
            output: "unknown command rpc".into(),
        };
        assert_eq!(Failure::from(&unsupported).code, UNAVAILABLE);
        let perm = RpcError::PermissionDenied {
            binary: "imsg".into(),
            db_path: None,
            detail: String::new(),
        };
        assert_eq!(Failure::from(&perm).code, NOPERM);
    }
}
