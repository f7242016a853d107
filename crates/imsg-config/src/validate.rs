//! Value rules that serde cannot express: account ids, the safe-executable rule, remote hosts, attachment
//! roots, `~` expansion and the "did you mean" suggestion.

/// Normalizes an account key, or an account id typed on a command line, to the id the loader uses.
///
/// Trimmed; blank becomes `default`; a valid id (`[a-z0-9][a-z0-9_-]{0,63}`, any case) is lowercased;
/// anything else is lowercased with every run of other characters replaced by `-`, outer `-` stripped and
/// the result cut to 64 characters, `default` if nothing is left. So `Work` is `work` and `Ops Bot` is
/// `ops-bot`; [`crate::ResolvedConfig::account`] looks accounts up through this function.
///
/// ```
/// assert_eq!(imsg_config::normalize_account_id(" Ops Bot "), "ops-bot");
/// assert_eq!(imsg_config::normalize_account_id("WORK"), "work");
/// assert_eq!(imsg_config::normalize_account_id(""), "default");
/// ```
pub fn normalize_account_id(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return "default".to_owned();
    }
    let lower = trimmed.to_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let valid = lower.chars().count() <= 64
        && lower
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && lower.chars().all(allowed);
    if valid {
        return lower;
    }
    let mut out = String::with_capacity(lower.len());
    let mut in_run = false;
    for c in lower.chars() {
        if allowed(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let cut: String = out.trim_matches('-').chars().take(64).collect();
    if cut.is_empty() {
        "default".to_owned()
    } else {
        cut
    }
}

/// The safe-executable rule for `cliPath` (section 1.4): no shell metacharacters, quotes, control characters
/// (NUL, line breaks, tabs, escapes) or Unicode line separators, and no leading `-`; a path (starts with `.` or
/// `~`, contains a slash or backslash, or a drive letter) may contain spaces; a bare command name may only use
/// `[A-Za-z0-9._+-]`.
///
/// The loader applies it to `cliPath` and `dbPath`; a CLI that takes an executable from its user should
/// apply it too.
///
/// ```
/// assert!(imsg_config::is_safe_executable("/Applications/Imsg Tools/imsg"));
/// assert!(imsg_config::is_safe_executable("imsg"));
/// assert!(!imsg_config::is_safe_executable("imsg --db x"));
/// assert!(!imsg_config::is_safe_executable("imsg; rm -rf ~"));
/// ```
pub fn is_safe_executable(raw: &str) -> bool {
    let value = raw.trim();
    if value.is_empty() {
        return false;
    }
    // Beyond the anchor's NUL and CR/LF: every control character (tabs, C1 controls such as NEL, escapes)
    // and the Unicode line and paragraph separators.
    let forbidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | ';' | '&' | '|' | '`' | '$' | '<' | '>' | '"' | '\''
            )
    };
    // A leading `-` is an option to whatever reads the value, even when a slash makes it "look like a path".
    if value.chars().any(forbidden) || value.starts_with('-') {
        return false;
    }
    let bytes = value.as_bytes();
    let drive = bytes.len() >= 3
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.get(1) == Some(&b':')
        && matches!(bytes.get(2), Some(b'\\' | b'/'));
    let looks_like_path =
        value.starts_with('.') || value.starts_with('~') || value.contains(['/', '\\']) || drive;
    if looks_like_path {
        return true;
    }
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

/// The `remoteHost` rule (section 6.5): `host` or `user@host`, user and host from `[A-Za-z0-9._-]`, the host
/// may instead be a bracketed IPv6 literal; nothing may start with `-`.
pub(crate) fn is_safe_remote_host(value: &str) -> bool {
    let word = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    let host_ok = |h: &str| {
        word(h)
            || h.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .is_some_and(|inner| {
                    inner.contains(':')
                        && inner
                            .chars()
                            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
                })
    };
    match value.split_once('@') {
        Some((user, host)) => word(user) && host_ok(host),
        None => host_ok(value),
    }
}

/// Normalizes an attachment root pattern (section 6.5), or `None` when it is not a valid absolute pattern.
///
/// Backslashes become `/`, `.` segments are dropped and `..` removes the previous segment, a trailing `/` is
/// dropped; `/` alone (or only `*` segments, such as `/*`), relative paths, control characters, `**` and
/// partial globs such as `foo*` are invalid.
/// A Windows drive path (`C:/...`) is accepted and keeps its drive.
pub(crate) fn normalize_root(raw: &str) -> Option<String> {
    // NUL, line breaks and other control characters never belong in a root: a root is a path, and a path with them cannot be shown or matched safely.
    if raw
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return None;
    }
    let unified = raw.trim().replace('\\', "/");
    let bytes = unified.as_bytes();
    let (prefix, rest) = if unified.starts_with('/') {
        ("", unified.as_str())
    } else if bytes.len() >= 3
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.get(1) == Some(&b':')
        && bytes.get(2) == Some(&b'/')
    {
        unified.split_at(2)
    } else {
        return None;
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in rest.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s if s == "*" || !s.contains('*') => segments.push(s),
            _ => return None,
        }
    }
    // `/` admits every file, and so does a root of `*` segments only (`/*`, `/*/*`).
    if segments.iter().all(|s| *s == "*") {
        return None;
    }
    Some(format!("{prefix}/{}", segments.join("/")))
}

/// Expands a leading `~` (alone or followed by a slash) with `home`; other values are returned unchanged.
pub(crate) fn expand_tilde(value: &str, home: Option<&str>) -> String {
    let Some(home) = home.filter(|h| !h.is_empty()) else {
        return value.to_owned();
    };
    let home = home.trim_end_matches('/');
    if value == "~" {
        return home.to_owned();
    }
    match value
        .strip_prefix("~/")
        .or_else(|| value.strip_prefix("~\\"))
    {
        Some(rest) => format!("{home}/{rest}"),
        None => value.to_owned(),
    }
}

