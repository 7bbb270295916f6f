//! The shared-state protocol: what several replicas of the gateway keep in one place so
//! that they behave as one (cost budgets, APQ registrations, cached answers and offers).
//! Optional: without a store, each instance keeps its own. Every method may fail (the
//! store is slow or down); callers fail open, never the request.
//!
//! Keys are relative (`budget:…`, `apq:…`); the store puts its own prefix before them.

use std::time::Duration;

use super::SourceError;

/// A budget after a spend: whether the points were taken, and the points it holds now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spent {
    /// Whether the points were taken (a refund is always "taken").
    pub taken: bool,
    /// The points in the budget after the spend (refilled up to now first).
    pub points: f64,
}

/// A budget's shape: what it holds at most and regains each second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketShape {
    /// The most points the budget holds (what a new client starts with).
    pub capacity: f64,
    /// Points regained each second, up to the capacity.
    pub refill_per_s: f64,
}

/// A store shared by every replica.
#[async_trait::async_trait]
pub trait SharedStore: Send + Sync + std::fmt::Debug {
    /// Atomically refills budget `key` up to now and takes `cost` points from it if it
    /// holds them; a negative `cost` gives points back (up to the capacity).
    async fn spend(&self, key: &str, cost: f64, shape: BucketShape) -> Result<Spent, SourceError>;

    /// The value under each key, in order (`None`: absent or expired).
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, SourceError>;

    /// Stores `value` under `key` for `ttl`, and records the key under each of `tags`
    /// (kept at least as long), so that `invalidate` finds it.
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> Result<(), SourceError>;

    /// Removes every key recorded under `tags`, and the tags; returns how many keys went.
    async fn invalidate(&self, tags: &[String]) -> Result<u64, SourceError>;
}
