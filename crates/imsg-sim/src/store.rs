//! Reading chat.db the way imsg 0.9.0 does: column detection, the shared row projection, and the payloads
//! of chats, messages, attachments and reactions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params_from_iter};
use serde_json::{Map, Value, json};

use crate::body::decode_attributed_body;
use crate::dates::apple_ns_to_iso;

/// Which optional columns exist; detected once when the store opens, like imsg.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Columns {
    attributed_body: bool,
    /// `guid`, `associated_message_guid` and `associated_message_type` all exist.
    reactions: bool,
    thread_originator: bool,
    destination_caller_id: bool,
    balloon: bool,
    audio: bool,
    user_info: bool,
    cmj_message_date: bool,
}

impl Columns {
    /// Detects the optional columns; a database that cannot be inspected simply has none.
    pub(crate) fn detect(conn: &Connection) -> Self {
        let message = table_columns(conn, "message");
        let cmj = table_columns(conn, "chat_message_join");
        let attachment = table_columns(conn, "attachment");
        let has = |cols: &[String], name: &str| cols.iter().any(|c| c.eq_ignore_ascii_case(name));
        Self {
            attributed_body: has(&message, "attributedBody"),
            reactions: has(&message, "guid")
                && has(&message, "associated_message_guid")
                && has(&message, "associated_message_type"),
            thread_originator: has(&message, "thread_originator_guid"),
            destination_caller_id: has(&message, "destination_caller_id"),
            balloon: has(&message, "balloon_bundle_id"),
            audio: has(&message, "is_audio_message"),
            user_info: has(&attachment, "user_info"),
            cmj_message_date: has(&cmj, "message_date"),
        }
    }

    fn col(&self, present: bool, expr: &'static str) -> &'static str {
        if present { expr } else { "NULL" }
    }

    /// The message projection imsg shares between history and watch, with NULL for missing optional columns.
    fn projection(&self) -> String {
        format!(
            "m.ROWID, IFNULL(h.id, ''), IFNULL(m.text, ''), m.date, IFNULL(m.is_from_me, 0), {dest}, {guid}, \
             {assoc_guid}, {assoc_type}, {body}, {thread}, {balloon}, {audio}",
            dest = self.col(self.destination_caller_id, "m.destination_caller_id"),
            guid = self.col(self.reactions, "m.guid"),
            assoc_guid = self.col(self.reactions, "m.associated_message_guid"),
            assoc_type = self.col(self.reactions, "m.associated_message_type"),
            body = self.col(self.attributed_body, "m.attributedBody"),
            thread = self.col(self.thread_originator, "m.thread_originator_guid"),
            balloon = self.col(self.balloon, "m.balloon_bundle_id"),
            audio = self.col(self.audio, "m.is_audio_message"),
        )
    }

    fn not_tapback(&self) -> &'static str {
        if self.reactions {
            " AND (m.associated_message_type IS NULL OR m.associated_message_type < 2000 \
             OR m.associated_message_type > 3006)"
        } else {
            ""
        }
    }
}

fn table_columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!("PRAGMA table_info({table})")) else {
        return Vec::new();
    };
    stmt.query_map([], |row| row.get::<_, String>(1))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Opens chat.db read-only with a 5 s busy timeout, as imsg does.
pub(crate) fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Chat metadata as imsg caches it for the lifetime of the process.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChatInfo {
    pub(crate) identifier: String,
    pub(crate) guid: String,
    pub(crate) name: String,
    pub(crate) service: String,
}

impl ChatInfo {
    pub(crate) fn is_group(&self) -> bool {
        self.guid.contains(";+;") || self.identifier.contains(";+;")
    }
}

/// The key of the process-wide URL-preview dedupe: (chat_id, is_from_me, sender, text).
type BalloonKey = (i64, bool, String, String);

/// State shared by the request loop and every watch thread of one process.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) db_path: PathBuf,
    pub(crate) columns: Columns,
    chats: Mutex<HashMap<i64, ChatInfo>>,
    participants: Mutex<HashMap<i64, Vec<String>>>,
    balloons: Mutex<HashMap<BalloonKey, (i64, i64)>>,
    /// Simulated Contacts: handle to display name (`IMSG_SIM_CONTACTS`); empty means no Contacts access.
    contacts: HashMap<String, String>,
}

