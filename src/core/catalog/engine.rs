//! The catalog's fields in the planned engine: products, brands, shops, categories and
//! money. Related records load for a whole level at once, shared with the request's cache.

use std::sync::Arc;

use super::money::{self, MoneyObj};
use super::{BRAND_CURSOR, CatalogLoaders, PRODUCT_CURSOR, decode_brand_cursor};
use crate::core::Sources;
use crate::core::connection::{self, Connection, CountById, CountBySource, CountKey, Total};
use crate::core::engine::{Args, Children, Ctx, Registry};
use crate::core::errors::ApiError;
use crate::core::ids::{GlobalId, Kind};
use crate::core::pagination::{PageLimits, decode_id_cursor, encode_cursor};
use crate::protocols::{
    BrandRecord, CategoryRecord, Page, PageRequest, ProductColumns, ProductRecord, ShopRecord,
};

type ProductObj = Arc<ProductRecord>;
type BrandObj = Arc<BrandRecord>;
type ShopObj = Arc<ShopRecord>;
type CategoryObj = Arc<CategoryRecord>;

fn loaders(ctx: &Ctx) -> Result<&CatalogLoaders, ApiError> {
    Ok(ctx.data::<Arc<CatalogLoaders>>()?)
}

/// A reference that the database's foreign keys guarantee; missing means a broken invariant.
fn dangling(what: &str, id: i32) -> ApiError {
    ApiError::Internal(format!(
        "{what} {id} referenced by a product does not exist"
    ))
}

/// The columns a product's fields read; fields of other modules read only the id. Every
/// product leaf and resolver registered below must be covered here, since a product
/// loaded for the planned engine holds only these columns.
pub fn product_columns<'a>(fields: impl IntoIterator<Item = &'a str>) -> ProductColumns {
    let mut columns = ProductColumns::NONE;
    for field in fields {
        columns |= match field {
            "name" => ProductColumns::NAME,
            "description" => ProductColumns::DESCRIPTION,
            "color" => ProductColumns::COLOR,
            "price" => ProductColumns::PRICE | ProductColumns::CURRENCY,
            "salePrice" | "onSale" => ProductColumns::SALE_PRICE | ProductColumns::CURRENCY,
            "currentPrice" => {
                ProductColumns::PRICE | ProductColumns::SALE_PRICE | ProductColumns::CURRENCY
            }
            "imageUrl" => ProductColumns::IMAGE,
            "deeplinkUrl" => ProductColumns::DEEPLINK,
            "likeCount" => ProductColumns::LIKES,
            "createdAt" => ProductColumns::CREATED,
            "updatedAt" => ProductColumns::UPDATED,
            "brand" => ProductColumns::BRAND,
            "shop" => ProductColumns::SHOP,
            "category" => ProductColumns::CATEGORY,
            _ => ProductColumns::NONE,
        };
    }
    columns
}

/// A page of products.
pub type ProductPage = Connection<ProductObj>;
/// A page of brands.
pub(super) type BrandPage = Connection<BrandObj>;

/// Counts every brand.
static BRANDS: CountBySource = CountBySource {
    name: "brands",
    count: |sources, _key| Box::pin(sources.catalog.brands_count()),
};

static BRAND_PRODUCTS: CountById<CatalogLoaders> = CountById {
    name: "brand products",
    load: |l, ids| Box::pin(l.brand_counts.load_shared(ids)),
};
static CATEGORY_PRODUCTS: CountById<CatalogLoaders> = CountById {
    name: "category products",
    load: |l, ids| Box::pin(l.category_counts.load_shared(ids)),
};

