//! Core layer: the GraphQL API. Modules of SDL, resolvers and loaders that see only the
//! protocols, never a pool or a client, and the engine that runs them. `build_schema`
//! returns the API as a value; the HTTP layer and the tests call `Api::execute`.
//!
//! Modules (`MODULES`, one line each): `catalog` (products, brands, shops, categories),
//! `search` (full-text search, facets, similar products, autocomplete), `community` (users,
//! collages, likes), `offers` (live partner prices and stock) and `node` (Relay refetching).
//! Each module declares its types in SDL (`schema`), registers how its fields resolve
//! (`engine::Registry`) and builds its loaders per request (`Module::prepare`), so no cache
//! or viewer state outlives one operation.

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
pub mod incremental;
pub mod introspection;
pub mod node;
pub mod offers;
pub mod pagination;
pub mod schema;
pub mod search;
pub mod tags;
pub mod usage;
mod variables;

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use self::cost::CostTicket;
use self::errors::ApiError;
use self::pagination::PageLimits;
use crate::observe::request::Fields;
use crate::observe::{Metrics, RequestStats};
use crate::protocols::CatalogSource;
use crate::protocols::auth::ViewerId;
use crate::protocols::community::CommunitySource;
use crate::protocols::offers::OfferSource;
use crate::protocols::search::SearchSource;

/// Everything the API reads from: one protocol implementation per kind of data. `run`
/// assembles it; tests assemble it from in-memory or real sources.
#[derive(Clone)]
pub struct Sources {
    /// Brands, shops, categories and products.
    pub catalog: Arc<dyn CatalogSource>,
    /// Product search, similar products and autocomplete.
    pub search: Arc<dyn SearchSource>,
    /// Live prices and stock from the partner API.
    pub offers: Arc<dyn OfferSource>,
    /// Users, collages and likes, and their writes.
    pub community: Arc<dyn CommunitySource>,
}

/// The highest cost an operation may have unless configured (`OGROM_MAX_COMPLEXITY`).
pub const MAX_COMPLEXITY: usize = 20_000;

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
    /// Where the replicas share the offers they fetched, when they do.
    pub shared_store: Option<Arc<dyn crate::protocols::shared::SharedStore>>,
}

/// An operation's outcome, ready to be written out.
pub struct Outcome {
    /// The `data` entry as JSON text (`null` when there is none).
    pub data: String,
    /// The errors, each at its path when it has one.
    pub errors: Vec<async_graphql::ServerError>,
    /// The response's `extensions` entries (`debug`; the HTTP layer adds `cost`).
    pub extensions: std::collections::BTreeMap<String, async_graphql::Value>,
    /// The cache hints of the fields it selected.
    pub cache_control: async_graphql::CacheControl,
    /// The actual cost: the fields the answer holds, each its weight, list items one by one.
    pub returned: u64,
    /// The tagged objects the answer holds (see `tags`): what a cached copy depends on.
    pub tags: Vec<tags::Tag>,
    /// The objects its writes changed: the cached answers holding them are out of date.
    pub changed: Vec<tags::Tag>,
}

impl Outcome {
    /// Whether `data` holds anything.
    pub fn has_data(&self) -> bool {
        self.data != "null"
    }

    /// The outcome of what the engine executed; `changed`: what its writes changed.
    fn executed(
        executed: engine::Executed,
        cache_control: async_graphql::CacheControl,
        changed: Vec<tags::Tag>,
    ) -> Self {
        Self {
            data: executed.data,
            errors: executed.errors,
            extensions: Default::default(),
            cache_control,
            returned: executed.returned,
            tags: executed.tags,
            changed,
        }
    }

    fn from_response(response: async_graphql::Response) -> Self {
        Self {
            data: serde_json::to_string(&response.data).unwrap_or_else(|_| "null".to_owned()),
            returned: cost::returned_fields(&response.data),
            errors: response.errors,
            extensions: response.extensions,
            cache_control: response.cache_control,
            tags: Vec::new(),
            changed: Vec::new(),
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
            max_complexity: MAX_COMPLEXITY,
            introspection: true,
            field_suggestions: true,
            offers_cache_ttl: Duration::from_secs(30),
            offers_stale_for: Duration::from_secs(600),
            offers_budget: Duration::from_secs(2),
            shared_store: None,
        }
    }
}

