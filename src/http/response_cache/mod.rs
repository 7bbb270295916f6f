//! Whole responses to anonymous queries, kept for as long as the schema's cache hints allow
//! (`Cache-Control` says the same to CDNs): the home feed or a product page asked for again
//! by another anonymous visitor is answered without executing it. A response is kept only
//! when the request had no `Authorization` header, asked for no explain, and ran a query
//! whose answer has no errors and a max-age. Fields of the viewer's (hinted private, so no
//! CDN keeps them) answer alike for every request without credentials, which are the only
//! ones that use this cache.
//!
//! The key is the document's text, the operation name and the variables; the entry keeps the
//! `data` as JSON, the cost the operation was charged and the fields it used, so a hit is
//! charged to the client's budget and counted in field usage like a run.
//!
//! An entry also keeps the tags of the objects its answer holds (`core::tags`: products and
//! collages); a write that changes one of them (a like, a collage edit) drops the entries
//! that hold it (`invalidate`), so a like is seen at once, not after the max-age.
//!
//! Each instance has its own cache, bounded in bytes (the oldest entries go first), unless
//! the replicas share a store (`OGROM_REDIS_URL`): then the entries live there, under their
//! max-age as TTL, with a set of keys per tag, and a write through any replica drops them
//! for all. A store that fails is a miss, and an answer it cannot take is not kept.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::core::tags::Tag;
use crate::observe::request::Fields;
use crate::protocols::shared::SharedStore;

mod shared;

/// What a cached response is found by.
pub type Key = [u8; 32];

/// One cached response.
#[derive(Debug)]
pub struct Entry {
    /// The response's `data`, as JSON.
    pub data: String,
    /// The cost the operation was charged, and the fields it returned.
    pub requested: u64,
    /// Fields it returned (its actual cost): what a hit settles the client's charge with.
    pub actual: u64,
    /// The fields it used, by type.
    pub fields: Fields,
    /// The operation's name, if it has one (for the access log and metrics).
    pub operation: Option<String>,
    /// When it stops being served.
    pub expires: Instant,
    /// The objects its answer holds: a write to one of them drops the entry.
    pub tags: Vec<Tag>,
}

impl Entry {
    fn size(&self) -> usize {
        self.data.len()
            + self
                .fields
                .iter()
                .map(|(t, f)| t.len() + f.len() + 48)
                .sum::<usize>()
            + 128
    }
}

/// The cache of one instance, or its handle on the replicas' shared one.
pub struct ResponseCache {
    capacity: usize,
    state: Mutex<State>,
    /// Where the entries are kept instead, when the replicas share them.
    shared: Option<Arc<dyn SharedStore>>,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    invalidated: AtomicU64,
    /// Lookups, stores and invalidations the shared store failed.
    failures: AtomicU64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Stored>,
    /// The keys of the entries that hold each tag.
    tagged: HashMap<Tag, HashSet<Key>>,
    /// Keys in the order they were stored, with the generation stored then: a position whose
    /// generation is not its key's entry's any more (replaced, expired) is skipped.
    order: VecDeque<(Key, u64)>,
    bytes: usize,
    generation: u64,
}

struct Stored {
    entry: Arc<Entry>,
    generation: u64,
}

impl State {
    /// Removes the entry under `key`, from the byte count and its tags too.
    fn remove(&mut self, key: &Key) {
        let Some(removed) = self.entries.remove(key) else {
            return;
        };
        self.bytes -= removed.entry.size();
        for tag in &removed.entry.tags {
            if let Some(keys) = self.tagged.get_mut(tag) {
                keys.remove(key);
                if keys.is_empty() {
                    self.tagged.remove(tag);
                }
            }
        }
    }
}

