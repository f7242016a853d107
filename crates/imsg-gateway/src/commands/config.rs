//! `config check`, `config show`, `config schema`.

use serde_json::{Value, json};

use crate::commands::Globals;
use crate::exit::{Failure, OK};
use crate::output;
use crate::paths::{self, Loaded};

/// The 1-based line where the dotted `path` is written in `text`, when it can be found: each
/// segment is looked for as a key after the previous one.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let mut from = 0;
    let mut found = None;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let rest = text.get(from..)?;
        let at = find_key(rest, segment)?;
        from += at + segment.len();
        found = Some(from);
    }
    found.map(|at| text[..at].matches('\n').count() + 1)
}

/// The byte offset of `key` written as an object key (bare, or in single or double quotes,
/// followed by `:`).
fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut start = 0;
    while let Some(rel) = text[start..].find(key) {
        let at = start + rel;
        let before = text[..at].chars().next_back();
        let after_key = &text[at + key.len()..];
        let (quoted_ok, tail) = match before {
            Some(q @ ('"' | '\'')) => (
                after_key.starts_with(q),
                after_key.get(1..).unwrap_or_default(),
            ),
            Some(c) if c.is_alphanumeric() || c == '_' || c == '$' => (false, after_key),
            _ => (true, after_key),
        };
        if quoted_ok && tail.trim_start().starts_with(':') {
            return Some(at);
        }
        start = at + key.len();
    }
    None
}

/// The warnings of a loaded config with their lines.
fn warnings(loaded: &Loaded) -> Vec<Value> {
    loaded
        .config
        .warnings
        .iter()
        .map(|w| {
            json!({
                "path": w.path,
                "message": w.message,
                "line": line_of(&loaded.text, &w.path),
            })
        })
        .collect()
}

/// `config check`.
///
/// # Errors
///
/// Exit 78 for a missing or invalid file.
pub fn check(globals: &Globals, json_out: bool) -> Result<u8, Failure> {
    let loaded = match paths::load(globals.config.as_deref()) {
        Ok(l) => l,
        Err(failure) => {
            if json_out {
                output::json(&json!({"ok": false, "error": failure.what, "hint": failure.hint}))?;
            }
            return Err(failure);
        }
    };
    let warnings = warnings(&loaded);
    let accounts: Vec<Value> = loaded
        .config
        .accounts
        .iter()
        .map(|a| json!({"id": a.id, "enabled": a.enabled, "configured": a.configured}))
        .collect();
    if json_out {
        output::json(&json!({
            "ok": true,
            "path": loaded.path.display().to_string(),
            "source": loaded.source.as_str(),
            "defaultAccount": loaded.config.default_account,
            "accounts": accounts,
            "warnings": warnings,
        }))?;
        return Ok(OK);
    }
    output::line(&format!(
        "ok: {} ({} account{}: {})",
        loaded.path.display(),
        loaded.config.accounts.len(),
        if loaded.config.accounts.len() == 1 {
            ""
        } else {
            "s"
        },
        loaded
            .config
            .accounts
            .iter()
            .map(|a| if a.enabled {
                a.id.clone()
            } else {
                format!("{} (disabled)", a.id)
            })
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    for w in &warnings {
        let line = w["line"]
            .as_u64()
            .map_or_else(String::new, |l| format!(" line {l}"));
        output::line(&format!(
            "warning: {}{line}: {}: {}",
            loaded.path.display(),
            w["path"].as_str().unwrap_or_default(),
            w["message"].as_str().unwrap_or_default()
        ))?;
    }
    Ok(OK)
}

/// Keys whose values are never shown.
const SECRET_WORDS: [&str; 5] = ["secret", "token", "password", "apikey", "api_key"];

/// Replaces the value of every secret-looking key with `"•••"` (an environment variable's
/// *name*, `apiKeyEnv`, is kept: it is not a secret).
pub fn mask_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                let secret =
                    SECRET_WORDS.iter().any(|w| lower.contains(w)) && !lower.ends_with("env");
                if secret && !v.is_null() {
                    *v = Value::String("•••".into());
                } else {
                    mask_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// `config show`.
///
/// # Errors
///
/// Exit 78 for a missing or invalid file or an unknown account.
pub fn show(globals: &Globals, account: Option<&str>) -> Result<u8, Failure> {
    let loaded = paths::load(globals.config.as_deref())?;
    let mut value = match account {
        Some(id) => {
            let account = loaded.account(Some(id))?;
            json!({
                "configPath": loaded.path.display().to_string(),
                "account": account.to_json(),
            })
        }
        None => {
            let mut all = loaded.config.to_json();
            if let Value::Object(map) = &mut all {
                map.insert(
                    "configPath".into(),
                    Value::String(loaded.path.display().to_string()),
                );
            }
            all
        }
    };
    mask_secrets(&mut value);
    output::json(&value)?;
    Ok(OK)
}

/// `config schema`.
///
/// # Errors
///
/// Exit 1 when stdout is closed.
pub fn schema() -> Result<u8, Failure> {
    output::json(&imsg_config::json_schema())?;
    Ok(OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_dotted_paths_follow_the_nesting() {
        let text = "{\n  channels: {\n    imessage: {\n      groupPolicy: 'open',\n      accounts: { work: { \"groupPolicy\": \"open\" } },\n    },\n  },\n}\n";
        assert_eq!(line_of(text, "channels.imessage.groupPolicy"), Some(4));
        assert_eq!(
            line_of(text, "channels.imessage.accounts.work.groupPolicy"),
            Some(5)
        );
        assert_eq!(line_of(text, "channels.imessage.dmPolicy"), None);
    }

    #[test]
    fn a_key_inside_a_longer_word_is_not_found() {
        assert_eq!(line_of("{ xdmPolicy: 1 }", "dmPolicy"), None);
        assert_eq!(line_of("{ dmPolicy: 1 }", "dmPolicy"), Some(1));
    }

    #[test]
    fn secrets_are_masked_and_env_names_kept() {
        let mut v =
            json!({"agent": {"apiKey": "sk-1", "apiKeyEnv": "OPENAI_API_KEY", "token": null}});
        mask_secrets(&mut v);
        assert_eq!(v["agent"]["apiKey"], "•••");
        assert_eq!(v["agent"]["apiKeyEnv"], "OPENAI_API_KEY");
        assert!(v["agent"]["token"].is_null());
    }
}
