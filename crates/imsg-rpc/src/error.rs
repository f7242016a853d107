//! The one error type of the crate, [`RpcError`], and its rendering rules.

use std::fmt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// JSON-RPC error code for an internal error; imsg also uses it for the startup-error mode.
pub const INTERNAL_ERROR: i64 = -32603;

/// Everything that can go wrong between a caller and `imsg rpc`.
///
/// The type is `Clone` because one recorded failure (for example the child's exit) is handed to
/// every pending and later request.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The peer answered with a JSON-RPC error object.
    ///
    /// Rendered the way both reference gateways do: `<message>: code=<code> <data>`.
    #[error("{message}: code={code}{}", DataSuffix(.data.as_ref()))]
    Remote {
        /// The JSON-RPC error code, for example -32602.
        code: i64,
        /// The error message, for example `Invalid params`.
        message: String,
        /// The optional `data` member; a string in imsg 0.9.0, possibly an object later.
        data: Option<Value>,
    },
    /// No answer arrived in time; the request was abandoned and its pending entry removed.
    #[error("imsg rpc timeout (`{method}`) after {}", Secs(*.after))]
    Timeout {
        /// The method that timed out.
        method: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// A `send` got no answer in time: the message may or may not have gone out.
    ///
    /// It is never retried, because imsg can deliver a retried send twice.
    #[error(
        "send timed out after {}; delivery outcome unknown, not retried",
        Secs(*.after)
    )]
    SendOutcomeUnknown {
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The peer closed the stream or exited; every pending and later request gets this error.
    #[error("imsg rpc {}{}", ClosedStatus(.status.as_ref()), TailSuffix(.stderr_tail))]
    Closed {
        /// The child's exit status, when a child was spawned and it was reaped in time.
        status: Option<ExitStatus>,
        /// The last lines the child wrote to stderr, newest last (may be empty).
        stderr_tail: String,
    },
    /// The peer's input was closed on purpose (shutdown began); no more requests can be sent.
    #[error("imsg rpc input is closed; no more requests can be sent")]
    InputClosed,
    /// The child process could not be started.
    #[error("failed to spawn `{program}`")]
    Spawn {
        /// The program that was started, as given.
        program: String,
        /// The operating-system error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Reading from or writing to the peer failed.
    #[error("imsg rpc i/o failed")]
    Io {
        /// The operating-system error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A result or request could not be converted between JSON and the typed wire structs.
    #[error("could not decode the result of `{method}`")]
    Decode {
        /// The method whose result did not match its wire type.
        method: String,
        /// The serde error, with line and column inside the result.
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// imsg cannot open chat.db: the process lacks Full Disk Access.
    #[error(
        "imsg cannot read the Messages database{}: grant Full Disk Access to `{binary}` (the \
         program that runs imsg) and to the app that launches it, in System Settings > Privacy & \
         Security > Full Disk Access, then restart it",
        DbSuffix(.db_path.as_deref())
    )]
    PermissionDenied {
        /// The binary that needs Full Disk Access: the configured `cliPath`.
        binary: String,
        /// The database path imsg reported, when it could be found in the error text.
        db_path: Option<String>,
        /// imsg's full error text.
        detail: String,
    },
    /// `imsg rpc --help` said the subcommand does not exist: the installed imsg is too old.
    #[error("imsg CLI does not support the \"rpc\" subcommand (update imsg)")]
    RpcUnsupported {
        /// The combined output of `rpc --help`.
        output: String,
    },
    /// The configured `cliPath` does not name an executable.
    #[error("imsg not found (`{cli_path}`)")]
    NotFound {
        /// The path or name that was looked up.
        cli_path: String,
    },
    /// A probe step failed in a way that is not fatal and may succeed on a retry.
    #[error("imsg probe failed: {detail}")]
    ProbeFailed {
        /// What failed, for example `imsg rpc --help failed (code 2)`.
        detail: String,
    },
}

impl RpcError {
    /// Builds the error for a JSON-RPC error object, recognising imsg's Full Disk Access text.
    pub(crate) fn from_remote(
        code: i64,
        message: String,
        data: Option<Value>,
        binary: &str,
    ) -> Self {
        if code == INTERNAL_ERROR
            && let Some(Value::String(text)) = &data
            && is_permission_text(text)
        {
            return Self::PermissionDenied {
                binary: binary.to_owned(),
                db_path: db_path_in(text),
                detail: text.clone(),
            };
        }
        Self::Remote {
            code,
            message,
            data,
        }
    }

    /// Builds the Full Disk Access error from text seen outside a JSON-RPC error: a non-JSON
    /// stdout line (imsg before 0.8.2 printed its banner there) or the stderr tail.
    pub(crate) fn permission_from_text(text: &str, binary: &str) -> Self {
        Self::PermissionDenied {
            binary: binary.to_owned(),
            db_path: db_path_in(text),
            detail: text.to_owned(),
        }
    }

    /// Wraps an I/O error.
    pub(crate) fn io(source: std::io::Error) -> Self {
        Self::Io {
            source: Arc::new(source),
        }
    }

    /// The JSON-RPC error code, for [`RpcError::Remote`] only.
    #[must_use]
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Remote { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// True for imsg's startup-error text (spec section 11): it names Full Disk Access.
pub(crate) fn is_permission_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("full disk access")
        || lower.contains("permission error")
        || lower.contains("authorization denied")
}

/// Finds the path in "The Messages database at <path> requires Full Disk Access".
fn db_path_in(text: &str) -> Option<String> {
    let start = text.find("database at ")? + "database at ".len();
    let rest = &text[start..];
    let end = rest.find(" requires")?;
    Some(rest[..end].to_owned())
}

/// Renders the optional `data` member: a string as is, anything else as pretty JSON.
struct DataSuffix<'a>(Option<&'a Value>);

impl fmt::Display for DataSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(s)) => write!(f, " {s}"),
            Some(other) => {
                let pretty = serde_json::to_string_pretty(other).map_err(|_| fmt::Error)?;
                write!(f, " {pretty}")
            }
        }
    }
}

