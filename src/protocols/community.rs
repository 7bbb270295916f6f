//! The community protocol: users, their collages (styled outfits: products placed on a
//! canvas) and likes. Reads are batch-shaped; every write is one transaction that keeps
//! like counts equal to the like rows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{FirstPage, Page, PageRequest, ProductColumns, ProductRecord, SourceError};

/// A registered user, as stored: the author of collages and of likes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Primary key in `users`; a token's `sub` claim carries it.
    pub id: i32,
    /// Unique handle, the key of `Query.user(username:)` and `ogrom token --user`.
    pub username: String,
    /// Name shown to other users; need not be unique.
    pub display_name: String,
    /// Absolute URL of the profile picture; `None` when the user has none.
    pub avatar_url: Option<String>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// A collage as stored; its items and tags are read separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollageRecord {
    /// Primary key in `collages`; ids grow with time, so a higher id is a newer collage.
    pub id: i32,
    /// The author (`users.id`), the only user who may change or delete it.
    pub user_id: i32,
    /// Title given by the author, 1 to 200 characters.
    pub title: String,
    /// The author's text about it, up to 2000 characters; may be empty.
    pub description: String,
    /// How many users like it, kept equal to its `collage_likes` rows; the `Popular` feed
    /// sorts by it.
    pub like_count: i32,
    /// When the collage was created.
    pub created_at: DateTime<Utc>,
    /// When the collage was last edited (title, description, tags or items).
    pub updated_at: DateTime<Utc>,
}

/// A product placed on a collage's canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct CollageItemRecord {
    /// The collage it is placed on.
    pub collage_id: i32,
    /// Place in canvas order from 0: items are drawn in this order, later ones on top.
    pub position: i32,
    /// The product shown (`products.id`).
    pub product_id: i32,
    /// Position on the canvas, 0 to 1 from the left and from the top.
    pub x: f64,
    /// Distance from the top of the canvas, as a fraction of its height (0 to 1).
    pub y: f64,
    /// Factor on the product image's natural size (1: natural); writes accept 0.1 to 10.
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
    /// The last collage's id: the whole key for `Newest`, the tie-breaker for `Popular`.
    pub id: i32,
}

/// A position in a user's liked products: when the like was made, and the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikeCursor {
    /// When the last product seen was liked: the main sort key, latest first.
    pub liked_at: DateTime<Utc>,
    /// The last product seen, which orders likes made at the same instant.
    pub product_id: i32,
}

/// A product liked by a user, with when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikedProduct {
    /// The liked product, every column read.
    pub product: ProductRecord,
    /// When the user liked it; lists of likes are ordered by it, latest first.
    pub liked_at: DateTime<Utc>,
}

/// What a new or changed collage holds; already validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct CollageDraft {
    /// Title, 1 to 200 characters.
    pub title: String,
    /// Description, up to 2000 characters; may be empty.
    pub description: String,
    /// Up to 10 tags of lowercase letters, digits and `-`; a repeated tag is stored once.
    pub tags: Vec<String>,
    /// `(product id, x, y, scale)` in canvas order.
    pub items: Vec<(i32, f64, f64, f64)>,
}

/// A change to a collage: `None` keeps a part as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollagePatch {
    /// A new title, or `None` to keep the old one.
    pub title: Option<String>,
    /// A new description, or `None` to keep the old one.
    pub description: Option<String>,
    /// The new set of tags, replacing all old ones; `None` keeps them.
    pub tags: Option<Vec<String>>,
    /// The new items, `(product id, x, y, scale)` in canvas order, replacing all old ones;
    /// `None` keeps them.
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
    /// Users by id; absent ids are missing from the map.
    async fn users_by_ids(&self, ids: &[i32]) -> Result<HashMap<i32, UserRecord>, SourceError>;
    /// Users by username, matched without regard to case and keyed by the names asked for;
    /// absent names are missing from the map.
    async fn users_by_usernames(
        &self,
        usernames: &[String],
    ) -> Result<HashMap<String, UserRecord>, SourceError>;
    /// Collages by id; absent ids are missing from the map.
    async fn collages_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, CollageRecord>, SourceError>;
    /// The items of each collage, in canvas order; at most `first` each.
    async fn collage_items(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<CollageItemRecord>>, SourceError>;
    /// The tags of each collage, alphabetically; a collage without tags may be absent.
    async fn collage_tags(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>, SourceError>;
    /// The collage feed, optionally of one tag.
    async fn collages_page(
        &self,
        order: CollageOrder,
        tag: Option<&str>,
        page: PageRequest<CollageCursor>,
    ) -> Result<Page<CollageRecord>, SourceError>;
    /// How many collages the feed holds: every collage, or those tagged `tag`.
    async fn collages_count(&self, tag: Option<&str>) -> Result<i64, SourceError>;
    /// Collages of users, newest first: first pages by user, counted where asked.
    async fn user_collages(
        &self,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<CollageRecord>>, SourceError>;
    /// Collages that use products, newest first: first pages by product, counted where
    /// asked.
    async fn product_collages(
        &self,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<CollageRecord>>, SourceError>;
    /// A later page of one owner's collages (`after` is the last collage id seen).
    async fn owner_collages_page(
        &self,
        owner: CollageOwner,
        page: PageRequest<i32>,
    ) -> Result<Page<CollageRecord>, SourceError>;
    /// How many collages each user made, or each product appears in, by `owner`; an id
    /// without collages counts 0.
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
        columns: ProductColumns,
    ) -> Result<Page<LikedProduct>, SourceError>;
    /// First pages of several users' liked products, by user, counted where asked. Both
    /// read `columns` of each product (see `CatalogSource::products_columns_by_ids`).
    async fn liked_products_first_pages(
        &self,
        keys: &[FirstPage],
        columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<LikedProduct>>, SourceError>;
    /// How many products each user likes.
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
    /// Removes the viewer's like of a product, if any, and returns its like count.
    async fn unlike_product(&self, viewer: i32, product_id: i32) -> Result<i32, WriteError>;
    /// Likes a collage (again: no change) and returns its like count.
    async fn like_collage(&self, viewer: i32, collage_id: i32) -> Result<i32, WriteError>;
    /// Removes the viewer's like of a collage, if any, and returns its like count.
    async fn unlike_collage(&self, viewer: i32, collage_id: i32) -> Result<i32, WriteError>;
    /// Creates a collage by the viewer from `draft` and returns it as stored.
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
    /// The collages a user made, by the user's id.
    User(i32),
    /// The collages that place a product on their canvas, by the product's id.
    Product(i32),
}

/// The kind of `CollageOwner`, for batched counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollageOwnerKind {
    /// Counts the collages each user made.
    User,
    /// Counts the collages each product appears in.
    Product,
}
