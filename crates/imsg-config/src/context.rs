//! Where things are in the file: the dotted key paths of the iMessage section and the positions of the keys
//! the user wrote, shared by every stage that reports an error or a warning.

use crate::error::{ConfigError, ConfigErrorKind, Position};
use crate::load::LoadOptions;
use crate::locate::KeyIndex;
use crate::resolved::ConfigWarning;

/// Where the iMessage section came from, for paths in messages.
pub(crate) const CHANNEL_PREFIX: [&str; 2] = ["channels", "imessage"];
/// The legacy location.
pub(crate) const LEGACY_PREFIX: [&str; 1] = ["imessage"];

/// Shared state of one load: the text's key index and the options.
pub(crate) struct Ctx<'a> {
    pub(crate) options: &'a LoadOptions,
    pub(crate) index: KeyIndex,
    /// Whether the section was (partly) written at the legacy location, so paths may point there.
    pub(crate) legacy: bool,
}

impl Ctx<'_> {
    /// An error at `segments` (relative to the document root), with the key's position when it was written.
    ///
    /// A path under `channels.imessage` that was actually written under the legacy `imessage` section is
    /// reported at the legacy location.
    pub(crate) fn error(&self, segments: &[String], kind: ConfigErrorKind) -> ConfigError {
        let (path, position) = self.locate(segments);
        ConfigError::new(&self.options.source_name, path, position, kind)
    }

    /// A warning at `segments`, located like [`Ctx::error`].
    pub(crate) fn warning(&self, segments: &[String], message: impl Into<String>) -> ConfigWarning {
        let (path, position) = self.locate(segments);
        ConfigWarning {
            path,
            position,
            message: message.into(),
        }
    }

    pub(crate) fn locate(&self, segments: &[String]) -> (String, Option<Position>) {
        let written = self.written(segments);
        (render_path(&written), self.index.find(&written))
    }

    /// The path where `segments` was actually written: under `channels.imessage`, or at the legacy location
    /// when only the legacy section has it.
    pub(crate) fn written(&self, segments: &[String]) -> Vec<String> {
        if self.legacy
            && segments.starts_with(&CHANNEL_PREFIX.map(String::from))
            && !self.index.has(segments)
        {
            let mut legacy: Vec<String> = LEGACY_PREFIX.iter().map(|s| (*s).to_owned()).collect();
            legacy.extend(segments.iter().skip(CHANNEL_PREFIX.len()).cloned());
            if self.index.has(&legacy) {
                return legacy;
            }
        }
        segments.to_vec()
    }
}

/// Builds a path from the section prefix and further segments.
pub(crate) fn section_path(rest: &[&str]) -> Vec<String> {
    CHANNEL_PREFIX
        .iter()
        .chain(rest.iter())
        .map(|s| (*s).to_owned())
        .collect()
}

/// Where one account's fields live: the section itself (no accounts) or `accounts.<key>`.
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) segments: Vec<String>,
}

impl Scope {
    pub(crate) fn top() -> Scope {
        Scope {
            segments: section_path(&[]),
        }
    }

    pub(crate) fn account(key: &str) -> Scope {
        Scope {
            segments: section_path(&["accounts", key]),
        }
    }

    pub(crate) fn field(&self, name: &str) -> Vec<String> {
        let mut segments = self.segments.clone();
        segments.push(name.to_owned());
        segments
    }

    pub(crate) fn item(&self, name: &str, index: usize) -> Vec<String> {
        let mut segments = self.field(name);
        segments.push(index.to_string());
        segments
    }

    pub(crate) fn dotted(&self, name: &str) -> String {
        render_path(&self.field(name))
    }
}

/// A warning at `segments` of a file that has no iMessage section to fall back to.
pub(crate) fn warning(
    index: &KeyIndex,
    segments: &[String],
    message: impl Into<String>,
) -> ConfigWarning {
    ConfigWarning {
        path: render_path(segments),
        position: index.find(segments),
        message: message.into(),
    }
}

/// Joins path segments with dots, quoting a segment that is empty or holds dots, spaces or quotes, so the
/// path can be read back unambiguously (`channels.imessage.accounts." "`).
pub(crate) fn render_path(segments: &[String]) -> String {
    let plain = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c == '.' || c == '"' || c == '\'' || c.is_whitespace() || c.is_control())
    };
    segments
        .iter()
        .map(|s| {
            if plain(s) {
                s.clone()
            } else {
                format!("{s:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_only_ambiguous_segments() {
        let cases: [(&[&str], &str); 4] = [
            (
                &["channels", "imessage", "allowFrom", "0"],
                "channels.imessage.allowFrom.0",
            ),
            (
                &["channels", "imessage", "groups", "*"],
                "channels.imessage.groups.*",
            ),
            (&["accounts", "my.bot", "x"], "accounts.\"my.bot\".x"),
            (&["accounts", " ", ""], "accounts.\" \".\"\""),
        ];
        for (segments, expected) in cases {
            let segments: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(render_path(&segments), expected);
        }
    }
}
