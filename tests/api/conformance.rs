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

use std::collections::HashMap;
use std::fmt;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Selection, SelectionSet, ServiceDocument, Type, TypeKind,
    TypeSystemDefinition,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use futures::{StreamExt as _, stream};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::documents::{Fixture, Generator, Schema as GeneratorSchema, global_id};
use crate::helpers::{TestApp, error_codes, fixture_database, published_schema, sql};
use crate::search::fixture_alias;

/// How many generated documents run; the seed makes them the same on every run.
const DOCUMENTS: usize = 2_000;
const SEED: u64 = 0x0D1F_F0C0_FFEE;
/// Requests in flight at once.
const IN_FLIGHT: usize = 24;
/// Codes an answer may carry; anything else (`INTERNAL` above all) fails the check.
const CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
];

/// A gateway over the fixture and its search index. Limits on documents are raised so that
/// generated documents reach the engine rather than the limit checks, and budgets are off.
fn app() -> TestApp {
    TestApp::new(&[
        "--elasticsearch-index",
        fixture_alias(),
        "--max-complexity",
        "10000000",
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

/// JSON with its objects' keys in the order they were written.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("not a JSON number"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Json::Object(fields))
            }
        }
        deserializer.deserialize_any(Read)
    }
}

/// What the checks need of the schema: fields' types, enums' values, interfaces' types.
struct Types {
    fields: HashMap<String, HashMap<String, Type>>,
    enums: HashMap<String, Vec<String>>,
    implementers: HashMap<String, Vec<String>>,
    objects: Vec<String>,
}

impl Types {
    fn new(schema: &ServiceDocument) -> Self {
        let mut types = Types {
            fields: HashMap::new(),
            enums: HashMap::new(),
            implementers: HashMap::new(),
            objects: Vec::new(),
        };
        for definition in &schema.definitions {
            let TypeSystemDefinition::Type(def) = definition else {
                continue;
            };
            let name = def.node.name.node.to_string();
            let fields = match &def.node.kind {
                TypeKind::Object(object) => {
                    types.objects.push(name.clone());
                    for interface in &object.implements {
                        (types.implementers.entry(interface.node.to_string()))
                            .or_default()
                            .push(name.clone());
                    }
                    &object.fields
                }
                TypeKind::Interface(interface) => &interface.fields,
                TypeKind::Enum(values) => {
                    let values = values.values.iter().map(|v| v.node.value.node.to_string());
                    types.enums.insert(name, values.collect());
                    continue;
                }
                _ => continue,
            };
            let fields = fields
                .iter()
                .map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone()));
            types.fields.insert(name, fields.collect());
        }
        types
    }

    /// The object types a value of `type_name` may be.
    fn possible(&self, type_name: &str) -> Vec<String> {
        match self.implementers.get(type_name) {
            Some(objects) => objects.clone(),
            None => vec![type_name.to_owned()],
        }
    }
}

/// One answer being checked against its document.
struct Check<'a> {
    types: &'a Types,
    document: &'a ExecutableDocument,
    variables: &'a Value,
    /// Paths that errors were reported at.
    failed: Vec<Vec<Value>>,
    problems: Vec<String>,
}

