//! The community module against real MariaDB: reads checked against SQL, the home feed's
//! statement count, likes under concurrency, and mutations that must change nothing when
//! they fail. Writing tests use a private seeded database each.

use base64::Engine;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use sqlx::MySqlPool;

use crate::helpers::{
    TestApp, counting_app, create_seeded_database, database_ids, database_url,
    elasticsearch_handle, elasticsearch_url, error_codes, fixture_database, global_id, hs256_token,
    mysql_handle_waiting, private_database, serve_args, sql, statements_of,
};

const SECRET: &str = "community-tests-hs256-secret-0123456789";

/// The gateway over `database`, accepting HS256 tokens signed with `SECRET`.
fn app_on(database: &str) -> TestApp {
    app_waiting(database, Duration::from_secs(2))
}

/// `app_on` whose statements wait up to `acquire` for one of its 20 connections.
fn app_waiting(database: &str, acquire: Duration) -> TestApp {
    let args = serve_args(
        &database_url(database),
        &[
            "--jwt-hs256-secret",
            SECRET,
            "--loader-delay-us",
            "20000",
            "--mysql-max-connections",
            "20",
        ],
    );
    let mut app = TestApp::with_parts(
        &args,
        mysql_handle_waiting(database, 20, acquire),
        elasticsearch_handle(&elasticsearch_url()),
    );
    app.database = database.to_owned();
    app
}

/// A GraphQL request as `viewer` (or anonymous).
async fn as_viewer(
    app: &TestApp,
    viewer: Option<i32>,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(viewer) = viewer {
        request = request.header(
            "authorization",
            format!("Bearer {}", hs256_token(SECRET, viewer)),
        );
    }
    let body = json!({"query": query, "variables": variables}).to_string();
    let (status, _, body) = app.send(request.body(Body::from(body)).unwrap()).await;
    (status.as_u16(), serde_json::from_slice(&body).unwrap())
}

async fn scalar(db: &MySqlPool, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(db).await.unwrap()
}

#[tokio::test]
async fn a_users_profile_matches_sql() {
    let app = app_on(fixture_database());
    let db = sql(fixture_database()).await;
    let (id, username): (i32, String) = sqlx::query_as(
        "SELECT u.id, u.username FROM users u JOIN collages c ON c.user_id = u.id GROUP BY u.id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let collages: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM collages WHERE user_id = ? ORDER BY id DESC")
            .bind(id)
            .fetch_all(&db)
            .await
            .unwrap();
    let likes = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM product_likes WHERE user_id = {id}"),
    )
    .await;
    let data = app
        .query(
            "query($u: String!) { user(username: $u) { databaseId
               collages(first: 3) { totalCount nodes { databaseId author { username } } }
               likedProducts(first: 2) { totalCount nodes { databaseId } } } }",
            json!({"u": username}),
        )
        .await;
    let user = &data["user"];
    assert_eq!(user["databaseId"], id);
    assert_eq!(user["collages"]["totalCount"], collages.len());
    let got: Vec<i64> = database_ids(&user["collages"]["nodes"]);
    assert_eq!(got, collages.iter().take(3).copied().collect::<Vec<_>>());
    assert!(
        user["collages"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["author"]["username"] == username)
    );
    assert_eq!(user["likedProducts"]["totalCount"], likes);
}

