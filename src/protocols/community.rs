//! The community protocol: users, their collages (styled outfits: products placed on a
//! canvas) and likes. Reads are batch-shaped; every write is one transaction that keeps
//! like counts equal to the like rows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{Page, PageRequest, ProductRecord, SourceError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollageRecord {
    pub id: i32,
    pub user_id: i32,
    pub title: String,
    pub description: String,
    pub like_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product placed on a collage's canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct CollageItemRecord {
    pub collage_id: i32,
    pub position: i32,
    pub product_id: i32,
    /// Position on the canvas, 0 to 1 from the left and from the top.
    pub x: f64,
    pub y: f64,
    pub scale: f64,
}

/// Orders of the collage feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollageOrder {
    /// Newest first (ids are assigned in creation order).
    Newest,
    /// Most liked first, then newest.
    Popular,
}

/// A position in the collage feed: the sort key of the last collage seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollageCursor {
    /// The like count, for `Popular`.
    pub like_count: Option<i32>,
    pub id: i32,
}

/// A position in a user's liked products: when the like was made, and the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikeCursor {
    pub liked_at: DateTime<Utc>,
    pub product_id: i32,
}

/// A product liked by a user, with when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikedProduct {
    pub product: ProductRecord,
    pub liked_at: DateTime<Utc>,
}

/// What a new or changed collage holds; already validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct CollageDraft {
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    /// `(product id, x, y, scale)` in canvas order.
    pub items: Vec<(i32, f64, f64, f64)>,
}

/// A change to a collage: `None` keeps a part as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollagePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub items: Option<Vec<(i32, f64, f64, f64)>>,
}

/// Why a write was refused; nothing was changed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The thing to change does not exist.
    #[error("not found")]
    NotFound,
    /// The viewer may not change it.
    #[error("forbidden")]
    Forbidden,
    /// The token's user does not exist (any more).
    #[error("the viewer does not exist")]
    UnknownViewer,
    /// These products do not exist (anymore).
    #[error("products do not exist: {0:?}")]
    MissingProducts(Vec<i32>),
    /// The backend failed.
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Read and write access to the community data.
#[async_trait::async_trait]
pub trait CommunitySource: Send + Sync {
    async fn users_by_ids(&self, ids: &[i32]) -> Result<HashMap<i32, UserRecord>, SourceError>;
    async fn users_by_usernames(
        &self,
        usernames: &[String],
    ) -> Result<HashMap<String, UserRecord>, SourceError>;
    async fn collages_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, CollageRecord>, SourceError>;
    /// The items of each collage, in canvas order; at most `first` each.
    async fn collage_items(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<CollageItemRecord>>, SourceError>;
    async fn collage_tags(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>, SourceError>;
    /// The collage feed, optionally of one tag.
    async fn collages_page(
        &self,
        order: CollageOrder,
        tag: Option<&str>,
        page: PageRequest<CollageCursor>,
    ) -> Result<Page<CollageRecord>, SourceError>;
    async fn collages_count(&self, tag: Option<&str>) -> Result<i64, SourceError>;
    /// Collages of users, newest first: `(user id, page size)` to first pages.
    async fn user_collages(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Page<CollageRecord>>, SourceError>;
    /// Collages that use products, newest first: `(product id, page size)` to first pages.
    async fn product_collages(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Page<CollageRecord>>, SourceError>;
    /// A later page of one owner's collages (`after` is the last collage id seen).
    async fn owner_collages_page(
        &self,
        owner: CollageOwner,
        page: PageRequest<i32>,
    ) -> Result<Page<CollageRecord>, SourceError>;
    async fn owner_collages_counts(
        &self,
        owner: CollageOwnerKind,
        ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError>;
    /// Products a user liked, most recent like first.
    async fn liked_products_page(
        &self,
        user_id: i32,
        page: PageRequest<LikeCursor>,
    ) -> Result<Page<LikedProduct>, SourceError>;
    /// First pages of several users' liked products: `(user id, page size)` to page.
    async fn liked_products_first_pages(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Page<LikedProduct>>, SourceError>;
    async fn liked_products_counts(
        &self,
        user_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError>;
    /// Which of these products the viewer has liked.
    async fn viewer_liked_products(
        &self,
        viewer: i32,
        product_ids: &[i32],
    ) -> Result<HashSet<i32>, SourceError>;
    /// Which of these collages the viewer has liked.
    async fn viewer_liked_collages(
        &self,
        viewer: i32,
        collage_ids: &[i32],
    ) -> Result<HashSet<i32>, SourceError>;

    /// Likes a product (again: no change) and returns its like count.
    async fn like_product(&self, viewer: i32, product_id: i32) -> Result<i32, WriteError>;
    async fn unlike_product(&self, viewer: i32, product_id: i32) -> Result<i32, WriteError>;
    async fn like_collage(&self, viewer: i32, collage_id: i32) -> Result<i32, WriteError>;
    async fn unlike_collage(&self, viewer: i32, collage_id: i32) -> Result<i32, WriteError>;
    async fn create_collage(
        &self,
        viewer: i32,
        draft: &CollageDraft,
    ) -> Result<CollageRecord, WriteError>;
    /// Changes a collage of the viewer's.
    async fn update_collage(
        &self,
        viewer: i32,
        id: i32,
        patch: &CollagePatch,
    ) -> Result<CollageRecord, WriteError>;
    /// Deletes a collage of the viewer's.
    async fn delete_collage(&self, viewer: i32, id: i32) -> Result<(), WriteError>;
}

/// Whose collages: a user's or a product's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollageOwner {
    User(i32),
    Product(i32),
}

/// The kind of `CollageOwner`, for batched counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollageOwnerKind {
    User,
    Product,
}
