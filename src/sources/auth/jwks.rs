//! Sources layer, authentication: the identity provider's signing keys, read from its JWKS
//! URL and cached, so that checking a token costs no network call in the common case and an
//! identity provider that is down for a while does not log anyone out.
//!
//! When keys are fetched: when nothing is cached, when the cache is older than its ttl, and
//! when a token names a key we do not hold (the provider rotated its keys), but then at most
//! once a minute, so tokens with made-up `kid`s cannot make us hammer the provider. After a
//! failed fetch the next waits a few seconds, and the keys cached before stay in use.
//! Concurrent refreshes collapse into one fetch.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Url;
// Tokio's clock, as the breakers read: the system's in production; a test moves it past
// the TTL instead of sleeping.
use tokio::time::Instant;

use crate::protocols::auth::AuthError;

/// How long one fetch may take: the token check that triggered it waits for it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Least time between two fetches caused by a `kid` we do not hold.
pub(super) const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(60);
/// Least time between a failed fetch and the next attempt: while the provider is down,
/// requests fail fast (or use the cached keys) instead of each waiting for a timeout.
pub(super) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Largest JWKS document read; real ones are a few kilobytes.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// One key that checks signatures.
struct VerifyingKey {
    kid: Option<String>,
    /// RS256 or ES256: the only algorithm this key may check (a JWK names one at most).
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The usable keys of one JWKS document.
#[derive(Default)]
pub(super) struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    /// The keys that may check a token signed with `algorithm`: the one its `kid` names, or,
    /// for a token without `kid`, every key of that algorithm.
    pub(super) fn candidates(&self, algorithm: Algorithm, kid: Option<&str>) -> Vec<&DecodingKey> {
        self.keys
            .iter()
            .filter(|k| k.algorithm == algorithm && (kid.is_none() || k.kid.as_deref() == kid))
            .map(|k| &k.key)
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Reads a JWKS document and keeps the keys we can use: RSA keys for RS256 and P-256 keys
/// for ES256, meant for signatures. A provider may publish other keys (encryption keys,
/// other curves and algorithms) for other clients: those are skipped, as are malformed
/// entries, rather than failing the whole document.
pub(super) fn parse_key_set(body: &[u8]) -> Result<KeySet, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let keys = document
        .keys
        .into_iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry).ok())
        .filter_map(|jwk| verifying_key(&jwk))
        .collect();
    Ok(KeySet { keys })
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
        || common
            .key_operations
            .as_ref()
            .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let declared = common.key_algorithm;
    let (algorithm, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) if matches!(declared, None | Some(KeyAlgorithm::RS256)) => (
            Algorithm::RS256,
            DecodingKey::from_rsa_components(&rsa.n, &rsa.e).ok()?,
        ),
        AlgorithmParameters::EllipticCurve(ec)
            if ec.curve == EllipticCurve::P256
                && matches!(declared, None | Some(KeyAlgorithm::ES256)) =>
        {
            (
                Algorithm::ES256,
                DecodingKey::from_ec_components(&ec.x, &ec.y).ok()?,
            )
        }
        _ => return None,
    };
    Some(VerifyingKey {
        kid: common.key_id.clone(),
        algorithm,
        key,
    })
}

/// What the cache knows; behind a lock held for no more than a few assignments.
#[derive(Default)]
pub(super) struct CacheState {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    /// Why the last attempt failed; `None` after a success.
    last_error: Option<String>,
    /// Attempts so far: a refresher that waited for another sees whether it already fetched.
    attempts: u64,
}

/// What a token check does about the cache.
pub(super) enum Plan {
    Use(Arc<KeySet>),
    Fetch,
    /// Nothing cached and the last attempt failed moments ago.
    Unavailable,
}

impl CacheState {
    /// The plan at `now` for a check that `wanted` tells whether a key set can serve.
    pub(super) fn plan(
        &self,
        now: Instant,
        ttl: Duration,
        wanted: impl Fn(&KeySet) -> bool,
    ) -> Plan {
        let since_attempt = self.attempted_at.map(|t| now.saturating_duration_since(t));
        let backing_off =
            self.last_error.is_some() && since_attempt.is_some_and(|d| d < RETRY_AFTER_FAILURE);
        let Some(keys) = &self.keys else {
            return if backing_off {
                Plan::Unavailable
            } else {
                Plan::Fetch
            };
        };
        let stale = self
            .fetched_at
            .is_none_or(|t| now.saturating_duration_since(t) >= ttl);
        let rotated = !wanted(keys) && since_attempt.is_none_or(|d| d >= UNKNOWN_KID_REFETCH);
        if (stale || rotated) && !backing_off {
            Plan::Fetch
        } else {
            Plan::Use(keys.clone())
        }
    }

    /// Records the outcome of one fetch.
    pub(super) fn record(&mut self, now: Instant, outcome: Result<KeySet, String>) {
        self.attempts += 1;
        self.attempted_at = Some(now);
        match outcome {
            Ok(keys) => {
                self.keys = Some(Arc::new(keys));
                self.fetched_at = Some(now);
                self.last_error = None;
            }
            Err(error) => self.last_error = Some(error),
        }
    }
}

/// The keys behind a JWKS URL, cached. Shared by every request.
pub(super) struct JwksCache {
    http: reqwest::Client,
    url: Url,
    ttl: Duration,
    state: Mutex<CacheState>,
    /// Held by the one task fetching; the others wait for its result or use cached keys.
    refresh: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub(super) fn new(url: Url, ttl: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .no_proxy()
            .build()?;
        Ok(Self {
            http,
            url,
            ttl,
            state: Mutex::default(),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// A key set to check a token of `algorithm` naming `kid` with, fetched first when the
    /// cache says so. The caller still looks the key up: the provider may not hold it.
    pub(super) async fn key_set_for(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<Arc<KeySet>, AuthError> {
        let wanted = |keys: &KeySet| !keys.candidates(algorithm, kid).is_empty();
        let (plan, observed) = {
            let state = self.state();
            (state.plan(Instant::now(), self.ttl, wanted), state.attempts)
        };
        match plan {
            Plan::Use(keys) => return Ok(keys),
            Plan::Unavailable => return Err(unavailable()),
            Plan::Fetch => {}
        }
        let _refreshing = match self.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Another task is fetching: keys we hold that fit serve this check now
                // rather than after the fetch.
                if let Some(keys) = self.state().keys.clone().filter(|keys| wanted(keys)) {
                    return Ok(keys);
                }
                self.refresh.lock().await
            }
        };
        if self.state().attempts == observed {
            let outcome = self.fetch().await;
            match &outcome {
                Ok(keys) => tracing::info!(message = "JWKS fetched", keys = keys.len()),
                Err(error) => tracing::warn!(message = "cannot fetch the JWKS", %error),
            }
            self.state().record(Instant::now(), outcome);
        }
        self.state().keys.clone().ok_or_else(unavailable)
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let mut response = self
            .http
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the JWKS URL answered {status}"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "the JWKS is larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body)
    }

    fn state(&self) -> MutexGuard<'_, CacheState> {
        // The state stays consistent even if a holder panicked: each update is one assignment
        // group with no await inside.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The detail (a host, a status) went to the log; clients learn only that they may retry.
fn unavailable() -> AuthError {
    AuthError::Unavailable("the identity provider's keys cannot be fetched".to_owned())
}
