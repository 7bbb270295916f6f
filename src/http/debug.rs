//! Who may see `extensions.debug`, the per-request explain: requests that send the
//! `ogrom-debug` header with the secret the gateway was given (`OGROM_DEBUG_SECRET`). With
//! no secret configured, which is the default, no request gets one, whatever it sends. The
//! explain shows SQL, Elasticsearch queries and partner URLs: it is for developers of client
//! apps and for operators, never for everyone.

use std::sync::Arc;

use axum::http::HeaderMap;

/// The request header that asks for `extensions.debug`; its value is the secret.
pub const DEBUG_HEADER: &str = "ogrom-debug";

/// Whether, and for whom, the gateway explains requests.
#[derive(Clone, Default)]
pub struct DebugAccess {
    secret: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for DebugAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.secret.is_some() {
            "secret set"
        } else {
            "off"
        };
        f.debug_tuple("DebugAccess").field(&state).finish()
    }
}

impl DebugAccess {
    /// Explains requests that send `secret`; `None` or an empty secret: none.
    pub fn new(secret: Option<&str>) -> Self {
        Self {
            secret: secret
                .filter(|s| !s.is_empty())
                .map(|s| Arc::from(s.as_bytes())),
        }
    }

    /// Whether the request with `headers` asked for an explain and may have it.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let (Some(secret), Some(sent)) = (&self.secret, headers.get(DEBUG_HEADER)) else {
            return false;
        };
        same_bytes(secret, sent.as_bytes())
    }
}

/// Compares without stopping at the first difference, so the time taken says nothing of
/// how much of a guess was right.
fn same_bytes(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != given.len());
    for (index, byte) in expected.iter().enumerate() {
        difference |= byte ^ given.get(index).copied().unwrap_or(!byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(DEBUG_HEADER, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_configured_secret_opens_the_explain() {
        let access = DebugAccess::new(Some("s3cret-for-devs"));
        assert!(access.allows(&asking("s3cret-for-devs")));
        for wrong in [
            "",
            "s3cret-for-dev",
            "s3cret-for-devs!",
            "S3cret-for-devs",
            "1",
        ] {
            assert!(!access.allows(&asking(wrong)), "{wrong:?}");
        }
        assert!(!access.allows(&HeaderMap::new()));
    }

    #[test]
    fn without_a_secret_nothing_opens_it() {
        for access in [DebugAccess::default(), DebugAccess::new(Some(""))] {
            assert!(!access.allows(&asking("")));
            assert!(!access.allows(&asking("1")));
            assert!(!access.allows(&asking("true")));
        }
    }
}
