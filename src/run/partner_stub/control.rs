//! Run layer, partner stub: the control endpoint through which a test or a developer sets
//! faults and reads counters over HTTP (the same state `StubHandle` gives in-process).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::faults::Faults;
use super::{StubState, error};

/// `GET /control`: the faults in force, with what is left of their counts.
pub(super) async fn show(State(state): State<StubState>) -> Response {
    Json(state.handle.faults()).into_response()
}

/// `POST /control`: replaces the faults with the body's (an empty body clears them). The
/// content type is not checked, so `curl -d '{"hang": true}'` works as typed.
pub(super) async fn set(
    State(state): State<StubState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let refuse = |message: String| error(StatusCode::BAD_REQUEST, "bad_request", message);
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return refuse(rejection.body_text()),
    };
    let faults = if body.iter().all(u8::is_ascii_whitespace) {
        Faults::default()
    } else {
        match serde_json::from_slice::<Faults>(&body) {
            Ok(faults) => faults,
            Err(e) => return refuse(format!("not a fault set: {e}")),
        }
    };
    match state.handle.set_faults(faults) {
        Ok(()) => Json(state.handle.faults()).into_response(),
        Err(invalid) => refuse(invalid.0),
    }
}

/// `POST /control/reset`: clears faults and counters; answers the (empty) faults.
pub(super) async fn reset(State(state): State<StubState>) -> Response {
    state.handle.reset();
    Json(state.handle.faults()).into_response()
}

/// `GET /control/stats`: the counters.
pub(super) async fn stats(State(state): State<StubState>) -> Response {
    Json(state.handle.stats()).into_response()
}