#[tokio::test]
async fn a_collage_shows_its_items_and_tags_as_stored() {
    let app = app_on(fixture_database());
    let db = sql(fixture_database()).await;
    let collage = scalar(
        &db,
        "SELECT collage_id FROM collage_items GROUP BY collage_id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    .await;
    let items: Vec<(i32, i32, f64, f64, f64)> = sqlx::query_as(
        "SELECT position, product_id, x, y, scale FROM collage_items WHERE collage_id = ? ORDER BY position",
    )
    .bind(collage)
    .fetch_all(&db)
    .await
    .unwrap();
    let tags: Vec<String> =
        sqlx::query_scalar("SELECT tag FROM collage_tags WHERE collage_id = ? ORDER BY tag")
            .bind(collage)
            .fetch_all(&db)
            .await
            .unwrap();
    let data = app
        .query(
            "query($id: ID!) { collage(id: $id) { tags items { position x y scale product { databaseId } } } }",
            json!({"id": global_id("Collage", collage)}),
        )
        .await;
    let got: Vec<(i64, i64, f64, f64, f64)> = data["collage"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["position"].as_i64().unwrap(),
                i["product"]["databaseId"].as_i64().unwrap(),
                i["x"].as_f64().unwrap(),
                i["y"].as_f64().unwrap(),
                i["scale"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(i64, i64, f64, f64, f64)> = items
        .into_iter()
        .map(|(p, id, x, y, s)| (p.into(), id.into(), x, y, s))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(data["collage"]["tags"], json!(tags));
}

/// Statements for the home feed with `n` collages.
async fn home_feed(n: i64) -> (u64, Value) {
    let (app, mysql) = counting_app(4, &[]);
    statements_of(
        &app,
        &mysql,
        "query($n: Int!) { collages(first: $n, orderBy: POPULAR) { nodes { databaseId likeCount
               author { username } items(first: 6) { product { name brand { name } } } } } }",
        json!({"n": n}),
    )
    .await
}

#[tokio::test]
async fn the_home_feed_costs_the_same_statements_for_five_collages_or_twenty() {
    let (five, _) = home_feed(5).await;
    let (twenty, data) = home_feed(20).await;
    // Collages, authors, items, products, brands.
    assert_eq!(twenty, 5);
    assert_eq!(five, twenty);
    let db = sql(fixture_database()).await;
    let expected: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM collages ORDER BY like_count DESC, id DESC LIMIT 20")
            .fetch_all(&db)
            .await
            .unwrap();
    let nodes = data["collages"]["nodes"].as_array().unwrap();
    let got: Vec<i64> = nodes
        .iter()
        .map(|c| c["databaseId"].as_i64().unwrap())
        .collect();
    assert_eq!(got, expected);
    for collage in nodes {
        let id = collage["databaseId"].as_i64().unwrap();
        let items = scalar(
            &db,
            &format!("SELECT LEAST(COUNT(*), 6) FROM collage_items WHERE collage_id = {id}"),
        )
        .await;
        assert_eq!(
            collage["items"].as_array().unwrap().len() as i64,
            items,
            "{collage}"
        );
    }
}

