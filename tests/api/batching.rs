//! DataLoaders batch: a page of products with their brand, shop and category costs one SQL
//! statement per entity type, whatever the number of products. Counted twice: by the
//! gateway's own statement counter and by MariaDB's `Com_select` status on the single
//! connection the gateway is given.

use serde_json::json;

use crate::helpers::{counting_app, database_ids, fixture_database, sql, statements_of};

const QUERY: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product {
    name price { formatted } brand { name } shop { name country }
    category { name path { slug } } } } }";

/// Statements counted by the gateway and by the server for one query over `n` products.
async fn statements_for(n: usize) -> (u64, u64) {
    let database = fixture_database();
    // One connection, so the server's per-session counter sees every statement.
    let (app, mysql) = counting_app(1, &[]);
    let db = sql(database).await;
    let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM products ORDER BY id LIMIT ?")
        .bind(n as i64)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(ids.len(), n, "the fixture has at least {n} products");
    let global_ids: Vec<String> = ids
        .iter()
        .map(|id| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Product:{id}"))
        })
        .collect();

    let server_count = || async {
        let (_, value): (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Com_select'")
            .fetch_one(mysql.pool())
            .await
            .unwrap();
        value.parse::<u64>().unwrap()
    };
    // Reading the counter may count itself: measure that with nothing in between.
    let idle = server_count().await;
    let server_before = server_count().await;
    let overhead = server_before - idle;
    let gateway_before = mysql.statements();
    let data = app.query(QUERY, json!({"ids": global_ids})).await;
    let gateway = mysql.statements() - gateway_before;
    let server = server_count().await - server_before - overhead;

    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), n);
    assert!(
        nodes
            .iter()
            .all(|p| p["brand"]["name"].is_string() && p["shop"]["name"].is_string())
    );
    (gateway, server)
}

#[tokio::test]
async fn fifty_products_with_brand_shop_and_category_cost_the_same_statements_as_two() {
    let (gateway_2, server_2) = statements_for(2).await;
    let (gateway_50, server_50) = statements_for(50).await;
    // products, brands, shops and category paths: one statement each. The categories come
    // with their paths (a path ends with its category), so they cost none of their own.
    assert_eq!(server_50, 4, "statements the server ran for 50 products");
    assert_eq!(
        server_2, server_50,
        "statements must not grow with the page"
    );
    assert_eq!(
        gateway_50, server_50,
        "the gateway's counter agrees with the server"
    );
    assert_eq!(gateway_2, server_2);
}

/// Statements and data for a list of `brands` brands, each with its first products.
async fn brand_list(brands: usize) -> (u64, serde_json::Value) {
    let (app, mysql) = counting_app(2, &[]);
    let (statements, data) = statements_of(
        &app,
        &mysql,
        "query($n: Int!) { brands(first: $n) { nodes { databaseId
               products(first: 3) { totalCount nodes { databaseId shop { name } } } } } }",
        json!({"n": brands}),
    )
    .await;
    (statements, data)
}

#[tokio::test]
async fn connections_inside_a_list_cost_the_same_statements_for_two_brands_or_twelve() {
    let (two, _) = brand_list(2).await;
    let (twelve, data) = brand_list(12).await;
    // brands page, products first pages (each counted in its own branch), shops.
    assert_eq!(twelve, 3);
    assert_eq!(two, twelve);

    let db = sql(fixture_database()).await;
    let brands = data["brands"]["nodes"].as_array().unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(brands.len() as i64, total.min(12));
    for brand in brands {
        let id = brand["databaseId"].as_i64().unwrap();
        let newest: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM products WHERE brand_id = ? ORDER BY id DESC")
                .bind(id)
                .fetch_all(&db)
                .await
                .unwrap();
        let products = &brand["products"];
        assert_eq!(products["totalCount"], newest.len(), "brand {id}");
        let got: Vec<i64> = database_ids(&products["nodes"]);
        assert_eq!(
            got,
            newest.into_iter().take(3).collect::<Vec<_>>(),
            "brand {id}"
        );
    }
}

#[tokio::test]
async fn category_lists_count_their_subtrees_in_one_statement() {
    let database = fixture_database();
    let (app, mysql) = counting_app(2, &[]);
    let (statements, data) = statements_of(
        &app,
        &mysql,
        "{ categories { children { slug products(first: 2) { totalCount nodes { databaseId } } } } }",
        json!({}),
    )
    .await;
    // roots, children, the children's subtrees, first pages with their counts.
    assert_eq!(statements, 4);
    let db = sql(database).await;
    for root in data["categories"].as_array().unwrap() {
        for child in root["children"].as_array().unwrap() {
            let slug = child["slug"].as_str().unwrap();
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM products p JOIN categories leaf ON leaf.id = p.category_id
                 JOIN categories mid ON mid.id = leaf.parent_id WHERE mid.slug = ?",
            )
            .bind(slug)
            .fetch_one(&db)
            .await
            .unwrap();
            assert_eq!(child["products"]["totalCount"], count, "{slug}");
            assert_eq!(
                child["products"]["nodes"].as_array().unwrap().len() as i64,
                count.min(2)
            );
        }
    }
}

