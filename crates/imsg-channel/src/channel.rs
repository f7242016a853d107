//! The `Channel` trait a gateway holds, and the values it passes in and out.

use std::sync::Arc;

use async_trait::async_trait;
use imsg_policy::UnixMillis;
use imsg_target::Target;

use crate::error::ChannelError;
use crate::handler::MessageHandler;

/// One messaging account as a gateway sees it, held as `Arc<dyn Channel>`.
///
/// The trait is object safe on purpose: a gateway keeps channels of different kinds in one list.
#[async_trait]
pub trait Channel: Send + Sync + std::fmt::Debug {
    /// The account id this channel serves (normalized, for example `default`).
    fn id(&self) -> &str;

    /// Starts receiving: every admitted message goes to `handler`, and its replies go back to the
    /// conversation the message came from. Returns once the channel is serving (or failed to start).
    ///
    /// # Errors
    ///
    /// [`ChannelError::AlreadyRunning`], or the reason the transport could not be brought up.
    async fn start(&self, handler: Arc<dyn MessageHandler>) -> Result<(), ChannelError>;

    /// Sends one message that no inbound message asked for (a CLI `message send`, a notice).
    ///
    /// The target is checked against the outbound policy first. At most once: an unknown outcome is
    /// reported as [`ChannelError::SendOutcomeUnknown`] and never retried.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Refused`] when the policy forbids the target, or the transport's error.
    async fn send(&self, message: OutboundMessage) -> Result<SendReceipt, ChannelError>;

    /// Checks that the installation works (rpc support, a round trip, permissions) without
    /// disturbing a running channel.
    async fn probe(&self) -> ProbeReport;

    /// The live status.
    fn status(&self) -> ChannelStatus;

    /// Stops receiving, drains in-flight replies within a bound, and stops the transport.
    ///
    /// # Errors
    ///
    /// The transport's error while stopping; the channel is stopped either way.
    async fn stop(&self) -> Result<(), ChannelError>;
}

/// A message to send that no inbound message asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboundMessage {
    /// Where to send it.
    pub target: Target,
    /// The text (markdown is rendered to plain text and chunked on the way out).
    pub text: String,
    /// An optional local file to attach.
    pub file: Option<std::path::PathBuf>,
}

impl OutboundMessage {
    /// A text message to `target`.
    pub fn text(target: Target, text: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            target,
            text: text.into(),
            file: None,
        }
    }

    /// Attaches a local file.
    pub fn with_file(mut self, file: impl Into<std::path::PathBuf>) -> OutboundMessage {
        self.file = Some(file.into());
        self
    }
}

/// What `imsg` said about one delivered message (one per chunk sent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SendReceipt {
    /// The guids of the rows `imsg` reported, one per chunk when it reported one.
    pub guids: Vec<String>,
    /// How many sends were made (chunks and file).
    pub sends: usize,
}

/// The lifecycle state of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChannelState {
    /// Not started, or stopped.
    #[default]
    Stopped,
    /// Spawning and probing `imsg`.
    Starting,
    /// Subscribed and serving.
    Running,
    /// The transport failed; waiting to restart.
    Backoff,
    /// Cannot run until the owner fixes something (Full Disk Access, no rpc, bad config).
    Failed,
}

impl ChannelState {
    /// The lowercase name used in status output.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Stopped => "stopped",
            ChannelState::Starting => "starting",
            ChannelState::Running => "running",
            ChannelState::Backoff => "backoff",
            ChannelState::Failed => "failed",
        }
    }
}

/// A snapshot of a channel's live status.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct ChannelStatus {
    /// The account id.
    pub account_id: String,
    /// The lifecycle state.
    pub state: ChannelState,
    /// The last recorded error, safe to show to the owner.
    pub last_error: Option<String>,
    /// How many times the transport was restarted.
    pub restarts: u64,
    /// When the last inbound message arrived.
    pub last_inbound_at: Option<i64>,
    /// When the last outbound send was made.
    pub last_outbound_at: Option<i64>,
    /// When the channel last (re)started serving.
    pub last_start_at: Option<i64>,
}

impl ChannelStatus {
    /// A stopped status for `account_id`.
    pub fn stopped(account_id: impl Into<String>) -> ChannelStatus {
        ChannelStatus {
            account_id: account_id.into(),
            ..ChannelStatus::default()
        }
    }

    /// Records `at` as the last inbound time.
    pub fn note_inbound(&mut self, at: UnixMillis) {
        self.last_inbound_at = Some(at.as_millis());
    }

    /// Records `at` as the last outbound time.
    pub fn note_outbound(&mut self, at: UnixMillis) {
        self.last_outbound_at = Some(at.as_millis());
    }
}

/// The result of [`Channel::probe`].
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct ProbeReport {
    /// Whether everything needed to serve works.
    pub ok: bool,
    /// The `imsg --version` output, when it answered.
    pub version: Option<String>,
    /// Whether `imsg rpc` is supported.
    pub rpc_supported: bool,
    /// The round-trip time of `chats.list {limit:1}` in milliseconds, when it answered.
    pub round_trip_ms: Option<u64>,
    /// Private-API capabilities `imsg status --json` reported (typing, read receipts), by name.
    pub capabilities: Vec<String>,
    /// What failed, with the fix where one is known (for example Full Disk Access).
    pub error: Option<String>,
}
