//! What refusing a hostile document costs: for each attack class, the time from the text to
//! the refusal (scan, and parse and measurement where the scan lets it through), in-process,
//! with the default limits. Also the worst documents that pass every limit, which is what
//! the parser and validator can be made to work on. Prints one table.
//!
//!     cargo run --release --example rejections

use std::time::{Duration, Instant};

use ogrom::http::document::{DocumentLimits, check_document, scan};

fn nested(depth: usize, open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// The documents: the worst of each class that fits the default body and document limits.
fn documents(limits: &DocumentLimits) -> Vec<(&'static str, String)> {
    let bytes = limits.max_bytes;
    let laughs = {
        let mut doc = String::from("query Laughs { ...F0 }\n");
        for level in 0..9 {
            let spreads = format!(" ...F{}", level + 1).repeat(10);
            doc.push_str(&format!("fragment F{level} on Query {{ {spreads} }}\n"));
        }
        doc + "fragment F9 on Query { __typename }\n"
    };
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }".to_owned();
    vec![
        ("bracket flood (32 KB of `{`)", "{".repeat(bytes)),
        (
            "document over the size limit (256 KB)",
            "{".repeat(256 * 1024),
        ),
        (
            "token flood (32 KB of names)",
            format!("{{ {} }}", "a ".repeat(bytes / 2 - 4)),
        ),
        (
            "value nesting in an argument",
            format!("{{ f(a: {}) }}", nested(100, "[", "1", "]")),
        ),
        ("billion laughs (10^9 fields)", laughs),
        ("circular fragments", cycle),
        (
            "alias flood (31 aliases)",
            format!(
                "{{ f {{ {} }} }}",
                (0..31).map(|i| format!("a{i}: x ")).collect::<String>()
            ),
        ),
        (
            "directive flood (1000)",
            format!("{{ f {} }}", "@a".repeat(1000)),
        ),
        (
            "field duplication (2001 fields)",
            format!("{{ f {{ {} }} }}", "x ".repeat(2001)),
        ),
        (
            "selection depth 13",
            format!("{{ {} }}", nested(13, "a { ", "b", " }")),
        ),
        // Accepted by every limit: the most the parser is made to do.
        (
            "accepted: depth 12, values nested 8",
            format!(
                "{{ {} }}",
                nested(
                    11,
                    "a { ",
                    &format!("f(x: {})", nested(8, "[", "1", "]")),
                    " }"
                )
            ),
        ),
        (
            "accepted: the most tokens allowed",
            // Six tokens a field: `x(a: 1)`.
            format!(
                "{{ f {{ {} }} }}",
                "x(a: 1) ".repeat((limits.max_tokens - 5) / 6)
            ),
        ),
    ]
}

/// Refuses like the gateway does before validation; returns the code, or "accepted".
fn refuse(text: &str, limits: &DocumentLimits) -> &'static str {
    if let Err(e) = scan(text, limits) {
        return e.code;
    }
    match async_graphql::parser::parse_query(text) {
        Err(_) => "GRAPHQL_PARSE_FAILED",
        Ok(document) => match check_document(&document, limits) {
            Err(e) => e.code,
            Ok(()) => "accepted",
        },
    }
}

fn main() {
    let limits = DocumentLimits::default();
    println!(
        "{:<40} {:>9} {:<22} {:>10} {:>10}",
        "document", "bytes", "outcome", "median µs", "max µs"
    );
    for (name, text) in documents(&limits) {
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(refuse(std::hint::black_box(&text), &limits));
                started.elapsed()
            })
            .collect();
        times.sort();
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{:<40} {:>9} {:<22} {:>10.1} {:>10.1}",
            name,
            text.len(),
            refuse(&text, &limits),
            micros(times[times.len() / 2]),
            micros(times[times.len() - 1])
        );
    }
}