/// A GraphQL module: its types and fields in SDL (`sdl`), how its fields resolve
/// (`register`), what it keeps across requests (`start`) and what its resolvers reach in
/// one request (`prepare`: its loaders). It may add fields to other modules' types.
#[derive(Clone, Copy)]
pub struct Module {
    /// The module's short name, as schema errors name it.
    pub name: &'static str,
    /// The types and fields the module declares, in SDL.
    pub sdl: &'static str,
    /// Registers how the module's fields resolve.
    pub register: fn(&mut engine::Registry),
    /// Adds what the module keeps across requests (a cache) to the API's shared context.
    pub start: fn(&ApiConfig, &mut engine::Ctx),
    /// Adds the module's per-request dependencies to a request's context.
    pub prepare: fn(&Prepare<'_>, &mut engine::Ctx),
}

/// What a module's per-request dependencies are made from.
pub struct Prepare<'a> {
    /// The backends the loaders read from.
    pub sources: &'a Sources,
    /// The API's tunables.
    pub config: &'a ApiConfig,
    /// The request being served: its deadline, id, viewer and stats.
    pub request: &'a RequestContext,
    /// What the modules keep across requests (see `Module::start`).
    pub shared: &'a engine::Ctx,
    /// The operation about to run, so loaders read only what it shows.
    pub plan: &'a engine::Plan,
    /// The request's span: loaders log backend failures under it.
    pub span: &'a tracing::Span,
    /// How the request's loaders gather keys into batches.
    pub window: batching::Window,
}

impl Module {
    /// For modules that keep nothing across requests.
    pub fn keeps_nothing(_: &ApiConfig, _: &mut engine::Ctx) {}
}

/// What every module builds on: the `Query` type, `Node`, `PageInfo` and `DateTime`.
const SHARED: Module = Module {
    name: "core",
    sdl: include_str!("schema.graphql"),
    register: connection::register_page_info,
    start: Module::keeps_nothing,
    prepare: |prepare, ctx| {
        ctx.insert(prepare.sources.clone());
        ctx.insert(prepare.config.pages);
    },
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

/// The SDL of `modules`, in order.
fn fragments(modules: &[Module]) -> Vec<schema::Fragment> {
    modules
        .iter()
        .map(|m| schema::Fragment {
            module: m.name,
            sdl: m.sdl,
        })
        .collect()
}

/// The API as a value: the schema with its sources, executing one request at a time.
#[derive(Clone)]
pub struct Api {
    /// Parses and validates operations, notes, prices and refuses them (see `gate`), and
    /// answers introspection.
    gate: async_graphql::dynamic::Schema,
    sources: Sources,
    config: ApiConfig,
    /// What the modules keep across requests (see `Module::start`).
    shared: Arc<engine::Ctx>,
    /// Executes operations.
    engine: Arc<engine::Engine>,
}

/// What the HTTP layer knows of a request that the API needs: when it must be answered by,
/// and the id that ties its log lines (and the partner's) together.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// When the request must be answered by; calls to the partner never run past it.
    pub deadline: std::time::Instant,
    /// The request's id (`x-request-id`), forwarded to the partner with its calls.
    pub request_id: Option<String>,
    /// The authenticated viewer; `None` for anonymous requests.
    pub viewer: Option<ViewerId>,
    /// Where the request's backend calls and loader batches are counted.
    pub stats: Arc<RequestStats>,
    /// Who pays for the operation's cost (none: only the maximum per operation applies).
    pub cost: Option<Arc<CostTicket>>,
    /// Whether the answer may be kept by the response cache, so its `tags` are wanted;
    /// otherwise the engine does not note them.
    pub tagged: bool,
}

/// The schema `modules` declare, with the gate (see `gate`) and `config`'s limits.
fn declared_schema(
    modules: &[Module],
    config: &ApiConfig,
) -> Result<(async_graphql::dynamic::Schema, schema::Hints), String> {
    // No depth limit here: the HTTP layer measures depth before parsing goes further, with
    // introspection measured on its own terms (`http::document`), and async-graphql's limit
    // would count every `ofType` of the standard introspection query.
    let (builder, hints) = schema::build(&fragments(modules))?;
    let builder = builder.extension(gate::Gate {
        maximum: config.max_complexity,
    });
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
    let schema = builder
        .finish()
        .map_err(|e| format!("the declared schema: {}", e.0))?;
    Ok((schema, hints))
}

