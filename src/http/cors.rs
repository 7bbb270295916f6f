//! CORS for an allow-list of origins. Requests from an allowed origin get
//! `Access-Control-Allow-Origin` (and preflights an answer); any other origin gets no CORS
//! headers, so browsers keep the response from the calling page. Credentials (cookies) are
//! never allowed: the API authenticates with bearer tokens.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::HttpState;

/// Request headers a browser may send cross-origin.
const ALLOWED_HEADERS: &str = "content-type, authorization, x-request-id, traceparent, \
    apollographql-client-name, apollographql-client-version, apollo-require-preflight, \
    x-apollo-operation-name, graphql-require-preflight, ogrom-debug";

pub(super) async fn cors(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| state.protection.cors_origins.iter().any(|o| o == *origin))
        .cloned();
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if allowed.is_some() {
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id, retry-after"),
        );
    }
    response
}
