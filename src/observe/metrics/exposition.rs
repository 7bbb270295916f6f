//! Values read at scrape time: the collectors other layers register (pool usage, breaker
//! states, queues) and the standard process metrics, written through prometheus-client's
//! encoder so that they share the page's format.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// A metrics page being written; collectors add gauges and counters to it.
pub struct Exposition<'a> {
    encoder: DescriptorEncoder<'a>,
    /// The writer's first error, returned to the encoder once the collector is done.
    written: fmt::Result,
}

impl Exposition<'_> {
    /// A gauge with one sample per label set.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[(&[(&str, &str)], f64)]) {
        self.family(name, help, MetricType::Gauge, samples);
    }

    /// A counter kept elsewhere, with one sample per label set; `name` is the one shown,
    /// ending in `_total`.
    pub fn counter(&mut self, name: &str, help: &str, samples: &[(&[(&str, &str)], f64)]) {
        // The encoder writes a counter's name with `_total` after it.
        let name = name.strip_suffix("_total").unwrap_or(name);
        self.family(name, help, MetricType::Counter, samples);
    }

    fn family(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        samples: &[(&[(&str, &str)], f64)],
    ) {
        if self.written.is_ok() {
            self.written = write_family(&mut self.encoder, name, help, kind, samples);
        }
    }
}

fn write_family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: &[(&[(&str, &str)], f64)],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        write_value(&mut family.encode_family(labels)?, kind, *value)?;
    }
    Ok(())
}

/// Whole numbers are written as integers ("3", where the float encoder writes "3.0"), as
/// the page always had them.
fn write_value(sample: &mut MetricEncoder<'_>, kind: MetricType, value: f64) -> fmt::Result {
    /// Integers up to here are exact in an f64.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let whole = value.fract() == 0.0 && value.abs() <= EXACT;
    match kind {
        MetricType::Counter if whole && value >= 0.0 => {
            sample.encode_counter::<NoLabelSet, _, u64>(&(value as u64), None)
        }
        MetricType::Counter => sample.encode_counter::<NoLabelSet, _, u64>(&value, None),
        _ if whole => sample.encode_gauge(&(value as i64)),
        _ => sample.encode_gauge(&value),
    }
}

/// A collector registered with `Metrics::collect`.
pub(super) struct Scrape(pub(super) Box<dyn Fn(&mut Exposition<'_>) + Send + Sync>);

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

impl Collector for Scrape {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let mut out = Exposition {
            encoder,
            written: Ok(()),
        };
        (self.0)(&mut out);
        out.written
    }
}

/// The standard process metrics, from `/proc` where there is one.
pub(super) fn process_metrics(started: SystemTime, out: &mut Exposition<'_>) {
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
