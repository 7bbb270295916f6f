//! Through a real listener: `run::serve` on port 0 answers HTTP, and stops cleanly when its
//! shutdown future completes.

use serde_json::{Value, json};

use crate::helpers::{Served, database_url, fixture_database, serve_args, sql};

#[tokio::test]
async fn serve_answers_on_a_real_socket_and_shuts_down_cleanly() {
    let database = fixture_database();
    let args = serve_args(&database_url(database), &["--shutdown-drain-ms", "0"]);
    let served = Served::start(args).await;
    let address = served.address;

    let db = sql(database).await;
    let products: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE brand_id = 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let slug: String = sqlx::query_scalar("SELECT slug FROM brands WHERE id = 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("http://{address}/graphql"))
        .json(&json!({"query": "query($s: String!) { brand(slug: $s) { databaseId products { totalCount } } }",
                      "variables": {"s": slug}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["brand"]["databaseId"], 1);
    assert_eq!(body["data"]["brand"]["products"]["totalCount"], products);
    let live = client
        .get(format!("http://{address}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    served
        .stopped()
        .await
        .expect("serve returns Ok after shutdown");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the port is closed"
    );
}
