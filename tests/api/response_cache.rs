//! The response cache: an anonymous query asked again is answered without running, charged
//! and counted as a run; a viewer never reads or fills it; nothing failed, explained or
//! mutating is kept.
//! The MySQL handle's statement counter and the gateway's own metrics are the oracles.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::helpers::{TestApp, counting_app, fixture_database, sql};

/// A `/metrics` sample of the gateway, 0 when absent.
async fn sample(app: &TestApp, line_start: &str) -> f64 {
    let (_, _, body) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn stored(app: &TestApp) -> f64 {
    sample(app, "ogrom_response_cache_stored_total ").await
}

/// Posts `body` with `headers`; the status and the JSON answer.
async fn post(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, _, body) = app
        .send(request.body(Body::from(body.to_string())).unwrap())
        .await;
    (status.as_u16(), serde_json::from_slice(&body).unwrap())
}

const BRANDS: &str = "query Brands($first: Int!) { brands(first: $first) { totalCount \
                      edges { node { databaseId name } } } }";

#[tokio::test]
async fn an_anonymous_query_asked_again_is_answered_without_running() {
    let (app, mysql) = counting_app(
        4,
        &[
            "--response-cache-mb",
            "16",
            "--cost-budget",
            "1000",
            "--cost-refill-per-s",
            "1",
        ],
    );
    let body = json!({"query": BRANDS, "variables": {"first": 3}});

    let before = mysql.statements();
    let (status, first) = post(&app, body.clone(), &[]).await;
    assert_eq!(status, 200, "{first}");
    let ran = mysql.statements() - before;
    assert!(ran > 0);
    let expected: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap();
    assert_eq!(first["data"]["brands"]["totalCount"], expected);

    let before = mysql.statements();
    let (status, second) = post(&app, body, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(mysql.statements() - before, 0, "answered from the cache");
    assert_eq!(second["data"], first["data"]);
    // Charged as a run: the same cost, taken from the same budget.
    let (cost1, cost2) = (&first["extensions"]["cost"], &second["extensions"]["cost"]);
    assert_eq!(cost2["requested"], cost1["requested"]);
    assert_eq!(cost2["actual"], cost1["actual"]);
    let spent = cost1["actual"].as_u64().unwrap();
    let left1 = cost1["budget"]["remaining"].as_u64().unwrap();
    let left2 = cost2["budget"]["remaining"].as_u64().unwrap();
    assert!(left2 <= left1 - spent + 1, "{left1} then {left2}");
    assert_eq!(
        sample(&app, "ogrom_response_cache_lookups_total{outcome=\"hit\"} ").await,
        1.0
    );
    assert_eq!(
        sample(
            &app,
            "ogrom_graphql_field_usage_total{type=\"Brand\",field=\"name\",client=\"unknown\"} "
        )
        .await,
        2.0,
        "both requests used Brand.name"
    );
    assert_eq!(
        sample(
            &app,
            "ogrom_graphql_operations_total{operation=\"Brands\",type=\"query\",outcome=\"ok\"} "
        )
        .await,
        2.0,
        "a hit is the same operation in the metrics"
    );

    // Other variables are another answer.
    let before = mysql.statements();
    let (_, other) = post(
        &app,
        json!({"query": BRANDS, "variables": {"first": 2}}),
        &[],
    )
    .await;
    assert_eq!(
        other["data"]["brands"]["edges"].as_array().unwrap().len(),
        2
    );
    assert!(mysql.statements() > before);
}

const SECRET: &str = "response-cache-tests-hs256-secret-0123";

fn bearer(user_id: i32) -> String {
    let token = ogrom::sources::auth::mint_hs256(
        SECRET,
        "ogrom-dev",
        "ogrom",
        user_id,
        "tester",
        std::time::Duration::from_secs(600),
    )
    .expect("token");
    format!("Bearer {token}")
}

/// Liked collages: the viewer's field is what differs between viewers.
const LIKED: &str = "query { collages(first: 5, orderBy: POPULAR) { edges { node { databaseId viewerHasLiked } } } }";

#[tokio::test]
async fn a_viewer_never_reads_or_fills_the_cache() {
    let (app, mysql) = counting_app(
        4,
        &["--response-cache-mb", "16", "--jwt-hs256-secret", SECRET],
    );
    // A viewer who liked one of the first collages.
    let db = sql(fixture_database()).await;
    let (viewer, collage): (i32, i32) = sqlx::query_as(
        "SELECT l.user_id, l.collage_id FROM collage_likes l \
         JOIN (SELECT id FROM collages ORDER BY like_count DESC, id DESC LIMIT 5) c \
         ON c.id = l.collage_id ORDER BY l.user_id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let liked_by_viewer = |answer: &Value| -> bool {
        answer["data"]["collages"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["databaseId"] == collage && e["node"]["viewerHasLiked"] == true)
    };
    // Anonymous first: kept, and nobody liked anything.
    let (_, anonymous) = post(&app, json!({"query": LIKED}), &[]).await;
    assert!(!liked_by_viewer(&anonymous), "{anonymous}");
    assert_eq!(stored(&app).await, 1.0);
    // The viewer gets their own answer, run for them, and it is not kept.
    let auth = bearer(viewer);
    for _ in 0..2 {
        let before = mysql.statements();
        let (status, mine) = post(&app, json!({"query": LIKED}), &[("authorization", &auth)]).await;
        assert_eq!(status, 200, "{mine}");
        assert!(liked_by_viewer(&mine), "the viewer's like: {mine}");
        assert!(mysql.statements() > before, "run for the viewer");
    }
    assert_eq!(stored(&app).await, 1.0);
    // Anonymous again: the kept answer, still without the viewer's like.
    let before = mysql.statements();
    let (_, again) = post(&app, json!({"query": LIKED}), &[]).await;
    assert_eq!(mysql.statements(), before);
    assert_eq!(again["data"], anonymous["data"]);
}

#[tokio::test]
async fn errors_explains_and_mutations_are_never_kept() {
    let (app, _) = counting_app(
        4,
        &[
            "--response-cache-mb",
            "16",
            "--debug-secret",
            "cache-test-secret",
        ],
    );
    let body = json!({"query": BRANDS, "variables": {"first": 4}});
    // A refused token: no answer to keep.
    let (status, _) = post(&app, body.clone(), &[("authorization", "Bearer nope")]).await;
    assert_eq!(status, 401);
    // An explain is one request's.
    let (_, explained) = post(&app, body, &[("ogrom-debug", "cache-test-secret")]).await;
    assert!(explained["extensions"]["debug"].is_object());
    // An answer with errors.
    let failing = "query { node(id: \"not-an-id\") { id } }";
    let (_, answer) = post(&app, json!({"query": failing}), &[]).await;
    assert!(answer["errors"].is_array(), "{answer}");
    // A mutation (refused here: no viewer).
    let like = "mutation { likeProduct(productId: \"x\") { userErrors { message } } }";
    for _ in 0..2 {
        let (status, answer) = post(&app, json!({"query": like}), &[]).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(stored(&app).await, 0.0, "nothing kept");
}

#[tokio::test]
async fn by_default_nothing_is_kept() {
    let (app, mysql) = counting_app(4, &[]);
    let body = json!({"query": BRANDS, "variables": {"first": 3}});
    post(&app, body.clone(), &[]).await;
    let before = mysql.statements();
    let (status, _) = post(&app, body, &[]).await;
    assert_eq!(status, 200);
    assert!(mysql.statements() > before, "it ran again");
    assert_eq!(stored(&app).await, 0.0);
}
