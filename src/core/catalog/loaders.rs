//! DataLoaders of the catalog module: thin adapters over the batch-shaped `CatalogSource`
//! methods. They are built per request, so their caches never outlive one operation, and
//! they carry the request's span so a failed batch is logged with its request id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use tracing::Instrument;

use crate::core::errors::ApiError;
use crate::observe::{self, request::spawner};
use crate::protocols::{
    BrandRecord, CatalogSource, CategoryRecord, Page, ProductRecord, ShopRecord,
};

/// Defines a loader struct whose batch is one call of a `CatalogSource` method.
macro_rules! catalog_loader {
    ($(#[$doc:meta])* $name:ident, $key:ty => $value:ty, $method:ident) => {
        $(#[$doc])*
        pub struct $name {
            source: Arc<dyn CatalogSource>,
            span: tracing::Span,
        }

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = ApiError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, ApiError> {
                let _batch = observe::loader_batch(stringify!($name), keys.len());
                let load = async { self.source.$method(keys).await.map_err(ApiError::from) };
                load.instrument(self.span.clone()).await
            }
        }
    };
}

catalog_loader!(
    /// Products by id.
    ProductById, i32 => ProductRecord, products_by_ids
);
catalog_loader!(
    /// Brands by id.
    BrandById, i32 => BrandRecord, brands_by_ids
);
catalog_loader!(
    /// Brands by slug.
    BrandBySlug, String => BrandRecord, brands_by_slugs
);
catalog_loader!(
    /// Shops by id.
    ShopById, i32 => ShopRecord, shops_by_ids
);
catalog_loader!(
    /// Shops by slug.
    ShopBySlug, String => ShopRecord, shops_by_slugs
);
catalog_loader!(
    /// Categories by id.
    CategoryById, i32 => CategoryRecord, categories_by_ids
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
    /// First pages of categories' products, by `(category id, page size)`.
    CategoryProductsFirstPage, (i32, u32) => Page<ProductRecord>, category_products_first_pages
);
catalog_loader!(
    /// Product counts of categories (with descendants).
    CategoryProductCount, i32 => i64, category_products_counts
);
catalog_loader!(
    /// First pages of brands' products, by `(brand id, page size)`.
    BrandProductsFirstPage, (i32, u32) => Page<ProductRecord>, brand_products_first_pages
);
catalog_loader!(
    /// Product counts of brands.
    BrandProductCount, i32 => i64, brand_products_counts
);

/// One request's catalog loaders.
pub struct CatalogLoaders {
    pub products: DataLoader<ProductById, HashMapCache>,
    pub brands: DataLoader<BrandById, HashMapCache>,
    pub brands_by_slug: DataLoader<BrandBySlug, HashMapCache>,
    pub shops: DataLoader<ShopById, HashMapCache>,
    pub shops_by_slug: DataLoader<ShopBySlug, HashMapCache>,
    pub categories: DataLoader<CategoryById, HashMapCache>,
    pub categories_by_slug: DataLoader<CategoryBySlug, HashMapCache>,
    pub category_children: DataLoader<CategoryChildren, HashMapCache>,
    pub category_paths: DataLoader<CategoryPath, HashMapCache>,
    pub category_first_pages: DataLoader<CategoryProductsFirstPage, HashMapCache>,
    pub category_counts: DataLoader<CategoryProductCount, HashMapCache>,
    pub brand_first_pages: DataLoader<BrandProductsFirstPage, HashMapCache>,
    pub brand_counts: DataLoader<BrandProductCount, HashMapCache>,
}

impl CatalogLoaders {
    /// Loaders for one request; `delay` is how long a loader waits to gather keys.
    pub fn new(source: &Arc<dyn CatalogSource>, span: &tracing::Span, delay: Duration) -> Self {
        fn build<L>(loader: L, delay: Duration) -> DataLoader<L, HashMapCache> {
            DataLoader::with_cache(loader, spawner(), HashMapCache::default()).delay(delay)
        }
        macro_rules! loader {
            ($name:ident) => {
                build(
                    $name {
                        source: source.clone(),
                        span: span.clone(),
                    },
                    delay,
                )
            };
        }
        Self {
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
