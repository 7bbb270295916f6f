//! The community module: users, collages and likes. Reads load through per-request loaders
//! (the viewer's likes through loaders that carry the viewer); mutations need an
//! authenticated viewer and are each one transaction in the source.

mod engine;
mod loaders;
mod mutation_engine;
mod mutations;
mod types;

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};

pub use loaders::CommunityLoaders;

/// Users, collages and likes: their types, queries and mutations.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "community",
    sdl: include_str!("schema.graphql"),
    register: |registry| {
        engine::register(registry);
        mutation_engine::register(registry);
    },
};
pub use mutations::CommunityMutation;
pub use types::{Collage, CollageItem, User};

use super::catalog::{Product, ProductConnection};
use super::errors::{ApiError, ApiResult};
use super::ids::{GlobalId, Kind};
use super::pagination::{self, PageLimits, connection, decode_id_cursor, encode_cursor, page_cost};
use super::{ContextExt, Sources};
use crate::protocols::community::{
    CollageCursor, CollageOrder, CollageOwner, CommunitySource, LikeCursor,
};
use crate::protocols::{Page, PageRequest};

connection!(
    CollageConnection,
    CollageEdge,
    Collage,
    "A page of collages."
);

const COLLAGE_CURSOR: &str = "collage";
const LIKE_CURSOR: &str = "like";

/// Typed access to what the community module needs from the request context.
pub(crate) trait CommunityContext {
    fn community_loaders(&self) -> ApiResult<&Arc<CommunityLoaders>>;
    fn community(&self) -> ApiResult<&Arc<dyn CommunitySource>>;
}

impl CommunityContext for Context<'_> {
    fn community_loaders(&self) -> ApiResult<&Arc<CommunityLoaders>> {
        self.typed_data::<Arc<CommunityLoaders>>()
    }
    fn community(&self) -> ApiResult<&Arc<dyn CommunitySource>> {
        Ok(&self.typed_data::<Sources>()?.community)
    }
}

/// Orders of the collage feed.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CollageOrderBy {
    /// Newest first.
    Newest,
    /// Most liked first.
    Popular,
}

/// The community's root fields.
#[derive(Default)]
pub struct CommunityQuery;

#[Object]
impl CommunityQuery {
    /// A user by username.
    async fn user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        let user: ApiResult<_> = ctx
            .community_loaders()?
            .users_by_name
            .load_one(username)
            .await;
        Ok(user?.map(User))
    }

    /// The authenticated user; null for anonymous requests.
    #[graphql(cache_control(private))]
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let loaders = ctx.community_loaders()?;
        let Some(id) = loaders.viewer else {
            return Ok(None);
        };
        let user: ApiResult<_> = loaders.users.load_one(id).await;
        Ok(user?.map(User))
    }

    /// A collage by global id.
    async fn collage(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Collage>> {
        let id = GlobalId::decode_as(&id, Kind::Collage)?;
        let collage: ApiResult<_> = ctx.community_loaders()?.collages.load_one(id).await;
        Ok(collage?.map(Collage))
    }

    /// The collage feed: newest or most liked, optionally of one tag.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn collages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "CollageOrderBy::Newest")] order_by: CollageOrderBy,
        tag: Option<String>,
    ) -> async_graphql::Result<CollageConnection> {
        let limits = ctx.typed_data::<PageLimits>()?;
        let source = ctx.community()?.clone();
        let feed = feed_page(&source, limits, first, after.as_deref(), order_by, tag).await?;
        let items = feed
            .items
            .into_iter()
            .map(|(c, r)| (c, Collage(r)))
            .collect();
        let tag = feed.tag;
        let count = Box::pin(async move { Ok(source.collages_count(tag.as_deref()).await?) });
        Ok(CollageConnection::new(items, feed.has_next_page, count))
    }
}

/// A page of the collage feed, with cursors, and the tag it was asked for (normalised).
pub(crate) struct FeedPage {
    pub(crate) items: Vec<(String, crate::protocols::community::CollageRecord)>,
    pub(crate) has_next_page: bool,
    pub(crate) tag: Option<String>,
}

/// `Query.collages`: a page of the feed, newest or most liked, optionally of one tag.
pub(crate) async fn feed_page(
    source: &Arc<dyn CommunitySource>,
    limits: &PageLimits,
    first: Option<i32>,
    after: Option<&str>,
    order_by: CollageOrderBy,
    tag: Option<String>,
) -> ApiResult<FeedPage> {
    let order = match order_by {
        CollageOrderBy::Newest => CollageOrder::Newest,
        CollageOrderBy::Popular => CollageOrder::Popular,
    };
    let request = PageRequest {
        first: limits.first(first)?,
        after: after.map(|c| decode_feed_cursor(c, order)).transpose()?,
    };
    let tag = tag.map(|t| t.trim().to_lowercase());
    let page = source
        .collages_page(order, tag.as_deref(), request)
        .await
        .map_err(ApiError::from)?;
    let items = page
        .items
        .into_iter()
        .map(|c| {
            let likes = match order {
                CollageOrder::Popular => c.like_count.to_string(),
                CollageOrder::Newest => String::new(),
            };
            let cursor = encode_cursor(COLLAGE_CURSOR, &format!("{order:?}|{likes}|{}", c.id));
            (cursor, c)
        })
        .collect();
    Ok(FeedPage {
        items,
        has_next_page: page.has_next_page,
        tag,
    })
}

