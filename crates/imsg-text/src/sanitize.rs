//! Removes what a contact must never read, and recognizes a reply that means "say nothing".
//!
//! One left-to-right pass over the agent's raw markdown. Code (inline spans and code blocks, as the
//! markdown parser sees them) is skipped, so an agent explaining `<think>` tags in a code block is
//! left alone; everything else is matched by small hand-written parsers (no regex: every rule is
//! linear and cannot fail to compile).

use std::ops::Range;

use pulldown_cmark::{Event, Parser, Tag};

use crate::render::markdown_options;

/// The token an agent answers with to stay silent.
pub const SILENT_REPLY_TOKEN: &str = "NO_REPLY";
/// The token a heartbeat run answers with when there is nothing to report.
pub const HEARTBEAT_TOKEN: &str = "HEARTBEAT_OK";

/// A rule of [`sanitize`] that removed something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Stripped {
    /// `[[reply_to_current]]` or `[[reply_to:<id>]]`: a threading directive the channel cannot honour.
    ReplyDirective,
    /// `<media:image>`, `<media:audio>`, ...: an internal attachment placeholder.
    MediaPlaceholder,
    /// `<think>…</think>` (also `thinking`, `thought`, `antthinking`): leaked reasoning.
    Reasoning,
    /// `<final>` / `</final>`: the wrapper tag (its content is the reply and stays).
    FinalTag,
    /// `<relevant_memories>…</relevant_memories>`: injected memory context.
    RelevantMemories,
    /// An `assistant to=…` tool-call block or a `<|…|>` role token.
    ToolCall,
    /// `NO_REPLY` / `HEARTBEAT_OK` at the start or end of a reply with other text.
    SilentToken,
}

/// The outcome of [`sanitize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    /// The reply without the stripped markup (empty when `silent`).
    pub text: String,
    /// The reply was only silent tokens (after stripping): send nothing.
    pub silent: bool,
    /// Each rule that removed something, once, in the order of [`Stripped`].
    pub stripped: Vec<Stripped>,
}

const REASONING: [&str; 4] = ["think", "thinking", "thought", "antthinking"];
const MEMORIES: [&str; 2] = ["relevant_memories", "relevant-memories"];

/// Strips directives, placeholders and leaked reasoning/tool markup outside code, then checks for
/// silent tokens. See `docs/text.md` for every rule.
#[must_use]
pub fn sanitize(text: &str) -> Sanitized {
    let mut fired = Vec::new();
    let spans = find_spans(text, &mut fired);
    let mut out = remove_spans(text, &spans);
    if is_silent_text(&out) {
        fired.push(Stripped::SilentToken);
        fired.sort();
        fired.dedup();
        return Sanitized {
            text: String::new(),
            silent: true,
            stripped: fired,
        };
    }
    if let Some(stripped) = strip_edge_tokens(&out) {
        fired.push(Stripped::SilentToken);
        out = stripped;
    }
    fired.sort();
    fired.dedup();
    Sanitized {
        text: out,
        silent: false,
        stripped: fired,
    }
}

