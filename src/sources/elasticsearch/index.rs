//! Sources layer, Elasticsearch: the lifecycle of the versioned products indices behind the
//! search alias. A build creates `{alias}_v{unix millis}`, bulk-loads it, refreshes it,
//! checks its count and then moves the alias in one `_aliases` request, so searches see
//! either the old index or the complete new one, never a half-built one. Until that move
//! the old index stays live: a build that fails is deleted and changes nothing.

use std::time::Duration;

use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::JsonBody;
use elasticsearch::http::response::Response;
use elasticsearch::http::{Method, StatusCode};
use elasticsearch::{BulkOperation, BulkOperations, BulkParts};
use serde_json::{Value, json};

use super::document::{ProductDocument, index_body};
use super::{BACKEND, Elasticsearch, map_error};
use crate::protocols::SourceError;

/// Index creation and bulk requests do far more work than a search; the search timeout
/// (2 s by default) would cut them on a busy cluster for no good reason.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a build did not go live.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The alias name is taken by a real index, which the alias cannot replace.
    #[error(
        "`{alias}` is a concrete index, not an alias: delete or rename that index (or choose \
         another name with OGROM_ELASTICSEARCH_INDEX) so `ogrom index` can put an alias there"
    )]
    AliasIsIndex {
        /// The configured alias name.
        alias: String,
    },
    /// Elasticsearch refused documents of a bulk request.
    #[error("{index}: Elasticsearch rejected {failed} document(s); the first, id {id}: {reason}")]
    Rejected {
        /// The index being built.
        index: String,
        /// How many documents of the batch failed.
        failed: usize,
        /// The first failed document's id.
        id: String,
        /// Its error type and reason.
        reason: String,
    },
    /// The refreshed index does not hold what was sent.
    #[error("{index} holds {found} documents after refresh, but {sent} were sent")]
    CountMismatch {
        /// The index being built.
        index: String,
        /// Documents sent.
        sent: u64,
        /// Documents counted.
        found: u64,
    },
    /// A request failed (unreachable, timed out or answered with an error).
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// A new versioned index being loaded; nothing searches it until `publish`.
pub struct IndexBuild {
    es: Elasticsearch,
    alias: String,
    index: String,
    sent: u64,
}

/// What a successful build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The new index the alias now points to.
    pub index: String,
    /// Documents in it.
    pub documents: u64,
    /// The indices the alias pointed to before.
    pub previous: Vec<String>,
    /// Older versions deleted because they were beyond `keep`.
    pub deleted: Vec<String>,
}

impl IndexBuild {
    /// Creates a new, empty versioned index for `alias`. Refuses when `alias` names a real
    /// index, before any work is done.
    pub async fn start(es: &Elasticsearch, alias: &str) -> Result<Self, IndexError> {
        // `GET /{name}/_alias` lists the indices a name resolves to: an alias resolves to
        // the indices behind it, a concrete index to itself.
        let resolved = look_up(es, &format!("/{alias}/_alias"), "looking up the alias").await?;
        if resolved.is_some_and(|indices| indices.get(alias).is_some()) {
            return Err(IndexError::AliasIsIndex {
                alias: alias.to_owned(),
            });
        }
        // Names must sort by age even when two builds start within a millisecond or the
        // clock steps back: never reuse or undercut an existing version.
        let newest = versions(es, alias).await?.first().map_or(0, |v| v.1 + 1);
        let millis = chrono::Utc::now().timestamp_millis().max(newest);
        let index = format!("{alias}_v{millis}");
        let (path, what) = (format!("/{index}"), format!("creating index {index}"));
        call(es, Method::Put, &path, Some(index_body()), &what).await?;
        Ok(Self {
            es: es.clone(),
            alias: alias.to_owned(),
            index,
            sent: 0,
        })
    }

    /// The new index's name.
    pub fn index(&self) -> &str {
        &self.index
    }

