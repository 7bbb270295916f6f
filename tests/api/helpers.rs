//! Shared test helpers: a seeded fixture database on the real MariaDB (one per test
//! process), the gateway built in-process over it, and small HTTP and SQL conveniences.
//! Expected values in tests come from SQL written in the tests, never from the gateway.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use clap::Parser;
use ogrom::config::{Cli, Command, ServeArgs};
use ogrom::run::{Gateway, partner_settings};
use ogrom::sources::elasticsearch::Elasticsearch;
use ogrom::sources::mysql::MySql;
use ogrom::sources::partner::PartnerClient;
use serde_json::{Value, json};
use sqlx::MySqlPool;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use tower::ServiceExt;

/// The MySQL server of the test stack (a user that may create databases).
pub(crate) fn mysql_server_url() -> String {
    std::env::var("OGROM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://ogrom:ogrom@127.0.0.1:3306".to_owned())
}

/// The Elasticsearch of the test stack.
pub(crate) fn elasticsearch_url() -> String {
    std::env::var("OGROM_TEST_ELASTICSEARCH_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:9200".to_owned())
}

/// The URL of a database on the test server.
pub(crate) fn database_url(database: &str) -> String {
    format!("{}/{database}", mysql_server_url())
}

/// The name of this process's fixture database: migrated and seeded at the TEST size,
/// once, on first use. Tests only read it; tests that write make their own database.
pub(crate) fn fixture_database() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let name = format!("ogrom_test_{}", std::process::id());
        let setup = name.clone();
        // Its own thread and runtime: a pool belongs to the runtime that made it, and each
        // test has its own.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(create_seeded_database(&setup))
        })
        .join()
        .expect("fixture setup panicked");
        name
    })
}

/// Creates (or recreates) a migrated database seeded at the TEST size.
pub(crate) async fn create_seeded_database(name: &str) {
    let pool = create_migrated_database(name).await;
    ogrom::run::seed::seed(&pool, ogrom::run::seed::SeedSize::TEST, 42, false)
        .await
        .expect("seed");
}

/// Creates (or recreates) an empty, migrated database, for a test that writes its own rows.
pub(crate) async fn create_migrated_database(name: &str) -> MySqlPool {
    let server = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&mysql_server_url())
        .await
        .expect("the test MySQL server must run: scripts/stack up");
    drop_stale_test_databases(&server).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
        .execute(&server)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE `{name}`"))
        .execute(&server)
        .await
        .expect("create");
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&database_url(name))
        .await
        .expect("connect to the fixture database");
    ogrom::run::MIGRATOR.run(&pool).await.expect("migrate");
    pool
}

/// A database name of this test process: `ogrom_test_<pid>_<suffix>`.
pub(crate) fn private_database(suffix: &str) -> String {
    format!("ogrom_test_{}_{suffix}", std::process::id())
}

/// Databases of test processes that are gone (named `ogrom_test_<pid>[_suffix]`).
async fn drop_stale_test_databases(server: &MySqlPool) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'ogrom\\_test\\_%'",
    )
    .fetch_all(server)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name
            .strip_prefix("ogrom_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .execute(server)
                .await;
        }
    }
}

/// A pool on a database, for the tests' own SQL.
pub(crate) async fn sql(database: &str) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&database_url(database))
        .await
        .expect("connect for test SQL")
}

/// `serve` arguments as an operator would pass them, plus `extra` flags.
pub(crate) fn serve_args(database_url: &str, extra: &[&str]) -> ServeArgs {
    let mut argv = vec![
        "ogrom",
        "serve",
        "--database-url",
        database_url,
        "--elasticsearch-url",
    ];
    let es = elasticsearch_url();
    argv.push(&es);
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv)
        .expect("test arguments parse")
        .command
    {
        Command::Serve(args) => *args,
        _ => unreachable!("parsed a serve command"),
    }
}

/// The gateway built in-process over the fixture database.
pub(crate) struct TestApp {
    pub router: Router,
    pub database: String,
}

impl TestApp {
    /// Over the fixture database, with default configuration and `extra` flags.
    pub(crate) fn new(extra: &[&str]) -> Self {
        let database = fixture_database().to_owned();
        let args = serve_args(&database_url(&database), extra);
        let gateway = Gateway::build(&args).expect("gateway builds");
        Self {
            router: gateway.router,
            database,
        }
    }

    /// Over given backends (a pool of one connection, a proxy, …).
    pub(crate) fn with_parts(args: &ServeArgs, mysql: MySql, elasticsearch: Elasticsearch) -> Self {
        let partner = PartnerClient::new(partner_settings(&args.partner)).expect("partner client");
        Self::with_all(args, mysql, elasticsearch, partner)
    }

    /// Over given backends, the partner client included.
    pub(crate) fn with_all(
        args: &ServeArgs,
        mysql: MySql,
        elasticsearch: Elasticsearch,
        partner: PartnerClient,
    ) -> Self {
        let gateway =
            Gateway::from_parts(args, mysql, elasticsearch, partner).expect("the gateway builds");
        Self {
            router: gateway.router,
            database: String::new(),
        }
    }

