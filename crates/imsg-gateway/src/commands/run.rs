//! `run`: serves every enabled account until SIGINT or SIGTERM; SIGHUP reloads the config.
//!
//! Each account is one `Arc<dyn Channel>`. Its live status is published to
//! `<state>/status/<account>.json` (see [`crate::status`]) so `channels status` works from
//! another terminal. On SIGINT/SIGTERM every channel is stopped (it stops accepting, drains
//! in-flight replies within the bound and stops its child) and the process exits 0. On SIGHUP the
//! file is read again: a bad file is reported and the running config kept; accounts whose resolved
//! settings changed are restarted, new ones started, removed or disabled ones stopped, the rest
//! keep running untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use imsg_channel::{Channel, ChannelState, ChannelStatus};
use imsg_config::ResolvedAccount;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::cli::RunArgs;
use crate::commands::Globals;
use crate::exit::{CONFIG, Failure, OK};
use crate::paths::{self, Loaded};
use crate::status::{self, PublishedStatus};
use crate::wiring::{self, AgentChoice};

/// How often the live status is checked for changes.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// How often an unchanged status is rewritten anyway, so a reader sees the gateway is alive.
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// What decides whether an account must restart on reload: its resolved settings and the
/// gateway section of the file (the agent backend).
fn fingerprint(account: &ResolvedAccount, gateway_section: &str) -> String {
    format!("{}|{gateway_section}", account.to_json())
}

/// The `gateway` section of the file as compact JSON (empty when absent or unreadable).
fn gateway_section(text: &str) -> String {
    json5::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("gateway").map(ToString::to_string))
        .unwrap_or_default()
}

/// One account being served.
struct Served {
    fingerprint: String,
    channel: Option<Arc<dyn Channel>>,
    publisher: JoinHandle<()>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Publishes `status` (a failed start has no channel to ask).
fn publish(state_dir: &Path, account: &ResolvedAccount, status: &ChannelStatus) {
    let published = PublishedStatus::from_channel(status, account.enabled, account.configured);
    if let Err(e) = status::publish(state_dir, &published) {
        warn!(account = %account.id, error = %e, "cannot publish the live status");
    }
}

/// Keeps the status file of one channel current until aborted.
fn spawn_publisher(
    state_dir: PathBuf,
    account: ResolvedAccount,
    channel: Arc<dyn Channel>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Option<ChannelStatus> = None;
        let mut last_write = tokio::time::Instant::now();
        loop {
            let now = channel.status();
            if last.as_ref() != Some(&now) || last_write.elapsed() >= REFRESH_EVERY {
                publish(&state_dir, &account, &now);
                last = Some(now);
                last_write = tokio::time::Instant::now();
            }
            tokio::time::sleep(PUBLISH_EVERY).await;
        }
    })
}

/// Builds and starts one account; a failure is published as the account's status.
async fn start_account(
    state_dir: &Path,
    account: &ResolvedAccount,
    fingerprint: String,
    config_path: &Path,
) -> (Served, Option<Failure>) {
    info!(account = %account.id, cli_path = %account.process.cli_path, db_path = ?account.process.db_path, "starting account");
    let started = async {
        preflight(account).await?;
        let channel = wiring::build_channel(account, state_dir)?;
        let handler = wiring::build_handler(
            account,
            &AgentChoice {
                config_path: Some(config_path.to_path_buf()),
            },
        )?;
        channel.start(handler).await.map_err(Failure::from)?;
        Ok::<_, Failure>(channel)
    }
    .await;
    match started {
        Ok(channel) => {
            let publisher =
                spawn_publisher(state_dir.to_path_buf(), account.clone(), channel.clone());
            (
                Served {
                    fingerprint,
                    channel: Some(channel),
                    publisher,
                },
                None,
            )
        }
        Err(failure) => {
            error!(account = %account.id, error = %failure.what, hint = failure.hint.as_deref().unwrap_or(""), "account failed to start");
            let mut s = ChannelStatus::stopped(account.id.clone());
            s.state = ChannelState::Failed;
            s.last_error = Some(failure.what.clone());
            publish(state_dir, account, &s);
            (
                Served {
                    fingerprint,
                    channel: None,
                    publisher: tokio::spawn(async {}),
                },
                Some(failure),
            )
        }
    }
}

/// Probes the account once before starting it, so that an installation problem no restart can
/// fix (imsg missing, no `rpc`, no Full Disk Access) fails the account at once with its exit code
/// instead of entering the channel's restart loop. A transient probe failure is left to the
/// channel, which retries with backoff.
async fn preflight(account: &ResolvedAccount) -> Result<(), Failure> {
    match imsg_rpc::probe(
        &wiring::spawn_options(account),
        account.process.probe_timeout,
    )
    .await
    {
        Ok(report) => {
            info!(account = %account.id, program = %report.program.display(), version = ?report.version, "imsg probe ok");
            Ok(())
        }
        Err(
            err @ (imsg_rpc::RpcError::NotFound { .. }
            | imsg_rpc::RpcError::RpcUnsupported { .. }
            | imsg_rpc::RpcError::PermissionDenied { .. }
            | imsg_rpc::RpcError::Spawn { .. }),
        ) => Err(Failure::from(&err)),
        Err(err) => {
            warn!(account = %account.id, error = %err, "imsg probe failed; the channel will retry");
            Ok(())
        }
    }
}

