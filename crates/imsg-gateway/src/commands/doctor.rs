//! `doctor`: the installation checked step by step, in order, each ok / warn / fail with its fix.
//! Exit 0 only when nothing fails; otherwise the exit code of the first failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imsg_config::ResolvedAccount;
use imsg_rpc::RpcError;
use serde_json::json;

use crate::cli::DoctorArgs;
use crate::commands::Globals;
use crate::exit::{CONFIG, Failure, OK, OTHER};
use crate::status::{self, Live};
use crate::{output, paths, wiring};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Works, but worth a look.
    Warn,
    /// Broken.
    Fail,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// What was checked.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// How to fix it.
    pub fix: Option<String>,
    /// The exit code a failure stands for.
    pub code: u8,
}

/// The list of checks being built.
#[derive(Debug, Default)]
struct Report(Vec<CheckResult>);

impl Report {
    fn ok(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.push(name, Verdict::Ok, detail, None, OK);
    }

    fn warn(&mut self, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Verdict::Warn, detail, Some(fix.into()), OK);
    }

    fn fail(&mut self, name: impl Into<String>, failure: &Failure) {
        self.push(
            name,
            Verdict::Fail,
            failure.what.clone(),
            failure.hint.clone(),
            failure.code,
        );
    }

    fn push(
        &mut self,
        name: impl Into<String>,
        verdict: Verdict,
        detail: impl Into<String>,
        fix: Option<String>,
        code: u8,
    ) {
        self.0.push(CheckResult {
            name: name.into(),
            verdict,
            detail: detail.into(),
            fix,
            code,
        });
    }
}

/// The host an SSH wrapper script connects to, when it is a script that runs `ssh`.
pub fn wrapper_ssh_host(script: &str) -> Option<String> {
    // Options of ssh that take a value, so their value is not taken for the host.
    const WITH_VALUE: &str = "BbcDEeFIiJLlmOoPpQRSWw";
    for line in script.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words
            .iter()
            .position(|w| *w == "ssh" || w.ends_with("/ssh"))
        else {
            continue;
        };
        let mut rest = words[at + 1..].iter();
        while let Some(word) = rest.next() {
            if let Some(opt) = word.strip_prefix('-') {
                if opt.len() == 1 && WITH_VALUE.contains(opt) {
                    rest.next();
                }
                continue;
            }
            return Some(word.trim_matches(['"', '\'']).to_owned());
        }
    }
    None
}

/// Whether `host` has a key in the user's known_hosts, asked of `ssh-keygen -F` (which also
/// understands hashed entries).
async fn known_host(host: &str) -> Result<bool, String> {
    let bare = host.rsplit('@').next().unwrap_or(host);
    let run = tokio::process::Command::new("ssh-keygen")
        .arg("-F")
        .arg(bare)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(Duration::from_secs(5), run).await {
        Ok(Ok(status)) => Ok(status.success()),
        Ok(Err(e)) => Err(format!("cannot run ssh-keygen: {e}")),
        Err(_) => Err("ssh-keygen -F did not answer within 5 s".into()),
    }
}

