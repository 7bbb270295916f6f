//! Replicas sharing state through the real Redis of the test stack (`OGROM_TEST_REDIS_URL`,
//! as the MySQL tests take theirs: the stack must run): gateways built in-process by the same
//! functions as production, pointed at one Redis under a key prefix of the test's own.
//! One budget whichever replica answers, an APQ registration seen by all, a like through one
//! dropping the cached answers holding that product on the others; and Redis unreachable or
//! mute failing no request. Expected values come from SQL and from the budget's arithmetic.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, counting_app, create_seeded_database, database_url, elasticsearch_handle,
    elasticsearch_url, fixture_database, global_id, hs256_token, mysql_handle, private_database,
    serve_args, sha256_hex, sql,
};
use ogrom::sources::mysql::MySql;

/// The Redis of the test stack.
fn redis_url() -> String {
    std::env::var("OGROM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix of this test process and test: tests never see each other's keys.
fn prefix(test: &str) -> String {
    format!("ogrom-test:{}:{test}:", std::process::id())
}

/// The flags of a replica sharing state under `prefix` in the test Redis, then `extra`.
fn shared(prefix: &str, extra: &[&str]) -> Vec<String> {
    let mut flags = vec![
        "--redis-url".to_owned(),
        redis_url(),
        "--redis-prefix".to_owned(),
        prefix.to_owned(),
        // Generous for a loaded test machine: the point here is sharing, not speed.
        "--redis-timeout-ms".to_owned(),
        "2000".to_owned(),
        // What a test registers need not outlive it.
        "--redis-apq-ttl-s".to_owned(),
        "120".to_owned(),
    ];
    flags.extend(extra.iter().map(|f| (*f).to_owned()));
    flags
}

fn refs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// 24 brands: 1 + (nodes 1 + 24 × name 1) = 26 points requested, what was not returned
/// given back.
const BUDGET_REQUESTED: u64 = 1 + (1 + 24);
const BUDGET_QUERY: &str = "{ brands(first: 24) { nodes { name } } }";

/// A budget that barely refills (1 point a second), so a test's few seconds do not count.
const BUDGET: [&str; 6] = [
    "--max-complexity",
    "100",
    "--cost-budget",
    "120",
    "--cost-refill-per-s",
    "1",
];

/// How many `BUDGET_QUERY`s a full budget of 120 pays for, from the fixture's brands: each
/// needs `BUDGET_REQUESTED` points to start and keeps what it returned (`brands`, `nodes`, one `name` a
/// brand).
async fn budget_queries_paid() -> (u64, u64) {
    let brands: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap();
    let actual = 2 + brands.min(24) as u64;
    let (mut points, mut paid) = (120u64, 0);
    while points >= BUDGET_REQUESTED {
        points -= actual;
        paid += 1;
    }
    (paid, actual)
}

/// Sends `BUDGET_QUERY` to the apps in turn until one refuses it; the answers before that.
async fn spend_until_refused(apps: &[&TestApp]) -> (Vec<Value>, Value) {
    let mut paid = Vec::new();
    for n in 0..20 {
        let app = apps[n % apps.len()];
        let (status, body) = app.post("/graphql", json!({"query": BUDGET_QUERY})).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return (paid, body);
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        paid.push(body);
    }
    panic!("the budget never ran out");
}

#[tokio::test]
async fn a_clients_budget_is_spent_at_one_rate_whichever_replica_answers() {
    let flags = shared(&prefix("budget"), &BUDGET);
    let (one, two) = (TestApp::new(&refs(&flags)), TestApp::new(&refs(&flags)));
    let (expected_paid, actual) = budget_queries_paid().await;

    let (paid, refused) = spend_until_refused(&[&one, &two]).await;

    assert_eq!(
        paid.len() as u64,
        expected_paid,
        "one budget for both replicas"
    );
    for (n, body) in paid.iter().enumerate() {
        let remaining = body["extensions"]["cost"]["budget"]["remaining"]
            .as_u64()
            .unwrap();
        let spent = 120 - actual * (n as u64 + 1);
        // A point a second refills while the test runs.
        assert!(
            (spent..=spent + 3).contains(&remaining),
            "after {} queries through alternate replicas: {remaining}, not {spent}",
            n + 1
        );
    }
    assert_eq!(code(&refused), Some("BUDGET_EXHAUSTED"), "{refused}");
    assert!(refused["errors"][0]["extensions"]["retryAfter"].as_u64() >= Some(1));

    // Two replicas without Redis: each has a budget of its own, twice as many are paid.
    let (one, two) = (TestApp::new(&BUDGET), TestApp::new(&BUDGET));
    let (alone, _) = spend_until_refused(&[&one, &two]).await;
    assert_eq!(alone.len() as u64, 2 * expected_paid);
}

fn persisted(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

#[tokio::test]
async fn an_apq_registered_through_one_replica_is_found_through_another() {
    let flags = shared(&prefix("apq"), &[]);
    let (one, two) = (TestApp::new(&refs(&flags)), TestApp::new(&refs(&flags)));
    let query = "{ brands { totalCount } }";
    let hash = sha256_hex(query);
    let by_hash = json!({"extensions": persisted(&hash)});

    let (_, before) = two.post("/graphql", by_hash.clone()).await;
    assert_eq!(code(&before), Some("PERSISTED_QUERY_NOT_FOUND"), "{before}");
    let register = json!({"query": query, "extensions": persisted(&hash)});
    let (status, registered) = one.post("/graphql", register).await;
    assert_eq!(status, StatusCode::OK, "{registered}");

    let (status, found) = two.post("/graphql", by_hash.clone()).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let brands: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap();
    assert_eq!(found["data"]["brands"]["totalCount"], brands, "{found}");

    // Another gateway's prefix is another store.
    let other = TestApp::new(&refs(&shared(&prefix("apq-other"), &[])));
    let (_, elsewhere) = other.post("/graphql", by_hash).await;
    assert_eq!(code(&elsewhere), Some("PERSISTED_QUERY_NOT_FOUND"));
}

const SECRET: &str = "shared-state-tests-hs256-secret-0123456789";

/// A replica over `database` with a response cache, tokens signed with `SECRET`, and
/// `extra` flags; its MySQL handle counts statements.
fn cached_replica(database: &str, extra: &[String]) -> (TestApp, MySql) {
    let mut flags = vec![
        "--response-cache-mb",
        "16",
        "--jwt-hs256-secret",
        SECRET,
        "--loader-delay-us",
        "0",
    ];
    flags.extend(extra.iter().map(String::as_str));
    let args = serve_args(&database_url(database), &flags);
    let mysql = mysql_handle(database, 4);
    let app = TestApp::with_parts(
        &args,
        mysql.clone(),
        elasticsearch_handle(&elasticsearch_url()),
    );
    (app, mysql)
}

const PRODUCT: &str = "query P($id: Int!) { product(databaseId: $id) { databaseId likeCount } }";

/// Asks for a product anonymously: its answer, and the statements it cost.
async fn product(replica: &(TestApp, MySql), id: i32) -> (Value, u64) {
    let before = replica.1.statements();
    let data = replica.0.query(PRODUCT, json!({"id": id})).await;
    (data["product"].clone(), replica.1.statements() - before)
}

/// Reads two products through `reader` (kept in its cache), likes the first through
/// `writer`, and checks what `reader` answers then: the liked product afresh, with the count
/// MySQL holds; the other from the cache.
async fn a_like_drops_what_holds_the_product(
    database: &str,
    writer: &(TestApp, MySql),
    reader: &(TestApp, MySql),
) {
    let db = sql(database).await;
    let (liked, untouched, user): (i32, i32, i32) = sqlx::query_as(
        "SELECT (SELECT MIN(id) FROM products), (SELECT MAX(id) FROM products), \
         (SELECT MIN(u.id) FROM users u WHERE NOT EXISTS (SELECT 1 FROM product_likes l \
          WHERE l.user_id = u.id AND l.product_id = (SELECT MIN(id) FROM products)))",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    for id in [liked, untouched] {
        let (_, ran) = product(reader, id).await;
        assert!(ran > 0, "product {id} ran the first time");
        let (_, again) = product(reader, id).await;
        assert_eq!(again, 0, "product {id} was cached");
    }
    let (_, cached_by_writer) = product(writer, liked).await;
    assert_eq!(cached_by_writer, 0, "the writer reads the same cache");

    let like = format!(
        "mutation {{ likeProduct(productId: \"{}\") {{ userErrors {{ code }} }} }}",
        global_id("Product", liked.into())
    );
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Bearer {}", hs256_token(SECRET, user)),
        )
        .body(Body::from(json!({"query": like}).to_string()))
        .unwrap();
    let (status, _, body) = writer.0.send(request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let count: i32 = sqlx::query_scalar("SELECT like_count FROM products WHERE id = ?")
        .bind(liked)
        .fetch_one(&db)
        .await
        .unwrap();
    let (answer, ran) = product(reader, liked).await;
    assert!(ran > 0, "the liked product's cached answer was dropped");
    assert_eq!(answer["likeCount"], count, "{answer}");
    let (_, ran) = product(reader, untouched).await;
    assert_eq!(ran, 0, "an answer without the liked product stays cached");
}

#[tokio::test]
async fn a_like_through_one_replica_drops_the_cached_answers_holding_that_product_on_the_others() {
    let database = private_database("shared_likes");
    create_seeded_database(&database).await;
    let flags = shared(&prefix("likes"), &[]);
    let writer = cached_replica(&database, &flags);
    let reader = cached_replica(&database, &flags);
    a_like_drops_what_holds_the_product(&database, &writer, &reader).await;
}

#[tokio::test]
async fn a_like_drops_the_cached_answers_holding_that_product_on_a_lone_instance() {
    let database = private_database("lone_likes");
    create_seeded_database(&database).await;
    let replica = cached_replica(&database, &[]);
    a_like_drops_what_holds_the_product(&database, &replica, &replica).await;
}

/// A Redis that accepts connections and never answers.
async fn mute_redis() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("redis://{address}")
}

/// A port nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("redis://{address}")
}

/// With Redis at `url` unusable: every request is answered, none slowly; APQ and the
/// response cache work per instance; the budget refuses as one instance's would.
async fn nothing_fails_without_redis(url: &str) {
    let mut flags = vec![
        "--redis-url",
        url,
        "--redis-prefix",
        "ogrom-test-unreachable:",
        "--response-cache-mb",
        "16",
    ];
    flags.extend_from_slice(&BUDGET);
    let (app, mysql) = counting_app(4, &flags);

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let brands = "query B { brands(first: 3) { totalCount nodes { name } } }";
    for _ in 0..3 {
        let asked = Instant::now();
        let (status, body) = app.post("/graphql", json!({"query": brands})).await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    // Not cached (the store cannot take it): each ran.
    let before = mysql.statements();
    app.query(brands, json!({})).await;
    assert!(mysql.statements() > before, "a failed store is a miss");

    let query = "{ brands { totalCount } }";
    let hash = sha256_hex(query);
    let register = json!({"query": query, "extensions": persisted(&hash)});
    let (status, body) = app.post("/graphql", register).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post("/graphql", json!({"extensions": persisted(&hash)}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "registered here, found here: {body}"
    );

    // A fresh client's budget, on an instance of its own.
    let budgeted = TestApp::new(&flags);
    let (paid, refused) = spend_until_refused(&[&budgeted]).await;
    let (expected_paid, _) = budget_queries_paid().await;
    assert_eq!(paid.len() as u64, expected_paid, "counted by the instance");
    assert_eq!(code(&refused), Some("BUDGET_EXHAUSTED"), "{refused}");

    // The first calls wait for the timeout (50 ms); then the breaker skips Redis.
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (_, _, metrics) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let metrics = String::from_utf8(metrics).unwrap();
    let fallbacks: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("ogrom_redis_budget_fallbacks_total ")?
                .parse()
                .ok()
        })
        .unwrap_or(0.0);
    assert!(fallbacks > 0.0, "{metrics}");
    // Readiness does not depend on Redis; its details say it is down.
    let (status, _, health) = app
        .send(Request::get("/health/ready").body(Body::empty()).unwrap())
        .await;
    let health: Value = serde_json::from_slice(&health).unwrap();
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["checks"]["redis"], "down", "{health}");
}

#[tokio::test]
async fn a_redis_that_refuses_connections_fails_no_request() {
    nothing_fails_without_redis(&closed_port().await).await;
}

#[tokio::test]
async fn a_redis_that_never_answers_fails_no_request() {
    nothing_fails_without_redis(&mute_redis().await).await;
}

const PARTNER_KEY: &str = "shared-state-partner-key";

const OFFERS: &str = "query($id: Int!) { product(databaseId: $id) { offers { stale
    offers { shop price { amount currency } availability } } } }";

