//! SQL helpers shared by the MySQL sources: IN-lists, batch keys, keyed look-ups and pages.

use std::collections::HashMap;
use std::hash::Hash;

use sqlx::{Execute, FromRow, MySql as Db, QueryBuilder};

use super::MySql;
use crate::protocols::{FirstPage, Page, SourceError};

/// `SELECT {columns} FROM {table} WHERE {column} IN (…)` for a batch of keys.
pub(super) fn select_in<'a, K>(sql: &str, keys: &'a [K]) -> QueryBuilder<'a, Db>
where
    K: sqlx::Encode<'a, Db> + sqlx::Type<Db> + Clone + Send + 'a,
{
    let mut query = QueryBuilder::new(sql);
    query.push(" IN (");
    let mut list = query.separated(", ");
    for key in keys {
        list.push_bind(key.clone());
    }
    query.push(")");
    query
}

/// Keys in first-seen order without repeats, so a batch never asks twice.
pub(super) fn distinct<K: Clone + Eq + Hash>(keys: &[K]) -> Vec<K> {
    let mut seen = std::collections::HashSet::new();
    keys.iter().filter(|k| seen.insert(*k)).cloned().collect()
}

/// Splits one row past the requested page size off into `has_next_page`.
pub(super) fn page_of<R, T: From<R>>(mut rows: Vec<R>, first: u32) -> Page<T> {
    let has_next_page = rows.len() > first as usize;
    rows.truncate(first as usize);
    Page {
        items: rows.into_iter().map(T::from).collect(),
        has_next_page,
        total: None,
    }
}

pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Rows of a statement of `UNION ALL` branches: each carries the index of the branch it came
/// from (`key_id`) and, in first pages, the count of its whole list (`total`, or `NULL`).
pub(super) trait Keyed {
    /// The index of the row's branch.
    fn key(&self) -> i32;
    /// The whole list's count, where the branch counted it.
    fn total(&self) -> Option<i64> {
        None
    }
}

/// A first page from the rows its branch selected (one past the page where more follow),
/// with the whole list's count where `key` asked for it: from the first row, or 0 for a
/// list without rows.
pub(super) fn first_page<R: Keyed, T>(
    key: FirstPage,
    rows: Vec<R>,
    item: impl FnMut(R) -> T,
) -> Page<T> {
    let total = key
        .counted
        .then(|| rows.first().and_then(Keyed::total).unwrap_or(0));
    let page = page_of::<T, T>(rows.into_iter().map(item).collect(), key.first);
    Page { total, ..page }
}

impl MySql {
    /// Loads rows whose `column` is in `keys`, keyed by `key`.
    pub(super) async fn by_keys<K, R, T>(
        &self,
        table_sql: &str,
        keys: &[K],
        key: impl Fn(&T) -> K,
    ) -> Result<HashMap<K, T>, SourceError>
    where
        K: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Clone + Eq + Hash + Send + Sync,
        R: for<'r> FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin,
        T: From<R>,
    {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = distinct(keys);
        let mut query = select_in(table_sql, &keys);
        let built = query.build_query_as();
        let rows: Vec<R> = self
            .run(built.sql(), lent!(self, |c| built.fetch_all(c)))
            .await?;
        Ok(rows
            .into_iter()
            .map(T::from)
            .map(|record| (key(&record), record))
            .collect())
    }

    /// Loads rows whose text `column` matches one of `names`, keyed by the names asked for.
    /// The column's collation compares without regard to case, so `Arvara` finds the row
    /// `arvara`; rows are matched back to the names by their lowercase (a name that differs
    /// from its row in more than case, such as accents a collation folds, finds nothing).
    pub(super) async fn by_names<R, T>(
        &self,
        table_sql: &str,
        names: &[String],
        name: impl Fn(&T) -> &str,
    ) -> Result<HashMap<String, T>, SourceError>
    where
        R: for<'r> FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin,
        T: From<R> + Clone,
    {
        let found = self
            .by_keys::<String, R, T>(table_sql, names, |t| name(t).to_lowercase())
            .await?;
        Ok(names
            .iter()
            .filter_map(|n| Some((n.clone(), found.get(&n.to_lowercase())?.clone())))
            .collect())
    }

