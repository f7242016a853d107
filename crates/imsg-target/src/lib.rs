//! Target grammar and handle normalization for the iMessage channel.
//!
//! This crate is the pure leaf of the workspace: it parses send targets
//! (`chat_id:42`, `sms:+15551234567`, …), allowlist entries and sender
//! handles, and normalizes handles so that two spellings of the same person
//! compare equal while two different people never do. It performs no I/O.
//!
//! The grammar follows the anchor gateway (see `docs/targets.md` in the
//! workspace for every deliberate difference).
//!
//! ```
//! use imsg_target::{AllowEntry, Handle, Region, Service, Target};
//!
//! let target: Target = "sms:+15551234567".parse()?;
//! assert_eq!(
//!     target,
//!     Target::Handle { to: "+15551234567".into(), service: Service::Sms }
//! );
//! assert_eq!(target.to_string(), "sms:+15551234567");
//!
//! let region = Region::default();
//! let sender = Handle::normalize("(415) 555-2671", &region);
//! assert_eq!(sender.as_ref().map(Handle::as_str), Some("+14155552671"));
//!
//! let entry = AllowEntry::parse("imessage:+1 415 555 2671", &region)?;
//! assert_eq!(entry.to_string(), "imessage:+14155552671");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod allow;
mod handle;
mod messaging;
mod prefix;
mod region;
mod service;
mod target;

pub use allow::{
    AllowEntry, ParseAllowEntryError, ParseAllowFromEntriesError, parse_allow_from_entries,
};
pub use handle::{Handle, HandleKind, normalize_phone};
pub use messaging::{
    ChatType, TARGET_ID_HINT, format_chat_target, infer_chat_type, looks_like_explicit_target_id,
    looks_like_target_id, normalize_handle, normalize_messaging_target,
};
pub use prefix::ChatPrefixError;
pub use region::{InvalidRegionError, Region};
pub use service::{ParseServiceError, Service};
pub use target::{ParseTargetError, Target};
