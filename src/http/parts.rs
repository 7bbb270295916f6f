//! An answer in parts (`@defer`, `@stream`) over HTTP: a `multipart/mixed` body in the
//! incremental-delivery format that Apollo Client and GraphiQL read (deferSpec=20220824).
//! Each part is `{"data", "errors", "hasNext"}` first, then
//! `{"incremental": [{"data" | "items", "path", "label", "errors"}], "hasNext"}`, the last
//! with `hasNext: false` and the request's `extensions` (`cost`, `debug`).
//!
//! The request is one request to the rest of the gateway, whatever its parts:
//! - the body drives the execution, so a client that goes away drops the work still
//!   pending (and its line says `CLIENT_DISCONNECTED`);
//! - the deadline covers every part: a group not delivered by then is delivered `null`
//!   with `TIMEOUT` at its path;
//! - the cost is settled once, from what every part returned, in the last part;
//! - the access line, the operation metrics and the concurrency limit's place are the
//!   request's until its last part is written.
//!
//! Compression leaves `multipart/mixed` alone (see `router`), so each part leaves as it is
//! written.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use async_graphql::ServerError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::channel::mpsc;
use futures::{FutureExt as _, StreamExt as _};
use serde_json::json;
use tracing::Instrument;

use super::access::Access;
use super::graphql::Refusal;
use super::pipeline::{self, Request};
use super::request_id;
use crate::core::cost::CostTicket;
use crate::core::errors::code;
use crate::core::{Delivered, Next, Outcome, RequestContext};

/// The response's type: parts separated by the boundary `-`.
const CONTENT_TYPE: &str = "multipart/mixed; boundary=\"-\"; deferSpec=20220824";
/// What comes before the first part: the boundary.
const START: &[u8] = b"\r\n---";
/// What comes before each part's JSON: its headers.
const HEAD: &[u8] = b"\r\ncontent-type: application/json; charset=utf-8\r\n\r\n";
/// What comes after each part but the last: the boundary, written with the part so that a
/// client, which knows a part is whole when the next boundary arrives, reads it at once.
const NEXT: &[u8] = b"\r\n---";
/// What comes after the last part: the closing boundary.
const END: &[u8] = b"\r\n-----\r\n";
/// How long past the deadline the body waits for the engine, which delivers every group by
/// the deadline itself, before it ends the answer on its own.
const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The execution, with the panic of a resolver caught.
type Work = Pin<Box<dyn Future<Output = Result<(), Box<dyn Any + Send>>> + Send>>;

/// How an operation run for a client that takes parts starts.
pub(super) enum Started {
    /// It comes whole (nothing is deferred, or it was refused): answered as usual.
    Whole(Outcome),
    /// Its first part, and the execution that delivers the others.
    Parts(Outcome, Rest),
}

/// The parts still to come.
pub(super) struct Rest {
    work: Option<Work>,
    parts: mpsc::UnboundedReceiver<Delivered>,
    deadline: tokio::time::Instant,
}

/// Runs `operation` for a client that takes parts, until its first part.
pub(super) async fn start(
    request: Request<'_>,
    operation: async_graphql::Request,
    context: RequestContext,
    span: &tracing::Span,
) -> Result<Started, Refusal> {
    let limit = request.state.limits.request_timeout;
    let deadline = tokio::time::Instant::from_std(context.deadline);
    let (sender, parts) = mpsc::unbounded();
    let api = request.state.api.clone();
    let execution = async move {
        let mut deliver = |part| drop(sender.unbounded_send(part));
        api.execute_in_parts(operation, context, &mut deliver).await;
    };
    let work: Work = Box::pin(AssertUnwindSafe(execution.instrument(span.clone())).catch_unwind());
    let mut rest = Rest {
        work: Some(work),
        parts,
        deadline,
    };
    let first = tokio::time::timeout_at(deadline, rest.next());
    match first.await {
        Err(_) => Err(pipeline::timed_out(limit)),
        Ok(Ok(Some(Delivered::First(outcome, true)))) => Ok(Started::Parts(outcome, rest)),
        Ok(Ok(Some(Delivered::First(outcome, false)))) => Ok(Started::Whole(outcome)),
        Ok(Ok(Some(Delivered::Next(_)) | None)) | Ok(Err(())) => Err(pipeline::panicked(span)),
    }
}

