//! The `gateway.agent` section: which backend answers and how it is set up.
//!
//! It lives in the same JSON5 file as `channels.imessage`. OpenClaw ignores it; we read nothing else from
//! the file here, so the rest of an OpenClaw file never trips this parser. Inside `gateway.agent` every key is
//! known or rejected.

use std::fmt;

use serde::Deserialize;

/// Default `exec.timeoutMs`.
pub const DEFAULT_EXEC_TIMEOUT_MS: u64 = 30_000;
/// Default `exec.maxOutputBytes`.
pub const DEFAULT_EXEC_MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Default `openai.timeoutMs`.
pub const DEFAULT_OPENAI_TIMEOUT_MS: u64 = 60_000;
/// Default `openai.maxTurns`.
pub const DEFAULT_MAX_TURNS: usize = 20;
/// Default `openai.maxSessions`.
pub const DEFAULT_MAX_SESSIONS: usize = 1_000;

/// Which backend answers messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Answers with what it received and why it was admitted.
    #[default]
    Echo,
    /// Runs a command per message.
    Exec,
    /// Asks an OpenAI-compatible chat completions endpoint.
    Openai,
}

impl BackendKind {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Echo => "echo",
            BackendKind::Exec => "exec",
            BackendKind::Openai => "openai",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = AgentConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "echo" => Ok(BackendKind::Echo),
            "exec" => Ok(BackendKind::Exec),
            "openai" => Ok(BackendKind::Openai),
            _ => Err(AgentConfigError::invalid(
                "gateway.agent.backend",
                format!("unknown backend `{s}`; expected one of echo, exec, openai"),
            )),
        }
    }
}

/// `gateway.agent`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentConfig {
    /// The backend (default `echo`).
    #[serde(default)]
    pub backend: BackendKind,
    /// Settings of the `exec` backend.
    #[serde(default)]
    pub exec: Option<ExecConfig>,
    /// Settings of the `openai` backend.
    #[serde(default)]
    pub openai: Option<OpenAiConfig>,
}

/// `gateway.agent.exec`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecConfig {
    /// The program and its arguments; no shell is involved.
    pub argv: Vec<String>,
    /// How long one run may take before its process group is killed.
    #[serde(default = "default_exec_timeout")]
    pub timeout_ms: u64,
    /// The most stdout a run may print; more is an error and nothing is sent.
    #[serde(default = "default_exec_max_output")]
    pub max_output_bytes: usize,
}

/// `gateway.agent.openai`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenAiConfig {
    /// The API root, such as `http://127.0.0.1:11434/v1`; requests go to `{baseUrl}/chat/completions`.
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// The environment variable holding the API key; absent for servers that need none.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The system prompt of every conversation (a group's `systemPrompt` is added to it).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// How long one request may take.
    #[serde(default = "default_openai_timeout")]
    pub timeout_ms: u64,
    /// How many earlier exchanges (a message and its answer) each session remembers.
    #[serde(default = "default_max_turns")]
    pub max_turns: usize,
    /// How many sessions are remembered at once; the least recently used is forgotten first.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

impl fmt::Debug for OpenAiConfig {
    // Written out so that a future secret field cannot slip into logs by derive; the key itself is never
    // here, only the name of the variable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key_env", &self.api_key_env)
            .field("system_prompt", &self.system_prompt.as_ref().map(|_| "…"))
            .field("timeout_ms", &self.timeout_ms)
            .field("max_turns", &self.max_turns)
            .field("max_sessions", &self.max_sessions)
            .finish()
    }
}

fn default_exec_timeout() -> u64 {
    DEFAULT_EXEC_TIMEOUT_MS
}
fn default_exec_max_output() -> usize {
    DEFAULT_EXEC_MAX_OUTPUT_BYTES
}
fn default_openai_timeout() -> u64 {
    DEFAULT_OPENAI_TIMEOUT_MS
}
fn default_max_turns() -> usize {
    DEFAULT_MAX_TURNS
}
fn default_max_sessions() -> usize {
    DEFAULT_MAX_SESSIONS
}

/// The parts of the file this module reads: `gateway.agent`, nothing else.
#[derive(Deserialize)]
struct Root {
    #[serde(default)]
    gateway: Option<GatewaySection>,
}

/// `gateway`: other keys belong to other parts of the binary and are not checked here.
#[derive(Deserialize)]
struct GatewaySection {
    #[serde(default)]
    agent: Option<AgentConfig>,
}

/// A rejected `gateway.agent` section, printed as one line:
/// `<file>: <dotted.path>: <what>[ at line L column C]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}{path}{}{message}{}", sep(&self.source_name), sep(&self.path), at(self.position))]
pub struct AgentConfigError {
    source_name: String,
    path: String,
    message: String,
    position: Option<(usize, usize)>,
}

