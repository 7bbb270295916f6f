//! Incremental delivery over the in-memory sources: the parts, merged as a client merges
//! them, are the whole answer; each part holds what it should; and the directives are
//! checked before anything runs.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::core::tests::{api_over, catalog};
use crate::core::{ApiConfig, Delivered, RequestContext};
use crate::observe::{Metrics, RequestStats};
use crate::protocols::SourceError;
use crate::sources::memory::MemoryCatalog;

/// The parts of `query`'s answer, each as the HTTP layer writes it (without `extensions`).
async fn parts(api: &crate::core::Api, query: &str, variables: Value) -> Vec<Value> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let context = RequestContext {
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
        request_id: None,
        viewer: None,
        stats: RequestStats::new(Metrics::default()),
        cost: None,
        tagged: false,
    };
    let mut parts = Vec::new();
    api.execute_in_parts(request, context, &mut |part| parts.push(written(part)))
        .await;
    parts
}

fn written(part: Delivered) -> Value {
    match part {
        Delivered::First(outcome, has_next) => {
            let mut first = json!({
                "data": serde_json::from_str::<Value>(&outcome.data).unwrap(),
                "hasNext": has_next,
            });
            if !outcome.errors.is_empty() {
                first["errors"] = serde_json::to_value(&outcome.errors).unwrap();
            }
            first
        }
        Delivered::Next(next) => {
            let entries: Vec<Value> = (next.entries.iter())
                .map(|entry| {
                    let mut written = json!({
                        "path": serde_json::to_value(&entry.path).unwrap(),
                    });
                    if let Some(data) = &entry.data {
                        written["data"] = serde_json::from_str(data).unwrap();
                    }
                    if let Some(items) = &entry.items {
                        written["items"] = serde_json::from_str(items).unwrap();
                    }
                    if let Some(label) = &entry.label {
                        written["label"] = json!(label);
                    }
                    if !entry.errors.is_empty() {
                        written["errors"] = serde_json::to_value(&entry.errors).unwrap();
                    }
                    written
                })
                .collect();
            json!({"incremental": entries, "hasNext": next.has_next})
        }
    }
}

/// The parts merged as Apollo Client and GraphiQL merge them: each deferred entry's fields
/// into the object at its path, each streamed entry's items onto the list at its path.
fn merged(parts: &[Value]) -> (Value, Vec<Value>) {
    let mut data = parts[0]["data"].clone();
    let mut errors: Vec<Value> = parts[0]["errors"].as_array().cloned().unwrap_or_default();
    for part in &parts[1..] {
        for entry in part["incremental"].as_array().unwrap() {
            let path = entry["path"].as_array().unwrap();
            errors.extend(entry["errors"].as_array().cloned().unwrap_or_default());
            if let Some(items) = entry.get("items") {
                let (index, list_path) = path.split_last().unwrap();
                let list = at(&mut data, list_path).as_array_mut().unwrap();
                assert_eq!(list.len() as u64, index.as_u64().unwrap(), "items append");
                list.extend(items.as_array().unwrap().iter().cloned());
            } else if let Value::Object(fields) = &entry["data"] {
                let target = at(&mut data, path).as_object_mut().unwrap();
                for (key, value) in fields {
                    deep_merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
    }
    (data, errors)
}

fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                deep_merge(into.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from.clone(),
    }
}

fn at<'v>(value: &'v mut Value, path: &[Value]) -> &'v mut Value {
    path.iter().fold(value, |value, step| match step {
        Value::String(key) => &mut value[key.as_str()],
        Value::Number(index) => &mut value[index.as_u64().unwrap() as usize],
        other => panic!("a path step {other}"),
    })
}

/// Sorts an object's keys so that two answers compare whatever order their parts came in.
fn whole(api_answer: async_graphql::Response) -> (Value, Vec<Value>) {
    let value = serde_json::to_value(&api_answer).unwrap();
    let errors = value["errors"].as_array().cloned().unwrap_or_default();
    (value["data"].clone(), errors)
}

fn api(products: i32) -> (crate::core::Api, Arc<MemoryCatalog>) {
    let catalog = Arc::new(catalog(products));
    (api_over(&catalog, ApiConfig::default()), catalog)
}

