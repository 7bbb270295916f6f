//! `/graphql` speaks GraphQL over HTTP: content types, status codes and a stable
//! `extensions.code` on every error, for well-formed and malformed requests alike; the
//! router works unchanged under a prefix; and large answers are compressed as
//! `Accept-Encoding` asks, the response cache keeping them plain.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};

use crate::encoding::{decoded, varies_by_encoding};
use crate::helpers::{TestApp, error_codes, sql};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post_raw(
    app: &TestApp,
    content_type: &str,
    accept: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, String, Value) {
    let mut request = Request::post("/graphql").header("content-type", content_type);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let (status, headers, body) = app.send(request.body(body.into()).unwrap()).await;
    let content_type = headers["content-type"].to_str().unwrap().to_owned();
    assert!(headers.contains_key("x-request-id"));
    let body: Value = serde_json::from_slice(&body).expect("every answer is JSON");
    (status, content_type, body)
}

/// Every error carries a code and the request id.
fn assert_codes(body: &Value, expected: &[&str]) {
    assert_eq!(error_codes(body), expected, "{body}");
    for error in body["errors"].as_array().unwrap() {
        assert!(error["extensions"]["requestId"].is_string(), "{error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_bad_request() {
    let app = TestApp::new(&[]);
    let (status, content_type, body) =
        post_raw(&app, "application/json", None, "{\"query\": ").await;
    assert_eq!(status, 400);
    assert!(content_type.starts_with("application/json"));
    assert_codes(&body, &["BAD_REQUEST"]);
}

#[tokio::test]
async fn non_graphql_bodies_are_400_bad_request() {
    let app = TestApp::new(&[]);
    for (body, code) in [
        (json!({"query": 42}), "BAD_REQUEST"),
        (json!({"variables": {}}), "BAD_REQUEST"),
        (
            json!({"query": "{ categories { slug } }", "variables": [1]}),
            "BAD_REQUEST",
        ),
        (
            json!([{"query": "{ categories { slug } }"}]),
            "BATCH_NOT_ALLOWED",
        ),
    ] {
        let (status, _, answer) = post_raw(&app, "application/json", None, body.to_string()).await;
        assert_eq!(status, 400, "{body}");
        assert_codes(&answer, &[code]);
    }
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415() {
    let app = TestApp::new(&[]);
    let query = json!({"query": "{ categories { slug } }"}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let (status, _, body) = post_raw(&app, content_type, None, query.clone()).await;
        assert_eq!(status, 415, "{content_type}");
        assert_codes(&body, &["UNSUPPORTED_MEDIA_TYPE"]);
    }
    // Parameters of the media type are fine.
    let (status, _, body) = post_raw(&app, "application/json; charset=utf-8", None, query).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_unknown_field_fails_validation_with_the_status_of_the_media_type() {
    let app = TestApp::new(&[]);
    let query = json!({"query": "{ categories { slug colour } }"}).to_string();
    // Legacy JSON: 200 with errors and no data.
    let (status, content_type, body) = post_raw(
        &app,
        "application/json",
        Some("application/json"),
        query.clone(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    assert_codes(&body, &["GRAPHQL_VALIDATION_FAILED"]);
    assert!(
        body.get("data").is_none(),
        "a request error has no data entry: {body}"
    );
    // The spec's media type: a request error is a 400.
    let (status, content_type, body) =
        post_raw(&app, "application/json", Some(GRAPHQL_RESPONSE), query).await;
    assert_eq!(status, 400);
    assert!(content_type.starts_with(GRAPHQL_RESPONSE));
    assert_codes(&body, &["GRAPHQL_VALIDATION_FAILED"]);
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_syntax_error_fails_parsing() {
    let app = TestApp::new(&[]);
    let query = json!({"query": "{ categories { slug "}).to_string();
    let (status, _, body) = post_raw(
        &app,
        "application/json",
        Some(GRAPHQL_RESPONSE),
        query.clone(),
    )
    .await;
    assert_eq!(status, 400);
    assert_codes(&body, &["GRAPHQL_PARSE_FAILED"]);
    let (status, _, body) = post_raw(&app, "application/json", None, query).await;
    assert_eq!(status, 200);
    assert_codes(&body, &["GRAPHQL_PARSE_FAILED"]);
}

#[tokio::test]
async fn field_errors_keep_the_rest_of_the_data_with_a_200() {
    let app = TestApp::new(&[]);
    let query = json!({"query": "{ categories { slug } brands(first: 1000) { totalCount } }"});
    let (status, _, body) = post_raw(
        &app,
        "application/json",
        Some(GRAPHQL_RESPONSE),
        query.to_string(),
    )
    .await;
    assert_eq!(
        status, 200,
        "execution started, so 2xx even with the spec's media type"
    );
    assert_codes(&body, &["BAD_USER_INPUT"]);
    assert!(
        body["data"]["categories"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(body["data"]["brands"], Value::Null);
}

#[tokio::test]
async fn an_unacceptable_accept_header_is_a_406() {
    let app = TestApp::new(&[]);
    let query = json!({"query": "{ categories { slug } }"}).to_string();
    let (status, _, body) = post_raw(&app, "application/json", Some("text/html"), query).await;
    assert_eq!(status, 406);
    assert_codes(&body, &["NOT_ACCEPTABLE"]);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = TestApp::new(&["--max-body-bytes", "2048"]);
    let padding = " ".repeat(4096);
    let body = format!("{{\"query\": \"{{ categories {{ slug }} }}{padding}\"}}");
    let (status, _, answer) = post_raw(&app, "application/json", None, body).await;
    assert_eq!(status, 413);
    assert_codes(&answer, &["PAYLOAD_TOO_LARGE"]);
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = TestApp::new(&[]);
    let db = sql(&app.database).await;
    let brands: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&db)
        .await
        .unwrap();
    let get = |query: &str| {
        let mut url = "/graphql?".to_owned();
        url.push_str(&serde_urlencoded_pair("query", query));
        Request::get(url)
            .header("apollo-require-preflight", "true")
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, body) = app.send(get("{ brands { totalCount } }")).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["data"]["brands"]["totalCount"], brands);

    let (status, headers, body) = app.send(get("mutation { likeProduct }")).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "POST");
    assert_codes(
        &serde_json::from_slice(&body).unwrap(),
        &["METHOD_NOT_ALLOWED"],
    );

    let (status, _, body) = app
        .send(
            Request::get(
                "/graphql?query=%7B%20brands%20%7B%20totalCount%20%7D%20%7D&variables=%7Bnope",
            )
            .header("apollo-require-preflight", "true")
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(status, 400);
    assert_codes(&serde_json::from_slice(&body).unwrap(), &["BAD_REQUEST"]);
}

fn serde_urlencoded_pair(key: &str, value: &str) -> String {
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{key}={encoded}")
}

#[tokio::test]
async fn a_callers_request_id_is_echoed_in_the_header_and_the_errors() {
    let app = TestApp::new(&[]);
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-request-id", "lb-1234")
        .body(Body::from(
            json!({"query": "{ node(id: \"x\") { id } }"}).to_string(),
        ))
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-request-id"], "lb-1234");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "lb-1234");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_router_works_unchanged_under_a_prefix() {
    let app = TestApp::new(&["--path-prefix", "/api/v2"]);
    let db = sql(&app.database).await;
    let roots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM categories WHERE parent_id IS NULL")
        .fetch_one(&db)
        .await
        .unwrap();
    let (status, body) = app
        .post(
            "/api/v2/graphql",
            json!({"query": "{ categories { slug } }"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["categories"].as_array().unwrap().len() as i64,
        roots
    );

    // Nothing is served outside the prefix.
    let (status, _, _) = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, 404);

    // GraphiQL's links are relative, so they resolve inside the prefix.
    let (status, _, page) = app
        .send(
            Request::get("/api/v2/graphiql")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    for asset in [
        "graphiql/graphiql.min.js",
        "graphiql/graphiql.min.css",
        "graphiql/app.js",
    ] {
        assert!(
            page.contains(&format!("\"{asset}\"")),
            "{asset} not linked relatively"
        );
        let (status, _, bytes) = app
            .send(
                Request::get(format!("/api/v2/{asset}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, 200, "{asset}");
        assert!(bytes.len() > 100, "{asset} is empty");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no absolute URLs"
    );
    let (status, _, _) = app
        .send(
            Request::get("/api/v2/schema.graphql")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
}

// ------------------------------------------------------------------------- compression

const HOME_FEED: &str = include_str!("../../operations/HomeFeed.graphql");

/// The home feed by POST or GET, with `accept_encoding` (none: no header).
fn home_feed(method: &str, accept_encoding: Option<&str>) -> Request<Body> {
    let mut request = if method == "GET" {
        Request::get(format!(
            "/graphql?{}",
            serde_urlencoded_pair("query", HOME_FEED)
        ))
        .header("apollo-require-preflight", "true")
    } else {
        Request::post("/graphql").header("content-type", "application/json")
    };
    if let Some(accept) = accept_encoding {
        request = request.header("accept-encoding", accept);
    }
    let body = if method == "GET" {
        Body::empty()
    } else {
        Body::from(json!({"query": HOME_FEED}).to_string())
    };
    request.body(body).unwrap()
}

/// The plain answer, checked against the fixture: the feed's collages, well over 1 KiB.
async fn plain_home_feed(app: &TestApp, method: &str) -> (HeaderMap, Vec<u8>) {
    let collages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM collages")
        .fetch_one(&sql(&app.database).await)
        .await
        .unwrap();
    let (status, headers, plain) = app.send(home_feed(method, None)).await;
    assert_eq!(status, 200, "{method}");
    assert!(headers.get("content-encoding").is_none(), "{method}");
    assert!(varies_by_encoding(&headers), "{method}");
    let answer: Value = serde_json::from_slice(&plain).unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    let edges = answer["data"]["collages"]["edges"].as_array().unwrap();
    assert_eq!(edges.len() as i64, collages.min(20));
    assert!(
        plain.len() > 4 * 1024,
        "the feed is well above the 1 KiB threshold: {} bytes",
        plain.len()
    );
    (headers, plain)
}

#[tokio::test]
async fn a_large_graphql_result_decompresses_to_the_plain_answer_in_each_encoding() {
    // No cost budget: its `remaining` in `extensions.cost` would differ between requests.
    let app = TestApp::new(&["--cost-budget", "0"]);
    for method in ["POST", "GET"] {
        let (plain_headers, plain) = plain_home_feed(&app, method).await;
        let expected: Value = serde_json::from_slice(&plain).unwrap();
        for encoding in ["gzip", "br"] {
            let (status, headers, body) = app.send(home_feed(method, Some(encoding))).await;
            assert_eq!(status, 200);
            assert_eq!(headers["content-encoding"], encoding, "{method}");
            assert!(varies_by_encoding(&headers), "{method} {encoding}");
            assert_eq!(headers["content-type"], plain_headers["content-type"]);
            assert_eq!(headers["cache-control"], plain_headers["cache-control"]);
            assert!(
                body.len() < plain.len() / 3,
                "{method} {encoding}: {} of {} bytes",
                body.len(),
                plain.len()
            );
            // Another run of the same query: the same answer, compared as JSON (the
            // byte-for-byte comparison of one stored answer is the response cache's test).
            let decoded = decoded(&headers, &body);
            assert_eq!(decoded.len(), plain.len(), "{method} {encoding}");
            let answer: Value = serde_json::from_slice(&decoded).unwrap();
            assert_eq!(answer, expected, "{method} {encoding}");
        }
    }
}

#[tokio::test]
async fn the_response_cache_keeps_the_plain_answer_and_each_hit_is_compressed_on_the_way_out() {
    let app = TestApp::new(&["--cost-budget", "0", "--response-cache-mb", "16"]);
    let hits = |metrics: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix("ogrom_response_cache_lookups_total{outcome=\"hit\"} ")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    let metrics = async || {
        let (_, _, body) = app
            .send(Request::get("/metrics").body(Body::empty()).unwrap())
            .await;
        String::from_utf8(body).unwrap()
    };
    let hits_before = hits(&metrics().await);

    // Stored while answering a Brotli client, then served plain, gzipped and in Brotli: the
    // same stored answer, so the same bytes once decoded.
    let (_, miss_headers, miss) = app.send(home_feed("POST", Some("br"))).await;
    assert_eq!(miss_headers["content-encoding"], "br");
    let (_, plain_hit) = plain_home_feed(&app, "POST").await;
    for encoding in ["gzip", "br"] {
        let (_, headers, hit) = app.send(home_feed("POST", Some(encoding))).await;
        assert_eq!(headers["content-encoding"], encoding);
        assert!(varies_by_encoding(&headers));
        assert!(hit.len() < plain_hit.len() / 3, "{encoding}");
        assert!(
            decoded(&headers, &hit) == plain_hit,
            "a {encoding} hit decodes to the plain hit's bytes"
        );
    }
    assert_eq!(hits(&metrics().await) - hits_before, 3.0, "three hits");
    let plain: Value = serde_json::from_slice(&plain_hit).unwrap();
    let ran: Value = serde_json::from_slice(&decoded(&miss_headers, &miss)).unwrap();
    assert_eq!(ran["data"], plain["data"]);
}
