//! GraphiQL works in a real browser under a path prefix: headless Chromium, driven through
//! chromedriver with the W3C WebDriver protocol, opens `/api/v2/graphiql?query=…` on a real
//! listener, runs the query with the run button and shows the answer that SQL expects.
//! It also proves the page is self-contained: everything it loads comes from the gateway,
//! under the prefix (no CDN), and the served Content-Security-Policy lets GraphiQL run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Client, Method, Url};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PREFIX: &str = "/api/v2";
/// How long any one wait in the browser may take (page load, query, result).
const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

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
        response,
        json!({"data": {"brands": {"totalCount": brand_count, "nodes": [{"name": first_brand}]}}}),
        "the whole response"
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

/// A client for chromedriver on loopback: never through a proxy from the environment.
fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// A fresh, empty directory of this test (the browser profile, the driver's log).
fn temp_dir(what: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("ogrom-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// One WebDriver command; returns its `value`, or panics with the driver's error.
async fn command(client: &Client, method: Method, url: &str, body: Option<Value>) -> Value {
    let mut request = client.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: not JSON: {e}"));
    assert!(status.is_success(), "{method} {url}: {status} {body}");
    body["value"].clone()
}

/// chromedriver as a child process, killed on drop (also when the test panics).
struct Chromedriver {
    child: Child,
    url: String,
    client: Client,
    log: PathBuf,
}

impl Chromedriver {
    async fn start() -> Self {
        // A port that was free a moment ago; chromedriver binds it right away.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = temp_dir("chromedriver").join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMEDRIVER} (scripts/install-browser): {e}")
            });
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            client: client(),
            log,
        };
        let deadline = Instant::now() + DEADLINE;
        loop {
            let status = driver
                .client
                .get(format!("{}/status", driver.url))
                .send()
                .await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver is not ready; see {}",
                driver.log.display()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A WebDriver session on headless Chromium, deleted on drop (also when the test panics).
struct Browser {
    client: Client,
    /// `<driver>/session/<id>`; `None` once deleted.
    session: Option<String>,
    profile: PathBuf,
}

impl Browser {
    async fn open(driver: &Chromedriver) -> Self {
        let profile = temp_dir("chromium-profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // The sandbox needs user namespaces, which containers and root lack.
                    "--no-sandbox",
                    "--disable-gpu",
                    // /dev/shm is tiny in containers; Chromium crashes tabs when it fills.
                    "--disable-dev-shm-usage",
                    // No traffic of Chromium's own (QUIC probes, updates, sync): the
                    // machine may have no internet, and nothing should wait on it.
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            // The console, for the CSP check and for diagnosing a failure.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let value = command(
            &driver.client,
            Method::POST,
            &format!("{}/session", driver.url),
            Some(capabilities),
        )
        .await;
        let id = value["sessionId"].as_str().expect("session id");
        Self {
            client: driver.client.clone(),
            session: Some(format!("{}/session/{id}", driver.url)),
            profile,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.session.as_deref().expect("an open session")
        )
    }

    async fn navigate(&self, url: &str) {
        command(
            &self.client,
            Method::POST,
            &self.url("/url"),
            Some(json!({"url": url})),
        )
        .await;
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    async fn execute(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        command(
            &self.client,
            Method::POST,
            &self.url("/execute/sync"),
            Some(body),
        )
        .await
    }

    /// The WebDriver reference of the element matching a CSS selector.
    async fn find(&self, selector: &str) -> String {
        let body = json!({"using": "css selector", "value": selector});
        let element = command(
            &self.client,
            Method::POST,
            &self.url("/element"),
            Some(body),
        )
        .await;
        // The W3C element identifier key.
        element["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("element reference: {element}"))
            .to_owned()
    }

    async fn click(&self, element: &str) {
        let path = format!("/element/{element}/click");
        command(
            &self.client,
            Method::POST,
            &self.url(&path),
            Some(json!({})),
        )
        .await;
    }

    /// The browser console since the last call (chromedriver's legacy log endpoint).
    async fn console(&self) -> Vec<Value> {
        let body = json!({"type": "browser"});
        let entries = command(&self.client, Method::POST, &self.url("/se/log"), Some(body)).await;
        entries.as_array().cloned().unwrap_or_default()
    }

    /// Polls `script` until it returns something other than null or false, and returns
    /// that. After `DEADLINE`, panics with what the page shows and the console says.
    async fn wait_until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let value = self.execute(script).await;
            if !value.is_null() && value != false {
                return value;
            }
            if Instant::now() >= deadline {
                panic!("timed out waiting for {what}\n{}", self.diagnostics().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The page's text, the start of its HTML and the console, for a failure message.
    async fn diagnostics(&self) -> String {
        let page = self
            .execute(
                "return {url: location.href,
                         text: document.body ? document.body.innerText.slice(0, 2000) : '',
                         html: document.documentElement.outerHTML.slice(0, 3000)};",
            )
            .await;
        let console: Vec<String> = self
            .console()
            .await
            .iter()
            .map(|e| format!("{} {}", e["level"], e["message"]))
            .collect();
        format!(
            "url: {}\npage text:\n{}\npage HTML:\n{}\nconsole:\n{}",
            page["url"],
            page["text"].as_str().unwrap_or_default(),
            page["html"].as_str().unwrap_or_default(),
            console.join("\n"),
        )
    }

    /// Deletes the session, which quits Chromium.
    async fn close(&mut self) {
        if let Some(session) = self.session.take() {
            command(&self.client, Method::DELETE, &session, None).await;
        }
    }
}

impl Drop for Browser {
    /// Only when the test did not get to `close` (it panicked): Drop cannot await, so the
    /// delete runs on a thread of its own with its own runtime.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        let _ = tokio::time::timeout(
                            Duration::from_secs(10),
                            client().delete(&session).send(),
                        )
                        .await;
                    });
                }
            })
            .join();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
