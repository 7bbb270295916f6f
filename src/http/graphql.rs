//! `/graphql` following the GraphQL-over-HTTP spec: POST with a JSON body, GET with query
//! parameters (queries only), content negotiation between `application/graphql-response+json`
//! and `application/json`, and the spec's status codes. Every error carries a stable
//! `extensions.code` and the request id; no internal detail reaches the client.
//!
//! The handler is ours rather than async-graphql-axum's extractor, which answers malformed
//! requests with plain-text bodies and cannot set the spec's status codes.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensionValues, ServerError};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::HttpState;
use super::access::Access;
use super::batch;
use super::media::{Media, check_content_type, negotiate};
use super::prepare;
use super::request_id::{self, RequestId};
use super::response_cache::{self, ResponseCache};
use crate::core::cost::{self, CostTicket};
use crate::core::errors::code;
use crate::core::usage;
use crate::core::{Outcome, RequestContext};
use crate::protocols::auth::{AuthError, ViewerId};

/// The parameters of a GraphQL request, from a JSON body or a query string.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Params {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Value>,
    /// Protocol extensions; `persistedQuery` is the one the gateway reads.
    #[serde(default)]
    pub extensions: Option<Value>,
}

/// GET query parameters: `variables` arrives JSON-encoded.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// An error before or around execution, answered with a status and one GraphQL error.
pub(super) struct Refusal {
    pub status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// One operation's parameters from its JSON object.
pub(super) fn params_of(value: Value) -> Result<Params, Refusal> {
    serde_json::from_value::<Params>(value).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            format!("the body is not a GraphQL request: {e}"),
        )
    })
}

/// The client's address, when the server was started with connection info.
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

pub(super) async fn post_graphql(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut access = Access::start(&state, &headers);
    let response = match admit(&state, &mut access) {
        Ok(_admitted) => post(state, peer_address(peer), headers, body, &mut access).await,
        Err(overloaded) => *overloaded,
    };
    access.finish(response.status());
    response
}

fn peer_address(peer: Peer) -> Option<SocketAddr> {
    peer.map(|Extension(ConnectInfo(address))| address)
}

async fn post(
    state: HttpState,
    peer: Option<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    access: &mut Access,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(refusal) => return refuse(refusal, Media::Json, access),
    };
    let params = check_content_type(&headers)
        .and_then(|()| read_body(body))
        .and_then(|bytes| {
            serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    code::BAD_REQUEST,
                    format!("the body is not valid JSON: {e}"),
                )
            })
        })
        .map(|value| match value {
            Value::Array(operations) => Err(operations),
            single => Ok(single),
        });
    let params = match params {
        Ok(Err(operations)) => {
            return batch::run(state, peer, headers, media, operations, access).await;
        }
        Ok(Ok(single)) => params_of(single),
        Err(refusal) => Err(refusal),
    };
    match params {
        Ok(params) => execute(state, media, access, Method::POST, params, headers, peer).await,
        Err(refusal) => refuse(refusal, media, access),
    }
}

pub(super) async fn get_graphql(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    query: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let mut access = Access::start(&state, &headers);
    let response = match admit(&state, &mut access) {
        Ok(_admitted) => get(state, peer_address(peer), headers, query, &mut access).await,
        Err(overloaded) => *overloaded,
    };
    access.finish(response.status());
    response
}

/// Load shedding: a request beyond the concurrency limit is answered at once with 503, so
/// an overload costs clients a retry, not a queue that grows until everything times out.
fn admit(state: &HttpState, access: &mut Access) -> Result<OwnedSemaphorePermit, Box<Response>> {
    state
        .protection
        .concurrency
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            let refusal = Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::OVERLOADED,
                "the gateway is at capacity; retry shortly",
            );
            let mut response = refuse(refusal, Media::Json, access);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Box::new(response)
        })
}

/// Headers only a script can set, which make a browser send a CORS preflight first.
const PREFLIGHT_HEADERS: [&str; 3] = [
    "x-apollo-operation-name",
    "apollo-require-preflight",
    "graphql-require-preflight",
];

