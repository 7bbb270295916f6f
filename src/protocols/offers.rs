//! The offers protocol: live prices and stock of products at partner shops, from a 3rd-party
//! API that is slow at times, rate-limited and sometimes down.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::SourceError;

/// Stock at a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    InStock,
    LowStock,
    OutOfStock,
}

/// One shop's live offer for a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub product_id: i32,
    /// The shop's slug at the partner.
    pub shop: String,
    /// The price in minor units of `currency`.
    pub price_minor: i64,
    pub currency: String,
    pub availability: Availability,
    pub sizes: Vec<String>,
    pub url: String,
    pub updated_at: DateTime<Utc>,
}

/// What a call to the partner may use: the time left of the request it serves and the id
/// that ties the two together in both sides' logs.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The call must have answered (retries included) by then.
    pub deadline: Instant,
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
