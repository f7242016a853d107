//! The startup probe: is imsg there, does it speak `rpc`, which version, and can it read chat.db?
//!
//! The steps follow what both reference gateways do (spec section 12.2): find the binary, run
//! `rpc --help`, then one `chats.list {"limit":1}` round trip under a timeout. A missing Full
//! Disk Access grant surfaces as [`RpcError::PermissionDenied`] instead of a hang.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;
use tracing::{debug, warn};

use crate::error::RpcError;
use crate::process::{SpawnOptions, spawn, spawn_error};
use crate::wire::ChatsListParams;

/// What a successful probe learned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeReport {
    /// The resolved program that was run.
    pub program: PathBuf,
    /// The output of `--version`, trimmed; `None` if it failed (not fatal).
    pub version: Option<String>,
    /// How many chats the `chats.list {"limit":1}` round trip returned (0 or 1).
    pub chats: usize,
}

/// Runs the whole probe with `timeout` for each step.
///
/// # Errors
///
/// [`RpcError::NotFound`] when the binary is missing, [`RpcError::RpcUnsupported`] when the
/// installed imsg has no `rpc` subcommand (fatal: do not retry), [`RpcError::ProbeFailed`]
/// when `rpc --help` fails otherwise or a step times out, [`RpcError::PermissionDenied`] when
/// imsg cannot open chat.db, and any error of the `chats.list` round trip.
pub async fn probe(options: &SpawnOptions, timeout: Duration) -> Result<ProbeReport, RpcError> {
    let program = find_program(&options.cli_path)?;
    check_rpc_help(options, &program, timeout).await?;
    let version = version(options, &program, timeout).await;
    let chats = round_trip(options, timeout).await?;
    Ok(ProbeReport {
        program,
        version,
        chats,
    })
}

/// Runs `<cliPath> rpc --help` and classifies the answer as spec section 12.2 describes.
///
/// # Errors
///
/// [`RpcError::RpcUnsupported`] when the output mentions both `unknown command` and `rpc`,
/// [`RpcError::ProbeFailed`] for another non-zero exit or a timeout, and the spawn errors.
pub async fn check_rpc_help(
    options: &SpawnOptions,
    program: &Path,
    timeout: Duration,
) -> Result<(), RpcError> {
    let output = run(options, program, ["rpc", "--help"], timeout).await?;
    classify_help(&output)
}

/// Applies the "rpc unsupported" rule to the output of `rpc --help`.
pub(crate) fn classify_help(output: &Output) -> Result<(), RpcError> {
    let combined = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lower = combined.to_lowercase();
    if lower.contains("unknown command") && lower.contains("rpc") {
        return Err(RpcError::RpcUnsupported { output: combined });
    }
    if output.status.success() {
        return Ok(());
    }
    let detail = match (combined.trim(), output.status.code()) {
        ("", Some(code)) => format!("imsg rpc --help failed (code {code})"),
        ("", None) => format!("imsg rpc --help failed ({})", output.status),
        (text, _) => text.to_owned(),
    };
    Err(RpcError::ProbeFailed { detail })
}

/// Runs `<cliPath> --version`; a failure is logged and yields `None`.
async fn version(options: &SpawnOptions, program: &Path, timeout: Duration) -> Option<String> {
    match run(options, program, ["--version"], timeout).await {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            (!text.is_empty()).then_some(text)
        }
        Ok(output) => {
            warn!(status = %output.status, "imsg --version failed");
            None
        }
        Err(err) => {
            warn!(error = %err, "imsg --version failed");
            None
        }
    }
}

/// Spawns `imsg rpc`, asks `chats.list {"limit":1}`, and stops the child.
async fn round_trip(options: &SpawnOptions, timeout: Duration) -> Result<usize, RpcError> {
    let (child, client, _notifications) = spawn(options.clone())?;
    let params = ChatsListParams { limit: Some(1) };
    let answer = client
        .call_with_timeout(
            "chats.list",
            serde_json::to_value(params).unwrap_or_default(),
            timeout,
        )
        .await;
    let status = child.shutdown().await;
    debug!(?status, "probe child stopped");
    let value = answer?;
    let chats = value
        .get("chats")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    Ok(chats)
}

