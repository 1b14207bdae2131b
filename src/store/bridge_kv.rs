//! The key-value store each bridge gets ([`switchboard_bridge::BridgeStore`]), kept in the
//! gateway's database with one namespace per transport.

use super::sqlite::{now_secs, Cached, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use std::time::Duration;
use switchboard_bridge::{BridgeStore, StoreFailed};

/// One transport's view of the `bridge_kv` table.
#[derive(Clone)]
pub struct BridgeKv {
    store: SqliteStore,
    transport: String,
}

impl BridgeKv {
    /// The namespace of `transport` (its domain) in `store`.
    pub fn new(store: SqliteStore, transport: impl Into<String>) -> Self {
        Self {
            store,
            transport: transport.into(),
        }
    }
}

fn failed(e: crate::Error) -> StoreFailed {
    StoreFailed(e.to_string())
}

#[async_trait]
impl BridgeStore for BridgeKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreFailed> {
        let (t, k) = (self.transport.clone(), key.to_string());
        self.store
            .with(move |c| {
                Ok(c.prepare_cached(
                    "SELECT value FROM bridge_kv WHERE transport = ?1 AND key = ?2
                         AND (expires_at IS NULL OR expires_at > ?3)",
                )?
                .query_row(params![t, k, now_secs()], |r| r.get(0))
                .optional()?)
            })
            .await
            .map_err(failed)
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), StoreFailed> {
        let (t, k, v) = (self.transport.clone(), key.to_string(), value.to_string());
        let expires = ttl.map(|d| now_secs() + d.as_secs() as i64);
        self.store
            .with(move |c| {
                c.run(
                    "INSERT OR REPLACE INTO bridge_kv (transport, key, value, expires_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![t, k, v, expires],
                )?;
                Ok(())
            })
            .await
            .map_err(failed)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreFailed> {
        let (t, k) = (self.transport.clone(), key.to_string());
        self.store
            .with(move |c| {
                Ok(c.run(
                    "DELETE FROM bridge_kv WHERE transport = ?1 AND key = ?2",
                    params![t, k],
                )? > 0)
            })
            .await
            .map_err(failed)
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreFailed> {
        let (t, p) = (self.transport.clone(), prefix.to_string());
        self.store
            .with(move |c| {
                // Expired rows are dropped here, so a scan at start also cleans up.
                c.run(
                    "DELETE FROM bridge_kv WHERE transport = ?1 AND expires_at <= ?2",
                    params![t, now_secs()],
                )?;
                let mut stmt = c.prepare_cached(
                    "SELECT key, value FROM bridge_kv WHERE transport = ?1
                     AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
                )?;
                let rows = stmt
                    .query_map(params![t, p], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_per_transport_expire_and_scan_by_prefix() {
        let db = SqliteStore::open(None).unwrap();
        let a = BridgeKv::new(db.clone(), "sms.a");
        let b = BridgeKv::new(db, "sms.b");
        a.put("number:+1", "alice@x", None).await.unwrap();
        a.put("number:+2", "bob@x", None).await.unwrap();
        a.put("other", "1", None).await.unwrap();
        a.put("gone", "1", Some(Duration::ZERO)).await.unwrap();
        assert_eq!(
            a.get("number:+1").await.unwrap().as_deref(),
            Some("alice@x")
        );
        assert_eq!(b.get("number:+1").await.unwrap(), None);
        assert_eq!(a.get("gone").await.unwrap(), None, "expired");
        assert_eq!(
            a.scan("number:").await.unwrap(),
            vec![
                ("number:+1".to_string(), "alice@x".to_string()),
                ("number:+2".to_string(), "bob@x".to_string())
            ]
        );
        assert!(a.delete("number:+1").await.unwrap());
        assert!(!a.delete("number:+1").await.unwrap());
        assert_eq!(a.scan("number:").await.unwrap().len(), 1);
    }
}
