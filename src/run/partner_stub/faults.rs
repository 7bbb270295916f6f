//! Run layer, partner stub: the faults it can be told to inject, the counters tests read,
//! and [`StubHandle`], the one place both live. The control endpoint and in-process tests go
//! through the same handle, so they cannot disagree.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::watch;

/// The faults applied to the next offer calls. Every field left out is off; `POST /control`
/// replaces the whole set, so what a test sends is exactly what is in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Delay before any answer, in milliseconds.
    pub latency_ms: u64,
    /// Answer this 5xx status...
    pub fail_status: Option<u16>,
    /// ...for this many more calls (absent: every call). Counts down as calls fail.
    pub fail_times: Option<u32>,
    /// Answer 429 with this `Retry-After`, in seconds...
    pub rate_limit_retry_after_s: Option<u64>,
    /// ...for this many more calls (absent: every call). Counts down as calls are refused.
    pub rate_limit_times: Option<u32>,
    /// Accept calls and answer none until this is cleared (or the stub shuts down).
    pub hang: bool,
    /// Answer 200 with a broken body: `"json"` (or `true`) for invalid JSON, `"shape"` for
    /// valid JSON that is not the contract's shape.
    #[serde(deserialize_with = "malformed")]
    pub malformed: Option<Malformed>,
    /// Leave about this fraction of the batch out of the answer (see `dropped_by_fraction`).
    pub drop_fraction: Option<f64>,
    /// Leave exactly these ids out of the answer.
    pub drop_ids: Vec<u64>,
}

/// How a malformed answer is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Malformed {
    /// The body is cut off mid-object: not JSON at all.
    Json,
    /// The body is JSON, with the wrong types and missing fields.
    Shape,
}

/// `true` and `"json"`, `"shape"`, or `false` and `null` for none: the flag is what a
/// test usually wants, the name says which breakage.
fn malformed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Malformed>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null | serde_json::Value::Bool(false) => Ok(None),
        serde_json::Value::Bool(true) => Ok(Some(Malformed::Json)),
        serde_json::Value::String(s) if s == "json" => Ok(Some(Malformed::Json)),
        serde_json::Value::String(s) if s == "shape" => Ok(Some(Malformed::Shape)),
        _ => Err(serde::de::Error::custom(
            "malformed must be true, false, \"json\" or \"shape\"",
        )),
    }
}

/// A fault set that makes no sense (a status that is not 5xx, a count without its fault…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid faults: {0}")]
pub struct InvalidFaults(pub String);

impl Faults {
    /// Refuses what would otherwise be silently ignored or answer nonsense.
    pub fn validate(&self) -> Result<(), InvalidFaults> {
        let invalid = |message: &str| Err(InvalidFaults(message.to_owned()));
        if self.latency_ms > 600_000 {
            return invalid("latency_ms is at most 600000 (10 minutes)");
        }
        if self.fail_status.is_some_and(|s| !(500..=599).contains(&s)) {
            return invalid("fail_status must be a 5xx status");
        }
        if self.fail_times.is_some() && self.fail_status.is_none() {
            return invalid("fail_times needs fail_status");
        }
        if self.rate_limit_times.is_some() && self.rate_limit_retry_after_s.is_none() {
            return invalid("rate_limit_times needs rate_limit_retry_after_s");
        }
        if self
            .drop_fraction
            .is_some_and(|f| !(0.0..=1.0).contains(&f))
        {
            return invalid("drop_fraction must be between 0.0 and 1.0");
        }
        Ok(())
    }

    /// The status fault this call gets, if any, counting it down: 5xx before 429.
    fn take_status_fault(&mut self) -> Option<StatusFault> {
        if let Some(status) = self.fail_status
            && take_one(&mut self.fail_times)
        {
            return Some(StatusFault::Fail(status));
        }
        if let Some(seconds) = self.rate_limit_retry_after_s
            && take_one(&mut self.rate_limit_times)
        {
            return Some(StatusFault::RateLimit(seconds));
        }
        None
    }
}

/// Whether a fault with this many calls left fires, counting one down (`None`: always).
fn take_one(remaining: &mut Option<u32>) -> bool {
    match remaining {
        None => true,
        Some(0) => false,
        Some(n) => {
            *n -= 1;
            true
        }
    }
}

/// A status answer a call gets instead of its offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusFault {
    Fail(u16),
    RateLimit(u64),
}

/// What the stub has received since it started or was last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StubStats {
    /// Offer calls received, whatever their outcome.
    pub calls: u64,
    /// Ids requested, summed over the calls whose id list was valid (duplicates included).
    pub ids: u64,
    /// The last call's ids as sent; empty when its list was invalid.
    pub last_ids: Vec<u64>,
    /// The last call's `x-request-id` header, if it had one.
    pub last_request_id: Option<String>,
    /// The last call's `traceparent` header, if it had one.
    #[serde(default)]
    pub last_traceparent: Option<String>,
    /// Offer calls being handled now (a gauge: a reset keeps it).
    pub in_flight: u64,
    /// The most offer calls handled at once.
    pub max_in_flight: u64,
}

