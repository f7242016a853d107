//! Every read command and its `--json` shape.

use crate::fixture::{World, config_for, run_bin};

const POLICY: &str = r#"      dmPolicy: "pairing",
      allowFrom: ["+15555550123"],
      groupPolicy: "allowlist",
      groupAllowFrom: ["+15555550123"],
      groups: { "*": { requireMention: true } },"#;

fn world_with_policy() -> World {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&format!(
        "{{\n  messages: {{ groupChat: {{ mentionPatterns: [\"@bot\\\\b\"] }} }},\n{}",
        config_for(&imsg, &db, POLICY).trim_start_matches('{')
    ));
    w
}

#[test]
fn version_and_help() {
    let out = run_bin(&["--version".into()], &[]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("imsg-gateway "), "{}", out.stdout);
    let out = run_bin(&["--help".into()], &[]);
    assert_eq!(out.code, 0);
    for command in [
        "run",
        "demo",
        "pairing",
        "channels",
        "message",
        "config",
        "policy",
        "doctor",
        "service",
        "completions",
    ] {
        assert!(out.stdout.contains(command), "help lacks {command}");
    }
    assert!(
        out.stdout.contains("[env: IMSG_GATEWAY_CONFIG="),
        "{}",
        out.stdout
    );
}

#[test]
fn config_check_lists_warnings_with_their_line() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(&imsg, &db, "      groupPolicy: \"open\","));
    let out = w.run(&["config", "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("ok: "), "{}", out.stdout);
    let warning = out
        .stdout
        .lines()
        .find(|l| l.starts_with("warning: ") && l.contains("groupPolicy is open"))
        .unwrap_or_else(|| panic!("no groupPolicy warning in {}", out.stdout));
    // The warning names the section it is about; its line is where that key is written.
    assert!(
        warning.contains("config.json5 line 3: channels.imessage: "),
        "{warning}"
    );

    let json = w.run(&["config", "check", "--json"]).json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["accounts"][0]["id"], "default");
    let warnings = json["warnings"].as_array().unwrap();
    let open = warnings
        .iter()
        .find(|w| {
            w["message"]
                .as_str()
                .unwrap()
                .contains("groupPolicy is open")
        })
        .unwrap();
    assert_eq!(open["path"], "channels.imessage");
    assert_eq!(open["line"], 3);
}

