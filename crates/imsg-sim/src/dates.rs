//! Apple-epoch timestamps: chat.db stores nanoseconds since 2001-01-01 UTC, imsg prints ISO-8601 with milliseconds.

/// Seconds between the Unix epoch and the Apple epoch (2001-01-01T00:00:00Z).
const APPLE_EPOCH_UNIX_SECS: i64 = 978_307_200;

/// Formats an Apple-epoch nanosecond value the way imsg prints `created_at`.
///
/// A NULL date prints as the Apple epoch itself, as imsg does.
pub(crate) fn apple_ns_to_iso(ns: Option<i64>) -> String {
    let ns = ns.unwrap_or(0);
    let unix_ms = ns
        .div_euclid(1_000_000)
        .saturating_add(APPLE_EPOCH_UNIX_SECS * 1000);
    let Ok(ts) = jiff::Timestamp::from_millisecond(unix_ms) else {
        // Out-of-range dates cannot come from Messages; clamp to the epoch rather than fail the payload.
        return "2001-01-01T00:00:00.000Z".to_owned();
    };
    format!(
        "{}.{:03}Z",
        ts.strftime("%Y-%m-%dT%H:%M:%S"),
        unix_ms.rem_euclid(1000)
    )
}

/// Parses an internet date-time with a mandatory zone into Apple-epoch nanoseconds.
///
/// Returns `None` for anything imsg rejects: date-only strings, missing zones, empty strings.
pub(crate) fn parse_iso_to_apple_ns(text: &str) -> Option<i64> {
    if !is_internet_date_time(text) {
        return None;
    }
    let ts: jiff::Timestamp = text.parse().ok()?;
    let ns = ts.as_nanosecond() - i128::from(APPLE_EPOCH_UNIX_SECS) * 1_000_000_000;
    i64::try_from(ns).ok()
}

/// Converts a Unix timestamp into Apple-epoch nanoseconds.
pub(crate) fn timestamp_to_apple_ns(ts: jiff::Timestamp) -> i64 {
    let ns = ts.as_nanosecond() - i128::from(APPLE_EPOCH_UNIX_SECS) * 1_000_000_000;
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// Checks the RFC 3339 shape `YYYY-MM-DDTHH:MM:SS[.f+](Z|±HH:MM)` that Foundation's internet date-time accepts.
fn is_internet_date_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|s| s.len() == range.len() && s.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            digits(i + 1..i + 3)
                && b.get(i + 3) == Some(&b':')
                && digits(i + 4..i + 6)
                && i + 6 == b.len()
        }
        _ => false,
    }
}

/// Apple-epoch nanoseconds for the current wall-clock time.
pub(crate) fn now_apple_ns() -> i64 {
    timestamp_to_apple_ns(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_the_spec_vector() {
        let cases: &[(Option<i64>, &str)] = &[
            (Some(768_000_000_000_000_000), "2025-05-03T21:20:00.000Z"),
            (Some(768_000_060_000_000_000), "2025-05-03T21:21:00.000Z"),
            (Some(768_000_000_123_456_789), "2025-05-03T21:20:00.123Z"),
            (None, "2001-01-01T00:00:00.000Z"),
            (Some(5), "2001-01-01T00:00:00.000Z"),
        ];
        for (ns, iso) in cases {
            assert_eq!(apple_ns_to_iso(*ns), *iso, "{ns:?}");
        }
    }

    #[test]
    fn accepts_only_internet_date_times() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2025-05-03T21:21:00Z", Some(768_000_060_000_000_000)),
            ("2025-05-03T21:25:00.000Z", Some(768_000_300_000_000_000)),
            ("2025-05-03T23:21:00+02:00", Some(768_000_060_000_000_000)),
            ("2025-05-03", None),
            ("2025-05-03T21:21:00", None),
            ("", None),
            ("yesterday", None),
            ("2025-05-03T21:21:00.Z", None),
            ("2025-05-03 21:21:00Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_iso_to_apple_ns(text), *want, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn millisecond_dates_round_trip(ms in -1_000_000_000_000i64..4_000_000_000_000i64) {
            let ns = ms * 1_000_000;
            let iso = apple_ns_to_iso(Some(ns));
            proptest::prop_assert_eq!(parse_iso_to_apple_ns(&iso), Some(ns));
        }
    }
}
