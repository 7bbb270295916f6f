//! The gateway's metrics (layer: observe): counters and histograms with labels, plus
//! collectors that read gauges (pool usage, breaker states) at scrape time, rendered in the
//! Prometheus text format (0.0.4).
//!
//! The series, their registry and the encoder are prometheus-client's: its
//! `prometheus_text` encoder writes the format, names and `le` bounds the page had when it
//! was hand-written, in three crates (`metrics` with its Prometheus exporter would bring a
//! dozen, and is built around a global recorder). Ours are a thin wrapper that caps label
//! sets per family and keeps updates on the request path off shared locks and the
//! allocator (`capped`), and the collectors' writer (`exposition`). `Metrics` is a value,
//! not a global registry: every test builds its own.

mod capped;
mod exposition;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

use capped::Capped;
pub use exposition::Exposition;
use exposition::Scrape;

/// Upper bounds of latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds of loader batch-size buckets, in keys.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];
/// Label sets of field usage: every field of the schema times a few clients.
const MAX_FIELD_SERIES: usize = 5_000;
/// Most label sets one family keeps; beyond it (operation names are chosen by clients) new
/// sets are counted under `_other`, so a client cannot grow the registry without bound.
const MAX_SERIES: usize = 500;

/// The gateway's metrics. Cloning shares the registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

struct Families {
    /// Every family and the collectors; written only when a collector is added.
    registry: RwLock<Registry>,
    /// The process metrics, rendered after the collectors.
    process: Registry,
    in_flight: Gauge,
    http_requests: Capped<Counter>,
    http_duration: Capped<Histogram>,
    operations: Capped<Counter>,
    operation_duration: Capped<Histogram>,
    errors: Capped<Counter>,
    backend_calls: Capped<Counter>,
    backend_duration: Capped<Histogram>,
    loader_batches: Capped<Histogram>,
    field_usage: Capped<Counter>,
}

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

fn batch_sizes() -> Histogram {
    Histogram::new(BATCH_BUCKETS.iter().copied())
}

