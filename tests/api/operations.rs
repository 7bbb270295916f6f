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
async fn counted(
    extra: &[&str],
) -> (
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
    let mut flags = vec![
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
    ];
    flags.extend_from_slice(extra);
    let args = serve_args(&database_url(database), &flags);
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
/// too); more means a batch was split or a loader bypassed. Each page is asked of a fresh
/// gateway, then once more: the second time, the brands, shops, categories and category
/// paths it read are kept (for as long as the schema lets clients cache them), and only the
/// other statements run.
#[tokio::test]
async fn each_page_costs_one_backend_call_per_entity_type_per_level() {
    // (operation, SQL statements, Elasticsearch requests, partner calls, SQL statements the
    // second time)
    let expected = [
        // collage; its tags, author, items; their products; the products' brands, shops.
        // Again: without the brands and shops.
        ("CollagePage", 7, 0, 0, 5),
        // collages; their tags, authors, items; the items' products; the products' brands.
        // Again: without the brands.
        ("HomeFeed", 6, 0, 0, 5),
        // product; brand, shop, category, collages page and count; the category's path,
        // the collages' authors, the similar products; their brands. One search for similar
        // products, one partner call for offers. Again: the product, its collages (page and
        // count in one statement), their authors and the similar products.
        ("ProductPage", 10, 1, 1, 4),
        // user; collages page and count, liked page and count; the collages' items, the
        // liked products; the items' products, the liked products' brands. Again: without
        // the brands.
        ("ProfilePage", 8, 0, 0, 5),
        // one search (hits and facets); the hits' products; their brands together with the
        // brand facet's brands, the category facet's categories; those categories' parents.
        // Again: the hits' products alone.
        ("SearchPage", 4, 1, 0, 1),
    ];
    let documents: HashMap<String, String> = documents().into_iter().collect();
    let mut measured = Vec::new();
    for (name, ..) in expected {
        let (app, mysql, es, stub) = counted(&[]).await;
        let variables = rich_variables(name).await;
        let ask = async || {
            let (sql, search, partner) = (mysql.statements(), es.requests(), stub.stats().calls);
            let (status, body) = app
                .post(
                    "/graphql",
                    json!({"query": documents[name], "operationName": name, "variables": variables}),
                )
                .await;
            assert_eq!(status, 200, "{name}: {body}");
            assert!(body.get("errors").is_none(), "{name}: {body}");
            let calls = (
                mysql.statements() - sql,
                es.requests() - search,
                stub.stats().calls - partner,
            );
            let mut data = body["data"].clone();
            // The partner is asked each time (its cache is off here): when differs.
            if let Some(offers) = data.pointer_mut("/product/offers") {
                offers["fetchedAt"] = Value::Null;
            }
            (calls, data)
        };
        let ((sql, search, partner), first) = ask().await;
        let ((again, ..), second) = ask().await;
        assert_eq!(
            first, second,
            "{name}: the kept records answer as the tables do"
        );
        measured.push((name, sql, search, partner, again));
    }
    eprintln!("(page, SQL, Elasticsearch, partner, SQL again): {measured:?}");
    for ((name, sql, search, partner, again), (_, most_sql, searches, partner_calls, kept)) in
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
        assert_eq!(*again, kept, "{name}: statements the second time");
    }
}

/// Sends the product page with `debug` (if any) in the `ogrom-debug` header.
async fn product_page(app: &TestApp, debug: Option<&str>) -> (axum::http::HeaderMap, Value) {
    page(app, "ProductPage", debug).await
}

/// Sends the operation `name` with `debug` (if any) in the `ogrom-debug` header.
async fn page(app: &TestApp, name: &str, debug: Option<&str>) -> (axum::http::HeaderMap, Value) {
    let documents: HashMap<String, String> = documents().into_iter().collect();
    let body = json!({
        "query": documents[name],
        "operationName": name,
        "variables": rich_variables(name).await,
    });
    let mut request =
        axum::http::Request::post("/graphql").header("content-type", "application/json");
    if let Some(debug) = debug {
        request = request.header("ogrom-debug", debug);
    }
    let request = request
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let (status, headers, body) = app.send(request).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    (headers, body)
}

