//! From a GraphQL request's parameters to a request ready to execute, refusing on the way
//! whatever must not run: a persisted query the gateway cannot find (or may not run), a
//! document or variables over a limit (scanned before parsing), a document that does not
//! parse, a mutation over GET. Each refusal is cheap; nothing here recurses on client input
//! that the scan has not bounded.

use std::sync::Arc;

use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::Protection;
use super::access::Access;
use super::document::{self, LimitExceeded};
use super::graphql::{Params, Refusal};
use super::media::Media;
use crate::core::errors::code;
use crate::core::introspection;

/// A request that passed every check before execution.
pub(super) struct Prepared {
    pub request: async_graphql::Request,
    /// The persisted-query hash the client sent, if any (a GET with one may be cached).
    pub hash: Option<String>,
    /// The type of the operation that will run, when the document names it unambiguously.
    pub kind: Option<OperationType>,
    /// Its name, if it has one.
    pub name: Option<String>,
}

/// A request whose document is found and bounded by the scan, not yet parsed: what the
/// response cache is looked up with.
pub(super) struct Read {
    pub request: async_graphql::Request,
    /// The persisted-query hash the client sent, if any.
    pub hash: Option<String>,
    /// Whether the document came with its hash to be remembered (APQ registration).
    remember: bool,
    /// The status of a refusal of the document (see `read`).
    document_status: StatusCode,
    /// The document parsed from the same text before, which passed the same limits then.
    known: Option<Arc<ExecutableDocument>>,
}

impl Read {
    /// Remembers the document under its hash when the client registered it; only for a
    /// document that passed `check` (now, or before: the response cache).
    pub(super) async fn remember(&self, protection: &Protection) {
        if self.remember
            && let Some(hash) = &self.hash
        {
            protection
                .persisted
                .remember(hash, &self.request.query)
                .await;
        }
    }
}

/// From parameters to a request whose document is found (persisted queries) and bounded
/// (the scan, the variables' depth).
pub(super) async fn read(
    protection: &Protection,
    media: Media,
    params: Params,
    access: &mut Access,
) -> Result<Read, Refusal> {
    access.operation(params.operation_name.as_deref(), None);
    // Errors about the document are GraphQL request errors: 200 with application/json,
    // 400 with application/graphql-response+json (the GraphQL-over-HTTP spec).
    let document_status = match media {
        Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    };
    let hash = persisted_hash(params.extensions.as_ref())?;
    let query = params.query.filter(|q| !q.trim().is_empty());
    let (query, remember) = protection
        .persisted
        .resolve(query, hash.as_deref())
        .await
        .map_err(|missing| {
            let status = match missing.code {
                code::BAD_REQUEST | code::PERSISTED_QUERY_HASH_MISMATCH => StatusCode::BAD_REQUEST,
                _ => document_status,
            };
            Refusal::new(status, missing.code, missing.message)
        })?;
    let limits = &protection.document;
    let over = |e: LimitExceeded| Refusal::new(document_status, e.code, e.message);
    // A text kept parsed has passed the scan and the document's limits (see `check`).
    let known = protection.parsed.get(&query);
    if known.is_none() {
        document::scan(&query, limits).map_err(over)?;
    }
    let variables = match params.variables {
        None | Some(Value::Null) => Variables::default(),
        Some(value @ Value::Object(_)) => {
            document::check_variables(&value, limits).map_err(over)?;
            Variables::from_json(value)
        }
        Some(_) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                "`variables` must be an object",
            ));
        }
    };
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    Ok(Read {
        request,
        hash,
        remember,
        document_status,
        known,
    })
}

/// Parses and checks a read request: the document's limits after fragments, introspection,
/// a mutation over GET.
pub(super) async fn check(
    protection: &Protection,
    method: &Method,
    read: Read,
    access: &mut Access,
) -> Result<Prepared, Refusal> {
    let mut read = read;
    let status = read.document_status;
    let limits = &protection.document;
    let over = |e: LimitExceeded| Refusal::new(status, e.code, e.message);
    let operation_name = read.request.operation_name.clone();
    let parse_failed = |error: async_graphql::ServerError| {
        Refusal::new(status, code::GRAPHQL_PARSE_FAILED, error.message)
    };
    let parsed = match read.known.take() {
        Some(known) => ExecutableDocument::clone(&known),
        None => {
            let parsed = async_graphql::parser::parse_query(&read.request.query)
                .map_err(|error| parse_failed(error.into()))?;
            document::check_document(&parsed, limits).map_err(over)?;
            // Kept only once within every limit, so a text found kept needs no check.
            protection.parsed.put(&read.request.query, &parsed);
            parsed
        }
    };
    read.request.set_parsed_query(parsed);
    let document = read.request.parsed_query().map_err(parse_failed)?;
    if !protection.introspection && introspection::selects_introspection(document) {
        return Err(Refusal::new(
            status,
            code::INTROSPECTION_DISABLED,
            "introspection is turned off here; the schema is published to client teams",
        ));
    }
    let (name, kind) = operation(document, operation_name.as_deref()).unzip();
    let name = name.flatten().map(str::to_owned);
    access.operation(name.as_deref(), kind);
    if *method == Method::GET && kind.is_some_and(|op| op != OperationType::Query) {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            "only queries may be sent with GET; send mutations with POST",
        ));
    }
    read.remember(protection).await;
    let Read { request, hash, .. } = read;
    Ok(Prepared {
        request,
        hash,
        kind,
        name,
    })
}

/// `extensions.persistedQuery.sha256Hash`, when the client sent a persisted query.
fn persisted_hash(extensions: Option<&Value>) -> Result<Option<String>, Refusal> {
    let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    let hash = persisted.get("sha256Hash").and_then(Value::as_str);
    let version = persisted.get("version").and_then(Value::as_u64);
    match (hash, version) {
        (Some(hash), Some(1))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            "`extensions.persistedQuery` must be {\"version\": 1, \"sha256Hash\": <64 hex digits>}",
        )),
    }
}

/// The name (none if anonymous) and type of the operation that will run, if the document
/// names it unambiguously.
fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'a str>, OperationType)> {
    document
        .operations
        .iter()
        .find(|(op_name, _)| name.is_none() || op_name.map(|n| n.as_str()) == name)
        .map(|(op_name, op)| (op_name.map(|n| n.as_str()), op.node.ty))
}