/// Two replicas sharing `prefix`, whose partner is the stand-in at `partner`, with offers
/// fresh for `ttl_ms` and standing in for 10 minutes.
fn offer_replicas(prefix: &str, partner: &str, ttl_ms: &str) -> (TestApp, TestApp) {
    let flags = shared(
        prefix,
        &[
            "--partner-url",
            partner,
            "--partner-api-key",
            PARTNER_KEY,
            "--offers-cache-ttl-ms",
            ttl_ms,
            "--offers-stale-ms",
            "600000",
        ],
    );
    let replica = || {
        let args = serve_args(&database_url(fixture_database()), &refs(&flags));
        TestApp::with_parts(
            &args,
            mysql_handle(fixture_database(), 4),
            elasticsearch_handle(&elasticsearch_url()),
        )
    };
    (replica(), replica())
}

/// A product the stand-in offers (it offers none for ids that are multiples of 10).
async fn offered_product() -> i64 {
    sqlx::query_scalar("SELECT MIN(id) FROM products WHERE id % 10 <> 0")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn offers_one_replica_fetched_are_fresh_for_the_others_and_stand_in_when_the_partner_fails() {
    let (partner, stub) = crate::helpers::partner_stub(PARTNER_KEY).await;
    let id = offered_product().await;
    let variables = json!({"id": id});

    let (one, two) = offer_replicas(&prefix("offers"), &partner, "60000");
    let fetched = one.query(OFFERS, variables.clone()).await;
    assert_eq!(stub.stats().calls, 1);
    let shared = two.query(OFFERS, variables.clone()).await;
    assert_eq!(
        stub.stats().calls,
        1,
        "fresh from the other replica's fetch"
    );
    assert_eq!(shared, fetched);

    // Fresh for a millisecond: the next replica asks the partner, which fails; what the
    // first fetched stands in, marked stale.
    let (one, two) = offer_replicas(&prefix("stale-offers"), &partner, "1");
    let fetched = one.query(OFFERS, variables.clone()).await;
    assert_eq!(fetched["product"]["offers"]["stale"], false);
    stub.set_faults(ogrom::run::partner_stub::Faults {
        fail_status: Some(503),
        ..Default::default()
    })
    .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, stale) = two
        .post("/graphql", json!({"query": OFFERS, "variables": variables}))
        .await;
    assert_eq!(status, StatusCode::OK, "{stale}");
    let offers = &stale["data"]["product"]["offers"];
    assert_eq!(offers["stale"], true, "{stale}");
    assert_eq!(offers["offers"], fetched["product"]["offers"]["offers"]);
}