/// Byte ranges of inline code and code blocks, per the markdown parser.
fn code_ranges(text: &str) -> Vec<Range<usize>> {
    if !text.contains('`')
        && !text.contains("~~~")
        && !text.contains("    ")
        && !text.contains('\t')
    {
        return Vec::new();
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    for (event, range) in Parser::new_ext(text, markdown_options()).into_offset_iter() {
        match event {
            Event::Code(_) | Event::Start(Tag::CodeBlock(_)) => out.push(range),
            _ => {}
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// A tag `<name ...>` or `</name>` at `i`: (end, closing, lowercased name). Bounded to one line.
fn parse_tag(text: &str, i: usize) -> Option<(usize, bool, String)> {
    let b = text.as_bytes();
    let mut j = i + 1;
    let skip_spaces = |mut j: usize| {
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        j
    };
    j = skip_spaces(j);
    let closing = b.get(j) == Some(&b'/');
    if closing {
        j = skip_spaces(j + 1);
    }
    let name_start = j;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'-' | b':')) {
        j += 1;
    }
    if j == name_start {
        return None;
    }
    let name = text[name_start..j].to_ascii_lowercase();
    // Attributes up to `>`, on the same line and short, as a tag is.
    let rest = &b[j..b.len().min(j + 512)];
    let close = rest
        .iter()
        .position(|&c| c == b'>' || c == b'<' || c == b'\n')?;
    if rest[close] != b'>' {
        return None;
    }
    // `<thinking>` must not match `<think`: the name ends at a non-name byte, so the next byte
    // is `>`, whitespace, `/` or an attribute start.
    Some((j + close + 1, closing, name))
}

/// The end of the first closing tag of one of `names` at or after `from`.
fn find_closer(text: &str, from: usize, names: &[&str]) -> Option<usize> {
    let mut k = from;
    while let Some(off) = text[k..].find('<') {
        let at = k + off;
        if let Some((end, true, name)) = parse_tag(text, at)
            && names.contains(&name.as_str())
        {
            return Some(end);
        }
        k = at + 1;
    }
    None
}

/// `<media:kind>` exactly, at `i`.
fn media_placeholder(text: &str, i: usize) -> Option<usize> {
    let rest = &text[i..];
    let head = rest.get(..7)?;
    if !head.eq_ignore_ascii_case("<media:") {
        return None;
    }
    let kind = rest[7..]
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    (kind > 0 && rest.as_bytes().get(7 + kind) == Some(&b'>')).then_some(i + 7 + kind + 1)
}

/// `<|word|>` at `i`.
fn role_token(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(i + 1) != Some(&b'|') {
        return None;
    }
    let n = b[i + 2..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (n > 0 && b.get(i + 2 + n) == Some(&b'|') && b.get(i + 3 + n) == Some(&b'>'))
        .then_some(i + 4 + n)
}

/// `[[reply_to_current]]` or `[[reply_to:<id>]]` (any case, spaces allowed inside) at `i`.
fn reply_directive(text: &str, i: usize) -> Option<usize> {
    let rest = text.get(i + 2..)?;
    let close = rest.find("]]")?;
    let inner = &rest[..close];
    if inner.contains('\n') || inner.len() > 200 {
        return None;
    }
    let inner = inner.trim().to_ascii_lowercase();
    let ok = inner == "reply_to_current"
        || inner
            .strip_prefix("reply_to")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|id| !id.trim().is_empty());
    ok.then_some(i + 2 + close + 2)
}

/// A tool-call block starting at line start `i`: `assistant to=…` (after optional role tokens)
/// through the end of its paragraph.
fn tool_call_block(text: &str, i: usize) -> Option<usize> {
    let mut j = i;
    loop {
        let t = text[j..].trim_start_matches([' ', '\t']);
        j = text.len() - t.len();
        match role_token(text, j) {
            Some(e) if text.as_bytes().get(j) == Some(&b'<') => j = e,
            _ => break,
        }
    }
    let rest = &text[j..];
    let head = rest.get(..9)?;
    if !head.eq_ignore_ascii_case("assistant") {
        return None;
    }
    let after = rest[9..].trim_start_matches([' ', '\t']);
    if after.len() == rest.len() - 9 || !after.starts_with("to=") {
        return None;
    }
    // The call's arguments follow until a blank line.
    let from = j;
    let end = text[from..].find("\n\n").map_or(text.len(), |k| from + k);
    Some(end)
}

/// A reasoning, memories or `final` tag at `i`: the end of what it removes, and the rule.
fn tag_span(text: &str, i: usize) -> Option<(usize, Stripped)> {
    let (end, closing, name) = parse_tag(text, i)?;
    let name = name.as_str();
    if REASONING.contains(&name) {
        if closing {
            return Some((end, Stripped::Reasoning));
        }
        let stop = find_closer(text, end, &REASONING).unwrap_or(text.len());
        Some((stop, Stripped::Reasoning))
    } else if MEMORIES.contains(&name) && !closing {
        let stop = find_closer(text, end, &MEMORIES).unwrap_or(text.len());
        Some((stop, Stripped::RelevantMemories))
    } else if name == "final" {
        Some((end, Stripped::FinalTag))
    } else {
        None
    }
}

fn is_closer(text: &str, i: usize) -> bool {
    parse_tag(text, i).is_some_and(|(_, closing, _)| closing)
}

fn find_spans(text: &str, fired: &mut Vec<Stripped>) -> Vec<(usize, usize)> {
    let code = code_ranges(text);
    let mut ci = 0;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while ci < code.len() && code[ci].end <= i {
            ci += 1;
        }
        if let Some(r) = code.get(ci)
            && r.start <= i
        {
            i = r.end;
            continue;
        }
        let line_start = i == 0 || b[i - 1] == b'\n';
        let found: Option<(usize, Stripped)> = match b[i] {
            b'<' => media_placeholder(text, i)
                .map(|e| (e, Stripped::MediaPlaceholder))
                .or_else(|| role_token(text, i).map(|e| (e, Stripped::ToolCall)))
                .or_else(|| tag_span(text, i)),
            b'[' if b.get(i + 1) == Some(&b'[') => {
                reply_directive(text, i).map(|e| (e, Stripped::ReplyDirective))
            }
            b'a' | b'A' | b' ' | b'\t' if line_start => {
                tool_call_block(text, i).map(|e| (e, Stripped::ToolCall))
            }
            _ => None,
        };
        match found {
            Some((end, Stripped::Reasoning)) if is_closer(text, i) => {
                // A closer with no opener: everything before it was reasoning.
                spans.clear();
                spans.push((0, end));
                fired.push(Stripped::Reasoning);
                i = end;
            }
            Some((end, rule)) => {
                spans.push((i, end));
                fired.push(rule);
                i = end;
            }
            None => i += text[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    spans
}

/// Removes `spans` (sorted, disjoint) and tidies the whitespace each removal leaves behind: a span
/// alone on its line takes the line with it; a span after a space takes the spaces after it.
fn remove_spans(text: &str, spans: &[(usize, usize)]) -> String {
    if spans.is_empty() {
        return text.to_owned();
    }
    let b = text.as_bytes();
    let mut widened: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for &(s, e) in spans {
        let line_start = text[..s].rfind('\n').map_or(0, |k| k + 1);
        let line_end = text[e..].find('\n').map_or(text.len(), |k| e + k);
        let blank_before = text[line_start..s].trim().is_empty();
        let blank_after = text[e..line_end].trim().is_empty();
        let (s2, e2) = if blank_before && blank_after {
            (line_start, (line_end + 1).min(text.len()))
        } else if blank_before || matches!(b.get(s.wrapping_sub(1)), Some(b' ' | b'\t')) {
            let mut e2 = e;
            while e2 < b.len() && (b[e2] == b' ' || b[e2] == b'\t') {
                e2 += 1;
            }
            (s, e2)
        } else {
            (s, e)
        };
        match widened.last_mut() {
            Some(last) if s2 <= last.1 => last.1 = last.1.max(e2),
            _ => widened.push((s2, e2)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in widened {
        if s > at {
            out.push_str(&text[at..s]);
        }
        at = at.max(e);
    }
    out.push_str(&text[at.min(text.len())..]);
    out
}

fn is_token(word: &str) -> bool {
    word.eq_ignore_ascii_case(SILENT_REPLY_TOKEN) || word.eq_ignore_ascii_case(HEARTBEAT_TOKEN)
}

/// Punctuation and emphasis markers a model wraps a token in.
fn is_wrap(c: char) -> bool {
    matches!(
        c,
        '*' | '_' | '`' | '~' | '.' | '!' | '"' | '\'' | '“' | '”'
    )
}

/// The text is one or more silent tokens and nothing else (edge punctuation and emphasis aside).
pub(crate) fn is_silent_text(text: &str) -> bool {
    let core = text.trim().trim_matches(is_wrap);
    let mut words = core.split_whitespace().peekable();
    words.peek().is_some() && words.all(|w| is_token(w.trim_matches(is_wrap)))
}

/// Removes silent tokens at the start or end of a longer reply; `None` when there are none.
fn strip_edge_tokens(text: &str) -> Option<String> {
    let mut t = text.trim();
    let mut changed = false;
    while let Some(first) = t.split_whitespace().next() {
        if is_token(first.trim_matches(is_wrap)) && t.len() > first.len() {
            t = t[first.len()..].trim_start();
            changed = true;
        } else {
            break;
        }
    }
    while let Some(last) = t.split_whitespace().next_back() {
        if is_token(last.trim_matches(is_wrap)) && t.len() > last.len() {
            t = t[..t.len() - last.len()].trim_end();
            changed = true;
        } else {
            break;
        }
    }
    changed.then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    //! One case per rule, plus the code exemption and the whitespace left behind.

    use super::*;

    fn clean(t: &str) -> String {
        sanitize(t).text
    }

    #[test]
    fn directives_and_placeholders() {
        assert_eq!(clean("[[reply_to_current]] Hello"), "Hello");
        assert_eq!(clean("Sure [[ reply_to: 1234 ]] thing"), "Sure thing");
        assert_eq!(clean("Here it is\n<media:image>"), "Here it is\n");
        assert_eq!(clean("<media:unknown>"), "");
        assert_eq!(clean("[[not_a_directive]] x"), "[[not_a_directive]] x");
        let s = sanitize("[[reply_to:9]] <media:image>");
        assert_eq!(
            s.stripped,
            [Stripped::ReplyDirective, Stripped::MediaPlaceholder]
        );
        assert!(s.text.trim().is_empty());
    }

    #[test]
    fn reasoning_and_tool_markup() {
        assert_eq!(clean("<think>secret\n\nplan</think>Answer"), "Answer");
        assert_eq!(clean("<Thinking foo=\"1\">x</THINKING>\nAnswer"), "Answer");
        assert_eq!(clean("Answer <think>never closed"), "Answer ");
        assert_eq!(clean("leaked plan</think>Answer"), "Answer");
        assert_eq!(clean("<final>Answer</final>"), "Answer");
        assert_eq!(
            clean("<relevant_memories>\n- likes tea\n</relevant_memories>\nHi"),
            "Hi"
        );
        assert_eq!(
            clean("Hi\n\nassistant to=functions.exec code\n{\"cmd\":\"ls\"}\n\nBye"),
            "Hi\n\n\nBye"
        );
        assert_eq!(clean("<|channel|>final<|message|>Hi"), "finalHi");
        assert_eq!(clean("<thinker> is a word"), "<thinker> is a word");
    }

    #[test]
    fn code_is_left_alone() {
        let t =
            "Use `<think>` tags:\n\n```\n<think>x</think> [[reply_to_current]] <media:image>\n```";
        assert_eq!(clean(t), t);
        assert!(sanitize(t).stripped.is_empty());
    }

    #[test]
    fn silent_tokens() {
        for t in [
            "NO_REPLY",
            "  HEARTBEAT_OK\n",
            "**NO_REPLY**",
            "no_reply.",
            "NO_REPLY NO_REPLY",
        ] {
            let s = sanitize(t);
            assert!(s.silent, "{t:?}");
            assert_eq!(s.text, "");
        }
        let s = sanitize("<think>nothing to say</think>NO_REPLY");
        assert!(s.silent);
        assert_eq!(
            clean("HEARTBEAT_OK\n\nAll systems fine"),
            "All systems fine"
        );
        assert_eq!(clean("Done for today. NO_REPLY"), "Done for today.");
        assert_eq!(clean("say NO_REPLY to them"), "say NO_REPLY to them");
        assert!(!sanitize("NO_REPLYING").silent);
        assert!(!sanitize("").silent);
    }
}
