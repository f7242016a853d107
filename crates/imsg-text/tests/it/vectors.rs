//! The anchor's vectors (spec 5.3, 5.4, 5.5, 9.7) and our deliberate differences, as one table.
//!
//! Every row is asserted here (the anchor's exact output where it has one, or the property it
//! states) and the whole table is also an insta snapshot, so a change of any output shows up in
//! review. Rows marked `differs` are listed with their reason in docs/text.md.

use std::fmt::Write as _;

use imsg_text::{
    ChunkMode, PrefixContext, ResponsePrefix, TableMode, TextOptions, chunk, prepare_reply, render,
    sanitize,
};

fn opts(limit: usize, chunk_mode: ChunkMode) -> TextOptions {
    TextOptions {
        limit,
        chunk_mode,
        ..TextOptions::default()
    }
}

/// One row: what ran, on what, what came out, and whether it is the anchor's result.
struct Row {
    what: String,
    input: String,
    output: Vec<String>,
    note: &'static str,
}

fn chunk_row(input: &str, limit: usize, mode: ChunkMode, note: &'static str) -> Row {
    Row {
        what: format!("chunk limit={limit} mode={mode}"),
        input: input.to_owned(),
        output: chunk(input, &opts(limit, mode)),
        note,
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = writeln!(out, "{} [{}]", r.what, r.note);
        let _ = writeln!(out, "  in:  {:?}", r.input);
        for c in &r.output {
            let _ = writeln!(out, "  out: {c:?}");
        }
        if r.output.is_empty() {
            let _ = writeln!(out, "  out: (nothing)");
        }
    }
    out
}

const TABLE_MD: &str = "| Name | Value |\n|------|-------|\n| A | 1 |\n| Bee | 22 |";
const WIDE_TABLE_MD: &str = "Compare:\n\n| Feature | Mac | Linux |\n|---|:-:|--:|\n| **Speed** | fast | `ok` |\n| Price | | free |\n\nAfter.";

