//! Cost: what an operation may ask for, and what a client may spend. An operation's
//! requested cost is what its document asks for, as the modules' SDL declares it (every
//! field weighs 1 unless it says otherwise; a connection or list costs its page size times
//! its children, see `requested`). An operation above the maximum is refused before it runs. A client
//! (the viewer, or the client address when anonymous) has a budget of points that refills
//! at a steady rate: the requested cost is taken before execution, and what the operation
//! did not use (its actual cost: the fields it returned, each its weight, and the weights
//! of the objects returned) is given back after.
//! Budgets live in each instance's memory (with N instances behind a load balancer, a client
//! can spend up to N budgets), or in the replicas' shared store when there is one
//! (`OGROM_REDIS_URL`): then a client has one budget whichever replica answers. When the
//! store fails, the instance counts on its own until it answers again (a warning now and
//! then, and `ogrom_redis_fallbacks_total`): a client may then spend more, never less.

pub mod requested;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::{ServerError, Value};
// Tokio's clock, as the breakers read: the system's in production; a test moves it on
// to refill a budget instead of sleeping.
use tokio::time::Instant;

use super::errors::code;
use crate::protocols::SourceError;
use crate::protocols::shared::{BucketShape, SharedStore, Spent};

/// Buckets kept before full ones (no different from a new bucket) are forgotten.
const MAX_BUCKETS: usize = 100_000;

/// How often, at most, a failing shared store is reported in the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Every client's budget, refilled continuously.
pub struct Budgets {
    capacity: f64,
    refill_per_s: f64,
    /// This instance's buckets: all of them without a shared store, else those it counted
    /// while the store failed.
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Where the replicas keep their budgets, when they share them.
    shared: Option<Arc<dyn SharedStore>>,
    /// Spends the shared store failed, so counted here.
    fallbacks: AtomicU64,
    /// When the last fallback warning was logged.
    warned: Mutex<Option<Instant>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    points: f64,
    at: Instant,
}

impl Budgets {
    /// Budgets of `capacity` points that refill at `refill_per_s` points a second.
    pub fn new(capacity: u64, refill_per_s: u64) -> Self {
        Self {
            capacity: capacity as f64,
            refill_per_s: refill_per_s.max(1) as f64,
            buckets: Mutex::default(),
            shared: None,
            fallbacks: AtomicU64::new(0),
            warned: Mutex::default(),
        }
    }

    /// The same budgets, kept in `store` for every replica.
    pub fn shared_in(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// Spends counted by this instance because the shared store failed.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The most points a budget holds: what a client starts with.
    pub fn capacity(&self) -> u64 {
        self.capacity as u64
    }

    /// Points a budget regains each second, up to its capacity.
    pub fn refill_per_s(&self) -> u64 {
        self.refill_per_s as u64
    }

    /// Runs `change` on `key`'s bucket, refilled up to now.
    fn with_bucket<T>(&self, key: &str, change: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let now = Instant::now();
            buckets.retain(|_, b| self.refilled(*b, now).points < self.capacity);
        }
        let now = Instant::now();
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            points: self.capacity,
            at: now,
        });
        *bucket = self.refilled(*bucket, now);
        change(bucket)
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let gained = now.saturating_duration_since(bucket.at).as_secs_f64() * self.refill_per_s;
        Bucket {
            points: (bucket.points + gained).min(self.capacity),
            at: now,
        }
    }

    /// Takes `cost` points: the points left, or the points there are and how long until
    /// there are enough.
    pub async fn take(&self, key: &str, cost: u64) -> Result<u64, (u64, Duration)> {
        let refused = |points: f64| {
            let missing = cost as f64 - points;
            let wait = Duration::from_secs_f64(missing.max(0.0) / self.refill_per_s);
            (points as u64, wait)
        };
        if let Some(spent) = self.spend_shared(key, cost as f64).await {
            return if spent.taken {
                Ok(spent.points as u64)
            } else {
                Err(refused(spent.points))
            };
        }
        let cost = cost as f64;
        self.with_bucket(key, |bucket| {
            if bucket.points >= cost {
                bucket.points -= cost;
                Ok(bucket.points as u64)
            } else {
                Err(refused(bucket.points))
            }
        })
    }

    /// Gives `points` back; returns the points left.
    pub async fn refund(&self, key: &str, points: u64) -> u64 {
        if let Some(spent) = self.spend_shared(key, -(points as f64)).await {
            return spent.points as u64;
        }
        self.with_bucket(key, |bucket| {
            bucket.points = (bucket.points + points as f64).min(self.capacity);
            bucket.points as u64
        })
    }

    /// Spends in the shared store; `None` without one, or when it failed (then counted
    /// here: see `fell_back`).
    async fn spend_shared(&self, key: &str, cost: f64) -> Option<Spent> {
        let store = self.shared.as_ref()?;
        let shape = BucketShape {
            capacity: self.capacity,
            refill_per_s: self.refill_per_s,
        };
        match store.spend(&format!("budget:{key}"), cost, shape).await {
            Ok(spent) => Some(spent),
            Err(error) => {
                self.fell_back(&error);
                None
            }
        }
    }

    /// Counts a spend the shared store failed, and says so in the log once in a while
    /// (not per request: a store that is down would fill the log).
    fn fell_back(&self, error: &SourceError) {
        let count = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            drop(warned);
            tracing::warn!(
                message = "the shared store failed: cost budgets are counted per instance",
                %error,
                fallbacks = count,
            );
        }
    }
}

