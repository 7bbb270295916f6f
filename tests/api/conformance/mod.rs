//! Every answer is what the document and the schema say it must be. Thousands of generated
//! documents (`tests/support/documents.rs`), the web app's operations, the README's examples
//! and documents that fail on purpose run against the fixture; each answer is checked
//! against its document and `schema.graphql`, knowing no expected answer:
//!
//! - every object holds exactly the response keys its selection asks for, in document order
//!   (fragments applied by type, `@skip`/`@include` by their values);
//! - every value has its field's type: the right scalar, an enum's value, a list, an object;
//!   `__typename` names the object's type, a global id decodes to that type and to its
//!   `databaseId`;
//! - a value is null only where the schema allows it or where an error is reported at
//!   exactly its path; every error has a path, its locations and a stable code, never
//!   `INTERNAL`;
//! - the same request answers the same the second time (from the plan cache).

mod check;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::{StreamExt as _, stream};
use serde_json::{Value, json};

use check::{Case, Types, problems, without_ids};

use crate::documents::{Fixture, Generator, Schema as GeneratorSchema, global_id};
use crate::helpers::{TestApp, error_codes, fixture_database, published_schema, sql};
use crate::search::fixture_alias;

/// How many generated documents run; the seed makes them the same on every run.
const DOCUMENTS: usize = 2_000;
const SEED: u64 = 0x0D1F_F0C0_FFEE;
/// Requests in flight at once.
const IN_FLIGHT: usize = 24;

/// A gateway over the fixture and its search index. Limits on documents are raised so that
/// generated documents reach the engine rather than the limit checks, and budgets are off.
fn app() -> TestApp {
    TestApp::new(&[
        "--elasticsearch-index",
        fixture_alias(),
        "--max-complexity",
        "1000000000",
        "--max-depth",
        "40",
        "--max-aliases",
        "10000",
        "--max-tokens",
        "1000000",
        "--max-document-bytes",
        "1048576",
        "--max-fields",
        "1000000",
        "--max-root-fields",
        "1000",
        "--cost-budget",
        "0",
    ])
}

/// Sends every case twice (the second from the plan cache), `IN_FLIGHT` at a time, and
/// checks each answer; fails with everything needed to replay the first case that is wrong.
async fn assert_conform(app: &TestApp, types: &Types, cases: &[Case]) -> Vec<Value> {
    let send = |case: &Case| {
        let body = json!({"query": case.query, "variables": case.variables}).to_string();
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("a request");
        async move {
            let (status, _, raw) = app.send(request).await;
            (status, raw)
        }
    };
    // Other tests like and unlike products of the same fixture meanwhile: where the two
    // answers differ, the pair is asked again, and only pairs that never agree count.
    let same = |a: &(StatusCode, Vec<u8>), b: &(StatusCode, Vec<u8>)| {
        a.0 == b.0 && without_ids(&a.1) == without_ids(&b.1)
    };
    let answers: Vec<_> = stream::iter(cases.iter().map(|c| async move {
        let mut pair = (send(c).await, send(c).await);
        for _ in 0..3 {
            if same(&pair.0, &pair.1) {
                break;
            }
            pair = (send(c).await, send(c).await);
        }
        pair
    }))
    .buffered(IN_FLIGHT)
    .collect()
    .await;
    let mut bodies = Vec::new();
    for (case, ((status, raw), (again_status, again))) in cases.iter().zip(answers) {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut wrong = problems(types, case, status, &raw);
        if (again_status, without_ids(&again)) != (status, without_ids(&raw)) {
            wrong.push(format!(
                "answered otherwise the second time: {}",
                String::from_utf8_lossy(&again)
            ));
        }
        assert!(
            wrong.is_empty(),
            "{} is answered wrong:\n- {}\n--- document\n{}\n--- variables\n{}\n--- answer\n{text}",
            case.origin,
            wrong.join("\n- "),
            case.query,
            case.variables,
        );
        bodies.push(serde_json::from_slice(&raw).expect("JSON"));
    }
    bodies
}

