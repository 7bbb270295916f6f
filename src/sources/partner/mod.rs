//! The partner offers API client: connection reuse, a per-call timeout inside the request's
//! deadline, retries with jittered backoff for timeouts and 5xx (the call is an idempotent
//! GET), `Retry-After` honoured when it fits the deadline, a circuit breaker, a bulkhead on
//! calls in flight, and the request id forwarded.

mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{StatusCode, Url, header};
use tokio::sync::Semaphore;

pub use crate::sources::breaker::{BreakerState, CircuitBreaker};

use crate::observe::{self, Backend};
use crate::protocols::SourceError;
use crate::protocols::offers::{CallContext, Offer, OfferSource};

const BACKEND: &str = "partner";

/// How the client treats the partner; from configuration.
#[derive(Clone)]
pub struct PartnerSettings {
    /// Base URL of the partner API; offers are asked for at `<base>/v1/offers`.
    pub base_url: Url,
    /// A secret: `Debug` leaves it out.
    pub api_key: String,
    /// How long one attempt may take; what is left of the deadline may cut it shorter.
    pub call_timeout: Duration,
    /// Attempts after the first, for timeouts and 5xx only, within the deadline.
    pub retries: u32,
    /// Most calls in flight at once (the bulkhead); more wait within their deadline.
    pub max_in_flight: u32,
    /// Consecutive failed calls that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long an open circuit fails calls at once before it lets a probe through.
    pub breaker_open_for: Duration,
}

impl std::fmt::Debug for PartnerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerSettings")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"<redacted>")
            .field("call_timeout", &self.call_timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

/// The partner API client. Cheap to clone; clones share the connection pool, the breaker,
/// the bulkhead and the counters.
#[derive(Clone)]
pub struct PartnerClient {
    http: reqwest::Client,
    settings: Arc<PartnerSettings>,
    breaker: Arc<CircuitBreaker>,
    in_flight: Arc<Semaphore>,
    calls: Arc<AtomicU64>,
}

/// The shortest attempt worth making: below it a call can only time out.
const MIN_ATTEMPT: Duration = Duration::from_millis(20);

/// How a call ended once the partner was asked.
enum Answered {
    Offers(HashMap<i32, Vec<Offer>>),
    /// The partner failed (after retries): the breaker counts it.
    Failed(SourceError),
}

/// How one attempt ended.
enum Attempt {
    Done(HashMap<i32, Vec<Offer>>),
    /// Worth another try after the given pause (or a backoff when `None`).
    Retry(SourceError, Option<Duration>),
    /// Another try would not help.
    Fail(SourceError),
}

impl PartnerClient {
    /// A client with its own connection pool, breaker and bulkhead; fails only when the
    /// HTTP client cannot be built.
    pub fn new(settings: PartnerSettings) -> Result<Self, SourceError> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            breaker: Arc::new(CircuitBreaker::new(
                settings.breaker_failures,
                settings.breaker_open_for,
            )),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight as usize)),
            calls: Arc::default(),
            settings: Arc::new(settings),
        })
    }

    /// Attempts sent to the partner (retries included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Calls in flight now (the bulkhead's slots taken).
    pub fn in_flight(&self) -> usize {
        self.settings.max_in_flight as usize - self.in_flight.available_permits()
    }

    /// The circuit breaker's state now, for metrics.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    async fn attempt(&self, url: &Url, context: &CallContext, budget: Duration) -> Attempt {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .get(url.clone())
            .bearer_auth(&self.settings.api_key)
            .timeout(budget);
        if let Some(id) = &context.request_id {
            request = request.header("x-request-id", id);
        }
        if let Some(traceparent) = observe::current_traceparent() {
            request = request.header("traceparent", traceparent);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Attempt::Retry(timeout(budget), None);
            }
            Err(error) => {
                return Attempt::Retry(unavailable(error.without_url().to_string()), None);
            }
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(1));
            return Attempt::Retry(unavailable("rate limited (429)".to_owned()), Some(wait));
        }
        if status.is_server_error() {
            return Attempt::Retry(unavailable(format!("answered {status}")), None);
        }
        if !status.is_success() {
            // 4xx: our request is wrong (or our key is); repeating it will not help.
            return Attempt::Fail(SourceError::Contract {
                backend: BACKEND,
                detail: format!("answered {status}"),
            });
        }
        match response.bytes().await {
            Ok(body) => match wire::parse(&body) {
                Ok(offers) => Attempt::Done(offers),
                Err(detail) => Attempt::Fail(SourceError::Backend {
                    backend: BACKEND,
                    detail,
                }),
            },
            Err(error) if error.is_timeout() => Attempt::Retry(timeout(budget), None),
            Err(error) => Attempt::Retry(unavailable(error.without_url().to_string()), None),
        }
    }

    /// Every attempt of one call, within the deadline; the breaker sees the call's outcome.
    async fn call(&self, url: &Url, context: &CallContext) -> Result<Answered, SourceError> {
        let mut last = None;
        for attempt in 0..=self.settings.retries {
            let left = context.deadline.saturating_duration_since(Instant::now());
            // An attempt with almost no time left is bound to time out: not worth it.
            if left < MIN_ATTEMPT {
                break;
            }
            let budget = left.min(self.settings.call_timeout);
            let started = Instant::now();
            let outcome = self.attempt(url, context, budget).await;
            observe::backend_call(
                Backend::Partner,
                started,
                matches!(outcome, Attempt::Done(_)),
                || match &outcome {
                    Attempt::Done(_) => format!("GET {url}"),
                    Attempt::Fail(error) | Attempt::Retry(error, _) => {
                        format!("GET {url}: {error}")
                    }
                },
            );
            match outcome {
                Attempt::Done(offers) => return Ok(Answered::Offers(offers)),
                Attempt::Fail(error) => return Ok(Answered::Failed(error)),
                Attempt::Retry(error, pause) => {
                    let pause = pause.unwrap_or_else(|| backoff(attempt));
                    let left = context.deadline.saturating_duration_since(Instant::now());
                    if attempt == self.settings.retries || pause + MIN_ATTEMPT >= left {
                        return Ok(Answered::Failed(error));
                    }
                    tracing::info!(message = "retrying the partner", attempt, pause_ms = pause.as_millis() as u64, %error);
                    last = Some(error);
                    tokio::time::sleep(pause).await;
                }
            }
        }
        match last {
            Some(error) => Ok(Answered::Failed(error)),
            // Our own deadline ran out before the partner was asked: not its failure.
            None => Err(timeout(Duration::ZERO)),
        }
    }
}

