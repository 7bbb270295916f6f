//! The catalog protocol: brands, shops, categories and products, the data of record that
//! every page of the site shows.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::SourceError;

/// A brand, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandRecord {
    /// Primary key in `brands`.
    pub id: i32,
    /// Unique, URL-safe key: what the site's URLs and `Query.brand(slug:)` use.
    pub slug: String,
    /// Display name; the list of brands is ordered by it.
    pub name: String,
    /// Absolute URL of the logo image; `None` when the brand has none.
    pub logo_url: Option<String>,
    /// When the brand was added to the catalog.
    pub created_at: DateTime<Utc>,
}

/// A partner shop that sells products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRecord {
    /// Primary key in `shops`.
    pub id: i32,
    /// Unique, URL-safe key: what the site's URLs and `Query.shop(slug:)` use.
    pub slug: String,
    /// Display name, shown next to the products it sells.
    pub name: String,
    /// Host name of the shop's website, without scheme or path.
    pub domain: String,
    /// ISO 3166 alpha-2.
    pub country: String,
    /// ISO 4217.
    pub currency: String,
}

/// A node of the category tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRecord {
    /// Primary key in `categories`.
    pub id: i32,
    /// `None` at the roots.
    pub parent_id: Option<i32>,
    /// Unique, URL-safe key: what the site's URLs and `Query.category(slug:)` use.
    pub slug: String,
    /// Display name in navigation and breadcrumbs; search matches text against it too.
    pub name: String,
    /// Order among siblings.
    pub position: i32,
}

/// A product, with prices in minor units of its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    /// Primary key in `products`; ids grow with time, so a higher id is a newer product.
    pub id: i32,
    /// The brand that makes it (`brands.id`).
    pub brand_id: i32,
    /// The partner shop that sells it (`shops.id`).
    pub shop_id: i32,
    /// Its most specific category (`categories.id`), a node at any depth of the tree.
    pub category_id: i32,
    /// Display name; full-text search weighs it most, and autocomplete completes it.
    pub name: String,
    /// Free-text description, possibly long; may be empty.
    pub description: String,
    /// Color name, lowercase (`navy`); search filters and counts it as an exact value.
    pub color: String,
    /// List price in minor units of `currency` (cents), never negative.
    pub price_cents: i32,
    /// `None` when the product is not on sale.
    pub sale_price_cents: Option<i32>,
    /// ISO 4217 code of both prices (`EUR`).
    pub currency: String,
    /// Absolute URL of the product's picture.
    pub image_url: String,
    /// Affiliate link to the product's page at the shop, where it is bought.
    pub deeplink_url: String,
    /// How many users like it; likes and unlikes keep it equal to its `product_likes` rows.
    pub like_count: i32,
    /// When the product was added to the catalog; search's `Newest` order sorts by it.
    pub created_at: DateTime<Utc>,
    /// When the product was last changed in the catalog; likes do not change it.
    pub updated_at: DateTime<Utc>,
}

/// A forward page of a list ordered by a stable key: at most `first` items after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    /// How many items to return; the caller has already bounded it.
    pub first: u32,
    /// The position to continue after (the sort key of the last item seen).
    pub after: Option<C>,
}

/// A page of items and whether more follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The page's items, in the list's order; at most the `first` asked for.
    pub items: Vec<T>,
    /// Whether more items follow the last one of this page.
    pub has_next_page: bool,
    /// How many items the whole list holds, where the source counted it with the page
    /// (a first page asked for with [`FirstPage::counted`]); `None`: not counted.
    pub total: Option<i64>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            has_next_page: false,
            total: None,
        }
    }
}

/// The first page of one owner's list, as batch methods take them by the level: whose
/// list, how many items, and whether the whole list's count comes along. Counting in the
/// page's own statement saves a second statement when a connection's `totalCount` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstPage {
    /// The owner whose list it is (a user, a product, a brand).
    pub owner: i32,
    /// How many items; the caller has already bounded it.
    pub first: u32,
    /// Whether to count the whole list too, into [`Page::total`].
    pub counted: bool,
}

/// Position in the list of brands, which is ordered by name, then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandCursor {
    /// The last brand's name, the primary sort key.
    pub name: String,
    /// The last brand's id, which orders brands of the same name.
    pub id: i32,
}

/// Which of a product's columns a read needs besides its id; the record's other fields
/// keep their defaults. Reading only what a query shows saves decoding the rest (a feed's
/// products show 4 of 15 columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProductColumns(u16);

