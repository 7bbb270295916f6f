//! The catalog's GraphQL types. Each wraps the protocol record it shows; nested objects
//! load through the request's `CatalogLoaders`, so a list of products costs one query per
//! related entity type, whatever its length.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{CatalogContext, brand_products, category_products};
use crate::core::errors::{ApiError, ApiResult};
use crate::core::ids::{GlobalId, Kind};
use crate::core::pagination::{list_cost, page_cost, weight};
use crate::protocols::{BrandRecord, CategoryRecord, ProductRecord, ShopRecord};

/// An amount of money in one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// The amount as a decimal string in major units ("59.95"): exact, unlike a float.
    pub amount: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The amount in minor units (cents), for arithmetic.
    pub minor_units: i32,
    /// A display form for English-speaking users ("€59.95").
    pub formatted: String,
}

impl Money {
    /// Money from minor units of a currency.
    pub fn from_minor(minor_units: i32, currency: &str) -> Self {
        let mut amount = String::new();
        write_amount(&mut amount, minor_units, currency);
        let mut formatted = String::new();
        write_formatted(&mut formatted, minor_units, currency);
        Self {
            amount,
            currency: currency.to_owned(),
            minor_units,
            formatted,
        }
    }
}

/// The amount of `minor_units` of `currency` as a decimal in major units ("59.95").
pub(crate) fn write_amount(out: &mut String, minor_units: i32, currency: &str) {
    use std::fmt::Write;
    let decimals = match currency {
        "JPY" | "KRW" | "ISK" => 0,
        _ => 2,
    };
    let sign = if minor_units < 0 { "-" } else { "" };
    let abs = minor_units.unsigned_abs();
    // Writing into a String cannot fail.
    let _ = if decimals == 0 {
        write!(out, "{sign}{abs}")
    } else {
        write!(out, "{sign}{}.{:02}", abs / 100, abs % 100)
    };
}

/// The display form of an amount ("€59.95", "12.00 SEK").
pub(crate) fn write_formatted(out: &mut String, minor_units: i32, currency: &str) {
    let symbol = match currency {
        "EUR" => "€",
        "GBP" => "£",
        "USD" => "$",
        "JPY" => "¥",
        _ => "",
    };
    out.push_str(symbol);
    write_amount(out, minor_units, currency);
    if symbol.is_empty() {
        out.push(' ');
        out.push_str(currency);
    }
}

/// A product that a partner shop sells.
pub struct Product(pub ProductRecord);

/// A product that a partner shop sells.
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl Product {
    /// The global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::Product, self.0.id).encode()
    }
    /// The id in the catalog database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The color, lowercase ("navy").
    async fn color(&self) -> &str {
        &self.0.color
    }
    /// The list price.
    async fn price(&self) -> Money {
        Money::from_minor(self.0.price_cents, &self.0.currency)
    }
    /// The reduced price while the product is on sale.
    async fn sale_price(&self) -> Option<Money> {
        self.0
            .sale_price_cents
            .map(|cents| Money::from_minor(cents, &self.0.currency))
    }
    /// What the product costs now: the sale price when on sale, else the list price.
    async fn current_price(&self) -> Money {
        let cents = self.0.sale_price_cents.unwrap_or(self.0.price_cents);
        Money::from_minor(cents, &self.0.currency)
    }
    async fn on_sale(&self) -> bool {
        self.0.sale_price_cents.is_some()
    }
    async fn image_url(&self) -> &str {
        &self.0.image_url
    }
    /// The link to the product in the shop (an affiliate deep link).
    async fn deeplink_url(&self) -> &str {
        &self.0.deeplink_url
    }
    /// How many people liked this product.
    async fn like_count(&self) -> i32 {
        self.0.like_count
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn brand(&self, ctx: &Context<'_>) -> async_graphql::Result<Brand> {
        let brand = ctx
            .catalog_loaders()?
            .brands
            .load_one(self.0.brand_id)
            .await?;
        Ok(Brand(
            brand.ok_or_else(|| dangling("brand", self.0.brand_id))?,
        ))
    }
    /// The shop that sells it.
    async fn shop(&self, ctx: &Context<'_>) -> async_graphql::Result<Shop> {
        let shop = ctx
            .catalog_loaders()?
            .shops
            .load_one(self.0.shop_id)
            .await?;
        Ok(Shop(shop.ok_or_else(|| dangling("shop", self.0.shop_id))?))
    }
    /// Products like this one (more-like-this on the search index), best first. Asked for
    /// on many products at once, it costs one search request for all of them.
    #[graphql(complexity = "list_cost(first.max(0) as usize, child_complexity) + weight::SEARCH")]
    async fn similar(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 8, desc = "At most 50.")] first: i32,
    ) -> async_graphql::Result<Vec<Product>> {
        Ok(crate::core::search::similar(ctx, self.0.id, first).await?)
    }
    /// Collages that use this product, newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn collages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::core::community::CollageConnection> {
        let owner = crate::protocols::community::CollageOwner::Product(self.0.id);
        Ok(crate::core::community::collage_page(ctx, owner, first, after.as_deref()).await?)
    }
    /// Whether the viewer likes it; false without a viewer.
    #[graphql(cache_control(private))]
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(crate::core::community::viewer_liked_product(ctx, self.0.id).await?)
    }
    /// Live offers from partner shops; null when the partner cannot be reached and no recent
    /// answer is cached (the error at this path says why).
    #[graphql(complexity = "weight::PARTNER + child_complexity")]
    async fn offers(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::core::offers::ProductOffers>> {
        Ok(crate::core::offers::offers(ctx, self.0.id).await?)
    }
    /// The most specific category it belongs to; `path` gives its ancestors.
    async fn category(&self, ctx: &Context<'_>) -> async_graphql::Result<Category> {
        let loaders = ctx.catalog_loaders()?;
        let category = loaders.categories.load_one(self.0.category_id).await?;
        Ok(Category(
            category.ok_or_else(|| dangling("category", self.0.category_id))?,
        ))
    }
}

