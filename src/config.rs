//! Configuration: one `clap` struct per subcommand, each field settable by flag or by
//! environment variable, documented here (this text is `--help`) and validated at start. A
//! bad value stops the process with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use elasticsearch::http::Url;
use sqlx::mysql::MySqlConnectOptions;

/// ogrom: a GraphQL gateway for a fashion shopping and styling site.
///
/// A flag given twice takes its last value, so wrappers can pass defaults that callers
/// override.
#[derive(Debug, Parser)]
#[command(name = "ogrom", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// Logging, the same for every subcommand.
    #[command(flatten)]
    pub log: LogArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// What the binary does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API over HTTP.
    Serve(Box<ServeArgs>),
    /// Apply the database migrations (idempotent).
    Migrate(DatabaseArgs),
    /// Fill a migrated, empty database with a generated catalog and community.
    Seed(SeedArgs),
    /// Build a new search index from MySQL and move the search alias to it.
    Index(IndexArgs),
    /// Mint a development token for a user (needs OGROM_JWT_HS256_SECRET).
    Token(TokenArgs),
    /// Serve a stand-in for the partner offers API, with injectable faults (development and
    /// tests only).
    PartnerStub(PartnerStubArgs),
    /// Print the GraphQL schema (SDL), as `schema.graphql` holds it; `schema diff` compares
    /// two schemas.
    Schema(SchemaArgs),
    /// Exit 0 when the server in this container answers its liveness check with HTTP 200,
    /// else 1 (the image's HEALTHCHECK: the image has no shell or curl).
    Healthcheck(HealthcheckArgs),
}

/// Logging.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format: `json` (one object a line, for log pipelines) or `text` (for people).
    #[arg(long, env = "OGROM_LOG_FORMAT", default_value = "json", global = true)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `ogrom=debug,sqlx=warn`.
    #[arg(long, env = "OGROM_LOG", default_value = "info", global = true)]
    pub log: String,
    /// The service name every JSON log line carries (`service.name`).
    #[arg(
        long,
        env = "OGROM_SERVICE_NAME",
        default_value = "ogrom",
        global = true
    )]
    pub service_name: String,
    /// Ship JSON log lines to logstash at this `host:port` (its `tcp` input with the
    /// `json_lines` codec), besides stdout. Unset: stdout only.
    #[arg(long, env = "OGROM_LOGSTASH_ADDR", global = true, value_parser = parse_host_port)]
    pub logstash_addr: Option<String>,
    /// Log lines held for logstash while it is slow or down; lines beyond are dropped (and
    /// counted), never waited for.
    #[arg(long, env = "OGROM_LOGSTASH_QUEUE", default_value_t = 10_000, global = true,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub logstash_queue: u32,
}

fn parse_host_port(value: &str) -> Result<String, String> {
    let valid = value.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(['/', ' ']) && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be host:port, e.g. logstash:5000".to_owned())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// JSON lines in the ecs-logging layout, for log pipelines.
    Json,
    /// Plain text lines, for reading in a terminal.
    Text,
}

/// Where the data of record lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// MySQL URL: mysql://user:password@host:port/database (a secret: never logged).
    #[arg(
        long,
        env = "OGROM_DATABASE_URL",
        default_value = "mysql://ogrom:ogrom@127.0.0.1:3306/ogrom",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = parse_database_url
    )]
    pub database_url: DatabaseUrl,
}

/// A MySQL URL, parsed; its `Debug` hides the password.
#[derive(Clone)]
pub struct DatabaseUrl(pub MySqlConnectOptions);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

fn parse_database_url(value: &str) -> Result<DatabaseUrl, String> {
    if !value.starts_with("mysql://") && !value.starts_with("mariadb://") {
        return Err("must start with mysql://".to_owned());
    }
    MySqlConnectOptions::from_str(value)
        .map(DatabaseUrl)
        .map_err(|_| "not a valid MySQL URL".to_owned())
}

/// Where search lives.
#[derive(Debug, Clone, Args)]
pub struct ElasticsearchArgs {
    /// Elasticsearch URL (a node or a load balancer in front of the cluster).
    #[arg(long, env = "OGROM_ELASTICSEARCH_URL", default_value = "http://127.0.0.1:9200",
        value_parser = parse_http_url)]
    pub elasticsearch_url: Url,
    /// How long one Elasticsearch request may take, in milliseconds.
    #[arg(long, env = "OGROM_ELASTICSEARCH_TIMEOUT_MS", default_value_t = 2000,
        value_parser = millis())]
    pub elasticsearch_timeout_ms: u64,
    /// The searches' breaker and bulkhead (see README.md, "Backends that hang").
    #[command(flatten)]
    pub elasticsearch_guard: ElasticsearchGuardArgs,
    /// The alias that searches read; `ogrom index` builds versioned indices behind it.
    #[arg(long, env = "OGROM_ELASTICSEARCH_INDEX", default_value = "products",
        value_parser = parse_index_name)]
    pub elasticsearch_index: String,
}

