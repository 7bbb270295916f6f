//! A small Prometheus registry: counters and histograms with labels, plus collectors that
//! read gauges (pool usage, breaker state) at scrape time, rendered in the text exposition
//! format. Ours rather than a crate's: the gateway needs a dozen families, and a registry
//! that is a value (no global) lets every test build its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
const OTHER: &str = "_other";
/// Joins a series' label values into its key.
const SEPARATOR: char = '\0';

/// The gateway's metrics. Cloning shares the registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Registry>,
}

struct Registry {
    started: SystemTime,
    in_flight: AtomicI64,
    http_requests: Family<f64>,
    http_duration: Family<Histogram>,
    operations: Family<f64>,
    operation_duration: Family<Histogram>,
    errors: Family<f64>,
    backend_calls: Family<f64>,
    backend_duration: Family<Histogram>,
    loader_batches: Family<Histogram>,
    field_usage: Family<f64>,
    collectors: Mutex<Vec<Collector>>,
}

type Collector = Box<dyn Fn(&mut Exposition) + Send + Sync>;

impl Default for Metrics {
    fn default() -> Self {
        let latency = || Histogram::new(LATENCY_BUCKETS);
        Self {
            inner: Arc::new(Registry {
                started: SystemTime::now(),
                in_flight: AtomicI64::new(0),
                http_requests: Family::counter(
                    "ogrom_http_requests_total",
                    "HTTP requests answered, by route, method and status.",
                    &["route", "method", "status"],
                ),
                http_duration: Family::histogram(
                    "ogrom_http_request_duration_seconds",
                    "Time to answer an HTTP request, by route.",
                    &["route"],
                    latency,
                ),
                operations: Family::counter(
                    "ogrom_graphql_operations_total",
                    "GraphQL operations, by operation name, type and outcome (ok, partial: data \
                     with errors, error: no data).",
                    &["operation", "type", "outcome"],
                ),
                operation_duration: Family::histogram(
                    "ogrom_graphql_operation_duration_seconds",
                    "Time to answer a GraphQL operation, by operation name and type.",
                    &["operation", "type"],
                    latency,
                ),
                errors: Family::counter(
                    "ogrom_graphql_errors_total",
                    "GraphQL errors in responses, by extensions.code.",
                    &["code"],
                ),
                backend_calls: Family::counter(
                    "ogrom_backend_calls_total",
                    "Calls to backends (SQL statements, Elasticsearch requests, partner \
                     attempts), by backend and outcome.",
                    &["backend", "outcome"],
                ),
                backend_duration: Family::histogram(
                    "ogrom_backend_call_duration_seconds",
                    "Time of one backend call, by backend.",
                    &["backend"],
                    latency,
                ),
                loader_batches: Family::histogram(
                    "ogrom_loader_batch_size",
                    "Keys per DataLoader batch, by loader.",
                    &["loader"],
                    || Histogram::new(BATCH_BUCKETS),
                ),
                field_usage: Family {
                    max_series: MAX_FIELD_SERIES,
                    ..Family::counter(
                        "ogrom_graphql_field_usage_total",
                        "Requests that asked for a field, by type, field and client name \
                         (apollographql-client-name): a deprecated field nobody asks for can go.",
                        &["type", "field", "client"],
                    )
                },
                collectors: Mutex::default(),
            }),
        }
    }
}

/// One HTTP request being answered; dropping it ends it.
pub struct InFlight(Metrics);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// An HTTP request begins; it counts as in flight until the guard is dropped.
    pub fn request_started(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// HTTP requests being answered now.
    pub fn in_flight(&self) -> i64 {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// One HTTP request answered.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.inner
            .http_requests
            .update(&[route, method, &status], |c| *c += 1.0);
        self.inner
            .http_duration
            .update(&[route], |h| h.observe(took.as_secs_f64()));
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
        let registry = &self.inner;
        registry
            .operations
            .update(&[name, kind, outcome], |c| *c += 1.0);
        registry
            .operation_duration
            .update(&[name, kind], |h| h.observe(took.as_secs_f64()));
        for code in codes {
            registry.errors.update(&[code], |c| *c += 1.0);
        }
    }

    /// One call to a backend.
    pub fn backend_call(&self, backend: &str, ok: bool, took: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.inner
            .backend_calls
            .update(&[backend, outcome], |c| *c += 1.0);
        self.inner
            .backend_duration
            .update(&[backend], |h| h.observe(took.as_secs_f64()));
    }

    /// One DataLoader batch of `keys` keys.
    pub fn loader_batch(&self, loader: &str, keys: usize) {
        self.inner
            .loader_batches
            .update(&[loader], |h| h.observe(keys as f64));
    }

    /// A request asked for `field` of `parent`, from `client`.
    pub fn field_used(&self, parent: &str, field: &str, client: &str) {
        self.inner
            .field_usage
            .update(&[parent, field, client], |c| *c += 1.0);
    }

    /// Adds values read at scrape time (gauges of pools, breakers, queues).
    pub fn collect(&self, collector: impl Fn(&mut Exposition) + Send + Sync + 'static) {
        lock(&self.inner.collectors).push(Box::new(collector));
    }

    /// Everything in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let registry = &self.inner;
        let mut out = Exposition::default();
        registry.http_requests.render(&mut out);
        registry.http_duration.render(&mut out);
        out.gauge(
            "ogrom_http_requests_in_flight",
            "HTTP requests being answered.",
            &[(&[], self.in_flight() as f64)],
        );
        registry.operations.render(&mut out);
        registry.operation_duration.render(&mut out);
        registry.errors.render(&mut out);
        registry.backend_calls.render(&mut out);
        registry.backend_duration.render(&mut out);
        registry.loader_batches.render(&mut out);
        registry.field_usage.render(&mut out);
        for collector in lock(&registry.collectors).iter() {
            collector(&mut out);
        }
        process_metrics(registry.started, &mut out);
        out.text
    }
}

