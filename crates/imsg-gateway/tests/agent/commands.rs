//! The control commands: who may run them, what they answer, and `/config` writing the overlay (never the
//! user's file) after the loader accepted the result.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use imsg_channel::{ChannelState, ChannelStatus};
use imsg_gateway::agent::{
    Agent, AgentEvent, ConfigWriter, EchoBackend, MessageEvent, OVERLAY_FILE_NAME,
    load_with_overlay,
};
use imsg_policy::DmPolicy;

#[cfg(feature = "openai")]
use crate::http::{Answer, Server};
use crate::support::{bounded, dm, group};

async fn say(agent: &Agent, message: MessageEvent) -> Vec<String> {
    bounded(agent.answer(&AgentEvent::Message(message)))
        .await
        .expect("an answer")
        .into_iter()
        .map(|r| r.text)
        .collect()
}

fn echo_agent() -> Agent {
    Agent::new(Arc::new(EchoBackend::new()))
}

#[tokio::test]
async fn help_lists_the_commands() {
    let replies = say(&echo_agent(), dm("/help")).await;
    assert_eq!(replies.len(), 1);
    for command in ["/status", "/reset", "/new", "/help", "/config set"] {
        assert!(replies[0].contains(command), "{command} in {}", replies[0]);
    }
    // `/help me` is not the command: it goes to the backend.
    let replies = say(&echo_agent(), dm("/help me")).await;
    assert!(replies[0].starts_with("echo: /help me"), "{}", replies[0]);
}

#[tokio::test]
async fn an_unauthorized_sender_s_command_is_ordinary_text() {
    let mut message = group("/help");
    message.command_authorized = false;
    let replies = say(&echo_agent(), message).await;
    assert!(replies[0].starts_with("echo: /help\n"), "{}", replies[0]);
}

#[tokio::test]
async fn status_reports_the_account_and_the_backend() {
    let agent = echo_agent().with_status(Arc::new(|account: &str| {
        let mut status = ChannelStatus::stopped(account);
        status.state = ChannelState::Running;
        status.restarts = 2;
        status.last_error = Some("imsg exited".to_owned());
        Some(status)
    }));
    let replies = say(&agent, dm("/status")).await;
    assert_eq!(
        replies,
        vec![
            "account default: running · restarts 2\nlast error: imsg exited\nagent: echo"
                .to_owned()
        ]
    );
    let without = say(&echo_agent(), dm("/STATUS")).await;
    assert_eq!(
        without,
        vec!["account default: status not available\nagent: echo".to_owned()]
    );
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn reset_and_new_clear_the_session_memory() {
    use imsg_gateway::agent::{ApiKey, GroupPrompts, OpenAiBackend, OpenAiConfig};

    let server = Server::start(|n, _| Answer::completion(&format!("answer {n}"))).await;
    let backend = OpenAiBackend::new(
        OpenAiConfig {
            base_url: server.base_url.clone(),
            model: "m".to_owned(),
            api_key_env: None,
            system_prompt: None,
            timeout_ms: 5000,
            max_turns: 10,
            max_sessions: 10,
        },
        Some(ApiKey::new("k")),
        GroupPrompts::new(),
    )
    .expect("client");
    let agent = Agent::new(Arc::new(backend));
    say(&agent, dm("remember the number 7")).await;
    // Another session's memory is not touched by this chat's reset.
    let mut other = dm("other chat");
    other.session_key = "agent:main:dm:+15550000000".to_owned();
    say(&agent, other.clone()).await;

    let replies = say(&agent, dm("/reset")).await;
    assert_eq!(
        replies,
        vec!["New session started; earlier messages are forgotten.".to_owned()]
    );
    assert_eq!(agent.backend().remembered("agent:main:main"), Some(0));
    assert_eq!(agent.backend().remembered(&other.session_key), Some(1));
    say(&agent, dm("what was the number?")).await;

    let requests = server.requests();
    assert_eq!(requests.len(), 3, "the reset itself asks no model");
    let messages = requests[2].body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["content"], "what was the number?");

    // `/new <text>` resets and sends the rest as the first message of the new session.
    let replies = say(&agent, dm("/new: hello again")).await;
    assert_eq!(replies, vec!["answer 3".to_owned()]);
    let requests = server.requests();
    let messages = requests[3].body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["content"], "hello again");
}

