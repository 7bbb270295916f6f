//! Run layer: the only place that knows every layer. It builds the sources from
//! configuration, the API and the router, serves until told to stop, and implements the
//! binary's subcommands.

pub mod healthcheck;
pub mod index;
pub mod partner_stub;
pub mod schema;
pub mod seed;
mod shared;
mod telemetry;
mod token;

use secrecy::ExposeSecret;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use axum::serve::ListenerExt as _;
use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use telemetry::{Logs, init as init_telemetry};

use crate::config::{Cli, Command, DatabaseArgs, PartnerArgs, SeedArgs, ServeArgs};
use crate::core::cost::Budgets;
use crate::core::pagination::PageLimits;
use crate::core::{self, ApiConfig, Sources};
use crate::http::debug::DebugAccess;
use crate::http::document::DocumentLimits;
use crate::http::persisted::PersistedQueries;
use crate::http::response_cache::ResponseCache;
use crate::http::{self, ClientAddress, HttpLimits, HttpState, Protection, Readiness};
use crate::observe::Metrics;
use crate::observe::otlp::TraceExporter;
use crate::protocols::shared::SharedStore;
use crate::sources::auth;
use crate::sources::elasticsearch::Elasticsearch;
use crate::sources::mysql::{MySql, MySqlSettings};
use crate::sources::partner::{BreakerState, PartnerClient, PartnerSettings};
use crate::sources::redis::RedisStore;
use shared::{collect_redis, shared_store};

/// The migrations, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Runs the subcommand the command line asked for, logs a failure, then flushes the logs
/// (the failure is the line logstash most needs).
pub async fn main(cli: Cli, logs: Logs) -> anyhow::Result<()> {
    let result = command(cli, &logs).await;
    if let Err(error) = &result {
        tracing::error!(message = "ogrom failed", error = format!("{error:#}"));
    }
    logs.flush(LOG_FLUSH).await;
    result
}

/// How long the process waits at exit for its last log lines to reach logstash.
const LOG_FLUSH: Duration = Duration::from_secs(2);

async fn command(cli: Cli, logs: &Logs) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let listener = TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {} (OGROM_LISTEN)", args.listen))?;
            serve_with(&args, listener, shutdown_signal(), logs.clone()).await
        }
        Command::Migrate(args) => migrate(&args).await,
        Command::Seed(args) => seed(&args).await,
        Command::Index(args) => index::run(&args).await,
        Command::Token(args) => token::run(&args).await,
        Command::PartnerStub(args) => {
            let listener = TcpListener::bind(args.listen).await.with_context(|| {
                format!(
                    "cannot listen on {} (OGROM_PARTNER_STUB_LISTEN)",
                    args.listen
                )
            })?;
            partner_stub::serve(&args, listener, shutdown_signal()).await
        }
        // `main` runs `schema` before logging starts; this serves other callers.
        Command::Schema(args) => match schema::run(&args)? {
            schema::Verdict::Compatible => Ok(()),
            schema::Verdict::Breaking => anyhow::bail!("the schema has breaking changes"),
        },
        // `main` runs `healthcheck` before logging starts too.
        Command::Healthcheck(args) => healthcheck::check(&args).await.map_err(anyhow::Error::msg),
    }
}

/// A built gateway: the router and handles on its backends (tests read their counters),
/// its metrics and its readiness (which shutdown turns off).
pub struct Gateway {
    /// The router of every endpoint.
    pub router: Router,
    /// The MySQL pool, shared by the catalog and the community.
    pub mysql: MySql,
    /// The Elasticsearch client that search uses.
    pub elasticsearch: Elasticsearch,
    /// The partner offers client: its call count, bulkhead and breaker.
    pub partner: PartnerClient,
    /// This instance's metrics, as `/metrics` shows them.
    pub metrics: Metrics,
    /// What `/health/ready` answers; shutdown makes it unready.
    pub readiness: Readiness,
    /// The store the replicas share, when `OGROM_REDIS_URL` names one.
    pub shared: Option<Arc<RedisStore>>,
}

/// The partner client's settings from configuration.
pub fn partner_settings(args: &PartnerArgs) -> PartnerSettings {
    PartnerSettings {
        base_url: args.partner_url.clone(),
        api_key: args.partner_api_key.expose_secret().to_owned(),
        call_timeout: Duration::from_millis(args.partner_timeout_ms),
        retries: args.partner_retries,
        max_in_flight: args.partner_max_in_flight,
        breaker_failures: args.partner_breaker_failures,
        breaker_open_for: Duration::from_millis(args.partner_breaker_open_ms),
    }
}

