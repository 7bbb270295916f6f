//! What protects the gateway, each switch and budget from the outside: `extensions.cost`
//! and budgets that run out (429) and refill, automatic persisted queries and trusted
//! documents, CORS, introspection and suggestions turned off, and load shedding. Expected
//! costs are counted by hand from the documented rule, hashes computed here with SHA-256.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Served, TestApp, database_url, fixture_database, partner_stub, serve_args, sha256_hex,
    until_partner_called,
};

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Three brands' names: `brands` sizes its `nodes` (`sizedFields`), so it costs 1 + nodes
/// (1 + 3 × name 1) = 5 points requested; the answer holds brands, nodes and three names:
/// 5 fields.
const THREE_BRANDS: &str = "{ brands(first: 3) { nodes { name } } }";

#[tokio::test]
async fn extensions_cost_reports_requested_actual_and_the_budget_left() {
    let app = TestApp::new(&[
        "--max-complexity",
        "50",
        "--cost-budget",
        "100",
        "--cost-refill-per-s",
        "1",
    ]);
    let (status, body) = app.post("/graphql", json!({"query": THREE_BRANDS})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requested"], 1 + (1 + 3), "{cost}");
    assert_eq!(cost["actual"], 5, "{cost}");
    assert_eq!(cost["maximum"], 50);
    assert_eq!(cost["budget"]["capacity"], 100);
    assert_eq!(cost["budget"]["refillPerSecond"], 1);
    // 100 - 5 charged, all used; at 1 point a second, at most one more refilled.
    let remaining = cost["budget"]["remaining"].as_u64().unwrap();
    assert!((95..=96).contains(&remaining), "{cost}");
}

/// Lists without pagination are costed at the sizes their SDL assumes (`categories` and
/// `children` 10 each): the tree below costs 1 + 10 × (name 1 + children (1 + 10 × name 1)).
const CATEGORY_TREE: &str = "{ categories { name children { name } } }";

#[tokio::test]
async fn lists_without_pagination_cost_their_assumed_size_and_big_trees_are_refused() {
    let app = TestApp::new(&[]);
    let (status, body) = app.post("/graphql", json!({"query": CATEGORY_TREE})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["extensions"]["cost"]["requested"],
        1 + 10 * (1 + 1 + 10),
        "{body}"
    );
    // Costed as one category with one child, this was accepted at 1505 points, and spent
    // about 46 ms of gateway CPU and 250 ms of MySQL on the demo data.
    let tree = "{ categories { name children { name products(first: 100) { nodes { name \
                brand { name } collages(first: 5) { nodes { title } } } } } } }";
    let (status, body) = app.post("/graphql", json!({"query": tree})).await;
    assert_eq!(code(&body), Some("COST_LIMIT_EXCEEDED"), "{status} {body}");
    assert!(body.get("data").is_none(), "nothing ran: {body}");
}

#[tokio::test]
async fn a_spent_budget_is_a_429_with_retry_after_and_it_refills() {
    let app = TestApp::new(&[
        "--max-complexity",
        "100",
        "--cost-budget",
        "100",
        "--cost-refill-per-s",
        "40",
    ]);
    // 24 brands: 1 + (1 + 24 × 1) = 26 points each time, given back only if there are fewer
    // brands; a few in a row spend the budget faster than 40 points a second refill.
    let query = "{ brands(first: 24) { nodes { name } } }";
    let mut refused = None;
    for _ in 0..30 {
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(json!({"query": query}).to_string()))
            .unwrap();
        let (status, headers, body) = app.send(request).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((headers, serde_json::from_slice::<Value>(&body).unwrap()));
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    let (headers, body) = refused.expect("the budget runs out");
    assert_eq!(code(&body), Some("BUDGET_EXHAUSTED"), "{body}");
    assert!(body.get("data").is_none(), "nothing ran: {body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], retry_after);
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requested"], 1 + (1 + 24), "{body}");
    assert!(cost["budget"]["remaining"].as_u64().unwrap() < 26, "{body}");

    crate::helpers::skip(Duration::from_secs(retry_after)).await;
    let (status, body) = app.post("/graphql", json!({"query": query})).await;
    assert_eq!(status, StatusCode::OK, "refilled after Retry-After: {body}");
    assert!(body.get("errors").is_none(), "{body}");
}

/// Statuses of `query` sent with each of `headers` (a header name and its value), in order.
async fn statuses(app: &TestApp, query: &str, headers: &[(&str, String)]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for (name, value) in headers {
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .header(*name, value)
            .body(Body::from(json!({"query": query}).to_string()))
            .unwrap();
        statuses.push(app.send(request).await.0.as_u16());
    }
    statuses
}

/// Eight requests' `header`, each with a new address the client wrote (`value` of 1 to 8).
fn forgeries(header: &'static str, value: impl Fn(u32) -> String) -> Vec<(&'static str, String)> {
    (1..=8).map(|n| (header, value(n))).collect()
}

/// A budget of 100 points that barely refills, keyed by what proxies write in `header`.
fn budgeted_behind(header: &str, hops: &str) -> TestApp {
    TestApp::new(&[
        "--max-complexity",
        "100",
        "--cost-budget",
        "100",
        "--cost-refill-per-s",
        "1",
        "--client-address-header",
        header,
        "--trusted-proxy-hops",
        hops,
    ])
}

/// 24 brands: 49 points requested, about half given back; three or four fit a budget.
const BUDGET_QUERY: &str = "{ brands(first: 24) { nodes { name } } }";

#[tokio::test]
async fn addresses_a_client_writes_into_x_forwarded_for_buy_it_no_budget() {
    // Behind one proxy, which appends the address it saw (here 127.0.0.1): a client that
    // writes a new first address each time still pays from one budget.
    let app = budgeted_behind("x-forwarded-for", "1");
    let forged = forgeries("x-forwarded-for", |n| format!("10.9.9.{n}, 127.0.0.1"));
    let answered = statuses(&app, BUDGET_QUERY, &forged).await;
    assert!(
        answered.contains(&429),
        "every forged address got a budget: {answered:?}"
    );
    assert!(answered.iter().take(2).all(|s| *s == 200), "{answered:?}");
    // Another address the proxy wrote is another client, with a budget of its own.
    let other = [("x-forwarded-for", "10.9.9.1, 203.0.113.5".to_owned())];
    assert_eq!(statuses(&app, BUDGET_QUERY, &other).await, [200]);
}

#[tokio::test]
async fn behind_two_proxies_or_with_forwarded_the_outer_proxys_entry_pays() {
    // A CDN (198.51.100.7 as its client) in front of a load balancer: the CDN's entry,
    // second from the right, is the client; what the client wrote left of it is ignored.
    let app = budgeted_behind("x-forwarded-for", "2");
    let forged = forgeries("x-forwarded-for", |n| {
        format!("10.9.9.{n}, 198.51.100.7, 10.0.0.2")
    });
    let answered = statuses(&app, BUDGET_QUERY, &forged).await;
    assert!(answered.contains(&429), "{answered:?}");
    // RFC 7239: the `for` of the element the proxy appended.
    let app = budgeted_behind("forwarded", "1");
    let forged = forgeries("forwarded", |n| {
        format!("for=10.9.9.{n}, for=\"[2001:db8::7]:4711\";proto=https")
    });
    let answered = statuses(&app, BUDGET_QUERY, &forged).await;
    assert!(answered.contains(&429), "{answered:?}");
    let other = [("forwarded", "for=192.0.2.60".to_owned())];
    assert_eq!(statuses(&app, BUDGET_QUERY, &other).await, [200]);
}

fn persisted_get(hash: &str) -> Request<Body> {
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    let encoded: String = extensions
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Request::get(format!("/graphql?extensions={encoded}"))
        .header("apollo-require-preflight", "true")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn automatic_persisted_queries_miss_register_and_hit_with_cache_headers() {
    let app = TestApp::new(&[]);
    let hash = sha256_hex(THREE_BRANDS);
    let (status, _, body) = app.send(persisted_get(&hash)).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body), Some("PERSISTED_QUERY_NOT_FOUND"), "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let (status, registered) = app
        .post(
            "/graphql",
            json!({"query": THREE_BRANDS, "extensions": extensions}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(registered.get("errors").is_none(), "{registered}");

    let (status, headers, body) = app.send(persisted_get(&hash)).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"], registered["data"],
        "the hash runs the registered query"
    );
    // Brands are public data, hinted for a minute.
    assert_eq!(headers["cache-control"], "public, max-age=60");
}

#[tokio::test]
async fn trusted_documents_run_and_anything_else_is_refused() {
    let dir = std::env::temp_dir().join(format!("ogrom-trusted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    let body = "query Brands { brands(first: 3) { nodes { name } } }";
    std::fs::write(
        &manifest,
        json!({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
            {"id": sha256_hex(body), "name": "Brands", "type": "query", "body": body}
        ]})
        .to_string(),
    )
    .unwrap();
    let app = TestApp::new(&["--trusted-documents", manifest.to_str().unwrap()]);

    let (status, _, by_hash) = app.send(persisted_get(&sha256_hex(body))).await;
    let by_hash: Value = serde_json::from_slice(&by_hash).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(by_hash["data"]["brands"]["nodes"].is_array(), "{by_hash}");
    let (_, by_text) = app.post("/graphql", json!({"query": body})).await;
    assert_eq!(by_text["data"], by_hash["data"]);

    let (_, other) = app.post("/graphql", json!({"query": THREE_BRANDS})).await;
    assert_eq!(code(&other), Some("OPERATION_NOT_TRUSTED"), "{other}");
    let (_, _, unknown) = app.send(persisted_get(&sha256_hex(THREE_BRANDS))).await;
    let unknown: Value = serde_json::from_slice(&unknown).unwrap();
    assert_eq!(code(&unknown), Some("OPERATION_NOT_TRUSTED"), "{unknown}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn cors_answers_the_allowed_origins_only() {
    let app = TestApp::new(&[
        "--cors-origins",
        "https://shop.example,https://admin.example",
    ]);
    let preflight = |origin: &str| {
        Request::options("/graphql")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .body(Body::empty())
            .unwrap()
    };
    // A preflight is answered by the CORS layer itself, with an empty 200.
    let (status, headers, body) = app.send(preflight("https://admin.example")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://admin.example"
    );
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(headers["access-control-allow-methods"], "GET,POST");
    assert_eq!(headers["access-control-max-age"], "600");
    assert!(!headers.contains_key("access-control-allow-credentials"));
    let (status, headers, _) = app.send(preflight("https://evil.example")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("access-control-allow-origin"));

    let request = Request::post("/graphql")
        .header("origin", "https://shop.example")
        .header("content-type", "application/json")
        .body(Body::from(json!({"query": "{ __typename }"}).to_string()))
        .unwrap();
    let (status, headers, _) = app.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example"
    );
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("retry-after"),
        "{exposed}"
    );
    let vary: Vec<&str> = headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.iter().any(|v| v.contains("origin")), "{vary:?}");

    // An origin not on the list gets its answer, without leave to read it.
    let request = Request::post("/graphql")
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body(Body::from(json!({"query": "{ __typename }"}).to_string()))
        .unwrap();
    let (status, headers, _) = app.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn introspection_and_suggestions_can_be_turned_off() {
    let open = TestApp::new(&[]);
    let (_, body) = open
        .post(
            "/graphql",
            json!({"query": "{ __schema { queryType { name } } }"}),
        )
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let (_, body) = open.post("/graphql", json!({"query": "{ brandz }"})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );

    let closed = TestApp::new(&["--introspection", "false", "--field-suggestions", "false"]);
    let (_, body) = closed
        .post(
            "/graphql",
            json!({"query": "{ __schema { queryType { name } } }"}),
        )
        .await;
    assert_eq!(code(&body), Some("INTROSPECTION_DISABLED"), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    let (status, _, _) = closed
        .send(Request::get("/schema.graphql").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor the SDL");
    let (_, body) = closed
        .post("/graphql", json!({"query": "{ brandz }"}))
        .await;
    assert_eq!(code(&body), Some("GRAPHQL_VALIDATION_FAILED"));
    assert!(
        !body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_are_shed_at_once() {
    use ogrom::run::partner_stub::Faults;
    let (partner_url, stub) = partner_stub("shed-key").await;
    stub.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    })
    .unwrap();
    let args = serve_args(
        &database_url(fixture_database()),
        &[
            "--partner-url",
            &partner_url,
            "--partner-api-key",
            "shed-key",
            "--partner-timeout-ms",
            "5000",
            "--partner-deadline-ms",
            "5000",
            "--offers-cache-ttl-ms",
            "0",
            "--max-concurrent-requests",
            "1",
            "--shutdown-drain-ms",
            "0",
        ],
    );
    let served = Served::start(args).await;
    let address = served.address;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{address}/graphql");
    let id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM products")
        .fetch_one(&crate::helpers::sql(fixture_database()).await)
        .await
        .unwrap();
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        let query = format!("{{ product(databaseId: {id}) {{ offers {{ stale }} }} }}");
        async move {
            client
                .post(url)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    until_partner_called(&stub).await;

    let shed = client
        .post(&url)
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let body: Value = shed.json().await.unwrap();
    assert_eq!(code(&body), Some("OVERLOADED"), "{body}");
    assert!(!slow.is_finished(), "answered while the slot was taken");
    // Health checks are not shed: the instance is busy, not broken.
    let ready = client
        .get(format!("http://{address}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    assert_eq!(slow.await.unwrap(), 200, "the admitted request completes");
    let after = client
        .post(&url)
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200, "the slot is free again");
    served.stopped().await.unwrap();
}

#[tokio::test]
async fn batches_run_each_operation_when_turned_on_and_are_bounded() {
    let off = TestApp::new(&[]);
    let batch = json!([{"query": "{ __typename }"}, {"query": THREE_BRANDS}]);
    let request = |app_batch: &Value| {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(app_batch.to_string()))
            .unwrap()
    };
    let (status, _, body) = off.send(request(&batch)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&body), Some("BATCH_NOT_ALLOWED"), "off by default");

    let on = TestApp::new(&["--max-batch", "2"]);
    let (status, _, body) = on.send(request(&batch)).await;
    assert_eq!(status, StatusCode::OK);
    let answers: Value = serde_json::from_slice(&body).unwrap();
    let answers = answers.as_array().expect("an array of answers");
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["data"]["__typename"], "Query");
    assert_eq!(
        answers[1]["data"]["brands"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        answers[1]["extensions"]["cost"]["requested"], 5,
        "each is charged"
    );

    // One bad operation spoils only its own answer; three are over the limit.
    let mixed = json!([{"query": "{ nope }"}, {"query": "{ __typename }"}]);
    let (_, _, body) = on.send(request(&mixed)).await;
    let answers: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&answers[0]), Some("GRAPHQL_VALIDATION_FAILED"));
    assert_eq!(answers[1]["data"]["__typename"], "Query");
    let three = json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}, {"query": "{ __typename }"}]);
    let (status, _, body) = on.send(request(&three)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&body), Some("BATCH_NOT_ALLOWED"));
}