/// Registers the catalog's types and root fields.
pub(super) fn register(registry: &mut Registry) {
    connection::register::<ProductObj, ()>(registry, "ProductConnection", "ProductEdge", "Product");
    connection::register::<BrandObj, ()>(registry, "BrandConnection", "BrandEdge", "Brand");
    root(registry);
    product(registry);
    money::register(registry);
    registry
        .object::<BrandObj>("Brand")
        .leaf("id", |b: &BrandObj, out| out.id(Kind::Brand, b.id))
        .leaf("databaseId", |b: &BrandObj, out| out.int(b.id.into()))
        .leaf("slug", |b: &BrandObj, out| out.str(&b.slug))
        .leaf("name", |b: &BrandObj, out| out.str(&b.name))
        .leaf("logoUrl", |b: &BrandObj, out| {
            out.opt_str(b.logo_url.as_deref())
        })
        .resolve("products", "ProductConnection", |ctx, brands, args| {
            Box::pin(async move {
                let ids: Vec<i32> = brands.iter().map(|b| b.id).collect();
                products_of(ctx, &ids, Owner::Brand, args).await
            })
        });
    registry
        .object::<ShopObj>("Shop")
        .leaf("id", |s: &ShopObj, out| out.id(Kind::Shop, s.id))
        .leaf("databaseId", |s: &ShopObj, out| out.int(s.id.into()))
        .leaf("slug", |s: &ShopObj, out| out.str(&s.slug))
        .leaf("name", |s: &ShopObj, out| out.str(&s.name))
        .leaf("domain", |s: &ShopObj, out| out.str(&s.domain))
        .leaf("country", |s: &ShopObj, out| out.str(&s.country))
        .leaf("currency", |s: &ShopObj, out| out.str(&s.currency));
    category(registry);
    registry
        .node("Product", |ctx, ids| {
            Box::pin(async move { loaders(ctx)?.products.load_shared(ids).await })
        })
        .node("Brand", |ctx, ids| {
            Box::pin(async move { loaders(ctx)?.brands.load_shared(ids).await })
        })
        .node("Shop", |ctx, ids| {
            Box::pin(async move { loaders(ctx)?.shops.load_shared(ids).await })
        })
        .node("Category", |ctx, ids| {
            Box::pin(async move { loaders(ctx)?.categories.load_shared(ids).await })
        });
}

fn root(registry: &mut Registry) {
    registry
        .object::<()>("Query")
        .resolve("product", "Product", |ctx, _roots, args| {
            Box::pin(async move {
                let id = match (args.opt_id("id")?, args.opt_i32("databaseId")?) {
                    (Some(id), None) => GlobalId::decode_as(&id, Kind::Product)?,
                    (None, Some(database_id)) => database_id,
                    _ => {
                        return Err(ApiError::BadUserInput(
                            "give exactly one of `id` and `databaseId`".to_owned(),
                        ));
                    }
                };
                let found = loaders(ctx)?.products.load_shared(&[id]).await?;
                Ok(Children::first_of(found))
            })
        })
        .resolve("brand", "Brand", |ctx, _roots, args| {
            Box::pin(async move {
                let slug = args.str("slug")?.to_owned();
                let found = loaders(ctx)?.brands_by_slug.load_shared(&[slug]).await?;
                Ok(Children::first_of(found))
            })
        })
        .resolve("shop", "Shop", |ctx, _roots, args| {
            Box::pin(async move {
                let slug = args.str("slug")?.to_owned();
                let found = loaders(ctx)?.shops_by_slug.load_shared(&[slug]).await?;
                Ok(Children::first_of(found))
            })
        })
        .resolve("category", "Category", |ctx, _roots, args| {
            Box::pin(async move {
                let slug = args.str("slug")?.to_owned();
                let found = loaders(ctx)?
                    .categories_by_slug
                    .load_shared(&[slug])
                    .await?;
                Ok(Children::first_of(found))
            })
        })
        .resolve("categories", "Category", |ctx, _roots, _args| {
            Box::pin(async move {
                let roots = ctx.data::<Sources>()?.catalog.root_categories().await?;
                let mut children = Children::with_capacity(1);
                children.push_list(roots.into_iter().map(Arc::new));
                Ok(children)
            })
        })
        .resolve("brands", "BrandConnection", |ctx, _roots, args| {
            Box::pin(async move {
                let first = ctx.data::<PageLimits>()?.first(args.opt_i32("first")?)?;
                let after = args
                    .opt_str("after")?
                    .map(decode_brand_cursor)
                    .transpose()?;
                let catalog = &ctx.data::<Sources>()?.catalog;
                let page = catalog.brands_page(PageRequest { first, after }).await?;
                let items = page.items.into_iter().map(|b| {
                    let cursor = encode_cursor(BRAND_CURSOR, &format!("{}|{}", b.id, b.name));
                    (cursor, Arc::new(b))
                });
                let total = Total::Counted(&BRANDS, CountKey::Id(0));
                let mut children = Children::with_capacity(1);
                children.push(BrandPage::new(items, page.has_next_page, total, ()));
                Ok(children)
            })
        });
}

