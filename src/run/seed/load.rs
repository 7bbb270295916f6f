//! Writes a generated `Dataset` into MySQL: multi-row inserts with explicit ids on the
//! caller's transaction, parents before children so the foreign keys hold throughout.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime};
use sqlx::query_builder::Separated;
use sqlx::{MySql, MySqlConnection, QueryBuilder};

use super::{Dataset, Like, Stamp};

/// Every table `seed` fills, parents first.
const TABLES: [&str; 10] = [
    "categories",
    "brands",
    "shops",
    "products",
    "users",
    "collages",
    "collage_items",
    "collage_tags",
    "product_likes",
    "collage_likes",
];

/// Refuses to seed over existing data, and says what to do instead.
pub(super) async fn ensure_empty(conn: &mut MySqlConnection) -> anyhow::Result<()> {
    for table in TABLES {
        let row = sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1"))
            .fetch_optional(&mut *conn)
            .await
            .with_context(|| {
                format!("cannot read table `{table}`: is the database migrated (`ogrom migrate`)?")
            })?;
        if row.is_some() {
            bail!(
                "table `{table}` already has rows: seed only fills an empty database \
                 (drop and re-create the database, run `ogrom migrate`, then seed)"
            );
        }
    }
    Ok(())
}

pub(super) async fn insert_all(
    conn: &mut MySqlConnection,
    data: &Dataset,
    progress: bool,
) -> anyhow::Result<()> {
    let mut out = Progress { enabled: progress };
    let head = "INSERT INTO categories (id, parent_id, slug, name, position) ";
    insert(
        conn,
        &mut out,
        "categories",
        head,
        &data.categories,
        5,
        |mut row, c| {
            row.push_bind(c.id)
                .push_bind(c.parent_id)
                .push_bind(c.slug.as_str())
                .push_bind(c.name)
                .push_bind(c.position);
        },
    )
    .await?;
    let head = "INSERT INTO brands (id, slug, name, logo_url, created_at) ";
    insert(
        conn,
        &mut out,
        "brands",
        head,
        &data.brands,
        5,
        |mut row, b| {
            row.push_bind(b.id)
                .push_bind(b.slug.as_str())
                .push_bind(b.name.as_str())
                .push_bind(b.logo_url.as_str())
                .push_bind(datetime(b.created_at));
        },
    )
    .await?;
    let head = "INSERT INTO shops (id, slug, name, domain, country, currency) ";
    insert(
        conn,
        &mut out,
        "shops",
        head,
        &data.shops,
        6,
        |mut row, s| {
            row.push_bind(s.id)
                .push_bind(s.slug.as_str())
                .push_bind(s.name.as_str())
                .push_bind(s.domain.as_str())
                .push_bind(s.country)
                .push_bind(s.currency);
        },
    )
    .await?;
    let head = "INSERT INTO products (id, brand_id, shop_id, category_id, name, description, \
                color, price_cents, sale_price_cents, currency, image_url, deeplink_url, \
                like_count, created_at, updated_at) ";
    insert(
        conn,
        &mut out,
        "products",
        head,
        &data.products,
        15,
        |mut row, p| {
            row.push_bind(p.id)
                .push_bind(p.brand_id)
                .push_bind(p.shop_id)
                .push_bind(p.category_id)
                .push_bind(p.name.as_str())
                .push_bind(p.description.as_str())
                .push_bind(p.color)
                .push_bind(p.price_cents)
                .push_bind(p.sale_price_cents)
                .push_bind(p.currency)
                .push_bind(p.image_url.as_str())
                .push_bind(p.deeplink_url.as_str())
                .push_bind(p.like_count)
                .push_bind(datetime(p.created_at))
                .push_bind(datetime(p.updated_at));
        },
    )
    .await?;
    let head = "INSERT INTO users (id, username, display_name, avatar_url, created_at) ";
    insert(
        conn,
        &mut out,
        "users",
        head,
        &data.users,
        5,
        |mut row, u| {
            row.push_bind(u.id)
                .push_bind(u.username.as_str())
                .push_bind(u.display_name.as_str())
                .push_bind(u.avatar_url.as_deref())
                .push_bind(datetime(u.created_at));
        },
    )
    .await?;
    let head = "INSERT INTO collages (id, user_id, title, description, like_count, created_at, \
                updated_at) ";
    insert(
        conn,
        &mut out,
        "collages",
        head,
        &data.collages,
        7,
        |mut row, c| {
            row.push_bind(c.id)
                .push_bind(c.user_id)
                .push_bind(c.title.as_str())
                .push_bind(c.description.as_str())
                .push_bind(c.like_count)
                .push_bind(datetime(c.created_at))
                .push_bind(datetime(c.updated_at));
        },
    )
    .await?;
    let head = "INSERT INTO collage_items (collage_id, position, product_id, x, y, scale) ";
    insert(
        conn,
        &mut out,
        "collage_items",
        head,
        &data.items,
        6,
        |mut row, i| {
            row.push_bind(i.collage_id)
                .push_bind(i.position)
                .push_bind(i.product_id)
                .push_bind(i.x)
                .push_bind(i.y)
                .push_bind(i.scale);
        },
    )
    .await?;
    let head = "INSERT INTO collage_tags (collage_id, tag) ";
    insert(
        conn,
        &mut out,
        "collage_tags",
        head,
        &data.tags,
        2,
        |mut row, (id, tag)| {
            row.push_bind(*id).push_bind(*tag);
        },
    )
    .await?;
    let head = "INSERT INTO product_likes (user_id, product_id, created_at) ";
    insert(
        conn,
        &mut out,
        "product_likes",
        head,
        &data.product_likes,
        3,
        push_like,
    )
    .await?;
    let head = "INSERT INTO collage_likes (user_id, collage_id, created_at) ";
    insert(
        conn,
        &mut out,
        "collage_likes",
        head,
        &data.collage_likes,
        3,
        push_like,
    )
    .await?;
    Ok(())
}