fn decode_feed_cursor(cursor: &str, order: CollageOrder) -> ApiResult<CollageCursor> {
    let invalid = || ApiError::BadUserInput(format!("invalid cursor {cursor:?}"));
    let key = pagination::decode_cursor(COLLAGE_CURSOR, cursor)?;
    let mut parts = key.splitn(3, '|');
    let (Some(kind), Some(likes), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if kind != format!("{order:?}") {
        return Err(ApiError::BadUserInput(
            "this cursor belongs to another order".to_owned(),
        ));
    }
    Ok(CollageCursor {
        like_count: if likes.is_empty() {
            None
        } else {
            Some(likes.parse().map_err(|_| invalid())?)
        },
        id: id.parse().map_err(|_| invalid())?,
    })
}

/// A user's or a product's collages, newest first; first pages batch through loaders.
pub(crate) async fn collage_page(
    ctx: &Context<'_>,
    owner: CollageOwner,
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<CollageConnection> {
    let request = PageRequest {
        first: ctx.typed_data::<PageLimits>()?.first(first)?,
        after: decode_id_cursor(COLLAGE_CURSOR, after)?,
    };
    let loaders = ctx.community_loaders()?.clone();
    let page: Page<_> = match (owner, request.after) {
        (CollageOwner::User(id), None) => loaders
            .user_collages
            .load_one((id, request.first))
            .await?
            .unwrap_or_default(),
        (CollageOwner::Product(id), None) => loaders
            .product_collages
            .load_one((id, request.first))
            .await?
            .unwrap_or_default(),
        (owner, Some(_)) => ctx.community()?.owner_collages_page(owner, request).await?,
    };
    let items = page
        .items
        .into_iter()
        .map(|c| (encode_cursor(COLLAGE_CURSOR, &c.id.to_string()), Collage(c)))
        .collect();
    let count = Box::pin(async move {
        let count = match owner {
            CollageOwner::User(id) => loaders.user_collage_counts.load_one(id).await?,
            CollageOwner::Product(id) => loaders.product_collage_counts.load_one(id).await?,
        };
        Ok(count.unwrap_or(0))
    });
    Ok(CollageConnection::new(items, page.has_next_page, count))
}

/// A cursor of a user's liked products: when the like was made, and the product.
fn decode_like_cursor(cursor: &str) -> ApiResult<LikeCursor> {
    let invalid = || ApiError::BadUserInput(format!("invalid cursor {cursor:?}"));
    let key = pagination::decode_cursor(LIKE_CURSOR, cursor)?;
    let (millis, product) = key.split_once('|').ok_or_else(invalid)?;
    let liked_at = chrono::DateTime::from_timestamp_millis(millis.parse().map_err(|_| invalid())?)
        .ok_or_else(invalid)?;
    Ok(LikeCursor {
        liked_at,
        product_id: product.parse().map_err(|_| invalid())?,
    })
}

/// `User.likedProducts`: most recent like first.
pub(crate) async fn liked_products(
    ctx: &Context<'_>,
    user_id: i32,
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<ProductConnection> {
    let after = after.map(decode_like_cursor).transpose()?;
    let request = PageRequest {
        first: ctx.typed_data::<PageLimits>()?.first(first)?,
        after,
    };
    // First pages go through a loader, so a list of users with their likes is one statement.
    let page = match request.after {
        None => ctx
            .community_loaders()?
            .liked_first_pages
            .load_one((user_id, request.first))
            .await?
            .unwrap_or_default(),
        Some(_) => {
            ctx.community()?
                .liked_products_page(user_id, request)
                .await?
        }
    };
    let items = page
        .items
        .into_iter()
        .map(|liked| {
            let key = format!("{}|{}", liked.liked_at.timestamp_millis(), liked.product.id);
            (encode_cursor(LIKE_CURSOR, &key), Product(liked.product))
        })
        .collect();
    let loaders = ctx.community_loaders()?.clone();
    let count = Box::pin(async move {
        Ok(loaders
            .liked_product_counts
            .load_one(user_id)
            .await?
            .unwrap_or(0))
    });
    Ok(ProductConnection::new(items, page.has_next_page, count))
}

/// `Product.viewerHasLiked`.
pub(crate) async fn viewer_liked_product(ctx: &Context<'_>, product_id: i32) -> ApiResult<bool> {
    let loaders = ctx.community_loaders()?;
    if loaders.viewer.is_none() {
        return Ok(false);
    }
    Ok(loaders
        .viewer_liked_products
        .load_one(product_id)
        .await?
        .unwrap_or(false))
}
