//! Mention patterns: compiled once from configuration, matched against every group message.

use regex::{RegexBuilder, RegexSet, RegexSetBuilder};

/// The compiled-size budget for one pattern. Patterns come from configuration,
/// but a typo like `.{1000}{1000}` should fail at start-up rather than eat memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The compiled-size budget for the whole set of patterns.
const SET_SIZE_LIMIT: usize = 32 << 20;

/// A mention pattern from the configuration could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MentionPatternError {
    /// The pattern is not a valid `regex` crate pattern (look-around and
    /// back-references are not supported) or is too large.
    #[error("invalid mention pattern `{pattern}` at index {index}")]
    Invalid {
        /// Position of the pattern in the configured list.
        index: usize,
        /// The pattern as written, after the backspace rewrite.
        pattern: String,
        /// Why the regex engine rejected it.
        #[source]
        source: regex::Error,
    },
    /// The pattern is blank, which would make every message a mention.
    #[error("mention pattern at index {index} is blank")]
    Blank {
        /// Position of the pattern in the configured list.
        index: usize,
    },
    /// The patterns compile one by one but together exceed the size budget.
    #[error("mention patterns are too large together")]
    TooLarge {
        /// What the regex engine reported.
        #[source]
        source: regex::Error,
    },
}

/// The mention patterns of one agent (or the global ones), compiled once.
///
/// Matching is case-insensitive and ignores zero-width and bidirectional
/// formatting characters in the message. The patterns are combined into one
/// [`RegexSet`], so 50 patterns cost about as much per message as one.
#[derive(Debug, Clone, Default)]
pub struct MentionPatterns {
    /// `None` when no pattern is configured.
    set: Option<RegexSet>,
    /// The patterns as compiled, for explanations and warnings.
    sources: Vec<String>,
}

impl MentionPatterns {
    /// No patterns at all; a group that requires a mention then drops every
    /// message (fail closed) and [`startup_warnings`](crate::startup_warnings) says so.
    pub fn none() -> MentionPatterns {
        MentionPatterns::default()
    }

    /// Compiles the configured patterns, case-insensitively.
    ///
    /// A backspace character (U+0008) is rewritten to `\b`, because `"\b"` in a
    /// JSON5 string is a backspace, and users writing a word boundary get that.
    ///
    /// # Errors
    ///
    /// [`MentionPatternError::Blank`] for a blank pattern,
    /// [`MentionPatternError::Invalid`] for a pattern the `regex` crate rejects
    /// (including one over the size limit), and [`MentionPatternError::TooLarge`]
    /// when the set as a whole is over its budget.
    pub fn compile<S: AsRef<str>>(patterns: &[S]) -> Result<MentionPatterns, MentionPatternError> {
        let mut sources = Vec::with_capacity(patterns.len());
        for (index, raw) in patterns.iter().enumerate() {
            let pattern = raw.as_ref().replace('\u{8}', "\\b");
            if pattern.trim().is_empty() {
                return Err(MentionPatternError::Blank { index });
            }
            // Compile each pattern alone first, so an error names the culprit.
            if let Err(source) = RegexBuilder::new(&pattern)
                .case_insensitive(true)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
            {
                return Err(MentionPatternError::Invalid {
                    index,
                    pattern,
                    source,
                });
            }
            sources.push(pattern);
        }
        if sources.is_empty() {
            return Ok(MentionPatterns::none());
        }
        let set = RegexSetBuilder::new(&sources)
            .case_insensitive(true)
            .size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|source| MentionPatternError::TooLarge { source })?;
        Ok(MentionPatterns {
            set: Some(set),
            sources,
        })
    }

    /// True when no pattern is configured.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    /// The patterns as compiled (after the backspace rewrite).
    pub fn patterns(&self) -> &[String] {
        &self.sources
    }

    /// Whether `text` mentions the assistant.
    pub fn is_match(&self, text: &str) -> bool {
        let Some(set) = &self.set else {
            return false;
        };
        if text.chars().any(is_invisible_format_char) {
            let cleaned: String = text
                .chars()
                .filter(|c| !is_invisible_format_char(*c))
                .collect();
            set.is_match(&cleaned)
        } else {
            set.is_match(text)
        }
    }
}

/// Zero-width and bidirectional formatting characters that can hide inside a
/// mention (U+200B–U+200F, U+202A–U+202E, U+2060–U+206F), as the anchor strips them.
fn is_invisible_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_case_insensitive_and_ignores_invisible_characters() {
        let patterns = MentionPatterns::compile(&["@clawd", "\u{8}bot\u{8}"]).unwrap();
        let cases = [
            ("@clawd hi", true),
            ("hey @CLAWD", true),
            ("@cl\u{200B}awd hi", true),
            ("the bot is here", true),
            ("robots", false),
            ("hello group", false),
            ("", false),
        ];
        for (text, expected) in cases {
            assert_eq!(patterns.is_match(text), expected, "{text:?}");
        }
        assert_eq!(patterns.patterns(), ["@clawd", "\\bbot\\b"]);
    }

    #[test]
    fn bad_patterns_fail_loudly_with_their_index() {
        let cases: [(&[&str], &str); 3] = [
            (
                &["ok", "(unclosed"],
                "invalid mention pattern `(unclosed` at index 1",
            ),
            (&["  "], "mention pattern at index 0 is blank"),
            (
                &["(?=look)ahead"],
                "invalid mention pattern `(?=look)ahead` at index 0",
            ),
        ];
        for (patterns, message) in cases {
            let err = MentionPatterns::compile(patterns)
                .err()
                .map(|e| e.to_string());
            assert_eq!(err.as_deref(), Some(message));
        }
    }

    #[test]
    fn no_patterns_never_match() {
        let none = MentionPatterns::compile::<&str>(&[]).unwrap();
        assert!(none.is_empty());
        assert!(!none.is_match("@clawd"));
    }
}