/// One request's account: who pays, and what its operation was charged.
pub struct CostTicket {
    key: String,
    budgets: Option<Arc<Budgets>>,
    charged: Mutex<Option<Charge>>,
}

impl std::fmt::Debug for CostTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CostTicket")
            .field("key", &self.key)
            .field("charge", &self.charge())
            .finish()
    }
}

/// What validation found and the budget said.
#[derive(Debug, Clone, Copy)]
pub struct Charge {
    /// The operation's requested cost, in points.
    pub requested: u64,
    /// Points left after the charge (`None` without budgets).
    pub remaining: Option<u64>,
    /// Whether the points were taken (not when the budget could not pay).
    pub taken: bool,
}

impl CostTicket {
    /// A ticket for client `key`, paid from `budgets` (none: only the maximum applies).
    pub fn new(key: String, budgets: Option<Arc<Budgets>>) -> Self {
        Self {
            key,
            budgets,
            charged: Mutex::default(),
        }
    }

    /// What validation charged, if the operation got that far.
    pub fn charge(&self) -> Option<Charge> {
        *self.charged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After execution: gives back what the operation did not use; returns the summary
    /// for `extensions.cost`.
    pub async fn settle(&self, data: &Value, maximum: u64) -> Option<serde_json::Value> {
        self.settle_returned(returned_fields(data), maximum).await
    }

    /// `settle` for a response of `actual` returned fields (one served from a cache).
    pub async fn settle_returned(&self, actual: u64, maximum: u64) -> Option<serde_json::Value> {
        let charge = self.charge()?;
        let remaining = match &self.budgets {
            Some(budgets) if charge.taken && actual < charge.requested => {
                Some(budgets.refund(&self.key, charge.requested - actual).await)
            }
            _ => charge.remaining,
        };
        let budget = self.budgets.as_ref().map(|b| {
            serde_json::json!({
                "capacity": b.capacity(),
                "remaining": remaining,
                "refillPerSecond": b.refill_per_s(),
            })
        });
        Some(serde_json::json!({
            "requested": charge.requested,
            "actual": actual,
            "maximum": maximum,
            "budget": budget,
        }))
    }
}

/// The fields the response holds, list items counted one by one: the actual cost of an
/// answer whose fields and types declare no weights (introspection's).
pub fn returned_fields(data: &Value) -> u64 {
    let mut count = 0u64;
    let mut stack = vec![data];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(fields) => {
                count += fields.len() as u64;
                stack.extend(fields.values());
            }
            Value::List(items) => stack.extend(items),
            _ => {}
        }
    }
    count
}

