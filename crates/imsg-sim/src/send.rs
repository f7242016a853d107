//! `send`, `typing`, `read` and the bridge methods: imsg's validation to the letter, then the outcome a
//! Mac would produce. `send` acts as Messages.app and writes the outgoing row.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde_json::{Value, json};

use crate::db::{self, Attachment, Group, Message, Service};
use crate::failure::{BRIDGE_UNAVAILABLE, Failure, READ_UNAVAILABLE, TYPING_UNAVAILABLE};
use crate::params::Params;
use crate::settings::Settings;

/// Every bridge-only method of imsg 0.9.0 except `typing` and `read`, which have their own handlers.
pub(crate) const BRIDGE_METHODS: &[&str] = &[
    "send.rich",
    "send.attachment",
    "tapback",
    "message.edit",
    "message.unsend",
    "message.delete",
    "message.notifyAnyways",
    "chats.create",
    "chats.delete",
    "chats.markUnread",
    "group.rename",
    "group.setIcon",
    "group.addParticipant",
    "group.removeParticipant",
    "group.leave",
];

/// A resolved `to` or `chat_*` target.
enum Target {
    Direct(String),
    Chat {
        chat_id: Option<i64>,
        identifier: String,
        guid: String,
    },
}

/// Reads the mutually exclusive `to` / `chat_id` / `chat_identifier` / `chat_guid` params.
fn read_target(p: Params<'_>, missing: &str) -> Result<Target, Failure> {
    let to = p.non_empty_string("to");
    let chat_id = p.int("chat_id");
    let identifier = p.non_empty_string("chat_identifier");
    let guid = p.non_empty_string("chat_guid");
    let has_chat = chat_id.is_some() || identifier.is_some() || guid.is_some();
    match (to, has_chat) {
        (Some(_), true) => Err(Failure::invalid_params("use to or chat_*; not both")),
        (None, false) => Err(Failure::invalid_params(missing)),
        (Some(to), false) => Ok(Target::Direct(to)),
        (None, true) => Ok(Target::Chat {
            chat_id,
            identifier: identifier.unwrap_or_default(),
            guid: guid.unwrap_or_default(),
        }),
    }
}