    /// Documents sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Indexes one batch in one bulk request, each document under its product id (so a
    /// retried batch overwrites instead of duplicating). Any rejected document fails it.
    pub async fn add(&mut self, documents: &[ProductDocument]) -> Result<(), IndexError> {
        if documents.is_empty() {
            return Ok(());
        }
        let mut operations = BulkOperations::new();
        for document in documents {
            operations
                .push(BulkOperation::index(document).id(document.id.to_string()))
                .map_err(|error| {
                    contract(format!("serialising product {}: {error}", document.id))
                })?;
        }
        let response = self
            .es
            .client()
            .bulk(BulkParts::Index(&self.index))
            .body(vec![operations])
            // Successful items shrink to their id: the answer stays small.
            .filter_path(&["errors", "items.*._id", "items.*.error"])
            .request_timeout(LIFECYCLE_TIMEOUT)
            .send()
            .await;
        let answer = success(response, &format!("bulk indexing into {}", self.index)).await?;
        if answer["errors"].as_bool() == Some(true) {
            let items = answer["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let failed: Vec<&Value> = items
                .iter()
                .filter_map(|item| item.as_object()?.values().next())
                .filter(|result| result.get("error").is_some())
                .collect();
            let first = failed.first().copied().unwrap_or(&Value::Null);
            return Err(IndexError::Rejected {
                index: self.index.clone(),
                failed: failed.len(),
                id: first["_id"].as_str().unwrap_or("?").to_owned(),
                reason: describe(&first["error"]),
            });
        }
        self.sent += documents.len() as u64;
        Ok(())
    }

    /// Refreshes the new index, checks its count, moves the alias to it atomically and
    /// deletes versions beyond the newest `keep`. A failure before the alias moves deletes
    /// the new index; a failure to delete old versions afterwards is only logged, as the
    /// new index is live and the next build retries the clean-up.
    pub async fn publish(self, keep: u32) -> Result<Published, IndexError> {
        let previous = match self.verify_and_move().await {
            Ok(previous) => previous,
            Err(error) => {
                // A move whose answer was lost may have been applied: deleting the index the
                // alias now points at would take search down. Look before deleting.
                if self.alias_points_here().await {
                    tracing::warn!(message = "the alias move was applied though its answer failed", index = %self.index, %error);
                    Vec::new()
                } else {
                    self.discard().await;
                    return Err(error);
                }
            }
        };
        let deleted = match self.prune(keep, &previous).await {
            Ok(deleted) => deleted,
            Err(error) => {
                tracing::warn!(message = "could not delete old index versions", %error);
                Vec::new()
            }
        };
        Ok(Published {
            index: self.index,
            documents: self.sent,
            previous,
            deleted,
        })
    }

    /// Deletes the new index after a failure; the alias was never moved, so searches are
    /// unaffected. A failure to delete is logged: the error that led here matters more.
    pub async fn discard(self) {
        if let Err(error) = delete(&self.es, &[self.index.as_str()]).await {
            tracing::warn!(message = "could not delete the failed index", index = %self.index, %error);
        }
    }

    /// Whether the alias points at the new index now (an unreadable answer counts as no).
    async fn alias_points_here(&self) -> bool {
        let path = format!("/_alias/{}", self.alias);
        match look_up(&self.es, &path, "looking up the alias").await {
            Ok(Some(Value::Object(holders))) => holders.contains_key(&self.index),
            _ => false,
        }
    }

    /// Returns the indices the alias left.
    async fn verify_and_move(&self) -> Result<Vec<String>, IndexError> {
        let (es, index) = (&self.es, &self.index);
        let (path, what) = (format!("/{index}/_refresh"), format!("refreshing {index}"));
        call(es, Method::Post, &path, None, &what).await?;
        let (path, what) = (format!("/{index}/_count"), format!("counting {index}"));
        let counted = call(es, Method::Get, &path, None, &what).await?;
        let found = counted["count"].as_u64().unwrap_or(0);
        if found != self.sent {
            return Err(IndexError::CountMismatch {
                index: self.index.clone(),
                sent: self.sent,
                found,
            });
        }

        // The holders are looked up first so each removal can say `must_exist`: if the
        // alias moved meanwhile (another build), the whole request fails instead of leaving
        // the alias on two indices. One request makes the move atomic for searches.
        let path = format!("/_alias/{}", self.alias);
        let holders = look_up(es, &path, "looking up the alias").await?;
        let previous: Vec<String> = match holders {
            Some(Value::Object(holders)) => holders.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let mut actions: Vec<Value> = previous
            .iter()
            .map(|index| json!({"remove": {"index": index, "alias": self.alias, "must_exist": true}}))
            .collect();
        actions.push(json!({"add": {"index": self.index, "alias": self.alias}}));
        let what = format!("moving alias {} to {index}", self.alias);
        let body = json!({ "actions": actions });
        let answer = call(es, Method::Post, "/_aliases", Some(body), &what).await?;
        // An action can fail inside a 200 answer (`errors: true`); the alias may then be
        // wrong, so it must not pass for success.
        if answer["errors"].as_bool() == Some(true) {
            return Err(backend(format!("{what}: {answer}")).into());
        }
        Ok(previous)
    }

    /// Deletes versions beyond the newest `keep`, never the new (live) one.
    async fn prune(&self, keep: u32, previous: &[String]) -> Result<Vec<String>, SourceError> {
        // Keep the new index, then the one the alias left (the rollback target), then the
        // newest others: a half-built index of a killed run must not push the rollback
        // target out.
        let all: Vec<String> = versions(&self.es, &self.alias)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let mut kept: Vec<&String> = all.iter().filter(|name| **name == self.index).collect();
        kept.extend(all.iter().filter(|name| previous.contains(name)));
        kept.extend(
            all.iter()
                .filter(|name| **name != self.index && !previous.contains(name)),
        );
        kept.truncate(keep.max(1) as usize);
        let stale: Vec<String> = all
            .iter()
            .filter(|name| !kept.contains(name))
            .cloned()
            .collect();
        if stale.is_empty() {
            return Ok(stale);
        }
        // With `keep` 1 the index the alias just left is deleted, and searches that resolved
        // the alias a moment ago may still run on it: give them the search timeout to finish.
        if stale.iter().any(|name| previous.contains(name)) {
            tokio::time::sleep(self.es.timeout()).await;
        }
        let names: Vec<&str> = stale.iter().map(String::as_str).collect();
        delete(&self.es, &names).await?;
        Ok(stale)
    }
}

/// The versioned indices of `alias` (`{alias}_v{millis}`, open or closed), newest first.
pub async fn versions(es: &Elasticsearch, alias: &str) -> Result<Vec<(String, i64)>, SourceError> {
    // A wildcard that matches nothing answers `{}`; closed indices are listed too.
    let path = format!("/{alias}_v*/_alias");
    let indices = look_up(es, &path, "listing index versions").await?;
    let prefix = format!("{alias}_v");
    let mut versions: Vec<(String, i64)> = indices
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|indices| indices.keys())
        // Only digits after the prefix: `products_vintage` is not ours to delete.
        .filter_map(|name| {
            let suffix = name.strip_prefix(&prefix)?;
            if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((name.clone(), suffix.parse().ok()?))
        })
        .collect();
    versions.sort_by_key(|(_, millis)| std::cmp::Reverse(*millis));
    Ok(versions)
}

async fn delete(es: &Elasticsearch, indices: &[&str]) -> Result<(), SourceError> {
    let names = indices.join(",");
    let what = format!("deleting {names}");
    call(es, Method::Delete, &format!("/{names}"), None, &what).await?;
    Ok(())
}

/// One request (index names need no escaping: Elasticsearch allows no reserved characters
/// in them); `what` names it in errors.
async fn call(
    es: &Elasticsearch,
    method: Method,
    path: &str,
    body: Option<Value>,
    what: &str,
) -> Result<Value, SourceError> {
    success(send(es, method, path, body).await, what).await
}

/// A GET whose 404 ("no such index or alias") is an answer, `None`, not an error.
async fn look_up(es: &Elasticsearch, path: &str, what: &str) -> Result<Option<Value>, SourceError> {
    let response = send(es, Method::Get, path, None).await;
    match response {
        Ok(response) if response.status_code() == StatusCode::NOT_FOUND => Ok(None),
        response => success(response, what).await.map(Some),
    }
}

async fn send(
    es: &Elasticsearch,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Response, elasticsearch::Error> {
    let body = body.map(JsonBody::new);
    let timeout = Some(LIFECYCLE_TIMEOUT);
    es.client()
        .send(method, path, HeaderMap::new(), None::<&()>, body, timeout)
        .await
}

/// The JSON body of a 2xx answer; anything else becomes an error that says what was being
/// done and what Elasticsearch answered.
async fn success(
    response: Result<Response, elasticsearch::Error>,
    what: &str,
) -> Result<Value, SourceError> {
    let response = response.map_err(|error| map_error(error, LIFECYCLE_TIMEOUT))?;
    let status = response.status_code();
    let text = response
        .text()
        .await
        .map_err(|error| map_error(error, LIFECYCLE_TIMEOUT))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(body) if status.is_success() => Ok(body),
        Ok(body) => {
            let error = describe(&body["error"]);
            Err(backend(format!("{what}: {status}: {error}")))
        }
        // A proxy or a distribution without the endpoint may answer with something else.
        Err(_) if status.is_success() => Err(contract(format!("{what}: not JSON: {text:.200}"))),
        Err(_) => Err(backend(format!("{what}: {status}: {text:.200}"))),
    }
}

/// `type: reason` of an Elasticsearch error object (some answers give a bare string).
fn describe(error: &Value) -> String {
    match (error["type"].as_str(), error["reason"].as_str()) {
        (Some(kind), Some(reason)) => format!("{kind}: {reason}"),
        _ => error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned),
    }
}

fn backend(detail: String) -> SourceError {
    SourceError::Backend {
        backend: BACKEND,
        detail,
    }
}

fn contract(detail: String) -> SourceError {
    SourceError::Contract {
        backend: BACKEND,
        detail,
    }
}
