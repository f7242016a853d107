//! Cuts text into messages of at most `limit` characters, at the best break, never inside a grapheme.
//!
//! Everything here works on byte offsets into the text and counts Unicode scalar values, so a chunk
//! is a slice of the input (plus the markers of a code fence carried across a cut). The scan over a
//! window is one pass over its bytes with a lookup table; the grapheme rules are consulted only at
//! the few offsets where a cut is considered, which is what keeps a megabyte well under the bench
//! goal.

use std::ops::Range;

use unicode_segmentation::GraphemeCursor;

use crate::fence::{Fence, find_fences};
use crate::options::{ChunkMode, TextOptions};

/// Where one message comes from: a slice of the chunked text, wrapped in the markers of a code
/// fence that was cut (empty strings when the chunk is not inside a cut fence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSpan {
    /// The byte range of the text this message carries; it starts and ends on grapheme
    /// boundaries and never starts or ends with a line of whitespace.
    pub range: Range<usize>,
    /// The fence's opening line and a newline, when this chunk continues a fence cut earlier.
    pub prefix: String,
    /// A newline and the fence's closing marker, when the fence is cut after this chunk.
    pub suffix: String,
}

impl ChunkSpan {
    /// The message text: `prefix`, the slice, `suffix`.
    #[must_use]
    pub fn text(&self, source: &str) -> String {
        let body = &source[self.range.clone()];
        let mut out = String::with_capacity(self.prefix.len() + body.len() + self.suffix.len());
        out.push_str(&self.prefix);
        out.push_str(body);
        out.push_str(&self.suffix);
        out
    }

    /// The message length in characters (Unicode scalar values), markers included.
    #[must_use]
    pub fn char_len(&self, source: &str) -> usize {
        self.prefix.chars().count()
            + source[self.range.clone()].chars().count()
            + self.suffix.chars().count()
    }
}

/// Splits `text` into messages per `options` (limit and chunk mode; the table mode is not used).
///
/// Never returns an empty string, never a message over the limit (counted in Unicode scalar
/// values), never splits a grapheme cluster unless that one cluster is longer than the limit, and
/// keeps a code fence that fits in one message whole. Whitespace at a cut is dropped; nothing else
/// of the text is lost or reordered. Empty or blank text gives no messages.
#[must_use]
pub fn chunk(text: &str, options: &TextOptions) -> Vec<String> {
    chunk_spans(text, options)
        .iter()
        .map(|s| s.text(text))
        .collect()
}

/// The same cut as [`chunk`], as spans into `text`, for callers that want to know where each
/// message came from (and for the property tests, which check the spans against the text).
#[must_use]
pub fn chunk_spans(text: &str, options: &TextOptions) -> Vec<ChunkSpan> {
    let limit = options.effective_limit();
    let cx = Cx::new(text, limit);
    let mut out = Vec::new();
    match options.chunk_mode {
        ChunkMode::Length => cx.length(0..text.len(), &mut out),
        ChunkMode::Newline => {
            for para in cx.paragraphs() {
                cx.length(para, &mut out);
            }
        }
    }
    out
}

/// A fence with what the chunker derived from it.
#[derive(Debug)]
struct FenceInfo {
    fence: Fence,
    /// The whole fence fits in one message, so it is never cut.
    fits: bool,
    /// The fence is too long and the limit leaves room to close and reopen it at a cut.
    carry: bool,
    /// First byte of non-whitespace in the body and the byte after the last; cuts strictly
    /// between them are inside the fence. `first == last` when the body is blank.
    first: usize,
    last: usize,
    prefix: String,
    suffix: String,
    prefix_chars: usize,
    suffix_chars: usize,
}

/// What a cut at some offset means for the fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// Outside every fence (or inside one that is cut like plain text).
    Free,
    /// Inside fence `i`'s body: the chunk before closes it and the chunk after reopens it.
    Inside(usize),
    /// Never cut here (inside a fence that fits, or on a fence's opening or closing line).
    Forbidden,
}

struct Cx<'a> {
    text: &'a str,
    limit: usize,
    fences: Vec<FenceInfo>,
}

/// Byte classes for the window scan.
const OTHER: u8 = 0;
const SPACE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const STOP: u8 = 4;
/// Closing quotes and brackets that may follow a sentence's last punctuation.
const TRAIL: u8 = 5;

