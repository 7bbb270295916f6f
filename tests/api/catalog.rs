//! The catalog module against the seeded MariaDB: every expected value comes from SQL in
//! the test.

use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{TestApp, database_ids, error_codes, sql};

#[tokio::test]
async fn product_by_database_id_returns_what_mysql_holds() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    // An on-sale product, so both prices are checked.
    let row = sqlx::query(
        "SELECT p.id, p.name, p.color, p.price_cents, p.sale_price_cents, p.currency, \
         b.name AS brand, s.slug AS shop, c.name AS category, parent.name AS parent, \
         root.name AS root FROM products p JOIN brands b ON b.id = p.brand_id \
         JOIN shops s ON s.id = p.shop_id JOIN categories c ON c.id = p.category_id \
         JOIN categories parent ON parent.id = c.parent_id \
         JOIN categories root ON root.id = parent.parent_id \
         WHERE p.sale_price_cents IS NOT NULL ORDER BY p.id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let id: i32 = row.get("id");
    let data = app
        .query(
            "query($id: Int!) { product(databaseId: $id) { databaseId name color onSale
               price { amount currency minorUnits } salePrice { minorUnits }
               currentPrice { minorUnits }
               brand { name } shop { slug } category { name path { name } } } }",
            json!({"id": id}),
        )
        .await;
    let product = &data["product"];
    let price: i32 = row.get("price_cents");
    let sale: i32 = row.get::<Option<i32>, _>("sale_price_cents").unwrap();
    assert_eq!(product["databaseId"], id);
    assert_eq!(product["name"], row.get::<String, _>("name"));
    assert_eq!(product["color"], row.get::<String, _>("color"));
    assert_eq!(product["onSale"], true);
    assert_eq!(product["price"]["minorUnits"], price);
    assert_eq!(
        product["price"]["amount"],
        format!("{}.{:02}", price / 100, price % 100)
    );
    assert_eq!(
        product["price"]["currency"],
        row.get::<String, _>("currency")
    );
    assert_eq!(product["salePrice"]["minorUnits"], sale);
    assert_eq!(product["currentPrice"]["minorUnits"], sale);
    assert_eq!(product["brand"]["name"], row.get::<String, _>("brand"));
    assert_eq!(product["shop"]["slug"], row.get::<String, _>("shop"));
    assert_eq!(
        product["category"]["name"],
        row.get::<String, _>("category")
    );
    let path: Vec<&str> = product["category"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected = [
        row.get::<String, _>("root"),
        row.get::<String, _>("parent"),
        row.get::<String, _>("category"),
    ];
    assert_eq!(path, expected);
}

#[tokio::test]
async fn global_ids_refetch_the_same_objects_through_node_and_nodes() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let (product_id, brand_slug): (i32, String) = sqlx::query_as(
        "SELECT p.id, b.slug FROM products p JOIN brands b ON b.id = p.brand_id ORDER BY p.id DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let data = app
        .query(
            "query($id: Int!, $slug: String!) { product(databaseId: $id) { id brand { id } }
               brand(slug: $slug) { id slug } }",
            json!({"id": product_id, "slug": brand_slug}),
        )
        .await;
    let product_gid = data["product"]["id"].as_str().unwrap().to_owned();
    let brand_gid = data["brand"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["product"]["brand"]["id"], brand_gid);

    let refetched = app
        .query(
            "query($p: ID!, $ids: [ID!]!) {
               node(id: $p) { id ... on Product { databaseId } }
               nodes(ids: $ids) { __typename id ... on Brand { slug } ... on Product { databaseId } } }",
            json!({"p": product_gid, "ids": [brand_gid, product_gid]}),
        )
        .await;
    assert_eq!(refetched["node"]["databaseId"], product_id);
    assert_eq!(refetched["nodes"][0]["__typename"], "Brand");
    assert_eq!(refetched["nodes"][0]["slug"], brand_slug);
    assert_eq!(refetched["nodes"][1]["databaseId"], product_id);
}

/// Slugs and usernames are compared as MySQL's collation compares them, without regard to
/// case: a link typed with capitals finds the same object, under the key it asked for.
#[tokio::test]
async fn slugs_and_usernames_are_found_whatever_their_case() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let (brand, shop, category, username): (String, String, String, String) = sqlx::query_as(
        "SELECT (SELECT slug FROM brands ORDER BY id LIMIT 1), (SELECT slug FROM shops ORDER BY id LIMIT 1),
                (SELECT slug FROM categories ORDER BY id LIMIT 1), (SELECT username FROM users ORDER BY id LIMIT 1)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let query = "query($b: String!, $s: String!, $c: String!, $u: String!) {
        brand(slug: $b) { slug } shop(slug: $s) { slug } category(slug: $c) { slug }
        user(username: $u) { username } }";
    let exact = app
        .query(
            query,
            json!({"b": brand, "s": shop, "c": category, "u": username}),
        )
        .await;
    assert_eq!(exact["brand"]["slug"], brand.as_str());
    assert_eq!(exact["user"]["username"], username.as_str());
    let shouted = app
        .query(
            query,
            json!({"b": brand.to_uppercase(), "s": shop.to_uppercase(),
                   "c": category.to_uppercase(), "u": username.to_uppercase()}),
        )
        .await;
    assert_eq!(shouted, exact);
    // Both cases in one operation: one object each, each under its own key.
    let both = app
        .query(
            "query($a: String!, $b: String!) { a: brand(slug: $a) { slug } b: brand(slug: $b) { slug } }",
            json!({"a": brand, "b": brand.to_uppercase()}),
        )
        .await;
    assert_eq!(both["a"], both["b"]);
    assert_eq!(both["a"]["slug"], brand.as_str());
}