#[tokio::test]
async fn concurrent_likes_and_unlikes_keep_every_like_count_equal_to_its_rows() {
    let database = private_database("likes");
    create_seeded_database(&database).await;
    // 200 writes queue on 4 rows' locks over 20 connections. The test suite shares MariaDB
    // and 2 cores with the other tests, so a write may wait its turn for more than the
    // default 2 s: what is checked here is that none is lost, not how long the queue is.
    let app = app_waiting(&database, Duration::from_secs(30));
    let db = sql(&database).await;
    let users: Vec<i32> = sqlx::query_scalar("SELECT id FROM users ORDER BY id LIMIT 50")
        .fetch_all(&db)
        .await
        .unwrap();
    let products: Vec<i32> = sqlx::query_scalar("SELECT id FROM products ORDER BY id LIMIT 4")
        .fetch_all(&db)
        .await
        .unwrap();
    let collages: Vec<i32> = sqlx::query_scalar("SELECT id FROM collages ORDER BY id LIMIT 4")
        .fetch_all(&db)
        .await
        .unwrap();
    let rows = |db: MySqlPool| async move {
        scalar(
            &db,
            "SELECT (SELECT COUNT(*) FROM product_likes) + (SELECT COUNT(*) FROM collage_likes)",
        )
        .await
    };
    let rows_before = rows(db.clone()).await;
    let requests = (0..200).map(|i| {
        let user = users[i % users.len()];
        let like = i % 3 != 2;
        let (field, arg, id) = if i % 2 == 0 {
            (
                if like { "likeProduct" } else { "unlikeProduct" },
                "productId",
                global_id("Product", products[i % 4].into()),
            )
        } else {
            (
                if like { "likeCollage" } else { "unlikeCollage" },
                "collageId",
                global_id("Collage", collages[i % 4].into()),
            )
        };
        let query =
            format!("mutation($id: ID!) {{ {field}({arg}: $id) {{ userErrors {{ code }} }} }}");
        let app = &app;
        async move { as_viewer(app, Some(user), &query, json!({"id": id})).await }
    });
    let answers = futures::future::join_all(requests).await;
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    assert_ne!(
        rows(db.clone()).await,
        rows_before,
        "the requests changed likes"
    );
    let drift = scalar(
        &db,
        "SELECT COUNT(*) FROM products p WHERE like_count <> (SELECT COUNT(*) FROM product_likes l WHERE l.product_id = p.id)",
    )
    .await;
    assert_eq!(
        drift, 0,
        "products whose like_count differs from their like rows"
    );
    let drift = scalar(
        &db,
        "SELECT COUNT(*) FROM collages c WHERE like_count <> (SELECT COUNT(*) FROM collage_likes l WHERE l.collage_id = c.id)",
    )
    .await;
    assert_eq!(
        drift, 0,
        "collages whose like_count differs from their like rows"
    );
    db.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(&sql(fixture_database()).await)
        .await;
}

