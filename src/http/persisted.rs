//! Persisted queries. Automatic persisted queries follow Apollo's protocol: a client sends
//! `extensions.persistedQuery.sha256Hash` alone; if the gateway has not seen that query it
//! answers `PersistedQueryNotFound`, the client sends hash and text once, and later requests
//! (GETs a CDN can cache) carry only the hash. Trusted documents lock production down: only
//! the operations of a manifest (Apollo's persisted-query manifest format) run, by hash or by
//! text whose hash is in the manifest.
//!
//! Each instance remembers the queries registered through it; when the replicas share a
//! store (`OGROM_REDIS_URL`), a registration is also kept there (the text under its
//! SHA-256, for `OGROM_REDIS_APQ_TTL_S`), so a query registered through one replica is found
//! by hash through the others. What is read back is hashed again before it runs: a store
//! that returned another text would run nothing. A store that fails is a miss.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::core::errors::code;
use crate::protocols::shared::SharedStore;

/// Where queries known by hash come from.
pub struct PersistedQueries {
    /// Queries seen with their hash, oldest first out (`None`: APQ turned off).
    apq: Option<Mutex<Remembered>>,
    /// The manifest's operations by hash (`Some`: only these run).
    trusted: Option<HashMap<String, String>>,
    /// Where registrations are shared with the other replicas, and for how long.
    shared: Option<(Arc<dyn SharedStore>, Duration)>,
}

struct Remembered {
    capacity: usize,
    queries: HashMap<String, String>,
    order: VecDeque<String>,
}

/// Why a request's query cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The error code clients see as `extensions.code`.
    pub code: &'static str,
    /// The error message; for APQ, the exact text Apollo clients recognise.
    pub message: &'static str,
}

impl PersistedQueries {
    /// APQ remembering up to `apq_capacity` queries (none: off), and the trusted documents
    /// by hash (none: any document may run).
    pub fn new(apq_capacity: Option<usize>, trusted: Option<HashMap<String, String>>) -> Self {
        Self {
            apq: apq_capacity.map(|capacity| {
                Mutex::new(Remembered {
                    capacity,
                    queries: HashMap::new(),
                    order: VecDeque::new(),
                })
            }),
            trusted,
            shared: None,
        }
    }

    /// APQ registrations shared with the other replicas through `store`, each kept `ttl`.
    pub fn shared_in(mut self, store: Arc<dyn SharedStore>, ttl: Duration) -> Self {
        self.shared = Some((store, ttl));
        self
    }

    /// Off: no APQ, no trusted documents.
    pub fn off() -> Self {
        Self::new(None, None)
    }

    /// The text to run for a request that sent `query` and/or `hash`, and whether the text
    /// should be remembered under the hash once it has parsed.
    pub async fn resolve(
        &self,
        query: Option<String>,
        hash: Option<&str>,
    ) -> Result<(String, bool), Missing> {
        match (query, hash) {
            (Some(query), Some(hash)) => {
                if sha256_hex(&query) != hash.to_ascii_lowercase() {
                    return Err(Missing {
                        code: code::PERSISTED_QUERY_HASH_MISMATCH,
                        message: "provided sha does not match query",
                    });
                }
                self.check_trusted(hash)?;
                Ok((query, self.apq.is_some()))
            }
            (Some(query), None) => {
                if self.trusted.is_some() {
                    self.check_trusted(&sha256_hex(&query))?;
                }
                Ok((query, false))
            }
            (None, Some(hash)) => {
                let hash = hash.to_ascii_lowercase();
                if let Some(trusted) = &self.trusted {
                    return trusted
                        .get(&hash)
                        .cloned()
                        .map(|q| (q, false))
                        .ok_or(Missing {
                            code: code::OPERATION_NOT_TRUSTED,
                            message: "only trusted documents run here, and this hash is not one",
                        });
                }
                let Some(apq) = &self.apq else {
                    return Err(Missing {
                        code: code::PERSISTED_QUERY_NOT_SUPPORTED,
                        message: "PersistedQueryNotSupported",
                    });
                };
                let known = (apq.lock().unwrap_or_else(PoisonError::into_inner))
                    .queries
                    .get(&hash)
                    .cloned();
                let found = match known {
                    Some(query) => Some(query),
                    None => self.registered_elsewhere(&hash).await,
                };
                found.map(|q| (q, false)).ok_or(Missing {
                    code: code::PERSISTED_QUERY_NOT_FOUND,
                    message: "PersistedQueryNotFound",
                })
            }
            (None, None) => Err(Missing {
                code: code::BAD_REQUEST,
                message: "`query` is missing",
            }),
        }
    }

    fn check_trusted(&self, hash: &str) -> Result<(), Missing> {
        match &self.trusted {
            Some(trusted) if !trusted.contains_key(&hash.to_ascii_lowercase()) => Err(Missing {
                code: code::OPERATION_NOT_TRUSTED,
                message: "only trusted documents run here, and this operation is not one",
            }),
            _ => Ok(()),
        }
    }