const CLASS: [u8; 128] = {
    let mut t = [OTHER; 128];
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    t[b'(' as usize] = OPEN;
    t[b')' as usize] = CLOSE;
    t[b'.' as usize] = STOP;
    t[b'!' as usize] = STOP;
    t[b'?' as usize] = STOP;
    t[b'"' as usize] = TRAIL;
    t[b'\'' as usize] = TRAIL;
    t[b']' as usize] = TRAIL;
    t
};

/// The best cut of each kind seen in a window: paragraph, line, sentence, whitespace.
#[derive(Debug, Default)]
struct Best {
    top: [Option<(usize, Zone)>; 4],
    any: [Option<(usize, Zone)>; 4],
}

impl<'a> Cx<'a> {
    fn new(text: &'a str, limit: usize) -> Self {
        let fences = find_fences(text)
            .into_iter()
            .map(|fence| {
                let total = text[fence.open_start..fence.close_end].chars().count();
                let body = &text[fence.body_start..fence.body_end];
                let lead = body.len() - body.trim_start().len();
                let first = fence.body_start + lead;
                let last = (fence.body_start + body.trim_end().len()).max(first);
                let prefix = format!("{}\n", fence.opener);
                let suffix = format!("\n{}", fence.closer);
                let prefix_chars = prefix.chars().count();
                let suffix_chars = suffix.chars().count();
                let fits = total <= limit;
                // Markers may take at most half a message, so a reopened chunk still carries code.
                let carry = !fits && (prefix_chars + suffix_chars) * 2 <= limit;
                FenceInfo {
                    fence,
                    fits,
                    carry,
                    first,
                    last,
                    prefix,
                    suffix,
                    prefix_chars,
                    suffix_chars,
                }
            })
            .collect();
        Self {
            text,
            limit,
            fences,
        }
    }

    /// The fence whose region strictly contains `p`, if any.
    fn fence_at(&self, p: usize) -> Option<usize> {
        let idx = self.fences.partition_point(|f| f.fence.close_end <= p);
        let f = self.fences.get(idx)?;
        (f.fence.open_start < p && p < f.fence.close_end).then_some(idx)
    }

    fn zone(&self, p: usize) -> Zone {
        let Some(i) = self.fence_at(p) else {
            return Zone::Free;
        };
        let f = &self.fences[i];
        if f.fits {
            Zone::Forbidden
        } else if !f.carry {
            Zone::Free
        } else if f.first < p && p < f.last {
            Zone::Inside(i)
        } else {
            Zone::Forbidden
        }
    }

    /// Paragraph ranges for newline mode: split at blank lines that are outside every fence.
    fn paragraphs(&self) -> Vec<Range<usize>> {
        let bytes = self.text.as_bytes();
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'\n' {
                i += 1;
                continue;
            }
            // A newline: is the whitespace run around it a blank line?
            let mut run_start = self.text[..i].trim_end().len();
            if !is_boundary(self.text, run_start) {
                run_start = next_boundary(self.text, run_start).min(i);
            }
            let run_end = i + (self.text[i..].len() - self.text[i..].trim_start().len());
            let newlines = bytes[run_start..run_end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            if newlines >= 2 && self.fence_at(run_start).is_none() && run_start > start {
                out.push(start..run_start);
                // The next paragraph starts at its first line, indentation included.
                start = self.text[..run_end].rfind('\n').map_or(run_end, |k| k + 1);
            }
            i = run_end.max(i + 1);
        }
        out.push(start..bytes.len());
        out
    }

    /// Length mode over `range`, appending spans to `out`.
    fn length(&self, range: Range<usize>, out: &mut Vec<ChunkSpan>) {
        let end = range.end;
        let mut pos = self.skip_after_cut(range.start, end);
        let mut carried: Option<usize> = None;
        while pos < end {
            let (prefix, prefix_chars) = match carried {
                Some(i) => (self.fences[i].prefix.clone(), self.fences[i].prefix_chars),
                None => (String::new(), 0),
            };
            let budget = self.limit - prefix_chars;
            let Some((cut, zone)) = self.find_cut(pos, end, budget) else {
                // The rest fits.
                let body_end = self.trim_end(pos, end);
                if body_end > pos {
                    out.push(ChunkSpan {
                        range: pos..body_end,
                        prefix,
                        suffix: String::new(),
                    });
                }
                return;
            };
            let body_end = self.trim_end(pos, cut);
            let inside = match zone {
                Zone::Inside(i) => Some(i),
                Zone::Free | Zone::Forbidden => None,
            };
            if body_end > pos {
                out.push(ChunkSpan {
                    range: pos..body_end,
                    prefix,
                    suffix: inside
                        .map(|i| self.fences[i].suffix.clone())
                        .unwrap_or_default(),
                });
                carried = inside;
            }
            pos = self.skip_after_cut(cut, end);
        }
    }

