//! Relay's `Node` interface and the `node`/`nodes` root fields: any object with a global id
//! can be refetched by it. Each kind resolves through its module's loader, so `nodes` with
//! many ids costs one backend call per kind.

use async_graphql::{Context, ID, Interface, Object};

use super::catalog::{Brand, CatalogContext, Category, Product, Shop};
use super::community::{Collage, CommunityContext, User};
use super::errors::{ApiError, ApiResult};
use super::ids::{GlobalId, Kind};
use super::pagination::list_cost;

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The global id: opaque, stable."))]
pub enum Node {
    Product(Product),
    Brand(Brand),
    Shop(Shop),
    Category(Category),
    User(User),
    Collage(Collage),
}

/// The `node` and `nodes` root fields.
#[derive(Default)]
pub struct NodeQuery;

/// The most ids `nodes` takes in one call.
pub const MAX_NODES: usize = 100;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id; null when it does not exist.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let id = GlobalId::decode(&id)?;
        Ok(load(ctx, id).await?)
    }

    /// Fetches objects by global ids, in the order given; null where one does not exist.
    #[graphql(complexity = "list_cost(ids.len(), child_complexity)")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100 ids.")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(ApiError::BadUserInput(format!(
                "nodes takes at most {MAX_NODES} ids, got {}",
                ids.len()
            ))
            .into());
        }
        let ids = ids
            .iter()
            .map(|id| GlobalId::decode(id))
            .collect::<ApiResult<Vec<_>>>()?;
        // All look-ups start before any is awaited, so the loaders batch them.
        let nodes = futures::future::try_join_all(ids.into_iter().map(|id| load(ctx, id))).await?;
        Ok(nodes)
    }
}

async fn load(ctx: &Context<'_>, id: GlobalId) -> ApiResult<Option<Node>> {
    let loaders = ctx.catalog_loaders()?;
    let community = ctx.community_loaders()?;
    Ok(match id.kind {
        Kind::User => community
            .users
            .load_one(id.id)
            .await?
            .map(|u| Node::User(User(u))),
        Kind::Collage => community
            .collages
            .load_one(id.id)
            .await?
            .map(|c| Node::Collage(Collage(c))),
        Kind::Product => loaders
            .products
            .load_one(id.id)
            .await?
            .map(|p| Node::Product(Product(p))),
        Kind::Brand => loaders
            .brands
            .load_one(id.id)
            .await?
            .map(|b| Node::Brand(Brand(b))),
        Kind::Shop => loaders
            .shops
            .load_one(id.id)
            .await?
            .map(|s| Node::Shop(Shop(s))),
        Kind::Category => loaders
            .categories
            .load_one(id.id)
            .await?
            .map(|c| Node::Category(Category(c))),
    })
}
