//! An open-loop HTTP load driver for the GraphQL endpoint (a tool, not part of the gateway):
//! it sends GraphQL request bodies at a fixed rate and reports, per phase of the run, how
//! many failed and how long they took, then the same per HTTP status. `scripts/rolling-deploy`
//! uses it to prove that a rolling restart behind a load balancer loses no request;
//! `bench/overload.sh` to show that load shedding answers the excess fast (503) while the
//! admitted requests keep their latency; `bench/suite.sh` for the everyday operations'
//! latency at a fixed rate and, with `--concurrency`, their maximum throughput.
//!
//! ```text
//! cargo run --example load -- --url http://127.0.0.1:18080/graphql --rate 50 --duration 40 \
//!     --requests requests.jsonl --phase before=0 --phase during=8 [--json out.json] \
//!     [--allow-status 503]
//! cargo run --example load -- --concurrency 8 --duration 10 --requests requests.jsonl
//! ```
//!
//! Open loop: request `i` is scheduled at `start + i / rate` and spawned on its own task the
//! moment it is due, whether or not earlier requests have answered, the way independent users
//! arrive. Its latency is measured from that scheduled time, not from when it was actually
//! sent, so a stall (in the server, the proxy or this driver) counts against every request
//! that should have gone out meanwhile instead of silently lowering the rate: this corrects
//! coordinated omission. Latencies include failed requests (a timeout counts as its full
//! wait).
//!
//! Closed loop (`--concurrency N`, `--rate` ignored): N workers each send a request, wait for
//! its answer and send the next, until the duration is over: the throughput the server can
//! sustain with N requests in flight. Latency is then measured from each request's sending.
//!
//! A request fails on a transport error (connect, reset, timeout), a status other than 200
//! (and than those given with `--allow-status`), or a 200 whose body is not JSON, has an
//! `errors` entry or lacks `data`. An answer with an allowed status is not judged further:
//! it is no failure, and shows in the per-status report with its latency and its GraphQL
//! error codes. The exit status is 1 when any request failed, 0 when none did, 2 when the
//! load could not run.
//! Connections are HTTP/1.1 and kept alive in reqwest's pool, as real clients do.
//!
//! Answers are asked for plain unless `--accept-encoding` is given: then that header is sent,
//! gzip and Brotli answers are decoded before they are judged, and the report gives the bytes
//! received (as sent, still encoded) and the answers by `Content-Encoding`, so that
//! `bench/suite.sh` can tell what compression costs the gateway and saves on the wire.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

#[path = "../tests/support/encoding.rs"]
mod encoding;

use self::encoding::decode;

/// Sends GraphQL requests at a fixed rate (open loop) or from a fixed number of workers
/// (closed loop) and reports failures and latency per phase; exits 1 if any request failed.
#[derive(Debug, Parser)]
struct Args {
    /// The GraphQL endpoint.
    #[arg(long, default_value = "http://127.0.0.1:18080/graphql")]
    url: String,
    /// Requests per second (open loop; ignored with `--concurrency`).
    #[arg(long, default_value_t = 40.0)]
    rate: f64,
    /// Closed loop instead of a fixed rate: this many workers, each sending its next request
    /// as soon as its previous one is answered.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: Option<u32>,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 40.0)]
    duration: f64,
    /// A file of GraphQL request bodies (`{"operationName", "query", "variables"}`), one JSON
    /// object a line; they are sent in turn, from the top again after the last.
    #[arg(long)]
    requests: PathBuf,
    /// A phase as `name=seconds`: requests scheduled from that many seconds after the start
    /// (until the next phase) are reported under that name. Repeatable; one must start at 0.
    /// Without any, the whole run is one phase.
    #[arg(long = "phase", value_parser = parse_phase)]
    phases: Vec<(String, f64)>,
    /// How long one request may take before it counts as failed (timeout), in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// An HTTP status that is an expected answer, not a failure (e.g. 503 from load
    /// shedding): counted and reported on its own. Repeatable; 200 is always judged by its body.
    #[arg(long = "allow-status", value_parser = clap::value_parser!(u16).range(100..=599))]
    allow_statuses: Vec<u16>,
    /// Send this `Accept-Encoding` (e.g. "gzip, br") and decode gzip and Brotli answers;
    /// without it, no such header and plain answers.
    #[arg(long)]
    accept_encoding: Option<String>,
}

