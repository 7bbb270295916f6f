//! The search module's input types, as the engine reads its arguments: the filter and the
//! sort orders (`core::tests` checks them against the module's SDL).

use async_graphql::{Enum, ID, InputObject};

use crate::protocols::search::SearchSort;

/// Narrows a product search; every given criterion must hold.
#[derive(InputObject, Default, Debug)]
pub struct ProductFilter {
    /// Any of these brands.
    pub brand_ids: Option<Vec<ID>>,
    /// Any of these categories or their descendants.
    pub category_ids: Option<Vec<ID>>,
    /// Any of these shops.
    pub shop_ids: Option<Vec<ID>>,
    /// Any of these colors (lowercase, as `Product.color`).
    pub colors: Option<Vec<String>>,
    /// The current price within this range.
    pub price: Option<PriceRange>,
    /// Only products on sale (true) or not on sale (false).
    pub on_sale: Option<bool>,
}

/// A price range in minor units (cents) of the product's currency, both ends inclusive.
#[derive(InputObject, Default, Debug)]
pub struct PriceRange {
    /// Lowest current price, in minor units; null: no lower bound.
    pub min: Option<i32>,
    /// Highest current price, in minor units; null: no upper bound.
    pub max: Option<i32>,
}

/// Orders of search results.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ProductSort {
    /// Best match first (without a query: by id).
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// Newest first.
    Newest,
    /// Most liked first.
    Popular,
}

impl From<ProductSort> for SearchSort {
    fn from(sort: ProductSort) -> Self {
        match sort {
            ProductSort::Relevance => SearchSort::Relevance,
            ProductSort::PriceAsc => SearchSort::PriceAsc,
            ProductSort::PriceDesc => SearchSort::PriceDesc,
            ProductSort::Newest => SearchSort::Newest,
            ProductSort::Popular => SearchSort::Popular,
        }
    }
}
