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
//!
//! A deferred result is shown as its parts arrive: GraphiQL's fetcher asks for
//! `multipart/mixed` and merges the parts. With the partner stand-in slow (and holding its
//! answer until the test lets it go), the result pane shows the product first, then its
//! offers when the deferred part comes, with no error.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{
    BaseType, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use ogrom::run::partner_stub::{self, Faults};
use reqwest::Url;
use serde_json::{Value, json};

use crate::helpers::{self, Served};
use crate::webdriver::{Browser, Chromedriver, key};

const PREFIX: &str = "/api/v2";

/// JavaScript that sets `text` to the whole value of the result pane, '' before there is
/// one. The pane is a CodeMirror editor: its value is the whole response text (the DOM only
/// holds the lines in view).
const RESULT_PANE: &str = "const pane = document.querySelector('.result-window .CodeMirror');
     const text = pane === null ? '' : pane.CodeMirror.getValue();";

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
    let served = serve_under_prefix(database, &[]).await;
    let address = served.address;

    // Declared before the session so it is dropped after it: the session must be deleted
    // while chromedriver still runs, or Chromium outlives the test.
    let driver = Chromedriver::start().await;
    let browser = Browser::open(&driver).await;

    let query = "{ brands(first: 1) { totalCount nodes { name } } }";
    open_graphiql(&browser, address, query, "brands").await;

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
            &format!(
                "{RESULT_PANE}
                 const roots = [...document.querySelectorAll(
                     '.graphiql-doc-explorer-content a.graphiql-doc-explorer-type-name')]
                     .map(a => a.textContent);
                 return text !== '' || roots.includes('Query') ? {{result: text, roots}} : null;"
            ),
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

    let name_json = serde_json::to_string(&first_brand).expect("JSON string");
    let result = browser
        .wait_until(
            &format!("the result pane to show the brand {name_json}"),
            &format!("{RESULT_PANE} return text.includes({name_json}) ? text : null;"),
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
    assert_no_console_errors(&browser).await;

    close_and_stop(browser, served).await;
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_shows_a_deferred_result_as_its_parts_arrive() {
    let started = Instant::now();
    let database = helpers::fixture_database();

    // A product the stand-in offers in two shops (its rule: none when `id % 10 == 0`, two
    // when `id` is even), and its name, from SQL of our own.
    let pool = helpers::sql(database).await;
    let (id, name): (i64, String) = sqlx::query_as(
        "SELECT id, name FROM products WHERE id % 10 <> 0 AND id % 2 = 0 ORDER BY id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("a product with offers");
    pool.close().await;
    let shops: Vec<String> = partner_stub::offers_for(id as u64)
        .into_iter()
        .map(|offer| offer.shop)
        .collect();
    assert_eq!(
        shops.len(),
        partner_stub::expected_offer_count(id as u64),
        "the stand-in's documented offers of product {id}"
    );
    assert!(!shops.is_empty(), "product {id} has offers");

    // The partner is slow, and holds its answer until the test lets it go: the pane can only
    // show the product without its offers while the call is held, whatever the machine's
    // speed. No timeout may end the call first.
    let (partner, stub) = helpers::partner_stub(crate::offers::KEY).await;
    stub.set_faults(Faults {
        latency_ms: 500,
        hang: true,
        ..Faults::default()
    })
    .expect("valid faults");
    let served = serve_under_prefix(
        database,
        &[
            "--partner-url",
            &partner,
            "--partner-api-key",
            crate::offers::KEY,
            "--offers-cache-ttl-ms",
            "0",
            "--offers-stale-ms",
            "0",
            "--partner-timeout-ms",
            "120000",
            "--partner-deadline-ms",
            "120000",
            "--partner-retries",
            "0",
            "--request-timeout-ms",
            "120000",
        ],
    )
    .await;
    let address = served.address;

    // Declared before the session so it is dropped after it (see the test above).
    let driver = Chromedriver::start().await;
    let browser = Browser::open(&driver).await;

    let query = format!(
        "query Deferred {{\n  product(databaseId: {id}) {{\n    name\n    \
         ... @defer(label: \"offers\") {{\n      offers {{ offers {{ shop }} }}\n    }}\n  }}\n}}\n"
    );
    open_graphiql(&browser, address, &query, "@defer").await;
    let button = browser.find(".graphiql-execute-button").await;
    browser.click(&button).await;

    // The first part: the product's name, while the partner holds the offers.
    let first = shown_result(&browser, "the product's name", |response| {
        response["data"]["product"]["name"] == name.as_str()
    })
    .await;
    tokio::time::timeout(
        Duration::from_secs(30),
        stub.wait_for_stats(|stats| stats.in_flight >= 1),
    )
    .await
    .expect("the deferred offers reach the partner");
    // Read again now that the call is surely held: still the first part alone.
    let first_again = shown_result(&browser, "the product's name", |response| {
        response["data"]["product"]["name"] == name.as_str()
    })
    .await;
    for response in [&first, &first_again] {
        assert_eq!(
            response["data"],
            json!({"product": {"name": name}}),
            "before the deferred part: the product without its offers"
        );
        assert!(response.get("errors").is_none(), "{response}");
    }
    // GraphiQL is still reading the answer: its run button is a stop button meanwhile.
    assert_eq!(
        run_button_label(&browser).await,
        "Stop query (Ctrl-Enter)",
        "while the deferred part is pending"
    );
    let screenshot = browser.save_screenshot("graphiql-defer-first-part").await;
    eprintln!("GraphiQL, first part: {}", screenshot.display());

    // The partner answers: the deferred part follows, merged under the product.
    stub.update_faults(|faults| faults.hang = false)
        .expect("valid faults");
    let whole = shown_result(&browser, "the product's offers", |response| {
        !response["data"]["product"]["offers"].is_null()
    })
    .await;
    let expected_offers: Vec<Value> = shops.iter().map(|shop| json!({"shop": shop})).collect();
    assert_eq!(
        whole["data"],
        json!({"product": {"name": name, "offers": {"offers": expected_offers}}}),
        "the product and, merged under it, its deferred offers"
    );
    assert!(whole.get("errors").is_none(), "{whole}");
    // And it read the answer to its end (the closing boundary): the run button is back.
    browser
        .wait_until(
            "the run button to be back once the answer has ended",
            "const button = document.querySelector('.graphiql-execute-button');
             return button !== null
                 && button.getAttribute('aria-label') === 'Execute query (Ctrl-Enter)';",
        )
        .await;
    assert_eq!(
        stub.stats().calls,
        1,
        "one partner call, which the deferred part waited for"
    );

    let screenshot = browser.save_screenshot("graphiql-defer").await;
    eprintln!("GraphiQL, deferred result: {}", screenshot.display());
    assert_no_console_errors(&browser).await;

    close_and_stop(browser, served).await;
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

/// The gateway on a real listener over `database`, as the binary runs it, under the prefix,
/// with `extra` flags.
async fn serve_under_prefix(database: &str, extra: &[&str]) -> Served {
    let mut flags = vec!["--path-prefix", PREFIX];
    flags.extend_from_slice(extra);
    let args = helpers::serve_args(&helpers::database_url(database), &flags);
    Served::start(args).await
}

/// Opens GraphiQL at `address` with `query` in its editor, from `?query=`, and waits until
/// it can be run: the run button appears once React has mounted GraphiQL; the query editor
/// is filled when CodeMirror is ready, which may come a little later. Clicking before that
/// would run an empty editor. `marker` is a piece of the query the editor then holds.
async fn open_graphiql(browser: &Browser, address: SocketAddr, query: &str, marker: &str) {
    let mut page = page_url(address, "graphiql");
    page.query_pairs_mut().append_pair("query", query);
    browser.navigate(page.as_str()).await;
    let marker = serde_json::to_string(marker).expect("JSON string");
    browser
        .wait_until(
            "GraphiQL to render with the query from the URL",
            &format!(
                "const editor = document.querySelector('.graphiql-query-editor .CodeMirror');
                 return document.querySelector('.graphiql-execute-button') !== null
                     && editor !== null && editor.CodeMirror.getValue().includes({marker});"
            ),
        )
        .await;
}

/// Waits until the result pane holds a response that `shown` accepts, or an error, and
/// returns the response; panics on an error (a response with `errors`, or text that is no
/// JSON response, such as the fetcher's message when it cannot read an answer).
async fn shown_result(browser: &Browser, what: &str, shown: impl Fn(&Value) -> bool) -> Value {
    let text = browser
        .wait_for(
            &format!("the result pane to show {what}"),
            &format!("{RESULT_PANE} return text;"),
            |text| {
                let text = text.as_str().unwrap_or_default();
                match serde_json::from_str::<Value>(text) {
                    Ok(response) => response.get("errors").is_some() || shown(&response),
                    Err(_) => !text.is_empty(),
                }
            },
        )
        .await;
    let text = text.as_str().expect("result text");
    let response = serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object);
    let Some(response) = response.filter(|response| response.get("errors").is_none()) else {
        let screenshot = browser.save_screenshot("graphiql-result-error").await;
        panic!(
            "GraphiQL shows an error in the result pane instead of {what}; screenshot: {}\n{text}",
            screenshot.display()
        );
    };
    response
}

/// What GraphiQL's run button says it does: execute, or stop while an answer is read.
async fn run_button_label(browser: &Browser) -> String {
    let label = browser
        .execute(
            "const button = document.querySelector('.graphiql-execute-button');
             return button === null ? null : button.getAttribute('aria-label');",
        )
        .await;
    label.as_str().unwrap_or_default().to_owned()
}

/// No errors in the browser console since the last look, CSP violations included.
async fn assert_no_console_errors(browser: &Browser) {
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
}

/// Closes the browser, then stops the gateway and checks that it stopped cleanly. The
/// browser goes first: its keep-alive connections would hold the graceful shutdown open.
async fn close_and_stop(mut browser: Browser, served: Served) {
    browser.close().await;
    let stopped = tokio::time::timeout(Duration::from_secs(10), served.stopped())
        .await
        .expect("the server stops");
    assert!(stopped.is_ok(), "serve failed: {stopped:?}");
}
