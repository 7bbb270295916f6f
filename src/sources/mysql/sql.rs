//! SQL helpers shared by the MySQL sources: IN-lists, batch keys, keyed look-ups and pages.

use std::collections::HashMap;
use std::hash::Hash;

use sqlx::{Execute, FromRow, MySql as Db, QueryBuilder};

use super::MySql;
use crate::protocols::{Page, SourceError};

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
    }
}

pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
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
        let rows: Vec<R> = self.run(built.sql(), built.fetch_all(self.pool())).await?;
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
        let mut query = sqlx::query_as::<_, (i32, i64)>(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = self.run(query.sql(), query.fetch_all(self.pool())).await?;
        let mut counts: HashMap<i32, i64> = ids.iter().map(|&id| (id, 0)).collect();
        counts.extend(rows);
        Ok(counts)
    }
}
