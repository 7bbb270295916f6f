//! Viewer authentication: tokens of every kind (valid, expired, forged, for someone else,
//! unsigned, garbage) checked by the authenticator built from parsed configuration, with
//! RS256 and ES256 keys served by a local JWKS server that counts its fetches. `ogrom token`
//! is tested in `token_command`.

mod token_command;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ogrom::config::{Cli, Command as Subcommand};
use ogrom::protocols::auth::{AuthError, Authenticator, ViewerId};
use ogrom::sources::auth::JwtAuthenticator;
use serde_json::{Value, json};

const SECRET: &str = "test-secret-for-hs256-tokens-only-in-tests";
const JWKS: &str = include_str!("../fixtures/auth/jwks.json");
const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/rsa-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/auth/rsa-public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/ec-private.pem");
const OTHER_RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/other-rsa-private.pem");

/// A local identity provider's JWKS endpoint.
struct JwksServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    /// When set, the endpoint answers 500.
    failing: Arc<AtomicBool>,
}

impl JwksServer {
    async fn start() -> Self {
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let router = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state((fetches.clone(), failing.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            fetches,
            failing,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(
    State((fetches, failing)): State<(Arc<AtomicUsize>, Arc<AtomicBool>)>,
) -> (StatusCode, &'static str) {
    fetches.fetch_add(1, Ordering::SeqCst);
    if failing.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "down")
    } else {
        (StatusCode::OK, JWKS)
    }
}

/// The authenticator as `ogrom serve` would build it from these flags.
fn authenticator(flags: &[&str]) -> JwtAuthenticator {
    let argv = ["ogrom", "serve"].iter().chain(flags);
    match Cli::try_parse_from(argv).expect("flags parse").command {
        Subcommand::Serve(args) => JwtAuthenticator::new(&args.auth).expect("authenticator"),
        _ => unreachable!("parsed a serve command"),
    }
}

/// An authenticator that accepts HS256 and the JWKS at `url`.
fn both(url: &str) -> JwtAuthenticator {
    authenticator(&["--jwt-jwks-url", url, "--jwt-hs256-secret", SECRET])
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims the default configuration accepts (issuer `ogrom-dev`, audience `ogrom`).
fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": "ogrom-dev", "aud": "ogrom", "iat": now(), "exp": now() + 600})
}

fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    sign(Algorithm::RS256, &key, kid, claims)
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        None,
        claims,
    )
}

fn assert_invalid(outcome: Result<ViewerId, AuthError>, what: &str) {
    assert!(
        matches!(outcome, Err(AuthError::Invalid(_))),
        "{what}: {outcome:?}"
    );
}

/// Invalid, and for the reason the test is about (not, say, a malformed token).
fn assert_invalid_for(outcome: Result<ViewerId, AuthError>, what: &str, reason: &str) {
    assert!(
        matches!(&outcome, Err(AuthError::Invalid(r)) if r.contains(reason)),
        "{what}: {outcome:?}"
    );
}

#[tokio::test]
async fn valid_rs256_es256_and_hs256_tokens_name_their_viewer() {
    let jwks = JwksServer::start().await;
    let auth = both(&jwks.url);
    let es256 = sign(
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        Some("test-ec"),
        &claims("12"),
    );
    assert_eq!(
        auth.authenticate(&rs256(Some("test-rsa"), &claims("11")))
            .await,
        Ok(ViewerId(11))
    );
    assert_eq!(auth.authenticate(&es256).await, Ok(ViewerId(12)));
    assert_eq!(
        auth.authenticate(&hs256(&claims("13"))).await,
        Ok(ViewerId(13))
    );
    // A token without `kid` is checked with every key of its type.
    assert_eq!(
        auth.authenticate(&rs256(None, &claims("14"))).await,
        Ok(ViewerId(14))
    );
    assert_eq!(jwks.fetches(), 1, "the keys are fetched once and cached");
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    let jwks = JwksServer::start().await;
    let expired = json!({"sub": "11", "iss": "ogrom-dev", "aud": "ogrom", "exp": now() - 3600});
    let outcome = both(&jwks.url)
        .authenticate(&rs256(Some("test-rsa"), &expired))
        .await;
    assert_eq!(outcome, Err(AuthError::Expired));
}

