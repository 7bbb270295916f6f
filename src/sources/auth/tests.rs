//! Unit tests of the claim checks (HS256 tokens minted here, no network) and of the JWKS
//! cache's decisions (with a clock the tests move).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::jwks::{
    CacheState, KeySet, Plan, RETRY_AFTER_FAILURE, UNKNOWN_KID_REFETCH, parse_key_set,
};
use super::{AnonymousOnly, JwtAuthenticator, mint_hs256};
use crate::config::{AuthArgs, Secret};
use crate::protocols::auth::{AuthError, Authenticator, ViewerId};

const SECRET: &str = "a-development-secret-of-32-bytes-or-more";
const ISSUER: &str = "ogrom-dev";
const AUDIENCE: &str = "ogrom";

fn args(secret: Option<&str>, jwks_url: Option<&str>) -> AuthArgs {
    AuthArgs {
        jwt_hs256_secret: secret.map(Secret::from),
        jwt_jwks_url: jwks_url.map(|u| u.parse().unwrap()),
        jwt_issuer: ISSUER.to_owned(),
        jwt_audience: AUDIENCE.to_owned(),
        jwt_leeway_s: 30,
        jwt_jwks_ttl_s: 600,
    }
}

fn hs256_only() -> JwtAuthenticator {
    JwtAuthenticator::new(&args(Some(SECRET), None)).unwrap()
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims that pass every check; tests change one at a time.
fn good_claims() -> Value {
    json!({"sub": "42", "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 600})
}

fn with(claims: Value, key: &str, value: Value) -> Value {
    let mut claims = claims;
    claims[key] = value;
    claims
}

fn without(claims: Value, key: &str) -> Value {
    let mut claims = claims;
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn sign(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn check(claims: Value) -> Result<ViewerId, AuthError> {
    hs256_only()
        .authenticate(&sign(Algorithm::HS256, SECRET, &claims))
        .await
}

fn is_invalid(outcome: &Result<ViewerId, AuthError>) -> bool {
    matches!(outcome, Err(AuthError::Invalid(_)))
}

#[tokio::test]
async fn a_valid_hs256_token_names_its_subject_as_the_viewer() {
    assert_eq!(check(good_claims()).await, Ok(ViewerId(42)));
}

#[tokio::test]
async fn an_audience_list_that_holds_ours_is_accepted() {
    let claims = with(good_claims(), "aud", json!(["billing", AUDIENCE]));
    assert_eq!(check(claims).await, Ok(ViewerId(42)));
}

#[tokio::test]
async fn a_token_past_its_expiry_is_refused_as_expired() {
    let claims = with(good_claims(), "exp", json!(now() - 120));
    assert_eq!(check(claims).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn expiry_within_the_leeway_is_tolerated() {
    let claims = with(good_claims(), "exp", json!(now() - 10));
    assert_eq!(check(claims).await, Ok(ViewerId(42)));
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused_as_expired() {
    let claims = with(good_claims(), "nbf", json!(now() + 600));
    assert_eq!(check(claims).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn exp_iss_and_aud_are_required() {
    for claim in ["exp", "iss", "aud"] {
        let outcome = check(without(good_claims(), claim)).await;
        assert!(is_invalid(&outcome), "without {claim}: {outcome:?}");
    }
}

#[tokio::test]
async fn another_issuer_or_audience_is_invalid() {
    let other_issuer = check(with(good_claims(), "iss", json!("someone-else"))).await;
    let other_audience = check(with(good_claims(), "aud", json!("other-app"))).await;
    let other_audiences = check(with(good_claims(), "aud", json!(["a", "b"]))).await;
    assert!(is_invalid(&other_issuer), "{other_issuer:?}");
    assert!(is_invalid(&other_audience), "{other_audience:?}");
    assert!(is_invalid(&other_audiences), "{other_audiences:?}");
}

#[tokio::test]
async fn subjects_that_are_not_positive_user_ids_are_invalid() {
    let subjects = [
        json!("0"),
        json!("-3"),
        json!("+3"),
        json!("007"),
        json!("12a"),
        json!(""),
        json!("99999999999"),
        json!(42),
        json!(null),
    ];
    for sub in subjects {
        let outcome = check(with(good_claims(), "sub", sub.clone())).await;
        assert!(is_invalid(&outcome), "sub {sub}: {outcome:?}");
    }
    let outcome = check(without(good_claims(), "sub")).await;
    assert!(is_invalid(&outcome), "no sub: {outcome:?}");
}

#[tokio::test]
async fn another_secret_or_another_hmac_algorithm_is_invalid() {
    let other_secret = sign(
        Algorithm::HS256,
        "another-secret-of-32-bytes-or-more!",
        &good_claims(),
    );
    let hs384 = sign(Algorithm::HS384, SECRET, &good_claims());
    for token in [other_secret, hs384] {
        let outcome = hs256_only().authenticate(&token).await;
        assert!(is_invalid(&outcome), "{outcome:?}");
    }
}

#[tokio::test]
async fn hs256_is_refused_when_only_a_jwks_is_configured() {
    // The URL is never fetched: the algorithm is refused first.
    let jwks_only =
        JwtAuthenticator::new(&args(None, Some("http://127.0.0.1:9/jwks.json"))).unwrap();
    let outcome = jwks_only
        .authenticate(&sign(Algorithm::HS256, SECRET, &good_claims()))
        .await;
    assert!(is_invalid(&outcome), "{outcome:?}");
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp-ext".to_owned()]);
    let token = jsonwebtoken::encode(
        &header,
        &good_claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let outcome = hs256_only().authenticate(&token).await;
    assert!(is_invalid(&outcome), "{outcome:?}");
}

#[tokio::test]
async fn a_token_longer_than_any_real_one_is_refused_unread() {
    let claims = with(good_claims(), "padding", json!("x".repeat(10_000)));
    let expected = Err(AuthError::Invalid("the token is too long".to_owned()));
    assert_eq!(check(claims).await, expected);
}

#[tokio::test]
async fn without_any_issuer_every_token_is_refused() {
    let token = sign(Algorithm::HS256, SECRET, &good_claims());
    let unconfigured = JwtAuthenticator::new(&args(None, None)).unwrap();
    let expected = Err(AuthError::Invalid(
        "no token issuer is configured".to_owned(),
    ));
    assert!(!unconfigured.is_configured());
    assert_eq!(unconfigured.authenticate(&token).await, expected);
    assert_eq!(AnonymousOnly.authenticate(&token).await, expected);
}

#[tokio::test]
async fn minted_tokens_pass_the_checks() {
    let token = mint_hs256(SECRET, ISSUER, AUDIENCE, 7, "ada", Duration::from_secs(60)).unwrap();
    assert_eq!(hs256_only().authenticate(&token).await, Ok(ViewerId(7)));
    assert!(
        mint_hs256(
            SECRET,
            ISSUER,
            AUDIENCE,
            0,
            "nobody",
            Duration::from_secs(60)
        )
        .is_err()
    );
}

#[test]
fn jwks_keys_of_other_types_uses_and_algorithms_are_skipped() {
    let fixture: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/auth/jwks.json")).unwrap();
    let rsa = fixture["keys"][0].clone();
    let ec = fixture["keys"][1].clone();
    let document = json!({"keys": [
        rsa,
        ec,
        with(rsa.clone(), "use", json!("enc")),
        with(rsa.clone(), "alg", json!("RS384")),
        with(rsa.clone(), "key_ops", json!(["encrypt"])),
        with(ec.clone(), "crv", json!("P-384")),
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "RSA", "kid": "broken"},
        "not a key",
    ]});
    let keys = parse_key_set(document.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.candidates(Algorithm::RS256, Some("test-rsa")).len(), 1);
    assert_eq!(keys.candidates(Algorithm::ES256, Some("test-ec")).len(), 1);
    assert_eq!(keys.candidates(Algorithm::ES256, Some("test-rsa")).len(), 0);
    assert_eq!(keys.candidates(Algorithm::RS256, None).len(), 1);
    assert!(parse_key_set(b"{\"no\": \"keys\"}").is_err());
}

/// A cache that fetched `keys` successfully at `at`.
fn fetched(at: Instant, keys: KeySet) -> CacheState {
    let mut state = CacheState::default();
    state.record(at, Ok(keys));
    state
}

fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Use(_) => "use",
        Plan::Fetch => "fetch",
        Plan::Unavailable => "unavailable",
    }
}

#[test]
fn the_cache_fetches_when_empty_or_stale_and_for_unknown_kids_once_a_minute() {
    let ttl = Duration::from_secs(600);
    let start = Instant::now();
    let state = fetched(start, KeySet::default());
    let known = |_: &KeySet| true;
    let unknown = |_: &KeySet| false;

    assert_eq!(
        plan_name(CacheState::default().plan(start, ttl, known)),
        "fetch"
    );
    assert_eq!(
        plan_name(state.plan(start + Duration::from_secs(1), ttl, known)),
        "use"
    );
    assert_eq!(plan_name(state.plan(start + ttl, ttl, known)), "fetch");
    let soon = start + UNKNOWN_KID_REFETCH - Duration::from_secs(1);
    assert_eq!(plan_name(state.plan(soon, ttl, unknown)), "use");
    assert_eq!(
        plan_name(state.plan(start + UNKNOWN_KID_REFETCH, ttl, unknown)),
        "fetch"
    );
}

#[test]
fn after_a_failed_fetch_the_cache_keeps_its_keys_and_waits_before_trying_again() {
    let ttl = Duration::from_secs(1);
    let start = Instant::now();
    let mut state = fetched(start, KeySet::default());
    let failed_at = start + Duration::from_secs(5);
    state.record(failed_at, Err("down".to_owned()));
    let known = |_: &KeySet| true;
    assert_eq!(plan_name(state.plan(failed_at, ttl, known)), "use");
    assert_eq!(
        plan_name(state.plan(failed_at + RETRY_AFTER_FAILURE, ttl, known)),
        "fetch"
    );

    let mut empty = CacheState::default();
    empty.record(start, Err("down".to_owned()));
    assert_eq!(plan_name(empty.plan(start, ttl, known)), "unavailable");
    assert_eq!(
        plan_name(empty.plan(start + RETRY_AFTER_FAILURE, ttl, known)),
        "fetch"
    );
}
