//! Newline framing: splits a byte stream into lines on 0x0A only, bounded and never failing.
//!
//! imsg writes one JSON object per line and may put U+2028 raw inside strings, so the only
//! separator is the byte 0x0A. The decoder never returns an error: an over-long line is reported
//! once as [`Frame::Oversized`], its bytes are thrown away up to the next newline and decoding
//! carries on. That is the property the `FramedRead` + `LinesCodec` pair lacks (after one error
//! it ends the stream), and the reason this module exists.

use bytes::{Bytes, BytesMut};

/// The default maximum line length: 16 MiB, enough for a 500-row history with attachments.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One unit produced by the [`LineDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete, non-blank line without its `\n` and without a trailing `\r`.
    Line(Bytes),
    /// A line longer than the maximum; its content was discarded up to the next newline.
    Oversized,
}

/// An incremental, bounded line splitter over a byte buffer.
///
/// Feed bytes with [`LineDecoder::extend`] (or read straight into [`LineDecoder::buffer_mut`])
/// and take frames with [`LineDecoder::next_frame`] until it returns `None`. The frames produced
/// do not depend on how the input was split into chunks.
#[derive(Debug)]
pub struct LineDecoder {
    buf: BytesMut,
    max_line: usize,
    /// How far `buf` is known to hold no newline, so each byte is scanned once.
    scanned: usize,
    /// True while the rest of an oversized line is being thrown away.
    discarding: bool,
}

impl LineDecoder {
    /// Creates a decoder that reports lines longer than `max_line` bytes as oversized.
    ///
    /// The length counts every byte before the `\n`, including a trailing `\r`, so the outcome
    /// does not depend on where chunk boundaries fall.
    #[must_use]
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(64 * 1024),
            max_line,
            scanned: 0,
            discarding: false,
        }
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read into directly (for `AsyncReadExt::read_buf`).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Returns the next frame available in the buffer, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let Some(offset) = memchr::memchr(b'\n', &self.buf[self.scanned..]) else {
                return self.no_newline_yet();
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            let mut line = self.buf.split_to(end + 1);
            if self.discarding {
                // This newline ends a line that was already reported as oversized.
                self.discarding = false;
                continue;
            }
            if end > self.max_line {
                return Some(Frame::Oversized);
            }
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            if is_blank(&line) {
                continue;
            }
            return Some(Frame::Line(line.freeze()));
        }
    }

    /// Handles a buffer that holds no newline: waits for more bytes or starts discarding.
    fn no_newline_yet(&mut self) -> Option<Frame> {
        if self.discarding {
            self.buf.clear();
            self.scanned = 0;
            return None;
        }
        if self.buf.len() > self.max_line {
            self.buf.clear();
            self.scanned = 0;
            self.discarding = true;
            return Some(Frame::Oversized);
        }
        self.scanned = self.buf.len();
        None
    }

    /// Flushes what is left when the stream ends: a final line without a newline, if any.
    ///
    /// A peer that dies mid-line leaves such a fragment; it is handed out like any other line
    /// so the caller can count it as a bad line.
    pub fn finish(&mut self) -> Option<Frame> {
        if let Some(frame) = self.next_frame() {
            return Some(frame);
        }
        let discarding = std::mem::replace(&mut self.discarding, false);
        self.scanned = 0;
        let mut rest = self.buf.split();
        if discarding {
            return None;
        }
        if rest.last() == Some(&b'\r') {
            rest.truncate(rest.len() - 1);
        }
        if is_blank(&rest) {
            return None;
        }
        Some(Frame::Line(rest.freeze()))
    }

    /// How many bytes are buffered and not yet framed.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// A line made only of ASCII whitespace is blank and skipped, as imsg and both clients do.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames_whole(input: &[u8], max: usize) -> Vec<Frame> {
        let mut dec = LineDecoder::new(max);
        dec.extend(input);
        let mut out = Vec::new();
        while let Some(f) = dec.next_frame() {
            out.push(f);
        }
        out.extend(dec.finish());
        out
    }

    fn frames_chunked(input: &[u8], cuts: &[usize], max: usize) -> Vec<Frame> {
        let mut dec = LineDecoder::new(max);
        let mut out = Vec::new();
        let mut start = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        for cut in cuts {
            dec.extend(&input[start..cut]);
            start = cut;
            while let Some(f) = dec.next_frame() {
                out.push(f);
            }
        }
        out.extend(dec.finish());
        out
    }

    /// Renders frames compactly so the table below stays readable.
    fn show(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Line(b) => format!("line {:?}", String::from_utf8_lossy(b)),
                Frame::Oversized => "oversized".to_owned(),
            })
            .collect()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[u8], &[&str])] = &[
            ("simple", b"a\nb\n", &["line \"a\"", "line \"b\""]),
            ("crlf", b"a\r\nb\r\n", &["line \"a\"", "line \"b\""]),
            (
                "blank and whitespace lines",
                b"\n\r\n  \t\nx\n",
                &["line \"x\""],
            ),
            (
                "no final newline",
                b"a\nlast",
                &["line \"a\"", "line \"last\""],
            ),
            (
                "oversized then recovers",
                b"0123456789ABC\nok\n",
                &["oversized", "line \"ok\""],
            ),
            ("exactly max", b"0123456789\n", &["line \"0123456789\""]),
            ("cr counts towards max", b"0123456789\r\n", &["oversized"]),
            (
                "oversized at eof",
                b"ok\n0123456789ABCDEF",
                &["line \"ok\"", "oversized"],
            ),
            (
                "u2028 is not a separator",
                "a\u{2028}b\n".as_bytes(),
                &["line \"a\\u{2028}b\""],
            ),
            ("lone cr is kept inside", b"a\rb\n", &["line \"a\\rb\""]),
        ];
        for (name, input, want) in cases {
            assert_eq!(show(&frames_whole(input, 10)), *want, "{name}");
        }
    }

    #[test]
    fn oversized_reported_once_across_many_chunks() {
        let mut dec = LineDecoder::new(4);
        let mut out = Vec::new();
        for chunk in [&b"abcdef"[..], b"ghij", b"klm", b"n\nok\n"] {
            dec.extend(chunk);
            while let Some(f) = dec.next_frame() {
                out.push(f);
            }
        }
        assert_eq!(show(&out), ["oversized", "line \"ok\""]);
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn discarding_keeps_memory_bounded() {
        let mut dec = LineDecoder::new(8);
        let mut reported = 0;
        for _ in 0..1000 {
            dec.extend(&[b'x'; 100]);
            while let Some(f) = dec.next_frame() {
                assert!(matches!(f, Frame::Oversized));
                reported += 1;
            }
            assert!(dec.buffered() <= 100);
        }
        assert_eq!(reported, 1);
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_frames(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'{'), any::<u8>()],
                0..400,
            ),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
            max in 1usize..40,
        ) {
            let whole = frames_whole(&input, max);
            let chunked = frames_chunked(&input, &cuts, max);
            prop_assert_eq!(whole, chunked);
        }

        #[test]
        fn one_byte_at_a_time_matches_whole(
            input in proptest::collection::vec(any::<u8>(), 0..300),
            max in 1usize..20,
        ) {
            let cuts: Vec<usize> = (0..input.len()).collect();
            prop_assert_eq!(frames_whole(&input, max), frames_chunked(&input, &cuts, max));
        }
    }
}
