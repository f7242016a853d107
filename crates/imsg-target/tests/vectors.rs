//! Anchor test vectors (spec sections 9.1, 9.2 and the target rows of 9.8)
//! plus grammar coverage, each function's table rendered to one snapshot.
//!
//! Rows that come from the anchor's own tests also carry the expected value
//! and are asserted directly, so a wrong snapshot cannot hide a regression.

use imsg_target::{
    AllowEntry, ChatType, Handle, HandleKind, Region, Service, Target, format_chat_target,
    infer_chat_type, looks_like_explicit_target_id, looks_like_target_id, normalize_handle,
    normalize_messaging_target, parse_allow_from_entries,
};

/// Renders one row per input as `input => output`.
fn table<I: std::fmt::Debug>(rows: impl IntoIterator<Item = (I, String)>) -> String {
    let mut out = String::new();
    for (input, output) in rows {
        out.push_str(&format!("{input:?} => {output}\n"));
    }
    out
}

fn us() -> Region {
    Region::default()
}

/// Renders a target parse result with its display form.
fn show_target(input: &str) -> String {
    match input.parse::<Target>() {
        Ok(target) => format!("{target:?} displays {:?}", target.to_string()),
        Err(err) => format!("error {:?}", err.to_string()),
    }
}

#[test]
fn parse_target_anchor_vectors() {
    let rows: [(&str, Result<Target, &str>); 3] = [
        ("chat_id:123", Ok(Target::ChatId(123))),
        ("chat:456", Ok(Target::ChatId(456))),
        (
            "sms:+1555",
            Ok(Target::Handle {
                to: "+1555".into(),
                service: Service::Sms,
            }),
        ),
    ];
    for (input, expected) in rows {
        let got = input.parse::<Target>().map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "input {input:?}");
    }
}

#[test]
fn parse_target_error_messages_match_anchor() {
    let rows = [
        ("", "iMessage target is required"),
        ("   ", "iMessage target is required"),
        ("sms:", "sms: target is required"),
        ("IMESSAGE:  ", "imessage: target is required"),
        ("auto:", "auto: target is required"),
        ("chat_id:abc", "Invalid chat_id: abc"),
        ("chat_id:", "Invalid chat_id: "),
        ("chat_guid:", "chat_guid is required"),
        ("chat_identifier: ", "chat_identifier is required"),
    ];
    for (input, message) in rows {
        let err = input.parse::<Target>().unwrap_err();
        assert_eq!(err.to_string(), message, "input {input:?}");
    }
}

#[test]
fn parse_target_table() {
    let inputs = [
        "chat_id:123",
        "chat:456",
        "sms:+1555",
        "CHATID:7",
        " Chat_Id: 42 ",
        "chat_id:-5",
        "chat_id:+5",
        "chat_id:12abc",
        "chat_id:1.5",
        "chat_id:0x10",
        "chat_id:",
        "chat_id:99999999999999999999",
        "chat_guid:iMessage;+;chat123",
        "GUID:abc",
        "chatguid:",
        "chat_identifier:chat123",
        "chatident:Foo",
        "ChatIdentifier:  ",
        "imessage:+15551234567",
        "IMESSAGE:User@Example.com",
        "sms:",
        "imessage:  ",
        "auto:+1555",
        "sms:chat_id:123",
        "imessage:CHAT_GUID:abc",
        "auto:ChatIdentifier:foo",
        "imessage:sms:+1555",
        "auto:sms:+1555",
        "sms:chat_id:abc",
        "+1 (555) 222-3333",
        "bob",
        "user@example.com",
        "",
        "   ",
        "chat:",
        "chatty:5",
    ];
    insta::assert_snapshot!(table(inputs.map(|i| (i, show_target(i)))));
}

