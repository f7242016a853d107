//! The configuration vocabulary of the policy: DM and group policies, per-group rules, command switches.

use std::fmt;
use std::str::FromStr;

use imsg_target::AllowEntry;

/// Who may open a direct conversation with the assistant (`dmPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DmPolicy {
    /// Unknown senders get a one-time pairing code; approved senders pass.
    #[default]
    Pairing,
    /// Only senders in `allowFrom` pass; everyone else is dropped silently.
    Allowlist,
    /// Every sender passes. This admits, but does not authorize control commands.
    Open,
    /// Every direct message is dropped.
    Disabled,
}

/// Which group conversations the assistant takes part in (`groupPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupPolicy {
    /// Any group, subject to the `groups` map and mention gating.
    Open,
    /// Only senders or chats in the effective `groupAllowFrom`.
    #[default]
    Allowlist,
    /// Every group message is dropped.
    Disabled,
}

// The vocabulary below is the one place that spells these settings: the configuration loader reads them
// with `ALL` and `as_str`, its schema and `config show` use `KEY`, `as_str` and `summary`, and the defaults
// are the `Default` impls above.

impl DmPolicy {
    /// The configuration key, `dmPolicy`.
    pub const KEY: &'static str = "dmPolicy";

    /// Every value, in the order the configuration documents them.
    pub const ALL: [DmPolicy; 4] = [Self::Pairing, Self::Allowlist, Self::Open, Self::Disabled];

    /// The configuration spellings of [`DmPolicy::ALL`], in the same order.
    pub const NAMES: [&'static str; 4] = [
        Self::Pairing.as_str(),
        Self::Allowlist.as_str(),
        Self::Open.as_str(),
        Self::Disabled.as_str(),
    ];

    /// The configuration spelling, such as `pairing`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pairing => "pairing",
            Self::Allowlist => "allowlist",
            Self::Open => "open",
            Self::Disabled => "disabled",
        }
    }

    /// One sentence saying what the value does, for schemas and help texts.
    pub const fn summary(self) -> &'static str {
        match self {
            Self::Pairing => "Unknown senders get a pairing code.",
            Self::Allowlist => "Only `allowFrom` senders pass.",
            Self::Open => "Everyone passes; requires `\"*\"` in `allowFrom`.",
            Self::Disabled => "Every DM is dropped.",
        }
    }
}

impl GroupPolicy {
    /// The configuration key, `groupPolicy`.
    pub const KEY: &'static str = "groupPolicy";

    /// Every value, in the order the configuration documents them.
    pub const ALL: [GroupPolicy; 3] = [Self::Open, Self::Disabled, Self::Allowlist];

    /// The configuration spellings of [`GroupPolicy::ALL`], in the same order.
    pub const NAMES: [&'static str; 3] = [
        Self::Open.as_str(),
        Self::Disabled.as_str(),
        Self::Allowlist.as_str(),
    ];

    /// The configuration spelling, such as `allowlist`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Allowlist => "allowlist",
            Self::Disabled => "disabled",
        }
    }

    /// One sentence saying what the value does, for schemas and help texts.
    pub const fn summary(self) -> &'static str {
        match self {
            Self::Open => "Any group.",
            Self::Disabled => "Every group message is dropped.",
            Self::Allowlist => "Only senders or chats in the effective `groupAllowFrom`.",
        }
    }
}

impl fmt::Display for DmPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for GroupPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name in the configuration is not one of the known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParsePolicyError {
    /// The `dmPolicy` value is unknown.
    #[error("unknown dm policy `{0}`, expected pairing, allowlist, open or disabled")]
    Dm(String),
    /// The `groupPolicy` value is unknown.
    #[error("unknown group policy `{0}`, expected open, allowlist or disabled")]
    Group(String),
}

impl FromStr for DmPolicy {
    type Err = ParsePolicyError;

    /// Parses the exact configuration spelling; the anchor's schema is case-sensitive too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParsePolicyError::Dm(s.to_owned()))
    }
}

