//! Incremental delivery over HTTP (`@defer`, `@stream`, `multipart/mixed` with
//! deferSpec=20220824) against the real MariaDB and Elasticsearch, with the partner
//! stand-in slow, down or hanging. The product page is `operations/ProductPage.graphql`
//! itself, which defers its offers. Expected values come from the same document answered
//! whole, from SQL, and from the stand-in's counters.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use futures::StreamExt as _;
use ogrom::run::partner_stub::{Faults, StubHandle};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::helpers::{TestApp, error_codes, fixture_database, skip, sql};
use crate::metrics::{Samples, scrape, value};
use crate::offers::setup;

const PARTS: &str = "multipart/mixed;deferSpec=20220824,application/json";

fn product_page() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/operations/ProductPage.graphql"
    ))
    .expect("operations/ProductPage.graphql")
}

/// A product with offers at the stand-in (its rule leaves ids divisible by 10 out).
async fn product_id() -> i64 {
    sqlx::query_scalar("SELECT id FROM products WHERE id % 10 <> 0 ORDER BY id LIMIT 1")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap()
}

/// A part as received, and when.
struct Received {
    at: Instant,
    part: Value,
}

/// Splits a `multipart/mixed` body with boundary `-` into its JSON parts.
struct Parts {
    buffer: Vec<u8>,
    ended: bool,
}

impl Parts {
    fn new() -> Self {
        Self {
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// Adds received bytes; returns the parts they complete. A part is whole when the
    /// boundary after it has arrived.
    fn feed(&mut self, bytes: &[u8]) -> Vec<Value> {
        self.buffer.extend_from_slice(bytes);
        let mut parts = Vec::new();
        loop {
            let text = String::from_utf8_lossy(&self.buffer).into_owned();
            if text.len() < 5 {
                return parts;
            }
            assert!(
                text.starts_with("\r\n---"),
                "bytes before a boundary: {text:?}"
            );
            if text.starts_with("\r\n-----") {
                assert_eq!(text, "\r\n-----\r\n", "nothing after the closing boundary");
                self.ended = true;
                return parts;
            }
            let Some(end) = text[5..].find("\r\n---") else {
                return parts;
            };
            let part = &text[5..5 + end];
            let (headers, body) = part.split_once("\r\n\r\n").expect("part headers end");
            assert!(
                headers
                    .to_ascii_lowercase()
                    .contains("content-type: application/json"),
                "{headers:?}"
            );
            parts.push(serde_json::from_str(body).expect("a part is JSON"));
            self.buffer.drain(..5 + end);
        }
    }
}

/// A GraphQL POST of `body`, accepting `accept`.
fn graphql_post(body: &Value, accept: &str) -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// An answer to a client that takes parts, as its parts (one, for an answer that came
/// whole).
pub(crate) async fn answer_in_parts(app: &TestApp, body: &Value) -> Vec<Value> {
    let (status, headers, bytes) = app.send(graphql_post(body, PARTS)).await;
    let content_type = headers["content-type"].to_str().unwrap();
    if !content_type.starts_with("multipart/mixed") {
        return vec![serde_json::from_slice(&bytes).expect("a JSON answer")];
    }
    assert_eq!(status, StatusCode::OK);
    let mut parts = Parts::new();
    let received = parts.feed(&bytes);
    assert!(parts.ended, "the body ends with the closing boundary");
    received
}

/// Posts `body` with `accept` and reads the answer part by part as it arrives.
async fn in_parts(
    app: &TestApp,
    body: Value,
    accept: &str,
) -> (StatusCode, HeaderMap, Vec<Received>) {
    let request = graphql_post(&body, accept);
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let mut stream = response.into_body().into_data_stream();
    let mut parts = Parts::new();
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        let at = Instant::now();
        for part in parts.feed(&chunk.expect("a chunk")) {
            received.push(Received { at, part });
        }
    }
    assert!(parts.ended, "the body ends with the closing boundary");
    (status, headers, received)
}

/// The parts merged as Apollo Client and GraphiQL merge them: each deferred entry's fields
/// into the object at its path, each streamed entry's items onto the list at its path; and
/// every part's errors.
pub(crate) fn merged<'p>(parts: impl IntoIterator<Item = &'p Value>) -> (Value, Vec<Value>) {
    try_merged(parts).unwrap_or_else(|problem| panic!("{problem}"))
}

