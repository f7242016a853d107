//! Real child processes (small shell scripts): exit reporting, stderr tail, shutdown, probe.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imsg_rpc::{ClientConfig, RpcClient, RpcError, SpawnOptions, probe, spawn};
use serde_json::json;

/// Upper bound for any wait on a child in these tests; they finish far sooner.
const BOUND: Duration = Duration::from_secs(20);

/// Writes an executable shell script into a fresh temporary directory.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// One `chats.list` call, bounded so a wedged child fails the test instead of hanging it.
async fn list_chats(client: &RpcClient) -> Result<serde_json::Value, RpcError> {
    tokio::time::timeout(BOUND, client.call("chats.list", json!({})))
        .await
        .expect("no answer within the bound")
}

fn options(path: &Path) -> SpawnOptions {
    let mut config = ClientConfig::default();
    config.request_timeout = BOUND;
    SpawnOptions::new(path.display().to_string()).with_client(config)
}

#[tokio::test]
async fn exit_is_reported_with_status_and_stderr_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "imsg",
        "read line\necho 'fatal: database vanished' >&2\necho 'second diagnostic' >&2\nexit 3",
    );
    let (mut child, client, _n) = spawn(options(&path)).unwrap();
    let err = list_chats(&client).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "imsg rpc exited (code 3): stderr: fatal: database vanished | second diagnostic"
    );
    let later = client.call("chats.list", json!({})).await.unwrap_err();
    assert_eq!(later.to_string(), err.to_string());
    assert_eq!(
        child.wait_timeout(BOUND).await.and_then(|s| s.code()),
        Some(3)
    );
}

#[tokio::test]
async fn shutdown_closes_stdin_and_the_child_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Echo a fixed answer per request until stdin ends, then exit 0.
    let path = script(
        dir.path(),
        "imsg",
        r#"while read line; do echo '{"jsonrpc":"2.0","id":1,"result":{"chats":[]}}'; done; exit 0"#,
    );
    let mut opts = options(&path);
    // It exits at once on EOF; the grace only keeps a loaded machine from sending SIGTERM.
    opts.close_grace = Duration::from_secs(5);
    let (child, client, _n) = spawn(opts).unwrap();
    let value = list_chats(&client).await.unwrap();
    assert_eq!(value, json!({"chats":[]}));
    let status = tokio::time::timeout(BOUND, child.shutdown()).await.unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[tokio::test]
async fn shutdown_escalates_to_sigterm_then_sigkill() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // Ignores EOF but dies on SIGTERM.
        ("term", "exec sleep 600", 15),
        // Ignores EOF and SIGTERM: only SIGKILL ends it.
        ("kill", "trap '' TERM\nwhile :; do sleep 1; done", 9),
    ];
    for (name, body, signal) in cases {
        let path = script(dir.path(), name, body);
        let mut opts = options(&path);
        opts.close_grace = Duration::from_millis(100);
        opts.term_grace = Duration::from_millis(300);
        let (child, _client, _n) = spawn(opts).unwrap();
        let status = tokio::time::timeout(BOUND, child.shutdown()).await.unwrap();
        assert_eq!(status.and_then(|s| s.signal()), Some(signal), "{name}");
    }
}

#[tokio::test]
async fn missing_binary_is_not_found() {
    let err = spawn(SpawnOptions::new("/nonexistent/dir/imsg")).unwrap_err();
    assert_eq!(err.to_string(), "imsg not found (`/nonexistent/dir/imsg`)");
}

#[tokio::test]
async fn probe_classifies_installations() {
    let dir = tempfile::tempdir().unwrap();
    let good = script(
        dir.path(),
        "good",
        r#"case "$1 $2" in
  "rpc --help") echo "imsg rpc"; exit 0;;
  "--version ") echo "0.9.0"; exit 0;;
esac
while read line; do echo '{"jsonrpc":"2.0","id":1,"result":{"chats":[{"id":2}]}}'; done"#,
    );
    let old = script(
        dir.path(),
        "old",
        r#"echo "Error: Unknown command 'rpc'"; exit 1"#,
    );
    let fda = script(
        dir.path(),
        "fda",
        r#"case "$1 $2" in
  "rpc --help") exit 0;;
  "--version ") echo "0.9.0"; exit 0;;
esac
read line
printf '%s\n' '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"unable to open database file (code: 14)\n\nPermission Error: Cannot access Messages database\n\nThe Messages database at /x/chat.db requires Full Disk Access permission."}}'
while read line; do :; done
exit 1"#,
    );
    let stalled = script(
        dir.path(),
        "stalled",
        r#"case "$1 $2" in
  "rpc --help") exit 0;;