/// Exponential backoff from 50 ms with full jitter, so retries of many requests spread out.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(jitter(ceiling / 2, ceiling))
}

/// A random number in `[low, high]`.
fn jitter(low: u64, high: u64) -> u64 {
    crate::random::in_range(low, high)
}

fn unavailable(detail: String) -> SourceError {
    SourceError::Unavailable {
        backend: BACKEND,
        detail,
    }
}

fn timeout(budget: Duration) -> SourceError {
    SourceError::Timeout {
        backend: BACKEND,
        millis: budget.as_millis() as u64,
    }
}

#[async_trait::async_trait]
impl OfferSource for PartnerClient {
    async fn offers(
        &self,
        product_ids: &[i32],
        context: &CallContext,
    ) -> Result<HashMap<i32, Vec<Offer>>, SourceError> {
        if product_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // Dropped without an outcome (the request went away), the permit hands a probe back.
        let Some(permit) = self.breaker.permit() else {
            return Err(unavailable(
                "circuit open: the partner failed repeatedly".to_owned(),
            ));
        };
        // The bulkhead: wait for a slot only as long as the request can afford.
        let left = context.deadline.saturating_duration_since(Instant::now());
        let Ok(Ok(slot)) = tokio::time::timeout(left, self.in_flight.acquire()).await else {
            // Not the partner's fault: the permit goes back unused.
            return Err(unavailable("too many partner calls in flight".to_owned()));
        };
        let ids: Vec<String> = product_ids.iter().map(i32::to_string).collect();
        let mut url = self.settings.base_url.clone();
        url.set_path(&format!("{}/v1/offers", url.path().trim_end_matches('/')));
        url.query_pairs_mut()
            .append_pair("product_ids", &ids.join(","));
        let answered = self.call(&url, context).await;
        drop(slot);
        let result = match answered? {
            Answered::Offers(offers) => {
                permit.success();
                Ok(offers)
            }
            Answered::Failed(error) => {
                permit.failure();
                Err(error)
            }
        };
        result.map(|mut offers| {
            // Products without offers are absent from the answer: they have none.
            for id in product_ids {
                offers.entry(*id).or_default();
            }
            offers.retain(|id, _| product_ids.contains(id));
            offers
        })
    }
}
