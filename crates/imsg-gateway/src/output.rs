//! stdout is data, stderr is diagnostics: the only two writers the commands use.

use std::io::Write as _;

use crate::exit::Failure;

/// Writes `text` and a newline to stdout.
///
/// # Errors
///
/// Exit 1 when stdout is closed (a closed pipe is not worth a panic).
pub fn line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}

/// Writes `value` as pretty JSON to stdout.
///
/// # Errors
///
/// As [`line()`].
pub fn json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::other(format!("cannot render JSON: {e}")))?;
    line(&text)
}

/// Writes `value` as one compact JSON line to stdout.
///
/// # Errors
///
/// As [`line()`].
pub fn json_line(value: &serde_json::Value) -> Result<(), Failure> {
    line(&value.to_string())
}

/// Writes a diagnostic line to stderr (warnings a command prints whatever the log level).
pub fn note(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
