//! Backend failures: with MySQL or Elasticsearch unreachable, readiness fails and queries
//! answer `UPSTREAM_UNAVAILABLE` (nothing crashes, nothing leaks); when the backend comes
//! back, the same gateway recovers by itself. The outage is made by a TCP proxy in front of
//! the real server that the test switches off and on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{
    TestApp, database_url, elasticsearch_handle, elasticsearch_url, error_codes, fixture_database,
    mysql_handle, serve_args, skip,
};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards both ways.
    Up,
    /// Drops every open connection and refuses new ones, like a crashed backend.
    Down,
    /// Keeps connections open but forwards nothing, like a hung backend.
    Stall,
}

/// A TCP proxy in front of a real server, switched between modes by the test.
struct Proxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Connections accepted so far.
    opened: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (mode, modes) = watch::channel(Mode::Up);
        let opened = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&opened);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                // Only mode changes after this connection opened concern it.
                let mut modes = modes.clone();
                modes.mark_unchanged();
                tokio::spawn(forward(client, target, modes));
            }
        });
        Self {
            address,
            mode,
            opened,
        }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn forward(mut client: TcpStream, target: SocketAddr, mut modes: watch::Receiver<Mode>) {
    let mut server: Option<TcpStream> = None;
    loop {
        let mode = *modes.borrow_and_update();
        match mode {
            Mode::Down => return,
            Mode::Stall => {
                if modes.changed().await.is_err() {
                    return;
                }
            }
            Mode::Up => {
                if server.is_none() {
                    server = TcpStream::connect(target).await.ok();
                }
                let Some(upstream) = server.as_mut() else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, upstream) => return,
                    changed = modes.changed() => if changed.is_err() { return },
                }
            }
        }
    }
}

fn socket_of(url: &str) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap();
    let host_port = rest.split('/').next().unwrap();
    let host_port = host_port.rsplit('@').next().unwrap();
    host_port
        .parse()
        .expect("the test stack is addressed by IP:port")
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let (status, _, body) = app
        .send(Request::get("/health/ready").body(Body::empty()).unwrap())
        .await;
    (status.as_u16(), serde_json::from_slice(&body).unwrap())
}

