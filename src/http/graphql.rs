//! `/graphql` following the GraphQL-over-HTTP spec: POST with a JSON body, GET with query
//! parameters (queries only), content negotiation between `application/graphql-response+json`
//! and `application/json`, and the spec's status codes. Every error carries a stable
//! `extensions.code` and the request id; no internal detail reaches the client.
//!
//! The handler is ours rather than async-graphql-axum's extractor, which answers malformed
//! requests with plain-text bodies and cannot set the spec's status codes.

use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensionValues, ServerError, Variables};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;
use tracing::Instrument;

use super::HttpState;
use super::access::Access;
use super::media::{Media, check_content_type, negotiate};
use super::request_id::{self, RequestId};
use crate::core::RequestContext;
use crate::core::errors::code;
use crate::protocols::auth::{AuthError, ViewerId};

/// The parameters of a GraphQL request, from a JSON body or a query string.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
}

/// GET query parameters: `variables` arrives JSON-encoded.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

/// An error before or around execution, answered with a status and one GraphQL error.
pub(super) struct Refusal {
    status: StatusCode,
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

pub(super) async fn post_graphql(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut access = Access::start(&state.metrics, &headers);
    let response = post(state, headers, body, &mut access).await;
    access.finish(response.status());
    response
}

async fn post(
    state: HttpState,
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
        .and_then(|value| {
            if value.is_array() {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    code::BAD_REQUEST,
                    "batched requests are not supported: send one operation per request",
                ));
            }
            serde_json::from_value::<Params>(value).map_err(|e| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    code::BAD_REQUEST,
                    format!("the body is not a GraphQL request: {e}"),
                )
            })
        });
    match params {
        Ok(params) => execute(state, media, access, Method::POST, params, headers).await,
        Err(refusal) => refuse(refusal, media, access),
    }
}

pub(super) async fn get_graphql(
    State(state): State<HttpState>,
    headers: HeaderMap,
    query: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let mut access = Access::start(&state.metrics, &headers);
    let response = get(state, headers, query, &mut access).await;
    access.finish(response.status());
    response
}

async fn get(
    state: HttpState,
    headers: HeaderMap,
    query: Result<Query<GetParams>, QueryRejection>,
    access: &mut Access,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(refusal) => return refuse(refusal, Media::Json, access),
    };
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
            Ok(Params {
                query: get.query,
                operation_name: get.operation_name,
                variables,
            })
        });
    match params {
        Ok(params) => execute(state, media, access, Method::GET, params, headers).await,
        Err(refusal) => refuse(refusal, media, access),
    }
}

/// `GET /schema.graphql`: the SDL that client teams generate code from.
pub(super) async fn schema_sdl(State(state): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.api.schema().sdl(),
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

async fn execute(
    state: HttpState,
    media: Media,
    access: &mut Access,
    method: Method,
    params: Params,
    headers: HeaderMap,
) -> Response {
    access.operation(params.operation_name.as_deref(), None);
    let viewer = match authenticate(&state, &headers).await {
        Ok(viewer) => viewer,
        Err(refusal) => {
            let unauthorized = refusal.status == StatusCode::UNAUTHORIZED;
            let mut response = refuse(refusal, media, access);
            if unauthorized {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return response;
        }
    };
    let Some(query) = params.query.filter(|q| !q.trim().is_empty()) else {
        let refusal = Refusal::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            "`query` is missing",
        );
        return refuse(refusal, media, access);
    };
    let variables = match params.variables {
        None | Some(Value::Null) => Variables::default(),
        Some(value @ Value::Object(_)) => Variables::from_json(value),
        Some(_) => {
            let refusal = Refusal::new(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                "`variables` must be an object",
            );
            return refuse(refusal, media, access);
        }
    };
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    let operation_name = request.operation_name.clone();
    let operation = match request.parsed_query() {
        Ok(document) => {
            let (name, kind) = operation(document, operation_name.as_deref()).unzip();
            access.operation(name.flatten(), kind);
            kind
        }
        Err(error) => {
            let status = match media {
                Media::GraphqlResponse => StatusCode::BAD_REQUEST,
                Media::Json => StatusCode::OK,
            };
            let refusal = Refusal::new(status, code::GRAPHQL_PARSE_FAILED, error.message);
            return refuse(refusal, media, access);
        }
    };
    if method == Method::GET && operation.is_some_and(|op| op != OperationType::Query) {
        let refusal = Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            "only queries may be sent with GET; send mutations with POST",
        );
        let mut response = refuse(refusal, media, access);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }

    let id = access.id.clone();
    let span = tracing::info_span!(
        "graphql",
        request_id = %id,
        trace_id = access.trace_id.as_deref()
    );
    let limit = state.limits.request_timeout;
    let context = RequestContext {
        deadline: Instant::now() + limit,
        request_id: Some(id.as_str().to_owned()),
        viewer,
        stats: access.stats.clone(),
    };
    let execution = state
        .api
        .execute_with(request, context)
        .instrument(span.clone());
    let Ok(mut response) = tokio::time::timeout(limit, execution).await else {
        let refusal = Refusal::new(
            StatusCode::GATEWAY_TIMEOUT,
            code::TIMEOUT,
            format!("the request took longer than {} ms", limit.as_millis()),
        );
        return refuse(refusal, media, access);
    };
    let before_execution = response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty());
    span.in_scope(|| {
        for error in &mut response.errors {
            classify(error, before_execution);
            extensions(error).set("requestId", id.as_str());
        }
    });
    access.answered(
        response.data != async_graphql::Value::Null,
        response.errors.iter().filter_map(error_code),
    );
    let status = match media {
        Media::GraphqlResponse if before_execution && response.is_err() => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    // A request error (nothing executed) has no `data` entry at all, per the spec.
    let body = if before_execution {
        serde_json::to_vec(&json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    reply(
        status,
        media,
        &id,
        body.unwrap_or_else(|_| internal_body(&id)),
    )
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

/// The name (none if anonymous) and type of the operation that will run, if the document
/// names it unambiguously.
fn operation<'a>(
    document: &'a async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'a str>, OperationType)> {
    document
        .operations
        .iter()
        .find(|(op_name, _)| name.is_none() || op_name.map(|n| n.as_str()) == name)
        .map(|(op_name, op)| (op_name.map(|n| n.as_str()), op.node.ty))
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
fn refuse(refusal: Refusal, media: Media, access: &mut Access) -> Response {
    access.refused(refusal.code);
    let id = &access.id;
    let body = json!({
        "errors": [{
            "message": refusal.message,
            "extensions": { "code": refusal.code, "requestId": id.as_str() },
        }]
    });
    reply(refusal.status, media, id, body.to_string().into_bytes())
}

fn internal_body(id: &RequestId) -> Vec<u8> {
    json!({"errors": [{"message": "internal error",
        "extensions": {"code": code::INTERNAL, "requestId": id.as_str()}}]})
    .to_string()
    .into_bytes()
}

fn reply(status: StatusCode, media: Media, id: &RequestId, body: Vec<u8>) -> Response {
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
