//! Redis as the replicas' shared store (`protocols::shared`). Optional, and never in a
//! request's way: every call is bounded by a small timeout and goes through a `Guard` (the
//! breaker and bulkhead of the other backends), so a Redis that is slow or down costs a
//! request at most one timeout, and none once the breaker has opened. Callers fail open.
//!
//! The client is redis-rs (the `redis` crate), the maintained Rust client, with tokio and its
//! `ConnectionManager`: one multiplexed connection for every request, re-established on its
//! own after Redis restarts. It is opened on first use, so the gateway starts while Redis
//! is down. Budgets and tags are Lua scripts, run with EVALSHA (redis-rs's `Script` sends
//! the text with EVAL once when the server answers NOSCRIPT, after a restart).
//!
//! Keys: `<prefix>budget:<client>` (a hash: points and when), `<prefix>apq:<sha256>`,
//! `<prefix>rc:<key>` (a cached answer), `<prefix>offers:<id>`, and `<prefix>tag:<Type:id>`
//! (a set of the `rc:` keys whose answers hold that object). Every key has a TTL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Script};
use tokio::sync::OnceCell;

use super::breaker::{BreakerState, Guard, GuardSettings};
use crate::protocols::shared::{BucketShape, SharedStore, Spent};
use crate::protocols::{HealthCheck, SourceError};

const BACKEND: &str = "redis";

/// The guard's settings unless configured: a store that is only an optimisation opens its
/// circuit soon and probes again soon.
pub const GUARD: GuardSettings = GuardSettings {
    failures: 3,
    open_for: Duration::from_secs(1),
    max_in_flight: 1024,
};

/// A token bucket: refills the budget up to Redis's clock (one clock for every replica),
/// then takes the cost if it is there (a negative cost is a refund). The hash expires once
/// the budget would be full again: a full budget is no different from a missing one.
const SPEND: &str = r"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'points', 'at')
local points = tonumber(held[1])
local at = tonumber(held[2])
if points == nil or at == nil then
  points = capacity
  at = now
end
if now > at then
  points = math.min(capacity, points + (now - at) * rate / 1000)
end
local taken = 1
if cost < 0 or points >= cost then
  points = math.min(capacity, points - cost)
else
  taken = 0
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - points) * 1000 / rate) + 1000)
return {taken, tostring(points)}
";

/// Stores a value and records its key under each tag (KEYS[2..]); a tag lives at least as
/// long as the longest-lived key it holds.
const PUT: &str = r"
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
";

/// Removes every key recorded under the tags (KEYS), and the tags.
const INVALIDATE: &str = r"
local removed = 0
for i = 1, #KEYS do
  local keys = redis.call('SMEMBERS', KEYS[i])
  for _, key in ipairs(keys) do
    removed = removed + redis.call('DEL', key)
  end
  redis.call('DEL', KEYS[i])
end
return removed
";

/// How a `RedisStore` is set.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port[/db]`.
    pub url: String,
    /// Put before every key, so that several gateways (or tests) share one Redis.
    pub prefix: String,
    /// The longest one call may take, connecting included.
    pub timeout: Duration,
    /// The breaker and bulkhead around the calls.
    pub guard: GuardSettings,
}

/// The shared store on Redis.
pub struct RedisStore {
    client: Client,
    prefix: String,
    timeout: Duration,
    guard: Guard,
    /// Opened by the first call that needs it; a failed opening is retried by the next.
    connection: OnceCell<ConnectionManager>,
    spend: Script,
    put: Script,
    invalidate: Script,
    counters: Counters,
}

/// Calls by outcome, for metrics.
#[derive(Debug, Default)]
struct Counters {
    ok: AtomicU64,
    timeout: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
}