/// The known key closest to `unknown` (case-insensitive edit distance), when it is close enough to be a typo.
pub(crate) fn suggest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let needle = unknown.to_lowercase();
    let budget = (needle.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(&needle, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = current.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let deletion = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insertion = current.get(j).copied().unwrap_or(0) + 1;
            if let Some(cell) = current.get_mut(j + 1) {
                *cell = substitution.min(deletion).min(insertion);
            }
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_normalize_per_the_spec() {
        let cases = [
            ("Work", "work"),
            ("My Account!", "my-account"),
            ("-x-", "x"),
            ("  ", "default"),
            ("!!!", "default"),
            ("bot_2", "bot_2"),
            ("a.b.c", "a-b-c"),
            ("Ünïcode", "n-code"),
        ];
        for (raw, id) in cases {
            assert_eq!(normalize_account_id(raw), id, "{raw:?}");
        }
        assert_eq!(normalize_account_id(&"a".repeat(80)).len(), 64);
    }

    #[test]
    fn safe_executable_rule_matches_the_anchor_vectors() {
        let cases = [
            ("imsg", true),
            ("/usr/local/bin/imsg", true),
            ("/Applications/Imsg Tools/imsg", true),
            ("~/bin/imsg-remote", true),
            ("./imsg", true),
            ("C:\\tools\\imsg.exe", true),
            ("imsg; rm -rf /", false),
            ("imsg --db", false),
            ("-imsg", false),
            ("imsg`id`", false),
            ("$(id)", false),
            ("/bin/imsg\nx", false),
            ("'imsg'", false),
            ("", false),
            ("   ", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(is_safe_executable(raw), ok, "{raw:?}");
        }
    }

    #[test]
    fn safe_executable_rejects_control_characters_and_a_leading_dash() {
        // Unicode and C0/C1 line breaks, tabs and escapes have no place in an executable path; they would
        // also break the one-line error and any service file the path is written into.
        let cases = [
            "/usr/bin/imsg\u{85}x",
            "/usr/bin/imsg\u{2028}x",
            "/usr/bin/imsg\u{2029}x",
            "/usr/bin/im\tsg",
            "/usr/bin/im\u{b}sg",
            "/usr/bin/im\u{1b}sg",
            // A slash makes it "look like a path", but it is still an option to whatever reads it.
            "-oProxyCommand=/bin/sh",
            "-/imsg",
        ];
        for raw in cases {
            assert!(!is_safe_executable(raw), "{raw:?}");
        }
        assert!(is_safe_executable("./-imsg"));
    }

    #[test]
    fn attachment_roots_need_a_literal_segment() {
        // `/` alone is rejected because it admits every file; `/*` and `/*/*` admit just as much.
        for raw in ["/*", "/*/*", "\\*", "C:/*", "/*/.."] {
            assert_eq!(normalize_root(raw), None, "{raw:?}");
        }
        assert_eq!(normalize_root("/*/x").as_deref(), Some("/*/x"));
    }

    #[test]
    fn attachment_roots_reject_control_characters() {
        for raw in [
            "/Users/x\u{0}y",
            "/Users/x\ny",
            "/Users/x\ry/z",
            "/Users/\u{85}/x",
            "/a/\u{2028}",
        ] {
            assert_eq!(normalize_root(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn remote_host_accepts_only_host_or_user_at_host() {
        let cases = [
            ("bot@gateway-host", true),
            ("gateway-host", true),
            ("mac.local", true),
            ("user@[fe80::1]", true),
            ("[::1]", true),
            ("bot@gateway-host -oProxyCommand=whoami", false),
            ("-oProxyCommand=whoami", false),
            ("a@b@c", false),
            ("@host", false),
            ("user@", false),
            ("host/path", false),
            ("user@-host", false),
            ("[nothex]", false),
            ("", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(is_safe_remote_host(raw), ok, "{raw:?}");
        }
    }

    #[test]
    fn attachment_roots_normalize_or_are_rejected() {
        let cases = [
            (
                "/Users/*/Library/Messages/Attachments",
                Some("/Users/*/Library/Messages/Attachments"),
            ),
            (
                "/Users/*/Library/Messages/Attachments/",
                Some("/Users/*/Library/Messages/Attachments"),
            ),
            (
                "/Volumes/relay/../relay/attachments",
                Some("/Volumes/relay/attachments"),
            ),
            ("\\srv\\att", Some("/srv/att")),
            ("C:\\att", Some("C:/att")),
            ("./attachments", None),
            ("attachments", None),
            ("~/att", None),
            ("/", None),
            ("/Users/**/Attachments", None),
            ("/Users/foo*/x", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_root(raw).as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn tilde_expands_only_at_the_start() {
        let home = Some("/home/bot/");
        assert_eq!(expand_tilde("~/bin/imsg", home), "/home/bot/bin/imsg");
        assert_eq!(expand_tilde("~", home), "/home/bot");
        assert_eq!(expand_tilde("/x/~/y", home), "/x/~/y");
        assert_eq!(expand_tilde("~other/x", home), "~other/x");
        assert_eq!(expand_tilde("~/bin/imsg", None), "~/bin/imsg");
    }

    #[test]
    fn suggestions_need_a_close_match() {
        let known = ["enabled", "allowFrom", "dmPolicy", "groupAllowFrom", "dms"];
        let cases = [
            ("enabld", Some("enabled")),
            ("alowFrom", Some("allowFrom")),
            ("dmpolicy", Some("dmPolicy")),
            ("xyz", None),
            ("somethingElse", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(suggest(raw, &known), expected, "{raw}");
        }
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
