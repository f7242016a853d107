//! The configuration overlay: `/config set|unset` changes, kept in the state dir, applied over the user's file.
//!
//! The user's JSON5 file (with its comments) is never written. The overlay is a JSON object of
//! `channels.imessage` changes, applied as a JSON merge patch (RFC 7386: objects merge key by key, `null`
//! removes a key, anything else replaces). A change is accepted only if the user's file with the new overlay
//! still loads through `imsg-config`, exactly as a reload would load it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use imsg_config::{ConfigError, LoadOptions, ResolvedConfig};
use serde_json::{Map, Value};

/// The overlay's file name inside the state dir.
pub const OVERLAY_FILE_NAME: &str = "config-overlay.json";

/// Keys that start programs or open files; they can be changed only by editing the file, never from a chat
/// message, so that a stolen phone or a spoofed sender cannot make the gateway run something else.
const LOCKED_KEYS: &[&str] = &[
    "cliPath",
    "dbPath",
    "remoteHost",
    "attachmentRoots",
    "remoteAttachmentRoots",
];

/// Why the overlay could not be read, applied or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OverlayError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The overlay file is not a JSON object.
    #[error("{path}: the overlay must be a JSON object of channels.imessage settings: {message}")]
    BadOverlay {
        /// The overlay file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The user's file alone does not load.
    #[error(transparent)]
    Config(ConfigError),
    /// The user's file loads, but not with the overlay applied.
    #[error("{overlay}: {}{}{} (applied over {config})", .error.path(), if .error.path().is_empty() { "" } else { ": " }, .error.kind())]
    Rejected {
        /// The overlay file.
        overlay: String,
        /// The user's file.
        config: String,
        /// The loader's verdict on the combination.
        error: ConfigError,
    },
}

/// Applies a JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The user's configuration text with `overlay` merged into `channels.imessage`, as JSON text.
///
/// # Errors
///
/// [`OverlayError::Config`] when the user's text is not JSON5 (with the loader's own message).
pub fn apply_overlay(
    user_text: &str,
    overlay: &Value,
    options: &LoadOptions,
) -> Result<String, OverlayError> {
    let mut root: Value = match json5::from_str(user_text) {
        Ok(value) => value,
        Err(_) => {
            // Let the loader describe the syntax error, with its position in the user's file.
            return Err(match imsg_config::from_str(user_text, options) {
                Err(err) => OverlayError::Config(err),
                Ok(_) => OverlayError::BadOverlay {
                    path: String::new(),
                    message: "the configuration is not a JSON5 object".to_owned(),
                },
            });
        }
    };
    if !root.is_object() {
        root = Value::Object(Map::new());
    }
    let mut patch = Map::new();
    let mut channels = Map::new();
    channels.insert("imessage".to_owned(), overlay.clone());
    patch.insert("channels".to_owned(), Value::Object(channels));
    merge_patch(&mut root, &Value::Object(patch));
    Ok(root.to_string())
}

/// Reads an overlay file; a missing file is an empty overlay.
///
/// # Errors
///
/// [`OverlayError::Io`] or [`OverlayError::BadOverlay`].
pub fn read_overlay(path: &Path) -> Result<Map<String, Value>, OverlayError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(err) => {
            return Err(OverlayError::Io {
                path: path.display().to_string(),
                message: err.to_string(),
            });
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(OverlayError::BadOverlay {
            path: path.display().to_string(),
            message: "not an object".to_owned(),
        }),
        Err(err) => Err(OverlayError::BadOverlay {
            path: path.display().to_string(),
            message: err.to_string(),
        }),
    }
}

fn load_options(config_path: &Path) -> LoadOptions {
    let mut options = LoadOptions::new(config_path.display().to_string());
    if let Some(home) = std::env::home_dir() {
        options = options.with_home(home.display().to_string());
    }
    options
}

/// Loads the user's file with the overlay at `overlay_path` applied (what a reload loads).
///
/// # Errors
///
/// The user's file does not load on its own ([`OverlayError::Config`]), the overlay cannot be read, or the
/// combination is rejected ([`OverlayError::Rejected`]).
pub fn load_with_overlay(
    config_path: &Path,
    overlay_path: &Path,
) -> Result<ResolvedConfig, OverlayError> {
    let overlay = read_overlay(overlay_path)?;
    let text = fs::read_to_string(config_path).map_err(|err| OverlayError::Io {
        path: config_path.display().to_string(),
        message: err.to_string(),
    })?;
    load_text_with_overlay(&text, config_path, overlay_path, &overlay)
}

