//! Markdown to the plain text a contact reads in a message bubble.
//!
//! Block structure comes from `pulldown-cmark`; inline content of each block is collected and
//! written as one run, so the "a block that is only a link" rule can see the whole block. Output
//! lines carry the prefixes of their containers (`> ` for quotes, the list marker or its width of
//! spaces for list items).

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::options::TableMode;

/// The markdown dialect the agent writes: CommonMark plus GFM tables and strikethrough.
pub(crate) fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Renders agent markdown as readable plain text.
///
/// Emphasis markers go, headings become their text on their own line, list items become `•` or
/// `1.` lines, block quotes keep `> `, links keep their URL visible (`text (url)`, the URL alone
/// when it is the text, `text` then the URL on its own line when the link is the whole block),
/// images become their URL, inline code loses its backticks, code blocks stay verbatim inside
/// their fences and tables follow `tables`. Text without markdown syntax comes back unchanged.
/// Never panics; the result has no leading blank lines and no trailing whitespace.
#[must_use]
pub fn render(markdown: &str, tables: TableMode) -> String {
    let mut r = Renderer::new(markdown, tables);
    r.run();
    r.finish()
}

#[derive(Debug)]
enum Container {
    Quote,
    Item { marker: String, pending: bool },
}

#[derive(Debug)]
enum Sep {
    Line,
    /// A blank line, with the quote markers it carries.
    Blank(String),
}

#[derive(Debug, Default)]
struct TableState {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
}

#[derive(Debug)]
struct CodeState {
    fenced: Option<(String, String)>,
    body: String,
}

struct Renderer<'a> {
    src: &'a str,
    tables: TableMode,
    out: String,
    containers: Vec<Container>,
    at_line_start: bool,
    pending: Option<Sep>,
    lists: Vec<Option<u64>>,
    inline: Vec<Event<'a>>,
    code: Option<CodeState>,
    html: Option<String>,
    table: Option<TableState>,
    /// Inside a table rendered with `TableMode::Off`: events are skipped until its end.
    skip_table: bool,
}

impl<'a> Renderer<'a> {
    fn new(src: &'a str, tables: TableMode) -> Self {
        Self {
            src,
            tables,
            out: String::with_capacity(src.len()),
            containers: Vec::new(),
            at_line_start: true,
            pending: None,
            lists: Vec::new(),
            inline: Vec::new(),
            code: None,
            html: None,
            table: None,
            skip_table: false,
        }
    }

    fn run(&mut self) {
        let src = self.src;
        for (event, range) in Parser::new_ext(src, markdown_options()).into_offset_iter() {
            if self.skip_table {
                if matches!(event, Event::End(TagEnd::Table)) {
                    self.skip_table = false;
                    self.end_block();
                }
                continue;
            }
            if let Some(code) = &mut self.code {
                match event {
                    Event::Text(t) => code.body.push_str(&t),
                    Event::End(TagEnd::CodeBlock) => self.end_code(),
                    _ => {}
                }
                continue;
            }
            match event {
                Event::Text(_)
                | Event::Code(_)
                | Event::SoftBreak
                | Event::HardBreak
                | Event::InlineHtml(_)
                | Event::InlineMath(_)
                | Event::DisplayMath(_)
                | Event::FootnoteReference(_)
                | Event::TaskListMarker(_)
                | Event::Start(
                    Tag::Emphasis
                    | Tag::Strong
                    | Tag::Strikethrough
                    | Tag::Superscript
                    | Tag::Subscript
                    | Tag::Link { .. }
                    | Tag::Image { .. },
                )
                | Event::End(
                    TagEnd::Emphasis
                    | TagEnd::Strong
                    | TagEnd::Strikethrough
                    | TagEnd::Superscript
                    | TagEnd::Subscript
                    | TagEnd::Link
                    | TagEnd::Image,
                ) => self.inline.push(event),
                Event::Html(h) => match &mut self.html {
                    Some(buf) => buf.push_str(&h),
                    None => self.inline.push(Event::Html(h)),
                },
                Event::Rule => {
                    self.start_block();
                    self.write("───");
                    self.end_block();
                }
                Event::Start(tag) => self.start(tag, range),
                Event::End(tag) => self.end(tag),
            }
        }
        self.flush_inline();
    }