fn parse_index_name(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 100
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
        && !value.starts_with(['_', '-']);
    if valid {
        Ok(value.to_owned())
    } else {
        Err(
            "must be lowercase letters, digits, `_` and `-`, not starting with `_` or `-`"
                .to_owned(),
        )
    }
}

/// `ogrom index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The database the products are read from.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The cluster, and the alias that the new index goes behind.
    #[command(flatten)]
    pub elasticsearch: ElasticsearchArgs,
    /// Products read from MySQL and sent in one bulk request.
    #[arg(long, env = "OGROM_INDEX_BATCH_SIZE", default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// How many versioned indices to keep behind the alias (the live one included), so a
    /// bad build can be rolled back by moving the alias.
    #[arg(long, env = "OGROM_INDEX_KEEP", default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(1..=20))]
    pub keep: u32,
}

/// The partner offers API (a 3rd-party service: slow at times, rate-limited, sometimes down).
#[derive(Debug, Clone, Args)]
pub struct PartnerArgs {
    /// Base URL of the partner offers API.
    #[arg(long, env = "OGROM_PARTNER_URL", default_value = "http://127.0.0.1:8090",
        value_parser = parse_http_url)]
    pub partner_url: Url,
    /// The partner API key (a secret: never logged).
    #[arg(
        long,
        env = "OGROM_PARTNER_API_KEY",
        default_value = "dev-partner-key",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = secret
    )]
    pub partner_api_key: Secret,
    /// How long one call to the partner may take, in milliseconds.
    #[arg(long, env = "OGROM_PARTNER_TIMEOUT_MS", default_value_t = 800, value_parser = millis())]
    pub partner_timeout_ms: u64,
    /// The whole time offers may take in one request, retries included (never more than
    /// what is left of the request), in milliseconds.
    #[arg(long, env = "OGROM_PARTNER_DEADLINE_MS", default_value_t = crate::core::ApiConfig::default().offers_budget.as_millis() as u64, value_parser = millis())]
    pub partner_deadline_ms: u64,
    /// Retries of a failed call (timeouts and 5xx only), within the request's deadline.
    #[arg(long, env = "OGROM_PARTNER_RETRIES", default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(0..=10))]
    pub partner_retries: u32,
    /// Most partner calls in flight at once (a bulkhead: a slow partner cannot tie up the
    /// gateway); calls beyond it wait within their deadline, then fail.
    #[arg(long, env = "OGROM_PARTNER_MAX_IN_FLIGHT", default_value_t = 32,
        value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub partner_max_in_flight: u32,
    /// Consecutive failed calls that open the circuit breaker.
    #[arg(long, env = "OGROM_PARTNER_BREAKER_FAILURES", default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub partner_breaker_failures: u32,
    /// How long an open circuit waits before a probe call, in milliseconds.
    #[arg(long, env = "OGROM_PARTNER_BREAKER_OPEN_MS", default_value_t = 5000, value_parser = millis())]
    pub partner_breaker_open_ms: u64,
    /// How long a partner answer is served from cache, in milliseconds.
    #[arg(long, env = "OGROM_OFFERS_CACHE_TTL_MS", default_value_t = crate::core::ApiConfig::default().offers_cache_ttl.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub offers_cache_ttl_ms: u64,
    /// How old a cached answer may be and still be served (marked stale) when the partner
    /// fails, in milliseconds.
    #[arg(long, env = "OGROM_OFFERS_STALE_MS", default_value_t = crate::core::ApiConfig::default().offers_stale_for.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub offers_stale_ms: u64,
}