/// The checks of one enabled account.
async fn account_checks(report: &mut Report, account: &ResolvedAccount) {
    let id = &account.id;
    let options = wiring::spawn_options(account);
    let timeout = account.process.probe_timeout;
    let program = match wiring::find_program(account) {
        Ok(p) => {
            report.ok(
                format!("{id}: cliPath"),
                format!("{} is executable", p.display()),
            );
            p
        }
        Err(err) => {
            report.fail(format!("{id}: cliPath"), &Failure::from(&err));
            return;
        }
    };
    match imsg_rpc::check_rpc_help(&options, &program, timeout).await {
        Ok(()) => report.ok(format!("{id}: rpc"), "`rpc --help` answers"),
        Err(err) => {
            report.fail(format!("{id}: rpc"), &Failure::from(&err));
            return;
        }
    }
    if let Ok(text) = std::fs::read(&program)
        && let Ok(text) = String::from_utf8(text)
        && text.starts_with("#!")
        && text.contains("ssh")
    {
        let host = account
            .process
            .remote_host
            .clone()
            .or_else(|| wrapper_ssh_host(&text));
        match host {
            None => report.warn(
                format!("{id}: ssh wrapper"),
                "cliPath runs ssh but no remote host could be detected",
                "set channels.imessage.remoteHost to `host` or `user@host`",
            ),
            Some(host) => match known_host(&host).await {
                Ok(true) => report.ok(
                    format!("{id}: ssh wrapper"),
                    format!("remote host `{host}` has a key in known_hosts"),
                ),
                Ok(false) => report.fail(
                    format!("{id}: ssh wrapper"),
                    &Failure::new(
                        OTHER,
                        format!("remote host `{host}` has no key in known_hosts; attachment copies (scp with StrictHostKeyChecking) will fail"),
                    )
                    .hint(format!("connect once with `ssh {host} true` and check the fingerprint")),
                ),
                Err(why) => report.warn(
                    format!("{id}: ssh wrapper"),
                    format!("remote host `{host}`: {why}"),
                    "install OpenSSH's ssh-keygen or check known_hosts by hand",
                ),
            },
        }
    }
    match imsg_rpc::probe(&options, timeout).await {
        Ok(probe) => {
            match &probe.version {
                Some(v) if version_below(v, (0, 9, 0)) => report.warn(
                    format!("{id}: version"),
                    format!(
                        "imsg {v} is older than 0.9.0, the version this gateway is tested with"
                    ),
                    "update imsg (brew upgrade imsg)",
                ),
                Some(v) => report.ok(format!("{id}: version"), v.clone()),
                None => report.warn(
                    format!("{id}: version"),
                    "`imsg --version` gave no answer",
                    "update imsg to 0.9.0 or later",
                ),
            }
            report.ok(
                format!("{id}: full disk access"),
                "imsg can read the Messages database",
            );
            report.ok(format!("{id}: round trip"), "chats.list answered");
        }
        Err(err @ RpcError::PermissionDenied { .. }) => {
            report.fail(format!("{id}: full disk access"), &Failure::from(&err));
        }
        Err(err) => report.fail(format!("{id}: round trip"), &Failure::from(&err)),
    }
}

/// Whether a version text (`0.8.2`, `imsg 0.9.0`) names a version below `floor`; text that holds
/// no version is not judged.
pub fn version_below(text: &str, floor: (u64, u64, u64)) -> bool {
    let Some(start) = text.find(|c: char| c.is_ascii_digit()) else {
        return false;
    };
    let mut parts = text[start..]
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let version = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    version < floor
}

/// The state directory check.
fn state_dir_check(report: &mut Report, state_dir: &Path) {
    let name = "state dir";
    match std::fs::metadata(state_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => report.ok(
            name,
            format!(
                "{} does not exist yet; it is created with mode 0700",
                state_dir.display()
            ),
        ),
        Err(e) => report.fail(
            name,
            &Failure::new(crate::exit::NOPERM, format!("{}: {e}", state_dir.display()))
                .hint("pass --state-dir or set IMSG_GATEWAY_STATE_DIR to a directory you own"),
        ),
        Ok(meta) if !meta.is_dir() => report.fail(
            name,
            &Failure::new(OTHER, format!("{} is not a directory", state_dir.display()))
                .hint("pass --state-dir or set IMSG_GATEWAY_STATE_DIR to a directory"),
        ),
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            let probe_file = state_dir.join(format!(".doctor-{}", std::process::id()));
            let writable = std::fs::write(&probe_file, b"").is_ok();
            let _ = std::fs::remove_file(&probe_file);
            if !writable {
                report.fail(
                    name,
                    &Failure::new(
                        crate::exit::NOPERM,
                        format!("{} is not writable", state_dir.display()),
                    )
                    .hint("chown the directory to this user, or pass another --state-dir"),
                );
            } else if mode & 0o077 != 0 {
                report.warn(
                    name,
                    format!(
                        "{} has mode {mode:o}; other users can read pairing approvals",
                        state_dir.display()
                    ),
                    format!("chmod 700 {}", state_dir.display()),
                );
            } else {
                report.ok(name, format!("{} (mode {mode:o})", state_dir.display()));
            }
        }
    }
}

/// Two enabled accounts with different `cliPath`s that read the same chat.db (the config
/// rejects the same pair outright).
fn shared_db_check(report: &mut Report, accounts: &[&ResolvedAccount]) {
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    let mut shared = Vec::new();
    for a in accounts {
        let db = wiring::db_path_text(a).map_or_else(
            || PathBuf::from("~/Library/Messages/chat.db"),
            PathBuf::from,
        );
        if let Some((_, other)) = seen.iter().find(|(d, _)| *d == db) {
            shared.push(format!(
                "`{}` and `{other}` both read {}",
                a.id,
                db.display()
            ));
        }
        seen.push((db, &a.id));
    }
    if shared.is_empty() {
        report.ok("accounts", "no two enabled accounts read the same chat.db");
    } else {
        report.warn(
            "accounts",
            shared.join("; "),
            "give each account its own dbPath, or disable one: both would answer every message",
        );
    }
}

