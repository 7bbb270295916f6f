//! `/graphql` following the GraphQL-over-HTTP spec: POST with a JSON body, GET with query
//! parameters (queries only), content negotiation between `application/graphql-response+json`
//! and `application/json`, and the spec's status codes. Every error carries a stable
//! `extensions.code` and the request id; no internal detail reaches the client.
//!
//! The handler is ours rather than async-graphql-axum's extractor, which answers malformed
//! requests with plain-text bodies and cannot set the spec's status codes.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::access::Access;
use super::batch;
use super::media::{Media, accepts_parts, check_content_type, negotiate};
use super::pipeline::execute;
use super::request_id::{self, RequestId};
use crate::core::errors::code;

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
        Ok(()) => post(state, peer_address(peer), headers, body, &mut access).await,
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
    let parts = accepts_parts(&headers);
    match params {
        Ok(params) => {
            let method = Method::POST;
            execute(state, (media, parts), access, method, params, headers, peer).await
        }
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
        Ok(()) => get(state, peer_address(peer), headers, query, &mut access).await,
        Err(overloaded) => *overloaded,
    };
    access.finish(response.status());
    response
}

/// Load shedding: a request beyond the concurrency limit is answered at once with 503, so
/// an overload costs clients a retry, not a queue that grows until everything times out.
/// The request holds its place until it is answered (see `Access::admitted`).
fn admit(state: &HttpState, access: &mut Access) -> Result<(), Box<Response>> {
    state
        .protection
        .concurrency
        .clone()
        .try_acquire_owned()
        .map(|permit| access.admitted(permit))
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
    let parts = accepts_parts(&headers);
    match params {
        Ok(params) => {
            let method = Method::GET;
            execute(state, (media, parts), access, method, params, headers, peer).await
        }
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
