//! The binary's logs, end to end: `ogrom serve` as a process ships JSON lines to a logstash
//! stand-in (a TCP listener here), writes one access line per GraphQL operation, keeps
//! answering at full speed when logstash goes away (counting the lines it drops), and on
//! SIGTERM drains and exits 0.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::helpers::{database_url, elasticsearch_url, fixture_database, sql};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// A logstash stand-in: every JSON line it receives, on any connection, goes to the channel.
/// Aborting the task closes its port; dropping the receiver closes its connections.
fn logstash(listener: TcpListener) -> (mpsc::UnboundedReceiver<Value>, JoinHandle<()>) {
    let (lines, received) = mpsc::unbounded_channel();
    let accepting = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    let value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                    if lines.send(value).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (received, accepting)
}

/// The next received line for which `matches` holds (within a few seconds).
async fn line_where(
    lines: &mut mpsc::UnboundedReceiver<Value>,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, lines.recv()).await {
            Ok(Some(line)) if matches(&line) => return line,
            Ok(Some(_)) => {}
            _ => panic!("no matching log line arrived"),
        }
    }
}

/// The gateway process, killed if the test ends early.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ogrom serve` on a free port; returns the process and its address, read from its
/// `listening` log line on stdout, and its stdout lines.
async fn spawn_gateway(logstash: &str) -> (Gateway, String, mpsc::UnboundedReceiver<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ogrom"))
        .arg("serve")
        .env("OGROM_LISTEN", "127.0.0.1:0")
        .env("OGROM_DATABASE_URL", database_url(fixture_database()))
        .env("OGROM_ELASTICSEARCH_URL", elasticsearch_url())
        .env("OGROM_ELASTICSEARCH_INDEX", crate::search::fixture_alias())
        .env("OGROM_LOG_FORMAT", "json")
        .env("OGROM_LOG", "info")
        .env("OGROM_SERVICE_NAME", "ogrom-under-test")
        .env("OGROM_LOGSTASH_ADDR", logstash)
        .env("OGROM_LOGSTASH_QUEUE", "16")
        .env("OGROM_SHUTDOWN_DRAIN_MS", "300")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the ogrom binary starts");
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (lines, mut received) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if lines.send(value).is_err() {
                return;
            }
        }
    });
    let listening = line_where(&mut received, |l| l["message"] == "listening").await;
    let address = listening["address"].as_str().expect("address").to_owned();
    (Gateway(child), address, received)
}

async fn metric(client: &reqwest::Client, address: &str, name: &str) -> f64 {
    let text = client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[tokio::test]
async fn the_binary_ships_access_lines_to_logstash_survives_its_loss_and_drains_on_sigterm() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let logstash_addr = listener.local_addr().unwrap().to_string();
    let (mut shipped, accepting) = logstash(listener);
    let (mut child, address, mut stdout) = spawn_gateway(&logstash_addr).await;
    let slug: String = sqlx::query_scalar("SELECT slug FROM brands ORDER BY id LIMIT 1")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let graphql = format!("http://{address}/graphql");

    // A success, from a named client inside a trace.
    let ok: Value = client
        .post(&graphql)
        .header("x-request-id", "access-ok-1")
        .header("apollographql-client-name", "web")
        .header("apollographql-client-version", "2.3.1")
        .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"))
        .json(
            &json!({"query": "query BrandName($s: String!) { brand(slug: $s) { name } }",
                      "variables": {"s": slug}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ok.get("errors").is_none(), "{ok}");
    // A failure: a field the schema does not have.
    let failed = client
        .post(&graphql)
        .header("x-request-id", "access-bad-1")
        .json(&json!({"query": "query Broken { brand(slug: \"x\") { nope } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 200);

    let access = |id: &'static str| {
        move |l: &Value| l["http.request.id"] == id && l["message"] == "graphql operation"
    };
    let line = line_where(&mut shipped, access("access-ok-1")).await;
    assert_eq!(line["service.name"], "ogrom-under-test");
    assert_eq!(
        line["log.level"].as_str().map(str::to_lowercase).as_deref(),
        Some("info")
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(line["@timestamp"].as_str().unwrap()).is_ok(),
        "{line}"
    );
    assert_eq!(line["trace.id"], TRACE);
    assert_eq!(line["graphql.operation.name"], "BrandName");
    assert_eq!(line["graphql.operation.type"], "query");
    assert_eq!(line["client.name"], "web");
    assert_eq!(line["client.version"], "2.3.1");
    assert_eq!(line["http.response.status_code"], 200);
    assert_eq!(line["outcome"], "ok");
    assert!(line.get("error.codes").is_none(), "{line}");
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0);
    // One brand by slug: one statement, nothing else.
    assert_eq!(line["calls.mysql"], 1, "{line}");
    assert_eq!(line["calls.elasticsearch"], 0);
    assert_eq!(line["calls.partner"], 0);

    let line = line_where(&mut shipped, access("access-bad-1")).await;
    assert_eq!(line["graphql.operation.name"], "Broken");
    assert_eq!(line["outcome"], "error");
    assert_eq!(line["error.codes"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(line["calls.mysql"], 0);
    // The same line went to stdout.
    line_where(&mut stdout, |l| l["http.request.id"] == "access-bad-1").await;

    // Logstash goes away: requests go on at full speed and the lines beyond the queue are
    // dropped and counted.
    accepting.abort();
    drop(shipped);
    let dropped_before = metric(&client, &address, "ogrom_log_lines_dropped_total").await;
    let started = Instant::now();
    for _ in 0..100 {
        let status = client
            .post(&graphql)
            .json(&json!({"query": "{ brands(first: 1) { totalCount } }"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let took = started.elapsed();
    let dropped = metric(&client, &address, "ogrom_log_lines_dropped_total").await - dropped_before;
    assert!(
        dropped >= 100.0 - 16.0 - 1.0,
        "100 access lines, 16 queued at most: {dropped} dropped"
    );
    // Not a benchmark: a logger that waited for logstash would never finish at all.
    assert!(took < Duration::from_secs(30), "{took:?}");

    // SIGTERM: unready, drained, exit 0.
    let pid = child.0.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    line_where(&mut stdout, |l| {
        l["message"] == "draining: unready, still serving"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "exits after the drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    line_where(&mut stdout, |l| l["message"] == "stopped").await;
}