/// `merged`, or what cannot be merged: an entry at a path the parts so far do not have.
pub(crate) fn try_merged<'p>(
    parts: impl IntoIterator<Item = &'p Value>,
) -> Result<(Value, Vec<Value>), String> {
    let mut parts = parts.into_iter();
    let first = parts.next().ok_or("no part")?;
    let mut data = first["data"].clone();
    let mut errors: Vec<Value> = first["errors"].as_array().cloned().unwrap_or_default();
    for part in parts {
        let entries = part["incremental"]
            .as_array()
            .ok_or("a later part without entries")?;
        for entry in entries {
            errors.extend(entry["errors"].as_array().cloned().unwrap_or_default());
            let path = entry["path"].as_array().ok_or("an entry without a path")?;
            let missing = || format!("nothing at {path:?} for {entry}");
            if let Some(items) = entry.get("items") {
                let (index, list_path) = path.split_last().ok_or("items at no path")?;
                let list = at(&mut data, list_path).and_then(Value::as_array_mut);
                let list = list.ok_or_else(missing)?;
                if Some(list.len() as u64) != index.as_u64() {
                    return Err(format!("items at {path:?} do not go on at the end"));
                }
                list.extend(items.as_array().into_iter().flatten().cloned());
            } else if entry["data"].is_object() {
                deep_merge(at(&mut data, path).ok_or_else(missing)?, &entry["data"]);
            }
        }
    }
    Ok((data, errors))
}

fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                deep_merge(into.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from.clone(),
    }
}

/// The parts of an answer as received, for `merged`.
fn parts_of(received: &[Received]) -> impl Iterator<Item = &Value> {
    received.iter().map(|r| &r.part)
}

fn at<'v>(value: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Value::String(key) => value.as_object_mut()?.get_mut(key.as_str()),
        Value::Number(index) => value.as_array_mut()?.get_mut(index.as_u64()? as usize),
        _ => None,
    })
}

/// The entry of the deferred group `label` in `parts`.
fn labelled<'p>(parts: &'p [Received], label: &str) -> &'p Value {
    let mut entries =
        (parts.iter()).flat_map(|part| part.part["incremental"].as_array().into_iter().flatten());
    entries
        .find(|entry| entry["label"] == label)
        .unwrap_or_else(|| panic!("no {label} part"))
}

/// `data` without the time the offers were fetched, which differs between two requests.
fn fetched_at_removed(mut data: Value) -> Value {
    if let Some(offers) = data["product"]["offers"].as_object_mut() {
        offers.remove("fetchedAt");
    }
    data
}

fn without_offers(mut data: Value) -> Value {
    data["product"].as_object_mut().unwrap().remove("offers");
    data
}