    fn start(&mut self, tag: Tag<'a>, range: std::ops::Range<usize>) {
        match tag {
            Tag::BlockQuote(_) => {
                self.start_block();
                self.containers.push(Container::Quote);
            }
            Tag::List(first) => {
                self.start_block();
                self.lists.push(first);
            }
            Tag::Item => {
                self.start_block();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                self.containers.push(Container::Item {
                    marker,
                    pending: true,
                });
            }
            Tag::CodeBlock(kind) => {
                self.start_block();
                let fenced = match kind {
                    CodeBlockKind::Fenced(info) => Some(fence_markers(&self.src[range], &info)),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some(CodeState {
                    fenced,
                    body: String::new(),
                });
            }
            Tag::HtmlBlock => {
                self.start_block();
                self.html = Some(String::new());
            }
            Tag::Table(_) => {
                self.start_block();
                if self.tables == TableMode::Off {
                    let source = self.src[range].trim_end().to_owned();
                    self.write(&source);
                    self.skip_table = true;
                } else {
                    self.table = Some(TableState::default());
                }
            }
            Tag::TableCell => self.flush_inline(),
            _ => self.start_block(),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                self.containers.pop();
                self.end_block();
            }
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                self.end_block();
            }
            TagEnd::Item => {
                self.flush_inline();
                self.containers.pop();
                self.pending = Some(Sep::Line);
            }
            TagEnd::HtmlBlock => {
                let html = self.html.take().unwrap_or_default();
                self.write(html.trim_end());
                self.end_block();
            }
            TagEnd::TableCell => {
                let cell = inline_text(&std::mem::take(&mut self.inline), " ");
                if let Some(t) = &mut self.table {
                    t.row.push(cell.trim().to_owned());
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.head = std::mem::take(&mut t.row);
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    let block = match self.tables {
                        TableMode::Bullets => table_bullets(&t),
                        TableMode::Code | TableMode::Off => table_code(&t),
                    };
                    self.write(&block);
                }
                self.end_block();
            }
            _ => {
                self.flush_inline();
                self.end_block();
            }
        }
    }

    fn end_code(&mut self) {
        let Some(code) = self.code.take() else {
            return;
        };
        let block = match code.fenced {
            Some((opener, closer)) => {
                let mut b = opener;
                b.push('\n');
                b.push_str(&code.body);
                if !code.body.is_empty() && !code.body.ends_with('\n') {
                    b.push('\n');
                }
                b.push_str(&closer);
                b
            }
            None => code
                .body
                .trim_end_matches('\n')
                .split('\n')
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("    {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        self.write(&block);
        self.end_block();
    }

    /// A block starts: finish the inline run before it and make sure it opens a new line.
    fn start_block(&mut self) {
        self.flush_inline();
        if self.pending.is_none() && !self.at_line_start {
            self.pending = Some(Sep::Line);
        }
    }

    /// A block ended: the next one is separated by a blank line, or by a line break inside a
    /// list item (lists stay compact, as in a chat).
    fn end_block(&mut self) {
        let in_item = self
            .containers
            .iter()
            .any(|c| matches!(c, Container::Item { .. }));
        self.pending = Some(if in_item {
            Sep::Line
        } else {
            Sep::Blank(self.quote_marks())
        });
    }

    fn quote_marks(&self) -> String {
        let n = self
            .containers
            .iter()
            .filter(|c| matches!(c, Container::Quote))
            .count();
        ">".repeat(n)
    }

    fn flush_inline(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.inline);
        let text = lone_link(&events).unwrap_or_else(|| inline_text(&events, "\n"));
        self.write(&text);
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.at_line_start = true;
    }

    fn push_prefix(&mut self) {
        for c in &mut self.containers {
            match c {
                Container::Quote => self.out.push_str("> "),
                Container::Item { marker, pending } => {
                    if *pending {
                        self.out.push_str(marker);
                        *pending = false;
                    } else {
                        let w = marker.chars().count();
                        self.out.extend(std::iter::repeat_n(' ', w));
                    }
                }
            }
        }
    }

    /// Writes text, emitting the pending separator first and the container prefixes at each line.
    fn write(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(sep) = self.pending.take()
            && !self.out.is_empty()
        {
            if !self.at_line_start {
                self.newline();
            }
            if let Sep::Blank(marks) = sep {
                self.out.push_str(&marks);
                self.newline();
            }
        }
        for (k, line) in s.split('\n').enumerate() {
            if k > 0 {
                self.newline();
            }
            if line.is_empty() {
                if k > 0 {
                    let marks = self.quote_marks();
                    self.out.push_str(&marks);
                }
                continue;
            }
            if self.at_line_start {
                self.push_prefix();
                self.at_line_start = false;
            }
            self.out.push_str(line);
        }
    }

    fn finish(self) -> String {
        let out = self.out;
        // No blank lines before the first line; keep its indentation.
        let lead = out.len() - out.trim_start().len();
        let start = out[..lead].rfind('\n').map_or(0, |k| k + 1);
        out[start..].trim_end().to_owned()
    }
}

