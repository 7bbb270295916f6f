//! Per-request batching of loads: the gateway's own DataLoader.
//!
//! Resolvers ask a [`Batcher`] for keys; keys asked for while a batch is gathering join it,
//! and the batch goes to its [`BatchLoad`] as one backend call. Answers stay cached for the
//! rest of the request, and a key already in flight is not asked for twice.
//!
//! A batch gathers for one turn of the request's task: the resolver that opened it yields
//! once, so every sibling field polled in the same turn adds its keys first (async-graphql
//! resolves a request's fields in one task and polls siblings in order). That closes a level
//! as soon as it is known, with no timer per loader. An optional `delay` waits longer, on
//! tokio's timer (millisecond resolution), for keys that arrive a little later.
//!
//! A batch's load runs in a task of its own, inside the request's scope, so a resolver that
//! is dropped never strands the others waiting on the same batch.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::Notify;

use super::errors::ApiError;
use crate::observe::{self, request::RequestSpawner};

/// One batch-shaped backend call: values for many keys at once.
pub trait BatchLoad: Send + Sync + 'static {
    /// What a value is loaded by: an id, a slug, an `(id, page size)` pair.
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// What one key loads.
    type Value: Clone + Send + Sync + 'static;
    /// What `load` answers for a key: the value, or the value already shared (a record a
    /// source keeps between requests is handed out without a copy).
    type Loaded: Into<Arc<Self::Value>> + Send + 'static;
    /// The loader's name in metrics, spans and `extensions.debug`.
    const NAME: &'static str;

    /// The values of `keys`; a key missing from the answer has no value.
    fn load(
        &self,
        keys: &[Self::Key],
    ) -> impl Future<Output = Result<HashMap<Self::Key, Self::Loaded>, ApiError>> + Send;
}

/// How a batcher gathers keys.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// How long a batch waits for more keys after its turn (zero: the turn alone).
    pub delay: Duration,
    /// The most keys a batch takes; a full batch goes at once.
    pub max_keys: usize,
}

impl Window {
    /// A window of `delay` with no bound on keys.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            max_keys: usize::MAX,
        }
    }

    /// The same window, with batches of at most `max_keys`.
    pub fn max_keys(self, max_keys: usize) -> Self {
        Self {
            max_keys: max_keys.max(1),
            ..self
        }
    }
}

/// One request's loader of `L`'s values, batching and caching.
pub struct Batcher<L: BatchLoad> {
    shared: Arc<Shared<L>>,
}

struct Shared<L: BatchLoad> {
    loader: L,
    window: Window,
    spawner: RequestSpawner,
    state: Mutex<State<L>>,
}

/// The state's maps hash with foldhash: they are looked up for every key of every list a
/// request loads, where SipHash was 2.5% of a home feed's instructions. They live for one
/// request and hold keys it asked for, under a seed random per process.
struct State<L: BatchLoad> {
    /// Values loaded in this request, shared so the engine reads them without a copy.
    answered: foldhash::HashMap<L::Key, Arc<L::Value>>,
    /// Keys gathering or in flight, with their batch.
    pending: foldhash::HashMap<L::Key, Arc<Batch>>,
    /// The batch gathering keys, and its keys.
    open: Option<(Arc<Batch>, Vec<L::Key>)>,
}

/// A batch's outcome, once its load is over.
#[derive(Default)]
struct Batch {
    outcome: OnceLock<Result<(), ApiError>>,
    done: Notify,
}

impl Batch {
    async fn finished(&self) -> Result<(), ApiError> {
        loop {
            // Registered before the check, so a notification in between is not missed.
            let notified = self.done.notified();
            if let Some(outcome) = self.outcome.get() {
                return outcome.clone();
            }
            notified.await;
        }
    }
}

impl<L: BatchLoad> Batcher<L> {
    /// A batcher for the request being served (its loads run in the request's scope).
    pub fn new(loader: L, window: Window) -> Self {
        Self {
            shared: Arc::new(Shared {
                loader,
                window,
                spawner: RequestSpawner::current(),
                state: Mutex::new(State {
                    answered: foldhash::HashMap::default(),
                    pending: foldhash::HashMap::default(),
                    open: None,
                }),
            }),
        }
    }

    /// The loader behind the batches.
    pub fn loader(&self) -> &L {
        &self.shared.loader
    }

    /// The value of `key`, if it has one.
    pub async fn load_one(&self, key: L::Key) -> Result<Option<L::Value>, ApiError> {
        let mut values = self.load_many(std::iter::once(key)).await?;
        Ok(values.drain().next().map(|(_, value)| value))
    }

