//! `/metrics`: the page parses as Prometheus text (checked by a parser written here, not the
//! gateway's renderer), and its counters move by what the test's own requests did, measured
//! independently (the MySQL handle's statement counter, the number of requests sent).

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, counting_app, sql};

/// One sample: its name and labels, and its value.
pub(crate) type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses the text format strictly: every line a comment or a sample, every sample of a
/// family with a `# TYPE`, histogram buckets cumulative and ending at `_count`.
fn parse(text: &str) -> Samples {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (name, labels, value) = sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(&name);
        assert!(types.contains_key(family), "no # TYPE before {line}");
        assert!(
            samples.insert((name.clone(), labels), value).is_none(),
            "duplicate sample {line}"
        );
    }
    check_histograms(&types, &samples);
    samples
}

fn sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = line.find(['{', ' ']).expect("a value");
    let name = &line[..name_end];
    assert!(
        name.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphabetic()
                || c == '_'
                || c == ':'
                || (i > 0 && c.is_ascii_digit())),
        "metric name {name:?}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.strip_prefix(',').unwrap_or(inner);
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, quoted) = inner.split_once("=\"").expect("label=\"value\"");
            let mut value = String::new();
            let mut escaped = false;
            let mut end = None;
            for (i, c) in quoted.char_indices() {
                match (escaped, c) {
                    (true, 'n') => value.push('\n'),
                    (true, c) => value.push(c),
                    (false, '\\') => {}
                    (false, '"') => {
                        end = Some(i + 1);
                        break;
                    }
                    (false, c) => value.push(c),
                }
                escaped = !escaped && c == '\\';
            }
            labels.insert(label.to_owned(), value);
            inner = &quoted[end.expect("closing quote")..];
        }
    }
    let value = rest.trim();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
    };
    (name.to_owned(), labels, value)
}

fn check_histograms(types: &BTreeMap<String, String>, samples: &Samples) {
    for (family, _) in types.iter().filter(|(_, kind)| *kind == "histogram") {
        let bucket = format!("{family}_bucket");
        let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
        for ((name, labels), value) in samples {
            if *name == bucket {
                let mut key = labels.clone();
                let le = key.remove("le").expect("le label");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                series.entry(key).or_default().push((le, *value));
            }
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{family} not cumulative"
            );
            let count = samples[&(format!("{family}_count"), labels.clone())];
            assert_eq!(
                buckets.last().unwrap(),
                &(f64::INFINITY, count),
                "{family} +Inf"
            );
        }
    }
}

pub(crate) async fn scrape(app: &TestApp) -> Samples {
    let (status, headers, body) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    parse(&String::from_utf8(body).expect("UTF-8"))
}

pub(crate) fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .get(&(name.to_owned(), labels))
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_move_when_requests_run() {
    let (app, mysql) = counting_app(2, &[]);
    let slug: String = sqlx::query_scalar("SELECT slug FROM brands ORDER BY id LIMIT 1")
        .fetch_one(&sql(&app.database).await)
        .await
        .unwrap();
    let before = scrape(&app).await;
    let statements = mysql.statements();

    let query = "query BrandPage($s: String!) { brand(slug: $s) { name products(first: 3) \
                 { totalCount nodes { name } } } }";
    let (status, body) = app
        .post(
            "/graphql",
            json!({"query": query, "variables": {"s": slug}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    let statements = mysql.statements() - statements;
    let (status, _) = app
        .post(
            "/graphql",
            json!({"query": "{ brand(slug: \"x\") { nope } }"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = scrape(&app).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let ok = [
        ("operation", "BrandPage"),
        ("type", "query"),
        ("outcome", "ok"),
    ];
    assert_eq!(moved("ogrom_graphql_operations_total", &ok), 1.0);
    let failed = [
        ("operation", "anonymous"),
        ("type", "query"),
        ("outcome", "error"),
    ];
    assert_eq!(moved("ogrom_graphql_operations_total", &failed), 1.0);
    let validation = [("code", "GRAPHQL_VALIDATION_FAILED")];
    assert_eq!(moved("ogrom_graphql_errors_total", &validation), 1.0);
    let posts = [("route", "/graphql"), ("method", "POST"), ("status", "200")];
    assert_eq!(moved("ogrom_http_requests_total", &posts), 2.0);
    assert_eq!(
        moved(
            "ogrom_backend_calls_total",
            &[("backend", "mysql"), ("outcome", "ok")]
        ),
        statements as f64,
        "every statement the MySQL handle counted, and no other"
    );
    assert!(statements > 0);
    let batches: f64 = after
        .iter()
        .filter(|((name, _), _)| name == "ogrom_loader_batch_size_count")
        .map(|(_, v)| v)
        .sum::<f64>()
        - before
            .iter()
            .filter(|((name, _), _)| name == "ogrom_loader_batch_size_count")
            .map(|(_, v)| v)
            .sum::<f64>();
    assert!(batches >= 1.0, "the brand's page went through loaders");
    let max = value(&after, "ogrom_mysql_pool_max_connections", &[]);
    assert_eq!(max, 2.0, "the pool the test built");
    assert_eq!(
        value(
            &after,
            "ogrom_partner_breaker_state",
            &[("state", "closed")]
        ),
        1.0
    );
    // Field usage counts requests, not list items: three products' names are one use.
    let usage = |t: &'static str, f: &'static str| {
        moved(
            "ogrom_graphql_field_usage_total",
            &[("type", t), ("field", f), ("client", "unknown")],
        )
    };
    assert_eq!(
        usage("Query", "brand"),
        1.0,
        "the refused request resolved nothing"
    );
    assert_eq!(usage("Brand", "name"), 1.0);
    assert_eq!(usage("Product", "name"), 1.0);
    let families: BTreeSet<&str> = after.keys().map(|(name, _)| name.as_str()).collect();
    for family in [
        "ogrom_http_request_duration_seconds_bucket",
        "ogrom_graphql_operation_duration_seconds_count",
        "ogrom_backend_call_duration_seconds_sum",
        "ogrom_mysql_pool_connections",
        "ogrom_http_requests_in_flight",
        "process_start_time_seconds",
    ] {
        assert!(families.contains(family), "{family} missing");
    }
}