/// How viewers are authenticated: JWT bearer tokens, HS256 with a shared secret
/// (development) and/or RS256/ES256 with keys from a JWKS URL (production). With neither
/// configured, every request is anonymous and any token is refused.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Shared secret for HS256 tokens (development; a secret: never logged).
    #[arg(long, env = "OGROM_JWT_HS256_SECRET", hide_env_values = true, value_parser = secret)]
    pub jwt_hs256_secret: Option<Secret>,
    /// URL of the identity provider's JWKS, for RS256 and ES256 tokens.
    #[arg(long, env = "OGROM_JWT_JWKS_URL", value_parser = parse_http_url)]
    pub jwt_jwks_url: Option<Url>,
    /// Required `iss` claim.
    #[arg(long, env = "OGROM_JWT_ISSUER", default_value = "ogrom-dev")]
    pub jwt_issuer: String,
    /// Required `aud` claim.
    #[arg(long, env = "OGROM_JWT_AUDIENCE", default_value = "ogrom")]
    pub jwt_audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[arg(long, env = "OGROM_JWT_LEEWAY_S", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=600))]
    pub jwt_leeway_s: u64,
    /// How long fetched JWKS keys are trusted before they are fetched again, in seconds
    /// (an unknown `kid` also triggers a fetch, at most once a minute).
    #[arg(long, env = "OGROM_JWT_JWKS_TTL_S", default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub jwt_jwks_ttl_s: u64,
}

/// `ogrom token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The database the user's id is looked up in.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The HS256 secret, issuer and audience the token is signed for.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// The user the token identifies.
    #[arg(long)]
    pub user: String,
    /// How long the token is valid, in seconds.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub ttl_s: u64,
}

/// `ogrom schema`: without a subcommand, prints the SDL.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// What to do instead of printing the SDL (`diff`); `None`: print it.
    #[command(subcommand)]
    pub command: Option<SchemaCommand>,
}

/// What `ogrom schema` does besides printing the SDL.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Compare two schemas and classify each change as breaking, dangerous or safe for
    /// clients. Exits 1 when a change is breaking, 2 when a schema cannot be read.
    Diff(SchemaDiffArgs),
}

/// `ogrom schema diff`.
#[derive(Debug, Args)]
pub struct SchemaDiffArgs {
    /// The schema clients know: an SDL file, e.g. the released `schema.graphql`.
    pub old: PathBuf,
    /// The schema to compare with it: an SDL file. Without it, the schema of this binary.
    pub new: Option<PathBuf>,
}

/// A secret value (an API key, a signing secret): `secrecy`'s string, whose `Debug` never
/// shows it (so logging a config is safe) and whose memory is zeroed when it is dropped.
/// Read it with `secrecy::ExposeSecret::expose_secret`, in the one place that sends it.
pub type Secret = secrecy::SecretString;

/// A secret from the command line or the environment: anything but blank.
fn secret(value: &str) -> Result<Secret, String> {
    if value.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(Secret::from(value))
    }
}

/// `ogrom healthcheck`: GET `<OGROM_PATH_PREFIX>/health/live` on the port of OGROM_LISTEN,
/// over loopback. `--path /health --port 8090` checks `ogrom partner-stub` instead.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The address the server listens on: the check connects to its port, on loopback when
    /// it is a wildcard address (`0.0.0.0` or `::`).
    #[arg(long, env = "OGROM_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The server's route prefix: the path checked is `<prefix>/health/live`.
    #[arg(long, env = "OGROM_PATH_PREFIX", default_value = "", value_parser = parse_prefix)]
    pub path_prefix: String,
    /// The path to check instead, e.g. `/health` for `ogrom partner-stub`.
    #[arg(long, value_parser = parse_request_path)]
    pub path: Option<String>,
    /// The port to connect to instead of OGROM_LISTEN's, e.g. 8090 for `ogrom partner-stub`.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// How long the whole check may take (connect, request, status line), in milliseconds.
    #[arg(long, default_value_t = 2000, value_parser = millis())]
    pub timeout_ms: u64,
}

/// `ogrom partner-stub`.
#[derive(Debug, Args)]
pub struct PartnerStubArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "OGROM_PARTNER_STUB_LISTEN",
        default_value = "127.0.0.1:8090"
    )]
    pub listen: SocketAddr,
    /// The API key clients must send as a bearer token.
    #[arg(
        long,
        env = "OGROM_PARTNER_API_KEY",
        default_value = "dev-partner-key",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = secret
    )]
    pub api_key: Secret,
}

/// `ogrom seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The migrated database to fill.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// How much data: `test` (a small fixture), `demo`, or `bench` (100k products).
    #[arg(long, env = "OGROM_SEED_SIZE", default_value = "demo", value_parser = ["test", "demo", "bench"])]
    pub size: String,
    /// The generator's seed: the same seed gives the same data.
    #[arg(long, env = "OGROM_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Do nothing when the database already holds products, instead of failing.
    #[arg(long, env = "OGROM_SEED_IF_EMPTY")]
    pub if_empty: bool,
}

