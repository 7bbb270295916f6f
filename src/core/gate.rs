//! The gate: what is decided about an operation before the engine runs it, as an extension
//! of the schema that parses and validates it. It notes the fields the operation asks for
//! (`usage`), refuses it above the maximum cost and charges the client's budget (`cost`).
//! An operation's cost is what its document requests (`cost::requested`, handed in as a
//! `Requested`) plus the values its introspection will return (`introspection`). The
//! fields come in as `Selected`, read once from the document by `Api::read`; an operation
//! the gate has let through before is let through again by `admit` alone.
//!
//! A passed operation ends at the gate, unless it asks for introspection (`Introspect`):
//! then async-graphql answers its `__schema` and `__type` fields, and only those.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};

use super::cost::requested::Requested;
use super::cost::{self, CostTicket};
use super::{introspection, usage};
use crate::observe::RequestStats;
use crate::observe::request::Fields;

/// Marks a request whose introspection fields the gate lets async-graphql answer.
pub(super) struct Introspect;

/// The fields the request's document selects (`usage::selected_fields`).
pub(super) struct Selected(pub Fields);

/// Lets an operation through: refuses it above `maximum`, charges the client's budget
/// through `ticket` and notes the fields it uses. An operation's cost is what its
/// document requests plus what its introspection returns (`introspection` values).
pub(super) async fn admit(
    ticket: Option<&CostTicket>,
    requested: &Requested,
    introspection: usize,
    maximum: usize,
    fields: Option<&Fields>,
) -> Result<(), Vec<ServerError>> {
    let cost = usize::try_from(requested.cost)
        .unwrap_or(usize::MAX)
        .saturating_add(introspection);
    cost::check(ticket, cost, maximum).await?;
    // A refused operation resolves nothing, so it uses no field.
    if let (Some(stats), Some(fields)) = (RequestStats::current(), fields) {
        usage::note(&stats, fields);
    }
    Ok(())
}

/// The gate's extension, as a schema takes it.
pub(super) struct Gate {
    /// The highest cost an operation may have.
    pub maximum: usize,
}

impl ExtensionFactory for Gate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GateCheck {
            maximum: self.maximum,
            introspection: Mutex::default(),
        })
    }
}

/// One request's gate.
struct GateCheck {
    maximum: usize,
    /// What the document's introspection will return, in values (capped just above the
    /// maximum).
    introspection: Mutex<usize>,
}

#[async_trait::async_trait]
impl Extension for GateCheck {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let registry = &ctx.schema_env.registry;
        *self
            .introspection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            introspection::cost(registry, &document, variables, self.maximum);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let ticket = ctx.data::<Arc<CostTicket>>().ok();
        let requested = ctx.data::<Requested>().copied().unwrap_or_default();
        let introspection = *self
            .introspection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let fields = ctx.data_opt::<Selected>().map(|s| &s.0);
        let ticket = ticket.map(Arc::as_ref);
        admit(ticket, &requested, introspection, self.maximum, fields).await?;
        Ok(result)
    }

    /// A passed operation ends here, with no data or, when it is marked `Introspect`, the
    /// answers of its introspection fields: the engine runs it.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        match ctx.data_opt::<Introspect>() {
            Some(_) => next.run(ctx, operation_name).await,
            None => Response::default(),
        }
    }
}
