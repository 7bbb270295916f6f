//! Row types of the MySQL catalog: what a statement returns, before it becomes a protocol
//! record. Keyed rows carry the batch key they were selected for.

use chrono::NaiveDateTime;

use crate::protocols::{BrandRecord, CategoryRecord, ProductColumns, ProductRecord, ShopRecord};

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

/// The select list of `columns` of a product (aliased `p`), its id first.
pub(super) fn product_columns(columns: ProductColumns) -> String {
    const NAMED: [(ProductColumns, &str); 14] = [
        (ProductColumns::BRAND, "p.brand_id"),
        (ProductColumns::SHOP, "p.shop_id"),
        (ProductColumns::CATEGORY, "p.category_id"),
        (ProductColumns::NAME, "p.name"),
        (ProductColumns::DESCRIPTION, "p.description"),
        (ProductColumns::COLOR, "p.color"),
        (ProductColumns::PRICE, "p.price_cents"),
        (ProductColumns::SALE_PRICE, "p.sale_price_cents"),
        (ProductColumns::CURRENCY, "p.currency"),
        (ProductColumns::IMAGE, "p.image_url"),
        (ProductColumns::DEEPLINK, "p.deeplink_url"),
        (ProductColumns::LIKES, "p.like_count"),
        (ProductColumns::CREATED, "p.created_at"),
        (ProductColumns::UPDATED, "p.updated_at"),
    ];
    let mut list = String::from("p.id");
    for (column, name) in NAMED {
        if columns.contains(column) {
            list.push_str(", ");
            list.push_str(name);
        }
    }
    list
}

/// Implements `FromRow` for a row type by column index: one pass over the columns the
/// statement selected, each name matched once and its value read by index. Fields listed
/// in `required` must be selected, those in `optional` take their defaults when not, and
/// `flatten` fields decode from the same row. Columns no field names (a batch key, a count)
/// are left to the row that flattens this one.
///
/// sqlx's derive looks every field up by name in a SipHash map of column names, and for a
/// column a statement left out (`#[sqlx(default)]`) builds and drops a `ColumnNotFound`
/// error: on a home feed that was a sixth of the gateway's instructions (callgrind).
macro_rules! decode_by_index {
    ($row:ident {
        required: [$($required:ident),* $(,)?]
        $(, optional: [$($optional:ident),* $(,)?])?
        $(, flatten: [$($flat:ident: $flat_type:ty),* $(,)?])?
        $(,)?
    }) => {
        impl<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow> for $row {
            fn from_row(row: &'r sqlx::mysql::MySqlRow) -> Result<Self, sqlx::Error> {
                use sqlx::{Column as _, Row as _};
                $(let mut $required = None;)*
                $($(let mut $optional = None;)*)?
                for (index, column) in row.columns().iter().enumerate() {
                    match column.name() {
                        $(stringify!($required) => $required = Some(row.try_get(index)?),)*
                        $($(stringify!($optional) => $optional = Some(row.try_get(index)?),)*)?
                        _ => {}
                    }
                }
                let missing = |name: &str| sqlx::Error::ColumnNotFound(name.to_owned());
                Ok(Self {
                    $($required: $required.ok_or_else(|| missing(stringify!($required)))?,)*
                    $($($optional: $optional.unwrap_or_default(),)*)?
                    $($($flat: <$flat_type as sqlx::FromRow<'r, sqlx::mysql::MySqlRow>>::from_row(row)?,)*)?
                })
            }
        }
    };
}
pub(super) use decode_by_index;

decode_by_index!(ProductRow {
    required: [id],
    optional: [
        brand_id,
        shop_id,
        category_id,
        name,
        description,
        color,
        price_cents,
        sale_price_cents,
        currency,
        image_url,
        deeplink_url,
        like_count,
        created_at,
        updated_at,
    ],
});

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

pub(super) struct BrandRow {
    pub(super) id: i32,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) logo_url: Option<String>,
    pub(super) created_at: NaiveDateTime,
}

decode_by_index!(BrandRow {
    required: [id, slug, name, logo_url, created_at],
});

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

pub(super) struct ShopRow {
    pub(super) id: i32,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) domain: String,
    pub(super) country: String,
    pub(super) currency: String,
}

decode_by_index!(ShopRow {
    required: [id, slug, name, domain, country, currency],
});

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

pub(super) struct CategoryRow {
    pub(super) id: i32,
    pub(super) parent_id: Option<i32>,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) position: i32,
}

decode_by_index!(CategoryRow {
    required: [id, parent_id, slug, name, position],
});

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
pub(super) struct KeyedCategoryRow {
    pub(super) key_id: i32,
    pub(super) category: CategoryRow,
}

decode_by_index!(KeyedCategoryRow {
    required: [key_id],
    flatten: [category: CategoryRow],
});

/// A product together with the key of the batch it was loaded for, and its list's count
/// where the batch counted it.
pub(super) struct KeyedProductRow {
    pub(super) key_id: i32,
    pub(super) total: Option<i64>,
    pub(super) product: ProductRow,
}

decode_by_index!(KeyedProductRow {
    required: [key_id, total],
    flatten: [product: ProductRow],
});