/// What clients may send and spend: limits checked before a document runs, cost budgets,
/// persisted queries, browser safety and load shedding. Every limit refuses with its own
/// `extensions.code`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest GraphQL document, in bytes.
    #[arg(long, env = "OGROM_MAX_DOCUMENT_BYTES", default_value_t = crate::http::document::DocumentLimits::default().max_bytes as u32,
        value_parser = clap::value_parser!(u32).range(256..=1_048_576))]
    pub max_document_bytes: u32,
    /// Most lexical tokens in a document.
    #[arg(long, env = "OGROM_MAX_TOKENS", default_value_t = crate::http::document::DocumentLimits::default().max_tokens as u32,
        value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    pub max_tokens: u32,
    /// Most brackets open at once in a document (bounds the parser's recursion).
    #[arg(long, env = "OGROM_MAX_NESTING", default_value_t = crate::http::document::DocumentLimits::default().max_nesting as u32,
        value_parser = clap::value_parser!(u32).range(4..=128))]
    pub max_nesting: u32,
    /// Deepest nesting of lists and objects inside an argument value or a variable.
    #[arg(long, env = "OGROM_MAX_VALUE_DEPTH", default_value_t = crate::http::document::DocumentLimits::default().max_value_depth as u32,
        value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_value_depth: u32,
    /// Deepest nesting of a `__schema` or `__type` field's subtree, `ofType` steps not
    /// counted (the standard introspection query needs 6). `OGROM_MAX_DEPTH` bounds the rest.
    #[arg(long, env = "OGROM_MAX_INTROSPECTION_DEPTH", default_value_t = crate::http::document::DocumentLimits::default().max_introspection_depth as u32,
        value_parser = clap::value_parser!(u32).range(2..=32))]
    pub max_introspection_depth: u32,
    /// Most fields an operation may expand to once fragments are spread.
    #[arg(long, env = "OGROM_MAX_FIELDS", default_value_t = crate::http::document::DocumentLimits::default().max_fields as u32,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_fields: u32,
    /// Most aliased fields in a document.
    #[arg(long, env = "OGROM_MAX_ALIASES", default_value_t = crate::http::document::DocumentLimits::default().max_aliases as u32,
        value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub max_aliases: u32,
    /// Most fields at the root of an operation.
    #[arg(long, env = "OGROM_MAX_ROOT_FIELDS", default_value_t = crate::http::document::DocumentLimits::default().max_root_fields as u32,
        value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_root_fields: u32,
    /// Most directives on one field or fragment.
    #[arg(long, env = "OGROM_MAX_DIRECTIVES", default_value_t = crate::http::document::DocumentLimits::default().max_directives as u32,
        value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_directives: u32,
    /// Most operations in one batched request (a JSON array of requests); 0 turns batching
    /// off. Each operation is checked, charged and logged on its own.
    #[arg(long, env = "OGROM_MAX_BATCH", default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_batch: u32,
    /// Most operations defined in one document.
    #[arg(long, env = "OGROM_MAX_OPERATIONS", default_value_t = crate::http::document::DocumentLimits::default().max_operations as u32,
        value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub max_operations: u32,
    /// Each client's cost budget, in points (0: no budgets). Budgets are per instance.
    #[arg(long, env = "OGROM_COST_BUDGET", default_value_t = 200_000,
        value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub cost_budget: u64,
    /// Points a client's budget regains each second.
    #[arg(long, env = "OGROM_COST_REFILL_PER_S", default_value_t = 20_000,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub cost_refill_per_s: u64,
    /// Header that trusted proxies write the client's address to, for anonymous budgets:
    /// `x-forwarded-for`, `forwarded` (RFC 7239) or a one-address header. Unset: the
    /// connection's peer address (no proxy in front).
    #[arg(long, env = "OGROM_CLIENT_ADDRESS_HEADER")]
    pub client_address_header: Option<String>,
    /// How many trusted proxies append to that header, from the gateway outwards: the
    /// client's address is the entry that many places from the right; what the client
    /// wrote further left is ignored.
    #[arg(long, env = "OGROM_TRUSTED_PROXY_HOPS", default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=16))]
    pub trusted_proxy_hops: u32,
    /// Requests served at once; more get 503 with `Retry-After` at once (load shedding).
    #[arg(long, env = "OGROM_MAX_CONCURRENT_REQUESTS", default_value_t = crate::http::MAX_CONCURRENT_REQUESTS as u32,
        value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent_requests: u32,
    /// Whether clients may introspect the schema (client teams generate code from it).
    #[arg(long, env = "OGROM_INTROSPECTION", default_value_t = true,
        action = clap::ArgAction::Set)]
    pub introspection: bool,
    /// Whether validation errors suggest field names ("did you mean …").
    #[arg(long, env = "OGROM_FIELD_SUGGESTIONS", default_value_t = true,
        action = clap::ArgAction::Set)]
    pub field_suggestions: bool,
    /// Refuse requests a browser could send cross-site without a preflight (GET, or a
    /// non-JSON body) unless they carry `x-apollo-operation-name`,
    /// `apollo-require-preflight` or `graphql-require-preflight`.
    #[arg(long, env = "OGROM_CSRF_PREVENTION", default_value_t = true,
        action = clap::ArgAction::Set)]
    pub csrf_prevention: bool,
    /// Origins browsers may call from (CORS), comma-separated, e.g.
    /// `https://www.example.com,https://admin.example.com`; empty: no cross-origin calls.
    #[arg(long, env = "OGROM_CORS_ORIGINS", default_value = "", value_parser = parse_origins)]
    pub cors_origins: Origins,
    /// Automatic persisted queries (Apollo's protocol): clients may send a query's SHA-256
    /// instead of its text once the gateway has seen it.
    #[arg(long, env = "OGROM_APQ", default_value_t = true, action = clap::ArgAction::Set)]
    pub apq: bool,
    /// Most queries remembered for automatic persisted queries.
    #[arg(long, env = "OGROM_APQ_CAPACITY", default_value_t = 10_000,
        value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub apq_capacity: u32,
    /// A persisted-query manifest (Apollo's format): when set, only its operations run.
    #[arg(long, env = "OGROM_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<std::path::PathBuf>,
    /// The secret a request sends in the `ogrom-debug` header to get `extensions.debug`
    /// (loader batches, SQL, Elasticsearch and partner calls, timings). Unset: no request
    /// gets it.
    #[arg(long, env = "OGROM_DEBUG_SECRET", hide_env_values = true)]
    pub debug_secret: Option<String>,
}