async fn whole(app: &TestApp, body: Value) -> Value {
    let (status, body) = app.post("/graphql", body).await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[tokio::test]
async fn the_product_page_comes_before_a_slow_partner_and_its_offers_follow() {
    let (app, stub) = setup(&["--debug-secret", "explain-secret"]).await;
    stub.set_faults(Faults {
        latency_ms: 500,
        ..Faults::default()
    })
    .unwrap();
    let id = product_id().await;
    let body = json!({"query": product_page(), "variables": {"databaseId": id}});

    let mut request = graphql_post(&body, PARTS);
    let encodings = axum::http::HeaderValue::from_static("gzip, br");
    request.headers_mut().insert("accept-encoding", encodings);
    let explain = axum::http::HeaderValue::from_static("explain-secret");
    request.headers_mut().insert("ogrom-debug", explain);
    let started = Instant::now();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        content_type,
        r#"multipart/mixed; boundary="-"; deferSpec=20220824"#
    );
    assert!(
        response.headers().get("content-encoding").is_none(),
        "parts are not compressed: an encoder would hold them back"
    );
    let mut stream = response.into_body().into_data_stream();
    let mut parts = Parts::new();
    let first = parts.feed(&stream.next().await.unwrap().unwrap());
    let first_at = started.elapsed();
    // The first part is written before the partner is even asked.
    assert_eq!(
        stub.stats().calls,
        0,
        "the first part waited for the partner"
    );
    assert_eq!(first.len(), 1);
    let first = &first[0];
    assert_eq!(first["hasNext"], true);
    assert!(first.get("errors").is_none(), "{first}");
    for deferred in ["offers", "similar"] {
        assert!(first["data"]["product"].get(deferred).is_none(), "{first}");
    }

    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend(parts.feed(&chunk.unwrap()));
    }
    let last_at = started.elapsed();
    assert!(parts.ended);
    // The similar products (a search) come next, the offers after the partner's 500 ms.
    assert_eq!(rest.len(), 2, "{rest:#?}");
    let similar = &rest[0];
    assert_eq!(similar["hasNext"], true);
    assert_eq!(similar["incremental"][0]["label"], "similar");
    assert_eq!(similar["incremental"][0]["path"], json!(["product"]));
    let offers = &rest[1];
    assert_eq!(offers["hasNext"], false);
    let entry = &offers["incremental"][0];
    assert_eq!(entry["label"], "offers");
    assert_eq!(entry["path"], json!(["product"]));
    assert_eq!(
        entry["data"]["offers"]["offers"].as_array().unwrap().len(),
        ogrom::run::partner_stub::expected_offer_count(id as u64)
    );
    assert!(
        offers["extensions"]["cost"].is_object(),
        "the cost is in the last part"
    );
    // The last part's explain is the whole request's: the first part's statements and
    // searches, and the partner's call.
    assert!(first.get("extensions").is_none(), "{first}");
    let calls = offers["extensions"]["debug"]["calls"].as_array().unwrap();
    let by = |backend: &str| calls.iter().filter(|c| c["backend"] == backend).count();
    assert_eq!(by("partner"), 1, "{calls:#?}");
    assert!(by("mysql") >= 3 && by("elasticsearch") == 1, "{calls:#?}");
    assert_eq!(stub.stats().calls, 1);
    assert!(
        last_at >= first_at + Duration::from_millis(500),
        "the offers part waited for the partner: {first_at:?}, then {last_at:?}"
    );

    // Merged, the parts are the page answered whole.
    let answered = whole(&app, body).await;
    let (data, errors) = merged([first, similar, offers]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        fetched_at_removed(data),
        fetched_at_removed(answered["data"].clone())
    );
    assert!(answered.get("errors").is_none(), "{answered}");
    // Its cost is the whole answer's: requested once, and what every part returned.
    let (cost, whole_cost) = (
        &offers["extensions"]["cost"],
        &answered["extensions"]["cost"],
    );
    assert_eq!(cost["requested"], whole_cost["requested"]);
    assert_eq!(cost["actual"], whole_cost["actual"]);
}

#[tokio::test]
async fn with_the_partner_down_the_offers_part_carries_the_error_and_the_first_is_unchanged() {
    let (app, stub) = setup(&["--partner-retries", "0"]).await;
    let id = product_id().await;
    let body = json!({"query": product_page(), "variables": {"databaseId": id}});
    let (_, _, up) = in_parts(&app, body.clone(), PARTS).await;

    stub.set_faults(Faults {
        fail_status: Some(503),
        ..Faults::default()
    })
    .unwrap();
    let (status, _, down) = in_parts(&app, body.clone(), PARTS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        down[0].part, up[0].part,
        "the first part does not depend on the partner"
    );
    let entry = labelled(&down, "offers");
    assert_eq!(entry["data"], json!({"offers": null}));
    assert_eq!(entry["errors"][0]["path"], json!(["product", "offers"]));
    assert_eq!(
        entry["errors"][0]["extensions"]["code"],
        "UPSTREAM_UNAVAILABLE"
    );
    assert!(entry["errors"][0]["extensions"]["requestId"].is_string());
    assert_eq!(down.last().unwrap().part["hasNext"], false);
    assert_eq!(
        down.len(),
        3,
        "the first part, the similar products, the offers"
    );

    // Answered whole, the same error at the same path, and the rest of the page the same.
    let answered = whole(&app, body).await;
    assert_eq!(error_codes(&answered), ["UPSTREAM_UNAVAILABLE"]);
    assert_eq!(
        without_offers(answered["data"].clone()),
        without_offers(merged(parts_of(&down)).0)
    );
}

