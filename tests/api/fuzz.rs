//! Property tests of the HTTP layer: random documents (token soup with floods of brackets,
//! strings, directives and fragments), random variables and names, and random bytes as
//! bodies. Whatever arrives, the gateway answers with a well-formed GraphQL response: an
//! expected status, JSON with `data` or `errors`, every error with a code and the request id,
//! and never an internal error or a panic.

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::TestApp;

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "...",
    ":",
    "=",
    "!",
    "|",
    "&",
    "$v",
    "@include(if: true)",
    "@skip(if: $v)",
    "@nope",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "F",
    "on",
    "Query",
    "Brand",
    "__typename",
    "__schema",
    "__type(name: \"Brand\")",
    "brands",
    "brand(slug: \"x\")",
    "nodes",
    "name",
    "totalCount",
    "products",
    "first: 3",
    "first: -1",
    "first: 99999999999",
    "after: \"Zm9v\"",
    "categories",
    "children",
    "slug",
    "node(id: \"QnJhbmQ6MQ\")",
    "searchProducts(query: \"dress\")",
    "... on Brand",
    "\"string\"",
    "\"\"\"block\"\"\"",
    "\"unterminated",
    "#comment\n",
    "1.5e3",
    "-0",
    "true",
    "null",
    "é",
    "\u{0}",
    "\\",
    "\u{feff}",
    "a:",
    "b:",
];

/// Root fields that run, to mix valid documents with broken ones.
const FIELDS: &[&str] = &[
    "__typename",
    "brands(first: 3) { totalCount nodes { name slug } }",
    "categories { slug children { slug } }",
    "brand(slug: \"x\") { name }",
    "node(id: \"QnJhbmQ6MQ\") { id }",
    "collages(first: 2) { nodes { title author { username } } }",
    "searchProducts(query: \"dress\", first: 2) { totalCount }",
];

fn document() -> impl Strategy<Value = String> {
    let valid = prop::collection::vec(
        (
            prop::sample::select(FIELDS),
            prop::option::of("[a-z]{1,4}"),
            any::<bool>(),
        ),
        1..5,
    )
    .prop_map(|fields| {
        let fields: Vec<String> = fields
            .into_iter()
            .enumerate()
            .map(|(i, (field, alias, skip))| {
                let alias = alias.map(|a| format!("{a}{i}: ")).unwrap_or_default();
                let directive = if skip { " @include(if: true)" } else { "" };
                match field.split_once(' ') {
                    Some((head, rest)) if !head.contains('(') || head.ends_with(')') => {
                        format!("{alias}{head}{directive} {rest}")
                    }
                    _ => format!("{alias}{field}{directive}"),
                }
            })
            .collect();
        format!("{{ {} }}", fields.join(" "))
    });
    let soup = prop::collection::vec(prop::sample::select(TOKENS), 0..200)
        .prop_map(|tokens| tokens.join(" "));
    let flood = (
        prop::sample::select(&["{", "(", "[", "...F ", "a: __typename ", "@a "][..]),
        0..4000usize,
    )
        .prop_map(|(token, n)| format!("query {{ {} }}", token.repeat(n)));
    prop_oneof![3 => soup, 2 => valid, 1 => flood, 1 => any::<String>()]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(12, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Checks one answer; returns why it is not well-formed, else its first error code ("ok"
/// without errors).
fn well_formed(status: u16, body: &[u8]) -> Result<String, String> {
    if ![200, 400, 405, 413, 415, 429].contains(&status) {
        return Err(format!("status {status}"));
    }
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("status {status}, not JSON: {e}"))?;
    if body.get("data").is_none() && body.get("errors").is_none() {
        return Err(format!("neither data nor errors: {body}"));
    }
    for error in body["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"]
            .as_str()
            .ok_or(format!("no code: {error}"))?;
        if code == "INTERNAL" {
            return Err(format!("internal error: {body}"));
        }
        if error["extensions"]["requestId"].as_str().is_none() {
            return Err(format!("no request id: {error}"));
        }
    }
    Ok(body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("ok")
        .to_owned())
}

async fn post(app: &TestApp, body: Vec<u8>) -> (u16, Vec<u8>) {
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    (status.as_u16(), body)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn random_documents_and_variables_always_get_a_well_formed_answer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let app = TestApp::new(&[]);
    let request = (
        document(),
        prop::option::of(prop::collection::btree_map(
            "[a-z]{1,2}",
            json_value(),
            0..3,
        )),
        prop::option::of("[A-Za-z_]{0,8}"),
    );
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    runner(400)
        .run(&request, |(query, variables, name)| {
            let body = json!({"query": query, "variables": variables, "operationName": name});
            let (status, answer) = runtime.block_on(post(&app, body.to_string().into_bytes()));
            let checked = well_formed(status, &answer);
            prop_assert!(checked.is_ok(), "{:?} for {body}", checked);
            *seen
                .borrow_mut()
                .entry(checked.unwrap_or_default())
                .or_default() += 1;
            Ok(())
        })
        .unwrap();
    // A run that never got past one check would prove little.
    let codes = seen.into_inner();
    eprintln!("answers by code: {codes:?}");
    for expected in ["ok", "GRAPHQL_PARSE_FAILED", "NESTING_TOO_DEEP"] {
        assert!(codes.contains_key(expected), "no {expected} in {codes:?}");
    }
    assert!(
        codes.len() >= 5,
        "the documents reach several checks: {codes:?}"
    );
}

#[test]
fn random_bodies_always_get_a_well_formed_answer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let app = TestApp::new(&[]);
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        json_value().prop_map(|v| json!({"query": v, "extensions": v})
            .to_string()
            .into_bytes()),
    ];
    runner(300)
        .run(&body, |bytes| {
            let (status, answer) = runtime.block_on(post(&app, bytes.clone()));
            prop_assert!(
                well_formed(status, &answer).is_ok(),
                "{:?} for {:?}",
                well_formed(status, &answer),
                String::from_utf8_lossy(&bytes)
            );
            Ok(())
        })
        .unwrap();
}
