//! Each fault, set through the handle, and how faults count down, compose and reset.

use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::{get_offers, stub};
use crate::run::partner_stub::{Faults, Malformed};

const PATIENCE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn latency_delays_the_answer() {
    let (router, handle) = stub();
    handle
        .set_faults(Faults {
            latency_ms: 200,
            ..Faults::default()
        })
        .expect("valid faults");

    let started = Instant::now();
    let answer = get_offers(&router, "11").await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn fail_times_answers_5xx_that_many_times_then_recovers() {
    let (router, handle) = stub();
    handle
        .set_faults(Faults {
            fail_status: Some(503),
            fail_times: Some(2),
            ..Faults::default()
        })
        .expect("valid faults");

    let first = get_offers(&router, "11").await;
    let second = get_offers(&router, "11").await;
    let third = get_offers(&router, "11").await;

    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.json()["error"]["code"], "unavailable");
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(third.product_ids(), [11]);
    assert_eq!(handle.stats().calls, 3);
    assert_eq!(handle.faults().fail_times, Some(0));
}

#[tokio::test]
async fn fail_status_without_times_fails_every_call() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.fail_status = Some(500))
        .expect("valid faults");

    for _ in 0..5 {
        assert_eq!(
            get_offers(&router, "11").await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_then_recovers() {
    let (router, handle) = stub();
    handle
        .set_faults(Faults {
            rate_limit_retry_after_s: Some(7),
            rate_limit_times: Some(1),
            ..Faults::default()
        })
        .expect("valid faults");

    let limited = get_offers(&router, "11").await;
    let recovered = get_offers(&router, "11").await;

    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "7");
    assert_eq!(recovered.status, StatusCode::OK);
}

#[tokio::test]
async fn hang_holds_calls_until_the_fault_is_cleared() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.hang = true)
        .expect("valid faults");

    let call = tokio::spawn({
        let router = router.clone();
        async move { get_offers(&router, "11").await }
    });
    let arrived = tokio::time::timeout(PATIENCE, handle.wait_for_stats(|s| s.in_flight == 1)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held = !call.is_finished();
    handle
        .update_faults(|f| f.hang = false)
        .expect("valid faults");
    let answer = tokio::time::timeout(PATIENCE, call).await;

    assert!(arrived.is_ok(), "the call reached the stub");
    assert!(held, "the call was held");
    let answer = answer.expect("released in time").expect("the task ran");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(handle.stats().in_flight, 0);
}

#[tokio::test]
async fn close_releases_held_and_delayed_calls_with_503() {
    let (router, handle) = stub();
    handle
        .set_faults(Faults {
            hang: true,
            ..Faults::default()
        })
        .expect("valid faults");
    let held = tokio::spawn({
        let router = router.clone();
        async move { get_offers(&router, "11").await }
    });
    tokio::time::timeout(PATIENCE, handle.wait_for_stats(|s| s.in_flight == 1))
        .await
        .expect("the call reached the stub");

    let (slow_router, slow_handle) = stub();
    slow_handle
        .update_faults(|f| f.latency_ms = 60_000)
        .expect("valid faults");
    let delayed = tokio::spawn(async move { get_offers(&slow_router, "11").await });
    tokio::time::timeout(PATIENCE, slow_handle.wait_for_stats(|s| s.in_flight == 1))
        .await
        .expect("the call reached the stub");

    handle.close();
    slow_handle.close();
    let held = tokio::time::timeout(PATIENCE, held).await;
    let delayed = tokio::time::timeout(PATIENCE, delayed).await;

    for answer in [held, delayed] {
        let answer = answer.expect("released in time").expect("the task ran");
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.json()["error"]["code"], "shutting_down");
    }
}

#[tokio::test]
async fn malformed_answers_200_with_a_body_a_client_must_reject() {
    let (router, handle) = stub();

    handle
        .update_faults(|f| f.malformed = Some(Malformed::Json))
        .expect("valid faults");
    let broken = get_offers(&router, "11").await;
    handle
        .update_faults(|f| f.malformed = Some(Malformed::Shape))
        .expect("valid faults");
    let misshapen = get_offers(&router, "11").await;

    assert_eq!(broken.status, StatusCode::OK);
    assert!(serde_json::from_slice::<serde_json::Value>(&broken.body).is_err());
    assert_eq!(misshapen.status, StatusCode::OK);
    assert!(!misshapen.json()["offers"].is_array());
}

#[tokio::test]
async fn drop_ids_leaves_exactly_those_products_out() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.drop_ids = vec![13, 15])
        .expect("valid faults");

    let answer = get_offers(&router, "11,13,15,17").await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.product_ids(), [11, 17]);
}

#[tokio::test]
async fn drop_fraction_one_half_leaves_odd_ids_out() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.drop_fraction = Some(0.5))
        .expect("valid faults");

    let answer = get_offers(&router, "1,2,3,4,5").await;

    // Even ids not multiples of 10 have two offers each.
    assert_eq!(answer.product_ids(), [2, 2, 4, 4]);
}

#[tokio::test]
async fn latency_applies_before_an_injected_failure() {
    let (router, handle) = stub();
    handle
        .set_faults(Faults {
            latency_ms: 150,
            fail_status: Some(502),
            ..Faults::default()
        })
        .expect("valid faults");

    let started = Instant::now();
    let answer = get_offers(&router, "11").await;

    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn counters_record_calls_ids_request_id_and_concurrency() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.latency_ms = 300)
        .expect("valid faults");

    let calls = ["11,12", "13", "14,15,16"].map(|ids| {
        let router = router.clone();
        tokio::spawn(async move { get_offers(&router, ids).await })
    });
    for call in calls {
        assert_eq!(call.await.expect("the task ran").status, StatusCode::OK);
    }
    handle
        .update_faults(|f| f.latency_ms = 0)
        .expect("valid faults");
    let request = axum::http::Request::get("/v1/offers?product_ids=17,18")
        .header("authorization", format!("Bearer {}", super::KEY))
        .header("x-request-id", "gateway-42")
        .body(axum::body::Body::empty())
        .expect("a request");
    super::send(&router, request).await;

    let stats = handle.stats();
    assert_eq!(stats.calls, 4);
    assert_eq!(stats.ids, 2 + 1 + 3 + 2);
    assert_eq!(stats.last_ids, [17, 18]);
    assert_eq!(stats.last_request_id.as_deref(), Some("gateway-42"));
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.max_in_flight, 3, "the three delayed calls overlapped");
}

#[tokio::test]
async fn reset_clears_faults_and_counters() {
    let (router, handle) = stub();
    handle
        .update_faults(|f| f.fail_status = Some(503))
        .expect("valid faults");
    get_offers(&router, "11").await;

    handle.reset();
    let answer = get_offers(&router, "13").await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(handle.faults(), Faults::default());
    let stats = handle.stats();
    assert_eq!((stats.calls, stats.ids, stats.max_in_flight), (1, 1, 1));
}
