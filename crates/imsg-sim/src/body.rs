//! The `attributedBody` text fallback: the same marker heuristic imsg applies to typedstream blobs.

/// Decodes the message text from an `attributedBody` blob, or returns "" for an empty blob.
pub(crate) fn decode_attributed_body(blob: &[u8]) -> String {
    if blob.is_empty() {
        return String::new();
    }
    if let Some(rest) = blob.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        return trim_leading_controls(&String::from_utf16_lossy(&units)).to_owned();
    }
    let mut best: Option<String> = None;
    let mut from = 0;
    while let Some(pos) = find(&blob[from..], &[0x01, 0x2B]) {
        let start = from + pos + 2;
        from = start;
        let Some(len) = find(&blob[start..], &[0x86, 0x84]) else {
            continue;
        };
        if let Some(text) = decode_segment(&blob[start..start + len])
            && best.as_ref().is_none_or(|b| text.len() > b.len())
        {
            best = Some(text);
        }
    }
    best.unwrap_or_else(|| trim_leading_controls(&String::from_utf8_lossy(blob)).to_owned())
}

/// Decodes one `01 2B … 86 84` segment, trying the length-prefix shapes before the raw bytes.
fn decode_segment(seg: &[u8]) -> Option<String> {
    let first = *seg.first()?;
    let mut candidates = Vec::new();
    if first < 0x80 && usize::from(first) + 1 == seg.len() {
        candidates.push(&seg[1..]);
    }
    if first == 0x81 && seg.len() >= 2 {
        candidates.push(&seg[2..]);
    }
    if first == 0x82 && seg.len() >= 3 {
        candidates.push(&seg[3..]);
    }
    let structured = candidates
        .into_iter()
        .filter_map(|c| std::str::from_utf8(c).ok())
        .map(trim_leading_controls)
        .max_by_key(|s| s.len());
    let text = match structured {
        Some(text) => text,
        None => trim_leading_controls(std::str::from_utf8(seg).ok()?),
    };
    (!text.is_empty()).then(|| text.to_owned())
}

fn trim_leading_controls(text: &str) -> &str {
    text.trim_start_matches(char::is_control)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Builds a blob that both imsg and this simulator decode back to `text`.
///
/// It carries a realistic typedstream header in front of the `01 2B <len> text 86 84` segment, so that
/// clients which parse blobs themselves see the shape a Mac writes.
pub(crate) fn encode_attributed_body(text: &str) -> Vec<u8> {
    let mut blob = Vec::with_capacity(text.len() + 96);
    blob.extend_from_slice(&[0x04, 0x0B]);
    blob.extend_from_slice(b"streamtyped");
    blob.extend_from_slice(&[0x81, 0xE8, 0x03, 0x84, 0x01, 0x40, 0x84, 0x84, 0x84, 0x12]);
    blob.extend_from_slice(b"NSAttributedString");
    blob.extend_from_slice(&[0x00, 0x84, 0x84, 0x08]);
    blob.extend_from_slice(b"NSObject");
    blob.extend_from_slice(&[0x00, 0x85, 0x92, 0x84, 0x84, 0x84, 0x08]);
    blob.extend_from_slice(b"NSString");
    blob.extend_from_slice(&[0x01, 0x94, 0x84, 0x01, 0x2B]);
    let len = text.len();
    if let Ok(short) = u8::try_from(len)
        && short < 0x80
    {
        blob.push(short);
    } else {
        // Long texts use the 0x81 prefix with a little-endian 16-bit length; longer ones are clipped to fit.
        let clipped = u16::try_from(len).unwrap_or(u16::MAX);
        blob.push(0x81);
        blob.extend_from_slice(&clipped.to_le_bytes());
    }
    blob.extend_from_slice(text.as_bytes());
    blob.extend_from_slice(&[0x86, 0x84]);
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_known_shapes() {
        let mut fixture = vec![0x01, 0x2B, 0x09];
        fixture.extend_from_slice(b"from body");
        fixture.extend_from_slice(&[0x86, 0x84]);
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "\nhey".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("fixture F row 15", fixture, "from body"),
            ("utf16 with leading newline", utf16, "hey"),
            (
                "no markers falls back to lossy text",
                b"\x02plain".to_vec(),
                "plain",
            ),
            ("empty blob", Vec::new(), ""),
            (
                "realistic header",
                encode_attributed_body("hello there"),
                "hello there",
            ),
        ];
        for (name, blob, want) in cases {
            assert_eq!(decode_attributed_body(&blob), want, "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn encoded_bodies_decode_back(text in "[^\\p{Cc}][^\\u{86}]{0,300}") {
            // Texts of at most 8191 bytes keep the high length byte below 0x20, which the decoder trims.
            proptest::prop_assume!(!text.as_bytes().windows(2).any(|w| w == [0x86, 0x84]));
            let blob = encode_attributed_body(&text);
            proptest::prop_assert_eq!(decode_attributed_body(&blob), text);
        }
    }
}
