//! `schema.graphql` is the contract client teams generate code from: it must equal the SDL
//! of the code, the gateway must serve exactly it, and `ogrom schema diff` tells which
//! changes to it break clients.

use std::process::Command;

use axum::body::Body;
use axum::http::Request;

use crate::helpers::TestApp;

const REGENERATE: &str = "schema.graphql is out of date with the code: regenerate it with \
    `cargo run --quiet -- schema > schema.graphql` and review the diff";

fn committed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists at the crate root")
}

#[test]
fn schema_graphql_equals_the_sdl_of_the_code() {
    assert!(ogrom::core::sdl().unwrap() == committed(), "{REGENERATE}");
}

#[tokio::test]
async fn the_gateway_serves_the_committed_schema() {
    let app = TestApp::new(&[]);
    let (status, headers, body) = app
        .send(Request::get("/schema.graphql").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        String::from_utf8(body).unwrap() == committed(),
        "{REGENERATE}"
    );
}

// `ogrom schema diff`: what CI gates on. The expected lines are the changes each fixture
// makes to `base.graphql`, as its header comment describes them.

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/schema/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs `ogrom schema diff` with these arguments: the exit status and the lines of stdout.
fn schema_diff(args: &[&str]) -> (Option<i32>, Vec<String>) {
    let output = Command::new(env!("CARGO_BIN_EXE_ogrom"))
        .args(["schema", "diff"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        output.status.code(),
        stdout.lines().map(str::to_owned).collect(),
    )
}

#[test]
fn a_breaking_change_fails_the_diff_and_names_each_change() {
    let (status, lines) = schema_diff(&[&fixture("base"), &fixture("breaking")]);
    assert_eq!(status, Some(1), "{lines:#?}");
    assert_eq!(
        lines,
        [
            "BREAKING  Brand.name: field removed without deprecation",
            "BREAKING  Query.brand: argument slug removed",
            "BREAKING  Query.brand: required argument id added",
            "3 changes: 3 breaking, 0 dangerous, 0 safe",
        ]
    );
}

#[test]
fn dangerous_changes_are_listed_but_pass() {
    let (status, lines) = schema_diff(&[&fixture("base"), &fixture("dangerous")]);
    assert_eq!(status, Some(0), "{lines:#?}");
    assert_eq!(
        lines,
        [
            "DANGEROUS ProductSort.NEWEST: enum value added",
            "DANGEROUS Query.products: argument first default value changed from 20 to 24",
            "DANGEROUS Query.products: optional argument inStock added",
            "3 changes: 0 breaking, 3 dangerous, 0 safe",
        ]
    );
}

#[test]
fn safe_changes_pass() {
    let (status, lines) = schema_diff(&[&fixture("base"), &fixture("safe")]);
    assert_eq!(status, Some(0), "{lines:#?}");
    assert_eq!(
        lines,
        [
            "SAFE      Brand: description changed",
            "SAFE      Product.brand: type changed from Brand to Brand!",
            "SAFE      Product.description: field added",
            "3 changes: 0 breaking, 0 dangerous, 3 safe",
        ]
    );
}

#[test]
fn without_a_new_schema_the_diff_compares_with_the_code() {
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let (status, lines) = schema_diff(&[committed]);
    assert_eq!(status, Some(0), "{lines:#?}");
    assert_eq!(lines, ["no changes"]);
}

#[test]
fn a_schema_that_cannot_be_read_is_a_usage_error() {
    let missing = fixture("missing");
    let (status, lines) = schema_diff(&[&fixture("base"), &missing]);
    assert_eq!(status, Some(2));
    assert!(lines.is_empty(), "{lines:#?}");
    let not_sdl = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    assert_eq!(schema_diff(&[not_sdl]).0, Some(2));
}

// `scripts/schema-check`, run in a scratch git repository whose released `schema.graphql`
// had one more field on Query than the code has: the code removed it.

const NEVER_DEPRECATED: &str = "legacyBrands: Int";
const DEPRECATED: &str = "legacyBrands: Int @deprecated(reason: \"Use brands.\")";
const DECLARED: &str =
    "# Changelog\n\n## Unreleased\n\n- Breaking: Query.legacyBrands (use brands)\n";

/// A git repository with a copy of `scripts/schema-check`, deleted when dropped.
struct Repository(std::path::PathBuf);

impl Repository {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ogrom-schema-check-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("scripts")).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/schema-check");
        std::fs::copy(script, dir.join("scripts/schema-check")).unwrap();
        let repository = Repository(dir);
        repository.git(&["init", "--quiet"]);
        repository
    }

    /// Commits these files (name, content) with everything else already there.
    fn commit(&self, files: &[(&str, &str)]) {
        for (name, content) in files {
            std::fs::write(self.0.join(name), content).unwrap();
        }
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--message", "a change"]);
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            // Whoever runs the tests: no identity or signing key needed.
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.invalid",
            ])
            .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .args(args)
            .current_dir(&self.0)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// Runs the check with the binary under test: the exit status, and stdout then stderr.
    fn check(&self) -> (Option<i32>, String) {
        let output = Command::new("bash")
            .arg(self.0.join("scripts/schema-check"))
            .env("OGROM_BIN", env!("CARGO_BIN_EXE_ogrom"))
            .env_remove("OGROM_SCHEMA_BASE")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text.into_owned())
    }
}

