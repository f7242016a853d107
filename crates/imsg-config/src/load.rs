//! The entry points: a configuration text (or file) to [`ResolvedConfig`], in the order parse (text to raw),
//! migrate (legacy keys), check (values where written), merge (section and account), resolve (defaults and
//! domain types).

use std::sync::Arc;

use crate::context::Ctx;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::parse::parse;
use crate::resolve::resolve;
use crate::resolved::ResolvedConfig;

/// How to load: the name used in error messages and the home directory used for `~` expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    pub(crate) source_name: String,
    pub(crate) home: Option<String>,
}

impl LoadOptions {
    /// Options naming the source (a file path, or something like `<stdin>`) in error messages. Without
    /// [`LoadOptions::with_home`], `~` in paths is kept as written.
    pub fn new(source_name: impl Into<String>) -> LoadOptions {
        LoadOptions {
            source_name: source_name.into(),
            home: None,
        }
    }

    /// Sets the home directory that replaces a leading `~` in `cliPath` and `dbPath`.
    #[must_use]
    pub fn with_home(mut self, home: impl Into<String>) -> LoadOptions {
        self.home = Some(home.into());
        self
    }
}

/// Parses, validates, merges and resolves a configuration text.
///
/// # Errors
///
/// Returns a [`ConfigError`] for invalid JSON5, wrong types, unknown or duplicate keys inside the iMessage
/// section, and every semantic rule (see [`ConfigErrorKind`]).
pub fn from_str(text: &str, options: &LoadOptions) -> Result<ResolvedConfig, ConfigError> {
    let (raw, index) = parse(text, &options.source_name)?;
    let ctx = Ctx {
        options,
        index,
        legacy: raw.imessage.is_some(),
    };
    resolve(&ctx, raw)
}

/// Reads and loads a file; `~` expands to the current user's home directory.
///
/// # Errors
///
/// Returns a [`ConfigError`] of kind [`ConfigErrorKind::Io`] when the file cannot be read, and every error
/// of [`from_str`].
pub fn load_file(path: &std::path::Path) -> Result<ResolvedConfig, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|err| ConfigError::new(&name, "", None, ConfigErrorKind::Io(Arc::new(err))))?;
    let mut options = LoadOptions::new(name);
    if let Some(home) = std::env::home_dir() {
        options = options.with_home(home.display().to_string());
    }
    from_str(&text, &options)
}