impl<'a> Check<'a> {
    /// The fields `sets` select on objects of `object`, merged by response key in order.
    fn fields(
        &self,
        object: &str,
        sets: &[&'a SelectionSet],
        out: &mut Vec<(String, Vec<&'a async_graphql::parser::types::Field>)>,
    ) {
        for set in sets {
            for item in &set.items {
                if !self.included(item.node.directives()) {
                    continue;
                }
                match &item.node {
                    Selection::Field(field) => {
                        let key = field.node.response_key().node.to_string();
                        match out.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, fields)) => fields.push(&field.node),
                            None => out.push((key, vec![&field.node])),
                        }
                    }
                    Selection::FragmentSpread(spread) => {
                        let fragment = &self.document.fragments[&spread.node.fragment_name.node];
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        if self.types.possible(on).iter().any(|t| t == object) {
                            self.fields(object, &[&fragment.node.selection_set.node], out);
                        }
                    }
                    Selection::InlineFragment(inline) => {
                        let applies = match &inline.node.type_condition {
                            Some(c) => (self.types.possible(c.node.on.node.as_str()))
                                .iter()
                                .any(|t| t == object),
                            None => true,
                        };
                        if applies {
                            self.fields(object, &[&inline.node.selection_set.node], out);
                        }
                    }
                }
            }
        }
    }

    fn included(
        &self,
        directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
    ) -> bool {
        directives.iter().all(|d| {
            let condition = match d.node.get_argument("if").map(|v| &v.node) {
                Some(async_graphql_value::Value::Boolean(b)) => *b,
                Some(async_graphql_value::Value::Variable(name)) => {
                    self.variables[name.as_str()].as_bool().unwrap_or(false)
                }
                _ => true,
            };
            match d.node.name.node.as_str() {
                "skip" => !condition,
                "include" => condition,
                _ => true,
            }
        })
    }

    fn problem(&mut self, path: &[Value], what: String) {
        self.problems
            .push(format!("at {}: {what}", Value::from(path.to_vec())));
    }

    /// Checks `value`, at `path`, of type `ty` selected by `sets`.
    fn value(&mut self, value: &Json, ty: &Type, sets: &[&'a SelectionSet], path: &mut Vec<Value>) {
        let failed = self.failed.contains(path);
        if *value == Json::Null {
            if !ty.nullable && !failed {
                self.problem(path, format!("null for {ty} without an error"));
            }
            return;
        }
        if failed {
            self.problem(path, "an error here, and a value".to_owned());
        }
        match (&ty.base, value) {
            (BaseType::List(item), Json::List(items)) => {
                for (i, element) in items.iter().enumerate() {
                    path.push(json!(i));
                    self.value(element, item, sets, path);
                    path.pop();
                }
            }
            (BaseType::List(_), other) => self.problem(path, format!("{other:?} for {ty}")),
            (BaseType::Named(name), value) => self.named(value, name.as_str(), sets, path),
        }
    }

    fn named(
        &mut self,
        value: &Json,
        name: &str,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Value>,
    ) {
        let valid = match (name, value) {
            ("Int", Json::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            ("Float", Json::Number(_)) => true,
            ("String" | "ID", Json::String(_)) => true,
            ("Boolean", Json::Bool(_)) => true,
            ("DateTime", Json::String(s)) => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            (name, Json::String(s)) if self.types.enums.contains_key(name) => {
                self.types.enums[name].contains(s)
            }
            (name, Json::Object(fields)) if self.types.fields.contains_key(name) => {
                self.object(fields, name, sets, path);
                true
            }
            _ => false,
        };
        if !valid {
            self.problem(path, format!("{value:?} is not a {name}"));
        }
    }

    /// Checks an object of `type_name` (an interface: one of its types, whichever the keys
    /// and `__typename` say).
    fn object(
        &mut self,
        fields: &[(String, Json)],
        type_name: &str,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Value>,
    ) {
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        let typename = fields.iter().find_map(|(_, v)| match v {
            Json::String(s) if self.types.objects.contains(s) => Some(s.as_str()),
            _ => None,
        });
        let mut candidates = Vec::new();
        for object in self.types.possible(type_name) {
            let mut selected = Vec::new();
            self.fields(&object, sets, &mut selected);
            let expected: Vec<&str> = selected.iter().map(|(k, _)| k.as_str()).collect();
            if expected == keys {
                candidates.push((object, selected));
            }
        }
        // Which of the types whose selection has these keys: the one `__typename` or the
        // global id names, else any.
        let id_kind = fields.iter().find_map(|(k, v)| match v {
            Json::String(id) if k == "id" => decoded_id(id).map(|(kind, _)| kind),
            _ => None,
        });
        let named = typename.map(str::to_owned).or(id_kind);
        let chosen = match named {
            Some(named) if candidates.iter().any(|(o, _)| *o == named) => {
                candidates.into_iter().find(|(o, _)| *o == named)
            }
            _ => candidates.into_iter().next(),
        };
        let Some((object, selected)) = chosen else {
            self.problem(
                path,
                format!("keys {keys:?} are no selection of {type_name}"),
            );
            return;
        };
        for ((key, value), (_, occurrences)) in fields.iter().zip(&selected) {
            let field = occurrences[0];
            path.push(json!(key));
            let name = field.name.node.as_str();
            if name == "__typename" {
                if *value != Json::String(object.clone()) {
                    self.problem(path, format!("{value:?} for an object of {object}"));
                }
            } else {
                let ty = self.types.fields[&object][name].clone();
                let below: Vec<&SelectionSet> =
                    occurrences.iter().map(|f| &f.selection_set.node).collect();
                self.value(value, &ty, &below, path);
            }
            path.pop();
        }
        self.ids(fields, &object, &selected, path);
    }

    /// An unaliased `id` decodes to the object's type and to its unaliased `databaseId`.
    fn ids(
        &mut self,
        fields: &[(String, Json)],
        object: &str,
        selected: &[(String, Vec<&async_graphql::parser::types::Field>)],
        path: &[Value],
    ) {
        let plain = |name: &str| {
            selected
                .iter()
                .zip(fields)
                .find_map(|((key, f), (_, value))| {
                    (key == name && f[0].name.node == name).then_some(value)
                })
        };
        let Some(Json::String(id)) = plain("id") else {
            return;
        };
        let Some((kind, number)) = decoded_id(id) else {
            self.problem(path, format!("id {id} is not a global id"));
            return;
        };
        if kind != object {
            self.problem(path, format!("id {id} is a {kind}'s, on a {object}"));
        }
        if let Some(Json::Number(database_id)) = plain("databaseId")
            && database_id.to_string() != number
        {
            self.problem(path, format!("id {id} and databaseId {database_id} differ"));
        }
    }
}

/// A global id's type and number.
fn decoded_id(id: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, number) = text.split_once(':')?;
    Some((kind.to_owned(), number.to_owned()))
}