fn product(registry: &mut Registry) {
    registry
        .object::<ProductObj>("Product")
        // A like changes a product's answers (its like count): see `core::tags`.
        .tagged(|p: &ProductObj| p.id)
        .leaf("id", |p: &ProductObj, out| out.id(Kind::Product, p.id))
        .leaf("databaseId", |p: &ProductObj, out| out.int(p.id.into()))
        .leaf("name", |p: &ProductObj, out| out.str(&p.name))
        .leaf("description", |p: &ProductObj, out| out.str(&p.description))
        .leaf("color", |p: &ProductObj, out| out.str(&p.color))
        .leaf("onSale", |p: &ProductObj, out| {
            out.bool(p.sale_price_cents.is_some())
        })
        .leaf("imageUrl", |p: &ProductObj, out| out.str(&p.image_url))
        .leaf("deeplinkUrl", |p: &ProductObj, out| {
            out.str(&p.deeplink_url)
        })
        .leaf("likeCount", |p: &ProductObj, out| {
            out.int(p.like_count.into())
        })
        .leaf("createdAt", |p: &ProductObj, out| {
            out.datetime(&p.created_at)
        })
        .leaf("updatedAt", |p: &ProductObj, out| {
            out.datetime(&p.updated_at)
        })
        .child("price", "Money", |p: &ProductObj| {
            MoneyObj::of_product(p.price_cents, p)
        })
        .child_opt("salePrice", "Money", |p: &ProductObj| {
            p.sale_price_cents
                .map(|cents| MoneyObj::of_product(cents, p))
        })
        .child("currentPrice", "Money", |p: &ProductObj| {
            MoneyObj::of_product(p.sale_price_cents.unwrap_or(p.price_cents), p)
        })
        .resolve("brand", "Brand", |ctx, products, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = products.iter().map(|p| p.brand_id).collect();
                let found = loaders(ctx)?.brands.load_shared(&ids).await?;
                Ok(referenced("brand", found, &ids))
            })
        })
        .resolve("shop", "Shop", |ctx, products, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = products.iter().map(|p| p.shop_id).collect();
                let found = loaders(ctx)?.shops.load_shared(&ids).await?;
                Ok(referenced("shop", found, &ids))
            })
        })
        .resolve("category", "Category", |ctx, products, args| {
            Box::pin(async move {
                let ids: Vec<i32> = products.iter().map(|p| p.category_id).collect();
                let loaders = loaders(ctx)?;
                if !args.selects("path") {
                    let found = loaders.categories.load_shared(&ids).await?;
                    return Ok(referenced("category", found, &ids));
                }
                // With its path selected too, the category is the last entry of its path:
                // one statement instead of two, and `path` below reads the same answer
                // from the loader.
                let paths = loaders.category_paths.load_shared(&ids).await?;
                let found = (paths.into_iter())
                    .map(|path| path.and_then(|path| path.last().cloned().map(Arc::new)))
                    .collect();
                Ok(referenced("category", found, &ids))
            })
        });
}

/// Records that products reference, one per product; a missing one is an error at its path.
fn referenced<T>(what: &str, found: Vec<Option<Arc<T>>>, ids: &[i32]) -> Children<Arc<T>> {
    let mut children = Children::with_capacity(ids.len());
    for (record, id) in found.into_iter().zip(ids) {
        children.push_result(record.ok_or_else(|| dangling(what, *id)));
    }
    children
}