fn parse_phase(value: &str) -> Result<(String, f64), String> {
    let (name, at) = value
        .split_once('=')
        .ok_or("must be name=seconds, e.g. during=8")?;
    let at: f64 = at.parse().map_err(|_| "seconds must be a number")?;
    if name.is_empty() || !at.is_finite() || at < 0.0 {
        return Err("must be name=seconds with a name and seconds >= 0".to_owned());
    }
    Ok((name.to_owned(), at))
}

/// One request body to send.
struct Body {
    operation: String,
    json: String,
}

/// What became of one request.
struct Outcome {
    /// Seconds after the start at which it was scheduled (decides its phase).
    scheduled_s: f64,
    /// From its scheduled time to the end of its response (or its failure).
    latency: Duration,
    answer: Answer,
    failure: Option<Failure>,
}

/// What came back, whether or not it counts as a failure: the per-status report's key.
#[derive(Default)]
struct Answer {
    /// The HTTP status; none when no answer came (a transport error).
    status: Option<u16>,
    /// The first GraphQL error's `extensions.code`, when the body has one: tells a shed
    /// request (`OVERLOADED`) from another 503.
    error_code: Option<String>,
    /// The body's bytes as received, before any decoding.
    bytes: usize,
    /// Its `Content-Encoding`; none for a plain body.
    encoding: Option<String>,
}

/// What went wrong with one answer.
struct Problem {
    kind: &'static str,
    status: Option<u16>,
    detail: String,
}

impl Problem {
    fn new(kind: &'static str, status: Option<u16>, detail: String) -> Self {
        Self {
            kind,
            status,
            detail,
        }
    }
}

/// Why a request failed, with enough detail to diagnose it from a CI log.
#[derive(Debug, Serialize)]
struct Failure {
    kind: &'static str,
    operation: String,
    scheduled_s: f64,
    status: Option<u16>,
    detail: String,
}

