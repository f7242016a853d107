//! The raw serde layer: exactly what the JSON5 file says, every field optional, no defaults applied.
//!
//! Only the iMessage section (`channels.imessage`, legacy `imessage`) and the objects inside it reject
//! unknown keys. The global sections the channel reads (`messages`, `agents`, `session`, `commands`,
//! `channels.defaults`, `routing`) accept and ignore keys they do not know, so an OpenClaw file with
//! other channels and settings loads unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU64;

use imsg_policy::{DmPolicy, GroupPolicy};
use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The whole configuration file, reduced to the sections the iMessage channel reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "imsg gateway configuration (the parts the iMessage channel reads)")]
#[schemars(rename = "ImsgConfig")]
pub(crate) struct RawFile {
    /// Per-channel settings; only `imessage` and `defaults` are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) channels: Option<RawChannels>,
    /// Legacy location of the iMessage section, migrated to `channels.imessage` on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) imessage: Option<RawImessage>,
    /// Global message settings (`responsePrefix`, `groupChat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) messages: Option<RawMessages>,
    /// Agent definitions; only mention patterns and identity are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agents: Option<RawAgents>,
    /// Session settings; only `dmScope` is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session: Option<RawSession>,
    /// Control-command switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) commands: Option<RawCommands>,
    /// Legacy routing settings; only `groupChat.requireMention` is read and migrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) routing: Option<RawRouting>,
}

/// `channels`: other channels are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(rename = "Channels")]
pub(crate) struct RawChannels {
    /// The iMessage channel section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) imessage: Option<RawImessage>,
    /// Defaults shared by every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) defaults: Option<RawChannelDefaults>,
}

/// `channels.defaults`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ChannelDefaults")]
pub(crate) struct RawChannelDefaults {
    /// Group policy used when neither the account nor the channel sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group_policy: Option<RawGroupPolicy>,
}

/// `messages`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Messages")]
pub(crate) struct RawMessages {
    /// Prefix put in front of every reply (`auto` or a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) response_prefix: Option<String>,
    /// Group-chat settings shared by every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group_chat: Option<RawGroupChat>,
}

/// `messages.groupChat` and `agents.list[].groupChat`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "GroupChat")]
pub(crate) struct RawGroupChat {
    /// Regular expressions that count as a mention of the assistant (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mention_patterns: Option<Vec<String>>,
    /// Default group pending-history size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) history_limit: Option<u64>,
}

/// `agents`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(rename = "Agents")]
pub(crate) struct RawAgents {
    /// The configured agents; the one with `default: true`, else the first, is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) list: Option<Vec<RawAgent>>,
}

/// One entry of `agents.list`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Agent")]
pub(crate) struct RawAgent {
    /// The agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// Marks the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<bool>,
    /// Per-agent group-chat settings; `mentionPatterns` here overrides `messages.groupChat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group_chat: Option<RawGroupChat>,
    /// The agent's identity, used to derive mention patterns when none are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) identity: Option<RawIdentity>,
}

/// `agents.list[].identity`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(rename = "Identity")]
pub(crate) struct RawIdentity {
    /// Display name of the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// Emoji of the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) emoji: Option<String>,
}

/// `session`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Session")]
pub(crate) struct RawSession {
    /// How direct-message sessions are keyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dm_scope: Option<RawDmScope>,
}

/// `session.dmScope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "DmScope")]
pub(crate) enum RawDmScope {
    /// Every DM shares the agent's main session.
    Main,
    /// One session per peer.
    PerPeer,
    /// One session per channel and peer.
    PerChannelPeer,
    /// One session per account, channel and peer.
    PerAccountChannelPeer,
}

/// `commands`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Commands")]
pub(crate) struct RawCommands {
    /// Whether allowlists decide who may run control commands (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) use_access_groups: Option<bool>,
    /// Enables `/config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) config: Option<bool>,
    /// Enables `/debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) debug: Option<bool>,
    /// Enables `/bash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bash: Option<bool>,
}

/// Legacy `routing`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Routing")]
pub(crate) struct RawRouting {
    /// Legacy group-chat settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group_chat: Option<RawLegacyGroupChat>,
}