impl Gateway {
    /// Builds sources, API and router from configuration. Connects to nothing yet: backends
    /// are reached on first use, so the gateway starts (and reports unready) while they are
    /// down, and recovers on its own.
    pub fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        let settings = MySqlSettings {
            guard: args.mysql_guard.settings(),
            max_connections: args.mysql_max_connections,
            acquire_timeout: ServeArgs::duration(args.mysql_acquire_timeout_ms),
            statement_timeout: ServeArgs::duration(args.mysql_statement_timeout_ms),
        };
        let mysql = MySql::connect_lazy(args.database.database_url.0.clone(), &settings);
        let elasticsearch = Elasticsearch::new(
            args.elasticsearch.elasticsearch_url.clone(),
            ServeArgs::duration(args.elasticsearch.elasticsearch_timeout_ms),
        )
        .context("cannot build the Elasticsearch client (OGROM_ELASTICSEARCH_URL)")?
        .guarded(args.elasticsearch.elasticsearch_guard.settings());
        let partner = PartnerClient::new(partner_settings(&args.partner))
            .context("cannot build the partner client")?;
        let shared = shared_store(&args.redis)?;
        let protection = protection(args, shared.as_ref())?;
        Self::assemble(args, mysql, elasticsearch, partner, protection, shared)
    }

    /// Builds the router over given backends (tests pass their own pools). A
    /// trusted-documents manifest that cannot be read fails closed: nothing runs (`build`
    /// refuses to start instead).
    pub fn from_parts(
        args: &ServeArgs,
        mysql: MySql,
        elasticsearch: Elasticsearch,
        partner: PartnerClient,
    ) -> anyhow::Result<Self> {
        let shared = shared_store(&args.redis)?;
        let protection = protection(args, shared.as_ref()).unwrap_or_else(|error| {
            tracing::error!(
                message = "no document will run",
                error = format!("{error:#}")
            );
            Protection {
                persisted: Arc::new(PersistedQueries::new(None, Some(Default::default()))),
                ..Protection::default()
            }
        });
        Self::assemble(args, mysql, elasticsearch, partner, protection, shared)
    }

    fn assemble(
        args: &ServeArgs,
        mysql: MySql,
        elasticsearch: Elasticsearch,
        partner: PartnerClient,
        protection: Protection,
        shared: Option<Arc<RedisStore>>,
    ) -> anyhow::Result<Self> {
        let store = shared.clone().map(|s| s as Arc<dyn SharedStore>);
        let sources = Sources {
            catalog: Arc::new(mysql.catalog()),
            search: Arc::new(elasticsearch.search(&args.elasticsearch.elasticsearch_index)),
            offers: Arc::new(partner.clone()),
            community: Arc::new(mysql.community()),
        };
        let config = ApiConfig {
            pages: PageLimits {
                default_size: args.default_page_size,
                max_size: args.max_page_size,
            },
            loader_delay: Duration::from_micros(args.loader_delay_us),
            max_complexity: args.max_complexity as usize,
            introspection: args.limits.introspection,
            field_suggestions: args.limits.field_suggestions,
            offers_cache_ttl: Duration::from_millis(args.partner.offers_cache_ttl_ms),
            offers_stale_for: Duration::from_millis(args.partner.offers_stale_ms),
            offers_budget: Duration::from_millis(args.partner.partner_deadline_ms),
            shared_store: store.clone(),
        };
        // Without a token issuer configured, every request is anonymous and tokens refused.
        let authenticator = auth::from_config(&args.auth).unwrap_or_else(|error| {
            tracing::error!(message = "token checks disabled: every token is refused", %error);
            Arc::new(auth::AnonymousOnly)
        });
        let readiness = Readiness::new(
            vec![Arc::new(mysql.clone()), Arc::new(elasticsearch.clone())],
            ServeArgs::duration(args.readiness_timeout_ms),
            Duration::from_millis(args.readiness_cache_ms),
        );
        // Redis is optional: reported, never a reason to be unready.
        let readiness = match &shared {
            Some(redis) => readiness.reporting(vec![redis.clone()]),
            None => readiness,
        };
        let metrics = Metrics::default();
        collect_backends(&metrics, &mysql, &elasticsearch, &partner, &readiness);
        if let Some(redis) = &shared {
            collect_redis(&metrics, redis, &protection);
        }
        let traces = args
            .otlp_endpoint
            .as_ref()
            .map(|url| TraceExporter::start(url.as_str(), "ogrom"));
        if let Some(traces) = traces.clone() {
            metrics.collect(move |out| {
                out.counter(
                    "ogrom_traces_dropped_total",
                    "Request traces dropped because the export queue was full.",
                    &[(&[], traces.dropped() as f64)],
                );
            });
        }
        let response_cache = (args.response_cache_mb > 0).then(|| {
            let cache = ResponseCache::new((args.response_cache_mb as usize) << 20);
            let cache = Arc::new(match &store {
                Some(store) => cache.shared_in(store.clone()),
                None => cache,
            });
            let figures = cache.clone();
            metrics.collect(move |out| {
                let (hits, misses, stored, entries, bytes) = figures.figures();
                out.counter(
                    "ogrom_response_cache_lookups_total",
                    "Anonymous queries looked up in the response cache, by outcome.",
                    &[
                        (&[("outcome", "hit")], hits as f64),
                        (&[("outcome", "miss")], misses as f64),
                    ],
                );
                out.counter(
                    "ogrom_response_cache_stored_total",
                    "Responses stored in the response cache.",
                    &[(&[], stored as f64)],
                );
                out.gauge(
                    "ogrom_response_cache_entries",
                    "Responses held in the response cache.",
                    &[(&[], entries as f64)],
                );
                out.gauge(
                    "ogrom_response_cache_bytes",
                    "Bytes held in the response cache.",
                    &[(&[], bytes as f64)],
                );
                let (invalidated, failures) = figures.invalidations();
                out.counter(
                    "ogrom_response_cache_invalidated_total",
                    "Cached responses dropped because a write changed what they hold.",
                    &[(&[], invalidated as f64)],
                );
                out.counter(
                    "ogrom_response_cache_shared_failures_total",
                    "Response cache lookups, stores and invalidations that Redis failed.",
                    &[(&[], failures as f64)],
                );
            });
            cache
        });
        let state = HttpState {
            api: core::build_schema(sources, config).map_err(anyhow::Error::msg)?,
            readiness: readiness.clone(),
            metrics: metrics.clone(),
            traces,
            response_cache,
            protection,
            authenticator,
            limits: HttpLimits {
                max_body_bytes: args.max_body_bytes as usize,
                request_timeout: ServeArgs::duration(args.request_timeout_ms),
            },
        };
        let routes = http::router(state);
        let router = if args.path_prefix.is_empty() {
            routes
        } else {
            Router::new().nest(&args.path_prefix, routes)
        };
        Ok(Self {
            router,
            mysql,
            elasticsearch,
            partner,
            metrics,
            readiness,
            shared,
        })
    }
}