/// Latency percentiles of a set of requests, in milliseconds (0 for an empty set).
#[derive(Debug, Serialize)]
struct Latency {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// The report of one phase (or of the whole run).
#[derive(Debug, Serialize)]
struct PhaseReport {
    name: String,
    starts_at_s: f64,
    requests: usize,
    failures: usize,
    /// Answers with a status given by `--allow-status`: in `requests`, not in `failures`.
    allowed: usize,
    #[serde(flatten)]
    latency: Latency,
}

/// The requests of the whole run that got one HTTP status (or none).
#[derive(Debug, Serialize)]
struct StatusReport {
    /// None for the requests that got no answer (transport errors).
    status: Option<u16>,
    requests: usize,
    failures: usize,
    #[serde(flatten)]
    latency: Latency,
    /// Answers by their first GraphQL error's `extensions.code` (those without errors left out).
    error_codes: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
struct Report {
    url: String,
    /// `open` (a fixed rate) or `closed` (a fixed number of workers).
    mode: &'static str,
    /// Requests per second asked for; none in closed loop.
    rate: Option<f64>,
    /// Workers in closed loop; none in open loop.
    concurrency: Option<u32>,
    duration_s: f64,
    /// From the first request's sending to the last answer.
    elapsed_s: f64,
    /// Requests answered (or failed) per second of `elapsed_s`.
    throughput_rps: f64,
    allowed_statuses: Vec<u16>,
    phases: Vec<PhaseReport>,
    total: PhaseReport,
    statuses: Vec<StatusReport>,
    /// The `Accept-Encoding` sent, if any.
    accept_encoding: Option<String>,
    /// Answers by `Content-Encoding` ("identity" for plain ones; transport errors left out).
    content_encodings: BTreeMap<String, usize>,
    /// The mean size of the answers' bodies as received (still encoded), in bytes.
    mean_response_bytes: f64,
    failure_kinds: BTreeMap<&'static str, usize>,
    first_failures: Vec<Failure>,
}

/// Failures shown in detail (and kept in the JSON report); the rest are only counted.
const SHOWN_FAILURES: usize = 5;

#[tokio::main]
async fn main() -> ExitCode {
    match drive(Args::parse()).await {
        Ok(report) if report.total.failures == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        // Could not run at all (bad arguments or file): told apart from failed requests.
        Err(error) => {
            eprintln!("load: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the load, prints the report (and writes it as JSON when asked) and returns it.
async fn drive(args: Args) -> anyhow::Result<Report> {
    ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be above 0"
    );
    ensure!(
        args.duration > 0.0 && args.duration.is_finite(),
        "--duration must be above 0"
    );
    ensure!(
        args.timeout > 0.0 && args.timeout.is_finite(),
        "--timeout must be above 0"
    );
    ensure!(
        !args.allow_statuses.contains(&200),
        "--allow-status 200 means nothing: a 200 is always judged by its body"
    );
    let phases = phases(&args.phases)?;
    let bodies = read_bodies(&args.requests)?;
    // No `http2` feature in this crate's reqwest: HTTP/1.1 with a keep-alive pool. No
    // automatic gzip (another dependency turns reqwest's on): encodings are `--accept-encoding`'s.
    let client = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs_f64(args.timeout))
        .build()
        .context("cannot build the HTTP client")?;

    let started = Instant::now();
    let outcomes = match args.concurrency {
        None => {
            let total = (args.rate * args.duration).round() as usize;
            println!(
                "load: {total} requests at {}/s over {} s to {} ({} request bodies)",
                args.rate,
                args.duration,
                args.url,
                bodies.len()
            );
            run(&client, &args, &bodies, total).await?
        }
        Some(workers) => {
            println!(
                "load: closed loop, {workers} workers for {} s to {} ({} request bodies)",
                args.duration,
                args.url,
                bodies.len()
            );
            run_closed(&client, &args, bodies, workers).await?
        }
    };
    let report = report(&args, &phases, outcomes, started.elapsed());
    print_report(&report);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report)
}

/// The phases sorted by start; the first must start at 0 so every request has one.
fn phases(given: &[(String, f64)]) -> anyhow::Result<Vec<(String, f64)>> {
    if given.is_empty() {
        return Ok(vec![("all".to_owned(), 0.0)]);
    }
    let mut phases = given.to_vec();
    phases.sort_by(|a, b| a.1.total_cmp(&b.1));
    ensure!(
        phases[0].1 == 0.0,
        "one --phase must start at 0 (e.g. --phase before=0)"
    );
    Ok(phases)
}

fn read_bodies(path: &Path) -> anyhow::Result<Vec<Body>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bodies = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), number + 1))?;
        if value.get("query").and_then(Value::as_str).is_none() {
            bail!(
                "{}:{}: a request body needs a \"query\" string",
                path.display(),
                number + 1
            );
        }
        let operation = value
            .get("operationName")
            .and_then(Value::as_str)
            .unwrap_or("(anonymous)")
            .to_owned();
        bodies.push(Body {
            operation,
            json: line.to_owned(),
        });
    }
    ensure!(!bodies.is_empty(), "{} holds no requests", path.display());
    Ok(bodies)
}