#[test]
fn config_show_prints_the_resolved_account() {
    let w = world_with_policy();
    let out = w.run(&["config", "show", "--account", "default", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["account"]["id"], "default");
    assert_eq!(json["account"]["policy"]["dmPolicy"], "pairing");
    assert_eq!(json["account"]["policy"]["allowFrom"][0], "+15555550123");
    let all = w.run(&["config", "show", "--json"]).json();
    assert_eq!(all["defaultAccount"], "default");
    assert!(
        all["configPath"]
            .as_str()
            .unwrap()
            .ends_with("config.json5")
    );
    let unknown = w.run(&["config", "show", "--account", "nope", "--json"]);
    assert_eq!(unknown.code, 78);
    assert!(
        unknown.stderr.contains("no iMessage account `nope`"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn config_schema_is_a_json_schema() {
    let out = run_bin(&["config".into(), "schema".into()], &[]);
    assert_eq!(out.code, 0);
    let json = out.json();
    assert!(
        json.get("$schema").is_some() || json.get("properties").is_some(),
        "{json}"
    );
}

#[test]
fn policy_explain_gives_decision_reason_and_chain() {
    let w = world_with_policy();
    let stranger = w.run(&["policy", "explain", "--from", "+15550009999", "--json"]);
    assert_eq!(stranger.code, 0, "{}", stranger.stderr);
    let json = stranger.json();
    assert_eq!(json["decision"], "pair");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("pairing request will be created")
    );
    assert!(json["steps"].as_array().unwrap().len() >= 2);
    assert_eq!(json["message"]["from"], "+15550009999");

    let friend = w
        .run(&["policy", "explain", "--from", "(555) 555-0123", "--json"])
        .json();
    assert_eq!(friend["decision"], "dispatch", "{friend}");
    assert!(friend["reason"].as_str().unwrap().contains("sender entry"));

    let quiet = w
        .run(&[
            "policy",
            "explain",
            "--from",
            "+15555550123",
            "--chat-id",
            "7",
            "--group",
            "--text",
            "lunch?",
            "--json",
        ])
        .json();
    assert_eq!(quiet["decision"], "drop");
    assert_eq!(quiet["reason"], "no mention");
    let steps = quiet["steps"].as_array().unwrap();
    let last = steps.last().unwrap();
    assert_eq!(last["check"], "mention");
    assert_eq!(last["passed"], false);

    let human = w.run(&[
        "policy",
        "explain",
        "--from",
        "+15555550123",
        "--chat-id",
        "7",
        "--group",
        "--text",
        "@bot lunch?",
    ]);
    assert_eq!(human.code, 0);
    assert!(
        human.stdout.contains("decision: dispatch"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("checks:"));
}

#[test]
fn policy_explain_rejects_two_chat_facts() {
    let w = world_with_policy();
    let out = w.run(&[
        "policy",
        "explain",
        "--from",
        "+1",
        "--chat-id",
        "1",
        "--chat-guid",
        "x",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn message_send_dry_run_shows_target_service_region_and_chunks() {
    let w = world_with_policy();
    let long = "word ".repeat(1000);
    let out = w.run(&[
        "message",
        "send",
        "--to",
        "+1 (555) 555-0123",
        "--service",
        "sms",
        "--dry-run",
        "--json",
        long.trim(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["dryRun"], true);
    assert_eq!(json["target"]["kind"], "handle");
    assert_eq!(json["service"], "sms");
    assert_eq!(json["region"], "US");
    assert_eq!(json["allowed"], true, "{json}");
    let chunks = json["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 2);
    assert!(
        chunks
            .iter()
            .all(|c| c.as_str().unwrap().chars().count() <= 4000)
    );

    let refused = w.run(&[
        "message",
        "send",
        "--to",
        "+15550009999",
        "--dry-run",
        "--json",
        "hi",
    ]);
    assert_eq!(refused.code, 1);
    let json = refused.json();
    assert_eq!(json["allowed"], false);
    assert!(
        json["refusal"].as_str().unwrap().contains("allowFrom"),
        "{json}"
    );

    let chat = w
        .run(&[
            "message",
            "send",
            "--to",
            "chat_id:42",
            "--dry-run",
            "--json",
            "hi",
        ])
        .json();
    assert_eq!(chat["target"]["kind"], "chat_id");
    assert_eq!(chat["target"]["value"], "42");

    let bad = w.run(&["message", "send", "--to", "chat_id:abc", "--dry-run", "hi"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .starts_with("error: --to `chat_id:abc`: Invalid chat_id"),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("\nhint: "));
}

#[test]
fn service_files_for_launchd_and_systemd() {
    let w = world_with_policy();
    let plist = w.run(&["service", "print", "launchd"]);
    assert_eq!(plist.code, 0);
    assert!(plist.stdout.contains("<key>Label</key>"));
    assert!(plist.stdout.contains("LaunchAgent"));
    assert!(plist.stdout.contains("<string>Aqua</string>"));
    assert!(
        plist
            .stdout
            .contains(&format!("<string>{}</string>", w.config().display()))
    );
    assert!(plist.stdout.contains("<string>run</string>"));
    let unit = w.run(&["service", "print", "systemd"]);
    assert_eq!(unit.code, 0);
    assert!(unit.stdout.contains("RestartPreventExitStatus=78"));
    assert!(unit.stdout.contains("KillMode=mixed"));
    assert!(unit.stdout.contains("ExecStart="));
    assert!(
        unit.stdout
            .contains(&format!("--config {}", w.config().display()))
    );
}

#[test]
fn completions_for_three_shells() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef imsg-gateway"),
        ("fish", "complete -c imsg-gateway"),
    ] {
        let out = run_bin(&["completions".into(), shell.into()], &[]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(
            out.stdout.contains(marker),
            "{shell} completions lack `{marker}`"
        );
        assert!(out.stdout.contains("pairing"));
    }
}

#[test]
fn channels_status_reads_the_published_status() {
    let w = world_with_policy();
    let out = w.run(&["channels", "status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["gatewayRunning"], false);
    assert_eq!(json["accounts"][0]["live"]["state"], "not running");
    let human = w.run(&["channels", "status"]);
    assert!(
        human.stdout.contains("gateway: not running"),
        "{}",
        human.stdout
    );

    // A status file of a live process (this test) reads as running ...
    let status_dir = w.state().join("status");
    std::fs::create_dir_all(&status_dir).unwrap();
    let mut published = serde_json::json!({
        "version": 1, "pid": std::process::id(), "accountId": "default", "enabled": true,
        "configured": true, "state": "running", "lastError": null, "restarts": 2,
        "lastInboundAt": 1, "lastOutboundAt": null, "lastStartAt": 1, "updatedAt": 1,
    });
    std::fs::write(status_dir.join("default.json"), published.to_string()).unwrap();
    let json = w.run(&["channels", "status", "--json"]).json();
    assert_eq!(json["gatewayRunning"], true);
    assert_eq!(json["accounts"][0]["live"]["state"], "running");
    assert_eq!(json["accounts"][0]["live"]["restarts"], 2);

    // ... and one whose pid is gone as not running.
    published["pid"] = serde_json::json!(99_999_999);
    std::fs::write(status_dir.join("default.json"), published.to_string()).unwrap();
    let json = w.run(&["channels", "status", "--json"]).json();
    assert_eq!(json["gatewayRunning"], false);
    assert_eq!(json["accounts"][0]["live"]["state"], "not running");
    assert!(
        json["accounts"][0]["live"]["lastError"]
            .as_str()
            .unwrap()
            .contains("gone")
    );
}

#[test]
fn channels_status_probe_uses_the_simulator() {
    let w = world_with_policy();
    let out = w.run(&["channels", "status", "--probe", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let probe = &out.json()["accounts"][0]["probe"];
    assert_eq!(probe["ok"], true, "{probe}");
    assert_eq!(probe["version"], "0.9.0");
}

#[test]
fn doctor_passes_on_a_working_installation() {
    let w = world_with_policy();
    let out = w.run(&["doctor", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let json = out.json();
    assert_eq!(json["ok"], true);
    let names: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let order = [
        "config",
        "default: cliPath",
        "default: rpc",
        "default: version",
        "default: full disk access",
        "default: round trip",
        "accounts",
        "gateway",
        "state dir",
    ];
    let mut at = 0;
    for name in order {
        let found = names[at..]
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("{name} missing or out of order in {names:?}"));
        at += found + 1;
    }
    let human = w.run(&["doctor"]);
    assert!(
        human
            .stdout
            .lines()
            .all(|l| l.starts_with("ok ") || l.starts_with("warn") || l.starts_with("     fix:")),
        "{}",
        human.stdout
    );
}

#[test]
fn an_openclaw_file_is_read_as_it_is() {
    let w = World::new();
    let (imsg, db) = w.sim();
    let path = w.path("openclaw.json");
    std::fs::write(
        &path,
        format!(
            r#"// OpenClaw keeps JSON5 in a .json file, with many sections this gateway does not read.
{{
  gateway: {{ port: 18789, auth: {{ token: "abc" }} }},
  agents: {{ defaults: {{ model: "anthropic/claude" }}, list: [{{ id: "main" }}] }},
  channels: {{
    telegram: {{ enabled: false, botToken: "123:abc" }},
    imessage: {{ cliPath: {cli}, dbPath: {db}, dmPolicy: "pairing", allowFrom: ["+15555550123"] }},
  }},
  session: {{ dmScope: "per-peer" }},
}}
"#,
            cli = serde_json::Value::String(imsg.display().to_string()),
            db = serde_json::Value::String(db.display().to_string()),
        ),
    )
    .unwrap();
    let args = |rest: &[&str]| -> Vec<String> {
        let mut v = vec!["--config".to_owned(), path.display().to_string()];
        v.extend(rest.iter().map(|s| (*s).to_owned()));
        v
    };
    let out = run_bin(&args(&["config", "check", "--json"]), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["accounts"][0]["id"], "default");
    let shown = run_bin(&args(&["config", "show", "--json"]), &[]).json();
    assert_eq!(shown["accounts"][0]["dmScope"], "per-peer");
    assert!(
        !shown.to_string().contains("123:abc"),
        "other channels' secrets never appear"
    );
}