/// Builds the API over the given sources. Fails when the modules' SDL and their
/// registrations disagree: a mistake in the code, which the tests catch.
pub fn build_schema(sources: Sources, config: ApiConfig) -> Result<Api, String> {
    let (gate, hints) = declared_schema(MODULES, &config)?;
    let engine = build_engine(MODULES, gate.clone(), hints)?;
    let mut shared = engine::Ctx::default();
    for module in MODULES {
        (module.start)(&config, &mut shared);
    }
    Ok(Api {
        gate,
        sources,
        config,
        shared: Arc::new(shared),
        engine: Arc::new(engine),
    })
}

/// The engine over the registrations of `modules`, for `schema`.
fn build_engine(
    modules: &[Module],
    schema: async_graphql::dynamic::Schema,
    hints: schema::Hints,
) -> Result<engine::Engine, String> {
    let mut registry = engine::Registry::default();
    for module in modules {
        (module.register)(&mut registry);
    }
    engine::Engine::new(registry, schema, hints)
}

/// The schema's SDL, as `schema.graphql` holds it.
pub fn sdl() -> Result<String, String> {
    let (schema, _) = declared_schema(MODULES, &ApiConfig::default())?;
    Ok(schema_sdl(&schema))
}

/// `schema`'s SDL with what introspection also says (`@specifiedBy` on custom scalars) and
/// the cost directives its fields apply, defined before the schema definition.
pub fn schema_sdl(schema: &async_graphql::dynamic::Schema) -> String {
    let mut sdl =
        schema.sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by());
    let at = sdl.rfind("\nschema {").map_or(sdl.len(), |at| at + 1);
    sdl.insert_str(at, incremental::DIRECTIVES_SDL);
    sdl.insert_str(at, schema::COST_DIRECTIVES);
    sdl
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
            tagged: false,
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
        request: async_graphql::Request,
        context: RequestContext,
    ) -> Outcome {
        match self.start(request, &context, false).await {
            Ok(started) => self.whole(started, &context).await,
            Err(refused) => refused,
        }
    }

    /// Runs a started operation and answers it whole.
    async fn whole(&self, started: Started, context: &RequestContext) -> Outcome {
        let Started {
            plan,
            ctx,
            variables,
            cache_control,
            span,
        } = started;
        let executed = self
            .engine
            .execute(&plan, &variables, &ctx, context.tagged)
            .instrument(span)
            .await;
        let changed = (ctx.data::<tags::Changed>()).map(tags::Changed::take);
        let mut outcome = Outcome::executed(executed, cache_control, changed.unwrap_or_default());
        explain(context, &mut outcome.extensions);
        outcome
    }

    /// Executes one GraphQL request delivering its answer in parts (`@defer`, `@stream`) to
    /// `deliver`: the first part as soon as everything not deferred is resolved, each later
    /// one as its deferred fields resolve, the last with `has_next` false. An operation
    /// without deferred fields is delivered whole, as its first part. The deadline covers
    /// every part. Call it inside the request's tracing span, as `execute_with`.
    pub async fn execute_in_parts(
        &self,
        request: async_graphql::Request,
        context: RequestContext,
        deliver: &mut (dyn FnMut(Delivered) + Send),
    ) {
        let stats = context.stats.clone();
        stats
            .scope(self.execute_in_parts_in_scope(request, context, deliver))
            .await
    }

    async fn execute_in_parts_in_scope(
        &self,
        request: async_graphql::Request,
        context: RequestContext,
        deliver: &mut (dyn FnMut(Delivered) + Send),
    ) {
        let started = match self.start(request, &context, true).await {
            Ok(started) if !started.plan.incremental() => {
                return deliver(Delivered::First(self.whole(started, &context).await, false));
            }
            Ok(started) => started,
            Err(refused) => return deliver(Delivered::First(refused, false)),
        };
        let Started {
            plan,
            ctx,
            variables,
            cache_control,
            span,
        } = started;
        let deadline = tokio::time::Instant::from_std(context.deadline);
        let mut relay = |part: engine::Part| match part {
            engine::Part::First(executed, has_next) => {
                let mut outcome = Outcome::executed(executed, cache_control, Vec::new());
                if !has_next {
                    explain(&context, &mut outcome.extensions);
                }
                deliver(Delivered::First(outcome, has_next))
            }
            engine::Part::Next {
                entries,
                returned,
                has_next,
            } => {
                let mut next = Next {
                    entries,
                    returned,
                    has_next,
                    extensions: Default::default(),
                };
                if !has_next {
                    explain(&context, &mut next.extensions);
                }
                deliver(Delivered::Next(next))
            }
        };
        self.engine
            .execute_in_parts(&plan, &variables, &ctx, deadline, &mut relay)
            .instrument(span)
            .await;
    }

    /// What comes before the engine runs an operation: its plan (for parts, when
    /// `incremental`), the gate, and the request's loaders; or the answer that refuses it.
    async fn start(
        &self,
        mut request: async_graphql::Request,
        context: &RequestContext,
        incremental: bool,
    ) -> Result<Started, Outcome> {
        let span = tracing::Span::current();
        let refused = |errors| Outcome::from_response(async_graphql::Response::from_errors(errors));
        // The plan is found by the document's text; its document is read only to make it.
        let Read {
            plan,
            requested,
            descriptions,
            directives,
            known,
            fields,
            incremental: checked,
        } = self.read(&mut request, incremental);
        checked.map_err(refused)?;
        let introspects = plan.as_ref().is_some_and(|p| p.introspects());
        let variables = request.variables.clone();
        let requested = requested.unwrap_or_default();
        let introspected = match (&plan, known) {
            (Some(plan), true) => match self.admit_known(plan, &requested, context).await {
                Ok(()) => async_graphql::Value::Null,
                Err(errors) => return Err(refused(errors)),
            },
            _ => {
                let directives_request = (!directives.is_empty()).then(|| {
                    let mut same = async_graphql::Request::new(request.query.clone())
                        .variables(request.variables.clone());
                    same.operation_name = request.operation_name.clone();
                    same
                });
                // The gate takes the request itself: nothing reads its document after it.
                let mut request = request.data(requested);
                if let Some(fields) = &fields {
                    request = request.data(gate::Selected(fields.clone()));
                }
                if introspects {
                    request = request.data(gate::Introspect);
                    request.introspection_mode =
                        async_graphql::IntrospectionMode::IntrospectionOnly;
                }
                if let Some(ticket) = context.cost.clone() {
                    request = request.data(ticket);
                }
                let mut gated = self.gate.execute(request).instrument(span.clone()).await;
                if gated.is_err() {
                    return Err(Outcome::from_response(gated));
                }
                if let (Some(plan), Some(fields)) = (&plan, fields)
                    && !introspects
                {
                    plan.pass(fields);
                }
                introspection::clear_schema_descriptions(&descriptions, &mut gated.data);
                if let Some(request) = directives_request {
                    introspection::add_incremental_directives(
                        request,
                        &directives,
                        &mut gated.data,
                    )
                    .await;
                }
                gated.data
            }
        };
        let Some(plan) = plan else {
            let error = ApiError::Internal("the engine could not plan a valid operation".into());
            let error = async_graphql::Error::from(error).into_server_error(Default::default());
            return Err(refused(vec![error]));
        };
        let mut ctx = self.engine_context(&plan, context, &span);
        ctx.insert(engine::Introspected(introspected));
        Ok(Started {
            plan,
            ctx,
            variables,
            cache_control: requested.cache_control,
            span,
        })
    }

    /// Reads a request's document: its plan (made once per document), what it requests,
    /// and which introspection answers to correct (see `introspection`). A document that
    /// does not parse has none of these; the gate reports why.
    /// `@defer` and `@stream` are checked, and taken out of the document the gate
    /// validates; the plan reads them when `incremental`.
    fn read(&self, request: &mut async_graphql::Request, incremental: bool) -> Read {
        // Parsed now if it was not (the HTTP layer parses; tools and tests may not).
        if request.parsed_query().is_err() {
            return Read::default();
        }
        // The text, name and variables are read beside the parsed document, which needs
        // the request mutably: moved out, and back after.
        let query = std::mem::take(&mut request.query);
        let operation_name = request.operation_name.take();
        let variables = std::mem::take(&mut request.variables);
        let mut validated = None;
        let read = match request.parsed_query() {
            Ok(document) => {
                let name = operation_name.as_deref();
                let plan = self
                    .engine
                    .plan(&query, document, name, &variables, incremental);
                let requested = self
                    .engine
                    .requested(plan.as_deref(), document, name, &variables);
                let (descriptions, directives) = match &plan {
                    Some(plan) if plan.introspects() => (
                        introspection::schema_descriptions(document, name),
                        introspection::schema_directives(document, name),
                    ),
                    _ => (Vec::new(), Vec::new()),
                };
                // An operation the gate has let through before is checked again only where
                // its variables are concerned; any other goes to the gate with the fields it
                // selects (for field usage, and for its plan once it passes).
                let registry = self.gate.registry();
                let known = plan.as_ref().is_some_and(|p| p.validated().is_some())
                    && document::operation(document, name)
                        .is_some_and(|op| variables::fit(registry, op, &variables));
                let fields = (!known).then(|| usage::selected_fields(registry, document).into());
                let mut checked = Ok(());
                if !known && incremental::used(document) {
                    checked = incremental::check(registry, document, name);
                    validated = Some(incremental::without(document));
                }
                Read {
                    plan,
                    requested,
                    descriptions,
                    directives,
                    known,
                    fields,
                    incremental: checked,
                }
            }
            Err(_) => Read::default(),
        };
        if let Some(document) = validated {
            request.set_parsed_query(document);
        }
        request.query = query;
        request.operation_name = operation_name;
        request.variables = variables;
        read
    }

    /// What the gate does for an operation it has let through before, when the request's
    /// variables fit it (see `gate::admit`).
    async fn admit_known(
        &self,
        plan: &engine::Plan,
        requested: &cost::requested::Requested,
        context: &RequestContext,
    ) -> Result<(), Vec<async_graphql::ServerError>> {
        let fields = plan.validated();
        let maximum = self.config.max_complexity;
        gate::admit(context.cost.as_deref(), requested, 0, maximum, fields).await
    }

    /// What the engine's resolvers reach: every module's loaders, the sources and limits.
    fn engine_context(
        &self,
        plan: &engine::Plan,
        context: &RequestContext,
        span: &tracing::Span,
    ) -> engine::Ctx {
        let prepare = Prepare {
            sources: &self.sources,
            config: &self.config,
            request: context,
            shared: &self.shared,
            plan,
            span,
            window: batching::Window::new(self.config.loader_delay),
        };
        let mut ctx = engine::Ctx::default();
        for module in MODULES {
            (module.prepare)(&prepare, &mut ctx);
        }
        ctx.insert(self.engine.nodes());
        ctx.insert(tags::Changed::default());
        ctx
    }

    /// The schema, for SDL and introspection.
    pub fn schema(&self) -> &async_graphql::dynamic::Schema {
        &self.gate
    }
}

