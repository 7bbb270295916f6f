//! A family of series with a cap on its label sets, over prometheus-client's `Family`, and
//! the per-thread handles that keep updates to series seen before off locks and the
//! allocator.
//!
//! prometheus-client finds a series by an owned label set under a read lock: each update
//! would build that set (allocating its strings) and touch the lock's shared counter. Each
//! thread here keeps its own map from label values to the series' handle (counters and
//! histograms are shared handles), looked up by a key written into a buffer the thread
//! reuses. Only a label set new to the thread goes to the family, under the lock that
//! counts series for the cap. What remains is the update itself: an atomic add for a
//! counter, and for a histogram the lock of that one series (prometheus-client keeps its
//! buckets under a mutex), which no other series shares.

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};

use prometheus_client::metrics::family::Family;
use thread_local::ThreadLocal;

/// A series' labels, in the family's order: names and values.
pub(super) type Labels = Vec<(&'static str, String)>;

/// What every label of a series reads beyond the cap.
const OTHER: &str = "_other";

/// A family whose series beyond `max_series` are counted under `_other`, so that label
/// values chosen by clients (operation names, client names) cannot grow it without bound.
pub(super) struct Capped<M: Send> {
    family: Family<Labels, M, fn() -> M>,
    names: &'static [&'static str],
    max_series: usize,
    /// Series made under the cap; locked only to make one.
    made: Mutex<usize>,
    /// Each thread's handles on the series it has updated.
    local: ThreadLocal<RefCell<Handles<M>>>,
}

struct Handles<M> {
    /// The key being looked up, rewritten for each update.
    key: Vec<u8>,
    /// Handles by key: each label value preceded by its length, so no two label sets
    /// share a key whatever bytes their values hold.
    series: foldhash::HashMap<Box<[u8]>, M>,
}

impl<M: Clone + Send> Capped<M> {
    pub(super) fn new(names: &'static [&'static str], max_series: usize, make: fn() -> M) -> Self {
        Self {
            family: Family::new_with_constructor(make),
            names,
            max_series,
            made: Mutex::new(0),
            local: ThreadLocal::new(),
        }
    }

    /// The family, to register for rendering (a clone shares its series).
    pub(super) fn family(&self) -> Family<Labels, M, fn() -> M> {
        self.family.clone()
    }

    /// Applies `update` to the series of `values` (one per label name).
    pub(super) fn update(&self, values: &[&str], update: impl FnOnce(&M)) {
        debug_assert_eq!(values.len(), self.names.len());
        let handles = self.local.get_or(|| {
            RefCell::new(Handles {
                key: Vec::new(),
                series: foldhash::HashMap::default(),
            })
        });
        let mut handles = handles.borrow_mut();
        let Handles { key, series } = &mut *handles;
        key.clear();
        for value in values {
            key.extend_from_slice(&value.len().to_le_bytes());
            key.extend_from_slice(value.as_bytes());
        }
        if let Some(metric) = series.get(key.as_slice()) {
            return update(metric);
        }
        let (metric, kept) = self.find_or_make(values);
        update(&metric);
        // A label set past the cap is not kept: a client sending new names on every request
        // must not grow each thread's map either.
        if kept {
            series.insert(key.as_slice().into(), metric);
        }
    }

    /// The series of `values` from the family, made if the cap allows, or `_other`'s
    /// (and `false`: not a series of its own).
    #[cold]
    fn find_or_make(&self, values: &[&str]) -> (M, bool) {
        let labels: Labels = (self.names.iter())
            .zip(values)
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(metric) = self.family.get(&labels) {
            return (metric.clone(), true);
        }
        if *made < self.max_series {
            *made += 1;
            return (self.family.get_or_create_owned(&labels), true);
        }
        drop(made);
        let other: Labels = self
            .names
            .iter()
            .map(|name| (*name, OTHER.to_owned()))
            .collect();
        (self.family.get_or_create_owned(&other), false)
    }
}
