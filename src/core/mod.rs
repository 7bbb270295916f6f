//! Core layer: the GraphQL API. Modules of types, resolvers and loaders that see only the
//! protocols, never a pool or a client. `build_schema` returns the API as a value; the HTTP
//! layer and the tests call `Api::execute`.
//!
//! Modules: `catalog` (products, brands, shops, categories), `search` (full-text search,
//! facets, similar products, autocomplete), `offers` (live partner prices and stock) and
//! `node` (Relay refetching).
//! Each module owns its loaders; `RequestData` builds them per request, so no cache or
//! viewer state outlives one operation.

pub mod batching;
pub mod catalog;
pub mod community;
pub mod connection;
pub mod cost;
mod document;
pub mod engine;
pub mod errors;
mod gate;
pub mod ids;
pub mod introspection;
pub mod node;
pub mod offers;
pub mod pagination;
pub mod schema;
pub mod search;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use tracing::Instrument;

use self::catalog::{CatalogLoaders, CatalogQuery};
use self::community::{CommunityLoaders, CommunityMutation, CommunityQuery};
use self::cost::CostTicket;
use self::errors::{ApiError, ApiResult};
use self::node::NodeQuery;
use self::offers::{OffersCache, RequestOffers};
use self::pagination::PageLimits;
use self::search::{SearchLoaders, SearchQuery};
use crate::observe::{Metrics, RequestStats};
use crate::protocols::auth::ViewerId;
use crate::protocols::community::CommunitySource;
use crate::protocols::offers::{CallContext, OfferSource};
use crate::protocols::search::SearchSource;
use crate::protocols::{CatalogSource, ProductColumns};

/// Everything the API reads from: one protocol implementation per kind of data. `run`
/// assembles it; tests assemble it from in-memory or real sources.
#[derive(Clone)]
pub struct Sources {
    pub catalog: Arc<dyn CatalogSource>,
    pub search: Arc<dyn SearchSource>,
    pub offers: Arc<dyn OfferSource>,
    pub community: Arc<dyn CommunitySource>,
}

/// Tunables of the API, from configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Page-size bounds for every connection.
    pub pages: PageLimits,
    /// How long a loader batch waits for more keys after its turn (see `batching`).
    pub loader_delay: Duration,
    /// Highest static cost an operation may have (connections multiply by page size).
    pub max_complexity: usize,
    /// Whether clients may introspect the schema (client teams generate code from it).
    pub introspection: bool,
    /// Whether validation errors suggest field names ("did you mean …").
    pub field_suggestions: bool,
    /// How long partner offers are served from cache.
    pub offers_cache_ttl: Duration,
    /// How old cached offers may be and still stand in (marked stale) when the partner fails.
    pub offers_stale_for: Duration,
    /// The whole time offers may take in one request, retries included.
    pub offers_budget: Duration,
    /// Which executor runs operations.
    pub executor: Executor,
}

/// Which executor runs an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executor {
    /// The planned engine (`engine`); what it does not plan runs on the reference executor.
    Planned,
    /// async-graphql's executor over the modules' resolvers.
    Reference,
}

impl Executor {
    /// The name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Executor::Planned => "planned",
            Executor::Reference => "reference",
        }
    }
}

/// An operation's outcome, ready to be written out.
pub struct Outcome {
    /// The `data` entry as JSON text (`null` when there is none).
    pub data: String,
    pub errors: Vec<async_graphql::ServerError>,
    pub extensions: std::collections::BTreeMap<String, async_graphql::Value>,
    /// The cache hints of the fields it selected.
    pub cache_control: async_graphql::CacheControl,
    /// Fields the answer holds, list items counted one by one (the actual cost).
    pub returned: u64,
}

impl Outcome {
    /// Whether `data` holds anything.
    pub fn has_data(&self) -> bool {
        self.data != "null"
    }

    fn from_response(response: async_graphql::Response) -> Self {
        Self {
            data: serde_json::to_string(&response.data).unwrap_or_else(|_| "null".to_owned()),
            returned: cost::returned_fields(&response.data),
            errors: response.errors,
            extensions: response.extensions,
            cache_control: response.cache_control,
        }
    }

