//! Trace export over OTLP/HTTP with the JSON encoding (`POST <endpoint>/v1/traces`), off
//! unless `OGROM_OTLP_ENDPOINT` is set. Each request becomes a server span (parented to the
//! caller's span when it sent a `traceparent`) with its loader batches and backend calls as
//! children. Like log shipping, export never holds a request: traces go through a bounded
//! queue to one background task that posts them in batches; when the collector is slow or
//! down, traces beyond the queue are dropped and counted.
//!
//! Ours rather than the `opentelemetry` crates', measured: opentelemetry,
//! opentelemetry_sdk (trace, rt-tokio) and opentelemetry-otlp (http-json, reqwest-client,
//! trace; no default features), all 0.33, add 17 crates to Cargo.lock: a second reqwest
//! (0.13, beside the 0.12 that Elasticsearch's client also uses), a second rand (0.9 with
//! its own rand_core, rand_chacha and getrandom, beside the gateway's one RNG), prost, a
//! second itertools, const-hex, the four opentelemetry crates, and three crates of other
//! targets. On a warm release build (`cargo build --release --timings`, 2 cores) the new
//! crates took 260 s to compile (reqwest 0.13 79 s, opentelemetry_sdk 78 s,
//! opentelemetry-proto 31 s) and the feature changes recompiled sqlx's crates and three
//! others for 53 s more: the gateway's own compile began about 150 s later. The 0.31
//! release, the last on reqwest 0.12, adds 20 crates, tonic among them even for HTTP/JSON.
//! This file and `trace.rs` with `spans.rs` are about 470 lines. Revisit when
//! opentelemetry-otlp's HTTP client is the reqwest the tree has.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::spans::{SpanKind, SpanRecord};
use super::trace::TraceContext;

/// Traces waiting for the collector; more are dropped.
const QUEUE: usize = 1024;
/// Traces in one POST.
const BATCH: usize = 64;

/// A handle on the exporter task. Cloning shares it.
#[derive(Clone, Debug)]
pub struct TraceExporter {
    queue: mpsc::Sender<Value>,
    dropped: Arc<AtomicU64>,
}

/// The request span's facts.
pub struct ServerSpan<'a> {
    /// The request's place in its trace: the trace id, its span id and the caller's span.
    pub trace: &'a TraceContext,
    /// The span's name (`graphql <operation>`).
    pub name: &'a str,
    /// Wall-clock time the request started.
    pub start: SystemTime,
    /// How long the request took.
    pub took: Duration,
    /// The HTTP status answered; a 5xx marks the span failed.
    pub status: u16,
    /// More attributes of the span: the operation's name and type, the request id.
    pub attributes: Vec<(&'static str, String)>,
}

impl TraceExporter {
    /// Starts the exporter task (inside the runtime) posting to `endpoint`'s `/v1/traces`.
    pub fn start(endpoint: &str, service: &str) -> Self {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(post_batches(url, service.to_owned(), receiver));
        Self {
            queue,
            dropped: Arc::default(),
        }
    }

    /// Traces dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues one request's spans; never waits.
    pub fn export(&self, server: ServerSpan<'_>, children: Vec<SpanRecord>) {
        let trace = server.trace;
        let mut spans = Vec::with_capacity(children.len() + 1);
        let mut root = span_json(
            trace,
            &trace.span_id,
            trace.parent_id.as_deref(),
            server.name,
            2,
            server.start,
            server.start + server.took,
            server.status < 500,
            &server.attributes,
        );
        root["attributes"].as_array_mut().into_iter().for_each(|a| {
            a.push(attribute(
                "http.response.status_code",
                server.status.to_string(),
            ))
        });
        spans.push(root);
        for child in &children {
            let parent = child.parent_id.as_deref().unwrap_or(&trace.span_id);
            let kind = match child.kind {
                SpanKind::Internal => 1,
                SpanKind::Client => 3,
            };
            spans.push(span_json(
                trace,
                &child.span_id,
                Some(parent),
                &child.name,
                kind,
                child.start,
                child.end,
                child.ok,
                &child.attributes,
            ));
        }
        if self.queue.try_send(Value::Array(spans)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn span_json(
    trace: &TraceContext,
    span_id: &str,
    parent_id: Option<&str>,
    name: &str,
    kind: u8,
    start: SystemTime,
    end: SystemTime,
    ok: bool,
    attributes: &[(&'static str, String)],
) -> Value {
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_string()
    };
    json!({
        "traceId": trace.trace_id,
        "spanId": span_id,
        "parentSpanId": parent_id.unwrap_or_default(),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": nanos(start),
        "endTimeUnixNano": nanos(end),
        "attributes": attributes.iter().map(|(k, v)| attribute(k, v.clone())).collect::<Vec<_>>(),
        "status": {"code": if ok { 1 } else { 2 }},
    })
}

fn attribute(key: &str, value: String) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

/// Posts queued traces in batches; a failed post is logged once per outage and dropped
/// (traces are worth less than the time a retry queue would hold).
async fn post_batches(url: String, service: String, mut receiver: mpsc::Receiver<Value>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let mut failing = false;
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let spans: Vec<Value> = batch
            .drain(..)
            .flat_map(|trace| match trace {
                Value::Array(spans) => spans,
                other => vec![other],
            })
            .collect();
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": [attribute("service.name", service.clone())]},
            "scopeSpans": [{"scope": {"name": "ogrom"}, "spans": spans}],
        }]});
        let sent = client.post(&url).json(&body).send().await;
        match sent.map(|r| r.error_for_status()) {
            Ok(Ok(_)) => {
                if failing {
                    tracing::info!(message = "trace export recovered");
                }
                failing = false;
            }
            Ok(Err(error)) | Err(error) => {
                if !failing {
                    tracing::warn!(message = "trace export failed; dropping traces until it works", %error);
                }
                failing = true;
            }
        }
    }
}
