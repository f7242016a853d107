//! Pure access policy for the iMessage channel: who may talk to someone's assistant.
//!
//! The crate decides, for one inbound message, whether to hand it to the
//! agent, answer with a pairing code, or drop it, and it never fails: anything
//! doubtful is a drop with a typed reason. It performs no I/O and reads no
//! clock; time, pairing state and recent own sends are inputs.

mod access;
mod allowlist;
mod mention;
mod settings;

pub use access::{
    AccessPolicy, AccessPolicyBuilder, DEFAULT_ACCOUNT_ID, PolicyWarning, startup_warnings,
};
pub use mention::{MentionPatternError, MentionPatterns};
pub use settings::{CommandSettings, DmPolicy, GroupPolicy, GroupRule, ParsePolicyError};
