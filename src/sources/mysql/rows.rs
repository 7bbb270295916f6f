//! Row types of the MySQL catalog: what a statement returns, before it becomes a protocol
//! record. Keyed rows carry the batch key they were selected for.

use chrono::NaiveDateTime;
use sqlx::mysql::MySqlRow;
use sqlx::{Column, FromRow, Row};

use crate::protocols::{BrandRecord, CategoryRecord, ProductRecord, ShopRecord};

/// A product row; a statement may select only some columns (`ProductColumns`), and the
/// others take their defaults.
#[derive(Default)]
pub(super) struct ProductRow {
    pub(super) id: i32,
    pub(super) brand_id: i32,
    pub(super) shop_id: i32,
    pub(super) category_id: i32,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) color: String,
    pub(super) price_cents: i32,
    pub(super) sale_price_cents: Option<i32>,
    pub(super) currency: String,
    pub(super) image_url: String,
    pub(super) deeplink_url: String,
    pub(super) like_count: i32,
    pub(super) created_at: NaiveDateTime,
    pub(super) updated_at: NaiveDateTime,
}

/// Decoded in one pass over the columns the statement selected, each by its index; other
/// columns (a batch key, a count) are left to the row that flattens this one. sqlx's
/// derive looks every field up by name in a SipHash map, and for a column the statement
/// left out builds and drops a `ColumnNotFound` error: together a sixth of a home feed's
/// CPU (callgrind), most of its products selecting a few of their 15 columns.
impl<'r> FromRow<'r, MySqlRow> for ProductRow {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        let mut product = ProductRow::default();
        let mut has_id = false;
        for (i, column) in row.columns().iter().enumerate() {
            match column.name() {
                "id" => {
                    product.id = row.try_get(i)?;
                    has_id = true;
                }
                "brand_id" => product.brand_id = row.try_get(i)?,
                "shop_id" => product.shop_id = row.try_get(i)?,
                "category_id" => product.category_id = row.try_get(i)?,
                "name" => product.name = row.try_get(i)?,
                "description" => product.description = row.try_get(i)?,
                "color" => product.color = row.try_get(i)?,
                "price_cents" => product.price_cents = row.try_get(i)?,
                "sale_price_cents" => product.sale_price_cents = row.try_get(i)?,
                "currency" => product.currency = row.try_get(i)?,
                "image_url" => product.image_url = row.try_get(i)?,
                "deeplink_url" => product.deeplink_url = row.try_get(i)?,
                "like_count" => product.like_count = row.try_get(i)?,
                "created_at" => product.created_at = row.try_get(i)?,
                "updated_at" => product.updated_at = row.try_get(i)?,
                _ => {}
            }
        }
        if !has_id {
            return Err(sqlx::Error::ColumnNotFound("id".to_owned()));
        }
        Ok(product)
    }
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