#[test]
fn anchor_vectors() {
    let l = ChunkMode::Length;
    let n = ChunkMode::Newline;
    let a100 = "a".repeat(100);
    let word_text = "This is a message that should break nicely near a word boundary.";
    let rows = vec![
        // 9.7 chunkText.
        chunk_row("Line one\n\nLine two\n\nLine three", 1600, l, "anchor"),
        chunk_row(&a100, 60, l, "anchor"),
        chunk_row(
            "paragraph one line\n\nparagraph two starts here and continues",
            40,
            l,
            "anchor",
        ),
        chunk_row(word_text, 30, l, "anchor: each <= 30, words intact"),
        chunk_row("Supercalifragilisticexpialidocious", 10, l, "anchor"),
        chunk_row("Heads up now (Though now I'm curious)ok", 35, l, "anchor"),
        // 9.7 chunkTextWithMode.
        chunk_row("Line one\nLine two", 1000, l, "anchor"),
        chunk_row("Line one\nLine two", 1000, n, "anchor"),
        chunk_row("Para one\n\nPara two", 1000, n, "anchor"),
        // 5.4 rules stated in prose.
        chunk_row("", 10, l, "anchor: empty text, no chunks"),
        chunk_row("", 10, n, "anchor: empty text, no chunks"),
        chunk_row(
            "Para one\r\n\r\nPara two",
            1000,
            n,
            "anchor: CRLF separators",
        ),
        chunk_row(
            "one\n\n\n\ntwo three four",
            12,
            l,
            "anchor: blank lines collapse at a cut",
        ),
        chunk_row(
            "First para.\n\nSecond para that is long enough to be cut here.",
            20,
            n,
            "anchor: a paragraph over the limit goes through length mode",
        ),
        chunk_row(
            "  indented start",
            100,
            l,
            "anchor: leading whitespace kept",
        ),
        chunk_row(
            "text, then spaces  \n",
            100,
            l,
            "differs: trailing whitespace trimmed",
        ),
        chunk_row("ab😀😀😀", 3, l, "differs: scalar values, no split emoji"),
        chunk_row("ok 👍🏽👍🏽", 4, l, "differs: grapheme clusters stay whole"),
        chunk_row(
            "intro text\n```js\nconst a = 1;\nconst b = 2;\n```\nend",
            36,
            l,
            "differs: a fence that fits moves whole",
        ),
        chunk_row(
            "```py\nprint(1)\nprint(2)\nprint(3)\nprint(4)\n```",
            24,
            l,
            "differs: a long fence is closed and reopened",
        ),
        chunk_row(
            "One sentence here. Another one follows it",
            30,
            l,
            "differs: sentence end before plain whitespace",
        ),
        chunk_row(
            "(a parenthetical that runs on and on)",
            20,
            l,
            "differs: whitespace inside parentheses before a hard cut",
        ),
        chunk_row(
            "aaaa\n\nbbbb\ncccc dddd",
            16,
            l,
            "differs: paragraph break before line break",
        ),
        chunk_row("x y", 0, l, "differs: limit 0 means the default"),
    ];
    // The anchor's exact outputs.
    let exact: &[(usize, &[&str])] = &[
        (0, &["Line one\n\nLine two\n\nLine three"]),
        (
            2,
            &[
                "paragraph one line",
                "paragraph two starts here and continues",
            ],
        ),
        (4, &["Supercalif", "ragilistic", "expialidoc", "ious"]),
        (5, &["Heads up now", "(Though now I'm curious)ok"]),
        (6, &["Line one\nLine two"]),
        (7, &["Line one\nLine two"]),
        (8, &["Para one", "Para two"]),
        (9, &[]),
        (10, &[]),
        (11, &["Para one", "Para two"]),
        (12, &["one", "two three", "four"]),
    ];
    for (i, want) in exact {
        assert_eq!(rows[*i].output, *want, "row {i}: {}", rows[*i].input);
    }
    // "a" x 100 at 60: 60 + 40, concatenation equals the input.
    assert_eq!(
        rows[1].output.iter().map(String::len).collect::<Vec<_>>(),
        [60, 40]
    );
    assert_eq!(rows[1].output.concat(), a100);
    // Word boundary: every chunk within 30 and every word whole.
    assert!(rows[3].output.iter().all(|c| c.chars().count() <= 30));
    let words: Vec<&str> = rows[3].output.iter().flat_map(|c| c.split(' ')).collect();
    assert_eq!(words, word_text.split(' ').collect::<Vec<_>>());
    // A paragraph over the limit is cut; the short one is alone.
    assert_eq!(rows[13].output[0], "First para.");
    assert!(rows[13].output.len() > 2);
    // Our differences, asserted.
    assert_eq!(rows[14].output, ["  indented start"]);
    assert_eq!(rows[15].output, ["text, then spaces"]);
    assert_eq!(rows[16].output, ["ab😀", "😀😀"]);
    assert_eq!(rows[17].output, ["ok", "👍🏽👍🏽"]);
    assert_eq!(
        rows[18].output,
        [
            "intro text",
            "```js\nconst a = 1;\nconst b = 2;\n```",
            "end"
        ]
    );
    assert!(
        rows[19].output.iter().all(|c| {
            c.starts_with("```py\n") && c.ends_with("\n```") && c.chars().count() <= 24
        })
    );
    assert_eq!(
        rows[20].output,
        ["One sentence here.", "Another one follows it"]
    );
    assert_eq!(
        rows[21].output,
        ["(a parenthetical", "that runs on and on)"]
    );
    assert_eq!(rows[22].output, ["aaaa", "bbbb\ncccc dddd"]);
    assert_eq!(rows[23].output, ["x y"]);
    assert_eq!(
        TextOptions::default().limit,
        4000,
        "9.7 resolveTextChunkLimit default"
    );
    assert_eq!(
        ChunkMode::default(),
        ChunkMode::Length,
        "9.7 resolveChunkMode default"
    );
    insta::assert_snapshot!("anchor_chunk_vectors", table(&rows));
}