async fn get(
    state: HttpState,
    peer: Option<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<GetParams>, QueryRejection>,
    access: &mut Access,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(refusal) => return refuse(refusal, Media::Json, access),
    };
    // A GET is a "simple" request a page on any site can make a browser send (with the
    // user's network position): CSRF prevention asks for a header that forces a preflight.
    // POST needs a JSON body, which forces one already.
    if state.protection.csrf_prevention
        && !PREFLIGHT_HEADERS.iter().any(|h| headers.contains_key(*h))
    {
        let refusal = Refusal::new(
            StatusCode::BAD_REQUEST,
            code::CSRF_PREVENTED,
            "a GET request must carry an `apollo-require-preflight`, \
             `x-apollo-operation-name` or `graphql-require-preflight` header",
        );
        return refuse(refusal, media, access);
    }
    let params = query
        .map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                format!("the query string is not a GraphQL request: {e}"),
            )
        })
        .and_then(|Query(get)| {
            let variables = get
                .variables
                .map(|v| serde_json::from_str(&v))
                .transpose()
                .map_err(|e| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        code::BAD_REQUEST,
                        format!("`variables` is not valid JSON: {e}"),
                    )
                })?;
            let extensions = get
                .extensions
                .map(|v| serde_json::from_str(&v))
                .transpose()
                .map_err(|e| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        code::BAD_REQUEST,
                        format!("`extensions` is not valid JSON: {e}"),
                    )
                })?;
            Ok(Params {
                query: get.query,
                operation_name: get.operation_name,
                variables,
                extensions,
            })
        });
    match params {
        Ok(params) => execute(state, media, access, Method::GET, params, headers, peer).await,
        Err(refusal) => refuse(refusal, media, access),
    }
}

