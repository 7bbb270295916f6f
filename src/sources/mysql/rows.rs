//! Row types of the MySQL catalog: what a statement returns, before it becomes a protocol
//! record. Keyed rows carry the batch key they were selected for.

use chrono::NaiveDateTime;
use sqlx::FromRow;

use crate::protocols::{BrandRecord, CategoryRecord, ProductRecord, ShopRecord};

/// A product row; a statement may select only some columns (`ProductColumns`), and the
/// others take their defaults.
#[derive(FromRow)]
pub(super) struct ProductRow {
    pub(super) id: i32,
    #[sqlx(default)]
    pub(super) brand_id: i32,
    #[sqlx(default)]
    pub(super) shop_id: i32,
    #[sqlx(default)]
    pub(super) category_id: i32,
    #[sqlx(default)]
    pub(super) name: String,
    #[sqlx(default)]
    pub(super) description: String,
    #[sqlx(default)]
    pub(super) color: String,
    #[sqlx(default)]
    pub(super) price_cents: i32,
    #[sqlx(default)]
    pub(super) sale_price_cents: Option<i32>,
    #[sqlx(default)]
    pub(super) currency: String,
    #[sqlx(default)]
    pub(super) image_url: String,
    #[sqlx(default)]
    pub(super) deeplink_url: String,
    #[sqlx(default)]
    pub(super) like_count: i32,
    #[sqlx(default)]
    pub(super) created_at: NaiveDateTime,
    #[sqlx(default)]
    pub(super) updated_at: NaiveDateTime,
}

impl From<ProductRow> for ProductRecord {
    fn from(row: ProductRow) -> Self {
        Self {
            id: row.id,
            brand_id: row.brand_id,
            shop_id: row.shop_id,
            category_id: row.category_id,
            name: row.name,
            description: row.description,
            color: row.color,
            price_cents: row.price_cents,
            sale_price_cents: row.sale_price_cents,
            currency: row.currency,
            image_url: row.image_url,
            deeplink_url: row.deeplink_url,
            like_count: row.like_count,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(FromRow)]
pub(super) struct BrandRow {
    pub(super) id: i32,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) logo_url: Option<String>,
    pub(super) created_at: NaiveDateTime,
}

impl From<BrandRow> for BrandRecord {
    fn from(row: BrandRow) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            logo_url: row.logo_url,
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(FromRow)]
pub(super) struct ShopRow {
    pub(super) id: i32,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) domain: String,
    pub(super) country: String,
    pub(super) currency: String,
}

impl From<ShopRow> for ShopRecord {
    fn from(row: ShopRow) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            domain: row.domain,
            country: row.country,
            currency: row.currency,
        }
    }
}

#[derive(FromRow)]
pub(super) struct CategoryRow {
    pub(super) id: i32,
    pub(super) parent_id: Option<i32>,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) position: i32,
}

impl From<CategoryRow> for CategoryRecord {
    fn from(row: CategoryRow) -> Self {
        Self {
            id: row.id,
            parent_id: row.parent_id,
            slug: row.slug,
            name: row.name,
            position: row.position,
        }
    }
}

/// A category together with the key of the batch it was loaded for.
#[derive(FromRow)]
pub(super) struct KeyedCategoryRow {
    pub(super) key_id: i32,
    #[sqlx(flatten)]
    pub(super) category: CategoryRow,
}

/// A product together with the key of the batch it was loaded for, and its list's count
/// where the batch counted it.
#[derive(FromRow)]
pub(super) struct KeyedProductRow {
    pub(super) key_id: i32,
    pub(super) total: Option<i64>,
    #[sqlx(flatten)]
    pub(super) product: ProductRow,
}
