//! Properties of chunking and rendering over arbitrary Unicode and arbitrary markdown-ish text.
//!
//! The chunk properties are checked on `chunk_spans`, which says where each message comes from:
//! every message is `prefix + text[range] + suffix`, the ranges are in order and disjoint, and
//! only whitespace lies between them, which is "concatenation equals the text up to whitespace at
//! the cuts" stated exactly.

use imsg_text::{
    ChunkMode, ChunkSpan, TableMode, TextOptions, chunk, chunk_spans, prepare_reply, render,
};
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

/// Pieces that stress the chunker: every kind of break, clusters of many scalar values, fences.
fn unicode_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        4 => "[a-z]{1,12}",
        3 => Just(" ".to_owned()),
        2 => Just("\n".to_owned()),
        1 => Just("\n\n".to_owned()),
        1 => Just("\r\n".to_owned()),
        1 => Just("\t".to_owned()),
        1 => Just("\u{a0}".to_owned()),
        1 => Just(". ".to_owned()),
        1 => Just("(".to_owned()),
        1 => Just(")".to_owned()),
        1 => Just("👨\u{200d}👩\u{200d}👧\u{200d}👦".to_owned()),
        1 => Just("👍🏽".to_owned()),
        1 => Just("🇫🇷".to_owned()),
        1 => Just("e\u{301}\u{302}".to_owned()),
        1 => Just(" \u{301}".to_owned()),
        1 => Just("\u{600} ".to_owned()),
        1 => Just("\n```rust\n".to_owned()),
        1 => Just("\n```\n".to_owned()),
        1 => Just("\n~~~~\n".to_owned()),
    ];
    prop::collection::vec(atom, 0..80).prop_map(|v| v.concat())
}

fn options() -> impl Strategy<Value = TextOptions> {
    (
        prop_oneof![3 => 1usize..40, 1 => 40usize..400],
        prop_oneof![Just(ChunkMode::Length), Just(ChunkMode::Newline)],
    )
        .prop_map(|(limit, chunk_mode)| TextOptions {
            limit,
            chunk_mode,
            ..TextOptions::default()
        })
}

/// Byte offsets of the grapheme cluster containing byte `p` (a cluster that straddles `p`).
fn cluster_around(text: &str, p: usize) -> Option<&str> {
    text.grapheme_indices(true)
        .find(|(start, g)| *start < p && p < start + g.len())
        .map(|(_, g)| g)
}

/// Every property of one chunking, with a message naming the broken one.
fn check(text: &str, o: &TextOptions, spans: &[ChunkSpan]) -> Result<(), TestCaseError> {
    let limit = o.effective_limit();
    let mut prev_end = 0;
    for (k, s) in spans.iter().enumerate() {
        let msg = s.text(text);
        prop_assert!(!msg.trim().is_empty(), "chunk {k} is empty: {msg:?}");
        prop_assert!(
            msg.chars().count() <= limit,
            "chunk {k} has {} > {limit} chars: {msg:?}",
            msg.chars().count()
        );
        prop_assert_eq!(s.char_len(text), msg.chars().count());
        prop_assert!(s.range.start >= prev_end, "chunk {k} overlaps or goes back");
        prop_assert!(
            text[prev_end..s.range.start].trim().is_empty(),
            "non-whitespace lost before chunk {k}: {:?}",
            &text[prev_end..s.range.start]
        );
        // Grapheme clusters stay whole, except one longer than the room in a message.
        for p in [s.range.start, s.range.end] {
            if let Some(g) = cluster_around(text, p) {
                prop_assert!(
                    g.chars().count() > limit / 2,
                    "cluster {g:?} split at {p} with limit {limit}"
                );
            }
        }
        // Fence markers come in pairs across a cut.
        if !s.suffix.is_empty() {
            prop_assert!(s.suffix.starts_with('\n'));
            let next = spans.get(k + 1);
            prop_assert!(
                next.is_some_and(|n| !n.prefix.is_empty()),
                "closed, never reopened"
            );
        }
        if !s.prefix.is_empty() {
            prop_assert!(s.prefix.ends_with('\n'));
            prop_assert!(
                k > 0 && !spans[k - 1].suffix.is_empty(),
                "reopened, never closed"
            );
        }
        prev_end = s.range.end;
    }
    prop_assert!(
        text[prev_end..].trim().is_empty(),
        "non-whitespace lost at the end: {:?}",
        &text[prev_end..]
    );
    let strings: Vec<String> = spans.iter().map(|s| s.text(text)).collect();
    prop_assert_eq!(chunk(text, o), strings);
    Ok(())
}

