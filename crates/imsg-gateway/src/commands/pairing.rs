//! `pairing list imessage` and `pairing approve imessage <CODE>`, through the pairing store's lock,
//! so they work while `run` is running.

use imsg_channel::OutboundMessage;
use imsg_policy::{PairingRequest, PairingStore, UnixMillis};
use imsg_target::{Service, Target};
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::exit::{Failure, OK, OTHER};
use crate::status::now_ms;
use crate::{output, paths, wiring};

/// The text `--notify` sends to an approved sender.
pub const APPROVED_NOTICE: &str =
    "✅ imsg-gateway access approved. Send a message to start chatting.";

/// An ISO-8601 rendering of milliseconds since the epoch.
pub fn iso(at: UnixMillis) -> String {
    jiff::Timestamp::from_millisecond(at.as_millis())
        .map_or_else(|_| at.as_millis().to_string(), |t| t.to_string())
}

/// One request in the JSON of `pairing list`, in the field names of the anchor's CLI.
fn request_json(r: &PairingRequest) -> Value {
    json!({
        "id": r.sender_id,
        "code": r.code,
        "createdAt": iso(r.created_at),
        "lastSeenAt": iso(r.last_seen_at),
        "meta": {
            "sender": r.sender_id,
            "chatId": r.chat_id.map(|c| c.to_string()),
        },
    })
}

/// `pairing list imessage`.
///
/// # Errors
///
/// Exit 78 for a bad config or unknown account, 1 when the store cannot be read.
pub async fn list(globals: &Globals, account: Option<&str>, json_out: bool) -> Result<u8, Failure> {
    let loaded = paths::load(globals.config.as_deref())?;
    let account = loaded.account(account)?;
    let state_dir = paths::state_dir(globals.state_dir.as_deref())?;
    let store = wiring::pairing_store(&state_dir)?;
    let snapshot = store
        .load(&account.id)
        .await
        .map_err(|e| Failure::other(format!("cannot read the pairing state: {e}")))?;
    let now = UnixMillis::new(now_ms());
    let requests = snapshot.live_requests(now);
    if json_out {
        output::json(&json!({
            "channel": "imessage",
            "account": account.id,
            "requests": requests.iter().map(|r| request_json(r)).collect::<Vec<_>>(),
        }))?;
        return Ok(OK);
    }
    if requests.is_empty() {
        output::line("No pending imessage pairing requests.")?;
        return Ok(OK);
    }
    output::line(&format!(
        "{:<10} {:<28} {:<24} Requested",
        "Code", "imessageSenderId", "Meta"
    ))?;
    for r in requests {
        let meta = r.chat_id.map_or_else(
            || format!("{{\"sender\":\"{}\"}}", r.sender_id),
            |c| format!("{{\"sender\":\"{}\",\"chatId\":\"{c}\"}}", r.sender_id),
        );
        output::line(&format!(
            "{:<10} {:<28} {:<24} {}",
            r.code,
            r.sender_id,
            meta,
            iso(r.created_at)
        ))?;
    }
    Ok(OK)
}

/// `pairing approve imessage <CODE>`.
///
/// # Errors
///
/// Exit 78 for a bad config, 1 for an unknown code or when the store or the notice fails.
pub async fn approve(
    globals: &Globals,
    code: &str,
    account: Option<&str>,
    notify: bool,
    json_out: bool,
) -> Result<u8, Failure> {
    let loaded = paths::load(globals.config.as_deref())?;
    let account = loaded.account(account)?;
    let state_dir = paths::state_dir(globals.state_dir.as_deref())?;
    let store = wiring::pairing_store(&state_dir)?;
    let now = UnixMillis::new(now_ms());
    let approved = store
        .update(&account.id, |s| s.approve(code, now))
        .await
        .map_err(|e| Failure::other(format!("cannot update the pairing state: {e}")))?
        .map_err(|e| {
            Failure::other(e.to_string())
                .hint("`imsg-gateway pairing list imessage` shows the live codes; a code expires an hour after it was sent")
        })?;
    let mut notified = None;
    if notify {
        let result = match Target::handle(approved.clone(), Service::Auto) {
            Ok(target) => match wiring::build_channel(account, &state_dir) {
                Ok(channel) => channel
                    .send(OutboundMessage::text(target, APPROVED_NOTICE))
                    .await
                    .map(|_| ())
                    .map_err(|e| Failure::from(e).what),
                Err(f) => Err(f.what),
            },
            Err(e) => Err(e.to_string()),
        };
        notified = Some(result);
    }
    let notify_error = notified.as_ref().and_then(|r| r.as_ref().err().cloned());
    if json_out {
        output::json(&json!({
            "channel": "imessage",
            "account": account.id,
            "approved": approved,
            "notified": notified.as_ref().map(Result::is_ok),
            "notifyError": notify_error,
        }))?;
    } else {
        output::line(&format!("Approved imessage sender {approved}."))?;
    }
    match notify_error {
        Some(why) => {
            output::note(&format!(
                "error: the approval is saved, but the notice was not sent: {why}\nhint: tell the sender yourself, or run `imsg-gateway doctor`"
            ));
            Ok(OTHER)
        }
        None => Ok(OK),
    }
}
