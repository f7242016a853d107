//! The command line of `imsg` 0.9.0 as clients probe it (`--version`, `--help`, `rpc`, `status`, `chats`,
//! unknown commands), plus the simulator's own `init` and `inject` test-driver commands.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use crate::db::{self, Attachment, Group, Message, Service, Tapback};
use crate::output::Output;
use crate::settings::Settings;

/// The compiled version imsg reports.
const VERSION: &str = "0.9.0";

/// Every RPC method of 0.9.0 in the order `status --json` lists them.
const RPC_METHODS: &[&str] = &[
    "chats.list",
    "chats.create",
    "chats.delete",
    "chats.markUnread",
    "messages.history",
    "watch.subscribe",
    "watch.unsubscribe",
    "send",
    "send.rich",
    "send.attachment",
    "tapback",
    "typing",
    "read",
    "message.edit",
    "message.unsend",
    "message.delete",
    "message.notifyAnyways",
    "group.rename",
    "group.setIcon",
    "group.addParticipant",
    "group.removeParticipant",
    "group.leave",
];

const ROOT_HELP: &str = "imsg
Send and read iMessage / SMS from the terminal (imsg-sim: a simulator over a SQLite chat.db)

Usage:
  imsg <command> [options]

Commands:
  chats\tList recent conversations
  rpc\tRun JSON-RPC over stdin/stdout
  status\tShow which features are available
  init\tCreate the Messages schema in a SQLite file (simulator only)
  inject\tWrite a message the way Messages.app does (simulator only)

Run 'imsg <command> --help' for the options of a command.
";

const RPC_HELP: &str = "imsg rpc
Run JSON-RPC over stdin/stdout

Usage:
  imsg rpc [options]

Options:
  --db <value>\tPath to chat.db (defaults to ~/Library/Messages/chat.db)
  --log-level, --logLevel <value>\tSet log level (trace|verbose|debug|info|warning|error|critical)
  -v, --verbose\tEnable verbose logging
  --json, -j, --json-output, --jsonOutput\tEmit machine-readable JSON output

Examples:
  imsg rpc
  imsg rpc --db ~/Library/Messages/chat.db
";

const STATUS_HELP: &str = "imsg status
Show which features are available

Usage:
  imsg status [options]

Options:
  --log-level, --logLevel <value>\tSet log level (trace|verbose|debug|info|warning|error|critical)
  -v, --verbose\tEnable verbose logging
  --json, -j, --json-output, --jsonOutput\tEmit machine-readable JSON output
";

const CHATS_HELP: &str = "imsg chats
List recent conversations

Usage:
  imsg chats [options]

Options:
  --limit <value>\tNumber of chats to list (default 20)
  --db <value>\tPath to chat.db (defaults to ~/Library/Messages/chat.db)
  --json, -j, --json-output, --jsonOutput\tEmit machine-readable JSON output
";

const INIT_HELP: &str = "imsg init (simulator only)
Create the Messages schema subset in a SQLite file, in WAL mode. Existing tables are kept.

Usage:
  imsg init --db <path>
";

