//! The agent backends behind [`imsg_channel::MessageHandler`] and the built-in control commands.
//!
//! - [`EchoBackend`] (the default) answers with what it received and why it was let through.
//! - [`ExecBackend`] runs a command per event, the event as JSON ([`AgentEvent`]) on its stdin, its stdout
//!   the reply.
//! - [`OpenAiBackend`] asks any OpenAI-compatible chat completions endpoint, with per-session memory.
//! - [`Agent`] puts a backend behind the control commands (`/status`, `/reset`, `/new`, `/help`,
//!   `/config set|unset`) and is what the gateway hands to each channel.
//!
//! Whatever goes wrong inside a backend (a failing command, a provider error, a timeout) becomes a
//! [`HandlerError`] for the owner's log; no error text is ever returned as a reply.

mod commands;
mod config;
mod echo;
mod event;
mod exec;
mod memory;
#[cfg(feature = "openai")]
mod openai;
mod overlay;
mod prompts;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use imsg_channel::{HandlerError, InboundEvent, MessageHandler, Reply};

pub use commands::{Command, StatusSource, parse_command};
pub use config::{
    AgentConfig, AgentConfigError, BackendKind, DEFAULT_EXEC_MAX_OUTPUT_BYTES,
    DEFAULT_EXEC_TIMEOUT_MS, DEFAULT_MAX_SESSIONS, DEFAULT_MAX_TURNS, DEFAULT_OPENAI_TIMEOUT_MS,
    ExecConfig, OpenAiConfig,
};
pub use echo::EchoBackend;
pub use event::{
    AgentEvent, AttachmentInfo, ChatInfo, ChatKind, EVENT_VERSION, HistoryInfo, MessageEvent,
    ReactionNotice, ReplyToInfo, SenderInfo,
};
pub use exec::{ExecBackend, ExecError};
pub use memory::{SessionMemory, Turn};
#[cfg(feature = "openai")]
pub use openai::{ApiKey, OpenAiBackend, OpenAiError};
pub use overlay::{
    ConfigWriter, OVERLAY_FILE_NAME, OverlayError, apply_overlay, load_with_overlay, read_overlay,
};
pub use prompts::GroupPrompts;

/// One way of answering events.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// The backend's name (`echo`, `exec`, `openai`).
    fn name(&self) -> &'static str;

    /// Answers one event.
    ///
    /// # Errors
    ///
    /// Anything that kept the backend from answering; the caller logs it and sends nothing.
    async fn respond(&self, event: &AgentEvent) -> Result<Vec<Reply>, BackendError>;

    /// Forgets the conversation of `session_key`. `None` when this backend keeps no memory; otherwise how
    /// many exchanges were forgotten.
    fn forget(&self, _session_key: &str) -> Option<usize> {
        None
    }

    /// How many exchanges of `session_key` are remembered; `None` when this backend keeps no memory.
    fn remembered(&self, _session_key: &str) -> Option<usize> {
        None
    }

    /// Replaces the per-group system prompts after a config reload, keeping the conversation memory. Backends
    /// that use no prompts ignore it.
    fn set_group_prompts(&self, _prompts: GroupPrompts) {}

    /// A short description for `/status` (the model, the command).
    fn describe(&self) -> String {
        self.name().to_owned()
    }
}

/// Why a backend could not answer. Printed in the owner's log only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The `exec` command failed.
    #[error("exec backend: {0}")]
    Exec(#[from] ExecError),
    /// The chat completions endpoint failed.
    #[cfg(feature = "openai")]
    #[error("openai backend: {0}")]
    OpenAi(#[from] OpenAiError),
}

impl From<BackendError> for HandlerError {
    fn from(err: BackendError) -> Self {
        HandlerError::new(err.to_string())
    }
}

/// Why an [`Agent`] could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The `gateway.agent` section is invalid.
    #[error(transparent)]
    Config(#[from] AgentConfigError),
    /// The environment variable that should hold the API key is unset or empty.
    #[error(
        "gateway.agent.openai.apiKeyEnv: the environment variable `{0}` is not set or empty; export the key \
         under that name"
    )]
    MissingApiKey(String),
    /// The backend is not compiled into this binary.
    #[error(
        "gateway.agent.backend: the `{0}` backend is not built into this binary (cargo feature `{0}`)"
    )]
    NotBuilt(&'static str),
    /// The HTTP client could not be set up.
    #[error("gateway.agent.openai: cannot set up the HTTP client: {0}")]
    Http(String),
}

/// A backend behind the control commands: what the gateway hands to each channel.
#[derive(Clone)]
pub struct Agent {
    backend: Arc<dyn Backend>,
    commands: commands::Commands,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("backend", &self.backend)
            .field("status", &self.commands.status.is_some())
            .field("config_writer", &self.commands.config.is_some())
            .finish()
    }
}

