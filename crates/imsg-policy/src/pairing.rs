//! DM pairing as a pure state machine over a per-account snapshot, and the store seam that persists it.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use imsg_target::Handle;

use crate::access::DEFAULT_ACCOUNT_ID;
use crate::inbound::UnixMillis;

/// The pairing-code alphabet: no `0`/`O`, no `1`/`I`. It has 32 letters, so a
/// random byte masked with 31 picks one without bias.
pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The length of a pairing code (40 bits).
pub const CODE_LENGTH: usize = 8;

/// How long a pairing request lives after it was created; a repeat message does not extend it.
pub const REQUEST_TTL_MS: i64 = 60 * 60 * 1_000;

/// At most this many live requests per account; further strangers are ignored without a reply.
pub const MAX_PENDING_REQUESTS: usize = 3;

/// How many codes to draw before giving up on finding one not in use.
const MAX_CODE_ATTEMPTS: usize = 500;

/// Where pairing codes come from: the OS random source, or a script in tests.
pub trait CodeSource {
    /// Fills `bytes` with random bytes.
    ///
    /// # Errors
    ///
    /// Returns the random source's error; pairing then fails closed.
    fn fill(&mut self, bytes: &mut [u8]) -> Result<(), getrandom::Error>;
}

/// The operating system's random source, through `getrandom`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl CodeSource for OsRandom {
    fn fill(&mut self, bytes: &mut [u8]) -> Result<(), getrandom::Error> {
        getrandom::fill(bytes)
    }
}

/// A code source that replays a fixed list of bytes, cycling, so tests can force codes.
///
/// Byte `n` picks letter `n & 31` of [`CODE_ALPHABET`]: eight zeros give `AAAAAAAA`.
#[derive(Debug, Clone)]
pub struct ScriptedCodes {
    bytes: Vec<u8>,
    next: usize,
}

impl ScriptedCodes {
    /// Replays `bytes` in order, starting over at the end; an empty list replays zeros.
    pub fn new(bytes: Vec<u8>) -> ScriptedCodes {
        ScriptedCodes { bytes, next: 0 }
    }
}

impl CodeSource for ScriptedCodes {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), getrandom::Error> {
        for b in out {
            *b = self.bytes.get(self.next).copied().unwrap_or(0);
            self.next = (self.next + 1) % self.bytes.len().max(1);
        }
        Ok(())
    }
}

/// One pending pairing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingRequest {
    /// The normalized sender id the request is filed under.
    pub sender_id: String,
    /// The 8-character code.
    pub code: String,
    /// When the request was created; it expires an hour later.
    pub created_at: UnixMillis,
    /// When the sender last wrote.
    pub last_seen_at: UnixMillis,
    /// The DM's chat id, kept as request metadata.
    pub chat_id: Option<i64>,
}

impl PairingRequest {
    /// Whether the request has expired at `now` (strictly more than an hour old).
    pub fn is_expired(&self, now: UnixMillis) -> bool {
        now.millis_since(self.created_at) > REQUEST_TTL_MS
    }
}

/// What the snapshot says about a sender who is not approved, before any change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingState {
    /// No live request: one would be created and a code sent.
    New,
    /// A live request exists: nothing is sent again.
    Pending {
        /// Its code.
        code: String,
    },
    /// The account already has the maximum of live requests: the sender is ignored.
    CapReached,
}

impl fmt::Display for PendingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PendingState::New => f.write_str("a pairing request will be created and its code sent"),
            PendingState::Pending { code } => {
                write!(f, "request `{code}` is already pending, so nothing is sent again")
            }
            PendingState::CapReached => f.write_str(
                "the account already has the most pending requests allowed, so the sender is ignored",
            ),
        }
    }
}

/// What [`PairingSnapshot::request`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairOutcome {
    /// A new request was filed; send [`pairing_reply`] with this code.
    Created {
        /// The new code.
        code: String,
    },
    /// The sender already had a live request; send nothing.
    AlreadyPending {
        /// The existing code.
        code: String,
    },
    /// The account is at its cap of live requests; send nothing.
    CapReached,
}

/// A pairing operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PairingError {
    /// 500 codes in a row were already in use.
    #[error("failed to generate unique pairing code")]
    CodeExhausted,
    /// The random source failed.
    #[error("failed to read the random source for a pairing code")]
    Random {
        /// The random source's error.
        #[source]
        source: getrandom::Error,
    },
    /// No live request has this code.
    #[error("no pending pairing request has code `{code}`")]
    UnknownCode {
        /// The code as given.
        code: String,
    },
}

/// The pairing state of one account: approved senders and pending requests.
///
/// Every operation takes the time as an argument and prunes expired requests
/// first. Approvals belong to this account only: [`decide`](crate::decide)
/// ignores a snapshot whose account differs from the policy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingSnapshot {
    account_id: String,
    approved: BTreeSet<String>,
    requests: Vec<PairingRequest>,
}

