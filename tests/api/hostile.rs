//! Hostile requests, the attack classes of the OWASP GraphQL cheat sheet and of GraphQL
//! security scanners, against a gateway on a real socket: each gets its expected status and
//! `extensions.code`, while a normal query keeps being answered next to them and the process
//! stays up. Injection-shaped arguments are checked against the database afterwards.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Served, database_url, fixture_database, serve_args, sql};

/// What a case sends.
enum Send {
    /// A JSON body, POSTed as application/json.
    Json(Value),
    /// Raw bytes with a content type.
    Raw(&'static str, Vec<u8>),
    /// A GET of this path and query string, with these headers.
    Get(String, Vec<(&'static str, &'static str)>),
}

struct Case {
    name: &'static str,
    send: Send,
    status: u16,
    /// The code of the first error; `None`: the request must succeed without errors.
    code: Option<&'static str>,
}

fn query(text: impl Into<String>) -> Send {
    Send::Json(json!({"query": text.into()}))
}

fn case(name: &'static str, send: Send, status: u16, code: &'static str) -> Case {
    Case {
        name,
        send,
        status,
        code: Some(code),
    }
}

fn ok(name: &'static str, send: Send) -> Case {
    Case {
        name,
        send,
        status: 200,
        code: None,
    }
}

fn nested(depth: usize, open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

fn cases() -> Vec<Case> {
    let preflight = vec![("apollo-require-preflight", "true")];
    let laughs = {
        let mut doc = String::from("query Laughs { ...F0 }\n");
        for level in 0..9 {
            let spreads = format!(" ...F{}", level + 1).repeat(10);
            doc.push_str(&format!("fragment F{level} on Query {{ {spreads} }}\n"));
        }
        doc.push_str("fragment F9 on Query { __typename }\n");
        doc
    };
    let deep_fragments = {
        let mut doc = String::from("{ categories { ...C0 } }\n");
        for level in 0..15 {
            doc.push_str(&format!(
                "fragment C{level} on Category {{ children {{ ...C{} }} }}\n",
                level + 1
            ));
        }
        doc.push_str("fragment C15 on Category { slug }\n");
        doc
    };
    let many_operations: String = (0..12)
        .map(|i| format!("query Q{i} {{ __typename }}\n"))
        .collect();
    let aliases: String = (0..200).map(|i| format!("a{i}: totalCount ")).collect();
    let root_fields = "__typename ".repeat(25);
    let duplicated = format!("{{ categories {{ {} }} }}", "slug ".repeat(2500));
    let directives = format!(
        "{{ brands {} {{ totalCount }} }}",
        "@include(if: true) ".repeat(50)
    );
    let unknown_directives = format!("{{ __typename {} }}", "@a".repeat(1000));
    let tokens = format!("{{ {} }}", "a ".repeat(6000));
    let introspection_depth = format!(
        "{{ __schema {{ types {{ {} }} }} }}",
        nested(20, "fields { type { ", "name", " } }")
    );
    // The whole standard introspection, six times over under aliases.
    let introspection_copies = {
        let full = crate::introspection::full_document();
        let start = full.find("__schema {").expect("__schema") + "__schema ".len();
        let mut open = 0;
        let end = start
            + full[start..]
                .find(|c: char| {
                    open += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    open == 0
                })
                .expect("the end of __schema");
        let fragments = &full[full.find("fragment ").expect("fragments")..];
        let copies: String = (0..6)
            .map(|i| format!("s{i}: __schema {{ ...Everything }} "))
            .collect();
        format!(
            "query {{ {copies} }} fragment Everything on __Schema {} {fragments}",
            &full[start..=end]
        )
    };
    let of_type_chain = |levels: usize| {
        format!(
            "{{ __type(name: \"Product\") {{ fields {{ type {{ {} }} }} }} }}",
            nested(levels, "kind ofType { ", "name", " }")
        )
    };
    let batch: Vec<Value> = (0..100)
        .map(|_| json!({"query": "{ __typename }"}))
        .collect();
    let deep_variables = {
        let mut value = json!(1);
        for _ in 0..30 {
            value = json!({ "a": value });
        }
        value
    };
    let too_deep_json = format!(
        "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"v\": {}}}}}",
        nested(200, "[", "1", "]")
    );
    vec![
        // Deep nesting in selections and in the text.
        case(
            "deep selections",
            query(format!(
                "{{ categories {} }}",
                nested(14, "{ children ", "slug", " }")
            )),
            200,
            "QUERY_TOO_DEEP",
        ),
        case(
            "deep through fragments",
            query(deep_fragments),
            200,
            "QUERY_TOO_DEEP",
        ),
        case(
            "a bracket flood the parser would recurse on",
            query("{".repeat(30_000)),
            200,
            "NESTING_TOO_DEEP",
        ),
        case(
            "parentheses flood",
            query(format!("{{ brands{} }}", "(".repeat(20_000))),
            200,
            "NESTING_TOO_DEEP",
        ),
        case(
            "introspection nested deep",
            query(introspection_depth),
            200,
            "QUERY_TOO_DEEP",
        ),
        case(
            "aliased copies of the whole introspection",
            query(introspection_copies),
            200,
            "COST_LIMIT_EXCEEDED",
        ),
        case(
            "an ofType chain past the bracket nesting",
            query(of_type_chain(60)),
            200,
            "NESTING_TOO_DEEP",
        ),
        case(
            "an ofType chain past the executor's recursion limit",
            query(of_type_chain(40)),
            200,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ok(
            "an ofType chain far past graphql-js's nine: nulls past the schema's own",
            query(of_type_chain(24)),
        ),
        // Deep nesting in values and variables.
        case(
            "objects nested in an argument",
            query(format!(
                "{{ searchProducts(filter: {}) {{ totalCount }} }}",
                nested(12, "{a: ", "1", "}")
            )),
            200,
            "VALUE_TOO_DEEP",
        ),
        case(
            "lists nested in an argument",
            query(format!(
                "{{ nodes(ids: {}) {{ id }} }}",
                nested(20, "[", "\"x\"", "]")
            )),
            200,
            "VALUE_TOO_DEEP",
        ),
        case(
            "nested variable default",
            query(format!(
                "query($v: [[[[[[[[[[String]]]]]]]]]] = {}) {{ __typename }}",
                nested(10, "[", "\"x\"", "]")
            )),
            200,
            "VALUE_TOO_DEEP",
        ),
        case(
            "nested variables",
            Send::Json(
                json!({"query": "query($v: String) { __typename }", "variables": {"v": deep_variables}}),
            ),
            200,
            "VALUE_TOO_DEEP",
        ),
        case(
            "variables nested past the JSON parser's limit",
            Send::Raw("application/json", too_deep_json.into_bytes()),
            400,
            "BAD_REQUEST",
        ),
        // Fragment bombs and cycles.
        case("billion laughs", query(laughs), 200, "TOO_MANY_FIELDS"),
        case(
            "circular fragments",
            query("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            200,
            "FRAGMENT_CYCLE",
        ),
        case(
            "a fragment spreading itself",
            query("{ ...A } fragment A on Query { __typename ...A }"),
            200,
            "FRAGMENT_CYCLE",
        ),
        // Aliases and duplication.
        case(
            "alias flood",
            query(format!("{{ brands {{ {aliases} }} }}")),
            200,
            "TOO_MANY_ALIASES",
        ),
        case(
            "field duplication",
            query(duplicated),
            200,
            "TOO_MANY_FIELDS",
        ),
        case(
            "root field flood",
            query(format!("{{ {root_fields} }}")),
            200,
            "TOO_MANY_ROOT_FIELDS",
        ),
        // Directive overloading.
        case(
            "repeated directives",
            query(directives),
            200,
            "TOO_MANY_DIRECTIVES",
        ),
        case(
            "unknown directive flood",
            query(unknown_directives),
            200,
            "TOO_MANY_DIRECTIVES",
        ),
        // Batches, sizes, tokens, operations.
        case(
            "a batch of 100 operations",
            Send::Json(Value::Array(batch)),
            400,
            "BATCH_NOT_ALLOWED",
        ),
        case(
            "an empty batch",
            Send::Json(json!([])),
            400,
            "BATCH_NOT_ALLOWED",
        ),
        case(
            "a document over the size limit",
            query(format!("{{ __typename }}#{}", "x".repeat(40_000))),
            200,
            "DOCUMENT_TOO_LARGE",
        ),
        case(
            "a body over the body limit",
            query(" ".repeat(300_000)),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        case("a token flood", query(tokens), 200, "TOO_MANY_TOKENS"),
        case(
            "many operations",
            Send::Json(json!({"query": many_operations, "operationName": "Q1"})),
            200,
            "TOO_MANY_OPERATIONS",
        ),
        case(
            "an operation name that is not in the document",
            Send::Json(json!({"query": "query A { __typename }", "operationName": "B"})),
            200,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        case(
            "an unterminated string",
            query("{ brand(slug: \"abc) { name } }"),
            200,
            "GRAPHQL_PARSE_FAILED",
        ),
        case(
            "a NUL in the document",
            query("{ __typename \u{0} }"),
            200,
            "GRAPHQL_PARSE_FAILED",
        ),
        case(
            "a number where the query goes",
            Send::Json(json!({"query": 42})),
            400,
            "BAD_REQUEST",
        ),
        case(
            "variables that are a list",
            Send::Json(json!({"query": "{ __typename }", "variables": [1]})),
            400,
            "BAD_REQUEST",
        ),
        case(
            "a body that is not UTF-8",
            Send::Raw("application/json", vec![b'{', 0xff, 0xfe, b'}']),
            400,
            "BAD_REQUEST",
        ),
        case(
            "a 2^31 integer argument",
            query("{ product(databaseId: 2147483648) { name } }"),
            200,
            "BAD_USER_INPUT",
        ),
        case(
            "a page size of a billion",
            query("{ brands(first: 1000000000) { nodes { name } } }"),
            200,
            "COST_LIMIT_EXCEEDED",
        ),
        // Browser-shaped (CSRF) requests.
        case(
            "a GET without a preflight header",
            Send::Get("/graphql?query=%7B__typename%7D".into(), vec![]),
            400,
            "CSRF_PREVENTED",
        ),
        case(
            "a text/plain POST",
            Send::Raw("text/plain", br#"{"query":"{ __typename }"}"#.to_vec()),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        case(
            "a form POST",
            Send::Raw(
                "application/x-www-form-urlencoded",
                b"query=%7B__typename%7D".to_vec(),
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        case(
            "a multipart POST",
            Send::Raw(
                "multipart/form-data; boundary=x",
                b"--x\r\n\r\n{}\r\n--x--".to_vec(),
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        case(
            "a mutation over GET",
            Send::Get(
                "/graphql?query=mutation%7BlikeProduct(productId%3A%221%22)%7BlikeCount%7D%7D"
                    .into(),
                preflight.clone(),
            ),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        // Persisted queries.
        case(
            "a malformed persisted-query hash",
            Send::Json(
                json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "zz"}}}),
            ),
            400,
            "BAD_REQUEST",
        ),
        case(
            "a hash that is not the query's",
            Send::Json(
                json!({"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0".repeat(64)}}}),
            ),
            400,
            "PERSISTED_QUERY_HASH_MISMATCH",
        ),
        case(
            "an unknown persisted query",
            Send::Get(
                format!(
                    "/graphql?extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22{}%22%7D%7D",
                    "1".repeat(64)
                ),
                preflight.clone(),
            ),
            200,
            "PERSISTED_QUERY_NOT_FOUND",
        ),
        // Injection-shaped strings in arguments: plain data, or a clean refusal.
        ok(
            "SQL in a slug",
            query(r#"{ brand(slug: "' OR 1=1 --") { name } }"#),
        ),
        ok(
            "SQL in a username",
            query(r#"{ user(username: "admin'; DROP TABLE users; --") { username } }"#),
        ),
        ok(
            "a query-string attack in a search",
            query(
                r#"{ searchProducts(query: "*:* OR name:\"x\"^100 } ] ) { \"query_string\"") { totalCount } }"#,
            ),
        ),
        ok(
            "a script in a tag",
            query(r#"{ collages(tag: "<script>alert(1)</script>", first: 5) { totalCount } }"#),
        ),
        ok(
            "a NUL and a newline in a slug",
            query(r#"{ category(slug: "a\u0000b\nc") { name } }"#),
        ),
        ok(
            "a long slug",
            query(format!(
                r#"{{ brand(slug: "{}") {{ name }} }}"#,
                "x".repeat(20_000)
            )),
        ),
        case(
            "a path in a global id",
            query(r#"{ node(id: "../../etc/passwd") { id } }"#),
            200,
            "BAD_USER_INPUT",
        ),
        ok(
            "introspection stays available to client teams",
            query("{ __schema { queryType { name } types { name kind } } }"),
        ),
    ]
}

async fn send(client: &reqwest::Client, address: SocketAddr, send: &Send) -> reqwest::Response {
    let url = format!("http://{address}/graphql");
    let request = match send {
        Send::Json(body) => client.post(&url).json(body),
        Send::Raw(content_type, bytes) => client
            .post(&url)
            .header("content-type", *content_type)
            .body(bytes.clone()),
        Send::Get(path, headers) => {
            let mut request = client.get(format!("http://{address}{path}"));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request
        }
    };
    request.send().await.expect("the gateway answers")
}

#[tokio::test]
async fn hostile_requests_get_their_codes_while_normal_traffic_is_served() {
    let database = fixture_database();
    let db = sql(database).await;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    let brands: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&db)
        .await
        .unwrap();
    let args = serve_args(
        &database_url(database),
        &[
            "--elasticsearch-index",
            crate::search::fixture_alias(),
            "--shutdown-drain-ms",
            "0",
        ],
    );
    let served = Served::start(args).await;
    let address = served.address;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    // Normal traffic next to the attacks.
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let normal = tokio::spawn({
        let (client, done, answered) = (client.clone(), done.clone(), answered.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                let body: Value = send(&client, address, &query("{ brands { totalCount } }"))
                    .await
                    .json()
                    .await
                    .expect("JSON");
                assert_eq!(body["data"]["brands"]["totalCount"], brands, "{body}");
                answered.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    // Each case twice: a refused document is refused again, not found in a cache of
    // documents that passed (parsed documents are kept by text, see `http::parsed`).
    for (round, case) in [1, 2]
        .into_iter()
        .flat_map(|r| cases.iter().map(move |c| (r, c)))
    {
        let response = send(&client, address, &case.send).await;
        let status = response.status().as_u16();
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(error) => {
                failures.push(format!("{} ({round}): not JSON ({error})", case.name));
                continue;
            }
        };
        let code = body["errors"][0]["extensions"]["code"].as_str();
        let request_id = body["errors"][0]["extensions"]["requestId"].as_str();
        let fine = status == case.status
            && code == case.code
            && (case.code.is_none() || request_id.is_some())
            && (case.code.is_some() || body.get("errors").is_none());
        if !fine {
            failures.push(format!(
                "{} ({round}): expected {} {:?}, got {status} {code:?}: {}",
                case.name,
                case.status,
                case.code,
                body.to_string().chars().take(300).collect::<String>()
            ));
        }
    }
    done.store(true, Ordering::Relaxed);
    normal.await.expect("the normal query never failed");
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        answered.load(Ordering::Relaxed) > 0,
        "normal traffic was served meanwhile"
    );

    // Nothing was dropped by the injection-shaped arguments.
    let users_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(users_after, users);
    // Still up.
    let live = client
        .get(format!("http://{address}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    served.stopped().await.unwrap();
}
