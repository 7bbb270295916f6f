//! `ogrom index` against the real Elasticsearch and the seeded fixture: the alias ends on one
//! complete new index, old versions are pruned, searches never fail while the alias moves,
//! and a failed build leaves the alias where it was. Expected values come from SQL and from
//! Elasticsearch's own answers, never from the indexer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ogrom::run::index::{IndexReport, build_index};
use ogrom::sources::elasticsearch::index::IndexError;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::MySqlPool;

use crate::helpers::{
    create_seeded_database, elasticsearch_handle, elasticsearch_url, fixture_database,
    private_database, sql,
};

/// An alias of this test process and test; its indices are deleted when it drops (also on
/// a failed assertion), and those of dead test processes when a new one is made.
struct TestAlias(String);

impl TestAlias {
    async fn new(test: &str) -> Self {
        for index in indices("ogrom_test_*_indexing_*").await {
            let pid = index
                .split('_')
                .nth(2)
                .and_then(|pid| pid.parse::<u32>().ok());
            if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
                es(Method::DELETE, &format!("/{index}"), None).await;
            }
        }
        let alias = format!("ogrom_test_{}_indexing_{test}", std::process::id());
        delete_alias_indices(&alias).await;
        Self(alias)
    }
}

impl Drop for TestAlias {
    fn drop(&mut self) {
        let alias = self.0.clone();
        // Drop cannot await; a runtime of its own on its own thread can.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(delete_alias_indices(&alias));
        })
        .join();
    }
}

/// Deletes the index named `alias` (if a test made one) and its versions.
async fn delete_alias_indices(alias: &str) {
    for index in indices(&format!("{alias},{alias}_v*")).await {
        es(Method::DELETE, &format!("/{index}"), None).await;
    }
}

