//! DataLoaders of the catalog module: thin adapters over the batch-shaped `CatalogSource`
//! methods. They are built per request, so their caches never outlive one operation, and
//! they carry the request's span so a failed batch is logged with its request id.

use std::collections::HashMap;
use std::sync::Arc;
use tracing::Instrument;

use crate::core::batching::{BatchLoad, Batcher, Window};
use crate::core::errors::ApiError;
use crate::protocols::{
    BrandRecord, CatalogSource, CategoryRecord, FirstPage, Page, ProductColumns, ProductRecord,
    ShopRecord,
};

/// Defines a loader struct whose batch is one call of a `CatalogSource` method; a method
/// that reads products is given the columns the request's operation reads (`columns`).
macro_rules! catalog_loader {
    // Records the source shares (it keeps them between requests): loaded without a copy.
    ($(#[$doc:meta])* $name:ident, $key:ty => Arc<$value:ty>, $method:ident) => {
        catalog_loader!(@define $(#[$doc])* $name, $key => $value as Arc<$value>, $method);
    };
    ($(#[$doc:meta])* $name:ident, $key:ty => $value:ty, $method:ident $(, $columns:ident)?) => {
        catalog_loader!(@define $(#[$doc])* $name, $key => $value as $value, $method $(, $columns)?);
    };
    (@define $(#[$doc:meta])* $name:ident, $key:ty => $value:ty as $loaded:ty, $method:ident
        $(, $columns:ident)?) => {
        $(#[$doc])*
        pub struct $name {
            source: Arc<dyn CatalogSource>,
            span: tracing::Span,
            #[allow(dead_code, reason = "read by the loaders of products")]
            columns: ProductColumns,
        }

        impl BatchLoad for $name {
            type Key = $key;
            type Value = $value;
            type Loaded = $loaded;
            const NAME: &'static str = stringify!($name);

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $loaded>, ApiError> {
                let load = async {
                    let found = self.source.$method(keys $(, self.$columns)?).await;
                    found.map_err(ApiError::from)
                };
                load.instrument(self.span.clone()).await
            }
        }
    };
}

catalog_loader!(
    /// Products by id, with the columns the request's operation reads.
    ProductById, i32 => ProductRecord, products_columns_by_ids, columns
);
catalog_loader!(
    /// Brands by id.
    BrandById, i32 => Arc<BrandRecord>, brands_by_ids
);
catalog_loader!(
    /// Brands by slug.
    BrandBySlug, String => BrandRecord, brands_by_slugs
);
catalog_loader!(
    /// Shops by id.
    ShopById, i32 => Arc<ShopRecord>, shops_by_ids
);
catalog_loader!(
    /// Shops by slug.
    ShopBySlug, String => ShopRecord, shops_by_slugs
);
catalog_loader!(
    /// Categories by id.
    CategoryById, i32 => Arc<CategoryRecord>, categories_by_ids
);
catalog_loader!(
    /// Categories by slug.
    CategoryBySlug, String => CategoryRecord, categories_by_slugs
);
catalog_loader!(
    /// The children of categories.
    CategoryChildren, i32 => Vec<CategoryRecord>, category_children
);
catalog_loader!(
    /// The paths from the root to categories.
    CategoryPath, i32 => Vec<CategoryRecord>, category_paths
);

catalog_loader!(
    /// First pages of categories' products.
    CategoryProductsFirstPage, FirstPage => Page<ProductRecord>, category_products_first_pages,
    columns
);
catalog_loader!(
    /// Product counts of categories (with descendants).
    CategoryProductCount, i32 => i64, category_products_counts
);
catalog_loader!(
    /// First pages of brands' products.
    BrandProductsFirstPage, FirstPage => Page<ProductRecord>, brand_products_first_pages, columns
);
catalog_loader!(
    /// Product counts of brands.
    BrandProductCount, i32 => i64, brand_products_counts
);

/// One request's catalog loaders.
pub struct CatalogLoaders {
    /// The product columns the operation reads: every read of products reads these.
    pub columns: ProductColumns,
    /// Products by id, reading only the columns the operation selects.
    pub products: Batcher<ProductById>,
    /// Brands by id.
    pub brands: Batcher<BrandById>,
    /// Brands by slug, for `Query.brand`.
    pub brands_by_slug: Batcher<BrandBySlug>,
    /// Shops by id.
    pub shops: Batcher<ShopById>,
    /// Shops by slug, for `Query.shop`.
    pub shops_by_slug: Batcher<ShopBySlug>,
    /// Categories by id.
    pub categories: Batcher<CategoryById>,
    /// Categories by slug, for `Query.category`.
    pub categories_by_slug: Batcher<CategoryBySlug>,
    /// The children of categories, in order.
    pub category_children: Batcher<CategoryChildren>,
    /// The root-to-category paths of categories, for breadcrumbs.
    pub category_paths: Batcher<CategoryPath>,
    /// First pages of categories' products, descendants included, newest first.
    pub category_first_pages: Batcher<CategoryProductsFirstPage>,
    /// Product counts of categories, descendants included.
    pub category_counts: Batcher<CategoryProductCount>,
    /// First pages of brands' products, newest first.
    pub brand_first_pages: Batcher<BrandProductsFirstPage>,
    /// Product counts of brands.
    pub brand_counts: Batcher<BrandProductCount>,
}

impl CatalogLoaders {
    /// Loaders that read only `columns` of products by id: every product field the
    /// request's operation selects must be covered (see `engine::product_columns`).
    pub fn reading(
        source: &Arc<dyn CatalogSource>,
        span: &tracing::Span,
        window: Window,
        columns: ProductColumns,
    ) -> Self {
        macro_rules! loader {
            ($name:ident) => {
                Batcher::new(
                    $name {
                        source: source.clone(),
                        span: span.clone(),
                        columns,
                    },
                    window,
                )
            };
        }
        Self {
            columns,
            products: loader!(ProductById),
            brands: loader!(BrandById),
            brands_by_slug: loader!(BrandBySlug),
            shops: loader!(ShopById),
            shops_by_slug: loader!(ShopBySlug),
            categories: loader!(CategoryById),
            categories_by_slug: loader!(CategoryBySlug),
            category_children: loader!(CategoryChildren),
            category_paths: loader!(CategoryPath),
            category_first_pages: loader!(CategoryProductsFirstPage),
            category_counts: loader!(CategoryProductCount),
            brand_first_pages: loader!(BrandProductsFirstPage),
            brand_counts: loader!(BrandProductCount),
        }
    }
}