impl PairingSnapshot {
    /// An empty state for `account_id`.
    pub fn new(account_id: impl Into<String>) -> PairingSnapshot {
        PairingSnapshot {
            account_id: account_id.into(),
            approved: BTreeSet::new(),
            requests: Vec::new(),
        }
    }

    /// Rebuilds a state from stored parts (the file-backed store uses this).
    ///
    /// Blank and `*` approvals are ignored, as the anchor does when reading its
    /// store: an approval names one sender, never everyone.
    pub fn from_parts(
        account_id: impl Into<String>,
        approved: impl IntoIterator<Item = String>,
        requests: Vec<PairingRequest>,
    ) -> PairingSnapshot {
        PairingSnapshot {
            account_id: account_id.into(),
            approved: approved
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty() && s != "*")
                .collect(),
            requests,
        }
    }

    /// The account this state belongs to.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The approved sender ids, sorted.
    pub fn approved(&self) -> impl Iterator<Item = &str> {
        self.approved.iter().map(String::as_str)
    }

    /// Every stored request, including expired ones not yet pruned.
    pub fn requests(&self) -> &[PairingRequest] {
        &self.requests
    }

    /// Whether `sender_id` (normalized) was approved on this account.
    pub fn is_approved(&self, sender_id: &str) -> bool {
        self.approved.contains(sender_id)
    }

    /// The live requests at `now`, oldest first.
    pub fn live_requests(&self, now: UnixMillis) -> Vec<&PairingRequest> {
        let mut live: Vec<_> = self
            .requests
            .iter()
            .filter(|r| !r.is_expired(now))
            .collect();
        live.sort_by_key(|r| (r.created_at, r.sender_id.clone()));
        live
    }

    /// What a message from `sender_id` would do at `now`, without changing anything:
    /// exactly what [`PairingSnapshot::request`] will do after pruning.
    pub fn pending_state(&self, sender_id: &str, now: UnixMillis) -> PendingState {
        let mut live: Vec<&PairingRequest> = self
            .requests
            .iter()
            .filter(|r| !r.is_expired(now))
            .collect();
        if live.len() > MAX_PENDING_REQUESTS {
            live.sort_by(|a, b| most_recently_seen_first(a, b));
            live.truncate(MAX_PENDING_REQUESTS);
        }
        if let Some(r) = live.iter().find(|r| r.sender_id == sender_id) {
            // A blank stored code is replaced, and still nothing is sent.
            return PendingState::Pending {
                code: r.code.clone(),
            };
        }
        if live.len() >= MAX_PENDING_REQUESTS {
            PendingState::CapReached
        } else {
            PendingState::New
        }
    }

    /// Removes expired requests, then keeps only the most recently seen
    /// [`MAX_PENDING_REQUESTS`] (a stored file may hold more).
    pub fn prune(&mut self, now: UnixMillis) {
        self.requests.retain(|r| !r.is_expired(now));
        if self.requests.len() > MAX_PENDING_REQUESTS {
            self.requests.sort_by(most_recently_seen_first);
            self.requests.truncate(MAX_PENDING_REQUESTS);
            self.requests.sort_by_key(|r| r.created_at);
        }
    }

    /// Files (or refreshes) a pairing request for `sender` at `now`.
    ///
    /// A live request keeps its code and creation time and only records
    /// `last_seen_at`; a blank stored code is replaced. A new sender gets a new
    /// code unless the account is at its cap, in which case nothing changes.
    ///
    /// # Errors
    ///
    /// [`PairingError::Random`] when the code source fails, and
    /// [`PairingError::CodeExhausted`] when 500 draws all collide.
    pub fn request(
        &mut self,
        sender: &Handle,
        chat_id: Option<i64>,
        now: UnixMillis,
        codes: &mut impl CodeSource,
    ) -> Result<PairOutcome, PairingError> {
        self.prune(now);
        let sender_id = sender.as_str();
        if let Some(idx) = self.requests.iter().position(|r| r.sender_id == sender_id) {
            if self.requests[idx].code.trim().is_empty() {
                let code = self.fresh_code(codes)?;
                self.requests[idx].code = code;
            }
            let request = &mut self.requests[idx];
            request.last_seen_at = now;
            if chat_id.is_some() {
                request.chat_id = chat_id;
            }
            return Ok(PairOutcome::AlreadyPending {
                code: request.code.clone(),
            });
        }
        if self.requests.len() >= MAX_PENDING_REQUESTS {
            return Ok(PairOutcome::CapReached);
        }
        let code = self.fresh_code(codes)?;
        self.requests.push(PairingRequest {
            sender_id: sender_id.to_owned(),
            code: code.clone(),
            created_at: now,
            last_seen_at: now,
            chat_id,
        });
        Ok(PairOutcome::Created { code })
    }

    /// Approves the live request with `code` (trimmed, any case) and returns its sender id.
    ///
    /// # Errors
    ///
    /// [`PairingError::UnknownCode`] when no live request has that code.
    pub fn approve(&mut self, code: &str, now: UnixMillis) -> Result<String, PairingError> {
        self.prune(now);
        let wanted = code.trim().to_ascii_uppercase();
        let idx = self
            .requests
            .iter()
            .position(|r| !wanted.is_empty() && r.code.trim().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| PairingError::UnknownCode {
                code: code.trim().to_owned(),
            })?;
        let request = self.requests.remove(idx);
        self.approved.insert(request.sender_id.clone());
        Ok(request.sender_id)
    }

    /// Withdraws an approval; returns whether there was one.
    pub fn revoke(&mut self, sender_id: &str) -> bool {
        self.approved.remove(sender_id)
    }

    /// Draws codes until one is not used by a live request.
    fn fresh_code(&self, codes: &mut impl CodeSource) -> Result<String, PairingError> {
        for _ in 0..MAX_CODE_ATTEMPTS {
            let mut bytes = [0u8; CODE_LENGTH];
            codes
                .fill(&mut bytes)
                .map_err(|source| PairingError::Random { source })?;
            let code: String = bytes
                .iter()
                .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
                .collect();
            // Approval matches codes in any case, so uniqueness must too.
            if !self
                .requests
                .iter()
                .any(|r| r.code.trim().eq_ignore_ascii_case(&code))
            {
                return Ok(code);
            }
        }
        Err(PairingError::CodeExhausted)
    }
}