impl Agent {
    /// An agent answering with `backend`, with `/help`, `/reset` and `/new`; `/status` and `/config` arrive
    /// with [`Agent::with_status`] and [`Agent::with_config_writer`].
    pub fn new(backend: Arc<dyn Backend>) -> Agent {
        Agent {
            backend,
            commands: commands::Commands::default(),
        }
    }

    /// Builds the configured backend. `group_prompts` are the per-group `systemPrompt`s of the account(s)
    /// this agent serves (used by the `openai` backend only).
    ///
    /// # Errors
    ///
    /// An invalid section, a missing API key, or a backend not built into this binary.
    pub fn from_config(
        config: &AgentConfig,
        group_prompts: GroupPrompts,
    ) -> Result<Agent, AgentError> {
        config.validate()?;
        let backend: Arc<dyn Backend> = match config.backend {
            BackendKind::Echo => Arc::new(EchoBackend::new()),
            BackendKind::Exec => {
                let Some(exec) = config.exec.clone() else {
                    return Err(AgentConfigError::missing_section(BackendKind::Exec).into());
                };
                Arc::new(ExecBackend::new(exec))
            }
            #[cfg(feature = "openai")]
            BackendKind::Openai => {
                let Some(openai) = config.openai.clone() else {
                    return Err(AgentConfigError::missing_section(BackendKind::Openai).into());
                };
                let key = match &openai.api_key_env {
                    Some(var) => Some(
                        ApiKey::from_env(var)
                            .ok_or_else(|| AgentError::MissingApiKey(var.clone()))?,
                    ),
                    None => None,
                };
                Arc::new(OpenAiBackend::new(openai, key, group_prompts)?)
            }
            #[cfg(not(feature = "openai"))]
            BackendKind::Openai => {
                drop(group_prompts);
                return Err(AgentError::NotBuilt("openai"));
            }
        };
        Ok(Agent::new(backend))
    }

    /// Answers `/status` with the account status `source` reports.
    #[must_use]
    pub fn with_status(mut self, source: Arc<dyn StatusSource>) -> Agent {
        self.commands.status = Some(source);
        self
    }

    /// Enables `/config set|unset`, writing through `writer` (still subject to `commands.config` and
    /// `configWrites` of the effective configuration).
    #[must_use]
    pub fn with_config_writer(mut self, writer: ConfigWriter) -> Agent {
        self.commands.config = Some(Arc::new(writer));
        self
    }

    /// Applies a reloaded configuration's group prompts without losing the conversation memory (rebuild the
    /// agent only when `gateway.agent` itself changed).
    pub fn set_group_prompts(&self, prompts: GroupPrompts) {
        self.backend.set_group_prompts(prompts);
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Answers one event: a control command of an authorized sender is run here; everything else goes to
    /// the backend.
    ///
    /// # Errors
    ///
    /// The backend's error, for the log.
    pub async fn answer(&self, event: &AgentEvent) -> Result<Vec<Reply>, BackendError> {
        if let AgentEvent::Message(message) = event
            && let Some(outcome) = self.commands.run(self.backend.as_ref(), message).await
        {
            return match outcome {
                commands::Outcome::Reply(text) => Ok(vec![Reply::text(text)]),
                commands::Outcome::Forward(rest) => {
                    let mut forwarded = message.clone();
                    forwarded.text = rest;
                    self.backend.respond(&AgentEvent::Message(forwarded)).await
                }
            };
        }
        self.backend.respond(event).await
    }
}

/// Turns a channel event into the agent's copy, or `None` (logged) for an event kind this build does not know.
fn to_agent_event(event: &InboundEvent) -> Option<AgentEvent> {
    let converted = AgentEvent::from_inbound(event);
    if converted.is_none() {
        tracing::debug!(
            session = event.session_key(),
            "agent: an event of a kind this build does not know is ignored"
        );
    }
    converted
}

#[async_trait]
impl MessageHandler for Agent {
    async fn handle(&self, event: InboundEvent) -> Result<Vec<Reply>, HandlerError> {
        let Some(event) = to_agent_event(&event) else {
            return Ok(Vec::new());
        };
        Ok(self.answer(&event).await?)
    }
}

/// Each backend is a handler on its own too (without the control commands).
macro_rules! backend_handler {
    ($t:ty) => {
        #[async_trait]
        impl MessageHandler for $t {
            async fn handle(&self, event: InboundEvent) -> Result<Vec<Reply>, HandlerError> {
                let Some(event) = to_agent_event(&event) else {
                    return Ok(Vec::new());
                };
                Ok(self.respond(&event).await?)
            }
        }
    };
}

backend_handler!(EchoBackend);
backend_handler!(ExecBackend);
#[cfg(feature = "openai")]
backend_handler!(OpenAiBackend);
