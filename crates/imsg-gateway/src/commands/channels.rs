//! `channels status [--probe]`: each account as the config defines it and as the running gateway
//! sees it (through the status files it publishes), and optionally a fresh probe.

use std::time::Instant;

use imsg_config::ResolvedAccount;
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::exit::{Failure, OK};
use crate::status::{self, Live};
use crate::{output, paths, wiring};

/// Probes `account` with `imsg_rpc::probe` and renders the result.
pub async fn probe_json(account: &ResolvedAccount) -> Value {
    let started = Instant::now();
    let result = imsg_rpc::probe(
        &wiring::spawn_options(account),
        account.process.probe_timeout,
    )
    .await;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(report) => json!({
            "ok": true,
            "program": report.program.display().to_string(),
            "version": report.version,
            "rpcSupported": true,
            "elapsedMs": elapsed,
            "error": null,
            "hint": null,
            "exitCode": 0,
        }),
        Err(err) => {
            let failure = Failure::from(&err);
            json!({
                "ok": false,
                "program": null,
                "version": null,
                "rpcSupported": !matches!(err, imsg_rpc::RpcError::RpcUnsupported { .. } | imsg_rpc::RpcError::NotFound { .. }),
                "elapsedMs": elapsed,
                "error": failure.what,
                "hint": failure.hint,
                "exitCode": failure.code,
            })
        }
    }
}

/// The JSON of one account's live status.
fn live_json(live: &Live) -> Value {
    match live {
        Live::Running(s) => json!({
            "running": true,
            "pid": s.pid,
            "state": s.state,
            "lastError": s.last_error,
            "restarts": s.restarts,
            "lastInboundAt": s.last_inbound_at,
            "lastOutboundAt": s.last_outbound_at,
            "lastStartAt": s.last_start_at,
            "updatedAt": s.updated_at,
        }),
        Live::Stale(s) => json!({
            "running": false,
            "pid": null,
            "state": "not running",
            "lastError": format!("the gateway (pid {}) is gone without stopping this account", s.pid),
            "restarts": s.restarts,
            "lastInboundAt": s.last_inbound_at,
            "lastOutboundAt": s.last_outbound_at,
            "lastStartAt": s.last_start_at,
            "updatedAt": s.updated_at,
        }),
        Live::NotRunning => json!({
            "running": false, "pid": null, "state": "not running", "lastError": null, "restarts": 0,
            "lastInboundAt": null, "lastOutboundAt": null, "lastStartAt": null, "updatedAt": null,
        }),
        Live::Unreadable(why) => json!({
            "running": false, "pid": null, "state": "unknown", "lastError": why, "restarts": 0,
            "lastInboundAt": null, "lastOutboundAt": null, "lastStartAt": null, "updatedAt": null,
        }),
    }
}

/// Renders milliseconds since the epoch as "Ns ago".
fn ago(at: Option<i64>) -> String {
    at.map_or_else(
        || "never".to_owned(),
        |ms| format!("{}s ago", (status::now_ms() - ms).max(0) / 1000),
    )
}

/// `channels status`.
///
/// # Errors
///
/// Exit 78 for a bad config.
pub async fn status(globals: &Globals, probe: bool, json_out: bool) -> Result<u8, Failure> {
    let loaded = paths::load(globals.config.as_deref())?;
    let state_dir = paths::state_dir(globals.state_dir.as_deref())?;
    let mut accounts = Vec::new();
    for account in &loaded.config.accounts {
        let live = status::live(&state_dir, &account.id);
        let mut entry = json!({
            "id": account.id,
            "name": account.name,
            "enabled": account.enabled,
            "configured": account.configured,
            "cliPath": wiring::cli_path_text(account),
            "dbPath": wiring::db_path_text(account),
            "live": live_json(&live),
            "probe": null,
        });
        if probe && account.enabled {
            entry["probe"] = probe_json(account).await;
        }
        accounts.push(entry);
    }
    let running = accounts.iter().any(|a| a["live"]["running"] == true);
    if json_out {
        output::json(&json!({
            "configPath": loaded.path.display().to_string(),
            "stateDir": state_dir.display().to_string(),
            "gatewayRunning": running,
            "accounts": accounts,
        }))?;
        return Ok(OK);
    }
    if !running {
        output::line(&format!(
            "gateway: not running (no live status in {})",
            status::dir(&state_dir).display()
        ))?;
    }
    for a in &accounts {
        let live = &a["live"];
        let mut line = format!(
            "{}: {}, {}, {}",
            a["id"].as_str().unwrap_or_default(),
            if a["enabled"] == true {
                "enabled"
            } else {
                "disabled"
            },
            if a["configured"] == true {
                "configured"
            } else {
                "not configured"
            },
            live["state"].as_str().unwrap_or("unknown"),
        );
        if live["running"] == true {
            line.push_str(&format!(
                " (pid {}, restarts {}, last inbound {}, last outbound {})",
                live["pid"],
                live["restarts"],
                ago(live["lastInboundAt"].as_i64()),
                ago(live["lastOutboundAt"].as_i64())
            ));
        }
        output::line(&line)?;
        if let Some(err) = live["lastError"].as_str() {
            output::line(&format!("  last error: {err}"))?;
        }
        if a["probe"].is_object() {
            let p = &a["probe"];
            if p["ok"] == true {
                output::line(&format!(
                    "  probe: ok ({}, {} ms)",
                    p["version"].as_str().unwrap_or("version unknown"),
                    p["elapsedMs"]
                ))?;
            } else {
                output::line(&format!(
                    "  probe: failed: {}",
                    p["error"].as_str().unwrap_or_default()
                ))?;
                if let Some(hint) = p["hint"].as_str() {
                    output::line(&format!("  fix: {hint}"))?;
                }
            }
        }
    }
    Ok(OK)
}