    /// The values of `keys` that have one.
    pub async fn load_many(
        &self,
        keys: impl IntoIterator<Item = L::Key>,
    ) -> Result<HashMap<L::Key, L::Value>, ApiError> {
        let keys: Vec<L::Key> = keys.into_iter().collect();
        self.wait_for(&keys).await?;
        let state = self.shared.lock();
        Ok(keys
            .into_iter()
            .filter_map(|key| {
                let value = L::Value::clone(state.answered.get(&key)?);
                Some((key, value))
            })
            .collect())
    }

    /// The values of `keys` in their order, shared with the request's cache rather than
    /// copied: what the planned engine reads a whole level of objects with.
    pub async fn load_shared(
        &self,
        keys: &[L::Key],
    ) -> Result<Vec<Option<Arc<L::Value>>>, ApiError> {
        self.wait_for(keys).await?;
        let state = self.shared.lock();
        Ok(keys
            .iter()
            .map(|key| state.answered.get(key).cloned())
            .collect())
    }

    /// Returns once every key of `keys` is answered (or its batch failed).
    async fn wait_for(&self, keys: &[L::Key]) -> Result<(), ApiError> {
        let (batches, gathering) = self.enter(keys);
        if gathering {
            // Siblings polled in this turn add their keys before the batch goes.
            tokio::task::yield_now().await;
            if !self.shared.window.delay.is_zero() {
                tokio::time::sleep(self.shared.window.delay).await;
            }
            let mut state = self.shared.lock();
            if state
                .open
                .as_ref()
                .is_some_and(|(open, _)| batches.iter().any(|b| Arc::ptr_eq(b, open)))
            {
                self.dispatch(&mut state);
            }
        }
        for batch in &batches {
            batch.finished().await?;
        }
        Ok(())
    }

    /// Puts the keys not yet answered into batches: the ones they are pending in, else the
    /// open batch. Returns the batches to wait for, and whether one of them is gathering.
    fn enter(&self, keys: &[L::Key]) -> (Vec<Arc<Batch>>, bool) {
        let mut state = self.shared.lock();
        let mut batches: Vec<Arc<Batch>> = Vec::new();
        let mut hits = 0;
        for key in keys {
            if state.answered.contains_key(key) {
                hits += 1;
                continue;
            }
            let batch = match state.pending.get(key) {
                Some(batch) => {
                    hits += 1;
                    batch.clone()
                }
                None => {
                    let (batch, open_keys) = state.open.get_or_insert_with(Default::default);
                    let batch = batch.clone();
                    open_keys.push(key.clone());
                    let full = open_keys.len() >= self.shared.window.max_keys;
                    state.pending.insert(key.clone(), batch.clone());
                    if full {
                        self.dispatch(&mut state);
                    }
                    batch
                }
            };
            if !batches.iter().any(|b| Arc::ptr_eq(b, &batch)) {
                batches.push(batch);
            }
        }
        if hits > 0 {
            observe::cache_lookups(L::NAME, hits, 0);
        }
        let gathering = state
            .open
            .as_ref()
            .is_some_and(|(open, _)| batches.iter().any(|b| Arc::ptr_eq(b, open)));
        (batches, gathering)
    }

    /// Sends the open batch to the loader, in a task of the request's.
    fn dispatch(&self, state: &mut State<L>) {
        let Some((batch, keys)) = state.open.take() else {
            return;
        };
        let shared = self.shared.clone();
        self.shared.spawner.spawn(Box::pin(async move {
            let load = async {
                let mut batch = observe::loader_batch(L::NAME, &keys);
                let loaded = shared.loader.load(&keys).await;
                if loaded.is_ok() {
                    batch.succeeded();
                }
                loaded
            };
            let outcome = AssertUnwindSafe(load)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(ApiError::Internal(format!(
                        "the {} loader panicked",
                        L::NAME
                    )))
                });
            let outcome = {
                let mut state = shared.lock();
                for key in &keys {
                    state.pending.remove(key);
                }
                // Errors are not kept: a later load of the same keys tries again.
                outcome.map(|values| {
                    let values = values.into_iter().map(|(key, value)| (key, value.into()));
                    state.answered.extend(values)
                })
            };
            let _ = batch.outcome.set(outcome);
            batch.done.notify_waiters();
        }));
    }
}

impl<L: BatchLoad> Shared<L> {
    fn lock(&self) -> MutexGuard<'_, State<L>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use std::future::Future;

    use futures::future::join_all;

    use super::*;

    /// Squares keys, noting each batch; fails or panics on request.
    #[derive(Default)]
    struct Squares {
        batches: Mutex<Vec<Vec<i32>>>,
        fail_on: Option<i32>,
        panic_on: Option<i32>,
        calls: AtomicUsize,
    }

    impl BatchLoad for Squares {
        type Key = i32;
        type Value = i64;
        type Loaded = i64;
        const NAME: &'static str = "Squares";

