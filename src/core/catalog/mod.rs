//! The catalog module: products, brands, shops and the category tree, from the catalog
//! source. Root look-ups by global id, database id and slug; lists are Relay connections.

mod engine;
mod loaders;
mod types;

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

pub use engine::{MoneyObj, ProductPage, product_columns};

/// The catalog's types and fields.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "catalog",
    sdl: include_str!("schema.graphql"),
    register: engine::register,
};
pub use loaders::CatalogLoaders;
pub use types::{Brand, Category, Money, Product, Shop};

use super::errors::{ApiError, ApiResult};
use super::ids::{GlobalId, Kind};
use super::pagination::{self, PageLimits, connection, decode_id_cursor, encode_cursor, page_cost};
use super::{ContextExt, Sources};
use crate::protocols::{BrandCursor, CatalogSource, PageRequest, ProductRecord};

connection!(
    ProductConnection,
    ProductEdge,
    Product,
    "A page of products."
);
connection!(BrandConnection, BrandEdge, Brand, "A page of brands.");

const PRODUCT_CURSOR: &str = "product";
const BRAND_CURSOR: &str = "brand";

/// Typed access to what the catalog module needs from the request context.
pub(crate) trait CatalogContext {
    fn catalog_loaders(&self) -> ApiResult<&Arc<CatalogLoaders>>;
    fn catalog(&self) -> ApiResult<&Arc<dyn CatalogSource>>;
}

impl CatalogContext for Context<'_> {
    fn catalog_loaders(&self) -> ApiResult<&Arc<CatalogLoaders>> {
        self.typed_data::<Arc<CatalogLoaders>>()
    }
    fn catalog(&self) -> ApiResult<&Arc<dyn CatalogSource>> {
        Ok(&self.typed_data::<Sources>()?.catalog)
    }
}

/// The catalog's root fields.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// A product by global id or by database id (give exactly one).
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        database_id: Option<i32>,
    ) -> async_graphql::Result<Option<Product>> {
        let id = match (id, database_id) {
            (Some(id), None) => GlobalId::decode_as(&id, Kind::Product)?,
            (None, Some(database_id)) => database_id,
            _ => {
                return Err(ApiError::BadUserInput(
                    "give exactly one of `id` and `databaseId`".to_owned(),
                )
                .into());
            }
        };
        let product: ApiResult<_> = ctx.catalog_loaders()?.products.load_one(id).await;
        Ok(product?.map(Product))
    }

    /// A brand by its slug.
    async fn brand(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Brand>> {
        let brand: ApiResult<_> = ctx.catalog_loaders()?.brands_by_slug.load_one(slug).await;
        Ok(brand?.map(Brand))
    }

    /// All brands, by name.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn brands(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many brands (at most the maximum page size).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<BrandConnection> {
        let first = ctx.typed_data::<PageLimits>()?.first(first)?;
        let after = after
            .map(|cursor| decode_brand_cursor(&cursor))
            .transpose()?;
        let catalog = ctx.catalog()?.clone();
        let page = catalog
            .brands_page(PageRequest { first, after })
            .await
            .map_err(ApiError::from)?;
        let items = page
            .items
            .into_iter()
            .map(|b| {
                let cursor = encode_cursor(BRAND_CURSOR, &format!("{}|{}", b.id, b.name));
                (cursor, Brand(b))
            })
            .collect();
        let count = Box::pin(async move { catalog.brands_count().await.map_err(ApiError::from) });
        Ok(BrandConnection::new(items, page.has_next_page, count))
    }

    /// A shop by its slug.
    async fn shop(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Shop>> {
        let shop: ApiResult<_> = ctx.catalog_loaders()?.shops_by_slug.load_one(slug).await;
        Ok(shop?.map(Shop))
    }

    /// A category by its slug.
    async fn category(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Category>> {
        let loaders = ctx.catalog_loaders()?;
        let category: ApiResult<_> = loaders.categories_by_slug.load_one(slug).await;
        Ok(category?.map(Category))
    }

    /// The roots of the category tree, in order; descend with `children`.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let roots = ctx
            .catalog()?
            .root_categories()
            .await
            .map_err(ApiError::from)?;
        Ok(roots.into_iter().map(Category).collect())
    }
}

/// Brand cursors hold the sort key (name, id); the id comes first since names may hold `|`.
fn decode_brand_cursor(cursor: &str) -> ApiResult<BrandCursor> {
    let key = pagination::decode_cursor(BRAND_CURSOR, cursor)?;
    key.split_once('|')
        .and_then(|(id, name)| {
            Some(BrandCursor {
                id: id.parse().ok()?,
                name: name.to_owned(),
            })
        })
        .ok_or_else(|| ApiError::BadUserInput(format!("invalid cursor {cursor:?}")))
}

fn product_connection(
    page: crate::protocols::Page<ProductRecord>,
    count: pagination::CountFuture,
) -> ProductConnection {
    let items = page
        .items
        .into_iter()
        .map(|p| (encode_cursor(PRODUCT_CURSOR, &p.id.to_string()), Product(p)))
        .collect();
    ProductConnection::new(items, page.has_next_page, count)
}

/// Checks a page request of a product list ordered by id.
fn product_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<PageRequest<i32>> {
    Ok(PageRequest {
        first: ctx.typed_data::<PageLimits>()?.first(first)?,
        after: decode_id_cursor(PRODUCT_CURSOR, after)?,
    })
}

/// `Category.products`: the subtree's products, newest first. First pages go through a
/// loader, so a list of categories each showing products costs one statement.
pub(crate) async fn category_products(
    ctx: &Context<'_>,
    category_id: i32,
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<ProductConnection> {
    let request = product_page(ctx, first, after)?;
    let loaders = ctx.catalog_loaders()?.clone();
    let page = match request.after {
        None => loaders
            .category_first_pages
            .load_one((category_id, request.first))
            .await?
            .unwrap_or_default(),
        Some(_) => {
            let catalog = ctx.catalog()?;
            catalog.category_products_page(category_id, request).await?
        }
    };
    let count = Box::pin(async move {
        Ok(loaders
            .category_counts
            .load_one(category_id)
            .await?
            .unwrap_or(0))
    });
    Ok(product_connection(page, count))
}

/// `Brand.products`: the brand's products, newest first, batched like categories'.
pub(crate) async fn brand_products(
    ctx: &Context<'_>,
    brand_id: i32,
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<ProductConnection> {
    let request = product_page(ctx, first, after)?;
    let loaders = ctx.catalog_loaders()?.clone();
    let page = match request.after {
        None => loaders
            .brand_first_pages
            .load_one((brand_id, request.first))
            .await?
            .unwrap_or_default(),
        Some(_) => {
            ctx.catalog()?
                .brand_products_page(brand_id, request)
                .await?
        }
    };
    let count =
        Box::pin(async move { Ok(loaders.brand_counts.load_one(brand_id).await?.unwrap_or(0)) });
    Ok(product_connection(page, count))
}
