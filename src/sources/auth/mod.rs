//! Sources layer, authentication: checks JWT bearer tokens against the configured issuers,
//! HS256 with a shared secret (development) and RS256/ES256 with the identity provider's
//! JWKS (production), and names the viewer a token identifies.
//!
//! Which key checks a token is decided from configuration and the token's `alg` before any
//! signature is computed: HS256 only with the configured secret, RS256 and ES256 only with
//! keys of that type from the JWKS. A token for an issuer we do not have, `alg: none`, an
//! HMAC token signed with a public key (algorithm confusion) or any other algorithm is
//! refused. Refusals are logged at debug level with their reason, never with the token.

mod claims;
mod jwks;
#[cfg(test)]
mod tests;

use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

pub use claims::{MintError, mint_hs256};

use crate::config::AuthArgs;
use crate::protocols::auth::{AuthError, Authenticator, ViewerId};
use claims::{ClaimRules, invalid};
use jwks::JwksCache;

/// Longest token read: real ones are under 2 KiB; this bounds the work a garbage header
/// can cause.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Below this length an HS256 secret can be brute-forced from one token.
const MIN_SECRET_BYTES: usize = 32;

const NO_ISSUER: &str = "no token issuer is configured";

/// Why an authenticator could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the JWKS HTTP client: {0}")]
pub struct AuthSetupError(String);

/// Checks JWT bearer tokens: HS256 with the configured secret, RS256 and ES256 with keys
/// from the configured JWKS URL. Without either, every token is refused.
pub struct JwtAuthenticator {
    /// The HS256 secret, when configured.
    hs256: Option<DecodingKey>,
    /// The identity provider's keys, when a JWKS URL is configured.
    jwks: Option<JwksCache>,
    rules: ClaimRules,
}

impl JwtAuthenticator {
    /// From configuration. Fetches nothing yet: the JWKS is read on the first RS256 or ES256
    /// token, so the gateway starts while the identity provider is down.
    pub fn new(args: &AuthArgs) -> Result<Self, AuthSetupError> {
        let hs256 = args.jwt_hs256_secret.as_ref().map(|secret| {
            if secret.expose_secret().len() < MIN_SECRET_BYTES {
                tracing::warn!(
                    message = "the HS256 secret is short enough to be guessed: use it for development only",
                    min_bytes = MIN_SECRET_BYTES
                );
            }
            DecodingKey::from_secret(secret.expose_secret().as_bytes())
        });
        let jwks = args
            .jwt_jwks_url
            .as_ref()
            .map(|url| JwksCache::new(url.clone(), Duration::from_secs(args.jwt_jwks_ttl_s)))
            .transpose()
            .map_err(|e| AuthSetupError(e.to_string()))?;
        Ok(Self {
            hs256,
            jwks,
            rules: ClaimRules {
                issuer: args.jwt_issuer.clone(),
                audience: args.jwt_audience.clone(),
                leeway_s: args.jwt_leeway_s,
            },
        })
    }

    /// Whether any token can be accepted (a secret or a JWKS URL is configured).
    pub fn is_configured(&self) -> bool {
        self.hs256.is_some() || self.jwks.is_some()
    }

    async fn check(&self, token: &str) -> Result<ViewerId, AuthError> {
        if !self.is_configured() {
            return Err(invalid(NO_ISSUER));
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is too long"));
        }
        // `alg: none` and names we do not know fail here: `Algorithm` has no such variants.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("the token is malformed or its algorithm unknown"))?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions marked critical must be understood; we know none.
            return Err(invalid("the token has critical extensions"));
        }
        let algorithm = header.alg;
        match algorithm {
            Algorithm::HS256 => {
                let key = self
                    .hs256
                    .as_ref()
                    .ok_or_else(|| invalid("HS256 tokens are not accepted"))?;
                self.verify(token, [key], algorithm)
            }
            Algorithm::RS256 | Algorithm::ES256 => {
                let Some(jwks) = &self.jwks else {
                    return Err(invalid("RS256 and ES256 tokens are not accepted"));
                };
                let kid = header.kid.as_deref();
                let keys = jwks.key_set_for(algorithm, kid).await?;
                let candidates = keys.candidates(algorithm, kid);
                if candidates.is_empty() {
                    return Err(invalid("no key of the identity provider matches the token"));
                }
                self.verify(token, candidates, algorithm)
            }
            _ => Err(invalid("the token's algorithm is not accepted")),
        }
    }

    /// Tries the keys in turn; only a signature mismatch moves on to the next (a token
    /// without `kid` may be signed by any of them).
    fn verify<'k>(
        &self,
        token: &str,
        keys: impl IntoIterator<Item = &'k DecodingKey>,
        algorithm: Algorithm,
    ) -> Result<ViewerId, AuthError> {
        for key in keys {
            match claims::decode(token, key, algorithm, &self.rules) {
                Ok(claims) => return claims::viewer(&claims),
                Err(error) if claims::is_bad_signature(&error) => continue,
                Err(error) => return Err(claims::refusal(&error)),
            }
        }
        Err(invalid("the signature does not match"))
    }
}

#[async_trait::async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<ViewerId, AuthError> {
        let outcome = self.check(token).await;
        if let Err(error) = &outcome {
            tracing::debug!(message = "token refused", reason = %error);
        }
        outcome
    }
}

/// For a gateway without any token issuer: every viewer is anonymous, and a token (which
/// nothing could check) is refused rather than ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnonymousOnly;

#[async_trait::async_trait]
impl Authenticator for AnonymousOnly {
    async fn authenticate(&self, _token: &str) -> Result<ViewerId, AuthError> {
        Err(invalid(NO_ISSUER))
    }
}

/// The authenticator configuration asks for: a [`JwtAuthenticator`] when a secret or a
/// JWKS URL is set, [`AnonymousOnly`] otherwise.
pub fn from_config(args: &AuthArgs) -> Result<Arc<dyn Authenticator>, AuthSetupError> {
    let jwt = JwtAuthenticator::new(args)?;
    Ok(if jwt.is_configured() {
        Arc::new(jwt)
    } else {
        tracing::info!(message = "no token issuer is configured: every viewer is anonymous");
        Arc::new(AnonymousOnly)
    })
}
