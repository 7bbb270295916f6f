//! `CatalogSource` over MySQL: one statement per batch, keyset pagination, and recursive
//! CTEs for the category tree so a whole level of paths or subtrees costs one query.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{Execute, MySql as Db, QueryBuilder};

use super::MySqlCatalog;
use super::recent::Recent;
use super::rows::{
    BrandRow, CategoryRow, KeyedCategoryRow, KeyedProductRow, ProductRow, ShopRow, product_columns,
};
use super::sql::{Keyed, distinct, first_page, page_of, placeholders};
use crate::protocols::{
    BrandCursor, BrandRecord, CatalogSource, CategoryRecord, FirstPage, Page, PageRequest,
    ProductColumns, ProductRecord, ShopRecord, SourceError,
};

const BRAND_COLUMNS: &str = "id, slug, name, logo_url, created_at";
const SHOP_COLUMNS: &str = "id, slug, name, domain, country, currency";
const CATEGORY_COLUMNS: &str = "id, parent_id, slug, name, position";

/// The subtrees of several categories (each itself and all its descendants), as a CTE
/// named `subtrees` of `(root, id)`; `{ids}` takes the roots' placeholders.
const SUBTREES_CTE: &str = "WITH RECURSIVE subtrees (root, id) AS ( \
    SELECT id, id FROM categories WHERE id IN ({ids}) \
    UNION SELECT s.root, c.id FROM categories c JOIN subtrees s ON c.parent_id = s.id) ";

/// The newest `limit` products of each of `categories` (below `after`, if given), as one
/// `UNION ALL` of the product columns `select` lists, unqualified; its binds are pushed to
/// `binds`. Each branch reads the `(category_id, id)` index backwards and stops after
/// `limit` rows, so a subtree's newest products cost its categories times the page, not
/// its products: `category_id IN (subtree) ORDER BY id DESC` sorted every product of the
/// subtree (160 ms for a top category of 33,000 products). No categories: no rows.
fn newest_in_categories(
    categories: &[i32],
    after: Option<i32>,
    limit: i32,
    select: &str,
    binds: &mut Vec<i32>,
) -> String {
    if categories.is_empty() {
        return format!("SELECT {select} FROM products p WHERE FALSE");
    }
    let below = if after.is_some() { " AND p.id < ?" } else { "" };
    let mut union = String::new();
    for (n, category) in categories.iter().enumerate() {
        if n > 0 {
            union.push_str(" UNION ALL ");
        }
        union.push_str(&format!(
            "(SELECT {select} FROM products p WHERE p.category_id = ?{below} \
             ORDER BY p.id DESC LIMIT {limit})"
        ));
        binds.push(*category);
        binds.extend(after);
    }
    union
}

/// What the catalog keeps between statements (see `recent`), each at most
/// [`KEPT_AT_MOST`] records: there are as many as brands, shops and categories, and the
/// bound is for safety.
pub(super) struct Kept {
    brands: Recent<i32, Arc<BrandRecord>>,
    shops: Recent<i32, Arc<ShopRecord>>,
    categories: Recent<i32, Arc<CategoryRecord>>,
    /// Each category's path, root first.
    paths: Recent<i32, Vec<CategoryRecord>>,
    /// Each category's subtree: itself and its descendants' ids.
    subtrees: Recent<i32, Vec<i32>>,
    /// Each category's product count, which reads every product of its subtree (5 ms of
    /// MySQL for a top category of 33,000 products): a category menu with counts asks for
    /// every category at once, on every page that shows it.
    counts: Recent<i32, i64>,
}

const KEPT_AT_MOST: usize = 100_000;

impl Default for Kept {
    fn default() -> Self {
        Self {
            brands: Recent::new(KEPT_AT_MOST),
            shops: Recent::new(KEPT_AT_MOST),
            categories: Recent::new(KEPT_AT_MOST),
            paths: Recent::new(KEPT_AT_MOST),
            subtrees: Recent::new(KEPT_AT_MOST),
            counts: Recent::new(KEPT_AT_MOST),
        }
    }
}