/// What a request's document says before it runs (see `Api::read`).
struct Read {
    plan: Option<Arc<engine::Plan>>,
    requested: Option<cost::requested::Requested>,
    /// Introspection answers to correct (see `introspection::schema_descriptions`).
    descriptions: Vec<(async_graphql::Name, async_graphql::Name)>,
    /// Introspection answers to add `@defer` and `@stream` to (see
    /// `introspection::add_incremental_directives`).
    directives: Vec<(async_graphql::Name, async_graphql::Name)>,
    /// The gate has let the operation through before, and the variables fit it.
    known: bool,
    /// The fields the document selects, for an operation the gate is to check.
    fields: Option<Fields>,
    /// What is wrong with its uses of `@defer` and `@stream`, if anything.
    incremental: Result<(), Vec<async_graphql::ServerError>>,
}

impl Default for Read {
    fn default() -> Self {
        Self {
            plan: None,
            requested: None,
            descriptions: Vec::new(),
            directives: Vec::new(),
            known: false,
            fields: None,
            incremental: Ok(()),
        }
    }
}

/// An operation the gate let through, ready to run.
struct Started {
    plan: Arc<engine::Plan>,
    ctx: engine::Ctx,
    variables: async_graphql::Variables,
    cache_control: async_graphql::CacheControl,
    span: tracing::Span,
}

/// A part of an answer delivered in parts (see `Api::execute_in_parts`).
pub enum Delivered {
    /// The first part, and whether more follow.
    First(Outcome, bool),
    /// A later part.
    Next(Next),
}

/// A part after the first.
pub struct Next {
    /// Its deferred fields and streamed items, each at its path with its errors.
    pub entries: Vec<engine::Entry>,
    /// What its entries add to the actual cost.
    pub returned: u64,
    /// Whether more parts follow.
    pub has_next: bool,
    /// The last part's `extensions` (`debug`; the HTTP layer adds `cost`).
    pub extensions: std::collections::BTreeMap<String, async_graphql::Value>,
}

/// `extensions.debug`, when the request asked for it: what the whole request did.
fn explain(
    context: &RequestContext,
    extensions: &mut std::collections::BTreeMap<String, async_graphql::Value>,
) {
    if let Some(explain) = context.stats.explain()
        && let Ok(debug) = async_graphql::Value::from_json(explain.to_json())
    {
        extensions.insert("debug".to_owned(), debug);
    }
}

#[cfg(test)]
mod tests;
