//! A small W3C WebDriver client over plain HTTP JSON, for the headless-browser tests:
//! chromedriver as a child process and a Chromium session, both cleaned up on drop (even
//! when a test panics). Screenshots go to the test artifacts directory, outside the
//! repository, also when a wait times out.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::{Client, Method};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any one wait in the browser may take (page load, query, result).
const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// The W3C element identifier key, in element references sent and received.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// W3C WebDriver codes of keys that are not characters, for [`Browser::send_keys`].
/// A modifier stays pressed for the rest of the text, until [`key::RELEASE`].
pub(crate) mod key {
    pub(crate) const RELEASE: &str = "\u{E000}";
    pub(crate) const BACKSPACE: &str = "\u{E003}";
    pub(crate) const CONTROL: &str = "\u{E009}";
}

/// Where tests leave files for people to look at (screenshots): `$OGROM_TEST_ARTIFACTS`,
/// else `test-artifacts` in the target directory (`$CARGO_TARGET_DIR`, else the one this
/// test binary was built in, `<target>/<profile>/deps/`). Never inside the repository.
pub(crate) fn artifacts_dir() -> PathBuf {
    let dir = match std::env::var_os("OGROM_TEST_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .or_else(|| {
                    let exe = std::env::current_exe().ok()?;
                    Some(exe.parent()?.parent()?.parent()?.to_owned())
                })
                .expect("a target directory for test artifacts");
            target.join("test-artifacts")
        }
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
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

/// The reference in a WebDriver element object.
fn reference(element: &Value) -> String {
    element[ELEMENT]
        .as_str()
        .unwrap_or_else(|| panic!("element reference: {element}"))
        .to_owned()
}

/// chromedriver as a child process, killed on drop (also when the test panics).
pub(crate) struct Chromedriver {
    child: Child,
    url: String,
    client: Client,
    log: PathBuf,
}

impl Chromedriver {
    pub(crate) async fn start() -> Self {
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
pub(crate) struct Browser {
    client: Client,
    /// `<driver>/session/<id>`; `None` once deleted.
    session: Option<String>,
    profile: PathBuf,
}

impl Browser {
    pub(crate) async fn open(driver: &Chromedriver) -> Self {
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
                    // Room for GraphiQL's editors and docs explorer side by side, in
                    // screenshots too.
                    "--window-size=1400,900",
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

    pub(crate) async fn navigate(&self, url: &str) {
        command(
            &self.client,
            Method::POST,
            &self.url("/url"),
            Some(json!({"url": url})),
        )
        .await;
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub(crate) async fn execute(&self, script: &str) -> Value {
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
    pub(crate) async fn find(&self, selector: &str) -> String {
        let body = json!({"using": "css selector", "value": selector});
        let element = command(
            &self.client,
            Method::POST,
            &self.url("/element"),
            Some(body),
        )
        .await;
        reference(&element)
    }

    /// The references of every element matching a CSS selector, in document order.
    pub(crate) async fn find_all(&self, selector: &str) -> Vec<String> {
        let body = json!({"using": "css selector", "value": selector});
        let elements = command(
            &self.client,
            Method::POST,
            &self.url("/elements"),
            Some(body),
        )
        .await;
        elements
            .as_array()
            .unwrap_or_else(|| panic!("element references: {elements}"))
            .iter()
            .map(reference)
            .collect()
    }

    /// The first element matching a CSS selector whose rendered text is `text`; panics
    /// with the texts there are.
    pub(crate) async fn find_with_text(&self, selector: &str, text: &str) -> String {
        let mut seen = Vec::new();
        for element in self.find_all(selector).await {
            let shown = self.text(&element).await;
            if shown == text {
                return element;
            }
            seen.push(shown);
        }
        panic!("no {selector} reads {text:?}; those there read {seen:?}");
    }

    /// An element's rendered text, as a user sees it.
    pub(crate) async fn text(&self, element: &str) -> String {
        let path = format!("/element/{element}/text");
        let text = command(&self.client, Method::GET, &self.url(&path), None).await;
        text.as_str()
            .unwrap_or_else(|| panic!("element text: {text}"))
            .to_owned()
    }

    pub(crate) async fn click(&self, element: &str) {
        let path = format!("/element/{element}/click");
        command(
            &self.client,
            Method::POST,
            &self.url(&path),
            Some(json!({})),
        )
        .await;
    }

    /// Focuses an element and types `text` into it as key presses (each with its key
    /// down, key press and key up events); see [`key`] for keys that are not characters.
    pub(crate) async fn send_keys(&self, element: &str, text: &str) {
        let path = format!("/element/{element}/value");
        command(
            &self.client,
            Method::POST,
            &self.url(&path),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// A PNG of the viewport.
    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        let png = command(&self.client, Method::GET, &self.url("/screenshot"), None).await;
        let png = png.as_str().unwrap_or_else(|| panic!("screenshot: {png}"));
        base64::engine::general_purpose::STANDARD
            .decode(png)
            .expect("the screenshot is base64")
    }

    /// Saves a screenshot as `<name>.png` in [`artifacts_dir`] and returns its path.
    pub(crate) async fn save_screenshot(&self, name: &str) -> PathBuf {
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, self.screenshot().await)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// The browser console since the last call (chromedriver's legacy log endpoint).
    pub(crate) async fn console(&self) -> Vec<Value> {
        let body = json!({"type": "browser"});
        let entries = command(&self.client, Method::POST, &self.url("/se/log"), Some(body)).await;
        entries.as_array().cloned().unwrap_or_default()
    }

    /// Polls `script` until it returns something other than null or false, and returns
    /// that. After `DEADLINE`, panics with what the page shows and the console says.
    pub(crate) async fn wait_until(&self, what: &str, script: &str) -> Value {
        self.wait_for(what, script, |value| !value.is_null() && *value != false)
            .await
    }

    /// Polls `script` until `done` accepts what it returns, and returns that. After
    /// `DEADLINE`, panics with the last value, what the page shows, the console and a
    /// screenshot.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        script: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let value = self.execute(script).await;
            if done(&value) {
                return value;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {} s waiting for {what}\nlast value: {value}\n{}",
                    DEADLINE.as_secs(),
                    self.diagnostics().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The page's text, the start of its HTML, the console and a screenshot, for a
    /// failure message.
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
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        let screenshot = self.save_screenshot(&format!("failure-{millis}")).await;
        format!(
            "url: {}\npage text:\n{}\npage HTML:\n{}\nconsole:\n{}\nscreenshot: {}",
            page["url"],
            page["text"].as_str().unwrap_or_default(),
            page["html"].as_str().unwrap_or_default(),
            console.join("\n"),
            screenshot.display(),
        )
    }

    /// Deletes the session, which quits Chromium.
    pub(crate) async fn close(&mut self) {
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
