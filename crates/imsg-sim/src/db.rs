//! Writing chat.db the way Messages.app does: the schema subset imsg reads and inbound or outgoing message rows.
//!
//! Tests use this module to seed a database from Rust; the `init` and `inject` subcommands and the
//! simulated `send` go through the same code, so all three write identical row shapes.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Errors of the database writers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite refused an operation.
    #[error("database operation failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A tapback names a message guid that is not in the database.
    #[error("no message has guid `{0}`")]
    UnknownTarget(String),
    /// The message has neither a sender nor a chat to go to.
    #[error("a message needs a sender handle")]
    MissingSender,
}

/// The realistic DDL subset: the tables and columns of a real chat.db that imsg 0.9.0 reads.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
  service TEXT NOT NULL DEFAULT 'iMessage', uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service));
CREATE TABLE IF NOT EXISTS chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
  state INTEGER, account_id TEXT, chat_identifier TEXT, service_name TEXT, room_name TEXT,
  account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT, group_id TEXT);
CREATE TABLE IF NOT EXISTS message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,
  handle_id INTEGER DEFAULT 0, subject TEXT, attributedBody BLOB, service TEXT, account TEXT,
  date INTEGER, date_read INTEGER, date_delivered INTEGER, is_from_me INTEGER DEFAULT 0,
  is_read INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, item_type INTEGER DEFAULT 0,
  associated_message_guid TEXT DEFAULT NULL, associated_message_type INTEGER DEFAULT 0,
  balloon_bundle_id TEXT DEFAULT NULL, expressive_send_style_id TEXT DEFAULT NULL,
  destination_caller_id TEXT DEFAULT NULL, reply_to_guid TEXT DEFAULT NULL,
  thread_originator_guid TEXT DEFAULT NULL, thread_originator_part TEXT DEFAULT NULL,
  is_audio_message INTEGER DEFAULT 0, date_edited INTEGER DEFAULT 0, date_retracted INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
  PRIMARY KEY (chat_id, message_id));
CREATE TABLE IF NOT EXISTS chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE IF NOT EXISTS attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  created_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT, transfer_state INTEGER DEFAULT 0,
  is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT, total_bytes INTEGER DEFAULT 0,
  is_sticker INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
  attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
";

/// Creates the Messages schema subset in `path`, creating the file if needed, in WAL mode.
///
/// Running it on a database that already has the tables changes nothing.
///
/// # Errors
///
/// [`DbError::Sqlite`] when the file cannot be created or written.
pub fn init_schema(path: &Path) -> Result<(), DbError> {
    let conn = open_writer(path)?;
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// Opens a read-write connection the way a second process (Messages.app) would, in WAL mode.
pub(crate) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(conn)
}

/// Which service a message or chat belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Service {
    /// `iMessage`.
    #[default]
    IMessage,
    /// `SMS`.
    Sms,
}

impl Service {
    fn as_str(self) -> &'static str {
        match self {
            Self::IMessage => "iMessage",
            Self::Sms => "SMS",
        }
    }
}

/// A group chat a message belongs to; `None` in [`Message::group`] means a direct chat with the sender.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The chat identifier, e.g. `chat123456789`; the guid becomes `iMessage;+;<identifier>`.
    pub identifier: String,
    /// The display name, or `None` for an unnamed group.
    pub name: Option<String>,
    /// Member handles besides the sender; all are joined to the chat.
    pub members: Vec<String>,
}

/// A file attached to a message.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// The `attachment.filename` value, stored as given (may start with `~`).
    pub filename: String,
    /// The MIME type; guessed from the extension when `None`.
    pub mime_type: Option<String>,
    /// The size in bytes; read from the file (0 if absent) when `None`.
    pub total_bytes: Option<i64>,
    /// Whether it is a sticker.
    pub is_sticker: bool,
}

/// A tapback on an earlier message.
#[derive(Debug, Clone, Default)]
pub struct Tapback {
    /// `love`, `like`, `dislike`, `laugh`, `emphasis` or `question`, or an emoji for a custom reaction.
    pub kind: String,
    /// The guid of the message reacted to.
    pub target_guid: String,
    /// Whether this removes the reaction (types 3000..3006) instead of adding it (2000..2006).
    pub remove: bool,
}