/// Renders a duration in seconds, with millisecond precision only when needed.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_millis() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{:.3}s", self.0.as_secs_f64())
        }
    }
}

/// Renders the "exited (...)" / "closed" part of [`RpcError::Closed`].
struct ClosedStatus<'a>(Option<&'a ExitStatus>);

impl fmt::Display for ClosedStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::process::ExitStatusExt as _;
        match self.0 {
            None => f.write_str("closed"),
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => write!(f, "exited (code {code})"),
                (None, Some(signal)) => write!(f, "exited (signal {signal})"),
                (None, None) => write!(f, "exited ({status})"),
            },
        }
    }
}

/// Appends the stderr tail after a colon, on one line.
struct TailSuffix<'a>(&'a str);

impl fmt::Display for TailSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self.0.trim();
        if tail.is_empty() {
            return Ok(());
        }
        f.write_str(": stderr: ")?;
        let mut first = true;
        for line in tail.lines() {
            if !first {
                f.write_str(" | ")?;
            }
            first = false;
            f.write_str(line)?;
        }
        Ok(())
    }
}

/// Appends " at `<path>`" when the database path is known.
struct DbSuffix<'a>(Option<&'a str>);

impl fmt::Display for DbSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, " at `{path}`"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn rendering() {
        let fda = "unable to open database file (code: 14)\n\n⚠️  Permission Error: Cannot access \
                   Messages database\n\nThe Messages database at /nonexistent/chat.db requires \
                   Full Disk Access permission.\n\nTo fix:\n1. Open System Settings";
        let cases: Vec<(&str, RpcError)> = vec![
            (
                "remote string data",
                RpcError::from_remote(
                    -32602,
                    "Invalid params".into(),
                    Some(json!("unknown chat_id 999")),
                    "imsg",
                ),
            ),
            (
                "remote object data",
                RpcError::from_remote(
                    -32001,
                    "Delivery outcome unknown".into(),
                    Some(json!({"retry_safe": false})),
                    "imsg",
                ),
            ),
            (
                "remote no data",
                RpcError::from_remote(-32601, "Method not found".into(), None, "imsg"),
            ),
            (
                "startup permission error",
                RpcError::from_remote(
                    -32603,
                    "Internal error".into(),
                    Some(json!(fda)),
                    "/opt/homebrew/bin/imsg",
                ),
            ),
            (
                "timeout",
                RpcError::Timeout {
                    method: "chats.list".into(),
                    after: Duration::from_secs(10),
                },
            ),
            (
                "send outcome unknown",
                RpcError::SendOutcomeUnknown {
                    after: Duration::from_millis(150_500),
                },
            ),
            (
                "closed without child",
                RpcError::Closed {
                    status: None,
                    stderr_tail: String::new(),
                },
            ),
            (
                "exited with code and tail",
                RpcError::Closed {
                    status: Some(ExitStatus::from_raw(3 << 8)),
                    stderr_tail: "fatal: boom\nsecond line\n".into(),
                },
            ),
            (
                "killed by signal",
                RpcError::Closed {
                    status: Some(ExitStatus::from_raw(9)),
                    stderr_tail: String::new(),
                },
            ),
            (
                "rpc unsupported",
                RpcError::RpcUnsupported {
                    output: "Unknown command rpc".into(),
                },
            ),
            (
                "not found",
                RpcError::NotFound {
                    cli_path: "/usr/local/bin/imsg".into(),
                },
            ),
        ];
        let rendered: Vec<String> = cases
            .iter()
            .map(|(name, err)| format!("{name}: {err}"))
            .collect();
        insta::assert_yaml_snapshot!(rendered);
    }

    #[test]
    fn permission_error_keeps_detail_and_path() {
        let err = RpcError::from_remote(
            -32603,
            "Internal error".into(),
            Some(json!(
                "x\nThe Messages database at /tmp/a b/chat.db requires Full Disk Access"
            )),
            "imsg",
        );
        match err {
            RpcError::PermissionDenied {
                db_path, detail, ..
            } => {
                assert_eq!(db_path.as_deref(), Some("/tmp/a b/chat.db"));
                assert!(detail.contains("Full Disk Access"));
            }
            other => panic!("expected PermissionDenied, got {other:?}"),
        }
    }

    #[test]
    fn other_internal_errors_stay_remote() {
        let err = RpcError::from_remote(
            -32603,
            "Internal error".into(),
            Some(json!("Invalid ISO8601 date: yesterday")),
            "imsg",
        );
        assert_eq!(err.code(), Some(-32603));
        assert_eq!(
            err.to_string(),
            "Internal error: code=-32603 Invalid ISO8601 date: yesterday"
        );
    }
}