    /// Scans the window of `budget` characters from `pos`; `None` when the rest of the range fits.
    fn find_cut(&self, pos: usize, end: usize, budget: usize) -> Option<(usize, Zone)> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut best = Best::default();
        let mut i = pos;
        let mut chars = 0usize;
        let mut depth = 0u32;
        let mut seen = false;
        let mut stop = false;
        let mut full = false;
        while i < end {
            if chars == budget {
                full = true;
                break;
            }
            let b = bytes[i];
            let (class, len) = if b < 0x80 {
                (CLASS[b as usize], 1)
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                let class = if c.is_whitespace() {
                    SPACE
                } else if matches!(c, '…' | '。' | '！' | '？' | '‼' | '⁉') {
                    STOP
                } else if matches!(c, '”' | '’' | '»' | '」' | '』') {
                    TRAIL
                } else {
                    OTHER
                };
                (class, c.len_utf8())
            };
            match class {
                SPACE => {
                    // One whitespace run: one candidate at its start.
                    let (run_end, run_chars, newlines) = whitespace_run(text, i, end);
                    if seen {
                        let kind = match newlines {
                            0 if stop => 2,
                            0 => 3,
                            1 => 1,
                            _ => 0,
                        };
                        self.consider(&mut best, pos, i, chars, budget, kind, depth == 0);
                    }
                    if newlines >= 2 {
                        // A parenthesis never spans a blank line.
                        depth = 0;
                    }
                    if chars + run_chars >= budget && run_end < end {
                        // The window ends inside this run.
                        i = advance_chars(text, i, budget - chars);
                        full = true;
                        break;
                    }
                    chars += run_chars;
                    i = run_end;
                    stop = false;
                    continue;
                }
                OPEN => {
                    if self.fence_at(i).is_none() {
                        depth += 1;
                    }
                    stop = false;
                }
                CLOSE => {
                    if depth > 0 && self.fence_at(i).is_none() {
                        depth -= 1;
                    }
                }
                STOP => stop = true,
                TRAIL => {}
                _ => stop = false,
            }
            seen = true;
            chars += 1;
            i += len;
        }
        if !full {
            return None;
        }
        // `i` is the window's end: the first byte past `budget` characters.
        for tier in 0..4 {
            if let Some(c) = best.top[tier] {
                return Some(c);
            }
        }
        for tier in 0..4 {
            if let Some(c) = best.any[tier] {
                return Some(c);
            }
        }
        Some(self.hard_cut(pos, i))
    }

    /// Records a cut at `p` (with `chars` characters before it in the window) if it is allowed.
    #[allow(
        clippy::too_many_arguments,
        reason = "the scan's state, passed flat to keep the hot loop free of a struct"
    )]
    fn consider(
        &self,
        best: &mut Best,
        pos: usize,
        p: usize,
        chars: usize,
        budget: usize,
        kind: usize,
        top: bool,
    ) {
        if p <= pos || !is_boundary(self.text, p) {
            return;
        }
        let zone = self.zone(p);
        match zone {
            Zone::Forbidden => return,
            Zone::Inside(f) if chars + self.fences[f].suffix_chars > budget => return,
            Zone::Inside(_) | Zone::Free => {}
        }
        if top {
            best.top[kind] = Some((p, zone));
        }
        best.any[kind] = Some((p, zone));
    }

    /// No whitespace to cut at: the last grapheme boundary that fits, else a plain character cut.
    fn hard_cut(&self, pos: usize, window_end: usize) -> (usize, Zone) {
        let text = self.text;
        let mut b = window_end;
        // Characters between `b` and the window's end.
        let mut back = 0usize;
        if !is_boundary(text, b) {
            let prev = prev_boundary(text, b);
            back += text[prev..b].chars().count();
            b = prev;
        }
        while b > pos {
            // `back` characters lie between `b` and the window's end, so a fence's closing
            // marker fits when it is no longer than that.
            match self.zone(b) {
                Zone::Free => return (b, Zone::Free),
                Zone::Inside(f) if back >= self.fences[f].suffix_chars => {
                    return (b, Zone::Inside(f));
                }
                Zone::Inside(_) | Zone::Forbidden => {}
            }
            let prev = prev_boundary(text, b);
            back += text[prev..b].chars().count();
            b = prev;
        }
        // No allowed cut: the last grapheme boundary even where the fence rules would not cut
        // (only a fence line longer than half the limit gets here), cut as plain text.
        let b = prev_boundary(text, window_end.min(text.len()));
        if b > pos && is_boundary(text, window_end) {
            return (window_end, Zone::Free);
        }
        if b > pos {
            return (b, Zone::Free);
        }
        // One grapheme cluster longer than the whole message: the limit wins and the cut falls
        // between characters.
        (window_end, Zone::Free)
    }

    /// The end of the chunk `[pos, cut)` without trailing whitespace, on a grapheme boundary.
    fn trim_end(&self, pos: usize, cut: usize) -> usize {
        let text = self.text;
        let mut e = pos + text[pos..cut].trim_end().len();
        if !is_boundary(text, e) {
            e = next_boundary(text, e).min(cut);
        }
        e
    }

    /// Where the next chunk starts after a cut: past the whitespace, but keeping the indentation of
    /// the first line (so code and nested lists keep their shape), on a grapheme boundary.
    fn skip_after_cut(&self, cut: usize, end: usize) -> usize {
        let text = self.text;
        let (run_end, _, _) = whitespace_run(text, cut, end);
        if run_end >= end {
            return end;
        }
        let run = &text[cut..run_end];
        // At a line start (the text's start, or a paragraph's) the run is the line's own
        // indentation; after a cut in the middle of a line it is the space between two words.
        let line_start = cut == 0 || text.as_bytes()[cut - 1] == b'\n';
        let mut q = match run.rfind('\n') {
            Some(nl) => cut + nl + 1,
            None if line_start => cut,
            None => run_end,
        };
        if !is_boundary(text, q) {
            q = prev_boundary(text, q).max(cut);
        }
        q
    }
}

