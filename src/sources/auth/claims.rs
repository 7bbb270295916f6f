//! Sources layer, authentication: the claims a token must carry (what `jsonwebtoken`
//! checks for us and what it does not), how a refusal reads, and minting development tokens.

use std::time::Duration;

use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::protocols::auth::{AuthError, ViewerId};

/// What every accepted token must say, from configuration.
#[derive(Debug, Clone)]
pub(super) struct ClaimRules {
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) leeway_s: u64,
}

impl ClaimRules {
    /// The checks for a token signed with `algorithm`: only that algorithm (so a key is never
    /// used with another algorithm than the one we picked it for), `exp` required, `nbf`
    /// checked when present, `iss` and `aud` required and equal to ours.
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.leeway_s;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation
    }
}

/// The claims we read ourselves; `jsonwebtoken` has checked the others.
#[derive(Deserialize)]
pub(super) struct Claims {
    /// Any JSON, so that a subject of the wrong type reads as such rather than as a
    /// malformed token.
    #[serde(default)]
    sub: Option<serde_json::Value>,
}

/// Checks signature and claims of `token` with one key.
pub(super) fn decode(
    token: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
    rules: &ClaimRules,
) -> Result<Claims, JwtError> {
    jsonwebtoken::decode::<Claims>(token, key, &rules.validation(algorithm)).map(|data| data.claims)
}

/// Whether another key might accept what this one refused.
pub(super) fn is_bad_signature(error: &JwtError) -> bool {
    matches!(error.kind(), ErrorKind::InvalidSignature)
}

/// The viewer a checked token names: its `sub` must be a user id, a positive integer
/// written in decimal as a string (as the JWT spec types `sub`), without sign or leading
/// zeros so that one user has one spelling.
pub(super) fn viewer(claims: &Claims) -> Result<ViewerId, AuthError> {
    let Some(serde_json::Value::String(sub)) = &claims.sub else {
        return Err(invalid("the token names no user (`sub`)"));
    };
    let canonical =
        !sub.is_empty() && !sub.starts_with('0') && sub.bytes().all(|b| b.is_ascii_digit());
    match sub.parse::<i32>() {
        Ok(id) if canonical && id > 0 => Ok(ViewerId(id)),
        _ => Err(invalid("the token's subject is not a user id")),
    }
}

/// A refusal as clients may read it: the kind of fault, never key material or claims.
pub(super) fn refusal(error: &JwtError) -> AuthError {
    match error.kind() {
        // The protocol counts a token that is not valid yet with expired ones: both are a
        // matter of time, and the client's remedy (get a fresh token) is the same.
        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AuthError::Expired,
        ErrorKind::InvalidSignature => invalid("the signature does not match"),
        ErrorKind::InvalidIssuer => invalid("the token is from another issuer"),
        ErrorKind::InvalidAudience => invalid("the token is for another audience"),
        ErrorKind::MissingRequiredClaim(claim) => invalid(&format!("the token has no `{claim}`")),
        ErrorKind::InvalidClaimFormat(claim) => {
            invalid(&format!("the token's `{claim}` is malformed"))
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            invalid("the token's algorithm is not accepted")
        }
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::UnsupportedAlgorithm => invalid("no usable key checks this token"),
        _ => invalid("the token is malformed"),
    }
}

pub(super) fn invalid(reason: &str) -> AuthError {
    AuthError::Invalid(reason.to_owned())
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// Only positive ids name users; the check would refuse any other.
    #[error("user ids are positive, not {0}")]
    NotAUserId(i32),
    /// The signing library failed.
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: String,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    preferred_username: &'a str,
}

/// Mints an HS256 token for a user, valid for `ttl` from now: what `ogrom token` prints,
/// and what tests use to act as a user. Development only: whoever holds the secret can be
/// anyone.
pub fn mint_hs256(
    secret: &str,
    issuer: &str,
    audience: &str,
    user_id: i32,
    username: &str,
    ttl: Duration,
) -> Result<String, MintError> {
    if user_id <= 0 {
        return Err(MintError::NotAUserId(user_id));
    }
    let now = jsonwebtoken::get_current_timestamp();
    let claims = MintedClaims {
        sub: user_id.to_string(),
        iss: issuer,
        aud: audience,
        iat: now,
        exp: now.saturating_add(ttl.as_secs()),
        preferred_username: username,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| MintError::Signing(e.to_string()))
}