#[tokio::test]
async fn a_client_that_does_not_take_parts_gets_the_whole_answer_at_once() {
    let (app, _stub) = setup(&[]).await;
    let id = product_id().await;
    let body = json!({"query": product_page(), "variables": {"databaseId": id}});
    for accept in [
        "application/json",
        "application/graphql-response+json",
        "*/*",
    ] {
        let request = graphql_post(&body, accept);
        let (status, headers, bytes) = app.send(request).await;
        assert_eq!(status, StatusCode::OK);
        let content_type = headers["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("application/"),
            "{accept}: {content_type}"
        );
        let answered: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(
            answered["data"]["product"]["offers"]["offers"].is_array(),
            "{answered}"
        );
        assert!(answered.get("hasNext").is_none());
    }
    // A deferSpec the gateway does not write is not taken as parts either.
    let (_, headers, _) = in_parts_or_whole(
        &app,
        body,
        "multipart/mixed;deferSpec=29990101, application/json",
    )
    .await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

async fn in_parts_or_whole(
    app: &TestApp,
    body: Value,
    accept: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = graphql_post(&body, accept);
    app.send(request).await
}

#[tokio::test]
async fn an_operation_without_deferred_fields_is_answered_whole_to_a_client_that_takes_parts() {
    let (app, _stub) = setup(&[]).await;
    let body = json!({"query": "{ categories { slug } }"});
    let (status, headers, bytes) = in_parts_or_whole(&app, body, PARTS).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM categories WHERE parent_id IS NULL")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap();
    let answered: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        answered["data"]["categories"].as_array().unwrap().len() as i64,
        count
    );
}