/// A metrics page being written; collectors add gauges and counters to it.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// A gauge with one sample per label set.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[(&[(&str, &str)], f64)]) {
        self.family(name, help, "gauge", samples);
    }

    /// A counter kept elsewhere, with one sample per label set.
    pub fn counter(&mut self, name: &str, help: &str, samples: &[(&[(&str, &str)], f64)]) {
        self.family(name, help, "counter", samples);
    }

    fn family(&mut self, name: &str, help: &str, kind: &str, samples: &[(&[(&str, &str)], f64)]) {
        self.header(name, help, kind);
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

/// One metric name with its series, keyed by label values.
struct Family<M> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    /// Label sets kept before new ones are counted under `_other`.
    max_series: usize,
    make: fn() -> M,
    /// Series by their label values joined with `SEPARATOR`: a series seen before is found
    /// by a key built in a reused buffer, without allocating.
    series: Mutex<BTreeMap<String, M>>,
}

impl Family<f64> {
    fn counter(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            max_series: MAX_SERIES,
            make: || 0.0,
            series: Mutex::default(),
        }
    }

    fn render(&self, out: &mut Exposition) {
        out.header(self.name, self.help, "counter");
        for (values, count) in lock(&self.series).iter() {
            out.sample(self.name, &self.pairs(values, None), *count);
        }
    }
}

impl Family<Histogram> {
    fn histogram(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        make: fn() -> Histogram,
    ) -> Self {
        Self {
            name,
            help,
            labels,
            max_series: MAX_SERIES,
            make,
            series: Mutex::default(),
        }
    }

    fn render(&self, out: &mut Exposition) {
        out.header(self.name, self.help, "histogram");
        let bucket = format!("{}_bucket", self.name);
        let sum = format!("{}_sum", self.name);
        let count = format!("{}_count", self.name);
        for (values, histogram) in lock(&self.series).iter() {
            let mut cumulative = 0;
            for (bound, n) in histogram.bounds.iter().zip(&histogram.counts) {
                cumulative += n;
                let le = number(*bound);
                out.sample(&bucket, &self.pairs(values, Some(&le)), cumulative as f64);
            }
            let all = self.pairs(values, Some("+Inf"));
            out.sample(&bucket, &all, histogram.count as f64);
            out.sample(&sum, &self.pairs(values, None), histogram.sum);
            out.sample(&count, &self.pairs(values, None), histogram.count as f64);
        }
    }
}

impl<M> Family<M> {
    fn update(&self, values: &[&str], change: impl FnOnce(&mut M)) {
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|key| {
            key.clear();
            for (n, value) in values.iter().enumerate() {
                if n > 0 {
                    key.push(SEPARATOR);
                }
                // A value holding the separator would read back as two; none can (names,
                // codes and header values hold no NUL), but a client name is kept apart.
                key.extend(value.chars().map(|c| if c == SEPARATOR { ' ' } else { c }));
            }
            let mut series = lock(&self.series);
            if let Some(seen) = series.get_mut(key.as_str()) {
                return change(seen);
            }
            let key = if series.len() >= self.max_series {
                vec![OTHER; values.len()].join(&SEPARATOR.to_string())
            } else {
                key.clone()
            };
            change(series.entry(key).or_insert_with(self.make));
        })
    }

    fn pairs<'a>(&self, values: &'a str, le: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut pairs: Vec<(&str, &str)> = self
            .labels
            .iter()
            .zip(values.split(SEPARATOR))
            .map(|(label, value)| (*label, value))
            .collect();
        if let Some(le) = le {
            pairs.push(("le", le));
        }
        pairs
    }
}

/// Counts of observations per bucket (not cumulative; rendering adds them up).
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            count: 0,
            sum: 0.0,
        }
    }

    fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += value;
    }
}

/// A panic elsewhere while holding a lock cannot leave a counter half-written.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The standard process metrics, from `/proc` where there is one.
fn process_metrics(started: SystemTime, out: &mut Exposition) {
    let start = started
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    out.gauge(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds.",
        &[(&[], start)],
    );
    if let Some(cpu) = cpu_seconds() {
        out.counter(
            "process_cpu_seconds_total",
            "User and system CPU time of the process, in seconds.",
            &[(&[], cpu)],
        );
    }
    if let Some(bytes) = resident_bytes() {
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory of the process, in bytes.",
            &[(&[], bytes)],
        );
    }
}

/// utime + stime from `/proc/self/stat`, in clock ticks of 1/100 s (Linux's fixed USER_HZ).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// VmRSS from `/proc/self/status`.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
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
