//! The search protocol: full-text product search with filters, facets and stable deep
//! pagination; similar products; autocomplete. Results are product ids in order: the core
//! hydrates them from the catalog, the data of record.

use std::collections::HashMap;

use serde_json::Value;

use super::SourceError;

/// Filters of a product search; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    pub brand_ids: Vec<i32>,
    /// A category matches its descendants too.
    pub category_ids: Vec<i32>,
    pub shop_ids: Vec<i32>,
    pub colors: Vec<String>,
    /// Current price bounds in minor units, inclusive.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub on_sale: Option<bool>,
}

/// Orders of search results; each ends in a tie-breaker on the id, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchSort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Popular,
}

/// One search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// What the user typed (trimmed; empty means "everything"). Never parsed as syntax.
    pub text: String,
    pub filter: SearchFilter,
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
    pub brands: bool,
    pub categories: bool,
    pub colors: bool,
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
    pub product_id: i32,
    pub sort: Vec<Value>,
}

/// A value of a facet and how many products have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetValue<K> {
    pub value: K,
    pub count: i64,
}

/// A price bucket: `[min, max)` in minor units; `None` is open-ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBucket {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub count: i64,
}

/// Facet counts; each applies every filter but its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub brands: Vec<FacetValue<i32>>,
    pub categories: Vec<FacetValue<i32>>,
    pub colors: Vec<FacetValue<String>>,
    pub price_ranges: Vec<PriceBucket>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub has_next_page: bool,
    /// Matches of the query and all filters.
    pub total: i64,
    pub facets: Option<Facets>,
}

/// What an autocomplete suggestion names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestionKind {
    Product,
    Brand,
}

/// An autocomplete suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
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
