//! MySQL (MariaDB in development): the data of record. Queries are written as runtime SQL
//! with `sqlx::query_as`, so a clean clone builds without a database or an offline cache.

/// The statement `$statement` (a query's `fetch_*`, given the connection `$conn`) on a
/// connection lent by `$db`, as a future for `MySql::run`: the connection is kept for the
/// next statement when this one runs to its end (see `kept`).
macro_rules! lent {
    ($db:expr, |$conn:ident| $statement:expr) => {
        async {
            let mut lent = $db.lend().await?;
            let $conn = &mut *lent;
            let answer = $statement.await?;
            lent.finished();
            Ok::<_, sqlx::Error>(answer)
        }
    };
}

mod catalog;
pub mod community;
mod kept;
mod recent;
mod rows;
mod sql;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::MySqlPool;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

use crate::observe::{self, Backend};
use crate::protocols::{HealthCheck, SourceError};
use crate::sources::breaker::{Guard, GuardSettings};

const BACKEND: &str = "mysql";

/// How long a pooled connection may sit idle before it is pinged ahead of its next statement.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How the gateway talks to MySQL.
#[derive(Debug, Clone)]
pub struct MySqlSettings {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a query waits for a free connection (or for a new one to open).
    pub acquire_timeout: Duration,
    /// How long one statement may run before the caller gets `UPSTREAM_TIMEOUT`.
    pub statement_timeout: Duration,
    /// The breaker and bulkhead around statements (see `breaker::Guard`).
    pub guard: GuardSettings,
}

/// The guard's settings unless configured: open after 5 consecutive timeouts or refused
/// connections for 2 s. The pool is MySQL's bulkhead (its connections, and the acquire
/// timeout for statements waiting for one); the cap on statements in flight or waiting is a
/// backstop above any burst the gateway's request limit lets through (200 concurrent
/// mutations, a test, stay well under it).
pub const GUARD: GuardSettings = GuardSettings {
    failures: 5,
    open_for: Duration::from_secs(2),
    max_in_flight: 1024,
};

impl Default for MySqlSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            guard: GUARD,
        }
    }
}

/// A pool of MySQL connections shared by every MySQL-backed protocol, with a count of the
/// statements it ran (for metrics and for tests that prove batching).
#[derive(Clone)]
pub struct MySql {
    pool: MySqlPool,
    /// Connections kept between statements without a ping (see `kept`).
    kept: Arc<kept::Kept>,
    statement_timeout: Duration,
    statements: Arc<AtomicU64>,
    guard: Arc<Guard>,
}

impl MySql {
    /// Builds a pool that connects lazily: the gateway starts while MySQL is down and
    /// recovers on its own when it comes back. Each connection asks the server to cut
    /// statements at the timeout too, so a slow query stops using the database when its
    /// caller has given up, instead of running on behind the client-side timeout.
    ///
    /// sqlx pings a connection before every use unless told otherwise, and again when it
    /// goes back to the pool: three round trips a statement. The ping before use is kept only
    /// for a connection that has sat idle for `PING_AFTER_IDLE`, which is the one a MySQL
    /// restart or idle timeout may have cut since; the one on return only for a connection
    /// whose statement did not run to its end (see `kept`), which is what it is for.
    pub fn connect_lazy(options: MySqlConnectOptions, settings: &MySqlSettings) -> Self {
        let millis = settings.statement_timeout.as_millis() as u64;
        let pool = MySqlPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| limit_statement_time(conn, millis))
            .connect_lazy_with(options);
        Self::from_pool(pool, settings.statement_timeout).guarded(settings.guard)
    }

    /// The same pool with its statements guarded as `settings` say.
    pub fn guarded(mut self, settings: GuardSettings) -> Self {
        self.guard = Arc::new(Guard::new(BACKEND, settings));
        self
    }

    /// The breaker and bulkhead around statements.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Wraps an existing pool (tests, subcommands).
    pub fn from_pool(pool: MySqlPool, statement_timeout: Duration) -> Self {
        Self {
            pool,
            kept: Arc::default(),
            statement_timeout,
            statements: Arc::default(),
            guard: Arc::new(Guard::new(BACKEND, GUARD)),
        }
    }

    /// The underlying pool, for statements outside the sources' (tests, subcommands): the
    /// connections kept between statements go back to it first, so that it has them.
    pub fn pool(&self) -> &MySqlPool {
        self.kept.release_all();
        &self.pool
    }

    /// A connection for one statement, kept for the next if it ends well (see `kept`).
    async fn lend(&self) -> Result<kept::Lent<'_>, sqlx::Error> {
        self.kept.checkout(&self.pool).await
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Connections open and, of those, idle (in the pool or kept between statements).
    pub fn connections(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle() + self.kept.idle())
    }

    /// `acquiring`, a future that takes a connection from the pool itself (a transaction's
    /// begin), with the kept connections given back to the pool and none kept meanwhile.
    async fn through_pool<T>(&self, acquiring: impl Future<Output = T>) -> T {
        self.kept.through_pool(acquiring).await
    }

    /// Closes every connection, the kept ones first; waits for those in use.
    pub async fn close(&self) {
        self.kept.close();
        self.pool.close().await;
    }

    /// Statements run through this handle since it was built.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The community protocol over this pool.
    pub fn community(&self) -> community::MySqlCommunity {
        community::MySqlCommunity { db: self.clone() }
    }

    /// Counts and reports the statement `sql` begun at `started` (`run` does this; a
    /// transaction reports itself).
    fn report(&self, sql: &str, started: Instant, ok: bool) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        observe::backend_call(Backend::MySql, started, ok, || sql.to_owned());
    }

    /// Maps an error of a statement run outside `run`.
    fn map(&self, error: sqlx::Error) -> SourceError {
        map_error(error, self.statement_timeout)
    }

    /// The catalog protocol over this pool.
    pub fn catalog(&self) -> MySqlCatalog {
        MySqlCatalog {
            db: self.clone(),
            kept: Default::default(),
        }
    }

    /// Runs one statement: counts it, bounds it in time and maps its error. The server
    /// normally cuts a slow statement first (see `connect_lazy`); the client-side bound, a
    /// little later, covers a server that does not answer at all.
    async fn run<T>(
        &self,
        sql: &str,
        statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, SourceError> {
        let started = Instant::now();
        let bound = self.statement_timeout + Duration::from_millis(250);
        let guarded = self.guard.call(async {
            match tokio::time::timeout(bound, statement).await {
                Ok(result) => result.map_err(|e| map_error(e, self.statement_timeout)),
                Err(_) => Err(SourceError::Timeout {
                    backend: BACKEND,
                    millis: self.statement_timeout.as_millis() as u64,
                }),
            }
        });
        let result = guarded.await;
        self.report(sql, started, result.is_ok());
        result
    }
}