fn sep(s: &str) -> &'static str {
    if s.is_empty() { "" } else { ": " }
}

fn at(position: Option<(usize, usize)>) -> String {
    position.map_or_else(String::new, |(l, c)| format!(" at line {l} column {c}"))
}

impl AgentConfigError {
    fn invalid(path: &str, message: impl Into<String>) -> AgentConfigError {
        AgentConfigError {
            source_name: String::new(),
            path: path.to_owned(),
            message: message.into(),
            position: None,
        }
    }

    /// The error for a backend chosen without its section.
    pub(crate) fn missing_section(kind: BackendKind) -> AgentConfigError {
        match kind {
            BackendKind::Exec => AgentConfigError::invalid(
                "gateway.agent.exec",
                "the exec backend needs this section with `argv`",
            ),
            BackendKind::Echo | BackendKind::Openai => AgentConfigError::invalid(
                "gateway.agent.openai",
                "the openai backend needs this section with `baseUrl` and `model`",
            ),
        }
    }

    fn named(mut self, source_name: &str) -> AgentConfigError {
        source_name.clone_into(&mut self.source_name);
        self
    }

    /// The dotted path of the offending key (`gateway.agent.exec.argv`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl AgentConfig {
    /// Reads `gateway.agent` from the whole configuration text (JSON5); a file without it gives the defaults
    /// (the echo backend). `source_name` names the file in errors.
    ///
    /// # Errors
    ///
    /// Invalid JSON5, a wrong type or unknown key under `gateway.agent`, or a setting that cannot work
    /// (see [`AgentConfig::validate`]).
    pub fn from_json5(text: &str, source_name: &str) -> Result<AgentConfig, AgentConfigError> {
        let mut de = json5::Deserializer::from_str(text);
        let root: Root = serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let position = inner.position().map(|p| (p.line + 1, p.column + 1));
            let full = inner.to_string();
            let message = match inner.position() {
                Some(p) => full
                    .strip_suffix(&format!(" at {p}"))
                    .map_or_else(|| full.clone(), str::to_owned),
                None => full,
            };
            AgentConfigError {
                source_name: source_name.to_owned(),
                path: if path == "." { String::new() } else { path },
                message,
                position,
            }
        })?;
        let config = root.gateway.and_then(|g| g.agent).unwrap_or_default();
        config.validate().map_err(|e| e.named(source_name))?;
        Ok(config)
    }

    /// Checks that the chosen backend has what it needs. Call it again after overriding `backend` (for
    /// example from a command-line flag).
    ///
    /// # Errors
    ///
    /// A missing section for the chosen backend, an empty `argv`, a zero timeout or cap, or a base URL
    /// that is not `http://` or `https://`.
    pub fn validate(&self) -> Result<(), AgentConfigError> {
        if let Some(exec) = &self.exec {
            if exec.argv.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(AgentConfigError::invalid(
                    "gateway.agent.exec.argv",
                    "must name a program (a non-empty first element)",
                ));
            }
            if exec.timeout_ms == 0 {
                return Err(AgentConfigError::invalid(
                    "gateway.agent.exec.timeoutMs",
                    "must be positive",
                ));
            }
            if exec.max_output_bytes == 0 {
                return Err(AgentConfigError::invalid(
                    "gateway.agent.exec.maxOutputBytes",
                    "must be positive",
                ));
            }
        }
        if let Some(openai) = &self.openai {
            let url = openai.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AgentConfigError::invalid(
                    "gateway.agent.openai.baseUrl",
                    "must start with http:// or https://",
                ));
            }
            if openai.model.trim().is_empty() {
                return Err(AgentConfigError::invalid(
                    "gateway.agent.openai.model",
                    "must not be blank",
                ));
            }
            if openai
                .api_key_env
                .as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.contains('='))
            {
                return Err(AgentConfigError::invalid(
                    "gateway.agent.openai.apiKeyEnv",
                    "must be the name of an environment variable (the key itself never goes in the file)",
                ));
            }
            for (key, value) in [
                ("timeoutMs", openai.timeout_ms),
                (
                    "maxSessions",
                    u64::try_from(openai.max_sessions).unwrap_or(u64::MAX),
                ),
            ] {
                if value == 0 {
                    return Err(AgentConfigError::invalid(
                        &format!("gateway.agent.openai.{key}"),
                        "must be positive",
                    ));
                }
            }
        }
        match self.backend {
            BackendKind::Echo => {}
            BackendKind::Exec if self.exec.is_none() => {
                return Err(AgentConfigError::missing_section(BackendKind::Exec));
            }
            BackendKind::Openai if self.openai.is_none() => {
                return Err(AgentConfigError::missing_section(BackendKind::Openai));
            }
            BackendKind::Exec | BackendKind::Openai => {}
        }
        Ok(())
    }
}
