//! The HTTP layer over in-memory sources: what no real backend can be made to do on demand,
//! and what needs no data (compression of GraphiQL, the schema and small answers).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "../../tests/support/encoding.rs"]
mod encoding;

use self::encoding::{decoded, varies_by_encoding};
use super::{HttpLimits, HttpState, Protection, Readiness, router};
use crate::core::{ApiConfig, Sources, build_schema};
use crate::observe::Metrics;
use crate::sources::auth::AnonymousOnly;
use crate::sources::memory::{MemoryCatalog, MemoryCommunity, MemoryOffers, MemorySearch};

fn app(catalog: Arc<MemoryCatalog>) -> axum::Router {
    let api = build_schema(
        Sources {
            catalog: catalog.clone(),
            search: Arc::new(MemorySearch::new(catalog)),
            offers: Arc::new(MemoryOffers::default()),
            community: Arc::new(MemoryCommunity::default()),
        },
        ApiConfig::default(),
    )
    .expect("the API builds");
    router(HttpState {
        api,
        readiness: Readiness::new(Vec::new(), Duration::from_secs(1), Duration::ZERO),
        limits: HttpLimits::default(),
        authenticator: Arc::new(AnonymousOnly),
        metrics: Metrics::default(),
        protection: Protection::default(),
        traces: None,
        response_cache: None,
    })
}

#[tokio::test]
async fn a_panicking_resolver_is_an_internal_error_with_the_request_id_not_a_dropped_connection() {
    let catalog = Arc::new(MemoryCatalog::default());
    catalog.panic_on("brands_page");
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-request-id", "panic-1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::from(
            json!({"query": "{ brands { totalCount } }"}).to_string(),
        ))
        .unwrap();
    let response = app(catalog.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"errors": [{"message": "internal error",
            "extensions": {"code": "INTERNAL", "requestId": "panic-1",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}}]}),
        "no detail of the panic reaches the client"
    );
    assert_eq!(catalog.calls("brands_page"), 1, "the panic happened");
}

/// The gateway's compression threshold, 1 KiB, as the tests state it.
const THRESHOLD: usize = 1024;

fn get(path: &str, accept_encoding: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(accept) = accept_encoding {
        request = request.header("accept-encoding", accept);
    }
    request.body(Body::empty()).unwrap()
}

/// A POST of `query`, with the same request id and trace each time: errors carry them.
fn post_graphql(query: &str, accept_encoding: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-request-id", "compression-1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
    if let Some(accept) = accept_encoding {
        request = request.header("accept-encoding", accept);
    }
    request
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap()
}

/// The headers and the body as sent, still encoded.
async fn send(router: &axum::Router, request: Request<Body>) -> (HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (headers, body.to_vec())
}

fn memory_app() -> axum::Router {
    app(Arc::new(MemoryCatalog::default()))
}

#[tokio::test]
async fn graphiql_assets_and_the_schema_decompress_to_the_plain_bytes_in_each_encoding() {
    let router = memory_app();
    for path in [
        "/graphiql/react.production.min.js",
        "/graphiql/graphiql.min.css",
        "/schema.graphql",
    ] {
        let (plain_headers, plain) = send(&router, get(path, None)).await;
        assert!(plain.len() > THRESHOLD, "{path}: {} bytes", plain.len());
        assert!(plain_headers.get(CONTENT_ENCODING).is_none(), "{path}");
        assert!(varies_by_encoding(&plain_headers), "{path}");
        for encoding in ["gzip", "br"] {
            let (headers, body) = send(&router, get(path, Some(encoding))).await;
            assert_eq!(headers[CONTENT_ENCODING], encoding, "{path}");
            assert!(varies_by_encoding(&headers), "{path} {encoding}");
            assert_eq!(headers[CONTENT_TYPE], plain_headers[CONTENT_TYPE], "{path}");
            assert_eq!(
                headers.get(CACHE_CONTROL),
                plain_headers.get(CACHE_CONTROL),
                "{path}"
            );
            // Smaller, if not by much for the styles: their fonts are inline base64.
            assert!(
                body.len() < plain.len(),
                "{path} {encoding}: {} of {} bytes",
                body.len(),
                plain.len()
            );
            assert_eq!(decoded(&headers, &body), plain, "{path} {encoding}");
        }
    }
}