/// Polls until readiness has the wanted status (the backends take a moment to reconnect).
async fn wait_ready(app: &TestApp, want: u16) -> Value {
    let mut last = Value::Null;
    for _ in 0..50 {
        let (status, body) = ready(app).await;
        if status == want {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readiness never became {want}: {last}");
}

const QUERY: &str = "{ categories { slug } brands(first: 2) { totalCount } }";

#[tokio::test]
async fn mysql_down_fails_readiness_and_queries_then_the_gateway_recovers() {
    let mysql_addr = socket_of(&crate::helpers::mysql_server_url());
    let proxy = Proxy::start(mysql_addr).await;
    let database = fixture_database();
    let proxied = format!("mysql://ogrom:ogrom@{}/{database}", proxy.address);
    let args = serve_args(&proxied, &["--readiness-cache-ms", "0"]);
    let mysql = ogrom::sources::mysql::MySql::connect_lazy(
        args.database.database_url.0.clone(),
        &ogrom::sources::mysql::MySqlSettings {
            max_connections: 4,
            acquire_timeout: Duration::from_millis(500),
            statement_timeout: Duration::from_secs(2),
            ..Default::default()
        },
    );
    let app = TestApp::with_parts(&args, mysql, elasticsearch_handle(&elasticsearch_url()));

    let body = wait_ready(&app, 200).await;
    assert_eq!(body["checks"]["mysql"], "up");
    let data = app.query(QUERY, json!({})).await;
    assert!(!data["categories"].as_array().unwrap().is_empty());

    proxy.set(Mode::Down);
    let body = wait_ready(&app, 503).await;
    assert_eq!(body["checks"]["mysql"], "down");
    assert_eq!(body["checks"]["elasticsearch"], "up");
    let (status, body) = app.post("/graphql", json!({"query": QUERY})).await;
    assert_eq!(status, 200, "{body}");
    let codes = error_codes(&body);
    assert_eq!(
        codes,
        ["UPSTREAM_UNAVAILABLE", "UPSTREAM_UNAVAILABLE"],
        "{body}"
    );
    assert_eq!(body["data"]["categories"], Value::Null);
    let text = body.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains(&proxy.address.port().to_string()),
        "backend details leaked to the client: {text}"
    );

    proxy.set(Mode::Up);
    wait_ready(&app, 200).await;
    let data = app.query(QUERY, json!({})).await;
    assert!(!data["categories"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn elasticsearch_down_fails_readiness_then_it_recovers() {
    let proxy = Proxy::start(socket_of(&elasticsearch_url())).await;
    let database = fixture_database();
    let args = serve_args(&database_url(database), &["--readiness-cache-ms", "0"]);
    let app = TestApp::with_parts(
        &args,
        mysql_handle(database, 2),
        elasticsearch_handle(&format!("http://{}", proxy.address)),
    );
    wait_ready(&app, 200).await;
    proxy.set(Mode::Down);
    let body = wait_ready(&app, 503).await;
    assert_eq!(body["checks"]["elasticsearch"], "down");
    assert_eq!(body["checks"]["mysql"], "up");
    assert_eq!(body["status"], "unready");
    // MySQL-backed fields are unaffected by the search backend's outage.
    let data = app.query(QUERY, json!({})).await;
    assert!(data["brands"]["totalCount"].as_i64().unwrap() > 0);
    proxy.set(Mode::Up);
    let body = wait_ready(&app, 200).await;
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn liveness_does_not_depend_on_backends() {
    let args = serve_args("mysql://ogrom:ogrom@127.0.0.1:1/nothing", &[]);
    let app = TestApp::with_parts(
        &args,
        ogrom::sources::mysql::MySql::connect_lazy(
            args.database.database_url.0.clone(),
            &ogrom::sources::mysql::MySqlSettings::default(),
        ),
        elasticsearch_handle("http://127.0.0.1:1"),
    );
    let (status, _, _) = app
        .send(Request::get("/health/live").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, 200);
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503);
    assert_eq!(
        body["checks"],
        json!({"mysql": "down", "elasticsearch": "down"})
    );
    let (_, body) = app.post("/graphql", json!({"query": QUERY})).await;
    assert!(
        error_codes(&body)
            .iter()
            .all(|c| c == "UPSTREAM_UNAVAILABLE"),
        "{body}"
    );
}

/// Connections in use are not pinged before each statement (that was a round trip a
/// statement); one that sat idle is, so a connection the server cut meanwhile (a restart, an
/// idle timeout) is replaced instead of failing the statement that gets it.
#[tokio::test]
async fn a_connection_cut_while_idle_is_replaced_before_a_statement_uses_it() {
    use ogrom::protocols::HealthCheck;
    let url = format!(
        "{}/{}",
        crate::helpers::mysql_server_url(),
        fixture_database()
    );
    let mysql = ogrom::sources::mysql::MySql::connect_lazy(
        url.parse().expect("a MySQL URL"),
        &ogrom::sources::mysql::MySqlSettings {
            max_connections: 1,
            ..Default::default()
        },
    );
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(mysql.pool())
        .await
        .expect("the pool's one connection");
    let admin = sqlx::MySqlPool::connect(&url)
        .await
        .expect("a second connection");
    sqlx::query(&format!("KILL {id}"))
        .execute(&admin)
        .await
        .expect("the first connection is cut");
    // Past the idle time after which a connection is tested (1 s); sqlx measures it with
    // the real clock, so this test waits for it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    mysql.check().await.expect("a fresh connection answers");
    let now: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(mysql.pool())
        .await
        .expect("the replacement");
    assert_ne!(now, id);
}

/// Statements that start together wait for connections while the pool opens them; one
/// that ends hands its connection to the next, unpinged. The connections being opened
/// meanwhile are kept, not cut short: the pool grows to its bound and opens no more.
#[tokio::test]
async fn connections_the_pool_opens_for_waiting_statements_are_kept_not_cut_short() {
    let proxy = Proxy::start(socket_of(&crate::helpers::mysql_server_url())).await;
    let proxied = format!(
        "mysql://ogrom:ogrom@{}/{}",
        proxy.address,
        fixture_database()
    );
    let args = serve_args(&proxied, &[]);
    let mysql = ogrom::sources::mysql::MySql::connect_lazy(
        args.database.database_url.0.clone(),
        &ogrom::sources::mysql::MySqlSettings {
            max_connections: 3,
            ..Default::default()
        },
    );
    let app = TestApp::with_parts(&args, mysql, elasticsearch_handle(&elasticsearch_url()));
    // One statement: the pool opens one connection, kept after it.
    let one = "{ brands(first: 2) { nodes { name } } }";
    assert_eq!(
        app.query(one, json!({})).await["brands"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Two root fields of two loaders: two statements at once. One takes the kept
    // connection, the other waits, and the pool starts opening one for it; the first hands
    // its connection over before that one is open.
    let two = "{ brands(first: 2) { nodes { name } } collages(first: 2) { nodes { title } } }";
    for _ in 0..20 {
        let data = app.query(two, json!({})).await;
        assert_eq!(data["brands"]["nodes"].as_array().map(Vec::len), Some(2));
        assert_eq!(data["collages"]["nodes"].as_array().map(Vec::len), Some(2));
    }
    let opened = proxy.opened.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&opened),
        "{opened} connections opened for a pool of 3"
    );
}

#[tokio::test]
async fn a_hung_mysql_is_an_upstream_timeout_within_the_statement_bound() {
    let proxy = Proxy::start(socket_of(&crate::helpers::mysql_server_url())).await;
    let database = fixture_database();
    let proxied = format!("mysql://ogrom:ogrom@{}/{database}", proxy.address);
    let args = serve_args(&proxied, &[]);
    let mysql = ogrom::sources::mysql::MySql::connect_lazy(
        args.database.database_url.0.clone(),
        &ogrom::sources::mysql::MySqlSettings {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    let app = TestApp::with_parts(&args, mysql, elasticsearch_handle(&elasticsearch_url()));
    // Open the one pooled connection while the backend answers.
    app.query(QUERY, json!({})).await;

    proxy.set(Mode::Stall);
    let started = std::time::Instant::now();
    let (status, body) = app
        .post("/graphql", json!({"query": "{ categories { slug } }"}))
        .await;
    let waited = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_codes(&body), ["UPSTREAM_TIMEOUT"], "{body}");
    assert_eq!(body["data"]["categories"], Value::Null);
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
    proxy.set(Mode::Up);
}

/// A search that reaches Elasticsearch (fixture index).
const SEARCH: &str = "{ searchProducts(first: 2) { totalCount } }";

/// The code of each answer of `query`, sent `times` at once (`"ok"` for an answer without
/// errors).
async fn codes_at_once(app: &TestApp, query: &str, times: usize) -> Vec<String> {
    let sends = (0..times).map(|_| app.post("/graphql", json!({ "query": query })));
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|(_, body)| {
            error_codes(&body)
                .into_iter()
                .next()
                .unwrap_or_else(|| "ok".to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_hung_elasticsearch_trips_its_breaker_and_mysql_pages_keep_answering() {
    let proxy = Proxy::start(socket_of(&elasticsearch_url())).await;
    let database = fixture_database();
    let alias = crate::search::fixture_alias();
    let args = serve_args(&database_url(database), &["--elasticsearch-index", alias]);
    // A 300 ms search timeout; the breaker opens after 3 timeouts in a row, for 30 s (the
    // test moves the clock on rather than wait).
    let elasticsearch = ogrom::sources::elasticsearch::Elasticsearch::new(
        format!("http://{}", proxy.address).parse().unwrap(),
        Duration::from_millis(300),
    )
    .unwrap()
    .guarded(ogrom::sources::breaker::GuardSettings {
        failures: 3,
        open_for: Duration::from_secs(30),
        max_in_flight: 64,
    });
    let app = TestApp::with_parts(&args, mysql_handle(database, 4), elasticsearch);
    assert_eq!(codes_at_once(&app, SEARCH, 1).await, ["ok"]);

    proxy.set(Mode::Stall);
    // Searches that go out time out, and open the breaker; MySQL pages asked meanwhile
    // answer, every one.
    let (searches, pages) = tokio::join!(
        codes_at_once(&app, SEARCH, 3),
        codes_at_once(&app, QUERY, 20)
    );
    assert_eq!(searches, ["UPSTREAM_TIMEOUT"; 3]);
    assert!(pages.iter().all(|c| c == "ok"), "{pages:?}");
    // Open: searches fail without being sent (unavailable, not timed out), MySQL answers.
    let (searches, pages) = tokio::join!(
        codes_at_once(&app, SEARCH, 10),
        codes_at_once(&app, QUERY, 20)
    );
    assert_eq!(searches, ["UPSTREAM_UNAVAILABLE"; 10]);
    assert!(pages.iter().all(|c| c == "ok"), "{pages:?}");
    let (_, _, metrics) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let metrics = String::from_utf8(metrics).unwrap();
    let open = r#"ogrom_backend_breaker_state{backend="elasticsearch",state="open"} 1"#;
    assert!(metrics.contains(open), "{metrics}");

    // Back up: searches stay refused until the circuit's 30 s are over, then a probe goes
    // through and they answer again.
    proxy.set(Mode::Up);
    skip(Duration::from_secs(29)).await;
    assert_eq!(
        codes_at_once(&app, SEARCH, 1).await,
        ["UPSTREAM_UNAVAILABLE"]
    );
    skip(Duration::from_secs(1)).await;
    assert_eq!(codes_at_once(&app, SEARCH, 1).await, ["ok"]);
    assert_eq!(codes_at_once(&app, SEARCH, 1).await, ["ok"]);
}
