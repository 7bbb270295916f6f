//! `/graphql` speaks GraphQL over HTTP: content types, status codes and a stable
//! `extensions.code` on every error, for well-formed and malformed requests alike; and the
//! router works unchanged under a prefix.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

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
