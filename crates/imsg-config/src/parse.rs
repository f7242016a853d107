//! Text to raw: the JSON5 syntax check, the duplicate-key check and the typed pass into [`RawFile`], with
//! serde's messages turned into the words of a configuration file.

use crate::context::{CHANNEL_PREFIX, LEGACY_PREFIX, render_path};
use crate::error::{ConfigError, ConfigErrorKind, Position};
use crate::locate::KeyIndex;
use crate::raw::RawFile;
use crate::validate::suggest;

/// Parses `text` into the raw layer and indexes where each key was written.
pub(crate) fn parse(text: &str, source: &str) -> Result<(RawFile, KeyIndex), ConfigError> {
    let index = KeyIndex::build(text).map_err(|too_deep| {
        ConfigError::new(
            source,
            "",
            Some(too_deep.0),
            ConfigErrorKind::Syntax(format!(
                "objects and arrays nest deeper than {} levels",
                crate::locate::MAX_DEPTH
            )),
        )
    })?;
    // `json5::Deserializer` alone does not notice trailing characters; `from_str` does.
    json5::from_str::<serde::de::IgnoredAny>(text).map_err(|err| {
        ConfigError::new(
            source,
            "",
            position_of(&err),
            ConfigErrorKind::Syntax(message_of(&err)),
        )
    })?;
    // Before the typed pass, which would report a duplicate field at the enclosing object instead of the key.
    check_duplicate_keys(source, &index)?;
    let mut deserializer = json5::Deserializer::from_str(text);
    let raw: RawFile = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| type_error(source, &err))?;
    Ok((raw, index))
}

/// The 1-based position of a `json5` error.
fn position_of(err: &json5::Error) -> Option<Position> {
    err.position().map(|p| Position {
        line: p.line + 1,
        column: p.column + 1,
    })
}

/// The message of a `json5` error without the position suffix `json5` appends.
fn message_of(err: &json5::Error) -> String {
    let full = err.to_string();
    match err.position() {
        Some(p) => {
            let suffix = format!(" at {p}");
            full.strip_suffix(&suffix)
                .map_or_else(|| full.clone(), str::to_owned)
        }
        None => full,
    }
}

/// Turns a typed-deserialization error into a [`ConfigError`], recognizing unknown keys.
fn type_error(source: &str, err: &serde_path_to_error::Error<json5::Error>) -> ConfigError {
    let segments: Vec<String> = err
        .path()
        .iter()
        .map(|segment| match segment {
            serde_path_to_error::Segment::Seq { index } => index.to_string(),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => key.clone(),
            serde_path_to_error::Segment::Unknown => "?".to_owned(),
        })
        .collect();
    let path = if segments.iter().all(|s| s == "?") {
        String::new()
    } else {
        render_path(&segments)
    };
    let message = plain_type_names(&message_of(err.inner()));
    let kind = unknown_key(&message).map_or(ConfigErrorKind::Type(message), |(key, expected)| {
        if matches!(key.as_str(), "accounts" | "defaultAccount")
            && segments.iter().any(|s| s == "accounts")
        {
            ConfigErrorKind::NestedAccountKey(key)
        } else {
            let known: Vec<&str> = expected.iter().map(String::as_str).collect();
            let suggestion = suggest(&key, &known).map(str::to_owned);
            ConfigErrorKind::UnknownKey { key, suggestion }
        }
    });
    ConfigError::new(source, path, position_of(err.inner()), kind)
}

/// Replaces serde's Rust vocabulary (`u64`, `map`, `sequence`) with the words of a configuration file.
fn plain_type_names(message: &str) -> String {
    const WORDS: [(&str, &str); 7] = [
        ("a nonzero u64", "a positive integer"),
        ("u64", "a non-negative integer"),
        ("invalid type: map", "invalid type: object"),
        ("invalid type: sequence", "invalid type: array"),
        ("a sequence", "an array"),
        ("a map", "an object"),
        ("unit value", "null"),
    ];
    WORDS
        .iter()
        .fold(message.to_owned(), |acc, (from, to)| acc.replace(from, to))
}

/// Recognizes serde's "unknown field `x`, expected one of `a`, `b`" and returns the key and the known keys.
fn unknown_key(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field ")?;
    let mut ticks = rest.split('`').skip(1).step_by(2).map(str::to_owned);
    let key = ticks.next()?;
    Some((key, ticks.collect()))
}

/// JSON5 keeps the last of two equal keys silently; inside the iMessage section that hides a setting, and a
/// second `channels` object would replace the whole section.
fn check_duplicate_keys(source: &str, index: &KeyIndex) -> Result<(), ConfigError> {
    let channel_prefix = CHANNEL_PREFIX.map(String::from);
    let in_section = |path: &[String]| {
        path.starts_with(&channel_prefix)
            || channel_prefix.starts_with(path)
            || path.starts_with(&LEGACY_PREFIX.map(String::from))
    };
    match index.duplicates().iter().find(|(path, _)| in_section(path)) {
        Some((path, position)) => Err(ConfigError::new(
            source,
            render_path(path),
            Some(*position),
            ConfigErrorKind::DuplicateKey(path.last().cloned().unwrap_or_default()),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_their_rust_words() {
        let cases = [
            (
                "invalid value: integer `0`, expected a nonzero u64",
                "invalid value: integer `0`, expected a positive integer",
            ),
            (
                "invalid type: string \"x\", expected u64",
                "invalid type: string \"x\", expected a non-negative integer",
            ),
            (
                "invalid type: map, expected a string or an integer",
                "invalid type: object, expected a string or an integer",
            ),
            (
                "invalid type: sequence, expected a boolean",
                "invalid type: array, expected a boolean",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(plain_type_names(input), expected);
        }
    }

    #[test]
    fn unknown_field_messages_are_recognized() {
        let cases = [
            (
                "unknown field `enabld`, expected one of `enabled`, `name`",
                Some(("enabld", vec!["enabled", "name"])),
            ),
            (
                "unknown field `x`, expected `tables`",
                Some(("x", vec!["tables"])),
            ),
            (
                "unknown field `x`, there are no fields",
                Some(("x", vec![])),
            ),
            ("unknown variant `pairng`, expected `open`", None),
        ];
        for (message, expected) in cases {
            let got = unknown_key(message);
            let expected = expected.map(|(k, v)| {
                (
                    k.to_owned(),
                    v.into_iter().map(str::to_owned).collect::<Vec<_>>(),
                )
            });
            assert_eq!(got, expected, "{message}");
        }
    }
}