/// Sends `total` requests on schedule and gathers what became of each.
async fn run(
    client: &reqwest::Client,
    args: &Args,
    bodies: &[Body],
    total: usize,
) -> anyhow::Result<Vec<Outcome>> {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let offset = Duration::from_secs_f64(i as f64 / args.rate);
        let scheduled = start + offset;
        tokio::time::sleep_until(scheduled).await;
        let body = &bodies[i % bodies.len()];
        let request = post(client, &args.url, args.accept_encoding.as_deref(), body);
        let operation = body.operation.clone();
        let allowed = args.allow_statuses.clone();
        // Spawned, never awaited here: a slow answer must not delay the next request.
        tasks.push(tokio::spawn(async move {
            let (answer, verdict) = send(request, &allowed).await;
            outcome(operation, offset, scheduled.elapsed(), answer, verdict)
        }));
    }
    let mut outcomes = Vec::with_capacity(total);
    for task in futures::future::join_all(tasks).await {
        outcomes.push(task.context("a request task panicked")?);
    }
    Ok(outcomes)
}

/// Closed loop: `workers` tasks send requests back to back (the bodies in turn, shared among
/// them) until the duration is over, then the last answers are awaited.
async fn run_closed(
    client: &reqwest::Client,
    args: &Args,
    bodies: Vec<Body>,
    workers: u32,
) -> anyhow::Result<Vec<Outcome>> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.duration);
    let tasks = (0..workers).map(|_| {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        let (url, allowed) = (args.url.clone(), args.allow_statuses.clone());
        let accept_encoding = args.accept_encoding.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let sent = Instant::now();
                if sent >= deadline {
                    return outcomes;
                }
                let body = &bodies[next.fetch_add(1, Ordering::Relaxed) % bodies.len()];
                let request = post(&client, &url, accept_encoding.as_deref(), body);
                let (answer, verdict) = send(request, &allowed).await;
                let offset = sent - start;
                let operation = body.operation.clone();
                outcomes.push(outcome(operation, offset, sent.elapsed(), answer, verdict));
            }
        })
    });
    let mut outcomes = Vec::new();
    for task in futures::future::join_all(tasks).await {
        outcomes.extend(task.context("a worker task panicked")?);
    }
    Ok(outcomes)
}

/// A POST of one request body, asking for `accept_encoding` when given.
fn post(
    client: &reqwest::Client,
    url: &str,
    accept_encoding: Option<&str>,
    body: &Body,
) -> reqwest::RequestBuilder {
    let request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.json.clone());
    match accept_encoding {
        Some(accept) => request.header("accept-encoding", accept),
        None => request,
    }
}

/// What became of the request sent (or scheduled) `offset` after the start.
fn outcome(
    operation: String,
    offset: Duration,
    latency: Duration,
    answer: Answer,
    verdict: Result<(), Problem>,
) -> Outcome {
    let failure = verdict.err().map(|problem| Failure {
        kind: problem.kind,
        operation,
        scheduled_s: offset.as_secs_f64(),
        status: problem.status,
        detail: problem.detail,
    });
    Outcome {
        scheduled_s: offset.as_secs_f64(),
        latency,
        answer,
        failure,
    }
}

/// Sends one request: what came back, and its verdict.
async fn send(request: reqwest::RequestBuilder, allowed: &[u16]) -> (Answer, Result<(), Problem>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let problem = Problem::new(transport_kind(&error), None, error_chain(&error));
            return (Answer::default(), Err(problem));
        }
    };
    let status = response.status().as_u16();
    let encoding = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut answer = Answer {
        status: Some(status),
        error_code: None,
        bytes: 0,
        encoding,
    };
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => {
            let problem = Problem::new("body-read", Some(status), error_chain(&error));
            return (answer, Err(problem));
        }
    };
    answer.bytes = bytes.len();
    let bytes = match decode(answer.encoding.as_deref(), &bytes) {
        Ok(bytes) => bytes,
        Err(error) => {
            let problem = Problem::new("decode", Some(status), error);
            return (answer, Err(problem));
        }
    };
    let body = serde_json::from_slice::<Value>(&bytes).ok();
    answer.error_code = body.as_ref().and_then(first_error_code);
    let verdict = judge(status, &bytes, body, allowed);
    (answer, verdict)
}

