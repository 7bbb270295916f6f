//! The community module's fields in the planned engine: users, collages and their items,
//! the feed, and what a viewer liked. Each resolver loads for a whole level at once.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{
    COLLAGE_CURSOR, CollageOrderBy, CommunityLoaders, LIKE_CURSOR, MAX_ITEMS, decode_like_cursor,
    feed_page,
};
use crate::core::Sources;
use crate::core::catalog::{CatalogLoaders, ProductPage};
use crate::core::connection::{self, Connection, CountById, CountBySource, CountKey, Total};
use crate::core::engine::{Args, Children, Ctx, Registry, Scalars};
use crate::core::errors::ApiError;
use crate::core::ids::{GlobalId, Kind};
use crate::core::pagination::{PageLimits, decode_id_cursor, encode_cursor};
use crate::protocols::community::{CollageItemRecord, CollageOwner, CollageRecord, UserRecord};
use crate::protocols::{Page, PageRequest, ProductRecord};

/// A collage as the engine holds it: shared with the request's loader cache.
type CollageObj = Arc<CollageRecord>;
type UserObj = Arc<UserRecord>;

type ProductObj = Arc<ProductRecord>;

/// A page of collages.
pub(super) type CollagePage = Connection<CollageObj>;

/// Counts the collage feed, of one tag or all.
static FEED: CountBySource = CountBySource {
    name: "collage feed",
    count: |sources, key| {
        Box::pin(async move {
            let tag = match key {
                CountKey::Text(tag) => tag.as_deref(),
                CountKey::Id(_) => None,
            };
            sources.community.collages_count(tag).await
        })
    },
};

static USER_COLLAGES: CountById<CommunityLoaders> = CountById {
    name: "user collages",
    load: |l, ids| Box::pin(l.user_collage_counts.load_shared(ids)),
};
static PRODUCT_COLLAGES: CountById<CommunityLoaders> = CountById {
    name: "product collages",
    load: |l, ids| Box::pin(l.product_collage_counts.load_shared(ids)),
};
static LIKED_PRODUCTS: CountById<CommunityLoaders> = CountById {
    name: "liked products",
    load: |l, ids| Box::pin(l.liked_product_counts.load_shared(ids)),
};

fn loaders(ctx: &Ctx) -> Result<&CommunityLoaders, ApiError> {
    Ok(ctx.data::<Arc<CommunityLoaders>>()?)
}

/// Registers the community's types and root fields.
pub(super) fn register(registry: &mut Registry) {
    root(registry);
    registry
        .node("User", |ctx, ids| {
            Box::pin(async move { loaders(ctx)?.users.load_shared(ids).await })
        })
        .node("Collage", |ctx, ids| {
            Box::pin(async move { loaders(ctx)?.collages.load_shared(ids).await })
        });
    connection::register::<CollageObj, ()>(registry, "CollageConnection", "CollageEdge", "Collage");

    registry
        .object::<UserObj>("User")
        .leaf("id", |u: &UserObj, out| out.id(Kind::User, u.id))
        .leaf("databaseId", |u: &UserObj, out| out.int(u.id.into()))
        .leaf("username", |u: &UserObj, out| out.str(&u.username))
        .leaf("displayName", |u: &UserObj, out| out.str(&u.display_name))
        .leaf("avatarUrl", |u: &UserObj, out| {
            out.opt_str(u.avatar_url.as_deref())
        })
        .leaf("createdAt", |u: &UserObj, out| out.datetime(&u.created_at))
        .resolve("collages", "CollageConnection", |ctx, users, args| {
            Box::pin(async move {
                let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
                owner_collages(ctx, &ids, CollageOwner::User, args).await
            })
        })
        .resolve("likedProducts", "ProductConnection", |ctx, users, args| {
            Box::pin(liked_products(ctx, users, args))
        });
    registry
        .object::<ProductObj>("Product")
        .resolve("collages", "CollageConnection", |ctx, products, args| {
            Box::pin(async move {
                let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
                owner_collages(ctx, &ids, CollageOwner::Product, args).await
            })
        })
        .scalars("viewerHasLiked", |ctx, products, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
                let loaders = loaders(ctx)?;
                viewer_liked(loaders.viewer, &ids, |ids| {
                    Box::pin(loaders.viewer_liked_products.load_shared(ids))
                })
                .await
            })
        });
    collage(registry);
    registry
        .object::<CollageItemRecord>("CollageItem")
        .leaf("position", |i: &CollageItemRecord, out| {
            out.int(i.position.into())
        })
        .leaf("x", |i: &CollageItemRecord, out| out.float(i.x))
        .leaf("y", |i: &CollageItemRecord, out| out.float(i.y))
        .leaf("scale", |i: &CollageItemRecord, out| out.float(i.scale))
        .resolve("product", "Product", |ctx, items, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = items.iter().map(|i| i.product_id).collect();
                let products = ctx
                    .data::<Arc<CatalogLoaders>>()?
                    .products
                    .load_shared(&ids)
                    .await?;
                let mut children: Children<Arc<ProductRecord>> =
                    Children::with_capacity(items.len());
                for (product, id) in products.into_iter().zip(ids) {
                    children.push_result(product.ok_or_else(|| {
                        ApiError::Internal(format!("product {id} of a collage does not exist"))
                    }));
                }
                Ok(children)
            })
        });
}

