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

/// Brings one account's channel up: the production starter probes, builds the channel and the
/// agent, and starts it; tests plug in their own.
#[async_trait::async_trait]
pub trait Starter: Send + Sync {
    /// Starts `account` with its stores under `state_dir`.
    ///
    /// # Errors
    ///
    /// Why the account cannot serve, with its exit code.
    async fn start(
        &self,
        account: &ResolvedAccount,
        state_dir: &Path,
        agent: &AgentChoice,
    ) -> Result<Arc<dyn Channel>, Failure>;
}

/// The starter `run` uses: preflight probe, [`wiring::build_channel`], [`wiring::build_handler`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Production;

#[async_trait::async_trait]
impl Starter for Production {
    async fn start(
        &self,
        account: &ResolvedAccount,
        state_dir: &Path,
        agent: &AgentChoice,
    ) -> Result<Arc<dyn Channel>, Failure> {
        preflight(account).await?;
        let channel = wiring::build_channel(account, state_dir)?;
        let handler = wiring::build_handler(account, agent)?;
        channel.start(handler).await.map_err(Failure::from)?;
        Ok(channel)
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

/// What a reload did, by account id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Accounts stopped (changed, removed or disabled).
    pub stopped: Vec<String>,
    /// Accounts started (new or changed).
    pub started: Vec<String>,
    /// Accounts left running untouched.
    pub kept: Vec<String>,
}

/// The accounts being served and how to start and stop them.
pub struct Supervisor {
    state_dir: PathBuf,
    drain: Duration,
    starter: Arc<dyn Starter>,
    served: BTreeMap<String, Served>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("state_dir", &self.state_dir)
            .field("served", &self.served)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A supervisor with nothing running yet.
    pub fn new(state_dir: PathBuf, drain: Duration, starter: Arc<dyn Starter>) -> Supervisor {
        Supervisor {
            state_dir,
            drain,
            starter,
            served: BTreeMap::new(),
        }
    }

    /// Whether at least one account is serving.
    pub fn any_running(&self) -> bool {
        self.served.values().any(|s| s.channel.is_some())
    }

    /// The ids of the accounts started (serving or failed).
    pub fn accounts(&self) -> Vec<String> {
        self.served.keys().cloned().collect()
    }

    /// Starts one account; a failure is published as the account's status.
    async fn start_account(
        &mut self,
        account: &ResolvedAccount,
        fingerprint: String,
        agent: &AgentChoice,
    ) -> Option<Failure> {
        info!(account = %account.id, cli_path = %wiring::cli_path_text(account), db_path = ?wiring::db_path_text(account), "starting account");
        let (served, failure) = match self.starter.start(account, &self.state_dir, agent).await {
            Ok(channel) => {
                let publisher =
                    spawn_publisher(self.state_dir.clone(), account.clone(), channel.clone());
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
                publish(&self.state_dir, account, &s);
                (
                    Served {
                        fingerprint,
                        channel: None,
                        publisher: tokio::spawn(async {}),
                    },
                    Some(failure),
                )
            }
        };
        self.served.insert(account.id.clone(), served);
        failure
    }

    /// Stops one account within the drain bound and withdraws its status file.
    async fn stop_account(&mut self, id: &str) {
        let Some(served) = self.served.remove(id) else {
            return;
        };
        stop_served(&self.state_dir, id, served, self.drain).await;
    }

    /// Starts every enabled account of `loaded`; returns the first failure.
    pub async fn start_all(&mut self, loaded: &Loaded) -> Option<Failure> {
        let mut first = None;
        let agent = agent_choice(loaded, &self.state_dir);
        for (_, (account, fp)) in wanted(loaded) {
            let failure = self.start_account(&account, fp, &agent).await;
            if first.is_none() {
                first = failure;
            }
        }
        first
    }

    /// Applies a newly loaded config: changed, removed and disabled accounts stop, new and
    /// changed ones start (a failed one is retried), the rest keep running untouched.
    pub async fn reload(&mut self, next: &Loaded) -> ReloadReport {
        let mut report = ReloadReport::default();
        let next_accounts = wanted(next);
        let agent = agent_choice(next, &self.state_dir);
        for id in self.accounts() {
            let keep = next_accounts.get(&id).is_some_and(|(_, fp)| {
                self.served
                    .get(&id)
                    .is_some_and(|s| &s.fingerprint == fp && s.channel.is_some())
            });
            if keep {
                report.kept.push(id);
            } else {
                info!(account = %id, "account changed or removed: stopping");
                self.stop_account(&id).await;
                report.stopped.push(id);
            }
        }
        for (id, (account, fp)) in next_accounts {
            if !self.served.contains_key(&id) {
                self.start_account(&account, fp, &agent).await;
                report.started.push(id);
            }
        }
        report
    }

