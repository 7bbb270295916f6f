//! Relay's `Node` interface and the `node`/`nodes` root fields: any object with a global id
//! can be refetched by it. Each kind resolves through its module's loader, so `nodes` with
//! many ids costs one backend call per kind.

use std::sync::Arc;

use super::catalog::CatalogLoaders;
use super::community::CommunityLoaders;
use super::engine::{Ctx, Mixed, MixedList, Registry};
use super::errors::{ApiError, ApiResult};
use super::ids::{GlobalId, Kind};
use crate::protocols::community::{CollageRecord, UserRecord};
use crate::protocols::{BrandRecord, CategoryRecord, ProductRecord, ShopRecord};

/// The most ids `nodes` takes in one call.
pub const MAX_NODES: usize = 100;

/// Relay refetching: `node` and `nodes`.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "node",
    sdl: include_str!("node.graphql"),
    register,
};

/// `node` and `nodes`: the ids of a level grouped by kind, one load
/// per kind, the objects answered in the order asked.
fn register(registry: &mut Registry) {
    registry
        .object::<()>("Query")
        .resolve_mixed("node", |ctx, _roots, args| {
            Box::pin(async move {
                let id = GlobalId::decode(&args.id("id")?)?;
                let found = load_all(ctx, &[id]).await?;
                let mut mixed = Mixed::default();
                match found.into_iter().next().flatten() {
                    Some(node) => node.push_to(&mut mixed),
                    None => mixed.push_null(),
                }
                Ok(mixed)
            })
        })
        .resolve_mixed("nodes", |ctx, _roots, args| {
            Box::pin(async move {
                let ids: Vec<async_graphql::ID> = args.parse("ids")?;
                if ids.len() > MAX_NODES {
                    return Err(ApiError::BadUserInput(format!(
                        "nodes takes at most {MAX_NODES} ids, got {}",
                        ids.len()
                    )));
                }
                let ids = ids
                    .iter()
                    .map(|id| GlobalId::decode(id))
                    .collect::<ApiResult<Vec<_>>>()?;
                let found = load_all(ctx, &ids).await?;
                let mut mixed = Mixed::default();
                mixed.push_list(|list| {
                    for node in found {
                        match node {
                            Some(node) => node.push_item(list),
                            None => list.push_null(),
                        }
                    }
                });
                Ok(mixed)
            })
        });
}

/// An object found by its global id, as the engine holds it.
enum Found {
    Product(Arc<ProductRecord>),
    Brand(Arc<BrandRecord>),
    Shop(Arc<ShopRecord>),
    Category(Arc<CategoryRecord>),
    User(Arc<UserRecord>),
    Collage(Arc<CollageRecord>),
}

impl Found {
    fn push_to(self, mixed: &mut Mixed) {
        match self {
            Found::Product(o) => mixed.push("Product", o),
            Found::Brand(o) => mixed.push("Brand", o),
            Found::Shop(o) => mixed.push("Shop", o),
            Found::Category(o) => mixed.push("Category", o),
            Found::User(o) => mixed.push("User", o),
            Found::Collage(o) => mixed.push("Collage", o),
        }
    }

    fn push_item(self, list: &mut MixedList<'_>) {
        match self {
            Found::Product(o) => list.push("Product", o),
            Found::Brand(o) => list.push("Brand", o),
            Found::Shop(o) => list.push("Shop", o),
            Found::Category(o) => list.push("Category", o),
            Found::User(o) => list.push("User", o),
            Found::Collage(o) => list.push("Collage", o),
        }
    }
}

/// The objects of `ids`, in order: one load per kind, the kinds' loads together.
async fn load_all(ctx: &Ctx, ids: &[GlobalId]) -> ApiResult<Vec<Option<Found>>> {
    let catalog = ctx.data::<Arc<CatalogLoaders>>()?;
    let community = ctx.data::<Arc<CommunityLoaders>>()?;
    let of = |kind: Kind| -> Vec<i32> {
        ids.iter()
            .filter(|id| id.kind == kind)
            .map(|id| id.id)
            .collect()
    };
    let (products, brands, shops, categories, users, collages) = (
        of(Kind::Product),
        of(Kind::Brand),
        of(Kind::Shop),
        of(Kind::Category),
        of(Kind::User),
        of(Kind::Collage),
    );
    // Started together, so each kind's batch closes in the same turn.
    let (products, brands, shops, categories, users, collages) = tokio::join!(
        catalog.products.load_shared(&products),
        catalog.brands.load_shared(&brands),
        catalog.shops.load_shared(&shops),
        catalog.categories.load_shared(&categories),
        community.users.load_shared(&users),
        community.collages.load_shared(&collages),
    );
    let (products, brands, shops) = (products?, brands?, shops?);
    let (categories, users, collages) = (categories?, users?, collages?);
    let mut products = products.into_iter();
    let mut brands = brands.into_iter();
    let mut shops = shops.into_iter();
    let mut categories = categories.into_iter();
    let mut users = users.into_iter();
    let mut collages = collages.into_iter();
    Ok(ids
        .iter()
        .map(|id| match id.kind {
            Kind::Product => products.next().flatten().map(Found::Product),
            Kind::Brand => brands.next().flatten().map(Found::Brand),
            Kind::Shop => shops.next().flatten().map(Found::Shop),
            Kind::Category => categories.next().flatten().map(Found::Category),
            Kind::User => users.next().flatten().map(Found::User),
            Kind::Collage => collages.next().flatten().map(Found::Collage),
        })
        .collect())
}
