//! The `rpc` request loop: framing, request validation, id echo, serial dispatch.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::dates::parse_iso_to_apple_ns;
use crate::failure::{Failure, sqlite_description};
use crate::output::Output;
use crate::params::Params;
use crate::settings::Settings;
use crate::store::{Columns, HistoryQuery, Shared, open_read_only};
use crate::watch;

/// One parsed request: its id (absent is different from `null`), method and params.
struct Request {
    id: Option<Value>,
    method: String,
    params: Option<Map<String, Value>>,
}

/// How deeply a request may nest arrays and objects before it is a parse error.
///
/// Foundation's JSON reader stops at 512 levels (the exact limit is platform code we could not pin down);
/// serde_json's default of 128 would turn valid requests that imsg answers into -32700.
const MAX_DEPTH: usize = 512;

/// Parses one JSON text as Foundation does: any valid JSON up to [`MAX_DEPTH`] levels of nesting.
fn parse_json(line: &str) -> Result<Value, String> {
    if nesting_depth(line) > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
    }
    let mut de = serde_json::Deserializer::from_str(line);
    // The depth is bounded above, so parsing (and dropping) the value stays well within the stack.
    de.disable_recursion_limit();
    let mut values = de.into_iter::<Value>();
    let value = values
        .next()
        .ok_or_else(|| "no JSON value".to_owned())?
        .map_err(|e| e.to_string())?;
    if !line[values.byte_offset()..].trim().is_empty() {
        return Err(format!(
            "trailing characters at column {}",
            values.byte_offset() + 1
        ));
    }
    Ok(value)
}

/// The deepest nesting of `[` and `{` outside strings; malformed text is left to the parser.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses one trimmed, non-blank line; an error carries the id to answer with.
fn parse_request(line: &str) -> Result<Request, (Value, Failure)> {
    let value: Value =
        parse_json(line).map_err(|e| (Value::Null, Failure::parse(parse_error_text(&e))))?;
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err((
                Value::Null,
                Failure::invalid_request("request must be an object"),
            ));
        }
        // Foundation rejects top-level scalars when fragments are not allowed, so they are parse errors.
        _ => {
            return Err((
                Value::Null,
                Failure::parse("The data couldn’t be read because it isn’t in the correct format."),
            ));
        }
    };
    let id = object.remove("id");
    let echo = id.clone().unwrap_or(Value::Null);
    if let Some(Value::String(version)) = object.get("jsonrpc")
        && version != "2.0"
    {
        return Err((echo, Failure::invalid_request("jsonrpc must be 2.0")));
    }
    let method = match object.get("method") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err((echo, Failure::invalid_request("method is required"))),
    };
    let params = match object.remove("params") {
        Some(Value::Object(p)) => Some(p),
        _ => None,
    };
    Ok(Request { id, method, params })
}

fn parse_error_text(err: &str) -> String {
    format!("The data couldn’t be read because it isn’t in the correct format. ({err})")
}

/// Reads lines up to each `\n` byte, decoding lossily; `None` at end of input.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> Option<String> {
    buf.clear();
    match input.read_until(b'\n', buf) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(String::from_utf8_lossy(buf).into_owned()),
    }
}

fn success(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: Value, failure: &Failure) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": failure.to_json()})
}

