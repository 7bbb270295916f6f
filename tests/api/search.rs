//! The search module against real Elasticsearch, indexed from the MariaDB fixture: totals,
//! facets and sort orders are checked against SQL over the same rows.

use std::sync::OnceLock;

use serde_json::{Value, json};
use sqlx::MySqlPool;

use crate::helpers::{
    TestApp, database_ids, database_url, elasticsearch_handle, elasticsearch_url, error_codes,
    fixture_database, global_id, mysql_handle, serve_args, sql,
};

/// This process's search alias over the fixture database, built once on first use.
pub(crate) fn fixture_alias() -> &'static str {
    static ALIAS: OnceLock<String> = OnceLock::new();
    ALIAS.get_or_init(|| {
        let alias = format!("ogrom_test_{}_search", std::process::id());
        let build = alias.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(async move {
                    drop_stale_test_indices().await;
                    let pool = sql(fixture_database()).await;
                    let es = elasticsearch_handle(&elasticsearch_url());
                    ogrom::run::index::build_index(&pool, &es, &build, 500, 1, false)
                        .await
                        .expect("the fixture indexes");
                })
        })
        .join()
        .expect("index setup panicked");
        alias
    })
}

/// Indices of test processes that are gone (named `ogrom_test_<pid>_…`).
async fn drop_stale_test_indices() {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = elasticsearch_url();
    let Ok(response) = client
        .get(format!(
            "{base}/_cat/indices/ogrom_test_*?format=json&h=index"
        ))
        .send()
        .await
    else {
        return;
    };
    let indices: Vec<Value> = response.json().await.unwrap_or_default();
    for index in indices.iter().filter_map(|i| i["index"].as_str()) {
        let pid = index
            .strip_prefix("ogrom_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = client.delete(format!("{base}/{index}")).send().await;
        }
    }
}

/// The gateway over the fixture's index. The documents here ask many searches, some in
/// one document, to test what they find: the cost maximum and budgets, which a search
/// weighs on (8000 points), are tested in `protection`.
fn app() -> TestApp {
    TestApp::new(&[
        "--elasticsearch-index",
        fixture_alias(),
        "--max-complexity",
        "1000000",
        "--cost-budget",
        "0",
    ])
}

async fn scalar(db: &MySqlPool, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(db).await.unwrap()
}

async fn total(app: &TestApp, query: &str, filter: Value) -> i64 {
    let data = app
        .query(
            "query($q: String, $f: ProductFilter) { searchProducts(query: $q, filter: $f, first: 1) { totalCount } }",
            json!({"q": query, "f": filter}),
        )
        .await;
    data["searchProducts"]["totalCount"].as_i64().unwrap()
}

/// A product's current price in SQL.
const PRICE: &str = "COALESCE(p.sale_price_cents, p.price_cents)";
/// Products under a category (itself or any ancestor), by explicit joins over three levels.
const UNDER: &str = "(p.category_id = {c} OR EXISTS (SELECT 1 FROM categories l JOIN categories m ON m.id = l.parent_id
    WHERE l.id = p.category_id AND (m.id = {c} OR m.parent_id = {c})))";