    /// As async-graphql's response type, for tests and tools.
    pub fn into_response(self) -> async_graphql::Response {
        let data: async_graphql::Value = serde_json::from_str(&self.data).unwrap_or_default();
        let mut response = async_graphql::Response::new(data);
        response.errors = self.errors;
        response.extensions = self.extensions;
        response.cache_control = self.cache_control;
        response
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            pages: PageLimits::default(),
            loader_delay: Duration::ZERO,
            max_complexity: 20_000,
            introspection: true,
            field_suggestions: true,
            offers_cache_ttl: Duration::from_secs(30),
            offers_stale_for: Duration::from_secs(600),
            offers_budget: Duration::from_secs(2),
            executor: Executor::Planned,
        }
    }
}

/// A GraphQL module: its types and fields in SDL (`schema`), and how its fields resolve
/// (`register`). It may add fields to other modules' types.
pub struct Module {
    pub name: &'static str,
    pub sdl: &'static str,
    pub register: fn(&mut engine::Registry),
}

/// What every module builds on: the `Query` type, `Node`, `PageInfo` and `DateTime`.
const SHARED: Module = Module {
    name: "core",
    sdl: include_str!("schema.graphql"),
    register: connection::register_page_info,
};

/// The modules, in the order their types and fields are listed. Removing one's line
/// removes exactly its types and fields.
pub const MODULES: &[Module] = &[
    SHARED,
    catalog::MODULE,
    search::MODULE,
    community::MODULE,
    offers::MODULE,
    node::MODULE,
];

/// The modules' SDL, in order.
pub fn fragments() -> Vec<schema::Fragment> {
    MODULES
        .iter()
        .map(|m| schema::Fragment {
            module: m.name,
            sdl: m.sdl,
        })
        .collect()
}

/// The root query type: the modules' root fields merged.
#[derive(MergedObject, Default)]
pub struct Query(CatalogQuery, SearchQuery, CommunityQuery, NodeQuery);

/// The root mutation type: the modules' mutations merged.
#[derive(MergedObject, Default)]
pub struct Mutation(CommunityMutation);

/// The executable schema type.
pub type ApiSchema = Schema<Query, Mutation, EmptySubscription>;

/// The API as a value: the schema with its sources, executing one request at a time.
#[derive(Clone)]
pub struct Api {
    /// Executes operations; it has no extensions, so fields resolve directly.
    schema: ApiSchema,
    /// Notes, prices and refuses operations before they run (see `gate`).
    gate: ApiSchema,
    sources: Sources,
    config: ApiConfig,
    offers_cache: Arc<OffersCache>,
    /// The planned engine; `None` only if its registrations are inconsistent (logged).
    engine: Option<Arc<engine::Engine>>,
}

/// What the HTTP layer knows of a request that the API needs: when it must be answered by,
/// and the id that ties its log lines (and the partner's) together.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub deadline: std::time::Instant,
    pub request_id: Option<String>,
    /// The authenticated viewer; `None` for anonymous requests.
    pub viewer: Option<ViewerId>,
    /// Where the request's backend calls and loader batches are counted.
    pub stats: Arc<RequestStats>,
    /// Who pays for the operation's cost (none: only the maximum per operation applies).
    pub cost: Option<Arc<CostTicket>>,
}

pub(crate) fn schema_builder(
    config: &ApiConfig,
) -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    // No depth limit here: the HTTP layer measures depth before parsing goes further, with
    // introspection measured on its own terms (`http::document`), and async-graphql's limit
    // would count every `ofType` of the standard introspection query.
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription);
    let builder = if config.introspection {
        builder
    } else {
        builder.disable_introspection()
    };
    let builder = if config.field_suggestions {
        builder
    } else {
        builder.disable_suggestions()
    };
    builder.data(config.pages)
}

/// The schema that decides before execution (see `gate`): same types, never executes.
fn gate_schema(config: &ApiConfig) -> ApiSchema {
    schema_builder(config)
        .extension(gate::Gate {
            maximum: config.max_complexity,
        })
        .finish()
}

/// Builds the API over the given sources.
pub fn build_schema(sources: Sources, config: ApiConfig) -> Api {
    let schema = schema_builder(&config).data(sources.clone()).finish();
    let gate = gate_schema(&config);
    let offers_cache = Arc::new(OffersCache::new(
        config.offers_cache_ttl,
        config.offers_stale_for,
    ));
    let engine = match build_engine() {
        Ok(engine) => Some(Arc::new(engine)),
        Err(error) => {
            tracing::error!(message = "the planned engine is off: its registry is inconsistent", %error);
            None
        }
    };
    Api {
        schema,
        gate,
        sources,
        config,
        offers_cache,
        engine,
    }
}

