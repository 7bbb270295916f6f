//! The `node`/`nodes` root fields: any object with a global id can be refetched by it. Each
//! type loads through what its module registered (`Registry::node`), so `nodes` with many
//! ids costs one backend call per type, and this module knows no other.

use std::sync::Arc;

use super::engine::{Ctx, Found, Mixed, NodeLoaders, Registry};
use super::errors::{ApiError, ApiResult};
use super::ids::GlobalId;

/// The most ids `nodes` takes in one call.
pub const MAX_NODES: usize = 100;

/// Relay refetching: `node` and `nodes`.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "node",
    sdl: include_str!("node.graphql"),
    register,
    start: crate::core::Module::keeps_nothing,
    prepare: |_, _| {},
};

/// `node` and `nodes`: the ids of a level grouped by kind, one load
/// per kind, the objects answered in the order asked.
fn register(registry: &mut Registry) {
    registry
        .object::<()>("Query")
        .resolve_mixed("node", |ctx, _roots, args| {
            Box::pin(async move {
                let id = GlobalId::decode(&args.id("id")?)?;
                let mut found = load_all(ctx, &[id]).await?;
                let mut mixed = Mixed::default();
                found.move_to(0, &mut mixed);
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
                let mut found = load_all(ctx, &ids).await?;
                let mut mixed = Mixed::default();
                mixed.push_list(|list| {
                    found.move_all_to_list(list);
                });
                Ok(mixed)
            })
        });
}

/// The objects of `ids`, in order, through the node types' loaders (see `NodeLoaders`).
async fn load_all(ctx: &Ctx, ids: &[GlobalId]) -> ApiResult<Found> {
    let typed: Vec<(&str, i32)> = ids.iter().map(|id| (id.kind.type_name(), id.id)).collect();
    ctx.data::<Arc<NodeLoaders>>()?.load(ctx, &typed).await
}
