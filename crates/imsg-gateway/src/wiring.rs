//! The few places where the binary meets the crates built beside it: the channel, the agent and
//! the pairing store. Every command reaches them only through these functions, so wiring a new
//! implementation is a change here and nowhere else.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use imsg_channel::{Channel, HandlerError, InboundEvent, MessageHandler, Reply};
use imsg_config::{ChunkMode, ResolvedAccount};
use imsg_policy::ChatType;
use imsg_rpc::SpawnOptions;

use crate::exit::{Failure, UNAVAILABLE};

/// The `Failure` of a part that is not wired into this build.
fn not_wired(part: &str) -> Failure {
    Failure::new(
        UNAVAILABLE,
        format!("{part} is not wired into this build yet"),
    )
    .hint("build from a branch where imsg-channel provides it")
}

/// Builds the channel of one account, with its stores under `state_dir`.
///
/// # Errors
///
/// The reason the channel cannot be built (exit 78 for a config it cannot run, 69 when a part
/// is missing).
//
// LEAD: wire `imsg_channel::ImessageChannel` here (with FileCursorStore, FileDedupeStore and
// FilePairingStore under `state_dir`); every command and the demo go through this function.
pub fn build_channel(
    account: &ResolvedAccount,
    state_dir: &Path,
) -> Result<Arc<dyn Channel>, Failure> {
    let _ = (account, state_dir);
    Err(not_wired("the iMessage channel (ImessageChannel)"))
}

/// What the agent handler is built from: the config file's text (its `gateway.agent` section)
/// and the name to use for it in error messages.
#[derive(Debug, Clone, Default)]
pub struct AgentChoice {
    /// The file name, for errors (`config.json5: gateway.agent.backend: ...`).
    pub source_name: String,
    /// The whole config text; the agent reads its own section from it.
    pub config_text: String,
}

/// Builds the agent handler for `account`.
///
/// # Errors
///
/// The agent configuration's error (exit 78).
//
// LEAD: swap the body once `src/agent/` is merged, roughly:
//   let config = crate::agent::AgentConfig::from_json5(&choice.config_text, &choice.source_name)
//       .map_err(|e| Failure::config(e.to_string()))?;
//   let agent = crate::agent::Agent::from_config(&config, <group prompts of `account`>)
//       .map_err(|e| Failure::config(e.to_string()))?;
//   Ok(Arc::new(agent))
// and delete `EchoHandler`.
pub fn build_handler(
    account: &ResolvedAccount,
    choice: &AgentChoice,
) -> Result<Arc<dyn MessageHandler>, Failure> {
    let _ = (account, choice);
    Ok(Arc::new(EchoHandler))
}

/// The stand-in echo backend: answers with what it received and why it was admitted.
#[derive(Debug, Clone, Copy, Default)]
struct EchoHandler;

#[async_trait]
impl MessageHandler for EchoHandler {
    async fn handle(&self, event: InboundEvent) -> Result<Vec<Reply>, HandlerError> {
        let InboundEvent::Message(envelope) = event else {
            return Ok(Vec::new());
        };
        let kind = match envelope.chat_type {
            ChatType::Direct => "direct message",
            ChatType::Group => "group message with a mention",
        };
        let mut text = format!(
            "echo: {} ({kind} over {}",
            envelope.text,
            envelope.service.as_str()
        );
        if !envelope.history.is_empty() {
            text.push_str(&format!(
                ", with {} earlier message(s) as context",
                envelope.history.len()
            ));
        }
        text.push(')');
        Ok(vec![Reply::text(text)])
    }
}

/// The account's `cliPath` as text, for output and logs.
//
// The process settings' types are read only here and in `spawn_options`, so a change of their
// types (paths instead of strings) is a change of these few lines.
pub fn cli_path_text(account: &ResolvedAccount) -> String {
    account.process.cli_path.to_string()
}

/// The account's `dbPath` as text, for output and logs.
pub fn db_path_text(account: &ResolvedAccount) -> Option<String> {
    account.process.db_path.as_ref().map(ToString::to_string)
}

/// The executable `cliPath` resolves to.
///
/// # Errors
///
/// [`imsg_rpc::RpcError::NotFound`] when nothing executable matches.
pub fn find_program(account: &ResolvedAccount) -> Result<std::path::PathBuf, imsg_rpc::RpcError> {
    imsg_rpc::find_program(&account.process.cli_path)
}

/// How to start and probe `imsg` for `account`.
pub fn spawn_options(account: &ResolvedAccount) -> SpawnOptions {
    let mut options = SpawnOptions::new(account.process.cli_path.clone());
    if let Some(db) = &account.process.db_path {
        options = options.with_db(db.clone());
    }
    options
}

/// The pairing store under `state_dir`: OpenClaw's files under `<state>/credentials/`, updated
/// under their lock, so the CLI and a running gateway never lose each other's change.
///
/// # Errors
///
/// None today; the `Result` leaves room for a store that must open something.
pub fn pairing_store(state_dir: &Path) -> Result<imsg_channel::store::FilePairingStore, Failure> {
    Ok(imsg_channel::store::FilePairingStore::new(state_dir))
}

/// Splits `text` into chunks of at most `limit` characters, at whitespace where possible
/// (`length`), or at blank lines first (`newline`).
//
// LEAD: swap for the outbound-text crate's chunker so `message send --dry-run` shows exactly what
// the channel sends.
pub fn chunk_text(text: &str, limit: u64, mode: ChunkMode) -> Vec<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
    let pieces: Vec<&str> = match mode {
        ChunkMode::Newline => text.split("\n\n").collect(),
        _ => vec![text],
    };
    let mut chunks = Vec::new();
    for piece in pieces {
        let mut rest = piece.trim();
        while rest.chars().count() > limit {
            let cut = rest
                .char_indices()
                .nth(limit)
                .map_or(rest.len(), |(i, _)| i);
            let head = &rest[..cut];
            let at = if rest[cut..].starts_with(char::is_whitespace) {
                cut
            } else {
                head.rfind(char::is_whitespace)
                    .filter(|&i| i > 0)
                    .unwrap_or(cut)
            };
            chunks.push(rest[..at].trim_end().to_owned());
            rest = rest[at..].trim_start();
        }
        if !rest.is_empty() {
            chunks.push(rest.to_owned());
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_break_at_whitespace_within_the_limit() {
        let chunks = chunk_text("aaa bbb ccc", 7, ChunkMode::Length);
        assert_eq!(chunks, vec!["aaa bbb", "ccc"]);
        for c in &chunks {
            assert!(c.chars().count() <= 7);
        }
    }

    #[test]
    fn a_word_longer_than_the_limit_is_cut() {
        assert_eq!(
            chunk_text("abcdefghij", 4, ChunkMode::Length),
            vec!["abcd", "efgh", "ij"]
        );
    }

    #[test]
    fn newline_mode_splits_paragraphs_first() {
        assert_eq!(
            chunk_text("one\n\ntwo", 100, ChunkMode::Newline),
            vec!["one", "two"]
        );
    }
}
