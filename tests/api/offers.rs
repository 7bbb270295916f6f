//! The offers module against the project's stand-in for the partner API, for every fault it
//! can inject: each test asserts the response shape, the error code and how many calls the
//! partner received. Expected offers come from the stand-in's documented rule.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use ogrom::run::partner_stub::{self, Faults, StubHandle};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, database_url, elasticsearch_handle, elasticsearch_url, error_codes, fixture_database,
    mysql_handle, serve_args, skip, sql,
};

pub(crate) const KEY: &str = "test-partner-key";

/// The stand-in on a real port, and a gateway whose partner client points at it.
pub(crate) async fn setup(flags: &[&str]) -> (TestApp, StubHandle) {
    let (url, stub) = crate::helpers::partner_stub(KEY).await;
    let database = fixture_database();
    let mut argv = vec![
        "--partner-url",
        &url,
        "--partner-api-key",
        KEY,
        // Every request asks the partner, unless a test turns the cache on.
        "--offers-cache-ttl-ms",
        "0",
        "--offers-stale-ms",
        "0",
        "--loader-delay-us",
        "20000",
        "--elasticsearch-index",
        crate::search::fixture_alias(),
    ];
    argv.extend_from_slice(flags);
    let args = serve_args(&database_url(database), &argv);
    let app = TestApp::with_parts(
        &args,
        mysql_handle(database, 4),
        elasticsearch_handle(&elasticsearch_url()),
    );
    (app, stub)
}

const ONE: &str = "query($id: Int!) { product(databaseId: $id) { name offers { stale
    offers { shop price { amount currency minorUnits } availability sizes url } } } }";

async fn one(app: &TestApp, id: i64) -> Value {
    app.post("/graphql", json!({"query": ONE, "variables": {"id": id}}))
        .await
        .1
}

async fn product_ids(n: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM products WHERE id % 10 <> 0 ORDER BY id LIMIT ?")
        .bind(n)
        .fetch_all(&sql(fixture_database()).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn offers_follow_the_contract_and_a_page_costs_a_call_per_fifty_ids() {
    let (app, stub) = setup(&[]).await;
    let data = app
        .query("{ brands(first: 100) { nodes { products(first: 10) { nodes { databaseId
                 offers { stale offers { shop price { amount currency minorUnits } availability } } } } } } }", json!({}))
        .await;
    let products: Vec<&Value> = data["brands"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["products"]["nodes"].as_array().unwrap())
        .collect();
    assert!(products.len() > 50, "the fixture gives more than one batch");
    let calls = stub.stats().calls as usize;
    assert_eq!(
        calls,
        products.len().div_ceil(50),
        "one call per 50 products"
    );
    for product in products {
        let id = product["databaseId"].as_i64().unwrap();
        let expected = partner_stub::offers_for(id as u64);
        let offers = product["offers"]["offers"].as_array().unwrap();
        assert_eq!(
            offers.len(),
            partner_stub::expected_offer_count(id as u64),
            "{product}"
        );
        assert_eq!(product["offers"]["stale"], false);
        for (offer, stub_offer) in offers.iter().zip(&expected) {
            let stub_offer = serde_json::to_value(stub_offer).unwrap();
            assert_eq!(offer["shop"], stub_offer["shop"]);
            assert_eq!(offer["price"]["amount"], stub_offer["price"]["amount"]);
            assert_eq!(offer["price"]["currency"], stub_offer["price"]["currency"]);
            assert_eq!(
                offer["availability"].as_str().unwrap().to_lowercase(),
                stub_offer["availability"]
            );
        }
    }
}

#[tokio::test]
async fn latency_under_the_timeout_is_served_and_over_it_is_an_upstream_timeout() {
    let (app, stub) = setup(&["--partner-timeout-ms", "400", "--partner-retries", "0"]).await;
    let id = product_ids(1).await[0];
    stub.set_faults(Faults {
        latency_ms: 100,
        ..Faults::default()
    })
    .unwrap();
    let body = one(&app, id).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["product"]["offers"]["offers"]
            .as_array()
            .unwrap()
            .len(),
        partner_stub::expected_offer_count(id as u64)
    );

    stub.reset();
    stub.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    })
    .unwrap();
    let body = one(&app, id).await;
    assert_eq!(error_codes(&body), ["UPSTREAM_TIMEOUT"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["product", "offers"]));
    assert_eq!(body["data"]["product"]["offers"], Value::Null);
    assert!(
        body["data"]["product"]["name"].is_string(),
        "the rest resolves"
    );
    assert_eq!(stub.stats().calls, 1, "no retries configured");
}

#[tokio::test]
async fn a_5xx_then_success_is_retried_and_served() {
    let (app, stub) = setup(&["--partner-retries", "2"]).await;
    let id = product_ids(1).await[0];
    stub.set_faults(Faults {
        fail_status: Some(503),
        fail_times: Some(1),
        ..Faults::default()
    })
    .unwrap();
    let body = one(&app, id).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(stub.stats().calls, 2, "one failure, one retry");

    stub.reset();
    stub.set_faults(Faults {
        fail_status: Some(500),
        ..Faults::default()
    })
    .unwrap();
    let body = one(&app, id).await;
    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
    assert_eq!(stub.stats().calls, 3, "the call and two retries");
}

