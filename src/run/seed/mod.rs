//! `ogrom seed` (run layer): fills an empty, migrated database with a plausible, deterministic
//! catalog and community — a small fixture for the tests, a demo size for the README and a
//! large size for benchmarks.
//!
//! Generation and loading are separate: `Dataset::generate` is a pure function of the size
//! and the seed (SplitMix64, one stream per table, a fixed timeline that never looks at the
//! clock), so the same seed gives the same rows on every machine; `load` then writes the rows
//! with explicit ids in multi-row inserts.

mod catalog;
mod catalog_words;
mod community;
mod community_words;
mod dataset;
mod load;
mod rng;
mod tree;

use anyhow::ensure;

use dataset::{Brand, Category, Collage, CollageItem, Dataset, Like, Product, Shop, User};

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSize {
    /// Number of brands.
    pub brands: u32,
    /// Number of shops.
    pub shops: u32,
    /// Number of products.
    pub products: u32,
    /// Number of users.
    pub users: u32,
    /// Number of collages.
    pub collages: u32,
}

impl SeedSize {
    /// The small fixture the test suite loads.
    pub const TEST: SeedSize = SeedSize {
        brands: 12,
        shops: 5,
        products: 300,
        users: 40,
        collages: 60,
    };
    /// The README's demo.
    pub const DEMO: SeedSize = SeedSize {
        brands: 60,
        shops: 12,
        products: 5_000,
        users: 500,
        collages: 1_000,
    };
    /// The benchmarks' data set.
    pub const BENCH: SeedSize = SeedSize {
        brands: 500,
        shops: 80,
        products: 100_000,
        users: 10_000,
        collages: 20_000,
    };

    /// The size called `name`: "test", "demo" or "bench" (case-insensitive).
    pub fn named(name: &str) -> Option<SeedSize> {
        match name.to_ascii_lowercase().as_str() {
            "test" => Some(SeedSize::TEST),
            "demo" => Some(SeedSize::DEMO),
            "bench" => Some(SeedSize::BENCH),
            _ => None,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.products == 0 || (self.brands > 0 && self.shops > 0),
            "products need at least one brand and one shop"
        );
        ensure!(
            self.collages == 0 || (self.users > 0 && self.products > 0),
            "collages need at least one user and one product"
        );
        let counts = [
            self.brands,
            self.shops,
            self.products,
            self.users,
            self.collages,
        ];
        ensure!(
            counts.iter().all(|&count| count <= 10_000_000),
            "at most 10 million rows a table (the data is built in memory first)"
        );
        Ok(())
    }
}

/// How many rows `seed` wrote, per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows in `brands`.
    pub brands: u64,
    /// Rows in `shops`.
    pub shops: u64,
    /// Rows in `categories`.
    pub categories: u64,
    /// Rows in `products`.
    pub products: u64,
    /// Rows in `users`.
    pub users: u64,
    /// Rows in `collages`.
    pub collages: u64,
    /// Rows in `collage_items`.
    pub collage_items: u64,
    /// Rows in `product_likes`.
    pub product_likes: u64,
    /// Rows in `collage_likes`.
    pub collage_likes: u64,
}

/// Fills an empty, migrated database with `size` rows generated from `rng_seed`; with
/// `progress`, shows a progress line per table on stderr. Errors if any table has rows.
///
/// All rows go in one transaction: a failure or an interruption part-way leaves the
/// database empty.
pub async fn seed(
    pool: &sqlx::MySqlPool,
    size: SeedSize,
    rng_seed: u64,
    progress: bool,
) -> anyhow::Result<SeedReport> {
    size.validate()?;
    let started = std::time::Instant::now();
    // One outer transaction (the loader's own transactions become savepoints in it): an
    // interrupted or failed seed leaves the database empty, so it can simply run again.
    let mut tx = pool.begin().await?;
    load::ensure_empty(&mut tx).await?;
    let data = Dataset::generate(size, rng_seed);
    load::insert_all(&mut tx, &data, progress).await?;
    tx.commit().await?;
    let report = data.report();
    tracing::info!(
        message = "seeded the database",
        seed = rng_seed,
        brands = report.brands,
        shops = report.shops,
        categories = report.categories,
        products = report.products,
        users = report.users,
        collages = report.collages,
        collage_items = report.collage_items,
        collage_tags = data.tags.len(),
        product_likes = report.product_likes,
        collage_likes = report.collage_likes,
        elapsed_ms = started.elapsed().as_millis() as u64,
    );
    Ok(report)
}

/// Milliseconds since the Unix epoch, UTC.
type Stamp = i64;

/// The fixed timeline the data lives on (never the current time): brands exist before the
/// catalog, users join while it grows, collages and likes come after.
mod time {
    use super::Stamp;

    pub(super) const DAY: Stamp = 86_400_000;
    /// 2018-01-01T00:00:00Z
    pub(super) const BRANDS_FROM: Stamp = 1_514_764_800_000;
    /// 2022-01-01T00:00:00Z
    pub(super) const CATALOG_FROM: Stamp = 1_640_995_200_000;
    /// 2023-01-01T00:00:00Z
    pub(super) const USERS_FROM: Stamp = 1_672_531_200_000;
    /// 2024-06-01T00:00:00Z
    pub(super) const COMMUNITY_FROM: Stamp = 1_717_200_000_000;
    /// 2026-11-01T00:00:00Z
    pub(super) const END: Stamp = 1_793_491_200_000;
}

/// The creation time of row `id` of `count`: evenly spread over `from..to` with a little
/// jitter, so that ids grow with time as they do in a real database.
fn spread(rng: &mut rng::Rng, id: u32, count: u32, from: Stamp, to: Stamp) -> Stamp {
    let step = (to - from) / i64::from(count.max(1));
    from + step * (i64::from(id) - 1) + rng.between(0, (step - 1).max(0))
}

#[cfg(test)]
mod tests;