/// An answer without what differs by request (request and trace ids).
fn without_ids(raw: &[u8]) -> Value {
    let mut body: Value = serde_json::from_slice(raw).expect("a JSON answer");
    for error in body["errors"].as_array_mut().into_iter().flatten() {
        if let Some(extensions) = error["extensions"].as_object_mut() {
            extensions.remove("requestId");
            extensions.remove("traceId");
        }
    }
    body
}

/// One request and where it came from, to report a problem so that it can be replayed.
struct Case {
    origin: String,
    query: String,
    variables: Value,
}

/// Checks an answer (status and raw body) to `case`; returns what is wrong with it.
fn problems(types: &Types, case: &Case, status: StatusCode, raw: &[u8]) -> Vec<String> {
    let body: Value = serde_json::from_slice(raw).expect("a JSON answer");
    let ordered: Json = serde_json::from_slice(raw).expect("a JSON answer");
    let mut found = Vec::new();
    if status != StatusCode::OK {
        found.push(format!("HTTP {status}"));
    }
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    for error in &errors {
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        // No partner runs beside these gateways: offers fail as it is unreachable.
        let offers = error["path"].as_array().and_then(|p| p.last()) == Some(&json!("offers"));
        if !(CODES.contains(&code) || (offers && code == "UPSTREAM_UNAVAILABLE")) {
            found.push(format!("error code {code:?}: {error}"));
        }
    }
    let mut failed = Vec::new();
    for error in &errors {
        let located = error["locations"].as_array().is_some_and(|l| !l.is_empty());
        match error["path"].as_array() {
            Some(path) if !path.is_empty() && located => failed.push(path.clone()),
            _ => found.push(format!("an error without its path or locations: {error}")),
        }
    }
    let document = async_graphql::parser::parse_query(&case.query).expect("the document parses");
    let Some((_, operation)) = document.operations.iter().next() else {
        return vec!["no operation".to_owned()];
    };
    let root = match operation.node.ty {
        async_graphql::parser::types::OperationType::Mutation => "Mutation",
        _ => "Query",
    };
    let mut variables = case.variables.clone();
    for definition in &operation.node.variable_definitions {
        let name = definition.node.name.node.to_string();
        if variables.get(&name).is_none()
            && let Some(default) = definition.node.default_value()
        {
            variables[name] = default.clone().into_json().expect("a JSON default");
        }
    }
    let mut check = Check {
        types,
        document: &document,
        variables: &variables,
        failed,
        problems: Vec::new(),
    };
    let data = match &ordered {
        Json::Object(fields) => fields.iter().find(|(k, _)| k == "data").map(|(_, v)| v),
        _ => None,
    };
    match data {
        Some(Json::Object(fields)) => {
            let set = &operation.node.selection_set.node;
            check.object(fields, root, &[set], &mut Vec::new());
        }
        other => found.push(format!("data is {other:?}")),
    }
    found.extend(check.problems);
    found
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
