//! Attachment root patterns and the lexical checks every candidate path passes before it is touched.
//!
//! A root is an absolute path whose segments are either exactly `*` (any one segment) or literal text.
//! Matching is segment by segment, so characters that are glob syntax elsewhere (`?`, `[`, `{`) are plain
//! text here: a root such as `/data/[x]` only matches a directory literally named `[x]`.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::RefusalReason;

/// One segment of a root pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    /// `*`: any one segment.
    Any,
    /// A segment compared byte for byte.
    Literal(String),
}

/// A validated attachment root such as `/Users/*/Library/Messages/Attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RootPattern {
    segments: Vec<Segment>,
}

/// Why a root pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attachment root `{root}` refused: {why}")]
pub struct RootError {
    /// The root as given (control characters escaped).
    pub root: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl RootPattern {
    /// Parses `raw`: absolute, `/`-separated, each segment `*` or free of `*`, no `.`/`..` segments, no
    /// control characters, and not `/` alone nor only `*` segments (both would admit every file).
    ///
    /// # Errors
    ///
    /// A [`RootError`] naming the rule that failed.
    pub fn parse(raw: &str) -> Result<RootPattern, RootError> {
        let refuse = |why| RootError {
            root: raw.escape_debug().to_string(),
            why,
        };
        if raw.chars().any(is_control) {
            return Err(refuse("it contains a control character"));
        }
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(refuse("it is not an absolute POSIX path"));
        };
        let mut segments = Vec::new();
        for segment in rest.split('/') {
            match segment {
                "" => {}
                "." | ".." => return Err(refuse("it has a `.` or `..` segment")),
                "*" => segments.push(Segment::Any),
                s if s.contains('*') => {
                    return Err(refuse(
                        "a segment mixes `*` with text (only a whole `*` segment is a wildcard)",
                    ));
                }
                s => segments.push(Segment::Literal(s.to_owned())),
            }
        }
        if segments.iter().all(|s| *s == Segment::Any) {
            return Err(refuse("it would admit every file"));
        }
        Ok(RootPattern { segments })
    }

