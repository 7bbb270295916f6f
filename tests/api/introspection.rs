//! Introspection as client tools send it. The documents are graphql-js's own
//! (`getIntrospectionQuery`, every combination of its options), built by the graphql-js that
//! GraphiQL is pinned with (`web/graphiql`), which is also what graphql-codegen, Apollo
//! Sandbox, Postman and Insomnia call. Each must pass the default limits and return the
//! schema of `schema.graphql`; its cost must bound what it returns. The hostile forms (deep
//! `ofType` chains, aliased copies of `__schema`) are in `hostile.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use serde_json::{Value, json};

use crate::helpers::{self, TestApp};

/// The options of graphql-js 16's `getIntrospectionQuery`.
const OPTIONS: [&str; 6] = [
    "descriptions",
    "specifiedByUrl",
    "directiveIsRepeatable",
    "schemaDescription",
    "inputValueDeprecation",
    "oneOf",
];

/// `(options set to true, document)` for every combination of the options, from graphql-js.
pub(crate) fn standard_documents() -> Vec<(String, String)> {
    let graphql = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/web/graphiql/node_modules/graphql"
    );
    let script = format!(
        "const {{ getIntrospectionQuery }} = require({graphql:?});
         const names = {names};
         const out = [];
         for (let bits = 0; bits < 1 << names.length; bits++) {{
           const options = {{}};
           names.forEach((name, i) => {{ options[name] = (bits & (1 << i)) !== 0; }});
           const on = names.filter((name) => options[name]).join(',');
           out.push([on || '(none)', getIntrospectionQuery(options)]);
         }}
         process.stdout.write(JSON.stringify(out));",
        names = serde_json::to_string(&OPTIONS).unwrap(),
    );
    let output = Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node runs (the build installs web/graphiql with npm)");
    assert!(
        output.status.success(),
        "graphql-js's getIntrospectionQuery: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("documents as JSON")
}

/// The document with every option on: what graphql-codegen and GraphiQL ask for at most.
pub(crate) fn full_document() -> String {
    standard_documents()
        .into_iter()
        .find(|(on, _)| on.split(',').count() == OPTIONS.len())
        .expect("the document with every option")
        .1
}

/// Each type of `schema.graphql` with its fields (object, interface and input types) or
/// values (enums): what introspection must return, read from the published SDL.
fn published_types() -> BTreeMap<String, BTreeSet<String>> {
    let document = helpers::published_schema();
    let mut types = BTreeMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let members: BTreeSet<String> = match ty.kind {
            TypeKind::Object(object) => object
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            TypeKind::Interface(interface) => interface
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            TypeKind::InputObject(input) => input
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            TypeKind::Enum(values) => values
                .values
                .iter()
                .map(|v| v.node.value.node.to_string())
                .collect(),
            TypeKind::Scalar | TypeKind::Union(_) => BTreeSet::new(),
        };
        types.insert(ty.name.node.to_string(), members);
    }
    types
}

/// How deep each field's and argument's type is wrapped in `schema.graphql`: `Product` is
/// 0, `[Product!]!` is 3.
fn published_wrappings() -> Vec<usize> {
    fn depth(ty: &Type) -> usize {
        usize::from(!ty.nullable)
            + match &ty.base {
                BaseType::Named(_) => 0,
                BaseType::List(item) => 1 + depth(item),
            }
    }
    let mut depths = Vec::new();
    for definition in helpers::published_schema().definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let fields = match ty.node.kind {
            TypeKind::Object(object) => object.fields,
            TypeKind::Interface(interface) => interface.fields,
            _ => continue,
        };
        for field in fields {
            depths.push(depth(&field.node.ty.node));
            depths.extend(field.node.arguments.iter().map(|a| depth(&a.node.ty.node)));
        }
    }
    depths
}