/// First pages of products by their keys, from the rows of their branches.
fn product_pages(
    pages: impl IntoIterator<Item = (FirstPage, Vec<KeyedProductRow>)>,
) -> HashMap<FirstPage, Page<ProductRecord>> {
    (pages.into_iter())
        .map(|(key, rows)| (key, first_page(key, rows, |r| r.product.into())))
        .collect()
}

impl MySqlCatalog {
    /// The ids of each root's subtree (itself and all its descendants), one statement.
    async fn subtrees(&self, roots: &[i32]) -> Result<HashMap<i32, Vec<i32>>, SourceError> {
        self.kept
            .subtrees
            .or_read(roots, |roots| async move {
                let sql = format!(
                    "{}SELECT root, id FROM subtrees",
                    SUBTREES_CTE.replace("{ids}", &placeholders(roots.len()))
                );
                self.db.grouped(&sql, &roots).await
            })
            .await
    }

    /// Records by id, read with `table_sql` (`SELECT … FROM t WHERE id`) unless `kept`;
    /// shared with what is kept, not copied out of it.
    async fn kept_by_ids<R, T>(
        &self,
        kept: &Recent<i32, Arc<T>>,
        table_sql: &str,
        ids: &[i32],
        id: impl Fn(&T) -> i32,
    ) -> Result<HashMap<i32, Arc<T>>, SourceError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin,
        T: From<R>,
    {
        let read = |ids: Vec<i32>| async move {
            let read = self.db.by_keys::<_, R, T>(table_sql, &ids, id).await?;
            Ok(read
                .into_iter()
                .map(|(id, record)| (id, Arc::new(record)))
                .collect())
        };
        kept.or_read(ids, read).await
    }

    /// Categories grouped by the key each row was selected for.
    async fn grouped_categories(
        &self,
        sql: &str,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = distinct(ids);
        let sql = sql.replace("{ids}", &placeholders(ids.len()));
        let rows: Vec<KeyedCategoryRow> = self.db.rows(&sql, &ids).await?;
        let mut grouped: HashMap<i32, Vec<CategoryRecord>> = HashMap::new();
        for row in rows {
            grouped
                .entry(row.key_id)
                .or_default()
                .push(row.category.into());
        }
        Ok(grouped)
    }
}

#[async_trait::async_trait]
impl CatalogSource for MySqlCatalog {
    async fn products_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, ProductRecord>, SourceError> {
        self.products_columns_by_ids(ids, ProductColumns::ALL).await
    }

    async fn products_columns_by_ids(
        &self,
        ids: &[i32],
        columns: ProductColumns,
    ) -> Result<HashMap<i32, ProductRecord>, SourceError> {
        let sql = format!(
            "SELECT {} FROM products p WHERE p.id",
            product_columns(columns)
        );
        self.db
            .by_keys::<_, ProductRow, ProductRecord>(&sql, ids, |p| p.id)
            .await
    }

    async fn brands_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<BrandRecord>>, SourceError> {
        let sql = format!("SELECT {BRAND_COLUMNS} FROM brands WHERE id");
        (self.kept_by_ids::<BrandRow, _>(&self.kept.brands, &sql, ids, |b| b.id)).await
    }

    async fn brands_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, BrandRecord>, SourceError> {
        let sql = format!("SELECT {BRAND_COLUMNS} FROM brands WHERE slug");
        self.db
            .by_names::<BrandRow, BrandRecord>(&sql, slugs, |b| &b.slug)
            .await
    }

