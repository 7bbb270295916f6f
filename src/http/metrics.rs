//! HTTP-level observation: a middleware that counts and times every routed request (and,
//! while the gateway drains, asks clients to close their connections so their next request
//! goes to another instance), and `/metrics` in the Prometheus text format.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpState;

pub(super) async fn track(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let in_flight = state.metrics.request_started();
    let mut response = next.run(request).await;
    drop(in_flight);
    let status = response.status().as_u16();
    state
        .metrics
        .http_request(&route, method, status, started.elapsed());
    if state.readiness.draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Methods are a label: anything unusual is counted together.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`.
pub(super) async fn metrics(State(state): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
