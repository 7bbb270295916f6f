//! Request ids: taken from a caller's `x-request-id` when it is sane (so ids from a load
//! balancer or a client carry through), otherwise made here. Clients get the id in the
//! response header and in every error's extensions; the log has it on every line.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;

/// The header that carries the id both ways.
pub(super) const HEADER: &str = "x-request-id";

/// One request's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The caller's id when it is short and plain, else a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            })
            .map(|v| Self(v.to_owned()))
            .unwrap_or_else(Self::generate)
    }

    /// A new id: a per-process random prefix and a counter, unique without coordination.
    pub fn generate() -> Self {
        static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(crate::random::nonzero_u64);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("{prefix:016x}-{n:08x}"))
    }

    /// The id as text, as headers and log lines carry it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_caller_id_is_kept_and_anything_else_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, "lb-7f3a.42".parse().unwrap());
        assert_eq!(RequestId::from_headers(&headers).as_str(), "lb-7f3a.42");
        headers.insert(HEADER, "has space".parse().unwrap());
        assert_ne!(RequestId::from_headers(&headers).as_str(), "has space");
        headers.insert(HEADER, "x".repeat(65).parse().unwrap());
        assert_eq!(RequestId::from_headers(&headers).as_str().len(), 25);
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