#[test]
fn table_vectors() {
    let rows: Vec<Row> = [TABLE_MD, WIDE_TABLE_MD]
        .into_iter()
        .flat_map(|md| {
            TableMode::ALL.into_iter().map(move |mode| Row {
                what: format!("render tables={mode}"),
                input: md.to_owned(),
                output: vec![render(md, mode)],
                note: match mode {
                    TableMode::Code => "anchor (5.5); differs: blank line after the block kept",
                    TableMode::Bullets => "anchor (5.5); differs: label not bold",
                    TableMode::Off => "anchor (5.5)",
                },
            })
        })
        .collect();
    // 5.5 code: re-aligned rows, dashes at least 3 wide, inside a ``` block.
    assert_eq!(
        rows[0].output[0],
        "```\n| Name | Value |\n| ---- | ----- |\n| A    | 1     |\n| Bee  | 22    |\n```"
    );
    // 5.5 bullets: the first cell alone, then `• header: value`.
    assert_eq!(rows[1].output[0], "A\n• Value: 1\n\nBee\n• Value: 22");
    // 5.5 off: unchanged.
    assert_eq!(rows[2].output[0], TABLE_MD);
    assert_eq!(
        rows[3].output[0],
        "Compare:\n\n```\n| Feature | Mac  | Linux |\n| ------- | ---- | ----- |\n| Speed   | fast | ok    |\n| Price   |      | free  |\n```\n\nAfter."
    );
    assert_eq!(
        rows[4].output[0],
        "Compare:\n\nSpeed\n• Mac: fast\n• Linux: ok\n\nPrice\n• Linux: free\n\nAfter."
    );
    insta::assert_snapshot!("table_vectors", table(&rows));
}

#[test]
fn reply_vectors() {
    let pfx = ResponsePrefix::new("PFX")
        .and_then(|p| p.resolve(&PrefixContext::default()))
        .unwrap();
    let o = TextOptions::default();
    let cases: Vec<(&str, Option<&str>, &'static str)> = vec![
        ("final reply", Some(&pfx), "anchor M6: prefix applied"),
        ("PFX final reply", Some(&pfx), "anchor: not applied twice"),
        (
            "HEARTBEAT_OK",
            Some(&pfx),
            "anchor: heartbeat token sends nothing",
        ),
        ("NO_REPLY", None, "anchor: silent token sends nothing"),
        ("   ", None, "anchor: blank text sends nothing"),
        (
            "**Done.** See [the PR](https://x.dev/pr/1).",
            Some(&pfx),
            "differs: markdown rendered",
        ),
        (
            "[[reply_to_current]] On it",
            None,
            "differs: directive stripped",
        ),
        (
            "<media:image>",
            None,
            "differs: placeholder alone sends nothing",
        ),
        (
            "<think>plan</think>\nHere you go",
            None,
            "differs: reasoning stripped",
        ),
        (
            "Use `[[reply_to_current]]` in code",
            None,
            "code left alone",
        ),
        ("Status: ok\n\nHEARTBEAT_OK", None, "edge token stripped"),
    ];
    let rows: Vec<Row> = cases
        .iter()
        .map(|(text, prefix, note)| Row {
            what: format!("prepare_reply prefix={prefix:?}"),
            input: (*text).to_owned(),
            output: prepare_reply(text, &o, *prefix),
            note,
        })
        .collect();
    let want: &[&[&str]] = &[
        &["PFX final reply"],
        &["PFX final reply"],
        &[],
        &[],
        &[],
        &["PFX Done. See the PR (https://x.dev/pr/1)."],
        &["On it"],
        &[],
        &["Here you go"],
        &["Use [[reply_to_current]] in code"],
        &["Status: ok"],
    ];
    for (row, want) in rows.iter().zip(want) {
        assert_eq!(row.output, *want, "{}", row.input);
    }
    assert!(sanitize("NO_REPLY").silent);
    insta::assert_snapshot!("reply_vectors", table(&rows));
}
