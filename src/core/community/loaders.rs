//! DataLoaders of the community module, built per request. The viewer's likes are loaded
//! by loaders that carry the viewer, so no request ever sees another viewer's state.

use std::collections::HashMap;
use std::sync::Arc;
use tracing::Instrument;

use crate::core::batching::{BatchLoad, Batcher, Window};
use crate::core::errors::ApiError;
use crate::protocols::community::{
    CollageItemRecord, CollageOwnerKind, CollageRecord, CommunitySource, LikedProduct, UserRecord,
};
use crate::protocols::{FirstPage, Page, ProductColumns};

/// Defines a loader whose batch is one call of a `CommunitySource` method; a call that
/// reads products names a third binding, the columns the request's operation reads.
macro_rules! community_loader {
    ($(#[$doc:meta])* $name:ident, $key:ty => $value:ty,
        |$source:ident, $keys:ident $(, $columns:ident)?| $call:expr) => {
        $(#[$doc])*
        pub struct $name {
            source: Arc<dyn CommunitySource>,
            span: tracing::Span,
            #[allow(dead_code, reason = "read by the loaders of products")]
            columns: ProductColumns,
        }

        impl BatchLoad for $name {
            type Key = $key;
            type Value = $value;
            type Loaded = $value;
            const NAME: &'static str = stringify!($name);

            async fn load(&self, $keys: &[$key]) -> Result<HashMap<$key, $value>, ApiError> {
                let $source = &self.source;
                $(let $columns = self.columns;)?
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
community_loader!(UserCollages, FirstPage => Page<CollageRecord>, |s, k| s.user_collages(k));
community_loader!(ProductCollages, FirstPage => Page<CollageRecord>, |s, k| s.product_collages(k));
community_loader!(
    UserCollageCount, i32 => i64, |s, k| s.owner_collages_counts(CollageOwnerKind::User, k)
);
community_loader!(
    ProductCollageCount, i32 => i64, |s, k| s.owner_collages_counts(CollageOwnerKind::Product, k)
);
community_loader!(LikedProductCount, i32 => i64, |s, k| s.liked_products_counts(k));
community_loader!(
    /// First pages of users' liked products, with the product columns the operation reads.
    LikedProductsFirstPage, FirstPage => Page<LikedProduct>,
    |s, k, columns| s.liked_products_first_pages(k, columns)
);

/// Whether the viewer liked products; `false` for every product without a viewer, with no
/// backend call.
pub struct ViewerLikedProducts {
    source: Arc<dyn CommunitySource>,
    span: tracing::Span,
    viewer: Option<i32>,
}

impl BatchLoad for ViewerLikedProducts {
    type Key = i32;
    type Value = bool;
    type Loaded = bool;
    const NAME: &'static str = "ViewerLikedProducts";

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, bool>, ApiError> {
        let Some(viewer) = self.viewer else {
            return Ok(keys.iter().map(|&k| (k, false)).collect());
        };
        let load = async { self.source.viewer_liked_products(viewer, keys).await };
        let liked = load.instrument(self.span.clone()).await?;
        Ok(keys.iter().map(|&k| (k, liked.contains(&k))).collect())
    }
}

/// Whether the viewer liked collages; `false` for every collage without a viewer, with no
/// backend call.
pub struct ViewerLikedCollages {
    source: Arc<dyn CommunitySource>,
    span: tracing::Span,
    viewer: Option<i32>,
}

impl BatchLoad for ViewerLikedCollages {
    type Key = i32;
    type Value = bool;
    type Loaded = bool;
    const NAME: &'static str = "ViewerLikedCollages";

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, bool>, ApiError> {
        let Some(viewer) = self.viewer else {
            return Ok(keys.iter().map(|&k| (k, false)).collect());
        };
        let load = async { self.source.viewer_liked_collages(viewer, keys).await };
        let liked = load.instrument(self.span.clone()).await?;
        Ok(keys.iter().map(|&k| (k, liked.contains(&k))).collect())
    }
}

/// One request's community loaders, for one viewer (or none).
pub struct CommunityLoaders {
    /// The viewer's user id; `None` for an anonymous request.
    pub viewer: Option<i32>,
    /// The product columns the operation reads: liked products read these.
    pub columns: ProductColumns,
    /// Users by id.
    pub users: Batcher<UserById>,
    /// Users by username, for `Query.user`.
    pub users_by_name: Batcher<UserByName>,
    /// Collages by id.
    pub collages: Batcher<CollageById>,
    /// Collage items by `(collage id, how many)`, in canvas order.
    pub items: Batcher<CollageItems>,
    /// The tags of collages, alphabetically.
    pub tags: Batcher<CollageTags>,
    /// First pages of users' collages, newest first.
    pub user_collages: Batcher<UserCollages>,
    /// First pages of the collages that use products, newest first.
    pub product_collages: Batcher<ProductCollages>,
    /// How many collages each user made.
    pub user_collage_counts: Batcher<UserCollageCount>,
    /// How many collages use each product.
    pub product_collage_counts: Batcher<ProductCollageCount>,
    /// How many products each user likes.
    pub liked_product_counts: Batcher<LikedProductCount>,
    /// First pages of users' liked products, latest like first.
    pub liked_first_pages: Batcher<LikedProductsFirstPage>,
    /// Whether the viewer likes products; false for all without a viewer.
    pub viewer_liked_products: Batcher<ViewerLikedProducts>,
    /// Whether the viewer likes collages; false for all without a viewer.
    pub viewer_liked_collages: Batcher<ViewerLikedCollages>,
}

impl CommunityLoaders {
    /// One request's loaders for `viewer`, batching by `window` and logging under `span`;
    /// products are read with `columns` (see `catalog::product_columns`).
    pub fn new(
        source: &Arc<dyn CommunitySource>,
        viewer: Option<i32>,
        columns: ProductColumns,
        span: &tracing::Span,
        window: Window,
    ) -> Self {
        macro_rules! loader {
            ($name:ident) => {
                loader!($name, columns)
            };
            ($name:ident, $field:ident) => {
                Batcher::new(
                    $name {
                        source: source.clone(),
                        span: span.clone(),
                        $field,
                    },
                    window,
                )
            };
        }
        Self {
            viewer,
            columns,
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
            viewer_liked_products: loader!(ViewerLikedProducts, viewer),
            viewer_liked_collages: loader!(ViewerLikedCollages, viewer),
        }
    }
}