#[test]
fn normalize_handle_anchor_vectors() {
    let rows = [
        ("Name@Example.com", "name@example.com"),
        (" +1 (555) 222-3333 ", "+15552223333"),
        ("CHAT_ID:123", "chat_id:123"),
        ("Chat_Id:456", "chat_id:456"),
        ("chatid:789", "chat_id:789"),
        ("CHAT:42", "chat_id:42"),
        ("CHAT_GUID:abc-def", "chat_guid:abc-def"),
        ("ChatGuid:XYZ", "chat_guid:XYZ"),
        ("GUID:test-guid", "chat_guid:test-guid"),
        (
            "CHAT_IDENTIFIER:iMessage;-;chat123",
            "chat_identifier:iMessage;-;chat123",
        ),
        ("ChatIdentifier:test", "chat_identifier:test"),
        ("CHATIDENT:foo", "chat_identifier:foo"),
    ];
    for (input, expected) in rows {
        assert_eq!(
            normalize_handle(input, &us()).as_deref(),
            Some(expected),
            "input {input:?}"
        );
    }
}

#[test]
fn normalize_handle_table() {
    let inputs = [
        "Name@Example.com",
        " +1 (555) 222-3333 ",
        "CHAT_ID:123",
        "CHAT:42",
        "ChatGuid:XYZ",
        "CHATIDENT:foo",
        "chat_id:",
        "imessage:+1555",
        "auto:auto:+1555",
        "imessage:",
        "e:Foo@Bar.com",
        "mailto:Foo@Bar.com",
        "(415) 555-2671",
        "555-1234",
        "15551234567",
        "++1555",
        "whatsapp:+1555",
        "bob",
        "alice",
        "abc",
        "1800FLOWERS",
        "1800CALLNOW",
        "urn:biz:12345",
        "7d5297154d5f436d83dbbdf03fcc8fdd",
        "+",
        "",
    ];
    insta::assert_snapshot!(table(
        inputs.map(|i| (i, format!("{:?}", normalize_handle(i, &us()))))
    ));
}

#[test]
fn handle_normalize_table() {
    let gb = Region::new("gb").unwrap();
    let rows: Vec<(&str, &Region)> = vec![
        ("+14155552671", us_static()),
        ("(415) 555-2671", us_static()),
        ("4155552671", us_static()),
        ("1 (415) 555-2671", us_static()),
        ("+44 20 7946 0958", us_static()),
        ("020 7946 0958", us_static()),
        ("+15551234567", us_static()),
        ("15551234567", us_static()),
        ("911", us_static()),
        ("72975", us_static()),
        ("+1 555", us_static()),
        ("1\u{a0}415\u{a0}555\u{a0}2671", us_static()),
        ("Alice@Example.COM", us_static()),
        ("ÄLICE@EXAMPLE.COM", us_static()),
        ("bob", us_static()),
        ("Bob", us_static()),
        ("1800FLOWERS", us_static()),
        ("7d5297154d5f436d83dbbdf03fcc8fdd", us_static()),
        ("++1555", us_static()),
        ("12345678901234567890", us_static()),
        ("12345678901234567890123456789012", us_static()),
        ("+123456789012345678901", us_static()),
        ("٣٣٣", us_static()),
        ("+", us_static()),
        ("()", us_static()),
        ("   ", us_static()),
        ("020 7946 0958", &gb),
        ("07700 900123", &gb),
        ("4155552671", &gb),
    ];
    insta::assert_snapshot!(table(rows.into_iter().map(|(input, region)| {
        let out = match Handle::normalize(input, region) {
            Some(h) => format!("{:?} {:?}", h.kind(), h.as_str()),
            None => "None".to_owned(),
        };
        (format!("{input} [{region}]"), out)
    })));
}

/// A `'static` US region, so table rows can hold plain references.
fn us_static() -> &'static Region {
    static US: std::sync::OnceLock<Region> = std::sync::OnceLock::new();
    US.get_or_init(Region::default)
}

#[test]
fn handle_kinds_and_fixes() {
    let rows = [
        ("(415) 555-2671", Some(("+14155552671", HandleKind::Phone))),
        ("+15551234567", Some(("+15551234567", HandleKind::Phone))),
        (
            "User@Example.com",
            Some(("user@example.com", HandleKind::Email)),
        ),
        ("bob", Some(("bob", HandleKind::Other))),
        ("1800FLOWERS", Some(("1800FLOWERS", HandleKind::Other))),
        ("", None),
        ("+", None),
    ];
    for (input, expected) in rows {
        let got = Handle::normalize(input, &us());
        assert_eq!(
            got.as_ref().map(|h| (h.as_str(), h.kind())),
            expected,
            "input {input:?}"
        );
    }
}

