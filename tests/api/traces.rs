//! Trace export: a collector stand-in (an HTTP listener taking OTLP/JSON) receives, for a
//! request that came with a `traceparent`, the gateway's server span as a child of the
//! caller's span, its loader batches as children of it, and one span per SQL statement (as
//! many as the MySQL handle counted) under the batch that made it.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{counting_app, sql};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP collector on a free port: every span it receives goes to the channel.
async fn collector() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (spans, received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/v1/traces",
        post(move |Json(body): Json<Value>| {
            let spans = spans.clone();
            async move {
                for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                    assert_eq!(
                        resource["resource"]["attributes"][0]["value"]["stringValue"],
                        "ogrom"
                    );
                    for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                        for span in scope["spans"].as_array().into_iter().flatten() {
                            let _ = spans.send(span.clone());
                        }
                    }
                }
                Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

#[tokio::test]
async fn spans_follow_the_incoming_traceparent_down_to_each_statement() {
    let (endpoint, mut received) = collector().await;
    let (app, mysql) = counting_app(2, &["--otlp-endpoint", &endpoint]);
    let slug: String = sqlx::query_scalar("SELECT slug FROM brands ORDER BY id LIMIT 1")
        .fetch_one(&sql(&app.database).await)
        .await
        .unwrap();
    let query = "query BrandPage($s: String!) { brand(slug: $s) { name products(first: 3) \
                 { nodes { name shop { name } } } } }";
    let before = mysql.statements();
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .body(axum::body::Body::from(
            json!({"query": query, "variables": {"s": slug}}).to_string(),
        ))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let statements = mysql.statements() - before;

    // The spans of this trace, until the server span and every statement's have come.
    let mut spans: Vec<Value> = Vec::new();
    let complete = |spans: &[Value]| {
        let server = spans.iter().any(|s| s["kind"] == 2);
        let sql = spans.iter().filter(|s| s["name"] == "mysql").count() as u64;
        server && sql >= statements
    };
    while !complete(&spans) {
        let span = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the collector receives the trace")
            .expect("open");
        assert_eq!(span["traceId"], TRACE, "one trace: {span}");
        spans.push(span);
    }

    // One request's spans come in one post: the rest of it is in the channel already.
    while let Ok(span) = received.try_recv() {
        spans.push(span);
    }

    let server = spans.iter().find(|s| s["kind"] == 2).unwrap();
    assert_eq!(
        server["parentSpanId"], CALLER_SPAN,
        "a child of the caller's span"
    );
    assert_eq!(server["name"], "graphql BrandPage");
    let server_id = server["spanId"].as_str().unwrap();
    let by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["spanId"].as_str().unwrap(), s))
        .collect();
    assert_eq!(by_id.len(), spans.len(), "span ids are unique");

    let loaders: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 1).collect();
    assert!(!loaders.is_empty(), "loader batches are spans");
    for loader in &loaders {
        assert_eq!(loader["parentSpanId"], server_id, "{loader}");
        assert!(loader["name"].as_str().unwrap().starts_with("loader "));
        assert_eq!(
            loader["status"]["code"], 1,
            "a batch that loaded is OK: {loader}"
        );
    }
    let sql: Vec<&Value> = spans.iter().filter(|s| s["name"] == "mysql").collect();
    assert_eq!(
        sql.len() as u64,
        statements,
        "a span per statement the handle counted"
    );
    for statement in &sql {
        assert_eq!(statement["kind"], 3, "a client span");
        let parent = statement["parentSpanId"].as_str().unwrap();
        assert!(
            parent == server_id || by_id.get(parent).is_some_and(|p| p["kind"] == 1),
            "under the request or one of its batches: {statement}"
        );
    }
    assert!(
        sql.iter().any(|s| by_id
            .get(s["parentSpanId"].as_str().unwrap())
            .is_some_and(|p| p["kind"] == 1)),
        "the batched loads' statements sit under their batch"
    );
    let (start, end) = (&server["startTimeUnixNano"], &server["endTimeUnixNano"]);
    let nanos = |v: &Value| v.as_str().unwrap().parse::<u128>().unwrap();
    assert!(nanos(start) < nanos(end));
}
