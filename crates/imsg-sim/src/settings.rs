//! Simulator settings and fault injection, read once from `IMSG_SIM_*` environment variables.

use std::collections::HashMap;
use std::time::Duration;

/// Everything the environment can change about one simulator process.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Fallback poll interval of every watch subscription (`IMSG_SIM_POLL_MS`, default 5000 like imsg).
    pub(crate) poll_interval: Duration,
    /// Whether database changes trigger a poll after `debounce_ms`, like kqueue events on macOS
    /// (`IMSG_SIM_FILE_EVENTS`, default on; `0` gives the Linux build's fallback-only timing).
    pub(crate) file_events: bool,
    /// The account's own handle, written as `destination_caller_id` of sent rows (`IMSG_SIM_SELF_HANDLE`).
    pub(crate) self_handle: Option<String>,
    /// When set, every `send` that passes validation fails with `AppleScript failed: <text>` (`IMSG_SIM_SEND_ERROR`).
    pub(crate) send_error: Option<String>,
    /// When true, chat-target text sends reproduce the macOS 26 "ghost row" failure (`IMSG_SIM_GHOST_ROW=1`).
    pub(crate) ghost_row: bool,
    /// When true, bridge methods succeed with their documented result shapes (`IMSG_SIM_BRIDGE=ready`).
    pub(crate) bridge_ready: bool,
    /// Simulated Contacts, handle to name, from a JSON object in `IMSG_SIM_CONTACTS`; empty means none.
    pub(crate) contacts: HashMap<String, String>,
    /// Faults applied to stdout and to the request loop.
    pub(crate) faults: Faults,
}

/// Fault injection switches; all are off unless their variable is set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Exit right after writing this many notifications (`IMSG_SIM_EXIT_AFTER_NOTIFICATIONS`).
    pub(crate) exit_after_notifications: Option<u64>,
    /// Exit right after writing this many responses (`IMSG_SIM_EXIT_AFTER_RESPONSES`).
    pub(crate) exit_after_responses: Option<u64>,
    /// The exit code for injected exits and for the normal exit at end of input (`IMSG_SIM_EXIT_CODE`).
    pub(crate) exit_code: Option<u8>,
    /// Write a non-JSON line after every N protocol lines (`IMSG_SIM_GARBAGE_EVERY`).
    pub(crate) garbage_every: Option<u64>,
    /// Write one line of this many bytes (`IMSG_SIM_OVERSIZED_BYTES`) ...
    pub(crate) oversized_bytes: Option<usize>,
    /// ... just before protocol line number K, counting from 1 (`IMSG_SIM_OVERSIZED_BEFORE`, default 1).
    pub(crate) oversized_before: u64,
    /// Stop answering for this long (`IMSG_SIM_STALL_MS`) ...
    pub(crate) stall: Option<Duration>,
    /// ... before handling request number K, counting non-blank lines from 1 (`IMSG_SIM_STALL_AT`, default 1).
    pub(crate) stall_at: u64,
    /// Write this line to stderr when `rpc` starts (`IMSG_SIM_STDERR_LINE`).
    pub(crate) stderr_line: Option<String>,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let num = |key: &str| get(key).and_then(|v| v.trim().parse::<u64>().ok());
        let text = |key: &str| get(key).filter(|v| !v.is_empty());
        Self {
            poll_interval: Duration::from_millis(num("IMSG_SIM_POLL_MS").unwrap_or(5000).max(1)),
            file_events: get("IMSG_SIM_FILE_EVENTS").is_none_or(|v| v.trim() != "0"),
            self_handle: match get("IMSG_SIM_SELF_HANDLE") {
                Some(v) if v.is_empty() => None,
                Some(v) => Some(v),
                None => Some("me@icloud.com".to_owned()),
            },
            send_error: text("IMSG_SIM_SEND_ERROR"),
            ghost_row: get("IMSG_SIM_GHOST_ROW").is_some_and(|v| v.trim() == "1"),
            bridge_ready: get("IMSG_SIM_BRIDGE").is_some_and(|v| v.eq_ignore_ascii_case("ready")),
            // A value that is not a JSON object of strings means no Contacts, like a Mac without permission.
            contacts: get("IMSG_SIM_CONTACTS")
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or_default(),
            faults: Faults {
                exit_after_notifications: num("IMSG_SIM_EXIT_AFTER_NOTIFICATIONS"),
                exit_after_responses: num("IMSG_SIM_EXIT_AFTER_RESPONSES"),
                exit_code: get("IMSG_SIM_EXIT_CODE").and_then(|v| v.trim().parse().ok()),
                garbage_every: num("IMSG_SIM_GARBAGE_EVERY").filter(|n| *n > 0),
                oversized_bytes: num("IMSG_SIM_OVERSIZED_BYTES")
                    .and_then(|n| usize::try_from(n).ok()),
                oversized_before: num("IMSG_SIM_OVERSIZED_BEFORE").unwrap_or(1).max(1),
                stall: num("IMSG_SIM_STALL_MS").map(Duration::from_millis),
                stall_at: num("IMSG_SIM_STALL_AT").unwrap_or(1).max(1),
                stderr_line: text("IMSG_SIM_STDERR_LINE"),
            },
        }
    }
}
