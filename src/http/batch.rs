//! Batched requests: a JSON array of operations in one POST, off by default
//! (`OGROM_MAX_BATCH`). Each operation goes through everything a single one does (limits,
//! cost, its own access-log line) and the answer is the array of their responses, in order.
//! The batch holds one concurrency slot and its operations run one after another, so a
//! batch cannot take more of the gateway than one client's request.

use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::HttpState;
use super::access::Access;
use super::graphql::{Refusal, params_of, refuse, reply};
use super::media::Media;
use super::pipeline::execute;
use crate::core::errors::code;

pub(super) async fn run(
    state: HttpState,
    peer: Option<SocketAddr>,
    headers: HeaderMap,
    media: Media,
    operations: Vec<Value>,
    access: &mut Access,
) -> Response {
    let max = state.protection.max_batch;
    if max == 0 || operations.is_empty() || operations.len() > max {
        let message = if max == 0 {
            "batched requests are not accepted here: send one operation per request".to_owned()
        } else {
            format!("a batch holds 1 to {max} operations")
        };
        let refusal = Refusal::new(StatusCode::BAD_REQUEST, code::BATCH_NOT_ALLOWED, message);
        return refuse(refusal, media, access);
    }
    // Each operation logs its own line; the batch itself does not.
    access.silence();
    let mut answers = Vec::with_capacity(operations.len());
    for operation in operations {
        let mut operation_access = Access::start(&state, &headers);
        let response = match params_of(operation) {
            Ok(params) => {
                let state = state.clone();
                let (headers, access) = (headers.clone(), &mut operation_access);
                execute(
                    state,
                    (media, false),
                    access,
                    Method::POST,
                    params,
                    headers,
                    peer,
                )
                .await
            }
            Err(refusal) => refuse(refusal, media, &mut operation_access),
        };
        operation_access.finish(response.status());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null);
        answers.push(body);
    }
    let body = serde_json::to_vec(&answers).unwrap_or_default();
    reply(StatusCode::OK, media, &access.id, body)
}