/// Allowed CORS origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(pub Vec<String>);

fn parse_origins(value: &str) -> Result<Origins, String> {
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let url = Url::parse(origin).map_err(|_| format!("{origin:?} is not an origin"))?;
        let plain = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.path() == "/"
            && !origin.ends_with('/')
            && url.query().is_none();
        if !plain {
            return Err(format!(
                "{origin:?} is not an origin like https://www.example.com"
            ));
        }
        origins.push(origin.to_owned());
    }
    Ok(Origins(origins))
}

/// `ogrom serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "OGROM_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Serve every route under this prefix (e.g. `/api/v2`); empty for the root.
    #[arg(long, env = "OGROM_PATH_PREFIX", default_value = "", value_parser = parse_prefix)]
    pub path_prefix: String,
    /// Threads that serve requests. Unset: one a core the process may use (its CPU quota,
    /// else the machine's cores). A request spends less CPU on one thread than on several,
    /// which hand its tasks and wake-ups to each other (a home feed: about 15% less,
    /// `bench/suite.sh`), so a deployment scales out by instances of one core each.
    #[arg(long, env = "OGROM_WORKER_THREADS",
        value_parser = clap::value_parser!(u16).range(1..=256))]
    pub worker_threads: Option<u16>,

    /// The MySQL database of record (catalog and community).
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Most MySQL connections the pool opens.
    #[arg(long, env = "OGROM_MYSQL_MAX_CONNECTIONS", default_value_t = crate::sources::mysql::MySqlSettings::default().max_connections,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub mysql_max_connections: u32,
    /// How long a query waits for a MySQL connection, in milliseconds.
    #[arg(long, env = "OGROM_MYSQL_ACQUIRE_TIMEOUT_MS", default_value_t = crate::sources::mysql::MySqlSettings::default().acquire_timeout.as_millis() as u64,
        value_parser = millis())]
    pub mysql_acquire_timeout_ms: u64,
    /// How long one SQL statement may run, in milliseconds.
    #[arg(long, env = "OGROM_MYSQL_STATEMENT_TIMEOUT_MS", default_value_t = crate::sources::mysql::MySqlSettings::default().statement_timeout.as_millis() as u64,
        value_parser = millis())]
    pub mysql_statement_timeout_ms: u64,
    /// The statements' breaker and bulkhead (see README.md, "Backends that hang").
    #[command(flatten)]
    pub mysql_guard: MySqlGuardArgs,

    /// The cluster and alias that searches read.
    #[command(flatten)]
    pub elasticsearch: ElasticsearchArgs,

    /// The partner offers API, and how its calls are bounded, retried and cached.
    #[command(flatten)]
    pub partner: PartnerArgs,

    /// How bearer tokens are checked.
    #[command(flatten)]
    pub auth: AuthArgs,

    /// What clients may send and spend.
    #[command(flatten)]
    pub limits: LimitArgs,

    /// The state replicas share, when they do.
    #[command(flatten)]
    pub redis: RedisArgs,

    /// Page size of a connection when the client gives no `first`.
    #[arg(long, env = "OGROM_DEFAULT_PAGE_SIZE", default_value_t = crate::core::pagination::PageLimits::default().default_size,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub default_page_size: u32,
    /// Largest `first` a client may ask for on any connection.
    #[arg(long, env = "OGROM_MAX_PAGE_SIZE", default_value_t = crate::core::pagination::PageLimits::default().max_size,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_page_size: u32,
    /// Deepest selection nesting a query may have.
    #[arg(long, env = "OGROM_MAX_DEPTH", default_value_t = crate::http::document::DocumentLimits::default().max_depth as u32,
        value_parser = clap::value_parser!(u32).range(2..=64))]
    pub max_depth: u32,
    /// Highest requested cost an operation may have, in points (every field 1 unless its
    /// module declares more; a connection or list multiplies by its page size).
    #[arg(long, env = "OGROM_MAX_COMPLEXITY", default_value_t = crate::core::MAX_COMPLEXITY as u32,
        value_parser = clap::value_parser!(u32).range(10..=1_000_000_000))]
    pub max_complexity: u32,
    /// How long a loader batch waits for more keys after the turn of the request in which
    /// it opened, in microseconds; 0: the turn alone (see README.md, "Batching").
    #[arg(long, env = "OGROM_LOADER_DELAY_US", default_value_t = crate::core::ApiConfig::default().loader_delay.as_micros() as u64,
        value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub loader_delay_us: u64,
    /// Memory for whole responses to anonymous queries, kept as long as the schema's cache
    /// hints allow, in MiB; 0 (the default): none kept (see README.md, "Response cache").
    #[arg(long, env = "OGROM_RESPONSE_CACHE_MB", default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(0..=4096))]
    pub response_cache_mb: u32,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "OGROM_MAX_BODY_BYTES", default_value_t = crate::http::HttpLimits::default().max_body_bytes as u32,
        value_parser = clap::value_parser!(u32).range(1024..=16_777_216))]
    pub max_body_bytes: u32,
    /// Longest time one GraphQL request may take, in milliseconds.
    #[arg(long, env = "OGROM_REQUEST_TIMEOUT_MS", default_value_t = crate::http::HttpLimits::default().request_timeout.as_millis() as u64,
        value_parser = millis())]
    pub request_timeout_ms: u64,
    /// How long each readiness probe of a backend may take, in milliseconds.
    #[arg(long, env = "OGROM_READINESS_TIMEOUT_MS", default_value_t = 1000,
        value_parser = millis())]
    pub readiness_timeout_ms: u64,
    /// How long a readiness result is reused, in milliseconds.
    #[arg(long, env = "OGROM_READINESS_CACHE_MS", default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub readiness_cache_ms: u64,
    /// Export traces over OTLP/HTTP (JSON) to this collector, e.g. `http://collector:4318`
    /// (spans go to `<url>/v1/traces`). Unset: no export; trace ids still reach logs,
    /// errors and backends.
    #[arg(long, env = "OGROM_OTLP_ENDPOINT", value_parser = parse_http_url)]
    pub otlp_endpoint: Option<Url>,
    /// After SIGTERM: how long the gateway reports unready but keeps serving, so load
    /// balancers stop sending before it stops accepting, in milliseconds.
    #[arg(long, env = "OGROM_SHUTDOWN_DRAIN_MS", default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub shutdown_drain_ms: u64,
    /// After the drain: how long requests in flight may take to finish before the process
    /// exits anyway, in milliseconds.
    #[arg(long, env = "OGROM_SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000,
        value_parser = millis())]
    pub shutdown_timeout_ms: u64,
}

