//! Field usage: which fields of which types a request asked for, so a deprecated field can
//! be removed once no client asks for it any more. Each resolved field is noted once per
//! request in the request's stats (list items do not multiply it); the HTTP layer counts
//! them per client in `ogrom_graphql_field_usage_total`.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};

use crate::observe::RequestStats;

/// The schema extension that notes resolved fields.
pub struct FieldUsage;

impl ExtensionFactory for FieldUsage {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NoteFields)
    }
}

struct NoteFields;

#[async_trait::async_trait]
impl Extension for NoteFields {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if !info.is_for_introspection
            && !info.name.starts_with("__")
            && let Some(stats) = RequestStats::current()
        {
            stats.field_used(info.parent_type, info.name);
        }
        next.run(ctx, info).await
    }
}