    async fn shops_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<ShopRecord>>, SourceError> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id");
        (self.kept_by_ids::<ShopRow, _>(&self.kept.shops, &sql, ids, |s| s.id)).await
    }

    async fn shops_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, ShopRecord>, SourceError> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE slug");
        self.db
            .by_names::<ShopRow, ShopRecord>(&sql, slugs, |s| &s.slug)
            .await
    }

    async fn categories_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<CategoryRecord>>, SourceError> {
        let sql = format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE id");
        (self.kept_by_ids::<CategoryRow, _>(&self.kept.categories, &sql, ids, |c| c.id)).await
    }

    async fn categories_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, CategoryRecord>, SourceError> {
        let sql = format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE slug");
        self.db
            .by_names::<CategoryRow, CategoryRecord>(&sql, slugs, |c| &c.slug)
            .await
    }

    async fn category_children(
        &self,
        parent_ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError> {
        let sql = format!(
            "SELECT parent_id AS key_id, {CATEGORY_COLUMNS} FROM categories \
             WHERE parent_id IN ({{ids}}) ORDER BY parent_id, position, id"
        );
        self.grouped_categories(&sql, parent_ids).await
    }

    async fn category_paths(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError> {
        // Walks up from each category; the depth orders the path root-first.
        let sql = "WITH RECURSIVE up (key_id, id, depth) AS ( \
                 SELECT id, id, 0 FROM categories WHERE id IN ({ids}) \
                 UNION ALL SELECT up.key_id, c.parent_id, up.depth + 1 \
                 FROM up JOIN categories c ON c.id = up.id \
                 WHERE c.parent_id IS NOT NULL AND up.depth < 32) \
             SELECT up.key_id, c.id, c.parent_id, c.slug, c.name, c.position \
             FROM up JOIN categories c ON c.id = up.id ORDER BY up.key_id, up.depth DESC";
        self.kept
            .paths
            .or_read(ids, |ids| async move {
                self.grouped_categories(sql, &ids).await
            })
            .await
    }

    async fn root_categories(&self) -> Result<Vec<CategoryRecord>, SourceError> {
        let sql = format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE parent_id IS NULL \
             ORDER BY position, id"
        );
        let rows: Vec<CategoryRow> = self
            .db
            .run(&sql, lent!(self.db, |c| sqlx::query_as(&sql).fetch_all(c)))
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn brands_page(
        &self,
        page: PageRequest<BrandCursor>,
    ) -> Result<Page<BrandRecord>, SourceError> {
        let mut query = QueryBuilder::<Db>::new(format!("SELECT {BRAND_COLUMNS} FROM brands "));
        if let Some(after) = page.after {
            query
                .push("WHERE name > ")
                .push_bind(after.name.clone())
                .push(" OR (name = ")
                .push_bind(after.name)
                .push(" AND id > ")
                .push_bind(after.id)
                .push(") ");
        }
        query
            .push("ORDER BY name, id LIMIT ")
            .push_bind(page.first + 1);
        let built = query.build_query_as();
        let rows: Vec<BrandRow> = self
            .db
            .run(built.sql(), lent!(self.db, |c| built.fetch_all(c)))
            .await?;
        Ok(page_of(rows, page.first))
    }

    async fn brands_count(&self) -> Result<i64, SourceError> {
        let sql = "SELECT COUNT(*) FROM brands";
        self.db
            .run(
                sql,
                lent!(self.db, |c| sqlx::query_scalar(sql).fetch_one(c)),
            )
            .await
    }

    async fn category_products_first_pages(
        &self,
        keys: &[FirstPage],
        columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<ProductRecord>>, SourceError> {
        let select = product_columns(columns);
        let keys = distinct(keys);
        let roots: Vec<i32> = distinct(&keys.iter().map(|k| k.owner).collect::<Vec<_>>());
        let subtrees = self.subtrees(&roots).await?;
        let kept = self
            .kept
            .counts
            .fresh(keys.iter().filter(|k| k.counted).map(|k| k.owner));
        // What this statement counts: the counted keys whose count is not kept.
        let counting: Vec<FirstPage> = (keys.iter())
            .map(|key| FirstPage {
                counted: key.counted && !kept.contains_key(&key.owner),
                ..*key
            })
            .collect();
        let mut branches = Vec::with_capacity(keys.len());
        let mut binds = Vec::new();
        for (index, key) in counting.iter().enumerate() {
            let subtree = subtrees.get(&key.owner).map_or(&[][..], Vec::as_slice);
            let limit = key.first.saturating_add(1) as i32;
            let total = if !key.counted {
                "NULL".to_owned()
            } else if subtree.is_empty() {
                "0".to_owned()
            } else {
                binds.extend_from_slice(subtree);
                format!(
                    "(SELECT COUNT(*) FROM products WHERE category_id IN ({}))",
                    placeholders(subtree.len())
                )
            };
            let newest = newest_in_categories(subtree, None, limit, &select, &mut binds);
            branches.push(format!(
                "(SELECT {index} AS key_id, {total} AS total, {select} \
                 FROM ({newest}) p ORDER BY p.id DESC LIMIT {limit})"
            ));
        }
        let rows = self.db.keyed_branches(&branches, &binds).await?;
        let mut pages = HashMap::with_capacity(keys.len());
        let mut counted = Vec::new();
        for ((key, asked), rows) in keys.into_iter().zip(&counting).zip(rows) {
            let mut page = first_page(*asked, rows, |r: KeyedProductRow| r.product.into());
            match page.total {
                Some(count) if asked.counted => counted.push((key.owner, count)),
                _ if key.counted => page.total = kept.get(&key.owner).copied(),
                _ => {}
            }
            pages.insert(key, page);
        }
        self.kept.counts.keep(counted);
        Ok(pages)
    }

    async fn category_products_counts(
        &self,
        category_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        let count = |missing: Vec<i32>| async move {
            let sql = format!(
                "{SUBTREES_CTE}SELECT s.root AS key_id, COUNT(p.id) AS count FROM subtrees s \
                 JOIN products p ON p.category_id = s.id GROUP BY s.root"
            );
            self.db.counts(&sql, &missing).await
        };
        self.kept.counts.or_read(category_ids, count).await
    }

    async fn brand_products_first_pages(
        &self,
        keys: &[FirstPage],
        columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<ProductRecord>>, SourceError> {
        let branch = format!(
            "(SELECT ? AS key_id, {{total}} AS total, {} FROM products p \
             WHERE p.brand_id = ? ORDER BY p.id DESC LIMIT ?)",
            product_columns(columns)
        );
        let count = "(SELECT COUNT(*) FROM products WHERE brand_id = ?)";
        let pages = self.db.first_pages(&branch, count, keys).await?;
        Ok(product_pages(pages))
    }

    async fn brand_products_counts(
        &self,
        brand_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        self.db
            .counts(
                "SELECT brand_id AS key_id, COUNT(*) AS count FROM products \
             WHERE brand_id IN ({ids}) GROUP BY brand_id",
                brand_ids,
            )
            .await
    }

    async fn category_products_page(
        &self,
        category_id: i32,
        page: PageRequest<i32>,
        columns: ProductColumns,
    ) -> Result<Page<ProductRecord>, SourceError> {
        let select = product_columns(columns);
        let subtrees = self.subtrees(&[category_id]).await?;
        let subtree = subtrees.get(&category_id).map_or(&[][..], Vec::as_slice);
        let limit = page.first.saturating_add(1) as i32;
        let mut binds = Vec::new();
        let newest = newest_in_categories(subtree, page.after, limit, &select, &mut binds);
        let sql = format!("SELECT {select} FROM ({newest}) p ORDER BY p.id DESC LIMIT {limit}");
        let rows: Vec<ProductRow> = self.db.rows(&sql, &binds).await?;
        Ok(page_of(rows, page.first))
    }

    async fn brand_products_page(
        &self,
        brand_id: i32,
        page: PageRequest<i32>,
        columns: ProductColumns,
    ) -> Result<Page<ProductRecord>, SourceError> {
        let sql = format!(
            "SELECT {} FROM products p WHERE p.brand_id = ? AND p.id < ? \
             ORDER BY p.id DESC LIMIT ?",
            product_columns(columns)
        );
        let binds = [
            brand_id,
            page.after.unwrap_or(i32::MAX),
            page.first.saturating_add(1) as i32,
        ];
        let rows: Vec<ProductRow> = self.db.rows(&sql, &binds).await?;
        Ok(page_of(rows, page.first))
    }
}

impl Keyed for KeyedProductRow {
    fn key(&self) -> i32 {
        self.key_id
    }
    fn total(&self) -> Option<i64> {
        self.total
    }
}