impl Rest {
    /// The next part; `Err` when the execution panicked, `None` when it ended.
    async fn next(&mut self) -> Result<Option<Delivered>, ()> {
        loop {
            let Some(work) = &mut self.work else {
                return Ok(self.parts.next().await);
            };
            tokio::select! {
                biased;
                part = self.parts.next() => return Ok(part),
                finished = work => {
                    self.work = None;
                    finished.map_err(|_| ())?;
                }
            }
        }
    }
}

/// The answer whose first part is `first`: a `multipart/mixed` body that writes each part
/// as the execution delivers it, and ends the request with its last.
pub(super) async fn answer(
    request: Request<'_>,
    access: &mut Access,
    mut first: Outcome,
    rest: Rest,
    ticket: Arc<CostTicket>,
    span: tracing::Span,
) -> Response {
    let mut answering = Answering {
        access: Some(access.hand_over()),
        ticket,
        max_cost: request.state.protection.max_cost,
        returned: first.returned,
        has_data: first.has_data(),
        codes: Vec::new(),
        span,
        rest,
    };
    answering.errors(&mut first.errors);
    let mut body = [START, HEAD].concat();
    match pipeline::answer_body(&first) {
        Ok(answered) => {
            // `{"data":…}` with `"hasNext":true` before its closing brace.
            body.extend_from_slice(&answered[..answered.len() - 1]);
            body.extend_from_slice(b",\"hasNext\":true}");
            body.extend_from_slice(NEXT);
        }
        Err(_) => return answering.internal(access),
    }
    let first = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(body)) });
    let later = futures::stream::unfold(answering, |mut answering| async move {
        let part = answering.next_part().await?;
        Some((Ok(Bytes::from(part)), answering))
    });
    let id = access.id.clone();
    let mut response = Response::new(Body::from_stream(first.chain(later)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(request_id::HEADER, value);
    }
    response
}

/// An answer in parts being written: the request's line, its payer, and what its parts
/// held so far.
struct Answering {
    /// The request's line, written when the last part is (or the client goes away).
    access: Option<Access>,
    ticket: Arc<CostTicket>,
    max_cost: u64,
    /// The actual cost of the parts so far.
    returned: u64,
    has_data: bool,
    /// The codes of the parts' errors so far.
    codes: Vec<String>,
    span: tracing::Span,
    rest: Rest,
}

impl Answering {
    /// The next part's bytes, the end's with the last; `None` once it is written.
    async fn next_part(&mut self) -> Option<Vec<u8>> {
        // Ended once the line is written.
        self.access.as_ref()?;
        let waited = tokio::time::timeout_at(self.rest.deadline + GRACE, self.rest.next()).await;
        let next = match waited {
            Ok(Ok(Some(Delivered::Next(next)))) => next,
            Ok(Ok(Some(Delivered::First(..)) | None)) | Ok(Err(())) => {
                pipeline::panicked(&self.span);
                return Some(self.end_with_error(code::INTERNAL, "internal error"));
            }
            Err(_) => {
                let message = "the request's deadline passed before its last part";
                return Some(self.end_with_error(code::TIMEOUT, message));
            }
        };
        let last = !next.has_next;
        let mut part = HEAD.to_vec();
        let written = self.written(next).await;
        part.extend_from_slice(&written);
        if last {
            part.extend_from_slice(END);
            self.end();
        } else {
            part.extend_from_slice(NEXT);
        }
        Some(part)
    }

