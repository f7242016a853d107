//! The settings the pipeline reads: chunk limit, chunk mode and table mode, with their config spellings.

use std::fmt;
use std::str::FromStr;

/// The `textChunkLimit` default: the most characters one outgoing message carries.
pub const DEFAULT_TEXT_CHUNK_LIMIT: usize = 4000;

/// How a long reply is cut into messages (`chunkMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChunkMode {
    /// Fill each message up to the limit, cutting at the best break found
    /// (paragraph, line, sentence, whitespace, then a grapheme boundary).
    #[default]
    Length,
    /// One message per paragraph (blank-line separated, outside code fences);
    /// only a paragraph over the limit is cut further, as in `Length`.
    Newline,
}

/// How a markdown table is shown (`markdown.tables`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TableMode {
    /// The table re-aligned inside a ``` block.
    #[default]
    Code,
    /// One group of `• header: value` lines per row, under the row's first cell.
    Bullets,
    /// The table's markdown source, unchanged.
    Off,
}

/// A mode name in the configuration is not one of the known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseModeError {
    /// The `chunkMode` value is unknown.
    #[error("unknown chunk mode `{0}`, expected length or newline")]
    Chunk(String),
    /// The `markdown.tables` value is unknown.
    #[error("unknown table mode `{0}`, expected code, bullets or off")]
    Table(String),
}

impl ChunkMode {
    /// Every mode, in the order the docs list them.
    pub const ALL: [Self; 2] = [Self::Length, Self::Newline];

    /// The configuration spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Newline => "newline",
        }
    }
}

impl TableMode {
    /// Every mode, in the order the docs list them.
    pub const ALL: [Self; 3] = [Self::Code, Self::Bullets, Self::Off];

    /// The configuration spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Bullets => "bullets",
            Self::Off => "off",
        }
    }
}

impl FromStr for ChunkMode {
    type Err = ParseModeError;

    /// Parses the exact configuration spelling; the anchor's schema is case-sensitive too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ParseModeError::Chunk(s.to_owned()))
    }
}

impl FromStr for TableMode {
    type Err = ParseModeError;

    /// Parses the exact configuration spelling; the anchor's schema is case-sensitive too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ParseModeError::Table(s.to_owned()))
    }
}

impl fmt::Display for ChunkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for TableMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the pipeline needs from one account's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextOptions {
    /// The most characters (Unicode scalar values) in one message. Zero means
    /// the default, as the anchor ignores a non-positive `textChunkLimit`.
    pub limit: usize,
    /// How a long reply is cut.
    pub chunk_mode: ChunkMode,
    /// How tables are shown.
    pub tables: TableMode,
}

impl TextOptions {
    /// The limit actually applied: `limit`, or the default when it is zero.
    #[must_use]
    pub const fn effective_limit(&self) -> usize {
        if self.limit == 0 {
            DEFAULT_TEXT_CHUNK_LIMIT
        } else {
            self.limit
        }
    }
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            limit: DEFAULT_TEXT_CHUNK_LIMIT,
            chunk_mode: ChunkMode::default(),
            tables: TableMode::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Config spellings round-trip and unknown ones are named in the error.

    use super::*;

    #[test]
    fn spellings_round_trip() {
        for m in ChunkMode::ALL {
            assert_eq!(m.as_str().parse::<ChunkMode>(), Ok(m));
        }
        for m in TableMode::ALL {
            assert_eq!(m.as_str().parse::<TableMode>(), Ok(m));
        }
        assert_eq!(ChunkMode::default(), ChunkMode::Length);
        assert_eq!(TableMode::default(), TableMode::Code);
    }

    #[test]
    fn unknown_spellings_are_errors() {
        assert_eq!(
            "Length".parse::<ChunkMode>().map_err(|e| e.to_string()),
            Err("unknown chunk mode `Length`, expected length or newline".to_owned())
        );
        assert_eq!(
            "table".parse::<TableMode>().map_err(|e| e.to_string()),
            Err("unknown table mode `table`, expected code, bullets or off".to_owned())
        );
    }

    #[test]
    fn zero_limit_means_default() {
        let o = TextOptions {
            limit: 0,
            ..TextOptions::default()
        };
        assert_eq!(o.effective_limit(), DEFAULT_TEXT_CHUNK_LIMIT);
        assert_eq!(TextOptions::default().limit, 4000);
    }
}