impl ServeArgs {
    /// Checks that depend on more than one value.
    pub fn validate(&self) -> Result<(), String> {
        if self.limits.cost_budget > 0 && u64::from(self.max_complexity) > self.limits.cost_budget {
            return Err(format!(
                "OGROM_MAX_COMPLEXITY ({}) is above OGROM_COST_BUDGET ({}): such an operation \
                 could never be paid for",
                self.max_complexity, self.limits.cost_budget
            ));
        }
        if self.default_page_size > self.max_page_size {
            return Err(format!(
                "OGROM_DEFAULT_PAGE_SIZE ({}) is above OGROM_MAX_PAGE_SIZE ({})",
                self.default_page_size, self.max_page_size
            ));
        }
        Ok(())
    }

    /// A setting given in milliseconds, as a `Duration`.
    pub fn duration(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }
}

/// A breaker and bulkhead around Elasticsearch's searches.
#[derive(Debug, Clone, Args)]
pub struct ElasticsearchGuardArgs {
    /// Consecutive timed-out or unreachable searches that open the circuit breaker.
    #[arg(long, env = "OGROM_ELASTICSEARCH_BREAKER_FAILURES",
        default_value_t = crate::sources::elasticsearch::GUARD.failures,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub elasticsearch_breaker_failures: u32,
    /// How long an open circuit fails searches at once before a probe, in milliseconds.
    #[arg(long, env = "OGROM_ELASTICSEARCH_BREAKER_OPEN_MS",
        default_value_t = crate::sources::elasticsearch::GUARD.open_for.as_millis() as u64,
        value_parser = millis())]
    pub elasticsearch_breaker_open_ms: u64,
    /// Most searches in flight at once; more fail at once (a bulkhead).
    #[arg(long, env = "OGROM_ELASTICSEARCH_MAX_IN_FLIGHT",
        default_value_t = crate::sources::elasticsearch::GUARD.max_in_flight as u32,
        value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub elasticsearch_max_in_flight: u32,
}