/// One message row to write, with everything Messages.app writes alongside it.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// The other party's handle: the sender of an inbound message, the recipient of an outgoing direct one.
    pub handle: String,
    /// The text; `None` writes a NULL `text`.
    pub text: Option<String>,
    /// Store the text only in `attributedBody`, leaving `text` NULL, as modern macOS often does.
    pub body_only: bool,
    /// iMessage or SMS.
    pub service: Service,
    /// The group chat, or `None` for the direct chat with [`Message::handle`].
    pub group: Option<Group>,
    /// Whether the row is outgoing (`is_from_me = 1`).
    pub from_me: bool,
    /// Apple-epoch nanoseconds; `None` means now.
    pub date: Option<i64>,
    /// The message guid; `None` generates an uppercase UUID.
    pub guid: Option<String>,
    /// `destination_caller_id`: the local account's handle.
    pub destination_caller_id: Option<String>,
    /// Files attached to the message.
    pub attachments: Vec<Attachment>,
    /// Makes the row a tapback on another message; the summary text is generated when `text` is `None`.
    pub tapback: Option<Tapback>,
    /// `thread_originator_guid` of an inline reply.
    pub thread_originator_guid: Option<String>,
    /// `balloon_bundle_id`, e.g. `com.apple.messages.URLBalloonProvider` for a link preview.
    pub balloon_bundle_id: Option<String>,
    /// Write no `chat_message_join` row (an "anchorless" row).
    pub unjoined: bool,
    /// Makes the row an audio message (`is_audio_message = 1`) whose first attachment's `user_info` carries
    /// this transcription; imsg then reports the transcription as the text.
    pub audio_transcription: Option<String>,
}

/// What [`inject`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// The new `message.ROWID`.
    pub rowid: i64,
    /// The message guid.
    pub guid: String,
    /// The chat the row was joined to, or `None` for an unjoined row.
    pub chat_id: Option<i64>,
}