#[tokio::test]
async fn the_total_of_each_filter_and_combination_equals_the_sql_count() {
    let app = app();
    let db = sql(&app.database).await;
    let root = scalar(
        &db,
        "SELECT id FROM categories WHERE parent_id IS NULL ORDER BY position LIMIT 1",
    )
    .await;
    let (b1, b2) = (
        scalar(&db, "SELECT MIN(id) FROM brands").await,
        scalar(&db, "SELECT MAX(id) FROM brands").await,
    );
    let shop = scalar(&db, "SELECT MIN(id) FROM shops").await;
    let under_root = UNDER.replace("{c}", &root.to_string());
    let cases = [
        (json!({}), "TRUE".to_owned()),
        (
            json!({"brandIds": [global_id("Brand", b1), global_id("Brand", b2)]}),
            format!("p.brand_id IN ({b1}, {b2})"),
        ),
        (
            json!({"categoryIds": [global_id("Category", root)]}),
            under_root.clone(),
        ),
        (
            json!({"shopIds": [global_id("Shop", shop)]}),
            format!("p.shop_id = {shop}"),
        ),
        (
            json!({"colors": ["black", "Navy"]}),
            "p.color IN ('black', 'navy')".to_owned(),
        ),
        (
            json!({"price": {"min": 2000, "max": 8000}}),
            format!("{PRICE} BETWEEN 2000 AND 8000"),
        ),
        (json!({"price": {"max": 3000}}), format!("{PRICE} <= 3000")),
        (
            json!({"onSale": true}),
            "p.sale_price_cents IS NOT NULL".to_owned(),
        ),
        (
            json!({"onSale": false}),
            "p.sale_price_cents IS NULL".to_owned(),
        ),
        (
            json!({"categoryIds": [global_id("Category", root)], "colors": ["black", "white", "beige"],
                   "price": {"max": 20000}, "onSale": false}),
            format!(
                "{under_root} AND p.color IN ('black', 'white', 'beige') AND {PRICE} <= 20000 AND p.sale_price_cents IS NULL"
            ),
        ),
        (
            json!({"categoryIds": [global_id("Category", 999_999)]}),
            "FALSE".to_owned(),
        ),
    ];
    for (filter, condition) in cases {
        let expected = scalar(
            &db,
            &format!("SELECT COUNT(*) FROM products p WHERE {condition}"),
        )
        .await;
        assert_eq!(total(&app, "", filter.clone()).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn each_facet_counts_under_every_filter_but_its_own() {
    let app = app();
    let db = sql(&app.database).await;
    let brand = scalar(
        &db,
        "SELECT brand_id FROM products GROUP BY brand_id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    .await;
    let filter = json!({"brandIds": [global_id("Brand", brand)], "colors": ["black", "white"], "price": {"max": 15000}});
    let data = app
        .query(
            "query($f: ProductFilter) { searchProducts(filter: $f, first: 0) { totalCount facets {
               brands { brand { databaseId } count } colors { color count }
               categories { category { databaseId } count } priceRanges { min max count } } } }",
            json!({"f": filter}),
        )
        .await;
    let facets = &data["searchProducts"]["facets"];
    let colors = "p.color IN ('black', 'white')";
    let price = format!("{PRICE} <= 15000");
    let by_brand = |v: &Value| {
        (
            v["brand"]["databaseId"].as_i64().unwrap(),
            v["count"].as_i64().unwrap(),
        )
    };
    let by_color = |v: &Value| {
        (
            v["color"].as_str().unwrap().to_owned(),
            v["count"].as_i64().unwrap(),
        )
    };

    let mut got: Vec<(i64, i64)> = facets["brands"]
        .as_array()
        .unwrap()
        .iter()
        .map(by_brand)
        .collect();
    got.sort();
    let expected: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT brand_id, COUNT(*) FROM products p WHERE {colors} AND {price} GROUP BY brand_id ORDER BY brand_id"
    ))
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(
        expected.len() > 1,
        "the brand facet has more than the filtered brand"
    );
    assert_eq!(got, expected, "brands ignore the brand filter");

    let mut got: Vec<(String, i64)> = facets["colors"]
        .as_array()
        .unwrap()
        .iter()
        .map(by_color)
        .collect();
    got.sort();
    let expected: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT color, COUNT(*) FROM products p WHERE brand_id = {brand} AND {price} GROUP BY color ORDER BY color"
    ))
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(
        expected.len() > 2,
        "the color facet has more than the filtered colors"
    );
    assert_eq!(got, expected, "colors ignore the color filter");

    // A product counts for its category and every ancestor.
    let mut got: Vec<(i64, i64)> = facets["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["category"]["databaseId"].as_i64().unwrap(),
                v["count"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let expected: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT c.id, COUNT(*) FROM products p JOIN categories l ON l.id = p.category_id
         LEFT JOIN categories m ON m.id = l.parent_id
         JOIN categories c ON c.id IN (l.id, m.id, m.parent_id)
         WHERE brand_id = {brand} AND {colors} AND {price} GROUP BY c.id ORDER BY c.id"
    ))
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(!expected.is_empty());
    assert_eq!(got, expected, "categories apply every filter");

    // Price buckets ignore the price filter.
    let buckets = facets["priceRanges"].as_array().unwrap();
    assert_eq!(buckets.len(), 6);
    assert!(
        buckets.iter().any(
            |b| b["min"].as_i64().is_some_and(|m| m >= 15_000) && b["count"].as_i64() > Some(0)
        ),
        "a bucket above the price filter still counts: {buckets:?}"
    );
    for bucket in buckets {
        let min = bucket["min"]
            .as_i64()
            .map_or("TRUE".to_owned(), |m| format!("{PRICE} >= {m}"));
        let max = bucket["max"]
            .as_i64()
            .map_or("TRUE".to_owned(), |m| format!("{PRICE} < {m}"));
        let expected = scalar(&db, &format!(
            "SELECT COUNT(*) FROM products p WHERE brand_id = {brand} AND {colors} AND {min} AND {max}"
        ))
        .await;
        assert_eq!(bucket["count"], expected, "{bucket}");
    }
}

