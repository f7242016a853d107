//! The loader: JSON5 text to [`ResolvedConfig`], in the order syntax, types, migration, validation, merge,
//! resolution.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::time::Duration;

use imsg_policy::{
    AccessPolicy, CommandSettings, DmPolicy, GroupPolicy, GroupRule, MentionPatternError,
    MentionPatterns, startup_warnings,
};
use imsg_target::{AllowEntry, Region, Service, Target};

use crate::error::{ConfigError, ConfigErrorKind, Position};
use crate::locate::KeyIndex;
use crate::merge::{merge, migrate_legacy};
use crate::raw::{
    AllowFromValue, RawAccount, RawAgent, RawChunkMode, RawDmPolicy, RawDmScope, RawFile, RawGroup,
    RawGroupPolicy, RawImessage, RawReactionNotifications, RawService, RawTableMode,
};
use crate::resolved::{
    ChannelLimits, ChunkMode, ConfigWarning, DmScope, ProcessSettings, ReactionNotifications,
    ResolvedAccount, ResolvedConfig, TableMode,
};
use crate::validate::{
    expand_tilde, is_safe_executable, is_safe_remote_host, normalize_account_id, normalize_root,
    suggest,
};

/// The root every account may read attachments from, whatever the configuration says.
pub const DEFAULT_ATTACHMENT_ROOT: &str = "/Users/*/Library/Messages/Attachments";

/// Default outbound chunk size in characters.
const DEFAULT_TEXT_CHUNK_LIMIT: u64 = 4000;
/// Default media cap in MiB.
const DEFAULT_MEDIA_MAX_MB: u64 = 16;
/// Default group pending-history size.
const DEFAULT_HISTORY_LIMIT: u64 = 50;
/// Default probe timeout.
const DEFAULT_PROBE_TIMEOUT_MS: u64 = 10_000;
/// Default executable.
const DEFAULT_CLI_PATH: &str = "imsg";

/// How to load: the name used in error messages and the home directory used for `~` expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    source_name: String,
    home: Option<String>,
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

/// Where the iMessage section came from, for paths in messages.
const CHANNEL_PREFIX: [&str; 2] = ["channels", "imessage"];
/// The legacy location.
const LEGACY_PREFIX: [&str; 1] = ["imessage"];

/// Shared state of one load: the text's key index and the options.
struct Ctx<'a> {
    options: &'a LoadOptions,
    index: KeyIndex,
    /// Whether the section was (partly) written at the legacy location, so paths may point there.
    legacy: bool,
}

