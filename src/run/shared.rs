//! The store the replicas share (`OGROM_REDIS_URL`): built from configuration, and its
//! figures for `/metrics`. What uses it is wired in `Gateway::assemble` and `protection`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;

use crate::config::RedisArgs;
use crate::http::Protection;
use crate::observe::Metrics;
use crate::sources::breaker::BreakerState;
use crate::sources::redis::{RedisSettings, RedisStore};

/// The store the replicas share, when `OGROM_REDIS_URL` names one. Not connected yet: the
/// first call connects, so the gateway starts while Redis is down.
pub(super) fn shared_store(args: &RedisArgs) -> anyhow::Result<Option<Arc<RedisStore>>> {
    let Some(url) = &args.redis_url else {
        return Ok(None);
    };
    let store = RedisStore::new(RedisSettings {
        url: url.expose_secret().to_owned(),
        prefix: args.redis_prefix.clone(),
        timeout: Duration::from_millis(args.redis_timeout_ms),
        guard: args.guard(),
    })
    .context("OGROM_REDIS_URL")?;
    Ok(Some(Arc::new(store)))
}

/// Redis's calls by outcome, its breaker, and what was done without it.
pub(super) fn collect_redis(metrics: &Metrics, redis: &Arc<RedisStore>, protection: &Protection) {
    let redis = redis.clone();
    let budgets = protection.budgets.clone();
    metrics.collect(move |out| {
        let figures = redis.figures();
        out.counter(
            "ogrom_redis_calls_total",
            "Calls to the shared Redis, by outcome (skipped: its breaker was open or its \
             bulkhead full).",
            &[
                (&[("outcome", "ok")], figures.ok as f64),
                (&[("outcome", "timeout")], figures.timeout as f64),
                (&[("outcome", "failed")], figures.failed as f64),
                (&[("outcome", "skipped")], figures.refused as f64),
            ],
        );
        let state = redis.breaker_state();
        let is = |s: BreakerState| if state == s { 1.0 } else { 0.0 };
        out.gauge(
            "ogrom_redis_breaker_state",
            "The Redis circuit breaker: 1 for the state it is in.",
            &[
                (&[("state", "closed")], is(BreakerState::Closed)),
                (&[("state", "open")], is(BreakerState::Open)),
                (&[("state", "half_open")], is(BreakerState::HalfOpen)),
            ],
        );
        let fallbacks = budgets.as_ref().map_or(0, |b| b.fallbacks());
        out.counter(
            "ogrom_redis_budget_fallbacks_total",
            "Cost budget spends counted by this instance alone because Redis failed.",
            &[(&[], fallbacks as f64)],
        );
    });
}
