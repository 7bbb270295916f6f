//! The way of one GraphQL operation through the HTTP layer, as named steps, each a function
//! of its own. `execute` reads them in order:
//!
//! 1. `prepare::read`: the document (or its persisted hash) and variables, bounded;
//! 2. `from_cache`: an anonymous query answered before (`response_cache`);
//! 3. `prepare::check`: parse, the document's limits, introspection, a mutation over GET;
//! 4. `authenticate`: the viewer a bearer token names;
//! 5. `run_operation`: the API executes it under the request's deadline, panics caught;
//!    a query whose client takes parts runs in `parts`, and an answer that comes in parts
//!    is answered there, its last part ending the request;
//! 6. `keep`: an anonymous answer kept for the response cache, and the cached answers
//!    holding what a write changed dropped;
//! 7. `answer`: cost settled, errors classified and tagged, status and headers.
//!
//! A step that refuses returns a `Refusal`, answered by `refuse` with its status and its
//! code; every code is declared once, in `core::errors::code`.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensionValues, ServerError};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::FutureExt as _;
use serde_json::json;
use tracing::Instrument;

use super::HttpState;
use super::access::Access;
use super::graphql::{Params, Refusal, refuse, reply};
use super::media::Media;
use super::parts;
use super::prepare::{self, Prepared};
use super::request_id::RequestId;
use super::response_cache::{self, ResponseCache};
use crate::core::cost::{self, CostTicket};
use crate::core::errors::code;
use crate::core::usage;
use crate::core::{Outcome, RequestContext};
use crate::protocols::auth::{AuthError, ViewerId};

/// What every step reads of the request.
#[derive(Clone, Copy)]
pub(super) struct Request<'a> {
    pub(super) state: &'a HttpState,
    media: Media,
    /// The client takes an answer in parts (`media::accepts_parts`).
    parts: bool,
    method: &'a Method,
    headers: &'a HeaderMap,
    peer: Option<SocketAddr>,
}

/// Answers one GraphQL operation (a single request, or one of a batch).
/// `media`: the JSON type the client takes, and whether it takes parts.
pub(super) async fn execute(
    state: HttpState,
    (media, parts): (Media, bool),
    access: &mut Access,
    method: Method,
    params: Params,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
) -> Response {
    let request = Request {
        state: &state,
        media,
        parts,
        method: &method,
        headers: &headers,
        peer,
    };
    match steps(request, access, params).await {
        Ok(reply) => reply,
        Err(refusal) => refuse(refusal, media, access),
    }
}

async fn steps(
    request: Request<'_>,
    access: &mut Access,
    params: Params,
) -> Result<Response, Refusal> {
    let state = request.state;
    let read = prepare::read(&state.protection, request.media, params, access).await?;
    let cache_key = cache_key(request, access, &read);
    if let Some(reply) = from_cache(request, access, &read, cache_key.as_ref()).await {
        return Ok(reply);
    }
    let prepared = prepare::check(&state.protection, request.method, read, access).await?;
    let viewer = authenticate(state, request.headers).await?;
    let ticket = Arc::new(CostTicket::new(
        client_key(state, viewer, request.headers, request.peer),
        state.protection.budgets.clone(),
    ));
    let Prepared {
        request: operation,
        hash,
        kind,
        name,
    } = prepared;
    let span = tracing::info_span!(
        "graphql",
        request_id = %access.id,
        trace_id = %access.trace.trace_id
    );
    let anonymous_query = viewer.is_none() && kind == Some(OperationType::Query);
    let cacheable = anonymous_query && cache_key.is_some();
    let context = context(request, access, viewer, &ticket, cacheable);
    let outcome = if request.parts && kind == Some(OperationType::Query) {
        match parts::start(request, operation, context, &span).await? {
            parts::Started::Whole(outcome) => outcome,
            parts::Started::Parts(first, rest) => {
                return Ok(parts::answer(request, access, first, rest, ticket, span).await);
            }
        }
    } else {
        run_operation(request, operation, context, &span).await?
    };
    if anonymous_query {
        keep(request, access, cache_key, &outcome, &ticket, name).await;
    }
    // Cached answers that hold what a write changed are out of date: dropped before the
    // writer hears back, so its next read is fresh.
    if let Some(cache) = &state.response_cache {
        cache.invalidate(&outcome.changed).await;
    }
    let shareable = request.method == Method::GET && hash.is_some() && viewer.is_none();
    Ok(answer(request, access, outcome, &ticket, shareable, &span).await)
}

