//! Property tests: round-trips of the grammar, idempotent and total
//! normalization, and the distinctness guarantees that fix the anchor's
//! collapsing of digit-less handles.

use imsg_target::{
    AllowEntry, Handle, HandleKind, Region, Service, Target, normalize_handle,
    normalize_messaging_target, normalize_phone,
};
use proptest::prelude::*;

/// Letters that look alike or lowercase alike; each group's members are tried against each other.
const CONFUSABLE: &[&[char]] = &[
    &['K', 'k', '\u{212a}'],
    &['\u{c5}', '\u{e5}', '\u{212b}'],
    &['\u{3a9}', '\u{3c9}', '\u{2126}'],
    &['\u{398}', '\u{3b8}', '\u{3f4}'],
    &['\u{3a3}', '\u{3c3}', '\u{3c2}'],
    &['\u{df}', '\u{1e9e}', 's'],
    &['I', 'i', '\u{130}'],
    &['A', 'a', '\u{391}'],
];

/// Regions that read national numbers differently.
fn region() -> impl Strategy<Value = Region> {
    prop::sample::select(vec!["US", "GB", "DE", "FR", "JP", "IN", "BR", "AU"])
        .prop_filter_map("a region the metadata knows", |code| Region::new(code).ok())
}

/// Any service.
fn service() -> impl Strategy<Value = Service> {
    prop::sample::select(vec![Service::Imessage, Service::Sms, Service::Auto])
}

/// Every prefix of the grammar in assorted case, plus nothing.
fn prefix() -> impl Strategy<Value = String> {
    let prefixes = vec![
        "",
        "",
        "",
        "chat_id:",
        "chatid:",
        "chat:",
        "chat_guid:",
        "chatguid:",
        "guid:",
        "chat_identifier:",
        "chatidentifier:",
        "chatident:",
        "imessage:",
        "sms:",
        "auto:",
    ];
    (prop::sample::select(prefixes), any::<u64>()).prop_map(|(p, bits)| {
        // Flip the case of letters by the bits, so case-insensitivity is exercised.
        p.chars()
            .enumerate()
            .map(|(i, c)| {
                if bits >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    })
}

/// Text that looks like what users type: phones, emails, names, hex ids,
/// numbers, nested prefixes and arbitrary unicode.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+]?[0-9 ().\\-/]{0,24}",
        "\\+[0-9]{1,16}",
        "[A-Za-z0-9._%+-]{1,12}@[A-Za-z0-9.-]{1,12}",
        "[A-Za-z]{1,10}",
        "[0-9a-fA-F]{32}",
        "[+-]?[0-9]{1,20}[a-z.]{0,3}",
        " {0,2}\\*{1,2} {0,2}",
        "(imessage|sms|auto|chat_id|guid):[a-z0-9+]{0,6}",
        any::<String>(),
        "\\PC{0,16}",
    ]
}

/// Raw entries: an optional prefix (sometimes two) in front of a value.
fn raw_entry() -> impl Strategy<Value = String> {
    (prefix(), prefix(), value(), " {0,2}")
        .prop_map(|(p1, p2, v, pad)| format!("{pad}{p1}{p2}{v}{pad}"))
}

/// Text that may stand in a chat GUID or identifier: no surrounding whitespace.
fn chat_value() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9;+-]{1,20}", "\\PC{1,12}"].prop_filter("non-empty after trimming", |s| {
        let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        !t.is_empty() && t == s
    })
}

/// Text without ASCII digits and without `@`: neither a phone nor an email.
fn digitless() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z ._-]{1,12}", "\\PC{1,12}"]
        .prop_map(|s| s.replace(|c: char| c.is_ascii_digit() || c == '@', ""))
}

