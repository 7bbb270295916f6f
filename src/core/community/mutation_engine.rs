//! The community's mutations in the engine: each root field runs its write (`Writes`), then
//! its payload's fields resolve like any other level.

use std::sync::Arc;

use async_graphql::ID;

use super::CommunityLoaders;
use super::mutations::{
    CreateCollageInput, UpdateCollageInput, UserError, UserErrorCode, Writes, Written,
};
use crate::core::Sources;
use crate::core::engine::{Children, Ctx, Registry};
use crate::core::errors::ApiError;
use crate::core::tags::Changed;
use crate::protocols::ProductRecord;
use crate::protocols::community::CollageRecord;

/// A mutation's payload: the changed object, or none, and the problems with the input.
pub(super) struct Payload<T> {
    changed: Option<T>,
    user_errors: Vec<UserError>,
}

impl<T> From<Written<T>> for Payload<T> {
    fn from((changed, user_errors): Written<T>) -> Self {
        Self {
            changed,
            user_errors,
        }
    }
}

/// Runs `write` with the request's viewer and sources, as one payload child.
async fn write<T, F>(ctx: &Ctx, write: F) -> Result<Children<Payload<T>>, ApiError>
where
    F: AsyncFnOnce(&Writes<'_>) -> Result<Written<T>, ApiError>,
{
    let sources = ctx.data::<Sources>()?;
    let writes = Writes {
        viewer: ctx.data::<Arc<CommunityLoaders>>()?.viewer,
        community: &sources.community,
        catalog: &sources.catalog,
        changed: ctx.data::<Changed>()?,
    };
    let mut children = Children::with_capacity(1);
    children.push(Payload::from(write(&writes).await?));
    Ok(children)
}

/// Registers the mutations and their payload types.
pub(super) fn register(registry: &mut Registry) {
    registry
        .input::<CreateCollageInput>()
        .input::<UpdateCollageInput>();
    registry
        .object::<()>("Mutation")
        .resolve("likeProduct", "ProductLikePayload", |ctx, _roots, args| {
            Box::pin(async move {
                let id = args.id("productId")?;
                write(ctx, async |w| w.product_like(&id, true).await).await
            })
        })
        .resolve(
            "unlikeProduct",
            "ProductLikePayload",
            |ctx, _roots, args| {
                Box::pin(async move {
                    let id = args.id("productId")?;
                    write(ctx, async |w| w.product_like(&id, false).await).await
                })
            },
        )
        .resolve("likeCollage", "CollageLikePayload", |ctx, _roots, args| {
            Box::pin(async move {
                let id = args.id("collageId")?;
                write(ctx, async |w| w.collage_like(&id, true).await).await
            })
        })
        .resolve(
            "unlikeCollage",
            "CollageLikePayload",
            |ctx, _roots, args| {
                Box::pin(async move {
                    let id = args.id("collageId")?;
                    write(ctx, async |w| w.collage_like(&id, false).await).await
                })
            },
        )
        .resolve("createCollage", "CollagePayload", |ctx, _roots, args| {
            Box::pin(async move {
                let input: CreateCollageInput = args.parse("input")?;
                write(ctx, async |w| w.create_collage(&input).await).await
            })
        })
        .resolve("updateCollage", "CollagePayload", |ctx, _roots, args| {
            Box::pin(async move {
                let input: UpdateCollageInput = args.parse("input")?;
                write(ctx, async |w| w.update_collage(&input).await).await
            })
        })
        .resolve(
            "deleteCollage",
            "DeleteCollagePayload",
            |ctx, _roots, args| {
                Box::pin(async move {
                    let id: ID = args.parse("id")?;
                    write(ctx, async |w| w.delete_collage(&id).await).await
                })
            },
        );
    payloads(registry);
}

fn payloads(registry: &mut Registry) {
    type ProductPayload = Payload<ProductRecord>;
    type CollagePayload = Payload<CollageRecord>;
    registry
        .object::<ProductPayload>("ProductLikePayload")
        .child_opt("product", "Product", |p: &ProductPayload| {
            p.changed.clone().map(Arc::new)
        })
        .child_list("userErrors", "UserError", |p: &ProductPayload| {
            p.user_errors.clone()
        });
    for name in ["CollageLikePayload", "CollagePayload"] {
        registry
            .object::<CollagePayload>(name)
            .child_opt("collage", "Collage", |p: &CollagePayload| {
                p.changed.clone().map(Arc::new)
            })
            .child_list("userErrors", "UserError", |p: &CollagePayload| {
                p.user_errors.clone()
            });
    }
    registry
        .object::<Payload<String>>("DeleteCollagePayload")
        .leaf("deletedCollageId", |p: &Payload<String>, out| {
            out.opt_str(p.changed.as_deref())
        })
        .child_list("userErrors", "UserError", |p: &Payload<String>| {
            p.user_errors.clone()
        });
    registry
        .object::<UserError>("UserError")
        .leaf("field", |e: &UserError, out| {
            out.strs(e.field.iter().map(String::as_str))
        })
        .leaf("message", |e: &UserError, out| out.str(&e.message))
        .leaf("code", |e: &UserError, out| {
            out.str(match e.code {
                UserErrorCode::Invalid => "INVALID",
                UserErrorCode::Length => "LENGTH",
                UserErrorCode::NotFound => "NOT_FOUND",
            })
        });
}
