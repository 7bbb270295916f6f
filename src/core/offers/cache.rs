//! The offers cache, shared by every request of an instance: fresh answers within the TTL
//! spare the partner; older ones, up to the stale window, stand in when it fails. Bounded in
//! size: past the bound, expired entries go first, then everything (a cache can be lost).
//!
//! When the replicas share a store (`OGROM_REDIS_URL`), what one of them fetched is kept
//! there too, for the stale window, with the time it was fetched: another replica serves it
//! while it is fresh, and falls back on it when the partner fails. Freshness across replicas
//! is by the wall clock (`fetched_at`). A store that fails is a miss, or a store skipped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
// Tokio's clock, as the breakers read: the system's in production; a test moves it past
// the TTL instead of sleeping.
use tokio::time::Instant;

use super::OffersAnswer;
use super::ProductOffers;
use crate::protocols::offers::{Availability, Offer};
use crate::protocols::shared::SharedStore;

/// Most products the cache holds.
const MAX_ENTRIES: usize = 200_000;

/// Partner offers by product id: fresh within the TTL, a fallback within the stale window.
pub struct OffersCache {
    ttl: Duration,
    stale_for: Duration,
    entries: Mutex<HashMap<i32, (Instant, ProductOffers)>>,
    /// Where the replicas share what they fetched, when they do.
    shared: Option<Arc<dyn SharedStore>>,
}

/// A product's offers as the shared store keeps them.
#[derive(Serialize, Deserialize)]
struct Kept {
    offers: Vec<KeptOffer>,
    fetched_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct KeptOffer {
    product_id: i32,
    shop: String,
    price_minor: i64,
    currency: String,
    /// `in_stock`, `low_stock` or `out_of_stock`.
    availability: String,
    sizes: Vec<String>,
    url: String,
    updated_at: DateTime<Utc>,
}

impl From<&Offer> for KeptOffer {
    fn from(offer: &Offer) -> Self {
        let availability = match offer.availability {
            Availability::InStock => "in_stock",
            Availability::LowStock => "low_stock",
            Availability::OutOfStock => "out_of_stock",
        };
        Self {
            product_id: offer.product_id,
            shop: offer.shop.clone(),
            price_minor: offer.price_minor,
            currency: offer.currency.clone(),
            availability: availability.to_owned(),
            sizes: offer.sizes.clone(),
            url: offer.url.clone(),
            updated_at: offer.updated_at,
        }
    }
}

impl KeptOffer {
    fn offer(self) -> Option<Offer> {
        let availability = match self.availability.as_str() {
            "in_stock" => Availability::InStock,
            "low_stock" => Availability::LowStock,
            "out_of_stock" => Availability::OutOfStock,
            _ => return None,
        };
        Some(Offer {
            product_id: self.product_id,
            shop: self.shop,
            price_minor: self.price_minor,
            currency: self.currency,
            availability,
            sizes: self.sizes,
            url: self.url,
            updated_at: self.updated_at,
        })
    }
}

fn shared_key(id: i32) -> String {
    format!("offers:{id}")
}

impl OffersCache {
    /// A cache whose answers are fresh for `ttl` and stand in for a failing partner until
    /// `stale_for` (never shorter than `ttl`).
    pub fn new(ttl: Duration, stale_for: Duration) -> Self {
        Self {
            ttl,
            stale_for: stale_for.max(ttl),
            entries: Mutex::default(),
            shared: None,
        }
    }

