//! The web app's five operations (`operations/*.graphql`, the documents client teams
//! generate typed clients from) run against the fixture with real ids: a schema change that
//! breaks one of them fails here. They also run as trusted documents, by hash alone, from
//! the manifest `scripts/trusted-manifest` makes of the same files.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::{TestApp, fixture_database, sha256_hex, sql};

/// Every operation document, by name.
fn documents() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("operations");
    let mut documents: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("operations/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    documents.sort();
    documents
}

/// Variables for each operation, from the fixture database.
async fn variables(name: &str) -> Value {
    let db = sql(fixture_database()).await;
    let one = |query: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>(query)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    match name {
        "ProductPage" => {
            let id = one("SELECT CAST(MIN(id) AS CHAR) FROM products").await;
            json!({"databaseId": id.parse::<i64>().unwrap()})
        }
        "CollagePage" => {
            let id = one("SELECT CAST(MIN(id) AS CHAR) FROM collages").await;
            json!({"id": ogrom_global_id("Collage", &id)})
        }
        "ProfilePage" => json!({"username": one("SELECT MIN(username) FROM users").await}),
        "SearchPage" => json!({"query": "dress"}),
        "HomeFeed" => json!({}),
        other => panic!("no variables for a new operation {other}: add them here"),
    }
}

