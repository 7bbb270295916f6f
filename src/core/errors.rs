//! The one place where failures become GraphQL errors: each carries a stable
//! `extensions.code` and a message safe for clients; causes go to the log, with the request
//! id that the client also receives.

use async_graphql::ErrorExtensions;

use crate::protocols::SourceError;

/// Stable error codes in `extensions.code`. Clients branch on these, never on messages.
pub mod code {
    /// The thing asked for does not exist.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// An argument is malformed or out of range.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The request needs an authenticated viewer, or its token was refused.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The viewer may not do this.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// A backend could not be reached.
    pub const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
    /// A backend did not answer in time.
    pub const UPSTREAM_TIMEOUT: &str = "UPSTREAM_TIMEOUT";
    /// A fault of the gateway itself; details are in the log.
    pub const INTERNAL: &str = "INTERNAL";
    /// The document is not valid GraphQL syntax.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document does not validate against the schema (unknown field, wrong argument, …).
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The HTTP request is not a GraphQL request (malformed JSON, missing query, …).
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// The request's content type is not one the endpoint accepts.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// The client accepts no media type the endpoint can answer with.
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    /// The HTTP method is not allowed for this request (a mutation over GET, …).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// The request body is larger than allowed.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The request took longer than the gateway allows.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The operation's static cost is above the maximum per operation.
    pub const COST_LIMIT_EXCEEDED: &str = "COST_LIMIT_EXCEEDED";
    /// The client's cost budget is spent; HTTP 429 with `Retry-After`.
    pub const BUDGET_EXHAUSTED: &str = "BUDGET_EXHAUSTED";
    /// The gateway is at its concurrency limit; HTTP 503 with `Retry-After`.
    pub const OVERLOADED: &str = "OVERLOADED";
    /// A request a browser could send cross-site without a preflight (CSRF prevention).
    pub const CSRF_PREVENTED: &str = "CSRF_PREVENTED";
    /// A persisted-query hash the gateway does not know: send the query with it.
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// Persisted queries are turned off.
    pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
    /// The persisted-query hash is not the SHA-256 of the query sent with it.
    pub const PERSISTED_QUERY_HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";
    /// Introspection is turned off on this deployment.
    pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";
    /// Only trusted documents run here, and this is not one of them.
    pub const OPERATION_NOT_TRUSTED: &str = "OPERATION_NOT_TRUSTED";
    /// More operations in one batched request than allowed (or batching is off).
    pub const BATCH_NOT_ALLOWED: &str = "BATCH_NOT_ALLOWED";
    /// `@defer` or `@stream` in a mutation.
    pub const DEFER_IN_MUTATION: &str = "DEFER_IN_MUTATION";
    /// Never sent: the client went away before the last part of an answer in parts. The
    /// access line and the operation metrics carry it.
    pub const CLIENT_DISCONNECTED: &str = "CLIENT_DISCONNECTED";
}

/// A failure of a resolver. It deliberately does not implement `Display`, so it can only
/// become a GraphQL error through the `From` impl below, which sets the code.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The thing asked for does not exist; the message names what.
    NotFound(String),
    /// An argument is malformed or out of range; the message says which and why.
    BadUserInput(String),
    /// The operation needs a viewer and there is none.
    Unauthenticated,
    /// The viewer may not do this; the message says what.
    Forbidden(String),
    /// A backend failed; the cause was logged when it happened.
    Upstream(SourceError),
    /// A fault of the gateway itself (a broken invariant); the detail is logged, not shown.
    Internal(String),
    /// The request's deadline passed before this was resolved (a deferred part).
    DeadlinePassed,
}

impl ApiError {
    /// The stable code for `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => code::NOT_FOUND,
            Self::BadUserInput(_) => code::BAD_USER_INPUT,
            Self::Unauthenticated => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::Upstream(SourceError::Timeout { .. }) => code::UPSTREAM_TIMEOUT,
            Self::Upstream(SourceError::Contract { .. }) => code::INTERNAL,
            Self::Upstream(_) => code::UPSTREAM_UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL,
            Self::DeadlinePassed => code::TIMEOUT,
        }
    }

    /// What the client is told: specific for its own mistakes, generic for ours.
    fn client_message(&self) -> String {
        match self {
            Self::NotFound(message) | Self::BadUserInput(message) | Self::Forbidden(message) => {
                message.clone()
            }
            Self::Unauthenticated => {
                "sign in first: this needs an `Authorization: Bearer` token".to_owned()
            }
            Self::Upstream(SourceError::Timeout { backend, .. }) => {
                format!("the {} backend did not answer in time", role(backend))
            }
            Self::Upstream(SourceError::Contract { .. }) | Self::Internal(_) => {
                "internal error".to_owned()
            }
            Self::Upstream(error) => {
                format!("the {} backend is unavailable", role(error.backend()))
            }
            Self::DeadlinePassed => {
                "the request's deadline passed before this part was resolved".to_owned()
            }
        }
    }
}

/// What a backend is for, so messages name a role rather than a technology or a host.
fn role(backend: &str) -> &'static str {
    match backend {
        "mysql" => "catalog",
        "elasticsearch" => "search",
        "partner" => "offers",
        _ => "data",
    }
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> Self {
        match &error {
            SourceError::Contract { .. } => {
                tracing::error!(message = "backend call broke its contract", backend = error.backend(), %error);
            }
            _ => tracing::warn!(message = "backend call failed", backend = error.backend(), %error),
        }
        Self::Upstream(error)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        if let ApiError::Internal(detail) = &error {
            tracing::error!(message = "internal error in a resolver", %detail);
        }
        let code = error.code();
        async_graphql::Error::new(error.client_message()).extend_with(|_, e| e.set("code", code))
    }
}

/// Convenience for resolvers: `Result<T, ApiError>` into the GraphQL result type.
pub type ApiResult<T> = Result<T, ApiError>;