        async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, i64>, ApiError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.batches.lock().unwrap().push(keys.to_vec());
            tokio::task::yield_now().await;
            if self.panic_on.is_some_and(|k| keys.contains(&k)) {
                panic!("told to");
            }
            if self.fail_on.is_some_and(|k| keys.contains(&k)) {
                return Err(ApiError::Internal("told to fail".into()));
            }
            // Negative keys have no value.
            Ok(keys
                .iter()
                .filter(|&&k| k >= 0)
                .map(|&k| (k, i64::from(k) * i64::from(k)))
                .collect())
        }
    }

    fn batcher(loader: Squares) -> Batcher<Squares> {
        Batcher::new(loader, Window::new(Duration::ZERO))
    }

    fn batches(batcher: &Batcher<Squares>) -> Vec<Vec<i32>> {
        batcher.loader().batches.lock().unwrap().clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_asked_for_in_one_turn_go_as_one_batch_and_stay_cached() {
        let squares = batcher(Squares::default());
        let values = join_all((0..40).map(|k| squares.load_one(k % 20))).await;
        for (k, value) in values.into_iter().enumerate() {
            let k = (k % 20) as i64;
            assert_eq!(value.unwrap(), Some(k * k));
        }
        assert_eq!(batches(&squares), vec![(0..20).collect::<Vec<_>>()]);

        // A later turn: cached keys are not loaded again, new ones go in a new batch.
        let many = squares.load_many([3, 25, -1]).await.unwrap();
        assert_eq!(many, HashMap::from([(3, 9), (25, 625)]));
        assert_eq!(batches(&squares)[1], vec![25, -1]);
        assert_eq!(squares.load_one(-1).await.unwrap(), None);
        assert_eq!(
            batches(&squares)[2],
            vec![-1],
            "an absent value is asked again"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_batch_goes_at_once_and_the_rest_follows() {
        let squares = Batcher::new(Squares::default(), Window::new(Duration::ZERO).max_keys(8));
        let values = join_all((0..20).map(|k| squares.load_one(k))).await;
        assert!(values.iter().all(Result::is_ok));
        // Full batches go as they fill, each in its own task: on two worker threads they
        // may reach the loader in any order.
        let mut sizes: Vec<usize> = batches(&squares).iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![4, 8, 8]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_fails_its_keys_and_is_tried_again_later() {
        let squares = batcher(Squares {
            fail_on: Some(7),
            ..Squares::default()
        });
        let values = join_all([5, 7].map(|k| squares.load_one(k))).await;
        for value in values {
            assert!(matches!(value, Err(ApiError::Internal(m)) if m == "told to fail"));
        }
        // The failure was not kept: 5 alone is asked again, and answered.
        assert_eq!(squares.load_one(5).await.unwrap(), Some(25));
        assert_eq!(squares.loader().calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn batch_spans_say_whether_their_load_failed() {
        use crate::observe::{Keep, Metrics, RequestStats};
        let stats = RequestStats::traced(
            Metrics::default(),
            None,
            Keep {
                spans: true,
                explain: false,
            },
        );
        // Loaders are built in the request's scope, as the engine builds them.
        let loads = async {
            let squares = batcher(Squares {
                fail_on: Some(7),
                ..Squares::default()
            });
            assert!(squares.load_one(5).await.is_ok());
            assert!(squares.load_one(7).await.is_err());
        };
        stats.clone().scope(loads).await;
        let spans = stats.spans().expect("kept").take();
        let outcomes: Vec<(&str, bool)> = spans.iter().map(|s| (s.name.as_str(), s.ok)).collect();
        assert_eq!(
            outcomes,
            [("loader Squares", true), ("loader Squares", false)]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_load_is_an_internal_error_not_a_hang() {
        let squares = batcher(Squares {
            panic_on: Some(2),
            ..Squares::default()
        });
        let answer = tokio::time::timeout(Duration::from_secs(5), squares.load_many([1, 2]))
            .await
            .expect("the waiters were told");
        assert!(matches!(answer, Err(ApiError::Internal(m)) if m.contains("Squares")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_resolver_does_not_strand_the_batch_it_opened() {
        let squares = batcher(Squares::default());
        // The first load opens the batch and is dropped after its first poll; the second
        // joined it and still gets its value.
        let mut first = Box::pin(squares.load_one(1));
        let second = squares.load_one(2);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        drop(first);
        let value = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the batch went");
        assert_eq!(value.unwrap(), Some(4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delay_gathers_keys_asked_for_a_little_later() {
        // A wide margin: the late key comes after 1 ms, the window is 300 ms.
        let squares = Batcher::new(Squares::default(), Window::new(Duration::from_millis(300)));
        let late = async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            squares.load_one(2).await
        };
        let (first, second) = tokio::join!(squares.load_one(1), late);
        assert_eq!((first.unwrap(), second.unwrap()), (Some(1), Some(4)));
        assert_eq!(batches(&squares), vec![vec![1, 2]]);
    }
}