/// A global id as the API documents them (URL-safe base64 of `Type:id`, unpadded).
fn ogrom_global_id(kind: &str, id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// Codes a page may legitimately carry here: the partner stand-in is not running in these
/// tests, so live offers are unavailable; nothing else may go wrong.
fn unexpected_errors(body: &Value) -> Vec<Value> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            let code = e["extensions"]["code"].as_str().unwrap_or_default();
            let offers = e["path"]
                .as_array()
                .is_some_and(|path| path.iter().any(|p| p == "offers"));
            !(offers && code.starts_with("UPSTREAM_"))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_web_apps_operations_run_against_the_schema() {
    let app = TestApp::new(&["--elasticsearch-index", crate::search::fixture_alias()]);
    let documents = documents();
    assert_eq!(documents.len(), 5, "the five everyday operations");
    for (name, query) in documents {
        let variables = variables(&name).await;
        let (status, body) = app
            .post(
                "/graphql",
                json!({"query": query, "operationName": name, "variables": variables}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(unexpected_errors(&body).is_empty(), "{name}: {body}");
        let data = body["data"].as_object().expect("data");
        assert!(
            data.values().all(|v| !v.is_null()),
            "{name} found what it asked for: {body}"
        );
    }
}

#[tokio::test]
async fn the_same_documents_run_as_trusted_documents_by_hash() {
    let documents = documents();
    // The manifest operators deploy, from the script that makes it.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/trusted-manifest");
    let output = std::process::Command::new("bash")
        .arg(script)
        .output()
        .expect("scripts/trusted-manifest runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = std::env::temp_dir().join(format!("ogrom-operations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, &output.stdout).unwrap();
    let app = TestApp::new(&[
        "--elasticsearch-index",
        crate::search::fixture_alias(),
        "--trusted-documents",
        manifest.to_str().unwrap(),
    ]);
    for (name, body) in &documents {
        let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(body)}});
        let variables = variables(name).await;
        let (status, answer) = app
            .post(
                "/graphql",
                json!({"operationName": name, "variables": variables, "extensions": extensions}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {answer}");
        assert!(unexpected_errors(&answer).is_empty(), "{name}: {answer}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The gateway over the fixture with handles on all three backends' counters: a MySQL pool,
/// an Elasticsearch client, and a partner stand-in.
async fn counted() -> (
    TestApp,
    ogrom::sources::mysql::MySql,
    ogrom::sources::elasticsearch::Elasticsearch,
    ogrom::run::partner_stub::StubHandle,
) {
    use crate::helpers::{
        BATCH_WINDOW_US, database_url, elasticsearch_handle, elasticsearch_url, mysql_handle,
        serve_args,
    };
    let (partner_url, stub) = crate::helpers::partner_stub("counted-key").await;
    let database = fixture_database();
    let args = serve_args(
        &database_url(database),
        &[
            "--partner-url",
            &partner_url,
            "--partner-api-key",
            "counted-key",
            "--offers-cache-ttl-ms",
            "0",
            "--loader-delay-us",
            BATCH_WINDOW_US,
            "--elasticsearch-index",
            crate::search::fixture_alias(),
        ],
    );
    let mysql = mysql_handle(database, 4);
    let es = elasticsearch_handle(&elasticsearch_url());
    let partner =
        ogrom::sources::partner::PartnerClient::new(ogrom::run::partner_settings(&args.partner))
            .unwrap();
    let app = TestApp::with_all(&args, mysql.clone(), es.clone(), partner);
    (app, mysql, es, stub)
}

/// Variables that reach every level of a page: a product that collages use, a user with
/// collages and likes.
async fn rich_variables(name: &str) -> Value {
    let db = sql(fixture_database()).await;
    match name {
        "ProductPage" => {
            let id: i32 = sqlx::query_scalar(
                "SELECT product_id FROM collage_items GROUP BY product_id \
                 ORDER BY COUNT(*) DESC, product_id LIMIT 1",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            json!({"databaseId": id})
        }
        "ProfilePage" => {
            let username: String = sqlx::query_scalar(
                "SELECT u.username FROM users u \
                 WHERE EXISTS (SELECT 1 FROM collages c WHERE c.user_id = u.id) \
                 AND EXISTS (SELECT 1 FROM product_likes l WHERE l.user_id = u.id) \
                 ORDER BY u.id LIMIT 1",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            json!({"username": username})
        }
        other => variables(other).await,
    }
}

/// Backend calls of the five pages, anonymous, against the most their shapes allow: one call
/// per kind of thing per level of the page (each line says which). Fewer SQL statements are
/// possible where a level finds everything in the request's loader cache already (similar
/// products of the page's own brand, facet categories whose parents are facet categories
/// too); more means a batch was split or a loader bypassed.
#[tokio::test]
async fn each_page_costs_one_backend_call_per_entity_type_per_level() {
    let (app, mysql, es, stub) = counted().await;
    // (operation, SQL statements, Elasticsearch requests, partner calls)
    let expected = [
        // collage; its tags, author, items; their products; the products' brands, shops.
        ("CollagePage", 7, 0, 0),
        // collages; their tags, authors, items; the items' products; the products' brands.
        ("HomeFeed", 6, 0, 0),
        // product; brand, shop, category, collages page and count; the category's path,
        // the collages' authors, the similar products; their brands. One search for similar
        // products, one partner call for offers.
        ("ProductPage", 10, 1, 1),
        // user; collages page and count, liked page and count; the collages' items, the
        // liked products; the items' products, the liked products' brands.
        ("ProfilePage", 8, 0, 0),
        // one search (hits and facets); the hits' products; their brands together with the
        // brand facet's brands, the category facet's categories; those categories' parents.
        ("SearchPage", 4, 1, 0),
    ];
    let documents: HashMap<String, String> = documents().into_iter().collect();
    let mut measured = Vec::new();
    for (name, ..) in expected {
        let variables = rich_variables(name).await;
        let (sql, search, partner) = (mysql.statements(), es.requests(), stub.stats().calls);
        let (status, body) = app
            .post(
                "/graphql",
                json!({"query": documents[name], "operationName": name, "variables": variables}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.get("errors").is_none(), "{name}: {body}");
        measured.push((
            name,
            mysql.statements() - sql,
            es.requests() - search,
            stub.stats().calls - partner,
        ));
    }
    eprintln!("(page, SQL, Elasticsearch, partner): {measured:?}");
    for ((name, sql, search, partner), (_, most_sql, searches, partner_calls)) in
        measured.iter().zip(expected)
    {
        assert!(
            *sql <= most_sql,
            "{name}: {sql} statements, at most {most_sql}"
        );
        assert!(
            *sql >= most_sql - 2,
            "{name}: {sql} statements: data went missing?"
        );
        assert_eq!(*search, searches, "{name}: Elasticsearch requests");
        assert_eq!(*partner, partner_calls, "{name}: partner calls");
    }
}