    /// Whether `path` (absolute, already free of `.` and `..`) is this root or lies below it.
    pub fn contains(&self, path: &Path) -> bool {
        let mut parts = path.components();
        if parts.next() != Some(Component::RootDir) {
            return false;
        }
        let mut parts = parts.peekable();
        for segment in &self.segments {
            let Some(Component::Normal(part)) = parts.next() else {
                return false;
            };
            match segment {
                Segment::Any => {}
                Segment::Literal(text) => {
                    if part.as_encoded_bytes() != text.as_bytes() {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// The same root with its literal prefix (the segments before the first `*`) resolved through the
    /// file system, so a root under a symlinked directory (`/tmp` on macOS is `/private/tmp`) still
    /// matches canonicalized candidates. A prefix that does not exist is kept as written.
    pub fn resolved(&self) -> RootPattern {
        let literal: Vec<&str> = self
            .segments
            .iter()
            .map_while(|s| match s {
                Segment::Literal(t) => Some(t.as_str()),
                Segment::Any => None,
            })
            .collect();
        let mut prefix = PathBuf::from("/");
        prefix.extend(&literal);
        let Ok(canonical) = std::fs::canonicalize(&prefix) else {
            return self.clone();
        };
        let Some(text) = canonical.to_str() else {
            return self.clone();
        };
        let mut segments: Vec<Segment> = text
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| Segment::Literal(s.to_owned()))
            .collect();
        segments.extend(self.segments.iter().skip(literal.len()).cloned());
        if segments.iter().all(|s| *s == Segment::Any) {
            // A literal prefix that resolves to `/` must not turn the root into "everything".
            return self.clone();
        }
        RootPattern { segments }
    }
}

impl fmt::Display for RootPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            match segment {
                Segment::Any => f.write_str("/*")?,
                Segment::Literal(text) => write!(f, "/{text}")?,
            }
        }
        Ok(())
    }
}

/// Parses every root, failing on the first bad one.
///
/// # Errors
///
/// The first [`RootError`].
pub fn parse_roots<S: AsRef<str>>(raw: &[S]) -> Result<Vec<RootPattern>, RootError> {
    raw.iter().map(|r| RootPattern::parse(r.as_ref())).collect()
}

/// Whether any root contains `path`.
pub(crate) fn inside_any(roots: &[RootPattern], path: &Path) -> bool {
    roots.iter().any(|r| r.contains(path))
}

/// Control characters, including line breaks and the Unicode line and paragraph separators.
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The lexical checks of a local path: present, no control characters (a newline among them), absolute,
/// no `..` component. `.` components are harmless and dropped by `Path` itself.
pub(crate) fn check_local_path(raw: &str) -> Result<PathBuf, RefusalReason> {
    if raw.is_empty() {
        return Err(RefusalReason::Missing);
    }
    if raw.chars().any(is_control) {
        return Err(RefusalReason::ControlCharacter);
    }
    let path = Path::new(raw);
    if !path.is_absolute() {
        return Err(RefusalReason::Relative);
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(RefusalReason::ParentComponent);
    }
    Ok(path.components().collect())
}

/// Characters refused in a path that crosses the SSH boundary.
///
/// The quoting and command characters would mean something to a remote shell if scp ever ran in its
/// legacy protocol (we force the SFTP protocol, so this is a second wall). `*`, `?`, `[` and `]` are
/// refused because scp expands them as a remote glob even in SFTP mode, which could fetch another file.
/// Spaces are allowed: they travel inside one argv element and the SFTP protocol never splits them.
pub(crate) const REMOTE_UNSAFE: &[char] = &[
    '\\', '\'', '"', '`', '$', ';', '|', '&', '<', '>', '*', '?', '[', ']',
];

/// The lexical checks of a path on the remote Mac: those of a local path plus [`REMOTE_UNSAFE`].
pub(crate) fn check_remote_path(raw: &str) -> Result<PathBuf, RefusalReason> {
    if let Some(c) = raw.chars().find(|c| REMOTE_UNSAFE.contains(c)) {
        return Err(RefusalReason::UnsafeCharacter(c));
    }
    // A remote path is never canonicalized here, so a `.` segment is refused too rather than trusted.
    if raw.split('/').any(|s| s == ".") {
        return Err(RefusalReason::ParentComponent);
    }
    check_local_path(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(raw: &str) -> RootPattern {
        RootPattern::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn roots_refuse_what_would_widen_them() {
        for bad in [
            "/",
            "//",
            "/*",
            "/*/*",
            "relative/dir",
            "~/x",
            "/a/b*",
            "/a/**",
            "/a/../b",
            "/a/./b",
            "/a\n/b",
            "",
        ] {
            assert!(RootPattern::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn star_is_one_segment_and_other_glob_syntax_is_literal() {
        let r = root("/Users/*/Library/Messages/Attachments");
        assert!(r.contains(Path::new(
            "/Users/bob/Library/Messages/Attachments/aa/x.jpg"
        )));
        assert!(r.contains(Path::new("/Users/bob/Library/Messages/Attachments")));
        assert!(!r.contains(Path::new("/Users/bob/eve/Library/Messages/Attachments/x")));
        assert!(!r.contains(Path::new("/Users/bob/Library/Messages")));
        assert!(!r.contains(Path::new("/Users/bob/Library/Messages/AttachmentsX/x")));
        let glob = root("/data/[ab]/?");
        assert!(glob.contains(Path::new("/data/[ab]/?/f")));
        assert!(!glob.contains(Path::new("/data/a/x/f")));
        assert_eq!(glob.to_string(), "/data/[ab]/?");
    }

    #[test]
    fn local_checks_refuse_relative_parent_and_newline() {
        assert_eq!(
            check_local_path("photos/x.jpg"),
            Err(RefusalReason::Relative)
        );
        assert_eq!(
            check_local_path("/a/../etc/passwd"),
            Err(RefusalReason::ParentComponent)
        );
        assert_eq!(
            check_local_path("/a/b\n.jpg"),
            Err(RefusalReason::ControlCharacter)
        );
        assert_eq!(check_local_path(""), Err(RefusalReason::Missing));
        assert_eq!(
            check_local_path("/a/./b.jpg").ok(),
            Some(PathBuf::from("/a/b.jpg"))
        );
    }

    #[test]
    fn remote_checks_refuse_shell_and_glob_characters_but_not_spaces() {
        for c in REMOTE_UNSAFE {
            let path = format!("/Users/b/Library/Messages/Attachments/a{c}b.jpg");
            assert_eq!(
                check_remote_path(&path),
                Err(RefusalReason::UnsafeCharacter(*c))
            );
        }
        assert!(check_remote_path("/Users/b/Library/Messages/Attachments/IMG 1.HEIC").is_ok());
        assert_eq!(
            check_remote_path("/Users/b/./x"),
            Err(RefusalReason::ParentComponent)
        );
    }
}