/// Every kind of send target, built through the public constructors.
fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        any::<i64>().prop_map(Target::ChatId),
        chat_value().prop_map(Target::ChatGuid),
        chat_value().prop_map(Target::ChatIdentifier),
        (prop_oneof![chat_value(), raw_entry()], service())
            .prop_filter_map("valid handle target", |(to, service)| {
                Target::handle(to, service).ok()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn target_display_parses_back(t in target()) {
        prop_assert_eq!(t.to_string().parse::<Target>(), Ok(t));
    }

    #[test]
    fn parsed_target_round_trips(raw in raw_entry()) {
        if let Ok(t) = raw.parse::<Target>() {
            prop_assert_eq!(t.to_string().parse::<Target>(), Ok(t));
        }
    }

    #[test]
    fn parsed_allow_entry_round_trips(raw in raw_entry(), region in region()) {
        if let Ok(entry) = AllowEntry::parse(&raw, &region) {
            let again = AllowEntry::parse(&entry.to_string(), &region);
            prop_assert_eq!(again, Ok(entry));
        }
    }

    #[test]
    fn wildcard_is_never_a_handle(raw in raw_entry(), region in region()) {
        if let Ok(AllowEntry::Handle { handle, .. }) = AllowEntry::parse(&raw, &region) {
            prop_assert_ne!(handle.as_str(), "*");
            prop_assert_ne!(handle.as_str(), "+");
            prop_assert!(!handle.as_str().is_empty());
        }
    }

    #[test]
    fn handle_normalization_is_idempotent(raw in raw_entry(), region in region()) {
        if let Some(h) = Handle::normalize(&raw, &region) {
            prop_assert_eq!(Handle::normalize(h.as_str(), &region), Some(h));
        }
    }

    #[test]
    fn handle_normalization_is_total_on_any_unicode(raw in any::<String>(), region in region()) {
        if let Some(h) = Handle::normalize(&raw, &region) {
            prop_assert!(!h.as_str().is_empty());
            prop_assert_eq!(Handle::normalize(h.as_str(), &region), Some(h));
        }
    }

    #[test]
    fn unicode_email_normalization_is_idempotent(raw in "\\PC{0,8}@\\PC{0,8}", region in region()) {
        if let Some(h) = Handle::normalize(&raw, &region) {
            prop_assert_eq!(h.kind(), HandleKind::Email);
            prop_assert_eq!(Handle::normalize(h.as_str(), &region), Some(h));
        }
    }

    #[test]
    fn phone_normalization_is_idempotent(raw in "[+]?[0-9 ().\\-/]{0,30}", region in region()) {
        if let Some(p) = normalize_phone(&raw, &region) {
            prop_assert!(p.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'+')));
            prop_assert_eq!(normalize_phone(&p, &region), Some(p));
        }
    }

    #[test]
    fn string_normalizers_are_idempotent(raw in raw_entry(), region in region()) {
        if let Some(n) = normalize_handle(&raw, &region) {
            prop_assert_eq!(normalize_handle(&n, &region), Some(n));
        }
        if let Some(n) = normalize_messaging_target(&raw, &region) {
            prop_assert_eq!(normalize_messaging_target(&n, &region), Some(n));
        }
    }

    #[test]
    fn distinct_emails_stay_distinct(
        a in "[A-Za-z0-9][A-Za-z0-9._%+-]{0,11}@[A-Za-z0-9.-]{1,12}",
        b in "[A-Za-z0-9][A-Za-z0-9._%+-]{0,11}@[A-Za-z0-9.-]{1,12}",
        region in region(),
    ) {
        let (na, nb) = (Handle::normalize(&a, &region), Handle::normalize(&b, &region));
        prop_assert_eq!(na.as_ref().map(Handle::kind), Some(HandleKind::Email));
        // Emails are case-insensitive and nothing else: equal exactly when
        // the lowercased texts are equal.
        prop_assert_eq!(na == nb, a.to_lowercase() == b.to_lowercase());
    }

    #[test]
    fn emails_meet_only_through_case(
        picks in proptest::collection::vec((0..CONFUSABLE.len(), 0..3usize, 0..3usize), 1..8),
        region in region(),
    ) {
        // Two emails meet only when one turns into the other by swapping letters with their case partner.
        // Unicode lowercasing merges more than that: the Kelvin sign, the Ohm and Angstrom signs and the
        // theta symbol lowercase to the same letters as `K`, `Ω`, `Å` and `Θ`, so `\u{212a}im@x.com` would
        // be `kim@x.com`, another address.
        let pick = |group: usize, member: usize| {
            let letters = CONFUSABLE.get(group).copied().unwrap_or(&['k']);
            letters.get(member % letters.len()).copied().unwrap_or('k')
        };
        let a: String = picks.iter().map(|&(g, m, _)| pick(g, m)).collect();
        let b: String = picks.iter().map(|&(g, _, m)| pick(g, m)).collect();
        let partner = |x: char, y: char| {
            x == y
                || (x.to_lowercase().eq(y.to_lowercase())
                    && (x.to_uppercase().eq(std::iter::once(y)) || y.to_uppercase().eq(std::iter::once(x))))
        };
        let same = a.chars().zip(b.chars()).all(|(x, y)| partner(x, y));
        let (ea, eb) = (format!("{a}@x.com"), format!("{b}@X.COM"));
        let (na, nb) = (Handle::normalize(&ea, &region), Handle::normalize(&eb, &region));
        prop_assert_eq!(na == nb, same, "{:?} {:?} -> {:?} {:?}", ea, eb, na, nb);
    }

    #[test]
    fn distinct_digitless_handles_stay_distinct(
        a in digitless(),
        b in digitless(),
        region in region(),
    ) {
        let (na, nb) = (Handle::normalize(&a, &region), Handle::normalize(&b, &region));
        if let (Some(na), Some(nb)) = (na, nb) {
            let trim = |s: &str| s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}').to_owned();
            prop_assert_eq!(na == nb, trim(&a) == trim(&b));
            prop_assert_ne!(na.kind(), HandleKind::Phone);
        }
    }

    #[test]
    fn national_and_international_spellings_meet(
        area in "[2-9][0-9]{2}",
        exchange in "[2-9][0-9]{2}",
        line in "[0-9]{4}",
    ) {
        let us = Region::default();
        let e164 = format!("+1{area}{exchange}{line}");
        for spelling in [
            format!("({area}) {exchange}-{line}"),
            format!("{area}.{exchange}.{line}"),
            format!("1 {area} {exchange} {line}"),
            format!("+1 {area}-{exchange}-{line}"),
            e164.clone(),
        ] {
            let h = Handle::normalize(&spelling, &us);
            prop_assert_eq!(h.as_ref().map(Handle::as_str), Some(e164.as_str()), "spelling {}", spelling);
        }
    }

    #[test]
    fn region_accepts_only_two_letters(code in "\\PC{0,4}") {
        if let Ok(region) = Region::new(&code) {
            prop_assert_eq!(region.as_str().len(), 2);
            prop_assert!(region.as_str().bytes().all(|b| b.is_ascii_uppercase()));
            prop_assert!(region.as_str().eq_ignore_ascii_case(&code));
        }
    }
}
