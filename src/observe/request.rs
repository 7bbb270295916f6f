//! What one request cost: backend calls by backend, and loader batches. Sources report each
//! call with [`backend_call`] and loaders each batch with [`loader_batch`]; both land in the
//! stats of the request being served (found through a task-local that the request's
//! execution and its loader tasks run inside) and in the gateway's metrics. Outside a
//! request (readiness probes, subcommands) a report goes nowhere.
//!
//! A task-local rather than a parameter: a call's cost is an observation, not a dependency,
//! and threading it through every protocol method would put metrics into the protocols.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::Metrics;
use super::explain::Explain;
use super::spans::{self, BatchSpan, Spans};
use super::trace::TraceContext;

tokio::task_local! {
    static CURRENT: Arc<RequestStats>;
}

/// Fields as `(type, field)`, each once.
pub type Fields = Arc<[(String, String)]>;

/// A backend the gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// MySQL, the data of record for the catalog and the community.
    MySql,
    /// Elasticsearch, which answers product searches.
    Elasticsearch,
    /// The partner offers API.
    Partner,
}

impl Backend {
    /// Every backend, in the order logs and metrics list them.
    pub const ALL: [Backend; 3] = [Backend::MySql, Backend::Elasticsearch, Backend::Partner];

    /// The name in logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Backend::MySql => "mysql",
            Backend::Elasticsearch => "elasticsearch",
            Backend::Partner => "partner",
        }
    }
}

/// One request's counts, reported to `metrics` as they happen.
pub struct RequestStats {
    metrics: Metrics,
    calls: [AtomicU32; 3],
    batches: AtomicU32,
    /// The fields the request uses: the field list (`core::usage`) of the one operation it
    /// runs, shared with the plan or cache entry that keeps it, so noting it copies nothing.
    fields: OnceLock<Fields>,
    /// The request's place in a trace (what calls to backends carry as `traceparent`).
    trace: Option<TraceContext>,
    /// The spans of the request, kept when traces are exported.
    spans: Option<Spans>,
    /// What the request did, kept when it asked for `extensions.debug` and may have it.
    explain: Option<Explain>,
    /// The loader batches it spawned (see `RequestSpawner`), stopped when it ends.
    tasks: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl RequestStats {
    /// Stats of a new request, reporting to `metrics`.
    pub fn new(metrics: Metrics) -> Arc<Self> {
        Self::traced(metrics, None, Keep::default())
    }

    /// Stats of a new request in `trace` (its backend calls carry it on), keeping what
    /// `keep` says.
    pub fn traced(metrics: Metrics, trace: Option<TraceContext>, keep: Keep) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            calls: Default::default(),
            batches: AtomicU32::new(0),
            fields: OnceLock::new(),
            trace,
            spans: keep.spans.then(Spans::default),
            explain: keep.explain.then(Explain::new),
            tasks: std::sync::Mutex::default(),
        })
    }

    /// Stops the loader batches the request spawned that still run: once it is answered,
    /// or its client has gone, nothing waits for them.
    pub fn stop_work(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            task.abort();
        }
    }

    /// The spans kept for export, if they are.
    pub fn spans(&self) -> Option<&Spans> {
        self.spans.as_ref()
    }

    /// The request's explain, if it keeps one.
    pub fn explain(&self) -> Option<&Explain> {
        self.explain.as_ref()
    }

    /// Runs `future` as part of this request: the calls it makes are counted here.
    pub fn scope<F: Future>(
        self: &Arc<Self>,
        future: F,
    ) -> impl Future<Output = F::Output> + use<F> {
        CURRENT.scope(self.clone(), future)
    }

    /// The stats of the request this task serves, if any (loaders hand them to the tasks
    /// they spawn).
    pub fn current() -> Option<Arc<Self>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Calls made to `backend` so far.
    pub fn calls(&self, backend: Backend) -> u32 {
        self.calls[backend as usize].load(Ordering::Relaxed)
    }

    /// Loader batches run so far.
    pub fn batches(&self) -> u32 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Notes that the request uses `fields`, as `(type, field)`, once each. A request runs
    /// one operation, let through once (by the gate, or from the response cache), so it
    /// notes one list; a second would be the same operation's.
    pub fn use_fields(&self, fields: &Fields) {
        let _ = self.fields.set(fields.clone());
    }

    /// The fields the request used, as `(type, field)`, once each, in no particular order.
    pub fn fields_used(&self) -> Fields {
        self.fields.get().cloned().unwrap_or_default()
    }

    /// The metrics this request reports to.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl std::fmt::Debug for RequestStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RequestStats");
        for backend in Backend::ALL {
            out.field(backend.name(), &self.calls(backend));
        }
        out.field("batches", &self.batches()).finish()
    }
}