/// The same, from an introspection result (`__`-types left out, as SDL leaves them out;
/// the built-in scalars too).
fn introspected_types(schema: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    schema["types"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(|ty| {
            let name = ty["name"].as_str().expect("a named type");
            if name.starts_with("__") || builtin.contains(&name) {
                return None;
            }
            let members = ["fields", "inputFields", "enumValues"]
                .iter()
                .filter_map(|list| ty[list].as_array())
                .flatten()
                .map(|member| member["name"].as_str().expect("name").to_owned())
                .collect();
            Some((name.to_owned(), members))
        })
        .collect()
}

/// The values a response's data holds, counted as the gateway's actual cost counts them:
/// each field of each object, list items one by one.
fn returned_fields(value: &Value) -> u64 {
    match value {
        Value::Object(fields) => {
            fields.len() as u64 + fields.values().map(returned_fields).sum::<u64>()
        }
        Value::Array(items) => items.iter().map(returned_fields).sum(),
        _ => 0,
    }
}

/// Sends `document` and returns the whole response, after checking it has no error.
async fn introspect(app: &TestApp, document: &str, what: &str) -> Value {
    let (status, body) = app
        .post(
            "/graphql",
            json!({"query": document, "operationName": "IntrospectionQuery"}),
        )
        .await;
    assert_eq!(status, 200, "{what}: {body}");
    assert!(body.get("errors").is_none(), "{what}: {body}");
    body
}

#[tokio::test]
async fn every_standard_introspection_document_passes_the_default_limits_and_returns_the_schema() {
    // 64 full introspections in a row would spend a client's default budget (about 4,000
    // points each): budgets are tested in `protection.rs`, the documents here.
    let app = TestApp::new(&["--cost-budget", "0"]);
    let published = published_types();
    let documents = standard_documents();
    assert_eq!(documents.len(), 1 << OPTIONS.len());
    let mut costs = Vec::new();
    for (options, document) in &documents {
        let what = format!("getIntrospectionQuery with {options}");
        let body = introspect(&app, document, &what).await;
        let schema = &body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query", "{what}");
        assert_eq!(schema["mutationType"]["name"], "Mutation", "{what}");
        assert_eq!(introspected_types(schema), published, "{what}");
        if options.contains("schemaDescription") {
            // schema.graphql has no schema description, so neither has introspection.
            assert_eq!(schema["description"], Value::Null, "{what}");
        }

        // Its cost is counted from this schema, and bounds what came back.
        let requested = body["extensions"]["cost"]["requested"]
            .as_u64()
            .expect("requested cost");
        let actual = body["extensions"]["cost"]["actual"]
            .as_u64()
            .expect("actual cost");
        let returned = returned_fields(&body["data"]);
        assert_eq!(
            actual, returned,
            "{what}: the actual cost is what came back"
        );
        assert!(
            requested >= returned,
            "{what}: requested {requested} is below the {returned} values returned"
        );
        costs.push((requested, returned));
    }
    // Far more than validation's complexity, which weighs each field of the document once.
    let (requested, returned) = *costs.iter().max().expect("costs");
    assert!(
        requested > 1_000 && returned > 1_000,
        "the full introspection costs {requested} for {returned} values"
    );
}

#[tokio::test]
async fn of_type_chains_return_only_the_type_nesting_this_schema_has() {
    // The deepest wrapping in schema.graphql, e.g. `[Product!]!` is three.
    let deepest = published_wrappings()
        .into_iter()
        .max()
        .expect("wrapped types");
    let app = TestApp::new(&[]);
    // 20 `ofType` levels (graphql-js asks for 9): past the schema's nesting every level is
    // null, and the cost counts only what returns.
    let chain = (0..20).fold("name".to_owned(), |inner, _| {
        format!("kind ofType {{ {inner} }}")
    });
    let document = format!(
        "query IntrospectionQuery {{ __schema {{ types {{ fields {{ type {{ {chain} }} }} }} }} }}"
    );
    let body = introspect(&app, &document, "a 20-level ofType chain").await;
    let mut levels = 0;
    for ty in body["data"]["__schema"]["types"].as_array().unwrap() {
        for field in ty["fields"].as_array().into_iter().flatten() {
            let mut depth = 0;
            let mut reference = &field["type"];
            while !reference["ofType"].is_null() {
                depth += 1;
                reference = &reference["ofType"];
            }
            levels = levels.max(depth);
        }
    }
    assert!(
        levels > 0 && levels <= deepest,
        "ofType went {levels} levels; the schema wraps at most {deepest}"
    );
    let requested = body["extensions"]["cost"]["requested"].as_u64().unwrap();
    let returned = returned_fields(&body["data"]);
    assert!(
        requested >= returned && requested < returned + 200,
        "requested {requested} for {returned} values: the chain past the schema's nesting \
         must cost nothing"
    );
}

#[tokio::test]
async fn introspection_turned_off_refuses_the_standard_documents() {
    let closed = TestApp::new(&["--introspection", "false"]);
    for (options, document) in standard_documents().iter().step_by(7) {
        let (_, body) = closed.post("/graphql", json!({"query": document})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INTROSPECTION_DISABLED",
            "with {options}: {body}"
        );
        assert!(body.get("data").is_none(), "{body}");
    }
}

#[tokio::test]
async fn a_schema_without_a_description_answers_null_under_aliases_and_fragments() {
    let app = TestApp::new(&[]);
    let data = app
        .query(
            "query IntrospectionQuery { s: __schema { ...D queryType { description } } \
             __schema { description } } \
             fragment D on __Schema { d: description ... on __Schema { description } }",
            json!({}),
        )
        .await;
    assert_eq!(data["s"]["d"], Value::Null, "{data}");
    assert_eq!(data["s"]["description"], Value::Null, "{data}");
    assert_eq!(data["__schema"]["description"], Value::Null, "{data}");
    // Types keep their descriptions: only the schema's is corrected.
    let query_described = helpers::published_schema()
        .definitions
        .iter()
        .any(|definition| match definition {
            TypeSystemDefinition::Type(ty) => {
                ty.node.name.node == "Query" && ty.node.description.is_some()
            }
            _ => false,
        });
    assert!(query_described, "schema.graphql describes Query");
    assert!(data["s"]["queryType"]["description"].is_string(), "{data}");
}
