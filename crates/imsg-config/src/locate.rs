//! A small JSON5 scanner that finds where each key sits in the text, so errors found after parsing can name a
//! line and column.
//!
//! It runs before the real parser and also enforces a nesting limit: `json5` recurses once per level, and a
//! hostile file of a hundred thousand `[` must be a config error, not a stack overflow. The scanner itself is
//! iterative and gives up quietly on text it does not understand; the real parser reports the syntax error.

use std::collections::{HashMap, HashSet};
use std::iter::Peekable;
use std::str::Chars;

use crate::error::Position;

/// Deepest nesting of objects and arrays accepted; real configurations use fewer than ten levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// Positions of keys (and array elements) by their path from the root.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// Path segments to the position of the key (for object members) or the value (for array elements).
    positions: HashMap<Vec<String>, Position>,
    /// Keys that appear twice in one object, with the position of the later one.
    duplicates: Vec<(Vec<String>, Position)>,
    /// Values written as a `+` and decimal digits (JSON5 allows a leading `+` on numbers), with the digits.
    plus_numbers: HashMap<Vec<String>, String>,
}

/// The text nests deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep(pub(crate) Position);

impl KeyIndex {
    /// Scans `text` and records every key position it can find.
    pub(crate) fn build(text: &str) -> Result<KeyIndex, TooDeep> {
        Scanner::new(text).run()
    }

    /// The position of `path`, or of its longest recorded prefix when the path itself was not written
    /// (a default, or an index past the end).
    pub(crate) fn find(&self, path: &[String]) -> Option<Position> {
        (1..=path.len())
            .rev()
            .find_map(|len| {
                path.get(..len)
                    .and_then(|prefix| self.positions.get(prefix))
            })
            .copied()
    }

    /// Whether exactly this path was written.
    pub(crate) fn has(&self, path: &[String]) -> bool {
        self.positions.contains_key(path)
    }

    /// Whether the value at exactly `path` was written as the number `+<digits>`.
    ///
    /// Serde hands such a number over without its sign, which matters for an allowlist entry: `+4930123456`
    /// is an international number, `4930123456` a national one.
    pub(crate) fn is_plus_number(&self, path: &[String], digits: &str) -> bool {
        self.plus_numbers.get(path).is_some_and(|d| d == digits)
    }

