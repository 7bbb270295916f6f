//! The web app's five operations (`operations/*.graphql`, the documents client teams
//! generate typed clients from) run against the fixture with real ids: a schema change that
//! breaks one of them fails here. They also run as trusted documents, by hash alone, from
//! the manifest `scripts/trusted-manifest` makes of the same files.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, fixture_database, sql};

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
    let sha256 = |text: &str| -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
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
        let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(body)}});
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
