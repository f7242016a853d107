//! `message send`: target parsing, the outbound check, chunking, then one send per chunk.

use std::path::PathBuf;
use std::str::FromStr as _;

use imsg_channel::OutboundMessage;
use imsg_policy::{PairingSnapshot, check_outbound};
use imsg_target::{Service, Target};
use serde_json::{Value, json};

use crate::cli::ServiceArg;
use crate::commands::Globals;
use crate::commands::policy::read_pairing;
use crate::exit::{Failure, OK, OTHER};
use crate::{mask, output, paths, wiring};

/// The arguments of `message send`.
#[derive(Debug, Clone)]
pub struct SendArgs {
    /// `--to`.
    pub to: String,
    /// `--account`.
    pub account: Option<String>,
    /// `--file`.
    pub file: Option<PathBuf>,
    /// `--service`.
    pub service: ServiceArg,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--json`.
    pub json: bool,
    /// The text.
    pub text: String,
}

/// Parses `--to` and applies `--service`.
///
/// # Errors
///
/// Exit 2 for a target that does not parse or a service on a chat target.
pub fn parse_target(to: &str, service: ServiceArg) -> Result<Target, Failure> {
    let target = Target::from_str(to).map_err(|e| {
        Failure::usage(format!("--to `{to}`: {e}")).hint(
            "use a handle (+15555550123, sms:+15555550123, name@example.com) or chat_id:N, chat_guid:G, chat_identifier:I",
        )
    })?;
    let wanted = match service {
        ServiceArg::Auto => return Ok(target),
        ServiceArg::Imessage => Service::Imessage,
        ServiceArg::Sms => Service::Sms,
    };
    match target {
        Target::Handle { to, .. } => {
            Target::handle(to, wanted).map_err(|e| Failure::usage(format!("--to: {e}")))
        }
        _ => Err(Failure::usage(format!(
            "--service {} applies to handle targets; `{to}` names a chat",
            wanted.as_str()
        ))
        .hint("a chat is answered over its own service; drop --service")),
    }
}

/// The JSON description of a target.
pub fn target_json(target: &Target) -> Value {
    let (kind, value) = match target {
        Target::ChatId(id) => ("chat_id", id.to_string()),
        Target::ChatGuid(g) => ("chat_guid", g.clone()),
        Target::ChatIdentifier(i) => ("chat_identifier", i.clone()),
        Target::Handle { to, .. } => ("handle", to.clone()),
    };
    json!({"kind": kind, "value": value, "text": target.to_string()})
}

/// `message send`.
///
/// # Errors
///
/// Exit 2 for a bad target, 78 for a bad config, 1 when the policy refuses the target, and the
/// channel's exit codes when sending fails.
pub async fn send(globals: &Globals, args: &SendArgs) -> Result<u8, Failure> {
    let loaded = paths::load(globals.config.as_deref())?;
    let account = loaded.account(args.account.as_deref())?;
    let state_dir = paths::state_dir(globals.state_dir.as_deref())?;
    let target = parse_target(&args.to, args.service)?;
    if let Some(file) = &args.file
        && !file.is_file()
    {
        return Err(Failure::usage(format!(
            "--file {}: not a readable file",
            file.display()
        )));
    }
    let pairing = read_pairing(&state_dir, &account.id)
        .await
        .unwrap_or_else(|_| PairingSnapshot::new(account.id.clone()));
    let refusal = check_outbound(&account.policy, &target, None, &pairing).err();
    // The same step the channel runs on every reply, so the dry run shows the real bubbles. An
    // owner's own message gets no response prefix.
    let chunks = imsg_channel::outbound_text::prepare_reply(&args.text, &account.limits, None);
    let service = match &target {
        Target::Handle { service, .. } => *service,
        _ => account.service,
    };
    if args.dry_run {
        let value = json!({
            "dryRun": true,
            "account": account.id,
            "target": target_json(&target),
            "service": service.as_str(),
            "region": account.region.as_str(),
            "allowed": refusal.is_none(),
            "refusal": refusal.as_ref().map(ToString::to_string),
            "chunks": chunks,
            "file": args.file.as_ref().map(|f| f.display().to_string()),
        });
        if args.json {
            output::json(&value)?;
        } else {
            output::line(&format!(
                "would send to {} over {} ({} chunk{}){}",
                target,
                service.as_str(),
                chunks.len(),
                if chunks.len() == 1 { "" } else { "s" },
                refusal
                    .as_ref()
                    .map_or_else(String::new, |r| format!(", but it is refused: {r}"))
            ))?;
            for (i, c) in chunks.iter().enumerate() {
                output::line(&format!("  [{}] {c}", i + 1))?;
            }
        }
        return Ok(if refusal.is_some() { OTHER } else { OK });
    }
    if let Some(refusal) = refusal {
        return Err(Failure::other(refusal.to_string()).hint(
            "add the target to channels.imessage.allowFrom (or groupAllowFrom for a chat), or approve it by pairing",
        ));
    }
    let channel = wiring::build_channel(account, &state_dir)?;
    let mut message = OutboundMessage::text(target.clone(), args.text.clone());
    if let Some(file) = &args.file {
        message = message.with_file(file.clone());
    }
    tracing::info!(account = %account.id, to = %mask::handle(&target.to_string()), text = %mask::body(&args.text), "sending");
    let receipt = channel.send(message).await?;
    if args.json {
        output::json(&json!({
            "dryRun": false,
            "account": account.id,
            "target": target_json(&target),
            "service": service.as_str(),
            "sends": receipt.sends,
            "guids": receipt.guids,
        }))?;
    } else {
        output::line(&format!(
            "sent to {target} ({} send{})",
            receipt.sends,
            if receipt.sends == 1 { "" } else { "s" }
        ))?;
    }
    Ok(OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_applies_to_handles_only() {
        let t = parse_target("+15555550123", ServiceArg::Sms).ok();
        assert_eq!(
            t.map(|t| t.to_string()).as_deref(),
            Some("sms:+15555550123")
        );
        let err = parse_target("chat_id:4", ServiceArg::Sms).err();
        assert_eq!(err.map(|f| f.code), Some(2));
        assert!(parse_target("chat_id:x", ServiceArg::Auto).is_err());
    }
}