    /// The keys written directly under `path` (members of an object there), sorted.
    pub(crate) fn children(&self, path: &[String]) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .positions
            .keys()
            .filter(|p| p.len() == path.len() + 1 && p.starts_with(path))
            .filter_map(|p| p.last().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Duplicate keys found anywhere in the file, in text order.
    pub(crate) fn duplicates(&self) -> &[(Vec<String>, Position)] {
        &self.duplicates
    }
}

/// A container the scanner is inside.
enum Container {
    /// An object and the keys seen in it so far.
    Object(HashSet<String>),
    /// An array and the index of the element being read.
    Array(usize),
}

/// What the scanner expects next.
#[derive(Clone, Copy)]
enum State {
    /// A value (the root, a member value or an array element).
    Value,
    /// A key or the end of an object.
    Key,
    /// A comma or the end of the enclosing container.
    AfterValue,
}

/// A character cursor that counts lines and columns the way `json5` does.
struct Scanner<'a> {
    chars: Peekable<Chars<'a>>,
    line: usize,
    column: usize,
    index: KeyIndex,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
            index: KeyIndex::default(),
        }
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        match c {
            // CR LF counts as one line terminator.
            '\r' if self.peek() == Some('\n') => {
                self.chars.next();
                self.line += 1;
                self.column = 1;
            }
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => {
                self.line += 1;
                self.column = 1;
            }
            _ => self.column += 1,
        }
        Some(c)
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() || c == '\u{FEFF}' => {
                    self.bump();
                }
                Some('/') => {
                    let mut ahead = self.chars.clone();
                    ahead.next();
                    match ahead.next() {
                        Some('/') => {
                            while let Some(c) = self.peek() {
                                if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
                                    break;
                                }
                                self.bump();
                            }
                        }
                        Some('*') => {
                            self.bump();
                            self.bump();
                            let mut star = false;
                            while let Some(c) = self.bump() {
                                if star && c == '/' {
                                    break;
                                }
                                star = c == '*';
                            }
                        }
                        _ => return,
                    }
                }
                _ => return,
            }
        }
    }

    /// Reads a quoted string (the opening quote is next) and returns its content with simple escapes resolved.
    fn string(&mut self) -> String {
        let Some(quote) = self.bump() else {
            return String::new();
        };
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '\\' => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        if let Some(ch) =
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            out.push(ch);
                        }
                    }
                    // A backslash before a line terminator continues the string on the next line.
                    Some('\n' | '\r' | '\u{2028}' | '\u{2029}') | None => {}
                    Some(other) => out.push(other),
                },
                c if c == quote => break,
                c => out.push(c),
            }
        }
        out
    }

    /// Reads a bare token (an identifier key, a number, `true`, `null`, ...).
    fn bare(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace()
                || matches!(c, ',' | ':' | '{' | '}' | '[' | ']' | '/' | '"' | '\'')
            {
                break;
            }
            out.push(c);
            self.bump();
        }
        out
    }

    fn record(&mut self, path: &[String], position: Position) {
        self.index.positions.insert(path.to_vec(), position);
    }

    fn run(mut self) -> Result<KeyIndex, TooDeep> {
        let mut stack: Vec<Container> = Vec::new();
        let mut path: Vec<String> = Vec::new();
        let mut state = State::Value;
        loop {
            self.skip_trivia();
            if stack.len() > MAX_DEPTH {
                return Err(TooDeep(self.position()));
            }
            match state {
                State::Value => match self.peek() {
                    None => break,
                    Some('{') => {
                        self.bump();
                        stack.push(Container::Object(HashSet::new()));
                        state = State::Key;
                    }
                    Some('[') => {
                        self.bump();
                        stack.push(Container::Array(0));
                        self.skip_trivia();
                        if self.peek() == Some(']') {
                            self.bump();
                            stack.pop();
                            state = State::AfterValue;
                        } else {
                            path.push("0".to_owned());
                            let here = self.position();
                            self.record(&path, here);
                        }
                    }
                    Some('"' | '\'') => {
                        self.string();
                        state = State::AfterValue;
                    }
                    Some(_) => {
                        let token = self.bare();
                        if token.is_empty() {
                            break;
                        }
                        if let Some(digits) = token.strip_prefix('+')
                            && !digits.is_empty()
                            && digits.bytes().all(|b| b.is_ascii_digit())
                        {
                            self.index
                                .plus_numbers
                                .insert(path.clone(), digits.to_owned());
                        }
                        state = State::AfterValue;
                    }
                },
                State::Key => {
                    let here = self.position();
                    let key = match self.peek() {
                        None => break,
                        Some('}') => {
                            self.bump();
                            stack.pop();
                            state = State::AfterValue;
                            continue;
                        }
                        Some('"' | '\'') => self.string(),
                        Some(_) => self.bare(),
                    };
                    self.skip_trivia();
                    if self.bump() != Some(':') {
                        break;
                    }
                    path.push(key.clone());
                    if let Some(Container::Object(seen)) = stack.last_mut()
                        && !seen.insert(key)
                    {
                        self.index.duplicates.push((path.clone(), here));
                    }
                    self.record(&path, here);
                    state = State::Value;
                }
                State::AfterValue => {
                    let Some(top) = stack.last_mut() else {
                        break;
                    };
                    path.pop();
                    match (top, self.peek()) {
                        (Container::Object(_), Some(',')) => {
                            self.bump();
                            state = State::Key;
                        }
                        (Container::Array(next), Some(',')) => {
                            self.bump();
                            *next += 1;
                            let next = *next;
                            self.skip_trivia();
                            if self.peek() == Some(']') {
                                self.bump();
                                stack.pop();
                            } else {
                                path.push(next.to_string());
                                let here = self.position();
                                self.record(&path, here);
                                state = State::Value;
                            }
                        }
                        (Container::Object(_), Some('}')) | (Container::Array(_), Some(']')) => {
                            self.bump();
                            stack.pop();
                        }
                        _ => break,
                    }
                }
            }
        }
        Ok(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(index: &KeyIndex, path: &str) -> Option<(usize, usize)> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        index.find(&segments).map(|p| (p.line, p.column))
    }

    #[test]
    fn finds_keys_and_array_elements() {
        let text = "{\n  // comment\n  channels: {\n    imessage: { 'cliPath': \"x\", allowFrom: [ 'a', /* c */ 12 ] },\n  },\n}";
        let index = KeyIndex::build(text).unwrap();
        let cases = [
            ("channels", Some((3, 3))),
            ("channels.imessage", Some((4, 5))),
            ("channels.imessage.cliPath", Some((4, 17))),
            ("channels.imessage.allowFrom", Some((4, 33))),
            ("channels.imessage.allowFrom.0", Some((4, 46))),
            ("channels.imessage.allowFrom.1", Some((4, 59))),
            // A path that was never written falls back to its longest written prefix.
            ("channels.imessage.dmPolicy", Some((4, 5))),
            ("nothing", None),
        ];
        for (path, expected) in cases {
            assert_eq!(at(&index, path), expected, "{path}");
        }
    }

    #[test]
    fn remembers_numbers_written_with_a_plus() {
        let index = KeyIndex::build("{a: [+12, 13, '+14', +0x10, +1.5], b: +7}").unwrap();
        let path = |p: &str| -> Vec<String> { p.split('.').map(str::to_owned).collect() };
        assert!(index.is_plus_number(&path("a.0"), "12"));
        assert!(!index.is_plus_number(&path("a.0"), "13"));
        assert!(!index.is_plus_number(&path("a.1"), "13"));
        assert!(!index.is_plus_number(&path("a.2"), "14"));
        assert!(!index.is_plus_number(&path("a.3"), "16"));
        assert!(!index.is_plus_number(&path("a.4"), "1"));
        assert!(index.is_plus_number(&path("b"), "7"));
    }

    #[test]
    fn reports_duplicate_keys_with_the_later_position() {
        let index = KeyIndex::build("{a: {b: 1, b: 2}, c: [{d: 1, d: 2}]}").unwrap();
        let dups: Vec<(String, usize)> = index
            .duplicates()
            .iter()
            .map(|(p, pos)| (p.join("."), pos.column))
            .collect();
        assert_eq!(dups, vec![("a.b".to_owned(), 12), ("c.0.d".to_owned(), 30)]);
    }

    #[test]
    fn rejects_deep_nesting_without_recursing() {
        let text = "[".repeat(100_000);
        assert!(KeyIndex::build(&text).is_err());
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(KeyIndex::build(&fine).is_ok());
    }
}
