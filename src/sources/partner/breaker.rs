//! A circuit breaker: after `threshold` consecutive failed calls it opens and calls fail at
//! once, sparing the partner and our latency; after `open_for` one probe call goes through
//! (half-open); its success closes the circuit, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, as metrics and logs show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    /// When the circuit opened; `None` while closed.
    opened_at: Option<Instant>,
    /// A probe call is under way (half-open lets exactly one through).
    probing: bool,
}

/// A thread-safe circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

/// Permission to make a call; report its outcome with `success` or `failure`.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit {
    /// The circuit is closed: call normally.
    Call,
    /// The circuit is half-open and this call is the probe.
    Probe,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                probing: false,
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
    pub fn permit(&self) -> Option<Permit> {
        let mut inner = self.lock();
        match inner.opened_at {
            None => Some(Permit::Call),
            Some(at) if at.elapsed() >= self.open_for && !inner.probing => {
                inner.probing = true;
                Some(Permit::Probe)
            }
            Some(_) => None,
        }
    }

    pub fn success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.probing = false;
    }

    pub fn failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.probing || inner.consecutive_failures >= self.threshold {
            inner.opened_at = Some(Instant::now());
        }
        inner.probing = false;
    }

    /// The permitted call was not made (e.g. no slot was free): a probe may go again.
    pub fn abandon(&self) {
        self.lock().probing = false;
    }

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

    #[test]
    fn opens_after_the_threshold_probes_once_and_closes_on_success() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert_eq!(breaker.permit(), Some(Permit::Call));
            breaker.failure();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.permit(), None, "open: no calls");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.permit(), Some(Permit::Probe));
        assert_eq!(breaker.permit(), None, "one probe at a time");
        breaker.failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe reopens"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.permit(), Some(Permit::Probe));
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.permit(), Some(Permit::Call));
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.failure();
        breaker.success();
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
