//! `ogrom index` (run layer): reads the catalog from MySQL, turns each product into a search
//! document and hands the documents to the index lifecycle
//! (`sources::elasticsearch::index`), which loads a new versioned index and moves the alias.
//!
//! MySQL is read in keyset batches inside one transaction: InnoDB's default REPEATABLE READ
//! gives every batch the same snapshot, so products written meanwhile neither appear twice
//! nor shift the batches. Each batch is sent while the next one is read.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use chrono::{NaiveDateTime, SecondsFormat};
use sqlx::{MySqlConnection, MySqlPool};

use crate::config::IndexArgs;
use crate::sources::elasticsearch::Elasticsearch;
use crate::sources::elasticsearch::document::{ProductDocument, Suggest};
use crate::sources::elasticsearch::index::IndexBuild;

/// What a build did.
#[derive(Debug, Clone)]
pub struct IndexReport {
    /// The alias searches read.
    pub alias: String,
    /// The new index it now points to.
    pub index: String,
    /// Documents indexed.
    pub documents: u64,
    /// Wall-clock time of the whole build.
    pub seconds: f64,
    /// The indices the alias pointed to before.
    pub previous: Vec<String>,
    /// Old versions deleted (beyond `keep`).
    pub deleted: Vec<String>,
}

/// Runs the subcommand.
pub async fn run(args: &IndexArgs) -> anyhow::Result<()> {
    let pool = super::connect(&args.database).await?;
    let es = Elasticsearch::new(
        args.elasticsearch.elasticsearch_url.clone(),
        Duration::from_millis(args.elasticsearch.elasticsearch_timeout_ms),
    )
    .context("cannot build the Elasticsearch client (OGROM_ELASTICSEARCH_URL)")?;
    let progress = std::io::stderr().is_terminal();
    let alias = &args.elasticsearch.elasticsearch_index;
    let report = build_index(&pool, &es, alias, args.batch_size, args.keep, progress).await;
    pool.close().await;
    let report = report?;
    tracing::info!(
        message = "indexed products",
        documents = report.documents,
        seconds = report.seconds,
        documents_per_second = report.documents as f64 / report.seconds.max(1e-9),
        index = %report.index,
        alias = %report.alias,
        deleted = ?report.deleted,
    );
    Ok(())
}

/// Builds a new versioned index of every product behind `alias`, `batch_size` products a
/// bulk request, keeping the newest `keep` versions; with `progress`, shows a progress line
/// on stderr. On failure the alias stays where it was and the new index is deleted.
pub async fn build_index(
    pool: &MySqlPool,
    es: &Elasticsearch,
    alias: &str,
    batch_size: u32,
    keep: u32,
    progress: bool,
) -> anyhow::Result<IndexReport> {
    let started = Instant::now();
    let unchanged = || format!("indexing failed; the alias `{alias}` was not moved");
    let mut tx = pool
        .begin()
        .await
        .context("cannot start a MySQL transaction")?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
        .fetch_one(&mut *tx)
        .await
        .context("cannot count products: has `ogrom migrate` run?")?;
    let paths = category_paths(&mut tx).await?;
    let mut build = IndexBuild::start(es, alias).await.with_context(unchanged)?;
    let mut progress = Progress {
        enabled: progress,
        total: u64::try_from(total).unwrap_or(0),
    };
    if let Err(error) = load(&mut tx, &mut build, &paths, batch_size, &mut progress).await {
        progress.finish();
        let index = build.index().to_owned();
        build.discard().await;
        return Err(error.context(format!("{}; {index} deleted", unchanged())));
    }
    progress.finish();
    // Read-only: ending the transaction either way is the same; rolling back says so.
    let _ = tx.rollback().await;
    let published = build.publish(keep).await.with_context(unchanged)?;
    Ok(IndexReport {
        alias: alias.to_owned(),
        index: published.index,
        documents: published.documents,
        seconds: started.elapsed().as_secs_f64(),
        previous: published.previous,
        deleted: published.deleted,
    })
}

/// Reads products in keyset batches and bulk-loads them, reading batch n+1 while batch n is
/// being indexed (the two wait on different servers).
async fn load(
    conn: &mut MySqlConnection,
    build: &mut IndexBuild,
    paths: &HashMap<i32, CategoryPath>,
    batch_size: u32,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    progress.show(0);
    let mut rows = products_after(conn, 0, batch_size).await?;
    while let Some(last) = rows.last().map(|row| row.id) {
        let documents = rows
            .into_iter()
            .map(|row| document(row, paths))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (sent, next) = tokio::join!(
            build.add(&documents),
            products_after(conn, last, batch_size)
        );
        sent?;
        rows = next?;
        progress.show(build.sent());
    }
    Ok(())
}