/// Shared access to the stub's faults and counters: clone it freely.
#[derive(Debug, Clone)]
pub struct StubHandle {
    shared: Arc<Shared>,
}

/// Watch channels rather than mutexes: calls held by `hang` and tests waiting for a counter
/// sleep until a change wakes them, with no polling.
#[derive(Debug)]
struct Shared {
    faults: watch::Sender<Faults>,
    stats: watch::Sender<StubStats>,
    /// Set once at shutdown: releases held and delayed calls so shutdown never waits on them.
    closing: watch::Sender<bool>,
}

impl StubHandle {
    pub(super) fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                faults: watch::Sender::new(Faults::default()),
                stats: watch::Sender::new(StubStats::default()),
                closing: watch::Sender::new(false),
            }),
        }
    }

    /// The faults in force (counts as they stand now).
    pub fn faults(&self) -> Faults {
        self.shared.faults.borrow().clone()
    }

    /// Replaces the faults in force; an invalid set leaves them unchanged.
    pub fn set_faults(&self, faults: Faults) -> Result<(), InvalidFaults> {
        faults.validate()?;
        tracing::info!(message = "partner stub faults set", faults = ?faults);
        self.shared.faults.send_replace(faults);
        Ok(())
    }

    /// Changes some faults and keeps the rest; an invalid result changes nothing.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) -> Result<(), InvalidFaults> {
        let mut result = Ok(());
        // In one step, so a count a call takes meanwhile is not written back.
        self.shared.faults.send_if_modified(|faults| {
            let mut next = faults.clone();
            change(&mut next);
            if let Err(invalid) = next.validate() {
                result = Err(invalid);
                return false;
            }
            tracing::info!(message = "partner stub faults set", faults = ?next);
            *faults = next;
            true
        });
        result
    }

    /// Clears every fault and counter (`in_flight` stays: those calls are still running).
    pub fn reset(&self) {
        self.shared.faults.send_replace(Faults::default());
        self.shared.stats.send_modify(|stats| {
            let in_flight = stats.in_flight;
            *stats = StubStats {
                in_flight,
                max_in_flight: in_flight,
                ..StubStats::default()
            };
        });
        tracing::info!(message = "partner stub reset");
    }

    /// The counters now.
    pub fn stats(&self) -> StubStats {
        self.shared.stats.borrow().clone()
    }

    /// Waits until the counters satisfy `condition` (e.g. a hanging call has arrived) and
    /// returns them. Wrap it in a timeout: it waits as long as it takes.
    pub async fn wait_for_stats(&self, condition: impl FnMut(&StubStats) -> bool) -> StubStats {
        let mut stats = self.shared.stats.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let result = stats.wait_for(condition).await.map(|s| s.clone());
        result.unwrap_or_else(|_| self.stats())
    }

    /// Ends every held or delayed call with 503 and stops holding new ones; `serve` calls it
    /// at shutdown. A test serving `router()` itself should too, before a graceful shutdown.
    pub fn close(&self) {
        self.shared.closing.send_replace(true);
    }

    pub(super) fn begin_call(
        &self,
        request_id: Option<String>,
        traceparent: Option<String>,
        ids: Option<&[u64]>,
    ) {
        self.shared.stats.send_modify(|stats| {
            stats.calls += 1;
            stats.in_flight += 1;
            stats.max_in_flight = stats.max_in_flight.max(stats.in_flight);
            stats.last_request_id = request_id;
            stats.last_traceparent = traceparent;
            stats.last_ids = ids.map(<[u64]>::to_vec).unwrap_or_default();
            stats.ids += stats.last_ids.len() as u64;
        });
    }

    pub(super) fn end_call(&self) {
        self.shared
            .stats
            .send_modify(|stats| stats.in_flight = stats.in_flight.saturating_sub(1));
    }

    /// Decides and counts down a status fault in one step, so concurrent calls consume
    /// `fail_times` exactly.
    pub(super) fn take_status_fault(&self) -> Option<StatusFault> {
        let mut fault = None;
        self.shared.faults.send_if_modified(|faults| {
            let before = faults.clone();
            fault = faults.take_status_fault();
            *faults != before
        });
        fault
    }

    /// Sleeps `delay`; false when the stub started closing meanwhile.
    pub(super) async fn sleep_unless_closed(&self, delay: Duration) -> bool {
        let mut closing = self.shared.closing.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            _ = closing.wait_for(|closing| *closing) => false,
        }
    }

    /// Holds the call while `hang` is set; false when released by closing instead.
    pub(super) async fn hold_while_hanging(&self) -> bool {
        let mut faults = self.shared.faults.subscribe();
        let mut closing = self.shared.closing.subscribe();
        // Biased: a call that is not held goes on even after closing began.
        tokio::select! {
            biased;
            released = faults.wait_for(|faults| !faults.hang) => released.is_ok(),
            _ = closing.wait_for(|closing| *closing) => false,
        }
    }
}
