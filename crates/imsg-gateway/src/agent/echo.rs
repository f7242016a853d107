//! The `echo` backend: answers with what it received and why the message was let through, so a new setup
//! can be checked from a phone without any model.

use async_trait::async_trait;
use imsg_channel::Reply;

use super::event::{AgentEvent, ChatKind, MessageEvent, ReactionNotice};
use super::{Backend, BackendError};

/// Answers every message with its text and the facts of its admission.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoBackend;

impl EchoBackend {
    /// The echo backend.
    pub fn new() -> EchoBackend {
        EchoBackend
    }

    /// The reply to `message`: `echo: <text>` and a line saying how it was admitted.
    pub fn describe_message(message: &MessageEvent) -> String {
        let chat = match message.chat.kind {
            ChatKind::Direct => "direct chat".to_owned(),
            ChatKind::Group => {
                let name = message
                    .group_subject
                    .as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map_or_else(String::new, |s| format!(" \"{s}\""));
                let id = message
                    .chat
                    .id
                    .map_or_else(String::new, |id| format!(" (chat {id})"));
                format!("group{name}{id}")
            }
        };
        let mention = match (message.chat.kind, message.was_mentioned) {
            (ChatKind::Direct, _) => "direct message",
            (ChatKind::Group, true) => "mentioned",
            (ChatKind::Group, false) => "not mentioned",
        };
        let commands = if message.command_authorized {
            "commands authorized"
        } else {
            "commands not authorized"
        };
        let mut extras = String::new();
        if !message.history.is_empty() {
            extras.push_str(&format!(
                " · {} earlier message(s) as context",
                message.history.len()
            ));
        }
        if !message.attachments.is_empty() {
            extras.push_str(&format!(" · {} attachment(s)", message.attachments.len()));
        }
        format!(
            "echo: {}\n[{chat} over {} · from {} · admitted: {mention}, {commands}{extras}]",
            message.text, message.chat.service, message.sender.id
        )
    }

    fn describe_reaction(reaction: &ReactionNotice) -> String {
        let what = reaction
            .emoji
            .as_deref()
            .map_or_else(|| reaction.reaction.clone(), str::to_owned);
        let verb = if reaction.added { "added" } else { "removed" };
        let target = if reaction.on_own_message {
            "one of my messages"
        } else {
            "a message"
        };
        format!(
            "echo: reaction {what} {verb} by {} on {target}",
            reaction.sender.id
        )
    }
}

#[async_trait]
impl Backend for EchoBackend {
    fn name(&self) -> &'static str {
        "echo"
    }

    async fn respond(&self, event: &AgentEvent) -> Result<Vec<Reply>, BackendError> {
        let text = match event {
            AgentEvent::Message(message) => EchoBackend::describe_message(message),
            AgentEvent::Reaction(reaction) => EchoBackend::describe_reaction(reaction),
        };
        Ok(vec![Reply::text(text)])
    }
}
