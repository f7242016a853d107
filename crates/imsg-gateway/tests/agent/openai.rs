//! The openai backend against a real HTTP server on 127.0.0.1: answers with memory, provider errors that
//! reach no contact, and a key that never shows in a log or a `Debug` print.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imsg_gateway::agent::{
    Agent, AgentConfig, AgentError, AgentEvent, ApiKey, Backend, BackendError, GroupPrompts,
    HistoryInfo, OpenAiBackend, OpenAiConfig, OpenAiError,
};
use serde_json::json;

use crate::http::{Answer, Server};
use crate::support::{bounded, dm, group};

const KEY: &str = "sk-test-0123456789abcdef";

fn config(base_url: &str) -> OpenAiConfig {
    OpenAiConfig {
        base_url: base_url.to_owned(),
        model: "tiny-model".to_owned(),
        api_key_env: None,
        system_prompt: Some("You are a helpful assistant.".to_owned()),
        timeout_ms: 5_000,
        max_turns: 2,
        max_sessions: 10,
    }
}

fn backend(server: &Server, prompts: GroupPrompts) -> OpenAiBackend {
    OpenAiBackend::new(config(&server.base_url), Some(ApiKey::new(KEY)), prompts)
        .expect("client builds")
}

/// Every `tracing` line of the test, at every level, for checking that the key never appears.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .finish();
    (buffer.clone(), tracing::subscriber::set_default(subscriber))
}