/// Walks every page of a sorted search and returns the product ids in order.
async fn walk(app: &TestApp, sort: &str, filter: &Value, page: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                "query($s: ProductSort!, $f: ProductFilter, $n: Int, $a: String) {
                   searchProducts(sort: $s, filter: $f, first: $n, after: $a) {
                     nodes { databaseId } pageInfo { hasNextPage endCursor } } }",
                json!({"s": sort, "f": filter, "n": page, "a": after}),
            )
            .await;
        let result = &data["searchProducts"];
        ids.extend(
            result["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["databaseId"].as_i64().unwrap()),
        );
        if !result["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return ids;
        }
        after = result["pageInfo"]["endCursor"].clone();
        assert!(ids.len() < 10_000, "pagination does not end");
    }
}

#[tokio::test]
async fn every_sort_order_is_correct_across_pages_and_returns_each_match_once() {
    let app = app();
    let db = sql(&app.database).await;
    let root = scalar(
        &db,
        "SELECT id FROM categories WHERE parent_id IS NULL ORDER BY position LIMIT 1",
    )
    .await;
    let filter = json!({"categoryIds": [global_id("Category", root)]});
    let under = UNDER.replace("{c}", &root.to_string());
    for (sort, order) in [
        ("PRICE_ASC", format!("{PRICE} ASC, p.id ASC")),
        ("PRICE_DESC", format!("{PRICE} DESC, p.id ASC")),
        ("NEWEST", "p.created_at DESC, p.id DESC".to_owned()),
        ("POPULAR", "p.like_count DESC, p.id ASC".to_owned()),
        // Without a query every product scores the same: the id breaks the tie.
        ("RELEVANCE", "p.id ASC".to_owned()),
    ] {
        let expected: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT p.id FROM products p WHERE {under} ORDER BY {order}"
        ))
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(
            expected.len() > 30,
            "the fixture has enough products to page"
        );
        assert_eq!(walk(&app, sort, &filter, 13).await, expected, "{sort}");
    }
}