/// Pages whose cursors the generator passes as `after` (with a user's, for `$u`).
const PAGES: &[&str] = &[
    "{ brands(first: 6) { edges { cursor } } }",
    "{ collages(first: 4) { edges { cursor } } }",
    "{ collages(first: 4, orderBy: POPULAR) { edges { cursor } } }",
    "{ categories { products(first: 3) { edges { cursor } } } }",
    "{ searchProducts(first: 3) { edges { cursor } } }",
    "{ searchProducts(first: 3, sort: PRICE_ASC) { edges { cursor } } }",
    r#"{ searchProducts(query: "dress", first: 3) { edges { cursor } } }"#,
    "query($u: String!) { user(username: $u) { collages(first: 3) { edges { cursor } } } }",
    "query($u: String!) { user(username: $u) { likedProducts(first: 3) { edges { cursor } } } }",
];

/// A column of text from the fixture database.
async fn column(db: &sqlx::MySqlPool, query: &str) -> Vec<String> {
    sqlx::query_scalar(query).fetch_all(db).await.unwrap()
}

/// Ids, slugs and words of the fixture, from SQL, and cursors of real pages (inputs only:
/// no answer is compared with them).
async fn fixture(app: &TestApp) -> Fixture {
    let db = sql(fixture_database()).await;
    let mut fixture = Fixture::default();
    for (kind, table) in [
        ("Product", "products"),
        ("Brand", "brands"),
        ("Shop", "shops"),
        ("Category", "categories"),
        ("User", "users"),
        ("Collage", "collages"),
    ] {
        let ids = column(
            &db,
            &format!("SELECT CAST(id AS CHAR) FROM {table} ORDER BY id"),
        )
        .await;
        let ids = ids.iter().map(|id| id.parse().unwrap()).collect();
        fixture.ids.insert(kind.to_owned(), ids);
        if ["Brand", "Shop", "Category"].contains(&kind) {
            let slugs = column(&db, &format!("SELECT slug FROM {table} ORDER BY id")).await;
            fixture.slugs.insert(kind.to_owned(), slugs);
        }
    }
    fixture.usernames = column(&db, "SELECT username FROM users ORDER BY id").await;
    fixture.tags = column(&db, "SELECT DISTINCT tag FROM collage_tags ORDER BY tag").await;
    fixture.colors = column(&db, "SELECT DISTINCT color FROM products ORDER BY color").await;
    let names = "SELECT name FROM brands UNION ALL SELECT name FROM products WHERE id <= 60";
    let mut words: Vec<String> = (column(&db, names).await.iter())
        .flat_map(|name| name.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.len() >= 3)
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    fixture.words = words;
    let users: Vec<String> = fixture.usernames.iter().take(3).cloned().collect();
    for query in PAGES {
        for username in &users {
            let data = app.query(query, json!({ "u": username })).await;
            let mut found = Vec::new();
            cursors_in(&data, "", &mut found);
            for (field, cursor) in found {
                fixture.cursors.entry(field).or_default().push(cursor);
            }
            if !query.contains("$u") {
                break;
            }
        }
    }
    fixture
}

/// Every `cursor` in an answer, with the field of the connection it pages.
fn cursors_in(value: &Value, field: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("cursor", Value::String(c)) => out.push((field.to_owned(), c.clone())),
                    ("edges" | "node", _) => cursors_in(child, field, out),
                    _ => cursors_in(child, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| cursors_in(item, field, out)),
        _ => {}
    }
}

