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

/// Permission to make a call; report its outcome with `success` or `failure`. Dropped
/// without an outcome (the call was not made, or its request went away), a probe's permit
/// lets the next call probe instead, so the circuit cannot stay open for good.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl Permit<'_> {
    /// Whether this call is the half-open circuit's probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    pub fn success(mut self) {
        self.reported = true;
        self.breaker.success();
    }

    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.failure();
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
        })
    }

    fn success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.probing = false;
    }

    fn failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.probing || inner.consecutive_failures >= self.threshold {
            inner.opened_at = Some(Instant::now());
        }
        inner.probing = false;
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
        let breaker = CircuitBreaker::new(3, Duration::from_millis(200));
        for _ in 0..2 {
            let permit = breaker.permit().expect("closed");
            assert!(!permit.is_probe());
            permit.failure();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.permit().expect("closed").failure();
        assert!(breaker.permit().is_none(), "open: no calls");
        std::thread::sleep(Duration::from_millis(250));
        let probe = breaker.permit().expect("half-open");
        assert!(probe.is_probe());
        assert!(breaker.permit().is_none(), "one probe at a time");
        probe.failure();
        assert!(breaker.permit().is_none(), "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(250));
        breaker.permit().expect("half-open").success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(!breaker.permit().expect("closed").is_probe());
    }

    #[test]
    fn a_probe_dropped_without_an_outcome_lets_the_next_call_probe() {
        let breaker = CircuitBreaker::new(1, Duration::from_millis(50));
        breaker.permit().expect("closed").failure();
        std::thread::sleep(Duration::from_millis(80));
        drop(breaker.permit().expect("half-open"));
        assert!(breaker.permit().expect("the next call probes").is_probe());
    }

    #[test]
    fn a_success_resets_the_count_of_consecutive_failures() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.permit().unwrap().failure();
        breaker.permit().unwrap().success();
        breaker.permit().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