/// The response cache's key, for an anonymous request that is not explained.
fn cache_key(
    request: Request<'_>,
    access: &Access,
    read: &prepare::Read,
) -> Option<response_cache::Key> {
    request.state.response_cache.as_ref()?;
    let anonymous = !request.headers.contains_key(header::AUTHORIZATION);
    (anonymous && access.stats.explain().is_none()).then(|| ResponseCache::key(&read.request))
}

/// An anonymous query answered already (see `response_cache`). Looked up before parsing:
/// only queries that passed every check are kept, and the same text, operation and
/// variables pass them again.
async fn from_cache(
    request: Request<'_>,
    access: &mut Access,
    read: &prepare::Read,
    key: Option<&response_cache::Key>,
) -> Option<Response> {
    let entry = request.state.response_cache.as_ref()?.get(key?).await?;
    cached_reply(&request, &entry, access, read).await
}

/// What the API needs to know of the request: its deadline, from now, id, viewer, stats
/// and payer; `cacheable`: its answer may be kept.
fn context(
    request: Request<'_>,
    access: &Access,
    viewer: Option<ViewerId>,
    ticket: &Arc<CostTicket>,
    cacheable: bool,
) -> RequestContext {
    RequestContext {
        deadline: Instant::now() + request.state.limits.request_timeout,
        request_id: Some(access.id.as_str().to_owned()),
        viewer,
        stats: access.stats.clone(),
        cost: Some(ticket.clone()),
        tagged: cacheable,
    }
}

/// Runs the operation under the request's deadline. A panic in a resolver is a bug of
/// ours: the client gets `INTERNAL`, the log the detail.
async fn run_operation(
    request: Request<'_>,
    operation: async_graphql::Request,
    context: RequestContext,
    span: &tracing::Span,
) -> Result<Outcome, Refusal> {
    let limit = request.state.limits.request_timeout;
    let execution = request
        .state
        .api
        .execute_with(operation, context)
        .instrument(span.clone());
    let execution = AssertUnwindSafe(execution).catch_unwind();
    let Ok(executed) = tokio::time::timeout(limit, execution).await else {
        return Err(timed_out(limit));
    };
    executed.map_err(|_| panicked(span))
}

/// The refusal of a request that passed its deadline before it was answered.
pub(super) fn timed_out(limit: std::time::Duration) -> Refusal {
    Refusal::new(
        StatusCode::GATEWAY_TIMEOUT,
        code::TIMEOUT,
        format!("the request took longer than {} ms", limit.as_millis()),
    )
}

/// The refusal of a request whose resolver panicked: logged, and `INTERNAL` to the client.
pub(super) fn panicked(span: &tracing::Span) -> Refusal {
    span.in_scope(|| tracing::error!(message = "a resolver panicked"));
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        code::INTERNAL,
        "internal error",
    )
}

/// Keeps an anonymous query's answer for the response cache, when it has data, no errors
/// and cache hints that allow it.
async fn keep(
    request: Request<'_>,
    access: &Access,
    key: Option<response_cache::Key>,
    outcome: &Outcome,
    ticket: &CostTicket,
    operation: Option<String>,
) {
    if let (Some(cache), Some(key)) = (&request.state.response_cache, key)
        && outcome.errors.is_empty()
        && outcome.has_data()
        && let Some(keep) = response_cache::keep_for(&outcome.cache_control)
        && let Some(charge) = ticket.charge()
    {
        cache
            .put(
                key,
                response_cache::Entry {
                    data: outcome.data.clone(),
                    requested: charge.requested,
                    actual: outcome.returned,
                    fields: access.stats.fields_used(),
                    operation,
                    expires: Instant::now() + keep,
                    tags: outcome.tags.clone(),
                },
            )
            .await;
    }
}

