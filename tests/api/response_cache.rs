//! The response cache: an anonymous query asked again is answered without running, charged
//! and counted as a run; nothing a viewer sees, nothing private, failed or mutating is kept.
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

#[tokio::test]
async fn viewers_private_fields_errors_and_explains_are_never_kept() {
    let (app, mysql) = counting_app(
        4,
        &[
            "--response-cache-mb",
            "16",
            "--debug-secret",
            "cache-test-secret",
        ],
    );
    let body = json!({"query": BRANDS, "variables": {"first": 4}});
    // Any Authorization header (even one refused) keeps a request out of the cache.
    let (status, _) = post(&app, body.clone(), &[("authorization", "Bearer nope")]).await;
    assert_eq!(status, 401);
    // An explain is one request's.
    let (_, explained) = post(&app, body.clone(), &[("ogrom-debug", "cache-test-secret")]).await;
    assert!(explained["extensions"]["debug"].is_object());
    // A private field (the viewer's) makes the answer private.
    let private = "query { collages(first: 2) { edges { node { id viewerHasLiked } } } }";
    let (status, answer) = post(&app, json!({"query": private}), &[]).await;
    assert_eq!(status, 200, "{answer}");
    // An answer with errors.
    let failing = "query { node(id: \"not-an-id\") { id } }";
    let (_, answer) = post(&app, json!({"query": failing}), &[]).await;
    assert!(answer["errors"].is_array(), "{answer}");
    assert_eq!(stored(&app).await, 0.0, "nothing kept");

    // A mutation is never kept (this one is refused: no viewer).
    let like = "mutation { likeProduct(productId: \"x\") { userErrors { message } } }";
    for _ in 0..2 {
        let (status, answer) = post(&app, json!({"query": like}), &[]).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(stored(&app).await, 0.0);

    // The private query runs again: statements are spent the second time too.
    let before = mysql.statements();
    post(&app, json!({"query": private}), &[]).await;
    assert!(mysql.statements() > before);
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