#[tokio::test]
async fn retry_after_is_honoured_when_it_fits_the_deadline() {
    let (app, stub) = setup(&["--partner-deadline-ms", "3000"]).await;
    let id = product_ids(1).await[0];
    stub.set_faults(Faults {
        rate_limit_retry_after_s: Some(1),
        rate_limit_times: Some(1),
        ..Faults::default()
    })
    .unwrap();
    let started = Instant::now();
    let body = one(&app, id).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as the partner asked"
    );
    assert_eq!(stub.stats().calls, 2);

    // A Retry-After beyond the deadline is not waited for.
    let (app, stub) = setup(&["--partner-deadline-ms", "500"]).await;
    stub.set_faults(Faults {
        rate_limit_retry_after_s: Some(5),
        ..Faults::default()
    })
    .unwrap();
    let body = one(&app, id).await;
    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
    assert_eq!(stub.stats().calls, 1);
}

#[tokio::test]
async fn a_hanging_partner_costs_only_the_offers_deadline_and_slows_nothing_else() {
    // Without the deadline, six attempts of 600 ms and their backoffs would take over 3.6 s.
    let (app, stub) = setup(&[
        "--partner-timeout-ms",
        "600",
        "--partner-retries",
        "5",
        "--partner-deadline-ms",
        "700",
    ])
    .await;
    let id = product_ids(1).await[0];
    stub.set_faults(Faults {
        hang: true,
        ..Faults::default()
    })
    .unwrap();
    let started = Instant::now();
    let offers = one(&app, id);
    let mysql_only = async {
        let data = app
            .query("{ brands(first: 3) { totalCount } }", json!({}))
            .await;
        (data, started.elapsed())
    };
    let (body, (data, mysql_took)) = tokio::join!(offers, mysql_only);
    let offers_took = started.elapsed();
    assert_eq!(error_codes(&body), ["UPSTREAM_TIMEOUT"], "{body}");
    assert!(body["data"]["product"]["name"].is_string());
    assert!(data["brands"]["totalCount"].as_i64().unwrap() > 0);
    // The deadline bounds the page (generously: these machines are noisy) ...
    assert!(
        offers_took < Duration::from_secs(3),
        "answered after {offers_took:?}"
    );
    // ... and a MySQL-only query does not wait for the partner.
    assert!(
        mysql_took < Duration::from_millis(700),
        "MySQL-only query took {mysql_took:?}"
    );
    let calls = stub.stats().calls;
    assert!(
        (1..=2).contains(&calls),
        "only what fits the 700 ms deadline is tried: {calls} calls"
    );
    stub.close();
}

#[tokio::test]
async fn malformed_answers_are_upstream_unavailable_and_not_retried() {
    for malformed in ["json", "shape"] {
        let (app, stub) = setup(&["--partner-retries", "2"]).await;
        let id = product_ids(1).await[0];
        let faults: Faults = serde_json::from_value(json!({"malformed": malformed})).unwrap();
        stub.set_faults(faults).unwrap();
        let body = one(&app, id).await;
        assert_eq!(
            error_codes(&body),
            ["UPSTREAM_UNAVAILABLE"],
            "{malformed}: {body}"
        );
        assert_eq!(
            stub.stats().calls,
            1,
            "{malformed}: a broken answer is not asked again"
        );
    }
}

#[tokio::test]
async fn products_left_out_of_a_partial_batch_have_no_offers() {
    let (app, stub) = setup(&[]).await;
    let ids = product_ids(6).await;
    let dropped: Vec<u64> = ids.iter().step_by(2).map(|&id| id as u64).collect();
    stub.set_faults(Faults {
        drop_ids: dropped.clone(),
        ..Faults::default()
    })
    .unwrap();
    let gids: Vec<String> = ids
        .iter()
        .map(|id| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Product:{id}"))
        })
        .collect();
    let data = app
        .query("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { databaseId offers { offers { shop } } } } }", json!({"ids": gids}))
        .await;
    for node in data["nodes"].as_array().unwrap() {
        let id = node["databaseId"].as_i64().unwrap() as u64;
        let expected = if dropped.contains(&id) {
            0
        } else {
            partner_stub::expected_offer_count(id)
        };
        assert_eq!(
            node["offers"]["offers"].as_array().unwrap().len(),
            expected,
            "{node}"
        );
    }
    assert_eq!(stub.stats().calls, 1);
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_closes_after_recovery() {
    let (app, stub) = setup(&[
        "--partner-retries",
        "0",
        "--partner-breaker-failures",
        "3",
        "--partner-breaker-open-ms",
        "30000",
    ])
    .await;
    let id = product_ids(1).await[0];
    stub.set_faults(Faults {
        fail_status: Some(500),
        ..Faults::default()
    })
    .unwrap();
    for _ in 0..3 {
        assert_eq!(error_codes(&one(&app, id).await), ["UPSTREAM_UNAVAILABLE"]);
    }
    assert_eq!(stub.stats().calls, 3);
    // Open: answered at once, without calling the partner.
    for _ in 0..3 {
        assert_eq!(error_codes(&one(&app, id).await), ["UPSTREAM_UNAVAILABLE"]);
    }
    assert_eq!(stub.stats().calls, 3, "an open circuit does not call");

    stub.reset();
    skip(Duration::from_secs(29)).await;
    assert_eq!(error_codes(&one(&app, id).await), ["UPSTREAM_UNAVAILABLE"]);
    assert_eq!(stub.stats().calls, 0, "still open a second before its time");
    skip(Duration::from_secs(1)).await;
    let body = one(&app, id).await;
    assert!(body.get("errors").is_none(), "the probe succeeds: {body}");
    let body = one(&app, id).await;
    assert!(body.get("errors").is_none(), "closed again: {body}");
    assert_eq!(stub.stats().calls, 2, "the probe, then a normal call");
}