impl ResponseCache {
    /// A cache of at most `capacity` bytes of responses.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::default(),
            shared: None,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            invalidated: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// The cache kept in `store`, for every replica, instead of in this instance's memory.
    pub fn shared_in(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(store);
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key of a request: its document, operation name and variables.
    pub fn key(request: &async_graphql::Request) -> Key {
        let mut hash = Sha256::new();
        hash.update(request.query.as_bytes());
        hash.update([0]);
        hash.update(request.operation_name.as_deref().unwrap_or("").as_bytes());
        hash.update([0]);
        hash.update(serde_json::to_vec(&request.variables).unwrap_or_default());
        hash.finalize().into()
    }

    /// The response stored under `key`, if it has not expired.
    pub async fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        let found = match &self.shared {
            Some(store) => self.get_shared(store.as_ref(), key).await,
            None => self.get_here(key),
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn get_here(&self, key: &Key) -> Option<Arc<Entry>> {
        let mut state = self.state();
        match state.entries.get(key) {
            Some(stored) if stored.entry.expires > Instant::now() => Some(stored.entry.clone()),
            Some(_) => {
                state.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `entry` under `key`, making room by dropping the oldest entries; an entry
    /// larger than an eighth of the cache is not kept.
    pub async fn put(&self, key: Key, entry: Entry) {
        let size = entry.size();
        if size > self.capacity / 8 {
            return;
        }
        if let Some(store) = &self.shared {
            self.put_shared(store.as_ref(), &key, entry).await;
            return;
        }
        let mut state = self.state();
        state.generation += 1;
        let generation = state.generation;
        state.remove(&key);
        for tag in &entry.tags {
            state.tagged.entry(*tag).or_default().insert(key);
        }
        let stored = Stored {
            entry: Arc::new(entry),
            generation,
        };
        state.entries.insert(key, stored);
        state.bytes += size;
        state.order.push_back((key, generation));
        // Skipped positions go as they reach the front; current ones while over capacity.
        while let Some(&(front, generation)) = state.order.front() {
            let current = state
                .entries
                .get(&front)
                .is_some_and(|s| s.generation == generation);
            if current && state.bytes <= self.capacity {
                break;
            }
            state.order.pop_front();
            if current {
                state.remove(&front);
            }
        }
        drop(state);
        self.stored.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops the entries whose answers hold any of `tags` (a write changed those objects).
    pub async fn invalidate(&self, tags: &[Tag]) {
        if tags.is_empty() {
            return;
        }
        let dropped = match &self.shared {
            Some(store) => {
                let tags: Vec<String> = tags.iter().map(Tag::to_string).collect();
                match store.invalidate(&tags).await {
                    Ok(dropped) => dropped,
                    Err(error) => {
                        // The entries stay until their max-age: what a cache without
                        // invalidation always did.
                        self.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(message = "cached answers could not be invalidated", %error);
                        0
                    }
                }
            }
            None => {
                let mut state = self.state();
                let keys: HashSet<Key> = tags
                    .iter()
                    .filter_map(|tag| state.tagged.get(tag))
                    .flatten()
                    .copied()
                    .collect();
                for key in &keys {
                    state.remove(key);
                }
                keys.len() as u64
            }
        };
        self.invalidated.fetch_add(dropped, Ordering::Relaxed);
    }

    /// Entries dropped by writes, and calls to the shared store that failed.
    pub fn invalidations(&self) -> (u64, u64) {
        (
            self.invalidated.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// Lookups answered, lookups not, responses stored; entries and bytes held now.
    pub fn figures(&self) -> (u64, u64, u64, usize, usize) {
        let state = self.state();
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.stored.load(Ordering::Relaxed),
            state.entries.len(),
            state.bytes,
        )
    }
}

/// How long an anonymous answer whose hints say `cache_control` may be kept; `None`: not at
/// all. A private hint (a viewer's field) does not stop it: without a viewer such fields
/// answer the same for every anonymous request, and the key is only ever looked up for
/// requests without credentials.
pub fn keep_for(cache_control: &async_graphql::CacheControl) -> Option<Duration> {
    (cache_control.max_age > 0).then(|| Duration::from_secs(cache_control.max_age as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(data: &str, expires_in: Duration) -> Entry {
        Entry {
            data: data.to_owned(),
            requested: 7,
            actual: 5,
            fields: vec![("Query".to_owned(), "brands".to_owned())].into(),
            operation: Some("Brands".into()),
            expires: Instant::now() + expires_in,
            tags: Vec::new(),
        }
    }

    fn key(n: u8) -> Key {
        [n; 32]
    }

    #[tokio::test]
    async fn entries_are_served_until_they_expire() {
        let cache = ResponseCache::new(1 << 20);
        cache
            .put(key(1), entry("{\"a\":1}", Duration::from_secs(60)))
            .await;
        cache.put(key(2), entry("{\"b\":2}", Duration::ZERO)).await;
        assert_eq!(cache.get(&key(1)).await.unwrap().data, "{\"a\":1}");
        assert!(cache.get(&key(2)).await.is_none(), "expired");
        assert!(cache.get(&key(3)).await.is_none(), "never stored");
        let (hits, misses, stored, entries, _) = cache.figures();
        assert_eq!((hits, misses, stored, entries), (1, 2, 2, 1));
    }

    #[tokio::test]
    async fn the_oldest_entries_make_room_and_the_bytes_stay_bounded() {
        let data = "x".repeat(1000);
        let one = entry(&data, Duration::from_secs(60)).size();
        let cache = ResponseCache::new(one * 10);
        for n in 0..30 {
            cache
                .put(key(n), entry(&data, Duration::from_secs(60)))
                .await;
            let (.., entries, bytes) = cache.figures();
            assert!(bytes <= one * 10, "{bytes} bytes after {n}");
            assert!(entries <= 10);
        }
        assert!(cache.get(&key(0)).await.is_none(), "the oldest went first");
        assert!(cache.get(&key(29)).await.is_some(), "the newest stays");
        // Storing a key again refreshes it: it is not the next to go.
        cache
            .put(key(20), entry("{}", Duration::from_secs(60)))
            .await;
        for n in 30..38 {
            cache
                .put(key(n), entry(&data, Duration::from_secs(60)))
                .await;
        }
        assert_eq!(cache.get(&key(20)).await.unwrap().data, "{}");
        assert!(cache.get(&key(21)).await.is_none());
    }

    #[tokio::test]
    async fn an_entry_too_large_for_the_cache_is_not_kept() {
        let cache = ResponseCache::new(8000);
        cache
            .put(key(1), entry(&"x".repeat(2000), Duration::from_secs(60)))
            .await;
        assert!(cache.get(&key(1)).await.is_none());
    }

    #[tokio::test]
    async fn a_write_drops_the_entries_that_hold_what_it_changed() {
        let cache = ResponseCache::new(1 << 20);
        let tagged = |tags: &[Tag]| Entry {
            tags: tags.to_vec(),
            ..entry("{}", Duration::from_secs(60))
        };
        let (one, two) = (Tag::product(1), Tag::product(2));
        cache.put(key(1), tagged(&[one])).await;
        cache.put(key(2), tagged(&[one, two])).await;
        cache.put(key(3), tagged(&[two, Tag::collage(1)])).await;
        cache.invalidate(&[one]).await;
        assert!(cache.get(&key(1)).await.is_none());
        assert!(cache.get(&key(2)).await.is_none());
        assert!(
            cache.get(&key(3)).await.is_some(),
            "it does not hold product 1"
        );
        assert_eq!(cache.invalidations().0, 2);
        // A collage of the same id is another object.
        cache.invalidate(&[Tag::collage(2)]).await;
        assert!(cache.get(&key(3)).await.is_some());
        // Replaced and evicted entries leave no tag behind.
        cache.put(key(3), tagged(&[])).await;
        let state = cache.state();
        assert!(state.tagged.is_empty(), "{:?}", state.tagged.keys());
    }

    #[test]
    fn only_answers_with_a_max_age_are_kept() {
        let hinted = |public, max_age| async_graphql::CacheControl { public, max_age };
        assert_eq!(keep_for(&hinted(true, 60)), Some(Duration::from_secs(60)));
        assert_eq!(keep_for(&hinted(false, 30)), Some(Duration::from_secs(30)));
        assert_eq!(keep_for(&hinted(true, 0)), None);
        assert_eq!(keep_for(&hinted(true, -1)), None);
    }

    #[test]
    fn keys_differ_by_document_operation_and_variables() {
        let request = |query: &str, name: Option<&str>, id: i32| {
            let mut request = async_graphql::Request::new(query).variables(
                async_graphql::Variables::from_json(serde_json::json!({"id": id})),
            );
            request.operation_name = name.map(str::to_owned);
            ResponseCache::key(&request)
        };
        let base = request("query A { a }", Some("A"), 1);
        assert_eq!(base, request("query A { a }", Some("A"), 1));
        assert_ne!(base, request("query A { a  }", Some("A"), 1));
        assert_ne!(base, request("query A { a }", None, 1));
        assert_ne!(base, request("query A { a }", Some("A"), 2));
    }
}