impl Ctx<'_> {
    /// An error at `segments` (relative to the document root), with the key's position when it was written.
    ///
    /// A path under `channels.imessage` that was actually written under the legacy `imessage` section is
    /// reported at the legacy location.
    fn error(&self, segments: &[String], kind: ConfigErrorKind) -> ConfigError {
        let (path, position) = self.locate(segments);
        ConfigError::new(&self.options.source_name, path, position, kind)
    }

    fn locate(&self, segments: &[String]) -> (String, Option<Position>) {
        let written = self.written(segments);
        (render_path(&written), self.index.find(&written))
    }

    /// The path where `segments` was actually written: under `channels.imessage`, or at the legacy location
    /// when only the legacy section has it.
    fn written(&self, segments: &[String]) -> Vec<String> {
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
fn section_path(rest: &[&str]) -> Vec<String> {
    CHANNEL_PREFIX
        .iter()
        .chain(rest.iter())
        .map(|s| (*s).to_owned())
        .collect()
}

/// Where one account's fields live: the section itself (no accounts) or `accounts.<key>`.
#[derive(Clone)]
struct Scope {
    segments: Vec<String>,
}

impl Scope {
    fn top() -> Scope {
        Scope {
            segments: section_path(&[]),
        }
    }

    fn account(key: &str) -> Scope {
        Scope {
            segments: section_path(&["accounts", key]),
        }
    }

    fn field(&self, name: &str) -> Vec<String> {
        let mut segments = self.segments.clone();
        segments.push(name.to_owned());
        segments
    }

    fn item(&self, name: &str, index: usize) -> Vec<String> {
        let mut segments = self.field(name);
        segments.push(index.to_string());
        segments
    }

    fn dotted(&self, name: &str) -> String {
        render_path(&self.field(name))
    }
}

/// Parses, validates, merges and resolves a configuration text.
///
/// # Errors
///
/// Returns a [`ConfigError`] for invalid JSON5, wrong types, unknown or duplicate keys inside the iMessage
/// section, and every semantic rule (see [`ConfigErrorKind`]).
pub fn from_str(text: &str, options: &LoadOptions) -> Result<ResolvedConfig, ConfigError> {
    let source = options.source_name.as_str();
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
        .map_err(|err| ConfigError::new(&name, "", None, ConfigErrorKind::Io(err.to_string())))?;
    let mut options = LoadOptions::new(name);
    if let Some(home) = std::env::home_dir() {
        options = options.with_home(home.display().to_string());
    }
    from_str(&text, &options)
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

/// The global settings every account shares.
struct Globals {
    commands: CommandSettings,
    mention_patterns: MentionPatterns,
    agent_patterns: Vec<(String, MentionPatterns)>,
    response_prefix: Option<String>,
    dm_scope: DmScope,
    default_group_policy: Option<RawGroupPolicy>,
    history_limit: Option<u64>,
}

fn resolve(ctx: &Ctx<'_>, raw: RawFile) -> Result<ResolvedConfig, ConfigError> {
    let mut warnings = Vec::new();
    let channels = raw.channels.unwrap_or_default();
    let section = match (channels.imessage, raw.imessage) {
        (current, None) => current,
        (None, Some(legacy)) => {
            warnings.push(warning(
                "imessage",
                "imessage config moved to channels.imessage (auto-migrated on load)",
            ));
            Some(legacy)
        }
        (Some(current), Some(legacy)) => {
            warnings.push(warning(
                "imessage",
                "imessage config merged into channels.imessage (keys under channels.imessage win)",
            ));
            Some(migrate_legacy(current, legacy))
        }
    };
    let Some(section) = section else {
        warnings.push(missing_section_warning(&ctx.index));
        return Ok(ResolvedConfig {
            accounts: Vec::new(),
            default_account: None,
            warnings,
        });
    };
    let section = migrate_require_mention(section, &raw.routing, &mut warnings);

    let globals = Globals {
        default_group_policy: channels.defaults.and_then(|d| d.group_policy),
        ..globals(ctx, &raw.messages, &raw.agents, &raw.session, &raw.commands)?
    };

    let (base, accounts, default_key) = section.split();
    let top = Scope::top();
    validate_fields(ctx, &top, &base)?;

    // The account list: the implicit `default` when none is configured.
    let mut listed: Vec<(String, Option<String>, RawAccount)> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, account) in accounts.unwrap_or_default() {
        let scope = Scope::account(&key);
        if key.trim().is_empty() {
            return Err(ctx.error(&scope.segments, ConfigErrorKind::BlankAccountId));
        }
        let id = normalize_account_id(&key);
        if let Some(other) = seen.get(&id) {
            return Err(ctx.error(
                &scope.segments,
                ConfigErrorKind::DuplicateAccountId {
                    key: key.clone(),
                    other: other.clone(),
                    id,
                },
            ));
        }
        seen.insert(id.clone(), key.clone());
        validate_fields(ctx, &scope, &account)?;
        listed.push((id, Some(key), account));
    }
    if listed.is_empty() {
        listed.push((
            imsg_policy::DEFAULT_ACCOUNT_ID.to_owned(),
            None,
            RawAccount::default(),
        ));
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));

    let default_account = match default_key {
        Some(key) => {
            let id = normalize_account_id(&key);
            if !listed.iter().any(|(listed_id, _, _)| *listed_id == id) {
                return Err(ctx.error(
                    &section_path(&["defaultAccount"]),
                    ConfigErrorKind::UnknownDefaultAccount(key),
                ));
            }
            id
        }
        None => listed
            .iter()
            .find(|(id, _, _)| id == imsg_policy::DEFAULT_ACCOUNT_ID)
            .or_else(|| listed.first())
            .map(|(id, _, _)| id.clone())
            .unwrap_or_else(|| imsg_policy::DEFAULT_ACCOUNT_ID.to_owned()),
    };

    let mut resolved = Vec::with_capacity(listed.len());
    for (id, key, account) in listed {
        let account = resolve_account(ctx, &globals, &base, id, key, &account)?;
        let path = render_path(
            &account
                .key
                .as_deref()
                .map_or_else(Scope::top, Scope::account)
                .segments,
        );
        // A disabled account never runs, so its policy cannot surprise anyone.
        if account.enabled {
            warnings.extend(
                startup_warnings(&account.policy)
                    .into_iter()
                    .map(|w| ConfigWarning {
                        path: path.clone(),
                        message: w.to_string(),
                    }),
            );
        }
        resolved.push(account);
    }
    check_duplicate_sources(ctx, &resolved)?;
    for w in &warnings {
        tracing::debug!(path = %w.path, "{}", w.message);
    }
    Ok(ResolvedConfig {
        accounts: resolved,
        default_account: Some(default_account),
        warnings,
    })
}