/// Runs `query` whole and in parts: merged, the parts are the whole answer.
async fn same_as_whole(api: &crate::core::Api, query: &str) -> Vec<Value> {
    let parts = parts(api, query, json!({})).await;
    let (data, mut errors) = merged(&parts);
    let (expected, mut expected_errors) =
        whole(api.execute(async_graphql::Request::new(query)).await);
    assert_eq!(data, expected, "parts {parts:#?}");
    let by_path = |e: &Value| e["path"].to_string();
    errors.sort_by_key(by_path);
    expected_errors.sort_by_key(by_path);
    assert_eq!(errors, expected_errors, "parts {parts:#?}");
    assert_eq!(parts.last().unwrap()["hasNext"], false);
    for part in &parts[..parts.len() - 1] {
        assert_eq!(part["hasNext"], true, "only the last part ends: {parts:#?}");
    }
    parts
}

#[tokio::test]
async fn parts_merged_are_the_whole_answer() {
    let (api, _) = api(12);
    let queries = [
        // A deferred fragment on each item of a list.
        r#"{ category(slug: "women-shoes-boots") { name products(first: 5) { nodes { name
            ... @defer(label: "brand") { brand { name } shop { slug } } } } } }"#,
        // Nested: the inner group follows the outer one.
        r#"{ product(databaseId: 1) { name ... @defer(label: "outer") { color
            brand { name ... @defer(label: "inner") { slug } } } } }"#,
        // A field selected both with the object and deferred is delivered with the object.
        r#"{ product(databaseId: 2) { name ... @defer(label: "more") { name color } } }"#,
        // The same field deferred by two fragments: each delivers what it adds.
        r#"{ ... @defer(label: "a") { product(databaseId: 1) { name } }
             ... @defer(label: "b") { product(databaseId: 1) { color } } }"#,
        // A named fragment, deferred, and a streamed list with its first two items.
        r#"query { categories { slug ...More @defer(label: "more") }
             searchProducts(first: 6) { nodes @stream(initialCount: 2, label: "rest")
             { name brand { name } } totalCount } }
           fragment More on Category { name path { slug } }"#,
        // `parent` is selected in group a, in c within a, and in b: it goes with a, the
        // outermost, or a and c would each wait for the other (`slug` in c on an object of
        // a, `name` in a on an object of c).
        r#"{ product(databaseId: 1) {
             ... @defer(label: "a") { category { ... @defer(label: "c") { parent { slug } }
               parent { name } } }
             ... @defer(label: "b") { category { parent { position } } } } }"#,
        // Lists streamed inside a streamed list's later items come after those items.
        r#"{ categories @stream(initialCount: 1) { slug children @stream { slug } } }"#,
        // Deferred fields of a streamed list's items.
        r#"{ searchProducts(first: 5) { nodes @stream(initialCount: 1) { name
            ... @defer(label: "price") { currentPrice { amount } } } } }"#,
    ];
    for query in queries {
        let parts = same_as_whole(&api, query).await;
        assert!(
            parts.len() > 1,
            "{query} was delivered in {} part",
            parts.len()
        );
    }
}

#[tokio::test]
async fn the_first_part_holds_what_is_not_deferred_and_later_parts_the_rest() {
    let (api, _) = api(12);
    let query = r#"{ category(slug: "women-shoes-boots") { name products(first: 3) { nodes {
        databaseId ... @defer(label: "brand") { brand { name } } } } } }"#;
    let parts = parts(&api, query, json!({})).await;
    assert_eq!(parts.len(), 2, "{parts:#?}");
    let nodes = parts[0]["data"]["category"]["products"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), 3);
    for node in nodes {
        assert!(
            node.get("brand").is_none(),
            "deferred in the first part: {node}"
        );
    }
    let entries = parts[1]["incremental"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "one entry per product: {entries:#?}");
    for (n, entry) in entries.iter().enumerate() {
        assert_eq!(
            entry["path"],
            json!(["category", "products", "nodes", n]),
            "{entry}"
        );
        assert_eq!(entry["label"], "brand");
        // The memory catalog's product n has brand n % 3 + 1.
        let product = nodes[n]["databaseId"].as_i64().unwrap();
        let brand = format!("Brand {}", product % 3 + 1);
        assert_eq!(entry["data"], json!({"brand": {"name": brand}}));
    }
}