esac
exec sleep 600"#,
    );
    let timeout = Duration::from_secs(2);
    let report = probe(&options(&good), BOUND).await.unwrap();
    assert_eq!(report.version.as_deref(), Some("0.9.0"));
    assert_eq!(report.chats, 1);

    let err = probe(&options(&old), timeout).await.unwrap_err();
    assert!(matches!(err, RpcError::RpcUnsupported { .. }), "{err:?}");

    let err = probe(&options(&fda), BOUND).await.unwrap_err();
    match &err {
        RpcError::PermissionDenied {
            binary, db_path, ..
        } => {
            assert_eq!(binary, &fda.display().to_string());
            assert_eq!(db_path.as_deref(), Some("/x/chat.db"));
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }

    let err = probe(&options(&stalled), timeout).await.unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err:?}");

    let err = probe(&options(&dir.path().join("absent")), timeout)
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn full_disk_access_text_on_stderr_explains_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "imsg",
        "echo 'Error: authorization denied: full disk access is required for chat.db' >&2\nexit 1",
    );
    let (_child, client, _n) = spawn(options(&path)).unwrap();
    let err = list_chats(&client).await.unwrap_err();
    assert!(matches!(err, RpcError::PermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("`{}`", path.display())));
}

/// True once `pid` is gone or a zombie (its parent may not be reaped by PID 1 here).
fn is_dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_wrapper_whose_child_keeps_stdout_open_still_reports_its_exit() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("bg.pid");
    // Like a wrapper that runs ssh without `exec`: the background process inherits stdout.
    let path = script(
        dir.path(),
        "imsg",
        &format!(
            "sleep 600 &\necho $! > '{}'\nread line\nexit 3",
            pidfile.display()
        ),
    );
    let (child, client, _n) = spawn(options(&path)).unwrap();
    let err = list_chats(&client).await.unwrap_err();
    assert_eq!(err.to_string(), "imsg rpc exited (code 3)");
    // Shutdown signals the whole process group, so the background process goes too.
    let status = tokio::time::timeout(BOUND, child.shutdown()).await.unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(3));
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    tokio::time::timeout(BOUND, async {
        while !is_dead(&pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

/// Waits (bounded) until the process whose id is in `pidfile` is gone.
async fn assert_dies(pidfile: &Path) {
    let pid = std::fs::read_to_string(pidfile).unwrap().trim().to_owned();
    let gone = tokio::time::timeout(BOUND, async {
        while !is_dead(&pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if gone.is_err() {
        // Do not leave it behind for the next test run.
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        panic!("process {pid} outlived the session");
    }
}

#[tokio::test]
async fn dropping_the_handle_after_the_child_exited_still_kills_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("bg.pid");
    // The wrapper exits at once and leaves a background process holding its stdout.
    let path = script(
        dir.path(),
        "imsg",
        &format!("sleep 600 &\necho $! > '{}'\nexit 0", pidfile.display()),
    );
    let (mut child, _client, _n) = spawn(options(&path)).unwrap();
    assert_eq!(
        child.wait_timeout(BOUND).await.and_then(|s| s.code()),
        Some(0)
    );
    drop(child);
    assert_dies(&pidfile).await;
}

#[tokio::test]
async fn shutdown_kills_group_members_that_ignore_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("bg.pid");
    let path = script(
        dir.path(),
        "imsg",
        &format!(
            "sh -c \"trap '' TERM; exec sleep 600\" &\necho $! > '{}'\nread line\nexit 0",
            pidfile.display()
        ),
    );
    let mut opts = options(&path);
    // The script exits on EOF; a generous grace keeps a loaded machine from turning that into
    // a SIGTERM. Only the group members' grace is short.
    opts.close_grace = Duration::from_secs(5);
    opts.term_grace = Duration::from_millis(200);
    let (child, _client, _n) = spawn(opts).unwrap();
    // Wait until the background process exists before stopping.
    tokio::time::timeout(BOUND, async {
        while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let status = tokio::time::timeout(BOUND, child.shutdown()).await.unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert_dies(&pidfile).await;
}

#[tokio::test]
async fn a_100_mb_stderr_line_is_cut_and_the_tail_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "imsg",
        "head -c 100000000 /dev/zero | tr '\\0' x >&2\necho >&2\necho 'last words' >&2\nexit 4",
    );
    let (_child, client, _n) = spawn(options(&path)).unwrap();
    let err = list_chats(&client).await.unwrap_err();
    match &err {
        RpcError::Closed {
            status,
            stderr_tail,
        } => {
            assert_eq!(status.and_then(|s| s.code()), Some(4));
            assert_eq!(
                stderr_tail,
                "<stderr line longer than 4096 bytes>\nlast words"
            );
        }
        other => panic!("expected Closed, got {other:?}"),
    }
}