#[tokio::test]
async fn missing_objects_are_null_not_errors() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let max: i32 = sqlx::query_scalar("SELECT MAX(id) FROM products")
        .fetch_one(&db)
        .await
        .unwrap();
    let data = app
        .query(
            "query($id: Int!) { product(databaseId: $id) { id } brand(slug: \"no-such-brand\") { id }
               category(slug: \"no-such-category\") { id } shop(slug: \"nope\") { id } }",
            json!({"id": max + 1}),
        )
        .await;
    for field in ["product", "brand", "category", "shop"] {
        assert_eq!(data[field], Value::Null, "{field}");
    }
}

#[tokio::test]
async fn brands_page_through_every_brand_in_name_order() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let expected: Vec<String> = sqlx::query_scalar("SELECT slug FROM brands ORDER BY name, id")
        .fetch_all(&db)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                "query($after: String) { brands(first: 5, after: $after) { totalCount
                   edges { cursor node { slug } } pageInfo { hasNextPage endCursor } } }",
                json!({"after": after}),
            )
            .await;
        let brands = &data["brands"];
        assert_eq!(brands["totalCount"], expected.len());
        let edges = brands["edges"].as_array().unwrap();
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["slug"].as_str().unwrap().to_owned()),
        );
        if !brands["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert_eq!(
            brands["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        after = brands["pageInfo"]["endCursor"].clone();
        assert!(seen.len() <= expected.len(), "pagination does not end");
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_category_lists_the_products_of_all_its_descendants() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    // Counted with explicit joins over the three levels rather than the gateway's CTE.
    let (root_slug, total): (String, i64) = sqlx::query_as(
        "SELECT root.slug, COUNT(p.id) FROM categories root
         JOIN categories mid ON mid.parent_id = root.id
         JOIN categories leaf ON leaf.parent_id = mid.id
         JOIN products p ON p.category_id = leaf.id
         WHERE root.parent_id IS NULL GROUP BY root.id ORDER BY root.position LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let newest: Vec<i32> = sqlx::query_scalar(
        "SELECT p.id FROM products p JOIN categories leaf ON leaf.id = p.category_id
         JOIN categories mid ON mid.id = leaf.parent_id JOIN categories root ON root.id = mid.parent_id
         WHERE root.slug = ? ORDER BY p.id DESC LIMIT 7",
    )
    .bind(&root_slug)
    .fetch_all(&db)
    .await
    .unwrap();
    let data = app
        .query(
            "query($slug: String!) { category(slug: $slug) { parent { id }
               products(first: 7) { totalCount nodes { databaseId } pageInfo { hasNextPage } } } }",
            json!({"slug": root_slug}),
        )
        .await;
    let products = &data["category"]["products"];
    assert_eq!(data["category"]["parent"], Value::Null);
    assert_eq!(products["totalCount"], total);
    let ids: Vec<i64> = database_ids(&products["nodes"]);
    assert_eq!(ids, newest.iter().map(|&i| i as i64).collect::<Vec<_>>());
    assert_eq!(products["pageInfo"]["hasNextPage"], total > 7);
}

#[tokio::test]
async fn the_category_tree_matches_the_table() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let roots: Vec<(String, i64)> = sqlx::query_as(
        "SELECT r.slug, (SELECT COUNT(*) FROM categories c WHERE c.parent_id = r.id)
         FROM categories r WHERE r.parent_id IS NULL ORDER BY r.position, r.id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let data = app
        .query(
            "{ categories { slug children { slug parent { slug } } } }",
            json!({}),
        )
        .await;
    let got = data["categories"].as_array().unwrap();
    assert_eq!(got.len(), roots.len());
    for (category, (slug, children)) in got.iter().zip(&roots) {
        assert_eq!(category["slug"], *slug);
        let kids = category["children"].as_array().unwrap();
        assert_eq!(kids.len() as i64, *children);
        assert!(kids.iter().all(|k| k["parent"]["slug"] == *slug));
    }
}