#[tokio::test]
async fn the_request_id_reaches_the_partner() {
    let (app, stub) = setup(&[]).await;
    let id = product_ids(1).await[0];
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-request-id", "trace-4711")
        .body(Body::from(
            json!({"query": ONE, "variables": {"id": id}}).to_string(),
        ))
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, 200);
    assert_eq!(stub.stats().last_request_id.as_deref(), Some("trace-4711"));
}

#[tokio::test]
async fn cached_answers_spare_the_partner_and_stand_in_marked_stale() {
    let (app, stub) = setup(&[
        "--offers-cache-ttl-ms",
        "60000",
        "--offers-stale-ms",
        "600000",
        "--partner-retries",
        "0",
    ])
    .await;
    let id = product_ids(1).await[0];
    assert!(one(&app, id).await.get("errors").is_none());
    assert!(one(&app, id).await.get("errors").is_none());
    assert_eq!(
        stub.stats().calls,
        1,
        "the second answer came from the cache"
    );

    skip(Duration::from_secs(60)).await;
    stub.set_faults(Faults {
        fail_status: Some(503),
        ..Faults::default()
    })
    .unwrap();
    let body = one(&app, id).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["product"]["offers"]["stale"], true);
    assert_eq!(
        body["data"]["product"]["offers"]["offers"]
            .as_array()
            .unwrap()
            .len(),
        partner_stub::expected_offer_count(id as u64)
    );
    assert_eq!(
        stub.stats().calls,
        2,
        "the partner was asked before the stale answer was used"
    );
}

#[tokio::test]
async fn the_bulkhead_bounds_calls_in_flight() {
    let (app, stub) = setup(&["--partner-max-in-flight", "2", "--loader-delay-us", "1000"]).await;
    stub.set_faults(Faults {
        latency_ms: 200,
        ..Faults::default()
    })
    .unwrap();
    let ids = product_ids(6).await;
    let requests = ids.iter().map(|&id| one(&app, id));
    let bodies = futures::future::join_all(requests).await;
    for body in bodies {
        assert!(body.get("errors").is_none(), "{body}");
    }
    let stats = stub.stats();
    assert_eq!(stats.calls, 6);
    assert!(
        stats.max_in_flight <= 2,
        "at most 2 calls at once, saw {}",
        stats.max_in_flight
    );
}

#[tokio::test]
async fn a_product_page_with_eight_similar_products_makes_one_partner_call() {
    let (app, stub) = setup(&[]).await;
    let id = product_ids(1).await[0];
    let data = app
        .query(
            "query($id: Int!) { product(databaseId: $id) { name offers { stale }
               brand { name } category { path { name } }
               similar(first: 8) { databaseId name brand { name } offers { offers { shop } } } } }",
            json!({"id": id}),
        )
        .await;
    let similar = data["product"]["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 8, "{data}");
    let stats = stub.stats();
    assert_eq!(
        stats.calls, 1,
        "one partner call for the product and its similar products"
    );
    let mut asked = stats.last_ids.clone();
    asked.sort();
    let mut expected: Vec<u64> = similar
        .iter()
        .map(|p| p["databaseId"].as_u64().unwrap())
        .collect();
    expected.push(id as u64);
    expected.sort();
    assert_eq!(asked, expected);
}

#[tokio::test]
async fn the_callers_trace_continues_into_the_partner_call_and_the_errors() {
    let (app, stub) = setup(&["--partner-retries", "0"]).await;
    let id = product_ids(1).await[0];
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let send = |query: &str| {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .body(Body::from(
                json!({"query": query, "variables": {"id": id}}).to_string(),
            ))
            .unwrap()
    };
    let (status, _, _) = app.send(send(ONE)).await;
    assert_eq!(status, 200);
    let sent = stub
        .stats()
        .last_traceparent
        .expect("the partner got a traceparent");
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!(parts[1], trace, "the same trace");
    assert_ne!(
        parts[2], "00f067aa0ba902b7",
        "with the gateway's span as parent"
    );
    assert_eq!(parts[2].len(), 16);

    // Errors carry the trace id too, so a client can hand it to whoever reads the traces.
    let (_, _, body) = app.send(send("{ nope }")).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["traceId"], trace, "{body}");
}
