//! In-memory stores, for tests and embedders that persist elsewhere.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::{Cursor, CursorStore, DEDUPE_CAPACITY, DedupeStore, StoreError};

/// A [`CursorStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryCursorStore {
    cursors: Mutex<BTreeMap<String, Cursor>>,
}

impl MemoryCursorStore {
    /// An empty store.
    pub fn new() -> MemoryCursorStore {
        MemoryCursorStore::default()
    }
}

impl CursorStore for MemoryCursorStore {
    async fn load(&self, account_id: &str) -> Result<Option<Cursor>, StoreError> {
        let cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        Ok(cursors.get(account_id).copied())
    }

    async fn save(&self, account_id: &str, cursor: Cursor) -> Result<(), StoreError> {
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        cursors.insert(account_id.to_owned(), cursor);
        Ok(())
    }
}

/// A [`DedupeStore`] in memory, keeping the newest `capacity` keys per account.
#[derive(Debug)]
pub struct MemoryDedupeStore {
    capacity: usize,
    accounts: Mutex<BTreeMap<String, Recent>>,
}

#[derive(Debug, Default)]
struct Recent {
    order: VecDeque<String>,
    keys: HashSet<String>,
}

impl MemoryDedupeStore {
    /// An empty store keeping [`DEDUPE_CAPACITY`] keys per account.
    pub fn new() -> MemoryDedupeStore {
        MemoryDedupeStore::with_capacity(DEDUPE_CAPACITY)
    }

    /// An empty store keeping `capacity` keys per account (at least one).
    pub fn with_capacity(capacity: usize) -> MemoryDedupeStore {
        MemoryDedupeStore {
            capacity: capacity.max(1),
            accounts: Mutex::default(),
        }
    }
}

impl Default for MemoryDedupeStore {
    fn default() -> Self {
        MemoryDedupeStore::new()
    }
}

impl DedupeStore for MemoryDedupeStore {
    async fn contains(&self, account_id: &str, key: &str) -> Result<bool, StoreError> {
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        Ok(accounts
            .get(account_id)
            .is_some_and(|recent| recent.keys.contains(key)))
    }

    async fn insert(&self, account_id: &str, key: &str) -> Result<(), StoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let recent = accounts.entry(account_id.to_owned()).or_default();
        if recent.keys.insert(key.to_owned()) {
            recent.order.push_back(key.to_owned());
            while recent.order.len() > self.capacity {
                if let Some(old) = recent.order.pop_front() {
                    recent.keys.remove(&old);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cursor_is_per_account_and_replaced() {
        let store = MemoryCursorStore::new();
        assert_eq!(store.load("a").await.ok().flatten(), None);
        store.save("a", Cursor::new(5, 1)).await.ok();
        store.save("a", Cursor::new(9, 2)).await.ok();
        assert_eq!(
            store.load("a").await.ok().flatten(),
            Some(Cursor::new(9, 2))
        );
        assert_eq!(store.load("b").await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn dedupe_keeps_the_newest_keys_up_to_capacity() {
        let store = MemoryDedupeStore::with_capacity(2);
        for key in ["guid:1", "guid:2", "guid:2", "guid:3"] {
            store.insert("a", key).await.ok();
        }
        assert!(!store.contains("a", "guid:1").await.unwrap_or(true));
        assert!(store.contains("a", "guid:2").await.unwrap_or(false));
        assert!(store.contains("a", "guid:3").await.unwrap_or(false));
        assert!(!store.contains("b", "guid:3").await.unwrap_or(true));
    }
}