#[tokio::test]
async fn answers_below_the_threshold_go_plain_whatever_the_client_accepts() {
    let router = memory_app();
    let small = [
        ("{ __typename }", "a small answer"),
        ("{ __typename", "a parse error"),
    ];
    for (query, what) in small {
        let (_, plain) = send(&router, post_graphql(query, None)).await;
        let (headers, body) = send(&router, post_graphql(query, Some("gzip, br"))).await;
        assert!(body.len() < THRESHOLD, "{what}: {} bytes", body.len());
        assert!(headers.get(CONTENT_ENCODING).is_none(), "{what}");
        assert_eq!(body, plain, "{what}");
        // The route's answers vary by encoding, large or small: one rule for caches.
        assert!(varies_by_encoding(&headers), "{what}");
    }
}

#[tokio::test]
async fn accept_encoding_picks_the_encoding_and_a_refusal_gets_the_plain_body() {
    let router = memory_app();
    let (_, plain) = send(&router, get("/schema.graphql", None)).await;
    for (accept, expected) in [
        ("identity", None),
        ("gzip;q=0", None),
        ("gzip;q=0, br;q=0", None),
        // Offered by no one here: deflate and zstd are not built.
        ("deflate", None),
        ("zstd", None),
        ("gzip", Some("gzip")),
        ("x-gzip", Some("gzip")),
        ("GZIP", Some("gzip")),
        ("br", Some("br")),
        ("gzip;q=1, br;q=0.5", Some("gzip")),
        ("br;q=0, gzip", Some("gzip")),
        ("identity;q=0.5, br", Some("br")),
        // What browsers send.
        ("gzip, deflate, br, zstd", Some("br")),
    ] {
        let (headers, body) = send(&router, get("/schema.graphql", Some(accept))).await;
        assert_eq!(
            headers.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap()),
            expected,
            "Accept-Encoding: {accept}"
        );
        assert!(varies_by_encoding(&headers), "Accept-Encoding: {accept}");
        assert_eq!(decoded(&headers, &body), plain, "Accept-Encoding: {accept}");
    }
}

#[tokio::test]
async fn health_and_metrics_are_sent_plain_to_clients_that_accept_compression() {
    let router = memory_app();
    // Requests to count, so that /metrics is well above the threshold.
    for _ in 0..3 {
        send(&router, post_graphql("{ __typename }", None)).await;
        send(&router, get("/schema.graphql", None)).await;
    }
    for path in ["/metrics", "/health/live", "/health/ready"] {
        let (headers, body) = send(&router, get(path, Some("gzip, br"))).await;
        assert!(headers.get(CONTENT_ENCODING).is_none(), "{path}");
        assert!(!varies_by_encoding(&headers), "{path}");
        if path == "/metrics" {
            assert!(body.len() > THRESHOLD, "/metrics: {} bytes", body.len());
            assert!(String::from_utf8(body).is_ok(), "/metrics is plain text");
        }
    }
}

#[tokio::test]
async fn responses_are_compressed_under_a_path_prefix_too() {
    let nested = axum::Router::new().nest("/api/v2", memory_app());
    let (_, plain) = send(&nested, get("/api/v2/schema.graphql", None)).await;
    assert!(plain.len() > THRESHOLD);
    for encoding in ["gzip", "br"] {
        let (headers, body) = send(&nested, get("/api/v2/schema.graphql", Some(encoding))).await;
        assert_eq!(headers[CONTENT_ENCODING], encoding);
        assert_eq!(decoded(&headers, &body), plain);
    }
    let (headers, _) = send(
        &nested,
        get("/api/v2/graphiql/react.production.min.js", Some("gzip")),
    )
    .await;
    assert_eq!(headers[CONTENT_ENCODING], "gzip");
}