fn push_like(mut row: Separated<'_, '_, MySql, &'static str>, like: &Like) {
    row.push_bind(like.user_id)
        .push_bind(like.thing_id)
        .push_bind(datetime(like.created_at));
}

/// Inserts `rows` with `head` ("INSERT INTO t (columns) ") in statements of up to 1,000 rows
/// (fewer for wide rows: MySQL allows 65,535 placeholders a statement).
async fn insert<'a, T>(
    conn: &mut MySqlConnection,
    progress: &mut Progress,
    table: &str,
    head: &str,
    rows: &'a [T],
    columns: usize,
    mut push_row: impl FnMut(Separated<'_, 'a, MySql, &'static str>, &'a T),
) -> anyhow::Result<()> {
    let per_statement = (60_000 / columns).min(1_000);
    let mut done = 0;
    progress.show(table, done, rows.len());
    for statement_rows in rows.chunks(per_statement) {
        let mut query = QueryBuilder::<MySql>::new(head);
        query.push_values(statement_rows, &mut push_row);
        query
            .build()
            .execute(&mut *conn)
            .await
            .with_context(|| format!("inserting into `{table}`"))?;
        done += statement_rows.len();
        progress.show(table, done, rows.len());
    }
    progress.finish();
    Ok(())
}

fn datetime(stamp: Stamp) -> NaiveDateTime {
    DateTime::from_timestamp_millis(stamp)
        .unwrap_or_default()
        .naive_utc()
}

/// One line per table on stderr, rewritten in place.
struct Progress {
    enabled: bool,
}

impl Progress {
    fn show(&mut self, table: &str, done: usize, total: usize) {
        if self.enabled {
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r{table:<14} {done:>8}/{total:<8} {percent:>3}%");
            let _ = stderr.flush();
        }
    }

    fn finish(&mut self) {
        if self.enabled {
            eprintln!();
        }
    }
}