#[test]
fn messaging_target_anchor_vectors() {
    let rows = [
        ("sms:+1 (555) 222-3333", Some("sms:+15552223333")),
        ("sms:chat_id:123", Some("chat_id:123")),
        ("imessage:CHAT_GUID:abc", Some("chat_guid:abc")),
        ("auto:ChatIdentifier:foo", Some("chat_identifier:foo")),
        ("   ", None),
        (
            "7d5297154d5f436d83dbbdf03fcc8fdd",
            Some("chat_identifier:7d5297154d5f436d83dbbdf03fcc8fdd"),
        ),
        (
            "7D5297154D5F436D83DBBDF03FCC8FDD",
            Some("chat_identifier:7d5297154d5f436d83dbbdf03fcc8fdd"),
        ),
    ];
    for (input, expected) in rows {
        assert_eq!(
            normalize_messaging_target(input, &us()).as_deref(),
            expected,
            "input {input:?}"
        );
    }
}

#[test]
fn messaging_target_table() {
    let inputs = [
        "sms:+1 (555) 222-3333",
        "sms:chat_id:123",
        "imessage:CHAT_GUID:abc",
        "auto:ChatIdentifier:foo",
        "   ",
        "7d5297154d5f436d83dbbdf03fcc8fdd",
        "7D5297154D5F436D83DBBDF03FCC8FDD",
        "7d5297154d5f436d83dbbdf03fcc8fd",
        "imessage:7d5297154d5f436d83dbbdf03fcc8fdd",
        "SMS:+15551234567",
        "imessage:foo",
        "imessage:",
        "bob",
        "chat:42",
        "User@Example.com",
        "(415) 555-2671",
    ];
    insta::assert_snapshot!(table(
        inputs.map(|i| (i, format!("{:?}", normalize_messaging_target(i, &us()))))
    ));
}

#[test]
fn looks_like_target_id_table() {
    let rows = [
        ("+123", true),
        ("123", true),
        ("12", false),
        ("+12", false),
        ("1-555-123", false),
        ("bob", false),
        ("", false),
        ("   ", false),
        ("chat_id:42", true),
        ("GUID:x", true),
        ("sms:bob", true),
        ("a@b", true),
        ("7d5297154d5f436d83dbbdf03fcc8fdd", true),
    ];
    for (input, expected) in rows {
        assert_eq!(looks_like_target_id(input), expected, "input {input:?}");
    }
    insta::assert_snapshot!(table(
        rows.map(|(i, _)| (i, looks_like_target_id(i).to_string()))
    ));
}

#[test]
fn explicit_target_id_and_chat_type_anchor_vectors() {
    let explicit = [
        ("chat_id:42", true),
        ("sms:+15552223333", true),
        ("+15552223333", false),
        ("user@example.com", false),
    ];
    for (input, expected) in explicit {
        assert_eq!(
            looks_like_explicit_target_id(input),
            expected,
            "input {input:?}"
        );
    }
    let chat_types = [
        ("+15552223333", Some(ChatType::Direct)),
        ("chat_id:42", Some(ChatType::Group)),
        ("chat_guid:abc", Some(ChatType::Group)),
        ("chat_id:abc", None),
        ("", None),
    ];
    for (input, expected) in chat_types {
        assert_eq!(infer_chat_type(input), expected, "input {input:?}");
    }
}

#[test]
fn format_chat_target_vectors() {
    let rows = [
        (Some(42), "chat_id:42"),
        (None, ""),
        (Some(0), ""),
        (Some(-3), "chat_id:-3"),
    ];
    for (input, expected) in rows {
        assert_eq!(format_chat_target(input), expected, "input {input:?}");
    }
}

#[test]
fn allow_from_entries_anchor_vectors() {
    assert_eq!(
        parse_allow_from_entries("+15555550123, user@example.com").unwrap(),
        ["+15555550123", "user@example.com"]
    );
    for input in ["chat_id:123", "imessage:chat_id:123", "chat_identifier:"] {
        assert_eq!(
            parse_allow_from_entries(input).unwrap_err().to_string(),
            format!("iMessage allowFrom entries must be sender handles: {input}")
        );
    }
    assert_eq!(
        parse_allow_from_entries("a@b.c,\n\n , *").unwrap(),
        ["a@b.c", "*"]
    );
}

