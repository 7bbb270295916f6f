//! The control endpoint over HTTP, and the whole server over TCP.

use std::time::Duration;

use axum::http::StatusCode;

use super::{KEY, get, get_offers, post_json, send, stub};
use crate::config::PartnerStubArgs;
use crate::run::partner_stub::{Faults, serve};

#[tokio::test]
async fn control_sets_replaces_and_shows_faults() {
    let (router, handle) = stub();

    let set = send(
        &router,
        post_json("/control", r#"{"fail_status": 502, "fail_times": 1}"#),
    )
    .await;
    let shown = send(&router, get("/control")).await;
    let failed = get_offers(&router, "11").await;
    let replaced = send(&router, post_json("/control", r#"{"malformed": true}"#)).await;

    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(shown.json()["fail_status"], 502);
    assert_eq!(shown.json()["fail_times"], 1);
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json()["malformed"], "json");
    assert_eq!(replaced.json()["fail_status"], serde_json::Value::Null);
    assert_eq!(
        handle.faults().fail_status,
        None,
        "a POST replaces the whole set"
    );
}

#[tokio::test]
async fn control_refuses_unknown_fields_and_senseless_faults() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.latency_ms = 5)
        .expect("valid faults");
    let bodies = [
        r#"{"latency": 100}"#,
        r#"{"fail_status": 200}"#,
        r#"{"fail_times": 2}"#,
        r#"{"rate_limit_times": 2}"#,
        r#"{"drop_fraction": 1.5}"#,
        r#"{"malformed": "bogus"}"#,
        r#"{"hang": "#,
    ];

    for body in bodies {
        let answer = send(&router, post_json("/control", body)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.json()["error"]["code"], "bad_request");
    }
    assert_eq!(
        handle.faults().latency_ms,
        5,
        "a refused set changes nothing"
    );
}

#[tokio::test]
async fn control_stats_and_reset_match_the_handle() {
    let (router, handle) = stub();
    get_offers(&router, "11,13").await;

    let stats = send(&router, get("/control/stats")).await;

    assert_eq!(stats.status, StatusCode::OK);
    let expected = serde_json::json!({"calls": 1, "ids": 2, "last_ids": [11, 13],
        "last_request_id": null, "last_traceparent": null, "in_flight": 0, "max_in_flight": 1});
    assert_eq!(stats.json(), expected);
    send(&router, post_json("/control", r#"{"hang": true}"#)).await;
    let reset = send(&router, post_json("/control/reset", "")).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(handle.faults(), Faults::default());
    assert_eq!(handle.stats().calls, 0);
}

#[tokio::test]
async fn serve_answers_over_tcp_and_shuts_down_while_a_call_hangs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    let args = PartnerStubArgs {
        listen: listener.local_addr().expect("bound"),
        api_key: crate::config::Secret::from(KEY),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(&args, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let client = reqwest::Client::new();
    let offers = |client: &reqwest::Client| {
        client
            .get(format!("{base}/v1/offers"))
            .query(&[("product_ids", "11,12")])
            .bearer_auth(KEY)
            .send()
    };

    let ok = offers(&client).await.expect("the stub answers");
    let set = client
        .post(format!("{base}/control"))
        .body(r#"{"hang": true}"#)
        .send()
        .await
        .expect("control answers");
    let hanging = tokio::spawn(offers(&client));
    let arrived = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let stats: serde_json::Value = async {
                client
                    .get(format!("{base}/control/stats"))
                    .send()
                    .await?
                    .json()
                    .await
            }
            .await
            .expect("stats answer");
            if stats["in_flight"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let held = !hanging.is_finished();
    let _ = stop.send(());
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    let released = hanging.await.expect("the task ran").expect("an answer");

    assert_eq!(ok.status(), reqwest::StatusCode::OK);
    assert_eq!(set.status(), reqwest::StatusCode::OK);
    assert!(arrived.is_ok(), "the hanging call reached the stub");
    assert!(held, "the call hung until shutdown");
    let served = finished.expect("shut down in time").expect("the task ran");
    assert!(served.is_ok(), "{served:?}");
    assert_eq!(released.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
}