    /// One statement of `UNION ALL` branches, one per key, each selecting its index as
    /// `key_id`: the rows of each branch, in key order.
    pub(super) async fn keyed_branches<R>(
        &self,
        branches: &[String],
        binds: &[i32],
    ) -> Result<Vec<Vec<R>>, SourceError>
    where
        R: for<'r> FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin + Keyed,
    {
        let rows: Vec<R> = self.rows(&branches.join(" UNION ALL "), binds).await?;
        let mut by_branch: Vec<Vec<R>> = branches.iter().map(|_| Vec::new()).collect();
        for row in rows {
            if let Some(branch) = by_branch.get_mut(row.key() as usize) {
                branch.push(row);
            }
        }
        Ok(by_branch)
    }

    /// First pages of several owners' lists in one statement, as batch methods load them
    /// by the level: an index-ordered, limited select per key, so each stops after its
    /// page. `branch` selects `? AS key_id, {total} AS total, …` and binds the owner and the
    /// limit after the index; `{total}` becomes `count` (binding the owner once more) where
    /// the key is counted, else `NULL`. Returns the distinct keys with their branch's rows
    /// (one row past the page where more follow), for [`first_page`].
    pub(super) async fn first_pages<R>(
        &self,
        branch: &str,
        count: &str,
        keys: &[FirstPage],
    ) -> Result<Vec<(FirstPage, Vec<R>)>, SourceError>
    where
        R: for<'r> FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin + Keyed,
    {
        let keys = distinct(keys);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let counted = branch.replace("{total}", count);
        let uncounted = branch.replace("{total}", "NULL");
        let mut branches = Vec::with_capacity(keys.len());
        let mut binds = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            binds.push(index as i32);
            if key.counted {
                branches.push(counted.clone());
                binds.push(key.owner);
            } else {
                branches.push(uncounted.clone());
            }
            binds.extend([key.owner, key.first.saturating_add(1) as i32]);
        }
        let rows = self.keyed_branches(&branches, &binds).await?;
        Ok(keys.into_iter().zip(rows).collect())
    }

    /// The rows of `sql`, its placeholders bound to `binds` in order.
    pub(super) async fn rows<R>(&self, sql: &str, binds: &[i32]) -> Result<Vec<R>, SourceError>
    where
        R: for<'r> FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin,
    {
        let mut query = sqlx::query_as::<_, R>(sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        self.run(query.sql(), lent!(self, |c| query.fetch_all(c)))
            .await
    }

    /// The `(key, value)` rows of `sql` (bound as [`MySql::rows`]), grouped by key, each
    /// key's values in row order.
    pub(super) async fn grouped<V>(
        &self,
        sql: &str,
        binds: &[i32],
    ) -> Result<HashMap<i32, Vec<V>>, SourceError>
    where
        (i32, V): for<'r> FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin,
    {
        let mut grouped: HashMap<i32, Vec<V>> = HashMap::new();
        for (key, value) in self.rows::<(i32, V)>(sql, binds).await? {
            grouped.entry(key).or_default().push(value);
        }
        Ok(grouped)
    }

    /// Counts per key: `sql` selects `(key, count)` rows with `{ids}` where the keys go;
    /// keys without rows count 0.
    pub(super) async fn counts(
        &self,
        sql: &str,
        ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        let ids = distinct(ids);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = sql.replace("{ids}", &placeholders(ids.len()));
        let rows: Vec<(i32, i64)> = self.rows(&sql, &ids).await?;
        let mut counts: HashMap<i32, i64> = ids.iter().map(|&id| (id, 0)).collect();
        counts.extend(rows);
        Ok(counts)
    }
}