/// Renders an allow entry parse result with its display form.
fn show_allow(input: &str) -> String {
    match AllowEntry::parse(input, &us()) {
        Ok(entry) => format!("{entry:?} displays {:?}", entry.to_string()),
        Err(err) => format!("error {:?}", err.to_string()),
    }
}

#[test]
fn allow_entry_table() {
    let inputs = [
        "*",
        " * ",
        "chat_id:9",
        "imessage:chat_id:9",
        "chat_guid:team-thread",
        "imessage:chat_guid:team-thread",
        "chat_identifier:team",
        "user@example.com",
        "User@Example.com",
        "15550001111",
        "+1 (555) 000-1111",
        "sms:+15550001111",
        "imessage:+15550001111",
        "auto:+15550001111",
        "SMS:User@Example.com",
        "bob",
        "alice",
        "1800FLOWERS",
        "",
        "  ",
        "sms:",
        "sms:*",
        "imessage:sms:+1555",
        "chat_id:12abc",
        "chat_id:abc",
        "chat_guid:",
        "chat_identifier:",
        "+",
        "()",
        "whatsapp:+1555",
    ];
    insta::assert_snapshot!(table(inputs.map(|i| (i, show_allow(i)))));
}

#[test]
fn allow_entries_decide_the_anchor_sender_vectors() {
    // 9.1: `user@example.com` admits sender `User@Example.com`.
    let entry = AllowEntry::parse("user@example.com", &us()).unwrap();
    let sender = Handle::normalize("User@Example.com", &us()).unwrap();
    assert_eq!(
        entry,
        AllowEntry::Handle {
            handle: sender,
            service: None
        }
    );
    // 9.1 and 9.8: `chat_id:9` and `imessage:chat_id:9` are chat entries, not handles.
    for input in ["chat_id:9", "imessage:chat_id:9", "chat:9"] {
        assert_eq!(
            AllowEntry::parse(input, &us()).unwrap(),
            AllowEntry::ChatId(9)
        );
    }
    // 10.2: the digit-less collapse is fixed, `bob` no longer admits `alice`.
    assert_ne!(
        AllowEntry::parse("bob", &us()).unwrap(),
        AllowEntry::parse("alice", &us()).unwrap()
    );
    // 2.5: a bare number in the list matches the E.164 sender.
    let AllowEntry::Handle { handle, .. } = AllowEntry::parse("15550001111", &us()).unwrap() else {
        panic!("a number is a handle entry");
    };
    assert_eq!(handle.as_str(), "+15550001111");
}

#[test]
fn allow_entry_services() {
    let rows = [
        ("sms:+15550001111", Some(Service::Sms)),
        ("imessage:+15550001111", Some(Service::Imessage)),
        ("auto:+15550001111", None),
        ("+15550001111", None),
    ];
    for (input, expected) in rows {
        let AllowEntry::Handle { service, .. } = AllowEntry::parse(input, &us()).unwrap() else {
            panic!("{input:?} is a handle entry");
        };
        assert_eq!(service, expected, "input {input:?}");
    }
}

#[test]
fn service_and_region_parse() {
    for (input, expected) in [
        ("imessage", Some(Service::Imessage)),
        ("SMS", Some(Service::Sms)),
        ("Auto", Some(Service::Auto)),
        ("rcs", None),
        ("", None),
    ] {
        assert_eq!(input.parse::<Service>().ok(), expected, "input {input:?}");
    }
    for service in [Service::Imessage, Service::Sms, Service::Auto] {
        assert_eq!(service.to_string().parse::<Service>().unwrap(), service);
    }
    for (input, expected) in [
        ("us", Some("US")),
        ("GB", Some("GB")),
        ("De", Some("DE")),
        ("XX", None),
        ("USA", None),
        ("U", None),
        ("", None),
        ("1A", None),
        ("ü", None),
    ] {
        assert_eq!(
            Region::new(input).ok().as_ref().map(Region::as_str),
            expected,
            "input {input:?}"
        );
    }
    assert_eq!(Region::default().as_str(), "US");
    assert_eq!(
        Region::new("XX").unwrap_err().to_string(),
        "invalid region `XX`, expected an ISO 3166-1 alpha-2 code such as `US`"
    );
}