/// One request to the test Elasticsearch: status and JSON body.
async fn es(method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    // No proxy: an HTTP(S)_PROXY in the environment must not capture 127.0.0.1.
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut request = client.request(method, format!("{}{path}", elasticsearch_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("Elasticsearch answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Index names matching `pattern` (open or closed).
async fn indices(pattern: &str) -> BTreeSet<String> {
    let path = format!("/_cat/indices/{pattern}?format=json&h=index&expand_wildcards=all");
    let (_, listed) = es(Method::GET, &path, None).await;
    listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["index"].as_str().map(str::to_owned))
        .collect()
}

/// The indices the alias points to.
async fn alias_targets(alias: &str) -> BTreeSet<String> {
    let (status, holders) = es(Method::GET, &format!("/_alias/{alias}"), None).await;
    match holders.as_object() {
        Some(holders) if status == 200 => holders.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

async fn count(index: &str) -> i64 {
    let (_, answer) = es(Method::GET, &format!("/{index}/_count"), None).await;
    answer["count"].as_i64().expect("a count")
}

async fn sql_count(pool: &MySqlPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM products")
        .fetch_one(pool)
        .await
        .expect("count products")
}

async fn build(
    pool: &MySqlPool,
    alias: &str,
    batch_size: u32,
    keep: u32,
) -> anyhow::Result<IndexReport> {
    let es = elasticsearch_handle(&elasticsearch_url());
    build_index(pool, &es, alias, batch_size, keep, false).await
}

#[tokio::test]
async fn building_the_index_points_the_alias_at_one_index_holding_every_product() {
    let alias = TestAlias::new("build").await;
    let pool = sql(fixture_database()).await;

    let report = build(&pool, &alias.0, 64, 2)
        .await
        .expect("the build succeeds");

    let products = sql_count(&pool).await;
    assert_eq!(
        alias_targets(&alias.0).await,
        BTreeSet::from([report.index.clone()])
    );
    assert!(
        report.index.starts_with(&format!("{}_v", alias.0)),
        "{}",
        report.index
    );
    assert_eq!(count(&alias.0).await, products);
    assert_eq!(report.documents, products as u64);

    // Every document against SQL: brand name, the category with all its ancestors, the
    // price a buyer pays now and the sale flag.
    let expected: Vec<(i32, String, i64, i64)> = sqlx::query_as(
        "SELECT p.id, b.name, CAST(COALESCE(p.sale_price_cents, p.price_cents) AS SIGNED), \
         CAST(p.sale_price_cents IS NOT NULL AS SIGNED) \
         FROM products p JOIN brands b ON b.id = p.brand_id",
    )
    .fetch_all(&pool)
    .await
    .expect("products");
    let ancestry: Vec<(i32, i32)> = sqlx::query_as(
        "WITH RECURSIVE up (product_id, category_id) AS ( \
           SELECT id, category_id FROM products \
           UNION ALL SELECT up.product_id, c.parent_id FROM up \
             JOIN categories c ON c.id = up.category_id WHERE c.parent_id IS NOT NULL) \
         SELECT product_id, category_id FROM up",
    )
    .fetch_all(&pool)
    .await
    .expect("ancestors");
    let mut categories: HashMap<i32, BTreeSet<i64>> = HashMap::new();
    for (product, category) in ancestry {
        categories
            .entry(product)
            .or_default()
            .insert(category.into());
    }
    let search = json!({"size": 10_000, "query": {"match_all": {}}});
    let (_, answer) = es(Method::POST, &format!("/{}/_search", alias.0), Some(search)).await;
    let documents: HashMap<String, Value> = answer["hits"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| {
            (
                hit["_id"].as_str().expect("_id").to_owned(),
                hit["_source"].clone(),
            )
        })
        .collect();
    assert_eq!(documents.len(), expected.len());
    assert!(
        categories.values().any(|path| path.len() >= 3),
        "the fixture has deep categories"
    );
    for (id, brand, price, on_sale) in expected {
        let document = &documents[&id.to_string()];
        let indexed: BTreeSet<i64> = document["category_ids"]
            .as_array()
            .expect("category_ids")
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        assert_eq!(document["brand_name"], brand, "product {id}");
        assert_eq!(indexed, categories[&id], "product {id}");
        assert_eq!(document["price"], price, "product {id}");
        assert_eq!(document["on_sale"], on_sale == 1, "product {id}");
    }
}

#[tokio::test]
async fn rebuilding_moves_the_alias_to_the_newer_index_and_keeps_only_keep_versions() {
    let alias = TestAlias::new("rebuild").await;
    let pool = sql(fixture_database()).await;

    let first = build(&pool, &alias.0, 100, 2).await.expect("first build");
    let second = build(&pool, &alias.0, 100, 2).await.expect("second build");
    let third = build(&pool, &alias.0, 100, 2).await.expect("third build");

    assert_eq!(
        alias_targets(&alias.0).await,
        BTreeSet::from([third.index.clone()])
    );
    assert_eq!(third.previous, vec![second.index.clone()]);
    let versions = indices(&format!("{}_v*", alias.0)).await;
    assert_eq!(
        versions,
        BTreeSet::from([second.index.clone(), third.index.clone()])
    );
    assert_eq!(third.deleted, vec![first.index.clone()]);
    assert!(first.index < second.index && second.index < third.index);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindexing_while_searches_run_fails_or_empties_no_search() {
    let alias = TestAlias::new("live").await;
    let pool = sql(fixture_database()).await;
    let first = build(&pool, &alias.0, 100, 1).await.expect("initial build");
    let stop = Arc::new(AtomicBool::new(false));
    let searching = tokio::spawn(search_until(stop.clone(), alias.0.clone()));

    // `keep` 1: each build also deletes the index the alias has just left, the harder case.
    let mut last = first.clone();
    for _ in 0..3 {
        last = build(&pool, &alias.0, 50, 1)
            .await
            .expect("rebuild under load");
    }
    stop.store(true, Ordering::Relaxed);
    let outcome = searching.await.expect("the search loop ends");

    assert!(
        outcome.searches >= 20,
        "too few searches to prove anything: {outcome:?}"
    );
    assert_eq!((outcome.failed, outcome.empty), (0, 0), "{outcome:?}");
    assert_ne!(last.index, first.index);
    assert_eq!(alias_targets(&alias.0).await, BTreeSet::from([last.index]));
}

#[derive(Debug, Default)]
struct SearchOutcome {
    searches: u32,
    failed: u32,
    empty: u32,
    first_problem: Option<String>,
}

/// Searches the alias for one hit, back to back, until told to stop.
async fn search_until(stop: Arc<AtomicBool>, alias: String) -> SearchOutcome {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("{}/{alias}/_search", elasticsearch_url());
    let mut outcome = SearchOutcome::default();
    while !stop.load(Ordering::Relaxed) {
        outcome.searches += 1;
        let response = client.post(&url).json(&json!({"size": 1})).send().await;
        let answer = match response {
            Ok(response) if response.status().is_success() => response.json::<Value>().await.ok(),
            Ok(response) => Some(json!({"status": response.status().as_u16()})),
            Err(error) => Some(json!({"error": error.to_string()})),
        };
        let hits = answer
            .as_ref()
            .and_then(|a| a["hits"]["hits"].as_array())
            .map(Vec::len);
        match hits {
            Some(0) => outcome.empty += 1,
            Some(_) => continue,
            None => outcome.failed += 1,
        }
        outcome
            .first_problem
            .get_or_insert_with(|| format!("{answer:?}"));
    }
    outcome
}

#[tokio::test]
async fn a_rejected_document_leaves_the_alias_on_the_old_index_and_deletes_the_new_one() {
    let alias = TestAlias::new("reject").await;
    let database = private_database("indexing_reject");
    create_seeded_database(&database).await;
    let pool = sql(&database).await;
    let old = build(&pool, &alias.0, 50, 2).await.expect("initial build");
    // A name with a control character from a dirty feed: the completion field rejects
    // U+001F (reserved), so its batch fails after earlier batches went in.
    let poisoned: i32 =
        sqlx::query_scalar("SELECT id FROM products ORDER BY id LIMIT 1 OFFSET 249")
            .fetch_one(&pool)
            .await
            .expect("a late product");
    sqlx::query("UPDATE products SET name = CONCAT(name, CHAR(31 USING utf8mb4)) WHERE id = ?")
        .bind(poisoned)
        .execute(&pool)
        .await
        .expect("poison a name");

    let error = build(&pool, &alias.0, 50, 2)
        .await
        .expect_err("the build fails");

    match error.downcast_ref::<IndexError>() {
        Some(IndexError::Rejected { id, failed, .. }) => {
            assert_eq!((id.as_str(), *failed), (poisoned.to_string().as_str(), 1));
        }
        other => panic!("expected a rejected document, got {other:?}: {error:#}"),
    }
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!("the alias `{}` was not moved", alias.0)),
        "{message}"
    );
    assert_eq!(
        alias_targets(&alias.0).await,
        BTreeSet::from([old.index.clone()])
    );
    assert_eq!(
        indices(&format!("{}_v*", alias.0)).await,
        BTreeSet::from([old.index])
    );
    assert_eq!(count(&alias.0).await, sql_count(&pool).await);
    sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(&pool)
        .await
        .expect("drop the private database");
}

#[tokio::test]
async fn an_alias_name_taken_by_a_concrete_index_is_refused() {
    let alias = TestAlias::new("concrete").await;
    let pool = sql(fixture_database()).await;
    let (status, _) = es(Method::PUT, &format!("/{}", alias.0), Some(json!({}))).await;
    assert_eq!(status, 200);

    let error = build(&pool, &alias.0, 100, 2).await.expect_err("refused");

    assert!(
        matches!(
            error.downcast_ref::<IndexError>(),
            Some(IndexError::AliasIsIndex { .. })
        ),
        "{error:#}"
    );
    let message = format!("{error:#}");
    assert!(
        message.contains("is a concrete index, not an alias"),
        "{message}"
    );
    assert_eq!(
        indices(&format!("{}*", alias.0)).await,
        BTreeSet::from([alias.0.clone()])
    );
}

#[tokio::test]
async fn an_unreachable_elasticsearch_fails_the_build_with_a_clear_error() {
    let pool = sql(fixture_database()).await;
    let es = elasticsearch_handle("http://127.0.0.1:1");

    let error = build_index(&pool, &es, "ogrom_unreachable", 100, 2, false)
        .await
        .expect_err("fails");

    let message = format!("{error:#}");
    assert!(
        message.contains("elasticsearch is unavailable"),
        "{message}"
    );
    assert!(
        message.contains("the alias `ogrom_unreachable` was not moved"),
        "{message}"
    );
}

#[tokio::test]
async fn a_half_built_index_of_a_killed_run_never_pushes_out_the_rollback_target() {
    let alias = TestAlias::new("orphan").await;
    let pool = sql(fixture_database()).await;
    let first = build(&pool, &alias.0, 100, 2).await.expect("first build");
    // A killed run leaves a newer, half-built version behind the alias's back.
    let millis: u64 = first.index.rsplit("_v").next().unwrap().parse().unwrap();
    let orphan = format!("{}_v{}", alias.0, millis + 1);
    let (status, answer) = es(Method::PUT, &format!("/{orphan}"), None).await;
    assert_eq!(status, 200, "{answer}");

    let second = build(&pool, &alias.0, 100, 2).await.expect("second build");
    assert_eq!(second.previous, vec![first.index.clone()]);
    assert_eq!(
        indices(&format!("{}_v*", alias.0)).await,
        BTreeSet::from([first.index.clone(), second.index.clone()]),
        "the new index and the rollback target stay; the orphan goes"
    );
    assert_eq!(second.deleted, vec![orphan]);
}