/// A reference that the database's foreign keys guarantee; missing means a broken invariant.
fn dangling(what: &str, id: i32) -> ApiError {
    ApiError::Internal(format!(
        "{what} {id} referenced by a product does not exist"
    ))
}

/// A brand.
pub struct Brand(pub BrandRecord);

/// A brand.
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl Brand {
    /// The global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::Brand, self.0.id).encode()
    }
    /// The id in the catalog database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    /// The URL-safe unique name used in the site's URLs.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn logo_url(&self) -> Option<&str> {
        self.0.logo_url.as_deref()
    }
    /// The brand's products, newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many products (at most the maximum page size).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<super::ProductConnection> {
        Ok(brand_products(ctx, self.0.id, first, after.as_deref()).await?)
    }
}

/// A partner shop.
pub struct Shop(pub ShopRecord);

/// A partner shop.
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl Shop {
    /// The global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::Shop, self.0.id).encode()
    }
    /// The id in the catalog database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The shop's web domain.
    async fn domain(&self) -> &str {
        &self.0.domain
    }
    /// ISO 3166 alpha-2 country code.
    async fn country(&self) -> &str {
        &self.0.country
    }
    /// ISO 4217 code of the currency it sells in.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
}

/// A node of the category tree ("Women › Shoes › Sneakers").
pub struct Category(pub CategoryRecord);

/// A node of the category tree ("Women › Shoes › Sneakers").
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl Category {
    /// The global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::Category, self.0.id).encode()
    }
    /// The id in the catalog database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Order among its siblings.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// The parent category; null at the roots.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Category>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        let parent = ctx
            .catalog_loaders()?
            .categories
            .load_one(parent_id)
            .await?;
        Ok(parent.map(Category))
    }
    /// The sub-categories, in order.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let loaders = ctx.catalog_loaders()?;
        let children = loaders.category_children.load_one(self.0.id).await?;
        Ok(children
            .unwrap_or_default()
            .into_iter()
            .map(Category)
            .collect())
    }
    /// The categories from the root down to this one, inclusive (for breadcrumbs).
    async fn path(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let loaders = ctx.catalog_loaders()?;
        let path: ApiResult<_> = loaders.category_paths.load_one(self.0.id).await;
        Ok(path?
            .unwrap_or_default()
            .into_iter()
            .map(Category)
            .collect())
    }
    /// Products in this category and all categories below it, newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many products (at most the maximum page size).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<super::ProductConnection> {
        Ok(category_products(ctx, self.0.id, first, after.as_deref()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::Money;

    #[test]
    fn money_keeps_exact_decimals_and_formats_by_currency() {
        let price = Money::from_minor(5995, "EUR");
        assert_eq!(
            (price.amount.as_str(), price.formatted.as_str()),
            ("59.95", "€59.95")
        );
        assert_eq!(Money::from_minor(5, "GBP").amount, "0.05");
        assert_eq!(Money::from_minor(1200, "SEK").formatted, "12.00 SEK");
        assert_eq!(Money::from_minor(1200, "JPY").amount, "1200");
    }
}