/// The `traceparent` a backend call made now should carry, if it serves a traced request:
/// the loader batch making it is the parent, else the request's own span.
pub fn current_traceparent() -> Option<String> {
    let trace = CURRENT
        .try_with(|stats| stats.trace.clone())
        .ok()
        .flatten()?;
    let parent = spans::current_batch().unwrap_or(trace.span_id);
    Some(format!("00-{}-{parent}-{}", trace.trace_id, trace.flags))
}

/// What a request keeps beyond its counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// Spans, for trace export.
    pub spans: bool,
    /// An explain, for `extensions.debug`.
    pub explain: bool,
}

/// Reports one call to `backend` that began at `started`; `request` says what was sent,
/// and is only called when the request keeps an explain.
pub fn backend_call(
    backend: Backend,
    started: Instant,
    ok: bool,
    request: impl FnOnce() -> String,
) {
    let _ = CURRENT.try_with(|stats| {
        stats.calls[backend as usize].fetch_add(1, Ordering::Relaxed);
        let took = started.elapsed();
        stats.metrics.backend_call(backend.name(), ok, took);
        if let Some(spans) = &stats.spans {
            spans.backend_call(backend.name(), took, ok);
        }
        if let Some(explain) = &stats.explain {
            explain.call(
                backend.name(),
                spans::current_batch(),
                request(),
                started,
                ok,
            );
        }
    });
}

/// Whether the request being served keeps an explain (so what its calls send is worth
/// describing).
pub fn explaining() -> bool {
    CURRENT
        .try_with(|stats| stats.explain.is_some())
        .unwrap_or(false)
}

/// Reports one loader batch of `keys`; the batch lasts as long as the guard.
pub fn loader_batch<K: std::fmt::Debug>(loader: &'static str, keys: &[K]) -> BatchSpan {
    let stats = RequestStats::current();
    if let Some(stats) = &stats {
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.metrics.loader_batch(loader, keys.len());
    }
    let batch = BatchSpan::begin(stats, loader, keys.len());
    if let Some(explain) = batch.explain() {
        let keys = keys.iter().map(|k| format!("{k:?}")).collect();
        explain.batch_began(batch.id(), loader, keys);
    }
    batch
}

/// Reports a look-up of `cache`: `hits` keys answered without a backend, `misses` not.
pub fn cache_lookups(cache: &'static str, hits: usize, misses: usize) {
    let _ = CURRENT.try_with(|stats| {
        if let Some(explain) = &stats.explain {
            explain.cache_lookups(cache, hits, misses);
        }
    });
}

/// Spawns loader batches inside the scope of the request that was being served when it was
/// made, so the batches' backend calls are counted for that request.
#[derive(Clone)]
pub struct RequestSpawner {
    stats: Option<Arc<RequestStats>>,
}

impl RequestSpawner {
    /// A spawner for the request this task serves (or none).
    pub fn current() -> Self {
        Self {
            stats: RequestStats::current(),
        }
    }

    /// Runs `batch` in a task of its own, with its own batch slot; the request stops it
    /// if it still runs when the request ends (`RequestStats::stop_work`).
    pub fn spawn(&self, batch: impl Future<Output = ()> + Send + 'static) {
        match &self.stats {
            Some(stats) => {
                let task = tokio::spawn(stats.scope(spans::with_batch_slot(batch)));
                let mut tasks = stats.tasks.lock().unwrap_or_else(|e| e.into_inner());
                tasks.retain(|t| !t.is_finished());
                tasks.push(task.abort_handle());
            }
            None => drop(tokio::spawn(batch)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_count_for_the_request_they_run_in_and_its_loader_tasks() {
        let metrics = Metrics::default();
        let first = RequestStats::new(metrics.clone());
        let second = RequestStats::new(metrics.clone());
        first
            .scope(async {
                backend_call(Backend::MySql, Instant::now(), true, String::new);
                let (done, wait) = tokio::sync::oneshot::channel();
                RequestSpawner::current().spawn(async move {
                    backend_call(Backend::Partner, Instant::now(), false, String::new);
                    drop(loader_batch("Offers", &[1; 7]));
                    let _ = done.send(());
                });
                wait.await.unwrap();
            })
            .await;
        second
            .scope(async { backend_call(Backend::MySql, Instant::now(), true, String::new) })
            .await;
        backend_call(Backend::MySql, Instant::now(), true, String::new);

        assert_eq!(first.calls(Backend::MySql), 1);
        assert_eq!(first.calls(Backend::Partner), 1);
        assert_eq!(first.batches(), 1);
        assert_eq!(second.calls(Backend::MySql), 1);
        assert_eq!(second.calls(Backend::Partner), 0);
        let text = metrics.render();
        assert!(text.contains("ogrom_backend_calls_total{backend=\"mysql\",outcome=\"ok\"} 2\n"));
        assert!(
            text.contains("ogrom_backend_calls_total{backend=\"partner\",outcome=\"error\"} 1\n")
        );
        assert!(text.contains("ogrom_loader_batch_size_count{loader=\"Offers\"} 1\n"));
    }
}