/// The products of the category `slug` and every category below it, counted by SQL.
async fn subtree_products(db: &sqlx::MySqlPool, slug: &str) -> i64 {
    sqlx::query_scalar(
        "WITH RECURSIVE sub (id) AS (SELECT id FROM categories WHERE slug = ?
           UNION SELECT c.id FROM categories c JOIN sub s ON c.parent_id = s.id)
         SELECT COUNT(*) FROM products WHERE category_id IN (SELECT id FROM sub)",
    )
    .bind(slug)
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_list_whose_count_alone_is_read_loads_no_page() {
    let database = fixture_database();
    let (app, mysql) = counting_app(2, &[]);
    let (statements, data) = statements_of(
        &app,
        &mysql,
        "{ categories { slug products(first: 50) { totalCount } } \
           brands(first: 5) { nodes { databaseId products(first: 50) { totalCount } } } }",
        json!({}),
    )
    .await;
    // roots, the roots' counts, brands, the brands' counts: no page of products.
    assert_eq!(statements, 4);
    let db = sql(database).await;
    for root in data["categories"].as_array().unwrap() {
        let slug = root["slug"].as_str().unwrap();
        let count = subtree_products(&db, slug).await;
        assert_eq!(root["products"]["totalCount"], count, "{slug}");
    }
    for brand in data["brands"]["nodes"].as_array().unwrap() {
        let id = brand["databaseId"].as_i64().unwrap();
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE brand_id = ?")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(brand["products"]["totalCount"], count, "brand {id}");
    }
}

#[tokio::test]
async fn a_categorys_count_is_kept_as_long_as_a_category_may_be_cached() {
    let database = fixture_database();
    let (app, mysql) = counting_app(2, &[]);
    let counts = "{ categories { slug products(first: 5) { totalCount } } }";
    let (first, data) = statements_of(&app, &mysql, counts, json!({})).await;
    // The roots, their counts; then the roots alone: the counts are kept.
    assert_eq!(first, 2);
    let (again, same) = statements_of(&app, &mysql, counts, json!({})).await;
    assert_eq!(again, 1);
    assert_eq!(same, data);
    // A page that shows the count takes the kept one, and it is the table's.
    let paged = "{ categories { slug products(first: 2) { totalCount nodes { databaseId } } } }";
    let (_, paged) = statements_of(&app, &mysql, paged, json!({})).await;
    let db = sql(database).await;
    for (root, counted) in
        (paged["categories"].as_array().unwrap().iter()).zip(data["categories"].as_array().unwrap())
    {
        let slug = root["slug"].as_str().unwrap();
        let count = subtree_products(&db, slug).await;
        assert_eq!(root["products"]["totalCount"], count, "{slug}");
        assert_eq!(counted["products"]["totalCount"], count, "{slug}");
    }
}

#[tokio::test]
async fn a_community_list_whose_count_alone_is_read_loads_no_page() {
    let database = fixture_database();
    let (app, mysql) = counting_app(2, &[]);
    let (statements, data) = statements_of(
        &app,
        &mysql,
        "{ collages(first: 4) { nodes { author { username collages(first: 50) { totalCount } \
           likedProducts(first: 50) { totalCount } } } } }",
        json!({}),
    )
    .await;
    // the feed, its authors, their collage counts, their like counts: no page of either.
    assert_eq!(statements, 4);
    let db = sql(database).await;
    for collage in data["collages"]["nodes"].as_array().unwrap() {
        let author = &collage["author"];
        let username = author["username"].as_str().unwrap();
        let (collages, likes): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM collages c JOIN users u ON u.id = c.user_id
                     WHERE u.username = ?),
                    (SELECT COUNT(*) FROM product_likes l JOIN users u ON u.id = l.user_id
                     WHERE u.username = ?)",
        )
        .bind(username)
        .bind(username)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(author["collages"]["totalCount"], collages, "{username}");
        assert_eq!(author["likedProducts"]["totalCount"], likes, "{username}");
    }
}

