//! The offers module's GraphQL types.

use async_graphql::{Enum, Object};
use chrono::{DateTime, Utc};

use crate::core::catalog::Money;
use crate::protocols::offers::{Availability as Stock, Offer};

/// A product's live offers from partner shops.
#[derive(Debug, Clone)]
pub struct ProductOffers {
    pub offers: Vec<Offer>,
    pub stale: bool,
    pub fetched_at: DateTime<Utc>,
}

/// A product's live offers from partner shops.
// Live prices change: cached half a minute at most, here and in a CDN.
#[Object(cache_control(max_age = 30))]
impl ProductOffers {
    /// The shops' offers; empty when no shop offers the product now.
    async fn offers(&self) -> Vec<OfferView<'_>> {
        self.offers.iter().map(OfferView).collect()
    }
    /// True when the partner could not be asked and these are the last known offers:
    /// prices and stock may have changed since `fetchedAt`.
    async fn stale(&self) -> bool {
        self.stale
    }
    /// When the partner gave these offers.
    async fn fetched_at(&self) -> DateTime<Utc> {
        self.fetched_at
    }
}

/// Stock at a shop.
// The names are the partner contract's values (in_stock, low_stock, out_of_stock).
#[allow(clippy::enum_variant_names)]
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Availability {
    InStock,
    LowStock,
    OutOfStock,
}

/// One shop's offer for a product.
pub struct OfferView<'a>(&'a Offer);

/// One shop's offer for a product.
#[Object(name = "Offer")]
impl OfferView<'_> {
    /// The shop (the partner's slug for it).
    async fn shop(&self) -> &str {
        &self.0.shop
    }
    async fn price(&self) -> Money {
        let minor = i32::try_from(self.0.price_minor).unwrap_or(i32::MAX);
        Money::from_minor(minor, &self.0.currency)
    }
    async fn availability(&self) -> Availability {
        match self.0.availability {
            Stock::InStock => Availability::InStock,
            Stock::LowStock => Availability::LowStock,
            Stock::OutOfStock => Availability::OutOfStock,
        }
    }
    /// Sizes in stock.
    async fn sizes(&self) -> &[String] {
        &self.0.sizes
    }
    /// Where to buy (an affiliate link).
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// When the shop last updated this offer.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
