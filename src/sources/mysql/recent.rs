//! Records read a short while ago, answered again without a statement for as long as the
//! schema lets clients cache them (`@cacheControl(maxAge: 60)` on `Brand`, `Shop` and
//! `Category`): a client already sees them up to that old behind a CDN, so this instance
//! may too. The catalog keeps its small, often-read tables (brands, shops, categories, the
//! category tree's paths and subtrees) and the categories' product counts, which are costly.
//!
//! Each kept map is bounded: at its bound it is emptied and fills again from the next
//! statements, which bounds its memory whatever the tables hold.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sql::distinct;

/// How long a record is kept: the schema's cache hint for the catalog's types.
pub(super) const KEPT_FOR: Duration = Duration::from_secs(60);

/// Records by key, each with when it was read.
pub(super) struct Recent<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    at_most: usize,
}

impl<K: Copy + Eq + Hash, V: Clone> Recent<K, V> {
    /// Keeps at most `at_most` records.
    pub(super) fn new(at_most: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            at_most,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The records of `keys` read less than [`KEPT_FOR`] ago.
    pub(super) fn fresh(&self, keys: impl IntoIterator<Item = K>) -> HashMap<K, V> {
        let keys = keys.into_iter();
        let mut fresh = HashMap::with_capacity(keys.size_hint().0);
        let entries = self.entries();
        let now = Instant::now();
        fresh.extend(keys.filter_map(|key| {
            let (value, at) = entries.get(&key)?;
            (now.duration_since(*at) < KEPT_FOR).then(|| (key, value.clone()))
        }));
        fresh
    }

    /// Keeps records just read.
    pub(super) fn keep(&self, read: impl IntoIterator<Item = (K, V)>) {
        let mut entries = self.entries();
        let now = Instant::now();
        for (key, value) in read {
            if entries.len() >= self.at_most {
                entries.clear();
            }
            entries.insert(key, (value, now));
        }
    }

    /// The records of `keys`: those kept, and the others from `read` (given the keys not
    /// kept, none twice), which are kept in turn. Keys that `read` does not find are asked
    /// again next time.
    pub(super) async fn or_read<E, F>(
        &self,
        keys: &[K],
        read: impl FnOnce(Vec<K>) -> F,
    ) -> Result<HashMap<K, V>, E>
    where
        F: Future<Output = Result<HashMap<K, V>, E>>,
    {
        let mut found = self.fresh(keys.iter().copied());
        let mut missing = distinct(keys);
        missing.retain(|key| !found.contains_key(key));
        if !missing.is_empty() {
            let read = read(missing).await?;
            self.keep(read.iter().map(|(key, value)| (*key, value.clone())));
            found.extend(read);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_was_read_is_answered_again_and_what_was_not_found_is_asked_again() {
        let recent: Recent<i32, &str> = Recent::new(10);
        let read = |keys: Vec<i32>| async move {
            Ok::<_, ()>(
                (keys.into_iter().filter(|&k| k != 3))
                    .map(|k| (k, "read"))
                    .collect(),
            )
        };
        let first = recent.or_read(&[1, 2, 2, 3], read).await.unwrap();
        assert_eq!(first.len(), 2);
        let mut asked = Vec::new();
        let second = recent
            .or_read(&[1, 2, 3], |keys: Vec<i32>| {
                asked = keys.clone();
                read(keys)
            })
            .await
            .unwrap();
        assert_eq!(asked, [3], "1 and 2 are kept, 3 was not found");
        assert_eq!(second, first);
    }

    #[test]
    fn a_record_older_than_the_cache_hint_is_read_again() {
        let recent: Recent<i32, i32> = Recent::new(10);
        recent.keep([(1, 10)]);
        assert_eq!(recent.fresh([1]).get(&1), Some(&10));
        let kept_at = recent.entries().get(&1).unwrap().1;
        let read_long_ago = kept_at.checked_sub(KEPT_FOR).expect("a minute since boot");
        recent.entries().insert(1, (10, read_long_ago));
        assert!(recent.fresh([1]).is_empty());
    }

    #[test]
    fn at_its_bound_it_is_emptied() {
        let recent: Recent<i32, i32> = Recent::new(2);
        recent.keep([(1, 1), (2, 2), (3, 3)]);
        assert_eq!(recent.fresh([1, 2, 3]).len(), 1);
        assert_eq!(recent.fresh([3]).get(&3), Some(&3));
    }
}