/// Runs `rpc` over the database at `db_path` until end of input; returns the process exit code.
pub(crate) fn serve(
    db_path: &Path,
    input: &mut impl BufRead,
    out: &Arc<Output>,
    settings: &Settings,
) -> ExitCode {
    if let Some(line) = &settings.faults.stderr_line {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    let conn = match open_read_only(db_path) {
        Ok(conn) => conn,
        Err(err) => return serve_startup_error(&startup_error_text(&err, db_path), input, out),
    };
    let shared = Arc::new(Shared::new(
        db_path.to_path_buf(),
        Columns::detect(&conn),
        settings.contacts.clone(),
    ));
    let mut server = Server {
        conn,
        shared,
        out: Arc::clone(out),
        settings: settings.clone(),
        subs: HashMap::new(),
        next_sub: 1,
    };
    let mut buf = Vec::new();
    let mut requests = 0u64;
    while let Some(line) = read_line(input, &mut buf) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        requests += 1;
        if let Some(stall) = settings.faults.stall
            && requests == settings.faults.stall_at
        {
            std::thread::sleep(stall);
        }
        match parse_request(line) {
            Err((id, failure)) => out.response(&error(id, &failure)),
            Ok(request) => {
                let outcome =
                    server.dispatch(&request.method, Params::new(request.params.as_ref()));
                match (outcome, request.id) {
                    (Ok(result), Some(id)) => out.response(&success(id, result)),
                    // A request without an id still runs, but only its errors are answered (with id null).
                    (Ok(_), None) => {}
                    (Err(failure), id) => out.response(&error(id.unwrap_or(Value::Null), &failure)),
                }
                for sub in server.subs.values_mut() {
                    sub.open_gate();
                }
            }
        }
    }
    for sub in server.subs.values() {
        sub.cancel();
    }
    ExitCode::from(settings.faults.exit_code.unwrap_or(0))
}

/// The degraded loop of imsg's startup-error mode, when the database cannot be opened: every valid request
/// gets -32603 with the open error; exit 1 at end of input.
fn serve_startup_error(text: &str, input: &mut impl BufRead, out: &Output) -> ExitCode {
    let mut buf = Vec::new();
    while let Some(line) = read_line(input, &mut buf) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match parse_request(line) {
            Err((id, failure)) => out.response(&error(id, &failure)),
            Ok(request) => out.response(&error(
                request.id.unwrap_or(Value::Null),
                &Failure::internal(text),
            )),
        }
    }
    ExitCode::from(1)
}

/// The error text of a failed open: permission-type failures get the Full Disk Access explanation.
fn startup_error_text(err: &rusqlite::Error, path: &Path) -> String {
    // rusqlite appends the path to open errors; SQLite itself (and so imsg) reports the bare message.
    let description = sqlite_description(err).replace(&format!(": {}", path.display()), "");
    let permission = [
        "out of memory (14)",
        "authorization denied",
        "unable to open database",
        "cannot open",
    ]
    .iter()
    .any(|needle| description.contains(needle));
    if !permission {
        return description;
    }
    format!(
        "{description}\n\n⚠️  Permission Error: Cannot access Messages database\n\n\
         The Messages database at {} requires Full Disk Access permission.\n\n\
         To fix:\n\
         1. Open System Settings → Privacy & Security → Full Disk Access\n\
         2. Add your terminal application and any parent launcher (VS Code, Node, gateway, etc.)\n\
         3. Restart the application you granted access to\n\
         Note: This is required because macOS protects the Messages database.\n\
         For more details, see: https://github.com/steipete/imsg#permissions-troubleshooting",
        path.display()
    )
}

/// The state of one `rpc` process.
struct Server {
    conn: Connection,
    shared: Arc<Shared>,
    out: Arc<Output>,
    settings: Settings,
    subs: HashMap<i64, watch::Running>,
    next_sub: i64,
}

impl Server {
    fn dispatch(&mut self, method: &str, p: Params<'_>) -> Result<Value, Failure> {
        match method {
            "chats.list" => self.chats_list(p),
            "messages.history" => self.history(p),
            "watch.subscribe" => self.subscribe(p),
            "watch.unsubscribe" => self.unsubscribe(p),
            "send" => crate::send::send(&self.conn, &self.shared.db_path, p, &self.settings),
            "typing" => crate::send::typing(&self.conn, p, &self.settings),
            "read" => crate::send::read(&self.conn, p, &self.settings),
            other if crate::send::BRIDGE_METHODS.contains(&other) => {
                crate::send::bridge_method(&self.conn, other, p, &self.settings)
            }
            other => Err(Failure::method_not_found(other)),
        }
    }

    fn chats_list(&self, p: Params<'_>) -> Result<Value, Failure> {
        let limit = p.int("limit").unwrap_or(20).max(1);
        let chats = self.shared.list_chats(&self.conn, limit)?;
        Ok(json!({"chats": chats}))
    }