/// The answer: the cost settled, errors classified and tagged with the request and trace
/// ids, the status the errors call for, and `Retry-After` and `Cache-Control` where due.
/// `shareable`: sent by hash over GET without a viewer, so a CDN may keep it.
async fn answer(
    request: Request<'_>,
    access: &mut Access,
    mut outcome: Outcome,
    ticket: &CostTicket,
    shareable: bool,
    span: &tracing::Span,
) -> Response {
    let state = request.state;
    if let Some(cost) = (ticket)
        .settle_returned(outcome.returned, state.protection.max_cost)
        .await
        && let Ok(cost) = async_graphql::Value::from_json(cost)
    {
        outcome.extensions.insert("cost".to_owned(), cost);
    }
    let before_execution = !outcome.has_data() && outcome.errors.iter().all(|e| e.path.is_empty());
    tag_errors(&mut outcome.errors, before_execution, access, span);
    access.answered(
        outcome.has_data(),
        outcome.errors.iter().filter_map(error_code),
    );
    let retry_after = outcome.errors.iter().find_map(|e| {
        let extensions = e.extensions.as_ref()?;
        match (extensions.get("code")?, extensions.get("retryAfter")?) {
            (async_graphql::Value::String(c), async_graphql::Value::Number(n))
                if c == code::BUDGET_EXHAUSTED =>
            {
                n.as_u64()
            }
            _ => None,
        }
    });
    let status = match request.media {
        _ if retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
        Media::GraphqlResponse if before_execution && !outcome.errors.is_empty() => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    // A request error (nothing executed) has no `data` entry at all, per the spec.
    let body = if before_execution && outcome.extensions.is_empty() {
        serde_json::to_vec(&json!({ "errors": outcome.errors }))
    } else if before_execution {
        // A refused budget still says what the operation costs and what is left.
        serde_json::to_vec(&json!({ "errors": outcome.errors, "extensions": outcome.extensions }))
    } else {
        answer_body(&outcome)
    };
    let id = &access.id;
    let mut reply = reply(
        status,
        request.media,
        id,
        body.unwrap_or_else(|_| internal_body(id)),
    );
    if let Some(seconds) = retry_after {
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    // A query sent by hash over GET, anonymous, without errors, is the same for everyone:
    // a CDN may keep it as long as the schema's cache hints allow.
    // An explain is one request's, and shows what its backends were sent: never shared.
    let cacheable = shareable
        && access.stats.explain().is_none()
        && outcome.errors.is_empty()
        && outcome.cache_control.public;
    if cacheable
        && let Some(value) = outcome.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&format!("public, {value}"))
    {
        reply.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    reply
}

/// The viewer a request's bearer token names: none without a token; a refused token is a
/// 401, never anonymous access.
async fn authenticate(state: &HttpState, headers: &HeaderMap) -> Result<Option<ViewerId>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                code::UNAUTHENTICATED,
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    match state.authenticator.authenticate(token).await {
        Ok(viewer) => Ok(Some(viewer)),
        Err(error) => {
            tracing::info!(message = "token refused", %error);
            let (status, code, message) = match error {
                AuthError::Expired => (
                    StatusCode::UNAUTHORIZED,
                    code::UNAUTHENTICATED,
                    "the token has expired",
                ),
                AuthError::Invalid(_) => (
                    StatusCode::UNAUTHORIZED,
                    code::UNAUTHENTICATED,
                    "the token is invalid",
                ),
                // Our identity provider is down: not the client's fault, worth a retry.
                AuthError::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    code::UPSTREAM_UNAVAILABLE,
                    "the token cannot be checked now; try again",
                ),
            };
            Err(Refusal::new(status, code, message))
        }
    }
}