#[tokio::test]
async fn a_stream_delivers_its_initial_count_first_and_then_the_rest() {
    let (api, _) = api(12);
    let query = r#"query($n: Int!) { searchProducts(first: 10) {
        nodes @stream(initialCount: $n, label: "more") { databaseId } } }"#;
    let parts = parts(&api, query, json!({"n": 4})).await;
    assert_eq!(parts.len(), 2, "{parts:#?}");
    let first = parts[0]["data"]["searchProducts"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(first.len(), 4);
    let entry = &parts[1]["incremental"][0];
    assert_eq!(entry["path"], json!(["searchProducts", "nodes", 4]));
    assert_eq!(entry["label"], "more");
    assert_eq!(entry["items"].as_array().unwrap().len(), 6, "{entry}");
}

#[tokio::test]
async fn defer_with_if_false_and_stream_with_if_false_deliver_at_once() {
    let (api, _) = api(6);
    let query = r#"query($d: Boolean!) { product(databaseId: 1) { name
        ... @defer(if: $d) { color } } searchProducts(first: 4) {
        nodes @stream(if: $d, initialCount: 1) { name } } }"#;
    let at_once = parts(&api, query, json!({"d": false})).await;
    assert_eq!(at_once.len(), 1, "{at_once:#?}");
    assert_eq!(at_once[0]["hasNext"], false);
    assert_eq!(at_once[0]["data"]["product"]["color"], "black");
    assert_eq!(
        at_once[0]["data"]["searchProducts"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let deferred = parts(&api, query, json!({"d": true})).await;
    assert!(deferred.len() > 1, "{deferred:#?}");
    assert!(deferred[0]["data"]["product"].get("color").is_none());
}

#[tokio::test]
async fn a_failing_backend_in_a_deferred_part_errs_in_that_part_at_its_path() {
    let (api, catalog) = api(6);
    catalog.fail(
        "brands_by_ids",
        SourceError::Unavailable {
            backend: "mysql",
            detail: "down".to_owned(),
        },
    );
    let query =
        r#"{ product(databaseId: 1) { name ... @defer(label: "brand") { brand { name } } } }"#;
    let parts = same_as_whole(&api, query).await;
    assert!(parts[0].get("errors").is_none(), "{parts:#?}");
    assert_eq!(parts[0]["data"]["product"]["name"], "Product 1");
    let entry = &parts[1]["incremental"][0];
    assert_eq!(entry["errors"][0]["path"], json!(["product", "brand"]));
    assert_eq!(
        entry["errors"][0]["extensions"]["code"],
        "UPSTREAM_UNAVAILABLE"
    );
}

/// The first error's code when `query` is refused before it runs.
async fn refused(query: &str, variables: Value) -> Vec<String> {
    let (api, _) = api(3);
    let parts = parts(&api, query, variables.clone()).await;
    assert_eq!(parts.len(), 1, "{parts:#?}");
    assert_eq!(parts[0]["data"], Value::Null, "{query} ran: {parts:#?}");
    // Delivered whole, it is refused the same way.
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let whole = serde_json::to_value(api.execute(request).await).unwrap();
    assert_eq!(whole["errors"], parts[0]["errors"]);
    (parts[0]["errors"].as_array().unwrap().iter())
        .map(|e| {
            format!(
                "{} {}",
                e["extensions"]["code"].as_str().unwrap(),
                e["message"]
            )
        })
        .collect()
}

#[tokio::test]
async fn misused_directives_are_refused_with_a_clear_error() {
    let invalid = [
        (
            "{ product(databaseId: 1) { name @defer } }",
            "fragment spread",
        ),
        (
            "{ product(databaseId: 1) { name @stream } }",
            "list field; name",
        ),
        ("{ categories { ... @stream { slug } } }", "list field"),
        (
            r#"{ ... @defer(label: "x") { categories { slug } } ... @defer(label: "x") { brands { totalCount } } }"#,
            "used twice",
        ),
        (
            "{ ... @defer(label: 3) { categories { slug } } }",
            "must be a string",
        ),
        (
            "{ ... @defer(when: true) { categories { slug } } }",
            "no argument `when`",
        ),
        (
            "{ searchProducts { nodes @stream(initialCount: -1) { name } } }",
            "0 or more",
        ),
        (
            "query($d: String) { ... @defer(if: $d) { categories { slug } } }",
            "is not a Boolean",
        ),
        (
            "{ ... @defer(if: $d) { categories { slug } } }",
            "not defined",
        ),
    ];
    for (query, says) in invalid {
        let errors = refused(query, json!({})).await;
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("GRAPHQL_VALIDATION_FAILED") && e.contains(says)),
            "{query}: {errors:?}"
        );
    }
}