/// Legacy `routing.groupChat`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "LegacyGroupChat")]
pub(crate) struct RawLegacyGroupChat {
    /// Migrated to `channels.imessage.groups."*".requireMention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) require_mention: Option<bool>,
}

/// `dmPolicy`, spelled by `imsg-policy`.
pub(crate) type RawDmPolicy = Word<DmPolicy>;

/// `groupPolicy`, spelled by `imsg-policy`.
pub(crate) type RawGroupPolicy = Word<GroupPolicy>;

/// A setting whose spellings, descriptions and default live with its domain type (the policy vocabulary of
/// `imsg-policy`), so this crate does not spell them a second time.
pub(crate) trait Vocabulary: Copy + fmt::Debug + 'static {
    /// The name of the schema definition, such as `DmPolicy`.
    const SCHEMA_NAME: &'static str;
    /// Every value.
    const ALL: &'static [Self];
    /// The spellings of [`Vocabulary::ALL`], in order.
    const NAMES: &'static [&'static str];
    /// The configuration key, such as `dmPolicy`.
    const KEY: &'static str;
    /// The spelling of one value.
    fn name(self) -> &'static str;
    /// What one value does, in one sentence.
    fn summary(self) -> &'static str;
}

impl Vocabulary for DmPolicy {
    const SCHEMA_NAME: &'static str = "DmPolicy";
    const ALL: &'static [Self] = &DmPolicy::ALL;
    const NAMES: &'static [&'static str] = &DmPolicy::NAMES;
    const KEY: &'static str = DmPolicy::KEY;
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn summary(self) -> &'static str {
        DmPolicy::summary(self)
    }
}

impl Vocabulary for GroupPolicy {
    const SCHEMA_NAME: &'static str = "GroupPolicy";
    const ALL: &'static [Self] = &GroupPolicy::ALL;
    const NAMES: &'static [&'static str] = &GroupPolicy::NAMES;
    const KEY: &'static str = GroupPolicy::KEY;
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn summary(self) -> &'static str {
        GroupPolicy::summary(self)
    }
}

/// A value of a [`Vocabulary`] as written in the file: exactly one of its spellings (case-sensitive, as the
/// anchor's schema is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word<T>(pub(crate) T);

impl<'de, T: Vocabulary> Deserialize<'de> for Word<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WordVisitor<T>(std::marker::PhantomData<T>);
        impl<T: Vocabulary> Visitor<'_> for WordVisitor<T> {
            type Value = Word<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "one of {}", T::NAMES.join(", "))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::ALL
                    .iter()
                    .find(|value| value.name() == v)
                    .map(|value| Word(*value))
                    .ok_or_else(|| E::unknown_variant(v, T::NAMES))
            }
        }
        deserializer.deserialize_str(WordVisitor(std::marker::PhantomData))
    }
}

impl<T: Vocabulary> Serialize for Word<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<T: Vocabulary> JsonSchema for Word<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::SCHEMA_NAME.into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one_of: Vec<serde_json::Value> = T::ALL
            .iter()
            .map(|value| {
                serde_json::json!({
                    "const": value.name(),
                    "description": value.summary(),
                    "type": "string",
                })
            })
            .collect();
        schemars::json_schema!({
            "description": format!("`{}`.", T::KEY),
            "oneOf": one_of,
        })
    }
}

/// `service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Service")]
pub(crate) enum RawService {
    /// iMessage only.
    Imessage,
    /// SMS only.
    Sms,
    /// Let imsg choose.
    Auto,
}

/// `chunkMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ChunkMode")]
pub(crate) enum RawChunkMode {
    /// Split by length at whitespace.
    Length,
    /// Split at blank lines first.
    Newline,
}

/// `markdown.tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "TableMode")]
pub(crate) enum RawTableMode {
    /// Tables are sent unchanged.
    Off,
    /// Tables become bullet lists.
    Bullets,
    /// Tables are re-rendered inside a code block.
    Code,
}

/// `reactionNotifications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ReactionNotifications")]
pub(crate) enum RawReactionNotifications {
    /// Reactions are ignored.
    Off,
    /// Only reactions to the assistant's own messages.
    Own,
    /// Every reaction.
    All,
}