#[tokio::test]
async fn a_first_page_counts_its_list_in_its_own_statement_empty_lists_too() {
    let database = fixture_database();
    let db = sql(database).await;
    // A product used in collages, and one used in none; a user with likes and one without.
    let (used, unused): (i32, i32) = sqlx::query_as(
        "SELECT (SELECT product_id FROM collage_items GROUP BY product_id
                 ORDER BY COUNT(DISTINCT collage_id) DESC, product_id LIMIT 1),
                (SELECT id FROM products WHERE id NOT IN (SELECT product_id FROM collage_items)
                 ORDER BY id LIMIT 1)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let uses: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT collage_id) FROM collage_items WHERE product_id = ?",
    )
    .bind(used)
    .fetch_one(&db)
    .await
    .unwrap();
    let newest: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT collage_id FROM collage_items WHERE product_id = ? ORDER BY collage_id DESC",
    )
    .bind(used)
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(uses > 1, "the fixture has a product in several collages");

    let (app, mysql) = counting_app(2, &[]);
    let query = "query($a: Int!, $b: Int!) {
        a: product(databaseId: $a) { collages(first: 1) { totalCount nodes { databaseId } } }
        b: product(databaseId: $b) { collages(first: 1) { totalCount nodes { databaseId } } } }";
    let (statements, data) =
        statements_of(&app, &mysql, query, json!({"a": used, "b": unused})).await;
    // The two products, then their first pages with their counts: no count statement.
    assert_eq!(statements, 2, "{data}");
    assert_eq!(data["a"]["collages"]["totalCount"], uses);
    assert_eq!(database_ids(&data["a"]["collages"]["nodes"]), newest[..1]);
    assert_eq!(data["b"]["collages"]["totalCount"], 0);
    assert_eq!(data["b"]["collages"]["nodes"], json!([]));

    // The same connection with and without its count in one operation: both right, and
    // the page without it is not counted by a statement of its own either.
    let query = "query($a: Int!) { product(databaseId: $a) {
        counted: collages(first: 2) { totalCount nodes { databaseId } }
        plain: collages(first: 3) { nodes { databaseId } } } }";
    let (statements, data) = statements_of(&app, &mysql, query, json!({"a": used})).await;
    assert_eq!(statements, 2, "{data}");
    let product = &data["product"];
    assert_eq!(product["counted"]["totalCount"], uses);
    assert_eq!(database_ids(&product["counted"]["nodes"]), newest[..2]);
    let three = newest.len().min(3);
    assert_eq!(database_ids(&product["plain"]["nodes"]), newest[..three]);
}

#[tokio::test]
async fn statements_that_run_to_their_end_keep_their_connection_without_a_ping() {
    let (app, mysql) = counting_app(1, &[]);
    // The pool's one connection answers everything: its session counts its pings.
    let pings = || async {
        let (_, value): (String, String) =
            sqlx::query_as("SHOW SESSION STATUS LIKE 'Com_admin_commands'")
                .fetch_one(mysql.pool())
                .await
                .unwrap();
        value.parse::<u64>().unwrap()
    };
    // Statements and pings of asking `query` three times; each answer has two collages.
    let three_times = async |query: &str| {
        let before = pings().await;
        let mut statements = 0;
        for _ in 0..3 {
            let (made, data) = statements_of(&app, &mysql, query, json!({})).await;
            assert_eq!(data["collages"]["nodes"].as_array().map(Vec::len), Some(2));
            statements += made;
        }
        (statements, pings().await - before)
    };
    // One field a level: each statement waits for the one before it (and none reads what
    // the catalog keeps between requests, see `recent`).
    let chain = "{ collages(first: 2) { nodes { author { collages(first: 2) { nodes { \
                 items { product { name } } } } } } } }";
    let (statements, made) = three_times(chain).await;
    // What the questions cost, whatever ran between them: the pool pings the connection
    // when the first question gives it back and before the first statement takes it (the
    // tests' pool tests connections before use), and so again around the second question.
    // A ping after every statement would have made one each.
    assert!(statements >= 12, "{statements}");
    assert!(made <= 4, "{made} pings for {statements} statements");

    // Three root fields of three loaders: their statements start together, and two wait
    // for the one connection. Each that ends hands it to the next, unpinged; giving it back
    // through the pool would have pinged it for each waiting statement.
    let side_by_side = "{ brands(first: 2) { nodes { name } } \
                        categories { name } \
                        collages(first: 2) { nodes { title } } }";
    let (statements, made) = three_times(side_by_side).await;
    assert!(statements >= 9, "{statements}");
    assert!(made <= 4, "{made} pings for {statements} statements");
}

#[tokio::test]
async fn closing_gives_back_the_kept_connections_and_does_not_wait_for_them() {
    let (app, mysql) = counting_app(2, &[]);
    let (statements, _) = statements_of(
        &app,
        &mysql,
        "{ brands(first: 2) { nodes { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(statements, 1);
    // The statement's connection is kept, checked out of the pool, which closes only when
    // every connection is back.
    tokio::time::timeout(std::time::Duration::from_secs(1), mysql.close())
        .await
        .expect("the pool closes at once");
}
