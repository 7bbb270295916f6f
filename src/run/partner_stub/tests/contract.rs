//! The partner's endpoint without faults: shape, generation rule, auth, id list checks.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::{KEY, get_offers, send, stub};
use crate::run::partner_stub::{dropped_by_fraction, expected_offer_count, offers_for};

#[tokio::test]
async fn offers_follow_the_contract_shape() {
    let (router, _) = stub();

    let answer = get_offers(&router, "12,17,99,20").await;

    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    let offers = body["offers"].as_array().expect("offers is a list");
    let mut per_product = BTreeMap::new();
    for offer in offers {
        let fields: Vec<&str> = offer
            .as_object()
            .expect("an offer is an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "availability",
                "price",
                "product_id",
                "shop",
                "sizes",
                "updated_at",
                "url"
            ]
        );
        *per_product
            .entry(offer["product_id"].as_u64().expect("a numeric id"))
            .or_insert(0) += 1;
        let shop = offer["shop"].as_str().expect("shop is a string");
        assert!(!shop.is_empty() && shop.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        let amount = offer["price"]["amount"]
            .as_str()
            .expect("amount is a string");
        let (units, cents) = amount.split_once('.').expect("a decimal point");
        assert!(!units.is_empty() && units.bytes().all(|b| b.is_ascii_digit()));
        assert!(cents.len() == 2 && cents.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(offer["price"]["currency"], "EUR");
        let availability = offer["availability"].as_str().expect("a string");
        assert!(["in_stock", "low_stock", "out_of_stock"].contains(&availability));
        assert!(
            offer["sizes"]
                .as_array()
                .expect("a list")
                .iter()
                .all(|s| s.is_string())
        );
        assert!(
            offer["url"]
                .as_str()
                .expect("a string")
                .starts_with("https://")
        );
        let updated_at = offer["updated_at"].as_str().expect("a string");
        assert!(chrono::DateTime::parse_from_rfc3339(updated_at).is_ok());
    }
    // By the documented rule: 12 is even (two offers), 17 and 99 odd (one), 20 a multiple
    // of 10 (absent).
    assert_eq!(per_product, BTreeMap::from([(12, 2), (17, 1), (99, 1)]));
}

#[test]
fn the_generation_rule_gives_the_documented_offers() {
    // 17: 995 + 17 * 50 = 1845 cents; (17 + 0) % 3 = 2, out of stock, no sizes.
    let seventeen = offers_for(17);
    assert_eq!(seventeen.len(), 1);
    assert_eq!(seventeen[0].price.amount, "18.45");
    assert_eq!(seventeen[0].availability, "out_of_stock");
    assert!(seventeen[0].sizes.is_empty());
    assert_eq!(seventeen[0].updated_at, "2026-01-01T00:17:00Z");
    // 12: offer 0 is 995 + 600 cents, in stock (12 % 3 = 0) in XS S M; offer 1 adds 300
    // cents and is low stock (13 % 3 = 1) in the size at 12 % 5 = 2.
    let twelve = offers_for(12);
    assert_eq!(twelve.len(), 2);
    assert_eq!(twelve[0].price.amount, "15.95");
    assert_eq!(twelve[0].sizes, ["XS", "S", "M"]);
    assert_eq!(twelve[1].price.amount, "18.95");
    assert_eq!(twelve[1].availability, "low_stock");
    assert_eq!(twelve[1].sizes, ["M"]);
    assert_ne!(twelve[0].shop, twelve[1].shop);
    // 1439 minutes is 23:59; 199 is the dearest step: 995 + 9950 cents.
    assert_eq!(offers_for(1439)[0].updated_at, "2026-01-01T23:59:00Z");
    assert_eq!(offers_for(199)[0].price.amount, "109.45");
    assert!(offers_for(20).is_empty());
    for id in 0..=1000 {
        let offers = offers_for(id);
        assert_eq!(offers.len(), expected_offer_count(id));
        assert!(offers.iter().all(|o| o.product_id == id));
        assert_eq!(offers, offers_for(id), "deterministic");
    }
}

#[test]
fn drop_fraction_drops_the_documented_ids() {
    let dropped = |fraction| -> Vec<u64> {
        (1..=20)
            .filter(|id| dropped_by_fraction(*id, fraction))
            .collect()
    };
    assert_eq!(dropped(0.5), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    assert_eq!(dropped(0.2), [4, 9, 14, 19]);
    assert_eq!(dropped(0.1), [9, 19]);
    assert_eq!(dropped(1.0).len(), 20);
    assert!(dropped(0.0).is_empty());
}

#[tokio::test]
async fn a_missing_or_wrong_api_key_is_refused_with_401() {
    let (router, _) = stub();
    let authorizations = [
        None,
        Some("Bearer wrong-key".to_owned()),
        Some(format!("Basic {KEY}")),
        Some(KEY.to_owned()),
        Some(format!("Bearer {KEY}x")),
    ];

    for authorization in authorizations {
        let mut request = Request::get("/v1/offers?product_ids=12");
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let answer = send(&router, request.body(Body::empty()).expect("a request")).await;

        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
        assert_eq!(answer.json()["error"]["code"], "unauthorized");
    }
    let lowercase_scheme = Request::get("/v1/offers?product_ids=12")
        .header("authorization", format!("bearer {KEY}"))
        .body(Body::empty())
        .expect("a request");
    assert_eq!(send(&router, lowercase_scheme).await.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_empty_or_oversized_id_lists_are_refused_with_400() {
    let (router, handle) = stub();
    let fifty_one = (1..=51)
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let uris = [
        "/v1/offers".to_owned(),
        "/v1/offers?product_ids=".to_owned(),
        "/v1/offers?product_ids=1,,2".to_owned(),
        "/v1/offers?product_ids=1,".to_owned(),
        "/v1/offers?product_ids=abc".to_owned(),
        "/v1/offers?product_ids=-1".to_owned(),
        "/v1/offers?product_ids=1,%202".to_owned(),
        "/v1/offers?product_ids=99999999999999999999999".to_owned(),
        format!("/v1/offers?product_ids={fifty_one}"),
    ];

    for uri in &uris {
        let request = Request::get(uri.as_str())
            .header("authorization", format!("Bearer {KEY}"))
            .body(Body::empty())
            .expect("a request");
        let answer = send(&router, request).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(answer.json()["error"]["code"], "bad_request");
    }
    assert_eq!(handle.stats().ids, 0, "invalid lists count no ids");
}

#[tokio::test]
async fn fifty_ids_an_encoded_comma_and_repeated_ids_are_accepted() {
    let (router, _) = stub();
    let fifty = (1..=50)
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");

    let full = get_offers(&router, &fifty).await;
    let encoded = get_offers(&router, "11%2C13").await;
    let repeated = get_offers(&router, "11,11,11").await;

    assert_eq!(full.status, StatusCode::OK);
    // 1..=50: 25 odd ids with one offer, 20 even ids not multiples of 10 with two.
    assert_eq!(full.product_ids().len(), 25 + 2 * 20);
    assert_eq!(encoded.product_ids(), [11, 13]);
    assert_eq!(
        repeated.product_ids(),
        [11],
        "a repeated id is answered once"
    );
}