/// `contextVisibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "ContextVisibility")]
pub(crate) enum RawContextVisibility {
    /// Quoted replies are always shown.
    All,
    /// Quoted replies are shown only when their sender is allowlisted.
    Allowlist,
    /// Like `allowlist`, but quotes are kept.
    AllowlistQuote,
}

/// `markdown`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Markdown")]
pub(crate) struct RawMarkdown {
    /// How Markdown tables are rendered (default `code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tables: Option<RawTableMode>,
}

/// `blockStreamingCoalesce`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "BlockStreamingCoalesce")]
pub(crate) struct RawBlockStreamingCoalesce {
    /// Minimum characters per coalesced block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) min_chars: Option<NonZeroU64>,
    /// Maximum characters per coalesced block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_chars: Option<NonZeroU64>,
    /// Idle time before a block is flushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) idle_ms: Option<u64>,
}

/// One entry of `groups` (a chat id, or `*` for the defaults).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Group")]
pub(crate) struct RawGroup {
    /// Whether a message must mention the assistant (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) require_mention: Option<bool>,
    /// A sender allowlist for this group only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allow_from: Option<Vec<AllowFromValue>>,
    /// A system prompt for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system_prompt: Option<String>,
    /// Group tool policy; accepted and passed through unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tools: Option<serde_json::Value>,
    /// Per-sender tool policy; accepted and passed through unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tools_by_sender: Option<serde_json::Value>,
}

/// `catchup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Catchup")]
pub(crate) struct RawCatchup {
    /// Whether catch-up runs at start-up (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,
    /// Messages older than this many minutes are not replayed (1 to 720, default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 720))]
    pub(crate) max_age_minutes: Option<u64>,
    /// At most this many messages per run (1 to 500, default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 500))]
    pub(crate) per_run_limit: Option<u64>,
    /// How many minutes back the first run ever looks (1 to 720, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 720))]
    pub(crate) first_run_lookback_minutes: Option<u64>,
    /// How often one message is retried before it is skipped (1 to 1000, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub(crate) max_failure_retries: Option<u64>,
}

/// One entry of `dms` (keyed by peer id).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Dm")]
pub(crate) struct RawDm {
    /// History limit for this peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) history_limit: Option<u64>,
}

/// One `allowFrom` entry as written: a string, or a number (a phone number or chat id typed without quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowFromValue(pub(crate) String);

impl<'de> Deserialize<'de> for AllowFromValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AllowFromVisitor)
    }
}

/// Accepts strings and integers; an integer is kept as its decimal text, as the anchor's `String(n)` does.
struct AllowFromVisitor;

impl Visitor<'_> for AllowFromVisitor {
    type Value = AllowFromValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AllowFromValue(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(AllowFromValue(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(AllowFromValue(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(AllowFromValue(v.to_string()))
    }
}

impl Serialize for AllowFromValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl JsonSchema for AllowFromValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AllowFromEntry".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A handle, phone number, email, `chat_id:`/`chat_guid:`/`chat_identifier:` target, or `*`.",
            "type": ["string", "integer"]
        })
    }
}