/// The warning for a file without an iMessage section, naming a near-miss key when one was written.
///
/// A section under `channels.imesage` or `channels.iMessage` is ignored like any other channel's, so the
/// gateway would start with no accounts and the owner would not know why.
fn missing_section_warning(index: &KeyIndex) -> ConfigWarning {
    const MISSING: &str = "channels.imessage is missing, so the iMessage channel has no accounts";
    let near_miss = |key: &str| {
        key != "imessage"
            && (key.eq_ignore_ascii_case("imsg") || suggest(key, &["imessage"]).is_some())
    };
    let channels = index
        .children(&["channels".to_owned()])
        .into_iter()
        .find(|k| near_miss(k))
        .map(|k| format!("channels.{k}"));
    let top = || {
        index
            .children(&[])
            .into_iter()
            .find(|k| near_miss(k))
            .map(str::to_owned)
    };
    match channels.or_else(top) {
        Some(written) => warning(
            &written,
            &format!("{MISSING}; did you mean `channels.imessage` instead of `{written}`?"),
        ),
        None => warning("channels.imessage", MISSING),
    }
}

fn warning(path: &str, message: &str) -> ConfigWarning {
    ConfigWarning {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// Legacy `routing.groupChat.requireMention` becomes `groups."*".requireMention` unless that is already set.
fn migrate_require_mention(
    section: RawImessage,
    routing: &Option<crate::raw::RawRouting>,
    warnings: &mut Vec<ConfigWarning>,
) -> RawImessage {
    let Some(require) = routing
        .as_ref()
        .and_then(|r| r.group_chat.as_ref())
        .and_then(|g| g.require_mention)
    else {
        return section;
    };
    let (mut base, accounts, default_account) = section.split();
    let groups = base.groups.get_or_insert_with(BTreeMap::new);
    let wildcard = groups
        .entry("*".to_owned())
        .or_insert_with(RawGroup::default);
    if wildcard.require_mention.is_none() {
        wildcard.require_mention = Some(require);
        warnings.push(warning(
            "routing.groupChat.requireMention",
            "routing.groupChat.requireMention moved to channels.imessage.groups.\"*\".requireMention",
        ));
    }
    RawImessage::from_parts(base, accounts, default_account)
}

/// Reads the global sections and compiles mention patterns (`default_group_policy` is filled by the caller,
/// which owns `channels`).
fn globals(
    ctx: &Ctx<'_>,
    messages: &Option<crate::raw::RawMessages>,
    agents: &Option<crate::raw::RawAgents>,
    session: &Option<crate::raw::RawSession>,
    commands: &Option<crate::raw::RawCommands>,
) -> Result<Globals, ConfigError> {
    let group_chat = messages.as_ref().and_then(|m| m.group_chat.as_ref());
    let list: &[RawAgent] = agents
        .as_ref()
        .and_then(|a| a.list.as_deref())
        .unwrap_or(&[]);
    let default_agent = list
        .iter()
        .position(|a| a.default == Some(true))
        .or_else(|| (!list.is_empty()).then_some(0));

    // Every configured list is compiled, so a bad pattern fails even on an agent that is not the default.
    let mut agent_patterns = Vec::new();
    let mut default_agent_patterns = None;
    for (i, agent) in list.iter().enumerate() {
        let Some(patterns) = agent
            .group_chat
            .as_ref()
            .and_then(|g| g.mention_patterns.as_ref())
        else {
            continue;
        };
        let path: Vec<String> = [
            "agents",
            "list",
            &i.to_string(),
            "groupChat",
            "mentionPatterns",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let compiled = compile_patterns(ctx, &path, patterns)?;
        if Some(i) == default_agent {
            default_agent_patterns = Some(compiled.clone());
        }
        if let Some(id) = agent
            .id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            agent_patterns.push((id.to_owned(), compiled));
        }
    }
    let global_patterns = match group_chat.and_then(|g| g.mention_patterns.as_ref()) {
        Some(patterns) => {
            let path: Vec<String> = ["messages", "groupChat", "mentionPatterns"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            Some(compile_patterns(ctx, &path, patterns)?)
        }
        None => None,
    };
    let mention_patterns = match (default_agent_patterns, global_patterns) {
        (Some(agent), _) => agent,
        (None, Some(global)) => global,
        (None, None) => {
            let identity = default_agent
                .and_then(|i| list.get(i))
                .and_then(|a| a.identity.as_ref());
            let derived = identity_patterns(
                identity.and_then(|i| i.name.as_deref()),
                identity.and_then(|i| i.emoji.as_deref()),
            );
            let path: Vec<String> = ["agents", "list"].iter().map(|s| (*s).to_owned()).collect();
            compile_patterns(ctx, &path, &derived)?
        }
    };
    let commands = commands.as_ref();
    let defaults = CommandSettings::default();
    Ok(Globals {
        commands: CommandSettings {
            use_access_groups: commands
                .and_then(|c| c.use_access_groups)
                .unwrap_or(defaults.use_access_groups),
            config: commands.and_then(|c| c.config).unwrap_or(defaults.config),
            debug: commands.and_then(|c| c.debug).unwrap_or(defaults.debug),
            bash: commands.and_then(|c| c.bash).unwrap_or(defaults.bash),
        },
        mention_patterns,
        agent_patterns,
        response_prefix: messages.as_ref().and_then(|m| m.response_prefix.clone()),
        dm_scope: match session.as_ref().and_then(|s| s.dm_scope) {
            None | Some(RawDmScope::Main) => DmScope::Main,
            Some(RawDmScope::PerPeer) => DmScope::PerPeer,
            Some(RawDmScope::PerChannelPeer) => DmScope::PerChannelPeer,
            Some(RawDmScope::PerAccountChannelPeer) => DmScope::PerAccountChannelPeer,
        },
        default_group_policy: None,
        history_limit: group_chat.and_then(|g| g.history_limit),
    })
}

/// Patterns derived from the agent identity when none are configured (section 3.6): the name as whole words
/// with an optional `@`, and the emoji literally.
fn identity_patterns(name: Option<&str>, emoji: Option<&str>) -> Vec<String> {
    let mut patterns = Vec::new();
    if let Some(name) = name {
        let words: Vec<String> = name.split_whitespace().map(regex::escape).collect();
        if !words.is_empty() {
            patterns.push(format!("\\b@?{}\\b", words.join("\\s+")));
        }
    }
    if let Some(emoji) = emoji.map(str::trim).filter(|e| !e.is_empty()) {
        patterns.push(regex::escape(emoji));
    }
    patterns
}

/// Compiles one configured list of mention patterns; a bad pattern is a config error at its index.
fn compile_patterns(
    ctx: &Ctx<'_>,
    path: &[String],
    patterns: &[String],
) -> Result<MentionPatterns, ConfigError> {
    let compiled = MentionPatterns::compile(patterns).map_err(|err| {
        let (index, pattern, reason) = match &err {
            MentionPatternError::Invalid {
                index,
                pattern,
                source,
            } => (
                Some(*index),
                pattern.clone(),
                regex_reason(&source.to_string()),
            ),
            MentionPatternError::Blank { index } => {
                let mut segments = path.to_vec();
                segments.push(index.to_string());
                return ctx.error(&segments, ConfigErrorKind::BlankMentionPattern);
            }
            other => (None, patterns.join(" | "), regex_reason(&other.to_string())),
        };
        let mut segments = path.to_vec();
        if let Some(index) = index {
            segments.push(index.to_string());
        }
        ctx.error(
            &segments,
            ConfigErrorKind::InvalidMentionPattern { pattern, reason },
        )
    })?;
    // Like a blank pattern, one that matches the empty text (`@bot|`, `x*`, `^`) makes every message a
    // mention. The compiled list has one source per configured pattern, in order.
    for (index, source) in compiled.patterns().iter().enumerate() {
        if regex::RegexBuilder::new(source)
            .case_insensitive(true)
            .build()
            .is_ok_and(|re| re.is_match(""))
        {
            let mut segments = path.to_vec();
            segments.push(index.to_string());
            return Err(ctx.error(
                &segments,
                ConfigErrorKind::MentionPatternMatchesEmpty(source.clone()),
            ));
        }
    }
    Ok(compiled)
}

/// The last line of a `regex` error (`error: unclosed group`), as a lowercase phrase without the caret diagram.
fn regex_reason(message: &str) -> String {
    let last = message
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(message);
    let last = last
        .strip_prefix("error: ")
        .unwrap_or(last)
        .trim_end_matches('.');
    let mut chars = last.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Checks the values written at one level (the section or one account) where they were written, so an error
/// points at the key the user must edit.
fn validate_fields(ctx: &Ctx<'_>, scope: &Scope, raw: &RawAccount) -> Result<(), ConfigError> {
    if let Some(cli) = &raw.cli_path
        && !is_safe_executable(cli)
    {
        return Err(ctx.error(
            &scope.field("cliPath"),
            ConfigErrorKind::UnsafeCliPath(cli.clone()),
        ));
    }
    // imsg gets `--db <dbPath>`, and behind an `ssh host imsg "$@"` wrapper the remote shell reads it again.
    if let Some(db) = &raw.db_path
        && !db.trim().is_empty()
        && !is_safe_executable(db)
    {
        return Err(ctx.error(
            &scope.field("dbPath"),
            ConfigErrorKind::UnsafeDbPath(db.clone()),
        ));
    }
    if let Some(host) = &raw.remote_host {
        let host = host.trim();
        if !host.is_empty() && !is_safe_remote_host(host) {
            return Err(ctx.error(
                &scope.field("remoteHost"),
                ConfigErrorKind::UnsafeRemoteHost(host.to_owned()),
            ));
        }
    }
    for name in ["attachmentRoots", "remoteAttachmentRoots"] {
        let roots = if name == "attachmentRoots" {
            &raw.attachment_roots
        } else {
            &raw.remote_attachment_roots
        };
        for (i, root) in roots.iter().flatten().enumerate() {
            if normalize_root(root).is_none() {
                return Err(ctx.error(
                    &scope.item(name, i),
                    ConfigErrorKind::InvalidAttachmentRoot(root.clone()),
                ));
            }
        }
    }
    let region = region_of(ctx, scope, raw.region.as_deref())?;
    // Allowlists are parsed with this level's region here, and again with the account's effective region
    // when they are inherited.
    if let Some(list) = &raw.allow_from {
        parse_entries(ctx, &scope.field("allowFrom"), list, &region)?;
    }
    if let Some(list) = &raw.group_allow_from {
        parse_entries(ctx, &scope.field("groupAllowFrom"), list, &region)?;
    }
    if let Some(to) = raw
        .default_to
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        to.parse::<Target>().map_err(|err| {
            ctx.error(
                &scope.field("defaultTo"),
                ConfigErrorKind::InvalidTarget(err.to_string()),
            )
        })?;
    }
    Ok(())
}

fn region_of(ctx: &Ctx<'_>, scope: &Scope, raw: Option<&str>) -> Result<Region, ConfigError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(Region::default()),
        Some(code) => Region::new(code).map_err(|err| {
            ctx.error(
                &scope.field("region"),
                ConfigErrorKind::InvalidRegion(err.to_string()),
            )
        }),
    }
}

fn parse_entries(
    ctx: &Ctx<'_>,
    path: &[String],
    list: &[AllowFromValue],
    region: &Region,
) -> Result<Vec<AllowEntry>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, value)| {
            let mut segments = path.to_vec();
            segments.push(i.to_string());
            // A number written `+4930123456` reaches us as its digits; put the `+` back, or the digits
            // would be read as a national number of the region (another person).
            let plus;
            let text = if ctx.index.is_plus_number(&ctx.written(&segments), &value.0) {
                plus = format!("+{}", value.0);
                plus.as_str()
            } else {
                value.0.as_str()
            };
            AllowEntry::parse(text, region).map_err(|err| {
                ctx.error(
                    &segments,
                    ConfigErrorKind::InvalidAllowEntry(err.to_string()),
                )
            })
        })
        .collect()
}

