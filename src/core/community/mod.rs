//! The community module: users, collages and likes. Reads load through per-request loaders
//! (the viewer's likes through loaders that carry the viewer); mutations need an
//! authenticated viewer and are each one transaction in the source.

mod engine;
mod loaders;
mod mutation_engine;
mod mutations;

use std::sync::Arc;

pub use loaders::CommunityLoaders;

use super::errors::{ApiError, ApiResult};
use super::pagination::{self, PageLimits, encode_cursor};
use crate::protocols::PageRequest;
use crate::protocols::community::{CollageCursor, CollageOrder, CommunitySource, LikeCursor};

/// Users, collages and likes: their types, queries and mutations.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "community",
    sdl: include_str!("schema.graphql"),
    register: |registry| {
        engine::register(registry);
        mutation_engine::register(registry);
    },
    start: crate::core::Module::keeps_nothing,
    prepare: |prepare, ctx| {
        let source = &prepare.sources.community;
        let viewer = prepare.request.viewer.map(|v| v.0);
        let columns = crate::core::catalog::product_columns(prepare.plan.fields_of("Product"));
        let loaders = CommunityLoaders::new(source, viewer, columns, prepare.span, prepare.window);
        ctx.insert(Arc::new(loaders));
    },
};

const COLLAGE_CURSOR: &str = "collage";
const LIKE_CURSOR: &str = "like";

/// Most items a collage holds.
const MAX_ITEMS: i32 = 50;

/// Orders of the collage feed (`CollageOrderBy`).
#[derive(Copy, Clone, Eq, PartialEq, Debug)]
pub enum CollageOrderBy {
    /// Newest first.
    Newest,
    /// Most liked first.
    Popular,
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