fn category(registry: &mut Registry) {
    registry
        .object::<CategoryObj>("Category")
        .leaf("id", |c: &CategoryObj, out| out.id(Kind::Category, c.id))
        .leaf("databaseId", |c: &CategoryObj, out| out.int(c.id.into()))
        .leaf("slug", |c: &CategoryObj, out| out.str(&c.slug))
        .leaf("name", |c: &CategoryObj, out| out.str(&c.name))
        .leaf("position", |c: &CategoryObj, out| {
            out.int(c.position.into())
        })
        .resolve("parent", "Category", |ctx, categories, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = categories.iter().filter_map(|c| c.parent_id).collect();
                let found = loaders(ctx)?.categories.load_shared(&ids).await?;
                let mut found = found.into_iter();
                let mut children = Children::with_capacity(categories.len());
                for category in categories {
                    let parent = match category.parent_id {
                        Some(_) => found.next().flatten(),
                        None => None,
                    };
                    children.push_opt(parent);
                }
                Ok(children)
            })
        })
        .resolve("children", "Category", |ctx, categories, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = categories.iter().map(|c| c.id).collect();
                let found = loaders(ctx)?.category_children.load_shared(&ids).await?;
                Ok(lists(found))
            })
        })
        .resolve("path", "Category", |ctx, categories, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = categories.iter().map(|c| c.id).collect();
                let found = loaders(ctx)?.category_paths.load_shared(&ids).await?;
                Ok(lists(found))
            })
        })
        .resolve("products", "ProductConnection", |ctx, categories, args| {
            Box::pin(async move {
                let ids: Vec<i32> = categories.iter().map(|c| c.id).collect();
                products_of(ctx, &ids, Owner::Category, args).await
            })
        });
}

/// Lists of categories, one per parent; a parent without an entry has an empty list.
fn lists(found: Vec<Option<Arc<Vec<CategoryRecord>>>>) -> Children<CategoryObj> {
    let mut children = Children::with_capacity(found.len());
    for list in found {
        let list = list.as_deref().map(Vec::as_slice).unwrap_or_default();
        children.push_list(list.iter().cloned().map(Arc::new));
    }
    children
}

/// Whose products a product page lists.
#[derive(Clone, Copy)]
enum Owner {
    Brand,
    Category,
}

/// `Brand.products` and `Category.products`, newest first: first pages of every owner of
/// the level in one load; later pages one call per owner.
async fn products_of(
    ctx: &Ctx,
    ids: &[i32],
    owner: Owner,
    args: &Args,
) -> Result<Children<ProductPage>, ApiError> {
    let first = ctx.data::<PageLimits>()?.first(args.opt_i32("first")?)?;
    let after = decode_id_cursor(PRODUCT_CURSOR, args.opt_str("after")?)?;
    let counter: &'static CountById<CatalogLoaders> = match owner {
        Owner::Brand => &BRAND_PRODUCTS,
        Owner::Category => &CATEGORY_PRODUCTS,
    };
    if !connection::reads_page(args) {
        return Ok(connection::counted_only(ids, counter));
    }
    let pages: Vec<Page<ProductRecord>> = match after {
        None => {
            let keys = connection::first_pages(ids.iter().copied(), first, args);
            let loaders = loaders(ctx)?;
            let loaded = match owner {
                Owner::Brand => loaders.brand_first_pages.load_shared(&keys).await?,
                Owner::Category => loaders.category_first_pages.load_shared(&keys).await?,
            };
            loaded
                .into_iter()
                .map(|page| page.map(|p| Page::clone(&p)).unwrap_or_default())
                .collect()
        }
        Some(after) => {
            let catalog = &ctx.data::<Sources>()?.catalog;
            let columns = loaders(ctx)?.columns;
            let mut pages = Vec::with_capacity(ids.len());
            for &id in ids {
                let request = PageRequest {
                    first,
                    after: Some(after),
                };
                pages.push(match owner {
                    Owner::Brand => catalog.brand_products_page(id, request, columns).await?,
                    Owner::Category => catalog.category_products_page(id, request, columns).await?,
                });
            }
            pages
        }
    };
    let mut children = Children::with_capacity(ids.len());
    for (page, &id) in pages.into_iter().zip(ids) {
        let items = page.items.into_iter().map(|p| {
            let cursor = encode_cursor(PRODUCT_CURSOR, &p.id.to_string());
            (cursor, Arc::new(p))
        });
        let total = Total::of(page.total, counter, id);
        children.push(ProductPage::new(items, page.has_next_page, total, ()));
    }
    Ok(children)
}
