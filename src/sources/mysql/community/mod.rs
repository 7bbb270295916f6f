//! `CommunitySource` over MySQL: batched reads here, one-transaction writes in `writes`.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use sqlx::Execute;

mod writes;

use writes::{COLLAGE_LIKES, PRODUCT_LIKES};

use super::MySql;
use super::rows::{ProductRow, decode_by_index, product_columns};
use super::sql::{Keyed, distinct, first_page, page_of, placeholders};
use crate::protocols::community::{
    CollageCursor, CollageDraft, CollageItemRecord, CollageOrder, CollageOwner, CollageOwnerKind,
    CollagePatch, CollageRecord, CommunitySource, LikeCursor, LikedProduct, UserRecord, WriteError,
};
use crate::protocols::{FirstPage, Page, PageRequest, ProductColumns, SourceError};

const COLLAGE_COLUMNS: &str =
    "c.id, c.user_id, c.title, c.description, c.like_count, c.created_at, c.updated_at";
/// The community protocol over MySQL.
#[derive(Clone)]
pub struct MySqlCommunity {
    pub(super) db: MySql,
}

struct UserRow {
    id: i32,
    username: String,
    display_name: String,
    avatar_url: Option<String>,
    created_at: NaiveDateTime,
}

impl From<UserRow> for UserRecord {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            avatar_url: row.avatar_url,
            created_at: row.created_at.and_utc(),
        }
    }
}