/// The protections configured by `OGROM_MAX_*`, budgets, persisted queries and CORS.
fn protection(args: &ServeArgs, shared: Option<&Arc<RedisStore>>) -> anyhow::Result<Protection> {
    let store = shared.map(|s| s.clone() as Arc<dyn SharedStore>);
    let limits = &args.limits;
    let trusted = limits
        .trusted_documents
        .as_deref()
        .map(http::persisted::load_manifest)
        .transpose()?;
    let cors_origins = limits
        .cors_origins
        .0
        .iter()
        .map(|origin| HeaderValue::from_str(origin))
        .collect::<Result<_, _>>()
        .context("OGROM_CORS_ORIGINS")?;
    let client_address_header = limits
        .client_address_header
        .as_deref()
        .map(|name| HeaderName::from_bytes(name.as_bytes()))
        .transpose()
        .context("OGROM_CLIENT_ADDRESS_HEADER is not a header name")?;
    let persisted =
        PersistedQueries::new(limits.apq.then_some(limits.apq_capacity as usize), trusted);
    let apq_ttl = Duration::from_secs(args.redis.redis_apq_ttl_s);
    Ok(Protection {
        document: DocumentLimits {
            max_bytes: limits.max_document_bytes as usize,
            max_tokens: limits.max_tokens as usize,
            max_nesting: limits.max_nesting as usize,
            max_value_depth: limits.max_value_depth as usize,
            max_depth: args.max_depth as usize,
            max_introspection_depth: limits.max_introspection_depth as usize,
            max_fields: limits.max_fields as usize,
            max_aliases: limits.max_aliases as usize,
            max_root_fields: limits.max_root_fields as usize,
            max_directives: limits.max_directives as usize,
            max_operations: limits.max_operations as usize,
        },
        persisted: Arc::new(match &store {
            Some(store) => persisted.shared_in(store.clone(), apq_ttl),
            None => persisted,
        }),
        budgets: (limits.cost_budget > 0).then(|| {
            let budgets = Budgets::new(limits.cost_budget, limits.cost_refill_per_s);
            Arc::new(match &store {
                Some(store) => budgets.shared_in(store.clone()),
                None => budgets,
            })
        }),
        max_cost: u64::from(args.max_complexity),
        concurrency: Arc::new(Semaphore::new(limits.max_concurrent_requests as usize)),
        csrf_prevention: limits.csrf_prevention,
        cors_origins,
        client_address: ClientAddress {
            header: client_address_header,
            hops: limits.trusted_proxy_hops as usize,
        },
        introspection: limits.introspection,
        max_batch: limits.max_batch as usize,
        debug: DebugAccess::new(limits.debug_secret.as_deref()),
        parsed: Arc::default(),
    })
}

