//! The iMessage channel configuration: JSON5 text in, validated per-account settings out.
//!
//! The pipeline is Raw → merge → Resolved. The text is parsed into raw serde types that hold exactly what
//! the file says (unknown keys inside the iMessage section are rejected with a "did you mean"); the section
//! and each account are merged by one explicit function (its per-field rules are tabled in `docs/config.md`); defaults are applied after the merge; and every value is turned into the types of
//! `imsg-target` and `imsg-policy`. Every error is a [`ConfigError`] that prints as one line:
//! `<file>: <dotted.path>: <what> at line L column C`.
//!
//! ```
//! let text = r#"{ channels: { imessage: { dmPolicy: "open", allowFrom: ["*"] } } }"#;
//! let config = imsg_config::from_str(text, &imsg_config::LoadOptions::new("config.json5"))?;
//! assert_eq!(config.accounts.len(), 1);
//! assert_eq!(config.default_account.as_deref(), Some("default"));
//! # Ok::<(), imsg_config::ConfigError>(())
//! ```
//!
//! The crate does no I/O except in [`load_file`], and never panics on any input.

// The pipeline, in order: text to raw, legacy keys moved, values checked where written, section and
// account merged, defaults and domain types applied.
mod check;
mod merge;
mod migrate;
mod parse;
mod raw;
mod resolve;
mod resolved;

// What the stages share.
mod context;
mod convert;
mod error;
mod globals;
mod load;
mod locate;
mod schema;
mod validate;

pub use error::{ConfigError, ConfigErrorKind, Position};
pub use load::{LoadOptions, from_str, load_file};
pub use resolved::{
    CatchupSettings, ChannelLimits, ChunkMode, ConfigWarning, DEFAULT_ATTACHMENT_ROOT, DmScope,
    Executable, ProcessSettings, ReactionNotifications, ResolvedAccount, ResolvedConfig, TableMode,
};
pub use schema::json_schema;
pub use validate::{is_safe_executable, normalize_account_id};
