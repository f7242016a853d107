//! The built-in control commands: `/status`, `/reset` and `/new`, `/help`, `/config set|unset`.
//!
//! They run only for a sender the policy marked `command_authorized`. For anyone else the text is an
//! ordinary message and goes to the backend like any other (gateway spec 3.7: an unauthorized command in a
//! group is already dropped by the policy; what still arrives here unauthorized is treated as text, and is
//! never executed). Detection follows the anchor's registry rules: only the first line counts, `/cmd: rest`
//! reads as `/cmd rest`, names match case-insensitively, and `/help` and `/status` must stand alone
//! (`/status now` is text). `/config` counts only when `commands.config` is true.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use imsg_channel::ChannelStatus;

use super::Backend;
use super::event::MessageEvent;
use super::overlay::ConfigWriter;

/// Where `/status` gets the account's live status (the gateway plugs in its channels).
pub trait StatusSource: Send + Sync {
    /// The status of `account_id`, or `None` when this gateway does not run it.
    fn status(&self, account_id: &str) -> Option<ChannelStatus>;
}

impl<F> StatusSource for F
where
    F: Fn(&str) -> Option<ChannelStatus> + Send + Sync,
{
    fn status(&self, account_id: &str) -> Option<ChannelStatus> {
        self(account_id)
    }
}

/// A control command this module runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/help` (or `/commands`).
    Help,
    /// `/status`.
    Status,
    /// `/reset` or `/new`, with whatever followed it (sent to the backend as the first message of the new
    /// session when not blank).
    Reset {
        /// The text after the command.
        rest: String,
    },
    /// `/config ...`, with its arguments.
    Config {
        /// The text after the command.
        args: String,
    },
}

/// The command `text` is, if it is one of ours.
pub fn parse_command(text: &str) -> Option<Command> {
    let trimmed = text.trim();
    let rest = trimmed.strip_prefix('/')?;
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == ':')
        .unwrap_or(rest.len());
    let (name, mut tail) = rest.split_at(name_end);
    if let Some(after_colon) = tail.strip_prefix(':') {
        tail = after_colon;
    }
    let first_line_args = tail.lines().next().unwrap_or_default().trim();
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "help" | "commands" if first_line_args.is_empty() => Some(Command::Help),
        "status" if first_line_args.is_empty() => Some(Command::Status),
        "reset" | "new" => Some(Command::Reset {
            rest: tail.trim().to_owned(),
        }),
        "config" => Some(Command::Config {
            args: first_line_args.to_owned(),
        }),
        _ => None,
    }
}

/// What running a command produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Send this text.
    Reply(String),
    /// The session was reset; hand this text to the backend as a new message.
    Forward(String),
}

/// The control commands and what they need from the gateway.
#[derive(Clone, Default)]
pub(crate) struct Commands {
    pub(crate) status: Option<Arc<dyn StatusSource>>,
    pub(crate) config: Option<Arc<ConfigWriter>>,
}

const HELP: &str = "Commands:\n\
/status: this account's status\n\
/reset or /new: start over (this chat's conversation memory is cleared)\n\
/help: this list\n\
/config set <key> <value> | /config unset <key>: change a channels.imessage setting (when commands.config is on)";

const CONFIG_USAGE: &str = "usage: /config set <key> <value> | /config unset <key> \
(keys are relative to channels.imessage, e.g. dmPolicy or accounts.work.allowFrom)";

impl Commands {
    /// Runs `message` if it is a command of ours from an authorized sender; `None` sends it to the backend.
    pub(crate) async fn run(
        &self,
        backend: &dyn Backend,
        message: &MessageEvent,
    ) -> Option<Outcome> {
        let command = parse_command(&message.text)?;
        if !message.command_authorized {
            tracing::debug!(
                session = %message.session_key,
                "agent: a control command from a sender without command authorization goes to the backend as text"
            );
            return None;
        }
        match command {
            Command::Help => Some(Outcome::Reply(HELP.to_owned())),
            Command::Status => Some(Outcome::Reply(self.status_text(backend, message))),
            Command::Reset { rest } => {
                let forgotten = backend.forget(&message.session_key);
                tracing::info!(
                    session = %message.session_key,
                    forgotten = forgotten.unwrap_or(0),
                    "agent: session reset by command"
                );
                if rest.is_empty() {
                    Some(Outcome::Reply(match forgotten {
                        Some(_) => {
                            "New session started; earlier messages are forgotten.".to_owned()
                        }
                        None => format!(
                            "New session started (the {} backend keeps no memory).",
                            backend.name()
                        ),
                    }))
                } else {
                    Some(Outcome::Forward(rest))
                }
            }
            Command::Config { args } => self.config(message, &args).await,
        }
    }

