//! The offers module: `Product.offers`, live prices and stock from the partner API.
//!
//! A loader batches every product of a query level into partner calls of at most 50 ids.
//! Answers are cached across requests for a short TTL. When the partner fails, a cached
//! answer younger than the stale window is served with `stale: true` (clients show it as
//! "prices may have changed"); without one, `offers` is null with an `UPSTREAM_TIMEOUT` or
//! `UPSTREAM_UNAVAILABLE` error at its path, and the rest of the query resolves as usual.

mod cache;
mod types;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use tracing::Instrument;

pub use cache::OffersCache;
pub use types::{OfferView, ProductOffers};

use super::ContextExt;
use super::errors::{ApiError, ApiResult};
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

impl Loader<i32> for OffersLoader {
    type Value = OffersAnswer;
    type Error = ApiError;

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, OffersAnswer>, ApiError> {
        let load = async {
            let (mut answers, missing) = self.cache.fresh(ids);
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
    delay: Duration,
) -> DataLoader<OffersLoader, HashMapCache> {
    let max_batch = source.max_batch();
    let loader = OffersLoader {
        source: source.clone(),
        cache: cache.clone(),
        context,
        span: span.clone(),
    };
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
        .delay(delay)
        .max_batch_size(max_batch)
}

/// The request's offers loader, as request data.
pub struct RequestOffers(pub DataLoader<OffersLoader, HashMapCache>);

/// `Product.offers`.
pub(crate) async fn offers(ctx: &Context<'_>, product_id: i32) -> ApiResult<Option<ProductOffers>> {
    let loader = &ctx.typed_data::<RequestOffers>()?.0;
    match loader.load_one(product_id).await? {
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