/// Writes one message the way Messages.app does: handles, the chat (created when new), its members, the
/// message row, the chat join and attachment rows, all in one transaction.
///
/// # Errors
///
/// [`DbError::MissingSender`] for an empty handle, [`DbError::UnknownTarget`] for a tapback on an unknown
/// guid, [`DbError::Sqlite`] when the database cannot be written.
pub fn inject(path: &Path, message: &Message) -> Result<Injected, DbError> {
    let mut conn = open_writer(path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let injected = write_message(&tx, message)?;
    tx.commit()?;
    Ok(injected)
}

/// Writes a message inside an open transaction; shared by [`inject`] and the simulated `send`.
pub(crate) fn write_message(conn: &Connection, message: &Message) -> Result<Injected, DbError> {
    write_message_in(conn, message, None)
}

/// Writes a message into `existing_chat` when given, or into the chat its handle or group names.
pub(crate) fn write_message_in(
    conn: &Connection,
    message: &Message,
    existing_chat: Option<i64>,
) -> Result<Injected, DbError> {
    if message.handle.is_empty() && message.group.is_none() && existing_chat.is_none() {
        return Err(DbError::MissingSender);
    }
    let service = message.service;
    let handle_rowid = if message.handle.is_empty() {
        0
    } else {
        ensure_handle(conn, &message.handle, service)?
    };
    let chat_id = if message.unjoined {
        None
    } else if existing_chat.is_some() {
        existing_chat
    } else {
        Some(match &message.group {
            Some(group) => {
                let guid = format!("{};+;{}", service.as_str(), group.identifier);
                let chat = ensure_chat(
                    conn,
                    &guid,
                    &group.identifier,
                    service,
                    43,
                    group.name.as_deref(),
                )?;
                let mut members = group.members.clone();
                if !message.handle.is_empty() {
                    members.push(message.handle.clone());
                }
                for member in members {
                    let h = ensure_handle(conn, &member, service)?;
                    conn.execute("INSERT OR IGNORE INTO chat_handle_join (chat_id, handle_id) VALUES (?1, ?2)", params![chat, h])?;
                }
                chat
            }
            None => {
                let guid = format!("{};-;{}", service.as_str(), message.handle);
                let chat = ensure_chat(conn, &guid, &message.handle, service, 45, None)?;
                conn.execute(
                    "INSERT OR IGNORE INTO chat_handle_join (chat_id, handle_id) VALUES (?1, ?2)",
                    params![chat, handle_rowid],
                )?;
                chat
            }
        })
    };
    let date = message.date.unwrap_or_else(crate::dates::now_apple_ns);
    let guid = message.guid.clone().unwrap_or_else(new_guid);
    let (assoc_guid, assoc_type, generated_text) = match &message.tapback {
        Some(t) => {
            let target_text: Option<String> = conn
                .query_row(
                    "SELECT IFNULL(text, ''), attributedBody FROM message WHERE guid = ?1",
                    [&t.target_guid],
                    |r| {
                        let text: String = r.get(0)?;
                        let body: Option<Vec<u8>> = r.get(1)?;
                        Ok(if text.is_empty() {
                            crate::body::decode_attributed_body(body.as_deref().unwrap_or_default())
                        } else {
                            text
                        })
                    },
                )
                .optional()?;
            let target_text =
                target_text.ok_or_else(|| DbError::UnknownTarget(t.target_guid.clone()))?;
            let (code, summary) = tapback_summary(&t.kind, t.remove, &target_text);
            (Some(format!("p:0/{}", t.target_guid)), code, Some(summary))
        }
        None => (None, 0, None),
    };
    let text = message.text.clone().or(generated_text).or_else(|| {
        // Messages.app stores attachment-only messages with one object replacement character per file.
        (!message.attachments.is_empty()).then(|| "\u{FFFC}".repeat(message.attachments.len()))
    });
    let (text_col, body) = match &text {
        // An explicitly empty text gets no attributedBody: Messages never archives an empty string.
        Some(t) if t.is_empty() => (Some(String::new()), None),
        Some(t) if message.body_only => (None, Some(crate::body::encode_attributed_body(t))),
        Some(t) => (
            Some(t.clone()),
            Some(crate::body::encode_attributed_body(t)),
        ),
        None => (None, None),
    };
    let group_outgoing = message.from_me && message.group.is_some();
    conn.execute(
        "INSERT INTO message (guid, text, handle_id, attributedBody, service, account, date, date_read, date_delivered,
           is_from_me, is_read, cache_has_attachments, associated_message_guid, associated_message_type,
           balloon_bundle_id, destination_caller_id, thread_originator_guid, is_audio_message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            guid,
            text_col,
            if group_outgoing { 0 } else { handle_rowid },
            body,
            service.as_str(),
            message.destination_caller_id.as_ref().map(|h| format!("E:{h}")),
            date,
            message.from_me,
            message.from_me,
            !message.attachments.is_empty(),
            assoc_guid,
            assoc_type,
            message.balloon_bundle_id,
            message.destination_caller_id,
            message.thread_originator_guid,
            message.audio_transcription.is_some(),
        ],
    )?;
    let rowid = conn.last_insert_rowid();
    if let Some(chat) = chat_id {
        conn.execute(
            "INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?1, ?2, ?3)",
            params![chat, rowid, date],
        )?;
    }
    for (i, attachment) in message.attachments.iter().enumerate() {
        // Messages keeps the transcription in the first attachment's `user_info` plist.
        let user_info = message
            .audio_transcription
            .as_deref()
            .filter(|_| i == 0)
            .map(crate::plist::encode_transcription);
        write_attachment(conn, rowid, attachment, message.from_me, date, user_info)?;
    }
    Ok(Injected {
        rowid,
        guid,
        chat_id,
    })
}

fn write_attachment(
    conn: &Connection,
    rowid: i64,
    a: &Attachment,
    outgoing: bool,
    date: i64,
    user_info: Option<Vec<u8>>,
) -> Result<(), DbError> {
    let transfer_name = a.filename.rsplit('/').next().unwrap_or_default().to_owned();
    let ext = transfer_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (uti, guessed_mime) = type_for_extension(&ext);
    let mime = a.mime_type.clone().or(guessed_mime.map(str::to_owned));
    let size = match a.total_bytes {
        Some(n) => n,
        None => std::fs::metadata(crate::store::expand_tilde(&a.filename))
            .map(|m| i64::try_from(m.len()).unwrap_or(i64::MAX))
            .unwrap_or(0),
    };
    conn.execute(
        "INSERT INTO attachment (guid, created_date, filename, uti, mime_type, transfer_state, is_outgoing,
           transfer_name, total_bytes, is_sticker, user_info) VALUES (?1, ?2, ?3, ?4, ?5, 5, ?6, ?7, ?8, ?9, ?10)",
        params![
            format!("at_0_{}", new_guid()),
            date / 1_000_000_000,
            a.filename,
            uti,
            mime,
            outgoing,
            transfer_name,
            size,
            a.is_sticker,
            user_info
        ],
    )?;
    let attachment_id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?1, ?2)",
        params![rowid, attachment_id],
    )?;
    Ok(())
}

