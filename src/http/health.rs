//! `/health/live` (the process answers) and `/health/ready` (its backends answer). Readiness
//! probes run concurrently with a short bound and are cached briefly, so a probe storm from
//! many load balancers costs the backends almost nothing. On shutdown, readiness fails at
//! once (`drain`) while the gateway keeps serving, so load balancers stop sending first.
//! Backends the gateway works without (Redis) are probed and reported in the details, and
//! never make it unready (`reporting`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::HttpState;
use crate::protocols::HealthCheck;

/// The backends' readiness, probed on demand and remembered for `cache_for`.
#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Vec<Arc<dyn HealthCheck>>>,
    /// Backends that are reported but that the gateway works without (Redis).
    optional: Arc<Vec<Arc<dyn HealthCheck>>>,
    timeout: Duration,
    cache_for: Duration,
    last: Arc<Mutex<Option<(Instant, Report)>>>,
    /// Set on shutdown: unready from then on, whatever the backends say.
    draining: Arc<AtomicBool>,
}

/// What each backend answered.
#[derive(Clone)]
struct Report {
    ready: bool,
    checks: Map<String, Value>,
}

impl Readiness {
    /// Readiness over these checks; each gets `timeout`, results live for `cache_for`.
    pub fn new(checks: Vec<Arc<dyn HealthCheck>>, timeout: Duration, cache_for: Duration) -> Self {
        Self {
            checks: Arc::new(checks),
            optional: Arc::default(),
            timeout,
            cache_for,
            last: Arc::default(),
            draining: Arc::default(),
        }
    }

    /// The same readiness, also reporting `checks` in its details, which never make the
    /// gateway unready: backends it works without.
    pub fn reporting(mut self, checks: Vec<Arc<dyn HealthCheck>>) -> Self {
        self.optional = Arc::new(checks);
        self
    }

    /// Fails readiness from now on: the process is shutting down.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether `drain` was called.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether the gateway is ready now (a cached answer if fresh).
    pub async fn is_ready(&self) -> bool {
        !self.draining() && self.report().await.ready
    }

    async fn report(&self) -> Report {
        // Holding the lock while probing makes concurrent callers share one probe.
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref()
            && at.elapsed() < self.cache_for
        {
            return report.clone();
        }
        let required = self.checks.iter().map(|check| (check, true));
        let optional = self.optional.iter().map(|check| (check, false));
        let probes = required.chain(optional).map(|(check, required)| async move {
            let outcome = tokio::time::timeout(self.timeout, check.check()).await;
            let up = match outcome {
                Ok(Ok(())) => true,
                Ok(Err(error)) if required => {
                    tracing::warn!(message = "readiness check failed", backend = check.name(), %error);
                    false
                }
                Err(_) if required => {
                    tracing::warn!(message = "readiness check timed out", backend = check.name());
                    false
                }
                // An optional backend's failures are its own metrics' to report.
                _ => false,
            };
            (check.name(), up, required)
        });
        let results = futures::future::join_all(probes).await;
        let report = Report {
            ready: results.iter().all(|(_, up, required)| *up || !*required),
            checks: results
                .into_iter()
                .map(|(name, up, _)| (name.to_owned(), json!(if up { "up" } else { "down" })))
                .collect(),
        };
        *last = Some((Instant::now(), report.clone()));
        report
    }
}

pub(super) async fn live() -> Response {
    Json(json!({"status": "live"})).into_response()
}

pub(super) async fn ready(State(state): State<HttpState>) -> Response {
    if state.readiness.draining() {
        let body = json!({"status": "draining"});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let report = state.readiness.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if report.ready { "ready" } else { "unready" },
        "checks": report.checks,
    });
    (status, Json(body)).into_response()
}