fn load_text_with_overlay(
    text: &str,
    config_path: &Path,
    overlay_path: &Path,
    overlay: &Map<String, Value>,
) -> Result<ResolvedConfig, OverlayError> {
    let options = load_options(config_path);
    // The user's file on its own first: its errors then carry positions in the user's own text.
    let plain = imsg_config::from_str(text, &options).map_err(OverlayError::Config)?;
    if overlay.is_empty() {
        return Ok(plain);
    }
    let combined = apply_overlay(text, &Value::Object(overlay.clone()), &options)?;
    imsg_config::from_str(&combined, &options).map_err(|error| OverlayError::Rejected {
        overlay: overlay_path.display().to_string(),
        config: config_path.display().to_string(),
        error,
    })
}

/// Writes `/config` changes to the overlay and asks the gateway to reload.
pub struct ConfigWriter {
    config_path: PathBuf,
    overlay_path: PathBuf,
    reload: Arc<dyn Fn() + Send + Sync>,
    /// One change at a time: read, check, write must not interleave.
    lock: Mutex<()>,
}

impl std::fmt::Debug for ConfigWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWriter")
            .field("config_path", &self.config_path)
            .field("overlay_path", &self.overlay_path)
            .finish_non_exhaustive()
    }
}

impl ConfigWriter {
    /// A writer for the user's file `config_path`, keeping the overlay in `state_dir`; `reload` is called
    /// after each accepted change (it should reload like SIGHUP does).
    pub fn new(
        config_path: impl Into<PathBuf>,
        state_dir: &Path,
        reload: impl Fn() + Send + Sync + 'static,
    ) -> ConfigWriter {
        ConfigWriter {
            config_path: config_path.into(),
            overlay_path: state_dir.join(OVERLAY_FILE_NAME),
            reload: Arc::new(reload),
            lock: Mutex::new(()),
        }
    }

    /// Where the overlay is kept.
    pub fn overlay_path(&self) -> &Path {
        &self.overlay_path
    }

    /// The configuration in effect: the user's file with the overlay.
    ///
    /// # Errors
    ///
    /// See [`load_with_overlay`].
    pub fn effective(&self) -> Result<ResolvedConfig, OverlayError> {
        load_with_overlay(&self.config_path, &self.overlay_path)
    }

    /// Sets (`Some`) or unsets (`None`) `key` (dotted, relative to `channels.imessage`) on behalf of a sender
    /// of `account_id`. Blocking file I/O: call it off the async threads.
    ///
    /// Returns the answer for the sender: a confirmation, or why the change was refused (one line).
    pub(crate) fn change(&self, account_id: &str, key: &str, value: Option<&str>) -> String {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        match self.try_change(account_id, key, value) {
            Ok(answer) => answer,
            Err(refusal) => refusal,
        }
    }

