//! Client tooling against the live endpoint: what tools that introspect a running gateway
//! see must be what `schema.graphql` says. The example TypeScript client
//! (`clients/typescript`) generates its types from the gateway's URL, byte for byte as from
//! the file, and graphql-js's standard introspection query, printed back as SDL, has no
//! change from `schema.graphql` under `ogrom schema diff`. Both run the real Node tools on a
//! real listener with the default limits, as a client team would point them at a gateway.
//! Apollo Client, unconfigured, renders the product page before its deferred offers and
//! then with them (`clients/typescript/apollo-defer.mjs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use ogrom::run::partner_stub::{self, Faults};
use serde_json::Value;

use crate::helpers::{self, Served};

#[tokio::test(flavor = "multi_thread")]
async fn typescript_codegen_from_the_live_endpoint_equals_codegen_from_schema_graphql() {
    let scratch = Scratch::new("codegen");
    let from_file = scratch.path("from-file.ts");
    codegen("../../schema.graphql", &from_file).await;

    let served = serve().await;
    let url = format!("http://{}/graphql", served.address);
    let from_url = scratch.path("from-url.ts");
    codegen(&url, &from_url).await;
    served.stopped().await.expect("serve ends cleanly");

    let expected = std::fs::read_to_string(&from_file).expect("the file generated from schema");
    let actual = std::fs::read_to_string(&from_url).expect("the file generated from the URL");
    assert!(
        expected == actual,
        "codegen from {url} differs from codegen from schema.graphql \
         ({} and {} kept for inspection):\n{}",
        from_file.display(),
        from_url.display(),
        first_difference(&expected, &actual)
    );
    scratch.remove();
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_printed_as_sdl_has_no_changes_from_schema_graphql() {
    let scratch = Scratch::new("sdl");
    let served = serve().await;
    let url = format!("http://{}/graphql", served.address);

    let printed = scratch.path("printed.graphql");
    let mut print = Command::new("node");
    print.arg("print-schema.mjs").arg(&url).arg(&printed);
    node_step(
        "print-schema.mjs (introspection → buildClientSchema → printSchema)",
        print,
    )
    .await;
    served.stopped().await.expect("serve ends cleanly");

    // The repository's schema as old, the printed one as new: every difference is a change.
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let diff = Command::new(env!("CARGO_BIN_EXE_ogrom"))
        .args(["schema", "diff"])
        .arg(&schema)
        .arg(&printed)
        .output()
        .expect("ogrom schema diff runs");
    let stdout = String::from_utf8_lossy(&diff.stdout);
    assert!(
        diff.status.success() && stdout.trim() == "no changes",
        "`ogrom schema diff schema.graphql {}` ({}) must say `no changes`:\n{}",
        printed.display(),
        diff.status,
        shown(&diff)
    );
    scratch.remove();
}

#[tokio::test(flavor = "multi_thread")]
async fn apollo_client_renders_the_product_page_before_its_deferred_offers() {
    let (partner_url, stub) = slow_partner().await;
    let (id, name) = product_with_offers().await;
    let offers = partner_stub::expected_offer_count(id as u64);

    let served = Served::start(partner_args(&partner_url)).await;
    let url = format!("http://{}/graphql", served.address);
    let document = Path::new(env!("CARGO_MANIFEST_DIR")).join("operations/ProductPage.graphql");
    let mut apollo = Command::new("node");
    apollo
        .arg("apollo-defer.mjs")
        .arg(&url)
        .arg(id.to_string())
        .arg(&document);
    let output = node_step("apollo-defer.mjs (Apollo Client, watchQuery)", apollo).await;
    served.stopped().await.expect("serve ends cleanly");

    let results: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line per result"))
        .collect();
    let shown = shown(&output);
    for result in &results {
        assert_eq!(result["errors"], serde_json::json!([]), "{shown}");
    }
    // The page without its offers: the first part, rendered before the partner answered.
    let without = results
        .iter()
        .position(|result| result["product"] == name.as_str() && result["offers"] == "absent")
        .unwrap_or_else(|| panic!("no result with the product and without offers:\n{shown}"));
    let with = results
        .iter()
        .position(|result| result["offers"] != "absent")
        .unwrap_or_else(|| panic!("no result with the offers:\n{shown}"));
    assert!(
        without < with,
        "the page without offers comes first:\n{shown}"
    );
    let last = results.last().unwrap();
    assert_eq!(with, results.len() - 1, "the offers end it:\n{shown}");
    assert_eq!(last["product"], name.as_str(), "{shown}");
    assert_eq!(last["offers"], offers, "{shown}");
    assert_eq!(last["loading"], false, "{shown}");
    assert_eq!(stub.stats().calls, 1, "one call to the partner");
}

/// The example client (`clients/typescript/src/example.ts`), compiled as it is, renders the
/// product page at once with its offers loading, again with its similar products, and again
/// when the offers arrive.
#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_example_renders_the_product_page_then_its_deferred_offers() {
    let (partner_url, stub) = slow_partner().await;
    let (id, name) = product_with_offers().await;
    let shops: Vec<String> = (partner_stub::offers_for(id as u64).into_iter())
        .map(|offer| offer.shop)
        .collect();
    assert!(!shops.is_empty());

    // The example and the types generated for it, compiled to JavaScript in a scratch
    // directory beside the client's packages (the types import only types), as ES modules
    // like clients/typescript. Not type-checked here: `scripts/check-clients` does that.
    let scratch = Scratch::new("example");
    let source = scratch.path("src");
    std::fs::create_dir_all(&source).unwrap();
    let packages = client_dir().join("node_modules");
    std::os::unix::fs::symlink(packages, scratch.path("node_modules")).unwrap();
    std::fs::write(scratch.path("package.json"), r#"{"type": "module"}"#).unwrap();
    std::fs::copy(
        client_dir().join("src/example.ts"),
        source.join("example.ts"),
    )
    .unwrap();
    codegen("../../schema.graphql", &source.join("generated/graphql.ts")).await;
    let out = scratch.path("out");
    let mut tsc = Command::new("npx");
    tsc.args([
        "--no",
        "--",
        "tsc",
        "--module",
        "NodeNext",
        "--moduleResolution",
    ])
    .args([
        "NodeNext",
        "--target",
        "ES2022",
        "--lib",
        "ES2022,DOM",
        "--skipLibCheck",
    ])
    .arg("--outDir")
    .arg(&out)
    .arg(source.join("example.ts"));
    node_step("tsc (the example, to JavaScript)", tsc).await;
    std::fs::write(
        out.join("render.mjs"),
        "import { renderProductPageInParts } from './example.js';\n\
         const [url, id] = process.argv.slice(2);\n\
         await renderProductPageInParts({ url }, Number(id), (line) => console.log(line));\n",
    )
    .unwrap();

    let served = Served::start(partner_args(&partner_url)).await;
    let url = format!("http://{}/graphql", served.address);
    let mut render = Command::new("node");
    render
        .arg(out.join("render.mjs"))
        .arg(&url)
        .arg(id.to_string());
    let output = node_step("the example's renderProductPageInParts", render).await;
    served.stopped().await.expect("serve ends cleanly");

    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    // A render per part: the product, its similar products, its offers.
    assert_eq!(lines.len(), 3, "rendered as each part came:\n{stdout}");
    let (last, before) = lines.split_last().unwrap();
    for line in before {
        assert!(
            line.contains(&name) && line.ends_with("(offers loading…)"),
            "{stdout}"
        );
    }
    assert!(last.contains(&name), "{stdout}");
    for shop in &shops {
        assert!(last.contains(shop.as_str()), "{shop} missing:\n{stdout}");
    }
    assert_eq!(stub.stats().calls, 1, "one call to the partner");
    scratch.remove();
}

/// The partner stand-in answering after 500 ms, so the offers arrive in a later part than
/// the rest of the page: its URL and its handle.
async fn slow_partner() -> (String, partner_stub::StubHandle) {
    let (url, stub) = helpers::partner_stub(crate::offers::KEY).await;
    stub.set_faults(Faults {
        latency_ms: 500,
        ..Faults::default()
    })
    .unwrap();
    (url, stub)
}

/// A product the partner stand-in has offers for (its rule leaves ids divisible by 10 out),
/// and its name.
async fn product_with_offers() -> (i64, String) {
    let pool = helpers::sql(helpers::fixture_database()).await;
    sqlx::query_as("SELECT id, name FROM products WHERE id % 10 <> 0 ORDER BY id LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap()
}

/// Serving flags for a gateway over the fixture whose partner is the stand-in at
/// `partner_url`, with no offers cache.
fn partner_args(partner_url: &str) -> ogrom::config::ServeArgs {
    helpers::serve_args(
        &helpers::database_url(helpers::fixture_database()),
        &[
            "--partner-url",
            partner_url,
            "--partner-api-key",
            crate::offers::KEY,
            "--offers-cache-ttl-ms",
            "0",
            "--offers-stale-ms",
            "0",
            "--elasticsearch-index",
            crate::search::fixture_alias(),
        ],
    )
}

/// The gateway on a real listener over the fixture database, with the default limits.
async fn serve() -> Served {
    let args = helpers::serve_args(&helpers::database_url(helpers::fixture_database()), &[]);
    Served::start(args).await
}

/// What `npm run generate` runs, with the schema from `schema` (a path from
/// clients/typescript, or a URL) and the types written to `output`.
async fn codegen(schema: &str, output: &Path) {
    let mut command = Command::new("npx");
    command
        .args(["--no", "--", "graphql-codegen", "--config", "codegen.ts"])
        .env("CODEGEN_SCHEMA", schema)
        .env("CODEGEN_OUTPUT", output);
    node_step(&format!("graphql-codegen from {schema}"), command).await;
}

/// Runs a Node tool in clients/typescript (its pinned packages installed first) off the
/// runtime's threads, so the gateway keeps answering; fails with its output, else returns it.
async fn node_step(what: &str, mut command: Command) -> Output {
    command.current_dir(client_dir());
    let (output, seconds) = tokio::task::spawn_blocking(move || {
        install_client_packages();
        let started = Instant::now();
        let output = command.output();
        (output, started.elapsed().as_secs_f64())
    })
    .await
    .expect("the Node step's thread");
    let output =
        output.unwrap_or_else(|e| panic!("{what}: cannot start (is Node.js on PATH?): {e}"));
    eprintln!("{what}: {seconds:.1} s");
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        shown(&output)
    );
    output
}

/// `npm ci` when node_modules is missing or older than package-lock.json, as
/// scripts/check-clients does; once per test process, whichever test comes first.
fn install_client_packages() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = client_dir();
        // npm ci records what it installed in node_modules/.package-lock.json.
        let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let installed = modified(dir.join("node_modules/.package-lock.json"));
        let locked = modified(dir.join("package-lock.json")).unwrap_or(SystemTime::UNIX_EPOCH);
        if installed.is_some_and(|installed| installed >= locked) {
            return;
        }
        let started = Instant::now();
        let output = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm runs (is Node.js on PATH?)");
        eprintln!("npm ci: {:.1} s", started.elapsed().as_secs_f64());
        assert!(
            output.status.success(),
            "npm ci failed ({}):\n{}",
            output.status,
            shown(&output)
        );
    });
}

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/typescript")
}

/// A tool's stderr and stdout, for a failure message.
fn shown(output: &Output) -> String {
    format!(
        "--- stderr\n{}\n--- stdout\n{}",
        String::from_utf8_lossy(&output.stderr).trim_end(),
        String::from_utf8_lossy(&output.stdout).trim_end()
    )
}

/// The first line where two texts differ, with its number.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut expected_lines, mut actual_lines) = (expected.lines(), actual.lines());
    for number in 1.. {
        match (expected_lines.next(), actual_lines.next()) {
            (None, None) => break,
            (e, a) if e == a => continue,
            (e, a) => {
                return format!(
                    "line {number}:\n  from schema.graphql: {}\n  from the URL:        {}",
                    e.unwrap_or("<end of file>"),
                    a.unwrap_or("<end of file>")
                );
            }
        }
    }
    "the same lines, different line endings".to_owned()
}

/// A directory of this test's outputs, removed when the test passes and kept for
/// inspection when it fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ogrom-clients-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