impl ElasticsearchGuardArgs {
    /// These values as the Elasticsearch guard takes them.
    pub fn settings(&self) -> crate::sources::breaker::GuardSettings {
        crate::sources::breaker::GuardSettings {
            failures: self.elasticsearch_breaker_failures,
            open_for: std::time::Duration::from_millis(self.elasticsearch_breaker_open_ms),
            max_in_flight: self.elasticsearch_max_in_flight as usize,
        }
    }
}

/// A breaker and bulkhead around MySQL's statements.
#[derive(Debug, Clone, Args)]
pub struct MySqlGuardArgs {
    /// Consecutive timed-out statements or refused connections that open the breaker.
    #[arg(long, env = "OGROM_MYSQL_BREAKER_FAILURES",
        default_value_t = crate::sources::mysql::GUARD.failures,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub mysql_breaker_failures: u32,
    /// How long an open circuit fails statements at once before a probe, in milliseconds.
    #[arg(long, env = "OGROM_MYSQL_BREAKER_OPEN_MS",
        default_value_t = crate::sources::mysql::GUARD.open_for.as_millis() as u64,
        value_parser = millis())]
    pub mysql_breaker_open_ms: u64,
    /// Most statements in flight or waiting for a connection; more fail at once.
    #[arg(long, env = "OGROM_MYSQL_MAX_IN_FLIGHT",
        default_value_t = crate::sources::mysql::GUARD.max_in_flight as u32,
        value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub mysql_max_in_flight: u32,
}

impl MySqlGuardArgs {
    /// These values as the MySQL guard takes them.
    pub fn settings(&self) -> crate::sources::breaker::GuardSettings {
        crate::sources::breaker::GuardSettings {
            failures: self.mysql_breaker_failures,
            open_for: std::time::Duration::from_millis(self.mysql_breaker_open_ms),
            max_in_flight: self.mysql_max_in_flight as usize,
        }
    }
}

/// Redis, where replicas share state (see README.md, "Replicas").
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// Redis where the replicas share cost budgets, APQ registrations, the response cache
    /// (and its invalidation on writes) and partner offers, e.g. `redis://127.0.0.1:6379`
    /// (`redis://:password@host:port/db`). Unset: each instance keeps its own. Redis slow or
    /// down fails no request: budgets are then counted per instance, caches miss.
    #[arg(long, env = "OGROM_REDIS_URL", hide_env_values = true, value_parser = redis_url)]
    pub redis_url: Option<Secret>,
    /// Put before every Redis key, so that several gateways can share one Redis apart.
    #[arg(long, env = "OGROM_REDIS_PREFIX", default_value = "ogrom:")]
    pub redis_prefix: String,
    /// Longest one Redis call may take, connecting included, in milliseconds; past it the
    /// request goes on without Redis.
    #[arg(long, env = "OGROM_REDIS_TIMEOUT_MS", default_value_t = 50, value_parser = millis())]
    pub redis_timeout_ms: u64,
    /// Consecutive timed-out or failed Redis calls that open its circuit breaker.
    #[arg(long, env = "OGROM_REDIS_BREAKER_FAILURES",
        default_value_t = crate::sources::redis::GUARD.failures,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub redis_breaker_failures: u32,
    /// How long an open circuit skips Redis before a probe, in milliseconds.
    #[arg(long, env = "OGROM_REDIS_BREAKER_OPEN_MS",
        default_value_t = crate::sources::redis::GUARD.open_for.as_millis() as u64,
        value_parser = millis())]
    pub redis_breaker_open_ms: u64,
    /// Most Redis calls in flight at once; more skip Redis (a bulkhead).
    #[arg(long, env = "OGROM_REDIS_MAX_IN_FLIGHT",
        default_value_t = crate::sources::redis::GUARD.max_in_flight as u32,
        value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub redis_max_in_flight: u32,
    /// How long Redis keeps an APQ registration, in seconds.
    #[arg(long, env = "OGROM_REDIS_APQ_TTL_S", default_value_t = 86_400,
        value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub redis_apq_ttl_s: u64,
}