const INJECT_HELP: &str = "imsg inject (simulator only)
Write one message into chat.db the way Messages.app does: the handle, the chat (created when new) and its
members, the message row, the chat join and any attachment rows, in one transaction. Prints
{\"rowid\":N,\"guid\":\"...\",\"chat_id\":N} on success.

Usage:
  imsg inject --db <path> --from <handle> [options]

Options:
  --db <path>\tThe chat.db to write (required)
  --from <handle>\tThe other party: sender of an inbound message, recipient of an outgoing direct one
  --text <text>\tThe message text (attachment-only rows default to U+FFFC per file)
  --body-only\tStore the text only in attributedBody and leave message.text NULL
  --sms\tUse the SMS service instead of iMessage
  --group <identifier>\tPost into the group chat iMessage;+;<identifier> instead of the direct chat
  --group-name <name>\tDisplay name of a newly created group chat
  --member <handle>\tAnother group member (repeatable)
  --from-me\tWrite an outgoing row (is_from_me = 1)
  --date <iso>\tThe message date as an ISO-8601 date-time with zone (default now)
  --date-ns <n>\tThe message date as Apple-epoch nanoseconds
  --guid <guid>\tThe message guid (default a new uppercase UUID)
  --attachment <path>\tAttach a file (repeatable); type and size come from the path
  --tapback <kind>\tMake a tapback: love, like, dislike, laugh, emphasis, question, or an emoji
  --target <guid>\tThe guid of the message a tapback reacts to
  --remove\tThe tapback removes the reaction instead of adding it
  --thread-originator <guid>\tMake an inline reply to that message
  --destination-caller-id <handle>\tThe local account's handle that received or sent the message
  --balloon <bundle-id>\tSet balloon_bundle_id, e.g. com.apple.messages.URLBalloonProvider
  --unjoined\tWrite no chat_message_join row (the message has no chat yet)
  --audio-transcription <text>\tMake an audio message whose first attachment carries this transcription
";

/// Runs the command line; `args` excludes the program name.
pub(crate) fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--version" || a == "-V") {
        let version = std::env::var("IMSG_VERSION").ok().filter(|v| !v.is_empty());
        return print(&format!("{}\n", version.as_deref().unwrap_or(VERSION)), 0);
    }
    if args.is_empty() || args.iter().any(|a| is_help(a)) {
        let command = args
            .iter()
            .filter(|a| !is_help(a))
            .take_while(|a| !a.starts_with('-'))
            .next();
        let page = match command.map(String::as_str) {
            Some("rpc") => RPC_HELP,
            Some("status") => STATUS_HELP,
            Some("chats") => CHATS_HELP,
            Some("init") => INIT_HELP,
            Some("inject") => INJECT_HELP,
            _ => ROOT_HELP,
        };
        return print(page, 0);
    }
    let rest = &args[1..];
    match args[0].as_str() {
        "rpc" => rpc(rest),
        "status" => status(rest),
        "chats" => chats(rest),
        "init" => init(rest),
        "inject" => inject(rest),
        other if other.starts_with('-') => print(&format!("Unknown option '{other}'\n"), 1),
        other => print(
            &format!("Unknown subcommand '{other}' for command 'imsg'\n"),
            1,
        ),
    }
}

fn is_help(arg: &str) -> bool {
    arg == "--help" || arg == "-h"
}

/// Writes to stdout (imsg writes even its errors there) and returns the exit code.
fn print(text: &str, code: u8) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::from(code)
}

/// Options every imsg command accepts, plus `--db` where the command takes one.
#[derive(Default)]
struct Common {
    db: Option<String>,
    json: bool,
    extra: Vec<(String, Option<String>)>,
}

/// Parses `--db`, `--json`, `--verbose`, `--log-level` and the listed command-specific options.
fn parse_common(
    args: &[String],
    takes_db: bool,
    flags: &[&str],
    valued: &[&str],
) -> Result<Common, String> {
    let mut common = Common::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let value = |iter: &mut std::slice::Iter<'_, String>| {
            inline
                .clone()
                .or_else(|| iter.next().cloned())
                .ok_or_else(|| format!("Missing value for option '{name}'"))
        };
        match name {
            "--json" | "-j" | "--json-output" | "--jsonOutput" => common.json = true,
            "-v" | "--verbose" => {}
            "--log-level" | "--logLevel" => {
                value(&mut iter)?;
            }
            "--db" if takes_db => common.db = Some(value(&mut iter)?),
            n if flags.contains(&n) => common.extra.push((n.to_owned(), None)),
            n if valued.contains(&n) => {
                let v = value(&mut iter)?;
                common.extra.push((n.to_owned(), Some(v)));
            }
            other if other.starts_with('-') => return Err(format!("Unknown option '{other}'")),
            other => return Err(format!("Unexpected argument '{other}'")),
        }
    }
    Ok(common)
}