/// The whitespace run starting at `i`: (end byte, characters, newlines).
fn whitespace_run(text: &str, i: usize, end: usize) -> (usize, usize, usize) {
    let bytes = text.as_bytes();
    let mut j = i;
    let mut chars = 0;
    let mut newlines = 0;
    while j < end {
        let b = bytes[j];
        if b < 0x80 {
            if CLASS[b as usize] != SPACE {
                break;
            }
            if b == b'\n' {
                newlines += 1;
            }
            j += 1;
        } else {
            let Some(c) = text[j..].chars().next() else {
                break;
            };
            if !c.is_whitespace() {
                break;
            }
            j += c.len_utf8();
        }
        chars += 1;
    }
    (j, chars, newlines)
}

/// The byte offset `n` characters after `i`.
fn advance_chars(text: &str, i: usize, n: usize) -> usize {
    text[i..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(k, _)| i + k)
}

/// Whether a message may start or end at byte `i` without splitting a grapheme cluster.
pub(crate) fn is_boundary(text: &str, i: usize) -> bool {
    if i == 0 || i >= text.len() {
        return true;
    }
    if !text.is_char_boundary(i) {
        return false;
    }
    let prev = text[..i].chars().next_back().unwrap_or('\0');
    let next = text[i..].chars().next().unwrap_or('\0');
    // Below U+0300 there are no extending, prepended, joining or regional-indicator characters,
    // so the only rule that can join two such characters is CR LF.
    if prev < '\u{300}' && next < '\u{300}' {
        return !(prev == '\r' && next == '\n');
    }
    GraphemeCursor::new(i, text.len(), true)
        .is_boundary(text, 0)
        .unwrap_or(false)
}

fn prev_boundary(text: &str, i: usize) -> usize {
    GraphemeCursor::new(i, text.len(), true)
        .prev_boundary(text, 0)
        .ok()
        .flatten()
        .unwrap_or(0)
}

fn next_boundary(text: &str, i: usize) -> usize {
    GraphemeCursor::new(i, text.len(), true)
        .next_boundary(text, 0)
        .ok()
        .flatten()
        .unwrap_or(text.len())
}