/// Gauges read at scrape time: pool usage, the partner's bulkhead and breaker, draining.
fn collect_backends(
    metrics: &Metrics,
    mysql: &MySql,
    elasticsearch: &Elasticsearch,
    partner: &PartnerClient,
    readiness: &Readiness,
) {
    let (mysql, partner, readiness) = (mysql.clone(), partner.clone(), readiness.clone());
    let elasticsearch = elasticsearch.clone();
    metrics.collect(move |out| {
        let guards = [
            ("mysql", mysql.guard()),
            ("elasticsearch", elasticsearch.guard()),
        ];
        let in_flight: Vec<_> = (guards.iter())
            .map(|(backend, guard)| ([("backend", *backend)], guard.in_flight() as f64))
            .collect();
        let in_flight: Vec<_> = in_flight.iter().map(|(l, v)| (&l[..], *v)).collect();
        out.gauge(
            "ogrom_backend_calls_in_flight",
            "MySQL statements and Elasticsearch searches in flight (their bulkheads' slots).",
            &in_flight,
        );
        let mut states = Vec::new();
        for (backend, guard) in &guards {
            let state = guard.state();
            for (name, s) in [
                ("closed", BreakerState::Closed),
                ("open", BreakerState::Open),
                ("half_open", BreakerState::HalfOpen),
            ] {
                let value = if state == s { 1.0 } else { 0.0 };
                states.push(([("backend", *backend), ("state", name)], value));
            }
        }
        let states: Vec<_> = states.iter().map(|(l, v)| (&l[..], *v)).collect();
        out.gauge(
            "ogrom_backend_breaker_state",
            "The MySQL and Elasticsearch circuit breakers: 1 for the state each is in.",
            &states,
        );
        let (open, idle) = mysql.connections();
        let (open, idle) = (f64::from(open), idle as f64);
        out.gauge(
            "ogrom_mysql_pool_connections",
            "MySQL connections open, by state.",
            &[
                (&[("state", "idle")], idle),
                (&[("state", "in_use")], open - idle),
            ],
        );
        out.gauge(
            "ogrom_mysql_pool_max_connections",
            "Most MySQL connections the pool opens.",
            &[(&[], f64::from(mysql.max_connections()))],
        );
        out.gauge(
            "ogrom_partner_calls_in_flight",
            "Partner calls in flight (the bulkhead's slots taken).",
            &[(&[], partner.in_flight() as f64)],
        );
        let state = partner.breaker_state();
        let is = |s: BreakerState| if state == s { 1.0 } else { 0.0 };
        out.gauge(
            "ogrom_partner_breaker_state",
            "The partner circuit breaker: 1 for the state it is in.",
            &[
                (&[("state", "closed")], is(BreakerState::Closed)),
                (&[("state", "open")], is(BreakerState::Open)),
                (&[("state", "half_open")], is(BreakerState::HalfOpen)),
            ],
        );
        out.gauge(
            "ogrom_draining",
            "1 once shutdown began: unready, still serving.",
            &[(&[], if readiness.draining() { 1.0 } else { 0.0 })],
        );
    });
}

/// Counters of the log pipeline.
fn collect_logs(metrics: &Metrics, logs: Logs) {
    metrics.collect(move |out| {
        out.counter(
            "ogrom_log_lines_dropped_total",
            "Log lines dropped because the logstash queue was full.",
            &[(&[], logs.dropped() as f64)],
        );
        out.counter(
            "ogrom_log_console_lines_dropped_total",
            "Log lines dropped because stdout fell 4 MiB behind.",
            &[(&[], logs.console_dropped() as f64)],
        );
        out.counter(
            "ogrom_log_lines_shipped_total",
            "Log lines written to logstash.",
            &[(&[], logs.shipped() as f64)],
        );
        out.gauge(
            "ogrom_log_queue_lines",
            "Log lines waiting for logstash.",
            &[(&[], logs.queued() as f64)],
        );
        out.gauge(
            "ogrom_logstash_connected",
            "1 while connected to logstash (0 when not configured).",
            &[(&[], if logs.connected() { 1.0 } else { 0.0 })],
        );
    });
}