/// Registers `metric` as `name`, as the page shows it (a counter's ends in `_total`, which
/// the encoder adds), with `help` as written (the registry adds the final full stop).
fn register(registry: &mut Registry, name: &str, help: &str, metric: impl Metric) {
    let name = match metric.metric_type() {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    registry.register(name, help.strip_suffix('.').unwrap_or(help), metric);
}

impl Default for Metrics {
    fn default() -> Self {
        let mut families = Families {
            registry: RwLock::default(),
            process: process(SystemTime::now()),
            in_flight: Gauge::default(),
            http_requests: Capped::new(
                &["route", "method", "status"],
                MAX_SERIES,
                Counter::default,
            ),
            http_duration: Capped::new(&["route"], MAX_SERIES, latency),
            operations: Capped::new(
                &["operation", "type", "outcome"],
                MAX_SERIES,
                Counter::default,
            ),
            operation_duration: Capped::new(&["operation", "type"], MAX_SERIES, latency),
            errors: Capped::new(&["code"], MAX_SERIES, Counter::default),
            backend_calls: Capped::new(&["backend", "outcome"], MAX_SERIES, Counter::default),
            backend_duration: Capped::new(&["backend"], MAX_SERIES, latency),
            loader_batches: Capped::new(&["loader"], MAX_SERIES, batch_sizes),
            field_usage: Capped::new(
                &["type", "field", "client"],
                MAX_FIELD_SERIES,
                Counter::default,
            ),
        };
        families.registry = RwLock::new(registry(&families));
        Self {
            inner: Arc::new(families),
        }
    }
}

/// A registry of `families`, in the order the page shows them.
fn registry(families: &Families) -> Registry {
    let mut registry = Registry::default();
    let r = &mut registry;
    register(
        r,
        "ogrom_http_requests_total",
        "HTTP requests answered, by route, method and status.",
        families.http_requests.family(),
    );
    register(
        r,
        "ogrom_http_request_duration_seconds",
        "Time to answer an HTTP request, by route.",
        families.http_duration.family(),
    );
    register(
        r,
        "ogrom_http_requests_in_flight",
        "HTTP requests being answered.",
        families.in_flight.clone(),
    );
    register(
        r,
        "ogrom_graphql_operations_total",
        "GraphQL operations, by operation name, type and outcome (ok, partial: data \
             with errors, error: no data).",
        families.operations.family(),
    );
    register(
        r,
        "ogrom_graphql_operation_duration_seconds",
        "Time to answer a GraphQL operation, by operation name and type.",
        families.operation_duration.family(),
    );
    register(
        r,
        "ogrom_graphql_errors_total",
        "GraphQL errors in responses, by extensions.code.",
        families.errors.family(),
    );
    register(
        r,
        "ogrom_backend_calls_total",
        "Calls to backends (SQL statements, Elasticsearch requests, partner \
             attempts), by backend and outcome.",
        families.backend_calls.family(),
    );
    register(
        r,
        "ogrom_backend_call_duration_seconds",
        "Time of one backend call, by backend.",
        families.backend_duration.family(),
    );
    register(
        r,
        "ogrom_loader_batch_size",
        "Keys per DataLoader batch, by loader.",
        families.loader_batches.family(),
    );
    register(
        r,
        "ogrom_graphql_field_usage_total",
        "Requests that asked for a field, by type, field and client name \
             (apollographql-client-name): a deprecated field nobody asks for can go.",
        families.field_usage.family(),
    );
    registry
}

/// The standard process metrics, started at `started`.
fn process(started: SystemTime) -> Registry {
    let mut process = Registry::default();
    process.register_collector(Box::new(Scrape(Box::new(move |out| {
        exposition::process_metrics(started, out);
    }))));
    process
}

/// One HTTP request being answered; dropping it ends it.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// An HTTP request begins; it counts as in flight until the guard is dropped.
    pub fn request_started(&self) -> InFlight {
        self.inner.in_flight.inc();
        InFlight(self.inner.in_flight.clone())
    }

    /// HTTP requests being answered now.
    pub fn in_flight(&self) -> i64 {
        self.inner.in_flight.get()
    }

    /// One HTTP request answered.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut digits = itoa::Buffer::new();
        let status = digits.format(status);
        (self.inner.http_requests).update(&[route, method, status], |c| {
            c.inc();
        });
        (self.inner.http_duration).update(&[route], |h| h.observe(took.as_secs_f64()));
    }

    /// One GraphQL operation answered, with the codes of its errors.
    pub fn operation(
        &self,
        name: &str,
        kind: &str,
        outcome: &str,
        codes: &[String],
        took: Duration,
    ) {
        let families = &self.inner;
        (families.operations).update(&[name, kind, outcome], |c| {
            c.inc();
        });
        (families.operation_duration).update(&[name, kind], |h| h.observe(took.as_secs_f64()));
        for code in codes {
            families.errors.update(&[code], |c| {
                c.inc();
            });
        }
    }

    /// One call to a backend.
    pub fn backend_call(&self, backend: &str, ok: bool, took: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        (self.inner.backend_calls).update(&[backend, outcome], |c| {
            c.inc();
        });
        (self.inner.backend_duration).update(&[backend], |h| h.observe(took.as_secs_f64()));
    }

    /// One DataLoader batch of `keys` keys.
    pub fn loader_batch(&self, loader: &str, keys: usize) {
        (self.inner.loader_batches).update(&[loader], |h| h.observe(keys as f64));
    }

    /// A request asked for `field` of `parent`, from `client`.
    pub fn field_used(&self, parent: &str, field: &str, client: &str) {
        (self.inner.field_usage).update(&[parent, field, client], |c| {
            c.inc();
        });
    }

    /// Adds values read at scrape time (gauges of pools, breakers, queues).
    pub fn collect(&self, collector: impl Fn(&mut Exposition<'_>) + Send + Sync + 'static) {
        let mut registry = (self.inner.registry.write()).unwrap_or_else(PoisonError::into_inner);
        registry.register_collector(Box::new(Scrape(Box::new(collector))));
    }

    /// Everything in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = (self.inner.registry.read()).unwrap_or_else(PoisonError::into_inner);
        // Writing to a String cannot fail, nor can the collectors on their own.
        let written = prometheus_text::encode(&mut text, &registry)
            .and_then(|()| prometheus_text::encode(&mut text, &self.inner.process));
        if let Err(error) = written {
            tracing::warn!(message = "metrics page cut short", %error);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_with_sum_and_count() {
        let metrics = Metrics::default();
        for ms in [2, 2, 30, 20_000] {
            metrics.backend_call("mysql", true, Duration::from_millis(ms));
        }
        let text = metrics.render();
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        let bucket = "ogrom_backend_call_duration_seconds_bucket{backend=\"mysql\"";
        assert_eq!(line(&format!("{bucket},le=\"0.001\"}}")), "0");
        assert_eq!(line(&format!("{bucket},le=\"0.0025\"}}")), "2");
        assert_eq!(line(&format!("{bucket},le=\"0.05\"}}")), "3");
        assert_eq!(line(&format!("{bucket},le=\"10\"}}")), "3");
        assert_eq!(line(&format!("{bucket},le=\"+Inf\"}}")), "4");
        assert_eq!(
            line("ogrom_backend_call_duration_seconds_count{backend=\"mysql\"}"),
            "4"
        );
        assert_eq!(
            line("ogrom_backend_calls_total{backend=\"mysql\",outcome=\"ok\"}"),
            "4"
        );
    }

    #[test]
    fn label_values_are_escaped_and_client_chosen_labels_are_bounded() {
        let metrics = Metrics::default();
        metrics.operation("a\"b\\c\nd", "query", "ok", &[], Duration::ZERO);
        for i in 0..MAX_SERIES + 10 {
            metrics.operation(&format!("op{i}"), "query", "ok", &[], Duration::ZERO);
        }
        let text = metrics.render();
        assert!(text.contains(r#"operation="a\"b\\c\nd""#), "{text}");
        let series = text
            .lines()
            .filter(|l| l.starts_with("ogrom_graphql_operations_total{"))
            .count();
        assert_eq!(series, MAX_SERIES + 1, "the cap plus one `_other` series");
        assert!(text.contains(r#"ogrom_graphql_operations_total{operation="_other",type="_other",outcome="_other"} 11"#));
    }

    #[test]
    fn updates_from_many_threads_add_up_in_one_series_per_label_set() {
        let metrics = Metrics::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        metrics.field_used("Product", "name", "web");
                        // Values that would join alike under a plain separator stay apart.
                        metrics.field_used("Product", "name\0web", "");
                    }
                });
            }
        });
        let text = metrics.render();
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ogrom_graphql_field_usage_total{"))
            .collect();
        assert_eq!(samples.len(), 2, "{text}");
        assert!(
            text.contains(
                "ogrom_graphql_field_usage_total{type=\"Product\",field=\"name\",client=\"web\"} 4000\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn collectors_add_gauges_at_scrape_time() {
        let metrics = Metrics::default();
        let value = Arc::new(std::sync::atomic::AtomicU64::new(3));
        let read = value.clone();
        metrics.collect(move |out| {
            let v = read.load(std::sync::atomic::Ordering::Relaxed) as f64;
            out.gauge(
                "ogrom_test_gauge",
                "A test gauge.",
                &[(&[("pool", "a")], v)],
            );
        });
        assert!(
            metrics
                .render()
                .contains("ogrom_test_gauge{pool=\"a\"} 3\n")
        );
        value.store(5, std::sync::atomic::Ordering::Relaxed);
        assert!(
            metrics
                .render()
                .contains("ogrom_test_gauge{pool=\"a\"} 5\n")
        );
        assert!(
            metrics
                .render()
                .contains("# TYPE process_start_time_seconds gauge")
        );
    }
}
