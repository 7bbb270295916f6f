//! DataLoaders of the community module, built per request. The viewer's likes are loaded
//! by loaders that carry the viewer, so no request ever sees another viewer's state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use tracing::Instrument;

use crate::core::errors::ApiError;
use crate::observe::{self, request::spawner};
use crate::protocols::Page;
use crate::protocols::community::{
    CollageItemRecord, CollageOwnerKind, CollageRecord, CommunitySource, LikedProduct, UserRecord,
};

/// Defines a loader whose batch is one call of a `CommunitySource` method.
macro_rules! community_loader {
    ($(#[$doc:meta])* $name:ident, $key:ty => $value:ty, |$source:ident, $keys:ident| $call:expr) => {
        $(#[$doc])*
        pub struct $name {
            source: Arc<dyn CommunitySource>,
            span: tracing::Span,
            viewer: Option<i32>,
        }

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = ApiError;

            async fn load(&self, $keys: &[$key]) -> Result<HashMap<$key, $value>, ApiError> {
                let _batch = observe::loader_batch(stringify!($name), $keys.len());
                let $source = &self.source;
                let _viewer = self.viewer;
                let load = async { $call.await.map_err(ApiError::from) };
                load.instrument(self.span.clone()).await
            }
        }
    };
}

community_loader!(UserById, i32 => UserRecord, |s, k| s.users_by_ids(k));
community_loader!(UserByName, String => UserRecord, |s, k| s.users_by_usernames(k));
community_loader!(CollageById, i32 => CollageRecord, |s, k| s.collages_by_ids(k));
community_loader!(
    /// Items of collages by `(collage id, how many)`.
    CollageItems, (i32, u32) => Vec<CollageItemRecord>, |s, k| s.collage_items(k)
);
community_loader!(CollageTags, i32 => Vec<String>, |s, k| s.collage_tags(k));
community_loader!(UserCollages, (i32, u32) => Page<CollageRecord>, |s, k| s.user_collages(k));
community_loader!(ProductCollages, (i32, u32) => Page<CollageRecord>, |s, k| s.product_collages(k));
community_loader!(
    UserCollageCount, i32 => i64, |s, k| s.owner_collages_counts(CollageOwnerKind::User, k)
);
community_loader!(
    ProductCollageCount, i32 => i64, |s, k| s.owner_collages_counts(CollageOwnerKind::Product, k)
);
community_loader!(LikedProductCount, i32 => i64, |s, k| s.liked_products_counts(k));
community_loader!(
    /// First pages of users' liked products, by `(user id, page size)`.
    LikedProductsFirstPage, (i32, u32) => Page<LikedProduct>, |s, k| s.liked_products_first_pages(k)
);

/// Whether the viewer liked products; empty without a viewer.
pub struct ViewerLikedProducts {
    source: Arc<dyn CommunitySource>,
    span: tracing::Span,
    viewer: Option<i32>,
}

impl Loader<i32> for ViewerLikedProducts {
    type Value = bool;
    type Error = ApiError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, bool>, ApiError> {
        let Some(viewer) = self.viewer else {
            return Ok(keys.iter().map(|&k| (k, false)).collect());
        };
        let _batch = observe::loader_batch("ViewerLikedProducts", keys.len());
        let load = async { self.source.viewer_liked_products(viewer, keys).await };
        let liked = load.instrument(self.span.clone()).await?;
        Ok(keys.iter().map(|&k| (k, liked.contains(&k))).collect())
    }
}

/// Whether the viewer liked collages; empty without a viewer.
pub struct ViewerLikedCollages {
    source: Arc<dyn CommunitySource>,
    span: tracing::Span,
    viewer: Option<i32>,
}

impl Loader<i32> for ViewerLikedCollages {
    type Value = bool;
    type Error = ApiError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, bool>, ApiError> {
        let Some(viewer) = self.viewer else {
            return Ok(keys.iter().map(|&k| (k, false)).collect());
        };
        let _batch = observe::loader_batch("ViewerLikedCollages", keys.len());
        let load = async { self.source.viewer_liked_collages(viewer, keys).await };
        let liked = load.instrument(self.span.clone()).await?;
        Ok(keys.iter().map(|&k| (k, liked.contains(&k))).collect())
    }
}

/// One request's community loaders, for one viewer (or none).
pub struct CommunityLoaders {
    pub viewer: Option<i32>,
    pub users: DataLoader<UserById, HashMapCache>,
    pub users_by_name: DataLoader<UserByName, HashMapCache>,
    pub collages: DataLoader<CollageById, HashMapCache>,
    pub items: DataLoader<CollageItems, HashMapCache>,
    pub tags: DataLoader<CollageTags, HashMapCache>,
    pub user_collages: DataLoader<UserCollages, HashMapCache>,
    pub product_collages: DataLoader<ProductCollages, HashMapCache>,
    pub user_collage_counts: DataLoader<UserCollageCount, HashMapCache>,
    pub product_collage_counts: DataLoader<ProductCollageCount, HashMapCache>,
    pub liked_product_counts: DataLoader<LikedProductCount, HashMapCache>,
    pub liked_first_pages: DataLoader<LikedProductsFirstPage, HashMapCache>,
    pub viewer_liked_products: DataLoader<ViewerLikedProducts, HashMapCache>,
    pub viewer_liked_collages: DataLoader<ViewerLikedCollages, HashMapCache>,
}

impl CommunityLoaders {
    pub fn new(
        source: &Arc<dyn CommunitySource>,
        viewer: Option<i32>,
        span: &tracing::Span,
        delay: Duration,
    ) -> Self {
        macro_rules! loader {
            ($name:ident) => {
                DataLoader::with_cache(
                    $name {
                        source: source.clone(),
                        span: span.clone(),
                        viewer,
                    },
                    spawner(),
                    HashMapCache::default(),
                )
                .delay(delay)
            };
        }
        Self {
            viewer,
            users: loader!(UserById),
            users_by_name: loader!(UserByName),
            collages: loader!(CollageById),
            items: loader!(CollageItems),
            tags: loader!(CollageTags),
            user_collages: loader!(UserCollages),
            product_collages: loader!(ProductCollages),
            user_collage_counts: loader!(UserCollageCount),
            product_collage_counts: loader!(ProductCollageCount),
            liked_product_counts: loader!(LikedProductCount),
            liked_first_pages: loader!(LikedProductsFirstPage),
            viewer_liked_products: loader!(ViewerLikedProducts),
            viewer_liked_collages: loader!(ViewerLikedCollages),
        }
    }
}