struct CollageRow {
    id: i32,
    user_id: i32,
    title: String,
    description: String,
    like_count: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<CollageRow> for CollageRecord {
    fn from(row: CollageRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            title: row.title,
            description: row.description,
            like_count: row.like_count,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

struct KeyedCollageRow {
    key_id: i32,
    total: Option<i64>,
    collage: CollageRow,
}

struct ItemRow {
    key_id: i32,
    collage_id: i32,
    position: i32,
    product_id: i32,
    x: f64,
    y: f64,
    scale: f64,
}

struct KeyedLikedRow {
    key_id: i32,
    total: Option<i64>,
    liked: LikedRow,
}

struct LikedRow {
    liked_at: NaiveDateTime,
    product: ProductRow,
}

decode_by_index!(UserRow {
    required: [id, username, display_name, avatar_url, created_at],
});
decode_by_index!(CollageRow {
    required: [
        id,
        user_id,
        title,
        description,
        like_count,
        created_at,
        updated_at
    ],
});
decode_by_index!(KeyedCollageRow {
    required: [key_id, total],
    flatten: [collage: CollageRow],
});
decode_by_index!(ItemRow {
    required: [key_id, collage_id, position, product_id, x, y, scale],
});
decode_by_index!(KeyedLikedRow {
    required: [key_id, total],
    flatten: [liked: LikedRow],
});
decode_by_index!(LikedRow {
    required: [liked_at],
    flatten: [product: ProductRow],
});

fn source(error: SourceError) -> WriteError {
    WriteError::Source(error)
}

impl MySqlCommunity {
    async fn collage_first_pages(
        &self,
        branch: &str,
        count: &str,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<CollageRecord>>, SourceError> {
        let pages = self
            .db
            .first_pages::<KeyedCollageRow>(branch, count, keys)
            .await?;
        Ok(pages
            .into_iter()
            .map(|(key, rows)| (key, first_page(key, rows, |r| r.collage.into())))
            .collect())
    }
}

impl Keyed for KeyedCollageRow {
    fn key(&self) -> i32 {
        self.key_id
    }
    fn total(&self) -> Option<i64> {
        self.total
    }
}

impl Keyed for KeyedLikedRow {
    fn key(&self) -> i32 {
        self.key_id
    }
    fn total(&self) -> Option<i64> {
        self.total
    }
}

impl Keyed for ItemRow {
    fn key(&self) -> i32 {
        self.key_id
    }
}

fn collage_cursor_sql(order: CollageOrder, after: &Option<CollageCursor>) -> (String, Vec<i32>) {
    match (order, after) {
        (CollageOrder::Newest, Some(after)) => ("c.id < ?".to_owned(), vec![after.id]),
        (CollageOrder::Popular, Some(after)) => {
            let likes = after.like_count.unwrap_or(i32::MAX);
            (
                "(c.like_count < ? OR (c.like_count = ? AND c.id < ?))".to_owned(),
                vec![likes, likes, after.id],
            )
        }
        (_, None) => ("TRUE".to_owned(), Vec::new()),
    }
}

#[async_trait::async_trait]
impl CommunitySource for MySqlCommunity {
    async fn users_by_ids(&self, ids: &[i32]) -> Result<HashMap<i32, UserRecord>, SourceError> {
        let sql = "SELECT id, username, display_name, avatar_url, created_at FROM users WHERE id";
        self.db
            .by_keys::<_, UserRow, UserRecord>(sql, ids, |u| u.id)
            .await
    }

    async fn users_by_usernames(
        &self,
        usernames: &[String],
    ) -> Result<HashMap<String, UserRecord>, SourceError> {
        let sql =
            "SELECT id, username, display_name, avatar_url, created_at FROM users WHERE username";
        self.db
            .by_names::<UserRow, UserRecord>(sql, usernames, |u| &u.username)
            .await
    }

    async fn collages_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, CollageRecord>, SourceError> {
        let sql = format!("SELECT {COLLAGE_COLUMNS} FROM collages c WHERE c.id");
        self.db
            .by_keys::<_, CollageRow, CollageRecord>(&sql, ids, |c| c.id)
            .await
    }

    async fn collage_items(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<CollageItemRecord>>, SourceError> {
        let keys = distinct(keys);
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let branch = "(SELECT ? AS key_id, collage_id, position, product_id, x, y, scale \
            FROM collage_items WHERE collage_id = ? ORDER BY position LIMIT ?)";
        let branches = vec![branch.to_owned(); keys.len()];
        let binds: Vec<i32> = (keys.iter().enumerate())
            .flat_map(|(index, &(collage, first))| [index as i32, collage, first as i32])
            .collect();
        let items = (self.db)
            .keyed_branches::<ItemRow>(&branches, &binds)
            .await?;
        Ok(keys
            .into_iter()
            .zip(items)
            .map(|(key, rows)| {
                let items = rows
                    .into_iter()
                    .map(|r| CollageItemRecord {
                        collage_id: r.collage_id,
                        position: r.position,
                        product_id: r.product_id,
                        x: r.x,
                        y: r.y,
                        scale: r.scale,
                    })
                    .collect();
                (key, items)
            })
            .collect())
    }

    async fn collage_tags(&self, ids: &[i32]) -> Result<HashMap<i32, Vec<String>>, SourceError> {
        let ids = distinct(ids);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT collage_id, tag FROM collage_tags WHERE collage_id IN ({}) ORDER BY collage_id, tag",
            placeholders(ids.len())
        );
        self.db.grouped(&sql, &ids).await
    }

    async fn collages_page(
        &self,
        order: CollageOrder,
        tag: Option<&str>,
        page: PageRequest<CollageCursor>,
    ) -> Result<Page<CollageRecord>, SourceError> {
        let (cursor, binds) = collage_cursor_sql(order, &page.after);
        let order_by = match order {
            CollageOrder::Newest => "c.id DESC",
            CollageOrder::Popular => "c.like_count DESC, c.id DESC",
        };
        let tag_filter = if tag.is_some() {
            "AND EXISTS (SELECT 1 FROM collage_tags t WHERE t.collage_id = c.id AND t.tag = ?)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLLAGE_COLUMNS} FROM collages c WHERE {cursor} {tag_filter} \
             ORDER BY {order_by} LIMIT ?"
        );
        let mut query = sqlx::query_as::<_, CollageRow>(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        if let Some(tag) = tag {
            query = query.bind(tag.to_owned());
        }
        let rows = self
            .db
            .run(
                query.sql(),
                lent!(self.db, |c| query.bind(page.first + 1).fetch_all(c)),
            )
            .await?;
        Ok(page_of(rows, page.first))
    }

    async fn collages_count(&self, tag: Option<&str>) -> Result<i64, SourceError> {
        match tag {
            Some(tag) => {
                let query = sqlx::query_scalar("SELECT COUNT(*) FROM collage_tags WHERE tag = ?")
                    .bind(tag.to_owned());
                self.db
                    .run(query.sql(), lent!(self.db, |c| query.fetch_one(c)))
                    .await
            }
            None => {
                let query = sqlx::query_scalar("SELECT COUNT(*) FROM collages");
                self.db
                    .run(query.sql(), lent!(self.db, |c| query.fetch_one(c)))
                    .await
            }
        }
    }

    async fn user_collages(
        &self,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<CollageRecord>>, SourceError> {
        let branch = format!(
            "(SELECT ? AS key_id, {{total}} AS total, {COLLAGE_COLUMNS} FROM collages c \
             WHERE c.user_id = ? ORDER BY c.id DESC LIMIT ?)"
        );
        let count = "(SELECT COUNT(*) FROM collages WHERE user_id = ?)";
        self.collage_first_pages(&branch, count, keys).await
    }

    async fn product_collages(
        &self,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<CollageRecord>>, SourceError> {
        let branch = format!(
            "(SELECT ? AS key_id, {{total}} AS total, {COLLAGE_COLUMNS} FROM collages c \
             WHERE c.id IN (SELECT collage_id FROM collage_items WHERE product_id = ?) \
             ORDER BY c.id DESC LIMIT ?)"
        );
        let count = "(SELECT COUNT(DISTINCT collage_id) FROM collage_items WHERE product_id = ?)";
        self.collage_first_pages(&branch, count, keys).await
    }

    async fn owner_collages_page(
        &self,
        owner: CollageOwner,
        page: PageRequest<i32>,
    ) -> Result<Page<CollageRecord>, SourceError> {
        let (filter, id) = match owner {
            CollageOwner::User(id) => ("c.user_id = ?", id),
            CollageOwner::Product(id) => (
                "c.id IN (SELECT collage_id FROM collage_items WHERE product_id = ?)",
                id,
            ),
        };
        let sql = format!(
            "SELECT {COLLAGE_COLUMNS} FROM collages c WHERE {filter} AND c.id < ? \
             ORDER BY c.id DESC LIMIT ?"
        );
        let query = sqlx::query_as::<_, CollageRow>(&sql)
            .bind(id)
            .bind(page.after.unwrap_or(i32::MAX))
            .bind(page.first + 1);
        let rows = self
            .db
            .run(query.sql(), lent!(self.db, |c| query.fetch_all(c)))
            .await?;
        Ok(page_of(rows, page.first))
    }

    async fn owner_collages_counts(
        &self,
        owner: CollageOwnerKind,
        ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        let sql = match owner {
            CollageOwnerKind::User => {
                "SELECT user_id, COUNT(*) FROM collages WHERE user_id IN ({ids}) GROUP BY user_id"
            }
            CollageOwnerKind::Product => {
                "SELECT product_id, COUNT(DISTINCT collage_id) FROM collage_items \
                 WHERE product_id IN ({ids}) GROUP BY product_id"
            }
        };
        self.db.counts(sql, ids).await
    }

    async fn liked_products_page(
        &self,
        user_id: i32,
        page: PageRequest<LikeCursor>,
        columns: ProductColumns,
    ) -> Result<Page<LikedProduct>, SourceError> {
        let (cursor, at, product) = match &page.after {
            Some(after) => (
                "AND (l.created_at < ? OR (l.created_at = ? AND l.product_id < ?))",
                after.liked_at.naive_utc(),
                after.product_id,
            ),
            None => ("", NaiveDateTime::default(), 0),
        };
        let sql = format!(
            "SELECT l.created_at AS liked_at, {} FROM product_likes l \
             JOIN products p ON p.id = l.product_id WHERE l.user_id = ? {cursor} \
             ORDER BY l.created_at DESC, l.product_id DESC LIMIT ?",
            product_columns(columns)
        );
        let mut query = sqlx::query_as::<_, LikedRow>(&sql).bind(user_id);
        if page.after.is_some() {
            query = query.bind(at).bind(at).bind(product);
        }
        let rows = self
            .db
            .run(
                query.sql(),
                lent!(self.db, |c| query.bind(page.first + 1).fetch_all(c)),
            )
            .await?;
        let page = page_of::<LikedRow, LikedRow>(rows, page.first);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|row| LikedProduct {
                    liked_at: row.liked_at.and_utc(),
                    product: row.product.into(),
                })
                .collect(),
            has_next_page: page.has_next_page,
            total: None,
        })
    }

    async fn liked_products_first_pages(
        &self,
        keys: &[FirstPage],
        columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<LikedProduct>>, SourceError> {
        let branch = format!(
            "(SELECT ? AS key_id, {{total}} AS total, l.created_at AS liked_at, \
             {} FROM product_likes l JOIN products p ON p.id = l.product_id \
             WHERE l.user_id = ? ORDER BY l.created_at DESC, l.product_id DESC LIMIT ?)",
            product_columns(columns)
        );
        let count = "(SELECT COUNT(*) FROM product_likes WHERE user_id = ?)";
        let pages = self
            .db
            .first_pages::<KeyedLikedRow>(&branch, count, keys)
            .await?;
        Ok(pages
            .into_iter()
            .map(|(key, rows)| {
                let page = first_page(key, rows, |row| LikedProduct {
                    liked_at: row.liked.liked_at.and_utc(),
                    product: row.liked.product.into(),
                });
                (key, page)
            })
            .collect())
    }

    async fn liked_products_counts(
        &self,
        user_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        let sql =
            "SELECT user_id, COUNT(*) FROM product_likes WHERE user_id IN ({ids}) GROUP BY user_id";
        self.db.counts(sql, user_ids).await
    }

    async fn viewer_liked_products(
        &self,
        viewer: i32,
        product_ids: &[i32],
    ) -> Result<HashSet<i32>, SourceError> {
        self.viewer_liked("product_likes", "product_id", viewer, product_ids)
            .await
    }

    async fn viewer_liked_collages(
        &self,
        viewer: i32,
        collage_ids: &[i32],
    ) -> Result<HashSet<i32>, SourceError> {
        self.viewer_liked("collage_likes", "collage_id", viewer, collage_ids)
            .await
    }

    async fn like_product(&self, viewer: i32, product_id: i32) -> Result<i32, WriteError> {
        self.set_like(&PRODUCT_LIKES, viewer, product_id, true)
            .await
    }

    async fn unlike_product(&self, viewer: i32, product_id: i32) -> Result<i32, WriteError> {
        self.set_like(&PRODUCT_LIKES, viewer, product_id, false)
            .await
    }

    async fn like_collage(&self, viewer: i32, collage_id: i32) -> Result<i32, WriteError> {
        self.set_like(&COLLAGE_LIKES, viewer, collage_id, true)
            .await
    }

    async fn unlike_collage(&self, viewer: i32, collage_id: i32) -> Result<i32, WriteError> {
        self.set_like(&COLLAGE_LIKES, viewer, collage_id, false)
            .await
    }

    async fn create_collage(
        &self,
        viewer: i32,
        draft: &CollageDraft,
    ) -> Result<CollageRecord, WriteError> {
        self.create(viewer, draft).await
    }

    async fn update_collage(
        &self,
        viewer: i32,
        id: i32,
        patch: &CollagePatch,
    ) -> Result<CollageRecord, WriteError> {
        self.update(viewer, id, patch).await
    }

    async fn delete_collage(&self, viewer: i32, id: i32) -> Result<(), WriteError> {
        self.delete(viewer, id).await
    }
}

impl MySqlCommunity {
    async fn viewer_liked(
        &self,
        table: &str,
        column: &str,
        viewer: i32,
        ids: &[i32],
    ) -> Result<HashSet<i32>, SourceError> {
        let ids = distinct(ids);
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT {column} FROM {table} WHERE user_id = ? AND {column} IN ({})",
            placeholders(ids.len())
        );
        let mut query = sqlx::query_scalar::<_, i32>(&sql).bind(viewer);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = self
            .db
            .run(query.sql(), lent!(self.db, |c| query.fetch_all(c)))
            .await?;
        Ok(rows.into_iter().collect())
    }
}