#[tokio::test]
async fn text_search_matches_brands_and_tolerates_a_typo() {
    let app = app();
    let db = sql(&app.database).await;
    let (brand_id, name): (i32, String) = sqlx::query_as(
        "SELECT b.id, b.name FROM brands b JOIN products p ON p.brand_id = b.id
         WHERE b.name NOT LIKE '% %' GROUP BY b.id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let of_brand: Vec<i64> = sqlx::query_scalar("SELECT id FROM products WHERE brand_id = ?")
        .bind(brand_id)
        .fetch_all(&db)
        .await
        .unwrap();
    // A letter swapped in the middle: one edit, within the fuzziness.
    let mut typo: Vec<char> = name.chars().collect();
    let middle = typo.len() / 2;
    typo.swap(middle - 1, middle);
    let typo: String = typo.into_iter().collect();
    for text in [name.clone(), name.to_uppercase(), typo] {
        let data = app
            .query(
                "query($q: String) { searchProducts(query: $q, first: 100) { totalCount nodes { databaseId brand { databaseId } } } }",
                json!({"q": text}),
            )
            .await;
        let nodes = data["searchProducts"]["nodes"].as_array().unwrap();
        let found: Vec<i64> = nodes
            .iter()
            .map(|n| n["databaseId"].as_i64().unwrap())
            .collect();
        assert!(
            of_brand.iter().all(|id| found.contains(id)),
            "{text}: every product of {name} is found"
        );
        assert_eq!(
            nodes[0]["brand"]["databaseId"], brand_id,
            "{text}: the brand ranks first"
        );
    }
}

#[tokio::test]
async fn hostile_or_odd_input_gives_results_or_bad_user_input_never_internal() {
    let app = app();
    let db = sql(&app.database).await;
    let all = scalar(&db, "SELECT COUNT(*) FROM products").await;
    for text in [
        "\"",
        "name:(*) AND \\ OR",
        "*",
        "brand_name:x^9",
        "((((",
        "   ",
        "ünïcødé 🧥",
        "/regex.*/",
    ] {
        let (status, body) = app
            .post("/graphql", json!({"query": "query($q: String) { searchProducts(query: $q) { totalCount } }", "variables": {"q": text}}))
            .await;
        assert_eq!(status, 200, "{text}");
        assert!(body.get("errors").is_none(), "{text}: {body}");
    }
    assert_eq!(
        total(&app, "   ", json!({})).await,
        all,
        "blank text matches everything"
    );

    let brands_cursor = app
        .query("{ brands(first: 1) { pageInfo { endCursor } } }", json!({}))
        .await["brands"]["pageInfo"]["endCursor"]
        .clone();
    let price_cursor = app
        .query(
            "{ searchProducts(sort: PRICE_ASC, first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["searchProducts"]["pageInfo"]["endCursor"]
        .clone();
    let long = "a".repeat(300);
    let bad = [
        json!({"query": "query($q: String) { searchProducts(query: $q) { totalCount } }", "variables": {"q": long}}),
        json!({"query": "query($a: String) { searchProducts(after: $a) { totalCount } }", "variables": {"a": "garbage"}}),
        json!({"query": "query($a: String) { searchProducts(after: $a) { totalCount } }", "variables": {"a": brands_cursor}}),
        json!({"query": "query($a: String) { searchProducts(sort: NEWEST, after: $a) { totalCount } }", "variables": {"a": price_cursor}}),
        json!({"query": "{ searchProducts(first: 101) { totalCount } }"}),
        json!({"query": "{ searchProducts(filter: {price: {min: 900, max: 100}}) { totalCount } }"}),
        json!({"query": "query($b: [ID!]) { searchProducts(filter: {categoryIds: $b}) { totalCount } }", "variables": {"b": [global_id("Brand", 1)]}}),
        json!({"query": "{ suggest(prefix: \"a\", first: 51) { text } }"}),
        json!({"query": "{ product(databaseId: 1) { similar(first: -1) { id } } }"}),
    ];
    for request in bad {
        let (status, body) = app.post("/graphql", request.clone()).await;
        assert_eq!(status, 200, "{request}");
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{request}: {body}");
    }
}

#[tokio::test]
async fn a_search_page_costs_one_search_and_one_statement_per_entity_type() {
    let database = fixture_database();
    let mysql = mysql_handle(database, 2);
    let es = elasticsearch_handle(&elasticsearch_url());
    let args = serve_args(
        &database_url(database),
        &[
            "--elasticsearch-index",
            fixture_alias(),
            "--loader-delay-us",
            "20000",
            "--max-complexity",
            "1000000",
        ],
    );
    let app = TestApp::with_parts(&args, mysql.clone(), es.clone());
    let (statements, requests) = (mysql.statements(), es.requests());
    let data = app
        .query(
            "{ searchProducts(query: \"dress\", first: 24) { totalCount
                 nodes { name currentPrice { formatted } brand { name } }
                 facets { brands { brand { name } count } colors { color count } priceRanges { count } } } }",
            json!({}),
        )
        .await;
    assert!(
        !data["searchProducts"]["nodes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(es.requests() - requests, 1, "one search request");
    // Products, then brands (of the hits and of the brand facet, batched together).
    assert_eq!(mysql.statements() - statements, 2, "statements");

    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM products ORDER BY id LIMIT 10")
        .fetch_all(&sql(database).await)
        .await
        .unwrap();
    let ids: Vec<String> = ids.iter().map(|&id| global_id("Product", id)).collect();
    let requests = es.requests();
    let data = app
        .query(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { databaseId similar(first: 3) { databaseId } } } }",
            json!({"ids": ids}),
        )
        .await;
    assert_eq!(
        es.requests() - requests,
        1,
        "similar on 10 products is one request"
    );
    for node in data["nodes"].as_array().unwrap() {
        let similar = node["similar"].as_array().unwrap();
        assert!(!similar.is_empty(), "{node}");
        assert!(
            similar
                .iter()
                .all(|s| s["databaseId"] != node["databaseId"]),
            "a product is not similar to itself"
        );
    }
}