#[tokio::test]
async fn failed_mutations_change_nothing_and_others_collages_are_forbidden() {
    let database = private_database("mutations");
    create_seeded_database(&database).await;
    let app = app_on(&database);
    let db = sql(&database).await;
    let (author, collage): (i32, i32) =
        sqlx::query_as("SELECT user_id, id FROM collages ORDER BY id LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    let other = scalar(
        &db,
        &format!("SELECT MIN(id) FROM users WHERE id <> {author}"),
    )
    .await as i32;
    let product = scalar(&db, "SELECT MIN(id) FROM products").await;
    let totals = |db: MySqlPool| async move {
        let mut counts = Vec::new();
        for table in [
            "collages",
            "collage_items",
            "collage_tags",
            "product_likes",
            "collage_likes",
        ] {
            counts.push(scalar(&db, &format!("SELECT COUNT(*) FROM {table}")).await);
        }
        counts
    };
    let before = totals(db.clone()).await;

    // Anonymous: refused before anything runs.
    let create = "mutation($input: CreateCollageInput!) { createCollage(input: $input) { collage { id } userErrors { field code } } }";
    let good_item = json!({"productId": global_id("Product", product), "x": 0.5, "y": 0.5});
    let (_, body) = as_viewer(
        &app,
        None,
        create,
        json!({"input": {"title": "t", "items": [good_item]}}),
    )
    .await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");

    // Invalid input: user errors, nothing written.
    let invalid = json!({"input": {"title": " ", "tags": ["Not OK!"], "items": [
        {"productId": global_id("Brand", 1), "x": 2.0, "y": 0.5},
    ]}});
    let (_, body) = as_viewer(&app, Some(other), create, invalid).await;
    let errors = body["data"]["createCollage"]["userErrors"]
        .as_array()
        .unwrap();
    let fields: Vec<String> = errors
        .iter()
        .map(|e| {
            e["field"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    assert_eq!(
        fields,
        ["title", "tags.0", "items.0.productId", "items.0.x"],
        "{body}"
    );
    assert_eq!(body["data"]["createCollage"]["collage"], Value::Null);

    // A product deleted meanwhile: a user error at its item, nothing written.
    let gone = scalar(&db, "SELECT MAX(id) FROM products").await + 1000;
    let (_, body) = as_viewer(
        &app,
        Some(other),
        create,
        json!({"input": {"title": "Look", "items": [
            good_item, {"productId": global_id("Product", gone), "x": 0.1, "y": 0.1},
        ]}}),
    )
    .await;
    assert_eq!(
        body["data"]["createCollage"]["userErrors"],
        json!([{"field": ["items", "1", "productId"], "code": "NOT_FOUND"}]),
        "{body}"
    );

    // Another user's collage: FORBIDDEN, for changes and deletion alike.
    let update =
        "mutation($input: UpdateCollageInput!) { updateCollage(input: $input) { collage { id } } }";
    let (_, body) = as_viewer(
        &app,
        Some(other),
        update,
        json!({"input": {"id": global_id("Collage", collage.into()), "title": "Mine now"}}),
    )
    .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    let delete = "mutation($id: ID!) { deleteCollage(id: $id) { deletedCollageId } }";
    let (_, body) = as_viewer(
        &app,
        Some(other),
        delete,
        json!({"id": global_id("Collage", collage.into())}),
    )
    .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");

    assert_eq!(
        totals(db.clone()).await,
        before,
        "failed mutations changed nothing"
    );
    let title: String = sqlx::query_scalar("SELECT title FROM collages WHERE id = ?")
        .bind(collage)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_ne!(title, "Mine now");

    // The author may: create, change, delete.
    let (_, body) = as_viewer(
        &app,
        Some(author),
        create,
        json!({"input": {"title": "Weekend", "tags": ["summer"],
        "items": [good_item]}}),
    )
    .await;
    let created = body["data"]["createCollage"]["collage"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(totals(db.clone()).await[0], before[0] + 1);
    let (_, body) = as_viewer(
        &app,
        Some(author),
        update,
        json!({"input": {"id": created, "title": "Weekend away"}}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = as_viewer(&app, Some(author), delete, json!({"id": created})).await;
    assert_eq!(body["data"]["deleteCollage"]["deletedCollageId"], created);
    assert_eq!(totals(db.clone()).await, before);
    db.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(&sql(fixture_database()).await)
        .await;
}

#[tokio::test]
async fn likes_are_idempotent_and_viewer_specific() {
    let database = private_database("viewer");
    create_seeded_database(&database).await;
    let app = app_on(&database);
    let db = sql(&database).await;
    let product = scalar(&db, "SELECT MIN(id) FROM products").await;
    let (alice, bob): (i32, i32) = sqlx::query_as("SELECT MIN(id), MAX(id) FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM product_likes WHERE product_id = ?")
        .bind(product)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE products SET like_count = 0 WHERE id = ?")
        .bind(product)
        .execute(&db)
        .await
        .unwrap();
    let like = "mutation($id: ID!) { likeProduct(productId: $id) { product { likeCount viewerHasLiked } } }";
    for _ in 0..3 {
        let (_, body) = as_viewer(
            &app,
            Some(alice),
            like,
            json!({"id": global_id("Product", product)}),
        )
        .await;
        assert_eq!(
            body["data"]["likeProduct"]["product"],
            json!({"likeCount": 1, "viewerHasLiked": true}),
            "{body}"
        );
    }
    let read = "query($id: Int!) { product(databaseId: $id) { likeCount viewerHasLiked } }";
    let (_, body) = as_viewer(&app, Some(bob), read, json!({"id": product})).await;
    assert_eq!(
        body["data"]["product"],
        json!({"likeCount": 1, "viewerHasLiked": false})
    );
    let (_, body) = as_viewer(&app, None, read, json!({"id": product})).await;
    assert_eq!(body["data"]["product"]["viewerHasLiked"], false);
    db.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE `{database}`"))
        .execute(&sql(fixture_database()).await)
        .await;
}

#[tokio::test]
async fn a_refused_token_is_a_401_never_anonymous_access() {
    let app = app_on(fixture_database());
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", "Bearer not.a.token")
        .body(Body::from(
            json!({"query": "{ viewer { id } }"}).to_string(),
        ))
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
    let (status, body) = as_viewer(&app, Some(1), "{ viewer { databaseId } }", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["viewer"]["databaseId"], 1);
}

#[tokio::test]
async fn the_feed_of_a_tag_holds_exactly_the_collages_with_it() {
    let app = app_on(fixture_database());
    let db = sql(fixture_database()).await;
    let tag: String = sqlx::query_scalar(
        "SELECT tag FROM collage_tags GROUP BY tag ORDER BY COUNT(*) DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT collage_id FROM collage_tags WHERE tag = ? ORDER BY collage_id DESC",
    )
    .bind(&tag)
    .fetch_all(&db)
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                "query($t: String, $a: String) { collages(tag: $t, first: 3, after: $a) { totalCount
                   nodes { databaseId tags } pageInfo { hasNextPage endCursor } } }",
                json!({"t": tag, "a": after}),
            )
            .await;
        let page = &data["collages"];
        assert_eq!(page["totalCount"], expected.len());
        for node in page["nodes"].as_array().unwrap() {
            assert!(
                node["tags"].as_array().unwrap().iter().any(|t| *t == tag),
                "{node}"
            );
            seen.push(node["databaseId"].as_i64().unwrap());
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);
}

/// Statements and data for `n` collages with their authors' latest likes.
async fn authors_likes(n: i64) -> (u64, Value) {
    let (app, mysql) = counting_app(4, &[]);
    statements_of(
        &app,
        &mysql,
        "query($n: Int!) { collages(first: $n) { nodes { author { databaseId
               likedProducts(first: 2) { totalCount nodes { databaseId } } } } } }",
        json!({"n": n}),
    )
    .await
}

