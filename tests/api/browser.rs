//! GraphiQL works in a real browser under a path prefix: headless Chromium, driven through
//! chromedriver with the W3C WebDriver protocol, opens `/api/v2/graphiql?query=…` on a real
//! listener, runs the query with the run button and shows the answer that SQL expects.
//! It also proves the page is self-contained: everything it loads comes from the gateway,
//! under the prefix (no CDN), and the served Content-Security-Policy lets GraphiQL run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers;
use crate::webdriver::{Browser, Chromedriver};

const PREFIX: &str = "/api/v2";

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_runs_a_query_in_headless_chromium_under_a_prefix() {
    let started = Instant::now();
    let database = helpers::fixture_database();

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

/// `http://<address>/api/v2/<path>`.
fn page_url(address: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{address}{PREFIX}/{path}")).expect("page URL")
}
