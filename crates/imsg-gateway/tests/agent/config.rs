//! The `gateway.agent` section: defaults, every key, and one-line errors for what cannot work.

use imsg_gateway::agent::{AgentConfig, BackendKind, ExecConfig};

#[test]
fn a_file_without_the_section_gets_the_echo_backend() {
    let text = r#"// An OpenClaw file: its other sections are not ours to check.
    {
      channels: { imessage: { dmPolicy: "pairing" }, telegram: { token: "x" } },
      agents: { list: [{ id: "main" }] },
      gateway: { port: 18789 },
    }"#;
    let config = AgentConfig::from_json5(text, "openclaw.json").expect("valid");
    assert_eq!(config, AgentConfig::default());
    assert_eq!(config.backend, BackendKind::Echo);
}

#[test]
fn every_key_is_read() {
    let text = r#"{
      gateway: { agent: {
        backend: "exec",
        exec: { argv: ["/usr/local/bin/bot", "--json"], timeoutMs: 5000, maxOutputBytes: 2048 },
        openai: {
          baseUrl: "http://127.0.0.1:11434/v1", model: "llama3", apiKeyEnv: "OPENAI_API_KEY",
          systemPrompt: "Be kind.", timeoutMs: 9000, maxTurns: 4, maxSessions: 50,
        },
      } },
    }"#;
    let config = AgentConfig::from_json5(text, "config.json5").expect("valid");
    assert_eq!(config.backend, BackendKind::Exec);
    assert_eq!(
        config.exec,
        Some(ExecConfig {
            argv: vec!["/usr/local/bin/bot".to_owned(), "--json".to_owned()],
            timeout_ms: 5000,
            max_output_bytes: 2048,
        })
    );
    let openai = config.openai.expect("openai section");
    assert_eq!(openai.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(openai.model, "llama3");
    assert_eq!(openai.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
    assert_eq!(openai.system_prompt.as_deref(), Some("Be kind."));
    assert_eq!(
        (openai.timeout_ms, openai.max_turns, openai.max_sessions),
        (9000, 4, 50)
    );
}

#[test]
fn defaults_fill_the_optional_keys() {
    let text = r#"{ gateway: { agent: { backend: "openai", openai: { baseUrl: "https://api.example.com/v1", model: "m" } } } }"#;
    let openai = AgentConfig::from_json5(text, "c")
        .expect("valid")
        .openai
        .expect("section");
    assert_eq!(
        openai.timeout_ms,
        imsg_gateway::agent::DEFAULT_OPENAI_TIMEOUT_MS
    );
    assert_eq!(openai.max_turns, imsg_gateway::agent::DEFAULT_MAX_TURNS);
    assert_eq!(
        openai.max_sessions,
        imsg_gateway::agent::DEFAULT_MAX_SESSIONS
    );
    assert_eq!(openai.api_key_env, None);
}

fn error_of(text: &str) -> String {
    AgentConfig::from_json5(text, "config.json5")
        .expect_err("invalid")
        .to_string()
}

#[test]
fn errors_are_one_line_with_the_path() {
    let cases = [
        (
            "{ gateway: { agent: { backend: 'echo', bogus: 1 } } }",
            "config.json5: gateway.agent.bogus: unknown field `bogus`",
        ),
        (
            "{ gateway: { agent: { exec: { argv: ['x'], timeout: 5 } } } }",
            "config.json5: gateway.agent.exec.timeout: unknown field `timeout`",
        ),
        (
            "{ gateway: { agent: { backend: 'claude' } } }",
            "config.json5: gateway.agent.backend: unknown variant `claude`",
        ),
        (
            "{ gateway: { agent: { backend: 'exec' } } }",
            "config.json5: gateway.agent.exec: the exec backend needs this section with `argv`",
        ),
        (
            "{ gateway: { agent: { backend: 'openai' } } }",
            "config.json5: gateway.agent.openai: the openai backend needs this section",
        ),
        (
            "{ gateway: { agent: { exec: { argv: [] } } } }",
            "config.json5: gateway.agent.exec.argv: must name a program",
        ),
        (
            "{ gateway: { agent: { exec: { argv: ['x'], timeoutMs: 0 } } } }",
            "config.json5: gateway.agent.exec.timeoutMs: must be positive",
        ),
        (
            "{ gateway: { agent: { openai: { baseUrl: 'localhost:8080', model: 'm' } } } }",
            "config.json5: gateway.agent.openai.baseUrl: must start with http:// or https://",
        ),
        (
            "{ gateway: { agent: { openai: { baseUrl: 'http://x', model: 'm', apiKeyEnv: 'KEY=sk-1' } } } }",
            "config.json5: gateway.agent.openai.apiKeyEnv: must be the name of an environment variable",
        ),
        (
            "{ gateway: { agent: { exec: { argv: 'bot' } } } }",
            "config.json5: gateway.agent.exec.argv: expected",
        ),
    ];
    for (text, expected) in cases {
        let message = error_of(text);
        assert!(message.starts_with(expected), "{text}\n  got: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn syntax_errors_carry_a_position() {
    let message = error_of("{ gateway: { agent: { backend: 'echo' }\n ");
    assert!(message.starts_with("config.json5: "), "{message}");
    assert!(message.contains(" at line "), "{message}");
}

#[test]
fn a_flag_can_override_the_backend_and_is_checked_again() {
    let mut config = AgentConfig::from_json5("{}", "c").expect("valid");
    config.backend = "exec".parse().expect("a backend name");
    assert!(config.validate().is_err(), "exec without its section");
    assert!("telepathy".parse::<BackendKind>().is_err());
    assert_eq!(
        "OpenAI".parse::<BackendKind>().ok(),
        Some(BackendKind::Openai)
    );
}

#[test]
fn group_prompts_come_from_the_resolved_groups_map() {
    let text = r#"{ channels: { imessage: { groupPolicy: "open", groups: {
        "*": { systemPrompt: "Be brief." },
        "42": { systemPrompt: "Climbing talk." },
        "43": { requireMention: false },
    } } } }"#;
    let resolved = imsg_config::from_str(text, &imsg_config::LoadOptions::new("c")).expect("valid");
    let prompts =
        imsg_gateway::agent::GroupPrompts::new().with_policy(&resolved.accounts[0].policy);
    assert_eq!(
        prompts.lookup("default", Some(42), None),
        Some("Climbing talk.")
    );
    // An entry without its own prompt falls back to `*`.
    assert_eq!(prompts.lookup("default", Some(43), None), Some("Be brief."));
    assert_eq!(prompts.lookup("default", Some(44), None), Some("Be brief."));
}