/// The scope that supplied a merged field: the account when it set the field, else the section.
fn origin<'s, T>(account_value: &Option<T>, account: &'s Scope, top: &'s Scope) -> &'s Scope {
    if account_value.is_some() {
        account
    } else {
        top
    }
}

fn resolve_account(
    ctx: &Ctx<'_>,
    globals: &Globals,
    base: &RawAccount,
    id: String,
    key: Option<String>,
    account: &RawAccount,
) -> Result<ResolvedAccount, ConfigError> {
    let top = Scope::top();
    let own = key.as_deref().map_or_else(Scope::top, Scope::account);
    let merged = merge(base, account);

    let region = region_of(
        ctx,
        origin(&account.region, &own, &top),
        merged.region.as_deref(),
    )?;
    let allow_scope = origin(&account.allow_from, &own, &top);
    let allow_from = match &merged.allow_from {
        Some(list) => parse_entries(ctx, &allow_scope.field("allowFrom"), list, &region)?,
        None => Vec::new(),
    };
    let group_allow_from = match &merged.group_allow_from {
        Some(list) => Some(parse_entries(
            ctx,
            &origin(&account.group_allow_from, &own, &top).field("groupAllowFrom"),
            list,
            &region,
        )?),
        None => None,
    };

    // Defaults are applied here, after the merge, so a section-level policy reaches every account.
    let dm_policy = match merged.dm_policy {
        None | Some(RawDmPolicy::Pairing) => DmPolicy::Pairing,
        Some(RawDmPolicy::Allowlist) => DmPolicy::Allowlist,
        Some(RawDmPolicy::Open) => DmPolicy::Open,
        Some(RawDmPolicy::Disabled) => DmPolicy::Disabled,
    };
    if dm_policy == DmPolicy::Open && !allow_from.contains(&AllowEntry::Wildcard) {
        let policy_scope = origin(&account.dm_policy, &own, &top);
        // The path of the missing `*`: where allowFrom was written, else where it should go.
        let allow_path = if merged.allow_from.is_some() {
            allow_scope
        } else {
            policy_scope
        };
        let err_path = if merged.allow_from.is_some() {
            allow_path.field("allowFrom")
        } else {
            policy_scope.field("dmPolicy")
        };
        return Err(ctx.error(
            &err_path,
            ConfigErrorKind::OpenWithoutWildcard {
                policy_path: policy_scope.dotted("dmPolicy"),
                allow_from_path: allow_path.dotted("allowFrom"),
            },
        ));
    }
    let group_policy = match merged.group_policy.or(globals.default_group_policy) {
        None | Some(RawGroupPolicy::Allowlist) => GroupPolicy::Allowlist,
        Some(RawGroupPolicy::Open) => GroupPolicy::Open,
        Some(RawGroupPolicy::Disabled) => GroupPolicy::Disabled,
    };

    let groups_scope = origin(&account.groups, &own, &top);
    let mut groups = BTreeMap::new();
    for (group_key, group) in merged.groups.iter().flatten() {
        let allow = match &group.allow_from {
            Some(list) => {
                let mut path = groups_scope.field("groups");
                path.extend([group_key.clone(), "allowFrom".to_owned()]);
                Some(parse_entries(ctx, &path, list, &region)?)
            }
            None => None,
        };
        let rule = GroupRule {
            require_mention: group.require_mention,
            allow_from: allow,
            system_prompt: group.system_prompt.clone(),
        };
        groups.insert(group_key.clone(), rule);
    }

    let default_to = match merged
        .default_to
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(to) => to.parse::<Target>().ok(),
        None => None,
    };

    let mut builder = AccessPolicy::builder(id.clone())
        .dm_policy(dm_policy)
        .group_policy(group_policy)
        .allow_from(allow_from)
        .group_allow_from(group_allow_from)
        .groups(groups)
        .mention_patterns(globals.mention_patterns.clone())
        .commands(globals.commands)
        .region(region)
        .default_to(default_to);
    for (agent, patterns) in &globals.agent_patterns {
        builder = builder.agent_mention_patterns(agent.clone(), patterns.clone());
    }
    let policy = builder.build();

    let home = ctx.options.home.as_deref();
    let cli_path = expand_tilde(
        merged
            .cli_path
            .as_deref()
            .map_or(DEFAULT_CLI_PATH, str::trim),
        home,
    );
    let db_path = merged
        .db_path
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| expand_tilde(p, home));
    let remote_host = merged
        .remote_host
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned);

    let local_roots = dedup(
        merged
            .attachment_roots
            .iter()
            .flatten()
            .filter_map(|r| normalize_root(r))
            .chain([DEFAULT_ATTACHMENT_ROOT.to_owned()]),
    );
    let remote_roots = dedup(
        merged
            .remote_attachment_roots
            .iter()
            .flatten()
            .filter_map(|r| normalize_root(r))
            .chain(local_roots.iter().cloned()),
    );

    let top_enabled = base.enabled != Some(false);
    let configured = is_configured(&merged);
    Ok(ResolvedAccount {
        id,
        key,
        name: merged
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        enabled: top_enabled && merged.enabled != Some(false),
        configured,
        policy,
        process: ProcessSettings {
            cli_path,
            db_path,
            remote_host,
            probe_timeout: Duration::from_millis(
                merged
                    .probe_timeout_ms
                    .map_or(DEFAULT_PROBE_TIMEOUT_MS, NonZeroU64::get),
            ),
        },
        limits: ChannelLimits {
            text_chunk_limit: merged
                .text_chunk_limit
                .map_or(DEFAULT_TEXT_CHUNK_LIMIT, NonZeroU64::get),
            chunk_mode: match merged.chunk_mode {
                None | Some(RawChunkMode::Length) => ChunkMode::Length,
                Some(RawChunkMode::Newline) => ChunkMode::Newline,
            },
            media_max_mb: merged
                .media_max_mb
                .map_or(DEFAULT_MEDIA_MAX_MB, NonZeroU64::get),
            history_limit: merged
                .history_limit
                .or(globals.history_limit)
                .unwrap_or(DEFAULT_HISTORY_LIMIT),
            dm_history_limit: merged.dm_history_limit,
            dms: merged
                .dms
                .iter()
                .flatten()
                .map(|(peer, dm)| (peer.clone(), dm.history_limit))
                .collect(),
            include_attachments: merged.include_attachments.unwrap_or(false),
            attachment_roots: local_roots,
            remote_attachment_roots: remote_roots,
            markdown_tables: match merged.markdown.as_ref().and_then(|m| m.tables) {
                None | Some(RawTableMode::Code) => TableMode::Code,
                Some(RawTableMode::Off) => TableMode::Off,
                Some(RawTableMode::Bullets) => TableMode::Bullets,
            },
            block_streaming: merged.block_streaming,
        },
        service: match merged.service {
            None | Some(RawService::Auto) => Service::Auto,
            Some(RawService::Imessage) => Service::Imessage,
            Some(RawService::Sms) => Service::Sms,
        },
        region,
        config_writes: merged.config_writes.unwrap_or(true),
        response_prefix: globals.response_prefix.clone(),
        dm_scope: globals.dm_scope,
        send_read_receipts: merged.send_read_receipts.unwrap_or(true),
        reaction_notifications: match merged.reaction_notifications {
            None | Some(RawReactionNotifications::Own) => ReactionNotifications::Own,
            Some(RawReactionNotifications::Off) => ReactionNotifications::Off,
            Some(RawReactionNotifications::All) => ReactionNotifications::All,
        },
    })
}

