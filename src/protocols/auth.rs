//! The authentication protocol: who the viewer is, from a bearer token.

/// Why a token was refused. Clients see one code (`UNAUTHENTICATED`) and a short reason;
/// the detail goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is past its `exp` (or before its `nbf`).
    #[error("the token has expired")]
    Expired,
    /// Signature, algorithm, issuer, audience or shape is wrong.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// Keys to check the token could not be fetched (the identity provider is down).
    #[error("the token cannot be checked now: {0}")]
    Unavailable(String),
}

/// An authenticated viewer: the user id the token's `sub` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerId(pub i32);

/// Checks bearer tokens.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// The viewer a token identifies, or why it is refused.
    async fn authenticate(&self, token: &str) -> Result<ViewerId, AuthError>;
}
