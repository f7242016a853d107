//! `demo`: a scripted conversation through the real gateway code and a real imsg-sim process
//! over a temporary chat.db, printed as a transcript with each decision and its reason.
//!
//! The binary is multi-call: the demo puts a symlink named `imsg` to this binary in a temporary
//! directory and uses it as `cliPath`, so the channel spawns the embedded simulator exactly as it
//! would spawn imsg. Messages "arrive" by writing rows into chat.db the way Messages.app does
//! (`imsg_sim::db::inject`); replies are read back from the rows the simulated `send` writes.
//!
//! The script: a stranger's DM gets a pairing code; the owner approves it; the next DM is
//! answered; a group message without a mention is ignored and the next one, with a mention, is
//! answered with the ignored one as context; an SMS conversation is answered over SMS; and none
//! of the gateway's own replies ever reaches the agent as input.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use imsg_channel::{HandlerError, InboundEvent, MessageHandler, Reply};
use imsg_config::ResolvedAccount;
use imsg_policy::{
    DecideContext, InboundMessage, PairingSnapshot, PairingStore, UnixMillis, decide_explained,
};
use imsg_sim::db::{self, Group, Message, Service as SimService};
use imsg_target::Service;
use serde_json::{Value, json};

use crate::cli::DemoArgs;
use crate::commands::policy::{decision_parts, read_pairing};
use crate::exit::{Failure, OK, OTHER};
use crate::output;
use crate::paths::{self, ConfigSource};
use crate::status::now_ms;
use crate::wiring::{self, AgentChoice};

/// The people of the script (reserved 555-01xx numbers).
const ALICE: &str = "+15555550101";
const BOB: &str = "+15555550102";
const CAROL: &str = "+15555550103";
/// The group's chat identifier.
const GROUP: &str = "chat424242";
/// How long one step may wait for the gateway.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// The demo's configuration: pairing for DMs, Carol allowlisted, groups limited to Alice and
/// Bob and answered only when mentioned.
pub fn demo_config(cli_path: &Path, db_path: &Path) -> String {
    format!(
        r#"// The demo's config: the same JSON5 an OpenClaw gateway reads.
{{
  channels: {{
    imessage: {{
      cliPath: {cli},
      dbPath: {db},
      dmPolicy: "pairing",
      allowFrom: ["{CAROL}"],
      groupPolicy: "allowlist",
      groupAllowFrom: ["{ALICE}", "{BOB}"],
      groups: {{ "*": {{ requireMention: true }} }},
    }},
  }},
  messages: {{ groupChat: {{ mentionPatterns: ["@bot\\b"] }} }},
}}
"#,
        cli = Value::String(cli_path.display().to_string()),
        db = Value::String(db_path.display().to_string()),
    )
}

/// Prints the transcript as readable lines or as JSON lines.
#[derive(Debug)]
pub struct Transcript {
    json: bool,
    step: u32,
    /// When set, lines are collected here instead of printed (tests).
    captured: Option<Mutex<Vec<String>>>,
}

impl Transcript {
    /// A transcript printer to stdout.
    pub fn new(json: bool) -> Transcript {
        Transcript {
            json,
            step: 0,
            captured: None,
        }
    }

    /// A transcript that collects its lines instead of printing them.
    pub fn capturing(json: bool) -> Transcript {
        Transcript {
            json,
            step: 0,
            captured: Some(Mutex::new(Vec::new())),
        }
    }