    fn history(&self, p: Params<'_>) -> Result<Value, Failure> {
        let chat_id = p
            .int("chat_id")
            .ok_or_else(|| Failure::invalid_params("chat_id is required"))?;
        let query = HistoryQuery {
            chat_id,
            limit: p.int("limit").unwrap_or(50).max(1),
            participants: p.string_array("participants"),
            start: date_param(p, "start")?,
            end: date_param(p, "end")?,
            attachments: p.bool("attachments").unwrap_or(false),
        };
        let messages = self.shared.history(&self.conn, &query)?;
        Ok(json!({"messages": messages}))
    }

    fn subscribe(&mut self, p: Params<'_>) -> Result<Value, Failure> {
        let debounce_key = if p.has("debounce_ms") {
            "debounce_ms"
        } else {
            "debounceMs"
        };
        let debounce = if p.has(debounce_key) {
            match p.int(debounce_key) {
                Some(ms) if ms >= 0 => u64::try_from(ms).unwrap_or(0),
                _ => {
                    return Err(Failure::invalid_params(
                        "debounce_ms must be a non-negative integer",
                    ));
                }
            }
        } else {
            500
        };
        let start = date_param(p, "start")?;
        let end = date_param(p, "end")?;
        let since = p.int("since_rowid").unwrap_or(0);
        let cursor = if since == 0 {
            // imsg snapshots MAX(ROWID) asynchronously, after the result may be written; taking it before the
            // result closes that race, which only ever lost rows. If the snapshot fails, the subscription still
            // starts and reports the failure as an `error` notification, as the asynchronous snapshot does.
            watch::max_rowid(&self.conn).ok()
        } else {
            Some(since)
        };
        let id = self.next_sub;
        let spec = watch::Spec {
            id,
            chat_id: p.int("chat_id"),
            cursor,
            participants: p
                .string_array("participants")
                .iter()
                .map(|s| s.to_lowercase())
                .collect(),
            start,
            end,
            attachments: p.bool("attachments").unwrap_or(false),
            include_reactions: p.bool("include_reactions").unwrap_or(false),
            debounce: Duration::from_millis(debounce),
        };
        let timing = watch::Timing {
            fallback: self.settings.poll_interval,
            file_events: self.settings.file_events,
        };
        let running = watch::start(
            spec,
            Arc::clone(&self.shared),
            Arc::clone(&self.out),
            timing,
        )
        .map_err(|e| Failure::internal(e.to_string()))?;
        self.next_sub += 1;
        self.subs.insert(id, running);
        Ok(json!({"subscription": id}))
    }

    fn unsubscribe(&mut self, p: Params<'_>) -> Result<Value, Failure> {
        let id = p
            .int("subscription")
            .ok_or_else(|| Failure::invalid_params("subscription is required"))?;
        if let Some(sub) = self.subs.remove(&id) {
            sub.cancel();
        }
        Ok(json!({"ok": true}))
    }
}

/// Reads an optional ISO-8601 bound; a string or number that does not parse is -32603, as in imsg.
fn date_param(p: Params<'_>, key: &str) -> Result<Option<i64>, Failure> {
    match p.string(key) {
        None => Ok(None),
        Some(text) => parse_iso_to_apple_ns(&text)
            .map(Some)
            .ok_or_else(|| Failure::internal(format!("Invalid ISO8601 date: {text}"))),
    }
}

