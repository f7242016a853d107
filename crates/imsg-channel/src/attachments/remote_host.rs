//! The remote Mac: a validated `host` / `user@host`, and its detection from the SSH wrapper named by
//! `cliPath`.
//!
//! The anchor found the host with two regular expressions, which took option values for the host
//! (`-o ProxyJump=a@b`, `-l user`, `-i key host`). Here the wrapper's ssh line is split into words the way a
//! shell would and read with ssh's own option grammar, so the destination is the first operand after
//! the options. The port, identity file, known-hosts file and jump host of the wrapper are kept, so the
//! copies take the same route as `imsg rpc`. A wrapper that runs a command locally through ssh options
//! (`ProxyCommand`, `LocalCommand`, `KnownHostsCommand`) is refused as a whole.

use std::fmt;
use std::path::PathBuf;

/// A validated SSH destination: `host`, `user@host`, or either with a bracketed IPv6 literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteHost {
    user: Option<String>,
    host: String,
}

/// Why a remote host or a wrapper was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteHostError {
    /// The value is not `host`, `user@host` or a bracketed IPv6 literal.
    #[error(
        "remote host `{0}` refused: it must be `host` or `user@host` (letters, digits, `.`, `_`, `-`, or a \
         bracketed IPv6 literal), not starting with `-`"
    )]
    Invalid(String),
    /// The wrapper's ssh line carries an option that runs a local command.
    #[error(
        "the SSH wrapper's ssh line sets `{0}`, which runs a local command; attachments over SSH are off \
         until it is removed (set remoteHost and use ~/.ssh/config instead)"
    )]
    RunsLocalProgram(String),
}

/// The word rule of user and host names: ASCII letters, digits, `.`, `_`, `-`, no leading `-`.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_bracketed_ipv6(s: &str) -> bool {
    s.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|inner| {
            inner.contains(':')
                && inner
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
        })
}

impl RemoteHost {
    /// Parses `host` or `user@host`.
    ///
    /// # Errors
    ///
    /// [`RemoteHostError::Invalid`] for anything else: whitespace, control characters, a leading `-`,
    /// `/` or `\`, more than one `@`, or characters outside `[A-Za-z0-9._-]`.
    pub fn parse(value: &str) -> Result<RemoteHost, RemoteHostError> {
        let invalid = || RemoteHostError::Invalid(value.escape_debug().to_string());
        let host_ok = |h: &str| is_word(h) || is_bracketed_ipv6(h);
        match value.split_once('@') {
            Some((user, host)) if is_word(user) && host_ok(host) => Ok(RemoteHost {
                user: Some(user.to_owned()),
                host: host.to_owned(),
            }),
            Some(_) => Err(invalid()),
            None if host_ok(value) => Ok(RemoteHost {
                user: None,
                host: value.to_owned(),
            }),
            None => Err(invalid()),
        }
    }

    /// The host part (an IPv6 literal keeps its brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The user part, when given.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host without IPv6 brackets, as `ssh-keyscan` wants it.
    pub(crate) fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

impl fmt::Display for RemoteHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(user) => write!(f, "{user}@{}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// How to reach the remote Mac: the host plus the connection options worth carrying from the wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SshTarget {
    /// The destination.
    pub host: RemoteHost,
    /// `-p` / `-o Port=`.
    pub port: Option<u16>,
    /// `-i` / `-o IdentityFile=`.
    pub identity_file: Option<PathBuf>,
    /// `-o UserKnownHostsFile=` (the first file when several are listed).
    pub known_hosts_file: Option<PathBuf>,
    /// `-J` / `-o ProxyJump=`, each hop validated like a host (an optional `:port` allowed).
    pub proxy_jump: Option<String>,
}

impl SshTarget {
    /// A target with only a host (the options come from `~/.ssh/config`).
    pub fn new(host: RemoteHost) -> SshTarget {
        SshTarget {
            host,
            port: None,
            identity_file: None,
            known_hosts_file: None,
            proxy_jump: None,
        }
    }
}

/// Finds the remote Mac in the text of an SSH wrapper script.
///
/// The first ssh command whose remote command runs something ending in `imsg` wins; without one, the
/// first ssh command with a destination. `None` when no such line exists or the destination is not a
/// literal valid host (a shell variable, say), which the caller logs.
///
/// # Errors
///
/// [`RemoteHostError::RunsLocalProgram`] when that ssh command carries `ProxyCommand`, `LocalCommand`,
/// `PermitLocalCommand` or `KnownHostsCommand` (in any spelling: `-oProxyCommand=…`, `-o ProxyCommand …`).
pub fn detect_remote_host(script: &str) -> Result<Option<SshTarget>, RemoteHostError> {
    let joined = script.replace("\\\n", " ");
    let mut fallback = None;
    for line in joined.lines() {
        for command in split_commands(line) {
            let Some(at) = command
                .iter()
                .position(|w| w.rsplit('/').next() == Some("ssh"))
            else {
                continue;
            };
            let Some(parsed) = parse_ssh_args(command.get(at + 1..).unwrap_or_default())? else {
                continue;
            };
            if parsed.runs_imsg {
                return Ok(Some(parsed.target));
            }
            if fallback.is_none() {
                fallback = Some(parsed.target);
            }
        }
    }
    Ok(fallback)
}

/// The words of each simple command on one line, split at unquoted `;`, `|` and `&`, comments removed.
/// Quoting follows the shell: single quotes are literal, double quotes and backslashes escape.
fn split_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    word.push(e);
                }
            }
            '#' if !in_word => break,
            ';' | '|' | '&' | '(' | ')' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                commands.push(std::mem::take(&mut words));
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    commands.push(words);
    commands.retain(|c| !c.is_empty());
    commands
}

