//! `schema.graphql` is the contract client teams generate code from: it must equal the SDL
//! of the code, and the gateway must serve exactly it.

use axum::body::Body;
use axum::http::Request;

use crate::helpers::TestApp;

const REGENERATE: &str = "schema.graphql is out of date with the code: regenerate it with \
    `cargo run --quiet -- schema > schema.graphql` and review the diff";

fn committed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists at the crate root")
}

#[test]
fn schema_graphql_equals_the_sdl_of_the_code() {
    assert!(ogrom::core::sdl() == committed(), "{REGENERATE}");
}

#[tokio::test]
async fn the_gateway_serves_the_committed_schema() {
    let app = TestApp::new(&[]);
    let (status, headers, body) = app
        .send(Request::get("/schema.graphql").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        String::from_utf8(body).unwrap() == committed(),
        "{REGENERATE}"
    );
}