/// Replaces a chat target's identifier and guid with the chat row's when `chat_id` is given.
fn resolve_chat(conn: &Connection, target: Target) -> Result<Target, Failure> {
    match target {
        Target::Chat {
            chat_id: Some(id), ..
        } => {
            let row: Option<(String, String)> = conn
                .query_row(
                    "SELECT IFNULL(chat_identifier, ''), IFNULL(guid, '') FROM chat WHERE ROWID = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (identifier, guid) =
                row.ok_or_else(|| Failure::invalid_params(format!("unknown chat_id {id}")))?;
            Ok(Target::Chat {
                chat_id: Some(id),
                identifier,
                guid,
            })
        }
        other => Ok(other),
    }
}

/// The first chat whose identifier or guid is one of the candidates, in candidate order.
fn find_chat(
    conn: &Connection,
    candidates: &[String],
) -> rusqlite::Result<Option<(i64, String, String)>> {
    for candidate in candidates {
        let found = conn
            .query_row(
                "SELECT ROWID, IFNULL(chat_identifier, ''), IFNULL(guid, '') FROM chat \
                 WHERE chat_identifier = ?1 OR guid = ?1 LIMIT 1",
                [candidate],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The existing-chat candidates of a direct target for a service.
fn direct_candidates(to: &str, service: &str) -> Vec<String> {
    let to = to.trim();
    let prefixes: &[&str] = match service {
        "sms" => &["SMS;-;"],
        "imessage" => &["iMessage;-;", "any;-;"],
        _ => &["iMessage;-;", "any;-;", "SMS;-;"],
    };
    let mut list: Vec<String> = prefixes.iter().map(|p| format!("{p}{to}")).collect();
    list.push(to.to_owned());
    list
}

/// The DM chats Messages.app sends a buddy of `service` into: the service's own guid forms of the handle.
fn service_chat_candidates(handle: &str, service: Service) -> Vec<String> {
    let prefixes: &[&str] = match service {
        Service::Sms => &["SMS;-;"],
        Service::IMessage => &["iMessage;-;", "any;-;"],
    };
    prefixes.iter().map(|p| format!("{p}{handle}")).collect()
}

/// The candidates of a chat lookup by target string.
fn target_candidates(target: &str) -> Vec<String> {
    let target = target.trim();
    let mut list = vec![target.to_owned()];
    for (prefix, other) in [("any;+;", "any;-;"), ("any;-;", "any;+;")] {
        if let Some(rest) = target.strip_prefix(prefix) {
            list.push(format!("{other}{rest}"));
            list.push(rest.to_owned());
        }
    }
    list
}

/// Whether a chat identifier is really a handle, so AppleScript sends to the buddy instead.
fn looks_like_handle(identifier: &str) -> bool {
    let lower = identifier.to_ascii_lowercase();
    ["imessage:", "sms:", "auto:"]
        .iter()
        .any(|p| lower.starts_with(p))
        || identifier.contains('@')
        || (!identifier.is_empty()
            && identifier
                .chars()
                .all(|c| c.is_ascii_digit() || "+ ()-".contains(c)))
}

/// Normalises a phone-shaped recipient to E.164 for the region; anything else is kept as it is.
fn normalize_recipient(to: &str, region: &str) -> String {
    let trimmed = to.trim();
    let phone_shaped = trimmed.chars().any(|c| c.is_ascii_digit())
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || "+ ()-.".contains(c));
    if !phone_shaped {
        return trimmed.to_owned();
    }
    let country = region.parse::<phonenumber::country::Id>().ok();
    match phonenumber::parse(country, trimmed) {
        Ok(number) => number.format().mode(phonenumber::Mode::E164).to_string(),
        Err(_) => trimmed.to_owned(),
    }
}

/// Resolves a `to` that looks like a contact name through the simulated Contacts.
///
/// No match keeps the input, one match gives that contact's handle, several are an invalid chat target.
fn resolve_contact(to: &str, settings: &Settings) -> Result<String, Failure> {
    let looks_like_name = !to.is_empty()
        && !to.contains('@')
        && !to.starts_with('+')
        && to
            .chars()
            .any(|c| !(c.is_ascii_digit() || "-(). ".contains(c)));
    if !looks_like_name {
        return Ok(to.to_owned());
    }
    let needle = to.to_lowercase();
    let mut found: Vec<(&String, &String)> = settings
        .contacts
        .iter()
        .filter(|(_, name)| name.to_lowercase().contains(&needle))
        .map(|(handle, name)| (name, handle))
        .collect();
    found.sort();
    match found.as_slice() {
        [] => Ok(to.to_owned()),
        [(_, handle)] => Ok((*handle).clone()),
        many => {
            let lines: String = many
                .iter()
                .map(|(name, handle)| format!("  {name}: {handle}\n"))
                .collect();
            Err(Failure::invalid_params(format!(
                "Invalid chat target: Multiple contacts match \"{to}\":\n{lines}Specify a phone number or email instead."
            )))
        }
    }
}

/// Expands `~` and makes a path absolute against the working directory.
fn absolute_path(raw: &str) -> PathBuf {
    let expanded = PathBuf::from(crate::store::expand_tilde(raw));
    if expanded.is_absolute() {
        expanded
    } else {
        std::env::current_dir().map_or(expanded.clone(), |cwd| cwd.join(&expanded))
    }
}

/// `send`: validation in imsg's order, then Messages.app's writes.
pub(crate) fn send(
    conn: &Connection,
    db_path: &Path,
    p: Params<'_>,
    settings: &Settings,
) -> Result<Value, Failure> {
    let service = p.string("service").unwrap_or_else(|| "auto".to_owned());
    if !matches!(service.as_str(), "auto" | "imessage" | "sms") {
        return Err(Failure::invalid_params("invalid service"));
    }
    let transport = p
        .string("transport")
        .unwrap_or_else(|| "auto".to_owned())
        .to_lowercase();
    if !matches!(transport.as_str(), "auto" | "bridge" | "applescript") {
        return Err(Failure::invalid_params("invalid transport"));
    }
    let target = match read_target(p, "to is required for direct sends")? {
        Target::Direct(to) => Target::Direct(resolve_contact(&to, settings)?),
        chat => chat,
    };
    let text = p.string("text").unwrap_or_default();
    let file = p.string("file").unwrap_or_default();
    if text.is_empty() && file.is_empty() {
        return Err(Failure::invalid_params("text or file is required"));
    }
    let target = resolve_chat(conn, target)?;
    if let Target::Chat {
        identifier, guid, ..
    } = &target
        && identifier.is_empty()
        && guid.is_empty()
    {
        return Err(Failure::invalid_params("missing chat identifier or guid"));
    }
    let region = p
        .string("region")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "US".to_owned());
    // imsg looks for the existing chat before sending: the bridge needs its guid (the target's own, or an
    // existing direct chat's), and AppleScript verification searches only that chat.
    let existing = match &target {
        Target::Chat {
            chat_id: Some(id),
            identifier,
            guid,
        } => Some((*id, identifier.clone(), guid.clone())),
        Target::Chat {
            identifier, guid, ..
        } => find_chat(conn, &target_candidates(preferred(identifier, guid)))?,
        Target::Direct(to) => find_chat(conn, &direct_candidates(to, &service))?,
    };
    let bridge_guid = match &target {
        Target::Chat {
            identifier, guid, ..
        } => Some(preferred(identifier, guid).to_owned()),
        Target::Direct(_) => existing
            .as_ref()
            .map(|(_, identifier, guid)| preferred(identifier, guid).to_owned()),
    };
    // With `auto`, text and file together fail on the bridge and fall back to AppleScript.
    let both = !text.is_empty() && !file.is_empty();
    let use_bridge = transport == "bridge"
        || (transport == "auto" && settings.bridge_ready && bridge_guid.is_some() && !both);
    if use_bridge {
        if bridge_guid.is_none() {
            return Err(Failure::invalid_params(
                "bridge transport requires an existing chat target",
            ));
        }
        if both {
            return Err(Failure::invalid_params(
                "bridge transport does not support text and file together",
            ));
        }
    }
    // Both paths stage the file first, so a missing file is reported before the bridge is called.
    let attachment = if file.is_empty() {
        None
    } else {
        let path = absolute_path(&file);
        if !path.exists() {
            return Err(Failure::internal(format!(
                "AppleScript failed: Attachment not found at {}",
                path.display()
            )));
        }
        Some(path)
    };
    if use_bridge && !settings.bridge_ready {
        return Err(Failure::internal(BRIDGE_UNAVAILABLE));
    }
    if let Some(reason) = &settings.send_error {
        return Err(Failure::internal(format!("AppleScript failed: {reason}")));
    }
    if let Target::Chat {
        identifier, guid, ..
    } = &target
        && settings.ghost_row
        && !use_bridge
        && !text.is_empty()
    {
        let rowid = write_ghost_row(
            db_path,
            if identifier.is_empty() {
                guid
            } else {
                identifier
            },
        )?;
        return Err(Failure::internal(format!(
            "AppleScript failed: Messages accepted the chat send but wrote an unjoined empty outgoing row \
             ({rowid}); delivery to the target chat was not confirmed"
        )));
    }
    let sent_at = crate::dates::now_apple_ns();
    let route = if use_bridge {
        // The bridge sends into the chat it was given by guid; no handle conversion happens there.
        match (target, &existing) {
            (Target::Direct(_), Some((id, identifier, guid))) => Route::Bridge(Target::Chat {
                chat_id: Some(*id),
                identifier: identifier.clone(),
                guid: guid.clone(),
            }),
            (target, _) => Route::Bridge(target),
        }
    } else {
        Route::AppleScript(target)
    };
    let written = deliver(
        db_path,
        &route,
        &service,
        &region,
        &text,
        attachment.as_deref(),
        settings,
    )?;
    if use_bridge {
        // The bridge reports the guid of what it sent, never a rowid.
        let mut result = json!({"ok": true, "transport": "bridge"});
        if let (Some((_, guid)), Some(map)) = (written, result.as_object_mut()) {
            map.insert("guid".into(), guid.into());
        }
        return Ok(result);
    }
    let mut result = json!({"ok": true, "transport": "applescript"});
    if !text.is_empty()
        && let Some((rowid, guid)) = verify(conn, existing.map(|(id, ..)| id), &text, sent_at)?
        && let Some(map) = result.as_object_mut()
    {
        map.insert("id".into(), rowid.into());
        if !guid.is_empty() {
            map.insert("guid".into(), guid.into());
        }
    }
    Ok(result)
}

/// How a send reaches Messages: through the bridge, which addresses the chat itself, or through
/// AppleScript, which turns a chat whose identifier looks like a handle into a direct send.
enum Route {
    Bridge(Target),
    AppleScript(Target),
}

/// The guid if there is one, else the identifier: the "preferred identifier" imsg addresses a chat by.
fn preferred<'a>(identifier: &'a str, guid: &'a str) -> &'a str {
    if guid.is_empty() { identifier } else { guid }
}

/// imsg's AppleScript verification: the newest outgoing row with exactly this text, dated from
/// two seconds before the send, in `chat` when one is known. Returns its rowid and guid.
///
/// The row Messages wrote is found only if it is in that chat: a chat target converted to a direct send
/// can land in another chat, and then the result carries no id.
fn verify(
    conn: &Connection,
    chat: Option<i64>,
    text: &str,
    sent_at: i64,
) -> Result<Option<(i64, String)>, Failure> {
    const WINDOW_NS: i64 = 2_000_000_000;
    let since = sent_at.saturating_sub(WINDOW_NS);
    let found = match chat {
        Some(chat) => conn
            .query_row(
                "SELECT m.ROWID, IFNULL(m.guid, '') FROM message m \
                 JOIN chat_message_join j ON j.message_id = m.ROWID AND j.chat_id = ?1 \
                 WHERE m.is_from_me = 1 AND m.text = ?2 AND m.date >= ?3 \
                 ORDER BY m.date DESC, m.ROWID DESC LIMIT 1",
                rusqlite::params![chat, text, since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
        None => conn
            .query_row(
                "SELECT ROWID, IFNULL(guid, '') FROM message \
                 WHERE is_from_me = 1 AND text = ?1 AND date >= ?2 \
                 ORDER BY date DESC, ROWID DESC LIMIT 1",
                rusqlite::params![text, since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
    };
    Ok(found)
}

/// Writes the outgoing rows as Messages.app would; returns the text row's (rowid, guid) when there was text.
fn deliver(
    db_path: &Path,
    route: &Route,
    service: &str,
    region: &str,
    text: &str,
    file: Option<&Path>,
    settings: &Settings,
) -> Result<Option<(i64, String)>, Failure> {
    let mut conn = db::open_writer(db_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut message = Message {
        from_me: true,
        destination_caller_id: settings.self_handle.clone(),
        ..Message::default()
    };
    let (target, direct_to) = match route {
        Route::AppleScript(target @ Target::Direct(to))
        | Route::Bridge(target @ Target::Direct(to)) => (target, Some(to.clone())),
        Route::AppleScript(target @ Target::Chat { identifier, .. })
            if looks_like_handle(identifier) =>
        {
            (target, Some(identifier.clone()))
        }
        Route::AppleScript(target) | Route::Bridge(target) => (target, None),
    };
    let mut direct_service = if service == "sms" {
        Service::Sms
    } else {
        Service::IMessage
    };
    if let Some(to) = direct_to {
        let mut handle = to.as_str();
        for (prefix, svc) in [
            ("imessage:", None),
            ("sms:", Some(Service::Sms)),
            ("auto:", None),
        ] {
            if handle
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            {
                handle = &handle[prefix.len()..];
                if let Some(svc) = svc {
                    direct_service = svc;
                }
            }
        }
        message.handle = normalize_recipient(handle, region);
        message.service = direct_service;
    } else if let Target::Chat {
        chat_id,
        identifier,
        guid,
    } = target
    {
        let preferred = preferred(identifier, guid);
        // A `chat_id` names its row exactly; an identifier shared by an iMessage and an SMS chat must not
        // pick the other one.
        let found = match chat_id {
            Some(id) => Some((*id, identifier.clone(), guid.clone())),
            None => find_chat(&tx, &target_candidates(preferred))?,
        };
        let Some((chat_id, identifier, guid)) = found else {
            return Err(Failure::internal(format!(
                "AppleScript failed: Messages got an error: Can’t get chat id \"{preferred}\"."
            )));
        };
        message.service = if guid.starts_with("SMS;") {
            Service::Sms
        } else {
            Service::IMessage
        };
        if guid.contains(";+;") || identifier.contains(";+;") {
            message.group = Some(Group {
                identifier: identifier.clone(),
                name: None,
                members: Vec::new(),
            });
        } else {
            message.handle = identifier.clone();
        }
        // Write into the exact chat that was found, whatever its guid prefix.
        return write_into_chat(&tx, chat_id, message, text, file).and_then(|r| {
            tx.commit()?;
            Ok(r)
        });
    }
    // A buddy of one service is sent to in that service's DM chat, never in the other service's chat with
    // the same identifier: imsg's bare-handle candidate is only a lookup, not where Messages writes.
    let chat_id = find_chat(
        &tx,
        &service_chat_candidates(&message.handle, direct_service),
    )?
    .map(|(id, ..)| id);
    let result = match chat_id {
        Some(id) => write_into_chat(&tx, id, message, text, file)?,
        None => {
            // No chat yet: the first row creates the direct chat `iMessage;-;<handle>` (or `SMS;-;`).
            let mut first = None;
            let mut created = None;
            if !text.is_empty() {
                let mut m = message.clone();
                m.text = Some(text.to_owned());
                let w = db::write_message(&tx, &m).map_err(db_failure)?;
                created = w.chat_id;
                first = Some((w.rowid, w.guid));
            }
            if let Some(path) = file {
                let mut m = message;
                m.attachments = vec![attachment_for(path)];
                db::write_message_in(&tx, &m, created).map_err(db_failure)?;
            }
            first
        }
    };
    tx.commit()?;
    Ok(result)
}

/// Writes what macOS 26 Messages sometimes writes for a chat send: an empty outgoing row joined to no chat,
/// whose handle is the chat's identifier. Returns its rowid.
fn write_ghost_row(db_path: &Path, handle: &str) -> Result<i64, Failure> {
    let mut conn = db::open_writer(db_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ghost = Message {
        handle: handle.to_owned(),
        text: Some(String::new()),
        from_me: true,
        unjoined: true,
        ..Message::default()
    };
    let written = db::write_message(&tx, &ghost).map_err(db_failure)?;
    tx.commit()?;
    Ok(written.rowid)
}

/// Writes the text row, then the attachment row, joined to an existing chat.
fn write_into_chat(
    tx: &Connection,
    chat_id: i64,
    message: Message,
    text: &str,
    file: Option<&Path>,
) -> Result<Option<(i64, String)>, Failure> {
    let mut first = None;
    if !text.is_empty() {
        let mut m = message.clone();
        m.text = Some(text.to_owned());
        let w = db::write_message_in(tx, &m, Some(chat_id)).map_err(db_failure)?;
        first = Some((w.rowid, w.guid));
    }
    if let Some(path) = file {
        let mut m = message;
        m.attachments = vec![attachment_for(path)];
        db::write_message_in(tx, &m, Some(chat_id)).map_err(db_failure)?;
    }
    Ok(first)
}

fn attachment_for(path: &Path) -> Attachment {
    Attachment {
        filename: path.display().to_string(),
        ..Attachment::default()
    }
}

fn db_failure(err: db::DbError) -> Failure {
    match err {
        db::DbError::Sqlite(e) => Failure::from(e),
        other => Failure::internal(format!("AppleScript failed: {other}")),
    }
}

/// `typing`: the target and, for a direct target, the service are checked, then the bridge answers.
pub(crate) fn typing(
    conn: &Connection,
    p: Params<'_>,
    settings: &Settings,
) -> Result<Value, Failure> {
    if let Target::Direct(_) = named_target(conn, p)? {
        let service = p.string("service").unwrap_or_else(|| "imessage".to_owned());
        if !matches!(service.to_lowercase().as_str(), "auto" | "imessage" | "sms") {
            return Err(Failure::invalid_params(service));
        }
    }
    bridge_result(settings, json!({"ok": true}), TYPING_UNAVAILABLE)
}

/// `read`: the target is checked, then the bridge answers.
pub(crate) fn read(
    conn: &Connection,
    p: Params<'_>,
    settings: &Settings,
) -> Result<Value, Failure> {
    named_target(conn, p)?;
    bridge_result(settings, json!({"ok": true}), READ_UNAVAILABLE)
}

/// The target of `typing` and `read`: a chat must have an identifier or guid the bridge can name.
fn named_target(conn: &Connection, p: Params<'_>) -> Result<Target, Failure> {
    let target = resolve_chat(conn, read_target(p, "to is required")?)?;
    if let Target::Chat {
        identifier, guid, ..
    } = &target
        && identifier.is_empty()
        && guid.is_empty()
    {
        return Err(Failure::invalid_params("missing chat identifier or guid"));
    }
    Ok(target)
}

/// The bridge-backed methods: chat target, then message param, then method params, then the bridge.
pub(crate) fn bridge_method(
    conn: &Connection,
    method: &str,
    p: Params<'_>,
    settings: &Settings,
) -> Result<Value, Failure> {
    if method == "chats.create" {
        if p.string_array("addresses").is_empty() {
            return Err(Failure::invalid_params(
                "addresses is required (non-empty array of phone/email)",
            ));
        }
        return bridge_result(settings, json!({"ok": true}), BRIDGE_UNAVAILABLE);
    }
    let chat_id = p.int("chat_id");
    let has_target = chat_id.is_some()
        || p.non_empty_string("chat_guid").is_some()
        || p.non_empty_string("chat_identifier").is_some();
    if !has_target {
        return Err(Failure::invalid_params(
            "chat_guid, chat_identifier, or chat_id is required",
        ));
    }
    if let Some(id) = chat_id {
        let row: Option<(String, String)> = conn
            .query_row(
                "SELECT IFNULL(chat_identifier, ''), IFNULL(guid, '') FROM chat WHERE ROWID = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            None => return Err(Failure::invalid_params(format!("unknown chat_id {id}"))),
            Some((identifier, guid)) if identifier.is_empty() && guid.is_empty() => {
                return Err(Failure::invalid_params(
                    "could not resolve chat GUID for chat target",
                ));
            }
            Some(_) => {}
        }
    }
    let needs_message = matches!(
        method,
        "tapback" | "message.edit" | "message.unsend" | "message.delete" | "message.notifyAnyways"
    );
    if needs_message {
        let message = [
            "message_id",
            "messageId",
            "message_guid",
            "messageGuid",
            "message",
        ]
        .iter()
        .find_map(|k| p.string(k))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
        if message.is_none() {
            return Err(Failure::invalid_params(
                "message_id or message_guid is required",
            ));
        }
    }
    let mut result = json!({"ok": true});
    match method {
        "tapback" => {
            let raw = p
                .first_string(&["reaction", "kind", "emoji"])
                .ok_or_else(|| Failure::invalid_params("reaction, kind, or emoji is required"))?;
            let kind = normalize_tapback(&raw, p.bool("remove").unwrap_or(false)).ok_or_else(|| {
                Failure::invalid_params(format!(
                    "unsupported tapback reaction {raw}; use love, like, dislike, laugh, emphasize, or question"
                ))
            })?;
            result = json!({"ok": true, "reaction": kind});
        }
        "message.edit"
            if p.first_string(&["text", "new_text", "newText", "edited_message"])
                .is_none_or(|t| t.is_empty()) =>
        {
            return Err(Failure::invalid_params("text is required"));
        }
        "group.rename" if p.string("name").is_none() => {
            return Err(Failure::invalid_params("name is required"));
        }
        "group.addParticipant" | "group.removeParticipant"
            if p.non_empty_string("address").is_none() =>
        {
            return Err(Failure::invalid_params("address is required"));
        }
        "send.attachment" => {
            let file = p
                .first_string(&["file", "path"])
                .filter(|f| !f.is_empty())
                .ok_or_else(|| Failure::invalid_params("file is required"))?;
            let path = absolute_path(&file);
            if !path.exists() {
                return Err(Failure::internal(format!(
                    "AppleScript failed: Attachment not found at {}",
                    path.display()
                )));
            }
        }
        _ => {}
    }
    bridge_result(settings, result, BRIDGE_UNAVAILABLE)
}

/// What a validated bridge-backed call answers: `result` when the bridge is ready, else the
/// error text imsg gives without it.
fn bridge_result(settings: &Settings, result: Value, unavailable: &str) -> Result<Value, Failure> {
    if settings.bridge_ready {
        Ok(result)
    } else {
        Err(Failure::internal(unavailable))
    }
}

/// Normalises a tapback name or emoji to `<kind>` or `remove-<kind>`.
fn normalize_tapback(raw: &str, remove_flag: bool) -> Option<String> {
    let lower = raw.trim().to_lowercase();
    let (remove, name) = match lower.strip_prefix("remove-") {
        Some(rest) => (true, rest.to_owned()),
        None => (remove_flag, lower),
    };
    let kind = match name.as_str() {
        "love" | "heart" | "❤️" | "❤" => "love",
        "like" | "thumbsup" | "thumbs-up" | "+1" | "👍" => "like",
        "dislike" | "thumbsdown" | "thumbs-down" | "-1" | "👎" => "dislike",
        "laugh" | "haha" | "lol" | "😂" | "🤣" => "laugh",
        "emphasize" | "emphasis" | "!!" | "‼" | "‼️" => "emphasize",
        "question" | "?" | "❓" => "question",
        _ => return None,
    };
    Some(if remove {
        format!("remove-{kind}")
    } else {
        kind.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_recipients() {
        let cases = [
            ("(415) 555-1212", "US", "+14155551212"),
            ("07911 123456", "GB", "+447911123456"),
            ("+15551230001", "US", "+15551230001"),
            ("alice@example.com", "US", "alice@example.com"),
            ("Alice", "US", "Alice"),
        ];
        for (input, region, want) in cases {
            assert_eq!(normalize_recipient(input, region), want, "{input}");
        }
    }

    #[test]
    fn normalizes_tapbacks() {
        let cases = [
            ("👍", false, Some("like")),
            (" Heart ", false, Some("love")),
            ("remove-lol", false, Some("remove-laugh")),
            ("?", true, Some("remove-question")),
            ("wow", false, None),
        ];
        for (raw, remove, want) in cases {
            assert_eq!(normalize_tapback(raw, remove).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn recognises_handle_like_identifiers() {
        for (id, want) in [
            ("+15551230001", true),
            ("a@b.c", true),
            ("sms:123", true),
            ("chat123", false),
            ("", false),
        ] {
            assert_eq!(looks_like_handle(id), want, "{id}");
        }
    }
}