/// `doctor`.
///
/// # Errors
///
/// Exit 1 when stdout is closed; failed checks are reported through the exit code.
pub async fn run(globals: &Globals, args: &DoctorArgs) -> Result<u8, Failure> {
    let mut report = Report::default();
    let loaded = paths::load(globals.config.as_deref());
    match &loaded {
        Ok(l) => {
            report.ok(
                "config",
                format!(
                    "{} ({} account{})",
                    l.path.display(),
                    l.config.accounts.len(),
                    if l.config.accounts.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                ),
            );
            for w in &l.config.warnings {
                let line = crate::commands::config::line_of(&l.text, &w.path)
                    .map_or_else(String::new, |n| format!(" (line {n})"));
                report.warn(
                    "config warning",
                    format!("{}: {}{line}", w.path, w.message),
                    "see docs/policy.md; `imsg-gateway policy explain` shows the effect on a message",
                );
            }
        }
        Err(f) => report.fail("config", f),
    }
    let state_dir = paths::state_dir(globals.state_dir.as_deref());
    if let Ok(loaded) = &loaded {
        let selected: Vec<&ResolvedAccount> = match &args.account {
            Some(id) => match loaded.account(Some(id)) {
                Ok(a) => vec![a],
                Err(f) => {
                    report.fail("account", &f);
                    Vec::new()
                }
            },
            None => loaded
                .config
                .accounts
                .iter()
                .filter(|a| a.enabled)
                .collect(),
        };
        if selected.is_empty() && args.account.is_none() {
            report.fail(
                "accounts",
                &Failure::new(CONFIG, "no enabled iMessage account")
                    .hint("add channels.imessage, or set enabled: true"),
            );
        }
        for account in &selected {
            account_checks(&mut report, account).await;
        }
        shared_db_check(&mut report, &selected);
        if let Ok(dir) = &state_dir {
            let live: Vec<String> = selected
                .iter()
                .filter_map(|a| match status::live(dir, &a.id) {
                    Live::Running(s) => Some(format!("{} (pid {}, {})", a.id, s.pid, s.state)),
                    _ => None,
                })
                .collect();
            if live.is_empty() {
                report.ok("gateway", "not running");
            } else {
                report.ok("gateway", format!("running: {}", live.join(", ")));
            }
        }
    }
    match &state_dir {
        Ok(dir) => state_dir_check(&mut report, dir),
        Err(f) => report.fail("state dir", f),
    }
    let first_fail = report
        .0
        .iter()
        .find(|c| c.verdict == Verdict::Fail)
        .map(|c| c.code.max(1));
    if args.json {
        output::json(&json!({
            "ok": first_fail.is_none(),
            "checks": report.0.iter().map(|c| json!({
                "name": c.name,
                "status": c.verdict.as_str(),
                "detail": c.detail,
                "fix": c.fix,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        for c in &report.0 {
            output::line(&format!(
                "{:<4} {}: {}",
                c.verdict.as_str(),
                c.name,
                c.detail
            ))?;
            if c.verdict != Verdict::Ok
                && let Some(fix) = &c.fix
            {
                output::line(&format!("     fix: {fix}"))?;
            }
        }
    }
    Ok(first_fail.unwrap_or(OK))
}

#[cfg(test)]
mod tests {
    use super::wrapper_ssh_host;

    #[test]
    fn versions_below_the_floor_are_found() {
        use super::version_below;
        assert!(version_below("0.8.2", (0, 9, 0)));
        assert!(!version_below("0.9.0", (0, 9, 0)));
        assert!(!version_below("imsg 1.0", (0, 9, 0)));
        assert!(!version_below("unknown", (0, 9, 0)));
    }

    #[test]
    fn the_host_of_an_ssh_wrapper_skips_options() {
        let script = "#!/bin/sh\n# comment ssh nope\nexec ssh -T -o BatchMode=yes -p 22 me@mac.local imsg \"$@\"\n";
        assert_eq!(wrapper_ssh_host(script).as_deref(), Some("me@mac.local"));
        assert_eq!(wrapper_ssh_host("#!/bin/sh\nexec imsg \"$@\"\n"), None);
    }
}
