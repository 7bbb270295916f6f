//! A circuit breaker: after `threshold` consecutive failed calls it opens and calls fail at
//! once, sparing the backend and our latency; after `open_for` one probe call goes through
//! (half-open); its success closes the circuit, its failure opens it again.
//!
//! `Guard` puts a breaker and a bulkhead (a cap on calls in flight) around every call to one
//! backend: a backend that hangs then costs its own callers a fast `UPSTREAM_UNAVAILABLE`,
//! and cannot hold every request slot of the gateway while the others wait behind it.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

// Tokio's clock, so tests can pause and advance it; outside a runtime it is the system's.
use tokio::time::Instant;

use tokio::sync::Semaphore;

use crate::protocols::SourceError;

/// A breaker and a bulkhead around one backend's calls.
#[derive(Debug)]
pub struct Guard {
    backend: &'static str,
    breaker: CircuitBreaker,
    in_flight: Semaphore,
    max_in_flight: usize,
}

/// How a `Guard` is set.
#[derive(Debug, Clone, Copy)]
pub struct GuardSettings {
    /// Consecutive timeouts or unreachable calls that open the circuit.
    pub failures: u32,
    /// How long the circuit stays open before a probe.
    pub open_for: Duration,
    /// Most calls in flight; more fail at once.
    pub max_in_flight: usize,
}

impl Guard {
    /// A guard around `backend`'s calls (its name in errors), with a closed circuit.
    pub fn new(backend: &'static str, settings: GuardSettings) -> Self {
        Self {
            backend,
            breaker: CircuitBreaker::new(settings.failures, settings.open_for),
            in_flight: Semaphore::new(settings.max_in_flight),
            max_in_flight: settings.max_in_flight,
        }
    }

    /// Runs `call` unless the circuit is open or the bulkhead is full (then fails at once,
    /// `Unavailable`); a timeout or an unreachable backend counts towards opening it, any
    /// other outcome (an answer, an error of our own or of the backend's) closes it.
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, SourceError>>,
    ) -> Result<T, SourceError> {
        let Some(permit) = self.breaker.permit() else {
            return Err(self.refusal("its circuit is open after consecutive failures"));
        };
        let Ok(_slot) = self.in_flight.try_acquire() else {
            return Err(self.refusal("too many calls are in flight"));
        };
        let result = call.await;
        match &result {
            Err(SourceError::Timeout { .. } | SourceError::Unavailable { .. }) => permit.failure(),
            _ => permit.success(),
        }
        result
    }

    fn refusal(&self, why: &str) -> SourceError {
        SourceError::Unavailable {
            backend: self.backend,
            detail: format!("not called: {why}"),
        }
    }

    /// The state of the guard's circuit breaker.
    pub fn state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.in_flight.available_permits()
    }
}

/// The breaker's state, as metrics and logs show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail at once, until `open_for` has passed.
    Open,
    /// `open_for` has passed: the next call goes through as a probe.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    /// When the circuit opened; `None` while closed.
    opened_at: Option<Instant>,
    /// A probe call is under way (half-open lets exactly one through).
    probing: bool,
    /// How many times the circuit has opened: a call let through before the latest opening
    /// reports about a backend that has failed since, and is not counted.
    openings: u64,
}

/// A thread-safe circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

/// Permission to make a call; report its outcome with `success` or `failure`. Dropped
/// without an outcome (the call was not made, or its request went away), a probe's permit
/// lets the next call probe instead, so the circuit cannot stay open for good.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
    /// The breaker's `openings` when the call was let through.
    openings: u64,
}

