//! Finds fenced code blocks in plain text, so the chunker can keep them whole or close and reopen them.
//!
//! The rule is deliberately simple and line-based (it runs on rendered text, not on markdown): a line
//! whose first non-blank characters are three or more backticks or tildes opens a fence (a backtick
//! fence's info string may not contain a backtick); a later line made of the same character, at least
//! as many times, and nothing but whitespace closes it. An unclosed fence runs to the end of the text.

/// One fenced block, as byte offsets into the text it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fence {
    /// Start of the opening line.
    pub(crate) open_start: usize,
    /// First byte after the opening line's newline (or the text's end).
    pub(crate) body_start: usize,
    /// Start of the closing line, or the text's end when the fence is unclosed.
    pub(crate) body_end: usize,
    /// End of the closing line (before its newline), or the text's end.
    pub(crate) close_end: usize,
    /// The opening line without its indentation and trailing whitespace, e.g. "```rust".
    pub(crate) opener: String,
    /// The marker that closes it, e.g. "```".
    pub(crate) closer: String,
}

/// A marker run at the start of a line: (char, count, byte offset just after the run).
fn marker_run(line: &str) -> Option<(u8, usize, usize)> {
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    let rest = &line.as_bytes()[indent..];
    let ch = *rest.first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let count = rest.iter().take_while(|&&b| b == ch).count();
    (count >= 3).then_some((ch, count, indent + count))
}

/// Every fence of `text`, in order, not overlapping.
pub(crate) fn find_fences(text: &str) -> Vec<Fence> {
    let mut fences = Vec::new();
    // Cheap exit: most replies have no fence at all.
    if !text.contains("```") && !text.contains("~~~") {
        return fences;
    }
    let mut open: Option<(usize, usize, u8, usize, String)> = None;
    let mut pos = 0;
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let next = if line_end < text.len() {
            line_end + 1
        } else {
            line_end
        };
        let line = &text[pos..line_end];
        match &open {
            None => {
                if let Some((ch, count, after)) = marker_run(line) {
                    let info = &line[after..];
                    if ch == b'~' || !info.contains('`') {
                        let opener = line.trim().to_owned();
                        open = Some((pos, next, ch, count, opener));
                    }
                }
            }
            Some((_, _, ch, count, _)) => {
                if let Some((c2, n2, after)) = marker_run(line)
                    && c2 == *ch
                    && n2 >= *count
                    && line[after..].trim().is_empty()
                    && let Some((open_start, body_start, ch, count, opener)) = open.take()
                {
                    fences.push(Fence {
                        open_start,
                        body_start,
                        body_end: pos,
                        close_end: line_end,
                        opener,
                        closer: String::from(ch as char).repeat(count),
                    });
                }
            }
        }
        pos = next;
    }
    if let Some((open_start, body_start, ch, count, opener)) = open {
        fences.push(Fence {
            open_start,
            body_start,
            body_end: text.len(),
            close_end: text.len(),
            opener,
            closer: String::from(ch as char).repeat(count),
        });
    }
    fences
}

#[cfg(test)]
mod tests {
    //! The fence rule on the shapes the renderer produces and on a few it must not take for fences.

    use super::*;

    #[test]
    fn closed_and_unclosed_fences() {
        let t = "a\n```rust\nfn x() {}\n```\nb\n~~~~\ncode\n~~~\nmore";
        let f = find_fences(t);
        assert_eq!(f.len(), 2);
        assert_eq!(
            &t[f[0].open_start..f[0].close_end],
            "```rust\nfn x() {}\n```"
        );
        assert_eq!(&t[f[0].body_start..f[0].body_end], "fn x() {}\n");
        assert_eq!(f[0].opener, "```rust");
        assert_eq!(f[0].closer, "```");
        // `~~~` does not close a four-tilde fence, so it runs to the end.
        assert_eq!(&t[f[1].body_start..f[1].body_end], "code\n~~~\nmore");
        assert_eq!(f[1].closer, "~~~~");
    }

    #[test]
    fn not_fences() {
        assert!(find_fences("``not`` a fence").is_empty());
        assert!(find_fences("text ``` in a line").is_empty());
        assert!(find_fences("```a`b\nx\n```").len() == 1); // the second ``` opens, unclosed
        assert_eq!(find_fences("```a`b\nx\n```")[0].open_start, 9);
    }
}