impl Drop for Repository {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The committed schema with one more field on Query.
fn released_with(field: &str) -> String {
    let schema = committed();
    assert!(
        schema.contains("type Query {\n"),
        "schema.graphql has a Query type"
    );
    schema.replacen("type Query {\n", &format!("type Query {{\n\t{field}\n"), 1)
}

/// A repository whose previous commit released `released` and whose last commit has the
/// code's schema and `changelog`.
fn repository_after(name: &str, released: &str, changelog: &str) -> Repository {
    let repository = Repository::new(name);
    repository.commit(&[("schema.graphql", released)]);
    repository.commit(&[
        ("schema.graphql", &committed()),
        ("CHANGELOG.md", changelog),
    ]);
    repository
}

#[test]
fn schema_check_passes_a_declared_removal_of_a_deprecated_field() {
    let repository = repository_after("declared", &released_with(DEPRECATED), DECLARED);
    let (status, output) = repository.check();
    assert_eq!(status, Some(0), "{output}");
    assert!(
        output.contains("BREAKING  Query.legacyBrands: deprecated field removed"),
        "{output}"
    );
}

#[test]
fn schema_check_refuses_an_undeclared_breaking_change() {
    // Declared, but in a released section: it does not cover this change.
    let changelog = "# Changelog\n\n## Unreleased\n\n## 1.0\n\nBreaking: Query.legacyBrands\n";
    let repository = repository_after("undeclared", &released_with(DEPRECATED), changelog);
    let (status, output) = repository.check();
    assert_eq!(status, Some(1), "{output}");
    assert!(
        output.contains("undeclared breaking change to Query.legacyBrands"),
        "{output}"
    );
}

#[test]
fn schema_check_refuses_removing_a_field_that_was_never_deprecated_even_when_declared() {
    let repository = repository_after("not-deprecated", &released_with(NEVER_DEPRECATED), DECLARED);
    let (status, output) = repository.check();
    assert_eq!(status, Some(1), "{output}");
    assert!(
        output.contains(
            "Query.legacyBrands was not deprecated in the released schema: deprecate it first"
        ),
        "{output}"
    );
}

#[test]
fn schema_check_compares_with_the_newest_schema_release_tag_over_the_previous_commit() {
    let repository = Repository::new("tag");
    repository.commit(&[("schema.graphql", &released_with(DEPRECATED))]);
    repository.git(&["tag", "schema-v1"]);
    repository.commit(&[("schema.graphql", &committed())]);
    repository.commit(&[("CHANGELOG.md", "# Changelog\n\n## Unreleased\n")]);
    let (status, output) = repository.check();
    assert_eq!(status, Some(1), "{output}");
    assert!(output.contains("schema.graphql at schema-v1"), "{output}");
}

#[test]
fn schema_check_passes_when_nothing_was_released() {
    let repository = Repository::new("first");
    repository.commit(&[("schema.graphql", &committed())]);
    let (status, output) = repository.check();
    assert_eq!(status, Some(0), "{output}");
}

/// What the published schema says of one field's cost: its type, and its directives.
struct Published {
    ty: String,
    weight: u64,
    assumed_size: Option<u64>,
    slicing: Vec<String>,
    sized_fields: Vec<String>,
    /// The field's arguments' numeric defaults (a slicing argument left out takes its own).
    defaults: Vec<(String, u64)>,
}

/// Every object field of `schema.graphql`, with what its `@cost` and `@listSize` say.
fn published_costs() -> std::collections::HashMap<(String, String), Published> {
    use async_graphql::Value;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(committed()).expect("schema.graphql");
    let names = |value: Option<&Value>| match value {
        Some(Value::List(items)) => items
            .iter()
            .map(|v| v.to_string().replace('"', ""))
            .collect(),
        _ => Vec::new(),
    };
    let number = |value: Option<&Value>| match value {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    let mut fields = std::collections::HashMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(definition) = definition else {
            continue;
        };
        let TypeKind::Object(object) = &definition.node.kind else {
            continue;
        };
        // A type's own weight (`@cost` on the type), under the field name "": what each
        // object of it costs.
        for directive in &definition.node.directives {
            let directive = &directive.node;
            if directive.name.node == "cost" {
                let weight = directive.get_argument("weight").map(|v| &v.node);
                let key = (definition.node.name.node.to_string(), String::new());
                let published = Published {
                    ty: String::new(),
                    weight: number(weight).unwrap(),
                    assumed_size: None,
                    slicing: Vec::new(),
                    sized_fields: Vec::new(),
                    defaults: Vec::new(),
                };
                fields.insert(key, published);
            }
        }
        for field in &object.fields {
            let field = &field.node;
            let mut published = Published {
                ty: field.ty.node.to_string(),
                weight: 1,
                assumed_size: None,
                slicing: Vec::new(),
                sized_fields: Vec::new(),
                defaults: (field.arguments.iter())
                    .filter_map(|a| {
                        let default = number(a.node.default_value.as_ref().map(|v| &v.node))?;
                        Some((a.node.name.node.to_string(), default))
                    })
                    .collect(),
            };
            for directive in &field.directives {
                let directive = &directive.node;
                let argument = |name: &str| directive.get_argument(name).map(|v| &v.node);
                match directive.name.node.as_str() {
                    "cost" => published.weight = number(argument("weight")).unwrap(),
                    "listSize" => {
                        published.assumed_size = number(argument("assumedSize"));
                        published.slicing = names(argument("slicingArguments"));
                        published.sized_fields = names(argument("sizedFields"));
                    }
                    _ => {}
                }
            }
            let key = (
                definition.node.name.node.to_string(),
                field.name.node.to_string(),
            );
            fields.insert(key, published);
        }
    }
    fields
}

/// A client's reading of the cost specification over the published schema, for documents
/// of fields with literal arguments: a field costs its weight (1 here unless `@cost` says)
/// plus what is below it, times its list's size; a connection passes its size to its
/// `sizedFields`.
fn client_cost(
    published: &std::collections::HashMap<(String, String), Published>,
    type_name: &str,
    set: &async_graphql::parser::types::SelectionSet,
    sized: Option<(u64, &[String])>,
) -> u64 {
    use async_graphql::parser::types::Selection;
    let mut cost = 0;
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            panic!("only fields here");
        };
        let field = &field.node;
        let name = field.name.node.as_str();
        if name == "__typename" {
            continue;
        }
        let declared = &published[&(type_name.to_owned(), name.to_owned())];
        let child = declared.ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        let child_weight = published
            .get(&(child.to_owned(), String::new()))
            .map_or(0, |t| t.weight);
        let size = (declared.slicing.iter())
            .find_map(
                |argument| match field.get_argument(argument).map(|v| &v.node) {
                    Some(async_graphql_value::Value::Number(n)) => n.as_u64(),
                    _ => (declared.defaults.iter())
                        .find(|(name, _)| name == argument)
                        .map(|(_, default)| *default),
                },
            )
            .or(declared.assumed_size);
        let imposed =
            sized.and_then(|(size, fields)| fields.iter().any(|f| f == name).then_some(size));
        let (multiplier, below) = if declared.sized_fields.is_empty() {
            let size = if declared.slicing.is_empty() && declared.assumed_size.is_none() {
                imposed
            } else {
                size
            };
            let below = client_cost(published, child, &field.selection_set.node, None);
            (size.unwrap_or(1), below + child_weight)
        } else {
            let passed = (size.unwrap_or(1), declared.sized_fields.as_slice());
            (
                1,
                client_cost(published, child, &field.selection_set.node, Some(passed))
                    + child_weight,
            )
        };
        cost += multiplier * below + declared.weight;
    }
    cost
}