/// Declares the channel-level section and the account object from one field list, so the two can never drift.
///
/// The same field set is valid at `channels.imessage` and inside `channels.imessage.accounts.<id>`; only the
/// section itself has `accounts` and `defaultAccount`.
macro_rules! channel_fields {
    ($( $(#[$meta:meta])* $field:ident : $ty:ty, )*) => {
        /// One account object (`channels.imessage.accounts.<id>`), or the account-shaped part of the section.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        #[schemars(rename = "ImessageAccount")]
        pub(crate) struct RawAccount {
            $(
                $(#[$meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub(crate) $field: Option<$ty>,
            )*
        }

        /// The iMessage section (`channels.imessage`): every account field, plus `accounts` and `defaultAccount`.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        #[schemars(rename = "ImessageSection")]
        pub(crate) struct RawImessage {
            $(
                $(#[$meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub(crate) $field: Option<$ty>,
            )*
            /// Named accounts; each inherits every field it does not set from the section.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub(crate) accounts: Option<BTreeMap<String, RawAccount>>,
            /// The account used when none is named.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub(crate) default_account: Option<String>,
        }

        impl RawImessage {
            /// Splits the section into its account-shaped base, its accounts and its default account key.
            pub(crate) fn split(self) -> (RawAccount, Option<BTreeMap<String, RawAccount>>, Option<String>) {
                let base = RawAccount { $( $field: self.$field, )* };
                (base, self.accounts, self.default_account)
            }

            /// Rebuilds a section from its parts (the inverse of [`RawImessage::split`]).
            pub(crate) fn from_parts(
                base: RawAccount,
                accounts: Option<BTreeMap<String, RawAccount>>,
                default_account: Option<String>,
            ) -> RawImessage {
                RawImessage { $( $field: base.$field, )* accounts, default_account }
            }
        }
    };
}

channel_fields! {
    /// Display name (trimmed; blank means none).
    name: String,
    /// Free capability tags for agent guidance.
    capabilities: Vec<String>,
    /// Markdown rendering options.
    markdown: RawMarkdown,
    /// Whether the account runs (default true).
    enabled: bool,
    /// Whether `/config` and `/allowlist` writes from this channel are allowed (default true).
    config_writes: bool,
    /// The imsg executable or a wrapper script (default `imsg`); must be a safe executable.
    cli_path: String,
    /// The Messages database imsg reads (default: imsg's own default).
    db_path: String,
    /// SSH host of a remote Mac for attachments: `host` or `user@host`.
    remote_host: String,
    /// Service used for chat targets (default `auto`).
    service: RawService,
    /// Region for reading national phone numbers (default `US`).
    region: String,
    /// Direct-message policy (default `pairing`).
    dm_policy: RawDmPolicy,
    /// Senders allowed to DM (handles, phones, emails, chat targets, `*`).
    allow_from: Vec<AllowFromValue>,
    /// Senders allowed in groups; falls back to `allowFrom` when absent.
    group_allow_from: Vec<AllowFromValue>,
    /// Group policy (default `allowlist`).
    group_policy: RawGroupPolicy,
    /// Group pending-history size; 0 disables it.
    history_limit: u64,
    /// DM history limit (default unlimited).
    dm_history_limit: u64,
    /// Per-DM overrides keyed by peer id.
    dms: BTreeMap<String, RawDm>,
    /// Whether inbound attachments are handed to the agent (default false).
    include_attachments: bool,
    /// Media size cap in MiB (default 16).
    media_max_mb: NonZeroU64,
    /// Maximum characters per outbound chunk (default 4000).
    text_chunk_limit: NonZeroU64,
    /// How long replies are split (default `length`).
    chunk_mode: RawChunkMode,
    /// Enables or disables block streaming (default: the agent's).
    block_streaming: bool,
    /// Block-streaming coalescing.
    block_streaming_coalesce: RawBlockStreamingCoalesce,
    /// Group allowlist and per-group settings keyed by chat id; `*` is the wildcard.
    groups: BTreeMap<String, RawGroup>,
    /// Heartbeat visibility; accepted and passed through.
    heartbeat: serde_json::Value,
    /// Extra local attachment roots (absolute, `*` matches one segment).
    attachment_roots: Vec<String>,
    /// Extra attachment roots on the remote Mac.
    remote_attachment_roots: Vec<String>,
    /// Which quoted replies the agent sees.
    context_visibility: RawContextVisibility,
    /// Which reactions become events (default `own`).
    reaction_notifications: RawReactionNotifications,
    /// Whether consecutive DMs from one sender are coalesced.
    coalesce_same_sender_dms: bool,
    /// Replaying messages that arrived while the channel was down; each key inherits on its own.
    catchup: RawCatchup,
    /// Probe timeout in milliseconds (default 10000).
    probe_timeout_ms: NonZeroU64,
    /// Whether read receipts are sent (default true).
    send_read_receipts: bool,
    /// Send transport settings; accepted and passed through.
    send_transport: serde_json::Value,
    /// Default outbound target.
    default_to: String,
    /// Streaming settings; accepted and passed through.
    streaming: serde_json::Value,
}