fn root(registry: &mut Registry) {
    registry
        .object::<()>("Query")
        .resolve("collages", "CollageConnection", |ctx, _roots, args| {
            Box::pin(async move {
                let order = match args.opt_enum("orderBy")? {
                    Some("POPULAR") => CollageOrderBy::Popular,
                    _ => CollageOrderBy::Newest,
                };
                let source = &ctx.data::<Sources>()?.community;
                let feed = feed_page(
                    source,
                    ctx.data::<PageLimits>()?,
                    args.opt_i32("first")?,
                    args.opt_str("after")?,
                    order,
                    args.opt_str("tag")?.map(str::to_owned),
                )
                .await?;
                let items = feed.items.into_iter().map(|(c, r)| (c, Arc::new(r)));
                let mut children = Children::with_capacity(1);
                let total = Total::Counted(&FEED, CountKey::Text(feed.tag));
                children.push(CollagePage::new(items, feed.has_next_page, total, ()));
                Ok(children)
            })
        })
        .resolve("collage", "Collage", |ctx, _roots, args| {
            Box::pin(async move {
                let id = GlobalId::decode_as(&args.id("id")?, Kind::Collage)?;
                let found = loaders(ctx)?.collages.load_shared(&[id]).await?;
                Ok(Children::first_of(found))
            })
        })
        .resolve("user", "User", |ctx, _roots, args| {
            Box::pin(async move {
                let name = args.str("username")?.to_owned();
                let found = loaders(ctx)?.users_by_name.load_shared(&[name]).await?;
                Ok(Children::first_of(found))
            })
        })
        .resolve("viewer", "User", |ctx, _roots, _args| {
            Box::pin(async move {
                let loaders = loaders(ctx)?;
                let mut children = Children::with_capacity(1);
                match loaders.viewer {
                    Some(id) => {
                        let found = loaders.users.load_shared(&[id]).await?;
                        children.push_opt(found.into_iter().next().flatten());
                    }
                    None => children.push_opt(None),
                }
                Ok(children)
            })
        });
}

fn collage(registry: &mut Registry) {
    registry
        .object::<CollageObj>("Collage")
        // Likes and edits change a collage's answers: see `core::tags`.
        .tagged(|c: &CollageObj| c.id)
        .leaf("id", |c: &CollageObj, out| out.id(Kind::Collage, c.id))
        .leaf("databaseId", |c: &CollageObj, out| out.int(c.id.into()))
        .leaf("title", |c: &CollageObj, out| out.str(&c.title))
        .leaf("description", |c: &CollageObj, out| out.str(&c.description))
        .leaf("likeCount", |c: &CollageObj, out| {
            out.int(c.like_count.into())
        })
        .leaf("createdAt", |c: &CollageObj, out| {
            out.datetime(&c.created_at)
        })
        .leaf("updatedAt", |c: &CollageObj, out| {
            out.datetime(&c.updated_at)
        })
        .resolve("author", "User", |ctx, collages, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = collages.iter().map(|c| c.user_id).collect();
                let users = loaders(ctx)?.users.load_shared(&ids).await?;
                let mut children: Children<UserObj> = Children::with_capacity(collages.len());
                for (user, collage) in users.into_iter().zip(collages) {
                    children.push_result(user.ok_or_else(|| {
                        ApiError::Internal(format!(
                            "author of collage {} does not exist",
                            collage.id
                        ))
                    }));
                }
                Ok(children)
            })
        })
        .resolve("items", "CollageItem", |ctx, collages, args| {
            Box::pin(items(ctx, collages, args))
        })
        .scalars("tags", |ctx, collages, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = collages.iter().map(|c| c.id).collect();
                let tags = loaders(ctx)?.tags.load_shared(&ids).await?;
                let mut scalars = Scalars::with_capacity(collages.len());
                for tags in tags {
                    let tags = tags.as_deref().map(Vec::as_slice).unwrap_or_default();
                    scalars.push(|out| out.strs(tags.iter().map(String::as_str)));
                }
                Ok(scalars)
            })
        })
        .scalars("viewerHasLiked", |ctx, collages, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = collages.iter().map(|c| c.id).collect();
                let loaders = loaders(ctx)?;
                viewer_liked(loaders.viewer, &ids, |ids| {
                    Box::pin(loaders.viewer_liked_collages.load_shared(ids))
                })
                .await
            })
        });
}

/// `Collage.items(first)`: the first items of every collage of the level, in one load.
async fn items(
    ctx: &Ctx,
    collages: &[CollageObj],
    args: &Args,
) -> Result<Children<CollageItemRecord>, ApiError> {
    let first = args.i32("first")?;
    if !(0..=MAX_ITEMS).contains(&first) {
        return Err(ApiError::BadUserInput(format!(
            "first must be between 0 and {MAX_ITEMS}, got {first}"
        )));
    }
    let keys: Vec<(i32, u32)> = collages.iter().map(|c| (c.id, first as u32)).collect();
    let items = loaders(ctx)?.items.load_shared(&keys).await?;
    let mut children = Children::with_capacity(collages.len());
    for items in items {
        let items = items.as_deref().map(Vec::as_slice).unwrap_or_default();
        children.push_list(items.iter().cloned());
    }
    Ok(children)
}

