//! The offers cache, shared by every request of an instance: fresh answers within the TTL
//! spare the partner; older ones, up to the stale window, stand in when it fails. Bounded in
//! size: past the bound, expired entries go first, then everything (a cache can be lost).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
// Tokio's clock, as the breakers read: the system's in production; a test moves it past
// the TTL instead of sleeping.
use tokio::time::Instant;

use super::OffersAnswer;
use super::ProductOffers;
use crate::protocols::offers::Offer;

/// Most products the cache holds.
const MAX_ENTRIES: usize = 200_000;

/// Partner offers by product id: fresh within the TTL, a fallback within the stale window.
pub struct OffersCache {
    ttl: Duration,
    stale_for: Duration,
    entries: Mutex<HashMap<i32, (Instant, ProductOffers)>>,
}

impl OffersCache {
    /// A cache whose answers are fresh for `ttl` and stand in for a failing partner until
    /// `stale_for` (never shorter than `ttl`).
    pub fn new(ttl: Duration, stale_for: Duration) -> Self {
        Self {
            ttl,
            stale_for: stale_for.max(ttl),
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, (Instant, ProductOffers)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers for the ids with a fresh entry, and the ids without one.
    pub fn fresh(&self, ids: &[i32]) -> (HashMap<i32, OffersAnswer>, Vec<i32>) {
        let entries = self.lock();
        let mut answers = HashMap::new();
        let mut missing = Vec::new();
        for &id in ids {
            match entries.get(&id) {
                Some((at, offers)) if at.elapsed() < self.ttl => {
                    answers.insert(id, Ok(offers.clone()));
                }
                _ => missing.push(id),
            }
        }
        (answers, missing)
    }

    /// Records a fresh answer and returns it.
    pub fn store(&self, id: i32, offers: Vec<Offer>) -> ProductOffers {
        let answer = ProductOffers {
            offers,
            stale: false,
            fetched_at: Utc::now(),
        };
        if self.ttl.is_zero() && self.stale_for.is_zero() {
            return answer;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < self.stale_for);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(id, (Instant::now(), answer.clone()));
        answer
    }

    /// A cached answer within the stale window, marked stale.
    pub fn stale(&self, id: i32) -> Option<ProductOffers> {
        let entries = self.lock();
        let (at, offers) = entries.get(&id)?;
        (at.elapsed() < self.stale_for).then(|| ProductOffers {
            stale: true,
            ..offers.clone()
        })
    }
}