#[tokio::test]
async fn a_client_computes_the_gateways_cost_from_the_published_directives() {
    let published = published_costs();
    let searches = &published[&("Query".to_owned(), "searchProducts".to_owned())];
    assert_eq!(
        searches.sized_fields,
        ["edges", "nodes"],
        "a connection sizes its lists"
    );
    assert!(
        searches.weight > 1,
        "a search weighs what it asks of Elasticsearch"
    );
    let sdl = committed();
    for definition in [
        "directive @cost(weight: Int!)",
        "directive @listSize(assumedSize: Int",
    ] {
        assert!(
            sdl.contains(definition),
            "schema.graphql defines {definition}"
        );
    }

    // Above the default maximum, some of them: what is compared is the cost computed.
    let app = TestApp::new(&["--max-complexity", "1000000"]);
    let documents = [
        "{ brands(first: 3) { totalCount nodes { name products(first: 4) { nodes { name } } } } }",
        "{ categories { name children { name path { slug } } } }",
        "{ searchProducts(query: \"dress\", first: 7) { totalCount edges { cursor node { name \
          brand { name } similar(first: 3) { name } } } } }",
        "{ collages(first: 5) { nodes { title items(first: 6) { product { name } } \
          author { likedProducts(first: 2) { totalCount } } } } }",
        "{ suggest(prefix: \"a\") { __typename } }",
    ];
    for document in documents {
        let parsed = async_graphql::parser::parse_query(document).unwrap();
        let operation = parsed.operations.iter().next().unwrap().1;
        let expected = client_cost(
            &published,
            "Query",
            &operation.node.selection_set.node,
            None,
        );
        let (status, body) = app
            .post("/graphql", serde_json::json!({"query": document}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["extensions"]["cost"]["requested"], expected,
            "{document}: {body}"
        );
    }
}

#[tokio::test]
async fn the_actual_cost_counts_the_weights_of_what_was_answered_and_not_of_what_failed() {
    let published = published_costs();
    let weight =
        |type_name: &str, field: &str| published[&(type_name.to_owned(), field.to_owned())].weight;
    // Nothing matches: the search and the facet were asked all the same.
    let nothing = "{ searchProducts(query: \"qqqzzzxxqqq\", first: 5) { totalCount nodes { name } \
                   facets { colors { count } } } }";
    let app = TestApp::new(&["--elasticsearch-index", crate::search::fixture_alias()]);
    let (status, body) = app
        .post("/graphql", serde_json::json!({"query": nothing}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["searchProducts"]["totalCount"], 0, "{body}");
    assert_eq!(
        body["data"]["searchProducts"]["nodes"],
        serde_json::json!([]),
        "{body}"
    );
    // searchProducts, totalCount, nodes (empty), facets, colors (empty).
    let expected = weight("Query", "searchProducts")
        + weight("ProductSearchConnection", "totalCount")
        + weight("ProductSearchConnection", "nodes")
        + weight("ProductSearchConnection", "facets")
        + weight("ProductFacets", "colors");
    assert!(
        expected > 5 + 1000,
        "searches and facets weigh what they cost: {expected}"
    );
    assert_eq!(body["extensions"]["cost"]["actual"], expected, "{body}");

    // The search failed (no such index): the client pays for one field, not a search.
    let broken = TestApp::new(&["--elasticsearch-index", "ogrom_no_such_index"]);
    let (status, body) = broken
        .post("/graphql", serde_json::json!({"query": nothing}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_array(), "{body}");
    assert_eq!(body["extensions"]["cost"]["actual"], 1, "{body}");
    let requested = body["extensions"]["cost"]["requested"].as_u64().unwrap();
    let budget = &body["extensions"]["cost"]["budget"];
    // The rest of what was taken is given back (and the budget refills meanwhile).
    assert!(
        budget["remaining"].as_u64().unwrap() >= budget["capacity"].as_u64().unwrap() - 1,
        "{requested} points taken, all but 1 given back: {body}"
    );
}
