//! The seam between a gateway and iMessage: the `Channel` trait and the iMessage channel that joins
//! `imsg-rpc`, `imsg-policy` and `imsg-config`.
//!
//! - [`Channel`] is what a gateway holds (`Arc<dyn Channel>`): start it with a [`MessageHandler`],
//!   send through it, probe it, read its [`ChannelStatus`], stop it.
//! - [`MessageHandler`] is the agent side: it receives an [`InboundEvent`] (a message in an
//!   [`InboundEnvelope`], or a reaction) and returns zero or more [`Reply`]s, which the channel sends
//!   back to the conversation the event came from.
//! - [`store`] holds the persistence seams: the cursor and the dedupe record (and the file-backed
//!   pairing store), each in memory and on disk.

pub mod attachments;
mod channel;
mod error;
mod handler;
pub mod outbound_text;
pub mod store;

pub use channel::{
    Channel, ChannelState, ChannelStatus, OutboundMessage, ProbeReport, SendReceipt,
};
pub use error::ChannelError;
pub use handler::{
    Attachment, AttachmentKind, HandlerError, HistoryEntry, InboundEnvelope, InboundEvent,
    MessageHandler, ReactionEvent, Reply, ReplyRoute, ReplyTo, Sender,
};
