//! Times answers in parts (`@defer`, `@stream`) at the client (a tool, not part of the
//! gateway): sends GraphQL request bodies one after another from each of `--concurrency`
//! workers, asking for `multipart/mixed` (or, with `--whole`, for JSON), and reports the
//! time to the first part and to the last, as percentiles, with the parts per answer. A part
//! counts as arrived when the boundary after it has (that is when a client can read it).
//! `bench/defer.sh` runs it.
//!
//! ```text
//! cargo run --example parts -- --url http://127.0.0.1:18397/graphql --requests product.jsonl \
//!     --count 200 [--concurrency 4] [--whole]
//! ```
//!
//! A request fails on a transport error, a status other than 200, or an answer that does
//! not end (no closing boundary, or a JSON answer that does not parse). The exit status is 1
//! when any failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;

/// Times answers in parts: to the first part and to the last.
#[derive(Parser, Debug)]
struct Args {
    /// The GraphQL endpoint.
    #[arg(long)]
    url: String,
    /// Request bodies, one JSON object a line; sent in turn.
    #[arg(long)]
    requests: PathBuf,
    /// How many requests in all.
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Workers, each with one request in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Ask for the whole answer as JSON instead of parts.
    #[arg(long)]
    whole: bool,
}

/// What one answer took.
struct Timed {
    first: Duration,
    last: Duration,
    parts: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("parts: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&args.requests)
        .with_context(|| format!("reading {}", args.requests.display()))?;
    let bodies: Arc<Vec<String>> = Arc::new(text.lines().map(str::to_owned).collect());
    if bodies.is_empty() {
        bail!("{} has no request bodies", args.requests.display());
    }
    let client = reqwest::Client::builder().no_gzip().build()?;
    let accept = if args.whole {
        "application/json"
    } else {
        "multipart/mixed;deferSpec=20220824, application/json"
    };
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, bodies, next) = (
            client.clone(),
            args.url.clone(),
            bodies.clone(),
            next.clone(),
        );
        let count = args.count;
        workers.push(tokio::spawn(async move {
            let mut timed = Vec::new();
            let mut failed = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return (timed, failed);
                }
                let body = bodies[n % bodies.len()].clone();
                match one(&client, &url, accept, body).await {
                    Ok(answer) => timed.push(answer),
                    Err(error) => failed.push(format!("{error:#}")),
                }
            }
        }));
    }
    let (mut timed, mut failed) = (Vec::new(), Vec::new());
    for worker in workers {
        let (t, f) = worker.await?;
        timed.extend(t);
        failed.extend(f);
    }
    report(&args, &timed, &failed);
    Ok(failed.is_empty())
}

/// Sends one request and times its answer's parts.
async fn one(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    body: String,
) -> anyhow::Result<Timed> {
    let sent = Instant::now();
    let mut response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body)
        .send()
        .await?;
    if response.status() != 200 {
        bail!("status {}", response.status());
    }
    let multipart = (response.headers().get("content-type"))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/mixed"));
    let mut received = Vec::new();
    let mut first = None;
    let mut parts = 0;
    while let Some(chunk) = response.chunk().await? {
        received.extend_from_slice(&chunk);
        if multipart {
            // Boundaries seen so far, less the one before the first part.
            let boundaries = count(&received, b"\r\n---");
            parts = boundaries.saturating_sub(1);
            if parts > 0 && first.is_none() {
                first = Some(sent.elapsed());
            }
        }
    }
    let last = sent.elapsed();
    if multipart {
        if !received.ends_with(b"\r\n-----\r\n") {
            bail!("the answer did not end with the closing boundary");
        }
    } else {
        serde_json::from_slice::<serde_json::Value>(&received).context("the answer")?;
        parts = 1;
    }
    Ok(Timed {
        first: first.unwrap_or(last),
        last,
        parts,
    })
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| w == &needle)
        .count()
}

fn report(args: &Args, timed: &[Timed], failed: &[String]) {
    let ms = |mut values: Vec<Duration>| {
        values.sort_unstable();
        let at = |q: f64| {
            let index = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
            values[index].as_secs_f64() * 1000.0
        };
        if values.is_empty() {
            "-".to_owned()
        } else {
            format!(
                "p50 {:7.1}  p90 {:7.1}  p99 {:7.1}  max {:7.1}",
                at(0.5),
                at(0.9),
                at(0.99),
                at(1.0)
            )
        }
    };
    let kind = if args.whole { "whole" } else { "parts" };
    println!(
        "{kind}: {} answered, {} failed, {} parts an answer (most)",
        timed.len(),
        failed.len(),
        timed.iter().map(|t| t.parts).max().unwrap_or(0)
    );
    println!(
        "  first part ms  {}",
        ms(timed.iter().map(|t| t.first).collect())
    );
    println!(
        "  last part ms   {}",
        ms(timed.iter().map(|t| t.last).collect())
    );
    for failure in failed.iter().take(3) {
        println!("  failed: {failure}");
    }
}
