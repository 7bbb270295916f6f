//! The HTTP surface as a value: `router(state)` returns an `axum::Router` that tests call
//! in-process and that works unchanged when nested under any prefix, because every link it
//! emits (GraphiQL's endpoint and assets) is relative.

mod access;
mod graphiql;
mod graphql;
mod health;
mod media;
mod metrics;
mod request_id;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;

pub use health::Readiness;
pub use request_id::RequestId;

use crate::core::Api;
use crate::observe::Metrics;
use crate::protocols::auth::Authenticator;

/// Limits the HTTP layer enforces before and around GraphQL execution.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest time one GraphQL request may take.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub api: Api,
    pub readiness: Readiness,
    pub limits: HttpLimits,
    /// Checks bearer tokens.
    pub authenticator: Arc<dyn Authenticator>,
    /// Where requests, operations and backend calls are counted.
    pub metrics: Metrics,
}

/// The gateway's routes: `/graphql` (GET and POST), `/graphiql`, `/schema.graphql`,
/// `/health/live`, `/health/ready` and `/metrics`.
pub fn router(state: HttpState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/", get(graphiql::redirect_to_page))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/schema.graphql", get(graphql::schema_sdl))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
