//! The search protocol: full-text product search with filters, facets and stable deep
//! pagination; similar products; autocomplete. Results are product ids in order: the core
//! hydrates them from the catalog, the data of record.

use std::collections::HashMap;

use serde_json::Value;

use super::SourceError;

/// Filters of a product search; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Any of these brands (`brands.id`).
    pub brand_ids: Vec<i32>,
    /// A category matches its descendants too.
    pub category_ids: Vec<i32>,
    /// Sold by any of these shops (`shops.id`).
    pub shop_ids: Vec<i32>,
    /// Any of these colors, lowercase, compared exactly.
    pub colors: Vec<String>,
    /// Current price bounds in minor units, inclusive.
    pub min_price: Option<i64>,
    /// Upper bound on the current price, in minor units; `None`: no upper bound.
    pub max_price: Option<i64>,
    /// `Some(true)`: only products on sale; `Some(false)`: only those that are not.
    pub on_sale: Option<bool>,
}

/// Orders of search results; each ends in a tie-breaker on the id, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchSort {
    /// Best text match first; without text, by id.
    Relevance,
    /// Lowest current price first.
    PriceAsc,
    /// Highest current price first.
    PriceDesc,
    /// Most recently added first (`created_at`).
    Newest,
    /// Most liked first.
    Popular,
}

/// One search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// What the user typed (trimmed; empty means "everything"). Never parsed as syntax.
    pub text: String,
    /// What every hit must satisfy.
    pub filter: SearchFilter,
    /// The order of the hits.
    pub sort: SearchSort,
    /// How many hits; the caller has bounded it.
    pub first: u32,
    /// The sort values of the last hit seen (`search_after`).
    pub after: Option<Vec<Value>>,
    /// Which facets to compute (each costs an aggregation).
    pub facets: FacetSet,
}

/// Which facets a search computes; the others come back empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FacetSet {
    /// Count matches per brand.
    pub brands: bool,
    /// Count matches per category, each product counting for every ancestor too.
    pub categories: bool,
    /// Count matches per color.
    pub colors: bool,
    /// Count matches per bucket of `PRICE_BUCKETS`.
    pub price_ranges: bool,
}

impl FacetSet {
    /// Every facet.
    pub const ALL: Self = Self {
        brands: true,
        categories: true,
        colors: true,
        price_ranges: true,
    };

    /// Whether any facet is asked for.
    pub fn any(self) -> bool {
        self.brands || self.categories || self.colors || self.price_ranges
    }
}

/// A hit: the product and its sort values, which make the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The matching product (`products.id`).
    pub product_id: i32,
    /// The hit's values of the sort keys, in order: `after` takes them to continue past it.
    pub sort: Vec<Value>,
}

/// A value of a facet and how many products have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetValue<K> {
    /// What is counted: a brand or category id, or a color.
    pub value: K,
    /// How many products match with this value.
    pub count: i64,
}

/// A price bucket: `[min, max)` in minor units; `None` is open-ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBucket {
    /// Lowest current price in the bucket, inclusive; `None`: no lower bound.
    pub min: Option<i64>,
    /// Where the bucket ends, exclusive; `None`: no upper bound.
    pub max: Option<i64>,
    /// How many matching products' current price falls in it.
    pub count: i64,
}

/// Facet counts; each applies every filter but its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Brand ids and their counts, most products first (at most 50).
    pub brands: Vec<FacetValue<i32>>,
    /// Category ids and their counts; a product counts for its category and every ancestor.
    pub categories: Vec<FacetValue<i32>>,
    /// Colors and their counts, most products first (at most 50).
    pub colors: Vec<FacetValue<String>>,
    /// The buckets of `PRICE_BUCKETS` with their counts, in that order.
    pub price_ranges: Vec<PriceBucket>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The hits of this page, in sort order; at most `first`.
    pub hits: Vec<SearchHit>,
    /// Whether more hits follow this page.
    pub has_next_page: bool,
    /// Matches of the query and all filters.
    pub total: i64,
    /// The facet counts when the query asked for any; `None` otherwise.
    pub facets: Option<Facets>,
}

/// What an autocomplete suggestion names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestionKind {
    /// A product's name; `id` is the product's.
    Product,
    /// A brand's name; `id` is the brand's.
    Brand,
}

/// An autocomplete suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The whole name that completes the prefix, to show and to search for.
    pub text: String,
    /// Whether it names a product or a brand.
    pub kind: SuggestionKind,
    /// The product's or the brand's id.
    pub id: i32,
}

/// The price buckets of the price facet, in minor units.
pub const PRICE_BUCKETS: [(Option<i64>, Option<i64>); 6] = [
    (None, Some(2_500)),
    (Some(2_500), Some(5_000)),
    (Some(5_000), Some(10_000)),
    (Some(10_000), Some(20_000)),
    (Some(20_000), Some(50_000)),
    (Some(50_000), None),
];

/// Read access to product search.
#[async_trait::async_trait]
pub trait SearchSource: Send + Sync {
    /// One page of a product search, with the total and optionally facets.
    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SourceError>;
    /// Products similar to each `(product id, how many)`, best first, in one request.
    async fn similar(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<i32>>, SourceError>;
    /// Products and brands whose names start with `prefix`.
    async fn suggest(&self, prefix: &str, size: u32) -> Result<Vec<Suggestion>, SourceError>;
}
