//! `policy explain`: the decision for one message, its reason and the chain of checks.

use std::path::Path;

use imsg_config::ResolvedAccount;
use imsg_policy::{
    DecideContext, Decision, Explanation, InboundMessage, PairingSnapshot, PairingStore,
    UnixMillis, decide_explained,
};
use imsg_target::Service;
use serde_json::{Value, json};

use crate::cli::{ExplainArgs, InboundService};
use crate::commands::Globals;
use crate::exit::{Failure, OK};
use crate::status::now_ms;
use crate::{output, paths, wiring};

/// The pairing state of `account` read from the state dir, or why it could not be read.
///
/// Read only: nothing is pruned or written.
pub async fn read_pairing(state_dir: &Path, account_id: &str) -> Result<PairingSnapshot, String> {
    let store = wiring::pairing_store(state_dir).map_err(|f| f.what)?;
    store
        .load(account_id)
        .await
        .map_err(|e| format!("cannot read the pairing state: {e}"))
}

/// The message the arguments describe.
pub fn message_of(args: &ExplainArgs) -> InboundMessage {
    let mut message =
        InboundMessage::new(args.from.clone(), args.text.clone()).with_group(args.group);
    if let Some(id) = args.chat_id {
        message = message.with_chat_id(id);
    }
    if let Some(guid) = &args.chat_guid {
        message = message.with_chat_guid(guid.clone());
    }
    if let Some(ident) = &args.chat_identifier {
        message = message.with_chat_identifier(ident.clone());
    }
    if let Some(service) = args.service {
        message = message.with_service(match service {
            InboundService::Imessage => Service::Imessage,
            InboundService::Sms => Service::Sms,
        });
    }
    if let Some(agent) = &args.agent {
        message = message.with_agent(agent.clone());
    }
    message
}

/// The decision's name and its reason in one phrase.
pub fn decision_parts(decision: &Decision) -> (&'static str, String) {
    match decision {
        Decision::Dispatch(d) => (
            "dispatch",
            format!(
                "admitted by {} ({}; {})",
                d.admitted_by,
                d.peer,
                if d.command_authorized {
                    "commands authorized"
                } else {
                    "commands not authorized"
                }
            ),
        ),
        Decision::Pair(p) => ("pair", p.pending.to_string()),
        Decision::Drop(reason) => ("drop", reason.as_str().to_owned()),
    }
}

/// The explanation as the stable JSON of `policy explain --json`.
pub fn explanation_json(account: &ResolvedAccount, explanation: &Explanation) -> Value {
    let (decision, reason) = decision_parts(&explanation.decision);
    json!({
        "account": account.id,
        "decision": decision,
        "reason": reason,
        "steps": explanation.steps.iter().map(|s| json!({
            "check": s.check.to_string(),
            "passed": s.passed,
            "detail": s.detail,
        })).collect::<Vec<_>>(),
    })
}

/// `policy explain`.
///
/// # Errors
///
/// Exit 78 for a bad config or an unknown account.
pub async fn explain(globals: &Globals, args: &ExplainArgs) -> Result<u8, Failure> {
    let loaded = paths::load(globals.config.as_deref())?;
    let account = loaded.account(args.account.as_deref())?;
    let state_dir = paths::state_dir(globals.state_dir.as_deref())?;
    let (pairing, pairing_note) = match read_pairing(&state_dir, &account.id).await {
        Ok(snapshot) => (snapshot, None),
        Err(why) => (PairingSnapshot::new(account.id.clone()), Some(why)),
    };
    let now = UnixMillis::new(now_ms());
    let message = message_of(args);
    let explanation = decide_explained(
        &account.policy,
        &message,
        &DecideContext::new(&pairing, now),
    );
    if args.json {
        let mut value = explanation_json(account, &explanation);
        if let Value::Object(map) = &mut value {
            map.insert(
                "message".into(),
                json!({
                    "from": args.from,
                    "chatId": args.chat_id,
                    "chatGuid": args.chat_guid,
                    "chatIdentifier": args.chat_identifier,
                    "group": args.group,
                    "service": args.service.map(|s| match s {
                        InboundService::Imessage => "imessage",
                        InboundService::Sms => "sms",
                    }),
                    "text": args.text,
                }),
            );
            map.insert(
                "pairing".into(),
                json!({
                    "stateDir": state_dir.display().to_string(),
                    "readable": pairing_note.is_none(),
                    "error": pairing_note,
                    "approved": pairing.approved().count(),
                    "pending": pairing.live_requests(now).len(),
                }),
            );
        }
        output::json(&value)?;
        return Ok(OK);
    }
    if let Some(why) = &pairing_note {
        output::note(&format!(
            "warning: pairing state not read ({why}); explaining as if nobody were approved"
        ));
    }
    let (decision, reason) = decision_parts(&explanation.decision);
    output::line(&format!("account: {}", account.id))?;
    output::line(&format!("decision: {decision}"))?;
    output::line(&format!("reason: {reason}"))?;
    output::line("checks:")?;
    for (i, step) in explanation.steps.iter().enumerate() {
        output::line(&format!(
            "{:>3}. {:<16} {:<8} {}",
            i + 1,
            step.check.to_string(),
            if step.passed { "pass" } else { "decides" },
            step.detail
        ))?;
    }
    Ok(OK)
}
