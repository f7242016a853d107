//! Pure access policy for the iMessage channel: who may talk to someone's assistant.
//!
//! The crate decides, for one inbound message, whether to hand it to the
//! agent, answer with a pairing code, or drop it, and it never fails: anything
//! doubtful is a drop with a typed reason. It performs no I/O and reads no
//! clock; time, pairing state and recent own sends are inputs.
//!
//! - [`AccessPolicy`] is the resolved policy of one account, built once with
//!   [`AccessPolicy::builder`] (the config crate does this).
//! - [`decide`] maps an [`InboundMessage`] and a [`DecideContext`] (pairing
//!   snapshot, recent sends, loop guard, time) to a [`Decision`];
//!   [`decide_explained`] adds the chain of checks for `policy explain`.
//! - [`PairingSnapshot`] is the pairing state machine; [`PairingStore`]
//!   persists it, [`MemoryPairingStore`] in memory.
//! - [`check_outbound`] says whether the agent may send to a target.
//! - [`startup_warnings`] lists what will surprise the owner at run time.
//! - With the `proptest` feature, the `testing` module holds strategies and
//!   invariant checks to property-test a configuration in CI; its docs show
//!   the complete CI test a user writes (`tests/user_ci_example.rs`).

mod access;
mod allowlist;
mod command;
mod decide;
mod echo;
mod inbound;
mod mention;
mod outbound;
mod pairing;
mod settings;
#[cfg(feature = "proptest")]
pub mod testing;

pub use access::{
    AccessPolicy, AccessPolicyBuilder, DEFAULT_ACCOUNT_ID, PolicyWarning, startup_warnings,
};
pub use decide::{
    Admission, ChatType, Check, DecideContext, Decision, Dispatch, DropReason, Explanation,
    PairRequest, SessionPeer, Step, decide, decide_explained,
};
pub use echo::{
    ECHO_GUID_TTL_MS, ECHO_TEXT_TTL_MS, LOOP_LIMIT, LOOP_WINDOW_MS, LoopGuard, RecentSends,
};
pub use inbound::{ChatKey, InboundMessage, UnixMillis};
pub use mention::{MentionPatternError, MentionPatterns};
pub use outbound::{OutboundError, ReplyOrigin, check_outbound};
pub use pairing::{
    CODE_ALPHABET, CODE_LENGTH, CodeSource, MAX_PENDING_REQUESTS, MemoryPairingStore, OsRandom,
    PairOutcome, PairingError, PairingRequest, PairingSnapshot, PairingStore, PendingState,
    REQUEST_TTL_MS, ScriptedCodes, pairing_reply,
};
pub use settings::{CommandSettings, DmPolicy, GroupPolicy, GroupRule, ParsePolicyError};
