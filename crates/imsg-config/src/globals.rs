//! The settings outside the iMessage section that every account shares: mention patterns (compiled and
//! checked once), control-command switches, the response prefix, the DM session scope and the default group
//! history size.

use imsg_policy::{CommandSettings, MentionPatternError, MentionPatterns};

use crate::context::Ctx;
use crate::error::{ConfigError, ConfigErrorKind};
use imsg_policy::GroupPolicy;

use crate::raw::RawAgent;
use crate::resolved::DmScope;

/// The global settings every account shares.
pub(crate) struct Globals {
    pub(crate) commands: CommandSettings,
    pub(crate) mention_patterns: MentionPatterns,
    pub(crate) agent_patterns: Vec<(String, MentionPatterns)>,
    pub(crate) response_prefix: Option<String>,
    pub(crate) dm_scope: DmScope,
    pub(crate) default_group_policy: Option<GroupPolicy>,
    pub(crate) history_limit: Option<u64>,
}

/// Reads the global sections and compiles mention patterns (`default_group_policy` is filled by the caller,
/// which owns `channels`).
pub(crate) fn globals(
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
    Ok(Globals {
        commands: commands
            .as_ref()
            .map_or_else(CommandSettings::default, CommandSettings::from),
        mention_patterns,
        agent_patterns,
        response_prefix: messages.as_ref().and_then(|m| m.response_prefix.clone()),
        dm_scope: session
            .as_ref()
            .and_then(|s| s.dm_scope)
            .map(Into::into)
            .unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