/// The planned engine over every module's registrations.
pub fn build_engine() -> Result<engine::Engine, String> {
    let mut registry = engine::Registry::default();
    for module in MODULES {
        (module.register)(&mut registry);
    }
    engine::Engine::new::<Query, Mutation>(registry)
}

/// The schema's SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    schema_sdl(&schema_builder(&ApiConfig::default()).finish())
}

/// `schema`'s SDL with what introspection also says: `@specifiedBy` on custom scalars.
pub fn schema_sdl(schema: &ApiSchema) -> String {
    schema.sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

impl Api {
    /// Executes one GraphQL request with no deadline of its own (tests, tools).
    pub async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        let context = RequestContext {
            deadline: std::time::Instant::now() + Duration::from_secs(3600),
            request_id: None,
            viewer: None,
            stats: RequestStats::new(Metrics::default()),
            cost: None,
        };
        self.execute_with(request, context).await.into_response()
    }

    /// Executes one GraphQL request with fresh per-request loaders. Call it inside the
    /// request's tracing span: loaders log backend failures under it.
    pub async fn execute_with(
        &self,
        request: async_graphql::Request,
        context: RequestContext,
    ) -> Outcome {
        let stats = context.stats.clone();
        stats.scope(self.execute_in_scope(request, context)).await
    }

    /// `execute_with` inside the request's stats scope: loaders built here hand the scope to
    /// the tasks that run their batches.
    async fn execute_in_scope(
        &self,
        mut request: async_graphql::Request,
        context: RequestContext,
    ) -> Outcome {
        let span = tracing::Span::current();
        let stats = context.stats.clone();
        // The plan is found by the document's text; its document is read only to make it.
        let plan = match (&self.engine, self.config.executor) {
            (Some(engine), Executor::Planned) => plan(engine, &mut request),
            _ => None,
        };
        let mut outcome = match (&self.engine, plan) {
            (Some(engine), Some(plan)) => {
                // The gate takes the request itself: nothing reads its document after it.
                let variables = request.variables.clone();
                let gated = self.gate(request, &context, &span).await;
                if gated.is_err() {
                    return Outcome::from_response(gated);
                }
                stats.metrics().executed(Executor::Planned.name());
                let ctx = self.engine_context(&plan, &context, &span);
                let executed = engine
                    .execute(&plan, &variables, &ctx)
                    .instrument(span)
                    .await;
                Outcome {
                    data: executed.data,
                    errors: executed.errors,
                    extensions: Default::default(),
                    cache_control: gated.cache_control,
                    returned: executed.returned,
                }
            }
            _ => {
                let gated = self.gate(gate_request(&mut request), &context, &span).await;
                if gated.is_err() {
                    return Outcome::from_response(gated);
                }
                stats.metrics().executed(Executor::Reference.name());
                Outcome::from_response(self.execute_reference(request, context, span).await)
            }
        };
        if let Some(explain) = stats.explain()
            && let Ok(debug) = async_graphql::Value::from_json(explain.to_json())
        {
            outcome.extensions.insert("debug".to_owned(), debug);
        }
        outcome
    }

    /// Runs the gate (see `gate`) on `request`, charged to the request's ticket: an error
    /// answer when it refuses the operation, else the cache hints of its fields. Refused
    /// operations cost no loaders.
    async fn gate(
        &self,
        mut request: async_graphql::Request,
        context: &RequestContext,
        span: &tracing::Span,
    ) -> async_graphql::Response {
        if let Some(ticket) = context.cost.clone() {
            request = request.data(ticket);
        }
        self.gate.execute(request).instrument(span.clone()).await
    }

    /// The per-request loaders, scoped to the request's span and viewer; products by id
    /// read `product_columns`.
    fn loaders(
        &self,
        context: &RequestContext,
        span: &tracing::Span,
        product_columns: ProductColumns,
    ) -> RequestLoaders {
        let window = batching::Window::new(self.config.loader_delay);
        RequestLoaders {
            community: Arc::new(CommunityLoaders::new(
                &self.sources.community,
                context.viewer.map(|v| v.0),
                span,
                window,
            )),
            offers: offers::loader(
                &self.sources.offers,
                &self.offers_cache,
                CallContext {
                    deadline: offers::call_deadline(context.deadline, self.config.offers_budget),
                    request_id: context.request_id.clone(),
                },
                span,
                window,
            ),
            catalog: Arc::new(CatalogLoaders::reading(
                &self.sources.catalog,
                span,
                window,
                product_columns,
            )),
            search: Arc::new(SearchLoaders::new(&self.sources.search, span, window)),
        }
    }

    /// What the engine's resolvers reach: the loaders, the sources and the limits.
    fn engine_context(
        &self,
        plan: &engine::Plan,
        context: &RequestContext,
        span: &tracing::Span,
    ) -> engine::Ctx {
        let columns = catalog::product_columns(plan.fields_of("Product"));
        let loaders = self.loaders(context, span, columns);
        let mut ctx = engine::Ctx::default();
        ctx.insert(loaders.catalog);
        ctx.insert(loaders.community);
        ctx.insert(loaders.search);
        ctx.insert(RequestOffers::new(loaders.offers));
        ctx.insert(self.sources.clone());
        ctx.insert(self.config.pages);
        ctx
    }

    /// Runs a gated request on async-graphql's executor.
    async fn execute_reference(
        &self,
        mut request: async_graphql::Request,
        context: RequestContext,
        span: tracing::Span,
    ) -> async_graphql::Response {
        let loaders = self.loaders(&context, &span, ProductColumns::ALL);
        // Which answers to correct after execution (a look at the root fields; none for
        // an operation that does not read `__schema { description }`).
        let operation_name = request.operation_name.take();
        let descriptions = match request.parsed_query() {
            Ok(document) => introspection::schema_descriptions(document, operation_name.as_deref()),
            Err(_) => Vec::new(),
        };
        request.operation_name = operation_name;
        let request = request
            .data(loaders.catalog)
            .data(loaders.search)
            .data(loaders.community)
            .data(RequestOffers::new(loaders.offers));
        let mut response = self.schema.execute(request).instrument(span).await;
        introspection::clear_schema_descriptions(&descriptions, &mut response.data);
        response
    }

    /// The schema, for SDL and introspection.
    pub fn schema(&self) -> &ApiSchema {
        &self.schema
    }
}

