//! The HTTP layer over in-memory sources: what no real backend can be made to do on demand.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

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
    );
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
