//! The search module's GraphQL types: the filter input, sort orders, the result connection
//! with facets, and suggestions.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use crate::core::catalog::{Brand, CatalogContext, Category, Product, ProductEdge};
use crate::core::errors::ApiResult;
use crate::core::pagination::PageInfo;
use crate::protocols::search::{Facets, SearchSort, SuggestionKind};

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
    pub min: Option<i32>,
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

/// A page of search results, with the total and facets for faceted navigation.
pub struct ProductSearchConnection {
    pub(super) edges: Vec<ProductEdge>,
    pub(super) page_info: PageInfo,
    pub(super) total: i64,
    pub(super) facets: Option<Facets>,
}

/// A page of search results, with the total and facets for faceted navigation.
#[Object]
impl ProductSearchConnection {
    /// The products of this page with their cursors.
    async fn edges(&self) -> &[ProductEdge] {
        &self.edges
    }
    /// The products of this page.
    async fn nodes(&self) -> Vec<&Product> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// How many products match the query and all filters.
    async fn total_count(&self) -> i64 {
        self.total
    }
    /// Counts for refining the search; each facet applies every filter except its own.
    async fn facets(&self) -> ProductFacets<'_> {
        ProductFacets(self.facets.as_ref())
    }
}

/// Facet counts of a search.
pub struct ProductFacets<'a>(Option<&'a Facets>);

/// Facet counts of a search.
#[Object]
impl ProductFacets<'_> {
    /// Brands with their counts, most products first.
    async fn brands(&self) -> Vec<BrandFacet> {
        self.0
            .map(|f| {
                f.brands
                    .iter()
                    .map(|v| BrandFacet {
                        id: v.value,
                        count: v.count,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Categories with their counts (a product counts for its category and every ancestor).
    async fn categories(&self) -> Vec<CategoryFacet> {
        self.0
            .map(|f| {
                f.categories
                    .iter()
                    .map(|v| CategoryFacet {
                        id: v.value,
                        count: v.count,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Colors with their counts.
    async fn colors(&self) -> Vec<ColorFacet> {
        self.0
            .map(|f| {
                f.colors
                    .iter()
                    .map(|v| ColorFacet {
                        color: v.value.clone(),
                        count: v.count,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Fixed price ranges with their counts.
    async fn price_ranges(&self) -> Vec<PriceRangeFacet> {
        self.0
            .map(|f| {
                f.price_ranges
                    .iter()
                    .map(|b| PriceRangeFacet {
                        min: b.min.map(|v| v as i32),
                        max: b.max.map(|v| v as i32),
                        count: b.count,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A brand and how many matching products it has.
pub struct BrandFacet {
    id: i32,
    count: i64,
}

/// A brand and how many matching products it has.
#[Object]
impl BrandFacet {
    async fn brand(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Brand>> {
        let brand: ApiResult<_> = ctx.catalog_loaders()?.brands.load_one(self.id).await;
        Ok(brand?.map(Brand))
    }
    async fn count(&self) -> i64 {
        self.count
    }
}

/// A category and how many matching products it (with its descendants) has.
pub struct CategoryFacet {
    id: i32,
    count: i64,
}

/// A category and how many matching products it (with its descendants) has.
#[Object]
impl CategoryFacet {
    async fn category(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Category>> {
        let category: ApiResult<_> = ctx.catalog_loaders()?.categories.load_one(self.id).await;
        Ok(category?.map(Category))
    }
    async fn count(&self) -> i64 {
        self.count
    }
}

/// A color and how many matching products have it.
#[derive(SimpleObject)]
pub struct ColorFacet {
    pub color: String,
    pub count: i64,
}

/// A price range `[min, max)` in minor units (open-ended where null) and its count. To
/// filter on it, pass `price: { min: min, max: max - 1 }` (the filter's bounds are inclusive).
#[derive(SimpleObject)]
pub struct PriceRangeFacet {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub count: i64,
}

/// What a suggestion names.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SuggestionType {
    Product,
    Brand,
}

/// An autocomplete suggestion: a product or a brand whose name starts with the prefix.
pub struct Suggestion(pub(super) crate::protocols::search::Suggestion);

/// An autocomplete suggestion: a product or a brand whose name starts with the prefix.
#[Object]
impl Suggestion {
    /// The text to show.
    async fn text(&self) -> &str {
        &self.0.text
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> SuggestionType {
        match self.0.kind {
            SuggestionKind::Product => SuggestionType::Product,
            SuggestionKind::Brand => SuggestionType::Brand,
        }
    }
    /// The product, for product suggestions.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        if self.0.kind != SuggestionKind::Product {
            return Ok(None);
        }
        let product: ApiResult<_> = ctx.catalog_loaders()?.products.load_one(self.0.id).await;
        Ok(product?.map(Product))
    }
    /// The brand, for brand suggestions.
    async fn brand(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Brand>> {
        if self.0.kind != SuggestionKind::Brand {
            return Ok(None);
        }
        let brand: ApiResult<_> = ctx.catalog_loaders()?.brands.load_one(self.0.id).await;
        Ok(brand?.map(Brand))
    }
}