impl Shared {
    pub(crate) fn new(
        db_path: PathBuf,
        columns: Columns,
        contacts: HashMap<String, String>,
    ) -> Self {
        Self {
            db_path,
            columns,
            chats: Mutex::default(),
            participants: Mutex::default(),
            balloons: Mutex::default(),
            contacts,
        }
    }

    fn contact_name(&self, handle: &str) -> Option<&str> {
        self.contacts.get(handle).map(String::as_str)
    }

    /// Chat metadata by id; found chats are cached forever, misses are not cached.
    pub(crate) fn chat_info(
        &self,
        conn: &Connection,
        chat_id: i64,
    ) -> rusqlite::Result<Option<ChatInfo>> {
        if let Some(info) = self
            .chats
            .lock()
            .ok()
            .and_then(|c| c.get(&chat_id).cloned())
        {
            return Ok(Some(info));
        }
        let info = conn
            .query_row(
                "SELECT IFNULL(chat_identifier, ''), IFNULL(guid, ''), \
                 IFNULL(display_name, IFNULL(chat_identifier, '')), IFNULL(service_name, '') \
                 FROM chat WHERE ROWID = ?1",
                [chat_id],
                |r| {
                    Ok(ChatInfo {
                        identifier: r.get(0)?,
                        guid: r.get(1)?,
                        name: r.get(2)?,
                        service: r.get(3)?,
                    })
                },
            )
            .optional()?;
        if let (Some(info), Ok(mut cache)) = (&info, self.chats.lock()) {
            cache.insert(chat_id, info.clone());
        }
        Ok(info)
    }

    /// Participant handles of a chat, sorted by byte order, without empties or duplicates; cached forever.
    pub(crate) fn participants(
        &self,
        conn: &Connection,
        chat_id: i64,
    ) -> rusqlite::Result<Vec<String>> {
        if let Some(list) = self
            .participants
            .lock()
            .ok()
            .and_then(|c| c.get(&chat_id).cloned())
        {
            return Ok(list);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT h.id FROM chat_handle_join chj JOIN handle h ON h.ROWID = chj.handle_id \
             WHERE chj.chat_id = ?1 ORDER BY h.id ASC",
        )?;
        let mut list: Vec<String> = stmt
            .query_map([chat_id], |r| r.get::<_, Option<String>>(0))?
            .filter_map(|r| r.transpose())
            .collect::<rusqlite::Result<_>>()?;
        list.retain(|h| !h.is_empty());
        // SQLite's default BINARY collation is byte order; sort again so duplicates are adjacent regardless.
        list.sort();
        list.dedup();
        if let Ok(mut cache) = self.participants.lock() {
            cache.insert(chat_id, list.clone());
        }
        Ok(list)
    }

    /// The `chats.list` result for a clamped limit.
    pub(crate) fn list_chats(&self, conn: &Connection, limit: i64) -> rusqlite::Result<Vec<Value>> {
        let sql = if self.columns.cmj_message_date {
            "SELECT cmj.chat_id, MAX(cmj.message_date) AS last FROM chat_message_join cmj \
             JOIN chat c ON c.ROWID = cmj.chat_id GROUP BY cmj.chat_id ORDER BY last DESC LIMIT ?1"
        } else {
            "SELECT cmj.chat_id, MAX(m.date) AS last FROM chat_message_join cmj \
             JOIN chat c ON c.ROWID = cmj.chat_id JOIN message m ON m.ROWID = cmj.message_id \
             GROUP BY cmj.chat_id ORDER BY last DESC LIMIT ?1"
        };
        let rows: Vec<(i64, Option<i64>)> = conn
            .prepare(sql)?
            .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut chats = Vec::with_capacity(rows.len());
        for (chat_id, last) in rows {
            let info = self.chat_info(conn, chat_id)?.unwrap_or_default();
            let participants = self.participants(conn, chat_id)?;
            let mut chat = json!({
                "id": chat_id,
                "identifier": info.identifier,
                "guid": info.guid,
                "name": info.name,
                "service": info.service,
                "last_message_at": apple_ns_to_iso(last),
                "participants": participants,
                "is_group": info.is_group(),
            });
            if let (false, Some(name), Some(map)) = (
                info.is_group(),
                self.contact_name(&info.identifier),
                chat.as_object_mut(),
            ) {
                map.insert("contact_name".into(), name.into());
            }
            chats.push(chat);
        }
        Ok(chats)
    }