#[tokio::test]
async fn a_stream_of_search_results_delivers_its_initial_count_first_then_the_rest() {
    let (app, _stub) = setup(&[]).await;
    let query = "query($q: String) { searchProducts(query: $q, first: 10) { totalCount
        nodes @stream(initialCount: 4, label: \"more\") { databaseId name brand { name } } } }";
    let body = json!({"query": query, "variables": {"q": "dress"}});
    let answered = whole(&app, body.clone()).await;
    let all = answered["data"]["searchProducts"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        all.len() > 4,
        "the fixture has more than 4 dresses: {answered}"
    );

    let (_, _, parts) = in_parts(&app, body, PARTS).await;
    assert_eq!(parts.len(), 2);
    let first = parts[0].part["data"]["searchProducts"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(first[..], all[..4]);
    let entry = &parts[1].part["incremental"][0];
    assert_eq!(entry["path"], json!(["searchProducts", "nodes", 4]));
    assert_eq!(entry["label"], "more");
    assert_eq!(entry["items"].as_array().unwrap()[..], all[4..]);
    assert_eq!(merged(parts_of(&parts)).0, answered["data"]);
}

#[tokio::test]
async fn deferring_in_a_mutation_is_refused_before_anything_runs() {
    let (app, stub) = setup(&[]).await;
    let query = r#"mutation { likeProduct(productId: "UHJvZHVjdDox") {
        ... @defer { product { name } } } }"#;
    for accept in [PARTS, "application/graphql-response+json"] {
        let (status, _, bytes) = in_parts_or_whole(&app, json!({"query": query}), accept).await;
        let answered: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(error_codes(&answered), ["DEFER_IN_MUTATION"], "{answered}");
        assert!(answered.get("data").is_none(), "{answered}");
        let expected = if accept == PARTS {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, expected);
    }
    assert_eq!(stub.stats().calls, 0);
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_work_still_pending_and_frees_its_place() {
    let (app, stub, body, before) = one_at_a_time_with_a_hanging_partner().await;
    let request = graphql_post(&body, PARTS);
    let response = app.router.clone().oneshot(request).await.unwrap();
    let mut stream = response.into_body().into_data_stream();
    let mut parts = Parts::new();
    let first = parts.feed(&stream.next().await.unwrap().unwrap());
    assert_eq!(first[0]["hasNext"], true);
    let similar = parts.feed(&stream.next().await.unwrap().unwrap());
    assert_eq!(similar[0]["incremental"][0]["label"], "similar");
    // The offers call is made, and hangs.
    let polled = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(
        polled.is_err(),
        "nothing more comes while the partner hangs"
    );
    crate::helpers::until_partner_called(&stub).await;
    let (status, _) = app
        .post("/graphql", json!({"query": "{ categories { slug } }"}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the place is held");

    drop(stream);
    let after = freed_and_stopped(&app, &stub, &before).await;
    let page = |samples| {
        value(
            samples,
            "ogrom_graphql_operations_total",
            &[
                ("operation", "ProductPage"),
                ("type", "query"),
                ("outcome", "partial"),
            ],
        )
    };
    assert_eq!(
        page(&after) - page(&before),
        1.0,
        "counted once, when it ended"
    );
}

/// The same for a client that takes the answer whole: a handler dropped mid-request
/// (the server drops it when its client goes away) still writes its line, with status 499,
/// frees its place and stops its work.
#[tokio::test]
async fn a_client_that_goes_away_before_a_whole_answer_is_logged_and_its_work_stopped() {
    let (app, stub, body, before) = one_at_a_time_with_a_hanging_partner().await;
    let request = graphql_post(&body, "application/json");
    let answering = app.router.clone().oneshot(request);
    let waited = tokio::time::timeout(Duration::from_millis(300), answering).await;
    assert!(waited.is_err(), "no answer while the partner hangs");
    assert_eq!(stub.stats().calls, 1, "the offers call was made");
    freed_and_stopped(&app, &stub, &before).await;
}

/// A gateway that serves one request at a time (the next is refused while one holds the
/// place), with the partner hanging and retried twice after its timeout; the product
/// page's request body; and the metrics before.
async fn one_at_a_time_with_a_hanging_partner() -> (TestApp, StubHandle, Value, Samples) {
    let (app, stub) = setup(&["--max-concurrent-requests", "1", "--partner-retries", "2"]).await;
    let before = scrape(&app).await;
    stub.set_faults(Faults {
        hang: true,
        ..Faults::default()
    })
    .unwrap();
    let id = product_id().await;
    let body = json!({"query": product_page(), "variables": {"databaseId": id}});
    (app, stub, body, before)
}

/// After its client went away, a request's place is free at once, its partner call is not
/// retried (past the partner's timeout and its retries' backoff), and
/// `CLIENT_DISCONNECTED` is counted once; returns the metrics after.
async fn freed_and_stopped(app: &TestApp, stub: &StubHandle, before: &Samples) -> Samples {
    let (status, _) = app
        .post("/graphql", json!({"query": "{ categories { slug } }"}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the place is freed when the client goes away"
    );
    skip(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        stub.stats().calls,
        1,
        "the pending work went on after the client left"
    );
    let after = scrape(app).await;
    let disconnected = |samples| {
        value(
            samples,
            "ogrom_graphql_errors_total",
            &[("code", "CLIENT_DISCONNECTED")],
        )
    };
    assert_eq!(disconnected(&after) - disconnected(before), 1.0);
    after
}

#[tokio::test]
async fn the_deadline_covers_every_part() {
    let (app, stub) = setup(&[
        "--request-timeout-ms",
        "600",
        "--partner-timeout-ms",
        "5000",
    ])
    .await;
    stub.set_faults(Faults {
        hang: true,
        ..Faults::default()
    })
    .unwrap();
    let id = product_id().await;
    let body = json!({"query": product_page(), "variables": {"databaseId": id}});
    let started = Instant::now();
    let (status, _, parts) = in_parts(&app, body, PARTS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        parts.len(),
        3,
        "the first part, the similar products, the offers"
    );
    assert!(parts[0].part["data"]["product"]["name"].is_string());
    let last = &parts[2].part;
    assert_eq!(last["hasNext"], false);
    let entry = labelled(&parts, "offers");
    assert_eq!(entry["path"], json!(["product"]));
    let codes = error_codes(&json!({"errors": entry["errors"]}));
    assert!(
        codes == ["TIMEOUT"] || codes == ["UPSTREAM_TIMEOUT"],
        "the offers part ends with the deadline: {last}"
    );
    assert!(
        parts[2].at.duration_since(started) < Duration::from_secs(5),
        "ended by the deadline, not the partner's timeout"
    );
}
