//! Persisted queries. Automatic persisted queries follow Apollo's protocol: a client sends
//! `extensions.persistedQuery.sha256Hash` alone; if the gateway has not seen that query it
//! answers `PersistedQueryNotFound`, the client sends hash and text once, and later requests
//! (GETs a CDN can cache) carry only the hash. Trusted documents lock production down: only
//! the operations of a manifest (Apollo's persisted-query manifest format) run, by hash or by
//! text whose hash is in the manifest.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::core::errors::code;

/// Where queries known by hash come from.
pub struct PersistedQueries {
    /// Queries seen with their hash, oldest first out (`None`: APQ turned off).
    apq: Option<Mutex<Remembered>>,
    /// The manifest's operations by hash (`Some`: only these run).
    trusted: Option<HashMap<String, String>>,
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
        }
    }

    /// Off: no APQ, no trusted documents.
    pub fn off() -> Self {
        Self::new(None, None)
    }

    /// The text to run for a request that sent `query` and/or `hash`, and whether the text
    /// should be remembered under the hash once it has parsed.
    pub fn resolve(
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
                let apq = apq.lock().unwrap_or_else(PoisonError::into_inner);
                apq.queries
                    .get(&hash)
                    .cloned()
                    .map(|q| (q, false))
                    .ok_or(Missing {
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

    /// Remembers a query that parsed, under its hash.
    pub fn remember(&self, hash: &str, query: &str) {
        let Some(apq) = &self.apq else { return };
        let mut apq = apq.lock().unwrap_or_else(PoisonError::into_inner);
        let hash = hash.to_ascii_lowercase();
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

    #[test]
    fn apq_misses_then_remembers_and_checks_hashes() {
        let hash = sha256_hex(QUERY);
        let persisted = PersistedQueries::new(Some(2), None);
        let miss = persisted.resolve(None, Some(&hash)).unwrap_err();
        assert_eq!(miss.code, code::PERSISTED_QUERY_NOT_FOUND);
        assert_eq!(
            persisted.resolve(Some(QUERY.into()), Some(&hash)),
            Ok((QUERY.to_owned(), true))
        );
        persisted.remember(&hash, QUERY);
        assert_eq!(
            persisted.resolve(None, Some(&hash)),
            Ok((QUERY.to_owned(), false))
        );
        let wrong = persisted
            .resolve(Some("{ x }".into()), Some(&hash))
            .unwrap_err();
        assert_eq!(wrong.code, code::PERSISTED_QUERY_HASH_MISMATCH);
        // The oldest goes when the store is full.
        persisted.remember(&sha256_hex("{ a }"), "{ a }");
        persisted.remember(&sha256_hex("{ b }"), "{ b }");
        assert!(persisted.resolve(None, Some(&hash)).is_err());
    }

    #[test]
    fn trusted_documents_run_by_hash_or_text_and_nothing_else() {
        let hash = sha256_hex(QUERY);
        let trusted = HashMap::from([(hash.clone(), QUERY.to_owned())]);
        let persisted = PersistedQueries::new(None, Some(trusted));
        assert_eq!(
            persisted.resolve(None, Some(&hash)),
            Ok((QUERY.to_owned(), false))
        );
        assert!(persisted.resolve(Some(QUERY.into()), None).is_ok());
        let other = persisted.resolve(Some("{ x }".into()), None).unwrap_err();
        assert_eq!(other.code, code::OPERATION_NOT_TRUSTED);
        let unknown = persisted
            .resolve(None, Some(&sha256_hex("{ x }")))
            .unwrap_err();
        assert_eq!(unknown.code, code::OPERATION_NOT_TRUSTED);
        let off = PersistedQueries::off()
            .resolve(None, Some(&hash))
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
