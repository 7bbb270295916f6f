//! CORS for an allow-list of origins, by tower-http's `CorsLayer`. Requests from an allowed
//! origin get `Access-Control-Allow-Origin` (and preflights the methods, headers and max age
//! a browser needs); any other origin gets no `Access-Control-Allow-Origin`, so browsers keep
//! the response from the calling page. Credentials (cookies) are never allowed: the API
//! authenticates with bearer tokens.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser may send cross-origin.
const ALLOWED_HEADERS: [&str; 10] = [
    "content-type",
    "authorization",
    "x-request-id",
    "traceparent",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-require-preflight",
    "ogrom-debug",
];

/// How long a browser may reuse a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins` (none: no request gets CORS headers).
pub(super) fn layer(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(MAX_AGE)
}
