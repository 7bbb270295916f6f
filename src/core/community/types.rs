//! The community module's GraphQL types: users, collages and their items.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{CollageConnection, CommunityContext, collage_page, liked_products};
use crate::core::catalog::{CatalogContext, Product, ProductConnection};
use crate::core::errors::{ApiError, ApiResult};
use crate::core::ids::{GlobalId, Kind};
use crate::core::pagination::page_cost;
use crate::protocols::community::{CollageItemRecord, CollageOwner, CollageRecord, UserRecord};

/// Most items a collage holds.
pub const MAX_ITEMS: i32 = 50;

/// A member of the site.
pub struct User(pub UserRecord);

/// A member of the site.
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl User {
    /// The global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::User, self.0.id).encode()
    }
    /// The id in the database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    /// The unique name in profile URLs.
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The user's collages, newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn collages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CollageConnection> {
        Ok(collage_page(ctx, CollageOwner::User(self.0.id), first, after.as_deref()).await?)
    }
    /// Products the user liked, most recent like first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn liked_products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        Ok(liked_products(ctx, self.0.id, first, after.as_deref()).await?)
    }
}

/// A styled outfit: products placed on a canvas.
pub struct Collage(pub CollageRecord);

/// A styled outfit: products placed on a canvas.
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl Collage {
    /// The global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::Collage, self.0.id).encode()
    }
    /// The id in the database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn like_count(&self) -> i32 {
        self.0.like_count
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Who made it.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let author = ctx
            .community_loaders()?
            .users
            .load_one(self.0.user_id)
            .await?;
        let author = author.ok_or_else(|| {
            ApiError::Internal(format!("author of collage {} does not exist", self.0.id))
        })?;
        Ok(User(author))
    }
    /// Its products on the canvas, in canvas order.
    #[graphql(
        complexity = "crate::core::pagination::list_cost(first.max(0) as usize, child_complexity)"
    )]
    async fn items(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, desc = "At most 50.")] first: i32,
    ) -> async_graphql::Result<Vec<CollageItem>> {
        if !(0..=MAX_ITEMS).contains(&first) {
            return Err(ApiError::BadUserInput(format!(
                "first must be between 0 and {MAX_ITEMS}, got {first}"
            ))
            .into());
        }
        let items: ApiResult<_> = ctx
            .community_loaders()?
            .items
            .load_one((self.0.id, first as u32))
            .await;
        Ok(items?
            .unwrap_or_default()
            .into_iter()
            .map(CollageItem)
            .collect())
    }
    /// Its tags, alphabetically.
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let tags: ApiResult<_> = ctx.community_loaders()?.tags.load_one(self.0.id).await;
        Ok(tags?.unwrap_or_default())
    }
    /// Whether the viewer likes it; false without a viewer.
    #[graphql(cache_control(private))]
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let loaders = ctx.community_loaders()?;
        if loaders.viewer.is_none() {
            return Ok(false);
        }
        let liked: ApiResult<_> = loaders.viewer_liked_collages.load_one(self.0.id).await;
        Ok(liked?.unwrap_or(false))
    }
}

/// A product placed on a collage's canvas.
pub struct CollageItem(CollageItemRecord);

/// A product placed on a collage's canvas.
// Public catalog and community data: a CDN may keep it a minute (see `Cache-Control`).
#[Object(cache_control(max_age = 60))]
impl CollageItem {
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let product = ctx
            .catalog_loaders()?
            .products
            .load_one(self.0.product_id)
            .await?;
        let product = product.ok_or_else(|| {
            ApiError::Internal(format!(
                "product {} of a collage does not exist",
                self.0.product_id
            ))
        })?;
        Ok(Product(product))
    }
    /// Order on the canvas, from 0 (drawn first).
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// Horizontal place, 0 (left) to 1 (right).
    async fn x(&self) -> f64 {
        self.0.x
    }
    /// Vertical place, 0 (top) to 1 (bottom).
    async fn y(&self) -> f64 {
        self.0.y
    }
    /// Size relative to the product image's natural size.
    async fn scale(&self) -> f64 {
        self.0.scale
    }
}
