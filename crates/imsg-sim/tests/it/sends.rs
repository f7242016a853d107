//! Where a `send` lands and what its result says: the AppleScript path turns a chat whose identifier is a
//! handle into a direct send to the service's own chat, and imsg 0.9.0 reports the row's `id`/`guid` only when
//! its verification, which searches the requested chat, finds it. The bridge path sends into the chat itself.

use serde_json::{Value, json};

use crate::harness::{Fixture, Sim};

fn request(sim: &mut Sim, id: i64, method: &str, params: Value) -> Value {
    sim.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string());
    sim.until(|v| v["id"] == id)
}

/// Adds the SMS DM chat `SMS;-;<handle>` as chat 3, for handle row `handle_row` (created when new).
fn add_sms_chat(fixture: &Fixture, handle_row: i64, handle: &str) {
    let conn = fixture.writer();
    conn.execute(
        "INSERT OR IGNORE INTO handle (ROWID, id, service) VALUES (?1, ?2, 'SMS')",
        rusqlite::params![handle_row, handle],
    )
    .expect("handle");
    conn.execute(
        "INSERT INTO chat (ROWID, guid, chat_identifier, service_name) VALUES (3, ?1, ?2, 'SMS')",
        rusqlite::params![format!("SMS;-;{handle}"), handle],
    )
    .expect("sms chat");
    conn.execute(
        "INSERT INTO chat_handle_join (chat_id, handle_id) VALUES (3, ?1)",
        [handle_row],
    )
    .expect("chat member");
}

/// The texts of a chat's messages, newest first.
fn texts(sim: &mut Sim, id: i64, chat_id: i64) -> Vec<String> {
    let history = request(sim, id, "messages.history", json!({"chat_id": chat_id}));
    history["result"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

/// The id of the chat with this guid, from `chats.list`.
fn chat_with_guid(sim: &mut Sim, id: i64, guid: &str) -> Option<i64> {
    let chats = request(sim, id, "chats.list", json!({"limit": 50}));
    chats["result"]["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .find(|c| c["guid"] == guid)
        .and_then(|c| c["id"].as_i64())
}

#[test]
fn applescript_chat_sends_to_an_sms_dm_land_in_the_imessage_chat_unverified() {
    let fixture = Fixture::f();
    add_sms_chat(&fixture, 1, "+15551230001");
    let mut sim = Sim::rpc(&fixture, &[]);
    let by_id = request(
        &mut sim,
        1,
        "send",
        json!({"chat_id": 3, "text": "by id", "service": "auto"}),
    );
    assert_eq!(
        by_id["result"],
        json!({"ok": true, "transport": "applescript"}),
        "verification searches chat 3, but the row went to the iMessage chat: {by_id}"
    );
    assert_eq!(texts(&mut sim, 2, 2)[0], "by id");
    assert!(
        texts(&mut sim, 3, 3).is_empty(),
        "the SMS chat gets nothing"
    );
    // A bare `chat_guid` has no identifier to convert, so AppleScript addresses the SMS chat itself and
    // verification finds the row there.
    let by_guid = request(
        &mut sim,
        4,
        "send",
        json!({"chat_guid": "SMS;-;+15551230001", "text": "by guid"}),
    );
    assert_eq!(by_guid["result"]["id"], 17, "{by_guid}");
    assert!(by_guid["result"]["guid"].is_string(), "{by_guid}");
    assert_eq!(texts(&mut sim, 5, 3), ["by guid"]);
    // The iMessage chat by id is verified as before.
    let plain = request(&mut sim, 6, "send", json!({"chat_id": 2, "text": "plain"}));
    assert_eq!(plain["result"]["id"], 18, "{plain}");
    assert!(plain["result"]["guid"].is_string(), "{plain}");
}

#[test]
fn applescript_sends_to_an_sms_only_contact_create_the_imessage_chat() {
    let fixture = Fixture::f();
    add_sms_chat(&fixture, 3, "+15557770000");
    let mut sim = Sim::rpc(&fixture, &[]);
    let sent = request(&mut sim, 1, "send", json!({"chat_id": 3, "text": "hello"}));
    assert_eq!(
        sent["result"],
        json!({"ok": true, "transport": "applescript"}),
        "{sent}"
    );
    assert!(
        texts(&mut sim, 2, 3).is_empty(),
        "the SMS chat gets nothing"
    );
    let created = chat_with_guid(&mut sim, 3, "iMessage;-;+15557770000")
        .expect("an iMessage buddy send creates the iMessage chat");
    assert_eq!(texts(&mut sim, 4, created), ["hello"]);
}

#[test]
fn direct_sms_sends_go_to_the_sms_chat_and_verify_against_the_found_chat() {
    // Only the iMessage chat exists; imsg's lookup for `service:"sms"` ends with the bare handle, which
    // matches that chat's identifier, so verification searches it while Messages writes the SMS chat.
    let fixture = Fixture::f();
    let mut sim = Sim::rpc(&fixture, &[]);
    let sent = request(
        &mut sim,
        1,
        "send",
        json!({"to": "+15551230001", "text": "as sms", "service": "sms"}),
    );
    assert_eq!(
        sent["result"],
        json!({"ok": true, "transport": "applescript"}),
        "{sent}"
    );
    let sms = chat_with_guid(&mut sim, 2, "SMS;-;+15551230001").expect("the SMS chat is created");
    assert_eq!(texts(&mut sim, 3, sms), ["as sms"]);
    assert_ne!(texts(&mut sim, 4, 2)[0], "as sms");
    // Now the SMS chat exists, so it is the chat found and verified.
    let again = request(
        &mut sim,
        5,
        "send",
        json!({"to": "+15551230001", "text": "again", "service": "sms"}),
    );
    assert!(again["result"]["id"].is_i64(), "{again}");
}

#[test]
fn bridge_chat_sends_go_to_the_chat_guid() {
    let fixture = Fixture::f();
    add_sms_chat(&fixture, 1, "+15551230001");
    let mut sim = Sim::rpc(&fixture, &[("IMSG_SIM_BRIDGE", "ready")]);
    let sent = request(
        &mut sim,
        1,
        "send",
        json!({"chat_id": 3, "text": "bridged"}),
    );
    assert_eq!(sent["result"]["transport"], "bridge", "{sent}");
    assert!(sent["result"].get("id").is_none(), "{sent}");
    let guid = sent["result"]["guid"]
        .as_str()
        .expect("bridge guid")
        .to_owned();
    let history = request(&mut sim, 2, "messages.history", json!({"chat_id": 3}));
    let row = &history["result"]["messages"][0];
    assert_eq!(
        (
            row["text"].as_str(),
            row["guid"].as_str(),
            row["is_from_me"].as_bool()
        ),
        (Some("bridged"), Some(guid.as_str()), Some(true)),
        "{history}"
    );
    let service: String = fixture
        .writer()
        .query_row(
            "SELECT service FROM message WHERE guid = ?1",
            [guid.as_str()],
            |r| r.get(0),
        )
        .expect("sent row");
    assert_eq!(service, "SMS", "a row in an SMS chat is an SMS row");
    assert!(
        !texts(&mut sim, 3, 2).contains(&"bridged".to_owned()),
        "the iMessage chat gets nothing"
    );
    // A direct send with an existing chat also goes to that chat over the bridge.
    let direct = request(
        &mut sim,
        4,
        "send",
        json!({"to": "+15551230001", "text": "direct", "service": "sms"}),
    );
    assert_eq!(direct["result"]["transport"], "bridge", "{direct}");
    assert_eq!(texts(&mut sim, 5, 3)[0], "direct");
}