/// ssh's flags that take no value (OpenSSH 9).
const SSH_FLAGS: &str = "46AaCfGgKkMNnqsTtVvXxYy";
/// ssh's options that take a value.
const SSH_VALUED: &str = "BbcDEeFIiJLlmOoPpQRSWw";
/// `-o` keys that make ssh run a local command.
const COMMAND_KEYS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "permitlocalcommand",
    "knownhostscommand",
];

struct ParsedSsh {
    target: SshTarget,
    runs_imsg: bool,
}

#[derive(Default)]
struct Carried {
    user: Option<String>,
    port: Option<u16>,
    identity_file: Option<PathBuf>,
    known_hosts_file: Option<PathBuf>,
    proxy_jump: Option<String>,
}

/// Reads ssh's argv after the program name; `None` when there is no usable destination.
fn parse_ssh_args(args: &[String]) -> Result<Option<ParsedSsh>, RemoteHostError> {
    let mut carried = Carried::default();
    let mut i = 0;
    let mut destination = None;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            destination = args.get(i).cloned();
            i += 1;
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            destination = Some(arg.clone());
            break;
        };
        for (at, flag) in flags.char_indices() {
            if SSH_FLAGS.contains(flag) {
                continue;
            }
            if !SSH_VALUED.contains(flag) {
                // ssh itself would refuse this line, so it cannot be the one that reaches the Mac.
                return Ok(None);
            }
            let attached = &flags[at + flag.len_utf8()..];
            let value = if attached.is_empty() {
                let Some(v) = args.get(i) else {
                    return Ok(None);
                };
                i += 1;
                v.clone()
            } else {
                attached.to_owned()
            };
            carry(flag, &value, &mut carried)?;
            break;
        }
    }
    let Some(destination) = destination else {
        return Ok(None);
    };
    let runs_imsg = args
        .get(i..)
        .unwrap_or_default()
        .iter()
        .any(|w| w.rsplit('/').next().is_some_and(|b| b.ends_with("imsg")));
    let (destination, url_port) = strip_ssh_url(&destination);
    let host = match destination.split_once('@') {
        Some(_) => RemoteHost::parse(&destination),
        None => match &carried.user {
            Some(user) => RemoteHost::parse(&format!("{user}@{destination}")),
            None => RemoteHost::parse(&destination),
        },
    };
    let Ok(host) = host else {
        tracing::info!(
            destination = %destination.escape_debug(),
            "the SSH wrapper's destination is not a literal host; set remoteHost"
        );
        return Ok(None);
    };
    Ok(Some(ParsedSsh {
        target: SshTarget {
            host,
            port: url_port.or(carried.port),
            identity_file: carried.identity_file,
            known_hosts_file: carried.known_hosts_file,
            proxy_jump: carried.proxy_jump,
        },
        runs_imsg,
    }))
}

/// `ssh://[user@]host[:port]` to `[user@]host` and the port.
fn strip_ssh_url(destination: &str) -> (String, Option<u16>) {
    let Some(rest) = destination.strip_prefix("ssh://") else {
        return (destination.to_owned(), None);
    };
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            (host.to_owned(), port.parse().ok())
        }
        _ => (rest.to_owned(), None),
    }
}