impl RedisArgs {
    /// The breaker and bulkhead around Redis calls.
    pub fn guard(&self) -> crate::sources::breaker::GuardSettings {
        crate::sources::breaker::GuardSettings {
            failures: self.redis_breaker_failures,
            open_for: std::time::Duration::from_millis(self.redis_breaker_open_ms),
            max_in_flight: self.redis_max_in_flight as usize,
        }
    }
}

/// A Redis URL: `redis://` (TLS is not built in; a `rediss://` URL is refused rather than
/// sent in the clear). Never echoed: it may hold a password.
fn redis_url(value: &str) -> Result<Secret, String> {
    let url = Url::parse(value).map_err(|_| "must be a redis:// URL".to_owned())?;
    if url.scheme() == "redis" && url.host().is_some() {
        Ok(Secret::from(value))
    } else {
        Err("must be a redis:// URL with a host".to_owned())
    }
}

/// Durations in milliseconds: at least 1, at most 10 minutes.
fn millis() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=600_000)
}

/// Where `ogrom serve` listens, and so where `ogrom healthcheck` looks, unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// A path to put in an HTTP request line: no spaces or control characters to end it early.
fn parse_request_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value.to_owned())
    } else {
        Err("must start with a slash and hold no spaces, e.g. /health".to_owned())
    }
}

fn parse_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let valid = value.starts_with('/')
        && !value.ends_with('/')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
        && !value.contains("//");
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must look like /api/v2: a leading slash, no trailing slash".to_owned())
    }
}

fn parse_http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| e.to_string())?;
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        Ok(url)
    } else {
        Err("must be an http:// or https:// URL".to_owned())
    }
}

impl Cli {
    /// Parses flags and environment; on a bad value, prints which flag and which
    /// environment variable it came from, and exits with status 2.
    pub fn parse_or_exit() -> Self {
        Self::try_parse_from_env().unwrap_or_else(|error| error.exit())
    }

    /// Like `parse_or_exit`, returning the error (for tests).
    pub fn try_parse_from_env() -> Result<Self, clap::Error> {
        let cli = Self::try_parse().map_err(name_environment_variable)?;
        if let Command::Serve(args) = &cli.command
            && let Err(message) = args.validate()
        {
            return Err(Self::command().error(ErrorKind::ValueValidation, message));
        }
        Ok(cli)
    }
}

/// Clap names the flag of a bad value; add the environment variable when that is where the
/// value came from (it is what an operator set), and never echo the value of a secret.
fn name_environment_variable(error: clap::Error) -> clap::Error {
    if !matches!(
        error.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return error;
    }
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg).cloned() else {
        return error;
    };
    let long = flag
        .trim_start_matches("--")
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .to_owned();
    let command = Cli::command();
    let Some(arg) = std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long.as_str()))
    else {
        return error;
    };
    let secret = arg.is_hide_env_values_set();
    let env = arg
        .get_env()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| std::env::var_os(e).is_some());
    if env.is_none() && !secret {
        return error;
    }
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) if !secret => format!(" {value:?}"),
        _ => String::new(),
    };
    let origin = env
        .map(|e| format!(" (set by the environment variable {e})"))
        .unwrap_or_default();
    let reason = std::error::Error::source(&error)
        .map(|source| source.to_string())
        .unwrap_or_else(|| "not one of the accepted values".to_owned());
    Cli::command().error(
        ErrorKind::ValueValidation,
        format!("invalid value{value} for --{long}{origin}: {reason}"),
    )
}