/// The `extensions.code` of a GraphQL body's first error.
fn first_error_code(body: &Value) -> Option<String> {
    let code = body.pointer("/errors/0/extensions/code")?;
    Some(
        code.as_str()
            .map_or_else(|| code.to_string(), str::to_owned),
    )
}

/// Whether an answer is a success: an allowed status, or a 200 with data and no errors.
fn judge(status: u16, bytes: &[u8], body: Option<Value>, allowed: &[u16]) -> Result<(), Problem> {
    let problem = |kind, detail: &[u8]| Err(Problem::new(kind, Some(status), snippet(detail)));
    if status != 200 {
        if allowed.contains(&status) {
            return Ok(());
        }
        return problem("status", bytes);
    }
    let Some(body) = body else {
        return problem("not-json", bytes);
    };
    if let Some(errors) = body.get("errors")
        && errors.as_array().is_none_or(|list| !list.is_empty())
    {
        // The errors say why; the data before them would fill the snippet.
        return problem("graphql-errors", errors.to_string().as_bytes());
    }
    if body.get("data").is_none_or(Value::is_null) {
        return problem("no-data", bytes);
    }
    Ok(())
}

fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else {
        "transport"
    }
}

/// The error and its causes on one line ("error sending request: connection reset").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of a body on one line (an HTML error page spans many).
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    match text.char_indices().nth(300).map(|(end, _)| end) {
        Some(end) => format!("{}…", &text[..end]),
        None => text,
    }
}

fn report(
    args: &Args,
    phases: &[(String, f64)],
    mut outcomes: Vec<Outcome>,
    elapsed: Duration,
) -> Report {
    outcomes.sort_by(|a, b| a.scheduled_s.total_cmp(&b.scheduled_s));
    let mut failure_kinds = BTreeMap::new();
    for failure in outcomes.iter().filter_map(|o| o.failure.as_ref()) {
        *failure_kinds.entry(failure.kind).or_insert(0) += 1;
    }
    let phase_reports = phases
        .iter()
        .enumerate()
        .map(|(index, (name, starts_at))| {
            let ends_at = phases.get(index + 1).map_or(f64::INFINITY, |next| next.1);
            let members = outcomes
                .iter()
                .filter(|o| o.scheduled_s >= *starts_at && o.scheduled_s < ends_at);
            summarise(name, *starts_at, members)
        })
        .collect();
    let total = summarise("total", 0.0, outcomes.iter());
    let statuses = by_status(&outcomes);
    let mut content_encodings = BTreeMap::new();
    let (mut answers, mut bytes) = (0usize, 0usize);
    for answer in outcomes.iter().map(|o| &o.answer) {
        if answer.status.is_some() {
            let encoding = answer.encoding.as_deref().unwrap_or("identity").to_owned();
            *content_encodings.entry(encoding).or_insert(0) += 1;
            answers += 1;
            bytes += answer.bytes;
        }
    }
    let first_failures = outcomes
        .into_iter()
        .filter_map(|o| o.failure)
        .take(SHOWN_FAILURES)
        .collect();
    Report {
        url: args.url.clone(),
        mode: if args.concurrency.is_some() {
            "closed"
        } else {
            "open"
        },
        rate: args.concurrency.is_none().then_some(args.rate),
        concurrency: args.concurrency,
        duration_s: args.duration,
        elapsed_s: elapsed.as_secs_f64(),
        throughput_rps: total.requests as f64 / elapsed.as_secs_f64(),
        allowed_statuses: args.allow_statuses.clone(),
        phases: phase_reports,
        total,
        statuses,
        accept_encoding: args.accept_encoding.clone(),
        content_encodings,
        mean_response_bytes: if answers == 0 {
            0.0
        } else {
            bytes as f64 / answers as f64
        },
        failure_kinds,
        first_failures,
    }
}