#[test]
fn handle_target_constructor_checks_round_trip() {
    let rows = [
        ("+15551234567", Service::Sms, true),
        ("sms:+1555", Service::Auto, true),
        ("bob", Service::Imessage, true),
        ("", Service::Auto, false),
        (" +1555", Service::Auto, false),
        ("chat_id:5", Service::Sms, false),
        ("GUID:x", Service::Auto, false),
    ];
    for (to, service, ok) in rows {
        let built = Target::handle(to, service);
        assert_eq!(built.is_ok(), ok, "to {to:?}");
        if let Ok(target) = built {
            assert_eq!(target.to_string().parse::<Target>(), Ok(target));
        }
    }
}

/// An OpenClaw file may list a `tel:` URI or a DM chat guid; the anchor's phone normalization dropped
/// everything but the digits and the `+`, so these entries admitted the number. They must keep doing so.
#[test]
fn migration_forms_admit_the_number_the_anchor_admitted() {
    let number = Handle::normalize("+15551234567", &us()).unwrap();
    let plain = AllowEntry::Handle {
        handle: number.clone(),
        service: None,
    };
    let sms = AllowEntry::Handle {
        handle: number,
        service: Some(Service::Sms),
    };
    let rows = [
        ("tel:+15551234567", &plain),
        ("TEL:+1-555-123-4567", &plain),
        ("tel:+15551234567;phone-context=example.com", &plain),
        ("tel:(555) 123-4567", &plain),
        ("iMessage;-;+15551234567", &plain),
        (" imessage;-; +15551234567 ", &plain),
        ("any;-;+15551234567", &plain),
        ("SMS;-;+15551234567", &sms),
        ("RCS;-;+15551234567", &sms),
        ("sms:SMS;-;+15551234567", &sms),
        ("sms:tel:+15551234567", &sms),
    ];
    for (input, expected) in rows {
        assert_eq!(
            AllowEntry::parse(input, &us()).as_ref(),
            Ok(expected),
            "input {input:?}"
        );
    }
    // A DM guid of an email handle keeps the email.
    assert_eq!(
        AllowEntry::parse("iMessage;-;Friend@Example.com", &us())
            .unwrap()
            .to_string(),
        "friend@example.com"
    );
    // A guid that names two services, or a form with nothing after it, is an error, not a silent no-match.
    for input in ["imessage:SMS;-;+15551234567", "tel:", "tel: ;x=y", "SMS;-;"] {
        assert!(
            AllowEntry::parse(input, &us()).is_err(),
            "input {input:?}: {:?}",
            AllowEntry::parse(input, &us())
        );
    }
    // A group chat guid is not a DM guid and stays an opaque handle, as before.
    assert_eq!(
        AllowEntry::parse("iMessage;+;chat123", &us())
            .unwrap()
            .to_string(),
        "iMessage;+;chat123"
    );
}

#[test]
fn a_phone_number_inside_an_opaque_handle_is_found() {
    let found =
        |raw: &str| Handle::normalize(raw, &us()).and_then(|handle| handle.embedded_phone(&us()));
    assert_eq!(
        found("whatsapp:+15551234567").as_deref(),
        Some("+15551234567")
    );
    assert_eq!(found("Mom (415) 555-2671").as_deref(), Some("+14155552671"));
    assert_eq!(
        found("phone:+44 20 7946 0958").as_deref(),
        Some("+442079460958")
    );
    // Not a full number: short codes, local numbers, long identifiers, no digits.
    for raw in [
        "bob",
        "1800FLOWERS",
        "short 72975",
        "local 555-1234",
        "chat123456789012345678",
        "iMessage;+;chat123",
    ] {
        assert_eq!(found(raw), None, "{raw:?}");
    }
    // A phone or an email handle is what it says; nothing to point out.
    assert_eq!(found("+15551234567"), None);
    assert_eq!(found("a15551234567@example.com"), None);
}