    /// Stops every account at once, each within the drain bound.
    pub async fn stop_all(&mut self) {
        let stops = std::mem::take(&mut self.served)
            .into_iter()
            .map(|(id, s)| {
                let dir = self.state_dir.clone();
                let drain = self.drain;
                tokio::spawn(async move { stop_served(&dir, &id, s, drain).await })
            })
            .collect::<Vec<_>>();
        for stop in stops {
            let _ = stop.await;
        }
    }
}

/// Stops one served account within `drain`.
async fn stop_served(state_dir: &Path, id: &str, served: Served, drain: Duration) {
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

/// Reads the config again for SIGHUP and applies it.
///
/// # Errors
///
/// The load failure; the running config and accounts are kept.
pub async fn on_hangup(sup: &mut Supervisor, loaded: &mut Loaded) -> Result<ReloadReport, Failure> {
    let next = paths::load_from(&loaded.path, loaded.source)?;
    log_warnings(&next);
    let report = sup.reload(&next).await;
    *loaded = next;
    Ok(report)
}

/// The agent input of a loaded config.
fn agent_choice(loaded: &Loaded, state_dir: &Path) -> AgentChoice {
    AgentChoice {
        source_name: loaded.path.display().to_string(),
        config_text: loaded.text.clone(),
        config_path: Some(loaded.path.clone()),
        state_dir: Some(state_dir.to_path_buf()),
    }
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
    if wanted(&loaded).is_empty() {
        return Err(Failure::new(
            CONFIG,
            format!("{}: no enabled iMessage account", loaded.path.display()),
        )
        .hint("add a channels.imessage section, or set enabled: true"));
    }
    // Listen before starting, so a signal during start-up is not lost.
    let listen = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| Failure::other(format!("cannot listen for {name}: {e}")))
    };
    let mut sigint = listen(SignalKind::interrupt(), "SIGINT")?;
    let mut sigterm = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut sighup = listen(SignalKind::hangup(), "SIGHUP")?;

    let mut sup = Supervisor::new(state_dir, drain, Arc::new(Production));
    let first_failure = sup.start_all(&loaded).await;
    if !sup.any_running() {
        sup.stop_all().await;
        return Err(first_failure.unwrap_or_else(|| Failure::other("no account could start")));
    }
    info!(
        accounts = sup.accounts().len(),
        pid = std::process::id(),
        "gateway running"
    );

    loop {
        tokio::select! {
            _ = sigint.recv() => { info!("SIGINT: stopping"); break; }
            _ = sigterm.recv() => { info!("SIGTERM: stopping"); break; }
            _ = sighup.recv() => {
                info!(file = %loaded.path.display(), "SIGHUP: reloading the config");
                match on_hangup(&mut sup, &mut loaded).await {
                    Ok(r) => info!(stopped = ?r.stopped, started = ?r.started, kept = ?r.kept, "reload applied"),
                    Err(failure) => error!(error = %failure.what, "reload failed; the running config is kept"),
                }
            }
        }
    }
    sup.stop_all().await;
    info!("gateway stopped");
    Ok(OK)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use imsg_channel::{ChannelError, MessageHandler, OutboundMessage, ProbeReport, SendReceipt};

    use super::*;
    use crate::paths::ConfigSource;

    /// An in-process channel that only records its lifecycle.
    #[derive(Debug)]
    struct Recorder {
        id: String,
        state: Mutex<ChannelState>,
        stops: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl Channel for Recorder {
        fn id(&self) -> &str {
            &self.id
        }
        async fn start(&self, _: Arc<dyn MessageHandler>) -> Result<(), ChannelError> {
            *self.state.lock().unwrap() = ChannelState::Running;
            Ok(())
        }
        async fn send(&self, _: OutboundMessage) -> Result<SendReceipt, ChannelError> {
            Err(ChannelError::NotRunning(self.id.clone()))
        }
        async fn probe(&self) -> ProbeReport {
            ProbeReport::default()
        }
        fn status(&self) -> ChannelStatus {
            let mut s = ChannelStatus::stopped(self.id.clone());
            s.state = *self.state.lock().unwrap();
            s
        }
        async fn stop(&self) -> Result<(), ChannelError> {
            self.stops.fetch_add(1, Ordering::SeqCst);
            *self.state.lock().unwrap() = ChannelState::Stopped;
            Ok(())
        }
    }

    /// Starts [`Recorder`]s and counts starts and stops per account; `fail` accounts fail.
    #[derive(Default)]
    struct Counting {
        starts: Mutex<BTreeMap<String, usize>>,
        stops: Mutex<BTreeMap<String, Arc<AtomicUsize>>>,
        fail: Vec<String>,
    }

    impl Counting {
        fn starts(&self, id: &str) -> usize {
            self.starts.lock().unwrap().get(id).copied().unwrap_or(0)
        }
        fn stops(&self, id: &str) -> usize {
            self.stops
                .lock()
                .unwrap()
                .get(id)
                .map_or(0, |c| c.load(Ordering::SeqCst))
        }
    }