fn contents(request: &serde_json::Value) -> Vec<(String, String)> {
    request["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["role"].as_str().expect("role").to_owned(),
                m["content"].as_str().expect("content").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn answers_and_remembers_the_session_within_max_turns() {
    let (logs, _guard) = capture_logs();
    let server = Server::start(|n, _| Answer::completion(&format!("  answer {n}  "))).await;
    let backend = backend(&server, GroupPrompts::new());
    for (n, text) in ["first", "second", "third"].iter().enumerate() {
        let replies = bounded(backend.respond(&AgentEvent::Message(dm(text))))
            .await
            .expect("answer");
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text, format!("answer {n}"));
    }
    // Another session starts empty.
    let mut other = dm("hello from elsewhere");
    other.session_key = "agent:main:dm:+15550000000".to_owned();
    bounded(backend.respond(&AgentEvent::Message(other)))
        .await
        .expect("answer");

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    let head = requests[0].head.to_ascii_lowercase();
    assert!(
        head.starts_with("post /v1/chat/completions http/1.1"),
        "{head}"
    );
    assert!(head.contains(&format!(
        "authorization: bearer {}",
        KEY.to_ascii_lowercase()
    )));
    assert_eq!(requests[0].body["model"], "tiny-model");
    let system = (
        "system".to_owned(),
        "You are a helpful assistant.".to_owned(),
    );
    let turn = |role: &str, text: &str| (role.to_owned(), text.to_owned());
    assert_eq!(
        contents(&requests[0].body),
        vec![system.clone(), turn("user", "first")]
    );
    assert_eq!(
        contents(&requests[1].body),
        vec![
            system.clone(),
            turn("user", "first"),
            turn("assistant", "answer 0"),
            turn("user", "second"),
        ]
    );
    // maxTurns 2: the first exchange is forgotten by the third message.
    assert_eq!(
        contents(&requests[2].body),
        vec![
            system.clone(),
            turn("user", "first"),
            turn("assistant", "answer 0"),
            turn("user", "second"),
            turn("assistant", "answer 1"),
            turn("user", "third"),
        ]
    );
    assert_eq!(
        contents(&requests[3].body),
        vec![system, turn("user", "hello from elsewhere")]
    );
    assert_eq!(backend.remembered("agent:main:main"), Some(2));
    assert!(!logs.text().contains(KEY), "the key is never logged");
}

#[tokio::test]
async fn a_group_gets_its_system_prompt_history_and_sender_names() {
    let server = Server::start(|_, _| Answer::completion("sure")).await;
    let prompts = GroupPrompts::new()
        .with("default", "*", "Keep it short.")
        .with("default", "42", "Talk about climbing.");
    let backend = backend(&server, prompts);
    let mut message = group("@bot which crag?");
    message.history = vec![HistoryInfo {
        sender: "Alice".to_owned(),
        body: "rain tomorrow".to_owned(),
        timestamp: None,
        message_id: 98,
    }];
    bounded(backend.respond(&AgentEvent::Message(message)))
        .await
        .expect("answer");
    let mut elsewhere = group("@bot hi");
    elsewhere.chat.id = Some(43);
    elsewhere.chat.guid = None;
    elsewhere.session_key = "agent:main:imessage:group:43".to_owned();
    bounded(backend.respond(&AgentEvent::Message(elsewhere)))
        .await
        .expect("answer");

    let requests = server.requests();
    assert_eq!(
        contents(&requests[0].body),
        vec![
            (
                "system".to_owned(),
                "You are a helpful assistant.\n\nTalk about climbing.".to_owned()
            ),
            (
                "user".to_owned(),
                "[Earlier messages in this chat]\nAlice: rain tomorrow\n[New message]\nBob: @bot which crag?"
                    .to_owned()
            ),
        ]
    );
    assert_eq!(
        contents(&requests[1].body)[0].1,
        "You are a helpful assistant.\n\nKeep it short."
    );

    // A reload brings new prompts; the conversation memory stays.
    let agent = Agent::new(Arc::new(backend));
    agent.set_group_prompts(GroupPrompts::new().with("default", "42", "Only bouldering."));
    bounded(agent.answer(&AgentEvent::Message(group("@bot and now?"))))
        .await
        .expect("answer");
    let third = contents(&server.requests()[2].body);
    assert_eq!(
        third[0].1,
        "You are a helpful assistant.\n\nOnly bouldering."
    );
    assert_eq!(
        third.len(),
        4,
        "the earlier exchange is still remembered: {third:?}"
    );
}

/// Runs one message through an agent (what the channel calls) and returns its result.
async fn through_agent(backend: OpenAiBackend) -> Result<Vec<imsg_channel::Reply>, BackendError> {
    let agent = Agent::new(Arc::new(backend));
    bounded(agent.answer(&AgentEvent::Message(dm("hi")))).await
}

#[tokio::test]
async fn a_401_reaches_no_contact_and_its_text_is_scrubbed_of_the_key() {
    let (logs, _guard) = capture_logs();
    let server = Server::start(|_, _| {
        Answer::status(
            401,
            &json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}})
                .to_string(),
        )
    })
    .await;
    let backend = backend(&server, GroupPrompts::new());
    let err = through_agent(backend).await.expect_err("no reply on a 401");
    let BackendError::OpenAi(OpenAiError::Status { status, body, .. }) = &err else {
        panic!("expected a status error, got {err}");
    };
    assert_eq!(*status, 401);
    assert!(
        body.contains("Incorrect API key provided: [redacted]"),
        "{body}"
    );
    let text = err.to_string();
    assert!(!text.contains(KEY), "{text}");
    assert!(!format!("{err:?}").contains(KEY));
    assert!(!logs.text().contains(KEY), "the key is never logged");
}