#[tokio::test]
async fn bad_ids_cursors_and_page_sizes_are_bad_user_input() {
    let app = TestApp::new(&[]);
    let cases = [
        ("{ node(id: \"not-an-id\") { id } }", "node"),
        ("{ product(id: \"QnJhbmQ6MQ\") { id } }", "product"), // a Brand id
        ("{ product { id } }", "product"),
        ("{ brands(first: 101) { totalCount } }", "brands"),
        ("{ brands(first: -1) { totalCount } }", "brands"),
        ("{ brands(after: \"bogus\") { totalCount } }", "brands"),
    ];
    for (query, field) in cases {
        let (status, body) = app.post("/graphql", json!({"query": query})).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
        assert_eq!(body["errors"][0]["path"][0], field, "{query}");
        assert_eq!(body["data"][field], Value::Null, "{query}");
    }
}

#[tokio::test]
async fn product_pages_walk_a_brand_with_cursors_exactly_once() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let (slug, brand_id): (String, i32) = sqlx::query_as(
        "SELECT b.slug, b.id FROM brands b JOIN products p ON p.brand_id = b.id
         GROUP BY b.id ORDER BY COUNT(*) DESC, b.id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let expected: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM products WHERE brand_id = ? ORDER BY id DESC")
            .bind(brand_id)
            .fetch_all(&db)
            .await
            .unwrap();
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                "query($slug: String!, $after: String) { brand(slug: $slug) {
                   products(first: 7, after: $after) { totalCount nodes { databaseId }
                   pageInfo { hasNextPage endCursor } } } }",
                json!({"slug": slug, "after": after}),
            )
            .await;
        let products = &data["brand"]["products"];
        assert_eq!(products["totalCount"], expected.len());
        seen.extend(
            products["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["databaseId"].as_i64().unwrap()),
        );
        if !products["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = products["pageInfo"]["endCursor"].clone();
        assert!(seen.len() <= expected.len(), "pagination does not end");
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_zero_page_is_empty_and_says_more_follow() {
    let app = TestApp::new(&[]);
    let data = app
        .query("{ brands(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }", json!({}))
        .await;
    assert_eq!(data["brands"]["edges"], json!([]));
    assert_eq!(
        data["brands"]["pageInfo"],
        json!({"hasNextPage": true, "endCursor": null})
    );
}

#[tokio::test]
async fn the_path_of_a_root_is_the_root_alone() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let slug: String =
        sqlx::query_scalar("SELECT slug FROM categories WHERE parent_id IS NULL LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    let data = app
        .query(
            "query($s: String!) { category(slug: $s) { path { slug } } }",
            json!({"s": slug}),
        )
        .await;
    assert_eq!(data["category"]["path"], json!([{"slug": slug}]));
}

#[tokio::test]
async fn nodes_refuses_more_than_a_hundred_ids() {
    let app = TestApp::new(&[]);
    let ids: Vec<String> = (1..=101).map(|i| format!("id{i}")).collect();
    let (_, body) = app
        .post("/graphql", json!({"query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", "variables": {"ids": ids}}))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}

#[tokio::test]
async fn brands_with_equal_names_page_by_id_without_loss_or_repeat() {
    let database = crate::helpers::private_database("equal_names");
    let db = crate::helpers::create_migrated_database(&database).await;
    // Equal and case-variant names compare equal under the table's collation: the cursor's
    // id breaks the tie.
    for (slug, name) in [
        ("a1", "Acme"),
        ("b1", "ACME"),
        ("c1", "acme"),
        ("d1", "Zeta"),
        ("e1", "Acme"),
    ] {
        sqlx::query("INSERT INTO brands (slug, name) VALUES (?, ?)")
            .bind(slug)
            .bind(name)
            .execute(&db)
            .await
            .unwrap();
    }
    let expected: Vec<String> = sqlx::query_scalar("SELECT slug FROM brands ORDER BY name, id")
        .fetch_all(&db)
        .await
        .unwrap();
    let args = crate::helpers::serve_args(&crate::helpers::database_url(&database), &[]);
    let gateway = ogrom::run::Gateway::build(&args).unwrap();
    let app = TestApp {
        router: gateway.router,
        database: database.clone(),
    };
    let mut seen = Vec::new();
    let mut after = Value::Null;
    for _ in 0..10 {
        let data = app
            .query(
                "query($after: String) { brands(first: 1, after: $after) { nodes { slug }
                   pageInfo { hasNextPage endCursor } } }",
                json!({"after": after}),
            )
            .await;
        seen.extend(
            data["brands"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["slug"].as_str().unwrap().to_owned()),
        );
        if !data["brands"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = data["brands"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);
    db.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(&sql(crate::helpers::fixture_database()).await)
        .await;
}

#[tokio::test]
async fn huge_page_sizes_in_nested_connections_are_refused_not_overflowed() {
    let app = TestApp::new(&[]);
    let big = i32::MAX;
    let query = format!(
        "{{ brands(first: {big}) {{ nodes {{ products(first: {big}) {{ nodes {{ brand {{
           products(first: {big}) {{ nodes {{ id }} }} }} }} }} }} }} }}"
    );
    let (status, body) = app.post("/graphql", json!({"query": query})).await;
    assert_eq!(status, 200);
    assert_eq!(error_codes(&body), ["COST_LIMIT_EXCEEDED"], "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 20000 are allowed")
    );
}
