//! The offers protocol: live prices and stock of products at partner shops, from a 3rd-party
//! API that is slow at times, rate-limited and sometimes down.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::SourceError;

/// Stock at a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// The shop has it in stock.
    InStock,
    /// In stock, but only a few left.
    LowStock,
    /// The shop has none to sell now.
    OutOfStock,
}

/// One shop's live offer for a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The product offered (`products.id`).
    pub product_id: i32,
    /// The shop's slug at the partner.
    pub shop: String,
    /// The price in minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217 code of `price_minor`, as the partner gives it.
    pub currency: String,
    /// How much stock the shop has.
    pub availability: Availability,
    /// Sizes the shop has in stock; empty when the partner lists none.
    pub sizes: Vec<String>,
    /// Affiliate link to buy the product at this shop.
    pub url: String,
    /// When the shop last changed this offer, as the partner reports it.
    pub updated_at: DateTime<Utc>,
}

/// What a call to the partner may use: the time left of the request it serves and the id
/// that ties the two together in both sides' logs.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The call must have answered (retries included) by then.
    pub deadline: Instant,
    /// The served request's id, sent as `x-request-id` so both sides' logs match.
    pub request_id: Option<String>,
}

/// Read access to live offers.
#[async_trait::async_trait]
pub trait OfferSource: Send + Sync {
    /// The offers of each product; a product without offers maps to an empty list. At most
    /// `max_batch()` ids a call.
    async fn offers(
        &self,
        product_ids: &[i32],
        context: &CallContext,
    ) -> Result<HashMap<i32, Vec<Offer>>, SourceError>;

    /// The most ids one call takes.
    fn max_batch(&self) -> usize {
        50
    }
}