/// The opening line and the closing marker of a fenced block, from its source.
fn fence_markers(source: &str, info: &str) -> (String, String) {
    let first = source.lines().next().unwrap_or("").trim();
    let marker: String = first
        .chars()
        .take_while(|&c| c == '`' || c == '~')
        .collect();
    if marker.chars().count() >= 3 {
        (first.to_owned(), marker)
    } else {
        (format!("```{info}"), "```".to_owned())
    }
}

/// Link text and URL are the same thing (ignoring scheme, `mailto:`, case and a trailing slash).
fn same_target(text: &str, url: &str) -> bool {
    fn norm(s: &str) -> String {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        let mut t = lower.as_str();
        for scheme in ["https://", "http://", "mailto:"] {
            if let Some(rest) = t.strip_prefix(scheme) {
                t = rest;
            }
        }
        t.trim_end_matches('/').to_owned()
    }
    norm(text) == norm(url)
}

/// Plain text of an inline run; `newline` replaces soft and hard breaks.
fn inline_text(events: &[Event<'_>], newline: &str) -> String {
    let mut s = String::new();
    let mut links: Vec<(usize, String)> = Vec::new();
    let mut image: Option<(u32, String)> = None;
    for e in events {
        if let Some((depth, url)) = &mut image {
            match e {
                Event::Start(Tag::Image { .. }) => *depth += 1,
                Event::End(TagEnd::Image) => {
                    *depth -= 1;
                    if *depth == 0 {
                        s.push_str(url);
                        image = None;
                    }
                }
                _ => {}
            }
            continue;
        }
        match e {
            Event::Text(t)
            | Event::Code(t)
            | Event::InlineHtml(t)
            | Event::Html(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t) => s.push_str(t),
            Event::SoftBreak | Event::HardBreak => s.push_str(newline),
            Event::FootnoteReference(t) => {
                s.push_str("[^");
                s.push_str(t);
                s.push(']');
            }
            Event::TaskListMarker(done) => s.push_str(if *done { "[x] " } else { "[ ] " }),
            Event::Start(Tag::Link { dest_url, .. }) => {
                links.push((s.len(), dest_url.trim().to_owned()));
            }
            Event::End(TagEnd::Link) => {
                if let Some((start, url)) = links.pop() {
                    finish_link(&mut s, start, &url);
                }
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                image = Some((1, dest_url.trim().to_owned()));
            }
            _ => {}
        }
    }
    s
}

fn finish_link(s: &mut String, start: usize, url: &str) {
    if url.is_empty() {
        return;
    }
    let text = &s[start..];
    if text.trim().is_empty() || (same_target(text, url) && !url.starts_with("mailto:")) {
        s.truncate(start);
        s.push_str(url);
    } else if !same_target(text, url) {
        s.push_str(" (");
        s.push_str(url);
        s.push(')');
    }
}

/// A block that is one link and nothing else becomes its text, then the URL on its own line, so
/// Messages can show the link's preview.
fn lone_link(events: &[Event<'_>]) -> Option<String> {
    let is_wrapper = |e: &Event<'_>| match e {
        Event::Start(Tag::Emphasis | Tag::Strong | Tag::Strikethrough)
        | Event::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough) => true,
        Event::Text(t) => t.trim().is_empty(),
        _ => false,
    };
    let open = events.iter().position(|e| !is_wrapper(e))?;
    let Event::Start(Tag::Link {
        link_type,
        dest_url,
        ..
    }) = &events[open]
    else {
        return None;
    };
    if matches!(link_type, LinkType::Autolink | LinkType::Email) {
        return None;
    }
    let mut depth = 0usize;
    let mut close = None;
    for (k, e) in events.iter().enumerate().skip(open) {
        match e {
            Event::Start(Tag::Link { .. }) => depth += 1,
            Event::End(TagEnd::Link) => {
                depth -= 1;
                if depth == 0 {
                    close = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    if !events[close + 1..].iter().all(is_wrapper) {
        return None;
    }
    let text = inline_text(&events[open + 1..close], " ");
    let text = text.trim();
    let url = dest_url.trim();
    if text.is_empty() || url.is_empty() || same_target(text, url) {
        return None;
    }
    Some(format!("{text}\n{url}"))
}

/// `TableMode::Code`: the table re-aligned inside a ``` block, as the anchor draws it.
fn table_code(t: &TableState) -> String {
    let cols = t
        .rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(t.head.len()))
        .max()
        .unwrap_or(0);
    if cols == 0 {
        return String::new();
    }
    let width = |c: &str| c.chars().count();
    let mut widths = vec![0usize; cols];
    for row in std::iter::once(&t.head).chain(&t.rows) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let mut out = String::from("```\n");
    let line = |out: &mut String, row: &[String]| {
        out.push('|');
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            out.push(' ');
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - width(cell)));
            out.push_str(" |");
        }
        out.push('\n');
    };
    line(&mut out, &t.head);
    out.push('|');
    for w in &widths {
        out.push(' ');
        out.extend(std::iter::repeat_n('-', (*w).max(3)));
        out.push_str(" |");
    }
    out.push('\n');
    for row in &t.rows {
        line(&mut out, row);
    }
    out.push_str("```");
    out
}

