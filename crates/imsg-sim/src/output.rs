//! The one stdout writer: every frame is a single `\n`-terminated line written under one lock.

use std::io::Write;
use std::sync::Mutex;

use serde_json::Value;

use crate::settings::Faults;

/// Serialises all protocol output, and applies the stdout faults (garbage, oversized line, exit after N).
pub(crate) struct Output {
    state: Mutex<State>,
    faults: Faults,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

struct State {
    sink: Box<dyn Write + Send>,
    lines: u64,
    responses: u64,
    notifications: u64,
    broken: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Response,
    Notification,
}

impl Output {
    pub(crate) fn new(sink: Box<dyn Write + Send>, faults: Faults) -> Self {
        Self {
            state: Mutex::new(State {
                sink,
                lines: 0,
                responses: 0,
                notifications: 0,
                broken: false,
            }),
            faults,
        }
    }

    /// Writes a response or an error response.
    pub(crate) fn response(&self, frame: &Value) {
        self.write(frame, Kind::Response);
    }

    /// Writes a notification.
    pub(crate) fn notification(&self, frame: &Value) {
        self.write(frame, Kind::Notification);
    }

    /// Whether stdout has failed (the client went away); callers stop producing output then.
    pub(crate) fn is_broken(&self) -> bool {
        self.state.lock().map_or(true, |s| s.broken)
    }

    fn write(&self, frame: &Value, kind: Kind) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.broken {
            return;
        }
        let mut line = encode(frame);
        line.push('\n');
        let number = state.lines + 1;
        let mut ok = true;
        if let Some(size) = self.faults.oversized_bytes
            && number == self.faults.oversized_before
        {
            let mut big = vec![b'x'; size];
            big.push(b'\n');
            ok &= state.sink.write_all(&big).is_ok();
        }
        ok &= state.sink.write_all(line.as_bytes()).is_ok();
        state.lines = number;
        if let Some(every) = self.faults.garbage_every
            && number % every == 0
        {
            let garbage = format!("imsg-sim garbage line after frame {number} <<not json>>\n");
            ok &= state.sink.write_all(garbage.as_bytes()).is_ok();
        }
        ok &= state.sink.flush().is_ok();
        state.broken = !ok;
        let exit = match kind {
            Kind::Response => {
                state.responses += 1;
                self.faults
                    .exit_after_responses
                    .is_some_and(|n| state.responses >= n)
            }
            Kind::Notification => {
                state.notifications += 1;
                self.faults
                    .exit_after_notifications
                    .is_some_and(|n| state.notifications >= n)
            }
        };
        if exit {
            // The injected crash: leave at once while holding the lock, so nothing else is written.
            std::process::exit(i32::from(self.faults.exit_code.unwrap_or(1)));
        }
    }
}

/// Encodes a frame the way Foundation's JSONSerialization does: compact, raw UTF-8, with `/` escaped as `\/`.
pub(crate) fn encode(frame: &Value) -> String {
    let text = serde_json::to_string(frame).unwrap_or_else(|_| {
        r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"write failed"}}"#.to_owned()
    });
    // A slash can only occur inside a JSON string, where `\/` is a valid escape of it.
    text.replace('/', "\\/")
}
