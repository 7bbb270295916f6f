//! Run layer: `ogrom partner-stub`, a stand-in for the partner offers API (DOMAIN.md) for
//! local development and tests, that can be told to misbehave in every way the real one
//! does, so each fault path of the gateway's client can be tested.
//!
//! # The partner's endpoint
//!
//! `GET /v1/offers?product_ids=12,17,99` with `Authorization: Bearer <key>` answers
//! `200 {"offers": [...]}` in the contract's shape. Without the right key: 401. A missing or
//! empty list, an item that is not an unsigned decimal id, or more than [`MAX_IDS`] ids: 400.
//! Errors are `{"error": {"code", "message"}}`. A repeated id is answered once.
//!
//! Offers come from the product id alone ([`offers_for`]), so expectations can be computed:
//!
//! - count ([`expected_offer_count`]): 0 when `id % 10 == 0` (the product is absent from
//!   the answer), else 2 when `id` is even, else 1; offer `k` is `0` or `1`;
//! - `shop`: the `(id + k) % 7`-th slug of a fixed list of seven;
//! - `price`: `995 + (id % 200) * 50 + k * 300` cents, as `"12.45"`, currency `EUR`;
//! - `availability`: `["in_stock", "low_stock", "out_of_stock"][(id + k) % 3]`;
//! - `sizes`: from `XS S M L XL`: in stock, three starting at `id % 3`; low stock, the one at
//!   `id % 5`; out of stock, none;
//! - `url`: `https://{shop}.shop.example/p/{id}?offer={k}`;
//! - `updated_at`: `2026-01-01T00:00:00Z` plus `id % 1440` minutes.
//!
//! # Faults and counters
//!
//! `POST /control` with a JSON [`Faults`] replaces the faults in force (fields left out are
//! off; unknown fields are refused): `latency_ms`, `fail_status` + `fail_times`,
//! `rate_limit_retry_after_s` + `rate_limit_times`, `hang`, `malformed` (`true`/`"json"`,
//! `"shape"`), `drop_fraction` ([`dropped_by_fraction`]), `drop_ids`. `GET /control` shows
//! them, with the counts left. `POST /control/reset` clears faults and counters.
//! `GET /control/stats` answers [`StubStats`]. [`StubHandle`] does the same in-process.
//!
//! An offer call goes through, in order: counted (`calls`, `ids`, `last_ids`,
//! `last_request_id`, `in_flight`); `latency_ms`; held while `hang` is set; 401 and 400;
//! `fail_status` (counting `fail_times` down), then 429 (counting `rate_limit_times` down);
//! `malformed`; the drops. So latency and hang delay every answer, and only well-formed
//! calls consume the counted faults. At shutdown, delayed and held calls end with 503.
//!
//! The control endpoint takes no key: bind the stub to a local address only.

mod calls;
mod control;
mod faults;
mod offers;
#[cfg(test)]
mod tests;

use secrecy::ExposeSecret;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

pub use faults::{Faults, InvalidFaults, Malformed, StubHandle, StubStats};
pub use offers::{
    MAX_IDS, StubOffer, StubPrice, dropped_by_fraction, expected_offer_count, offers_for,
};

use crate::config::PartnerStubArgs;

/// What the handlers share.
#[derive(Clone)]
struct StubState {
    handle: StubHandle,
    /// The key calls must bear. Compared, never logged nor printed.
    api_key: Arc<str>,
}

/// The stub's routes over fresh state, and the handle on that state (tests set faults and
/// read counters through it without HTTP).
pub fn router(api_key: String) -> (Router, StubHandle) {
    let handle = StubHandle::new();
    let state = StubState {
        handle: handle.clone(),
        api_key: api_key.into(),
    };
    let router = Router::new()
        .route("/v1/offers", get(calls::offers))
        .route("/control", get(control::show).post(control::set))
        .route("/control/reset", post(control::reset))
        .route("/control/stats", get(control::stats))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(state);
    (router, handle)
}

/// Serves the stand-in on `listener` until `shutdown` completes. Calls held by `hang` or
/// delayed by `latency_ms` are then answered 503, so shutdown never waits on a fault.
pub async fn serve(
    args: &PartnerStubArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.api_key.expose_secret().is_empty(),
        "the API key is empty (OGROM_PARTNER_API_KEY)"
    );
    let (router, handle) = router(args.api_key.expose_secret().to_owned());
    let address = listener.local_addr()?;
    tracing::info!(message = "partner stub serving", %address);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            handle.close();
        })
        .await
        .context("the partner stub's HTTP server failed")?;
    tracing::info!(message = "partner stub stopped");
    Ok(())
}

/// An error answer: `{"error": {"code", "message"}}`.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, axum::Json(body)).into_response()
}

/// `GET /health`: the stub answers (scripts wait on it at startup).
async fn health() -> Response {
    axum::Json(json!({"status": "live"})).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}
