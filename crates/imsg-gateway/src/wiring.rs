//! The few places where the binary meets the crates built beside it: the channel, the agent and
//! the pairing store. Every command reaches them only through these functions, so wiring a new
//! implementation is a change here and nowhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imsg_channel::{Channel, ChannelState, ChannelStatus, MessageHandler};
use imsg_config::ResolvedAccount;
use imsg_rpc::SpawnOptions;

use crate::agent::{Agent, AgentConfig, ConfigWriter, GroupPrompts};

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

/// What the agent handler is built from: the config file's text (its `gateway.agent` section),
/// the file and the state dir (for `/config` and its overlay).
#[derive(Debug, Clone, Default)]
pub struct AgentChoice {
    /// The file name, for errors (`config.json5: gateway.agent.backend: ...`).
    pub source_name: String,
    /// The whole config text; the agent reads its own section from it.
    pub config_text: String,
    /// The user's config file, which `/config` never writes (it writes the overlay).
    pub config_path: Option<PathBuf>,
    /// The state dir: the overlay lives there, and `/status` reads the live status there.
    pub state_dir: Option<PathBuf>,
}

/// Builds the agent handler for `account`: the backend of `gateway.agent` (echo by default) with
/// the control commands. `/status` answers from the live status files; `/config` writes the
/// overlay in the state dir and then reloads the gateway exactly as SIGHUP does (it sends SIGHUP
/// to this process).
///
/// # Errors
///
/// The agent configuration's error (exit 78), for example a missing API key variable.
pub fn build_handler(
    account: &ResolvedAccount,
    choice: &AgentChoice,
) -> Result<Arc<dyn MessageHandler>, Failure> {
    let hint = "docs/agents.md describes gateway.agent";
    let config = AgentConfig::from_json5(&choice.config_text, &choice.source_name)
        .map_err(|e| Failure::config(e.to_string()).hint(hint))?;
    let prompts = GroupPrompts::new().with_policy(&account.policy);
    let mut agent = Agent::from_config(&config, prompts)
        .map_err(|e| Failure::config(e.to_string()).hint(hint))?;
    if let Some(state_dir) = &choice.state_dir {
        let dir = state_dir.clone();
        agent = agent.with_status(Arc::new(move |id: &str| live_channel_status(&dir, id)));
        if let Some(config_path) = &choice.config_path {
            agent =
                agent.with_config_writer(ConfigWriter::new(config_path.clone(), state_dir, || {
                    // The running gateway reloads on SIGHUP; a `/config` change is applied the same way.
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::this(),
                        nix::sys::signal::Signal::SIGHUP,
                    );
                }));
        }
    }
    Ok(Arc::new(agent))
}

/// The live status of `account_id` as its status file says, for `/status`.
fn live_channel_status(state_dir: &Path, account_id: &str) -> Option<ChannelStatus> {
    let crate::status::Live::Running(published) = crate::status::live(state_dir, account_id) else {
        return None;
    };
    let mut status = ChannelStatus::stopped(published.account_id);
    status.state = match published.state.as_str() {
        "starting" => ChannelState::Starting,
        "running" => ChannelState::Running,
        "backoff" => ChannelState::Backoff,
        "failed" => ChannelState::Failed,
        _ => ChannelState::Stopped,
    };
    status.last_error = published.last_error;
    status.restarts = published.restarts;
    status.last_inbound_at = published.last_inbound_at;
    status.last_outbound_at = published.last_outbound_at;
    status.last_start_at = published.last_start_at;
    Some(status)
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
    account
        .process
        .db_path
        .as_ref()
        .map(|path| path.display().to_string())
}

/// The executable `cliPath` resolves to.
///
/// # Errors
///
/// [`imsg_rpc::RpcError::NotFound`] when nothing executable matches.
pub fn find_program(account: &ResolvedAccount) -> Result<std::path::PathBuf, imsg_rpc::RpcError> {
    imsg_rpc::find_program(account.process.cli_path.as_path())
}

/// How to start and probe `imsg` for `account`.
pub fn spawn_options(account: &ResolvedAccount) -> SpawnOptions {
    let mut options = SpawnOptions::new(account.process.cli_path.as_path().to_path_buf());
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