#[tokio::test]
async fn status_429_and_500_and_malformed_answers_are_errors_and_not_remembered() {
    let server = Server::start(|n, _| match n {
        0 => Answer::status(429, r#"{"error":{"message":"Rate limit reached"}}"#),
        1 => Answer::status(500, "upstream exploded"),
        2 => Answer::status(200, "this is not json"),
        3 => Answer::status(200, r#"{"choices": []}"#),
        _ => Answer::completion("fine now"),
    })
    .await;
    let backend = backend(&server, GroupPrompts::new());
    for expected in [429_u16, 500] {
        match bounded(backend.respond(&AgentEvent::Message(dm("hi")))).await {
            Err(BackendError::OpenAi(OpenAiError::Status { status, .. })) => {
                assert_eq!(status, expected);
            }
            other => panic!("expected HTTP {expected}, got {other:?}"),
        }
    }
    for _ in 0..2 {
        let result = bounded(backend.respond(&AgentEvent::Message(dm("hi")))).await;
        assert!(
            matches!(
                result,
                Err(BackendError::OpenAi(OpenAiError::Malformed { .. }))
            ),
            "{result:?}"
        );
    }
    assert_eq!(backend.remembered("agent:main:main"), Some(0));
    let replies = bounded(backend.respond(&AgentEvent::Message(dm("hi"))))
        .await
        .expect("recovers");
    assert_eq!(replies[0].text, "fine now");
    // The failed attempts left nothing in the conversation.
    assert_eq!(contents(&server.requests()[4].body).len(), 2);
}

#[tokio::test]
async fn a_slow_provider_times_out_without_a_reply() {
    let server = Server::start(|_, _| Answer {
        delay: Duration::from_secs(30),
        ..Answer::completion("too late")
    })
    .await;
    let mut cfg = config(&server.base_url);
    cfg.timeout_ms = 300;
    let backend = OpenAiBackend::new(cfg, Some(ApiKey::new(KEY)), GroupPrompts::new())
        .expect("client builds");
    let err = through_agent(backend)
        .await
        .expect_err("no reply on a timeout");
    assert!(
        matches!(
            err,
            BackendError::OpenAi(OpenAiError::Timeout {
                timeout_ms: 300,
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_an_error() {
    // Bind and drop a listener so the port is (very likely) closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let backend = OpenAiBackend::new(
        config(&format!("http://127.0.0.1:{port}/v1/")),
        None,
        GroupPrompts::new(),
    )
    .expect("client builds");
    let result = bounded(backend.respond(&AgentEvent::Message(dm("hi")))).await;
    assert!(
        matches!(
            result,
            Err(BackendError::OpenAi(OpenAiError::Transport { .. }))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_key_never_shows_in_debug_output() {
    let server = Server::start(|_, _| Answer::completion("ok")).await;
    let backend = backend(&server, GroupPrompts::new());
    let printed = format!("{backend:?}");
    assert!(!printed.contains(KEY), "{printed}");
    assert!(printed.contains("ApiKey(<redacted>)"), "{printed}");
    let agent = Agent::new(Arc::new(backend));
    assert!(!format!("{agent:?}").contains(KEY));
    assert!(!format!("{:?}", ApiKey::new(KEY)).contains(KEY));
}

#[tokio::test]
async fn from_config_reads_the_key_from_the_named_variable() {
    let server = Server::start(|_, _| Answer::completion("ok")).await;
    // HOME is set in every test environment; its value stands in for a key.
    let home = std::env::var("HOME").expect("HOME is set");
    let text = format!(
        "{{ gateway: {{ agent: {{ backend: 'openai', openai: {{ baseUrl: '{}', model: 'm', apiKeyEnv: 'HOME' }} }} }} }}",
        server.base_url
    );
    let config = AgentConfig::from_json5(&text, "config.json5").expect("valid");
    let agent = Agent::from_config(&config, GroupPrompts::new()).expect("builds");
    bounded(agent.answer(&AgentEvent::Message(dm("hi"))))
        .await
        .expect("answer");
    let head = server.requests()[0].head.to_ascii_lowercase();
    assert!(head.contains(&format!(
        "authorization: bearer {}",
        home.to_ascii_lowercase()
    )));

    let missing = format!(
        "{{ gateway: {{ agent: {{ backend: 'openai', openai: {{ baseUrl: '{}', model: 'm', apiKeyEnv: 'IMSG_GATEWAY_TEST_SURELY_UNSET_KEY' }} }} }} }}",
        server.base_url
    );
    let config = AgentConfig::from_json5(&missing, "config.json5").expect("valid");
    let err = Agent::from_config(&config, GroupPrompts::new()).expect_err("no key");
    assert!(
        matches!(err, AgentError::MissingApiKey(ref v) if v == "IMSG_GATEWAY_TEST_SURELY_UNSET_KEY")
    );
    assert!(
        err.to_string()
            .contains("IMSG_GATEWAY_TEST_SURELY_UNSET_KEY")
    );
}
