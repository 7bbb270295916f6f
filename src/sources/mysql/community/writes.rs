//! The community's writes, each one transaction. A like locks the liked row, inserts or
//! deletes the like and moves `like_count` by exactly the rows it changed, under the row
//! locks InnoDB takes, so concurrent likes and unlikes keep the count equal to the rows.

use std::collections::HashSet;

use sqlx::{MySql as Db, QueryBuilder, Transaction};

use super::{COLLAGE_COLUMNS, CollageRow, MySqlCommunity, source};
use crate::protocols::community::{CollageDraft, CollagePatch, CollageRecord, WriteError};
use crate::sources::mysql::sql::{distinct, placeholders};

/// Where the likes of one kind of thing live: the like table, its key column, and the table
/// whose `like_count` mirrors it.
pub(super) struct LikeTarget {
    likes: &'static str,
    column: &'static str,
    counted: &'static str,
}

pub(super) const PRODUCT_LIKES: LikeTarget = LikeTarget {
    likes: "product_likes",
    column: "product_id",
    counted: "products",
};

pub(super) const COLLAGE_LIKES: LikeTarget = LikeTarget {
    likes: "collage_likes",
    column: "collage_id",
    counted: "collages",
};

impl MySqlCommunity {
    /// Likes or unlikes in one transaction; returns the new like count.
    pub(super) async fn set_like(
        &self,
        target: &LikeTarget,
        viewer: i32,
        id: i32,
        like: bool,
    ) -> Result<i32, WriteError> {
        let LikeTarget {
            likes: table,
            column,
            counted,
        } = target;
        let mut tx = self.begin().await?;
        self.ensure_viewer(&mut tx, viewer).await?;
        // Lock the liked row first, so concurrent likes of one thing queue here.
        let exists: Option<i32> =
            sqlx::query_scalar(&format!("SELECT id FROM {counted} WHERE id = ? FOR UPDATE"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| source(self.db.map(e)))?;
        if exists.is_none() {
            return Err(WriteError::NotFound);
        }
        let sql = if like {
            format!("INSERT IGNORE INTO {table} (user_id, {column}) VALUES (?, ?)")
        } else {
            format!("DELETE FROM {table} WHERE user_id = ? AND {column} = ?")
        };
        let changed = sqlx::query(&sql)
            .bind(viewer)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| source(self.db.map(e)))?
            .rows_affected() as i32;
        let delta = if like { changed } else { -changed };
        if delta != 0 {
            sqlx::query(&format!(
                "UPDATE {counted} SET like_count = like_count + ? WHERE id = ?"
            ))
            .bind(delta)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| source(self.db.map(e)))?;
        }
        let count: i32 =
            sqlx::query_scalar(&format!("SELECT like_count FROM {counted} WHERE id = ?"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| source(self.db.map(e)))?;
        tx.commit().await.map_err(|e| source(self.db.map(e)))?;
        Ok(count)
    }