    fn status_text(&self, backend: &dyn Backend, message: &MessageEvent) -> String {
        let account = &message.account_id;
        let mut lines = Vec::new();
        match self.status.as_ref().and_then(|s| s.status(account)) {
            Some(status) => {
                let mut line = format!(
                    "account {account}: {} · restarts {}",
                    status.state.as_str(),
                    status.restarts
                );
                if let Some(at) = status.last_inbound_at {
                    line.push_str(&format!(" · last in {}", ago(at)));
                }
                if let Some(at) = status.last_outbound_at {
                    line.push_str(&format!(" · last out {}", ago(at)));
                }
                lines.push(line);
                if let Some(err) = &status.last_error {
                    lines.push(format!("last error: {err}"));
                }
            }
            None => lines.push(format!("account {account}: status not available")),
        }
        let memory = match backend.remembered(&message.session_key) {
            Some(n) => format!(" · this chat: {n} remembered exchange(s)"),
            None => String::new(),
        };
        lines.push(format!("agent: {}{memory}", backend.describe()));
        lines.join("\n")
    }

    async fn config(&self, message: &MessageEvent, args: &str) -> Option<Outcome> {
        let writer = self.config.clone()?;
        let account = message.account_id.clone();
        let args = args.to_owned();
        // File reads and writes: off the async threads.
        let answer = tokio::task::spawn_blocking(move || {
            let enabled = writer
                .effective()
                .ok()
                .and_then(|config| config.account(&account).map(|a| a.policy.commands().config));
            if enabled != Some(true) {
                return None;
            }
            let (verb, rest) = split_word(&args);
            let (key, value) = split_word(rest);
            let verb = verb.to_ascii_lowercase();
            Some(match verb.as_str() {
                "set" if !key.is_empty() && !value.is_empty() => {
                    writer.change(&account, key, Some(value))
                }
                "unset" if !key.is_empty() && value.is_empty() => {
                    writer.change(&account, key, None)
                }
                _ => CONFIG_USAGE.to_owned(),
            })
        })
        .await;
        match answer {
            Ok(Some(text)) => Some(Outcome::Reply(text)),
            Ok(None) => {
                tracing::debug!(
                    session = %message.session_key,
                    "agent: /config is off (commands.config) or the configuration does not load; sent as text"
                );
                None
            }
            Err(err) => {
                tracing::warn!(%err, "agent: the /config task failed");
                Some(Outcome::Reply(
                    "config: the change could not be made; see the gateway log".to_owned(),
                ))
            }
        }
    }
}

/// The first word of `s` and the trimmed rest.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    s.split_once(char::is_whitespace)
        .map_or((s, ""), |(word, rest)| (word, rest.trim()))
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago` for a Unix time in milliseconds.
fn ago(at_millis: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let secs = now.saturating_sub(at_millis).max(0) / 1000;
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_the_registry_rules() {
        let reset = |rest: &str| {
            Some(Command::Reset {
                rest: rest.to_owned(),
            })
        };
        let cases: &[(&str, Option<Command>)] = &[
            ("/help", Some(Command::Help)),
            ("  /HELP ", Some(Command::Help)),
            ("/commands", Some(Command::Help)),
            ("/help me", None),
            ("/status", Some(Command::Status)),
            ("/status now", None),
            ("/status\nsecond line", Some(Command::Status)),
            ("hi /status", None),
            ("/reset", reset("")),
            ("/new", reset("")),
            ("/new: hello there", reset("hello there")),
            ("/NEW hello\nmore", reset("hello\nmore")),
            (
                "/config set dmPolicy open",
                Some(Command::Config {
                    args: "set dmPolicy open".to_owned(),
                }),
            ),
            ("/resetx", None),
            ("/", None),
            ("status", None),
        ];
        for (text, expected) in cases {
            assert_eq!(&parse_command(text), expected, "{text:?}");
        }
    }
}