#[cfg(test)]
mod tests {
    //! Targeted cases of the cut rules; the anchor vectors and the properties live in tests/.

    use super::*;

    fn opts(limit: usize, chunk_mode: ChunkMode) -> TextOptions {
        TextOptions {
            limit,
            chunk_mode,
            ..TextOptions::default()
        }
    }

    #[test]
    fn prefers_paragraph_then_line_then_sentence_then_space() {
        let o = opts(30, ChunkMode::Length);
        assert_eq!(
            chunk("aaaa bbbb\n\ncccc dddd\neeee ffff gggg", &o),
            ["aaaa bbbb", "cccc dddd\neeee ffff gggg"]
        );
        assert_eq!(
            chunk("aaaa bbbb cccc\ndddd eeee ffff gggg hhhh", &o),
            ["aaaa bbbb cccc", "dddd eeee ffff gggg hhhh"]
        );
        assert_eq!(
            chunk("One two. Three four five six seven", &o),
            ["One two.", "Three four five six seven"]
        );
        assert_eq!(
            chunk("one two three four five six seven", &o),
            ["one two three four five six", "seven"]
        );
    }

    #[test]
    fn emoji_and_flags_are_not_cut() {
        let family = "👨‍👩‍👧‍👦"; // 7 scalar values
        let text = format!("ab{family}{family}");
        let chunks = chunk(&text, &opts(10, ChunkMode::Length));
        assert_eq!(chunks, [format!("ab{family}"), family.to_owned()]);
        let flags = "🇫🇷🇩🇪🇯🇵";
        let chunks = chunk(flags, &opts(3, ChunkMode::Length));
        assert_eq!(chunks, ["🇫🇷", "🇩🇪", "🇯🇵"]);
    }

    #[test]
    fn an_overlong_cluster_is_cut_between_characters() {
        let zalgo = format!("a{}", "\u{301}".repeat(9));
        let chunks = chunk(&zalgo, &opts(4, ChunkMode::Length));
        assert!(chunks.iter().all(|c| c.chars().count() <= 4));
        assert_eq!(chunks.concat(), zalgo);
    }

    #[test]
    fn a_fence_that_fits_moves_whole() {
        let text = "intro line here\n```\nlet a = 1;\nlet b = 2;\n```\nafter";
        let chunks = chunk(text, &opts(40, ChunkMode::Length));
        assert_eq!(
            chunks,
            ["intro line here", "```\nlet a = 1;\nlet b = 2;\n```\nafter"]
        );
    }

    #[test]
    fn a_long_fence_is_closed_and_reopened_with_its_info_string() {
        let body: Vec<String> = (0..12).map(|i| format!("line {i:02}")).collect();
        let text = format!("```rust\n{}\n```", body.join("\n"));
        let o = opts(40, ChunkMode::Length);
        let chunks = chunk(&text, &o);
        assert!(chunks.len() > 2);
        for c in &chunks {
            assert!(c.chars().count() <= 40, "{c:?}");
            assert!(c.starts_with("```rust\n"), "{c:?}");
            assert!(c.ends_with("\n```"), "{c:?}");
        }
        let inner: Vec<&str> = chunks
            .iter()
            .flat_map(|c| c.lines().filter(|l| l.starts_with("line")))
            .collect();
        assert_eq!(inner, body);
    }

    #[test]
    fn newline_mode_splits_blank_lines_outside_fences_only() {
        let o = opts(1000, ChunkMode::Newline);
        assert_eq!(
            chunk("one\n\ntwo\n \n\nthree\nstill three", &o),
            ["one", "two", "three\nstill three"]
        );
        assert_eq!(
            chunk("a\n\n```\nx\n\ny\n```\n\nb", &o),
            ["a", "```\nx\n\ny\n```", "b"]
        );
    }

    #[test]
    fn blank_text_gives_nothing_and_edges_are_trimmed() {
        let o = opts(10, ChunkMode::Length);
        assert!(chunk("", &o).is_empty());
        assert!(chunk(" \n\t\n ", &o).is_empty());
        assert_eq!(chunk("\n\n  indented\n\n", &o), ["  indented"]);
    }

    #[test]
    fn cut_keeps_indentation_of_the_next_line() {
        let o = opts(12, ChunkMode::Length);
        assert_eq!(
            chunk("• one two\n  • three", &o),
            ["• one two", "  • three"]
        );
    }
}
