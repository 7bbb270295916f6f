//! Graceful shutdown through a real listener: once told to stop, the gateway reports unready
//! at once but keeps serving through the drain, then closes its listener while a slow
//! request in flight still completes; a request that outlives the shutdown timeout does not
//! hold the process. The drain and the shutdown timeout run on tokio's clock, which the tests
//! move on (`skip`) rather than sleep through.

use std::time::{Duration, Instant};

use ogrom::run::partner_stub::{Faults, StubHandle};
use serde_json::{Value, json};

use crate::helpers::{
    Served, database_url, fixture_database, partner_stub, serve_args, skip, sql,
    until_partner_called,
};

const KEY: &str = "shutdown-partner-key";
const WITH_OFFERS: &str = "query($id: Int!) { product(databaseId: $id) { name offers { stale \
                           offers { price { amount } } } } }";

/// A partner stand-in that holds every call until the test releases it, and the gateway on
/// port 0 with the given drain and shutdown timeout. The partner's and the request's own
/// time limits are long enough that a test can move the clock past the drain (see `skip`)
/// without ending the held request.
async fn start(drain_ms: &str, timeout_ms: &str) -> (Served, StubHandle) {
    let (partner_url, stub) = partner_stub(KEY).await;
    stub.set_faults(Faults {
        hang: true,
        ..Faults::default()
    })
    .unwrap();
    let args = serve_args(
        &database_url(fixture_database()),
        &[
            "--partner-url",
            &partner_url,
            "--partner-api-key",
            KEY,
            "--partner-timeout-ms",
            "600000",
            "--partner-deadline-ms",
            "600000",
            "--request-timeout-ms",
            "600000",
            "--partner-retries",
            "0",
            "--offers-cache-ttl-ms",
            "0",
            "--shutdown-drain-ms",
            drain_ms,
            "--shutdown-timeout-ms",
            timeout_ms,
        ],
    );
    (Served::start(args).await, stub)
}

/// A client that opens a new connection per request, as a new visitor would.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .unwrap()
}

async fn product_id() -> i64 {
    sqlx::query_scalar("SELECT MIN(id) FROM products")
        .fetch_one(&sql(fixture_database()).await)
        .await
        .unwrap()
}

/// Waits until `address` refuses connections: the listener has closed.
async fn until_closed(address: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener never closed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_slow_request_completes_across_shutdown_and_readiness_flips_before_the_listener_closes() {
    let (mut served, stub) = start("10000", "10000").await;
    let address = served.address;
    let id = product_id().await;
    let client = fresh_client();
    let ready = client
        .get(format!("http://{address}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "ready before shutdown");
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .post(format!("http://{address}/graphql"))
                .json(&json!({"query": WITH_OFFERS, "variables": {"id": id}}))
                .send()
                .await
        }
    });
    until_partner_called(&stub).await;

    served.stop();
    let stopped_at = Instant::now();
    // Readiness fails at once: poll until it does.
    let mut status = 200;
    while status == 200 && stopped_at.elapsed() < Duration::from_millis(500) {
        status = client
            .get(format!("http://{address}/health/ready"))
            .send()
            .await
            .expect("still accepting while draining")
            .status()
            .as_u16();
    }
    assert_eq!(status, 503, "unready once shutdown began");
    // Eight seconds into the ten of the drain, new requests are still served, and told to
    // close their connection.
    skip(Duration::from_secs(8)).await;
    let during = client
        .post(format!("http://{address}/graphql"))
        .json(&json!({"query": "{ brands(first: 1) { totalCount } }"}))
        .send()
        .await
        .expect("served during the drain");
    assert_eq!(during.status(), 200);
    assert_eq!(during.headers()["connection"], "close");
    let during: Value = during.json().await.unwrap();
    assert!(during.get("errors").is_none(), "{during}");

    // After the drain the listener closes, while the slow request is still running.
    skip(Duration::from_secs(2)).await;
    until_closed(address).await;
    assert!(!slow.is_finished(), "the slow request is still in flight");

    stub.update_faults(|faults| faults.hang = false).unwrap();
    let slow = slow.await.unwrap().expect("the slow request is answered");
    assert_eq!(slow.status(), 200);
    let body: Value = slow.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        body["data"]["product"]["offers"]["offers"].is_array(),
        "{body}"
    );
    served.stopped().await.expect("serve returns Ok");
}

#[tokio::test]
async fn a_request_past_the_shutdown_timeout_does_not_hold_the_process() {
    let (served, stub) = start("0", "10000").await;
    let address = served.address;
    let id = product_id().await;
    let client = fresh_client();
    let hanging = tokio::spawn(async move {
        client
            .post(format!("http://{address}/graphql"))
            .json(&json!({"query": WITH_OFFERS, "variables": {"id": id}}))
            .send()
            .await
    });
    until_partner_called(&stub).await;

    let stopping = tokio::spawn(served.stopped());
    // No drain: the listener closes at once, and the ten seconds for requests in flight begin.
    until_closed(address).await;
    skip(Duration::from_secs(9)).await;
    assert!(
        !stopping.is_finished(),
        "it waits for the request until the bound"
    );
    skip(Duration::from_secs(1)).await;
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("serve returns after the shutdown timeout, not when the partner answers")
        .expect("the serve task")
        .expect("serve returns Ok");
    // In a process, exiting ends the cut-off request; in this test it is left to the client.
    hanging.abort();
}