/// The answer to an anonymous query from the response cache: charged to the client's budget
/// and counted in field usage as a run would be. `None` when the budget cannot pay: the
/// request then takes the usual way, which refuses it with the usual answer.
async fn cached_reply(
    request: &Request<'_>,
    entry: &response_cache::Entry,
    access: &mut Access,
    read: &prepare::Read,
) -> Option<Response> {
    let Request {
        state,
        media,
        method,
        headers,
        peer,
        ..
    } = *request;
    let ticket = CostTicket::new(
        client_key(state, None, headers, peer),
        state.protection.budgets.clone(),
    );
    let maximum = state.protection.max_cost;
    (cost::check(Some(&ticket), entry.requested as usize, maximum as usize).await).ok()?;
    let cost = ticket.settle_returned(entry.actual, maximum).await?;
    read.remember(&state.protection).await;
    access.operation(entry.operation.as_deref(), Some(OperationType::Query));
    usage::note(&access.stats, &entry.fields);
    access.answered(true, std::iter::empty());
    access.served_from_cache();
    let body = format!(
        r#"{{"data":{},"extensions":{{"cost":{cost}}}}}"#,
        entry.data
    );
    let mut reply = reply(StatusCode::OK, media, &access.id, body.into_bytes());
    // A GET by hash may be kept by a CDN for what is left of the entry's time.
    let left = entry
        .expires
        .saturating_duration_since(Instant::now())
        .as_secs();
    if *method == Method::GET
        && read.hash.is_some()
        && left > 0
        && let Ok(value) = HeaderValue::from_str(&format!("public, max-age={left}"))
    {
        reply.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Some(reply)
}

/// Who pays for an operation: the viewer, else the client's address (as trusted proxies
/// wrote it, else the peer's; see `client`), else everyone unnamed together.
fn client_key(
    state: &HttpState,
    viewer: Option<ViewerId>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> String {
    if let Some(viewer) = viewer {
        return format!("user:{}", viewer.0);
    }
    match state.protection.client_address.of(headers, peer) {
        Some(address) => format!("address:{address}"),
        None => "address:unknown".to_owned(),
    }
}

/// Gives an error without a code the one it must have. Errors before execution come from
/// validation (unknown fields, limits); errors during execution without a code are ours,
/// and their message may hold details, so it is logged and replaced.
/// Classifies `errors` (see `classify`) and tags them with the request and trace ids, as
/// every answer's errors are, logging under the request's span.
pub(super) fn tag_errors(
    errors: &mut [ServerError],
    before_execution: bool,
    access: &Access,
    span: &tracing::Span,
) {
    span.in_scope(|| {
        for error in errors.iter_mut() {
            classify(error, before_execution);
            extensions(error).set("requestId", access.id.as_str());
            extensions(error).set("traceId", access.trace.trace_id.as_str());
        }
    });
}

fn classify(error: &mut ServerError, before_execution: bool) {
    if extensions(error).get("code").is_some() {
        return;
    }
    let code = if before_execution {
        code::GRAPHQL_VALIDATION_FAILED
    } else if error.message.starts_with("Failed to parse") {
        code::BAD_USER_INPUT
    } else {
        tracing::error!(message = "resolver error without a code", detail = %error.message);
        error.message = "internal error".to_owned();
        code::INTERNAL
    };
    extensions(error).set("code", code);
}

pub(super) fn extensions(error: &mut ServerError) -> &mut ErrorExtensionValues {
    error.extensions.get_or_insert_with(Default::default)
}

/// The `extensions.code` of an error, once `classify` has given it one.
pub(super) fn error_code(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// `{"data": …, "errors": […], "extensions": {…}}`, the data written as the executor wrote
/// it; empty errors and extensions are left out, as async-graphql's response leaves them.
pub(super) fn answer_body(outcome: &Outcome) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(outcome.data.len() + 64);
    body.extend_from_slice(b"{\"data\":");
    body.extend_from_slice(outcome.data.as_bytes());
    if !outcome.errors.is_empty() {
        body.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut body, &outcome.errors)?;
    }
    if !outcome.extensions.is_empty() {
        body.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut body, &outcome.extensions)?;
    }
    body.push(b'}');
    Ok(body)
}

fn internal_body(id: &RequestId) -> Vec<u8> {
    json!({"errors": [{"message": "internal error",
        "extensions": {"code": code::INTERNAL, "requestId": id.as_str()}}]})
    .to_string()
    .into_bytes()
}
