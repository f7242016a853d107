//! The JSON-RPC error values the simulator answers with, and the fixed texts imsg uses in them.

use serde_json::{Value, json};

/// The `data` text of -32603 for errors that carry no localized description (SQLite errors during a request).
pub(crate) const GENERIC_INTERNAL: &str =
    "The operation couldn’t be completed. (SQLite.Result error 0.)";

/// What a bridge-backed method answers on a host without the IMCore bridge.
pub(crate) const BRIDGE_UNAVAILABLE: &str =
    "Failed to launch Messages.app: Messages.app is only available on macOS.";

/// What `typing` answers without Messages.app/IMCore.
pub(crate) const TYPING_UNAVAILABLE: &str = "Typing indicator failed: Typing indicators require Messages.app/IMCore and are only supported on macOS.";

/// What `read` answers without the bridge: a generic text, because imsg wraps it in an error with no description.
pub(crate) const READ_UNAVAILABLE: &str =
    "The operation couldn’t be completed. (IMsgCore.IMCoreBridgeError error 0.)";

/// One JSON-RPC error object: `code`, `message` and a string `data`, as imsg 0.9.0 always sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: i64,
    pub(crate) message: &'static str,
    pub(crate) data: String,
}

impl Failure {
    pub(crate) fn parse(data: impl Into<String>) -> Self {
        Self {
            code: -32700,
            message: "Parse error",
            data: data.into(),
        }
    }

    pub(crate) fn invalid_request(data: impl Into<String>) -> Self {
        Self {
            code: -32600,
            message: "Invalid Request",
            data: data.into(),
        }
    }

    pub(crate) fn method_not_found(method: &str) -> Self {
        Self {
            code: -32601,
            message: "Method not found",
            data: method.to_owned(),
        }
    }

    pub(crate) fn invalid_params(data: impl Into<String>) -> Self {
        Self {
            code: -32602,
            message: "Invalid params",
            data: data.into(),
        }
    }

    pub(crate) fn internal(data: impl Into<String>) -> Self {
        Self {
            code: -32603,
            message: "Internal error",
            data: data.into(),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "data": self.data})
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(_: rusqlite::Error) -> Self {
        // imsg turns SQLite errors raised during a request into the platform's generic text, not the SQLite message.
        Self::internal(GENERIC_INTERNAL)
    }
}

/// The plain description of a SQLite error, `<message> (code: <n>)`, as watch `error` notifications carry it.
pub(crate) fn sqlite_description(err: &rusqlite::Error) -> String {
    match err {
        rusqlite::Error::SqliteFailure(e, msg) => {
            let text = msg.clone().unwrap_or_else(|| e.to_string());
            format!("{text} (code: {})", e.extended_code & 0xff)
        }
        other => other.to_string(),
    }
}
