//! The offers module: `Product.offers`, live prices and stock from the partner API.
//!
//! A loader batches every product of a query level into partner calls of at most 50 ids.
//! Answers are cached across requests for a short TTL. When the partner fails, a cached
//! answer younger than the stale window is served with `stale: true` (clients show it as
//! "prices may have changed"); without one, `offers` is null with an `UPSTREAM_TIMEOUT` or
//! `UPSTREAM_UNAVAILABLE` error at its path, and the rest of the query resolves as usual.

mod cache;
mod engine;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::Instrument;

pub use cache::OffersCache;

/// Live offers: `Product.offers` and its types.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "offers",
    sdl: include_str!("schema.graphql"),
    register: engine::register,
    // Offers are cached across requests for a short TTL, and stand in when stale.
    start: |config, shared| {
        let cache = OffersCache::new(config.offers_cache_ttl, config.offers_stale_for);
        let cache = match &config.shared_store {
            Some(store) => cache.shared_in(store.clone()),
            None => cache,
        };
        shared.insert(Arc::new(cache));
    },
    prepare: |prepare, ctx| {
        let Ok(cache) = prepare.shared.data::<Arc<OffersCache>>() else {
            return;
        };
        let request = prepare.request;
        let context = CallContext {
            deadline: call_deadline(request.deadline, prepare.config.offers_budget),
            request_id: request.request_id.clone(),
        };
        let source = &prepare.sources.offers;
        let loader = loader(source, cache, context, prepare.span, prepare.window);
        ctx.insert(RequestOffers::new(loader));
    },
};

use super::batching::{BatchLoad, Batcher, Window};
use super::errors::ApiError;
use crate::observe;
use crate::protocols::offers::{CallContext, Offer, OfferSource};

/// A product's live offers from partner shops.
#[derive(Debug, Clone)]
pub struct ProductOffers {
    /// The shops' offers; empty when no shop offers the product now.
    pub offers: Vec<Offer>,
    /// The partner could not be asked and these are the last known offers.
    pub stale: bool,
    /// When the partner answered with these offers.
    pub fetched_at: DateTime<Utc>,
}

/// What one product's offers resolve to: an answer (fresh or stale) or the failure.
pub type OffersAnswer = Result<ProductOffers, ApiError>;

/// Offers by product id, through the cache, for one request.
pub struct OffersLoader {
    source: Arc<dyn OfferSource>,
    cache: Arc<OffersCache>,
    context: CallContext,
    span: tracing::Span,
}

impl BatchLoad for OffersLoader {
    type Key = i32;
    type Value = OffersAnswer;
    type Loaded = OffersAnswer;
    const NAME: &'static str = "Offers";

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, OffersAnswer>, ApiError> {
        let load = async {
            let (mut answers, missing) = self.cache.fresh(ids).await;
            observe::cache_lookups("offers", answers.len(), missing.len());
            if missing.is_empty() {
                return Ok(answers);
            }
            match self.source.offers(&missing, &self.context).await {
                Ok(offers) => {
                    let stored = self.cache.store_all(offers).await;
                    answers.extend(stored.into_iter().map(|(id, offers)| (id, Ok(offers))));
                }
                Err(error) => {
                    let error = ApiError::from(error);
                    let mut stale = self.cache.stale(&missing).await;
                    for id in missing {
                        let answer = stale.remove(&id).ok_or_else(|| error.clone());
                        answers.insert(id, answer);
                    }
                }
            }
            Ok(answers)
        };
        load.instrument(self.span.clone()).await
    }
}

/// Builds one request's offers loader; `deadline` bounds every partner call it makes.
pub fn loader(
    source: &Arc<dyn OfferSource>,
    cache: &Arc<OffersCache>,
    context: CallContext,
    span: &tracing::Span,
    window: Window,
) -> Batcher<OffersLoader> {
    let max_batch = source.max_batch();
    let loader = OffersLoader {
        source: source.clone(),
        cache: cache.clone(),
        context,
        span: span.clone(),
    };
    Batcher::new(loader, window.max_keys(max_batch))
}

/// The request's offers loader, as the engine's context holds it.
pub struct RequestOffers {
    loader: Batcher<OffersLoader>,
}

impl RequestOffers {
    /// Wraps one request's offers loader.
    pub fn new(loader: Batcher<OffersLoader>) -> Self {
        Self { loader }
    }
}

/// The partner's share of a request's time: its own budget, never past the request's end.
pub fn call_deadline(request_deadline: Instant, budget: Duration) -> Instant {
    request_deadline.min(Instant::now() + budget)
}
