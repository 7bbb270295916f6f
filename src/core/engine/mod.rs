//! The planned engine: executes a validated operation as a plan, breadth-first, writing the
//! answer's bytes directly.
//!
//! - `plan`: the operation as selection sets per object type, fragments flattened and
//!   `@skip`/`@include` applied, cached per document; a mutation's root fields in order;
//! - `run`: all objects of a level resolve together, one resolver call per field per level
//!   (`answers`: what a resolver gives for a level);
//! - `write`: the answer, depth first, failed fields null in place, errors at their paths;
//! - `parts`: an answer in parts (`@defer`, `@stream`): the first part, then each deferred
//!   group as it resolves, written by the same writer.
//!
//! async-graphql keeps what it does well: the schema (built from the modules' SDL, see
//! `core::schema`), parsing, validation and introspection. Modules register how their
//! fields resolve in a `Registry`, which must cover the schema's object fields exactly.
//! Introspection's root fields (`__schema`, `__type`) are answered by async-graphql and
//! copied into the answer where the document selects them.

mod answers;
mod args;
mod checks;
mod nodes;
mod out;
mod parts;
mod plan;
mod registry;
mod run;
mod shape;
mod walks;
mod write;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Name, ServerError, Variables};

pub use answers::{Children, Mixed, MixedList, Scalars};
pub use args::Args;
pub use nodes::{Found, NodeLoaders};
pub use out::Out;
pub use parts::Part;
pub use plan::Plan;
pub use registry::{ObjectFields, Registry};
pub use write::Entry;

use crate::core::cost::requested::{self, Requested};
use crate::core::errors::ApiError;
use crate::core::schema::Hints;

/// How many plans are kept; past that the cache starts over (operations are few in
/// practice: a client's persisted or generated documents).
const PLAN_CACHE_SIZE: usize = 512;

/// The request's dependencies, by type: loaders, limits, sources.
#[derive(Default)]
pub struct Ctx {
    data: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Ctx {
    /// Adds `value`; a later value of the same type replaces it.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.data.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The value of type `T`; missing is an internal error, never a panic.
    pub fn data<T: Any + Send + Sync>(&self) -> Result<&T, ApiError> {
        self.data
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "{} missing from the engine's context",
                    std::any::type_name::<T>()
                ))
            })
    }
}

/// An executed operation: the `data` entry as JSON text, and the errors at their paths.
pub struct Executed {
    /// The `data` entry, already serialised.
    pub data: String,
    /// The field errors, each at its path.
    pub errors: Vec<ServerError>,
    /// The actual cost: the fields the answer holds, each its weight, list items one by one.
    pub returned: u64,
    /// The tagged objects the answer holds, each once (see `core::tags`).
    pub tags: Vec<crate::core::tags::Tag>,
}

/// A plan's cache key: a hash of the document, the operation, and the Boolean variables
/// that `@skip`/`@include` may read. An entry keeps them too, so a hit is checked whole.
type PlanKey = u64;

/// A cached plan (or the engine's "not yet") and what it was made for.
struct Planned {
    query: String,
    operation_name: Option<String>,
    conditions: Vec<(Name, bool)>,
    incremental: bool,
    plan: Option<Arc<Plan>>,
}

/// What async-graphql answered for the introspection fields of an operation (`__schema`,
/// `__type`), by response key; the engine copies it into the answer.
pub struct Introspected(pub async_graphql::Value);

/// The engine: the modules' resolvers, the schema's shapes and hints, and the plans made so
/// far.
pub struct Engine {
    registry: Registry,
    /// How node types load by id, for the request's context (see `nodes`).
    nodes: Arc<NodeLoaders>,
    schema: async_graphql::dynamic::Schema,
    hints: Hints,
    plans: Mutex<HashMap<PlanKey, Planned>>,
    /// Hashes cache keys; random per engine, so keys cannot be chosen to collide.
    hasher: std::hash::RandomState,
}