/// Calls so far by outcome: answered, timed out, failed (unreachable or an error), not
/// made (the breaker was open or the bulkhead full).
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisFigures {
    /// Calls Redis answered.
    pub ok: u64,
    /// Calls that took longer than the timeout.
    pub timeout: u64,
    /// Calls that failed otherwise (refused connection, an error reply).
    pub failed: u64,
    /// Calls not made: the breaker was open or too many were in flight.
    pub refused: u64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis at `settings.url`; connects on first use. Fails only when the URL
    /// is not a Redis URL.
    pub fn new(settings: RedisSettings) -> Result<Self, SourceError> {
        // The error is not shown: it may repeat the URL, password included.
        let client = Client::open(settings.url.as_str()).map_err(|_| SourceError::Contract {
            backend: BACKEND,
            detail: "not a redis:// URL".to_owned(),
        })?;
        Ok(Self {
            client,
            prefix: settings.prefix,
            timeout: settings.timeout,
            guard: Guard::new(BACKEND, settings.guard),
            connection: OnceCell::new(),
            spend: Script::new(SPEND),
            put: Script::new(PUT),
            invalidate: Script::new(INVALIDATE),
            counters: Counters::default(),
        })
    }

    /// The state of the breaker around Redis calls.
    pub fn breaker_state(&self) -> BreakerState {
        self.guard.state()
    }

    /// Calls so far by outcome.
    pub fn figures(&self) -> RedisFigures {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisFigures {
            ok: load(&self.counters.ok),
            timeout: load(&self.counters.timeout),
            failed: load(&self.counters.failed),
            refused: load(&self.counters.refused),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let open = async {
            // The timeouts of the manager bound each attempt; ours bounds the whole call.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                .set_response_timeout(Some(self.timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(500));
            ConnectionManager::new_with_config(self.client.clone(), config).await
        };
        self.connection.get_or_try_init(|| open).await.cloned()
    }

    /// Runs one call under the timeout and the guard, and counts its outcome.
    async fn call<T, F>(&self, call: impl FnOnce(ConnectionManager) -> F) -> Result<T, SourceError>
    where
        F: Future<Output = Result<T, RedisError>>,
    {
        let millis = self.timeout.as_millis() as u64;
        let mut made = false;
        let result = self
            .guard
            .call(async {
                made = true;
                let bounded = tokio::time::timeout(self.timeout, async {
                    let connection = self.connection().await?;
                    call(connection).await
                });
                match bounded.await {
                    Err(_) => Err(SourceError::Timeout {
                        backend: BACKEND,
                        millis,
                    }),
                    Ok(result) => result.map_err(source_error),
                }
            })
            .await;
        let counter = match &result {
            Ok(_) => &self.counters.ok,
            Err(_) if !made => &self.counters.refused,
            Err(SourceError::Timeout { .. }) => &self.counters.timeout,
            Err(_) => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }
}

/// A connection that cannot be made or is lost is `Unavailable` (it counts towards the
/// breaker); an error reply is Redis's own (`Backend`).
fn source_error(error: RedisError) -> SourceError {
    let detail = error.to_string();
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
    {
        SourceError::Unavailable {
            backend: BACKEND,
            detail,
        }
    } else {
        SourceError::Backend {
            backend: BACKEND,
            detail,
        }
    }
}

#[async_trait::async_trait]
impl SharedStore for RedisStore {
    async fn spend(&self, key: &str, cost: f64, shape: BucketShape) -> Result<Spent, SourceError> {
        let key = self.key(key);
        let (taken, points): (i64, String) = self
            .call(|mut connection| async move {
                self.spend
                    .key(&key)
                    .arg(shape.capacity)
                    .arg(shape.refill_per_s)
                    .arg(cost)
                    .invoke_async(&mut connection)
                    .await
            })
            .await?;
        let points = points.parse::<f64>().map_err(|_| SourceError::Contract {
            backend: BACKEND,
            detail: format!("the budget script returned {points:?} points"),
        })?;
        Ok(Spent {
            taken: taken == 1,
            points,
        })
    }

    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, SourceError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.call(|mut connection| async move {
            ::redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut connection)
                .await
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> Result<(), SourceError> {
        let key = self.key(key);
        let tags: Vec<String> = tags.iter().map(|t| self.key(&format!("tag:{t}"))).collect();
        let ttl_ms = ttl.as_millis().max(1) as u64;
        self.call(|mut connection| async move {
            let mut invocation = self.put.key(&key);
            invocation.key(&tags).arg(value).arg(ttl_ms);
            invocation.invoke_async::<i64>(&mut connection).await
        })
        .await
        .map(drop)
    }

    async fn invalidate(&self, tags: &[String]) -> Result<u64, SourceError> {
        if tags.is_empty() {
            return Ok(0);
        }
        let tags: Vec<String> = tags.iter().map(|t| self.key(&format!("tag:{t}"))).collect();
        self.call(|mut connection| async move {
            self.invalidate
                .key(&tags)
                .invoke_async(&mut connection)
                .await
        })
        .await
    }
}

#[async_trait::async_trait]
impl HealthCheck for RedisStore {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn check(&self) -> Result<(), SourceError> {
        self.call(|mut connection| async move {
            ::redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .map(drop)
    }
}
