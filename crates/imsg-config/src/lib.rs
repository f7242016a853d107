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

mod error;
mod load;
mod locate;
mod merge;
mod raw;
mod resolved;
mod schema;
mod validate;

pub use error::{ConfigError, ConfigErrorKind, Position};
pub use load::{DEFAULT_ATTACHMENT_ROOT, LoadOptions, from_str, load_file};
pub use resolved::{
    ChannelLimits, ChunkMode, ConfigWarning, DmScope, ProcessSettings, ReactionNotifications,
    ResolvedAccount, ResolvedConfig, TableMode,
};
pub use schema::json_schema;