#[tokio::test]
async fn extensions_debug_is_absent_unless_allowed_by_a_secret_and_asked_for() {
    let (open, ..) = counted(&[]).await;
    for asked in [None, Some(""), Some("1"), Some("true")] {
        let (_, body) = product_page(&open, asked).await;
        assert!(
            body["extensions"].get("debug").is_none(),
            "no secret configured: {asked:?}"
        );
    }
    let (guarded, ..) = counted(&["--debug-secret", "explain-secret"]).await;
    for asked in [
        None,
        Some("1"),
        Some("explain-secre"),
        Some("explain-secret "),
    ] {
        let (_, body) = product_page(&guarded, asked).await;
        assert!(body["extensions"].get("debug").is_none(), "{asked:?}");
    }
}

/// Pages of products (a category's, a brand's, a profile's likes, first and next pages)
/// read the product columns the page shows, as products by id do: these show a product's
/// name and image, and no statement of theirs reads its description or deep link.
#[tokio::test]
async fn pages_of_products_read_only_the_columns_the_page_shows() {
    let (app, ..) = counted(&["--debug-secret", "explain-secret"]).await;
    let db = sql(fixture_database()).await;
    let slug = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let category = slug("SELECT slug FROM categories WHERE parent_id IS NULL ORDER BY id LIMIT 1");
    let brand = slug(
        "SELECT b.slug FROM brands b JOIN products p ON p.brand_id = b.id \
         GROUP BY b.id HAVING COUNT(*) > 2 ORDER BY b.id LIMIT 1",
    );
    let (category, brand) = (category.await, brand.await);
    let shown = "nodes { name imageUrl } pageInfo { endCursor }";
    let documents: HashMap<String, String> = documents().into_iter().collect();
    let profile = &documents["ProfilePage"];
    for column in ["description", "deeplinkUrl"] {
        assert!(!profile.contains(column), "the profile page shows {column}");
    }
    let mut asked = vec![(
        "a profile's likes",
        json!({
            "query": profile,
            "operationName": "ProfilePage",
            "variables": rich_variables("ProfilePage").await,
        }),
        "product_likes",
    )];
    for (owner, field, slug, reading) in [
        ("a category's", "category", &category, "category_id = ?"),
        ("a brand's", "brand", &brand, "brand_id = ?"),
    ] {
        let first = format!("{{ {field}(slug: {slug:?}) {{ products(first: 2) {{ {shown} }} }} }}");
        let data = app.query(&first, json!({})).await;
        let after = data[field]["products"]["pageInfo"]["endCursor"].clone();
        let next = format!(
            "query($after: String) {{ {field}(slug: {slug:?}) {{ \
             products(first: 2, after: $after) {{ {shown} }} }} }}"
        );
        asked.push((owner, json!({ "query": first }), reading));
        asked.push((
            owner,
            json!({ "query": next, "variables": { "after": after } }),
            reading,
        ));
    }
    for (owner, body, reading) in asked {
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("ogrom-debug", "explain-secret")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let (status, _, answer) = app.send(request).await;
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(status, 200, "{answer}");
        assert!(answer.get("errors").is_none(), "{answer}");
        let calls = answer["extensions"]["debug"]["calls"].as_array().unwrap();
        let products: Vec<&str> = (calls.iter())
            .filter(|call| call["backend"] == "mysql")
            .filter_map(|call| call["request"].as_str())
            .filter(|sql| sql.contains("products p") && sql.contains(reading))
            .collect();
        assert!(
            !products.is_empty(),
            "{owner} page reads products: {calls:#?}"
        );
        for sql in products {
            for column in [
                "p.description",
                "p.deeplink_url",
                "p.created_at",
                "p.updated_at",
            ] {
                assert!(!sql.contains(column), "{owner} page reads {column}: {sql}");
            }
            assert!(sql.contains("p.name"), "{owner} page shows names: {sql}");
        }
    }
}