fn summarise<'a>(
    name: &str,
    starts_at_s: f64,
    outcomes: impl Iterator<Item = &'a Outcome>,
) -> PhaseReport {
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut allowed = 0;
    for outcome in outcomes {
        latencies.push(outcome.latency);
        failures += usize::from(outcome.failure.is_some());
        // Every answer that is not a 200 and did not fail had an allowed status.
        allowed += usize::from(outcome.failure.is_none() && outcome.answer.status != Some(200));
    }
    PhaseReport {
        name: name.to_owned(),
        starts_at_s,
        requests: latencies.len(),
        failures,
        allowed,
        latency: latency(latencies),
    }
}

/// The whole run by HTTP status, in status order (no answer first).
fn by_status(outcomes: &[Outcome]) -> Vec<StatusReport> {
    let mut groups: BTreeMap<Option<u16>, Vec<&Outcome>> = BTreeMap::new();
    for outcome in outcomes {
        groups
            .entry(outcome.answer.status)
            .or_default()
            .push(outcome);
    }
    groups
        .into_iter()
        .map(|(status, members)| {
            let mut error_codes = BTreeMap::new();
            for code in members.iter().filter_map(|o| o.answer.error_code.clone()) {
                *error_codes.entry(code).or_insert(0) += 1;
            }
            StatusReport {
                status,
                requests: members.len(),
                failures: members.iter().filter(|o| o.failure.is_some()).count(),
                latency: latency(members.iter().map(|o| o.latency).collect()),
                error_codes,
            }
        })
        .collect()
}

fn latency(mut latencies: Vec<Duration>) -> Latency {
    latencies.sort_unstable();
    Latency {
        p50_ms: percentile_ms(&latencies, 0.50),
        p90_ms: percentile_ms(&latencies, 0.90),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, millis),
    }
}

/// The nearest-rank percentile of sorted latencies, in milliseconds (0 when there are none).
fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    millis(&sorted[rank.clamp(1, sorted.len()) - 1])
}

fn millis(duration: &Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print_report(report: &Report) {
    println!(
        "{:<10} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "phase", "from s", "requests", "failures", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for phase in report.phases.iter().chain([&report.total]) {
        println!(
            "{:<10} {:>6} {:>8} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            phase.name,
            phase.starts_at_s,
            phase.requests,
            phase.failures,
            phase.latency.p50_ms,
            phase.latency.p90_ms,
            phase.latency.p99_ms,
            phase.latency.max_ms
        );
    }
    println!(
        "throughput {:.1} requests/s over {:.2} s",
        report.throughput_rps, report.elapsed_s
    );
    print_statuses(&report.statuses);
    let encodings: Vec<String> = report
        .content_encodings
        .iter()
        .map(|(encoding, count)| format!("{encoding} {count}"))
        .collect();
    println!(
        "answers by Content-Encoding: {}; {:.0} bytes an answer as received",
        encodings.join(", "),
        report.mean_response_bytes
    );
    if report.failure_kinds.is_empty() {
        return;
    }
    let kinds: Vec<String> = report
        .failure_kinds
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    println!("failures by kind: {}", kinds.join(", "));
    for failure in &report.first_failures {
        let status = failure
            .status
            .map_or_else(|| "-".to_owned(), |s| s.to_string());
        println!(
            "  at {:.3}s {} {}: status {status}: {}",
            failure.scheduled_s, failure.operation, failure.kind, failure.detail
        );
    }
}

/// The per-status table, under the phase table and aligned with it.
fn print_statuses(statuses: &[StatusReport]) {
    println!(
        "{:<17} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}  error codes",
        "status", "requests", "failures", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for row in statuses {
        let status = row
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        let codes: Vec<String> = row
            .error_codes
            .iter()
            .map(|(code, count)| format!("{code} {count}"))
            .collect();
        let line = format!(
            "{status:<17} {:>8} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}",
            row.requests,
            row.failures,
            row.latency.p50_ms,
            row.latency.p90_ms,
            row.latency.p99_ms,
            row.latency.max_ms,
            codes.join(", ")
        );
        println!("{}", line.trim_end());
    }
}
