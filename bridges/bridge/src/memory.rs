//! A [`BridgeStore`] in memory, for bridges' unit tests (nothing survives the process;
//! expiry is not modelled).

use crate::{BridgeStore, StoreFailed};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// An in-memory key-value store.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<BTreeMap<String, String>>);

impl MemoryStore {
    /// How many keys start with `prefix` (for assertions).
    pub fn count(&self, prefix: &str) -> usize {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.keys().filter(|k| k.starts_with(prefix)).count()
    }
}

#[async_trait]
impl BridgeStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreFailed> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned())
    }

    async fn put(&self, key: &str, value: &str, _ttl: Option<Duration>) -> Result<(), StoreFailed> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.into(), value.into());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreFailed> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
            .is_some())
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreFailed> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