    /// The collected lines of a capturing transcript.
    pub fn lines(&self) -> Vec<String> {
        self.captured.as_ref().map_or_else(Vec::new, |c| {
            c.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
    }

    fn emit(&self, line: &str) -> Result<(), Failure> {
        match &self.captured {
            Some(c) => {
                c.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line.to_owned());
                Ok(())
            }
            None => output::line(line),
        }
    }

    /// Starts the next step.
    pub fn step(&mut self, title: &str) -> Result<(), Failure> {
        self.step += 1;
        if self.json {
            self.emit(&json!({"step": self.step, "event": "step", "title": title}).to_string())
        } else {
            self.emit(&format!("\n[{}] {title}", self.step))
        }
    }

    /// One event of the current step: `human` for people, `fields` for JSON.
    pub fn event(&self, event: &str, human: &str, fields: Value) -> Result<(), Failure> {
        if self.json {
            let mut value = json!({"step": self.step, "event": event});
            if let (Value::Object(map), Value::Object(extra)) = (&mut value, fields) {
                map.extend(extra);
            }
            self.emit(&value.to_string())
        } else {
            for (i, line) in human.lines().enumerate() {
                let lead = if i == 0 {
                    format!("    {event:<9} ")
                } else {
                    " ".repeat(14)
                };
                self.emit(&format!("{lead}{line}"))?;
            }
            Ok(())
        }
    }
}

/// What the recording handler saw.
#[derive(Debug, Clone)]
struct Seen {
    text: String,
    sender: String,
    history: Vec<String>,
}

/// Wraps the agent handler and records every envelope it is given.
struct Recording {
    inner: Arc<dyn MessageHandler>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[async_trait]
impl MessageHandler for Recording {
    async fn handle(&self, event: InboundEvent) -> Result<Vec<Reply>, HandlerError> {
        if let InboundEvent::Message(envelope) = &event {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Seen {
                    text: envelope.text.clone(),
                    sender: envelope.sender.id.clone(),
                    history: envelope.history.iter().map(|h| h.body.clone()).collect(),
                });
        }
        self.inner.handle(event).await
    }
}

/// An outgoing row written by the simulated send.
#[derive(Debug, Clone)]
struct Outgoing {
    rowid: i64,
    text: String,
    service: String,
    chat_guid: String,
}

/// The outgoing rows after `after`.
fn outgoing_since(db: &Path, after: i64) -> Result<Vec<Outgoing>, Failure> {
    let read = || -> rusqlite::Result<Vec<Outgoing>> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mut stmt = conn.prepare(
            "SELECT m.ROWID, COALESCE(m.text, ''), COALESCE(m.service, ''), c.guid FROM message m \
             JOIN chat_message_join j ON j.message_id = m.ROWID JOIN chat c ON c.ROWID = j.chat_id \
             WHERE m.is_from_me = 1 AND m.ROWID > ?1 ORDER BY m.ROWID",
        )?;
        let rows = stmt.query_map([after], |r| {
            Ok(Outgoing {
                rowid: r.get(0)?,
                text: r.get(1)?,
                service: r.get(2)?,
                chat_guid: r.get(3)?,
            })
        })?;
        rows.collect()
    };
    read().map_err(|e| Failure::other(format!("demo: cannot read {}: {e}", db.display())))
}

/// The demo's world: its directory, database, account and channel.
struct World {
    db: PathBuf,
    state: PathBuf,
    account: ResolvedAccount,
    seen: Arc<Mutex<Vec<Seen>>>,
    last_out: i64,
}

impl World {
    /// Writes an inbound row as Messages.app would.
    fn inject(&self, message: &Message) -> Result<i64, Failure> {
        db::inject(&self.db, message)
            .map(|i| i.rowid)
            .map_err(|e| Failure::other(format!("demo: cannot write chat.db: {e}")))
    }

