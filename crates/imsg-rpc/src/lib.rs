//! A JSON-RPC 2.0 client for `imsg rpc`: bounded framing, typed methods, ordered notifications.
//!
//! [`RpcClient`] runs over any `AsyncRead + AsyncWrite` (tests use `tokio::io::duplex`);
//! [`spawn`] starts `<cliPath> rpc [--db <dbPath>]` and connects a client to its pipes, and
//! [`probe`] checks an installation the way the reference gateways do. One driver task owns
//! the stream and the pending-request table; callers hold clonable handles. A bad, oversized or
//! non-UTF-8 line is counted and skipped, never fatal. Notifications arrive in order through a
//! bounded channel with back-pressure, and nothing is dropped. When the peer exits, every
//! pending and later request fails with one recorded error naming the exit status and the
//! stderr tail. A `send` that times out is reported as [`RpcError::SendOutcomeUnknown`] and is
//! never retried.

mod client;
mod error;
mod frame;
mod probe;
mod process;
mod wire;

pub use client::{ClientConfig, Counters, Notifications, RpcClient, decode_notification_line};
pub use error::{INTERNAL_ERROR, RpcError};
pub use frame::{DEFAULT_MAX_LINE_BYTES, Frame, LineDecoder};
pub use probe::{ProbeReport, check_rpc_help, find_program, probe};
pub use process::{ImsgChild, SpawnOptions, spawn};
pub use wire::{
    Attachment, Chat, ChatsList, ChatsListParams, History, HistoryParams, Message, MessageEvent,
    Notification, OkResult, Reaction, ReadParams, SendParams, SendResult, SendTarget, Service,
    StreamError, StreamErrorDetail, SubscribeParams, Subscription, Transport, TypingParams,
    UnsubscribeParams,
};