/// Words made only of characters that are never markdown syntax where they stand, one space
/// apart, lines starting with a letter, at most one blank line between paragraphs, no leading
/// or trailing whitespace. That rules out every block marker (a line starts with a letter),
/// emphasis and code (no `*`, `_` at a word's edge, `` ` ``, `~`), links, images, HTML and
/// autolinks (no `[`, `]`, `<` followed by a letter), entities and escapes (no `&`, `\`), tables
/// (no `|`), hard breaks (no trailing spaces) and setext underlines (no line of `=` or `-`).
fn plain_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => "[a-zA-Z][a-zA-Z0-9.,;:?!'\"()/@%$+=-]{0,10}",
        1 => "[a-z]{1,5}_[a-z]{1,5}(_[a-z]{1,5})?",
        1 => "\\p{L}{1,6}",
        1 => Just("#hashtag".to_owned()),
        1 => Just("<".to_owned()),
        1 => Just(">".to_owned()),
        1 => Just("&".to_owned()),
        1 => Just("😀".to_owned()),
        1 => Just("👍🏽".to_owned()),
        1 => "[0-9]{1,4}",
    ];
    let first = "[a-zA-Z\\p{L}][a-zA-Z]{0,8}";
    let line = (first, prop::collection::vec(word, 0..8)).prop_map(|(f, ws)| {
        let mut l = f;
        for w in ws {
            l.push(' ');
            l.push_str(&w);
        }
        l
    });
    let para = prop::collection::vec(line, 1..4).prop_map(|ls| ls.join("\n"));
    prop::collection::vec(para, 1..5).prop_map(|ps| ps.join("\n\n"))
}

/// Markdown-ish text: every syntax piece, in any order, with words and odd characters between.
fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-z]{1,8}",
        2 => Just(" ".to_owned()),
        2 => Just("\n".to_owned()),
        1 => Just("\n\n".to_owned()),
        1 => any::<char>().prop_map(String::from),
        1 => prop::sample::select(vec![
            "# ", "## ", "**", "*", "_", "__", "~~", "`", "```", "```rust\n", "~~~", "- ", "* ",
            "1. ", "2) ", "> ", ">> ", "[", "]", "](", ")", "(", "![", "<", ">", "<https://x.y>",
            "|", "| a | b |\n|---|---|\n| 1 | 2 |\n", "|:-:|", "---", "***", "===", "&amp;",
            "&#x1F600;", "\\", "\\*", "<b>", "</b>", "<div>\n", "    code\n", "\t", "[^1]",
            "[x]: https://x.y\n", "[x]", "https://example.com", "  \n", "\r\n", "<!-- c -->",
            "👨\u{200d}👩\u{200d}👧", "🇯🇵", "e\u{301}",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn table_mode() -> impl Strategy<Value = TableMode> {
    prop::sample::select(TableMode::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn chunks_of_arbitrary_unicode(text in unicode_text(), o in options()) {
        let spans = chunk_spans(&text, &o);
        check(&text, &o, &spans)?;
    }

    #[test]
    fn chunks_of_rendered_markdown(md in markdownish(), o in options(), t in table_mode()) {
        let rendered = render(&md, t);
        let spans = chunk_spans(&rendered, &o);
        check(&rendered, &o, &spans)?;
    }

    #[test]
    fn render_is_total_and_tidy(md in markdownish(), t in table_mode()) {
        let out = render(&md, t);
        prop_assert_eq!(out.trim_end(), out.as_str(), "trailing whitespace");
        prop_assert!(!out.starts_with('\n'), "leading blank line");
    }

    #[test]
    fn plain_text_renders_to_itself(text in plain_text(), t in table_mode()) {
        prop_assert_eq!(render(&text, t), text);
    }

    #[test]
    fn prepare_reply_is_total_and_within_limits(md in markdownish(), o in options(), t in table_mode()) {
        let o = TextOptions { tables: t, ..o };
        for msg in prepare_reply(&md, &o, Some("[bot]")) {
            prop_assert!(!msg.trim().is_empty());
            prop_assert!(msg.chars().count() <= o.effective_limit());
        }
    }

    #[test]
    fn a_fence_that_fits_is_never_cut(
        before in "[a-z ]{0,60}",
        code in prop::collection::vec("[a-z(). ]{0,20}", 1..6),
        after in "[a-z .]{0,60}",
        limit in 10usize..120,
    ) {
        let fence = format!("```txt\n{}\n```", code.join("\n"));
        let text = format!("{before}\n{fence}\n{after}");
        let o = TextOptions { limit, ..TextOptions::default() };
        let spans = chunk_spans(&text, &o);
        check(&text, &o, &spans)?;
        let start = before.len() + 1;
        let end = start + fence.len();
        if fence.chars().count() <= limit {
            prop_assert!(
                spans.iter().any(|s| s.range.start <= start && end <= s.range.end),
                "fence of {} chars cut at limit {limit}: {spans:?}",
                fence.chars().count()
            );
        }
    }
}