    /// A part after the first, as JSON (entries' data as the engine wrote it); the last
    /// settles the cost.
    async fn written(&mut self, next: Next) -> Vec<u8> {
        let Next {
            entries,
            returned,
            has_next,
            mut extensions,
        } = next;
        self.returned += returned;
        if !has_next
            && let Some(cost) = self
                .ticket
                .settle_returned(self.returned, self.max_cost)
                .await
            && let Ok(cost) = async_graphql::Value::from_json(cost)
        {
            extensions.insert("cost".to_owned(), cost);
        }
        let size = entries
            .iter()
            .map(|e| e.data.as_ref().or(e.items.as_ref()).map_or(4, String::len));
        let mut part = Vec::with_capacity(size.sum::<usize>() + 256);
        part.extend_from_slice(b"{\"incremental\":[");
        for (n, mut entry) in entries.into_iter().enumerate() {
            self.errors(&mut entry.errors);
            if n > 0 {
                part.push(b',');
            }
            match (entry.items, entry.data) {
                (Some(items), _) => {
                    part.extend_from_slice(b"{\"items\":");
                    part.extend_from_slice(items.as_bytes());
                }
                (None, data) => {
                    part.extend_from_slice(b"{\"data\":");
                    part.extend_from_slice(data.as_deref().unwrap_or("null").as_bytes());
                }
            }
            // Writing into a Vec cannot fail, and these always serialize.
            part.extend_from_slice(b",\"path\":");
            let _ = serde_json::to_writer(&mut part, &entry.path);
            if let Some(label) = entry.label {
                part.extend_from_slice(b",\"label\":");
                let _ = serde_json::to_writer(&mut part, &label);
            }
            if !entry.errors.is_empty() {
                part.extend_from_slice(b",\"errors\":");
                let _ = serde_json::to_writer(&mut part, &entry.errors);
            }
            part.push(b'}');
        }
        part.extend_from_slice(b"],\"hasNext\":");
        part.extend_from_slice(if has_next { b"true" } else { b"false" });
        if !extensions.is_empty() {
            part.extend_from_slice(b",\"extensions\":");
            let _ = serde_json::to_writer(&mut part, &extensions);
        }
        part.push(b'}');
        part
    }

    /// Classifies the errors of a part and tags them with the request's ids, as `answer`
    /// does a whole answer's, and notes their codes.
    fn errors(&mut self, errors: &mut [ServerError]) {
        let Some(access) = &self.access else {
            return;
        };
        pipeline::tag_errors(errors, false, access, &self.span);
        self.codes
            .extend(errors.iter().filter_map(pipeline::error_code));
    }

    /// The last part when the execution cannot deliver one: one error, and the end.
    fn end_with_error(&mut self, code: &'static str, message: &str) -> Vec<u8> {
        let mut error = ServerError::new(message, None);
        pipeline::extensions(&mut error).set("code", code);
        self.errors(std::slice::from_mut(&mut error));
        let mut part = HEAD.to_vec();
        let written = json!({ "hasNext": false, "errors": [error] });
        part.extend_from_slice(written.to_string().as_bytes());
        part.extend_from_slice(END);
        self.end();
        part
    }

    /// The request ends: its line is written, its place under the limit given back.
    fn end(&mut self) {
        if let Some(mut access) = self.access.take() {
            access.answered(self.has_data, std::mem::take(&mut self.codes));
            access.finish(StatusCode::OK);
        }
    }

    /// The answer when the first part cannot be written: `INTERNAL`, whole.
    fn internal(mut self, access: &mut Access) -> Response {
        if let Some(taken) = self.access.take() {
            *access = taken;
        }
        let refusal = Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            "internal error",
        );
        super::graphql::refuse(refusal, super::media::Media::Json, access)
    }
}

impl Drop for Answering {
    /// A body dropped before its last part: the client went away. The work still pending
    /// is dropped with it; the request's line says so.
    fn drop(&mut self) {
        if let Some(mut access) = self.access.take() {
            access.answered(self.has_data, std::mem::take(&mut self.codes));
            // The answer's status went out with its first part.
            access.client_gone(StatusCode::OK);
        }
    }
}