/// The explain of a product page against what the backends' own counters saw and what the
/// fixture holds: every statement, search and partner call is listed with what it sent, and
/// the batches carry the keys the page needed.
#[tokio::test]
async fn extensions_debug_lists_the_batches_statements_and_calls_of_a_page() {
    let (app, mysql, es, stub) = counted(&["--debug-secret", "explain-secret"]).await;
    let product_id = rich_variables("ProductPage").await["databaseId"]
        .as_i64()
        .unwrap();
    let brand_id: i32 = sqlx::query_scalar("SELECT brand_id FROM products WHERE id = ?")
        .bind(product_id)
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap();

    let (sql_before, es_before, partner_before) =
        (mysql.statements(), es.requests(), stub.stats().calls);
    let (headers, body) = product_page(&app, Some("explain-secret")).await;
    let debug = &body["extensions"]["debug"];
    assert_eq!(
        headers["cache-control"], "no-store",
        "an explain is never cached"
    );

    let calls = debug["calls"].as_array().expect("calls");
    let of = |backend: &str| -> Vec<&Value> {
        calls.iter().filter(|c| c["backend"] == backend).collect()
    };
    let statements = of("mysql");
    assert_eq!(
        statements.len() as u64,
        mysql.statements() - sql_before,
        "{debug:#}"
    );
    for statement in &statements {
        // Batches of first pages are unions of parenthesised selects.
        let text = statement["request"]
            .as_str()
            .unwrap()
            .trim_start_matches('(');
        assert!(
            text.starts_with("SELECT") || text.starts_with("WITH"),
            "{text}"
        );
        assert!(statement["durationMs"].as_f64().unwrap() >= 0.0);
        assert_eq!(statement["ok"], true);
    }
    let searches = of("elasticsearch");
    assert_eq!(searches.len() as u64, es.requests() - es_before);
    let search = searches[0]["request"].as_str().unwrap();
    assert!(
        search.contains("/_msearch") && search.contains("more_like_this"),
        "{search}"
    );
    assert!(
        search.contains(&format!("\"_id\":\"{product_id}\"")),
        "{search}"
    );
    let partner = of("partner");
    assert_eq!(partner.len() as u64, stub.stats().calls - partner_before);
    let url = partner[0]["request"].as_str().unwrap();
    assert!(
        url.starts_with("GET ") && url.contains(&product_id.to_string()),
        "{url}"
    );
    assert!(
        !url.contains("counted-key"),
        "the partner's key is not shown: {url}"
    );

    let batches = debug["batches"].as_array().expect("batches");
    let keys_of = |loader: &str| -> Vec<String> {
        batches
            .iter()
            .filter(|b| b["loader"] == loader)
            .flat_map(|b| b["keys"].as_array().unwrap().iter())
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        keys_of("ProductById").contains(&product_id.to_string()),
        "{debug:#}"
    );
    assert!(
        keys_of("BrandById").contains(&brand_id.to_string()),
        "{debug:#}"
    );
    // Every call made by a batch names one that is listed.
    let ids: Vec<&Value> = batches.iter().map(|b| &b["id"]).collect();
    for call in calls.iter().filter(|c| !c["batch"].is_null()) {
        assert!(ids.contains(&&call["batch"]), "{call}");
    }
    assert!(
        statements.iter().filter(|s| !s["batch"].is_null()).count() >= statements.len() - 1,
        "all statements but the root field's come from batches: {debug:#}"
    );
    // The offers cache was off (TTL 0): every product asked of the partner was a miss.
    let offers = debug["caches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "offers")
        .expect("the offers cache is reported");
    assert_eq!(
        offers["misses"].as_u64().unwrap() as usize,
        keys_of("Offers").len()
    );
    assert_eq!(offers["hits"], 0);
    assert!(debug["durationMs"].as_f64().unwrap() > 0.0);
}
