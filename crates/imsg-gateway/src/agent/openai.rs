//! The `openai` backend: any OpenAI-compatible chat completions endpoint (a local llama.cpp or Ollama
//! server, or a hosted one).
//!
//! Each message becomes `POST {baseUrl}/chat/completions` with the system prompt (plus the group's
//! `systemPrompt`), the session's remembered exchanges and the new message. A provider failure (an HTTP
//! error status, a timeout, an unreadable answer) is an [`OpenAiError`] for the log; the contact gets
//! nothing, and the exchange is not remembered.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use imsg_channel::Reply;
use serde::{Deserialize, Serialize};

use super::config::OpenAiConfig;
use super::event::{AgentEvent, ChatKind, MessageEvent};
use super::memory::{SessionMemory, Turn};
use super::prompts::GroupPrompts;
use super::{AgentError, Backend, BackendError};

/// The most response body read from the provider; a larger answer is an error.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// How much of an error body is kept for the log.
const ERROR_BODY_KEEP: usize = 300;

/// An API key. It has no `Display`, its `Debug` prints a placeholder, and it is only read to build the
/// `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key held in the environment variable `var`; `None` when unset, not UTF-8 or blank.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(ApiKey)
    }

    /// Replaces every occurrence of the key in `text`, for logging what a provider sent back.
    fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Why the provider gave no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenAiError {
    /// The endpoint answered with an error status (401, 429, 5xx, ...).
    #[error("{url} answered HTTP {status}: {body:?}")]
    Status {
        /// The request URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body, with the key scrubbed out.
        body: String,
    },
    /// No answer within `timeoutMs`.
    #[error("{url} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The request URL.
        url: String,
        /// The limit.
        timeout_ms: u64,
    },
    /// The request could not be made (connection refused, TLS, ...).
    #[error("{url}: {message}")]
    Transport {
        /// The request URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The answer is not a chat completion.
    #[error("{url} answered something that is not a chat completion: {message}")]
    Malformed {
        /// The request URL.
        url: String,
        /// What was wrong.
        message: String,
    },
}

/// One chat message of the request and of the memory.
#[derive(Debug, Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Debug, Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage<'a>>,
}

#[derive(Debug, Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Debug, Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Option<String>,
}

/// Asks an OpenAI-compatible endpoint, remembering each session's last exchanges.
pub struct OpenAiBackend {
    client: reqwest::Client,
    url: String,
    config: OpenAiConfig,
    key: Option<ApiKey>,
    /// Replaced on a config reload (see [`Backend::set_group_prompts`]); read once per message.
    prompts: RwLock<Arc<GroupPrompts>>,
    memory: SessionMemory,
}

impl fmt::Debug for OpenAiBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiBackend")
            .field("url", &self.url)
            .field("model", &self.config.model)
            .field("key", &self.key)
            .field("sessions", &self.memory.session_count())
            .finish_non_exhaustive()
    }
}