/// Records the value of one valued option; refuses the command-running ones.
fn carry(flag: char, value: &str, carried: &mut Carried) -> Result<(), RemoteHostError> {
    match flag {
        'l' => carried.user = Some(value.to_owned()),
        'p' => carried.port = value.parse().ok(),
        'i' => carried.identity_file = literal_path(value),
        'J' => carried.proxy_jump = valid_jump(value),
        'o' => {
            let (key, val) = value
                .split_once(['=', ' ', '\t'])
                .map_or((value, ""), |(k, v)| {
                    (k, v.trim_start_matches(['=', ' ', '\t']))
                });
            let key = key.to_ascii_lowercase();
            if COMMAND_KEYS.contains(&key.as_str()) {
                return Err(RemoteHostError::RunsLocalProgram(key));
            }
            match key.as_str() {
                "user" => carried.user = Some(val.to_owned()),
                "port" => carried.port = val.parse().ok(),
                "identityfile" => carried.identity_file = literal_path(val),
                "userknownhostsfile" => {
                    carried.known_hosts_file = val.split_whitespace().next().and_then(literal_path);
                }
                "proxyjump" => carried.proxy_jump = valid_jump(val),
                // Everything else (StrictHostKeyChecking among them) is not carried: the copies set
                // their own host-key rules.
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// A file path from the wrapper when it is literal: `~/` and `$HOME/` are expanded, anything else with
/// shell syntax is dropped (with a log), since no shell runs here.
fn literal_path(value: &str) -> Option<PathBuf> {
    let home = || std::env::home_dir();
    let expanded = if let Some(rest) = value.strip_prefix("~/") {
        home()?.join(rest)
    } else if let Some(rest) = value
        .strip_prefix("$HOME/")
        .or_else(|| value.strip_prefix("${HOME}/"))
    {
        home()?.join(rest)
    } else {
        PathBuf::from(value)
    };
    let text = expanded.to_string_lossy();
    if text.contains(['$', '`']) || !expanded.is_absolute() {
        tracing::info!(value = %value.escape_debug(), "an ssh option value of the wrapper is not a literal path; not carried");
        return None;
    }
    Some(expanded)
}

/// A `-J` value: comma-separated `[user@]host[:port]` hops, each validated like a host.
fn valid_jump(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.split(',').all(|hop| {
            let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
            let host = match hop.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => h,
                _ => hop,
            };
            RemoteHost::parse(host).is_ok()
        });
    if !ok {
        tracing::info!(value = %value.escape_debug(), "the wrapper's ProxyJump is not a list of plain hosts; not carried");
    }
    ok.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(script: &str) -> Option<SshTarget> {
        detect_remote_host(script).unwrap()
    }

    fn host_of(script: &str) -> Option<String> {
        detect(script).map(|t| t.host.to_string())
    }

    #[test]
    fn hosts_are_validated() {
        for ok in [
            "mac-mini",
            "bot@mac-mini",
            "bot@[fe80::1]",
            "[::1]",
            "a.b_c-d",
        ] {
            assert!(RemoteHost::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "-oProxyCommand=whoami",
            "bot@-oProxyCommand=x",
            "-mac",
            "bot@gateway-host -oProxyCommand=whoami",
            "a@b@c",
            "a/b",
            "a\\b",
            "",
            "bot@",
            "@host",
            "host\n",
            "[fe80::1",
            "[not:v6!]",
        ] {
            assert!(RemoteHost::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_anchor_examples_still_detect() {
        assert_eq!(
            host_of("#!/bin/sh\nexec ssh -T bot@mac-mini imsg \"$@\"\n").as_deref(),
            Some("bot@mac-mini")
        );
        assert_eq!(
            host_of("exec ssh -T gateway-host imsg \"$@\"").as_deref(),
            Some("gateway-host")
        );
    }

    #[test]
    fn option_values_are_not_taken_for_the_host() {
        let t = detect(
            "exec ssh -o ProxyJump=jump@bastion -l bot -i ~/.ssh/mac_key -p 2222 mac.local \
             /opt/homebrew/bin/imsg \"$@\"",
        )
        .unwrap();
        assert_eq!(t.host.to_string(), "bot@mac.local");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.proxy_jump.as_deref(), Some("jump@bastion"));
        assert!(t.identity_file.unwrap().ends_with(".ssh/mac_key"));
        let t = detect("ssh -p2222 -oUser=bot -- mac imsg rpc").unwrap();
        assert_eq!(t.host.to_string(), "bot@mac");
        assert_eq!(t.port, Some(2222));
        let t = detect("exec ssh ssh://bot@mac:2200 imsg").unwrap();
        assert_eq!((t.host.to_string(), t.port), ("bot@mac".into(), Some(2200)));
    }

    #[test]
    fn the_imsg_line_wins_over_other_ssh_lines() {
        let script =
            "ssh-add -l || true\nssh -q probe-host true\nexec ssh -T bot@mac imsg \"$@\"\n";
        assert_eq!(host_of(script).as_deref(), Some("bot@mac"));
        assert_eq!(host_of("ssh -q other true").as_deref(), Some("other"));
    }

    #[test]
    fn command_options_refuse_the_wrapper() {
        for script in [
            "exec ssh -oProxyCommand=nc\\ %h\\ %p bot@mac imsg",
            "exec ssh -o 'ProxyCommand nc %h %p' bot@mac imsg",
            "exec ssh -o PermitLocalCommand=yes -o LocalCommand=touch bot@mac imsg",
            "exec ssh -T -o KnownHostsCommand=/bin/x mac imsg",
        ] {
            assert!(
                matches!(
                    detect_remote_host(script),
                    Err(RemoteHostError::RunsLocalProgram(_))
                ),
                "{script}"
            );
        }
    }

    #[test]
    fn unusable_lines_detect_nothing() {
        assert_eq!(host_of("exec ssh \"$MAC\" imsg \"$@\""), None);
        assert_eq!(host_of("# exec ssh bot@mac imsg"), None);
        assert_eq!(host_of("exec /usr/local/bin/imsg \"$@\""), None);
        assert_eq!(host_of("ssh -Z mac imsg"), None);
        assert_eq!(host_of("ssh -T"), None);
    }
}