    /// The rows of `messages.history`, newest first, with its participant and date filters.
    pub(crate) fn history(
        &self,
        conn: &Connection,
        q: &HistoryQuery,
    ) -> rusqlite::Result<Vec<Value>> {
        let cols = &self.columns;
        let mut sql = format!(
            "SELECT {} FROM message m JOIN chat_message_join cmj ON cmj.message_id = m.ROWID AND cmj.chat_id = ?1 \
             LEFT JOIN handle h ON h.ROWID = m.handle_id WHERE 1 = 1{}",
            cols.projection(),
            cols.not_tapback()
        );
        let mut args: Vec<rusqlite::types::Value> = vec![q.chat_id.into()];
        if let Some(start) = q.start {
            args.push(start.into());
            sql.push_str(&format!(" AND m.date >= ?{}", args.len()));
        }
        if let Some(end) = q.end {
            args.push(end.into());
            sql.push_str(&format!(" AND m.date < ?{}", args.len()));
        }
        if !q.participants.is_empty() {
            let mut marks = Vec::new();
            for p in &q.participants {
                args.push(p.clone().into());
                marks.push(format!("?{}", args.len()));
            }
            sql.push_str(&format!(
                " AND COALESCE(NULLIF(h.id, ''), {}) COLLATE NOCASE IN ({})",
                cols.col(cols.destination_caller_id, "m.destination_caller_id"),
                marks.join(", ")
            ));
        }
        args.push(q.limit.into());
        sql.push_str(&format!(" ORDER BY m.date DESC LIMIT ?{}", args.len()));
        let rows: Vec<MessageRow> = conn
            .prepare(&sql)?
            .query_map(params_from_iter(args), MessageRow::read)?
            .collect::<rusqlite::Result<_>>()?;
        let opts = BuildOptions {
            attachments: q.attachments,
            reactions: true,
            reaction_event: false,
        };
        let mut parents = ParentCache::default();
        rows.iter()
            .map(|row| self.message_json(conn, row, q.chat_id, opts, &mut parents))
            .collect()
    }