#[tokio::test]
async fn an_operation_may_defer_a_bounded_number_of_times() {
    let defers = |n: usize| {
        let fragments: String = (0..n).map(|_| " ... @defer { slug }").collect();
        format!("{{ categories {{ name{fragments} }} }}")
    };
    let (api, _) = api(3);
    let allowed = parts(&api, &defers(super::MAX_USES), json!({})).await;
    assert!(allowed[0].get("errors").is_none(), "{allowed:#?}");
    let errors = refused(&defers(super::MAX_USES + 1), json!({})).await;
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("at most {}", super::MAX_USES))),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_fragment_deferred_in_many_places_makes_a_bounded_number_of_parts() {
    // Each fragment defers the next twice: 14 uses, 254 deferred places.
    let mut query = "{ categories { slug ...F0 } }".to_owned();
    for n in 0..7 {
        let next = if n < 6 {
            format!("...F{}", n + 1)
        } else {
            "name".to_owned()
        };
        query.push_str(&format!(
            " fragment F{n} on Category {{ position ... @defer {{ {next} }} ... @defer {{ slug {next} }} }}"
        ));
    }
    let (api, _) = api(3);
    let parts = same_as_whole(&api, &query).await;
    assert!(parts.len() <= 65, "{} parts", parts.len());
}

#[tokio::test]
async fn deferring_in_a_mutation_is_refused_with_its_own_code() {
    let query = r#"mutation { ... @defer { likeProduct(productId: "x") { product { name } } } }"#;
    let errors = refused(query, json!({})).await;
    assert!(
        errors.iter().any(|e| e.starts_with("DEFER_IN_MUTATION")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn variables_only_the_directives_use_pass_validation() {
    let (api, _) = api(6);
    let query = r#"query($n: Int! = 2, $d: Boolean) { searchProducts(first: 5) {
        nodes @stream(initialCount: $n) { name } } ... @defer(if: $d) { categories { slug } } }"#;
    let parts = parts(&api, query, json!({})).await;
    assert!(parts[0].get("errors").is_none(), "{parts:#?}");
    assert_eq!(
        parts[0]["data"]["searchProducts"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let whole = api.execute(async_graphql::Request::new(query)).await;
    assert!(whole.errors.is_empty(), "{:?}", whole.errors);
}

#[tokio::test]
async fn introspection_lists_defer_and_stream_with_their_arguments() {
    let (api, _) = api(1);
    let query = r#"query Q { __schema { ds: directives { name locations
        args { name defaultValue type { kind name ofType { name } } } } } }"#;
    let answer =
        serde_json::to_value(api.execute(async_graphql::Request::new(query)).await).unwrap();
    let directives = answer["data"]["__schema"]["ds"].as_array().unwrap();
    let named = |name: &str| directives.iter().find(|d| d["name"] == name).cloned();
    let defer = named("defer").unwrap_or_else(|| panic!("no @defer: {answer}"));
    assert_eq!(
        defer["locations"],
        json!(["FRAGMENT_SPREAD", "INLINE_FRAGMENT"])
    );
    assert_eq!(
        defer["args"][0],
        json!({"name": "if", "defaultValue": "true",
               "type": {"kind": "NON_NULL", "name": null, "ofType": {"name": "Boolean"}}})
    );
    let stream = named("stream").unwrap_or_else(|| panic!("no @stream: {answer}"));
    assert_eq!(stream["locations"], json!(["FIELD"]));
    assert_eq!(stream["args"][2]["name"], "initialCount");
    assert!(named("include").is_some() && named("skip").is_some());
    let mut names: Vec<&str> = directives
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        directives.len(),
        "listed once each: {directives:#?}"
    );
}
