//! The one configuration error type: a file name, a dotted key path, what is wrong, and where.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use imsg_target::{InvalidRegionError, ParseAllowEntryError, ParseTargetError};

/// A 1-based line and column in the configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// The line, starting at 1.
    pub line: usize,
    /// The column in characters, starting at 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// Why a configuration was rejected.
///
/// Each message is one lowercase sentence; the [`ConfigError`] around it adds the file, the key path and the
/// position. Causes from other crates (the I/O error, an allow-entry, target or region error) are kept typed
/// and returned by [`std::error::Error::source`] of the kind.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read; the source is the `Arc<std::io::Error>` (shared, so the error stays
    /// `Clone`).
    #[error("cannot read the file: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// The text is not valid JSON5.
    #[error("invalid JSON5: {0}")]
    Syntax(String),
    /// A value has the wrong type or an unknown enum variant.
    #[error("{0}")]
    Type(String),
    /// A key that the iMessage section does not know.
    #[error("unknown key `{key}`{}", did_you_mean(.suggestion.as_deref()))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The closest known key, when one is close enough.
        suggestion: Option<String>,
    },
    /// The same key twice in one object; JSON5 would silently keep the last.
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    /// `accounts` or `defaultAccount` inside an account object.
    #[error("`{0}` is only allowed directly under channels.imessage")]
    NestedAccountKey(String),
    /// Two account keys that normalize to the same id (for example `Work` and `work`).
    #[error("account `{key}` has the same id `{id}` as account `{other}`")]
    DuplicateAccountId {
        /// The later key.
        key: String,
        /// The earlier key.
        other: String,
        /// The normalized id both map to.
        id: String,
    },
    /// An account key that is blank.
    #[error("account id must not be blank")]
    BlankAccountId,
    /// `defaultAccount` names no configured account.
    #[error("default account `{0}` is not one of the configured accounts")]
    UnknownDefaultAccount(String),
    /// Two enabled accounts read the same imsg source.
    #[error(
        "account `{account}` reads the same imsg source as account `{other}` (cliPath `{cli_path}`, {}); \
         one source can feed only one account",
        db_path.as_deref().map_or_else(|| "default dbPath".to_owned(), |p| format!("dbPath `{p}`"))
    )]
    DuplicateAccountSource {
        /// The later account id.
        account: String,
        /// The earlier account id.
        other: String,
        /// The shared cliPath.
        cli_path: String,
        /// The shared dbPath; `None` is imsg's default database.
        db_path: Option<String>,
    },
    /// `dmPolicy: "open"` without `"*"` in the effective `allowFrom`.
    #[error("{policy_path}=\"open\" requires {allow_from_path} to include \"*\"")]
    OpenWithoutWildcard {
        /// Where `dmPolicy` was set, such as `channels.imessage.dmPolicy`.
        policy_path: String,
        /// Where the effective `allowFrom` comes from.
        allow_from_path: String,
    },
    /// `cliPath` is not a safe executable.
    #[error("cliPath `{0}` is not a safe executable (no shell metacharacters, quotes or options)")]
    UnsafeCliPath(String),
    /// `dbPath` is not a safe path (the `cliPath` rule: imsg's arguments may reach a remote shell).
    #[error("dbPath `{0}` is not a safe path (no shell metacharacters, quotes or options)")]
    UnsafeDbPath(String),
    /// `remoteHost` is not `host` or `user@host`.
    #[error("remoteHost `{0}` must be `host` or `user@host` (no spaces, options or paths)")]
    UnsafeRemoteHost(String),
    /// An attachment root that is not an absolute root pattern.
    #[error(
        "attachment root `{0}` must be an absolute path whose segments are either `*` or contain no `*`"
    )]
    InvalidAttachmentRoot(String),
    /// A mention pattern that does not compile.
    #[error("mention pattern `{pattern}` is not a valid regular expression: {reason}")]
    InvalidMentionPattern {
        /// The pattern as written.
        pattern: String,
        /// The compiler's explanation, on one line.
        reason: String,
    },
    /// A mention pattern that matches the empty text, so every message would count as a mention.
    #[error(
        "mention pattern `{0}` matches an empty message, which would make every message a mention"
    )]
    MentionPatternMatchesEmpty(String),
    /// A blank mention pattern, which would match every message.
    #[error("mention pattern is blank, which would make every message a mention")]
    BlankMentionPattern,
    /// An allowlist entry that names nobody.
    #[error("{0}")]
    InvalidAllowEntry(#[source] ParseAllowEntryError),
    /// `defaultTo` is not a valid send target.
    #[error("{0}")]
    InvalidTarget(#[source] ParseTargetError),
    /// A region code that phone metadata does not know.
    #[error("{0}")]
    InvalidRegion(#[source] InvalidRegionError),
    /// A number outside the range its key allows (the `catchup` limits).
    #[error("{value} is out of range, expected {min} to {max}")]
    OutOfRange {
        /// The value as written.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
}

/// Writes `text` with every control character and Unicode line or paragraph separator escaped (`\r`,
/// `\u{1b}`), so a value echoed from the file can neither break the line nor drive the terminal.
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            write!(f, "{}", c.escape_default())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

/// Renders the "did you mean" tail of an unknown-key message.
fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(", did you mean `{s}`?"))
}

/// A configuration error: `<file>: <dotted.path>: <what> at line L column C`, always on one line.
///
/// Its own [`std::error::Error::source`] is `None`, so an error chain prints the line once; the typed cause
/// is on [`ConfigError::kind`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub struct ConfigError {
    /// Boxed so that `Result<_, ConfigError>` stays one pointer wide on the happy path.
    inner: Box<Inner>,
}

/// The fields of a [`ConfigError`].
#[derive(Debug, Clone)]
struct Inner {
    source_name: String,
    path: String,
    position: Option<Position>,
    kind: ConfigErrorKind,
}

impl ConfigError {
    /// Builds an error; the loader is the only caller, so this stays crate-private.
    pub(crate) fn new(
        source_name: &str,
        path: impl Into<String>,
        position: Option<Position>,
        kind: ConfigErrorKind,
    ) -> ConfigError {
        ConfigError {
            inner: Box::new(Inner {
                source_name: source_name.to_owned(),
                path: path.into(),
                position,
                kind,
            }),
        }
    }

    /// The file name (or the name given to the loader) the error is about.
    pub fn source_name(&self) -> &str {
        &self.inner.source_name
    }

    /// The dotted key path, such as `channels.imessage.accounts.work.dmPolicy`; empty for whole-file errors.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Where in the text the offending key or value is, when known.
    pub fn position(&self) -> Option<Position> {
        self.inner.position
    }

    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.inner.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.inner.source_name)?;
        if !self.inner.path.is_empty() {
            write!(f, "{}: ", self.inner.path)?;
        }
        // Messages from serde or regex may span lines; the error must stay on one line.
        let message = self.inner.kind.to_string();
        let mut lines = message
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty());
        if let Some(first) = lines.next() {
            write_escaped(f, first)?;
            for line in lines {
                f.write_str("; ")?;
                write_escaped(f, line)?;
            }
        }
        if let Some(position) = self.inner.position {
            write!(f, " at {position}")?;
        }
        Ok(())
    }
}