impl Permit<'_> {
    /// Whether this call is the half-open circuit's probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports that the call succeeded: the circuit closes, the failure count starts over.
    pub fn success(mut self) {
        self.reported = true;
        let mut inner = self.breaker.lock();
        if self.current(&inner) {
            inner.consecutive_failures = 0;
            inner.opened_at = None;
            inner.probing = false;
        }
    }

    /// Reports that the call failed: one more towards opening, or open again after a probe.
    pub fn failure(mut self) {
        self.reported = true;
        let mut inner = self.breaker.lock();
        if !self.current(&inner) {
            return;
        }
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.probing || inner.consecutive_failures >= self.breaker.threshold {
            inner.opened_at = Some(Instant::now());
            inner.openings += 1;
        }
        inner.probing = false;
    }

    /// Whether the outcome counts: a probe's always does; another call's only if the circuit
    /// has not opened since it was let through (a slow call that succeeds late must not close
    /// a circuit other calls' failures have just opened, nor one that fails late hold it open).
    fn current(&self, inner: &Inner) -> bool {
        self.probe || inner.openings == self.openings
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.breaker.lock().probing = false;
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker that opens after `threshold` consecutive failures (at least 1) and
    /// lets a probe through after `open_for`.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                probing: false,
                openings: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the counters inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May a call go out now? `None` means the circuit is open: fail without calling.
    pub fn permit(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        let probe = match inner.opened_at {
            None => false,
            Some(at) if at.elapsed() >= self.open_for && !inner.probing => {
                inner.probing = true;
                true
            }
            Some(_) => return None,
        };
        Some(Permit {
            breaker: self,
            probe,
            reported: false,
            openings: inner.openings,
        })
    }

    /// The state now; an open circuit is `HalfOpen` once it may probe.
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(at) if at.elapsed() >= self.open_for => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_probes_once_and_closes_on_success() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(200));
        for _ in 0..2 {
            let permit = breaker.permit().expect("closed");
            assert!(!permit.is_probe());
            permit.failure();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.permit().expect("closed").failure();
        assert!(breaker.permit().is_none(), "open: no calls");
        tokio::time::advance(Duration::from_millis(199)).await;
        assert!(
            breaker.permit().is_none(),
            "still open just before its time"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        let probe = breaker.permit().expect("half-open");
        assert!(probe.is_probe());
        assert!(breaker.permit().is_none(), "one probe at a time");
        probe.failure();
        assert!(breaker.permit().is_none(), "a failed probe reopens");
        tokio::time::advance(Duration::from_millis(200)).await;
        breaker.permit().expect("half-open").success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(!breaker.permit().expect("closed").is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_without_an_outcome_lets_the_next_call_probe() {
        let breaker = CircuitBreaker::new(1, Duration::from_millis(50));
        breaker.permit().expect("closed").failure();
        tokio::time::advance(Duration::from_millis(50)).await;
        drop(breaker.permit().expect("half-open"));
        assert!(breaker.permit().expect("the next call probes").is_probe());
    }

    #[test]
    fn calls_let_through_before_the_circuit_opened_do_not_move_it() {
        // Open for no time: an open circuit lets its probe through at once.
        let breaker = CircuitBreaker::new(2, Duration::ZERO);
        let slow_success = breaker.permit().expect("closed");
        let slow_failure = breaker.permit().expect("closed");
        breaker.permit().unwrap().failure();
        breaker.permit().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        slow_success.success();
        assert_eq!(
            breaker.state(),
            BreakerState::HalfOpen,
            "a late success closes nothing"
        );
        let probe = breaker.permit().expect("half-open");
        assert!(probe.is_probe());
        probe.success();
        slow_failure.failure();
        breaker.permit().unwrap().failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "a late failure is not counted"
        );
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.permit().unwrap().failure();
        breaker.permit().unwrap().success();
        breaker.permit().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    fn timeout() -> SourceError {
        SourceError::Timeout {
            backend: "elasticsearch",
            millis: 2000,
        }
    }

    #[tokio::test]
    async fn a_guard_opens_on_timeouts_and_then_refuses_without_calling() {
        let guard = Guard::new(
            "elasticsearch",
            GuardSettings {
                failures: 2,
                open_for: Duration::from_secs(60),
                max_in_flight: 4,
            },
        );
        // Our own mistakes do not open it; timeouts do.
        let contract = SourceError::Contract {
            backend: "elasticsearch",
            detail: "bad query".into(),
        };
        for _ in 0..3 {
            let _ = guard.call(async { Err::<(), _>(contract.clone()) }).await;
        }
        assert_eq!(guard.state(), BreakerState::Closed);
        for _ in 0..2 {
            let _ = guard.call(async { Err::<(), _>(timeout()) }).await;
        }
        assert_eq!(guard.state(), BreakerState::Open);
        let called = std::sync::atomic::AtomicBool::new(false);
        let refused = guard
            .call(async {
                called.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            })
            .await;
        assert!(!called.load(std::sync::atomic::Ordering::Relaxed));
        assert!(
            matches!(refused, Err(SourceError::Unavailable { ref detail, .. }) if detail.contains("circuit")),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_full_bulkhead_refuses_at_once_and_frees_its_slots() {
        let guard = Guard::new(
            "mysql",
            GuardSettings {
                failures: 5,
                open_for: Duration::from_secs(1),
                max_in_flight: 1,
            },
        );
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let slow = guard.call(async {
            let _ = wait.await;
            Ok::<_, SourceError>(1)
        });
        let fast = async {
            tokio::task::yield_now().await;
            assert_eq!(guard.in_flight(), 1);
            let refused = guard.call(async { Ok::<_, SourceError>(2) }).await;
            assert!(
                matches!(refused, Err(SourceError::Unavailable { ref detail, .. }) if detail.contains("in flight")),
                "{refused:?}"
            );
            let _ = release.send(());
        };
        let (slow, ()) = tokio::join!(slow, fast);
        assert_eq!(slow.unwrap(), 1);
        assert_eq!(guard.in_flight(), 0);
        assert_eq!(
            guard.call(async { Ok::<_, SourceError>(3) }).await.unwrap(),
            3
        );
    }
}
