//! A request's explain, `extensions.debug`: what the gateway did for it, for developers of
//! client apps. Loader batches with their keys, each backend call with what was sent (SQL
//! text, the Elasticsearch request, the partner URL) and how long it took, and the answers
//! that came from a cache instead. Kept only for requests that asked for it and were
//! allowed to (see `http`): recording costs formatting and memory.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What one request did, recorded as it happens.
#[derive(Debug)]
pub struct Explain {
    started: Instant,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    batches: Vec<BatchEntry>,
    calls: Vec<CallEntry>,
    /// Keys a cache answered and keys it did not have, by cache (only caches that outlive a
    /// request count misses).
    caches: BTreeMap<&'static str, (u64, u64)>,
}

#[derive(Debug)]
struct BatchEntry {
    id: String,
    loader: &'static str,
    keys: Vec<String>,
    start: Duration,
    took: Option<Duration>,
}

#[derive(Debug)]
struct CallEntry {
    backend: &'static str,
    batch: Option<String>,
    request: String,
    start: Duration,
    took: Duration,
    ok: bool,
}

impl Explain {
    /// An explain for a request that starts now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            log: Mutex::default(),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A loader batch `id` of `keys` began.
    pub(super) fn batch_began(&self, id: &str, loader: &'static str, keys: Vec<String>) {
        let start = self.started.elapsed();
        self.log().batches.push(BatchEntry {
            id: id.to_owned(),
            loader,
            keys,
            start,
            took: None,
        });
    }

    /// The loader batch `id` ended.
    pub(super) fn batch_ended(&self, id: &str) {
        let now = self.started.elapsed();
        if let Some(batch) = self.log().batches.iter_mut().rev().find(|b| b.id == id) {
            batch.took = Some(now.saturating_sub(batch.start));
        }
    }

    /// A call to `backend` that began at `began` ended now.
    pub(super) fn call(
        &self,
        backend: &'static str,
        batch: Option<String>,
        request: String,
        began: Instant,
        ok: bool,
    ) {
        self.log().calls.push(CallEntry {
            backend,
            batch,
            request,
            start: began.saturating_duration_since(self.started),
            took: began.elapsed(),
            ok,
        });
    }

    /// `cache` answered `hits` keys and did not have `misses`.
    pub(super) fn cache_lookups(&self, cache: &'static str, hits: usize, misses: usize) {
        let mut log = self.log();
        let counts = log.caches.entry(cache).or_default();
        counts.0 += hits as u64;
        counts.1 += misses as u64;
    }

    /// The explain as `extensions.debug` shows it; times in milliseconds from the start.
    pub fn to_json(&self) -> Value {
        let total = self.started.elapsed();
        let log = self.log();
        let mut batches: Vec<&BatchEntry> = log.batches.iter().collect();
        batches.sort_by_key(|b| b.start);
        let mut calls: Vec<&CallEntry> = log.calls.iter().collect();
        calls.sort_by_key(|c| c.start);
        let caches: Vec<Value> = log
            .caches
            .iter()
            .map(|(name, (hits, misses))| json!({"name": name, "hits": hits, "misses": misses}))
            .collect();
        json!({
            "durationMs": millis(total),
            "batches": batches.iter().map(|b| json!({
                "id": b.id,
                "loader": b.loader,
                "keys": b.keys,
                "startMs": millis(b.start),
                "durationMs": b.took.map(millis),
            })).collect::<Vec<_>>(),
            "calls": calls.iter().map(|c| json!({
                "backend": c.backend,
                "batch": c.batch,
                "request": c.request,
                "ok": c.ok,
                "startMs": millis(c.start),
                "durationMs": millis(c.took),
            })).collect::<Vec<_>>(),
            "caches": caches,
        })
    }
}

impl Default for Explain {
    fn default() -> Self {
        Self::new()
    }
}

/// Milliseconds with microsecond precision.
fn millis(duration: Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_calls_and_caches_come_out_in_order_with_their_links() {
        let explain = Explain::new();
        explain.batch_began("b2", "Later", vec!["9".into()]);
        explain.batch_began("b1", "Products", vec!["1".into(), "2".into()]);
        let began = Instant::now();
        explain.call("mysql", Some("b1".into()), "SELECT 1".into(), began, true);
        explain.batch_ended("b1");
        explain.cache_lookups("Products", 3, 0);
        explain.cache_lookups("offers", 0, 2);
        let json = explain.to_json();

        let batches = json["batches"].as_array().unwrap();
        assert_eq!(batches.len(), 2);
        let products = batches.iter().find(|b| b["id"] == "b1").unwrap();
        assert_eq!(products["keys"], json!(["1", "2"]));
        assert!(products["durationMs"].as_f64().unwrap() >= 0.0);
        let later = batches.iter().find(|b| b["id"] == "b2").unwrap();
        assert_eq!(
            later["durationMs"],
            Value::Null,
            "a batch not ended has no duration"
        );
        assert_eq!(
            json["calls"],
            json!([{
                "backend": "mysql", "batch": "b1", "request": "SELECT 1", "ok": true,
                "startMs": json["calls"][0]["startMs"], "durationMs": json["calls"][0]["durationMs"],
            }])
        );
        assert_eq!(
            json["caches"],
            json!([
                {"name": "Products", "hits": 3, "misses": 0},
                {"name": "offers", "hits": 0, "misses": 2},
            ])
        );
    }
}
