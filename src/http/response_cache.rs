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
//! charged to the client's budget and counted in field usage like a run. Each instance has
//! its own cache, bounded in bytes; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::observe::request::Fields;

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

/// The cache of one instance.
pub struct ResponseCache {
    capacity: usize,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Stored>,
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

impl ResponseCache {
    /// A cache of at most `capacity` bytes of responses.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        }
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
    pub fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        let mut state = self.state();
        let found = match state.entries.get(key) {
            Some(stored) if stored.entry.expires > Instant::now() => Some(stored.entry.clone()),
            Some(_) => {
                if let Some(expired) = state.entries.remove(key) {
                    state.bytes -= expired.entry.size();
                }
                None
            }
            None => None,
        };
        drop(state);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `entry` under `key`, making room by dropping the oldest entries; an entry
    /// larger than an eighth of the cache is not kept.
    pub fn put(&self, key: Key, entry: Entry) {
        let size = entry.size();
        if size > self.capacity / 8 {
            return;
        }
        let mut state = self.state();
        state.generation += 1;
        let generation = state.generation;
        let stored = Stored {
            entry: Arc::new(entry),
            generation,
        };
        if let Some(replaced) = state.entries.insert(key, stored) {
            state.bytes -= replaced.entry.size();
        }
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
            if current && let Some(evicted) = state.entries.remove(&front) {
                state.bytes -= evicted.entry.size();
            }
        }
        drop(state);
        self.stored.fetch_add(1, Ordering::Relaxed);
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
        }
    }

    fn key(n: u8) -> Key {
        [n; 32]
    }

    #[test]
    fn entries_are_served_until_they_expire() {
        let cache = ResponseCache::new(1 << 20);
        cache.put(key(1), entry("{\"a\":1}", Duration::from_secs(60)));
        cache.put(key(2), entry("{\"b\":2}", Duration::ZERO));
        assert_eq!(cache.get(&key(1)).unwrap().data, "{\"a\":1}");
        assert!(cache.get(&key(2)).is_none(), "expired");
        assert!(cache.get(&key(3)).is_none(), "never stored");
        let (hits, misses, stored, entries, _) = cache.figures();
        assert_eq!((hits, misses, stored, entries), (1, 2, 2, 1));
    }

    #[test]
    fn the_oldest_entries_make_room_and_the_bytes_stay_bounded() {
        let data = "x".repeat(1000);
        let one = entry(&data, Duration::from_secs(60)).size();
        let cache = ResponseCache::new(one * 10);
        for n in 0..30 {
            cache.put(key(n), entry(&data, Duration::from_secs(60)));
            let (.., entries, bytes) = cache.figures();
            assert!(bytes <= one * 10, "{bytes} bytes after {n}");
            assert!(entries <= 10);
        }
        assert!(cache.get(&key(0)).is_none(), "the oldest went first");
        assert!(cache.get(&key(29)).is_some(), "the newest stays");
        // Storing a key again refreshes it: it is not the next to go.
        cache.put(key(20), entry("{}", Duration::from_secs(60)));
        for n in 30..38 {
            cache.put(key(n), entry(&data, Duration::from_secs(60)));
        }
        assert_eq!(cache.get(&key(20)).unwrap().data, "{}");
        assert!(cache.get(&key(21)).is_none());
    }

    #[test]
    fn an_entry_too_large_for_the_cache_is_not_kept() {
        let cache = ResponseCache::new(8000);
        cache.put(key(1), entry(&"x".repeat(2000), Duration::from_secs(60)));
        assert!(cache.get(&key(1)).is_none());
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