#[tokio::test]
async fn reset_on_a_backend_without_memory_says_so() {
    let replies = say(&echo_agent(), dm("/new")).await;
    assert_eq!(
        replies,
        vec!["New session started (the echo backend keeps no memory).".to_owned()]
    );
}

/// A user config file (JSON5 with a comment), a state dir, and a counter of reload calls.
struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
    reloads: Arc<AtomicUsize>,
    agent: Agent,
}

const USER_FILE: &str = r#"// my settings; this comment must survive
{
  channels: { imessage: { dmPolicy: "pairing", allowFrom: ["+15551234567"], textChunkLimit: 3000 } },
  commands: { config: true },
}
"#;

fn setup(user_file: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.json5");
    std::fs::write(&config, user_file).expect("write config");
    let state = dir.path().join("state");
    let reloads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reloads);
    let writer = ConfigWriter::new(&config, &state, move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let agent = echo_agent().with_config_writer(writer);
    Setup {
        _dir: dir,
        config,
        state,
        reloads,
        agent,
    }
}

fn overlay(state: &Path) -> Option<serde_json::Value> {
    std::fs::read_to_string(state.join(OVERLAY_FILE_NAME))
        .ok()
        .map(|t| serde_json::from_str(&t).expect("the overlay is JSON"))
}

#[tokio::test]
async fn config_set_writes_the_overlay_and_reloads() {
    let s = setup(USER_FILE);
    let replies = say(&s.agent, dm("/config set textChunkLimit 1200")).await;
    assert_eq!(
        replies,
        vec![
            "config: channels.imessage.textChunkLimit = 1200 (saved in the overlay; reloading)"
                .to_owned()
        ]
    );
    assert_eq!(
        overlay(&s.state),
        Some(serde_json::json!({"textChunkLimit": 1200}))
    );
    assert_eq!(s.reloads.load(Ordering::SeqCst), 1);
    assert_eq!(
        std::fs::read_to_string(&s.config).expect("read"),
        USER_FILE,
        "the user's file is never written"
    );

    // The change is checked as a whole file: `open` needs a `*` in allowFrom, so alone it is refused ...
    let replies = say(&s.agent, dm("/config set dmPolicy open")).await;
    assert_eq!(
        replies,
        vec!["config rejected: channels.imessage.allowFrom: channels.imessage.dmPolicy=\"open\" requires \
              channels.imessage.allowFrom to include \"*\"".to_owned()]
    );
    assert_eq!(s.reloads.load(Ordering::SeqCst), 1);
    // ... and accepted once the allowlist says so.
    let replies = say(&s.agent, dm("/config set allowFrom [\"*\"]")).await;
    assert!(
        replies[0].starts_with("config: channels.imessage.allowFrom = [\"*\"]"),
        "{}",
        replies[0]
    );
    let replies = say(
        &s.agent,
        dm("/config set channels.imessage.dmPolicy \"open\""),
    )
    .await;
    assert!(
        replies[0].starts_with("config: channels.imessage.dmPolicy = \"open\""),
        "{}",
        replies[0]
    );
    assert_eq!(
        overlay(&s.state),
        Some(serde_json::json!({"textChunkLimit": 1200, "allowFrom": ["*"], "dmPolicy": "open"}))
    );
    assert_eq!(s.reloads.load(Ordering::SeqCst), 3);
    let effective = load_with_overlay(&s.config, &s.state.join(OVERLAY_FILE_NAME)).expect("loads");
    let account = effective.account("default").expect("default account");
    assert_eq!(account.policy.dm_policy(), DmPolicy::Open);
    assert_eq!(account.limits.text_chunk_limit, 1200);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.state.join(OVERLAY_FILE_NAME))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_bad_value_is_answered_with_the_one_line_config_error_and_changes_nothing() {
    let s = setup(USER_FILE);
    let replies = say(&s.agent, dm("/config set dmPolicy sometimes")).await;
    assert_eq!(replies.len(), 1);
    let answer = &replies[0];
    assert!(
        answer.starts_with("config rejected: channels.imessage.dmPolicy: "),
        "{answer}"
    );
    assert!(answer.contains("sometimes"), "{answer}");
    assert!(!answer.contains('\n'), "{answer}");
    assert_eq!(overlay(&s.state), None, "nothing was written");
    assert_eq!(s.reloads.load(Ordering::SeqCst), 0);

    let replies = say(&s.agent, dm("/config set textChunkLimit -5")).await;
    assert!(
        replies[0].starts_with("config rejected: channels.imessage.textChunkLimit: "),
        "{}",
        replies[0]
    );
    let replies = say(&s.agent, dm("/config set dmPolcy open")).await;
    assert!(
        replies[0].starts_with("config rejected: channels.imessage.dmPolcy: unknown key"),
        "{}",
        replies[0]
    );
    assert_eq!(overlay(&s.state), None);
}