/// One product as read for indexing, with its brand's name.
#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i32,
    brand_id: i32,
    brand_name: String,
    shop_id: i32,
    category_id: i32,
    name: String,
    description: String,
    color: String,
    price_cents: i32,
    sale_price_cents: Option<i32>,
    currency: String,
    like_count: i32,
    created_at: NaiveDateTime,
}

async fn products_after(
    conn: &mut MySqlConnection,
    after: i32,
    limit: u32,
) -> anyhow::Result<Vec<ProductRow>> {
    sqlx::query_as(
        "SELECT p.id, p.brand_id, b.name AS brand_name, p.shop_id, p.category_id, p.name, \
         p.description, p.color, p.price_cents, p.sale_price_cents, p.currency, p.like_count, \
         p.created_at \
         FROM products p JOIN brands b ON b.id = p.brand_id \
         WHERE p.id > ? ORDER BY p.id LIMIT ?",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
    .with_context(|| format!("cannot read products after id {after}"))
}

fn document(
    row: ProductRow,
    paths: &HashMap<i32, CategoryPath>,
) -> anyhow::Result<ProductDocument> {
    let path = paths.get(&row.category_id).ok_or_else(|| {
        anyhow!(
            "product {} has unknown category {}",
            row.id,
            row.category_id
        )
    })?;
    // Completion weights must be positive; an unliked product still deserves suggesting.
    let weight = row.like_count.max(1);
    Ok(ProductDocument {
        id: row.id,
        suggest: Suggest {
            input: vec![row.name.clone()],
            weight,
        },
        brand_suggest: Suggest {
            input: vec![row.brand_name.clone()],
            weight,
        },
        name: row.name,
        description: row.description,
        brand_id: row.brand_id,
        brand_name: row.brand_name,
        category_id: row.category_id,
        category_ids: path.ids.clone(),
        category_names: path.names.clone(),
        shop_id: row.shop_id,
        color: row.color,
        currency: row.currency,
        price: i64::from(row.sale_price_cents.unwrap_or(row.price_cents)),
        on_sale: row.sale_price_cents.is_some(),
        like_count: row.like_count,
        created_at: row
            .created_at
            .and_utc()
            .to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}

/// A category and its ancestors, root first.
struct CategoryPath {
    ids: Vec<i32>,
    names: Vec<String>,
}

/// The path of every category, computed in memory: the tree is small, and one read here
/// saves a recursive query per batch.
async fn category_paths(conn: &mut MySqlConnection) -> anyhow::Result<HashMap<i32, CategoryPath>> {
    let rows: Vec<(i32, Option<i32>, String)> =
        sqlx::query_as("SELECT id, parent_id, name FROM categories")
            .fetch_all(conn)
            .await
            .context("cannot read categories")?;
    let nodes: HashMap<i32, (Option<i32>, &str)> = rows
        .iter()
        .map(|(id, parent, name)| (*id, (*parent, name.as_str())))
        .collect();
    let mut paths = HashMap::with_capacity(nodes.len());
    for &id in nodes.keys() {
        let mut path = CategoryPath {
            ids: Vec::new(),
            names: Vec::new(),
        };
        let mut current = Some(id);
        while let Some(at) = current {
            // A path longer than the table has a cycle; the schema does not forbid one.
            anyhow::ensure!(
                path.ids.len() < nodes.len(),
                "category {id} is in a parent cycle"
            );
            let (parent, name) = nodes
                .get(&at)
                .ok_or_else(|| anyhow!("category {id} has a missing ancestor {at}"))?;
            path.ids.push(at);
            path.names.push((*name).to_owned());
            current = *parent;
        }
        path.ids.reverse();
        path.names.reverse();
        paths.insert(id, path);
    }
    Ok(paths)
}

/// One progress line on stderr, rewritten in place (as `ogrom seed` does).
struct Progress {
    enabled: bool,
    total: u64,
}

impl Progress {
    fn show(&mut self, done: u64) {
        if self.enabled {
            let total = self.total.max(done);
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            let mut stderr = std::io::stderr().lock();
            let _ = write!(
                stderr,
                "\rindexing products {done:>8}/{total:<8} {percent:>3}%"
            );
            let _ = stderr.flush();
        }
    }

    fn finish(&mut self) {
        if self.enabled {
            eprintln!();
        }
    }
}
