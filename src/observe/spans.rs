//! The spans of one request, kept for trace export when it is configured: a span per loader
//! batch, and a span per backend call, child of the batch that made it (or of the request's
//! own span). A loader batch runs in a task of its own, so the batch that a backend call
//! belongs to is a task-local slot that each spawned batch task gets.

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use std::sync::Arc;

use super::explain::Explain;
use super::request::RequestStats;
use super::trace::span_id;

tokio::task_local! {
    /// The loader batch this task is running, if any.
    static BATCH: RefCell<Option<String>>;
}

/// What a span did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside the gateway (a loader batch).
    Internal,
    /// A call to a backend.
    Client,
}

/// One finished span.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The span's own id (16 hex digits).
    pub span_id: String,
    /// The parent span; `None`: the request's own span.
    pub parent_id: Option<String>,
    /// What the span did: `loader <name>` for a batch, the backend's name for a call.
    pub name: String,
    /// Whether it is a loader batch or a backend call.
    pub kind: SpanKind,
    /// Wall-clock time the work started.
    pub start: SystemTime,
    /// Wall-clock time the work ended.
    pub end: SystemTime,
    /// Whether the work succeeded; false marks the span failed.
    pub ok: bool,
    /// Attributes of the span (`peer.service` of a call, the keys of a batch).
    pub attributes: Vec<(&'static str, String)>,
}

/// The spans of one request.
#[derive(Debug, Default)]
pub struct Spans {
    records: Mutex<Vec<SpanRecord>>,
}

impl Spans {
    pub(super) fn record(&self, record: SpanRecord) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    /// The spans recorded so far, in the order they ended.
    pub fn take(&self) -> Vec<SpanRecord> {
        std::mem::take(&mut self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A backend call that took `took` and just ended.
    pub(super) fn backend_call(&self, backend: &'static str, took: Duration, ok: bool) {
        let end = SystemTime::now();
        self.record(SpanRecord {
            span_id: span_id(),
            parent_id: current_batch(),
            name: backend.to_owned(),
            kind: SpanKind::Client,
            start: end.checked_sub(took).unwrap_or(end),
            end,
            ok,
            attributes: vec![("peer.service", backend.to_owned())],
        });
    }
}

/// Runs a spawned batch task with an empty batch slot of its own.
pub fn with_batch_slot<F: Future>(future: F) -> impl Future<Output = F::Output> {
    BATCH.scope(RefCell::new(None), future)
}

/// The loader batch running in this task, if any.
pub fn current_batch() -> Option<String> {
    BATCH.try_with(|slot| slot.borrow().clone()).ok().flatten()
}

/// A loader batch in progress: while it lives, this task's backend calls are its children;
/// dropped, it becomes a span (when the request keeps spans).
#[must_use = "the batch lasts as long as this guard"]
pub struct BatchSpan {
    stats: Option<Arc<RequestStats>>,
    span_id: String,
    outer: Option<String>,
    loader: &'static str,
    keys: usize,
    start: SystemTime,
    /// Whether the load succeeded; a batch that fails or panics is exported as an error.
    ok: bool,
}

impl BatchSpan {
    pub(super) fn begin(
        stats: Option<Arc<RequestStats>>,
        loader: &'static str,
        keys: usize,
    ) -> Self {
        let span_id = span_id();
        let outer = BATCH
            .try_with(|slot| slot.replace(Some(span_id.clone())))
            .ok()
            .flatten();
        Self {
            stats,
            span_id,
            outer,
            loader,
            keys,
            start: SystemTime::now(),
            ok: false,
        }
    }

    /// Notes that the load succeeded (a span dropped without it is exported as failed).
    pub fn succeeded(&mut self) {
        self.ok = true;
    }

    /// The batch's span id.
    pub fn id(&self) -> &str {
        &self.span_id
    }

    /// The explain of the request the batch serves, if it keeps one.
    pub(super) fn explain(&self) -> Option<&Explain> {
        self.stats.as_deref().and_then(RequestStats::explain)
    }
}

impl Drop for BatchSpan {
    fn drop(&mut self) {
        let _ = BATCH.try_with(|slot| slot.replace(self.outer.take()));
        if let Some(explain) = self.explain() {
            explain.batch_ended(&self.span_id);
        }
        if let Some(spans) = self.stats.as_deref().and_then(RequestStats::spans) {
            spans.record(SpanRecord {
                span_id: std::mem::take(&mut self.span_id),
                parent_id: None,
                name: format!("loader {}", self.loader),
                kind: SpanKind::Internal,
                start: self.start,
                end: SystemTime::now(),
                ok: self.ok,
                attributes: vec![("ogrom.loader.keys", self.keys.to_string())],
            });
        }
    }
}