/// `GET /schema.graphql`: the SDL that client teams generate code from.
pub(super) async fn schema_sdl(State(state): State<HttpState>) -> Response {
    if !state.protection.introspection {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        crate::core::schema_sdl(state.api.schema()),
    )
        .into_response()
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

pub(super) async fn execute(
    state: HttpState,
    media: Media,
    access: &mut Access,
    method: Method,
    params: Params,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
) -> Response {
    let read = match prepare::read(&state.protection, media, params, access) {
        Ok(read) => read,
        Err(refusal) => return refuse(refusal, media, access),
    };
    // An anonymous query may have been answered already (see `response_cache`). Looked up
    // before parsing: only queries that passed every check are kept, and the same text,
    // operation and variables pass them again.
    let cache_key = state.response_cache.as_ref().and_then(|_| {
        let anonymous = !headers.contains_key(header::AUTHORIZATION);
        (anonymous && access.stats.explain().is_none()).then(|| ResponseCache::key(&read.request))
    });
    if let (Some(cache), Some(key)) = (&state.response_cache, &cache_key)
        && let Some(entry) = cache.get(key)
        && let Some(reply) = cached_reply(
            &state, &entry, media, access, &method, &read, &headers, peer,
        )
    {
        return reply;
    }
    let prepared = match prepare::check(&state.protection, &method, read, access) {
        Ok(prepared) => prepared,
        Err(refusal) => return refuse(refusal, media, access),
    };
    let viewer = match authenticate(&state, &headers).await {
        Ok(viewer) => viewer,
        Err(refusal) => return refuse(refusal, media, access),
    };
    let ticket = Arc::new(CostTicket::new(
        client_key(&state, viewer, &headers, peer),
        state.protection.budgets.clone(),
    ));
    let prepared_hash = prepared.hash;

    let id = access.id.clone();
    let span = tracing::info_span!(
        "graphql",
        request_id = %id,
        trace_id = %access.trace.trace_id
    );
    let limit = state.limits.request_timeout;
    let context = RequestContext {
        deadline: Instant::now() + limit,
        request_id: Some(id.as_str().to_owned()),
        viewer,
        stats: access.stats.clone(),
        cost: Some(ticket.clone()),
    };
    let execution = state
        .api
        .execute_with(prepared.request, context)
        .instrument(span.clone());
    // A panic in a resolver is a bug of ours: the client gets INTERNAL, the log the detail.
    let execution = AssertUnwindSafe(execution).catch_unwind();
    let Ok(executed) = tokio::time::timeout(limit, execution).await else {
        let refusal = Refusal::new(
            StatusCode::GATEWAY_TIMEOUT,
            code::TIMEOUT,
            format!("the request took longer than {} ms", limit.as_millis()),
        );
        return refuse(refusal, media, access);
    };
    let Ok(mut response) = executed else {
        span.in_scope(|| tracing::error!(message = "a resolver panicked"));
        let refusal = Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            "internal error",
        );
        return refuse(refusal, media, access);
    };
    if let (Some(cache), Some(key)) = (&state.response_cache, cache_key)
        && viewer.is_none()
        && prepared.kind == Some(OperationType::Query)
        && response.errors.is_empty()
        && response.has_data()
        && let Some(keep) = response_cache::keep_for(&response.cache_control)
        && let Some(charge) = ticket.charge()
    {
        cache.put(
            key,
            response_cache::Entry {
                data: response.data.clone(),
                requested: charge.requested,
                actual: response.returned,
                fields: access.stats.fields_used(),
                operation: prepared.name.clone(),
                expires: Instant::now() + keep,
            },
        );
    }
    if let Some(cost) = ticket.settle_returned(response.returned, state.protection.max_cost)
        && let Ok(cost) = async_graphql::Value::from_json(cost)
    {
        response.extensions.insert("cost".to_owned(), cost);
    }
    let before_execution =
        !response.has_data() && response.errors.iter().all(|e| e.path.is_empty());
    span.in_scope(|| {
        for error in &mut response.errors {
            classify(error, before_execution);
            extensions(error).set("requestId", id.as_str());
            extensions(error).set("traceId", access.trace.trace_id.as_str());
        }
    });
    access.answered(
        response.has_data(),
        response.errors.iter().filter_map(error_code),
    );
    let retry_after = response.errors.iter().find_map(|e| {
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
    let status = match media {
        _ if retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
        Media::GraphqlResponse if before_execution && !response.errors.is_empty() => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    // A request error (nothing executed) has no `data` entry at all, per the spec.
    let body = if before_execution && response.extensions.is_empty() {
        serde_json::to_vec(&json!({ "errors": response.errors }))
    } else if before_execution {
        // A refused budget still says what the operation costs and what is left.
        serde_json::to_vec(&json!({ "errors": response.errors, "extensions": response.extensions }))
    } else {
        answer_body(&response)
    };
    let mut reply = reply(
        status,
        media,
        &id,
        body.unwrap_or_else(|_| internal_body(&id)),
    );
    if let Some(seconds) = retry_after {
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    // A query sent by hash over GET, anonymous, without errors, is the same for everyone:
    // a CDN may keep it as long as the schema's cache hints allow.
    // An explain is one request's, and shows what its backends were sent: never shared.
    let explained = access.stats.explain().is_some();
    let cacheable = method == Method::GET
        && !explained
        && prepared_hash.is_some()
        && viewer.is_none()
        && response.errors.is_empty()
        && response.cache_control.public;
    if cacheable
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&format!("public, {value}"))
    {
        reply.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    reply
}

/// Who pays for an operation: the viewer, else the client's address (from the configured
/// header when a trusted proxy sets it, else the peer), else everyone unnamed together.
/// The answer to an anonymous query from the response cache: charged to the client's budget
/// and counted in field usage as a run would be. `None` when the budget cannot pay: the
/// request then takes the usual way, which refuses it with the usual answer.
#[allow(clippy::too_many_arguments)]
fn cached_reply(
    state: &HttpState,
    entry: &response_cache::Entry,
    media: Media,
    access: &mut Access,
    method: &Method,
    read: &prepare::Read,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<Response> {
    let ticket = CostTicket::new(
        client_key(state, None, headers, peer),
        state.protection.budgets.clone(),
    );
    let maximum = state.protection.max_cost;
    cost::check(Some(&ticket), entry.requested as usize, maximum as usize).ok()?;
    let cost = ticket.settle_returned(entry.actual, maximum)?;
    read.remember(&state.protection);
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

fn client_key(
    state: &HttpState,
    viewer: Option<ViewerId>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> String {
    if let Some(viewer) = viewer {
        return format!("user:{}", viewer.0);
    }
    let forwarded = state
        .protection
        .client_address_header
        .as_ref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 64);
    match (forwarded, peer) {
        (Some(address), _) => format!("address:{address}"),
        (None, Some(peer)) => format!("address:{}", peer.ip()),
        (None, None) => "address:unknown".to_owned(),
    }
}

/// Gives an error without a code the one it must have. Errors before execution come from
/// validation (unknown fields, limits); errors during execution without a code are ours,
/// and their message may hold details, so it is logged and replaced.
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

fn extensions(error: &mut ServerError) -> &mut ErrorExtensionValues {
    error.extensions.get_or_insert_with(Default::default)
}

/// The `extensions.code` of an error, once `classify` has given it one.
fn error_code(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::PAYLOAD_TOO_LARGE,
                "the request body is larger than the gateway accepts",
            )
        } else {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                "the request body could not be read",
            )
        }
    })
}

/// Answers with one error and no data; the access log line says why.
pub(super) fn refuse(refusal: Refusal, media: Media, access: &mut Access) -> Response {
    access.refused(refusal.code);
    let id = &access.id;
    let body = json!({
        "errors": [{
            "message": refusal.message,
            "extensions": {
                "code": refusal.code,
                "requestId": id.as_str(),
                "traceId": access.trace.trace_id,
            },
        }]
    });
    let mut response = reply(refusal.status, media, id, body.to_string().into_bytes());
    // What HTTP says these statuses come with: the method that would do (only mutations
    // over GET are refused so), and the scheme that would authenticate.
    let required = match refusal.status {
        StatusCode::METHOD_NOT_ALLOWED => Some((header::ALLOW, "POST")),
        StatusCode::UNAUTHORIZED => Some((header::WWW_AUTHENTICATE, "Bearer")),
        _ => None,
    };
    if let Some((name, value)) = required {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `{"data": …, "errors": […], "extensions": {…}}`, the data written as the executor wrote
/// it; empty errors and extensions are left out, as async-graphql's response leaves them.
fn answer_body(outcome: &Outcome) -> serde_json::Result<Vec<u8>> {
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

pub(super) fn reply(status: StatusCode, media: Media, id: &RequestId, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(request_id::HEADER, value);
    }
    response
}