impl ProductColumns {
    /// `brand_id`, for `Product.brand`.
    pub const BRAND: Self = Self(1);
    /// `shop_id`, for `Product.shop`.
    pub const SHOP: Self = Self(1 << 1);
    /// `category_id`, for `Product.category`.
    pub const CATEGORY: Self = Self(1 << 2);
    /// `name`.
    pub const NAME: Self = Self(1 << 3);
    /// `description`.
    pub const DESCRIPTION: Self = Self(1 << 4);
    /// `color`.
    pub const COLOR: Self = Self(1 << 5);
    /// `price_cents`, the list price.
    pub const PRICE: Self = Self(1 << 6);
    /// `sale_price_cents`, which also tells whether the product is on sale.
    pub const SALE_PRICE: Self = Self(1 << 7);
    /// `currency`, which any price shown needs.
    pub const CURRENCY: Self = Self(1 << 8);
    /// `image_url`.
    pub const IMAGE: Self = Self(1 << 9);
    /// `deeplink_url`.
    pub const DEEPLINK: Self = Self(1 << 10);
    /// `like_count`.
    pub const LIKES: Self = Self(1 << 11);
    /// `created_at`.
    pub const CREATED: Self = Self(1 << 12);
    /// `updated_at`.
    pub const UPDATED: Self = Self(1 << 13);
    /// Every column.
    pub const ALL: Self = Self((1 << 14) - 1);
    /// The id alone.
    pub const NONE: Self = Self(0);

    /// Whether every column of `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for ProductColumns {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for ProductColumns {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

/// Read access to the catalog.
#[async_trait::async_trait]
pub trait CatalogSource: Send + Sync {
    /// Products by id; absent ids are missing from the map.
    async fn products_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, ProductRecord>, SourceError>;
    /// Products by id with `columns` read (and the id); a source may read more.
    async fn products_columns_by_ids(
        &self,
        ids: &[i32],
        columns: ProductColumns,
    ) -> Result<HashMap<i32, ProductRecord>, SourceError> {
        let _ = columns;
        self.products_by_ids(ids).await
    }
    /// Brands by id, shared: a source may keep them between requests (as the MySQL one
    /// does for their cache hint) and hand them out without a copy. So are shops and
    /// categories by id.
    async fn brands_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<BrandRecord>>, SourceError>;
    /// Brands by slug, matched without regard to case and keyed by the slugs asked for;
    /// absent slugs are missing from the map.
    async fn brands_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, BrandRecord>, SourceError>;
    /// Shops by id, shared.
    async fn shops_by_ids(&self, ids: &[i32])
    -> Result<HashMap<i32, Arc<ShopRecord>>, SourceError>;
    /// Shops by slug, matched without regard to case and keyed by the slugs asked for;
    /// absent slugs are missing from the map.
    async fn shops_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, ShopRecord>, SourceError>;
    /// Categories by id, shared.
    async fn categories_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<CategoryRecord>>, SourceError>;
    /// Categories by slug, matched without regard to case and keyed by the slugs asked for;
    /// absent slugs are missing from the map.
    async fn categories_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, CategoryRecord>, SourceError>;
    /// The children of each category, ordered by position. Parents without children map to
    /// an empty list or are absent.
    async fn category_children(
        &self,
        parent_ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError>;
    /// The path of each category from its root down to itself (inclusive).
    async fn category_paths(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError>;
    /// The root categories, ordered by position.
    async fn root_categories(&self) -> Result<Vec<CategoryRecord>, SourceError>;
    /// Brands ordered by name, then id.
    async fn brands_page(
        &self,
        page: PageRequest<BrandCursor>,
    ) -> Result<Page<BrandRecord>, SourceError>;
    /// How many brands exist.
    async fn brands_count(&self) -> Result<i64, SourceError>;
    /// The first pages of products of several categories (each with its descendants),
    /// newest first, counted where asked. One call for a list of categories. Product pages
    /// read `columns` of each product, as `products_columns_by_ids` does.
    async fn category_products_first_pages(
        &self,
        keys: &[FirstPage],
        columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<ProductRecord>>, SourceError>;
    /// How many products each category and its descendants hold.
    async fn category_products_counts(
        &self,
        category_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError>;
    /// The first pages of products of several brands, newest first, counted where asked.
    async fn brand_products_first_pages(
        &self,
        keys: &[FirstPage],
        columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<ProductRecord>>, SourceError>;
    /// How many products each brand has.
    async fn brand_products_counts(
        &self,
        brand_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError>;
    /// Products of a category and all its descendants, newest (highest id) first; `after`
    /// is the id of the last product seen.
    async fn category_products_page(
        &self,
        category_id: i32,
        page: PageRequest<i32>,
        columns: ProductColumns,
    ) -> Result<Page<ProductRecord>, SourceError>;
    /// Products of a brand, newest first; `after` is the id of the last product seen.
    async fn brand_products_page(
        &self,
        brand_id: i32,
        page: PageRequest<i32>,
        columns: ProductColumns,
    ) -> Result<Page<ProductRecord>, SourceError>;
}