#[tokio::test]
async fn unset_removes_a_key_of_the_user_s_file_through_the_overlay() {
    let s = setup(USER_FILE);
    let replies = say(&s.agent, dm("/config unset textChunkLimit")).await;
    assert_eq!(
        replies,
        vec![
            "config: channels.imessage.textChunkLimit unset (saved in the overlay; reloading)"
                .to_owned()
        ]
    );
    assert_eq!(
        overlay(&s.state),
        Some(serde_json::json!({"textChunkLimit": null}))
    );
    let effective = load_with_overlay(&s.config, &s.state.join(OVERLAY_FILE_NAME)).expect("loads");
    assert_eq!(
        effective.accounts[0].limits.text_chunk_limit, 4000,
        "back to the default"
    );
    // Setting and unsetting an overlay-only key leaves the overlay as it was.
    say(&s.agent, dm("/config set sendReadReceipts false")).await;
    say(&s.agent, dm("/config unset sendReadReceipts")).await;
    assert_eq!(
        overlay(&s.state),
        Some(serde_json::json!({"textChunkLimit": null}))
    );
    assert_eq!(s.reloads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unauthorized_config_command_is_refused() {
    let s = setup(USER_FILE);
    let mut message = group("/config set dmPolicy open");
    message.command_authorized = false;
    let replies = say(&s.agent, message).await;
    // Not executed: it is ordinary text for the backend.
    assert!(
        replies[0].starts_with("echo: /config set dmPolicy open\n"),
        "{}",
        replies[0]
    );
    assert_eq!(overlay(&s.state), None);
    assert_eq!(s.reloads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn config_is_not_a_command_when_commands_config_is_off() {
    let s = setup(r#"{ channels: { imessage: { dmPolicy: "pairing" } } }"#);
    let replies = say(&s.agent, dm("/config set dmPolicy open")).await;
    assert!(
        replies[0].starts_with("echo: /config set"),
        "{}",
        replies[0]
    );
    assert_eq!(overlay(&s.state), None);
}

#[tokio::test]
async fn config_writes_off_refuses_the_change() {
    let s = setup(
        r#"{ channels: { imessage: { dmPolicy: "pairing", configWrites: false } }, commands: { config: true } }"#,
    );
    let replies = say(&s.agent, dm("/config set dmPolicy disabled")).await;
    assert_eq!(
        replies,
        vec![
            "config: configWrites is off for account `default`; change it in the config file"
                .to_owned()
        ]
    );
    assert_eq!(overlay(&s.state), None);
}

#[tokio::test]
async fn keys_that_start_programs_cannot_be_set_from_chat() {
    let s = setup(USER_FILE);
    for text in [
        "/config set cliPath /tmp/evil",
        "/config set accounts.work.cliPath /tmp/evil",
        "/config set accounts {work: {cliPath: '/tmp/evil'}}",
        "/config unset remoteHost",
    ] {
        let replies = say(&s.agent, dm(text)).await;
        assert!(
            replies[0].contains("cannot be changed from chat"),
            "{text}: {}",
            replies[0]
        );
    }
    assert_eq!(overlay(&s.state), None);
    let replies = say(&s.agent, dm("/config frobnicate")).await;
    assert!(
        replies[0].starts_with("usage: /config set"),
        "{}",
        replies[0]
    );
}
