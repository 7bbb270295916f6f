//! The response cache's entries in the replicas' shared store: each under `rc:<key in
//! hex>` as JSON, for what is left of its max-age, recorded under the tags of what it holds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Entry, Key, ResponseCache};
use crate::core::tags::Tag;
use crate::protocols::shared::SharedStore;

/// An entry as the shared store keeps it.
#[derive(Serialize, Deserialize)]
struct Kept {
    data: String,
    requested: u64,
    actual: u64,
    fields: Vec<(String, String)>,
    operation: Option<String>,
    /// When it stops being served, in milliseconds since the Unix epoch: the replicas'
    /// clocks agree to well under a second, and the store's TTL ends it anyway.
    expires_ms: u64,
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

impl ResponseCache {
    /// The entry under `key` in the shared store; a miss when it fails.
    pub(super) async fn get_shared(
        &self,
        store: &dyn SharedStore,
        key: &Key,
    ) -> Option<Arc<Entry>> {
        let found = match store.get(&[shared_key(key)]).await {
            Ok(mut found) => found.pop().flatten()?,
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(message = "response cache lookup failed", %error);
                return None;
            }
        };
        let kept: Kept = serde_json::from_slice(&found).ok()?;
        let left = kept.expires_ms.checked_sub(unix_ms(SystemTime::now()))?;
        Some(Arc::new(Entry {
            data: kept.data,
            requested: kept.requested,
            actual: kept.actual,
            fields: kept.fields.into(),
            operation: kept.operation,
            expires: Instant::now() + Duration::from_millis(left),
            tags: Vec::new(),
        }))
    }

    /// Stores `entry` in the shared store for what is left of its max-age; skipped when
    /// it fails.
    pub(super) async fn put_shared(&self, store: &dyn SharedStore, key: &Key, entry: Entry) {
        let Some(ttl) = entry.expires.checked_duration_since(Instant::now()) else {
            return;
        };
        let kept = Kept {
            data: entry.data,
            requested: entry.requested,
            actual: entry.actual,
            fields: entry.fields.to_vec(),
            operation: entry.operation,
            expires_ms: unix_ms(SystemTime::now() + ttl),
        };
        let Ok(value) = serde_json::to_vec(&kept) else {
            return;
        };
        let tags: Vec<String> = entry.tags.iter().map(Tag::to_string).collect();
        match store.put(&shared_key(key), &value, ttl, &tags).await {
            Ok(()) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(message = "response cache store failed", %error);
            }
        }
    }
}

/// The shared store's key of an entry: `rc:` and the key in hex.
fn shared_key(key: &Key) -> String {
    let mut hex = String::with_capacity(3 + 64);
    hex.push_str("rc:");
    for byte in key {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}
