//! The one error type of the channel.

use std::sync::Arc;

/// What can go wrong starting, running or sending through a channel.
///
/// Every variant's text is safe to log; none of it is ever sent to a contact.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// `start` was called on a channel that is already running.
    #[error("channel `{0}` is already running")]
    AlreadyRunning(String),
    /// The operation needs a running channel.
    #[error("channel `{0}` is not running")]
    NotRunning(String),
    /// The target of an outbound message did not parse or is not allowed.
    #[error("outbound message refused: {0}")]
    Refused(String),
    /// `imsg` could not be started or does not speak `rpc`.
    #[error("imsg is unavailable: {0}")]
    Unavailable(String),
    /// `imsg` cannot read the Messages database (Full Disk Access), with the fix in the text.
    #[error("imsg cannot read the Messages database: {0}")]
    Permission(String),
    /// A `send` may or may not have been delivered (timeout or child death mid-send); it is never retried.
    #[error("send outcome unknown: {0}")]
    SendOutcomeUnknown(String),
    /// The transport failed.
    #[error("imsg rpc failed: {0}")]
    Rpc(Arc<imsg_rpc::RpcError>),
    /// A persistence store failed.
    #[error("store failed: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The configuration cannot run (for example two accounts on one chat.db).
    #[error("configuration: {0}")]
    Config(String),
}

impl From<imsg_rpc::RpcError> for ChannelError {
    fn from(error: imsg_rpc::RpcError) -> Self {
        ChannelError::Rpc(Arc::new(error))
    }
}