/// Expands `~` in a `--db` value.
pub(crate) fn expand_db_path(raw: &str) -> PathBuf {
    PathBuf::from(crate::store::expand_tilde(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_request_lines() {
        type Case<'a> = (&'a str, Option<(Value, i64, &'a str)>);
        let cases: &[Case<'_>] = &[
            ("not-json", Some((Value::Null, -32700, ""))),
            ("42", Some((Value::Null, -32700, ""))),
            ("null", Some((Value::Null, -32700, ""))),
            (
                "[]",
                Some((Value::Null, -32600, "request must be an object")),
            ),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
                Some((json!(1), -32600, "jsonrpc must be 2.0")),
            ),
            (r#"{"jsonrpc":1,"id":1,"method":"x"}"#, None),
            (
                r#"{"id":"a7"}"#,
                Some((json!("a7"), -32600, "method is required")),
            ),
            (
                r#"{"id":3,"method":""}"#,
                Some((json!(3), -32600, "method is required")),
            ),
            (
                r#"{"id":3,"method":7}"#,
                Some((json!(3), -32600, "method is required")),
            ),
            (r#"{"method":"chats.list","params":[1]}"#, None),
            (
                r#"{"id":1,"method":"x"} {"id":2}"#,
                Some((Value::Null, -32700, "")),
            ),
            (r#"{"id":1,"method":"x","p":"[[[[\"]]"}"#, None),
        ];
        for (line, want) in cases {
            match (parse_request(line), want) {
                (Ok(_), None) => {}
                (Err((id, f)), Some((want_id, code, data))) => {
                    assert_eq!((&id, f.code), (want_id, *code), "{line}");
                    if !data.is_empty() {
                        assert_eq!(f.data, *data, "{line}");
                    }
                }
                (got, want) => panic!("{line}: got ok={} want {want:?}", got.is_ok()),
            }
        }
    }

    /// `{"id":1,"method":"chats.list","params":{"x":[[...]]}}` with `levels` levels of nesting in all.
    fn nested_request(levels: usize) -> String {
        let arrays = levels - 2;
        format!(
            r#"{{"id":1,"method":"chats.list","params":{{"x":{}{}}}}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    }

    #[test]
    fn deep_but_valid_requests_parse_like_foundation() {
        // Strict JSON nested a few hundred levels is still a request, not a parse error.
        for levels in [129, 200, MAX_DEPTH] {
            let request = parse_request(&nested_request(levels));
            assert!(request.is_ok(), "{levels} levels");
        }
        let too_deep = parse_request(&nested_request(MAX_DEPTH + 1));
        assert_eq!(
            too_deep.err().map(|(id, f)| (id, f.code)),
            Some((Value::Null, -32700))
        );
        // Far deeper input is rejected before parsing, so it cannot exhaust the stack.
        let huge = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(
            parse_request(&huge).err().map(|(_, f)| f.code),
            Some(-32700)
        );
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("2.0"),
                Just("1.0"),
                Just(""),
                Just("chats.list"),
                Just("x y")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("id"),
                        Just("jsonrpc"),
                        Just("method"),
                        Just("params"),
                        Just("k")
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest::proptest! {
        /// Any JSON line is classified exactly as imsg 0.9.0 classifies it, and the id is echoed as it came.
        #[test]
        fn requests_classify_like_imsg(value in json_value()) {
            let line = value.to_string();
            let outcome = parse_request(&line);
            match &value {
                Value::Object(map) => {
                    let bad_version = matches!(map.get("jsonrpc"), Some(Value::String(v)) if v != "2.0");
                    let method_ok = matches!(map.get("method"), Some(Value::String(m)) if !m.is_empty());
                    let echo = map.get("id").cloned().unwrap_or(Value::Null);
                    match outcome {
                        Ok(request) => {
                            proptest::prop_assert!(!bad_version && method_ok);
                            proptest::prop_assert_eq!(request.id, map.get("id").cloned());
                            proptest::prop_assert_eq!(request.params.is_some(), map.get("params").is_some_and(Value::is_object));
                        }
                        Err((id, failure)) => {
                            proptest::prop_assert!(bad_version || !method_ok);
                            proptest::prop_assert_eq!(id, echo);
                            proptest::prop_assert_eq!(failure.code, -32600);
                        }
                    }
                }
                Value::Array(_) => proptest::prop_assert_eq!(outcome.err().map(|(_, f)| f.code), Some(-32600)),
                _ => proptest::prop_assert_eq!(outcome.err().map(|(_, f)| f.code), Some(-32700)),
            }
        }
    }
}
