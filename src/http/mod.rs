//! The HTTP surface as a value: `router(state)` returns an `axum::Router` that tests call
//! in-process and that works unchanged when nested under any prefix, because every link it
//! emits (GraphiQL's endpoint and assets) is relative.
//!
//! What clients download is compressed (gzip or Brotli, as `Accept-Encoding` asks) by
//! tower-http's layer around the handlers: the response cache and the access log inside it
//! see plain bodies, and health and `/metrics`, polled by load balancers and Prometheus
//! inside the cluster, are left plain.

mod access;
mod batch;
mod client;
mod cors;
pub mod debug;
pub mod document;
mod graphiql;
mod graphql;
mod health;
mod media;
mod metrics;
pub mod parsed;
mod parts;
pub mod persisted;
mod pipeline;
mod prepare;
mod request_id;
pub mod response_cache;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;

pub use client::ClientAddress;
pub use health::Readiness;
pub use request_id::RequestId;

use tokio::sync::Semaphore;

use self::debug::DebugAccess;
use self::document::DocumentLimits;
use self::persisted::PersistedQueries;
use self::response_cache::ResponseCache;
use crate::core::Api;
use crate::core::cost::Budgets;
use crate::observe::Metrics;
use crate::observe::otlp::TraceExporter;
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

/// Requests served at once unless configured (`OGROM_MAX_CONCURRENT_REQUESTS`).
pub const MAX_CONCURRENT_REQUESTS: usize = 256;

/// What protects the gateway from what clients send (see `config::LimitArgs`).
#[derive(Clone)]
pub struct Protection {
    /// Limits on documents and variables, checked before parsing and before execution.
    pub document: DocumentLimits,
    /// Queries known by hash: automatic persisted queries and trusted documents.
    pub persisted: Arc<PersistedQueries>,
    /// Clients' cost budgets (none: only the maximum per operation applies).
    pub budgets: Option<Arc<Budgets>>,
    /// The maximum cost of one operation, reported in `extensions.cost`.
    pub max_cost: u64,
    /// Requests served at once; beyond it, 503 at once.
    pub concurrency: Arc<Semaphore>,
    /// Refuse GETs without a preflight-forcing header.
    pub csrf_prevention: bool,
    /// Origins allowed to call cross-origin.
    pub cors_origins: Vec<HeaderValue>,
    /// Where an anonymous client's address is read (see `client`).
    pub client_address: ClientAddress,
    /// Whether the schema may be read: introspection and `/schema.graphql`.
    pub introspection: bool,
    /// Most operations in one batched request; 0: batching off.
    pub max_batch: usize,
    /// Who may see `extensions.debug`.
    pub debug: DebugAccess,
    /// Documents parsed before, by text.
    pub parsed: Arc<parsed::ParsedDocuments>,
}

impl Default for Protection {
    fn default() -> Self {
        Self {
            document: DocumentLimits::default(),
            persisted: Arc::new(PersistedQueries::off()),
            budgets: None,
            max_cost: crate::core::MAX_COMPLEXITY as u64,
            concurrency: Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS)),
            csrf_prevention: true,
            cors_origins: Vec::new(),
            client_address: ClientAddress::default(),
            introspection: true,
            max_batch: 0,
            debug: DebugAccess::default(),
            parsed: Arc::default(),
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The GraphQL API that runs operations.
    pub api: Api,
    /// What `/health/ready` answers; shutdown makes it unready.
    pub readiness: Readiness,
    /// The request body size and time limits.
    pub limits: HttpLimits,
    /// Checks bearer tokens.
    pub authenticator: Arc<dyn Authenticator>,
    /// Where requests, operations and backend calls are counted.
    pub metrics: Metrics,
    /// Limits, budgets, persisted queries, browser safety, load shedding.
    pub protection: Protection,
    /// Where request traces go, when exported.
    pub traces: Option<TraceExporter>,
    /// Responses to anonymous queries, when kept.
    pub response_cache: Option<Arc<ResponseCache>>,
}

/// The gateway's routes: `/graphql` (GET and POST), `/graphiql`, `/schema.graphql`,
/// `/health/live`, `/health/ready` and `/metrics`.
pub fn router(state: HttpState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let downloads = Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/", get(graphiql::redirect_to_page))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/schema.graphql", get(graphql::schema_sdl));
    let probes = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics));
    compressed(downloads)
        .merge(probes)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(cors::layer(&state.protection.cors_origins))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Responses below this size go out plain. Compressing them would save a few hundred bytes
/// at most, which travel in the same TCP segment (about 1460 bytes) either way, and would
/// still cost the set-up of an encoder (its window and tables, allocated per response) and
/// gzip's 18 bytes of framing: errors, `{ __typename }` and small answers go as they are.
const COMPRESS_FROM_BYTES: u16 = 1024;

/// Compresses the responses of `routes` with gzip or Brotli, whichever the client prefers
/// (by its `Accept-Encoding` q-values; `identity`, `gzip;q=0` or no header get the plain
/// body). Bodies are compressed as they are written, after the handler: what the response
/// cache keeps and what the access log and metrics see stay the plain answer.
fn compressed(routes: Router<HttpState>) -> Router<HttpState> {
    let worth_it = SizeAbove::new(COMPRESS_FROM_BYTES)
        // As tower-http's default predicate: gRPC compresses itself, images are compressed.
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        // Streams of events (SSE, incremental delivery's multipart parts) must reach the
        // client as each part is written: the encoder would hold them back until its
        // buffer fills or the stream ends.
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("multipart/mixed"));
    routes
        // Every answer of these routes names `Accept-Encoding` in `Vary`, those sent plain
        // too: whether an answer is compressed depends on its size, which changes with the
        // data for the same URL, so caches in front see one rule for the route instead of
        // answers that sometimes vary. The compression layer, outside, adds no second one.
        .layer(SetResponseHeaderLayer::appending(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
        .layer(CompressionLayer::new().compress_when(worth_it))
}

#[cfg(test)]
mod tests;
