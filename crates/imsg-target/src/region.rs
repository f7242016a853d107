//! The default region used to read national-format phone numbers.

use std::fmt;
use std::str::FromStr;

/// An ISO 3166-1 alpha-2 region code, stored uppercase, that phone-number
/// metadata knows about.
///
/// The region decides how a number without a country code is read:
/// `(415) 555-2671` in region `US` is `+14155552671`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region {
    /// Two uppercase ASCII letters; the constructor guarantees this.
    code: [u8; 2],
}

/// The text is not a region code that phone-number metadata knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid region `{code}`, expected an ISO 3166-1 alpha-2 code such as `US`")]
#[non_exhaustive]
pub struct InvalidRegionError {
    /// The rejected text.
    pub code: String,
}

impl Region {
    /// Builds a region from a two-letter code in any case (`us`, `GB`).
    ///
    /// # Errors
    ///
    /// Returns [`InvalidRegionError`] when `code` is not two ASCII letters
    /// naming a region the phone-number metadata covers.
    pub fn new(code: &str) -> Result<Region, InvalidRegionError> {
        let invalid = || InvalidRegionError {
            code: code.to_owned(),
        };
        let &[a, b] = code.as_bytes() else {
            return Err(invalid());
        };
        if !(a.is_ascii_alphabetic() && b.is_ascii_alphabetic()) {
            return Err(invalid());
        }
        let region = Region {
            code: [a.to_ascii_uppercase(), b.to_ascii_uppercase()],
        };
        if crate::handle::country_id(&region).is_none() {
            return Err(invalid());
        }
        Ok(region)
    }

    /// The uppercase code, such as `US`.
    pub fn as_str(&self) -> &str {
        // The constructor only stores ASCII letters, so this never falls back.
        std::str::from_utf8(&self.code).unwrap_or("US")
    }
}

impl Default for Region {
    /// `US`, the anchor gateway's default.
    fn default() -> Self {
        Region { code: *b"US" }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Region").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = InvalidRegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::new(s)
    }
}