/// The engine's plan of a request, if it plans it.
fn plan(
    engine: &engine::Engine,
    request: &mut async_graphql::Request,
) -> Option<Arc<engine::Plan>> {
    // Parsed now if it was not (the HTTP layer parses; tools and tests may not).
    request.parsed_query().ok()?;
    // The text, name and variables are read beside the parsed document, which needs the
    // request mutably: moved out, and back after.
    let query = std::mem::take(&mut request.query);
    let operation_name = request.operation_name.take();
    let variables = std::mem::take(&mut request.variables);
    let plan = match request.parsed_query() {
        Ok(document) => engine.plan(&query, document, operation_name.as_deref(), &variables),
        Err(_) => None,
    };
    request.query = query;
    request.operation_name = operation_name;
    request.variables = variables;
    plan
}

/// One request's loaders, of every module.
struct RequestLoaders {
    catalog: Arc<CatalogLoaders>,
    community: Arc<CommunityLoaders>,
    search: Arc<SearchLoaders>,
    offers: batching::Batcher<offers::OffersLoader>,
}

/// The gate's copy of `request`: the same document (parsed once), operation and variables.
fn gate_request(request: &mut async_graphql::Request) -> async_graphql::Request {
    let mut gate =
        async_graphql::Request::new(request.query.clone()).variables(request.variables.clone());
    gate.operation_name = request.operation_name.clone();
    gate.introspection_mode = request.introspection_mode;
    // A document that does not parse is left to the gate to report, as the schema would.
    if let Ok(document) = request.parsed_query() {
        gate.set_parsed_query(document.clone());
    }
    gate
}

/// Typed access to context data: a missing entry is an internal error, never a panic.
pub(crate) trait ContextExt {
    fn typed_data<T: std::any::Any + Send + Sync>(&self) -> ApiResult<&T>;
}

impl ContextExt for async_graphql::Context<'_> {
    fn typed_data<T: std::any::Any + Send + Sync>(&self) -> ApiResult<&T> {
        self.data::<T>().map_err(|_| {
            ApiError::Internal(format!(
                "{} missing from the request context",
                std::any::type_name::<T>()
            ))
        })
    }
}

#[cfg(test)]
mod tests;
