//! Elasticsearch: product search and facets, over an alias that `ogrom index` moves between
//! versioned indices.

mod answers;
pub mod document;
pub mod index;
mod request;
mod search;

pub use search::ElasticsearchSearch;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use elasticsearch::Elasticsearch as Client;
use elasticsearch::http::Url;
use elasticsearch::http::headers::{ACCEPT_ENCODING, HeaderMap, HeaderValue};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};

use crate::protocols::{HealthCheck, SourceError};
use crate::sources::breaker::{Guard, GuardSettings};

/// The backend name in errors and logs.
pub(crate) const BACKEND: &str = "elasticsearch";

/// A client for one Elasticsearch cluster (through one node or a load balancer).
#[derive(Clone)]
pub struct Elasticsearch {
    client: Client,
    timeout: Duration,
    requests: Arc<AtomicU64>,
    /// The breaker and bulkhead around searches (see `breaker::Guard`).
    guard: Arc<Guard>,
}

/// The guard's settings unless configured: open after 5 consecutive timeouts for 2 s, at most
/// 128 searches in flight (half the gateway's default request limit: a hung cluster leaves
/// the other half to pages that do not search).
pub const GUARD: GuardSettings = GuardSettings {
    failures: 5,
    open_for: Duration::from_secs(2),
    max_in_flight: 128,
};

impl Elasticsearch {
    /// Builds the client; it connects on first use, so the gateway starts while the cluster
    /// is down.
    pub fn new(url: Url, timeout: Duration) -> Result<Self, SourceError> {
        // Answers uncompressed. The cluster sits in the gateway's own network and answers a
        // few kilobytes; the HTTP client asked for gzip by default, and setting up a gzip
        // decoder for each answer and inflating it was 9% of a product page's instructions
        // in the gateway (callgrind), with the cluster's deflating on top.
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .headers(headers)
            .timeout(timeout)
            .disable_proxy()
            .build()
            .map_err(|error| SourceError::Backend {
                backend: BACKEND,
                detail: error.to_string(),
            })?;
        Ok(Self {
            client: Client::new(transport),
            timeout,
            requests: Arc::default(),
            guard: Arc::new(Guard::new(BACKEND, GUARD)),
        })
    }

    /// The same client with its searches guarded as `settings` say.
    pub fn guarded(mut self, settings: GuardSettings) -> Self {
        self.guard = Arc::new(Guard::new(BACKEND, settings));
        self
    }

    /// The breaker and bulkhead around searches.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The underlying client, for the search protocol.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Search requests sent through this handle (for metrics and tests that prove batching).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Counts a request about to be sent and returns when it was sent.
    pub(crate) fn count_request(&self) -> std::time::Instant {
        self.requests.fetch_add(1, Ordering::Relaxed);
        std::time::Instant::now()
    }

    /// The search protocol over the alias `index`.
    pub fn search(&self, index: &str) -> ElasticsearchSearch {
        ElasticsearchSearch::new(self.clone(), index)
    }

    /// The per-request time bound.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Maps a transport error: timeouts and connection failures are told apart so clients get
/// `UPSTREAM_TIMEOUT` or `UPSTREAM_UNAVAILABLE`.
pub(crate) fn map_error(error: elasticsearch::Error, timeout: Duration) -> SourceError {
    if error.is_timeout() {
        SourceError::Timeout {
            backend: BACKEND,
            millis: timeout.as_millis() as u64,
        }
    } else {
        SourceError::Unavailable {
            backend: BACKEND,
            detail: error.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl HealthCheck for Elasticsearch {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn check(&self) -> Result<(), SourceError> {
        // `GET /` (ping) is absent from minimal distributions; cluster health is everywhere
        // and also says whether the cluster can serve searches (yellow or better).
        let response = self
            .client
            .cluster()
            .health(elasticsearch::cluster::ClusterHealthParts::None)
            .request_timeout(self.timeout)
            .send()
            .await
            .map_err(|error| map_error(error, self.timeout))?;
        let status = response.status_code();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|error| map_error(error, self.timeout))?;
        match body["status"].as_str() {
            Some("green" | "yellow") if status.is_success() => Ok(()),
            other => Err(SourceError::Backend {
                backend: BACKEND,
                detail: format!("cluster health answered {status} with status {other:?}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What the client sends, read by a listener that answers like a healthy cluster.
    async fn request_headers_of_a_health_check() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                assert!(n > 0, "the client closed before its headers ended");
                request.extend_from_slice(&buffer[..n]);
            }
            let body = r#"{"status":"green"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(request).unwrap().to_ascii_lowercase()
        });
        let es = Elasticsearch::new(url, Duration::from_secs(5)).unwrap();
        es.check().await.expect("the health check passes");
        server.await.unwrap()
    }

    #[tokio::test]
    async fn the_cluster_is_asked_for_answers_uncompressed() {
        let request = request_headers_of_a_health_check().await;
        let encodings: Vec<&str> = request
            .lines()
            .filter_map(|line| line.strip_prefix("accept-encoding:"))
            .map(str::trim)
            .collect();
        assert_eq!(encodings, ["identity"], "{request}");
    }
}
