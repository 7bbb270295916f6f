//! MySQL (MariaDB in development): the data of record. Queries are written as runtime SQL
//! with `sqlx::query_as`, so a clean clone builds without a database or an offline cache.

mod catalog;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::MySqlPool;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

use crate::protocols::{HealthCheck, SourceError};

const BACKEND: &str = "mysql";

/// How the gateway talks to MySQL.
#[derive(Debug, Clone)]
pub struct MySqlSettings {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a query waits for a free connection (or for a new one to open).
    pub acquire_timeout: Duration,
    /// How long one statement may run before the caller gets `UPSTREAM_TIMEOUT`.
    pub statement_timeout: Duration,
}

impl Default for MySqlSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool of MySQL connections shared by every MySQL-backed protocol, with a count of the
/// statements it ran (for metrics and for tests that prove batching).
#[derive(Clone)]
pub struct MySql {
    pool: MySqlPool,
    statement_timeout: Duration,
    statements: Arc<AtomicU64>,
}

impl MySql {
    /// Builds a pool that connects lazily: the gateway starts while MySQL is down and
    /// recovers on its own when it comes back.
    pub fn connect_lazy(options: MySqlConnectOptions, settings: &MySqlSettings) -> Self {
        let pool = MySqlPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Self::from_pool(pool, settings.statement_timeout)
    }

    /// Wraps an existing pool (tests, subcommands).
    pub fn from_pool(pool: MySqlPool, statement_timeout: Duration) -> Self {
        Self {
            pool,
            statement_timeout,
            statements: Arc::default(),
        }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Statements run through this handle since it was built.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The catalog protocol over this pool.
    pub fn catalog(&self) -> MySqlCatalog {
        MySqlCatalog { db: self.clone() }
    }

    /// Runs one statement: counts it, bounds it in time and maps its error.
    async fn run<T>(
        &self,
        statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, SourceError> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.statement_timeout, statement).await {
            Ok(result) => result.map_err(map_error),
            Err(_) => Err(SourceError::Timeout {
                backend: BACKEND,
                millis: self.statement_timeout.as_millis() as u64,
            }),
        }
    }
}

/// Connection-level failures mean "unavailable"; everything else is a backend error.
fn map_error(error: sqlx::Error) -> SourceError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => SourceError::Unavailable {
            backend: BACKEND,
            detail: error.to_string(),
        },
        other => SourceError::Backend {
            backend: BACKEND,
            detail: other.to_string(),
        },
    }
}

#[async_trait::async_trait]
impl HealthCheck for MySql {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn check(&self) -> Result<(), SourceError> {
        self.run(sqlx::query("SELECT 1").execute(&self.pool))
            .await
            .map(drop)
    }
}

/// The catalog protocol over MySQL.
#[derive(Clone)]
pub struct MySqlCatalog {
    db: MySql,
}