    /// A query registered through another replica, from the shared store: only a text
    /// whose hash is `hash`; remembered here from then on.
    async fn registered_elsewhere(&self, hash: &str) -> Option<String> {
        let (store, _) = self.shared.as_ref()?;
        let found = match store.get(&[format!("apq:{hash}")]).await {
            Ok(mut found) => found.pop().flatten()?,
            Err(error) => {
                tracing::debug!(message = "persisted query lookup failed", %error);
                return None;
            }
        };
        let query = String::from_utf8(found).ok()?;
        if sha256_hex(&query) != hash {
            tracing::warn!(message = "the shared store holds another text under a query hash");
            return None;
        }
        self.remember_here(hash, &query);
        Some(query)
    }

    /// Remembers a query that parsed, under its hash, here and in the shared store.
    pub async fn remember(&self, hash: &str, query: &str) {
        if self.apq.is_none() {
            return;
        }
        let hash = hash.to_ascii_lowercase();
        self.remember_here(&hash, query);
        // Registrations are rare (a client registers after a miss): each one is shared, so
        // a store that lost it (a restart) has it again.
        if let Some((store, ttl)) = &self.shared
            && let Err(error) = store
                .put(&format!("apq:{hash}"), query.as_bytes(), *ttl, &[])
                .await
        {
            tracing::debug!(message = "persisted query not shared", %error);
        }
    }

    fn remember_here(&self, hash: &str, query: &str) {
        let Some(apq) = &self.apq else { return };
        let mut apq = apq.lock().unwrap_or_else(PoisonError::into_inner);
        let hash = hash.to_owned();
        if apq.queries.contains_key(&hash) {
            return;
        }
        while apq.queries.len() >= apq.capacity {
            let Some(oldest) = apq.order.pop_front() else {
                break;
            };
            apq.queries.remove(&oldest);
        }
        apq.order.push_back(hash.clone());
        apq.queries.insert(hash, query.to_owned());
    }
}

/// The lowercase hex SHA-256 of a query's text, as APQ hashes it.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    operations: Vec<ManifestOperation>,
}

#[derive(Deserialize)]
struct ManifestOperation {
    id: String,
    body: String,
}

/// Reads a persisted-query manifest; every id must be its body's SHA-256.
pub fn load_manifest(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} (OGROM_TRUSTED_DOCUMENTS)", path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a persisted-query manifest", path.display()))?;
    anyhow::ensure!(
        manifest.format == "apollo-persisted-query-manifest" && manifest.version == 1,
        "{}: format must be apollo-persisted-query-manifest, version 1",
        path.display()
    );
    let mut operations = HashMap::new();
    for operation in manifest.operations {
        anyhow::ensure!(
            sha256_hex(&operation.body) == operation.id.to_ascii_lowercase(),
            "{}: operation {} is not the SHA-256 of its body",
            path.display(),
            operation.id
        );
        operations.insert(operation.id.to_ascii_lowercase(), operation.body);
    }
    Ok(operations)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "{ brands { totalCount } }";

    #[tokio::test]
    async fn apq_misses_then_remembers_and_checks_hashes() {
        let hash = sha256_hex(QUERY);
        let persisted = PersistedQueries::new(Some(2), None);
        let miss = persisted.resolve(None, Some(&hash)).await.unwrap_err();
        assert_eq!(miss.code, code::PERSISTED_QUERY_NOT_FOUND);
        assert_eq!(
            persisted.resolve(Some(QUERY.into()), Some(&hash)).await,
            Ok((QUERY.to_owned(), true))
        );
        persisted.remember(&hash, QUERY).await;
        assert_eq!(
            persisted.resolve(None, Some(&hash)).await,
            Ok((QUERY.to_owned(), false))
        );
        let wrong = persisted
            .resolve(Some("{ x }".into()), Some(&hash))
            .await
            .unwrap_err();
        assert_eq!(wrong.code, code::PERSISTED_QUERY_HASH_MISMATCH);
        // The oldest goes when the store is full.
        persisted.remember(&sha256_hex("{ a }"), "{ a }").await;
        persisted.remember(&sha256_hex("{ b }"), "{ b }").await;
        assert!(persisted.resolve(None, Some(&hash)).await.is_err());
    }

    #[tokio::test]
    async fn trusted_documents_run_by_hash_or_text_and_nothing_else() {
        let hash = sha256_hex(QUERY);
        let trusted = HashMap::from([(hash.clone(), QUERY.to_owned())]);
        let persisted = PersistedQueries::new(None, Some(trusted));
        assert_eq!(
            persisted.resolve(None, Some(&hash)).await,
            Ok((QUERY.to_owned(), false))
        );
        assert!(persisted.resolve(Some(QUERY.into()), None).await.is_ok());
        let other = persisted
            .resolve(Some("{ x }".into()), None)
            .await
            .unwrap_err();
        assert_eq!(other.code, code::OPERATION_NOT_TRUSTED);
        let unknown = persisted
            .resolve(None, Some(&sha256_hex("{ x }")))
            .await
            .unwrap_err();
        assert_eq!(unknown.code, code::OPERATION_NOT_TRUSTED);
        let off = PersistedQueries::off()
            .resolve(None, Some(&hash))
            .await
            .unwrap_err();
        assert_eq!(off.code, code::PERSISTED_QUERY_NOT_SUPPORTED);
    }

    #[test]
    fn the_sha256_is_the_one_apollo_clients_send() {
        // Independent value: `printf '%s' '{ brands { totalCount } }' | sha256sum`.
        assert_eq!(sha256_hex(QUERY).len(), 64);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