    /// Sends a request through the router in-process.
    pub(crate) async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, body.to_vec())
    }

    /// POSTs a GraphQL request and returns status and JSON body.
    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, _, body) = self.send(request).await;
        (
            status,
            serde_json::from_slice(&body).expect("JSON response"),
        )
    }

    /// Runs a query that must succeed; returns its `data`.
    pub(crate) async fn query(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post("/graphql", json!({"query": query, "variables": variables}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }
}

/// A MySQL handle on a database with a pool of `connections`.
pub(crate) fn mysql_handle(database: &str, connections: u32) -> MySql {
    mysql_handle_waiting(database, connections, Duration::from_secs(2))
}

/// A MySQL handle whose statements wait up to `acquire` for a connection.
pub(crate) fn mysql_handle_waiting(database: &str, connections: u32, acquire: Duration) -> MySql {
    let options = MySqlConnectOptions::from_str(&database_url(database)).expect("url");
    let pool = MySqlPoolOptions::new()
        .max_connections(connections)
        .min_connections(0)
        .acquire_timeout(acquire)
        .connect_lazy_with(options);
    MySql::from_pool(pool, Duration::from_secs(5))
}

/// An Elasticsearch handle on a URL.
pub(crate) fn elasticsearch_handle(url: &str) -> Elasticsearch {
    Elasticsearch::new(url.parse().expect("url"), Duration::from_millis(1500)).expect("client")
}

/// The codes of a response's errors.
pub(crate) fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The loaders' extra batch window in tests that count backend calls: none. A batch then
/// gathers for one turn of the request's task only, so these tests show that batching rests
/// on the order in which fields are polled, not on a timer that a busy machine can outrun.
pub(crate) const BATCH_WINDOW_US: &str = "0";

/// The gateway over the fixture database with the tests' batch window, and the MySQL handle
/// (a pool of `connections`) whose statement counter the test reads.
pub(crate) fn counting_app(connections: u32, extra: &[&str]) -> (TestApp, MySql) {
    let database = fixture_database();
    let mysql = mysql_handle(database, connections);
    let mut flags = vec!["--loader-delay-us", BATCH_WINDOW_US];
    flags.extend_from_slice(extra);
    let args = serve_args(&database_url(database), &flags);
    let mut app = TestApp::with_parts(
        &args,
        mysql.clone(),
        elasticsearch_handle(&elasticsearch_url()),
    );
    app.database = database.to_owned();
    (app, mysql)
}

/// Runs a query that must succeed; returns the statements it cost and its `data`.
pub(crate) async fn statements_of(
    app: &TestApp,
    mysql: &MySql,
    query: &str,
    variables: Value,
) -> (u64, Value) {
    let before = mysql.statements();
    let data = app.query(query, variables).await;
    (mysql.statements() - before, data)
}

/// The `databaseId`s of a JSON list of objects, in order.
pub(crate) fn database_ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["databaseId"].as_i64().expect("a databaseId"))
        .collect()
}

/// The project's partner stand-in on a free port, accepting `key`: its URL and its handle.
pub(crate) async fn partner_stub(key: &str) -> (String, ogrom::run::partner_stub::StubHandle) {
    let (router, stub) = ogrom::run::partner_stub::router(key.to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, stub)
}

/// Waits until the partner stand-in holds a call: a request is executing its offers.
pub(crate) async fn until_partner_called(stub: &ogrom::run::partner_stub::StubHandle) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stub.stats().in_flight == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no request reached the partner"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Moves the test's clock on by `by` at once, then lets it run on in real time. The waits the
/// gateway judges (the breakers' open time, the offers and JWKS caches' TTLs, the refill of
/// cost budgets, the shutdown drain and timeout) read tokio's clock, so a test passes over
/// one without sleeping through it, and may give it a realistic length. Timers due meanwhile
/// fire, the test's own included. Needs the current-thread runtime of a plain
/// `#[tokio::test]`.
pub(crate) async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// `run::serve` on a free port of a real socket, until told to stop.
pub(crate) struct Served {
    pub address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    pub(crate) async fn start(args: ServeArgs) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            ogrom::run::serve(&args, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            address,
            stop: Some(stop),
            server,
        }
    }

    /// Sends the shutdown signal (as SIGTERM would).
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).expect("the server is running");
        }
    }

    /// Stops the server if not yet told to, and waits until `serve` returns.
    pub(crate) async fn stopped(mut self) -> anyhow::Result<()> {
        self.stop();
        self.server.await.expect("the server task")
    }
}

/// The lowercase hex SHA-256 of a text, as persisted queries and manifests name documents.
pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `schema.graphql` at the crate root, parsed: what client teams are given, and what tests
/// of introspection and GraphiQL compare the gateway's answers with.
pub(crate) fn published_schema() -> async_graphql::parser::types::ServiceDocument {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists at the crate root");
    async_graphql::parser::parse_schema(sdl).expect("schema.graphql parses")
}

/// The global id of object `id` of `kind`, as the API writes it: base64url of `Kind:id`.
pub(crate) fn global_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// A bearer token for user `user_id`, signed with HS256 `secret` as the test gateways
/// accept it (issuer `ogrom-dev`, audience `ogrom`), valid for ten minutes.
pub(crate) fn hs256_token(secret: &str, user_id: i32) -> String {
    ogrom::sources::auth::mint_hs256(
        secret,
        "ogrom-dev",
        "ogrom",
        user_id,
        "tester",
        Duration::from_secs(600),
    )
    .expect("token")
}