/// Stops one account within `drain`.
async fn stop_account(state_dir: &Path, id: &str, served: Served, drain: Duration) {
    served.publisher.abort();
    if let Some(channel) = served.channel {
        match tokio::time::timeout(drain, channel.stop()).await {
            Ok(Ok(())) => info!(account = %id, "account stopped"),
            Ok(Err(e)) => warn!(account = %id, error = %e, "account stopped with an error"),
            Err(_) => {
                warn!(account = %id, seconds = drain.as_secs(), "account did not stop within the drain bound")
            }
        }
    }
    status::withdraw(state_dir, id);
}

/// The enabled accounts of a config with their fingerprints.
fn wanted(loaded: &Loaded) -> BTreeMap<String, (ResolvedAccount, String)> {
    let section = gateway_section(&loaded.text);
    loaded
        .config
        .accounts
        .iter()
        .filter(|a| a.enabled)
        .map(|a| (a.id.clone(), (a.clone(), fingerprint(a, &section))))
        .collect()
}

/// Logs the startup warnings of a config.
fn log_warnings(loaded: &Loaded) {
    for w in &loaded.config.warnings {
        let line = crate::commands::config::line_of(&loaded.text, &w.path);
        warn!(path = %w.path, line = ?line, file = %loaded.path.display(), "{}", w.message);
    }
}

/// `run`.
///
/// # Errors
///
/// Exit 78 for a bad config or no enabled account; when no account could start, the exit code
/// of the first failure (69 imsg unavailable, 77 Full Disk Access, ...).
pub async fn run(globals: &Globals, args: &RunArgs) -> Result<u8, Failure> {
    let mut loaded = paths::load(globals.config.as_deref())?;
    let state_dir = paths::state_dir(globals.state_dir.as_deref())?;
    status::create_private_dir(&state_dir).map_err(|e| {
        Failure::new(
            crate::exit::NOPERM,
            format!("{}: cannot create the state dir: {e}", state_dir.display()),
        )
        .hint("pass --state-dir or set IMSG_GATEWAY_STATE_DIR to a directory you own")
    })?;
    log_warnings(&loaded);
    let drain = Duration::from_secs(args.drain_timeout);
    let accounts = wanted(&loaded);
    if accounts.is_empty() {
        return Err(Failure::new(
            CONFIG,
            format!("{}: no enabled iMessage account", loaded.path.display()),
        )
        .hint("add a channels.imessage section, or set enabled: true"));
    }
    // Listen before starting, so a signal during start-up is not lost.
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| Failure::other(format!("cannot listen for SIGINT: {e}")))?;
    let mut sigterm = signal(SignalKind::terminate())
        .map_err(|e| Failure::other(format!("cannot listen for SIGTERM: {e}")))?;
    let mut sighup = signal(SignalKind::hangup())
        .map_err(|e| Failure::other(format!("cannot listen for SIGHUP: {e}")))?;

    let mut served: BTreeMap<String, Served> = BTreeMap::new();
    let mut first_failure = None;
    for (id, (account, fp)) in &accounts {
        let (s, failure) = start_account(&state_dir, account, fp.clone(), &loaded.path).await;
        served.insert(id.clone(), s);
        if first_failure.is_none() {
            first_failure = failure;
        }
    }
    if served.values().all(|s| s.channel.is_none()) {
        for (id, s) in std::mem::take(&mut served) {
            stop_account(&state_dir, &id, s, drain).await;
        }
        return Err(first_failure.unwrap_or_else(|| Failure::other("no account could start")));
    }
    info!(
        accounts = served.len(),
        pid = std::process::id(),
        "gateway running"
    );

    loop {
        tokio::select! {
            _ = sigint.recv() => { info!("SIGINT: stopping"); break; }
            _ = sigterm.recv() => { info!("SIGTERM: stopping"); break; }
            _ = sighup.recv() => {
                info!(file = %loaded.path.display(), "SIGHUP: reloading the config");
                let next = match paths::load_from(&loaded.path, loaded.source) {
                    Ok(next) => next,
                    Err(failure) => {
                        error!(error = %failure.what, "reload failed; the running config is kept");
                        continue;
                    }
                };
                log_warnings(&next);
                let next_accounts = wanted(&next);
                let ids: Vec<String> = served.keys().cloned().collect();
                for id in ids {
                    let keep = next_accounts.get(&id).is_some_and(|(_, fp)| {
                        served.get(&id).is_some_and(|s| &s.fingerprint == fp && s.channel.is_some())
                    });
                    if !keep && let Some(s) = served.remove(&id) {
                        info!(account = %id, "account changed or removed: stopping");
                        stop_account(&state_dir, &id, s, drain).await;
                    }
                }
                for (id, (account, fp)) in &next_accounts {
                    if !served.contains_key(id) {
                        let (s, _) = start_account(&state_dir, account, fp.clone(), &next.path).await;
                        served.insert(id.clone(), s);
                    }
                }
                info!(accounts = served.len(), "reload applied");
                loaded = next;
            }
        }
    }
    // Stop every account at once, each within the drain bound.
    let stops = std::mem::take(&mut served)
        .into_iter()
        .map(|(id, s)| {
            let dir = state_dir.clone();
            tokio::spawn(async move { stop_account(&dir, &id, s, drain).await })
        })
        .collect::<Vec<_>>();
    for stop in stops {
        let _ = stop.await;
    }
    info!("gateway stopped");
    Ok(OK)
}