impl OpenAiBackend {
    /// A backend for `config`, authenticating with `key` when given.
    ///
    /// # Errors
    ///
    /// [`AgentError::Http`] when the HTTP client cannot be set up (no TLS roots, for example).
    pub fn new(
        config: OpenAiConfig,
        key: Option<ApiKey>,
        prompts: GroupPrompts,
    ) -> Result<OpenAiBackend, AgentError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|err| AgentError::Http(err.to_string()))?;
        let url = format!(
            "{}/chat/completions",
            config.base_url.trim().trim_end_matches('/')
        );
        let memory = SessionMemory::new(config.max_turns, config.max_sessions);
        Ok(OpenAiBackend {
            client,
            url,
            config,
            key,
            prompts: RwLock::new(Arc::new(prompts)),
            memory,
        })
    }

    /// The system prompt for `message`: the configured one, then the group's, joined by a blank line.
    fn system_prompt(&self, message: &MessageEvent) -> Option<String> {
        let base = self
            .config
            .system_prompt
            .as_deref()
            .filter(|p| !p.trim().is_empty());
        let prompts = Arc::clone(&self.prompts.read().unwrap_or_else(PoisonError::into_inner));
        let group = match message.chat.kind {
            ChatKind::Group => prompts.lookup(
                &message.account_id,
                message.chat.id,
                message.chat.guid.as_deref(),
            ),
            ChatKind::Direct => None,
        };
        match (base, group) {
            (Some(b), Some(g)) => Some(format!("{b}\n\n{g}")),
            (Some(p), None) | (None, Some(p)) => Some(p.to_owned()),
            (None, None) => None,
        }
    }

    /// What the model sees as the user's turn: the earlier unseen messages, the quoted message, and the
    /// message itself (in a group, each line names its sender).
    fn user_content(message: &MessageEvent) -> String {
        let mut content = String::new();
        if !message.history.is_empty() {
            content.push_str("[Earlier messages in this chat]\n");
            for entry in &message.history {
                content.push_str(&format!("{}: {}\n", entry.sender, entry.body));
            }
            content.push_str("[New message]\n");
        }
        if let Some(body) = message.reply_to.as_ref().and_then(|r| r.body.as_deref()) {
            let who = message
                .reply_to
                .as_ref()
                .and_then(|r| r.sender.as_deref())
                .unwrap_or("someone");
            content.push_str(&format!("[Replying to {who}: {body}]\n"));
        }
        match message.chat.kind {
            ChatKind::Group => {
                content.push_str(&format!("{}: {}", message.sender.label, message.text))
            }
            ChatKind::Direct => content.push_str(&message.text),
        }
        content
    }

    fn scrub(&self, text: &str) -> String {
        self.key
            .as_ref()
            .map_or_else(|| text.to_owned(), |k| k.scrub(text))
    }

    fn transport_error(&self, err: &reqwest::Error) -> OpenAiError {
        if err.is_timeout() {
            OpenAiError::Timeout {
                url: self.url.clone(),
                timeout_ms: self.config.timeout_ms,
            }
        } else {
            OpenAiError::Transport {
                url: self.url.clone(),
                message: self.scrub(&error_chain(err)),
            }
        }
    }

    /// Sends one completion request and returns the answer text.
    async fn complete(&self, messages: Vec<ChatMessage<'_>>) -> Result<String, OpenAiError> {
        let body = ChatRequest {
            model: &self.config.model,
            messages,
        };
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(&key.0);
        }
        let mut response = request
            .send()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let status = response.status();
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport_error(&err))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                too_large = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let excerpt: String = text.trim().chars().take(ERROR_BODY_KEEP).collect();
            return Err(OpenAiError::Status {
                url: self.url.clone(),
                status: status.as_u16(),
                body: self.scrub(&excerpt),
            });
        }
        if too_large {
            return Err(OpenAiError::Malformed {
                url: self.url.clone(),
                message: format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        let parsed: ChatResponse =
            serde_json::from_slice(&bytes).map_err(|err| OpenAiError::Malformed {
                url: self.url.clone(),
                message: err.to_string(),
            })?;
        let Some(choice) = parsed.choices.into_iter().next() else {
            return Err(OpenAiError::Malformed {
                url: self.url.clone(),
                message: "no choices".to_owned(),
            });
        };
        Ok(choice.message.content.unwrap_or_default())
    }
}

/// The error and its causes on one line (reqwest's top-level message alone says little).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[async_trait]
impl Backend for OpenAiBackend {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn respond(&self, event: &AgentEvent) -> Result<Vec<Reply>, BackendError> {
        let AgentEvent::Message(message) = event else {
            tracing::debug!(
                session = event.session_key(),
                "openai backend: reactions are not sent to the model"
            );
            return Ok(Vec::new());
        };
        let system = self.system_prompt(message);
        let user = OpenAiBackend::user_content(message);
        let turns = self.memory.turns(&message.session_key);
        let mut messages = Vec::with_capacity(turns.len() * 2 + 2);
        if let Some(system) = &system {
            messages.push(ChatMessage {
                role: "system",
                content: system,
            });
        }
        for turn in &turns {
            messages.push(ChatMessage {
                role: "user",
                content: &turn.user,
            });
            messages.push(ChatMessage {
                role: "assistant",
                content: &turn.assistant,
            });
        }
        messages.push(ChatMessage {
            role: "user",
            content: &user,
        });
        let answer = self.complete(messages).await?;
        let answer = answer.trim();
        if answer.is_empty() {
            tracing::warn!(
                session = %message.session_key,
                url = %self.url,
                "openai backend: the model answered with empty text; nothing is sent"
            );
            return Ok(Vec::new());
        }
        self.memory.record(
            &message.session_key,
            Turn {
                user,
                assistant: answer.to_owned(),
            },
        );
        Ok(vec![Reply::text(answer)])
    }

    fn forget(&self, session_key: &str) -> Option<usize> {
        Some(self.memory.clear(session_key))
    }

    fn set_group_prompts(&self, prompts: GroupPrompts) {
        *self.prompts.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(prompts);
    }

    fn remembered(&self, session_key: &str) -> Option<usize> {
        Some(self.memory.turns(session_key).len())
    }

    fn describe(&self) -> String {
        format!("openai (model `{}`)", self.config.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let key = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(
            key.scrub("bad key sk-secret-123 given"),
            "bad key [redacted] given"
        );
    }
}
