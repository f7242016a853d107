//! The delivery service of a handle target: iMessage, SMS or automatic.

use std::fmt;
use std::str::FromStr;

/// Which service `imsg` should use to reach a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Service {
    /// Apple's iMessage service.
    Imessage,
    /// Carrier SMS (through a paired iPhone).
    Sms,
    /// Let `imsg` choose; this is what a bare handle means.
    #[default]
    Auto,
}

impl Service {
    /// The lowercase wire name (`imessage`, `sms`, `auto`), as `imsg send --service` expects it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imessage => "imessage",
            Self::Sms => "sms",
            Self::Auto => "auto",
        }
    }

    /// The target prefix for this service, such as `sms:`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Imessage => "imessage:",
            Self::Sms => "sms:",
            Self::Auto => "auto:",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text named no known service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service `{value}`, expected imessage, sms or auto")]
#[non_exhaustive]
pub struct ParseServiceError {
    /// The rejected text.
    pub value: String,
}

impl FromStr for Service {
    type Err = ParseServiceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Imessage, Self::Sms, Self::Auto]
            .into_iter()
            .find(|service| service.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseServiceError {
                value: s.to_owned(),
            })
    }
}