#[tokio::test]
async fn suggest_completes_brand_and_product_names() {
    let app = app();
    let db = sql(&app.database).await;
    let (brand_id, brand): (i32, String) =
        sqlx::query_as("SELECT id, name FROM brands ORDER BY id LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    let prefix: String = brand.chars().take(3).collect::<String>().to_lowercase();
    let data = app
        .query(
            "query($p: String!) { suggest(prefix: $p, first: 5) { text type brand { databaseId } product { name } } }",
            json!({"p": prefix}),
        )
        .await;
    let suggestions = data["suggest"].as_array().unwrap();
    assert!(
        suggestions
            .iter()
            .any(|s| s["type"] == "BRAND" && s["brand"]["databaseId"] == brand_id),
        "{prefix}: {suggestions:?}"
    );
    for s in suggestions {
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .starts_with(&prefix),
            "{s}"
        );
        if s["type"] == "PRODUCT" {
            assert!(
                s["product"]["name"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .starts_with(&prefix),
                "{s}"
            );
        }
    }
    let data = app
        .query("{ suggest(prefix: \"  \") { text } }", json!({}))
        .await;
    assert_eq!(data["suggest"], json!([]));
}

/// Answers are filtered to what the gateway reads (`filter_path`), and Elasticsearch leaves
/// an empty list out of a filtered answer: a search, a suggestion and similar products with
/// nothing to return are empty, not errors.
#[tokio::test]
async fn searches_that_find_nothing_answer_empty_lists_not_errors() {
    let app = app();
    let db = sql(&app.database).await;
    let word = "qqxzvvq";
    let named = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM products WHERE name LIKE '%{word}%' OR description LIKE '%{word}%'"),
    )
    .await;
    assert_eq!(named, 0, "the fixture has no product named {word}");
    let (_, body) = app
        .post("/graphql", json!({
            "query": "query($q: String!) { searchProducts(query: $q, first: 5) { totalCount nodes { id } \
                edges { cursor } pageInfo { hasNextPage } \
                facets { brands { count } categories { count } colors { count } priceRanges { count } } }
              suggest(prefix: $q) { text }
              product(databaseId: 1) { similar(first: 0) { id } } }",
            "variables": { "q": word },
        }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let data = &body["data"];
    let found = &data["searchProducts"];
    assert_eq!(found["totalCount"], 0, "{found}");
    assert_eq!(found["nodes"], json!([]));
    assert_eq!(found["edges"], json!([]));
    assert_eq!(found["pageInfo"]["hasNextPage"], false);
    for facet in ["brands", "categories", "colors"] {
        assert_eq!(found["facets"][facet], json!([]), "{facet}");
    }
    let ranges = found["facets"]["priceRanges"].as_array().unwrap();
    assert!(ranges.iter().all(|r| r["count"] == 0), "{ranges:?}");
    assert_eq!(data["suggest"], json!([]));
    assert_eq!(data["product"]["similar"], json!([]));
}

#[tokio::test]
async fn elasticsearch_down_fails_only_the_search_fields() {
    let database = fixture_database();
    let args = serve_args(
        &database_url(database),
        &["--elasticsearch-index", fixture_alias()],
    );
    let app = TestApp::with_parts(
        &args,
        mysql_handle(database, 2),
        elasticsearch_handle("http://127.0.0.1:1"),
    );
    let (status, body) = app
        .post(
            "/graphql",
            json!({"query": "{ searchProducts(query: \"dress\") { totalCount } suggest(prefix: \"a\") { text }
                              brands(first: 1) { totalCount } product(databaseId: 1) { name similar { id } } }"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"; 3], "{body}");
    assert_eq!(body["data"]["searchProducts"], Value::Null);
    assert_eq!(body["data"]["suggest"], Value::Null);
    assert!(body["data"]["brands"]["totalCount"].as_i64().unwrap() > 0);
    assert!(body["data"]["product"]["name"].is_string());
    assert_eq!(body["data"]["product"]["similar"], Value::Null);
}

#[tokio::test]
async fn words_spread_over_brand_and_name_find_the_product() {
    let app = app();
    let db = sql(&app.database).await;
    // A brand name of one word and a word of one of its products' categories.
    let (id, brand, category): (i32, String, String) = sqlx::query_as(
        "SELECT p.id, b.name, c.name FROM products p JOIN brands b ON b.id = p.brand_id
         JOIN categories c ON c.id = p.category_id
         WHERE b.name NOT LIKE '% %' AND c.name NOT LIKE '% %' ORDER BY p.id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let text = format!("{brand} {category}");
    let data = app
        .query(
            "query($q: String) { searchProducts(query: $q, first: 100) { nodes { databaseId } } }",
            json!({"q": text}),
        )
        .await;
    let found: Vec<i64> = database_ids(&data["searchProducts"]["nodes"]);
    assert!(
        found.contains(&(id as i64)),
        "{text:?} finds product {id}: {found:?}"
    );
}
