//! GraphiQL, served from assets compiled into the binary (pinned in `web/graphiql`), so it
//! works with no internet. Every URL in the page is relative: under `/api/v2` it loads
//! `/api/v2/graphiql/…` and queries `/api/v2/graphql`.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Scripts and styles only from the gateway itself; GraphiQL needs inline styles and data:
/// URLs for its icons and fonts.
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const PAGE: &str = include_str!("../../web/graphiql/index.html");

/// `(file name, content type, bytes)` of every asset the page loads.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/graphiql/app.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/graphiql.min.js")),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/graphiql.min.css")),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(
            env!("OUT_DIR"),
            "/graphiql/react.production.min.js"
        )),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(
            env!("OUT_DIR"),
            "/graphiql/react-dom.production.min.js"
        )),
    ),
];

pub(super) async fn page() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// `/graphiql/` would break the page's relative links; send the browser to `/graphiql`.
pub(super) async fn redirect_to_page() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "../graphiql")],
    )
        .into_response()
}

pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