fn db_path(common: &Common) -> PathBuf {
    crate::rpc::expand_db_path(common.db.as_deref().unwrap_or("~/Library/Messages/chat.db"))
}

fn rpc(args: &[String]) -> ExitCode {
    let common = match parse_common(args, true, &[], &[]) {
        Ok(c) => c,
        Err(e) => return print(&format!("{e}\n"), 1),
    };
    let settings = Settings::from_env();
    let out = Arc::new(Output::new(
        Box::new(std::io::stdout()),
        settings.faults.clone(),
    ));
    let mut input = std::io::stdin().lock();
    crate::rpc::serve(&db_path(&common), &mut input, &out, &settings)
}

fn status(args: &[String]) -> ExitCode {
    let common = match parse_common(args, false, &[], &[]) {
        Ok(c) => c,
        Err(e) => return print(&format!("{e}\n"), 1),
    };
    let ready = Settings::from_env().bridge_ready;
    let message = if ready {
        "Basic features: available\nAdvanced features: available (simulated IMCore bridge)"
    } else {
        "Basic features: available\nAdvanced features: unavailable (the IMCore bridge is not installed on this host)"
    };
    if !common.json {
        return print(&format!("imsg {VERSION}\n{message}\n"), 0);
    }
    let line = json!({
        "version": VERSION,
        "basic_features": true,
        "advanced_features": ready,
        "typing_indicators": ready,
        "read_receipts": ready,
        // A ready bridge implies SIP reported disabled; without one, Linux cannot tell.
        "sip": if ready { "disabled" } else { "unknown" },
        "message": message,
        "bridge_version": if ready { 2 } else { 0 },
        "v2_ready": ready,
        "selectors": {},
        "rpc_methods": RPC_METHODS,
    });
    // The status line is written with `/` unescaped, unlike RPC frames.
    print(&format!("{line}\n"), 0)
}

fn chats(args: &[String]) -> ExitCode {
    let common = match parse_common(args, true, &[], &["--limit"]) {
        Ok(c) => c,
        Err(e) => return print(&format!("{e}\n"), 1),
    };
    let limit = common
        .extra
        .iter()
        .find_map(|(_, v)| v.as_deref().and_then(|v| v.parse::<i64>().ok()))
        .unwrap_or(20)
        .max(1);
    let path = db_path(&common);
    let listed = crate::store::open_read_only(&path).and_then(|conn| {
        let shared = crate::store::Shared::new(
            path.clone(),
            crate::store::Columns::detect(&conn),
            Settings::from_env().contacts,
        );
        shared.list_chats(&conn, limit)
    });
    let chats = match listed {
        Ok(chats) => chats,
        Err(err) => {
            return print(
                &format!("{}\n", crate::failure::sqlite_description(&err)),
                1,
            );
        }
    };
    let mut text = String::new();
    for chat in chats {
        if common.json {
            text.push_str(&format!("{chat}\n"));
        } else {
            let field = |k: &str| {
                chat.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            text.push_str(&format!(
                "[{}] {} ({}) last={}\n",
                chat.get("id")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0),
                field("name"),
                field("identifier"),
                field("last_message_at")
            ));
        }
    }
    print(&text, 0)
}

/// Prints a test-driver failure to stderr; `init` and `inject` are not imsg commands, so stderr is fine.
fn fail(message: &str, err: Option<&dyn std::error::Error>) -> ExitCode {
    let mut text = format!("imsg-sim: {message}");
    let mut source = err;
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    let _ = writeln!(std::io::stderr(), "{text}");
    ExitCode::from(1)
}

fn init(args: &[String]) -> ExitCode {
    let common = match parse_common(args, true, &[], &[]) {
        Ok(c) => c,
        Err(e) => return fail(&e, None),
    };
    let Some(db) = &common.db else {
        return fail("init needs --db <path>", None);
    };
    match db::init_schema(&crate::rpc::expand_db_path(db)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("init failed", Some(&e)),
    }
}