    /// One watch poll: rows above the cursor in ROWID order, at most 100, each with its joined chat id.
    pub(crate) fn poll_rows(
        &self,
        conn: &Connection,
        cursor: i64,
        chat_id: Option<i64>,
        include_reactions: bool,
    ) -> rusqlite::Result<Vec<(MessageRow, Option<i64>)>> {
        let cols = &self.columns;
        let mut sql = format!(
            "SELECT {}, cmj.chat_id FROM message m LEFT JOIN chat_message_join cmj ON cmj.message_id = m.ROWID \
             LEFT JOIN handle h ON h.ROWID = m.handle_id WHERE m.ROWID > ?1",
            cols.projection()
        );
        if !include_reactions {
            sql.push_str(cols.not_tapback());
        }
        let mut args: Vec<i64> = vec![cursor];
        if let Some(id) = chat_id {
            args.push(id);
            sql.push_str(" AND cmj.chat_id = ?2");
        }
        sql.push_str(" ORDER BY m.ROWID ASC, cmj.chat_id ASC LIMIT 100");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok((MessageRow::read(r)?, r.get::<_, Option<i64>>(13)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Whether a URL-preview balloon row is a duplicate to skip; updates the process-wide state.
    pub(crate) fn is_balloon_duplicate(
        &self,
        row: &MessageRow,
        chat_id: i64,
        text: &str,
        sender: &str,
    ) -> bool {
        if row.balloon.as_deref() != Some("com.apple.messages.URLBalloonProvider")
            || text.is_empty()
        {
            return false;
        }
        let Ok(mut map) = self.balloons.lock() else {
            return false;
        };
        let date = row.date.unwrap_or(0);
        map.retain(|_, (seen, _)| *seen >= date.saturating_sub(600_000_000_000));
        let key = (chat_id, row.is_from_me, sender.to_owned(), text.to_owned());
        match map.get_mut(&key) {
            Some((prev_date, prev_rowid)) => {
                let skip =
                    date <= prev_date.saturating_add(90_000_000_000) || row.rowid <= *prev_rowid;
                if row.rowid > *prev_rowid {
                    *prev_date = date;
                    *prev_rowid = row.rowid;
                }
                skip
            }
            None => {
                map.insert(key, (date, row.rowid));
                false
            }
        }
    }

    /// Builds the Message object of imsg 0.9.0 for one row in one chat (0 = no chat).
    pub(crate) fn message_json(
        &self,
        conn: &Connection,
        row: &MessageRow,
        chat_id: i64,
        opts: BuildOptions,
        parents: &mut ParentCache,
    ) -> rusqlite::Result<Value> {
        let mut m = Map::new();
        m.insert("id".into(), row.rowid.into());
        m.insert("chat_id".into(), chat_id.into());
        m.insert("guid".into(), row.guid.clone().unwrap_or_default().into());
        let tapback = row.is_tapback();
        if !tapback {
            if let Some(reply) = row.assoc_guid.as_deref().filter(|g| !g.is_empty()) {
                m.insert("reply_to_guid".into(), strip_part_prefix(reply).into());
            }
            let thread = row.thread_originator.as_deref().filter(|g| !g.is_empty());
            if let Some(thread) = thread {
                m.insert("thread_originator_guid".into(), thread.into());
            }
            let reply = row
                .assoc_guid
                .as_deref()
                .filter(|g| !g.is_empty())
                .map(strip_part_prefix);
            let mut parent = None;
            for candidate in [thread, reply.as_deref()].into_iter().flatten() {
                parent = self.parent(conn, candidate, parents)?;
                if parent.is_some() {
                    break;
                }
            }
            if let Some((text, sender)) = parent {
                m.insert("reply_to_text".into(), text.into());
                m.insert("reply_to_sender".into(), sender.into());
            }
        }
        m.insert("sender".into(), row.effective_sender().into());
        m.insert("is_from_me".into(), row.is_from_me.into());
        if let Some(name) = self
            .contact_name(&row.effective_sender())
            .filter(|_| !row.is_from_me)
        {
            m.insert("sender_name".into(), name.into());
        }
        let transcription = if row.is_audio {
            self.transcription(conn, row.rowid)?
        } else {
            None
        };
        m.insert(
            "text".into(),
            transcription.unwrap_or_else(|| row.resolved_text()).into(),
        );
        m.insert("created_at".into(), apple_ns_to_iso(row.date).into());
        let attachments = if opts.attachments {
            self.attachments(conn, row.rowid)?
        } else {
            Vec::new()
        };
        m.insert("attachments".into(), attachments.into());
        let reactions = if opts.reactions {
            self.reactions(conn, row.guid.as_deref())?
        } else {
            Vec::new()
        };
        m.insert("reactions".into(), reactions.into());
        if let Some(dest) = row
            .destination_caller_id
            .as_deref()
            .filter(|d| !d.is_empty())
        {
            m.insert("destination_caller_id".into(), dest.into());
        }
        let info = if chat_id == 0 {
            None
        } else {
            self.chat_info(conn, chat_id)?
        };
        let participants = if info.is_some() {
            self.participants(conn, chat_id)?
        } else {
            Vec::new()
        };
        let info = info.unwrap_or_default();
        m.insert("chat_identifier".into(), info.identifier.clone().into());
        m.insert("chat_guid".into(), info.guid.clone().into());
        m.insert("chat_name".into(), info.name.clone().into());
        m.insert("participants".into(), participants.into());
        m.insert("is_group".into(), info.is_group().into());
        if tapback && opts.reaction_event {
            let code = row.assoc_type.unwrap_or(0);
            m.insert("is_reaction".into(), true.into());
            if let Some((kind, emoji)) = decode_reaction(code, &row.resolved_text()) {
                m.insert("reaction_type".into(), kind.into());
                m.insert("reaction_emoji".into(), emoji.into());
            }
            m.insert("is_reaction_add".into(), (code < 3000).into());
            let target = row
                .assoc_guid
                .as_deref()
                .map(strip_part_prefix)
                .unwrap_or_default();
            m.insert("reacted_to_guid".into(), target.into());
        }
        Ok(Value::Object(m))
    }

    /// The reply parent's (text, effective sender) by guid, cached per query including misses.
    fn parent(
        &self,
        conn: &Connection,
        guid: &str,
        cache: &mut ParentCache,
    ) -> rusqlite::Result<Option<(String, String)>> {
        if let Some(hit) = cache.0.get(guid) {
            return Ok(hit.clone());
        }
        let found = if self.columns.reactions {
            let sql = format!(
                "SELECT {}, NULL FROM message m LEFT JOIN handle h ON h.ROWID = m.handle_id WHERE m.guid = ?1 LIMIT 1",
                self.columns.projection()
            );
            conn.prepare_cached(&sql)?
                .query_row([guid], MessageRow::read)
                .optional()?
                .map(|r| (r.resolved_text(), r.effective_sender()))
        } else {
            None
        };
        cache.0.insert(guid.to_owned(), found.clone());
        Ok(found)
    }

    /// The `audio-transcription` of the first attachment's `user_info` plist, which replaces an audio
    /// message's text.
    fn transcription(&self, conn: &Connection, rowid: i64) -> rusqlite::Result<Option<String>> {
        if !self.columns.user_info {
            return Ok(None);
        }
        let blob: Option<Option<Vec<u8>>> = conn
            .prepare_cached(
                "SELECT a.user_info FROM message_attachment_join maj JOIN attachment a ON a.ROWID = maj.attachment_id \
                 WHERE maj.message_id = ?1 LIMIT 1",
            )?
            .query_row([rowid], |r| r.get(0))
            .optional()?;
        Ok(blob
            .flatten()
            .as_deref()
            .and_then(crate::plist::transcription))
    }

    /// The Attachment objects of imsg 0.9.0, in SQLite's natural order.
    fn attachments(&self, conn: &Connection, rowid: i64) -> rusqlite::Result<Vec<Value>> {
        let mut stmt = conn.prepare_cached(
            "SELECT a.filename, a.transfer_name, a.uti, a.mime_type, a.total_bytes, a.is_sticker \
             FROM message_attachment_join maj JOIN attachment a ON a.ROWID = maj.attachment_id \
             WHERE maj.message_id = ?1",
        )?;
        let rows = stmt.query_map([rowid], |r| {
            let filename: String = r.get::<_, Option<String>>(0)?.unwrap_or_default();
            let original = expand_tilde(&filename);
            let missing =
                original.is_empty() || !std::fs::metadata(&original).is_ok_and(|m| !m.is_dir());
            Ok(json!({
                "filename": filename,
                "transfer_name": r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                "uti": r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                "mime_type": r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                "total_bytes": r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                "is_sticker": r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
                "original_path": original,
                "missing": missing,
            }))
        })?;
        rows.collect()
    }

    /// The aggregated tapbacks on a message.
    fn reactions(&self, conn: &Connection, guid: Option<&str>) -> rusqlite::Result<Vec<Value>> {
        let Some(guid) = guid.filter(|g| !g.is_empty() && self.columns.reactions) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT r.ROWID, r.associated_message_type, IFNULL(h.id, ''), IFNULL(r.is_from_me, 0), r.date, \
             IFNULL(r.text, ''), {} FROM message r LEFT JOIN handle h ON h.ROWID = r.handle_id \
             WHERE (r.associated_message_guid = ?1 OR r.associated_message_guid LIKE '%/' || ?1) \
             AND r.associated_message_type BETWEEN 2000 AND 3006 ORDER BY r.date ASC",
            self.columns
                .col(self.columns.attributed_body, "r.attributedBody")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([guid], |r| {
            let text: String = r.get(5)?;
            let body: Option<Vec<u8>> = r.get(6)?;
            let text = if text.is_empty() {
                decode_attributed_body(body.as_deref().unwrap_or_default())
            } else {
                text
            };
            Ok(Tapback {
                rowid: r.get(0)?,
                code: r.get(1)?,
                sender: r.get(2)?,
                is_from_me: r.get::<_, i64>(3)? != 0,
                date: r.get(4)?,
                text,
            })
        })?;
        let mut entries: Vec<(String, Tapback)> = Vec::new();
        for tapback in rows {
            let t = tapback?;
            let adding = (2000..=2006).contains(&t.code);
            let removing = (3000..=3006).contains(&t.code);
            if !adding && !removing {
                continue;
            }
            let decoded = decode_reaction(t.code, &t.text);
            let owner = |e: &Tapback| e.sender == t.sender && e.is_from_me == t.is_from_me;
            match decoded {
                Some((kind, emoji)) => {
                    let key = format!("{kind}\u{0}{emoji}");
                    let pos = entries.iter().position(|(k, e)| *k == key && owner(e));
                    match (adding, pos) {
                        (true, Some(i)) => entries[i].1 = t,
                        (true, None) => entries.push((key, t)),
                        (false, Some(i)) => {
                            entries.remove(i);
                        }
                        (false, None) => {}
                    }
                }
                None if t.code == 3006 => {
                    if let Some(i) = entries
                        .iter()
                        .position(|(k, e)| k.starts_with("custom\u{0}") && owner(e))
                    {
                        entries.remove(i);
                    }
                }
                None => {}
            }
        }
        Ok(entries
            .into_iter()
            .map(|(key, t)| {
                let (kind, emoji) = key.split_once('\u{0}').unwrap_or((key.as_str(), ""));
                let mut reaction = json!({
                    "id": t.rowid,
                    "type": kind,
                    "emoji": emoji,
                    "sender": t.sender,
                    "is_from_me": t.is_from_me,
                    "created_at": apple_ns_to_iso(t.date),
                });
                if let (false, Some(name), Some(map)) = (
                    t.is_from_me,
                    self.contact_name(&t.sender),
                    reaction.as_object_mut(),
                ) {
                    map.insert("sender_name".into(), name.into());
                }
                reaction
            })
            .collect())
    }
}

struct Tapback {
    rowid: i64,
    code: i64,
    sender: String,
    is_from_me: bool,
    date: Option<i64>,
    text: String,
}

/// Per-query cache of reply parents, including misses.
#[derive(Debug, Default)]
pub(crate) struct ParentCache(HashMap<String, Option<(String, String)>>);

/// What a payload includes beyond the always-present keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildOptions {
    pub(crate) attachments: bool,
    pub(crate) reactions: bool,
    pub(crate) reaction_event: bool,
}

/// The validated parameters of `messages.history`.
#[derive(Debug)]
pub(crate) struct HistoryQuery {
    pub(crate) chat_id: i64,
    pub(crate) limit: i64,
    pub(crate) participants: Vec<String>,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
    pub(crate) attachments: bool,
}

/// One message row read through the shared projection.
#[derive(Debug, Clone)]
pub(crate) struct MessageRow {
    pub(crate) rowid: i64,
    handle: String,
    text: String,
    pub(crate) date: Option<i64>,
    pub(crate) is_from_me: bool,
    destination_caller_id: Option<String>,
    guid: Option<String>,
    assoc_guid: Option<String>,
    assoc_type: Option<i64>,
    body: Option<Vec<u8>>,
    thread_originator: Option<String>,
    balloon: Option<String>,
    is_audio: bool,
}

impl MessageRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            rowid: r.get(0)?,
            handle: r.get(1)?,
            text: r.get(2)?,
            date: r.get(3)?,
            is_from_me: r.get::<_, i64>(4)? != 0,
            destination_caller_id: r.get(5)?,
            guid: r.get(6)?,
            assoc_guid: r.get(7)?,
            assoc_type: r.get(8)?,
            body: r.get(9)?,
            thread_originator: r.get(10)?,
            balloon: r.get(11)?,
            is_audio: r.get::<_, Option<i64>>(12)?.unwrap_or(0) != 0,
        })
    }

    /// Whether the row is a tapback add (2000..2006) or removal (3000..3006). Other associated types, such
    /// as 1000 or 2007..2999, are ordinary messages whose associated guid becomes `reply_to_guid`,
    /// even though the SQL exclusion range 2000..3006 hides 2007..2999 when reactions are not included.
    fn is_tapback(&self) -> bool {
        self.assoc_type
            .is_some_and(|t| (2000..=2006).contains(&t) || (3000..=3006).contains(&t))
    }

    /// `handle.id`, or `destination_caller_id` when that is empty.
    pub(crate) fn effective_sender(&self) -> String {
        if self.handle.is_empty() {
            self.destination_caller_id.clone().unwrap_or_default()
        } else {
            self.handle.clone()
        }
    }

    /// `text`, or the `attributedBody` fallback when the text is empty.
    pub(crate) fn resolved_text(&self) -> String {
        match &self.body {
            Some(body) if self.text.is_empty() && !body.is_empty() => decode_attributed_body(body),
            _ => self.text.clone(),
        }
    }
}