/// The "configured" rule of section 1.3 (anchor keys plus the newest `attachmentRoots`,
/// `remoteAttachmentRoots` and `sendTransport`), evaluated on the merged account before any default.
fn is_configured(merged: &RawAccount) -> bool {
    let non_blank = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let non_empty = |v: &Option<Vec<AllowFromValue>>| v.as_ref().is_some_and(|l| !l.is_empty());
    let roots = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|l| !l.is_empty());
    non_blank(&merged.cli_path)
        || non_blank(&merged.db_path)
        || non_blank(&merged.region)
        || merged.service.is_some()
        || non_empty(&merged.allow_from)
        || non_empty(&merged.group_allow_from)
        || merged.dm_policy.is_some()
        || merged.group_policy.is_some()
        || merged.include_attachments.is_some()
        || merged.media_max_mb.is_some()
        || merged.text_chunk_limit.is_some()
        || merged.groups.as_ref().is_some_and(|g| !g.is_empty())
        || roots(&merged.attachment_roots)
        || roots(&merged.remote_attachment_roots)
        || merged.send_transport.is_some()
}

/// Keeps the first occurrence of each value, in order.
fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

/// Two enabled accounts reading the same `(cliPath, dbPath)` would each receive every message; refuse that.
fn check_duplicate_sources(ctx: &Ctx<'_>, accounts: &[ResolvedAccount]) -> Result<(), ConfigError> {
    let mut seen: HashMap<(&str, Option<&str>), &ResolvedAccount> = HashMap::new();
    for account in accounts.iter().filter(|a| a.enabled) {
        let source = (
            account.process.cli_path.as_str(),
            account.process.db_path.as_deref(),
        );
        if let Some(other) = seen.get(&source) {
            let scope = account
                .key
                .as_deref()
                .map_or_else(Scope::top, Scope::account);
            return Err(ctx.error(
                &scope.segments,
                ConfigErrorKind::DuplicateAccountSource {
                    account: account.id.clone(),
                    other: other.id.clone(),
                    cli_path: account.process.cli_path.clone(),
                    db_path: account.process.db_path.clone(),
                },
            ));
        }
        seen.insert(source, account);
    }
    Ok(())
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

    #[test]
    fn regex_errors_become_one_phrase() {
        let cases = [
            (
                "regex parse error:\n    (unclosed\n    ^\nerror: unclosed group",
                "unclosed group",
            ),
            (
                "Compiled regex exceeds size limit of 1048576 bytes.",
                "compiled regex exceeds size limit of 1048576 bytes",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(regex_reason(input), expected);
        }
    }

    #[test]
    fn identity_patterns_escape_and_join_words() {
        assert_eq!(
            identity_patterns(Some("Clawd  Bot.v2"), Some(" 🦞 ")),
            vec!["\\b@?Clawd\\s+Bot\\.v2\\b".to_owned(), "🦞".to_owned()]
        );
        assert!(identity_patterns(Some("   "), None).is_empty());
    }
}