fn inject(args: &[String]) -> ExitCode {
    let flags = [
        "--body-only",
        "--sms",
        "--from-me",
        "--remove",
        "--unjoined",
    ];
    let valued = [
        "--from",
        "--text",
        "--group",
        "--group-name",
        "--member",
        "--date",
        "--date-ns",
        "--guid",
        "--attachment",
        "--tapback",
        "--target",
        "--thread-originator",
        "--destination-caller-id",
        "--balloon",
        "--audio-transcription",
    ];
    let common = match parse_common(args, true, &flags, &valued) {
        Ok(c) => c,
        Err(e) => return fail(&e, None),
    };
    let Some(db) = &common.db else {
        return fail("inject needs --db <path>", None);
    };
    let message = match build_message(&common.extra) {
        Ok(m) => m,
        Err(e) => return fail(&e, None),
    };
    match db::inject(&crate::rpc::expand_db_path(db), &message) {
        Ok(done) => print(
            &format!(
                "{}\n",
                json!({"rowid": done.rowid, "guid": done.guid, "chat_id": done.chat_id})
            ),
            0,
        ),
        Err(e) => fail("inject failed", Some(&e)),
    }
}

fn build_message(options: &[(String, Option<String>)]) -> Result<Message, String> {
    let mut m = Message::default();
    let mut group: Option<Group> = None;
    let mut group_name = None;
    let mut members = Vec::new();
    let mut tapback_kind = None;
    let mut target = None;
    let mut remove = false;
    for (name, value) in options {
        let v = value.clone().unwrap_or_default();
        match name.as_str() {
            "--from" => m.handle = v,
            "--text" => m.text = Some(v),
            "--body-only" => m.body_only = true,
            "--sms" => m.service = Service::Sms,
            "--group" => {
                group = Some(Group {
                    identifier: v,
                    ..Group::default()
                })
            }
            "--group-name" => group_name = Some(v),
            "--member" => members.push(v),
            "--from-me" => m.from_me = true,
            "--date" => {
                m.date = Some(
                    crate::dates::parse_iso_to_apple_ns(&v)
                        .ok_or_else(|| format!("invalid date `{v}`"))?,
                );
            }
            "--date-ns" => {
                m.date = Some(
                    v.parse()
                        .map_err(|_| format!("invalid nanoseconds `{v}`"))?,
                )
            }
            "--guid" => m.guid = Some(v),
            "--attachment" => m.attachments.push(Attachment {
                filename: v,
                ..Attachment::default()
            }),
            "--tapback" => tapback_kind = Some(v),
            "--target" => target = Some(v),
            "--remove" => remove = true,
            "--thread-originator" => m.thread_originator_guid = Some(v),
            "--destination-caller-id" => m.destination_caller_id = Some(v),
            "--balloon" => m.balloon_bundle_id = Some(v),
            "--audio-transcription" => m.audio_transcription = Some(v),
            "--unjoined" => m.unjoined = true,
            _ => {}
        }
    }
    if let Some(mut g) = group {
        g.name = group_name;
        g.members = members;
        m.group = Some(g);
    }
    match (tapback_kind, target) {
        (Some(kind), Some(target_guid)) => {
            m.tapback = Some(Tapback {
                kind,
                target_guid,
                remove,
            })
        }
        (None, None) => {}
        _ => return Err("--tapback and --target go together".to_owned()),
    }
    if m.handle.is_empty() && m.group.is_none() {
        return Err("inject needs --from <handle> or --group <identifier>".to_owned());
    }
    Ok(m)
}

/// Converts OS arguments to strings, lossily, as Foundation's CommandLine does.
pub(crate) fn strings(args: Vec<OsString>) -> Vec<String> {
    args.into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}