/// Removes everything up to and including the last `/` (`p:0/ABC` -> `ABC`).
fn strip_part_prefix(guid: &str) -> String {
    guid.rsplit_once('/')
        .map_or(guid, |(_, rest)| rest)
        .to_owned()
}

/// Decodes a tapback code into (type, emoji); custom reactions need an emoji found in the row's text.
fn decode_reaction(code: i64, text: &str) -> Option<(&'static str, String)> {
    let fixed = |kind: &'static str, emoji: &str| Some((kind, emoji.to_owned()));
    match code.rem_euclid(1000) {
        0 => fixed("love", "❤️"),
        1 => fixed("like", "👍"),
        2 => fixed("dislike", "👎"),
        3 => fixed("laugh", "😂"),
        4 => fixed("emphasis", "‼️"),
        5 => fixed("question", "❓"),
        6 => custom_emoji(text).map(|e| ("custom", e)),
        _ => None,
    }
}

/// The custom emoji of a reaction text: between `Reacted ` and ` to `, else the first emoji in the text.
fn custom_emoji(text: &str) -> Option<String> {
    if let Some(rest) = text.split_once("Reacted ").map(|(_, r)| r)
        && let Some((emoji, _)) = rest.split_once(" to ")
        && !emoji.is_empty()
    {
        return Some(emoji.to_owned());
    }
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if is_emoji(c) {
            let mut end = start + c.len_utf8();
            // Keep variation selectors, skin tones and zero-width-joiner sequences attached to the emoji.
            while let Some(&(i, next)) = chars.peek() {
                if matches!(next, '\u{FE0F}' | '\u{200D}' | '\u{1F3FB}'..='\u{1F3FF}')
                    || (text[start..i].ends_with('\u{200D}') && is_emoji(next))
                {
                    end = i + next.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            return Some(text[start..end].to_owned());
        }
    }
    None
}

fn is_emoji(c: char) -> bool {
    matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{203C}' | '\u{2049}')
}

/// Expands a leading `~` to `$HOME`, as imsg does for `--db`, `file` and attachment paths.
pub(crate) fn expand_tilde(path: &str) -> String {
    if (path == "~" || path.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return format!("{}{}", home.to_string_lossy(), &path[1..]);
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_tapback_codes() {
        type Case<'a> = (i64, &'a str, Option<(&'a str, &'a str)>);
        let cases: &[Case<'_>] = &[
            (2000, "Loved “x”", Some(("love", "❤️"))),
            (2001, "", Some(("like", "👍"))),
            (3004, "", Some(("emphasis", "‼️"))),
            (2006, "Reacted 🎉 to “hello”", Some(("custom", "🎉"))),
            (2006, "Reacted with 👍🏽 on “x”", Some(("custom", "👍🏽"))),
            (3006, "Removed a reaction", None),
            (2007, "x", None),
        ];
        for (code, text, want) in cases {
            let got = decode_reaction(*code, text);
            assert_eq!(
                got.as_ref().map(|(k, e)| (*k, e.as_str())),
                *want,
                "{code} {text}"
            );
        }
    }

    #[test]
    fn strips_part_prefixes() {
        for (input, want) in [
            ("p:0/ABC", "ABC"),
            ("bp:ABC", "bp:ABC"),
            ("a/b/c", "c"),
            ("", ""),
        ] {
            assert_eq!(strip_part_prefix(input), want);
        }
    }
}