impl FromStr for GroupPolicy {
    type Err = ParsePolicyError;

    /// Parses the exact configuration spelling; the anchor's schema is case-sensitive too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParsePolicyError::Group(s.to_owned()))
    }
}

/// The settings of one entry of the `groups` map (a chat id, or `*` for the defaults).
///
/// Every field is optional: an exact entry's value wins, then the `*` entry's,
/// then the built-in default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRule {
    /// Whether a message must mention the assistant (`requireMention`); the default is true.
    pub require_mention: Option<bool>,
    /// A sender allowlist for this group only. When present it replaces the
    /// effective `groupAllowFrom` for this chat, under `groupPolicy: "open"` as
    /// well as `"allowlist"`, and its handle entries authorize control commands there.
    pub allow_from: Option<Vec<AllowEntry>>,
    /// A system prompt for this group (`systemPrompt`), handed to the channel on dispatch.
    pub system_prompt: Option<String>,
}

/// The global `commands.*` switches that gate control commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandSettings {
    /// `commands.useAccessGroups` (default true). When false every admitted sender
    /// may run control commands, as in the anchor.
    pub use_access_groups: bool,
    /// `commands.config`: `/config` counts as a control command.
    pub config: bool,
    /// `commands.debug`: `/debug` counts as a control command.
    pub debug: bool,
    /// `commands.bash`: `/bash` counts as a control command.
    pub bash: bool,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings {
            use_access_groups: true,
            config: false,
            debug: false,
            bash: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_through_their_config_spelling() {
        for p in [
            DmPolicy::Pairing,
            DmPolicy::Allowlist,
            DmPolicy::Open,
            DmPolicy::Disabled,
        ] {
            assert_eq!(p.as_str().parse::<DmPolicy>(), Ok(p));
        }
        for p in [
            GroupPolicy::Open,
            GroupPolicy::Allowlist,
            GroupPolicy::Disabled,
        ] {
            assert_eq!(p.as_str().parse::<GroupPolicy>(), Ok(p));
        }
    }

    #[test]
    fn unknown_policy_names_are_rejected_with_the_value_in_backticks() {
        let cases = [
            (
                "pairng",
                "unknown dm policy `pairng`, expected pairing, allowlist, open or disabled",
            ),
            (
                "Open",
                "unknown dm policy `Open`, expected pairing, allowlist, open or disabled",
            ),
        ];
        for (input, message) in cases {
            let err = input.parse::<DmPolicy>().err().map(|e| e.to_string());
            assert_eq!(err.as_deref(), Some(message), "{input}");
        }
        let err = "pairing"
            .parse::<GroupPolicy>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown group policy `pairing`, expected open, allowlist or disabled")
        );
    }

    #[test]
    fn names_list_every_value_in_order() {
        assert_eq!(DmPolicy::NAMES, DmPolicy::ALL.map(DmPolicy::as_str));
        assert_eq!(
            GroupPolicy::NAMES,
            GroupPolicy::ALL.map(GroupPolicy::as_str)
        );
        // Every variant is in `ALL` once: a new variant without an entry would fail here.
        for p in DmPolicy::ALL {
            let listed = match p {
                DmPolicy::Pairing | DmPolicy::Allowlist | DmPolicy::Open | DmPolicy::Disabled => {
                    DmPolicy::ALL.iter().filter(|q| **q == p).count()
                }
            };
            assert_eq!(listed, 1, "{p}");
        }
        for p in GroupPolicy::ALL {
            assert_eq!(
                GroupPolicy::ALL.iter().filter(|q| **q == p).count(),
                1,
                "{p}"
            );
        }
        assert_eq!(
            (DmPolicy::KEY, GroupPolicy::KEY),
            ("dmPolicy", "groupPolicy")
        );
    }

    #[test]
    fn defaults_match_the_schema_defaults() {
        assert_eq!(DmPolicy::default(), DmPolicy::Pairing);
        assert_eq!(GroupPolicy::default(), GroupPolicy::Allowlist);
        assert!(CommandSettings::default().use_access_groups);
    }
}