#[tokio::test]
async fn forged_misaddressed_and_unsigned_tokens_are_invalid() {
    let jwks = JwksServer::start().await;
    let auth = both(&jwks.url);
    let other_key = EncodingKey::from_rsa_pem(OTHER_RSA_PRIVATE).unwrap();
    let mut wrong_audience = claims("11");
    wrong_audience["aud"] = json!("another-app");
    let mut wrong_issuer = claims("11");
    wrong_issuer["iss"] = json!("https://elsewhere.example");
    let encode = |part: &Value| URL_SAFE_NO_PAD.encode(part.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT"})),
        encode(&claims("11"))
    );
    // Algorithm confusion: an HMAC "signed" with the public key, which anyone has.
    let rsa_public_as_secret = EncodingKey::from_secret(RSA_PUBLIC);
    let confused = sign(
        Algorithm::HS256,
        &rsa_public_as_secret,
        Some("test-rsa"),
        &claims("11"),
    );
    let forged = sign(
        Algorithm::RS256,
        &other_key,
        Some("test-rsa"),
        &claims("11"),
    );
    let cases = [
        ("another key under a known kid", forged, "signature"),
        (
            "wrong audience",
            rs256(Some("test-rsa"), &wrong_audience),
            "audience",
        ),
        (
            "wrong issuer",
            rs256(Some("test-rsa"), &wrong_issuer),
            "issuer",
        ),
        ("alg none", unsigned, "algorithm"),
        (
            "HS256 keyed with the RSA public key",
            confused.clone(),
            "signature",
        ),
    ];
    for (what, token, reason) in cases {
        assert_invalid_for(auth.authenticate(&token).await, what, reason);
    }
    let jwks_only = authenticator(&["--jwt-jwks-url", &jwks.url]);
    let outcome = jwks_only.authenticate(&confused).await;
    assert_invalid_for(outcome, "confusion without a secret", "not accepted");
}

#[tokio::test]
async fn garbage_is_invalid() {
    let jwks = JwksServer::start().await;
    let auth = both(&jwks.url);
    let long = "eyJ".repeat(100_000);
    for garbage in [
        "",
        "a.b.c",
        "not a token",
        "..",
        "Bearer x.y.z",
        long.as_str(),
    ] {
        assert_invalid(
            auth.authenticate(garbage).await,
            &garbage[..garbage.len().min(20)],
        );
    }
    assert_eq!(jwks.fetches(), 0, "garbage costs no fetch");
}

#[tokio::test]
async fn unknown_kids_fetch_the_jwks_at_most_twice() {
    let jwks = JwksServer::start().await;
    let auth = both(&jwks.url);
    for i in 0..20 {
        let token = rs256(Some(&format!("made-up-{i}")), &claims("11"));
        assert_invalid_for(auth.authenticate(&token).await, "unknown kid", "no key");
    }
    assert!(jwks.fetches() <= 2, "{} fetches", jwks.fetches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_checks_share_one_fetch() {
    let jwks = JwksServer::start().await;
    let auth = Arc::new(both(&jwks.url));
    let token = rs256(Some("test-rsa"), &claims("11"));
    let checks = (0..20).map(|_| {
        let (auth, token) = (auth.clone(), token.clone());
        tokio::spawn(async move { auth.authenticate(&token).await })
    });
    for outcome in futures::future::join_all(checks).await {
        assert_eq!(outcome.unwrap(), Ok(ViewerId(11)));
    }
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn with_the_jwks_server_down_rs256_is_unavailable_while_hs256_works() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let auth = both(&url);
    let outcome = auth
        .authenticate(&rs256(Some("test-rsa"), &claims("11")))
        .await;
    assert!(
        matches!(outcome, Err(AuthError::Unavailable(_))),
        "{outcome:?}"
    );
    assert_eq!(
        auth.authenticate(&hs256(&claims("13"))).await,
        Ok(ViewerId(13))
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_cached_keys() {
    let jwks = JwksServer::start().await;
    let auth = authenticator(&["--jwt-jwks-url", &jwks.url, "--jwt-jwks-ttl-s", "600"]);
    let token = rs256(Some("test-rsa"), &claims("11"));
    assert_eq!(auth.authenticate(&token).await, Ok(ViewerId(11)));
    jwks.failing.store(true, Ordering::SeqCst);
    crate::helpers::skip(Duration::from_secs(600)).await;
    assert_eq!(auth.authenticate(&token).await, Ok(ViewerId(11)));
    assert_eq!(
        jwks.fetches(),
        2,
        "the stale keys were fetched again, and that failed"
    );
}
