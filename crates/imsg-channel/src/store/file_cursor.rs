//! The stream cursor on disk: one small JSON file per account, replaced atomically on every save.

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::file::{
    MAX_JSON_BYTES, atomic_write, blocking, check_account_id, check_version, parse_json,
    pretty_json, read_optional,
};
use super::{Cursor, CursorStore, StoreError};

/// A [`CursorStore`] keeping `<state>/cursor/<account>.json`:
/// `{"version": 1, "rowid": 1234, "updatedAtMs": 1767607200000}`.
///
/// Each save is an atomic replacement (temporary file, fsync, rename, directory fsync), so a crash
/// leaves the previous cursor or the new one. Saves take no lock: one gateway owns an account's
/// cursor, and two concurrent saves still leave one whole file.
#[derive(Debug, Clone)]
pub struct FileCursorStore {
    dir: PathBuf,
}

impl FileCursorStore {
    /// A store under `<state_dir>/cursor`.
    pub fn new(state_dir: impl AsRef<Path>) -> FileCursorStore {
        FileCursorStore {
            dir: state_dir.as_ref().join("cursor"),
        }
    }

    /// The cursor file of `account_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidAccount`] when `account_id` is not a normalized account id.
    pub fn path(&self, account_id: &str) -> Result<PathBuf, StoreError> {
        check_account_id(account_id)?;
        Ok(self.dir.join(format!("{account_id}.json")))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CursorDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<Value>,
    rowid: i64,
    #[serde(default)]
    updated_at_ms: i64,
}

impl CursorStore for FileCursorStore {
    fn load(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Cursor>, StoreError>> + Send {
        let path = self.path(account_id);
        async move {
            let path = path?;
            let read_path = path.clone();
            blocking(&path, move || {
                let Some(bytes) = read_optional(&read_path, MAX_JSON_BYTES)? else {
                    return Ok(None);
                };
                let doc: CursorDoc = parse_json(&read_path, &bytes)?;
                check_version(&read_path, doc.version.as_ref())?;
                Ok(Some(Cursor::new(doc.rowid, doc.updated_at_ms)))
            })
            .await
        }
    }

    fn save(
        &self,
        account_id: &str,
        cursor: Cursor,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let path = self.path(account_id);
        async move {
            let path = path?;
            let write_path = path.clone();
            blocking(&path, move || {
                let doc = CursorDoc {
                    version: Some(Value::from(1)),
                    rowid: cursor.rowid,
                    updated_at_ms: cursor.updated_at_ms,
                };
                atomic_write(&write_path, &pretty_json(&write_path, &doc)?)
            })
            .await
        }
    }
}