impl Engine {
    /// An engine over `registry`'s resolvers for `schema`, whose SDL declared `hints`.
    /// Fails when a resolver gives objects of another Rust type than its type's, or when the
    /// resolvers and the schema's object fields are not the same fields.
    pub fn new(
        mut registry: Registry,
        schema: async_graphql::dynamic::Schema,
        hints: Hints,
    ) -> Result<Self, String> {
        let mut problems = registry.mismatches();
        problems.extend(registry.uncovered(schema.registry()));
        problems.extend(registry.input_mismatches(schema.registry()));
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let nodes = Arc::new(std::mem::take(&mut registry.nodes));
        Ok(Self {
            registry,
            nodes,
            schema,
            hints,
            plans: Mutex::default(),
            hasher: std::hash::RandomState::new(),
        })
    }

    /// The plan of an operation, made once per document; `None` when the engine does not
    /// run it yet. `incremental`: the client takes the answer in parts, so `@defer` and
    /// `@stream` apply.
    pub fn plan(
        &self,
        query: &str,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
        incremental: bool,
    ) -> Option<Arc<Plan>> {
        let conditions = plan::condition_key(variables);
        let key = (self.hasher).hash_one((query, operation_name, &conditions, incremental));
        if let Some(known) = self.lock().get(&key)
            && known.query == query
            && known.operation_name.as_deref() == operation_name
            && known.conditions == conditions
            && known.incremental == incremental
        {
            return known.plan.clone();
        }
        let made = plan::plan(
            self.schema.registry(),
            &self.hints,
            &self.registry,
            document,
            operation_name,
            variables,
            incremental,
        )
        .map(Arc::new);
        let mut plans = self.lock();
        if plans.len() >= PLAN_CACHE_SIZE {
            plans.clear();
        }
        let planned = Planned {
            query: query.to_owned(),
            operation_name: operation_name.map(str::to_owned),
            conditions,
            incremental,
            plan: made.clone(),
        };
        plans.insert(key, planned);
        made
    }

    /// What operation `operation_name` of `document` asks for: its requested cost and its
    /// cache hint (see `cost::requested`). Read from `plan` when it keeps them, else from
    /// the document, and then kept by `plan` unless a variable sized a list.
    pub fn requested(
        &self,
        plan: Option<&Plan>,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Option<Requested> {
        if let Some(known) = plan.and_then(Plan::requested) {
            return Some(known);
        }
        let requested = requested::requested(
            self.schema.registry(),
            &self.hints,
            document,
            operation_name,
            variables,
        )?;
        if let Some(plan) = plan {
            plan.keep(requested);
        }
        Some(requested)
    }

    /// How node types load by id: the request's context holds them for `node` and `nodes`.
    pub fn nodes(&self) -> Arc<NodeLoaders> {
        self.nodes.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PlanKey, Planned>> {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `plan` with `variables` over the request's `ctx`, delivering its answer in parts
    /// to `deliver` (see `parts`); at `deadline` the groups not yet delivered are, each with
    /// a `TIMEOUT` error at its path.
    pub async fn execute_in_parts(
        &self,
        plan: &Plan,
        variables: &Variables,
        ctx: &Ctx,
        deadline: tokio::time::Instant,
        deliver: &mut (dyn FnMut(Part) + Send),
    ) {
        let run = run::Run {
            ctx,
            registry: &self.registry,
            variables,
            defaults: &plan.variable_defaults,
        };
        parts::deliver(&run, plan, deadline, deliver).await;
    }

    /// Runs `plan` with `variables` over the request's `ctx`; `tagged`: note the tagged
    /// objects the answer holds (for the response cache).
    pub async fn execute(
        &self,
        plan: &Plan,
        variables: &Variables,
        ctx: &Ctx,
        tagged: bool,
    ) -> Executed {
        let run = run::Run {
            ctx,
            registry: &self.registry,
            variables,
            defaults: &plan.variable_defaults,
        };
        let root: answers::Objects = Box::new(vec![()]);
        let mut level = if plan.serial {
            run.serial(&plan.root, root).await
        } else {
            run.level(&plan.root, root, 1).await
        };
        run.late(&plan.root, &mut level).await;
        let mut writer = write::Writer::new(&self.registry, 4096, tagged);
        writer.object(&plan.root, &level, 0);
        let mut tags = writer.tags;
        tags.sort_unstable();
        tags.dedup();
        Executed {
            tags,
            // The writer only writes valid UTF-8: JSON from strs and ASCII.
            data: String::from_utf8(writer.out.bytes).unwrap_or_else(|_| "null".to_owned()),
            errors: writer.errors,
            returned: writer.returned,
        }
    }
}