    /// The same cache, sharing what it fetches with the other replicas through `store`.
    pub fn shared_in(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// The offers of `ids` other replicas fetched within `window`, by id; none when the
    /// store fails.
    async fn fetched_elsewhere(
        &self,
        ids: &[i32],
        window: Duration,
    ) -> HashMap<i32, ProductOffers> {
        let Some(store) = &self.shared else {
            return HashMap::new();
        };
        // Nothing is fresh for a TTL of zero: no call for it.
        if ids.is_empty() || window.is_zero() {
            return HashMap::new();
        }
        let keys: Vec<String> = ids.iter().map(|&id| shared_key(id)).collect();
        let found = match store.get(&keys).await {
            Ok(found) => found,
            Err(error) => {
                tracing::debug!(message = "shared offers lookup failed", %error);
                return HashMap::new();
            }
        };
        let now = Utc::now();
        let mut answers = HashMap::new();
        for (&id, value) in ids.iter().zip(found) {
            let Some(kept) = value.and_then(|v| serde_json::from_slice::<Kept>(&v).ok()) else {
                continue;
            };
            let age = (now - kept.fetched_at).to_std().unwrap_or_default();
            if age >= window {
                continue;
            }
            let Some(offers) = kept.offers.into_iter().map(KeptOffer::offer).collect() else {
                continue;
            };
            let answer = ProductOffers {
                offers,
                stale: false,
                fetched_at: kept.fetched_at,
            };
            // Kept here too, as old as it is.
            if let Some(at) = Instant::now().checked_sub(age) {
                self.lock().insert(id, (at, answer.clone()));
            }
            answers.insert(id, answer);
        }
        answers
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, (Instant, ProductOffers)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers for the ids with a fresh entry (here, or from another replica), and the ids
    /// without one.
    pub async fn fresh(&self, ids: &[i32]) -> (HashMap<i32, OffersAnswer>, Vec<i32>) {
        let mut answers = HashMap::new();
        let mut missing = Vec::new();
        {
            let entries = self.lock();
            for &id in ids {
                match entries.get(&id) {
                    Some((at, offers)) if at.elapsed() < self.ttl => {
                        answers.insert(id, Ok(offers.clone()));
                    }
                    _ => missing.push(id),
                }
            }
        }
        let shared = self.fetched_elsewhere(&missing, self.ttl).await;
        if !shared.is_empty() {
            missing.retain(|id| !shared.contains_key(id));
            answers.extend(shared.into_iter().map(|(id, offers)| (id, Ok(offers))));
        }
        (answers, missing)
    }

    /// Records fresh answers, here and for the other replicas, and returns them.
    pub async fn store_all(
        &self,
        fetched: HashMap<i32, Vec<Offer>>,
    ) -> HashMap<i32, ProductOffers> {
        let answers: HashMap<i32, ProductOffers> = fetched
            .into_iter()
            .map(|(id, offers)| (id, self.store(id, offers)))
            .collect();
        if let Some(store) = &self.shared
            && !self.stale_for.is_zero()
        {
            let puts = answers.iter().map(|(&id, answer)| async move {
                let kept = Kept {
                    offers: answer.offers.iter().map(KeptOffer::from).collect(),
                    fetched_at: answer.fetched_at,
                };
                let value = serde_json::to_vec(&kept).unwrap_or_default();
                store
                    .put(&shared_key(id), &value, self.stale_for, &[])
                    .await
            });
            let failed = futures::future::join_all(puts)
                .await
                .into_iter()
                .filter_map(Result::err)
                .next();
            if let Some(error) = failed {
                tracing::debug!(message = "offers not shared", %error);
            }
        }
        answers
    }

    /// Records a fresh answer here and returns it.
    fn store(&self, id: i32, offers: Vec<Offer>) -> ProductOffers {
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

    /// Cached answers within the stale window (here, else from another replica), marked
    /// stale.
    pub async fn stale(&self, ids: &[i32]) -> HashMap<i32, ProductOffers> {
        let mut answers = HashMap::new();
        let mut missing = Vec::new();
        {
            let entries = self.lock();
            for &id in ids {
                match entries.get(&id) {
                    Some((at, offers)) if at.elapsed() < self.stale_for => {
                        answers.insert(id, offers.clone());
                    }
                    _ => missing.push(id),
                }
            }
        }
        answers.extend(self.fetched_elsewhere(&missing, self.stale_for).await);
        for answer in answers.values_mut() {
            answer.stale = true;
        }
        answers
    }
}