/// A gateway, the schema as the checks and the generator read it, and the fixture's facts.
async fn setup() -> (TestApp, Types, GeneratorSchema, Fixture) {
    let app = app();
    let fixture = fixture(&app).await;
    let published = published_schema();
    (
        app,
        Types::new(&published),
        GeneratorSchema::new(&published),
        fixture,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_documents_are_answered_as_their_document_and_the_schema_say() {
    let (app, types, schema, fixture) = setup().await;
    let mut generator = Generator::new(&schema, &fixture, SEED);
    let cases: Vec<Case> = (0..DOCUMENTS)
        .map(|i| {
            let generated = generator.document();
            Case {
                origin: format!("generated document {i} (seed {SEED:#x})"),
                query: generated.query,
                variables: generated.variables,
            }
        })
        .collect();
    let started = std::time::Instant::now();
    let bodies = assert_conform(&app, &types, &cases).await;
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for code in bodies.iter().flat_map(error_codes) {
        *codes.entry(code).or_default() += 1;
    }
    let fields: u64 = (bodies.iter())
        .filter_map(|b| b["extensions"]["cost"]["actual"].as_u64())
        .sum();
    eprintln!(
        "{DOCUMENTS} generated documents answered twice and checked ({:.1?}); {fields} \
         fields; errors by code: {codes:?}",
        started.elapsed()
    );
    // The generator makes valid documents: validation refusing one means the generator or
    // the schema is wrong, and the engine was checked on nothing.
    let refused = bodies.iter().filter(|b| b.get("data").is_none()).count();
    assert_eq!(refused, 0, "documents refused before they ran");
}

/// How many generated documents with `@defer` and `@stream` run in parts.
const DEFERRED_DOCUMENTS: usize = 1_000;

/// The same engine answering in parts: generated documents with `@defer` and `@stream`,
/// answered in parts to a client that takes them, merged as clients merge them, are the
/// same documents answered whole, errors included; every part but the last says more
/// follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_documents_answered_in_parts_merge_into_their_whole_answers() {
    let (app, _, schema, fixture) = setup().await;
    let seed = SEED ^ 0xDEFE;
    let mut generator = Generator::new(&schema, &fixture, seed).incremental();
    let bodies: Vec<(usize, Value)> = (0..DEFERRED_DOCUMENTS)
        .map(|i| {
            let generated = generator.document();
            (
                i,
                json!({"query": generated.query, "variables": generated.variables}),
            )
        })
        .collect();
    let app = &app;
    let compared: Vec<usize> = stream::iter(bodies.iter().map(|(i, body)| async move {
        // Other tests like and unlike products of the same fixture meanwhile: a pair that
        // differs is asked again, and only one that never agrees fails.
        let mut last = None;
        for _ in 0..3 {
            let whole = app.post("/graphql", body.clone()).await.1;
            let parts = crate::incremental::answer_in_parts(app, body).await;
            let merged = crate::incremental::try_merged(&parts);
            let agree = merged.as_ref().is_ok_and(|(data, errors)| {
                *data == whole["data"] && comparable(errors) == comparable_of(&whole)
            });
            if agree {
                check_has_next(&parts, body);
                return parts.len();
            }
            last = Some((whole, parts));
        }
        let (whole, parts) = last.expect("asked");
        panic!(
            "generated document {i} (seed {seed:#x}) in parts does not merge into its whole \
             answer:\n{body}\nwhole: {whole:#}\nparts: {parts:#?}"
        );
    }))
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    let in_parts = compared.iter().filter(|n| **n > 1).count();
    eprintln!(
        "{DEFERRED_DOCUMENTS} generated documents with @defer and @stream: {in_parts} answered \
         in parts ({} parts), the rest whole",
        compared.iter().sum::<usize>()
    );
    assert!(
        in_parts > DEFERRED_DOCUMENTS / 4,
        "too few documents came in parts: {in_parts}"
    );
}

/// Errors as two answers to one request can share them: path, message and code, sorted
/// (each answer has its own request id).
fn comparable(errors: &[Value]) -> Vec<String> {
    let mut errors: Vec<String> = (errors.iter())
        .map(|e| format!("{} {} {}", e["path"], e["message"], e["extensions"]["code"]))
        .collect();
    errors.sort();
    errors
}

fn comparable_of(answer: &Value) -> Vec<String> {
    comparable(
        answer["errors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
}

/// Every part but the last says more follow; an answer that came whole says nothing.
fn check_has_next(parts: &[Value], body: &Value) {
    if let [whole] = parts {
        assert!(whole.get("hasNext").is_none(), "{body}: {whole}");
        return;
    }
    let (last, before) = parts.split_last().expect("parts");
    assert_eq!(last["hasNext"], false, "{body}: {parts:#?}");
    for part in before {
        assert_eq!(part["hasNext"], true, "{body}: {parts:#?}");
    }
}

/// The web app's operations (`operations/*.graphql`), by file name.
fn web_app_operations() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("operations");
    let paths = std::fs::read_dir(&dir)
        .expect("operations/")
        .map(|e| e.unwrap().path());
    let mut operations: Vec<(String, String)> = (paths)
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .map(|path| {
            (
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    operations.sort();
    operations
}

/// The queries of README.md's "Example queries": the curl example's and each query of the
/// `graphql` block, where every example follows a `#` comment line (mutations left out).
fn readme_examples() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Example queries")
        .nth(1)
        .expect("README.md has examples");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut examples: Vec<String> = (section.lines())
        .filter_map(|line| line.trim().strip_prefix("-d '")?.strip_suffix('\''))
        .map(|body| serde_json::from_str::<Value>(body).expect("the curl body is JSON"))
        .map(|body| body["query"].as_str().expect("a query").to_owned())
        .collect();
    let block = section
        .split("```graphql")
        .nth(1)
        .and_then(|b| b.split("```").next());
    let mut current = String::new();
    for line in block.expect("a graphql block").lines().chain(["#"]) {
        if line.starts_with('#') {
            if !current.trim().is_empty() && !current.trim_start().starts_with("mutation") {
                examples.push(std::mem::take(&mut current));
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    examples
}

/// Variable sets tried for each fixed document.
const VARIANTS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_operations_and_readme_examples_are_answered_as_they_say() {
    let (app, types, schema, fixture) = setup().await;
    let mut generator = Generator::new(&schema, &fixture, SEED);
    let operations = web_app_operations();
    assert_eq!(
        operations.len(),
        5,
        "operations/ holds the web app's five operations"
    );
    let examples = readme_examples();
    assert!(
        examples.len() >= 8,
        "README.md's example queries were not found: {examples:?}"
    );
    let documents = (operations.into_iter()).chain(
        (examples.into_iter().enumerate()).map(|(i, q)| (format!("README.md example {i}"), q)),
    );
    let mut cases = Vec::new();
    for (origin, query) in documents {
        for _ in 0..VARIANTS {
            let variables = generator.variables_for(&query);
            let (origin, query) = (origin.clone(), query.clone());
            cases.push(Case {
                origin,
                query,
                variables,
            });
        }
    }
    let bodies = assert_conform(&app, &types, &cases).await;
    assert!(bodies.iter().any(|b| b["data"] != Value::Null));
}

/// Documents that fail in part or whole (each answer must carry errors); `$p` is a product's
/// global id, `$c` a collage's.
const FAILING: &[&str] = &[
    "{ collages(first: 101) { nodes { id } } }",
    "{ collages(first: -1) { totalCount } brands(first: 2) { totalCount nodes { name } } }",
    r#"{ collage(id: "bad") { id } }"#,
    "{ collages(first: 3) { nodes { title items(first: 60) { x } } } }",
    "{ a: collages(first: 2) { nodes { items(first: 60) { x } } } b: brands(first: 101) { totalCount } }",
    "query($c: ID!) { collage(id: $c) { title items(first: 60) { x } author { username } } }",
    r#"{ brands(first: 2, after: "bm90IGEgY3Vyc29y") { totalCount } brand(slug: "x") { id } }"#,
    "query($p: ID!) { product(id: $p, databaseId: 1) { id } }",
    "{ product { id } }",
    "{ searchProducts(filter: { price: { min: 10, max: 5 } }) { totalCount } }",
    r#"{ searchProducts(first: 2, after: "bm90IGEgY3Vyc29y") { totalCount } }"#,
    r#"{ suggest(prefix: "a", first: 51) { text } }"#,
    "query($p: ID!) { product(id: $p) { name similar(first: 60) { id } } }",
    r#"query($p: ID!, $c: ID!) { node(id: "bad") { id } nodes(ids: ["bad", $p, $c]) { id } }"#,
    "query($p: ID!) { product(id: $p) { collages(first: 101) { totalCount } brand { products(first: -1) { totalCount } } } }",
    "query($n: Int = 500) { brands(first: $n) { totalCount } }",
];

/// Selections that leave an object with no field (all skipped or left out by type
/// conditions): the object is `{}`, as the specification says.
const CORNERS: &[&str] = &[
    "{ brands(first: 2) { edges @include(if: false) { cursor } } categories { slug @skip(if: true) } }",
    "query($p: ID!) { node(id: $p) { ... on Brand { name } } nodes(ids: [$p]) { ... on Shop { name } } }",
];

#[tokio::test]
async fn failing_and_corner_case_documents_are_answered_as_they_say() {
    let app = app();
    let types = Types::new(&published_schema());
    let db = sql(fixture_database()).await;
    let product = column(&db, "SELECT CAST(MIN(id) AS CHAR) FROM products").await;
    let collage = column(&db, "SELECT CAST(MIN(id) AS CHAR) FROM collages").await;
    let variables = json!({
        "p": global_id("Product", product[0].parse().unwrap()),
        "c": global_id("Collage", collage[0].parse().unwrap()),
    });
    let cases: Vec<Case> = (FAILING.iter().chain(CORNERS).enumerate())
        .map(|(i, query)| Case {
            origin: format!("failing or corner case document {i}"),
            query: (*query).to_owned(),
            variables: variables.clone(),
        })
        .collect();
    let bodies = assert_conform(&app, &types, &cases).await;
    for (case, body) in cases.iter().zip(&bodies).take(FAILING.len()) {
        assert!(
            body.get("errors").is_some(),
            "meant to fail, did not: {}",
            case.query
        );
    }
    let corners = &bodies[FAILING.len()..];
    assert_eq!(
        corners[0]["data"]["categories"][0],
        json!({}),
        "{}",
        corners[0]
    );
    assert_eq!(corners[1]["data"]["node"], json!({}), "{}", corners[1]);
}

/// A key selected twice is one object with both selections' fields, as the specification
/// merges them, also where one selection's field fails.
#[tokio::test]
async fn a_key_selected_twice_is_one_object_where_one_selection_fails() {
    let app = app();
    let db = sql(fixture_database()).await;
    let (id, title): (i64, String) =
        sqlx::query_as("SELECT id, title FROM collages ORDER BY id LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    let (status, body) = app
        .post(
            "/graphql",
            json!({
                "query": "query($c: ID!) { a: collage(id: $c) { title } \
                          a: collage(id: $c) { items(first: 60) { x } } }",
                "variables": { "c": global_id("Collage", id) },
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"],
        json!({ "a": { "title": title, "items": null } }),
        "{body}"
    );
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["a", "items"]));
}

/// The checks themselves: an answer that breaks each rule is caught.
#[test]
fn the_checks_catch_answers_that_break_the_rules() {
    let types = Types::new(&published_schema());
    let case = |query: &str| Case {
        origin: "a check".to_owned(),
        query: query.to_owned(),
        variables: json!({}),
    };
    let brand = global_id("Brand", 3);
    let wrong = [
        // A key missing, and keys out of order.
        (
            "{ brands(first: 1) { totalCount } }",
            json!({"data": {"brands": {}}}),
        ),
        (
            "{ brands { totalCount pageInfo { hasNextPage } } }",
            json!({"data": {"brands": {"pageInfo": {"hasNextPage": true}, "totalCount": 1}}}),
        ),
        // A wrong scalar, a wrong enum value, a null where the schema forbids one.
        (
            "{ brands { totalCount } }",
            json!({"data": {"brands": {"totalCount": "1"}}}),
        ),
        (
            "{ suggest(prefix: \"a\") { type } }",
            json!({"data": {"suggest": [{"type": "SHOP"}]}}),
        ),
        (
            "{ brands { totalCount } }",
            json!({"data": {"brands": {"totalCount": null}}}),
        ),
        // An id of another type, and one that disagrees with its databaseId.
        (
            "{ shop(slug: \"s\") { id } }",
            json!({"data": {"shop": {"id": brand}}}),
        ),
        (
            "{ brand(slug: \"s\") { id databaseId } }",
            json!({"data": {"brand": {"id": brand, "databaseId": 4}}}),
        ),
        // An internal error.
        (
            "{ brand(slug: \"s\") { id } }",
            json!({"data": {"brand": null}, "errors": [{"message": "x", "path": ["brand"],
                "locations": [{"line": 1, "column": 3}], "extensions": {"code": "INTERNAL"}}]}),
        ),
    ];
    for (query, answer) in wrong {
        let raw = answer.to_string().into_bytes();
        let found = problems(&types, &case(query), StatusCode::OK, &raw);
        assert!(!found.is_empty(), "{query} {answer} passed the checks");
    }
    // Written out: `json!` would sort the keys.
    let right = format!(r#"{{"data":{{"brand":{{"id":"{brand}","databaseId":3}}}}}}"#);
    let query = "{ brand(slug: \"s\") { id databaseId } }";
    let found = problems(&types, &case(query), StatusCode::OK, right.as_bytes());
    assert!(found.is_empty(), "{found:?}");
}
