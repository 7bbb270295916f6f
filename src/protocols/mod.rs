//! Protocols layer: the traits that describe each kind of data the API needs, and their
//! record types. Sources implement them; the GraphQL core consumes them as `Arc<dyn …>`.
//!
//! Every data method is batch-shaped (`&[K] -> HashMap<K, V>`), so a DataLoader is a thin
//! adapter over it and one query level costs one backend call per entity type.

pub mod auth;
pub mod catalog;
pub mod community;
pub mod offers;
pub mod search;
pub mod shared;

pub use catalog::{
    BrandCursor, BrandRecord, CatalogSource, CategoryRecord, FirstPage, Page, PageRequest,
    ProductColumns, ProductRecord, ShopRecord,
};

/// The one error type of the source layer. Messages may hold backend details (hosts, SQL):
/// they are for the log only; the core shows clients a generic message and a stable code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The backend could not be reached or refused the connection.
    #[error("{backend} is unavailable: {detail}")]
    Unavailable {
        /// Which backend ("mysql", "elasticsearch", …).
        backend: &'static str,
        /// What the client library reported.
        detail: String,
    },
    /// The backend did not answer within the configured time.
    #[error("{backend} did not answer within {millis} ms")]
    Timeout {
        /// Which backend.
        backend: &'static str,
        /// The budget that ran out.
        millis: u64,
    },
    /// The backend answered with an error of its own (overload, a lock timeout, a 5xx).
    #[error("{backend} failed: {detail}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// Our request or our reading of the answer was wrong (bad SQL, a column that does not
    /// decode, a document of an unexpected shape): a fault of the gateway, not the backend.
    #[error("{backend} contract broken: {detail}")]
    Contract {
        /// Which backend.
        backend: &'static str,
        /// What did not fit.
        detail: String,
    },
}

impl SourceError {
    /// The backend this error came from.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Unavailable { backend, .. }
            | Self::Timeout { backend, .. }
            | Self::Backend { backend, .. }
            | Self::Contract { backend, .. } => backend,
        }
    }
}

/// Something the gateway depends on and can probe for readiness.
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync {
    /// A short name for the readiness report ("mysql", "elasticsearch").
    fn name(&self) -> &'static str;
    /// Succeeds when the backend answers a trivial request.
    async fn check(&self) -> Result<(), SourceError>;
}
