//! Integration tests of the loader over the example configurations in `tests/data`.

use std::path::Path;

use imsg_config::{LoadOptions, from_str};
use proptest::prelude::*;

/// Loads one example with a fixed home directory, so `~` expansion is deterministic.
fn load(path: &Path) -> Result<imsg_config::ResolvedConfig, imsg_config::ConfigError> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.json5");
    from_str(&text, &LoadOptions::new(name).with_home("/home/me"))
}

#[test]
fn valid_examples_resolve() {
    insta::glob!("..", "data/ok/*.json5", |path| {
        match load(path) {
            Ok(config) => insta::assert_json_snapshot!(config.to_json()),
            Err(err) => panic!("{} should load: {err}", path.display()),
        }
    });
}

#[test]
fn broken_examples_fail_with_one_line() {
    insta::glob!("..", "data/err/*.json5", |path| {
        match load(path) {
            Ok(config) => panic!("{} should fail, got {:#}", path.display(), config.to_json()),
            Err(err) => {
                let line = err.to_string();
                assert!(
                    !line.chars().any(char::is_control),
                    "error must be one line: {line:?}"
                );
                insta::assert_snapshot!(line);
            }
        }
    });
}

#[test]
fn the_json_schema_is_stable() {
    insta::assert_json_snapshot!(imsg_config::json_schema());
}

#[test]
fn load_file_reports_a_missing_file() {
    let err = imsg_config::load_file(Path::new("/nonexistent/imsg/config.json5")).unwrap_err();
    assert!(
        matches!(err.kind(), imsg_config::ConfigErrorKind::Io(_)),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("/nonexistent/imsg/config.json5: cannot read the file: ")
    );
}

