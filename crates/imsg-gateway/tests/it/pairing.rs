//! `pairing list|approve` and `policy explain` over OpenClaw-shaped pairing files, read as they are.

use crate::fixture::{World, config_for};

/// An ISO-8601 time `minutes` ago.
fn ago(minutes: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes)).to_string()
}

/// Writes OpenClaw's two files for the default account: one request and one approval.
fn openclaw_state(w: &World, created_minutes_ago: i64) {
    let creds = w.state().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(
        creds.join("imessage-pairing.json"),
        format!(
            r#"{{
  "version": 1,
  "requests": [
    {{
      "id": "+15555550101",
      "code": "ABCD2345",
      "createdAt": "{created}",
      "lastSeenAt": "{seen}",
      "meta": {{ "sender": "+15555550101", "chatId": "7" }}
    }}
  ],
  "note": "kept by OpenClaw"
}}
"#,
            created = ago(created_minutes_ago),
            seen = ago(1),
        ),
    )
    .unwrap();
    std::fs::write(
        creds.join("imessage-allowFrom.json"),
        "{\n  \"version\": 1,\n  \"allowFrom\": [\"+15555550199\"]\n}\n",
    )
    .unwrap();
}

fn world() -> World {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&config_for(&imsg, &db, "      dmPolicy: \"pairing\","));
    w
}

#[test]
fn list_reads_openclaw_files_as_they_are() {
    let w = world();
    openclaw_state(&w, 5);
    let out = w.run(&["pairing", "list", "imessage", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["channel"], "imessage");
    assert_eq!(json["account"], "default");
    let requests = json["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["id"], "+15555550101");
    assert_eq!(requests[0]["code"], "ABCD2345");
    assert_eq!(requests[0]["meta"]["chatId"], "7");

    let human = w.run(&["pairing", "list", "imessage"]);
    assert_eq!(human.code, 0);
    let lines: Vec<&str> = human.stdout.lines().collect();
    assert!(lines[0].starts_with("Code"), "{}", human.stdout);
    assert!(
        lines[1].starts_with("ABCD2345   +15555550101"),
        "{}",
        human.stdout
    );
}

#[test]
fn an_empty_or_expired_state_lists_nothing() {
    let w = world();
    let out = w.run(&["pairing", "list", "imessage"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "No pending imessage pairing requests.");
    openclaw_state(&w, 61);
    let json = w.run(&["pairing", "list", "imessage", "--json"]).json();
    assert_eq!(json["requests"].as_array().unwrap().len(), 0);
    let approve = w.run(&["pairing", "approve", "imessage", "ABCD2345"]);
    assert_eq!(approve.code, 1);
    assert!(
        approve
            .stderr
            .contains("no pending pairing request has code `ABCD2345`"),
        "{}",
        approve.stderr
    );
}

#[test]
fn policy_explain_reads_approvals_and_pending_requests() {
    let w = world();
    openclaw_state(&w, 5);
    let approved = w
        .run(&["policy", "explain", "--from", "+15555550199", "--json"])
        .json();
    assert_eq!(approved["decision"], "dispatch", "{approved}");
    assert!(
        approved["reason"]
            .as_str()
            .unwrap()
            .contains("pairing approval")
    );
    assert_eq!(approved["pairing"]["readable"], true);
    assert_eq!(approved["pairing"]["approved"], 1);
    assert_eq!(approved["pairing"]["pending"], 1);
    let pending = w
        .run(&["policy", "explain", "--from", "+1 555 555 0101", "--json"])
        .json();
    assert_eq!(pending["decision"], "pair");
    assert!(
        pending["reason"]
            .as_str()
            .unwrap()
            .contains("`ABCD2345` is already pending"),
        "{pending}"
    );
    // Read only: explaining changed nothing on disk.
    let list = w.run(&["pairing", "list", "imessage", "--json"]).json();
    assert_eq!(list["requests"][0]["code"], "ABCD2345");
}

#[test]
fn approve_moves_the_sender_into_allow_from_and_keeps_unknown_keys() {
    let w = world();
    openclaw_state(&w, 5);
    let out = w.run(&["pairing", "approve", "imessage", " abcd2345 ", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["approved"], "+15555550101");
    assert!(json["notified"].is_null());
    let creds = w.state().join("credentials");
    let allow: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(creds.join("imessage-allowFrom.json")).unwrap(),
    )
    .unwrap();
    let allow: Vec<&str> = allow["allowFrom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        allow.contains(&"+15555550101") && allow.contains(&"+15555550199"),
        "{allow:?}"
    );
    let pairing: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(creds.join("imessage-pairing.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(pairing["requests"].as_array().unwrap().len(), 0);
    assert_eq!(pairing["note"], "kept by OpenClaw");
    let dispatch = w
        .run(&["policy", "explain", "--from", "+15555550101", "--json"])
        .json();
    assert_eq!(dispatch["decision"], "dispatch");

    let again = w.run(&["pairing", "approve", "imessage", "ABCD2345"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("\nhint: "), "{}", again.stderr);
}

#[test]
fn a_failed_notice_keeps_the_approval_and_says_so() {
    let w = World::new();
    // An imsg that cannot be found: the notice cannot go out.
    w.write_config(&config_for(
        &w.path("no/imsg"),
        &w.path("chat.db"),
        "      dmPolicy: \"pairing\",",
    ));
    openclaw_state(&w, 5);
    let out = w.run(&["pairing", "approve", "imessage", "ABCD2345", "--notify"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Approved imessage sender +15555550101.")
    );
    assert!(
        out.stderr
            .contains("the approval is saved, but the notice was not sent"),
        "{}",
        out.stderr
    );
    let list = w.run(&["pairing", "list", "imessage", "--json"]).json();
    assert_eq!(list["requests"].as_array().unwrap().len(), 0);
}

#[test]
fn accounts_have_their_own_files() {
    let w = World::new();
    let (imsg, db) = w.sim();
    w.write_config(&format!(
        "{{ channels: {{ imessage: {{ accounts: {{ work: {{ cliPath: {}, dbPath: {}, dmPolicy: \"pairing\" }} }} }} }} }}",
        serde_json::Value::String(imsg.display().to_string()),
        serde_json::Value::String(db.display().to_string()),
    ));
    openclaw_state(&w, 5);
    // The default account's files do not belong to `work`.
    let out = w.run(&["pairing", "list", "imessage", "--account", "Work", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["account"], "work");
    assert_eq!(json["requests"].as_array().unwrap().len(), 0);
    let unknown = w.run(&["pairing", "list", "imessage", "--account", "home"]);
    assert_eq!(unknown.code, 78);
}