/// `TableMode::Bullets`: each row as its first cell, then `• header: value` lines.
fn table_bullets(t: &TableState) -> String {
    let mut groups: Vec<String> = Vec::new();
    let labelled = t.head.len() > 1 && !t.rows.is_empty();
    for row in &t.rows {
        let mut lines: Vec<String> = Vec::new();
        let skip = usize::from(labelled);
        if labelled && let Some(label) = row.first().filter(|l| !l.is_empty()) {
            lines.push(label.clone());
        }
        for (i, value) in row.iter().enumerate().skip(skip) {
            if value.is_empty() {
                continue;
            }
            match t.head.get(i).filter(|h| !h.is_empty()) {
                Some(h) => lines.push(format!("• {h}: {value}")),
                None if labelled => lines.push(format!("• Column {i}: {value}")),
                None => lines.push(format!("• {value}")),
            }
        }
        if !lines.is_empty() {
            groups.push(lines.join("\n"));
        }
    }
    groups.join("\n\n")
}

#[cfg(test)]
mod tests {
    //! One case per rendering rule; the anchor's table vectors are in tests/.

    use super::*;

    fn r(md: &str) -> String {
        render(md, TableMode::Code)
    }

    #[test]
    fn emphasis_headings_and_code() {
        assert_eq!(
            r("# Title\n**bold** and _it_ ~~gone~~"),
            "Title\n\nbold and it gone"
        );
        assert_eq!(r("Use `cargo test` now"), "Use cargo test now");
        assert_eq!(
            r("Run:\n```sh\nls -la\n```\nDone"),
            "Run:\n\n```sh\nls -la\n```\n\nDone"
        );
        assert_eq!(r("a\\*b\\* &amp; c"), "a*b* & c");
    }

    #[test]
    fn lists_and_quotes() {
        assert_eq!(r("- one\n- two\n  - nested"), "• one\n• two\n  • nested");
        assert_eq!(r("3. three\n4. four"), "3. three\n4. four");
        assert_eq!(
            r("> quoted **text**\n>\n> more"),
            "> quoted text\n>\n> more"
        );
        assert_eq!(r("para\n\n- a\n- b\n\nafter"), "para\n\n• a\n• b\n\nafter");
    }

    #[test]
    fn links_and_images() {
        assert_eq!(
            r("See [the docs](https://x.dev/d) now"),
            "See the docs (https://x.dev/d) now"
        );
        assert_eq!(
            r("[the docs](https://x.dev/d)"),
            "the docs\nhttps://x.dev/d"
        );
        assert_eq!(r("<https://x.dev>"), "https://x.dev");
        assert_eq!(r("go [x.dev](https://x.dev/) ok"), "go https://x.dev/ ok");
        assert_eq!(r("mail [me@x.dev](mailto:me@x.dev)"), "mail me@x.dev");
        assert_eq!(
            r("![a cat](https://x.dev/cat.png)"),
            "https://x.dev/cat.png"
        );
    }

    #[test]
    fn plain_text_passes_through() {
        for t in [
            "snake_case_name",
            "#hashtag",
            "3 < 4",
            "a\nb\n\nc",
            "Hi! How are you?",
        ] {
            assert_eq!(r(t), t);
        }
    }
}