/// The UTI and MIME type Messages records for common file extensions.
fn type_for_extension(ext: &str) -> (&'static str, Option<&'static str>) {
    match ext {
        "jpg" | "jpeg" => ("public.jpeg", Some("image/jpeg")),
        "png" => ("public.png", Some("image/png")),
        "gif" => ("com.compuserve.gif", Some("image/gif")),
        "heic" => ("public.heic", Some("image/heic")),
        "caf" => ("com.apple.coreaudio-format", Some("audio/x-caf")),
        "m4a" => ("com.apple.m4a-audio", Some("audio/x-m4a")),
        "mp3" => ("public.mp3", Some("audio/mpeg")),
        "mp4" => ("public.mpeg-4", Some("video/mp4")),
        "mov" => ("com.apple.quicktime-movie", Some("video/quicktime")),
        "pdf" => ("com.adobe.pdf", Some("application/pdf")),
        "txt" => ("public.plain-text", Some("text/plain")),
        "vcf" => ("public.vcard", Some("text/vcard")),
        _ => ("public.data", None),
    }
}

/// The associated type code and the summary text Messages writes for a tapback.
fn tapback_summary(kind: &str, remove: bool, target: &str) -> (i64, String) {
    let (offset, verb, noun) = match kind {
        "love" => (0, "Loved", "a heart"),
        "like" => (1, "Liked", "a like"),
        "dislike" => (2, "Disliked", "a dislike"),
        "laugh" => (3, "Laughed at", "a laugh"),
        "emphasis" | "emphasize" => (4, "Emphasized", "an exclamation"),
        "question" => (5, "Questioned", "a question mark"),
        emoji => {
            let code = if remove { 3006 } else { 2006 };
            let text = if remove {
                format!("Removed {emoji} from “{target}”")
            } else {
                format!("Reacted {emoji} to “{target}”")
            };
            return (code, text);
        }
    };
    if remove {
        (3000 + offset, format!("Removed {noun} from “{target}”"))
    } else {
        (2000 + offset, format!("{verb} “{target}”"))
    }
}

/// Finds a handle row by (id, service), creating it when missing.
pub(crate) fn ensure_handle(
    conn: &Connection,
    id: &str,
    service: Service,
) -> rusqlite::Result<i64> {
    let found = conn
        .query_row(
            "SELECT ROWID FROM handle WHERE id = ?1 AND service = ?2",
            params![id, service.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(rowid) = found {
        return Ok(rowid);
    }
    conn.execute(
        "INSERT INTO handle (id, service, uncanonicalized_id) VALUES (?1, ?2, ?1)",
        params![id, service.as_str()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Finds a chat by guid, creating it when missing.
pub(crate) fn ensure_chat(
    conn: &Connection,
    guid: &str,
    identifier: &str,
    service: Service,
    style: i64,
    name: Option<&str>,
) -> rusqlite::Result<i64> {
    let found = conn
        .query_row("SELECT ROWID FROM chat WHERE guid = ?1", [guid], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(rowid) = found {
        return Ok(rowid);
    }
    conn.execute(
        "INSERT INTO chat (guid, style, state, chat_identifier, service_name, display_name, group_id)
         VALUES (?1, ?2, 3, ?3, ?4, ?5, ?6)",
        params![guid, style, identifier, service.as_str(), name, new_guid()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A new uppercase UUID (version 4), the shape of Messages guids.
pub(crate) fn new_guid() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without an entropy source, fall back to the clock; uniqueness within one test run is all that matters.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Apple-epoch nanoseconds for the current time, the unit of `message.date`.
#[must_use]
pub fn apple_ns_now() -> i64 {
    crate::dates::now_apple_ns()
}

/// Encodes `text` as an `attributedBody` blob that imsg decodes back to the same text.
#[must_use]
pub fn attributed_body(text: &str) -> Vec<u8> {
    crate::body::encode_attributed_body(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_uppercase_uuids() {
        let g = new_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(g.to_uppercase(), g);
        assert_eq!(g.as_bytes()[14], b'4');
        assert_ne!(new_guid(), g);
    }

    #[test]
    fn tapback_summaries() {
        let cases = [
            ("like", false, (2001, "Liked “hi”")),
            ("love", true, (3000, "Removed a heart from “hi”")),
            ("🎉", false, (2006, "Reacted 🎉 to “hi”")),
            ("question", false, (2005, "Questioned “hi”")),
        ];
        for (kind, remove, (code, text)) in cases {
            assert_eq!(tapback_summary(kind, remove, "hi"), (code, text.to_owned()));
        }
    }
}