    /// Locks the viewer's row: a token can outlive its user, and the user must not go away
    /// before the write commits.
    async fn ensure_viewer(
        &self,
        tx: &mut Transaction<'static, Db>,
        viewer: i32,
    ) -> Result<(), WriteError> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT id FROM users WHERE id = ? LOCK IN SHARE MODE")
                .bind(viewer)
                .fetch_optional(&mut **tx)
                .await
                .map_err(|e| source(self.db.map(e)))?;
        found.map(drop).ok_or(WriteError::UnknownViewer)
    }

    async fn begin(&self) -> Result<Transaction<'static, Db>, WriteError> {
        let started = std::time::Instant::now();
        let begun = self.db.through_pool(self.db.pool.begin()).await;
        self.db
            .report("BEGIN (a write transaction)", started, begun.is_ok());
        begun.map_err(|e| source(self.db.map(e)))
    }

    /// Checks that every product exists, locking them against deletion until commit.
    async fn check_products(
        &self,
        tx: &mut Transaction<'static, Db>,
        items: &[(i32, f64, f64, f64)],
    ) -> Result<(), WriteError> {
        let ids = distinct(&items.iter().map(|i| i.0).collect::<Vec<_>>());
        let sql = format!(
            "SELECT id FROM products WHERE id IN ({}) LOCK IN SHARE MODE",
            placeholders(ids.len())
        );
        let mut query = sqlx::query_scalar::<_, i32>(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        let found: HashSet<i32> = query
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| source(self.db.map(e)))?
            .into_iter()
            .collect();
        let missing: Vec<i32> = ids.into_iter().filter(|id| !found.contains(id)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(WriteError::MissingProducts(missing))
        }
    }

    async fn write_items(
        &self,
        tx: &mut Transaction<'static, Db>,
        collage: i32,
        items: &[(i32, f64, f64, f64)],
    ) -> Result<(), WriteError> {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO collage_items (collage_id, position, product_id, x, y, scale) ",
        );
        query.push_values(items.iter().enumerate(), |mut row, (position, item)| {
            row.push_bind(collage)
                .push_bind(position as i32)
                .push_bind(item.0)
                .push_bind(item.1)
                .push_bind(item.2)
                .push_bind(item.3);
        });
        query
            .build()
            .execute(&mut **tx)
            .await
            .map_err(|e| source(self.db.map(e)))?;
        Ok(())
    }

    async fn write_tags(
        &self,
        tx: &mut Transaction<'static, Db>,
        collage: i32,
        tags: &[String],
    ) -> Result<(), WriteError> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<Db>::new("INSERT INTO collage_tags (collage_id, tag) ");
        query.push_values(distinct(tags), |mut row, tag| {
            row.push_bind(collage).push_bind(tag);
        });
        query
            .build()
            .execute(&mut **tx)
            .await
            .map_err(|e| source(self.db.map(e)))?;
        Ok(())
    }

    async fn fetch_collage(
        &self,
        tx: &mut Transaction<'static, Db>,
        id: i32,
    ) -> Result<CollageRecord, WriteError> {
        let row: CollageRow = sqlx::query_as(&format!(
            "SELECT {COLLAGE_COLUMNS} FROM collages c WHERE c.id = ?"
        ))
        .bind(id)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| source(self.db.map(e)))?;
        Ok(row.into())
    }

    /// Locks a collage of the viewer's for a change: missing is `NotFound`, another user's
    /// is `Forbidden`.
    async fn own_collage(
        &self,
        tx: &mut Transaction<'static, Db>,
        viewer: i32,
        id: i32,
    ) -> Result<(), WriteError> {
        let owner: Option<i32> =
            sqlx::query_scalar("SELECT user_id FROM collages WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(|e| source(self.db.map(e)))?;
        match owner {
            None => Err(WriteError::NotFound),
            Some(owner) if owner != viewer => Err(WriteError::Forbidden),
            Some(_) => Ok(()),
        }
    }

    pub(super) async fn create(
        &self,
        viewer: i32,
        draft: &CollageDraft,
    ) -> Result<CollageRecord, WriteError> {
        let mut tx = self.begin().await?;
        self.ensure_viewer(&mut tx, viewer).await?;
        self.check_products(&mut tx, &draft.items).await?;
        let id = sqlx::query("INSERT INTO collages (user_id, title, description) VALUES (?, ?, ?)")
            .bind(viewer)
            .bind(&draft.title)
            .bind(&draft.description)
            .execute(&mut *tx)
            .await
            .map_err(|e| source(self.db.map(e)))?
            .last_insert_id() as i32;
        self.write_items(&mut tx, id, &draft.items).await?;
        self.write_tags(&mut tx, id, &draft.tags).await?;
        let collage = self.fetch_collage(&mut tx, id).await?;
        tx.commit().await.map_err(|e| source(self.db.map(e)))?;
        Ok(collage)
    }

    pub(super) async fn update(
        &self,
        viewer: i32,
        id: i32,
        patch: &CollagePatch,
    ) -> Result<CollageRecord, WriteError> {
        let mut tx = self.begin().await?;
        self.own_collage(&mut tx, viewer, id).await?;
        if let Some(items) = &patch.items {
            self.check_products(&mut tx, items).await?;
            sqlx::query("DELETE FROM collage_items WHERE collage_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| source(self.db.map(e)))?;
            self.write_items(&mut tx, id, items).await?;
        }
        if let Some(tags) = &patch.tags {
            sqlx::query("DELETE FROM collage_tags WHERE collage_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| source(self.db.map(e)))?;
            self.write_tags(&mut tx, id, tags).await?;
        }
        sqlx::query(
            "UPDATE collages SET title = COALESCE(?, title), description = COALESCE(?, description), \
             updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?",
        )
        .bind(patch.title.as_deref())
        .bind(patch.description.as_deref())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| source(self.db.map(e)))?;
        let collage = self.fetch_collage(&mut tx, id).await?;
        tx.commit().await.map_err(|e| source(self.db.map(e)))?;
        Ok(collage)
    }

    pub(super) async fn delete(&self, viewer: i32, id: i32) -> Result<(), WriteError> {
        let mut tx = self.begin().await?;
        self.own_collage(&mut tx, viewer, id).await?;
        // Items, tags and likes go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM collages WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| source(self.db.map(e)))?;
        tx.commit().await.map_err(|e| source(self.db.map(e)))?;
        Ok(())
    }
}
