//! Control-command detection: does a message's first line name a registered `/command`?

use crate::settings::CommandSettings;

/// A registered text alias and whether the command takes arguments.
struct Alias {
    /// The alias without its slash, lowercase.
    name: &'static str,
    /// The canonical command it stands for.
    command: &'static str,
    /// Whether `/<alias> <args>` still counts as the command.
    accepts_args: bool,
}

/// Shorthand to keep the table readable.
const fn alias(name: &'static str, command: &'static str, accepts_args: bool) -> Alias {
    Alias {
        name,
        command,
        accepts_args,
    }
}

/// The text aliases of the anchor's command registry (gateway spec 3.7).
///
/// Which commands take arguments is our reading of the registry: commands that
/// only report or act (`/help`, `/status`, `/stop`, …) take none, so
/// `/status now` is ordinary text, as the spec's vectors require.
const ALIASES: &[Alias] = &[
    alias("help", "help", false),
    alias("commands", "commands", false),
    alias("skill", "skill", true),
    alias("status", "status", false),
    alias("allowlist", "allowlist", true),
    alias("approve", "approve", true),
    alias("context", "context", true),
    alias("tts", "tts", true),
    alias("whoami", "whoami", false),
    alias("id", "whoami", false),
    alias("subagents", "subagents", true),
    alias("config", "config", true),
    alias("debug", "debug", true),
    alias("usage", "usage", true),
    alias("stop", "stop", false),
    alias("restart", "restart", false),
    alias("activation", "activation", true),
    alias("send", "send", true),
    alias("reset", "reset", true),
    alias("new", "new", true),
    alias("compact", "compact", true),
    alias("think", "think", true),
    alias("thinking", "think", true),
    alias("t", "think", true),
    alias("verbose", "verbose", true),
    alias("v", "verbose", true),
    alias("reasoning", "reasoning", true),
    alias("reason", "reasoning", true),
    alias("elevated", "elevated", true),
    alias("elev", "elevated", true),
    alias("exec", "exec", true),
    alias("model", "model", true),
    alias("models", "models", true),
    alias("queue", "queue", true),
    alias("bash", "bash", true),
];

/// The canonical name of the control command `text` is, if it is one.
///
/// Only the first line of the trimmed text counts; `/cmd: rest` reads as
/// `/cmd rest`; the alias is matched case-insensitively; a command that takes
/// no arguments must stand alone; `/config`, `/debug` and `/bash` count only
/// when switched on in `commands`.
pub(crate) fn control_command(text: &str, settings: &CommandSettings) -> Option<&'static str> {
    let first_line = text.trim().lines().next()?.trim();
    let rest = first_line.strip_prefix('/')?;
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == ':')
        .unwrap_or(rest.len());
    let (name, mut tail) = rest.split_at(name_end);
    if let Some(after_colon) = tail.strip_prefix(':') {
        tail = after_colon;
    }
    let has_args = !tail.trim().is_empty();
    let alias = ALIASES.iter().find(|a| a.name.eq_ignore_ascii_case(name))?;
    if has_args && !alias.accepts_args {
        return None;
    }
    let enabled = match alias.command {
        "config" => settings.config,
        "debug" => settings.debug,
        "bash" => settings.bash,
        _ => true,
    };
    enabled.then_some(alias.command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_the_registry_rules() {
        let all_on = CommandSettings {
            config: true,
            debug: true,
            bash: true,
            ..CommandSettings::default()
        };
        let cases: &[(&str, CommandSettings, Option<&str>)] = &[
            ("/status", CommandSettings::default(), Some("status")),
            ("  /STATUS  ", CommandSettings::default(), Some("status")),
            ("/status now", CommandSettings::default(), None),
            ("/help me", CommandSettings::default(), None),
            ("hi /status", CommandSettings::default(), None),
            (
                "/status\nsecond line",
                CommandSettings::default(),
                Some("status"),
            ),
            ("/think: hard", CommandSettings::default(), Some("think")),
            ("/t high", CommandSettings::default(), Some("think")),
            ("/id", CommandSettings::default(), Some("whoami")),
            ("/config set x 1", CommandSettings::default(), None),
            ("/config set x 1", all_on, Some("config")),
            ("/debug", all_on, Some("debug")),
            ("/bash ls", CommandSettings::default(), None),
            ("/bash ls", all_on, Some("bash")),
            ("/statusx", CommandSettings::default(), None),
            ("/", CommandSettings::default(), None),
            ("", CommandSettings::default(), None),
            ("status", CommandSettings::default(), None),
        ];
        for (text, settings, expected) in cases {
            assert_eq!(control_command(text, settings), *expected, "{text:?}");
        }
    }
}
