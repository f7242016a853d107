//! The exec backend against real child processes: the JSON on stdin, the reply on stdout, and every
//! failure (timeout, output cap, non-zero exit) ending in an error for the log and no reply.

use std::path::Path;
use std::time::{Duration, Instant};

use imsg_gateway::agent::{
    Agent, AgentEvent, Backend, ChatInfo, ChatKind, ExecBackend, ExecConfig, ExecError,
    ReactionNotice, SenderInfo,
};

use crate::support::{bounded, dm};

fn sh(script: &str, timeout_ms: u64, max_output_bytes: usize) -> ExecBackend {
    ExecBackend::new(ExecConfig {
        argv: vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()],
        timeout_ms,
        max_output_bytes,
    })
}

#[tokio::test]
async fn stdout_is_the_reply_and_stdin_is_the_event_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.json");
    let backend = sh(
        &format!("cat > '{}'; printf '  hi from exec\\n\\n'", input.display()),
        10_000,
        1024,
    );
    let replies = bounded(backend.respond(&AgentEvent::Message(dm("what's up"))))
        .await
        .expect("the command succeeds");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text, "hi from exec");

    let written = std::fs::read_to_string(&input).expect("the command saved its stdin");
    assert!(written.ends_with('\n'), "one line of JSON");
    let json: serde_json::Value = serde_json::from_str(&written).expect("stdin is JSON");
    assert_eq!(json["kind"], "message");
    assert_eq!(json["version"], 1);
    assert_eq!(json["text"], "what's up");
    assert_eq!(json["sessionKey"], "agent:main:main");
    assert_eq!(json["sender"]["id"], "+15551234567");
    assert_eq!(json["chat"]["type"], "direct");
    assert_eq!(json["chat"]["id"], 7);
    assert_eq!(json["commandAuthorized"], true);
    assert_eq!(json["wasMentioned"], true);
    // The shape reads back into the same event.
    let back: AgentEvent = serde_json::from_str(&written).expect("round trip");
    assert_eq!(back, AgentEvent::Message(dm("what's up")));
}

#[tokio::test]
async fn a_reaction_arrives_as_its_own_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.json");
    let backend = sh(&format!("cat > '{}'", input.display()), 10_000, 1024);
    let reaction = AgentEvent::Reaction(ReactionNotice {
        version: 1,
        account_id: "default".to_owned(),
        session_key: "agent:main:main".to_owned(),
        chat: ChatInfo {
            kind: ChatKind::Direct,
            id: Some(7),
            guid: None,
            service: "sms".to_owned(),
        },
        sender: SenderInfo {
            id: "+15551234567".to_owned(),
            raw: "+15551234567".to_owned(),
            label: "Alice".to_owned(),
        },
        reaction: "custom".to_owned(),
        emoji: Some("🎉".to_owned()),
        added: false,
        target_guid: Some("g1".to_owned()),
        on_own_message: true,
    });
    let replies = bounded(backend.respond(&reaction)).await.expect("succeeds");
    assert!(replies.is_empty(), "no output, no reply");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&input).expect("saved")).expect("JSON");
    assert_eq!(json["kind"], "reaction");
    assert_eq!(json["reaction"], "custom");
    assert_eq!(json["emoji"], "🎉");
    assert_eq!(json["added"], false);
    assert_eq!(json["onOwnMessage"], true);
    assert_eq!(json["chat"]["service"], "sms");
    assert!(json.get("text").is_none(), "a reaction is never text");
}

#[tokio::test]
async fn a_non_zero_exit_is_an_error_and_its_output_is_not_sent() {
    let backend = sh(
        "cat >/dev/null; echo 'Authentication failed (provider returned HTTP 401)'; echo boom >&2; exit 3",
        10_000,
        1024,
    );
    let err = bounded(backend.respond(&AgentEvent::Message(dm("hi"))))
        .await
        .expect_err("a failing command gives no reply");
    let text = err.to_string();
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("boom"), "stderr is kept for the log: {text}");

    // Through the agent (what the channel calls) the result is the same error, so nothing is sent.
    let agent = Agent::new(std::sync::Arc::new(backend));
    assert!(
        bounded(agent.answer(&AgentEvent::Message(dm("hi"))))
            .await
            .is_err()
    );
}