    fn try_change(
        &self,
        account_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<String, String> {
        let segments = parse_key(key)?;
        let dotted = format!("channels.imessage.{}", segments.join("."));
        if let Some(locked) = segments
            .last()
            .filter(|last| LOCKED_KEYS.contains(&last.as_str()))
        {
            return Err(format!(
                "config: `{locked}` cannot be changed from chat; edit the config file"
            ));
        }
        let value = match value {
            Some(text) => {
                let parsed = parse_value(text);
                if let Some(locked) = find_locked_key(&parsed) {
                    return Err(format!(
                        "config: `{locked}` cannot be changed from chat; edit the config file"
                    ));
                }
                Some(parsed)
            }
            None => None,
        };

        let text = fs::read_to_string(&self.config_path)
            .map_err(|err| format!("config: cannot read {}: {err}", self.config_path.display()))?;
        let overlay = read_overlay(&self.overlay_path).map_err(|err| format!("config: {err}"))?;
        let current =
            load_text_with_overlay(&text, &self.config_path, &self.overlay_path, &overlay)
                .map_err(|err| format!("config: the current configuration does not load: {err}"))?;
        let Some(account) = current.account(account_id) else {
            return Err(format!(
                "config: account `{account_id}` is not in the configuration"
            ));
        };
        if !account.config_writes {
            return Err(format!(
                "config: configWrites is off for account `{account_id}`; change it in the config file"
            ));
        }

        let options = load_options(&self.config_path);
        let user: Value = json5::from_str(&text).unwrap_or(Value::Null);
        let in_user_file = lookup(&user, &["channels", "imessage"])
            .and_then(|section| {
                lookup(
                    section,
                    &segments.iter().map(String::as_str).collect::<Vec<_>>(),
                )
            })
            .is_some();
        let mut patch = Value::Object(overlay.clone());
        match &value {
            Some(v) => set_path(&mut patch, &segments, v.clone()),
            // Unset: remove the key from the effective configuration. If the user's file has it, the
            // overlay must say `null`; otherwise dropping the overlay's own entry is enough.
            None if in_user_file => set_path(&mut patch, &segments, Value::Null),
            None => remove_path(&mut patch, &segments),
        }
        let Value::Object(new_overlay) = patch else {
            return Err("config: internal error: the overlay is not an object".to_owned());
        };
        let combined = apply_overlay(&text, &Value::Object(new_overlay.clone()), &options)
            .map_err(|err| format!("config: {err}"))?;
        if let Err(err) = imsg_config::from_str(&combined, &options) {
            let path = err.path();
            return Err(if path.is_empty() {
                format!("config rejected: {}", err.kind())
            } else {
                format!("config rejected: {path}: {}", err.kind())
            });
        }
        write_atomic(&self.overlay_path, &Value::Object(new_overlay))
            .map_err(|err| format!("config: cannot write the overlay: {err}"))?;
        tracing::info!(
            key = %dotted,
            account = account_id,
            overlay = %self.overlay_path.display(),
            "config overlay changed from chat; reloading"
        );
        (self.reload)();
        Ok(match value {
            Some(v) => format!("config: {dotted} = {v} (saved in the overlay; reloading)"),
            None => format!("config: {dotted} unset (saved in the overlay; reloading)"),
        })
    }
}

/// Splits a dotted key, accepting an optional `channels.imessage.` prefix.
fn parse_key(key: &str) -> Result<Vec<String>, String> {
    let key = key.trim();
    let key = key.strip_prefix("channels.imessage.").unwrap_or(key);
    let segments: Vec<String> = key.split('.').map(str::to_owned).collect();
    if key.is_empty() || segments.iter().any(|s| s.trim().is_empty()) {
        return Err(format!(
            "config: `{key}` is not a key; use a dotted path such as dmPolicy or accounts.work.allowFrom"
        ));
    }
    Ok(segments)
}

/// A value as typed: JSON5 when it parses (`true`, `5`, `["+15551234567"]`, `"x"`), else the text itself.
fn parse_value(text: &str) -> Value {
    let text = text.trim();
    json5::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn find_locked_key(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if LOCKED_KEYS.contains(&k.as_str()) {
                Some(k.clone())
            } else {
                find_locked_key(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(find_locked_key),
        _ => None,
    }
}

fn lookup<'a>(value: &'a Value, segments: &[&str]) -> Option<&'a Value> {
    segments
        .iter()
        .try_fold(value, |v, segment| v.as_object()?.get(*segment))
}

fn set_path(root: &mut Value, segments: &[String], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut node = root;
    for segment in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

/// Removes a key and then every parent object the removal left empty.
fn remove_path(root: &mut Value, segments: &[String]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let Value::Object(map) = root else { return };
    if rest.is_empty() {
        map.remove(first);
        return;
    }
    if let Some(child) = map.get_mut(first) {
        remove_path(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            map.remove(first);
        }
    }
}

/// Writes `value` to `path` atomically (temp file, fsync, rename, fsync of the directory), mode 0600, in a
/// directory created with mode 0700 when missing.
fn write_atomic(path: &Path, value: &Value) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(|| OVERLAY_FILE_NAME.into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let mut text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    text.push('\n');
    {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_merges_replaces_and_removes() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(
            &mut target,
            &json!({"a": null, "b": {"c": 9}, "e": [2], "f": "x"}),
        );
        assert_eq!(target, json!({"b": {"c": 9, "d": 3}, "e": [2], "f": "x"}));
    }

    #[test]
    fn keys_and_values_as_typed() {
        assert_eq!(
            parse_key("channels.imessage.accounts.work.dmPolicy"),
            Ok(vec![
                "accounts".to_owned(),
                "work".to_owned(),
                "dmPolicy".to_owned()
            ])
        );
        assert!(parse_key("a..b").is_err());
        assert!(parse_key("").is_err());
        assert_eq!(parse_value("open"), json!("open"));
        assert_eq!(parse_value("\"open\""), json!("open"));
        assert_eq!(parse_value("true"), json!(true));
        assert_eq!(parse_value("['+15551234567']"), json!(["+15551234567"]));
        assert_eq!(
            find_locked_key(&json!({"work": {"cliPath": "/x"}})),
            Some("cliPath".to_owned())
        );
    }

    #[test]
    fn remove_path_prunes_empty_parents() {
        let mut v = json!({"accounts": {"work": {"dmPolicy": "open"}}, "x": 1});
        remove_path(
            &mut v,
            &[
                "accounts".to_owned(),
                "work".to_owned(),
                "dmPolicy".to_owned(),
            ],
        );
        assert_eq!(v, json!({"x": 1}));
    }
}