/// Serves the gateway on `listener` until `shutdown` completes, then shuts down gracefully
/// (see `serve_with`), without shipping logs anywhere. Taking the listener and the shutdown
/// signal from the caller lets tests bind port 0 and stop the server.
pub async fn serve(
    args: &ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(args, listener, shutdown, Logs::default()).await
}

/// Serves until `shutdown` completes, then: readiness fails at once while the gateway keeps
/// serving for the drain delay (load balancers notice and stop sending); then the listener
/// closes and requests in flight get up to the shutdown timeout to finish; then the pool
/// closes (`main` flushes the logs last). A rolling restart behind a load balancer loses
/// nothing.
pub async fn serve_with(
    args: &ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    logs: Logs,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let gateway = Gateway::build(args)?;
    collect_logs(&gateway.metrics, logs.clone());
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // No Nagle: an answer in parts is several writes, and the kernel would hold each part
    // after the first until the client acknowledged the one before (which a client delays
    // by up to 40 ms), the very wait that delivering in parts is for.
    let listener = listener.tap_io(|connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::warn!(message = "TCP_NODELAY not set on a connection", %error);
        }
    });
    let mut server = tokio::spawn(
        axum::serve(
            listener,
            gateway
                .router
                .clone()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .into_future(),
    );
    tracing::info!(
        message = "listening",
        %address,
        prefix = %args.path_prefix,
        startup_ms = millis(started.elapsed()),
    );
    tokio::spawn(report_ready(gateway.readiness.clone(), started));

    tokio::select! {
        result = &mut server => return server_ended(result),
        () = shutdown => {}
    }
    gateway.readiness.drain();
    let drain = Duration::from_millis(args.shutdown_drain_ms);
    tracing::info!(
        message = "draining: unready, still serving",
        drain_ms = args.shutdown_drain_ms,
        in_flight = gateway.metrics.in_flight(),
    );
    tokio::select! {
        result = &mut server => return server_ended(result),
        () = tokio::time::sleep(drain) => {}
    }

    let _ = stop.send(());
    tracing::info!(
        message = "no longer accepting; finishing requests in flight",
        in_flight = gateway.metrics.in_flight(),
    );
    let bound = Duration::from_millis(args.shutdown_timeout_ms);
    match tokio::time::timeout(bound, &mut server).await {
        Ok(result) => server_ended(result)?,
        Err(_) => {
            tracing::warn!(
                message = "requests still in flight at the shutdown timeout; exiting anyway",
                in_flight = gateway.metrics.in_flight(),
                timeout_ms = args.shutdown_timeout_ms,
            );
            server.abort();
        }
    }
    if tokio::time::timeout(Duration::from_secs(2), gateway.mysql.close())
        .await
        .is_err()
    {
        tracing::warn!(message = "MySQL connections did not close in time");
    }
    tracing::info!(message = "stopped", uptime_s = started.elapsed().as_secs());
    Ok(())
}

fn server_ended(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    result
        .context("the HTTP server task failed")?
        .context("the HTTP server failed")
}

/// Logs the time from start to the first moment the backends answered, and opens a first
/// MySQL connection on the way, so early requests do not pay for it.
async fn report_ready(readiness: Readiness, started: Instant) {
    loop {
        if readiness.draining() {
            return;
        }
        if readiness.is_ready().await {
            tracing::info!(message = "ready", ready_ms = millis(started.elapsed()));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!(message = "shutdown signal received");
}

pub(crate) async fn connect(args: &DatabaseArgs) -> anyhow::Result<MySqlPool> {
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(args.database_url.0.clone())
        .await
        .context("cannot connect to MySQL (OGROM_DATABASE_URL)")
}

async fn migrate(args: &DatabaseArgs) -> anyhow::Result<()> {
    let pool = connect(args).await?;
    MIGRATOR.run(&pool).await.context("migration failed")?;
    tracing::info!(
        message = "migrations applied",
        count = MIGRATOR.iter().count()
    );
    Ok(())
}

async fn seed(args: &SeedArgs) -> anyhow::Result<()> {
    let pool = connect(&args.database).await?;
    let size = seed::SeedSize::named(&args.size)
        .with_context(|| format!("unknown size {:?}", args.size))?;
    if args.if_empty {
        let products: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
            .fetch_one(&pool)
            .await
            .context("cannot count products: has `ogrom migrate` run?")?;
        if products > 0 {
            tracing::info!(message = "database already seeded; nothing to do", products);
            return Ok(());
        }
    }
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    seed::seed(&pool, size, args.seed, progress).await?;
    Ok(())
}
