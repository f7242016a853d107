//! The smallest binary-plist support the simulator needs: reading and writing the `audio-transcription`
//! string of an attachment's `user_info` dictionary.

/// The key Messages stores an audio message's transcription under.
const TRANSCRIPTION_KEY: &str = "audio-transcription";

/// Returns the `audio-transcription` string of a `bplist00` dictionary, or `None` for anything else.
pub(crate) fn transcription(blob: &[u8]) -> Option<String> {
    let plist = Plist::parse(blob)?;
    let (keys, values) = plist.dict(plist.top)?;
    keys.iter()
        .zip(values)
        .find(|(k, _)| plist.string(**k).as_deref() == Some(TRANSCRIPTION_KEY))
        .and_then(|(_, v)| plist.string(v))
}

/// Encodes `{"audio-transcription": text}` as a binary plist, the shape Messages writes into `user_info`.
pub(crate) fn encode_transcription(text: &str) -> Vec<u8> {
    let mut out = b"bplist00".to_vec();
    let mut offsets = Vec::new();
    offsets.push(out.len());
    out.extend_from_slice(&[0xD1, 0x01, 0x02]);
    offsets.push(out.len());
    write_string(&mut out, TRANSCRIPTION_KEY);
    offsets.push(out.len());
    write_string(&mut out, text);
    let table_at = out.len();
    // Offsets are written with 4 bytes each, which covers any text up to 4 GiB.
    for offset in &offsets {
        out.extend_from_slice(&u32::try_from(*offset).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&[4, 1]);
    out.extend_from_slice(&(offsets.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&(table_at as u64).to_be_bytes());
    out
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    let (marker, payload, count): (u8, Vec<u8>, usize) = if text.is_ascii() {
        (0x50, text.as_bytes().to_vec(), text.len())
    } else {
        let units: Vec<u16> = text.encode_utf16().collect();
        (
            0x60,
            units.iter().flat_map(|u| u.to_be_bytes()).collect(),
            units.len(),
        )
    };
    if count < 15 {
        out.push(marker | u8::try_from(count).unwrap_or(0));
    } else {
        out.push(marker | 0x0F);
        out.push(0x12);
        out.extend_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(&payload);
}

/// A parsed `bplist00` container: the object offsets and the sizes from its trailer.
struct Plist<'a> {
    blob: &'a [u8],
    offsets: Vec<usize>,
    ref_size: usize,
    top: usize,
}

impl<'a> Plist<'a> {
    fn parse(blob: &'a [u8]) -> Option<Self> {
        if !blob.starts_with(b"bplist00") || blob.len() < 40 {
            return None;
        }
        let trailer = &blob[blob.len() - 32..];
        let offset_size = usize::from(trailer[6]);
        let ref_size = usize::from(trailer[7]);
        let count = usize::try_from(be(&trailer[8..16])).ok()?;
        let top = usize::try_from(be(&trailer[16..24])).ok()?;
        let table = usize::try_from(be(&trailer[24..32])).ok()?;
        if !(1..=8).contains(&offset_size) || !(1..=8).contains(&ref_size) || count > blob.len() {
            return None;
        }
        let offsets = (0..count)
            .map(|i| {
                let at = table.checked_add(i.checked_mul(offset_size)?)?;
                usize::try_from(be(blob.get(at..at.checked_add(offset_size)?)?)).ok()
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            blob,
            offsets,
            ref_size,
            top,
        })
    }

    /// The marker byte, the element count and where the payload starts, for object `index`.
    fn header(&self, index: usize) -> Option<(u8, usize, usize)> {
        let at = *self.offsets.get(index)?;
        let marker = *self.blob.get(at)?;
        let low = usize::from(marker & 0x0F);
        if low != 0x0F {
            return Some((marker >> 4, low, at + 1));
        }
        let int_marker = *self.blob.get(at + 1)?;
        if int_marker >> 4 != 0x1 {
            return None;
        }
        let width = 1usize << (int_marker & 0x0F);
        let end = at.checked_add(2 + width)?;
        let count = usize::try_from(be(self.blob.get(at + 2..end)?)).ok()?;
        Some((marker >> 4, count, end))
    }

    fn dict(&self, index: usize) -> Option<(Vec<usize>, Vec<usize>)> {
        let (kind, count, start) = self.header(index)?;
        if kind != 0xD {
            return None;
        }
        let total = count.checked_mul(2).filter(|t| *t <= self.blob.len())?;
        let refs = (0..total)
            .map(|i| {
                let at = start.checked_add(i.checked_mul(self.ref_size)?)?;
                usize::try_from(be(self.blob.get(at..at.checked_add(self.ref_size)?)?)).ok()
            })
            .collect::<Option<Vec<_>>>()?;
        let (keys, values) = refs.split_at(count);
        Some((keys.to_vec(), values.to_vec()))
    }

    fn string(&self, index: usize) -> Option<String> {
        let (kind, count, start) = self.header(index)?;
        match kind {
            0x5 | 0x7 => {
                String::from_utf8(self.blob.get(start..start.checked_add(count)?)?.to_vec()).ok()
            }
            0x6 => {
                let bytes = self
                    .blob
                    .get(start..start.checked_add(count.checked_mul(2)?)?)?;
                let units: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .collect();
                String::from_utf16(&units).ok()
            }
            _ => None,
        }
    }
}

/// Reads a big-endian unsigned integer of 1 to 8 bytes.
fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_rejects_other_blobs() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"", None),
            (b"bplist00", None),
            (b"not a plist at all, long enough", None),
        ];
        for (blob, want) in cases {
            assert_eq!(transcription(blob).as_deref(), *want);
        }
    }

    /// A `bplist00` trailer whose offset table (or first offset) points past the end of the address space.
    fn hostile(offset_size: u8, first_offset: u64, table: u64) -> Vec<u8> {
        let mut blob = b"bplist00".to_vec();
        blob.extend_from_slice(&[0xD1, 0x01, 0x02]);
        let table = if table == 0 { blob.len() as u64 } else { table };
        blob.extend_from_slice(&first_offset.to_be_bytes()[8 - usize::from(offset_size)..]);
        blob.extend_from_slice(&[0; 6]);
        blob.extend_from_slice(&[offset_size, 8]);
        blob.extend_from_slice(&1u64.to_be_bytes());
        blob.extend_from_slice(&0u64.to_be_bytes());
        blob.extend_from_slice(&table.to_be_bytes());
        blob
    }

    #[test]
    fn hostile_offsets_are_rejected_without_overflow() {
        // A user_info blob comes from chat.db, which any process may write: huge offsets must not panic.
        for blob in [
            hostile(8, 0, u64::MAX),
            hostile(8, 0, u64::MAX - 3),
            hostile(8, 8, 0),
            hostile(1, 8, 0),
        ] {
            assert_eq!(transcription(&blob), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_blobs_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let mut blob = b"bplist00".to_vec();
            blob.extend_from_slice(&tail);
            let _ = transcription(&blob);
        }

        #[test]
        fn transcriptions_round_trip(text in "\\PC{0,200}") {
            proptest::prop_assert_eq!(transcription(&encode_transcription(&text)), Some(text));
        }
    }
}