    #[async_trait]
    impl Starter for Counting {
        async fn start(
            &self,
            account: &ResolvedAccount,
            _: &Path,
            _: &AgentChoice,
        ) -> Result<Arc<dyn Channel>, Failure> {
            *self
                .starts
                .lock()
                .unwrap()
                .entry(account.id.clone())
                .or_default() += 1;
            if self.fail.contains(&account.id) {
                return Err(Failure::new(crate::exit::NOPERM, "no Full Disk Access"));
            }
            let stops = self
                .stops
                .lock()
                .unwrap()
                .entry(account.id.clone())
                .or_default()
                .clone();
            let channel = Recorder {
                id: account.id.clone(),
                state: Mutex::new(ChannelState::Stopped),
                stops,
            };
            channel.start(Arc::new(NoAgent)).await.unwrap();
            Ok(Arc::new(channel))
        }
    }

    struct NoAgent;

    #[async_trait]
    impl MessageHandler for NoAgent {
        async fn handle(
            &self,
            _: imsg_channel::InboundEvent,
        ) -> Result<Vec<imsg_channel::Reply>, imsg_channel::HandlerError> {
            Ok(Vec::new())
        }
    }

    fn write(dir: &Path, text: &str) -> Loaded {
        let path = dir.join("config.json5");
        std::fs::write(&path, text).unwrap();
        paths::load_from(&path, ConfigSource::Flag).unwrap()
    }

    const TWO: &str = r#"{ channels: { imessage: { accounts: {
        home: { dbPath: "/tmp/home.db", allowFrom: ["+15555550101"] },
        work: { dbPath: "/tmp/work.db", allowFrom: ["+15555550102"] },
    } } } }"#;

    #[tokio::test]
    async fn a_reload_restarts_changed_accounts_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let starter = Arc::new(Counting::default());
        let mut sup = Supervisor::new(state.clone(), Duration::from_secs(1), starter.clone());
        let mut loaded = write(dir.path(), TWO);
        assert!(sup.start_all(&loaded).await.is_none());
        assert_eq!(sup.accounts(), ["home", "work"]);
        // The publishers write the live status of both accounts.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !(status::file(&state, "home").exists() && status::file(&state, "work").exists()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no status published"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            matches!(status::live(&state, "work"), status::Live::Running(s) if s.state == "running")
        );

        // `work` changes, `home` does not, `spare` is new.
        std::fs::write(
            &loaded.path,
            TWO.replace("+15555550102", "+15555550109")
                .replace("} } } }", "spare: { dbPath: \"/tmp/spare.db\" }, } } } }"),
        )
        .unwrap();
        let report = on_hangup(&mut sup, &mut loaded).await.unwrap();
        assert_eq!(report.kept, ["home"]);
        assert_eq!(report.stopped, ["work"]);
        assert_eq!(report.started, ["spare", "work"]);
        assert_eq!((starter.starts("home"), starter.stops("home")), (1, 0));
        assert_eq!((starter.starts("work"), starter.stops("work")), (2, 1));

        // A file that does not load changes nothing.
        std::fs::write(
            &loaded.path,
            "{ channels: { imessage: { dmPolicy: 'sometimes' } } }",
        )
        .unwrap();
        let err = on_hangup(&mut sup, &mut loaded).await.unwrap_err();
        assert_eq!(err.code, CONFIG);
        assert_eq!(sup.accounts(), ["home", "spare", "work"]);
        assert!(loaded.text.contains("spare"));

        // Removing and disabling accounts stops them.
        std::fs::write(
            &loaded.path,
            r#"{ channels: { imessage: { accounts: {
                home: { dbPath: "/tmp/home.db", allowFrom: ["+15555550101"] },
                work: { enabled: false, dbPath: "/tmp/work.db" } } } } }"#,
        )
        .unwrap();
        let report = on_hangup(&mut sup, &mut loaded).await.unwrap();
        assert_eq!(report.kept, ["home"]);
        assert_eq!(report.stopped, ["spare", "work"]);
        assert!(report.started.is_empty());
        assert_eq!(status::live(&state, "spare"), status::Live::NotRunning);

        sup.stop_all().await;
        assert_eq!(starter.stops("home"), 1);
        assert_eq!(status::live(&state, "home"), status::Live::NotRunning);
    }

    #[tokio::test]
    async fn a_failed_account_is_published_and_retried_on_reload() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let starter = Arc::new(Counting {
            fail: vec!["work".into()],
            ..Counting::default()
        });
        let mut sup = Supervisor::new(state.clone(), Duration::from_secs(1), starter.clone());
        let mut loaded = write(dir.path(), TWO);
        let failure = sup.start_all(&loaded).await.unwrap();
        assert_eq!(failure.code, crate::exit::NOPERM);
        assert!(sup.any_running());
        match status::live(&state, "work") {
            status::Live::Running(s) => {
                assert_eq!(s.state, "failed");
                assert_eq!(s.last_error.as_deref(), Some("no Full Disk Access"));
            }
            other => panic!("{other:?}"),
        }
        // Unchanged but failed: a reload tries it again.
        let report = on_hangup(&mut sup, &mut loaded).await.unwrap();
        assert_eq!(report.kept, ["home"]);
        assert_eq!(report.started, ["work"]);
        assert_eq!(starter.starts("work"), 2);
        sup.stop_all().await;
    }
}
