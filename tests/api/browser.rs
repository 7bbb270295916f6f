//! GraphiQL works in a real browser under a path prefix, as people use it: headless
//! Chromium, driven through chromedriver with the W3C WebDriver protocol, opens
//! `/api/v2/graphiql?query=…` on a real listener with the default limits. GraphiQL's
//! introspection on load succeeds (no error in the result pane); the docs explorer, clicked
//! through from its sidebar button, lists `Query` and `Product` with the fields of
//! `schema.graphql`; typing in the query editor offers completions from the schema; the
//! run button shows the answer that SQL expects. It also proves the page is self-contained:
//! everything it loads comes from the gateway, under the prefix (no CDN), and the served
//! Content-Security-Policy lets GraphiQL run. A screenshot of the page is left in the test
//! artifacts directory (`webdriver::artifacts_dir`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{
    BaseType, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers;
use crate::webdriver::{Browser, Chromedriver, key};

const PREFIX: &str = "/api/v2";

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_loads_the_schema_documents_completes_and_runs_a_query_under_a_prefix() {
    let started = Instant::now();
    let database = helpers::fixture_database();

    // Expected types and fields, from the schema client teams read (a test keeps it equal
    // to the code's).
    let sdl = helpers::published_schema();
    let query_fields = fields(&sdl, "Query");
    let product_fields = fields(&sdl, "Product");
    let to_product = query_fields
        .iter()
        .find(|field| field.returns == "Product")
        .expect("schema.graphql: a Query field returns Product");
    assert!(
        query_fields.iter().any(|field| field.name == "product"),
        "schema.graphql: Query.product, which the completion check types, is gone"
    );

    // Expected values, from SQL of our own.
    let pool = helpers::sql(database).await;
    let first_brand: String =
        sqlx::query_scalar("SELECT name FROM brands ORDER BY name, id LIMIT 1")
            .fetch_one(&pool)
            .await
            .expect("first brand");
    let brand_count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brands")
        .fetch_one(&pool)
        .await
        .expect("brand count");
    pool.close().await;

    // The gateway on a real listener, as the binary runs it, under the prefix.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let args = helpers::serve_args(&helpers::database_url(database), &["--path-prefix", PREFIX]);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        ogrom::run::serve(&args, listener, shutdown).await
    });

    // Declared before the session so it is dropped after it: the session must be deleted
    // while chromedriver still runs, or Chromium outlives the test.
    let driver = Chromedriver::start().await;
    let mut browser = Browser::open(&driver).await;

    let query = "{ brands(first: 1) { totalCount nodes { name } } }";
    let mut page = page_url(address, "graphiql");
    page.query_pairs_mut().append_pair("query", query);
    browser.navigate(page.as_str()).await;

    // The run button appears once React has mounted GraphiQL; the query editor is filled
    // from `?query=` when CodeMirror is ready, which may come a little later. Clicking
    // before that would run an empty editor.
    browser
        .wait_until(
            "GraphiQL to render with the query from the URL",
            "const editor = document.querySelector('.graphiql-query-editor .CodeMirror');
             return document.querySelector('.graphiql-execute-button') !== null
                 && editor !== null && editor.CodeMirror.getValue().includes('brands');",
        )
        .await;

    // GraphiQL sends the standard introspection query on load. A user sees the outcome in
    // the docs explorer (opened from the sidebar); a refused introspection also lands, as
    // the gateway's error, in the result pane.
    let docs = browser
        .find(r#".graphiql-sidebar button[aria-label="Show Documentation Explorer"]"#)
        .await;
    browser.click(&docs).await;
    let loaded = browser
        .wait_until(
            "the docs explorer to show the schema's root types (or the result pane an error)",
            "const pane = document.querySelector('.result-window .CodeMirror');
             const result = pane === null ? '' : pane.CodeMirror.getValue();
             const roots = [...document.querySelectorAll(
                 '.graphiql-doc-explorer-content a.graphiql-doc-explorer-type-name')]
                 .map(a => a.textContent);
             return result !== '' || roots.includes('Query') ? {result, roots} : null;",
        )
        .await;
    let on_load = loaded["result"].as_str().unwrap_or_default();
    if !on_load.is_empty() {
        let screenshot = browser.save_screenshot("graphiql-load-error").await;
        panic!(
            "GraphiQL shows an error in the result pane on load (its introspection query \
             failed); screenshot: {}\n{on_load}",
            screenshot.display()
        );
    }

    // A real click through WebDriver (it fails if the button is hidden or covered).
    let button = browser.find(".graphiql-execute-button").await;
    browser.click(&button).await;

    // The result pane is a CodeMirror editor too: its value is the whole response text
    // (the DOM only holds the lines in view).
    let name_json = serde_json::to_string(&first_brand).expect("JSON string");
    let result = browser
        .wait_until(
            &format!("the result pane to show the brand {name_json}"),
            &format!(
                "const pane = document.querySelector('.result-window .CodeMirror');
                 const text = pane === null ? '' : pane.CodeMirror.getValue();
                 return text.includes({name_json}) ? text : null;"
            ),
        )
        .await;
    let result = result.as_str().expect("result text").to_owned();
    assert!(
        result.contains(&format!("\"totalCount\": {brand_count}")),
        "expected totalCount {brand_count} in the result pane:\n{result}"
    );
    let response: Value = serde_json::from_str(&result).expect("the result pane holds JSON");
    assert_eq!(
        response["data"],
        json!({"brands": {"totalCount": brand_count, "nodes": [{"name": first_brand}]}}),
        "the whole of the data"
    );
    assert!(response.get("errors").is_none(), "{response}");
    assert!(
        response["extensions"]["cost"]["requested"].is_u64(),
        "{response}"
    );

    // The docs explorer, clicked through as a user would: Query, a field of it that returns
    // a Product, then Product, each listing the fields of schema.graphql.
    let query_link = browser
        .find_with_text(
            ".graphiql-doc-explorer-content a.graphiql-doc-explorer-type-name",
            "Query",
        )
        .await;
    browser.click(&query_link).await;
    assert_eq!(
        sorted(docs_fields(&browser, "Query").await),
        sorted(names(&query_fields)),
        "the fields the docs explorer lists for Query, and schema.graphql's"
    );
    let field_link = browser
        .find_with_text(
            ".graphiql-doc-explorer-content a.graphiql-doc-explorer-field-name",
            &to_product.name,
        )
        .await;
    browser.click(&field_link).await;
    docs_fields(&browser, &to_product.name).await;
    let product_link = browser
        .find_with_text(
            ".graphiql-doc-explorer-content a.graphiql-doc-explorer-type-name",
            "Product",
        )
        .await;
    browser.click(&product_link).await;
    let shown = sorted(docs_fields(&browser, "Product").await);
    for field in ["name", "brand", "price"] {
        assert!(
            shown.iter().any(|f| f == field),
            "Product.{field}: {shown:?}"
        );
    }
    assert_eq!(
        shown,
        sorted(names(&product_fields)),
        "the fields the docs explorer lists for Product, and schema.graphql's"
    );

    // Completions from the schema as one types: select all and delete, then `{ pro` as key
    // presses into CodeMirror's textarea. Its key-up handler opens the hint list.
    let editor = browser
        .find(".graphiql-query-editor .CodeMirror textarea")
        .await;
    let select_all_and_delete = format!("{}a{}{}", key::CONTROL, key::RELEASE, key::BACKSPACE);
    browser.send_keys(&editor, &select_all_and_delete).await;
    browser
        .wait_until(
            "the query editor to be empty",
            "return document.querySelector('.graphiql-query-editor .CodeMirror')
                 .CodeMirror.getValue() === '';",
        )
        .await;
    browser.send_keys(&editor, "{ pro").await;
    let typed = browser
        .wait_for(
            "the query editor to offer `product` for `{ pro`",
            "return {
                 text: document.querySelector('.graphiql-query-editor .CodeMirror')
                     .CodeMirror.getValue(),
                 hints: [...document.querySelectorAll('.CodeMirror-hints li')]
                     .map(li => li.textContent),
             };",
            |typed| {
                typed["hints"]
                    .as_array()
                    .is_some_and(|hints| hints.iter().any(|hint| hint == "product"))
            },
        )
        .await;
    assert!(
        typed["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("{ pro"),
        "the keys went elsewhere: {typed}"
    );
    let hints: Vec<String> = serde_json::from_value(typed["hints"].clone()).expect("hints");
    let foreign: Vec<&String> = hints
        .iter()
        .filter(|hint| !hint.starts_with("__") && !query_fields.iter().any(|f| &f.name == *hint))
        .collect();
    assert!(
        foreign.is_empty(),
        "completions that are no Query field of schema.graphql: {foreign:?} (all: {hints:?})"
    );

    // For people to look at: the schema's docs, the completions and the result.
    let screenshot = browser.save_screenshot("graphiql").await;
    eprintln!("GraphiQL screenshot: {}", screenshot.display());

    // Everything the page loaded (scripts, styles, the introspection and the query) came
    // from the gateway, under the prefix.
    let resources = browser
        .execute("return performance.getEntriesByType('resource').map(e => e.name);")
        .await;
    let resources: Vec<String> = serde_json::from_value(resources).expect("resource names");
    let origin = page_url(address, "").to_string();
    let foreign: Vec<&String> = resources
        .iter()
        .filter(|r| !r.starts_with(&origin))
        .collect();
    assert!(
        foreign.is_empty(),
        "resources from outside {origin}: {foreign:#?}"
    );
    for asset in [
        "graphiql/react.production.min.js",
        "graphiql/react-dom.production.min.js",
        "graphiql/graphiql.min.js",
        "graphiql/graphiql.min.css",
        "graphiql/app.js",
    ] {
        let url = page_url(address, asset).to_string();
        assert!(
            resources.contains(&url),
            "{url} was not loaded; loaded: {resources:#?}"
        );
    }

    // Nothing went wrong on the way, CSP violations included.
    let errors: Vec<Value> = browser
        .console()
        .await
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(
        errors.is_empty(),
        "errors in the browser console: {errors:#?}"
    );

    // Close the browser first: its keep-alive connections would hold the graceful
    // shutdown open.
    browser.close().await;
    stop.send(()).expect("the server still runs");
    let served = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .expect("the server task did not panic");
    assert!(served.is_ok(), "serve failed: {served:?}");
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}

/// Waits for the docs explorer to show the page titled `title` and returns the names of the
/// fields it lists there (none on a field's page).
async fn docs_fields(browser: &Browser, title: &str) -> Vec<String> {
    let title_json = serde_json::to_string(title).expect("JSON string");
    let fields = browser
        .wait_until(
            &format!("the docs explorer to show {title}"),
            &format!(
                "const title = document.querySelector('.graphiql-doc-explorer-title');
                 if (title === null || title.textContent !== {title_json}) return null;
                 return [...document.querySelectorAll(
                     '.graphiql-doc-explorer-content a.graphiql-doc-explorer-field-name')]
                     .map(a => a.textContent);"
            ),
        )
        .await;
    serde_json::from_value(fields).expect("field names")
}

/// A field of an object type, and the named type it returns (under lists and non-null).
struct SchemaField {
    name: String,
    returns: String,
}

/// The fields of an object type the docs explorer lists: all but deprecated ones, which
/// it keeps behind a "Show Deprecated Fields" button.
fn fields(sdl: &ServiceDocument, object: &str) -> Vec<SchemaField> {
    fn named(ty: &Type) -> &str {
        match &ty.base {
            BaseType::Named(name) => name.as_str(),
            BaseType::List(item) => named(item),
        }
    }
    let fields = sdl
        .definitions
        .iter()
        .find_map(|definition| match definition {
            TypeSystemDefinition::Type(ty) if ty.node.name.node == object => match &ty.node.kind {
                TypeKind::Object(object) => Some(&object.fields),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("schema.graphql: no object type {object}"));
    fields
        .iter()
        .filter(|field| {
            !field
                .node
                .directives
                .iter()
                .any(|d| d.node.name.node == "deprecated")
        })
        .map(|field| SchemaField {
            name: field.node.name.node.to_string(),
            returns: named(&field.node.ty.node).to_owned(),
        })
        .collect()
}

fn names(fields: &[SchemaField]) -> Vec<String> {
    fields.iter().map(|field| field.name.clone()).collect()
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// `http://<address>/api/v2/<path>`.
fn page_url(address: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{address}{PREFIX}/{path}")).expect("page URL")
}