/// Runs the program with `args`, stdin closed, under `timeout`; the child is killed on timeout.
async fn run<I, S>(
    options: &SpawnOptions,
    program: &Path,
    args: I,
    timeout: Duration,
) -> Result<Output, RpcError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let shown = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let future = Command::new(program)
        .args(&args)
        .envs(options.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, future).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(err)) => Err(spawn_error(&options.cli_path, program, err)),
        Err(_) => Err(RpcError::ProbeFailed {
            detail: format!("`imsg {shown}` did not finish within {timeout:?}"),
        }),
    }
}

/// Resolves `cliPath` to an executable file: a path (anything with a `/`) as given, a bare name
/// on `PATH`, the way [`spawn`] starts it. Nothing is expanded: `~/bin/imsg` is a relative path
/// whose first directory is named `~`.
///
/// # Errors
///
/// [`RpcError::NotFound`] when no executable file matches.
pub fn find_program(cli_path: &Path) -> Result<PathBuf, RpcError> {
    let not_found = || RpcError::NotFound {
        cli_path: cli_path.display().to_string(),
    };
    if cli_path.as_os_str().is_empty() {
        return Err(not_found());
    }
    if cli_path.components().count() > 1 || cli_path.as_os_str().as_encoded_bytes().contains(&b'/')
    {
        return is_executable(cli_path)
            .then(|| cli_path.to_path_buf())
            .ok_or_else(not_found);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(cli_path))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(not_found)
}

/// True for a regular file with an execute bit.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::ExitStatus;

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn help_classification() {
        let cases = [
            (
                "supported",
                output(0, "imsg rpc\nRun JSON-RPC over stdin/stdout\n", ""),
                "ok",
            ),
            (
                "unknown command (old imsg), even with exit 0",
                output(0, "Error: Unknown command 'rpc'\n", ""),
                "imsg CLI does not support the \"rpc\" subcommand (update imsg)",
            ),
            (
                "unknown command on stderr",
                output(1, "", "unknown command: RPC"),
                "imsg CLI does not support the \"rpc\" subcommand (update imsg)",
            ),
            (
                "other failure, silent",
                output(2, "", ""),
                "imsg probe failed: imsg rpc --help failed (code 2)",
            ),
            (
                "other failure with text",
                output(
                    1,
                    "",
                    "ssh: connect to host mac port 22: Connection refused\n",
                ),
                "imsg probe failed: ssh: connect to host mac port 22: Connection refused",
            ),
        ];
        for (name, out, want) in cases {
            let got = match classify_help(&out) {
                Ok(()) => "ok".to_owned(),
                Err(err) => err.to_string(),
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn find_program_rules() {
        let find = |p: &str| find_program(Path::new(p));
        assert!(find("/bin/sh").is_ok());
        assert_eq!(
            find("sh").ok().and_then(|p| p.is_absolute().then_some(())),
            Some(())
        );
        let missing = find("/nonexistent/imsg").unwrap_err();
        assert_eq!(missing.to_string(), "imsg not found (`/nonexistent/imsg`)");
        assert!(matches!(
            find("definitely-not-a-command-here"),
            Err(RpcError::NotFound { .. })
        ));
        // A directory is not an executable file.
        assert!(find("/tmp").is_err());
        assert!(find("").is_err());
    }

    #[test]
    fn find_program_expands_nothing() {
        // `~` is the loader's to expand; here it is an ordinary directory name, so the path is
        // looked up as written, relative to the working directory, and `$HOME` is never read.
        let err = find_program(Path::new("~/sh")).unwrap_err();
        assert_eq!(err.to_string(), "imsg not found (`~/sh`)");
        let dir = std::env::temp_dir().join(format!("imsg-rpc-find-{}", std::process::id()));
        let literal = dir.join("~").join("imsg");
        std::fs::create_dir_all(literal.parent().unwrap()).unwrap();
        std::fs::write(&literal, "#!/bin/sh\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&literal, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(find_program(&literal).unwrap(), literal);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