/// The order in which [`PairingSnapshot::prune`] keeps requests over the cap.
fn most_recently_seen_first(a: &PairingRequest, b: &PairingRequest) -> std::cmp::Ordering {
    b.last_seen_at
        .cmp(&a.last_seen_at)
        .then(a.sender_id.cmp(&b.sender_id))
}

/// The name of the gateway binary, as it appears in the approve command.
const BINARY: &str = "imsg-gateway";

/// The text sent to a new sender when their pairing request is created.
///
/// It names the sender id, the code and the exact command that approves it,
/// with `--account <id>` when the account is not the default one.
pub fn pairing_reply(account_id: &str, sender_id: &str, code: &str) -> String {
    let account = if account_id == DEFAULT_ACCOUNT_ID {
        String::new()
    } else {
        format!(" --account {account_id}")
    };
    format!(
        "{BINARY}: access not configured.\n\nYour iMessage sender id: {sender_id}\n\nPairing code: {code}\n\nAsk the bot owner to approve with:\n{BINARY} pairing approve imessage {code}{account}"
    )
}

/// Persistence for pairing state, one snapshot per account.
///
/// Static dispatch only: methods return `impl Future + Send`, so the channel
/// can await them on any runtime and this crate needs none. `update` is a
/// read-modify-write under the store's lock, so the gateway and a concurrent
/// `pairing approve` never lose each other's change.
pub trait PairingStore {
    /// What can go wrong reading or writing the store.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The current state of `account_id` (empty when nothing is stored).
    ///
    /// # Errors
    ///
    /// The store's error; callers fail closed (no pairing-dependent DM passes).
    fn load(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<PairingSnapshot, Self::Error>> + Send;

    /// Applies `change` to the state of `account_id` atomically and returns its result.
    ///
    /// # Errors
    ///
    /// The store's error; when it fails the change is not persisted.
    fn update<R, F>(
        &self,
        account_id: &str,
        change: F,
    ) -> impl Future<Output = Result<R, Self::Error>> + Send
    where
        F: FnOnce(&mut PairingSnapshot) -> R + Send,
        R: Send;
}

/// A [`PairingStore`] in memory, for tests and embedders that persist elsewhere.
#[derive(Debug, Default)]
pub struct MemoryPairingStore {
    accounts: Mutex<BTreeMap<String, PairingSnapshot>>,
}

impl MemoryPairingStore {
    /// An empty store.
    pub fn new() -> MemoryPairingStore {
        MemoryPairingStore::default()
    }

    /// Runs `f` on the snapshot of `account_id`, creating it when absent.
    fn with<R>(&self, account_id: &str, f: impl FnOnce(&mut PairingSnapshot) -> R) -> R {
        // A panic while holding the lock cannot leave a snapshot half-written
        // (every change is applied to a value in place), so poisoning is ignored.
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = accounts
            .entry(account_id.to_owned())
            .or_insert_with(|| PairingSnapshot::new(account_id));
        f(snapshot)
    }
}

impl PairingStore for MemoryPairingStore {
    type Error = Infallible;

    fn load(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<PairingSnapshot, Infallible>> + Send {
        std::future::ready(Ok(self.with(account_id, |s| s.clone())))
    }

    fn update<R, F>(
        &self,
        account_id: &str,
        change: F,
    ) -> impl Future<Output = Result<R, Infallible>> + Send
    where
        F: FnOnce(&mut PairingSnapshot) -> R + Send,
        R: Send,
    {
        std::future::ready(Ok(self.with(account_id, change)))
    }
}