/// `viewerHasLiked` of a level's objects: false for all without a viewer, else one load.
async fn viewer_liked<'a>(
    viewer: Option<i32>,
    ids: &'a [i32],
    load: impl FnOnce(&'a [i32]) -> BoxFuture<'a, Result<Vec<Option<Arc<bool>>>, ApiError>>,
) -> Result<Scalars, ApiError> {
    let mut scalars = Scalars::with_capacity(ids.len());
    if viewer.is_none() {
        for _ in ids {
            scalars.push(|out| out.bool(false));
        }
        return Ok(scalars);
    }
    for liked in load(ids).await? {
        let liked = liked.is_some_and(|l| *l);
        scalars.push(|out| out.bool(liked));
    }
    Ok(scalars)
}

/// `User.collages` and `Product.collages`: first pages of every owner of the level in one
/// load; later pages (with `after`) one call per owner, as clients page one list at a time.
async fn owner_collages(
    ctx: &Ctx,
    ids: &[i32],
    owner: fn(i32) -> CollageOwner,
    args: &Args,
) -> Result<Children<CollagePage>, ApiError> {
    let first = ctx.data::<PageLimits>()?.first(args.opt_i32("first")?)?;
    let after = decode_id_cursor(COLLAGE_CURSOR, args.opt_str("after")?)?;
    let counter: &'static CountById<CommunityLoaders> = match owner(0) {
        CollageOwner::User(_) => &USER_COLLAGES,
        CollageOwner::Product(_) => &PRODUCT_COLLAGES,
    };
    if !connection::reads_page(args) {
        return Ok(connection::counted_only(ids, counter));
    }
    let loaders = loaders(ctx)?;
    let pages: Vec<Page<CollageRecord>> = match after {
        None => {
            let keys = connection::first_pages(ids.iter().copied(), first, args);
            let loaded = match owner(0) {
                CollageOwner::User(_) => loaders.user_collages.load_shared(&keys).await?,
                CollageOwner::Product(_) => loaders.product_collages.load_shared(&keys).await?,
            };
            loaded
                .into_iter()
                .map(|page| page.map(|p| Page::clone(&p)).unwrap_or_default())
                .collect()
        }
        Some(after) => {
            let source = &ctx.data::<Sources>()?.community;
            let mut pages = Vec::with_capacity(ids.len());
            for &id in ids {
                let request = PageRequest {
                    first,
                    after: Some(after),
                };
                pages.push(source.owner_collages_page(owner(id), request).await?);
            }
            pages
        }
    };
    let mut children = Children::with_capacity(ids.len());
    for (page, &id) in pages.into_iter().zip(ids) {
        let items = page.items.into_iter().map(|c| {
            let cursor = encode_cursor(COLLAGE_CURSOR, &c.id.to_string());
            (cursor, Arc::new(c))
        });
        let total = Total::of(page.total, counter, id);
        children.push(CollagePage::new(items, page.has_next_page, total, ()));
    }
    Ok(children)
}

/// `User.likedProducts`: most recent like first; first pages of the level in one load.
async fn liked_products(
    ctx: &Ctx,
    users: &[UserObj],
    args: &Args,
) -> Result<Children<ProductPage>, ApiError> {
    let first = ctx.data::<PageLimits>()?.first(args.opt_i32("first")?)?;
    let after = args.opt_str("after")?.map(decode_like_cursor).transpose()?;
    if !connection::reads_page(args) {
        let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        return Ok(connection::counted_only(&ids, &LIKED_PRODUCTS));
    }
    let mut children = Children::with_capacity(users.len());
    let pages = match after {
        None => {
            let keys = connection::first_pages(users.iter().map(|u| u.id), first, args);
            let loaded = loaders(ctx)?.liked_first_pages.load_shared(&keys).await?;
            loaded
                .into_iter()
                .map(|page| page.map(|p| Page::clone(&p)).unwrap_or_default())
                .collect()
        }
        Some(after) => {
            let source = &ctx.data::<Sources>()?.community;
            let columns = loaders(ctx)?.columns;
            let mut pages = Vec::with_capacity(users.len());
            for user in users {
                let request = PageRequest {
                    first,
                    after: Some(after.clone()),
                };
                pages.push(
                    source
                        .liked_products_page(user.id, request, columns)
                        .await?,
                );
            }
            pages
        }
    };
    for (page, user) in pages.into_iter().zip(users) {
        let items = page.items.into_iter().map(|liked| {
            let key = format!("{}|{}", liked.liked_at.timestamp_millis(), liked.product.id);
            (encode_cursor(LIKE_CURSOR, &key), Arc::new(liked.product))
        });
        let total = Total::of(page.total, &LIKED_PRODUCTS, user.id);
        children.push(ProductPage::new(items, page.has_next_page, total, ()));
    }
    Ok(children)
}