#[test]
fn load_file_reads_a_real_file() {
    let dir = std::env::temp_dir().join(format!("imsg-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json5");
    std::fs::write(
        &path,
        "{ channels: { imessage: { cliPath: '/usr/bin/imsg' } } }",
    )
    .unwrap();
    let config = imsg_config::load_file(&path).unwrap();
    assert_eq!(
        config.accounts[0].process.cli_path,
        imsg_config::Executable::Path("/usr/bin/imsg".into())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_carry_path_and_position() {
    let text = "{\n  channels: {\n    imessage: {\n      accounts: { bot: { dmPolicy: 'pairng' } },\n    },\n  },\n}";
    let err = from_str(text, &LoadOptions::new("c.json5")).unwrap_err();
    assert_eq!(err.path(), "channels.imessage.accounts.bot.dmPolicy");
    let position = err.position().unwrap();
    assert_eq!((position.line, position.column), (4, 36));
}

#[test]
fn accounts_are_found_case_insensitively() {
    let text =
        "{ channels: { imessage: { accounts: { Work: { cliPath: '/w/imsg' }, home: {} } } } }";
    let config = from_str(text, &LoadOptions::new("c.json5")).unwrap();
    let ids: Vec<&str> = config.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["home", "work"]);
    assert_eq!(
        config
            .account("WORK")
            .map(|a| a.process.cli_path.to_string()),
        Some("/w/imsg".to_owned())
    );
    assert_eq!(
        config.account("Work").and_then(|a| a.key.as_deref()),
        Some("Work")
    );
    // No `default` account and no defaultAccount: the first id.
    assert_eq!(config.default_account.as_deref(), Some("home"));
}

#[test]
fn a_missing_section_yields_no_accounts_and_a_warning() {
    let config = from_str(
        "{ channels: { telegram: {} } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap();
    assert!(config.accounts.is_empty());
    assert_eq!(config.default_account, None);
    assert_eq!(config.warnings.len(), 1);
}

#[test]
fn a_misspelled_section_is_named_in_the_missing_section_warning() {
    // A section under a near-miss key is ignored like any other channel, so the gateway starts
    // with no accounts; the warning must point at the key the user wrote, not leave them guessing.
    let cases = [
        (
            "{ channels: { imesage: { dmPolicy: 'open', allowFrom: ['*'] } } }",
            "channels.imesage",
        ),
        ("{ channels: { iMessage: {} } }", "channels.iMessage"),
        ("{ channels: { imsg: {} } }", "channels.imsg"),
        ("{ iMesage: {} }", "iMesage"),
    ];
    for (text, written) in cases {
        let config = from_str(text, &LoadOptions::new("c.json5")).unwrap();
        assert!(config.accounts.is_empty(), "{text}");
        let [warning] = config.warnings.as_slice() else {
            panic!("one warning expected for {text}: {:?}", config.warnings);
        };
        assert_eq!(warning.path, written, "{text}");
        assert!(
            warning.message.contains(&format!("`{written}`")),
            "{text}: {}",
            warning.message
        );
    }
    // An unrelated channel is not a near miss.
    let config = from_str(
        "{ channels: { telegram: {} } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap();
    assert_eq!(config.warnings[0].path, "channels.imessage");
    assert!(!config.warnings[0].message.contains("did you mean"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    let cases = [
        format!("{{ a: {}{} }}", "[".repeat(deep), "]".repeat(deep)),
        format!("{}1{}", "{a:".repeat(deep), "}".repeat(deep)),
        // Valid JSON5 with comments, escapes and odd keys before the deep part.
        format!(
            "{{ /* c */ 'k\\'': \"v\\\"\", // x\n \\u0061b: +.5, z: [{}] }}",
            "[".repeat(deep)
        ),
    ];
    for text in cases {
        let err = from_str(&text, &LoadOptions::new("deep.json5")).unwrap_err();
        assert!(err.to_string().contains("nest deeper than"), "{}", err);
    }
}

/// Loads a text that must fail and returns the error.
fn load_err(text: &str) -> imsg_config::ConfigError {
    match from_str(text, &LoadOptions::new("c.json5")) {
        Ok(config) => panic!("{text} should fail, got {:#}", config.to_json()),
        Err(err) => err,
    }
}

/// Loads a text that must succeed and returns the policy JSON of its first account.
fn first_policy(text: &str) -> serde_json::Value {
    match from_str(text, &LoadOptions::new("c.json5")) {
        Ok(config) => config.to_json()["accounts"][0]["policy"].clone(),
        Err(err) => panic!("{text} should load: {err}"),
    }
}

#[test]
fn errors_never_carry_raw_control_characters() {
    // A carriage return or an escape sequence echoed from a value (or a key) would let a config file rewrite
    // the terminal line the error is printed on.
    let texts = [
        r"{ channels: { imessage: { cliPath: 'imsg\rrm -rf' } } }",
        r"{ channels: { imessage: { cliPath: 'imsg\u001b[2J' } } }",
        r"{ channels: { imessage: { remoteHost: 'a\u2028b' } } }",
        r"{ channels: { imessage: { 'a\rb': 1 } } }",
        r"{ channels: { imessage: { allowFrom: ['sms:\u0085'] } } }",
    ];
    for text in texts {
        let line = load_err(text).to_string();
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
            "error must be one plain line: {line:?}"
        );
    }
}

#[test]
fn a_plus_signed_number_in_allow_from_keeps_its_plus() {
    // JSON5 numbers may carry a `+`. `+4930123456` is a Berlin number; reading it as the digits `4930123456`
    // in region US would admit `+14930123456`, somebody else.
    let policy = first_policy(
        "{ channels: { imessage: { dmPolicy: 'allowlist', allowFrom: [+4930123456, 15550001111], \
         groupAllowFrom: [ /* c */ +447911123456 ], groups: { '1': { allowFrom: [+4930123456] } } } } }",
    );
    assert_eq!(
        policy["allowFrom"],
        serde_json::json!(["+4930123456", "+15550001111"])
    );
    assert_eq!(
        policy["groupAllowFrom"],
        serde_json::json!(["+447911123456"])
    );
    assert_eq!(
        policy["groups"]["1"]["allowFrom"],
        serde_json::json!(["+4930123456"])
    );
    // The same through the legacy section.
    let policy = first_policy("{ imessage: { allowFrom: [+4930123456] } }");
    assert_eq!(policy["allowFrom"], serde_json::json!(["+4930123456"]));
}

#[test]
fn the_legacy_section_cannot_widen_a_groups_allowlist() {
    // `channels.imessage.groups` is an allowlist of chats: a legacy `imessage.groups` must neither add chats
    // to it nor add an `allowFrom` to one of its groups.
    let policy = first_policy(
        "{ channels: { imessage: { groups: { '1': { requireMention: true } }, \
         accounts: { work: { groups: { '7': {} } } } } }, \
         imessage: { groups: { '1': { allowFrom: ['*'] }, '2': {} }, dmPolicy: 'disabled', \
         accounts: { work: { groups: { '8': {} }, groupAllowFrom: ['+15550001111'] } } } }",
    );
    assert_eq!(
        policy["groups"],
        serde_json::json!({ "7": {} }),
        "the account's own groups map, untouched"
    );
    // Keys that only the legacy section has are still migrated, at every level.
    assert_eq!(policy["dmPolicy"], "disabled");
    assert_eq!(
        policy["groupAllowFrom"],
        serde_json::json!(["+15550001111"])
    );
    let config = from_str(
        "{ channels: { imessage: { groups: { '1': { requireMention: true } } } }, \
         imessage: { groups: { '1': { allowFrom: ['*'] }, '2': {} } } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap();
    assert_eq!(
        config.to_json()["accounts"][0]["policy"]["groups"],
        serde_json::json!({ "1": { "requireMention": true } })
    );
}

#[test]
fn legacy_accounts_are_matched_case_insensitively() {
    // `accounts.Work` under channels.imessage and `accounts.work` in the legacy section are one account: the
    // legacy one fills in what the current one lacks, and the current key wins.
    let config = from_str(
        "{ channels: { imessage: { accounts: { Work: { dmPolicy: 'allowlist', allowFrom: ['+15550001111'] } } } }, \
         imessage: { accounts: { work: { dmPolicy: 'open', allowFrom: ['*'], cliPath: '/old/imsg' } } } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap_or_else(|err| panic!("should load: {err}"));
    assert_eq!(config.accounts.len(), 1);
    let work = config.to_json()["accounts"][0].clone();
    assert_eq!(work["key"], "Work");
    assert_eq!(work["policy"]["dmPolicy"], "allowlist");
    assert_eq!(
        work["policy"]["allowFrom"],
        serde_json::json!(["+15550001111"])
    );
    assert_eq!(work["process"]["cliPath"], "/old/imsg");
    // Two legacy keys with one id are still the duplicate-id error, not folded into the current account.
    let err = load_err(
        "{ channels: { imessage: { accounts: { WORK: {} } } }, \
         imessage: { accounts: { Work: { allowFrom: ['+15550001111'] }, work: { groupAllowFrom: ['*'] } } } }",
    );
    assert!(
        matches!(
            err.kind(),
            imsg_config::ConfigErrorKind::DuplicateAccountId { .. }
        ),
        "{err}"
    );
}

#[test]
fn a_duplicate_channels_key_cannot_replace_the_section() {
    // JSON5 keeps the last of two equal keys, so a second `channels` object silently replaces the whole
    // iMessage section written in the first one.
    let err = load_err(
        "{ channels: { imessage: { dmPolicy: 'allowlist', allowFrom: ['+15550001111'] } },\n  \
         channels: { imessage: { dmPolicy: 'open', allowFrom: ['*'] } } }",
    );
    assert_eq!(err.path(), "channels", "{err}");
    assert!(
        matches!(err.kind(), imsg_config::ConfigErrorKind::DuplicateKey(_)),
        "{err}"
    );
    assert_eq!(err.position().map(|p| p.line), Some(2), "{err}");
}

#[test]
fn db_path_follows_the_safe_path_rule() {
    // imsg gets `--db <dbPath>`; behind the usual `exec ssh host imsg "$@"` wrapper the remote shell re-reads
    // it, so shell metacharacters, quotes, line breaks and a leading `-` are injection, not a path.
    for db in [
        "/x/chat.db; rm -rf ~",
        "$(id)",
        "/x/chat.db\nboom",
        "--help",
        "/x/'chat'.db",
    ] {
        let text = format!(
            "{{ channels: {{ imessage: {{ accounts: {{ w: {{ dbPath: {} }} }} }} }} }}",
            serde_json::Value::String(db.to_owned())
        );
        let err = load_err(&text);
        assert_eq!(err.path(), "channels.imessage.accounts.w.dbPath", "{err}");
    }
    let policy = from_str(
        "{ channels: { imessage: { dbPath: '~/Library/Messages/chat.db' } } }",
        &LoadOptions::new("c.json5").with_home("/Users/bot"),
    )
    .unwrap_or_else(|err| panic!("should load: {err}"));
    assert_eq!(
        policy.accounts[0].process.db_path.as_deref(),
        Some(Path::new("/Users/bot/Library/Messages/chat.db"))
    );
}

#[test]
fn a_mention_pattern_that_matches_every_message_is_an_error() {
    // Like a blank pattern, a pattern that matches the empty text makes every group message a mention.
    for pattern in ["@clawd|", "x*", "^", "(?:)"] {
        let text = format!(
            "{{ channels: {{ imessage: {{}} }}, messages: {{ groupChat: {{ mentionPatterns: ['@bot', '{pattern}'] }} }} }}"
        );
        let err = load_err(&text);
        assert_eq!(err.path(), "messages.groupChat.mentionPatterns.1", "{err}");
    }
    // A word boundary alone does not match the empty text, so `\b@?clawd\b` stays valid.
    first_policy(
        r"{ channels: { imessage: {} }, messages: { groupChat: { mentionPatterns: ['\bclawd\b'] } } }",
    );
}

/// JSON5-ish fragments, so random texts often get past the syntax check and exercise the later stages.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("channels".to_owned()),
        Just("imessage".to_owned()),
        Just("accounts".to_owned()),
        Just("allowFrom".to_owned()),
        Just("dmPolicy".to_owned()),
        Just("'open'".to_owned()),
        Just("'*'".to_owned()),
        Just("cliPath".to_owned()),
        Just("attachmentRoots".to_owned()),
        Just("messages".to_owned()),
        Just("groupChat".to_owned()),
        Just("mentionPatterns".to_owned()),
        Just("'('".to_owned()),
        Just("// c\n".to_owned()),
        Just("/*".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1e999".to_owned()),
        Just("Infinity".to_owned()),
        Just("null".to_owned()),
        "[a-zA-Z0-9 ]{0,4}",
        any::<char>().prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn no_text_makes_loading_panic(text in any::<String>()) {
        let _ = from_str(&text, &LoadOptions::new("fuzz"));
    }

    #[test]
    fn no_json5_like_text_makes_loading_panic(parts in proptest::collection::vec(fragment(), 0..60)) {
        let text = parts.concat();
        if let Err(err) = from_str(&text, &LoadOptions::new("fuzz").with_home("/h")) {
            let line = err.to_string();
            let broken = line.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'));
            prop_assert!(!broken, "error must be one plain line: {:?}", line);
        }
    }

    #[test]
    fn a_valid_section_with_random_values_never_panics(
        cli in ".{0,12}",
        host in ".{0,12}",
        root in ".{0,12}",
        entry in ".{0,12}",
        pattern in ".{0,8}",
    ) {
        let section = serde_json::json!({
            "channels": { "imessage": {
                "cliPath": cli, "remoteHost": host, "attachmentRoots": [root], "allowFrom": [entry],
                "accounts": { entry.clone(): { "dmPolicy": "open" } },
            } },
            "messages": { "groupChat": { "mentionPatterns": [pattern] } },
        });
        let _ = from_str(&section.to_string(), &LoadOptions::new("fuzz"));
    }
}

#[test]
fn migrated_allow_forms_admit_the_number_the_anchor_admitted() {
    // The anchor kept only the digits and `+` of such entries, so each admitted the number inside. They
    // loaded here without a word and admitted nobody.
    let config = from_str(
        "{ channels: { imessage: { dmPolicy: 'allowlist', allowFrom: ['tel:+15551234567', \
         'iMessage;-;+15552223333', 'SMS;-;+15553334444'], \
         accounts: { work: { groupAllowFrom: ['tel:+1 (555) 444-5555;ext=1'] } } } } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap_or_else(|err| panic!("should load: {err}"));
    let work = config.account("work").unwrap().to_json();
    assert_eq!(
        work["policy"]["allowFrom"],
        serde_json::json!(["+15551234567", "+15552223333", "sms:+15553334444"])
    );
    assert_eq!(
        work["policy"]["groupAllowFrom"],
        serde_json::json!(["+15554445555"])
    );
    assert!(
        config
            .warnings
            .iter()
            .all(|w| !w.message.contains("allow entry"))
    );
}

#[test]
fn an_opaque_entry_with_a_phone_number_is_warned_about_with_path_and_position() {
    let text = "{\n  channels: {\n    imessage: {\n      allowFrom: ['+15550001111',\n        'whatsapp:+15551234567'],\n      accounts: { a: { dbPath: '/a' }, b: { dbPath: '/b', groups: { '7': { allowFrom: ['Mom (415) 555-2671'] } } } },\n    },\n  },\n}";
    let config = from_str(text, &LoadOptions::new("c.json5")).unwrap();
    let found: Vec<(String, Option<(usize, usize)>)> = config
        .warnings
        .iter()
        .filter(|w| w.message.starts_with("allow entry"))
        .map(|w| (w.path.clone(), w.position.map(|p| (p.line, p.column))))
        .collect();
    // Once per place it is written, although two accounts inherit the section's list.
    assert_eq!(
        found,
        [
            ("channels.imessage.allowFrom.1".to_owned(), Some((5, 9))),
            (
                "channels.imessage.accounts.b.groups.7.allowFrom.0".to_owned(),
                Some((6, 88))
            ),
        ]
    );
    let line = config
        .warnings
        .iter()
        .find(|w| w.path == "channels.imessage.allowFrom.1")
        .map(ToString::to_string)
        .unwrap();
    assert_eq!(
        line,
        "channels.imessage.allowFrom.1: allow entry `whatsapp:+15551234567` is not a phone number, \
         email or chat target, so it admits only a sender with exactly that handle; write \
         `+15551234567` to admit that phone number at line 5 column 9"
    );
}

#[test]
fn every_warning_carries_the_position_of_its_key() {
    let text = "{\n  imessage: { groupPolicy: 'open' },\n  routing: { groupChat: { requireMention: true } },\n}";
    let config = from_str(text, &LoadOptions::new("c.json5")).unwrap();
    assert!(!config.warnings.is_empty());
    for warning in &config.warnings {
        assert!(warning.position.is_some(), "{warning}");
        let position = warning.position.unwrap();
        assert!(
            warning.to_string().ends_with(&format!(" at {position}")),
            "{warning}"
        );
    }
}

#[test]
fn the_public_defaults_are_what_an_empty_account_gets() {
    let config = from_str(
        "{ channels: { imessage: {} } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap();
    let account = &config.accounts[0];
    assert_eq!(account.limits, imsg_config::ChannelLimits::default());
    assert_eq!(account.process, imsg_config::ProcessSettings::default());
    assert_eq!(account.catchup, imsg_config::CatchupSettings::default());
    let limits = imsg_config::ChannelLimits::default();
    assert_eq!(
        (
            limits.text_chunk_limit,
            limits.media_max_mb,
            limits.history_limit
        ),
        (4000, 16, 50)
    );
    assert_eq!(limits.media_max_bytes(), 16 * 1024 * 1024);
    assert_eq!(
        account.process.cli_path,
        imsg_config::Executable::Command("imsg".to_owned())
    );
    assert_eq!(
        account.process.probe_timeout,
        std::time::Duration::from_secs(10)
    );
    let catchup = imsg_config::CatchupSettings::default();
    assert!(!catchup.enabled);
    assert_eq!(catchup.max_age, std::time::Duration::from_secs(120 * 60));
    assert_eq!(
        (catchup.per_run_limit, catchup.max_failure_retries),
        (50, 10)
    );
    assert_eq!(
        catchup.first_run_lookback,
        std::time::Duration::from_secs(30 * 60)
    );
}

#[test]
fn cli_path_and_db_path_are_resolved_once_at_load() {
    let load = |cli: &str| {
        let text =
            format!("{{ channels: {{ imessage: {{ cliPath: '{cli}', dbPath: '~/chat.db' }} }} }}");
        from_str(&text, &LoadOptions::new("c.json5").with_home("/Users/bot/"))
            .unwrap_or_else(|err| panic!("{cli}: {err}"))
            .accounts
            .remove(0)
            .process
    };
    let process = load("~/bin/imsg");
    assert_eq!(
        process.cli_path,
        imsg_config::Executable::Path("/Users/bot/bin/imsg".into())
    );
    assert_eq!(
        process.db_path.as_deref(),
        Some(Path::new("/Users/bot/chat.db"))
    );
    // A bare name stays a name for PATH; a path with a space stays one path.
    assert_eq!(
        load(" imsg ").cli_path,
        imsg_config::Executable::Command("imsg".to_owned())
    );
    assert!(load("imsg").cli_path.is_command());
    assert_eq!(
        load("/Applications/Imsg Tools/imsg").cli_path.as_path(),
        Path::new("/Applications/Imsg Tools/imsg")
    );
    // `~user` is not expanded (only the loader's own home is known).
    assert_eq!(
        load("~other/imsg").cli_path,
        imsg_config::Executable::Path("~other/imsg".into())
    );
}

#[test]
fn error_causes_stay_typed() {
    use std::error::Error as _;
    let err = imsg_config::load_file(Path::new("/nonexistent/imsg/config.json5")).unwrap_err();
    let io = err
        .kind()
        .source()
        .and_then(|s| s.downcast_ref::<std::sync::Arc<std::io::Error>>());
    assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
    let cases = [
        "{ channels: { imessage: { allowFrom: ['sms:'] } } }",
        "{ channels: { imessage: { defaultTo: 'chat_id:x' } } }",
        "{ channels: { imessage: { region: 'XX' } } }",
    ];
    let [entry, target, region] = cases.map(load_err);
    assert!(matches!(
        entry
            .kind()
            .source()
            .and_then(|s| s.downcast_ref::<imsg_target::ParseAllowEntryError>()),
        Some(imsg_target::ParseAllowEntryError::MissingHandle { .. })
    ));
    assert!(matches!(
        target
            .kind()
            .source()
            .and_then(|s| s.downcast_ref::<imsg_target::ParseTargetError>()),
        Some(imsg_target::ParseTargetError::Chat(
            imsg_target::ChatPrefixError::InvalidChatId { .. }
        ))
    ));
    assert!(
        region
            .kind()
            .source()
            .and_then(|s| s.downcast_ref::<imsg_target::InvalidRegionError>())
            .is_some()
    );
    // The error itself has no source, so a printed chain shows the one line once.
    assert!(entry.source().is_none());
}

#[test]
fn account_ids_typed_on_a_command_line_find_their_account() {
    let config = from_str(
        "{ channels: { imessage: { accounts: { 'Ops Bot': { dbPath: '/o' }, home: {} } } } }",
        &LoadOptions::new("c.json5"),
    )
    .unwrap();
    assert_eq!(imsg_config::normalize_account_id("Ops Bot"), "ops-bot");
    for typed in ["ops-bot", "OPS-BOT", " Ops Bot "] {
        assert_eq!(
            config.account(typed).and_then(|a| a.key.as_deref()),
            Some("Ops Bot"),
            "{typed}"
        );
    }
    assert!(imsg_config::is_safe_executable("/usr/local/bin/imsg"));
    assert!(!imsg_config::is_safe_executable("imsg --db"));
}