/// Asks the server to cut statements after `millis`. MariaDB takes seconds, MySQL 8
/// milliseconds (and limits SELECTs only); a server with neither keeps the client-side bound.
fn limit_statement_time(
    conn: &mut sqlx::MySqlConnection,
    millis: u64,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    use sqlx::Executor;
    Box::pin(async move {
        let mariadb = format!(
            "SET SESSION max_statement_time = {}",
            millis as f64 / 1000.0
        );
        if conn.execute(mariadb.as_str()).await.is_err() {
            let mysql = format!("SET SESSION max_execution_time = {millis}");
            if let Err(error) = conn.execute(mysql.as_str()).await {
                tracing::warn!(message = "server-side statement timeout not set", %error);
            }
        }
        Ok(())
    })
}

/// Connection-level failures mean "unavailable"; the server's own errors are "backend";
/// statements cut by the server's time limit are timeouts; errors that only our SQL or our
/// row types can cause are a broken contract.
fn map_error(error: sqlx::Error, timeout: Duration) -> SourceError {
    let detail = error.to_string();
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => SourceError::Unavailable {
            backend: BACKEND,
            detail,
        },
        sqlx::Error::Database(db) if is_statement_timeout(db.as_ref()) => SourceError::Timeout {
            backend: BACKEND,
            millis: timeout.as_millis() as u64,
        },
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // Syntax errors, unknown columns or tables: the schema and our SQL disagree.
            Some("42000" | "42S02" | "42S22") => SourceError::Contract {
                backend: BACKEND,
                detail,
            },
            _ => SourceError::Backend {
                backend: BACKEND,
                detail,
            },
        },
        _ => SourceError::Contract {
            backend: BACKEND,
            detail,
        },
    }
}

/// MariaDB's `max_statement_time` (1969) or MySQL's `max_execution_time` (3024) cut it.
fn is_statement_timeout(error: &dyn sqlx::error::DatabaseError) -> bool {
    let number = error
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(|e| e.number());
    matches!(number, Some(1969 | 3024))
}

#[async_trait::async_trait]
impl HealthCheck for MySql {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn check(&self) -> Result<(), SourceError> {
        let probe = "SELECT 1";
        self.run(probe, lent!(self, |c| sqlx::query(probe).execute(c)))
            .await
            .map(drop)
    }
}

/// The catalog protocol over MySQL.
#[derive(Clone)]
pub struct MySqlCatalog {
    db: MySql,
    /// Records and counts read a short while ago (see `recent`).
    kept: std::sync::Arc<catalog::Kept>,
}