/// Refuses an operation of `complexity` above `maximum`, and charges the client's budget
/// through `ticket`; called by the gate between validation (which computes the cost) and
/// execution.
pub(crate) async fn check(
    ticket: Option<&CostTicket>,
    complexity: usize,
    maximum: usize,
) -> Result<(), Vec<ServerError>> {
    let requested = complexity as u64;
    if complexity > maximum {
        return Err(vec![refusal(
            format!("the operation costs {requested} points; at most {maximum} are allowed"),
            code::COST_LIMIT_EXCEEDED,
            None,
        )]);
    }
    let Some(ticket) = ticket else {
        return Ok(());
    };
    let charge = |remaining, taken| {
        *ticket
            .charged
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Charge {
            requested,
            remaining,
            taken,
        });
    };
    let remaining = match &ticket.budgets {
        None => None,
        Some(budgets) => match budgets.take(&ticket.key, requested).await {
            Ok(left) => Some(left),
            Err((left, wait)) => {
                // The refusal still reports the cost and what is left.
                charge(Some(left), false);
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                return Err(vec![refusal(
                    format!(
                        "the cost budget is spent: this operation costs {requested} \
                         points; retry in {seconds} s"
                    ),
                    code::BUDGET_EXHAUSTED,
                    Some(seconds),
                )]);
            }
        },
    };
    charge(remaining, true);
    Ok(())
}

fn refusal(message: String, code: &str, retry_after_s: Option<u64>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code);
    if let Some(seconds) = retry_after_s {
        extensions.set("retryAfter", seconds);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_is_spent_refunded_and_refilled() {
        let budgets = Budgets::new(100, 1000);
        assert_eq!(budgets.take("a", 60).await, Ok(40));
        let (left, wait) = budgets.take("a", 60).await.expect_err("only about 40 left");
        assert_eq!(left, 40);
        assert!(wait <= Duration::from_millis(25), "{wait:?}");
        assert!(
            budgets.take("b", 60).await.is_ok(),
            "another client has its own budget"
        );
        assert!(budgets.refund("a", 50).await >= 90);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            budgets.take("a", 100).await,
            Ok(0),
            "refilled to capacity, not beyond"
        );
    }

    /// A shared store that is down.
    #[derive(Debug)]
    struct Down;

    #[async_trait::async_trait]
    impl SharedStore for Down {
        async fn spend(&self, _: &str, _: f64, _: BucketShape) -> Result<Spent, SourceError> {
            Err(SourceError::Timeout {
                backend: "redis",
                millis: 50,
            })
        }
        async fn get(&self, _: &[String]) -> Result<Vec<Option<Vec<u8>>>, SourceError> {
            unreachable!("budgets only spend")
        }
        async fn put(
            &self,
            _: &str,
            _: &[u8],
            _: Duration,
            _: &[String],
        ) -> Result<(), SourceError> {
            unreachable!("budgets only spend")
        }
        async fn invalidate(&self, _: &[String]) -> Result<u64, SourceError> {
            unreachable!("budgets only spend")
        }
    }

    #[tokio::test]
    async fn a_shared_store_that_fails_leaves_the_budget_to_the_instance() {
        let budgets = Budgets::new(100, 1).shared_in(Arc::new(Down));
        assert_eq!(budgets.take("a", 60).await, Ok(40));
        let (left, _) = budgets.take("a", 60).await.expect_err("counted here");
        assert_eq!(left, 40);
        assert_eq!(budgets.refund("a", 10).await, 50);
        assert_eq!(budgets.fallbacks(), 3);
    }

    #[test]
    fn the_actual_cost_counts_returned_fields_and_list_items() {
        let data = Value::from_json(serde_json::json!({
            "a": {"b": 1, "c": [{"d": 1}, {"d": 2}, {"d": null}]},
            "e": null
        }))
        .unwrap();
        // a, e; b, c; three d.
        assert_eq!(returned_fields(&data), 7);
    }
}
