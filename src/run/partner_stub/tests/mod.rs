//! The partner stub's own tests, in-process through `oneshot` (and one over TCP). Expected
//! values come from the rule as the module doc states it, worked out by hand here.

mod contract;
mod control;
mod faults;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

use super::{StubHandle, router};

const KEY: &str = "test-partner-key";

fn stub() -> (Router, StubHandle) {
    router(KEY.to_owned())
}

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    /// The product ids of the offers, in answer order.
    fn product_ids(&self) -> Vec<u64> {
        self.json()["offers"]
            .as_array()
            .expect("offers is a list")
            .iter()
            .map(|offer| {
                offer["product_id"]
                    .as_u64()
                    .expect("product_id is a number")
            })
            .collect()
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body reads");
    Answer {
        status,
        headers,
        body,
    }
}

/// An offers call with the right key.
fn offers_request(ids: &str) -> Request<Body> {
    Request::get(format!("/v1/offers?product_ids={ids}"))
        .header("authorization", format!("Bearer {KEY}"))
        .body(Body::empty())
        .expect("a valid request")
}

async fn get_offers(router: &Router, ids: &str) -> Answer {
    send(router, offers_request(ids)).await
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}
