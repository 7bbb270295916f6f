//! One access-log line and the operation metrics for every GraphQL request, answered or
//! refused: operation name and type, the client's name and version (the headers Apollo's
//! clients send), status, duration, error codes, and the backend calls the request made.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_graphql::parser::types::OperationType;
use axum::http::{HeaderMap, StatusCode};

use super::{HttpState, RequestId};
use crate::core::errors::code;
use crate::observe::otlp::{ServerSpan, TraceExporter};
use crate::observe::{Backend, Keep, RequestStats, TraceContext};

/// Headers that name the calling client and its version.
const CLIENT_NAME: &str = "apollographql-client-name";
const CLIENT_VERSION: &str = "apollographql-client-version";

/// What is known of one GraphQL request as it is answered.
pub(super) struct Access {
    started: Instant,
    wall_start: SystemTime,
    /// Where the request's trace goes, if traces are exported.
    traces: Option<TraceExporter>,
    /// The request id the client receives and every log line carries.
    pub id: RequestId,
    /// The request's place in a trace: the caller's, or a new one.
    pub trace: TraceContext,
    client_name: Option<String>,
    client_version: Option<String>,
    operation: Option<String>,
    kind: Option<OperationType>,
    codes: Vec<String>,
    has_data: bool,
    /// A batch logs its operations, not itself.
    silent: bool,
    /// Answered from the response cache.
    cached: bool,
    /// The request's backend calls and loader batches, counted as they happen.
    pub stats: Arc<RequestStats>,
    /// The request's place under the concurrency limit, held until it is answered: for an
    /// answer in parts, until its last part.
    admitted: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Access {
    pub(super) fn start(state: &HttpState, headers: &HeaderMap) -> Self {
        let trace = TraceContext::from_traceparent(
            headers.get("traceparent").and_then(|v| v.to_str().ok()),
        );
        let keep = Keep {
            spans: state.traces.is_some(),
            explain: state.protection.debug.allows(headers),
        };
        let stats = RequestStats::traced(state.metrics.clone(), Some(trace.clone()), keep);
        Self {
            started: Instant::now(),
            wall_start: SystemTime::now(),
            traces: state.traces.clone(),
            id: RequestId::from_headers(headers),
            trace,
            client_name: label_header(headers, CLIENT_NAME),
            client_version: label_header(headers, CLIENT_VERSION),
            operation: None,
            kind: None,
            codes: Vec::new(),
            has_data: false,
            silent: false,
            cached: false,
            stats,
            admitted: None,
        }
    }

    /// Holds the request's place under the concurrency limit while it is served.
    pub(super) fn admitted(&mut self, permit: tokio::sync::OwnedSemaphorePermit) {
        self.admitted = Some(permit);
    }

    /// Takes this request's line over, for an answer whose body outlives its handler (parts,
    /// see `parts`): the handler is left a silent copy, and the line is written when the
    /// body ends.
    pub(super) fn hand_over(&mut self) -> Self {
        let silent = Self {
            started: self.started,
            wall_start: self.wall_start,
            traces: None,
            id: self.id.clone(),
            trace: self.trace.clone(),
            client_name: None,
            client_version: None,
            operation: None,
            kind: None,
            codes: Vec::new(),
            has_data: false,
            silent: true,
            cached: false,
            stats: self.stats.clone(),
            admitted: None,
        };
        std::mem::replace(self, silent)
    }

    /// The operation the request runs (its name as the document or the client gave it).
    pub(super) fn operation(&mut self, name: Option<&str>, kind: Option<OperationType>) {
        self.operation = name.filter(|n| is_name(n)).map(str::to_owned);
        self.kind = kind;
    }

    /// The request was refused with `code` before anything ran.
    pub(super) fn refused(&mut self, code: &str) {
        self.codes.push(code.to_owned());
    }

    /// The request was answered from the response cache.
    pub(super) fn served_from_cache(&mut self) {
        self.cached = true;
    }

    /// The request ran; `codes` are its errors' codes.
    pub(super) fn answered(&mut self, has_data: bool, codes: impl IntoIterator<Item = String>) {
        self.has_data = has_data;
        self.codes.extend(codes);
    }

    /// No line for this request: it was a batch, whose operations have their own.
    pub(super) fn silence(&mut self) {
        self.silent = true;
    }

    /// Writes the access-log line and counts the operation; the request's work still
    /// running (loader batches no one waits for any more) is stopped.
    pub(super) fn finish(mut self, status: StatusCode) {
        self.write(status);
    }

    /// Writes the line of a request whose client went away before it was answered, with
    /// `CLIENT_DISCONNECTED`; its work still running is stopped.
    pub(super) fn client_gone(mut self, status: StatusCode) {
        self.gone(status);
    }

    fn gone(&mut self, status: StatusCode) {
        if !self.silent {
            self.codes.push(code::CLIENT_DISCONNECTED.to_owned());
            self.write(status);
        }
    }

    /// `finish`, once: a written line silences the request.
    fn write(&mut self, status: StatusCode) {
        if self.silent {
            return;
        }
        self.silent = true;
        self.stats.stop_work();
        let took = self.started.elapsed();
        let outcome = match (self.codes.is_empty(), self.has_data) {
            (true, _) => "ok",
            (false, true) => "partial",
            (false, false) => "error",
        };
        let name = match (&self.operation, self.kind) {
            (Some(name), _) => name.as_str(),
            (None, Some(_)) => "anonymous",
            (None, None) => "unknown",
        };
        let kind = match self.kind {
            Some(OperationType::Query) => "query",
            Some(OperationType::Mutation) => "mutation",
            Some(OperationType::Subscription) => "subscription",
            None => "unknown",
        };
        let stats = &self.stats;
        let codes = (!self.codes.is_empty()).then(|| self.codes.join(","));
        tracing::info!(
            target: "ogrom::access",
            message = "graphql operation",
            request_id = %self.id,
            trace_id = %self.trace.trace_id,
            span.id = %self.trace.span_id,
            graphql.operation.name = name,
            graphql.operation.type = kind,
            client.name = self.client_name.as_deref(),
            client.version = self.client_version.as_deref(),
            http.response.status_code = status.as_u16(),
            duration_ms = took.as_secs_f64() * 1000.0,
            outcome,
            error.codes = codes.as_deref(),
            calls.mysql = stats.calls(Backend::MySql),
            calls.elasticsearch = stats.calls(Backend::Elasticsearch),
            calls.partner = stats.calls(Backend::Partner),
            loader_batches = stats.batches(),
            response_cache = if self.cached { "hit" } else { "no" },
        );
        let metrics = stats.metrics();
        metrics.operation(name, kind, outcome, &self.codes, took);
        let client = self.client_name.as_deref().unwrap_or("unknown");
        for (parent, field) in stats.fields_used().iter() {
            metrics.field_used(parent, field, client);
        }
        if let (Some(traces), Some(spans)) = (&self.traces, stats.spans()) {
            let server = ServerSpan {
                trace: &self.trace,
                name: &format!("graphql {name}"),
                start: self.wall_start,
                took,
                status: status.as_u16(),
                attributes: vec![
                    ("graphql.operation.name", name.to_owned()),
                    ("graphql.operation.type", kind.to_owned()),
                    ("http.request.id", self.id.to_string()),
                ],
            };
            traces.export(server, spans.take());
        }
    }
}

impl Drop for Access {
    /// A request dropped before its line was written: its client went away and the server
    /// dropped the handler. The line is written anyway, with status 499 (as proxies log a
    /// client that closed its request).
    fn drop(&mut self) {
        let closed = StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST);
        self.gone(closed);
    }
}

/// A GraphQL name (what an operation name must be), short enough for a metric label.
fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 100
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A header value fit for a log field: short, printable ASCII.
fn label_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_that_are_not_graphql_names_are_not_logged() {
        assert!(is_name("ProductPage"));
        assert!(is_name("_private2"));
        assert!(!is_name(""));
        assert!(!is_name("2fast"));
        assert!(!is_name("a b"));
        assert!(!is_name(&"x".repeat(101)));
    }
}