/// Whether process `pid` is gone (or only a zombie waiting for its new parent to reap it).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

async fn wait_gone(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A shell that starts `sleep 60` in the background, publishes its pid atomically, and waits for it.
fn grandchild_script(pid_file: &Path) -> String {
    let file = pid_file.display();
    format!("sleep 60 & echo $! > '{file}.tmp' && mv '{file}.tmp' '{file}'; echo partial; wait")
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    // The shell starts a grandchild and waits for it: killing only the shell would leave `sleep` behind.
    // The timeout leaves the shell ample time to start it even on a loaded machine.
    let backend = sh(&grandchild_script(&pid_file), 2_000, 1024);
    let err = bounded(backend.run(b"{}\n"))
        .await
        .expect_err("the run times out");
    assert!(
        matches!(
            err,
            ExecError::Timeout {
                timeout_ms: 2_000,
                ..
            }
        ),
        "{err}"
    );
    let pid = read_pid(&pid_file);
    assert!(wait_gone(pid).await, "the grandchild {pid} was killed too");
}

#[tokio::test]
async fn output_beyond_the_cap_is_an_error_and_stops_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    // `yes` never ends on its own; only the cap can stop it before the (long) timeout.
    let backend = sh(
        &format!("echo $$ > '{}'; exec yes reply", pid_file.display()),
        60_000,
        1000,
    );
    let err = bounded(backend.run(b"{}\n"))
        .await
        .expect_err("too much output");
    assert!(
        matches!(err, ExecError::OutputTooLarge { limit: 1000, .. }),
        "{err}"
    );
    assert!(wait_gone(read_pid(&pid_file)).await);
}

#[tokio::test]
async fn output_at_the_cap_is_accepted() {
    let backend = sh("cat >/dev/null; printf '%0100d' 0", 10_000, 100);
    let out = bounded(backend.run(b"{}\n")).await.expect("within the cap");
    assert_eq!(out.len(), 100);
}

#[tokio::test]
async fn a_command_that_ignores_stdin_still_answers() {
    // Exits before reading: writing the event then hits a closed pipe, which is not an error.
    let backend = sh("echo quick", 10_000, 1024);
    let big = dm(&"x".repeat(200_000));
    let replies = bounded(backend.respond(&AgentEvent::Message(big)))
        .await
        .expect("a broken stdin pipe is fine");
    assert_eq!(replies[0].text, "quick");
}

#[tokio::test]
async fn invalid_utf8_and_a_missing_program_are_errors() {
    let backend = sh("printf '\\377\\376'", 10_000, 1024);
    let err = bounded(backend.run(b"")).await.expect_err("not UTF-8");
    assert!(matches!(err, ExecError::NotUtf8 { .. }), "{err}");

    let missing = ExecBackend::new(ExecConfig {
        argv: vec!["/nonexistent/agent-program".to_owned()],
        timeout_ms: 1000,
        max_output_bytes: 10,
    });
    let err = bounded(missing.run(b""))
        .await
        .expect_err("no such program");
    assert!(matches!(err, ExecError::Spawn { .. }), "{err}");
}

#[tokio::test]
async fn dropping_a_run_kills_its_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let backend = sh(&grandchild_script(&pid_file), 60_000, 1024);
    // The caller gives up (as a shutting-down gateway would) once the grandchild exists, long before the
    // backend's own timeout.
    let appeared = async {
        while !pid_file.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        result = backend.run(b"{}\n") => panic!("the run ended on its own: {result:?}"),
        () = bounded(appeared) => {}
    }
    assert!(
        wait_gone(read_pid(&pid_file)).await,
        "the grandchild was killed"
    );
}
