//! Run layer, partner stub: `GET /v1/offers`, the partner's one endpoint, with the faults in
//! force applied in the order the module doc gives.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::faults::{Malformed, StatusFault, StubHandle};
use super::offers::{StubOffer, dropped_by_fraction, offers_for, parse_ids};
use super::{StubState, error};

pub(super) async fn offers(
    State(state): State<StubState>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token == &*state.api_key
        });
    let ids = match query {
        Ok(Query(params)) => parse_ids(params.get("product_ids").map(String::as_str)),
        Err(_) => Err("the query string is malformed".to_owned()),
    };
    // Counted on arrival, so a test sees a held call in the counters while it hangs.
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut call = Call::begin(&state.handle, request_id, traceparent, ids.as_deref().ok());

    let latency = state.handle.faults().latency_ms;
    if latency > 0
        && !state
            .handle
            .sleep_unless_closed(Duration::from_millis(latency))
            .await
    {
        return call.answer("closed", closing());
    }
    if !state.handle.hold_while_hanging().await {
        return call.answer("closed", closing());
    }
    if !authorized {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the API key as `Authorization: Bearer <key>`",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return call.answer("unauthorized", response);
    }
    let ids = match ids {
        Ok(ids) => ids,
        Err(message) => {
            return call.answer(
                "bad_request",
                error(StatusCode::BAD_REQUEST, "bad_request", message),
            );
        }
    };
    match state.handle.take_status_fault() {
        Some(StatusFault::Fail(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let response = error(status, "unavailable", "the partner is unwell (injected)");
            return call.answer("injected_failure", response);
        }
        Some(StatusFault::RateLimit(seconds)) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests (injected)",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return call.answer("rate_limited", response);
        }
        None => {}
    }

    // Read again: the faults may have changed while the call was delayed or held.
    let faults = state.handle.faults();
    if let Some(kind) = faults.malformed {
        return call.answer("malformed", malformed(kind, &ids));
    }
    let dropped: HashSet<u64> = faults.drop_ids.iter().copied().collect();
    let mut seen = HashSet::new();
    let offers: Vec<StubOffer> = ids
        .iter()
        .copied()
        // Each product once, as a real API answers a repeated id.
        .filter(|id| seen.insert(*id))
        .filter(|id| !dropped.contains(id))
        .filter(|id| {
            !faults
                .drop_fraction
                .is_some_and(|f| dropped_by_fraction(*id, f))
        })
        .flat_map(offers_for)
        .collect();
    let outcome = if dropped.is_empty() && faults.drop_fraction.is_none() {
        "ok"
    } else {
        "partial"
    };
    call.answer(outcome, Json(json!({ "offers": offers })).into_response())
}

/// 503 for calls released by shutdown.
fn closing() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        "the partner stub is shutting down",
    )
}

/// A 200 whose body a client must reject.
fn malformed(kind: Malformed, ids: &[u64]) -> Response {
    let body = match kind {
        Malformed::Json => r#"{"offers": [{"product_id": 12, "shop": "#.to_owned(),
        Malformed::Shape => {
            let offers: Vec<_> = ids
                .iter()
                .map(|id| json!({"product_id": id.to_string(), "price": 59.95}))
                .collect();
            json!({ "offers": { "items": offers } }).to_string()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// One offer call, from arrival to answer. Dropping it ends the call in the counters and
/// writes its log line, so a call whose client gave up (a hang, a timeout) is logged too.
struct Call {
    handle: StubHandle,
    started: Instant,
    request_id: Option<String>,
    ids: usize,
    outcome: Option<(&'static str, StatusCode)>,
}

impl Call {
    fn begin(
        handle: &StubHandle,
        request_id: Option<String>,
        traceparent: Option<String>,
        ids: Option<&[u64]>,
    ) -> Self {
        handle.begin_call(request_id.clone(), traceparent, ids);
        Self {
            handle: handle.clone(),
            started: Instant::now(),
            request_id,
            ids: ids.map_or(0, <[u64]>::len),
            outcome: None,
        }
    }

    fn answer(&mut self, outcome: &'static str, response: Response) -> Response {
        self.outcome = Some((outcome, response.status()));
        response
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.handle.end_call();
        let (outcome, status) = self.outcome.unwrap_or(("abandoned", StatusCode::OK));
        // Headers other than the request id stay out of the log: one of them is the API key.
        tracing::info!(
            message = "partner stub offers call",
            outcome,
            status = self.outcome.map(|_| status.as_u16()),
            ids = self.ids,
            request_id = self.request_id.as_deref().unwrap_or(""),
            elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0,
        );
    }
}