#[tokio::test]
async fn liked_products_of_a_list_of_users_cost_the_same_statements_for_any_length() {
    let (five, _) = authors_likes(5).await;
    let (twenty, data) = authors_likes(20).await;
    // Collages, authors, liked first pages with their counts.
    assert_eq!(twenty, 3);
    assert_eq!(five, twenty);
    let db = sql(fixture_database()).await;
    for collage in data["collages"]["nodes"].as_array().unwrap() {
        let author = &collage["author"];
        let id = author["databaseId"].as_i64().unwrap();
        let expected: Vec<i64> = sqlx::query_scalar(
            "SELECT product_id FROM product_likes WHERE user_id = ? ORDER BY created_at DESC, product_id DESC",
        )
        .bind(id)
        .fetch_all(&db)
        .await
        .unwrap();
        let liked = &author["likedProducts"];
        assert_eq!(liked["totalCount"], expected.len(), "user {id}");
        let got: Vec<i64> = database_ids(&liked["nodes"]);
        assert_eq!(
            got,
            expected.into_iter().take(2).collect::<Vec<_>>(),
            "user {id}"
        );
    }
}

#[tokio::test]
async fn expired_forged_and_unsigned_tokens_are_refused_at_the_door() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let app = app_on(fixture_database());
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, aud: &str| json!({"sub": "1", "iss": "ogrom-dev", "aud": aud, "iat": now - 7200, "exp": exp});
    let sign = |claims: Value, secret: &str| {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let tokens = [
        ("expired", sign(claims(now - 3600, "ogrom"), SECRET)),
        (
            "wrong signature",
            sign(
                claims(now + 3600, "ogrom"),
                "another-secret-of-enough-length-000",
            ),
        ),
        (
            "wrong audience",
            sign(claims(now + 3600, "someone-else"), SECRET),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "JWT"})),
                b64(claims(now + 3600, "ogrom"))
            ),
        ),
    ];
    for (what, token) in tokens {
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(
                json!({"query": "{ viewer { id } }"}).to_string(),
            ))
            .unwrap();
        let (status, _, body) = app.send(request).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{what}");
        assert!(body.get("data").is_none(), "{what}: no anonymous answer");
    }
}
