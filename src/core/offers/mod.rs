//! The offers module: `Product.offers`, live prices and stock from the partner API.
//!
//! A loader batches every product of a query level into partner calls of at most 50 ids.
//! Answers are cached across requests for a short TTL. When the partner fails, a cached
//! answer younger than the stale window is served with `stale: true` (clients show it as
//! "prices may have changed"); without one, `offers` is null with an `UPSTREAM_TIMEOUT` or
//! `UPSTREAM_UNAVAILABLE` error at its path, and the rest of the query resolves as usual.

mod cache;
mod engine;
mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::Context;
use tokio::sync::watch;
use tracing::Instrument;

pub use cache::OffersCache;

/// Live offers: `Product.offers` and its types.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "offers",
    sdl: include_str!("schema.graphql"),
    register: engine::register,
};
pub use types::{OfferView, ProductOffers};

use super::ContextExt;
use super::batching::{BatchLoad, Batcher, Window};
use super::errors::{ApiError, ApiResult};
use crate::observe;
use crate::protocols::offers::{CallContext, OfferSource};

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
    const NAME: &'static str = "Offers";

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, OffersAnswer>, ApiError> {
        let load = async {
            let (mut answers, missing) = self.cache.fresh(ids);
            observe::cache_lookups("offers", answers.len(), missing.len());
            if missing.is_empty() {
                return Ok(answers);
            }
            match self.source.offers(&missing, &self.context).await {
                Ok(offers) => {
                    for (id, offers) in offers {
                        answers.insert(id, Ok(self.cache.store(id, offers)));
                    }
                }
                Err(error) => {
                    let error = ApiError::from(error);
                    for id in missing {
                        let answer = self.cache.stale(id).ok_or_else(|| error.clone());
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

/// How long a product's offers wait for its similar products before going alone.
const SIMILAR_WAIT: Duration = Duration::from_millis(500);

/// The request's offers loader, as request data, and the products whose `similar` list
/// will ask for offers too.
pub struct RequestOffers {
    loader: Batcher<OffersLoader>,
    similar_pending: Mutex<HashMap<i32, watch::Receiver<bool>>>,
}

impl RequestOffers {
    pub fn new(loader: Batcher<OffersLoader>) -> Self {
        Self {
            loader,
            similar_pending: Mutex::default(),
        }
    }
}

/// Held by `Product.similar` while it loads products whose offers are selected; dropping it
/// (on success or failure) lets the product's own offers go.
pub struct SimilarOffersGuard(watch::Sender<bool>);

impl Drop for SimilarOffersGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Called by `Product.similar` before it awaits anything: the similar products' offers will
/// be asked for, so the product's own offers wait and join their partner call. A product
/// page with its similar products then costs one partner call, not one per level.
pub(crate) fn announce_similar_offers(
    ctx: &Context<'_>,
    product_id: i32,
) -> Option<SimilarOffersGuard> {
    let offers = ctx.typed_data::<RequestOffers>().ok()?;
    let (ready, waiting) = watch::channel(false);
    let mut pending = offers
        .similar_pending
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    pending.insert(product_id, waiting);
    Some(SimilarOffersGuard(ready))
}

/// Loads the offers of a product and its similar products in one batch, before the guard
/// that holds the product's own offers is released: later look-ups hit the request's cache,
/// so the page costs one partner call however the executor schedules the fields.
pub(crate) async fn prefetch(ctx: &Context<'_>, ids: impl IntoIterator<Item = i32>) {
    if let Ok(offers) = ctx.typed_data::<RequestOffers>() {
        // Failures are answers too (cached per id): the fields report them.
        let _ = offers.loader.load_many(ids).await;
    }
}

/// `Product.offers`.
pub(crate) async fn offers(ctx: &Context<'_>, product_id: i32) -> ApiResult<Option<ProductOffers>> {
    let offers = ctx.typed_data::<RequestOffers>()?;
    // Sibling fields get their first poll before this one goes on, so `similar` can say
    // that it will ask for offers.
    tokio::task::yield_now().await;
    let waiting = {
        let mut pending = offers
            .similar_pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.remove(&product_id)
    };
    if let Some(mut similar_ready) = waiting {
        // An error means the guard is gone, which also means "go". The wait is bounded so a
        // slow `similar` cannot eat the whole offers budget.
        let _ = tokio::time::timeout(SIMILAR_WAIT, similar_ready.wait_for(|ready| *ready)).await;
    }
    match offers.loader.load_one(product_id).await? {
        Some(answer) => answer.map(Some),
        // The loader answers every id it is given; a gap is a broken invariant.
        None => Err(ApiError::Internal(format!(
            "no offers answer for product {product_id}"
        ))),
    }
}

/// The partner's share of a request's time: its own budget, never past the request's end.
pub fn call_deadline(request_deadline: Instant, budget: Duration) -> Instant {
    request_deadline.min(Instant::now() + budget)
}