    /// Waits until an outgoing row appears in the chat whose guid ends with `chat_suffix`.
    async fn reply_in(&mut self, chat_suffix: &str) -> Result<Outgoing, Failure> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let rows = outgoing_since(&self.db, self.last_out)?;
            if let Some(max) = rows.iter().map(|r| r.rowid).max() {
                self.last_out = self.last_out.max(max);
            }
            if let Some(row) = rows
                .into_iter()
                .find(|r| r.chat_guid.ends_with(chat_suffix))
            {
                return Ok(row);
            }
            if Instant::now() > deadline {
                return Err(Failure::other(format!(
                    "demo: no reply in chat `{chat_suffix}` within {} s",
                    STEP_TIMEOUT.as_secs()
                ))
                .hint("run with -v to see the gateway's log"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pairing state now.
    async fn pairing(&self) -> PairingSnapshot {
        read_pairing(&self.state, &self.account.id)
            .await
            .unwrap_or_else(|_| PairingSnapshot::new(self.account.id.clone()))
    }

    /// Prints the decision the policy makes for `message` now.
    async fn decision(
        &self,
        t: &Transcript,
        message: &InboundMessage,
    ) -> Result<&'static str, Failure> {
        let pairing = self.pairing().await;
        let explanation = decide_explained(
            &self.account.policy,
            message,
            &DecideContext::new(&pairing, UnixMillis::new(now_ms())),
        );
        let (decision, reason) = decision_parts(&explanation.decision);
        let checks: Vec<String> = explanation
            .steps
            .iter()
            .map(|s| format!("{}: {}", s.check, s.detail))
            .collect();
        t.event(
            "decision",
            &format!("{decision}: {reason}"),
            json!({"decision": decision, "reason": reason, "checks": checks}),
        )?;
        Ok(decision)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The pairing code in a pairing reply.
fn code_in(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Pairing code: "))
        .map(|c| c.trim().to_owned())
}

fn dm(handle: &str, text: &str, service: SimService) -> Message {
    Message {
        handle: handle.to_owned(),
        text: Some(text.to_owned()),
        service,
        ..Message::default()
    }
}

fn group_message(handle: &str, text: &str) -> Message {
    Message {
        handle: handle.to_owned(),
        text: Some(text.to_owned()),
        group: Some(Group {
            identifier: GROUP.to_owned(),
            name: Some("Lunch crew".to_owned()),
            members: vec![ALICE.to_owned(), BOB.to_owned()],
        }),
        ..Message::default()
    }
}

/// Sets up the temporary world: the `imsg` symlink, chat.db, the config.
fn setup(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf, PathBuf), Failure> {
    let io = |what: &str, e: std::io::Error| Failure::other(format!("demo: {what}: {e}"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| io("cannot create the temp dir", e))?;
    let exe = std::env::current_exe().map_err(|e| io("cannot find this binary", e))?;
    let imsg = bin.join("imsg");
    std::os::unix::fs::symlink(&exe, &imsg)
        .map_err(|e| io("cannot link imsg to this binary", e))?;
    let db_path = dir.join("chat.db");
    db::init_schema(&db_path)
        .map_err(|e| Failure::other(format!("demo: cannot create chat.db: {e}")))?;
    let config = dir.join("config.json5");
    std::fs::write(&config, demo_config(&imsg, &db_path))
        .map_err(|e| io("cannot write the config", e))?;
    let state = dir.join("state");
    crate::status::create_private_dir(&state).map_err(|e| io("cannot create the state dir", e))?;
    Ok((imsg, db_path, config, state))
}

/// `demo`.
///
/// # Errors
///
/// Exit 1 when a step of the script does not happen as expected, 69 when a part of the gateway
/// is missing from this build.
pub async fn run(args: &DemoArgs) -> Result<u8, Failure> {
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("imsg-gateway-demo-")
        .tempdir()
        .map_err(|e| Failure::other(format!("demo: cannot create a temp dir: {e}")))?;
    let (imsg, db_path, config_path, state) = setup(tmp.path())?;
    let mut t = Transcript::new(args.json);
    if !args.json {
        output::line(
            "imsg-gateway demo: a scripted conversation through the gateway and an embedded imsg simulator",
        )?;
        output::line(&format!(
            "  chat.db {} (rows written as Messages.app writes them)",
            db_path.display()
        ))?;
    }
    let loaded = paths::load_from(&config_path, ConfigSource::Flag)?;
    let account = loaded.account(None)?.clone();

    t.step("the embedded imsg answers like imsg 0.9.0")?;
    let probe = imsg_rpc::probe(&wiring::spawn_options(&account), Duration::from_secs(10))
        .await
        .map_err(Failure::from)?;
    t.event(
        "probe",
        &format!(
            "{} rpc ok, version {}",
            imsg.display(),
            probe.version.as_deref().unwrap_or("unknown")
        ),
        json!({"cliPath": imsg.display().to_string(), "version": probe.version, "ok": true}),
    )?;

    let channel = wiring::build_channel(&account, &state)?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(Recording {
        inner: wiring::build_handler(
            &account,
            &AgentChoice {
                source_name: loaded.path.display().to_string(),
                config_text: loaded.text.clone(),
                // No `/config` in the demo: its writer reloads with SIGHUP, which only `run` handles.
                config_path: None,
                state_dir: Some(state.clone()),
            },
        )?,
        seen: seen.clone(),
    });
    channel.start(handler).await.map_err(Failure::from)?;
    let mut world = World {
        db: db_path,
        state,
        account,
        seen,
        last_out: 0,
    };
    let result = script(&mut world, &mut t).await;
    let stopped = tokio::time::timeout(Duration::from_secs(10), channel.stop()).await;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if args.keep {
        let kept = tmp.keep();
        output::note(&format!("demo files kept in {}", kept.display()));
    }
    let ok = result.is_ok() && matches!(stopped, Ok(Ok(())));
    if args.json {
        output::json_line(&json!({"event": "summary", "ok": ok, "elapsedMs": elapsed}))?;
    } else {
        output::line(&format!(
            "\n{} in {:.1} s",
            if ok {
                "demo finished: every step happened as described"
            } else {
                "demo FAILED"
            },
            elapsed as f64 / 1000.0
        ))?;
    }
    result?;
    match stopped {
        Ok(Ok(())) => Ok(OK),
        Ok(Err(e)) => Err(Failure::from(e)),
        Err(_) => Err(Failure::new(
            OTHER,
            "demo: the channel did not stop within 10 s",
        )),
    }
}

/// The conversation.
async fn script(w: &mut World, t: &mut Transcript) -> Result<(), Failure> {
    // 1. A stranger's DM gets a pairing code.
    t.step("a stranger writes: the gateway answers with a pairing code, not the agent")?;
    let text = "hi, is this the assistant?";
    t.event(
        "inbound",
        &format!("Alice {ALICE} (iMessage DM): {text}"),
        json!({"from": ALICE, "chat": "direct", "service": "imessage", "text": text}),
    )?;
    w.decision(
        t,
        &InboundMessage::new(ALICE, text).with_service(Service::Imessage),
    )
    .await?;
    w.inject(&dm(ALICE, text, SimService::IMessage))?;
    let reply = w.reply_in(&format!(";-;{ALICE}")).await?;
    t.event(
        "reply",
        &reply.text,
        json!({"to": ALICE, "service": reply.service, "text": reply.text}),
    )?;
    let code = code_in(&reply.text)
        .ok_or_else(|| Failure::other("demo: the pairing reply carries no code"))?;

    // 2. The owner approves the code.
    t.step("the owner approves the code")?;
    let store = wiring::pairing_store(&w.state)?;
    let now = UnixMillis::new(now_ms());
    let approved = store
        .update(&w.account.id, |s| s.approve(&code, now))
        .await
        .map_err(|e| Failure::other(format!("demo: pairing store: {e}")))?
        .map_err(|e| Failure::other(format!("demo: {e}")))?;
    t.event(
        "approve",
        &format!("imsg-gateway pairing approve imessage {code}  ->  {approved} approved"),
        json!({"code": code, "approved": approved}),
    )?;

    // 3. The next DM is answered.
    t.step("Alice writes again: now the agent answers")?;
    let text = "what can you do?";
    t.event(
        "inbound",
        &format!("Alice {ALICE} (iMessage DM): {text}"),
        json!({"from": ALICE, "chat": "direct", "service": "imessage", "text": text}),
    )?;
    w.decision(
        t,
        &InboundMessage::new(ALICE, text).with_service(Service::Imessage),
    )
    .await?;
    w.inject(&dm(ALICE, text, SimService::IMessage))?;
    let reply = w.reply_in(&format!(";-;{ALICE}")).await?;
    t.event(
        "reply",
        &reply.text,
        json!({"to": ALICE, "service": reply.service, "text": reply.text}),
    )?;

    // 4. A group message without a mention is ignored ...
    t.step("in a group, a message without a mention is ignored")?;
    let quiet = "lunch at noon?";
    t.event(
        "inbound",
        &format!("Bob {BOB} (group {GROUP}): {quiet}"),
        json!({"from": BOB, "chat": "group", "service": "imessage", "text": quiet}),
    )?;
    let group_in = |from: &str, text: &str| {
        InboundMessage::new(from, text)
            .with_group(true)
            .with_chat_identifier(GROUP)
            .with_chat_guid(format!("iMessage;+;{GROUP}"))
            .with_service(Service::Imessage)
    };
    let dropped_row = w.inject(&group_message(BOB, quiet))?;
    // The group's chat id is only known once Messages.app created the chat.
    let chat_id = chat_id_of(&w.db, dropped_row)?;
    w.decision(t, &group_in(BOB, quiet).with_chat_id(chat_id))
        .await?;

    // ... and the next, with a mention, is answered with the earlier one as context.
    t.step("a message with a mention is answered, with the ignored one as context")?;
    let loud = "@bot where should we eat?";
    t.event(
        "inbound",
        &format!("Alice {ALICE} (group {GROUP}): {loud}"),
        json!({"from": ALICE, "chat": "group", "service": "imessage", "text": loud}),
    )?;
    w.decision(t, &group_in(ALICE, loud).with_chat_id(chat_id))
        .await?;
    w.inject(&group_message(ALICE, loud))?;
    let reply = w.reply_in(GROUP).await?;
    t.event(
        "reply",
        &reply.text,
        json!({"to": format!("chat_id:{chat_id}"), "service": reply.service, "text": reply.text}),
    )?;
    let seen = w.seen();
    let group_seen = seen.iter().find(|s| s.text == loud);
    let context_ok = group_seen.is_some_and(|s| s.history.iter().any(|h| h == quiet));
    t.event(
        "context",
        &format!(
            "the agent saw {} earlier message(s): {:?}",
            group_seen.map_or(0, |s| s.history.len()),
            group_seen.map(|s| s.history.clone()).unwrap_or_default()
        ),
        json!({"history": group_seen.map(|s| s.history.clone()), "ok": context_ok}),
    )?;
    if seen.iter().any(|s| s.text == quiet) {
        return Err(Failure::other(
            "demo: the unmentioned group message reached the agent",
        ));
    }
    if !context_ok {
        return Err(Failure::other(
            "demo: the mentioned group message came without the earlier one as context",
        ));
    }

    // 5. SMS is answered over SMS.
    t.step("an SMS conversation is answered over SMS")?;
    let text = "running late, save me a seat";
    t.event(
        "inbound",
        &format!("Carol {CAROL} (SMS DM, allowlisted): {text}"),
        json!({"from": CAROL, "chat": "direct", "service": "sms", "text": text}),
    )?;
    w.decision(
        t,
        &InboundMessage::new(CAROL, text)
            .with_service(Service::Sms)
            .with_chat_guid(format!("SMS;-;{CAROL}")),
    )
    .await?;
    w.inject(&dm(CAROL, text, SimService::Sms))?;
    let reply = w.reply_in(&format!(";-;{CAROL}")).await?;
    t.event("reply", &format!("[{}] {}", reply.service, reply.text), json!({"to": CAROL, "service": reply.service, "chatGuid": reply.chat_guid, "text": reply.text}))?;
    if !reply.chat_guid.starts_with("SMS;") || reply.service != "SMS" {
        return Err(Failure::other(format!(
            "demo: the SMS was answered in `{}` over {}",
            reply.chat_guid, reply.service
        )));
    }

    // 6. Own replies never come back as input. Every reply above is a row in chat.db that the
    // watch streams back; a last message proves the stream got past all of them.
    t.step("the gateway's own replies never come back as input")?;
    let text = "thanks!";
    w.inject(&dm(ALICE, text, SimService::IMessage))?;
    let reply = w.reply_in(&format!(";-;{ALICE}")).await?;
    let own = InboundMessage::new(ALICE, reply.text.clone()).with_from_me(true);
    w.decision(t, &own).await?;
    let seen = w.seen();
    let echoed: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.text.starts_with("echo:") || s.text.contains("Pairing code:"))
        .collect();
    let expected = [
        "what can you do?",
        loud,
        "running late, save me a seat",
        text,
    ];
    let got: Vec<&str> = seen.iter().map(|s| s.text.as_str()).collect();
    t.event(
        "agent",
        &format!("the agent was given {} messages, all from people: {:?}", seen.len(), got),
        json!({"handled": got, "fromPeople": seen.iter().map(|s| s.sender.clone()).collect::<Vec<_>>(), "ownRepliesSeen": echoed.len()}),
    )?;
    if !echoed.is_empty() || got != expected {
        return Err(Failure::other(format!(
            "demo: the agent was given {got:?}, expected {expected:?}"
        )));
    }
    Ok(())
}

/// The chat id of the chat a row was joined to.
fn chat_id_of(db_path: &Path, rowid: i64) -> Result<i64, Failure> {
    let read = || -> rusqlite::Result<i64> {
        let conn = rusqlite::Connection::open_with_flags(
            db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        conn.query_row(
            "SELECT chat_id FROM chat_message_join WHERE message_id = ?1",
            [rowid],
            |r| r.get(0),
        )
    };
    read().map_err(|e| Failure::other(format!("demo: cannot read chat.db: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_demo_config_loads_with_pairing_and_a_mention_gated_group() {
        let dir = tempfile::tempdir().unwrap();
        let (imsg, db_path, config, _) = setup(dir.path()).unwrap();
        let loaded = paths::load_from(&config, ConfigSource::Flag).unwrap();
        let account = loaded.account(None).unwrap();
        assert_eq!(wiring::cli_path_text(account), imsg.display().to_string());
        assert_eq!(
            wiring::db_path_text(account).as_deref(),
            Some(db_path.to_str().unwrap())
        );
        assert_eq!(account.policy.dm_policy().as_str(), "pairing");
        assert!(
            loaded.config.warnings.is_empty(),
            "{:?}",
            loaded.config.warnings
        );
        assert!(
            std::fs::symlink_metadata(&imsg)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn the_code_is_read_from_the_pairing_reply() {
        let text = imsg_policy::pairing_reply("default", ALICE, "ABCD2345");
        assert_eq!(code_in(&text).as_deref(), Some("ABCD2345"));
    }

    #[test]
    fn each_script_message_gets_the_decision_the_transcript_promises() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, config, _) = setup(dir.path()).unwrap();
        let loaded = paths::load_from(&config, ConfigSource::Flag).unwrap();
        let policy = &loaded.account(None).unwrap().policy;
        let empty = PairingSnapshot::new("default");
        let now = UnixMillis::new(1_000_000);
        let ctx = DecideContext::new(&empty, now);
        let decide = |m: &InboundMessage| decision_parts(&imsg_policy::decide(policy, m, &ctx)).0;
        assert_eq!(decide(&InboundMessage::new(ALICE, "hi")), "pair");
        let group = |from: &str, text: &str| {
            InboundMessage::new(from, text)
                .with_group(true)
                .with_chat_id(7)
                .with_chat_identifier(GROUP)
        };
        assert_eq!(decide(&group(BOB, "lunch?")), "drop");
        assert_eq!(decide(&group(ALICE, "@bot where?")), "dispatch");
        assert_eq!(
            decide(&InboundMessage::new(CAROL, "late").with_service(Service::Sms)),
            "dispatch"
        );
        assert_eq!(
            decide(&InboundMessage::new(ALICE, "echo: x").with_from_me(true)),
            "drop"
        );
        let mut approved = PairingSnapshot::new("default");
        approved
            .request(
                &imsg_target::Handle::normalize(ALICE, &imsg_target::Region::default()).unwrap(),
                None,
                now,
                &mut imsg_policy::ScriptedCodes::new(vec![0]),
            )
            .unwrap();
        approved.approve("AAAAAAAA", now).unwrap();
        let ctx = DecideContext::new(&approved, now);
        assert_eq!(
            decision_parts(&imsg_policy::decide(
                policy,
                &InboundMessage::new(ALICE, "again"),
                &ctx
            ))
            .0,
            "dispatch"
        );
    }

    #[test]
    fn the_transcript_reads_as_steps_with_indented_events() {
        let mut t = Transcript::capturing(false);
        t.step("a stranger writes").unwrap();
        t.event("reply", "line one\nline two", json!({})).unwrap();
        assert_eq!(
            t.lines(),
            [
                "\n[1] a stranger writes",
                "    reply     line one",
                "              line two",
            ]
        );
    }

    #[test]
    fn the_json_transcript_is_one_object_per_line_with_its_step() {
        let mut t = Transcript::capturing(true);
        t.step("approve").unwrap();
        t.event("approve", "ignored", json!({"code": "ABCD2345"}))
            .unwrap();
        let lines = t.lines();
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            first,
            json!({"step": 1, "event": "step", "title": "approve"})
        );
        let second: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            second,
            json!({"step": 1, "event": "approve", "code": "ABCD2345"})
        );
    }
}
